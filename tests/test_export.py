"""Export: the five formats round-trip, with tags, chapters, captions, split tracks,
loudness and batches, all checked by decoding and measuring what was written.

Reference measurements come from independent code: pyloudnorm on the whole decoded
file (the exporter measures block by block), scipy's polyphase resampler for true
peaks, mutagen, webvtt-py and the srt package to read back what was written.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import mutagen
import numpy as np
import pyloudnorm
import pytest
import soundfile
import srt
import webvtt
from click.testing import CliRunner
from mutagen.id3 import ID3
from scipy.signal import resample_poly

from commands import LONG_ROUTINE
from voice_coach.audiofile import FORMATS
from voice_coach.chapters import chapters, tracks
from voice_coach.cli import _AUDIO_SUFFIXES, cli
from voice_coach.exporter import (
    ExportSettings,
    export_captions,
    export_files,
    export_split,
    export_timeline,
    timeline,
)
from voice_coach.mixer import render
from voice_coach.settings import Settings

RATE = 22050
EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3")
#: AAC in MP4 (the aac extra): libsndfile reads none of it, so FFmpeg decodes it here.
MP4 = (".m4a", ".m4b")
SIDES = [
    f"{name} hamstring stretch: {side}"
    for name in ("Seated", "Standing", "Lying")
    for side in ("left", "right")
]


class ExportedFolder:
    """hamstrings exported at the default -16 LUFS into one folder, each file made the
    first time a test asks for it (``folder / "h.opus"``): a worker of the fast tier makes
    only the files its own tests read (the Opus export alone takes seconds). The
    timeline (``.json``) and captions (``.vtt``, ``.srt``) are written as an export
    writes them beside the audio."""

    def __init__(self, program, folder: Path) -> None:
        self.program = program
        self.folder = folder
        self.levels: dict = {}

    def __truediv__(self, name: str) -> Path:
        path = self.folder / name
        if not path.exists():
            if path.suffix == ".json":
                export_timeline(self.program.script, path)
            elif path.suffix in (".vtt", ".srt"):
                export_captions(self.program.script, path)
            else:
                self.levels[path.suffix] = export_files(self.program, path)
        return path

    def levels_of(self, extension: str):
        """The levels the export to ``h{extension}`` reached (exporting it if need be)."""
        _ = self / f"h{extension}"
        return self.levels[extension]


@pytest.fixture(scope="module")
def exported(hamstrings_program, tmp_path_factory):
    """(the folder of exports, each made as asked for; the timeline)."""
    folder = ExportedFolder(hamstrings_program, tmp_path_factory.mktemp("exported"))
    return folder, json.loads((folder / "h.json").read_text())


def decoded(path: Path) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    return data, rate


def measured_loudness(data: np.ndarray, rate: int) -> float:
    """pyloudnorm's reading at 48 kHz, the rate BS.1770 specifies its filter for."""
    return pyloudnorm.Meter(48000).integrated_loudness(
        resample_poly(data, 48000 // np.gcd(48000, rate), rate // np.gcd(48000, rate), axis=0)
    )


def measured_true_peak_dbtp(data: np.ndarray) -> float:
    return 20 * np.log10(np.abs(resample_poly(data, 4, 1, axis=0)).max())


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_each_format_decodes_to_the_routines_length_and_channels(exported, extension):
    folder, tl = exported
    data, rate = decoded(folder / f"h{extension}")
    assert data.shape[1] == 1
    expected = round(tl["duration"] * rate)
    # The containers here record the exact length (Ogg granule positions, the LAME
    # header's padding for MP3), so decoders strip the codec's padding.
    assert abs(len(data) - expected) <= (1 if extension == ".opus" else 0)
    assert rate == (48000 if extension == ".opus" else RATE)


def test_lossless_files_hold_the_mix_times_one_gain(exported, hamstrings_program):
    folder, _ = exported
    wav, _ = soundfile.read(str(folder / "h.wav"), dtype="int16")
    flac, _ = soundfile.read(str(folder / "h.flac"), dtype="int16")
    assert np.array_equal(wav, flac)
    program = hamstrings_program
    expected = program.mixer().render(
        0, program.script.length_samples, 10 ** (folder.levels_of(".wav").gain_db / 20)
    )
    assert np.array_equal(wav, expected)


def test_mp3_tells_every_decoder_its_exact_length(exported):
    """The LAME header mp3.py writes: FFmpeg and mutagen read the same length as
    libsndfile, and the decoded audio lines up with the mix sample for sample."""
    folder, tl = exported
    path = folder / "h.mp3"
    expected = round(tl["duration"] * RATE)
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-"]
    pcm = np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, "<i2")
    assert len(pcm) == expected
    info = mutagen.File(str(path)).info
    assert round(info.length * RATE) == expected
    assert info.encoder_info.startswith("LAME")
    reference, _ = soundfile.read(str(folder / "h.wav"), dtype="int16")
    inner = slice(RATE, expected - RATE)

    def match(lag: int) -> float:
        return float(np.dot(reference[inner].astype(float), pcm[lag:][inner].astype(float)))

    assert max(range(0, 4), key=match) == 0  # no delay left in


