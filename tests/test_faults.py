"""Faults during export: interrupted, killed, out of disk, or run twice at once.

In every case the user keeps what they had: the target is either the old file,
untouched, or the complete new one; Ctrl-C leaves no temp file behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from commands import LONG_ROUTINE

PRECIOUS = b"my precious earlier export"


def command(voice_coach_command: str, *args: str) -> list[str]:
    return [voice_coach_command, *args]


def start_long_export(voice_coach_command: str, folder: Path) -> tuple[subprocess.Popen, Path]:
    """Start exporting the long routine over an existing file; return once encoding has
    begun (its temp file exists)."""
    routine = folder / "long.yaml"
    routine.write_text(LONG_ROUTINE, encoding="utf-8")
    target = folder / "out.ogg"
    target.write_bytes(PRECIOUS)
    process = subprocess.Popen(
        command(voice_coach_command, "export", str(routine), "-o", str(target)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".out.") for p in folder.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.02)
    time.sleep(0.3)  # well into the encoding
    return process, target


@pytest.mark.slow
def test_ctrl_c_during_an_export_keeps_the_old_file_and_leaves_no_temp_file(
    voice_coach_command, tmp_path
):
    process, target = start_long_export(voice_coach_command, tmp_path)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.decode().splitlines() == ["voice-coach: stopped."]
    assert target.read_bytes() == PRECIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.yaml", "out.ogg"]


@pytest.mark.slow
def test_sigkill_during_an_export_keeps_the_old_file(voice_coach_command, tmp_path):
    process, target = start_long_export(voice_coach_command, tmp_path)
    process.kill()
    process.communicate(timeout=60)
    assert target.read_bytes() == PRECIOUS  # only the temp file beside it is left over


@pytest.mark.slow
def test_a_full_disk_gives_one_line_and_keeps_the_old_file(voice_coach_command, small_disk):
    target = small_disk / "hamstrings.wav"  # 13 MB of audio into a 1 MB disk
    target.write_bytes(PRECIOUS)
    result = subprocess.run(
        command(voice_coach_command, "export", "hamstrings", "-o", str(target)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert str(target) in lines[0]
    assert "No space left on device" in lines[0]
    assert target.read_bytes() == PRECIOUS
    assert [p.name for p in small_disk.iterdir()] == ["hamstrings.wav"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["piper", "pyttsx3"])
def test_two_exports_at_once_sharing_a_cold_cache_agree(voice_coach_command, tmp_path, engine):
    if engine == "piper":
        from voice_coach import neural

        if not neural.available():
            pytest.skip("Piper is not installed")
    routine = tmp_path / "short.yaml"
    routine.write_text(
        "name: Short\nsteps:\n  - name: Neck roll\n    instructions: Roll your head slowly.\n"
        "    hold: 4\n    sides: each\n    countdown: 2\n",
        encoding="utf-8",
    )
    env = {**os.environ, "VOICE_COACH_CACHE": str(tmp_path / "shared-cache")}
    outputs = [tmp_path / "a.flac", tmp_path / "b.flac"]
    processes = [
        subprocess.Popen(
            command(
                voice_coach_command, "export", str(routine), "-o", str(out), "--engine", engine
            ),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for out in outputs
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr.decode()
    assert outputs[0].read_bytes() == outputs[1].read_bytes()


@pytest.mark.slow
def test_no_speech_engine_is_one_line_with_the_install_command(voice_coach_command, tmp_path):
    """pyttsx3 whose driver cannot load eSpeak NG (as on a machine without it): one line
    naming the install command, exit 1. A stand-in pyttsx3 on PYTHONPATH fails the way
    the real one does when libespeak-ng is missing."""
    shim = tmp_path / "shim" / "pyttsx3"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "def init(*args, **kwargs):\n"
        "    raise OSError('libespeak-ng.so.1: cannot open shared object file')\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path / "shim"),
        "VOICE_COACH_CACHE": str(tmp_path / "empty-cache"),
    }
    result = subprocess.run(
        command(
            voice_coach_command,
            "export",
            "hamstrings",
            "-o",
            str(tmp_path / "x.wav"),
            "--engine",
            "pyttsx3",
        ),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "apt-get install espeak-ng" in lines[0]
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.slow
def test_an_unwritable_cache_is_one_warning_line_and_the_export_still_works(
    voice_coach_command, tmp_path
):
    (tmp_path / "blocked").write_text("a file where the cache folder should be", encoding="utf-8")
    env = {**os.environ, "VOICE_COACH_CACHE": str(tmp_path / "blocked" / "clips")}
    routine = tmp_path / "tiny.yaml"
    routine.write_text("name: Tiny\nsteps:\n  - name: Shrug\n    hold: 2\n", encoding="utf-8")
    out = tmp_path / "tiny.wav"
    result = subprocess.run(
        command(voice_coach_command, "export", str(routine), "-o", str(out)),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("voice-coach: warning: ")
    assert "cannot write the clip cache" in lines[0]
    assert out.stat().st_size > 0


@pytest.mark.slow
def test_ctrl_c_stops_a_batch_and_starts_no_more_jobs(voice_coach_command, tmp_path):
    """Ctrl-C reaches the whole process group (as a terminal sends it): the workers drop
    their temp files and the jobs still queued never start."""
    routines = []
    for number in range(4):
        routine = tmp_path / f"long{number}.yaml"
        routine.write_text(LONG_ROUTINE.replace("Long holds", f"Long holds {number}"), "utf-8")
        routines.append(str(routine))
    out = tmp_path / "out"
    process = subprocess.Popen(
        command(voice_coach_command, "export", *routines, "-o", f"{out}/", "-f", "ogg"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(p.name.startswith(".") for p in out.iterdir())):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the batch never started writing"
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()
    assert "voice-coach: stopped." in stderr.decode().splitlines()
    assert [p.name for p in out.iterdir()] == []  # no temp files, and no queued job ran
