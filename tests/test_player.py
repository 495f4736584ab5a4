"""Live playback: the real sounddevice (PortAudio) through ALSA, and the transport.

Everything that opens an ALSA device runs in a subprocess, because ALSA reads its
configuration once per process. The device is either ALSA's file plugin over the
null device (not paced: a whole routine "plays" in about a second, and the bytes
land in a file), or the same plugin writing into a pipe whose reader drains it at
real-time speed (paced: playback is still running when we press Ctrl-C).
"""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from audio_analysis import assert_same_audio, start_of, without_waiting
from voice_coach import devices
from voice_coach.cli import cli
from voice_coach.keys import parse_keys
from voice_coach.pipeline import prepare
from voice_coach.routine import load_routine
from voice_coach.script import clock
from voice_coach.transport import Transport, lead_in_audio
from voice_coach.views import PlainView, RichView, big_digits

SUBPROCESS_TIMEOUT = 120
STEP_NAMES = (
    "Seated hamstring stretch",
    "Standing hamstring stretch",
    "Lying hamstring stretch",
)


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def rendered(hamstrings_program) -> np.ndarray:
    """The hamstrings routine rendered in-process, exactly as the player hands it on."""
    return np.concatenate(list(hamstrings_program.blocks()))


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def phases(lines: list[str]) -> list[str]:
    """The view's lines with the ticking times taken out."""
    return [
        re.sub(r" · (hold \d+:\d\d left|\d+:\d\d to go|\d+\.\d minutes)", "", line)
        for line in lines
    ]


# ------------------------------------------------------- real playback through ALSA


def test_cli_play_sends_exactly_the_exported_audio_to_the_device(
    alsa_capture, voice_coach_command, hamstrings_program, rendered, tmp_path
):
    env, capture = alsa_capture
    played = run([voice_coach_command, "play", "hamstrings"], env, tmp_path)
    assert played.returncode == 0, played.stderr
    assert played.stderr == ""
    sample_rate = hamstrings_program.script.sample_rate
    captured = without_waiting(np.fromfile(capture, dtype="<i2"))
    assert len(rendered) == hamstrings_program.script.length_samples
    assert_same_audio(captured, rendered, sample_rate)

    wav = tmp_path / "x.wav"
    # --loudness off: the export's normalisation is one gain, checked in test_export.
    command = [voice_coach_command, "export", "hamstrings", "-o", str(wav), "--loudness", "off"]
    exported = run(command, env, tmp_path)
    assert exported.returncode == 0, exported.stderr
    info = soundfile.info(str(wav))
    assert (info.samplerate, info.channels, info.subtype) == (sample_rate, 1, "PCM_16")
    written, _ = soundfile.read(str(wav), dtype="int16")
    # Live and exported are the same audio.
    assert_same_audio(captured, written, sample_rate)
    assert np.array_equal(written, rendered)


def test_python_api_play_sends_the_rendered_audio_to_the_device(
    alsa_capture, hamstrings_program, rendered, tmp_path
):
    env, capture = alsa_capture
    code = (
        "import voice_coach\n"
        "program = voice_coach.prepare(voice_coach.load_routine('hamstrings'))\n"
        "voice_coach.play(program)\n"
        "print('returned')\n"
    )
    played = run([sys.executable, "-c", code], env, tmp_path)
    assert played.returncode == 0, played.stderr
    assert played.stderr == ""
    assert lines_of(played.stdout)[-1] == "returned"
    captured = without_waiting(np.fromfile(capture, dtype="<i2"))
    assert_same_audio(captured, rendered, hamstrings_program.script.sample_rate)


def test_cli_play_prints_one_line_per_cue_when_not_a_terminal(
    alsa_capture, voice_coach_command, hamstrings_program, tmp_path
):
    env, _ = alsa_capture
    played = run([voice_coach_command, "play", "hamstrings"], env, tmp_path)
    assert played.returncode == 0, played.stderr
    assert "\r" not in played.stdout and "\x1b" not in played.stdout
    # Without a D-Bus session bus (as in CI) one notice comes first: no media keys.
    lines = [line for line in played.stdout.splitlines() if not line.startswith("(media keys")]
    cues = hamstrings_program.script.cues
    assert len(lines) == len(cues)
    rate = hamstrings_program.script.sample_rate
    for line, cue in zip(lines, cues, strict=True):
        text = cue.text if cue.kind == "speech" else f"[{cue.text} chime]"
        assert line == f"{clock(cue.start_sample / rate)} {text}"