@pytest.mark.parametrize("extension", [".ogg", ".opus", ".mp3"])
def test_lossy_files_sound_like_the_lossless_one(exported, extension):
    folder, _ = exported
    reference, _ = decoded(folder / "h.wav")
    lossy, rate = decoded(folder / f"h{extension}")
    if rate != RATE:
        lossy = resample_poly(lossy, RATE, rate, axis=0)[: len(reference)]

    # Compare envelopes (10 ms RMS), which codecs keep even where phases move.
    def envelope(data):
        frames = len(reference) // 220
        return np.sqrt((data[: frames * 220, 0].reshape(frames, 220) ** 2).mean(axis=1))

    correlation = np.corrcoef(envelope(reference), envelope(lossy))[0, 1]
    assert correlation > 0.97


@pytest.mark.slow
@pytest.mark.parametrize("extension", EXTENSIONS)
def test_loudness_measured_on_the_output_meets_the_target(exported, extension):
    folder, _ = exported
    data, rate = decoded(folder / f"h{extension}")
    loudness = measured_loudness(data, rate)
    # Meters may differ by 0.1 LU (EBU Tech 3341); pyloudnorm, whose K-weighting rounds
    # the filter parameters, reads our -16.0 as -16.09 here (as it read libebur128's).
    # Codecs move the loudness a little more.
    assert loudness == pytest.approx(-16.0, abs=0.1 if extension in (".wav", ".flac") else 0.3)
    peak = measured_true_peak_dbtp(data)
    # The ceiling holds for the master (lossless) audio. Lossy codecs overshoot it
    # (Opus by 1.7 dB here), which is what -1 dBTP of headroom is for: no clipping.
    assert peak <= (-1.0 if extension in (".wav", ".flac") else 0.0)


def test_a_loudness_target_is_met_and_chimes_keep_their_level_against_speech(
    hamstrings_program, exported, tmp_path
):
    folder, _ = exported
    quieter = tmp_path / "quiet.wav"
    levels = export_files(hamstrings_program, quieter, settings=ExportSettings(loudness=-23))
    data, rate = decoded(quieter)
    assert measured_loudness(data, rate) == pytest.approx(-23, abs=0.1)
    assert levels.loudness == pytest.approx(-23)
    # One gain over the whole mix: the -16 file is this one, 7 dB up, everywhere
    # (to within int16 rounding and the fixed noise floor).
    loud, _ = decoded(folder / "h.wav")
    assert np.abs(loud - data * 10 ** (7 / 20)).max() < 40 / 32768


def test_the_true_peak_ceiling_holds_back_a_target_too_loud(hamstrings_program, tmp_path):
    out = tmp_path / "loud.wav"
    levels = export_files(
        hamstrings_program, out, settings=ExportSettings(loudness=-6, true_peak=-2)
    )
    data, rate = decoded(out)
    assert measured_true_peak_dbtp(data) <= -2.0
    assert measured_loudness(data, rate) < -6.5
    assert levels.notes and "dBTP" in levels.notes[0]
    reached = float(re.search(r"reached (-?[\d.]+) LUFS, ([\d.]+) LU short", levels.notes[0])[1])
    assert reached == pytest.approx(levels.loudness, abs=0.005)


@pytest.mark.parametrize(
    ("reached", "said"),
    [
        (-16.04, "reached -16.04 LUFS, 0.04 LU short of the -16 LUFS target"),
        (-16.001, "reached -16.00 LUFS, less than 0.01 LU short of the -16 LUFS target"),
    ],
)
def test_a_loudness_shortfall_is_told_to_the_hundredth(reached, said):
    from voice_coach.exporter import shortfall_note

    assert shortfall_note(reached, ExportSettings()).startswith(said)


def test_loudness_off_writes_exactly_what_the_player_plays(hamstrings_program, tmp_path):
    out = tmp_path / "as-played.flac"
    export_files(hamstrings_program, out, settings=ExportSettings(loudness=None))
    written, _ = soundfile.read(str(out), dtype="int16")
    assert np.array_equal(written, render(hamstrings_program.script, hamstrings_program.clips))


