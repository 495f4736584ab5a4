"""Playing without PortAudio: the simpleaudio output (segmented.py) and the choice of
backend.

The planning of its buffers is the Transport's, tested here without a device on the
real hamstrings Program: where a buffer may end (only the noise floor around it),
and what a control does to that. The choice of backend runs the installed command
with PortAudio hidden (a stand-in ``sounddevice`` on PYTHONPATH that fails to load
as the real one does without libportaudio2). Playing through the real simpleaudio,
in real time, is in test_paced.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import skip_without_simpleaudio
from voice_coach.mixer import FLOOR_PEAK
from voice_coach.segmented import (
    JOIN_GUARD_SECONDS,
    MAX_SEGMENT_SECONDS,
    MIN_SEGMENT_SECONDS,
    SIMPLEAUDIO_INSTALL,
)
from voice_coach.transport import Transport

RATE = 22050
GUARD = round(JOIN_GUARD_SECONDS * RATE)
LOWEST = round(MIN_SEGMENT_SECONDS * RATE)
HIGHEST = round(MAX_SEGMENT_SECONDS * RATE)


def plan(transport: Transport) -> list[int]:
    """The output samples where buffers would join, playing straight through: each
    buffer filled from the Transport and ending at its quiet point."""
    cuts = [0]
    while not transport.finished:
        transport.fill(transport.quiet_point(LOWEST, HIGHEST, GUARD) or HIGHEST)
        cuts.append(transport.output_index)
    return cuts


def test_buffers_join_only_where_the_noise_floor_plays(hamstrings_program):
    script = hamstrings_program.script
    rendered = hamstrings_program.mixer().render(0, script.length_samples)
    cuts = plan(Transport(hamstrings_program))
    lengths = np.diff(cuts)
    print(f"{len(cuts) - 1} buffers, {lengths.min() / RATE:.1f} to {lengths.max() / RATE:.1f} s")
    assert lengths.max() <= HIGHEST
    inside = [cut for cut in cuts[1:] if cut < script.length_samples]
    assert len(inside) >= script.length_samples // HIGHEST
    for cut in inside:
        around = rendered[cut - GUARD : cut + GUARD]
        assert int(np.abs(around.astype(np.int32)).max()) <= FLOOR_PEAK, cut / RATE
        assert not any(c.start_sample - GUARD < cut < c.end_sample + GUARD for c in script.cues)


@pytest.mark.slow  # renders two hours of audio
def test_a_long_routine_plays_in_buffers_of_at_most_thirty_seconds(tmp_path):
    """Memory stays flat: the buffers of a 2-hour routine are no longer than a short one's."""
    from commands import LONG_ROUTINE
    from voice_coach.pipeline import prepare
    from voice_coach.routine import parse_routine

    program = prepare(parse_routine(LONG_ROUTINE, "long.yaml"))
    assert program.script.duration > 3600
    cuts = plan(Transport(program))
    assert np.diff(cuts).max() <= HIGHEST
    assert len(cuts) > program.script.length_samples / HIGHEST


def test_before_the_routine_is_ready_the_first_buffer_ends_in_the_pre_roll():
    transport = Transport(sample_rate=RATE)
    assert not transport.idle
    cut = transport.quiet_point(LOWEST, HIGHEST, GUARD)
    assert cut is not None and LOWEST <= cut <= transport.ready_until - GUARD
    transport.fill(transport.ready_until)
    assert transport.idle  # waiting for the routine: the device may stop


def test_controls_change_where_the_quiet_is(hamstrings_program):
    script = hamstrings_program.script
    hold = script.holds[0]
    transport = Transport(hamstrings_program)
    transport.fill(hold.start_sample + 2 * RATE)
    halfway = next(
        c for c in script.cues if c.role == "halfway" and c.start_sample > hold.start_sample
    )
    # Mid-hold, the quiet runs up to "Halfway."
    ahead = halfway.start_sample - transport.position
    assert transport.quiet_at(ahead - 2 * GUARD, GUARD)
    assert not transport.quiet_at(ahead + GUARD, GUARD)
    # Paused, all that follows is silence: the device is stopped.
    transport.toggle_pause()
    assert transport.idle
    assert transport.quiet_stretches(RATE) == [(0, RATE)]
    # Resumed, the lead-in ("Resuming, 3, 2, 1") comes first: not quiet.
    transport.toggle_pause()
    assert not transport.idle
    assert not transport.quiet_at(GUARD, GUARD)
    stretches = transport.quiet_stretches(10 * RATE)
    lead_in = stretches[0][0]
    assert lead_in >= 3 * RATE
    # A jump moves the quiet with it: the next step's title starts at once.
    transport.next_step()
    assert not transport.quiet_at(GUARD, GUARD)


# ----------------------------------------------------------- the choice of backend

NO_PORTAUDIO = "raise OSError('PortAudio library not found')\n"
NO_SIMPLEAUDIO = "raise ImportError('No module named simpleaudio')\n"


