"""The built-in sound sets and a routine's own sound files.

The built-in sets are reproducible from scripts/make_sounds.py, shaped as the
script engine assumes (they start at once and end in silence), at one peak
level, and distinct from each other as measured on their samples.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from conftest import ROOT
from voice_coach.errors import RoutineError, VoiceCoachError
from voice_coach.loudness import LoudnessMeter
from voice_coach.script import CHIMES
from voice_coach.sounds import (
    CUSTOM_MAX_SECONDS,
    PEAK,
    SOUND_NAMES,
    SOUND_SETS,
    load_chimes,
    load_sound_file,
    load_sound_set,
    resolve_sound_path,
    sound_set_paths,
)

RATE = 22050
#: The new sets are short cues; the chimes' finish predates that rule.
MAX_SECONDS = 1.2
OLD_CHIME_FINISH_SECONDS = 1.95
#: Least time-frequency distance (see :func:`distance`) between two sounds that
#: must be told apart. For scale: the hold-start chime against itself one
#: semitone higher scores under 0.01, four semitones higher about 0.9.
DISTINCT = 0.35
KEEP_INSIDE = "keep sound files inside the routine's folder"


def run_make_sounds(folder: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/make_sounds.py"), str(folder)],
        check=True,
        capture_output=True,
    )


def wav_files(folder: Path) -> dict[str, Path]:
    return {str(path.relative_to(folder)): path for path in sorted(folder.rglob("*.wav"))}


def make_sounds_module():
    spec = importlib.util.spec_from_file_location("make_sounds", ROOT / "scripts/make_sounds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def band_levels(samples: np.ndarray) -> np.ndarray:
    """A coarse hearing-like picture of a sound: for each 46 ms frame (half
    overlapping), the energy in third-octave bands from 100 Hz to 10 kHz, raised to
    the power 0.3 (loudness grows roughly so with energy)."""
    frame, hop = 1024, 512
    frames = 1 + max(0, -(-(len(samples) - frame) // hop))
    padded = np.pad(samples, (0, (frames - 1) * hop + frame - len(samples)))
    window = np.hanning(frame)
    frequencies = np.fft.rfftfreq(frame, 1 / RATE)
    edges = 100 * 2 ** (np.arange(0, 21) / 3)
    band_of = np.digitize(frequencies, edges) - 1
    levels = np.zeros((frames, len(edges) - 1))
    for index in range(frames):
        power = np.abs(np.fft.rfft(padded[index * hop : index * hop + frame] * window)) ** 2
        for band in range(len(edges) - 1):
            levels[index, band] = power[band_of == band].sum()
    return levels**0.3


def distance(first: np.ndarray, second: np.ndarray) -> float:
    """How different two sounds are, from 0 (the same, at any level) to 1 (nothing in
    common): one minus the cosine similarity of their band levels, both starting at
    their first sample, the shorter padded with silence."""
    a, b = band_levels(first), band_levels(second)
    frames = max(len(a), len(b))
    a = np.pad(a, ((0, frames - len(a)), (0, 0)))
    b = np.pad(b, ((0, frames - len(b)), (0, 0)))
    return float(1 - (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def loudness(samples: np.ndarray) -> float:
    """BS.1770 loudness (LUFS) of one sound with silence around it (which the gate drops)."""
    meter = LoudnessMeter(RATE)
    quiet = np.zeros(RATE, dtype=np.float32)
    meter.feed(np.concatenate([quiet, samples.astype(np.float32), quiet]))
    return meter.integrated()


# --- the built-in sets -------------------------------------------------------------------


def test_make_sounds_is_deterministic_and_reproduces_the_shipped_files(tmp_path):
    run_make_sounds(tmp_path / "first")
    run_make_sounds(tmp_path / "second")
    first, second = wav_files(tmp_path / "first"), wav_files(tmp_path / "second")
    shipped = wav_files(ROOT / "sounds")
    assert len(first) == len(SOUND_SETS) * len(SOUND_NAMES)
    assert first.keys() == second.keys() == shipped.keys()
    for name, path in first.items():
        made = path.read_bytes()
        assert made == second[name].read_bytes(), f"{name} differs between two runs"
        if made == shipped[name].read_bytes():
            continue
        # Another platform's sin/exp may round a sample the other way: allow one step.
        kept = shipped[name].read_bytes()
        assert made[:44] == kept[:44], f"{name}: header differs from the shipped file"
        made_pcm = np.frombuffer(made[44:], "<i2").astype(int)
        kept_pcm = np.frombuffer(kept[44:], "<i2").astype(int)
        assert np.abs(made_pcm - kept_pcm).max() <= 1, f"{name} differs from the shipped file"


def test_every_set_has_the_four_sounds_as_files():
    assert SOUND_SETS == ("chime", "bell", "woodblock", "beep")
    assert SOUND_NAMES == ("hold-start", "hold-end", "last-set", "finish")
    for set_name in SOUND_SETS:
        paths = sound_set_paths(set_name)
        assert tuple(paths) == SOUND_NAMES
        for path in paths.values():
            info = soundfile.info(str(path))
            assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16"), path
    # The default set keeps its old place, so older code and installs still find it.
    assert sound_set_paths("chime")["hold-start"] == ROOT / "sounds" / "hold-start.wav"
    assert sound_set_paths("bell")["finish"] == ROOT / "sounds" / "bell" / "finish.wav"


def test_an_unknown_set_is_a_project_error():
    with pytest.raises(VoiceCoachError, match="chime, bell, woodblock, beep"):
        sound_set_paths("gong")


@pytest.mark.parametrize("set_name", SOUND_SETS)
def test_sounds_start_at_once_are_short_at_the_peak_and_end_in_silence(set_name):
    sounds = load_sound_set(set_name, RATE)
    assert tuple(sounds) == SOUND_NAMES
    for name, samples in sounds.items():
        old = (set_name, name) == ("chime", "finish")
        longest = OLD_CHIME_FINISH_SECONDS if old else MAX_SECONDS
        assert len(samples) <= longest * RATE, (set_name, name, len(samples) / RATE)
        # The hold's first sample is the start chime's: it must be heard at once.
        onset = np.flatnonzero(np.abs(samples) > 0.01)[0]
        assert onset < 0.002 * RATE, (set_name, name)
        # The file's end is the sound's end: faded to silence, not cut off.
        assert np.abs(samples[-int(0.005 * RATE) :]).max() < 10 ** (-60 / 20), (set_name, name)
        assert abs(np.abs(samples).max() - PEAK) < 0.001, (set_name, name)


def test_the_chimes_keep_their_names_and_a_ringing_tail():
    chimes = load_chimes(RATE)
    assert tuple(chimes) == CHIMES
    for name, samples in chimes.items():
        assert np.array_equal(samples, load_sound_set("chime", RATE)[name])
        # The chimes' declared end covers their whole decay.
        assert np.abs(samples[-int(0.05 * RATE) :]).max() < 10 ** (-60 / 20), name


def test_the_distance_measure_scores_small_changes_low_and_new_notes_high():
    make_sounds = make_sounds_module()
    chime = make_sounds.chime([(0.0, 1046.5)], decay_seconds=0.11)
    assert distance(chime, chime) < 1e-9
    assert distance(chime, 0.3 * chime) < 1e-9
    assert distance(chime, np.concatenate([np.zeros(441), chime])) < 0.1  # 20 ms later
    semitone_up = make_sounds.chime([(0.0, 1046.5 * 2 ** (1 / 12))], decay_seconds=0.11)
    assert distance(chime, semitone_up) < 0.1
    third_up = make_sounds.chime([(0.0, 1046.5 * 2 ** (4 / 12))], decay_seconds=0.11)
    assert distance(chime, third_up) > DISTINCT


@pytest.mark.parametrize("set_name", SOUND_SETS)
def test_the_four_sounds_of_a_set_are_distinct(set_name):
    sounds = load_sound_set(set_name, RATE)
    scores = {
        (a, b): distance(sounds[a], sounds[b]) for a, b in itertools.combinations(SOUND_NAMES, 2)
    }
    print(set_name, {f"{a}/{b}": round(score, 3) for (a, b), score in scores.items()})
    assert min(scores.values()) > DISTINCT, scores


def test_the_sets_hold_start_sounds_differ():
    starts = {name: load_sound_set(name, RATE)["hold-start"] for name in SOUND_SETS}
    scores = {(a, b): distance(starts[a], starts[b]) for a, b in itertools.combinations(starts, 2)}
    print({f"{a}/{b}": round(score, 3) for (a, b), score in scores.items()})
    assert min(scores.values()) > DISTINCT, scores


def test_beeps_are_softer_than_the_chimes_at_the_same_peak():
    beeps, chimes = load_sound_set("beep", RATE), load_sound_set("chime", RATE)
    for name in SOUND_NAMES:
        assert loudness(beeps[name]) < loudness(chimes[name]) - 1.0, name


# --- a routine's own sound files ---------------------------------------------------------


def test_a_stereo_44k_flac_becomes_mono_at_the_project_rate_and_peak(tmp_path):
    time = np.arange(44100) / 44100
    tone = np.sin(2 * np.pi * 440 * time)
    stereo = np.column_stack([0.2 * tone, 0.1 * tone])
    path = tmp_path / "ding.flac"
    soundfile.write(str(path), stereo, 44100, subtype="PCM_16")

    samples = load_sound_file(path, RATE)

    assert samples.ndim == 1 and samples.dtype == np.float32
    assert abs(len(samples) - RATE) <= 1
    assert abs(np.abs(samples).max() - PEAK) < 1e-6
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.fft.rfftfreq(len(samples), 1 / RATE)[spectrum.argmax()] - 440) < 2


def test_an_ogg_vorbis_file_is_read(tmp_path):
    time = np.arange(RATE // 2) / RATE
    path = tmp_path / "ding.ogg"
    soundfile.write(str(path), 0.8 * np.sin(2 * np.pi * 660 * time), RATE, format="OGG")
    samples = load_sound_file(path, RATE)
    assert abs(len(samples) - RATE // 2) < 0.01 * RATE
    assert abs(np.abs(samples).max() - PEAK) < 1e-6


def test_a_sound_longer_than_the_cap_is_refused(tmp_path):
    path = tmp_path / "song.wav"
    seconds = CUSTOM_MAX_SECONDS + 1
    soundfile.write(str(path), 0.5 * np.ones(int(seconds * 8000)), 8000)
    with pytest.raises(VoiceCoachError, match="longer than 5 seconds"):
        load_sound_file(path, RATE)
    # Just under the cap is fine.
    soundfile.write(str(path), 0.5 * np.ones(int((CUSTOM_MAX_SECONDS - 0.1) * 8000)), 8000)
    assert len(load_sound_file(path, RATE)) <= CUSTOM_MAX_SECONDS * RATE


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.wav", b"these are not the sounds you are looking for\n" * 20, "not a readable"),
        ("empty.ogg", b"", "not a readable"),
        ("ding.mp3", b"ID3", "WAV, FLAC or OGG"),
    ],
)
def test_a_file_that_is_not_usable_audio_is_a_project_error(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VoiceCoachError, match=message) as caught:
        load_sound_file(path, RATE)
    assert str(path) in str(caught.value)


def test_a_missing_or_silent_sound_file_is_a_project_error(tmp_path):
    with pytest.raises(VoiceCoachError, match="no such sound file"):
        load_sound_file(tmp_path / "nowhere.wav", RATE)
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros(RATE), RATE)
    with pytest.raises(VoiceCoachError, match="silent"):
        load_sound_file(silent, RATE)


# --- where a routine's sound files may be ------------------------------------------------


@pytest.fixture
def routine_folder(tmp_path) -> Path:
    folder = tmp_path / "routine"
    (folder / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return folder


@pytest.mark.parametrize(
    "relative",
    ["/etc/x.wav", "../x.wav", "sub/../../x.wav", "C:/x.wav", "C:x.wav", "//server/share/x.wav"],
)
def test_a_sound_path_that_leaves_the_folder_is_refused(routine_folder, relative):
    with pytest.raises(RoutineError, match=KEEP_INSIDE) as caught:
        resolve_sound_path(routine_folder, relative)
    assert caught.value.source == str(routine_folder)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_symlink_out_of_the_folder_is_refused(routine_folder):
    outside = routine_folder.parent / "outside"
    (outside / "x.wav").write_bytes(b"RIFF")
    (routine_folder / "ding.wav").symlink_to(outside / "x.wav")
    (routine_folder / "elsewhere").symlink_to(outside, target_is_directory=True)
    for relative in ("ding.wav", "elsewhere/x.wav"):
        with pytest.raises(RoutineError, match=KEEP_INSIDE):
            resolve_sound_path(routine_folder, relative)
    # A link that stays inside is followed.
    (routine_folder / "sub" / "real.ogg").write_bytes(b"OggS")
    (routine_folder / "alias.ogg").symlink_to(routine_folder / "sub" / "real.ogg")
    resolved = resolve_sound_path(routine_folder, "alias.ogg")
    assert resolved == Path(os.path.realpath(routine_folder / "sub" / "real.ogg"))


def test_a_sound_path_inside_the_folder_is_resolved_against_it(routine_folder):
    resolved = resolve_sound_path(routine_folder, "sub/ding.ogg")
    assert resolved == Path(os.path.realpath(routine_folder)) / "sub" / "ding.ogg"
    # ".." is fine while it stays inside; upper-case suffixes too.
    assert resolve_sound_path(routine_folder, "sub/../DING.WAV").name == "DING.WAV"


@pytest.mark.parametrize(
    ("relative", "message"),
    [("ding.mp3", r"\.wav, \.flac or \.ogg"), ("sub\\ding.wav", "backslash"), (" ", "empty")],
)
def test_other_bad_sound_paths_are_refused_where_the_routine_names_them(
    routine_folder, relative, message
):
    with pytest.raises(RoutineError, match=message) as caught:
        resolve_sound_path(routine_folder, relative, source="stretch.yaml", line=7)
    assert str(caught.value).startswith("stretch.yaml:7: ")