def chapter_starts(tl) -> list[float]:
    """Chapter starts, worked out from the timeline JSON: each step's start (0 for the
    first), then for its second side the end of the first side's end chime."""
    starts = []
    for step in tl["steps"]:
        starts.append(step["start"] if starts else 0.0)
        ends = [
            c["end"] for c in tl["cues"] if c["role"] == "hold-end" and c["step"] == step["step"]
        ]
        starts += ends[:-1]
    return starts


@pytest.mark.parametrize("extension", [".mp3", ".wav"])
def test_id3_tags_and_chapters_read_back(exported, extension):
    folder, tl = exported
    tags = (
        ID3(str(folder / f"h{extension}"))
        if extension == ".mp3"
        else mutagen.File(str(folder / f"h{extension}")).tags
    )
    assert tags.version[:2] == (2, 3)
    assert str(tags["TIT2"]) == "Hamstring stretches"
    assert str(tags["TPE1"]) == "voice-coach"
    assert str(tags["TALB"]) == "Hamstring stretches"
    (toc,) = tags.getall("CTOC")
    chaps = {frame.element_id: frame for frame in tags.getall("CHAP")}
    ordered = [chaps[element] for element in toc.child_element_ids]
    assert [str(chap.sub_frames["TIT2"]) for chap in ordered] == SIDES
    starts = [chap.start_time / 1000 for chap in ordered]
    assert starts == pytest.approx(chapter_starts(tl), abs=0.001)
    assert [chap.end_time for chap in ordered[:-1]] == [chap.start_time for chap in ordered[1:]]
    assert ordered[-1].end_time == round(tl["duration"] * 1000)


