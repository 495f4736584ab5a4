"""Speech through the real pyttsx3 and eSpeak NG, and the clip cache."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from voice_coach.audiofile import checked_clip_frames, read_mono
from voice_coach.errors import CacheWarning, SpeechError
from voice_coach.speech import (
    PEAK_LIMIT,
    PYTTSX3,
    SAMPLE_RATE,
    TARGET_RMS,
    TRIM_THRESHOLD,
    Speaker,
    list_voices,
    trim_and_level,
)

#: These tests are about the OS voices through pyttsx3 (eSpeak NG here); Piper's
#: are in test_neural.py.
ENGINE = PYTTSX3


def test_each_phrase_gets_its_own_clip(tmp_path):
    # pyttsx3's espeak driver writes only the last file when several saves share a
    # runAndWait; every phrase here must still come back with its own audio.
    speaker = Speaker(engine=ENGINE, cache_dir=tmp_path)
    clips = speaker.clips(["One.", "Two three four five six seven eight.", "Nine."])
    lengths = [len(clip) for clip in clips.values()]
    assert all(length > 0.1 * SAMPLE_RATE for length in lengths)
    assert lengths[1] > 2 * lengths[0]
    assert not np.array_equal(clips["One."], clips["Nine."])
    assert speaker.synthesised == 3


def test_clips_are_trimmed_so_sound_starts_at_once(tmp_path):
    clip = Speaker(engine=ENGINE, cache_dir=tmp_path).clip("Left leg.")
    loud = np.flatnonzero(np.abs(clip) > TRIM_THRESHOLD)
    assert loud[0] <= 0.01 * SAMPLE_RATE
    assert len(clip) - loud[-1] <= 0.01 * SAMPLE_RATE
    assert 0.5 < np.abs(clip).max() <= 0.9


def test_synthesis_keeps_stdout_clean(tmp_path, capfd):
    Speaker(engine=ENGINE, cache_dir=tmp_path).clip("Quiet please.")
    out, _ = capfd.readouterr()
    assert out == ""


def test_cache_is_reused_and_keyed_by_rate(tmp_path):
    first = Speaker(engine=ENGINE, cache_dir=tmp_path).clip("Switch legs.")
    again = Speaker(engine=ENGINE, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.clip("Switch legs."), first)
    assert again.synthesised == 0
    faster = Speaker(engine=ENGINE, cache_dir=tmp_path, rate=260)
    assert faster.cache_path("Switch legs.") != again.cache_path("Switch legs.")
    assert len(faster.clip("Switch legs.")) < len(first)
    leftovers = [p.name for p in tmp_path.iterdir() if not p.name.endswith(".wav")]
    assert leftovers == []
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_a_damaged_cache_entry_is_made_again(tmp_path):
    speaker = Speaker(engine=ENGINE, cache_dir=tmp_path)
    good = speaker.clip("Halfway.")
    speaker.cache_path("Halfway.").write_bytes(b"RIFF not really a wav")
    fresh = Speaker(engine=ENGINE, cache_dir=tmp_path)
    remade = fresh.clip("Halfway.")
    # eSpeak NG's output varies by a few samples from run to run.
    assert abs(len(remade) - len(good)) < 0.02 * len(good)
    assert fresh.synthesised == 1
    np.testing.assert_array_equal(
        Speaker(engine=ENGINE, cache_dir=tmp_path).clip("Halfway."), remade
    )


def test_unknown_voice_is_a_speech_error(tmp_path):
    with pytest.raises(SpeechError, match="voice-coach voices"):
        Speaker(engine=ENGINE, voice="no-such-voice-xyz", cache_dir=tmp_path).clip("Hello.")


def test_rate_out_of_range():
    with pytest.raises(SpeechError, match="60 to 400"):
        Speaker(engine=ENGINE, rate=10)


def test_voices_are_listed_with_languages():
    voices = list_voices()
    assert len(voices) > 10
    assert any(lang.startswith("en") for voice in voices for lang in voice.languages)


def test_a_named_voice_is_used(tmp_path):
    default = Speaker(engine=ENGINE, cache_dir=tmp_path).clip("Good morning.")
    german = Speaker(engine=ENGINE, voice="de", cache_dir=tmp_path).clip("Good morning.")
    assert not np.array_equal(default, german)


def test_synthesis_never_loads_the_engine_in_this_process(tmp_path):
    code = (
        "import sys\n"
        "from voice_coach.speech import Speaker\n"
        f"Speaker(engine='pyttsx3', cache_dir={str(tmp_path)!r})"
        ".clips(['Cold cache.', 'Another phrase.'])\n"
        "print('pyttsx3' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert len(list(tmp_path.glob("*.wav"))) == 2


def test_warm_cache_loads_no_speech_engine(hamstrings_program):
    # hamstrings_program warmed the session cache (default engine): a fresh process
    # starts no worker and imports neither engine.
    code = (
        "import sys\n"
        "from voice_coach.pipeline import prepare\n"
        "from voice_coach.routine import load_routine\n"
        "from voice_coach.speech import Speaker\n"
        "speaker = Speaker()\n"
        "prepare(load_routine('hamstrings'), speaker=speaker)\n"
        "engines = ('pyttsx3', 'piper', 'onnxruntime')\n"
        "print(speaker.synthesised, any(name in sys.modules for name in engines))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 False"


def test_trim_and_level_on_a_made_up_signal():
    quiet = np.zeros(1000)
    tone = 0.3 * np.sin(np.arange(2205) / 3.0)
    clip = trim_and_level(np.concatenate([quiet, tone, quiet]), SAMPLE_RATE)
    assert abs(len(clip) - len(tone)) <= 2 * round(0.003 * SAMPLE_RATE) + 1
    rms = np.sqrt(np.mean(clip[100:-100] ** 2))
    assert 0.9 * TARGET_RMS < rms < 1.1 * TARGET_RMS
    assert trim_and_level(np.zeros(500), SAMPLE_RATE).size == 0


def test_trim_and_level_limits_spiky_speech_peaks():
    """eSpeak's voice is spiky: peaks are brought to the limit, the body keeps its level."""
    body = 0.05 * np.sin(np.arange(22050) / 3.0)
    spikes = np.zeros_like(body)
    spikes[::2000] = 0.9  # sharp peaks far above the body, like eSpeak's glottal pulses
    signal = body + spikes
    clip = trim_and_level(np.concatenate([np.zeros(500), signal]), SAMPLE_RATE)
    assert np.abs(clip).max() <= PEAK_LIMIT + 1e-6

    def crest(samples):
        return np.abs(samples).max() / np.sqrt(np.mean(samples**2))

    # Limited, not simply turned down: the peaks came down against the body.
    assert crest(clip) < crest(signal) / 3


