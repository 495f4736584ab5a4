"""Packaging: the built wheel carries its data files and works from a plain install.

Builds the wheel (build isolation fetches hatchling from PyPI), installs it into a
fresh virtualenv with pip alone (dependencies from PyPI, quick through pip's cache),
and exports the built-in routine from a folder outside the source tree, so nothing
can be found in the checkout by accident. Then, with the simpleaudio extra built
(where a C compiler and ALSA's headers are there to build it), it plays on a
machine without PortAudio: PortAudio is hidden from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import soundfile
from live import handed, private_pulseaudio, tee_to_files

from audio_analysis import assert_same_audio, without_waiting

ROOT = Path(__file__).resolve().parent.parent
STEP_TIMEOUT = 300

DATA_FILES = (
    "voice_coach/sounds/hold-start.wav",
    "voice_coach/sounds/hold-end.wav",
    "voice_coach/sounds/finish.wav",
    "voice_coach/routines/hamstrings.yaml",
)


def run(command: list, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
    return result


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that points Python at the dev venv or the tree."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP"}
    }
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    return env


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.live
def test_wheel_ships_its_data_and_exports_from_a_fresh_venv(tmp_path, voice_coach_command):
    env = clean_env()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert ROOT not in outside.resolve().parents

    # Build the wheel.
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT], outside, env)
    wheels = list(dist.glob("voice_coach-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = set(wheel.namelist())
        for data_file in DATA_FILES:
            assert data_file in names, f"{data_file} is not in the wheel"
            assert wheel.getinfo(data_file).file_size > 0, f"{data_file} is empty"
        entry_points = next(name for name in names if name.endswith(".dist-info/entry_points.txt"))
        assert "voice-coach = voice_coach.cli:main" in wheel.read(entry_points).decode()
    assert not any(name.startswith("tests/") for name in names)

    # Install it, not editable, into a fresh venv.
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], outside, env)
    python = venv / "bin" / "python"
    run([python, "-m", "pip", "install", wheels[0]], outside, env)
    located = run(
        [
            python,
            "-c",
            "import voice_coach.sounds as s; print(s.__file__); print(s.sounds_folder())",
        ],
        outside,
        env,
    )
    module_file, sounds_folder = map(Path, located.stdout.split())
    assert venv.resolve() in module_file.resolve().parents, module_file
    assert venv.resolve() in sounds_folder.resolve().parents, sounds_folder

    # Export with the installed command, with a clip cache of its own.
    installed_env = clean_env(VOICE_COACH_CACHE=str(tmp_path / "installed-cache"))
    exported = run(
        [venv / "bin" / "voice-coach", "export", "hamstrings", "-o", "OUT.wav"],
        outside,
        installed_env,
    )
    assert "wrote OUT.wav" in exported.stdout
    assert exported.stderr == ""
    out = outside / "OUT.wav"
    assert out.is_file()
    info = soundfile.info(str(out))
    assert (info.format, info.subtype, info.channels) == ("WAV", "PCM_16", 1)

    # The same length as the in-repo export.
    reference = tmp_path / "reference.wav"
    # The wheel was installed without the neural extra, so it speaks through pyttsx3.
    # A cache of its own too: both sides synthesise afresh with the same engine.
    command = [voice_coach_command, "export", "hamstrings", "-o", reference, "--engine", "pyttsx3"]
    run(command, outside, clean_env(VOICE_COACH_CACHE=str(tmp_path / "reference-cache")))
    expected = soundfile.info(str(reference))
    assert info.samplerate == expected.samplerate
    assert info.frames == expected.frames
    samples, _ = soundfile.read(str(out), dtype="int16")
    assert int(abs(samples.astype("int32")).max()) > 3000, "the exported audio is silent"

    if sys.version_info >= (3, 12):  # the simpleaudio extra is for Python 3.11 only
        return
    # Plays without PortAudio: the simpleaudio extra, built by pip, then the installed
    # command with PortAudio hidden (as on a machine without libportaudio2) plays a
    # short routine into a real-time sink: the device gets exactly the export.
    run([python, "-m", "pip", "install", f"{wheels[0]}[simpleaudio]"], outside, env)
    routine = outside / "short.yaml"
    routine.write_text(SHORT_ROUTINE, encoding="utf-8")
    exact = outside / "exact.wav"
    command = [venv / "bin" / "voice-coach", "export", routine, "-o", exact, "--loudness", "off"]
    run(command, outside, installed_env)
    shim = tmp_path / "no-portaudio"
    shim.mkdir()
    (shim / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    captured = tmp_path / "handed"
    (tmp_path / "sink").mkdir()
    with private_pulseaudio(tmp_path / "sink", rewinds=False) as sink:
        play_env = {
            **tee_to_files(sink, captured),
            "VOICE_COACH_CACHE": installed_env["VOICE_COACH_CACHE"],
            "PYTHONPATH": str(shim),
        }
        played = run([venv / "bin" / "voice-coach", "play", routine, "--plain"], outside, play_env)
    assert played.stderr == ""
    written, _ = soundfile.read(str(exact), dtype="int16")
    assert_same_audio(without_waiting(handed(captured)[0]), written, RATE)


SHORT_ROUTINE = """\
name: Short
steps:
  - name: Neck roll
    instructions: Roll your head slowly from one shoulder to the other.
    hold: 5
    sides: each
    countdown: 3
"""
RATE = 22050
