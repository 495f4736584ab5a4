"""Live playback: the real simpleaudio through ALSA, and the player's pure helpers.

Everything that opens an ALSA device runs in a subprocess, because ALSA reads its
configuration once per process. The device is either ALSA's file plugin over the
null device (not paced: a whole routine "plays" in about a second, and the bytes
land in a file), or the same plugin writing into a pipe whose reader drains it at
real-time speed (paced: playback is still running when we press Ctrl-C).
"""

from __future__ import annotations

import io
import itertools
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from voice_coach import player
from voice_coach.cli import cli
from voice_coach.errors import PlaybackError
from voice_coach.mixer import FLOOR_PEAK
from voice_coach.player import TerminalView, clock, status_at

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


def assert_same_audio(captured: np.ndarray, expected: np.ndarray, sample_rate: int) -> None:
    """``captured`` is ``expected`` sample for sample, plus at most a little silent padding
    (ALSA may fill out its last period)."""
    assert captured.dtype == np.int16 and expected.dtype == np.int16
    assert len(captured) >= len(expected), (
        f"the device got {len(captured)} samples, the rendered audio has {len(expected)}"
    )
    head = captured[: len(expected)]
    differing = np.flatnonzero(head != expected)
    assert differing.size == 0, (
        f"{differing.size} samples differ, first at sample {differing[0]} "
        f"(device {head[differing[0]]}, rendered {expected[differing[0]]})"
    )
    padding = captured[len(expected) :]
    assert len(padding) < sample_rate, f"{len(padding)} extra samples after the end"
    if padding.size:
        assert int(np.abs(padding.astype(np.int32)).max()) <= FLOOR_PEAK, "padding is not silent"


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
    captured = np.fromfile(capture, dtype="<i2")
    assert len(rendered) == hamstrings_program.script.length_samples
    assert_same_audio(captured, rendered, sample_rate)

    wav = tmp_path / "x.wav"
    exported = run([voice_coach_command, "export", "hamstrings", "-o", str(wav)], env, tmp_path)
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
    captured = np.fromfile(capture, dtype="<i2")
    assert_same_audio(captured, rendered, hamstrings_program.script.sample_rate)


def test_cli_play_prints_one_plain_line_per_phase_when_not_a_terminal(
    alsa_capture, voice_coach_command, hamstrings_program, tmp_path
):
    # The unpaced device finishes at once, so only the first and last phases show
    # here; the paced Ctrl-C test and the fake-clock test below see the steps.
    env, _ = alsa_capture
    played = run([voice_coach_command, "play", "hamstrings"], env, tmp_path)
    assert played.returncode == 0, played.stderr
    assert "\r" not in played.stdout
    lines = played.stdout.splitlines()
    assert lines[0] == f"Starting · {clock(hamstrings_program.script.duration)} to go"
    assert lines[-1] == f"Done · {hamstrings_program.script.duration / 60:.1f} minutes"
    assert all(line.strip() for line in lines)
    assert all(a != b for a, b in itertools.pairwise(lines))


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
        # Wait until the view has moved into the first step: playback is under way.
        while not seen or not seen[-1].startswith(f"[1/3] {STEP_NAMES[0]}"):
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
    assert seen[0].startswith("Starting · ")
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
    captured = np.fromfile(capture, dtype="<i2")
    assert 0 < len(captured) < len(rendered) // 10
    assert np.array_equal(captured, rendered[: len(captured)])


# ---------------------------------------------- the player in-process, simpleaudio faked


class FakePlayback:
    """Stands in for simpleaudio's PlayObject."""

    def __init__(self, playing_calls: int = 10**9, error: BaseException | None = None) -> None:
        self.playing_calls = playing_calls
        self.error = error
        self.is_playing_calls = 0
        self.stop_calls = 0

    def is_playing(self) -> bool:
        self.is_playing_calls += 1
        if self.error is not None and self.is_playing_calls == 2:
            raise self.error
        return self.is_playing_calls <= self.playing_calls

    def stop(self) -> None:
        self.stop_calls += 1