def test_read_mono_resamples_other_rates(tmp_path):
    path = tmp_path / "tone.wav"
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(44100) / 44100)
    soundfile.write(path, np.stack([tone, tone], axis=1), 44100)
    mono = read_mono(path, SAMPLE_RATE)
    assert abs(len(mono) - SAMPLE_RATE) <= 1
    spectrum = np.abs(np.fft.rfft(mono))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(mono) - 440) < 2


#: In a fresh process, as a speech worker runs (the engine's voice and rate are fixed by
#: the first phrase a process says): a clip whose cache write fails half-way.
FAILING_WRITE = """
import sys
from pathlib import Path
from voice_coach import speech
from voice_coach.errors import SpeechError

def write_half_then_fail(path, pcm, sample_rate):
    Path(path).write_bytes(b"RIFF half a clip")
    raise OSError(28, "No space left on device")

speech.write_clip_wav = write_half_then_fail
try:
    speech.synthesise_into_cache(None, 165, ["Disk full."], [Path(sys.argv[1]) / "clip.wav"])
except SpeechError as error:
    print(type(error).__name__, error)
"""


def test_a_cache_write_that_fails_leaves_nothing_behind(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", FAILING_WRITE, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CacheWriteError No space left on device")
    assert list(folder.iterdir()) == []