def ffprobe_chapters(path: Path) -> list[tuple[float, float, str]]:
    """The chapters as FFmpeg lists them (in the order it finds them in the file)."""
    command = ["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)]
    found = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    return [
        (float(c["start_time"]), float(c["end_time"]), c["tags"]["title"])
        for c in found["chapters"]
    ]


@pytest.mark.parametrize("extension", [*EXTENSIONS, *MP4])
def test_ffprobe_lists_the_chapters_in_time_order(exported, extension):
    folder, tl = exported
    listed = ffprobe_chapters(folder / f"h{extension}")
    assert [title for _, _, title in listed] == SIDES
    assert [start for start, _, _ in listed] == pytest.approx(chapter_starts(tl), abs=0.001)


@pytest.mark.parametrize("extension", [".mp3", ".wav"])
def test_id3_frames_lie_in_the_file_in_reading_order(exported, extension):
    """CTOC first, then the chapters in time order: players that read frames in file
    order show them right (mutagen loads frames in file order)."""
    folder, _ = exported
    keys = list(mutagen.File(str(folder / f"h{extension}")).tags.keys())
    assert keys == ["TIT2", "TPE1", "TALB", "CTOC:toc", *(f"CHAP:chp{n}" for n in range(6))]


def parse_clock(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@pytest.mark.parametrize("extension", [".flac", ".ogg", ".opus"])
def test_vorbis_comment_tags_and_chapters_read_back(exported, extension):
    folder, tl = exported
    tags = mutagen.File(str(folder / f"h{extension}")).tags
    assert tags["TITLE"] == ["Hamstring stretches"]
    assert tags["ARTIST"] == ["voice-coach"]
    assert tags["ALBUM"] == ["Hamstring stretches"]
    names = [tags[f"CHAPTER{n:03d}NAME"][0] for n in range(1, 7)]
    assert names == SIDES
    starts = [parse_clock(tags[f"CHAPTER{n:03d}"][0]) for n in range(1, 7)]
    assert starts == pytest.approx(chapter_starts(tl), abs=0.001)
    assert "CHAPTER007" not in tags


def test_chapters_cover_the_file_in_order(hamstrings_program):
    script = hamstrings_program.script
    found = chapters(script)
    assert found[0].start_sample == 0
    assert found[-1].end_sample == script.length_samples
    for before, after in itertools.pairwise(found):
        assert before.end_sample == after.start_sample
    # Each side's chapter holds that side's whole hold.
    for chapter, hold in zip(found, script.holds, strict=True):
        assert chapter.start_sample < hold.start_sample < hold.end_sample < chapter.end_sample


def check_captions_against_timeline(found, tl):
    """``found``: (start, end, text) per caption. Each cue of the timeline is told by
    consecutive captions that start with it, end with it and read its words; no
    caption is more than two lines."""
    position = 0
    for cue in tl["cues"]:
        words = "[chime]" if cue["kind"] == "chime" else " ".join(cue["text"].split())
        start = found[position][0]
        told = []
        while len(" ".join(told)) < len(words):
            told.append(found[position][2].replace("\n", " "))
            assert found[position][2].count("\n") <= 1
            position += 1
        assert " ".join(told) == words
        assert start == pytest.approx(cue["start"], abs=0.0006)
        assert found[position - 1][1] == pytest.approx(cue["end"], abs=0.0006)
    assert position == len(found)


def test_webvtt_captions_match_the_timeline(exported):
    folder, tl = exported
    assert (folder / "h.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    found = [
        (parse_clock(caption.start), parse_clock(caption.end), caption.text)
        for caption in webvtt.read(str(folder / "h.vtt"))
    ]
    check_captions_against_timeline(found, tl)
    assert len(found) > len(tl["cues"])  # the long instructions come in pieces


def test_srt_captions_match_the_timeline(exported):
    folder, tl = exported
    parsed = list(srt.parse((folder / "h.srt").read_text(encoding="utf-8")))
    assert [caption.index for caption in parsed] == list(range(1, len(parsed) + 1))
    found = [
        (caption.start.total_seconds(), caption.end.total_seconds(), caption.content)
        for caption in parsed
    ]
    check_captions_against_timeline(found, tl)


def test_long_lines_are_cut_into_readable_captions():
    from voice_coach.chapters import CAPTION_LINE, caption_pieces

    text = (
        "Lie down on your back, loop a towel around the ball of one foot, and raise that "
        "leg until you feel the stretch behind the thigh. Keep the other knee bent."
    )
    pieces = caption_pieces(text)
    assert " ".join(pieces) == text
    assert pieces[-1] == "Keep the other knee bent."
    assert all(len(piece) <= 2 * CAPTION_LINE for piece in pieces)


def test_split_wav_tracks_concatenate_to_the_single_export(hamstrings_program, exported, tmp_path):
    folder, _ = exported
    paths = export_split(hamstrings_program, tmp_path / "split", ".wav")
    *track_paths, playlist = paths
    assert [path.name for path in track_paths] == [
        "01 Seated hamstring stretch.wav",
        "02 Standing hamstring stretch.wav",
        "03 Lying hamstring stretch.wav",
    ]
    joined = np.concatenate([soundfile.read(str(p), dtype="int16")[0] for p in track_paths])
    single, _ = soundfile.read(str(folder / "h.wav"), dtype="int16")
    assert np.array_equal(joined, single)
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    assert [line for line in lines if not line.startswith("#")] == [p.name for p in track_paths]
    tags = mutagen.File(str(track_paths[1])).tags
    assert str(tags["TIT2"]) == "Standing hamstring stretch"
    assert str(tags["TRCK"]) == "2/3"
    # Inside each track, its two sides are chapters.
    titles = [str(chap.sub_frames["TIT2"]) for chap in tags.getall("CHAP")]
    assert sorted(titles) == SIDES[2:4]


@pytest.mark.slow
def test_split_mp3_tracks_are_gapless(hamstrings_program, tmp_path):
    """Each track decodes to exactly its span: no encoder padding between tracks."""
    *track_paths, _ = export_split(hamstrings_program, tmp_path, ".mp3")
    spans = tracks(hamstrings_program.script)
    lengths = [soundfile.info(str(path)).frames for path in track_paths]
    decoded_lengths = [len(soundfile.read(str(path))[0]) for path in track_paths]
    want = [span.end_sample - span.start_sample for span in spans]
    assert lengths == want
    assert decoded_lengths == want


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_export_with_chapters_captions_and_split(tmp_path):
    out = tmp_path / "h.ogg"
    result = run(
        "export", "hamstrings", "-o", str(out), "--captions", "srt", "--split", str(tmp_path / "t")
    )
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"wrote {re.escape(str(out))} \(\d:\d\d, -16\.0 LUFS\)", result.stdout.splitlines()[0]
    )
    assert (tmp_path / "h.srt").is_file()
    assert len(list((tmp_path / "t").glob("*.ogg"))) == 3
    assert len(list((tmp_path / "t").glob("*.m3u"))) == 1
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


@pytest.mark.slow
def test_cli_quality_trades_size_for_fidelity(tmp_path):
    sizes = {}
    for quality in ("0", "10"):
        out = tmp_path / f"q{quality}.mp3"
        assert run("export", "hamstrings", "-o", str(out), "--quality", quality).exit_code == 0
        sizes[quality] = out.stat().st_size
    assert sizes["0"] * 2 < sizes["10"]


def test_cli_refuses_quality_for_lossless_formats(tmp_path):
    result = run("export", "hamstrings", "-o", str(tmp_path / "x.flac"), "--quality", "5")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert "--quality" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_batch_exports_in_parallel_and_reports_each_failure(tmp_path):
    good = tmp_path / "neck.yaml"
    good.write_text(
        "name: Neck\nsteps:\n  - name: Neck tilt\n    instructions: Tilt your head.\n"
        "    hold: 3\n    countdown: 2\n",
        encoding="utf-8",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\nsteps:\n  - name: X\n    hold: -3\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run("export", "hamstrings", str(good), str(bad), "-o", f"{out}/", "-f", "opus")
    assert result.exit_code == 1
    # One line for the bad routine (and perhaps a note on a level the others reached).
    errors = [line for line in result.stderr.splitlines() if "note:" not in line]
    assert len(errors) == 1 and errors[0].startswith(f"{bad}:4: ")
    assert sorted(p.name for p in out.iterdir()) == ["hamstrings.opus", "neck.opus"]
    data, rate = decoded(out / "neck.opus")
    assert rate == 48000 and len(data) > rate * 3


@pytest.mark.slow
def test_batch_uses_several_processes(tmp_path, monkeypatch):
    """The jobs run in worker processes, not one after the other in this one."""
    from voice_coach import batch

    seen = []
    jobs = [batch.BatchJob("hamstrings", tmp_path / f"{n}.wav") for n in range(2)]
    results = batch.export_batch(
        jobs,
        Settings(),
        ExportSettings(),
        on_done=lambda result: seen.append(result.job.audio.name),
    )
    assert sorted(seen) == ["0.wav", "1.wav"]
    assert all(result.error is None for result in results)
    first, _ = soundfile.read(str(tmp_path / "0.wav"), dtype="int16")
    second, _ = soundfile.read(str(tmp_path / "1.wav"), dtype="int16")
    assert np.array_equal(first, second)


@pytest.mark.slow
def test_a_progress_bar_shows_on_a_terminal(tmp_path):
    """Run the real command with stderr on a pseudo-terminal: the bar appears there."""
    primary, secondary = pty.openpty()
    # Twenty minutes of audio: encoding takes well over the bar's one-second delay.
    routine = tmp_path / "long.yaml"
    routine.write_text(LONG_ROUTINE, encoding="utf-8")
    command = [str(Path(sys.executable).parent / "voice-coach"), "export", str(routine)]
    process = subprocess.Popen(
        [*command, "-o", str(tmp_path / "h.ogg")],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, "COLUMNS": "80"},
    )
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=60)
    os.close(primary)
    assert process.returncode == 0
    assert b"exporting" in seen
    assert b"%" in seen