def hidden(tmp_path: Path, **modules: str) -> dict[str, str]:
    """An environment in which each named module is a stand-in that fails to import."""
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    for name, body in modules.items():
        (shim / f"{name}.py").write_text(body, encoding="utf-8")
    return {**os.environ, "PYTHONPATH": str(shim)}


def play_command(voice_coach_command, env, *options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [voice_coach_command, "play", "hamstrings", "--plain", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_either_backend_one_line_says_what_to_install(voice_coach_command, tmp_path):
    env = hidden(tmp_path, sounddevice=NO_PORTAUDIO, simpleaudio=NO_SIMPLEAUDIO)
    played = play_command(voice_coach_command, env)
    assert played.returncode == 1
    assert played.stdout == ""
    (line,) = played.stderr.splitlines()
    assert line.startswith("voice-coach: cannot play: PortAudio is not installed")
    assert "sudo apt-get install libportaudio2" in line
    assert SIMPLEAUDIO_INSTALL in line  # the extra; on 3.12 and later, that it is 3.11 only
    assert "no sound device" not in line


@pytest.mark.parametrize(
    ("asked", "missing", "says"),
    [
        ("portaudio", {"sounddevice": NO_PORTAUDIO}, "sudo apt-get install libportaudio2"),
        ("simpleaudio", {"simpleaudio": NO_SIMPLEAUDIO}, SIMPLEAUDIO_INSTALL),
    ],
)
def test_the_backend_asked_for_says_how_to_install_it(
    voice_coach_command, tmp_path, asked, missing, says
):
    played = play_command(voice_coach_command, hidden(tmp_path, **missing), "--audio", asked)
    assert played.returncode == 1
    (line,) = played.stderr.splitlines()
    assert f"{asked if asked == 'simpleaudio' else 'PortAudio'} is not installed" in line
    assert says in line


# ------------------------------------------------------- the real simpleaudio, live

SHORT_ROUTINE = """\
name: Short
steps:
  - name: Wall stretch
    instructions: Lean on the wall with both hands.
    sides: none
    hold: 5
    prep: 1
    countdown: 3
    halfway: false
"""


def play_into_a_file(
    tmp_path: Path, command: list[str], shim: dict[str, str]
) -> tuple[np.ndarray, str]:
    """Run ``command`` with ALSA's default device in front of a real-time PulseAudio
    sink that also appends what it is given to a file; that file's samples, the waiting
    silences (runs of exact zeros) taken out, and what the command printed."""
    from live import handed, private_pulseaudio, tee_to_files

    from audio_analysis import without_waiting

    captured = tmp_path / "handed"
    (tmp_path / "sink").mkdir()
    with private_pulseaudio(tmp_path / "sink", rewinds=False) as sink:
        env = {**tee_to_files(sink, captured), **shim}
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return without_waiting(handed(captured)[0]), done.stdout


def short_program(tmp_path: Path):
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine

    path = tmp_path / "short.yaml"
    path.write_text(SHORT_ROUTINE, encoding="utf-8")
    return path, prepare(load_routine(path))


@pytest.mark.live
def test_simpleaudio_plays_by_itself_where_portaudio_is_missing(voice_coach_command, tmp_path):
    skip_without_simpleaudio()
    from audio_analysis import assert_same_audio

    path, program = short_program(tmp_path)
    shim = {"PYTHONPATH": hidden(tmp_path, sounddevice=NO_PORTAUDIO)["PYTHONPATH"]}
    captured, printed = play_into_a_file(tmp_path, [voice_coach_command, "play", str(path)], shim)
    rendered = program.mixer().render(0, program.script.length_samples)
    assert_same_audio(captured, rendered, RATE)
    # One line says why, and how to get PortAudio; it comes once, before the cues.
    notes = [line for line in printed.splitlines() if "simpleaudio" in line]
    assert notes == [
        "(PortAudio is not installed, so simpleaudio plays; install it with "
        "`sudo apt-get install libportaudio2` (Debian, Ubuntu; portaudio on other systems))"
    ]
    assert printed.splitlines()[0] == notes[0]


@pytest.mark.live
def test_the_python_api_plays_through_simpleaudio(tmp_path):
    skip_without_simpleaudio()
    import sys

    from audio_analysis import assert_same_audio

    path, program = short_program(tmp_path)
    code = (
        "import voice_coach\n"
        f"routine = voice_coach.load_routine({str(path)!r})\n"
        "settings = voice_coach.Settings(audio='simpleaudio')\n"
        "voice_coach.play(voice_coach.prepare(routine, settings), settings, plain=True)\n"
    )
    captured, printed = play_into_a_file(tmp_path, [sys.executable, "-c", code], {})
    rendered = program.mixer().render(0, program.script.length_samples)
    assert_same_audio(captured, rendered, RATE)
    assert "simpleaudio" not in printed  # asked for: no note