class FakeTime:
    """A clock that moves only when the player sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_device(monkeypatch):
    """Replace the device: returns a dict that receives the pcm and the FakePlayback."""
    started: dict = {}

    def install(playback: FakePlayback) -> dict:
        def start(pcm, sample_rate, routine_ref):
            started.update(pcm=pcm, sample_rate=sample_rate, playback=playback)
            return playback

        monkeypatch.setattr(player, "_start", start)
        monkeypatch.setattr(player, "time", FakeTime())
        return started

    return install


def test_ctrl_c_stops_the_sound_and_propagates(fake_device, hamstrings_program, rendered):
    started = fake_device(FakePlayback(error=KeyboardInterrupt()))
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        player.play(hamstrings_program, out)
    playback = started["playback"]
    assert playback.stop_calls == 1
    assert playback.is_playing_calls == 2
    assert "Done" not in out.getvalue()
    # The player hands the device the rendered audio, nothing of its own.
    assert started["sample_rate"] == hamstrings_program.script.sample_rate
    assert np.array_equal(started["pcm"], rendered)


def test_a_failing_device_stops_and_raises_playback_error(fake_device, hamstrings_program):
    started = fake_device(FakePlayback(error=RuntimeError("device went away")))
    with pytest.raises(PlaybackError, match="device went away"):
        player.play(hamstrings_program, io.StringIO())
    assert started["playback"].stop_calls == 1


def test_a_whole_run_logs_every_phase_once_in_order(fake_device, hamstrings_program):
    script = hamstrings_program.script
    ticks = int(script.duration / player.VIEW_INTERVAL) + 1
    started = fake_device(FakePlayback(playing_calls=ticks))
    out = io.StringIO()
    player.play(hamstrings_program, out)
    assert started["playback"].stop_calls == 0
    text = out.getvalue()
    assert "\r" not in text
    expected = ["Starting"]
    for number, name in enumerate(STEP_NAMES, start=1):
        where = f"[{number}/3] {name}"
        expected += [where, f"{where} · left", where, f"{where} · right", where]
    expected += ["Finishing", "Done"]
    lines = text.splitlines()
    assert phases(lines) == expected
    assert lines[0] == f"Starting · {clock(script.duration)} to go"
    assert lines[2] == f"[1/3] {STEP_NAMES[0]} · left · hold 0:30 left · " + (
        f"{clock((script.length_samples - script.holds[0].start_sample) / script.sample_rate)}"
        " to go"
    )
    assert lines[-1] == f"Done · {script.duration / 60:.1f} minutes"


# ------------------------------------------------------------------- pure helpers


def m_ss(samples: int, rate: int) -> str:
    """Whole seconds to nearest (halves up), as M:SS; written apart from clock()."""
    whole = (2 * samples + rate) // (2 * rate)
    minutes, seconds = divmod(whole, 60)
    return f"{minutes}:{seconds:02d}"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0:00"),
        (0.49, "0:00"),
        (0.5, "0:01"),
        (9.6, "0:10"),
        (59.49, "0:59"),
        (59.5, "1:00"),
        (306.215, "5:06"),
        (3599.4, "59:59"),
        (3600, "60:00"),
        (-2.5, "0:00"),
    ],
)
def test_clock(seconds, shown):
    assert clock(seconds) == shown


def test_status_inside_the_second_hold_names_step_1_right_side_and_seconds_left(
    hamstrings_program,
):
    script = hamstrings_program.script
    rate = script.sample_rate
    hold = script.holds[1]
    assert (hold.step, hold.side) == (0, "right")
    assert hold.end_sample - hold.start_sample == 30 * rate

    where = "[1/3] Seated hamstring stretch · right"
    for into, left in ((0, "0:30"), (10 * rate, "0:20"), (29 * rate, "0:01")):
        sample = hold.start_sample + into
        key, line = status_at(script, sample)
        assert key == f"{where} hold"
        assert line == (
            f"{where} · hold {left} left · {m_ss(script.length_samples - sample, rate)} to go"
        )

    # The phase key stays put while the seconds tick, and changes when the hold ends.
    assert status_at(script, hold.start_sample + 1)[0] == status_at(script, hold.end_sample - 1)[0]
    key, line = status_at(script, hold.end_sample)
    assert key == "[1/3] Seated hamstring stretch"
    assert "hold" not in line


def test_status_before_the_first_step_is_starting(hamstrings_program):
    script = hamstrings_program.script
    assert script.steps[0].start_sample > 0
    for sample in (0, script.steps[0].start_sample - 1):
        key, line = status_at(script, sample)
        assert key == "starting"
        rest = m_ss(script.length_samples - sample, script.sample_rate)
        assert line == f"Starting · {rest} to go"
    assert status_at(script, script.steps[0].start_sample)[0] == "[1/3] Seated hamstring stretch"


def test_status_names_each_step_and_finishing(hamstrings_program):
    script = hamstrings_program.script
    for span, name in zip(script.steps, STEP_NAMES, strict=True):
        key, _ = status_at(script, span.start_sample)
        assert key == f"[{span.step + 1}/3] {name}"
    key, line = status_at(script, script.steps[-1].end_sample)
    assert key == "finishing"
    assert line.startswith("Finishing · ")
    assert status_at(script, script.length_samples - 1)[1] == "Finishing · 0:00 to go"


def test_terminal_view_on_a_pipe_prints_a_line_per_phase():
    stream = io.StringIO()
    view = TerminalView(stream)
    view.show("a", "phase a · 0:03")
    view.show("a", "phase a · 0:02")
    view.show("b", "phase b · 0:01")
    view.show("b", "phase b · 0:00")
    view.show("a", "phase a again")
    view.close()
    assert stream.getvalue() == "phase a · 0:03\nphase b · 0:01\nphase a again\n"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_view_on_a_terminal_rewrites_one_line(monkeypatch):
    monkeypatch.setattr(
        "voice_coach.player.shutil.get_terminal_size", lambda: os.terminal_size((16, 24))
    )
    stream = FakeTerminal()
    view = TerminalView(stream)
    view.show("a", "a long first line that is wider than the terminal")
    view.show("a", "short")
    view.show("b", "next")
    # Each update returns to the line start and clears it; lines are cut to width - 1
    # so they never wrap (a wrapped line cannot be rewritten in place).
    assert stream.getvalue() == "\r\x1b[Ka long first li\r\x1b[Kshort\r\x1b[Knext"
    view.close()
    assert stream.getvalue().endswith("\r\x1b[Knext\n")
    assert stream.getvalue().count("\n") == 1


def test_terminal_view_survives_a_closed_pipe():
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    view = TerminalView(ClosedPipe())
    view.show("a", "line")
    view.show("b", "another")
    view.close()


# ------------------------------------------------------------------------ the CLI


def test_cli_turns_ctrl_c_into_exit_130_and_one_line(monkeypatch, hamstrings_program):
    calls = []

    def interrupted_play(program, stream=None, routine_ref="ROUTINE"):
        calls.append(program)
        raise KeyboardInterrupt

    monkeypatch.setattr(player, "play", interrupted_play)
    result = CliRunner().invoke(cli, ["play", "hamstrings"])
    assert len(calls) == 1
    assert calls[0].script == hamstrings_program.script
    assert result.exit_code == 130, result.output
    assert not isinstance(result.exception, KeyboardInterrupt)
    assert lines_of(result.stderr) == ["voice-coach: stopped."]
    assert "Traceback" not in result.output