def test_the_cli_knows_every_format():
    assert tuple(FORMATS) == _AUDIO_SUFFIXES


def test_timeline_and_chapters_agree(hamstrings_program):
    tl = timeline(hamstrings_program.script)
    assert [round(c.start_sample / RATE, 6) for c in chapters(hamstrings_program.script)] == [
        pytest.approx(start) for start in chapter_starts(tl)
    ]


# --- edge cases found in review ---------------------------------------------------------


def tricky_routine(folder: Path) -> Path:
    routine = folder / "tricky"  # a routine file without a .yaml suffix
    routine.write_text(
        "name: Tricky\nsteps:\n"
        "  - name: Oberschenkelrueckseitendehnungsuebungsanleitungsbeschreibung\n"
        "    hold: 2\n    countdown: 1\n"
        "  - name: Reach --> up <slowly> & breathe\n    hold: 2\n    countdown: 1\n",
        encoding="utf-8",
    )
    return routine


def test_captions_keep_odd_text_readable_and_the_files_valid(tmp_path):
    routine = tricky_routine(tmp_path)
    for extension in ("vtt", "srt"):
        result = run("export", str(routine), "-o", str(tmp_path / "t.wav"), "--captions", extension)
        assert result.exit_code == 0, result.output
    vtt = [caption.text for caption in webvtt.read(str(tmp_path / "t.vtt"))]
    assert "Oberschenkelrueckseitendehnungsuebungsanleitungsbeschreibung" in vtt
    # Escaped as WebVTT wants (players show "<slowly> &"); the reader keeps the escapes.
    assert "Reach \u2192 up <slowly> & breathe" in [html.unescape(text) for text in vtt]
    assert "Reach \u2192 up &lt;slowly&gt; &amp; breathe" in vtt
    srt_text = [c.content for c in srt.parse((tmp_path / "t.srt").read_text(encoding="utf-8"))]
    assert "Reach \u2192 up \u2039slowly\u203a & breathe" in srt_text


