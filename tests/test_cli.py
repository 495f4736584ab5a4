"""Tests for the command line: CliRunner for each command, then the installed script."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

import voice_coach
from voice_coach.cli import cli

GOOD_ROUTINE = """\
name: Quick check
steps:
  - name: Calf stretch
    instructions: Step back and press the heel down.
    hold: 10
"""

SHORT_HOLD_ROUTINE = """\
name: Too short
steps:
  - name: Quick one
    hold: 3
"""

BAD_ROUTINE = """\
name: Broken
steps:
  - name: Typo
    hodl: 30
"""

WROTE = re.compile(r"^wrote (?P<path>.+) \((?P<clock>\d+:\d\d)(, (?P<lufs>-?[\d.]+) LUFS)?\)$")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="voice-coach")


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def dotfiles(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.startswith("."))


# --- CliRunner: each command --------------------------------------------------------


def test_list_shows_hamstrings():
    result = run("list")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("hamstrings "))
    assert "Hamstring stretches" in line
    assert "(3 steps)" in line
    assert result.stderr == ""


def test_show_prints_the_cue_table():
    result = run("show", "hamstrings")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["start", "end", "kind", "role", "text"]
    rows = [line.split(None, 4) for line in lines[1:-1]]
    assert all(re.fullmatch(r"\d+:\d\d\.\d{3}", row[0]) for row in rows)
    texts = [row[4] for row in rows]
    for name in (
        "Seated hamstring stretch",
        "Standing hamstring stretch",
        "Lying hamstring stretch",
    ):
        assert name in texts
    assert sum(1 for row in rows if row[2:4] == ["chime", "hold-start"]) == 5
    # The routine's last hold opens with the "last set" sound.
    assert sum(1 for row in rows if row[2:4] == ["chime", "last-set"]) == 1
    countdown = [row[4] for row in rows if row[3] == "countdown"]
    assert countdown == ["5", "4", "3", "2", "1"] * 6
    assert re.fullmatch(r"total \d+:\d\d\.\d{3} · 3 steps · 6 holds", lines[-1])


def test_check_a_good_file(tmp_path):
    path = write(tmp_path / "good.yaml", GOOD_ROUTINE)
    result = run("check", str(path))
    assert result.exit_code == 0, result.output
    line = one_line(result.stdout)
    assert re.fullmatch(rf"{re.escape(str(path))}: ok · 1 step · 2 holds · \d+:\d\d", line)
    assert "warning" not in result.output
    assert result.stderr == ""


def test_check_warns_when_the_countdown_does_not_fit_the_hold(tmp_path):
    path = write(tmp_path / "short.yaml", SHORT_HOLD_ROUTINE)
    result = run("check", str(path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    warnings = [line for line in lines if line.startswith(f"{path}: warning: ")]
    assert len(warnings) == 1
    assert "countdown" in warnings[0]
    assert lines[-1].startswith(f"{path}: ok")


@pytest.mark.parametrize(
    ("text", "line", "phrase"),
    [
        (BAD_ROUTINE, 4, "unknown step key 'hodl'; did you mean 'hold'?"),
        ("name: x\nsteps:\n  - name: a\n   hold: 30\n", 4, "not valid YAML"),
        ("name: x\nsteps:\n  - name: a\n    hold: .nan\n", 4, "finite number"),
    ],
)
def test_check_a_bad_file_prints_one_line(tmp_path, text, line, phrase):
    path = write(tmp_path / "bad.yaml", text)
    result = run("check", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    message = one_line(result.stderr)
    assert message.startswith(f"{path}:{line}: ")
    assert phrase in message
    assert "Traceback" not in result.output


def test_unknown_routine_name_is_a_usage_error():
    result = run("show", "hamstring")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert message.startswith("voice-coach: ")
    assert "did you mean 'hamstrings'?" in message
    assert result.stdout == ""


def test_missing_routine_file_is_a_usage_error(tmp_path):
    result = run("check", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert "missing.yaml" in one_line(result.stderr)


def test_export_writes_audio_and_timeline(tmp_path):
    wav = tmp_path / "out.wav"
    timeline_path = tmp_path / "t.json"
    result = run("export", "hamstrings", "-o", str(wav), "--timeline", str(timeline_path))
    assert result.exit_code == 0, result.output
    match = WROTE.match(one_line(result.stdout))
    assert match and match["path"] == str(wav)

    timeline = json.loads(timeline_path.read_text(encoding="utf-8"))
    assert {"sample_rate", "duration", "cues", "holds"} <= set(timeline)
    rate = timeline["sample_rate"]
    assert rate == 22050

    info = soundfile.info(str(wav))
    assert info.samplerate == 22050
    assert info.channels == 1
    assert abs(info.frames - timeline["duration"] * rate) <= 1
    minutes, seconds = divmod(round(timeline["duration"]), 60)
    assert match["clock"] == f"{minutes}:{seconds:02d}"

    holds = timeline["holds"]
    assert len(holds) == 6
    for hold in holds:
        assert hold["end"] - hold["start"] == pytest.approx(30.0, abs=1e-6)
        assert round(hold["end"] * rate) - round(hold["start"] * rate) == 30 * rate
    assert [(hold["step"], hold["side"]) for hold in holds] == [
        (step, side) for step in range(3) for side in ("left", "right")
    ]
    cues = timeline["cues"]
    assert cues
    assert all(0 <= cue["start"] <= cue["end"] <= timeline["duration"] for cue in cues)
    assert [cue["start"] for cue in cues] == sorted(cue["start"] for cue in cues)

    audio, _ = soundfile.read(str(wav), dtype="float32")
    assert len(audio) == info.frames
    assert abs(audio).max() > 0.05  # speech and chimes, not silence
    assert dotfiles(tmp_path) == []


def test_export_to_an_unknown_extension_writes_nothing(tmp_path):
    result = run("export", "hamstrings", "-o", str(tmp_path / "out.xyz"))
    assert result.exit_code == 1
    message = one_line(result.stderr)
    assert "'.xyz'" in message
    assert ".wav" in message
    assert list(tmp_path.iterdir()) == []


def test_export_to_a_missing_folder(tmp_path):
    result = run("export", "hamstrings", "-o", str(tmp_path / "nowhere" / "out.wav"))
    assert result.exit_code == 1
    assert "no such folder" in one_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_the_existing_file_alone(tmp_path):
    bad = write(tmp_path / "bad.yaml", BAD_ROUTINE)
    out = tmp_path / "out.wav"
    out.write_bytes(b"my precious recording")
    result = run("export", str(bad), "-o", str(out))
    assert result.exit_code == 1
    assert one_line(result.stderr).startswith(f"{bad}:4: ")
    assert out.read_bytes() == b"my precious recording"
    assert dotfiles(tmp_path) == []


def test_a_write_failure_mid_export_leaves_the_existing_file_alone(tmp_path, monkeypatch):
    """The encoder dies after writing part of the temp file: no half file, no temp file."""
    import voice_coach.exporter

    def failing_write_track(path, track, sample_rate, extension, *args):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(voice_coach.exporter, "write_track", failing_write_track)
    out = tmp_path / "out.wav"
    out.write_bytes(b"my precious recording")
    result = run("export", "hamstrings", "-o", str(out))
    assert result.exit_code == 1
    message = one_line(result.stderr)
    assert str(out) in message
    assert os.strerror(errno.ENOSPC) in message
    assert out.read_bytes() == b"my precious recording"
    assert dotfiles(tmp_path) == []


def test_a_bad_timeline_path_leaves_the_existing_audio_alone(tmp_path):
    """Regression: the audio used to be written before the timeline path was checked."""
    out = tmp_path / "out.wav"
    out.write_bytes(b"my precious recording")
    result = run(
        "export", "hamstrings", "-o", str(out), "--timeline", str(tmp_path / "no" / "t.json")
    )
    assert result.exit_code == 1
    assert "no such folder" in one_line(result.stderr)
    assert out.read_bytes() == b"my precious recording"
    assert dotfiles(tmp_path) == []


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664)])
def test_exported_file_permissions_follow_the_umask(tmp_path, umask, mode):
    """Regression: the temp file's private mkstemp mode (0600) used to reach the output."""
    out = tmp_path / "out.wav"
    old = os.umask(umask)
    try:
        result = run("export", "hamstrings", "-o", str(out))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == mode