@pytest.fixture
def alsa_unknown_card(tmp_path):
    """An environment whose ALSA default device names a card that does not exist: ALSA's
    C library prints "ALSA lib ... Cannot get card index" to stderr when opening it."""
    home = tmp_path / "home-unknown-card"
    home.mkdir()
    (home / ".asoundrc").write_text('pcm.!default {\n  type hw\n  card "NoSuchCard"\n}\n')
    return {**os.environ, "HOME": str(home)}


@pytest.mark.parametrize("no_device", ["alsa_no_device", "alsa_unknown_card"])
def test_play_without_a_sound_device_fails_with_one_line(
    no_device, request, voice_coach_command, tmp_path
):
    env = request.getfixturevalue(no_device)
    played = run([voice_coach_command, "play", "hamstrings"], env, tmp_path)
    assert played.returncode == 1
    assert played.stdout == ""
    errors = played.stderr.splitlines()
    assert len(errors) == 1, played.stderr
    assert "no sound device" in errors[0]
    assert "voice-coach export hamstrings" in errors[0]
    assert "ALSA lib" not in played.stderr
    assert "Traceback" not in played.stderr


PACED_READER = """\
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
# Drain the pipe at the routine's real-time rate: 22050 int16 samples a second.
with open(sys.argv[1], "wb") as out:
    while True:
        chunk = sys.stdin.buffer.read(4410)
        if not chunk:
            break
        out.write(chunk)
        out.flush()
        time.sleep(0.1)
open(sys.argv[1] + ".done", "w").close()
"""

PACED_CONFIG = """\
pcm.!default {{
  type file
  slave.pcm "null"
  file "|{python} {reader} {capture} >/dev/null"
  format "raw"
}}
"""


@pytest.fixture
def alsa_paced(tmp_path):
    """(env, capture_path): a default ALSA device that plays at real-time speed, by
    writing into a pipe that a small reader drains at 44100 bytes a second."""
    home = tmp_path / "home-paced"
    home.mkdir()
    reader = tmp_path / "paced_reader.py"
    reader.write_text(PACED_READER)
    capture = tmp_path / "paced.raw"
    (home / ".asoundrc").write_text(
        PACED_CONFIG.format(python=sys.executable, reader=reader, capture=capture)
    )
    return {**os.environ, "HOME": str(home)}, capture