def test_a_failed_sidecar_leaves_every_old_file_alone(hamstrings_program, tmp_path, monkeypatch):
    import voice_coach.exporter as export

    files = {name: tmp_path / name for name in ("h.wav", "h.json", "h.vtt")}
    for path in files.values():
        path.write_bytes(b"old")

    def failing(script, path):
        path.write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "_write_captions", failing)
    with pytest.raises(export.ExportError, match="No space left"):
        export_files(hamstrings_program, files["h.wav"], files["h.json"], files["h.vtt"])
    assert all(path.read_bytes() == b"old" for path in files.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


def test_split_alone_still_writes_the_timeline_and_captions(tmp_path):
    routine = tricky_routine(tmp_path)
    result = run(
        "export", str(routine), "--split", str(tmp_path / "tracks"), "-f", "flac",
        "--timeline", str(tmp_path / "t.json"), "--captions", str(tmp_path / "t.srt"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "t.json").read_text())["version"] == 1
    assert list(srt.parse((tmp_path / "t.srt").read_text(encoding="utf-8")))
    assert len(list((tmp_path / "tracks").glob("*.flac"))) == 2


def test_a_batch_names_files_by_stem_inside_the_folder(tmp_path):
    routine = tricky_routine(tmp_path)
    result = run("export", str(routine), "hamstrings", "-o", str(tmp_path / "out"), "-f", "wav")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["hamstrings.wav", "tricky.wav"]


def test_more_chapters_than_id3_can_list_are_folded_into_the_last(tmp_path):
    from voice_coach.chapters import Chapter
    from voice_coach.tags import MAX_ID3_CHAPTERS, Tags, write_tags

    path = tmp_path / "many.wav"
    soundfile.write(str(path), np.zeros(RATE * 3, dtype=np.int16), RATE)
    many = [Chapter(i * 200, (i + 1) * 200, f"part {i}") for i in range(300)]
    write_tags(path, ".wav", Tags("t", "a"), many, RATE)
    tags = mutagen.File(str(path)).tags
    (toc,) = tags.getall("CTOC")
    assert len(toc.child_element_ids) == MAX_ID3_CHAPTERS
    last = max(tags.getall("CHAP"), key=lambda chap: chap.start_time)
    assert last.end_time == round(300 * 200 * 1000 / RATE)


def test_export_through_a_symlink_replaces_the_file_it_names(hamstrings_program, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "h.flac").write_bytes(b"old")
    (real / "h.flac").chmod(0o600)
    link = tmp_path / "h.flac"
    link.symlink_to(real / "h.flac")
    export_files(hamstrings_program, link, settings=ExportSettings(loudness=None))
    assert link.is_symlink()
    assert soundfile.info(str(real / "h.flac")).frames == hamstrings_program.script.length_samples
    assert (real / "h.flac").stat().st_mode & 0o777 == 0o600


def test_track_names_fit_file_systems_in_bytes():
    from voice_coach.exporter import MAX_NAME_BYTES, safe_file_name

    name = safe_file_name("\u30b9\u30c8\u30ec\u30c3\u30c1" * 16 + ": a/b")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert "/" not in name and name.startswith("\u30b9")


def test_progress_covers_synthesis_then_rendering(tmp_path, monkeypatch):
    """With a cold cache, the speech progress counts every clip made (by two speakers at
    once: this process and a worker), then the rendering's progress counts the samples."""
    from voice_coach import speech
    from voice_coach.exporter import Targets, export_routine
    from voice_coach.routine import load_routine

    monkeypatch.setenv("VOICE_COACH_CACHE", str(tmp_path / "cold"))
    monkeypatch.setattr(speech, "_speaker_count", lambda phrases: 2)
    calls = []
    done = export_routine(
        load_routine("hamstrings"),
        Targets(audio=tmp_path / "h.wav"),
        Settings(engine="pyttsx3"),
        ExportSettings(loudness=None),
        speech_progress=lambda made, total: calls.append(("speech", made, total)),
        progress=lambda made, total: calls.append(("render", made, total)),
    )
    speech_calls = [(made, total) for kind, made, total in calls if kind == "speech"]
    phrases = done.program.speaker.synthesised
    assert speech_calls == [(n, phrases) for n in range(1, phrases + 1)]
    kinds = [kind for kind, _, _ in calls]
    assert kinds == sorted(kinds, key=["speech", "render"].index)  # synthesis first
    assert calls[-1][0] == "render" and calls[-1][1] == calls[-1][2]


def readme_chapter_table(found: list, rate: int) -> str:
    """The chapters as the README shows them: start and title, in two columns."""
    from voice_coach.script import clock

    cells = [f"{clock(c.start_sample / rate):>4}  {c.title}" for c in found]
    rows = (len(cells) + 1) // 2
    width = max(len(cell) for cell in cells[:rows]) + 6
    return "\n".join(
        "  ".join([cells[row].ljust(width - 2), *cells[row + rows : row + rows + 1]]).rstrip()
        for row in range(rows)
    )


def test_the_readmes_export_figures_are_the_codes(hamstrings_program):
    """README "Exporting": the length and loudness `export` prints for hamstrings, and
    its chapter table, are what the code gives (in the default voice)."""
    from voice_coach.exporter import measure_levels
    from voice_coach.script import clock

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    script = hamstrings_program.script
    levels = measure_levels(hamstrings_program, ExportSettings())
    wrote = f"# wrote hamstrings.mp3 ({clock(script.duration)}, {levels.loudness:.1f} LUFS)"
    assert wrote in readme
    table = readme_chapter_table(chapters(script), script.sample_rate)
    assert f"```\n{table}\n```" in readme, f"the README's chapter table should read:\n{table}"


def test_blocks_rendered_ahead_come_in_order_with_their_errors_and_stop_early():
    from voice_coach.audiofile import AHEAD_BLOCKS, rendered_ahead

    assert [int(b[0]) for b in rendered_ahead(np.full(1, n) for n in range(50))] == list(range(50))

    def failing():
        yield np.zeros(1)
        raise ValueError("the mixer failed")

    with pytest.raises(ValueError, match="the mixer failed"):
        list(rendered_ahead(failing()))
    made = []

    def counted():
        for n in itertools.count():
            made.append(n)
            yield np.zeros(1)

    ahead = rendered_ahead(counted())
    for _ in range(3):
        next(ahead)
    ahead.close()  # the encoder stopped: the thread makes no more than it had queued
    assert len(made) <= 3 + AHEAD_BLOCKS + 1


def ffmpeg_decoded(path: Path) -> np.ndarray:
    """``path`` decoded by FFmpeg as mono int16 at its own rate."""
    command = ["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-"]
    return np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, "<i2")