@pytest.mark.slow
def test_two_cold_runs_in_one_process(tmp_path, monkeypatch):
    """Regression: a second Speaker in one process (pyttsx3 shares one engine) used to get
    0-frame clips for ~60% of runs: 'the speech engine made no sound for ...'."""
    path = write(tmp_path / "fresh.yaml", GOOD_ROUTINE.replace("heel", "heel gently"))
    for attempt in range(3):
        monkeypatch.setenv("VOICE_COACH_CACHE", str(tmp_path / f"cache-{attempt}"))
        result = run("check", str(path))
        assert result.exit_code == 0, f"run {attempt + 1}: {result.output}"
        assert any((tmp_path / f"cache-{attempt}").iterdir())


def test_export_refuses_a_folder_as_output(tmp_path):
    folder = tmp_path / "out.wav"
    folder.mkdir()
    result = run("export", "hamstrings", "-o", str(folder))
    assert result.exit_code == 1
    assert "folder" in one_line(result.stderr)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name):
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"{name} has no docstring"
    result = run(name, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: voice-coach {name}")
    first_line = command.help.strip().splitlines()[0]
    assert first_line in result.stdout


def test_group_help_lists_every_command():
    result = run("--help")
    assert result.exit_code == 0
    for name, command in cli.commands.items():
        assert re.search(rf"^  {name}\s+\S", result.stdout, re.MULTILINE), name
        assert command.get_short_help_str()


def test_voices_lists_an_english_voice():
    result = run("voices")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines
    english = [line for line in lines if re.search(r"[\s,]en(-[\w-]+)?(,|$)", line)]
    assert english, lines[:10]


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"voice-coach, version {voice_coach.__version__}"
    assert voice_coach.__version__ == version("voice-coach")


# --- the installed console script, as a user runs it ----------------------------------


def run_command(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
    return subprocess.run(
        args, capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False
    )


def test_command_list(voice_coach_command):
    result = run_command([voice_coach_command, "list"])
    assert result.returncode == 0, result.stderr
    assert re.search(r"^hamstrings\s+Hamstring stretches", result.stdout, re.MULTILINE)
    assert result.stderr == ""


@pytest.mark.slow
def test_command_export_with_a_cold_cache_prints_one_line(voice_coach_command, tmp_path):
    cache = tmp_path / "cold-cache"
    out = tmp_path / "X.wav"
    env = {**os.environ, "VOICE_COACH_CACHE": str(cache)}
    result = run_command([voice_coach_command, "export", "hamstrings", "-o", str(out)], env=env)
    assert result.returncode == 0, result.stderr
    # pyttsx3's espeak driver prints "Audio saved to ..."; none of that may leak
    match = WROTE.match(one_line(result.stdout))
    assert match and match["path"] == str(out)
    assert "Audio saved" not in result.stdout + result.stderr
    assert result.stderr == ""
    assert soundfile.info(str(out)).frames > 0
    # the cache was cold: this run really synthesised, and filled it
    assert cache.is_dir() and any(path.is_file() for path in cache.rglob("*"))


def test_command_check_bad_file(voice_coach_command, tmp_path):
    bad = write(tmp_path / "bad.yaml", BAD_ROUTINE)
    result = run_command([voice_coach_command, "check", str(bad)])
    assert result.returncode == 1
    message = one_line(result.stderr)
    assert message == f"{bad}:4: unknown step key 'hodl'; did you mean 'hold'?"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_command_show_unknown_name(voice_coach_command):
    result = run_command([voice_coach_command, "show", "hamstring"])
    assert result.returncode == 2
    assert "did you mean 'hamstrings'?" in one_line(result.stderr)


def test_command_play_without_a_sound_device(voice_coach_command, alsa_no_device):
    result = run_command([voice_coach_command, "play", "hamstrings"], env=alsa_no_device)
    assert result.returncode == 1
    message = one_line(result.stderr)
    assert "no sound device" in message
    assert "export" in message
    assert "ALSA lib" not in result.stderr
    assert "Traceback" not in result.stderr


def test_command_voices(voice_coach_command):
    result = run_command([voice_coach_command, "voices"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert result.stderr == ""


def test_python_dash_m(tmp_path):
    result = run_command([sys.executable, "-m", "voice_coach", "--help"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ")
    for name in cli.commands:
        assert re.search(rf"^  {name}\s", result.stdout, re.MULTILINE), name


# ------------------------------------------------------------ speech options reach the audio


def cue_rows(output: str, role: str) -> list[str]:
    return [line for line in output.splitlines() if f" {role} " in line]


def test_deeper_adds_the_deeper_variant():
    plain = run("show", "hamstrings")
    deeper = run("show", "hamstrings", "--deeper")
    assert plain.exit_code == 0 and deeper.exit_code == 0
    assert cue_rows(plain.stdout, "deeper") == []
    rows = cue_rows(deeper.stdout, "deeper")
    assert len(rows) == 1
    assert "For more stretch" in rows[0]


@pytest.mark.slow
def test_rate_changes_the_speech_length():
    def total(*options: str) -> str:
        result = run("show", "hamstrings", *options)
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()[-1]

    def seconds(line: str) -> float:
        minutes, rest = line.split()[1].split(":")
        return int(minutes) * 60 + float(rest)

    assert seconds(total("--rate", "240")) < seconds(total()) - 10
    assert seconds(total("--rate", "120")) > seconds(total()) + 10


@pytest.mark.slow
def test_voice_changes_the_audio(tmp_path):
    english, german = tmp_path / "en.wav", tmp_path / "de.wav"
    assert run("export", "hamstrings", "-o", str(english)).exit_code == 0
    assert run("export", "hamstrings", "-o", str(german), "--voice", "de").exit_code == 0
    a, _ = soundfile.read(english, dtype="int16")
    b, _ = soundfile.read(german, dtype="int16")
    assert len(a) != len(b) or (a != b).any()


def test_unknown_voice_is_a_usage_error(tmp_path):
    result = run("export", "hamstrings", "-o", str(tmp_path / "x.wav"), "--voice", "nonesuch")
    assert result.exit_code == 2
    assert "voice-coach voices" in one_line(result.stderr)
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.slow
@pytest.mark.parametrize("extension", [".flac", ".ogg", ".mp3"])
def test_compressed_formats_decode_to_the_same_length(tmp_path, extension):
    reference = tmp_path / "ref.wav"
    target = tmp_path / f"out{extension}"
    assert run("export", "hamstrings", "-o", str(reference)).exit_code == 0
    result = run("export", "hamstrings", "-o", str(target))
    assert result.exit_code == 0, result.output
    expected = soundfile.info(reference).frames
    decoded, rate = soundfile.read(target, dtype="float32")
    assert rate == 22050
    assert decoded.ndim == 1
    # Lossy codecs may pad by up to a frame or two of the codec.
    assert abs(len(decoded) - expected) <= 4096
    if extension == ".flac":
        lossless, _ = soundfile.read(reference, dtype="float32")
        assert (decoded == lossless).all()


def test_a_failed_timeline_write_leaves_no_new_audio(tmp_path):
    out = tmp_path / "fresh.wav"
    result = run("export", "hamstrings", "-o", str(out), "--timeline", "/proc/vc-timeline.json")
    assert result.exit_code == 1
    assert "vc-timeline.json" in one_line(result.stderr)
    assert not out.exists()
    assert dotfiles(tmp_path) == []


def test_output_piped_into_head_ends_quietly(voice_coach_command):
    result = subprocess.run(
        f"'{voice_coach_command}' show hamstrings | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ["start", "end", "kind", "role", "text"]
    assert "Traceback" not in result.stderr
    assert "Broken pipe" not in result.stderr


def test_the_readme_demo_command_without_a_sound_device(tmp_path, alsa_no_device):
    # scripts/demo as a user runs it, reusing this test run's venv (VC_VENV).
    out = tmp_path / "demo.wav"
    env = {**alsa_no_device, "VC_VENV": str(Path(sys.executable).parent.parent)}
    result = subprocess.run(
        [str(Path(__file__).parent.parent / "scripts" / "demo"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == f"wrote {out} (5:06)" or lines[-2].startswith(f"wrote {out} (")
    assert lines[-1] == f"No sound device here, so nothing was played; the routine is in {out}."
    assert soundfile.info(out).frames > 60 * 22050


def test_export_with_pan_puts_each_side_in_its_ear(tmp_path):
    out, timeline = tmp_path / "pan.wav", tmp_path / "pan.json"
    result = run("export", "hamstrings", "-o", str(out), "--timeline", str(timeline), "--pan")
    assert result.exit_code == 0, result.output
    audio, rate = soundfile.read(out, dtype="float32")
    assert audio.shape[1] == 2
    holds = json.loads(timeline.read_text())["holds"]
    for hold in holds[:2]:
        start, end = round(hold["start"] * rate), round(hold["end"] * rate)
        left, right = np.abs(audio[start:end, 0]).max(), np.abs(audio[start:end, 1]).max()
        loud, quiet = (left, right) if hold["side"] == "left" else (right, left)
        assert loud > 0.2
        assert quiet < 0.001  # only the noise floor
    title = json.loads(timeline.read_text())["cues"][0]
    a, b = round(title["start"] * rate), round(title["end"] * rate)
    assert np.array_equal(audio[a:b, 0], audio[a:b, 1])  # unsided cues in both ears