def test_ctrl_c_stops_live_playback_with_exit_130(
    alsa_paced, voice_coach_command, hamstrings_program, rendered, tmp_path
):
    env, capture = alsa_paced
    process = subprocess.Popen(
        [voice_coach_command, "play", "hamstrings"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    seen = []
    try:
        # Wait until the first step's name has sounded: playback is under way.
        while not seen or not seen[-1].endswith(STEP_NAMES[0]):
            seen.append(lines.get(timeout=60).rstrip("\n"))
        process.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        returncode = process.wait(timeout=15)
        stopped_after = time.monotonic() - interrupted
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == 130, stderr
    assert stopped_after < 10
    assert lines_of(stderr) == ["voice-coach: stopped."]
    assert "Traceback" not in stderr

    # What reached the device is the start of the routine, and it stopped early.
    done = Path(f"{capture}.done")
    deadline = time.monotonic() + 30
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert done.exists(), "the paced reader never saw the device close"
    captured = without_waiting(np.fromfile(capture, dtype="<i2"))
    captured = captured[start_of(captured, rendered, hamstrings_program.script.sample_rate) :]
    assert 0 < len(captured) < len(rendered) // 10
    assert np.array_equal(captured, rendered[: len(captured)])


# ------------------------------------------------------------ the transport, no device


@pytest.fixture(scope="module")
def program():
    """hamstrings, with the player's own phrases (the lead-in)."""
    return prepare(load_routine("hamstrings"))


def pull(transport: Transport, samples: int, block: int = 1000) -> np.ndarray:
    parts = []
    while samples > 0:
        parts.append(transport.fill(min(block, samples))[:, 0])
        samples -= block
    return np.concatenate(parts)


def test_transport_plays_the_rendered_samples_whatever_the_block_size(program):
    rendered = np.concatenate(list(program.blocks()))
    for block in (1024, 777):
        transport = Transport(program)
        played = pull(transport, len(rendered) + 2000, block)
        assert np.array_equal(played[: len(rendered)], rendered)
        assert not played[len(rendered) :].any()
        assert transport.finished


def test_pause_outputs_silence_and_resume_continues_exactly(program):
    rendered = np.concatenate(list(program.blocks()))
    rate = program.script.sample_rate
    hold = program.script.holds[0]
    transport = Transport(program)
    before = pull(transport, hold.start_sample + 10 * rate)
    assert transport.toggle_pause() == "paused"
    silence = pull(transport, 2 * rate)
    assert not silence.any()
    assert transport.toggle_pause() == "resumed"
    lead = lead_in_audio(program.clips, rate)
    spoken = pull(transport, len(lead))
    assert np.abs(spoken.astype(np.int32)).max() > 5000  # "Resuming. 3, 2, 1" is heard
    after = pull(transport, 5 * rate)
    # Not one sample of the hold lost or repeated.
    continued = np.concatenate([before, after])
    assert np.array_equal(continued, rendered[: len(continued)])


def test_lead_in_says_resuming_then_counts_three_two_one(program):
    rate = program.script.sample_rate
    lead = lead_in_audio(program.clips, rate)
    resuming = len(program.clips[("speech", "Resuming.")])
    first = resuming + round(0.4 * rate)
    assert len(lead) == first + 3 * rate
    for index, number in enumerate(("3", "2", "1")):
        clip = program.clips[("speech", number)]
        start = first + index * rate
        assert np.array_equal(lead[start : start + len(clip)], clip)


def test_next_and_previous_land_on_step_starts(program):
    steps = program.script.steps
    rate = program.script.sample_rate
    transport = Transport(program)
    pull(transport, steps[0].start_sample + 5 * rate)
    assert transport.next_step() == "to step 2"
    assert transport.position == steps[1].start_sample
    pull(transport, 1 * rate)
    # Within 3 s of a step's start, "previous" goes back a step ...
    assert transport.previous_step() == "to step 1"
    assert transport.position == steps[0].start_sample
    pull(transport, 5 * rate)
    # ... later, to the start of this step.
    assert transport.previous_step() == "to step 1"
    assert transport.position == steps[0].start_sample
    transport.next_step()
    transport.next_step()
    assert transport.next_step() == "to the end"
    assert transport.position == steps[-1].end_sample


def test_repeat_goes_back_to_the_side_cue(program):
    script = program.script
    rate = script.sample_rate
    right = script.holds[1]
    side_cue = next(
        c for c in script.cues if c.role == "side" and c.step == 0 and c.side == "right"
    )
    transport = Transport(program)
    pull(transport, right.start_sample + 12 * rate)
    transport.repeat_side()
    assert transport.position == side_cue.start_sample
    rendered = np.concatenate(list(program.blocks()))
    again = pull(transport, 3 * rate)
    assert np.array_equal(again, rendered[side_cue.start_sample : side_cue.start_sample + 3 * rate])


def test_volume_scales_the_cues_not_the_timing(program):
    rate = program.script.sample_rate
    title = program.script.cues[0]
    loud, soft = Transport(program), Transport(program)
    assert soft.change_volume(-0.5) == "volume 50%"
    a = pull(loud, title.end_sample).astype(np.float64)[title.start_sample :]
    b = pull(soft, title.end_sample).astype(np.float64)[title.start_sample :]
    ratio = np.sqrt(np.mean(b**2) / np.mean(a**2))
    assert 0.45 < ratio < 0.55
    for _ in range(30):
        loud.change_volume(0.1)
    assert loud.volume == 2.0
    assert len(pull(loud, rate)) == rate


def test_the_audio_clock_ignores_the_tail_from_before_a_jump(program):
    transport = Transport(program)
    pull(transport, 5000, block=1000)
    transport.next_step()
    assert transport.jumped_at_output == 5000

    # Output sample 0 sounded a second ago: 22050 samples have been heard.
    output = types.SimpleNamespace(time=10.0, clock_log=[(9.0, 0)])
    assert devices.audio_position(output, transport) is not None
    # Only 220 heard: still the tail from before the jump at output sample 5000.
    output.clock_log = [(9.99, 0)]
    assert devices.audio_position(output, transport) is None


def test_position_at_output_follows_what_was_written(program):
    transport = Transport(program)
    pull(transport, 3000, block=1000)
    transport.toggle_pause()
    pull(transport, 1000, block=1000)
    assert transport.position_at_output(1500) == 1500
    assert transport.position_at_output(3500) is None  # paused
    assert transport.position_at_output(0) == 0


@pytest.mark.parametrize(
    ("typed", "commands"),
    [
        (" ", ["pause"]),
        ("n\x1b[Cp\x1b[D", ["next", "next", "previous", "previous"]),
        ("r+=-_q", ["repeat", "louder", "louder", "softer", "softer", "quit"]),
        ("xyz\x1b[A", []),
    ],
)
def test_keys(typed, commands):
    assert parse_keys(typed) == commands


# ------------------------------------------------------------------------ the views


def test_plain_view_prints_each_cue_once_and_again_after_a_jump_back(program):
    script = program.script
    out = io.StringIO()
    view = PlainView(script, out)
    second_title = script.steps[1].start_sample
    view.update(second_title, False, 1.0)
    first = out.getvalue().splitlines()
    assert first[0] == "0:01 Seated hamstring stretch"
    assert first[-1].endswith("Standing hamstring stretch")
    view.update(second_title + 10, False, 1.0)
    assert out.getvalue().splitlines() == first
    # A jump back: the view is told where to, and prints from there as it is heard.
    view.seek(script.steps[0].start_sample)
    view.update(script.steps[0].start_sample + 10, False, 1.0)
    assert out.getvalue().splitlines()[-1] == "0:01 Seated hamstring stretch"
    # A jump forward prints nothing that was skipped.
    view.seek(script.steps[2].start_sample)
    before = out.getvalue()
    view.update(script.steps[2].start_sample + 10, False, 1.0)
    new_lines = out.getvalue()[len(before) :].splitlines()
    assert len(new_lines) == 1
    assert new_lines[0].endswith(" Lying hamstring stretch")
    view.event("paused")
    assert out.getvalue().splitlines()[-1] == "(paused)"


def test_rich_view_shows_step_side_countdown_next_and_progress(program):
    script = program.script
    out = io.StringIO()
    view = RichView(script, "Hamstring stretches", out)
    hold = script.holds[1]
    view.update(hold.start_sample + 13 * script.sample_rate, False, 1.0)
    view.close()
    text = out.getvalue()
    assert "Step 1 of 3 · Seated hamstring stretch" in text
    assert "Right leg" in text
    for row in big_digits("0:17").splitlines():
        assert row in text
    assert "Next up: Standing hamstring stretch" in text
    assert "left" in text and "Hamstring stretches" in text


def test_big_digits_are_three_rows():
    rows = big_digits("1:05").splitlines()
    assert len(rows) == 3
    assert rows[0].startswith(" ▀█")


# ------------------------------------------------------------------------ the CLI


def test_cli_turns_ctrl_c_into_exit_130_and_one_line(monkeypatch, hamstrings_program):
    calls = []

    def interrupted_play(routine, settings, **options):
        calls.append((routine, settings, options))
        raise KeyboardInterrupt

    monkeypatch.setattr("voice_coach.player.play_routine", interrupted_play)
    result = CliRunner().invoke(cli, ["play", "hamstrings", "--pan", "--volume", "50"])
    assert len(calls) == 1
    routine, settings, options = calls[0]
    assert routine == hamstrings_program.routine
    assert settings.pan is True
    assert settings.volume == 50
    assert options["routine_ref"] == "hamstrings"
    assert result.exit_code == 130, result.output
    assert not isinstance(result.exception, KeyboardInterrupt)
    assert lines_of(result.stderr) == ["voice-coach: stopped."]
    assert "Traceback" not in result.output


def test_without_waiting_keeps_the_noise_floor_and_drops_long_silences():
    floor = np.array([3, 0, -2, 0, 0, 1], dtype=np.int16)
    captured = np.concatenate([np.zeros(100, np.int16), floor, np.zeros(70, np.int16), floor])
    assert np.array_equal(without_waiting(captured), np.concatenate([floor, floor]))


def test_ctrl_c_restores_the_terminal_mode(alsa_paced, voice_coach_command, tmp_path):
    import pty
    import termios

    env, _ = alsa_paced
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    process = subprocess.Popen(
        [voice_coach_command, "play", "hamstrings", "--plain"],
        env=env,
        cwd=tmp_path,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        if line.startswith("(media keys"):  # no D-Bus session bus here
            line = process.stdout.readline()
        assert line.endswith("Seated hamstring stretch\n")
        # The player took the keyboard: no echo, no line buffering.
        assert termios.tcgetattr(slave)[3] & termios.ICANON == 0
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 130
        assert termios.tcgetattr(slave) == before
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
        os.close(slave)