@pytest.mark.parametrize("extension", MP4)
def test_mp4_audio_has_the_exact_length_tags_and_the_mixs_sound(exported, extension):
    """.m4a/.m4b: the container gives the exact length and its edit list drops the
    encoder's priming (FFmpeg still decodes the last frame's padding); tags read back;
    the sound and its loudness are the WAV's."""
    folder, tl = exported
    path = folder / f"h{extension}"
    command = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json"]
    probed = json.loads(subprocess.run([*command, str(path)], capture_output=True).stdout)
    assert float(probed["format"]["duration"]) == pytest.approx(tl["duration"], abs=0.001)
    expected = round(tl["duration"] * RATE)
    pcm = ffmpeg_decoded(path)
    assert expected <= len(pcm) <= expected + 1024
    reference, _ = soundfile.read(str(folder / "h.wav"), dtype="int16")
    inner = slice(RATE, expected - RATE)

    def match(lag: int) -> float:
        return float(np.dot(reference[inner].astype(float), pcm[lag:][inner].astype(float)))

    assert max(range(0, 4), key=match) == 0  # the priming is dropped
    data = pcm[:expected, None] / 32768.0
    assert measured_loudness(data, RATE) == pytest.approx(-16, abs=0.3)
    tags = mutagen.File(str(path)).tags
    assert (tags["\xa9nam"], tags["\xa9ART"], tags["\xa9alb"]) == (
        ["Hamstring stretches"],
        ["voice-coach"],
        ["Hamstring stretches"],
    )
    brand = path.read_bytes()[8:12]
    assert brand == (b"M4B " if extension == ".m4b" else b"M4A ")


