"""Music under the coach (issue 20): every claim judged on rendered samples.

The music is made here (chords and noise bursts); what the music adds to a mix is the
mix with it minus the same mix without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import wave

import numpy as np
import pytest
from music_fixtures import chord, music_levels, music_part, noise_bursts, rms_db, write_music

from voice_coach.ducking import MIN_CLEARANCE_DB
from voice_coach.errors import InputFileError, RoutineError, SameFileError
from voice_coach.music import MusicBed
from voice_coach.pipeline import input_files, prepare
from voice_coach.routine import load_routine, parse_routine
from voice_coach.script import SPEECH
from voice_coach.settings import Settings

RATE = 22050

ROUTINE = """\
name: Music test
steps:
  - name: Forward fold
    instructions: Hinge at the hips and let your head hang.
    sides: none
    hold: 12
    prep: 2
    countdown: 3
    halfway: false
"""


@pytest.fixture(scope="module")
def chord_file(tmp_path_factory):
    return write_music(tmp_path_factory.mktemp("music") / "chord.mp3", chord(7.0))


@pytest.fixture(scope="module")
def routine(tmp_path_factory):
    path = tmp_path_factory.mktemp("routine") / "fold.yaml"
    path.write_text(ROUTINE)
    return load_routine(path)


@pytest.fixture(scope="module")
def program(routine, chord_file):
    return prepare(routine, Settings(music=(str(chord_file),)))


def test_any_span_renders_the_same_samples(program):
    whole = program.mixer().render(0, program.script.length_samples)
    rng = np.random.default_rng(5)
    mixer, parts, position = program.mixer(), [], 0
    while position < program.script.length_samples:
        count = int(rng.integers(1, 20000))
        parts.append(mixer.render(position, count))
        position += count
    assert np.array_equal(np.concatenate(parts), whole)
    # Backwards, span by span, as after a jump: still the same.
    backwards = [mixer.render(start, 4096) for start in range(0, len(whole), 4096)][::-1]
    assert np.array_equal(np.concatenate(backwards[::-1]), whole)


def test_the_same_music_renders_the_same_bytes(program, routine, chord_file):
    again = prepare(routine, Settings(music=(str(chord_file),)))
    first = program.mixer().render(0, program.script.length_samples)
    assert np.array_equal(again.mixer().render(0, again.script.length_samples), first)


def test_speech_stays_ten_db_above_the_music_during_cues(program):
    speech, music = music_part(program)
    ratios = []
    for cue in program.script.cues:
        if cue.kind == SPEECH:
            span = slice(cue.start_sample, cue.end_sample)
            ratios.append(rms_db(speech[span]) - rms_db(music[span]))
    assert min(ratios) >= 10, ratios
    # The music is there between cues, and drops by about --duck (12 dB) under them.
    levels = music_levels(program, music)
    assert 9 <= levels.between - levels.during <= 15, levels


def test_music_hold_level_lowers_the_music_through_holds(routine, chord_file):
    """The same samples through holds, with --music-hold-level -10 and without: about
    10 dB apart (the ramps into and out of the holds take a little)."""
    quieter = prepare(routine, Settings(music=(str(chord_file),), music_hold_level=-10))
    lowered = music_levels(quieter, music_part(quieter)[1]).holds
    plain = prepare(routine, Settings(music=(str(chord_file),)))
    usual = music_levels(plain, music_part(plain)[1]).holds
    assert 8 <= usual - lowered <= 11, (usual, lowered)


def test_ramps_add_no_clicks(program, chord_file):
    """No sample-to-sample jump in what the music adds beyond the music's own, at its
    loudest gain (plus one step of int16 rounding on each side)."""
    _, music = music_part(program)
    bed = program.music.samples(0, program.script.length_samples)
    own = np.abs(np.diff(bed)).max() * program.music_gain
    assert np.abs(np.diff(music)).max() <= own + 2 / 32768


def test_music_fades_in_and_out_after_the_finish(program):
    _, music = music_part(program)
    finish = next(c for c in program.script.cues if c.role == "finish")
    # Nothing in the pre-roll (the live player plays it before the music is ready).
    assert np.abs(music[: round(0.6 * RATE)]).max() == 0
    assert np.abs(music[-50:]).max() < 1e-3
    assert program.script.length_samples - finish.end_sample >= 3 * RATE


def test_loudness_normalisation_takes_the_whole_mix(program, tmp_path):
    from voice_coach.exporter import ExportSettings, export_files
    from voice_coach.loudness import LoudnessMeter

    levels = export_files(program, tmp_path / "out.wav", settings=ExportSettings(loudness=-20))
    import soundfile

    data, rate = soundfile.read(tmp_path / "out.wav")
    meter = LoudnessMeter(rate)
    meter.feed(data)
    assert abs(meter.integrated() - -20) < 0.2
    assert levels.true_peak <= -1.0 + 1e-6


@pytest.mark.parametrize("extension", [".wav", ".flac", ".ogg", ".opus", ".mp3"])
def test_every_format_plays_and_loops_to_any_length(tmp_path, extension):
    path = write_music(tmp_path / f"noise{extension}", noise_bursts(2.5))
    bed = MusicBed([path], RATE)
    assert abs(bed.tracks[0].samples - 2.5 * RATE) < 0.01 * RATE
    music = bed.samples(0, 12 * RATE - 12 * RATE % (RATE // 4))
    # Looped four times with crossfades: loud everywhere, no gap at a join.
    levels = [rms_db(quarter) for quarter in music.reshape(-1, RATE // 4)]
    assert max(levels) - min(levels) < 8, levels


def test_a_folder_plays_in_name_order(tmp_path):
    folder = tmp_path / "tunes"
    folder.mkdir()
    rate = 22050
    for name, frequency in (("b.wav", 660.0), ("a.flac", 440.0), ("notes.txt", 0.0)):
        if name.endswith(".txt"):
            (folder / name).write_text("not music")
            continue
        t = np.arange(8 * rate) / rate
        write_music(
            folder / name, (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate
        )
    bed = MusicBed([folder], RATE)
    assert [path.name for path in bed.files] == ["a.flac", "b.wav"]

    def pitch(audio):
        spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
        return np.fft.rfftfreq(len(audio), 1 / RATE)[spectrum.argmax()]

    # a.flac from 0 to 8 s, b.wav from 6 s (a 2 s crossfade) to 14 s, a.flac again from 12 s.
    assert abs(pitch(bed.samples(RATE, RATE)) - 440) < 5
    assert abs(pitch(bed.samples(9 * RATE, RATE)) - 660) < 5
    assert abs(pitch(bed.samples(15 * RATE, RATE)) - 440) < 5


def _bad_wav_rate(path):
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    data = bytearray(path.read_bytes())
    data[24:28] = (50_000_000).to_bytes(4, "little")  # the fmt chunk's sample rate
    path.write_bytes(bytes(data))


BAD = {
    "not audio": (lambda path: path.write_text("<html>not music</html>"), "cannot read it"),
    "empty": (lambda path: path.write_bytes(b""), "empty"),
    "huge rate": (_bad_wav_rate, "header declares"),
    "too short": (
        lambda path: write_music(path, np.zeros(1000, dtype=np.float32), 22050),
        "too short to loop",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_music_file_is_one_line_and_nothing_else_breaks(tmp_path, kind):
    make, words = BAD[kind]
    path = tmp_path / "bad.wav"
    make(path)
    result = subprocess.run(
        [sys.executable, "-m", "voice_coach", "export", "hamstrings", "-o", str(tmp_path / "o.wav"),
         "--music", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and str(path) in lines[0], result.stderr
    assert not (tmp_path / "o.wav").exists()
    # In a folder with a good file, the bad one is left out with a warning.
    folder = tmp_path / "folder"
    folder.mkdir()
    os.replace(path, folder / "bad.wav")
    write_music(folder / "good.wav", chord(3.0))
    with pytest.warns(UserWarning, match="left out"):
        bed = MusicBed([folder], RATE)
    assert [p.name for p in bed.files] == ["good.wav"]


@pytest.mark.parametrize("kind", ["fifo", "device", "empty folder", "missing"])
def test_special_files_and_empty_folders_are_refused(tmp_path, kind):
    path = tmp_path / "music"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = "/dev/zero"
    elif kind == "empty folder":
        path.mkdir()
        (path / "cover.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(InputFileError) as raised:
        MusicBed([path], RATE)
    assert "\n" not in str(raised.value)


def test_a_folder_with_nothing_playable_says_so(tmp_path):
    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / "broken.mp3").write_text("not an mp3")
    with pytest.warns(UserWarning), pytest.raises(InputFileError, match="none of this music"):
        MusicBed([folder], RATE)


def test_an_export_never_writes_over_its_music(tmp_path, chord_file, routine):
    from voice_coach import export

    with pytest.raises(SameFileError):
        export(routine, chord_file, settings=Settings(music=(str(chord_file.parent),)))
    listed = [
        path for what, path in input_files(routine, settings=Settings(music=(str(chord_file),)))
    ]
    assert chord_file in listed


def test_a_routine_names_music_beside_it(tmp_path):
    (tmp_path / "tunes").mkdir()
    write_music(tmp_path / "tunes" / "a.ogg", chord(3.0))
    text = ROUTINE.replace("steps:", "defaults:\n  music: tunes\n  duck: 18\nsteps:")
    path = tmp_path / "r.yaml"
    path.write_text(text)
    program = prepare(load_routine(path))
    assert program.music is not None and program.mix.duck == 18
    assert [p.name for p in program.music.files] == ["a.ogg"]
    # --no-music (music=()) wins over the routine's.
    assert prepare(load_routine(path), Settings(music=())).music is None
    with pytest.raises(RoutineError, match="leaves the routine's folder"):
        parse_routine(ROUTINE.replace("steps:", "defaults:\n  music: ../x\nsteps:"), "r.yaml")


def test_the_config_sets_music_from_its_own_folder(tmp_path, monkeypatch, chord_file):
    from voice_coach.config import load_config

    config = tmp_path / "config.toml"
    config.write_text(f'music = ["{chord_file}", "tunes"]\nduck = 20\nmusic_level = -12\n')
    settings = load_config(config).as_settings()
    assert settings.music == (str(chord_file), str(tmp_path / "tunes"))
    assert (settings.duck, settings.music_level) == (20, -12)


def test_the_clearance_holds_whatever_the_flags_say(routine, chord_file):
    loud = prepare(routine, Settings(music=(str(chord_file),), duck=0, music_level=0))
    speech, music = music_part(loud)
    cue = next(c for c in loud.script.cues if c.role == "instructions")
    span = slice(cue.start_sample, cue.end_sample)
    assert rms_db(speech[span]) - rms_db(music[span]) >= MIN_CLEARANCE_DB - 2


#: The share of its accuracy without music the recogniser keeps with it, in this test.
#: Issue 20's goal is 0.9: `scripts/bench music` (quiet round each cue) measured x0.91,
#: this stricter cut x0.87, and ducking 15 or 18 dB instead of 12 did not change it
#: (pocketsphinx loses words under any music). The floor keeps what was reached.
RECOGNISER_FLOOR = 0.85


@pytest.mark.slow
def test_the_recogniser_hears_the_instructions_over_the_music(tmp_path):
    """pocketsphinx's word accuracy on every built-in routine's instructions, with the
    music under them, keeps at least RECOGNISER_FLOOR of its accuracy without."""
    from audio_analysis import recognise, word_accuracy
    from voice_coach.mixer import Mixer
    from voice_coach.routine import builtin_names

    folder = tmp_path / "music"
    folder.mkdir()
    write_music(folder / "1 chord.mp3", chord(40.0, seed=1))
    write_music(folder / "2 drums.ogg", noise_bursts(40.0))
    scores: dict[bool, list[float]] = {False: [], True: []}
    for name in builtin_names():
        program = prepare(load_routine(name), Settings(music=(str(folder),)))
        plain = Mixer(program.script, program.clips)
        for cue in program.script.cues:
            if cue.role == "instructions":
                for music, mixer in ((False, plain), (True, program.mixer())):
                    pcm = mixer.render(cue.start_sample, cue.end_sample - cue.start_sample)
                    heard = recognise(pcm / 32768, RATE)
                    scores[music].append(word_accuracy(cue.text, heard))
    without, with_music = np.mean(scores[False]), np.mean(scores[True])
    print(f"word accuracy without music {without:.3f}, with {with_music:.3f}")
    assert with_music >= RECOGNISER_FLOOR * without, (with_music, without)


def _long_wav(path, seconds, data_seconds=None):
    """A WAV whose header says ``seconds`` at 8 kHz, holding ``data_seconds`` of a quiet
    tone (all of it when None; the rest of a long file is a sparse hole of silence)."""
    rate = 8000
    held = seconds if data_seconds is None else data_seconds
    t = np.arange(round(min(held, 2) * rate)) / rate
    tone = np.rint(3000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(tone)
    data = bytearray(path.read_bytes())
    size = 2 * round(seconds * rate)
    data[4:8] = (size + 36).to_bytes(4, "little")
    data[40:44] = size.to_bytes(4, "little")
    with open(path, "wb") as out:
        out.write(data)
        out.truncate(44 + 2 * round(held * rate))


def test_music_hours_long_is_decoded_only_as_far_as_it_plays(tmp_path):
    path = tmp_path / "three-hours.wav"
    _long_wav(path, 3 * 3600)
    bed = MusicBed([path], RATE)
    assert abs(bed.tracks[0].samples - 3 * 3600 * RATE) < RATE
    assert rms_db(bed.samples(0, RATE)) > -30
    # Its first minute (to level it) and no more, for ten seconds asked for.
    assert bed.tracks[0].decoded < 70 * RATE


def test_a_header_longer_than_the_file_is_as_long_as_the_file(tmp_path):
    """A header that says ten hours over two seconds of sound: two seconds, looped."""
    path = tmp_path / "liar.wav"
    _long_wav(path, 10 * 3600, data_seconds=2)
    bed = MusicBed([path], RATE)
    assert abs(bed.tracks[0].samples - 2 * RATE) < RATE // 100
    assert rms_db(bed.samples(5 * RATE, RATE)) > -30