def test_a_clip_another_process_wrote_first_is_kept(tmp_path):
    """Two exports sharing a cache may make the same clip at once (eSpeak's sound for a
    phrase depends on what its process said before, so the two may differ): the first
    one written stays, so an export that has read a clip's length renders those very
    samples."""
    from voice_coach.speech import store_clip

    path = tmp_path / "clip.wav"
    store_clip(path, np.full(100, 0.25, dtype=np.float32))
    first = path.read_bytes()
    store_clip(path, np.full(200, 0.5, dtype=np.float32))
    assert path.read_bytes() == first
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("damage", ["flip a sample", "cut short", "empty"])
def test_a_damaged_cached_clip_is_made_again_silently(tmp_path, damage):
    speaker = Speaker(engine=ENGINE, cache_dir=tmp_path)
    good = speaker.clip("Reach for your toes.")
    path = speaker.cache_path("Reach for your toes.")
    raw = bytearray(path.read_bytes())
    if damage == "flip a sample":
        raw[len(raw) // 2] ^= 0x40  # the header stays valid; only the checksum can tell
    elif damage == "cut short":
        raw = raw[: len(raw) - 1000]
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    fresh = Speaker(engine=ENGINE, cache_dir=tmp_path)
    again = fresh.clip("Reach for your toes.")
    assert fresh.synthesised == 1
    assert abs(len(again) - len(good)) < 0.02 * len(good)
    assert checked_clip_frames(path, SAMPLE_RATE) == len(again)


@pytest.mark.parametrize("obstacle", ["a file where a folder should be", "no permission"])
def test_an_unwritable_cache_falls_back_to_a_temporary_one_with_a_warning(tmp_path, obstacle):
    if obstacle == "no permission":
        cache = tmp_path / "locked"
        cache.mkdir()
        cache.chmod(0o500)  # readable, not writable
        if os.access(cache, os.W_OK):
            pytest.skip("this user can write anywhere (root ignores the mode)")
    else:
        (tmp_path / "blocked").write_text("not a folder", encoding="utf-8")
        cache = tmp_path / "blocked" / "clips"
    speaker = Speaker(engine=ENGINE, cache_dir=cache)
    with pytest.warns(CacheWarning, match="cannot write the clip cache"):
        clip = speaker.clip("Still speaking.")
    assert clip.size > 0
    assert speaker.cache_dir != cache
    assert sorted(p.name for p in tmp_path.rglob("*")) in (["locked"], ["blocked"])


def test_a_clip_made_by_other_code_is_not_reused(tmp_path, monkeypatch):
    from voice_coach import speech

    made = Speaker(engine=ENGINE, cache_dir=tmp_path)
    made.clip("Switch legs.")
    first_path = made.cache_path("Switch legs.")
    monkeypatch.setattr(speech, "clip_code_digest", lambda: "other code")
    later = Speaker(engine=ENGINE, cache_dir=tmp_path)
    assert later.cache_path("Switch legs.") != first_path
    later.clip("Switch legs.")
    assert later.synthesised == 1


def test_editing_a_module_that_makes_clips_changes_the_cache_key(tmp_path):
    import shutil

    import voice_coach

    def digest_of(package_parent: Path) -> str:
        shown = subprocess.run(
            [sys.executable, "-c", "import voice_coach.speech as s; print(s.clip_code_digest())"],
            env={**os.environ, "PYTHONPATH": str(package_parent)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return shown.stdout.strip()

    source = Path(voice_coach.__file__).parent
    copies = {}
    for name in ("same", "edited"):
        shutil.copytree(
            source, tmp_path / name / "voice_coach", ignore=shutil.ignore_patterns("__pycache__")
        )
        copies[name] = tmp_path / name
    loudness = copies["edited"] / "voice_coach" / "loudness.py"
    loudness.write_text(loudness.read_text() + "\n# a change to how clips are levelled\n")
    assert digest_of(copies["same"]) == speech_digest()
    assert digest_of(copies["edited"]) != speech_digest()


def speech_digest() -> str:
    from voice_coach.speech import clip_code_digest

    return clip_code_digest()


#: One phrase synthesised in a fresh process (the first phrase of a process is the same
#: every time), with the driver's sleeps as speech.py sets them or as pyttsx3 has them.
ONE_PHRASE = """
import hashlib, sys, time
from voice_coach import speech
engine = speech._init_engine()
engine.setProperty("rate", 175)
if sys.argv[1] == "pyttsx3's own":
    sys.modules["pyttsx3.drivers.espeak"].time = time
clip = speech._synthesise(engine, "Lean forward from the hips, and breathe out slowly.")
print(len(clip), hashlib.sha256(clip.tobytes()).hexdigest())
"""


def test_the_espeak_driver_looks_for_the_end_of_a_phrase_every_millisecond(monkeypatch):
    """pyttsx3's eSpeak driver sleeps 10 ms between looks at whether a phrase is done;
    speech.py gives it 1 ms sleeps, and the samples are the same either way."""
    from voice_coach import speech

    speech._init_engine()
    driver = sys.modules["pyttsx3.drivers.espeak"]
    slept: list[float] = []
    with monkeypatch.context() as patch:
        patch.setattr(time, "sleep", slept.append)
        driver.time.sleep(0.01)  # what the driver's loop asks for
    assert slept == [speech.DRIVER_POLL_SECONDS] and speech.DRIVER_POLL_SECONDS < 0.01
    assert driver.time.monotonic() > 0  # the rest of the time module, untouched
    made = {
        sleeps: subprocess.run(
            [sys.executable, "-c", ONE_PHRASE, sleeps], capture_output=True, text=True, check=True
        ).stdout.split()
        for sleeps in ("speech.py's", "pyttsx3's own")
    }
    assert made["speech.py's"] == made["pyttsx3's own"]
    assert int(made["speech.py's"][0]) > SAMPLE_RATE


@pytest.mark.slow
def test_speech_workers_are_capped_however_many_cores(tmp_path, monkeypatch):
    """On a machine with 64 cores, no more than MAX_WORKERS speech workers run at once
    (each holds its own Python, numpy and eSpeak NG, so memory is bounded by the cap,
    not the core count), and every clip is still made."""
    from voice_coach import speech

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    workers: list[subprocess.Popen] = []
    running: list[int] = []
    popen = subprocess.Popen

    def counted(*args, **kwargs):
        process = popen(*args, **kwargs)
        workers.append(process)
        running.append(sum(worker.poll() is None for worker in workers))
        return process

    monkeypatch.setattr(subprocess, "Popen", counted)  # the module speech starts workers with
    phrases = [f"Step {n}: lean forward slowly, and let the stretch come." for n in range(60)]
    assert sum(map(len, phrases)) > 2 * speech.MAX_WORKERS * speech.WORKER_CHARS
    speaker = Speaker(engine=ENGINE, cache_dir=tmp_path)
    clips = speaker.clips(phrases)
    assert len(workers) == speech.MAX_WORKERS
    assert max(running) <= speech.MAX_WORKERS
    assert speaker.synthesised == len(phrases)
    assert all(clips[text].size > 0.5 * SAMPLE_RATE for text in phrases)


#: In a fresh process, as an export prepares its clips: two speakers (this process and a
#: worker), the worker's share one short phrase that it ends long before this process
#: has said the long ones. Prints whether pyttsx3 loaded here, the workers started, and
#: a digest of every clip.
SPEAKING_HERE = """
import hashlib, subprocess, sys
from pathlib import Path
from voice_coach import speech
long = [f"Step {n}: lean forward slowly from the hips, let your arms hang, breathe out, "
        "and let the back of the legs lengthen a little more with every breath." for n in range(8)]
phrases = [*long, "Rest."]
speech._speaker_count = lambda phrases: 2
speech.WORKER_START_CHARS = sum(map(len, long)) - 1  # all but "Rest." are said here
workers = []
popen = subprocess.Popen
def counted(*args, **kwargs):
    workers.append(popen(*args, **kwargs))
    return workers[-1]
subprocess.Popen = counted  # the module speech loads when it starts workers
speaker = speech.Speaker(engine="pyttsx3", cache_dir=Path(sys.argv[1]))
with speech.speaking_here():
    files = speaker.clip_files(phrases)
digest = hashlib.sha256(b"".join(files[text].path.read_bytes() for text in phrases))
print("pyttsx3" in sys.modules, len(workers), speaker.synthesised, digest.hexdigest())
"""


def test_an_export_speaks_in_its_own_process_too_and_makes_the_same_clips_each_time(tmp_path):
    """While an export prepares, the process that asks speaks its share itself beside a
    worker; a worker that ends first is waited for once (this hung when its end was
    taken while this process was still speaking); and the shares do not depend on
    timing, so two runs make the very same clips (eSpeak's sound for a phrase depends
    on what its process said before)."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", SPEAKING_HERE, str(tmp_path / f"cache{run}")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        for run in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (run.stdout.split() for run in runs)
    assert first[:3] == ["True", "1", "9"]
    assert first == second


def test_shares_do_not_depend_on_timing_and_give_this_process_a_head_start():
    from voice_coach.speech import _shares

    phrases = ["a" * 300, "b" * 250, "c" * 200, "d" * 40, "e" * 30, "f" * 20]
    a, b, c, d, e, f = phrases
    assert _shares(phrases, 2) == [[a, d, e, f], [b, c]]  # 390 and 450 characters
    assert _shares(phrases, 2, head_start=400) == [[a, b, d, e], [c, f]]  # 620 and 400+220
    assert _shares(phrases, 3, head_start=10_000)[1:] == [[], []]


#: In a fresh process: a phrase at 165 words a minute, then the same phrase after
#: eSpeak NG's rate was put back to its own 200 behind pyttsx3's back (as the driver now
#: and then left it), synthesised as a speech worker does.
RATE_LOST = """
import sys
from voice_coach import speech
engine = speech._init_engine()
engine.setProperty("rate", 165)
speech._espeak_rate = 165
text = "Lean forward from the hips, and breathe out slowly."
first = len(speech._synthesise(engine, text))
espeak = sys.modules["pyttsx3.drivers._espeak"]
espeak.SetParameter(espeak.RATE, 200, 0)
again = len(speech._synthesise(engine, text))
print(first, again)
"""


def test_a_worker_speaks_at_its_rate_even_when_espeak_lost_it():
    shown = subprocess.run(
        [sys.executable, "-c", RATE_LOST], capture_output=True, text=True, check=True
    )
    first, again = map(int, shown.stdout.split())
    assert abs(again - first) < 0.03 * first, (first, again)  # 200 wpm would be ~18% shorter


#: In a fresh process: the driver's first try at a piece leaves a WAV with no sound (as
#: it now and then did beside another busy worker); then a piece it never speaks.
SILENT_PIECE = """
import wave
from voice_coach import speech
from voice_coach.errors import SpeechError
engine = speech._init_engine()
engine.setProperty("rate", 165)
real = speech._speak_into
tries = []
def first_silent(engine, text, path):
    tries.append(text)
    if len(tries) == 1:
        with wave.open(path, "wb") as out:
            out.setnchannels(1); out.setsampwidth(2); out.setframerate(22050)
    else:
        real(engine, text, path)
speech._speak_into = first_silent
print(len(speech._synthesise(engine, "Switch legs.")), len(tries))
speech._speak_into = lambda engine, text, path: None
try:
    speech._synthesise(engine, "Switch legs.")
except SpeechError as error:
    print(error)
"""


def test_a_piece_the_driver_left_silent_is_spoken_again():
    shown = subprocess.run(
        [sys.executable, "-c", SILENT_PIECE], capture_output=True, text=True, check=True
    )
    first, second = shown.stdout.splitlines()
    samples, tries = map(int, first.split())
    assert tries == 2 and samples > 0.3 * SAMPLE_RATE
    assert second == "the speech engine made no sound for 'Switch legs.'"