def test_m4b_without_pyav_is_one_line_before_any_work(tmp_path, monkeypatch):
    from voice_coach import mp4

    monkeypatch.setattr(mp4, "available", lambda: False)
    result = CliRunner().invoke(cli, ["export", "hamstrings", "-o", str(tmp_path / "h.m4b")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "pip install 'voice-coach[aac]'" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("samples", [1, 575, 576, 1152, 22050, 99_999])
def test_lame_makes_the_frames_the_mp3_cuts_count_on(samples):
    from voice_coach.mp3 import _encoder, _frames_for, frame_bytes

    encoder = _encoder(RATE, 1, None)
    noise = np.random.default_rng(samples).normal(0, 3000, samples).astype("<i2")
    data = bytes(encoder.encode(noise.tobytes())) + bytes(encoder.flush())
    offset = count = 0
    while offset < len(data):
        offset += frame_bytes(int.from_bytes(data[offset : offset + 4], "big"))
        count += 1
    assert offset == len(data)
    assert count == _frames_for(samples)


def test_mp3_parts_are_cut_in_quiet_spans_and_cover_the_timeline():
    from voice_coach.mp3 import CUT_MARGIN, MIN_PART_SAMPLES, junction_samples, plan_parts

    length = 10 * MIN_PART_SAMPLES
    quiet = [(100, 200), (4 * MIN_PART_SAMPLES, 4 * MIN_PART_SAMPLES + 30_000)]
    parts = plan_parts(length, quiet, RATE, 2)
    assert len(parts) == 2
    (first_start, cut), (after, end) = parts
    assert (first_start, end) == (0, length)
    assert after - cut == junction_samples(cut, RATE)
    low, high = quiet[1]
    assert low + CUT_MARGIN <= cut and after + CUT_MARGIN <= high
    assert plan_parts(length, [(100, 200)], RATE, 2) == [(0, length)]  # nowhere to cut
    assert plan_parts(length, quiet, 44100, 2) == [(0, length)]  # 1152-sample frames
    assert plan_parts(length, quiet, RATE, 1) == [(0, length)]


def test_mp3_parts_are_capped_however_many_cores():
    """64 cores and a 2-hour timeline quiet every 10 s: at most MAX_PARTS LAMEs at once."""
    from voice_coach.mp3 import MAX_PARTS, plan_parts

    length = 2 * 3600 * RATE
    quiet = [(start, start + RATE) for start in range(0, length, 10 * RATE)]
    parts = plan_parts(length, quiet, RATE, 64)
    assert len(parts) == MAX_PARTS
    assert parts[0][0] == 0 and parts[-1][1] == length
    assert all(end < next_start for (_, end), (next_start, _) in itertools.pairwise(parts))


@pytest.mark.parametrize("failing", [0, 1, 2])
def test_a_failing_mp3_part_stops_the_others_and_its_error_is_raised(tmp_path, failing):
    """Three parts at once (this thread encodes the first): whichever part fails, its
    own error comes out, not the stop it caused in the others, and every other part
    stops at its next block instead of encoding to its end."""
    import io
    import threading

    from voice_coach.mp3 import encode_mp3_parts

    block = np.zeros(4096, np.int16)
    blocks_per_part = 200
    handed = [0, 0, 0]
    failed = threading.Event()

    def blocks_of(start: int, end: int | None):
        index = start // 1000
        for number in range(blocks_per_part):
            if index == failing and number == 3:
                failed.set()
                raise OSError(f"part {index} could not be read")
            if index != failing and number >= 3:
                failed.wait(5)  # the failure happens while the others run
            handed[index] += 1
            yield block

    parts = [(0, 1000), (1000, 2000), (2000, None)]
    with pytest.raises(OSError, match=f"part {failing} could not be read"):
        encode_mp3_parts(io.BytesIO(), parts, blocks_of, RATE, 1)
    assert handed[failing] == 3
    assert all(handed[index] < blocks_per_part for index in range(3)), handed


def test_an_mp3_encoded_in_parts_decodes_in_place(
    exported, hamstrings_program, tmp_path, monkeypatch
):
    """Two LAMEs at once, cut in a quiet span: the exact length, every sample after the
    cut in its place, and only the noise floor lost at the junction."""
    from voice_coach import audiofile
    from voice_coach.exporter import quiet_spans
    from voice_coach.mp3 import plan_parts

    folder, tl = exported
    script = hamstrings_program.script
    parts = plan_parts(script.length_samples, quiet_spans(script), RATE, 2)
    assert len(parts) == 2
    monkeypatch.setattr(audiofile, "_cores", lambda: 2)
    export_files(hamstrings_program, tmp_path / "parts.mp3")
    pcm = ffmpeg_decoded(tmp_path / "parts.mp3")
    assert len(pcm) == round(tl["duration"] * RATE)
    reference, _ = soundfile.read(str(folder / "h.wav"), dtype="int16")
    for span in (slice(RATE, parts[0][1]), slice(parts[1][0], len(reference) - RATE)):

        def match(lag: int, span=span) -> float:
            shifted = pcm[span.start + lag : span.stop + lag].astype(float)
            return float(np.dot(reference[span].astype(float), shifted))

        assert max(range(-3, 4), key=match) == 0
    junction = pcm[parts[0][1] : parts[1][0]]
    assert np.abs(junction).max() <= 2 * 8  # at most the noise floor's level


def test_the_levels_of_a_render_are_measured_once(tmp_path, monkeypatch):
    """A second export of the same render takes its loudness from the clip cache (one
    pass, not two) and gets the same gain; a changed render is measured afresh."""
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine

    monkeypatch.setenv("VOICE_COACH_CACHE", str(tmp_path / "cache"))
    routine = load_routine("hamstrings")
    program = prepare(routine, Settings(engine="pyttsx3"), stream_clips=True)
    passes = []

    def export(path, program=program):
        totals = set()
        levels = export_files(program, path, progress=lambda done, total: totals.add(total))
        passes.append(totals.pop() // program.script.length_samples)
        return levels

    first = export(tmp_path / "a.wav")
    second = export(tmp_path / "b.mp3")
    assert passes == [2, 1]
    assert second == first
    assert len(list((tmp_path / "cache" / "levels").iterdir())) == 1
    louder = prepare(routine, Settings(engine="pyttsx3", pan=True), stream_clips=True)
    export(tmp_path / "c.wav", louder)
    assert passes[-1] == 2
