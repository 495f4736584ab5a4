"""Export: a Program to audio files (tagged, with chapters), captions and timeline JSON.

Every file is written to a temp file beside its target and renamed into place.
The audio is normalised to a loudness target (ITU-R BS.1770, -16 LUFS by default)
with one gain over the whole mix, so chimes keep their level against the speech;
the gain never lets the true peak pass the ceiling (-1 dBTP by default).

Rendering streams fixed-size blocks from the mixer: once to measure the loudness,
once into the encoder. Memory stays flat however long the routine.

The timeline JSON is a public format (see ARCHITECTURE.md): all times are in
seconds, rounded to the microsecond, so ``round(t * sample_rate)`` gives back
the exact sample.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import atomic_target, check_distinct, check_target
from .audiofile import FORMATS, Track, write_track
from .chapters import Chapter, captions, chapters, timestamp, tracks
from .errors import ExportError, TargetError
from .loudness import LoudnessMeter, TruePeakMeter, decibels, ratio, true_peak
from .mixer import clip_key
from .pipeline import Program
from .routine import Routine
from .script import Script
from .settings import Settings
from .speech import Progress, speaking_here
from .tags import TagError, Tags, write_tags

TIMELINE_VERSION = 1
DEFAULT_LOUDNESS = -16.0
DEFAULT_TRUE_PEAK = -1.0
CAPTION_FORMATS = (".vtt", ".srt")
#: Samples per block between the mixer and the encoder: big enough that Python's
#: share of the time is small, small enough that memory stays flat.
BLOCK_SAMPLES = 65536
#: Held back from the true-peak ceiling for the noise floor and int16 rounding.
PEAK_MARGIN_DB = 0.05

#: Longest file-name part taken from a step's name, in UTF-8 bytes.
MAX_NAME_BYTES = 150


@dataclass(frozen=True)
class ExportSettings:
    """How audio is exported."""

    #: Integrated loudness target in LUFS; None keeps the mix as the player plays it.
    loudness: float | None = DEFAULT_LOUDNESS
    #: The highest true peak allowed, in dBTP.
    true_peak: float = DEFAULT_TRUE_PEAK
    #: 0 (smallest) to 10 (best) for .ogg, .opus and .mp3; None for the encoder's default.
    quality: float | None = None


@dataclass(frozen=True)
class Levels:
    """The gain an export applies, and the levels it gives."""

    gain_db: float
    #: The output's integrated loudness in LUFS; None when not normalised (not measured).
    loudness: float | None
    true_peak: float
    notes: tuple[str, ...] = ()


def audio_extension(path: str | Path) -> str:
    """The lower-case extension of ``path`` if it is a format voice-coach writes.

    Raises ExportError naming the formats otherwise, or saying how to install the
    encoder a format needs (PyAV for .m4a and .m4b).
    """
    extension = Path(path).suffix.lower()
    if extension not in FORMATS:
        raise ExportError(
            f"{path}: cannot tell the format from '{extension or 'no extension'}'; "
            f"end the name with one of {', '.join(FORMATS)}"
        )
    if FORMATS[extension].encoder == "av":
        from .mp4 import check_available

        check_available(path)
    return extension


def caption_extension(path: str | Path) -> str:
    """The lower-case extension of a captions file, .vtt or .srt; ExportError otherwise."""
    extension = Path(path).suffix.lower()
    if extension not in CAPTION_FORMATS:
        raise ExportError(
            f"{path}: captions are written as WebVTT or SubRip; end the name with .vtt or .srt"
        )
    return extension


def export_audio(
    program: Program, path: str | Path, settings: ExportSettings | None = None
) -> Path:
    """Render ``program`` into the audio file ``path`` (format from its extension)."""
    export_files(program, path, settings=settings)
    return Path(path)


def measure_levels(
    program: Program, settings: ExportSettings, progress: Progress | None = None
) -> Levels:
    """The gain that brings ``program`` to the loudness target without passing the peak ceiling.

    The loudness is measured on the rendered mix, streamed block by block; the
    true peak comes from the clips themselves, which never overlap on the
    timeline, so the mix's true peak is the loudest clip's; with music under them,
    it is measured on the mix too, in the same pass. Both are remembered in the clip
    cache, under a digest of the timeline and of every clip's content, so exporting
    the same render again (another format, split tracks) skips the pass (not with
    music, whose files may change under the same names).
    """
    measured = _remembered_levels(program)
    if measured is None:
        rate = program.script.sample_rate
        # Only the clips the timeline plays: the player's own phrases are never exported.
        played = {clip_key(cue) for cue in program.script.cues}
        peak = max((true_peak(program.clips[key], rate) for key in played), default=0.0)
        loudness = None
        if settings.loudness is not None:
            loudness, mix_peak = _measure_loudness(program, progress)
            peak = max(peak, mix_peak)
        _remember_levels(program, loudness, peak)
    else:
        loudness, peak = measured
    if settings.loudness is None:
        return Levels(0.0, None, decibels(peak))
    if loudness is None:  # remembered from an export without a loudness target
        loudness, mix_peak = _measure_loudness(program, progress)
        peak = max(peak, mix_peak)
        _remember_levels(program, loudness, peak)
    if loudness == float("-inf"):
        return Levels(0.0, loudness, decibels(peak), ("the routine is silent",))
    gain_db = settings.loudness - loudness
    ceiling_db = settings.true_peak - PEAK_MARGIN_DB - decibels(peak)
    notes: tuple[str, ...] = ()
    if gain_db > ceiling_db:
        notes = (shortfall_note(loudness + ceiling_db, settings),)
        gain_db = ceiling_db
    return Levels(gain_db, loudness + gain_db, decibels(peak) + gain_db, notes)


def shortfall_note(reached: float, settings: ExportSettings) -> str:
    """The note for a loudness target the true-peak ceiling kept out of reach: what was
    reached, to the hundredth, and how far short of the target that is."""
    short = (settings.loudness or 0.0) - reached
    by = f"{short:.2f} LU" if short >= 0.005 else "less than 0.01 LU"
    return (
        f"reached {reached:.2f} LUFS, {by} short of the {settings.loudness:g} LUFS target: "
        f"louder would take the true peak past {settings.true_peak:g} dBTP"
    )


#: Bump when the loudness meter or the mixer changes what it measures.
LEVELS_VERSION = 1


def _levels_file(program: Program) -> Path | None:
    """Where the levels of ``program``'s render are remembered: in the clip cache, named
    by a digest of everything the render depends on (None: clips held in memory)."""
    fingerprint = getattr(program.clips, "fingerprint", None)
    if fingerprint is None or program.music is not None:
        return None  # music files may change under the same names: always measured
    key = json.dumps([LEVELS_VERSION, timeline(program.script), program.pan, fingerprint()])
    name = hashlib.sha256(key.encode()).hexdigest()[:40]
    return Path(program.speaker.cache_dir) / "levels" / f"{name}.json"


def _remembered_levels(program: Program) -> tuple[float | None, float] | None:
    """The (loudness, clips' true peak) measured before on the very same render, if
    remembered: a warm export of a routine already exported renders once, not twice."""
    path = _levels_file(program)
    if path is None:
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        loudness, peak = found["loudness"], float(found["peak"])
        return (None if loudness is None else float(loudness)), peak
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember_levels(program: Program, loudness: float | None, peak: float) -> None:
    path = _levels_file(program)
    if path is None or loudness == float("-inf"):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_target(path) as temp:
            temp.write_text(json.dumps({"loudness": loudness, "peak": peak}), encoding="utf-8")
    except OSError:
        pass  # only a memo: the next export measures again


def _measure_loudness(program: Program, progress: Progress | None) -> tuple[float, float]:
    """The mix's integrated loudness, and its true peak when music plays (else 0)."""
    meter = LoudnessMeter(program.script.sample_rate, program.channels)
    peaks = None
    if program.music is not None:
        peaks = TruePeakMeter(program.script.sample_rate, program.channels)
    total = program.script.length_samples * 2  # this pass, then the encoding pass
    done = 0
    for block in program.blocks(BLOCK_SAMPLES):
        meter.feed(block)
        if peaks is not None:
            peaks.feed(block)
        done += len(block)
        if progress:
            progress(done, total)
    if peaks is not None:
        peaks.ring_out()
    return meter.integrated(), peaks.peak if peaks is not None else 0.0


def export_files(
    program: Program,
    audio_path: str | Path,
    timeline_path: str | Path | None = None,
    captions_path: str | Path | None = None,
    *,
    settings: ExportSettings | None = None,
    progress: Progress | None = None,
) -> Levels:
    """Write the audio file and, if asked, the timeline JSON and captions: all or none.

    Every target is checked before any rendering. Each file is written to a temp
    file beside it and renamed into place; the audio is renamed last, once the
    others are written, so a failure leaves an existing audio file as it was.
    Returns the levels the audio was given.
    """
    settings = settings or ExportSettings()
    target = Path(audio_path)
    extension = check_targets(target, timeline_path, captions_path)
    remembered = _remembered_levels(program) is not None
    levels = measure_levels(program, settings, progress)
    script = program.script
    passes = 1 if settings.loudness is None or remembered else 2  # measuring was the first
    with _reported_as(target), contextlib.ExitStack() as files:
        # The audio's temp file is opened first, so it is renamed last: a failure on the
        # way leaves every target as it was.
        temp = files.enter_context(atomic_target(target))
        sidecars = [
            (timeline_path, lambda path: _write_timeline(script, path)),
            (captions_path, lambda path: _write_captions(script, path)),
        ]
        for path, write in sidecars:
            if path is not None:
                with _reported_as(Path(path)):
                    write(files.enter_context(atomic_target(path)))
        _write_track(
            temp,
            extension,
            program,
            0,
            script.length_samples,
            levels,
            passes,
            settings.quality,
            Tags(title=program.routine.name, album=program.routine.name),
            chapters(script),
            progress,
        )
    return levels


def export_split(
    program: Program,
    folder: str | Path,
    extension: str,
    *,
    settings: ExportSettings | None = None,
    progress: Progress | None = None,
    levels: Levels | None = None,
) -> list[Path]:
    """Write one numbered track per step into ``folder``, and an .m3u playlist of them.

    The tracks are cut at exact samples from one render with one gain, so played
    in order they are the single-file export, without a gap. ``levels`` are those
    :func:`export_files` returned for the same Program and settings, if known (they
    save measuring again). Returns the paths written, the playlist last.
    """
    settings = settings or ExportSettings()
    folder = Path(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ExportError(f"{folder}: is a file; give a folder for the split tracks")
    if not os.path.isdir(folder.parent):
        raise ExportError(f"{folder.parent}: no such folder; create it first")
    audio_extension(f"track{extension}")
    with _reported_as(folder):
        folder.mkdir(exist_ok=True)
    remembered = levels is not None or _remembered_levels(program) is not None
    passes = 1 if remembered or settings.loudness is None else 2  # measuring is the first
    levels = levels or measure_levels(program, settings, progress)
    script = program.script
    spans = tracks(script)
    names = split_file_names(program.routine, extension)
    album = program.routine.name
    all_chapters = chapters(script)
    written: list[Path] = []
    playlist = ["#EXTM3U", f"#PLAYLIST:{album}"]
    for number, span in enumerate(spans, start=1):
        target = folder / names[number - 1]
        inner = [
            Chapter(c.start_sample - span.start_sample, c.end_sample - span.start_sample, c.title)
            for c in all_chapters
            if span.start_sample <= c.start_sample < span.end_sample
        ]
        with _reported_as(target), atomic_target(target) as temp:
            _write_track(
                temp,
                extension,
                program,
                span.start_sample,
                span.end_sample,
                levels,
                passes,
                settings.quality,
                Tags(title=span.title, album=album, track=(number, len(spans))),
                inner if len(inner) > 1 else (),
                progress,
            )
        written.append(target)
        seconds = round((span.end_sample - span.start_sample) / script.sample_rate)
        playlist += [f"#EXTINF:{seconds},{album} - {span.title}", target.name]
    playlist_path = folder / names[-1]
    with _reported_as(playlist_path), atomic_target(playlist_path) as temp:
        temp.write_text("\n".join(playlist) + "\n", encoding="utf-8")
    return [*written, playlist_path]


def _write_track(
    path: Path,
    extension: str,
    program: Program,
    start_sample: int,
    end_sample: int,
    levels: Levels,
    passes: int,
    quality: float | None,
    tags: Tags,
    track_chapters: list[Chapter] | tuple[()],
    progress: Progress | None,
) -> None:
    """Render samples ``start_sample`` to ``end_sample`` into ``path``, then tag it.

    Progress counts ``passes`` over the whole timeline, this being the last.
    """
    script = program.script
    total = script.length_samples * passes
    done = [script.length_samples * (passes - 1)]
    reporting = threading.Lock()  # an MP3's parts are rendered in threads at once
    gain = ratio(levels.gain_db)

    def span(low: int, high: int) -> Iterator:
        mixer = program.mixer()
        for block_start in range(start_sample + low, start_sample + high, BLOCK_SAMPLES):
            count = min(BLOCK_SAMPLES, start_sample + high - block_start)
            yield mixer.render(block_start, count, gain)
            if progress:
                with reporting:
                    done[0] += count
                    progress(done[0], total)

    quiet = [(low - start_sample, high - start_sample) for low, high in quiet_spans(script)]
    track = Track(end_sample - start_sample, span, quiet)
    rate = script.sample_rate
    write_track(path, track, rate, extension, program.channels, quality, track_chapters)
    write_tags(path, extension, tags, track_chapters, rate)


def quiet_spans(script: Script) -> list[tuple[int, int]]:
    """The spans of the timeline between cues, where only the noise floor plays."""
    spans = []
    previous_end = 0
    for cue in script.cues:
        if cue.start_sample > previous_end:
            spans.append((previous_end, cue.start_sample))
        previous_end = max(previous_end, cue.end_sample)
    if script.length_samples > previous_end:
        spans.append((previous_end, script.length_samples))
    return spans


def safe_file_name(name: str) -> str:
    """``name`` with the characters file systems or players refuse replaced."""
    cleaned = re.sub(r'[\x00-\x1f/\\:*?"<>|]+', " ", name).strip(" .")
    cleaned = re.sub(r"\s+", " ", cleaned)
    # File systems limit names in bytes (255 on most); leave room for the number,
    # the extension and the temp file's affixes.
    encoded = cleaned.encode("utf-8")[:MAX_NAME_BYTES]
    return encoded.decode("utf-8", errors="ignore").strip() or "track"


def export_captions(script: Script, path: str | Path) -> Path:
    """Write every cue of ``script`` as a caption: WebVTT (.vtt) or SubRip (.srt)."""
    target = Path(path)
    caption_extension(target)
    check_target(target)
    with _reported_as(target), atomic_target(target) as temp:
        _write_captions(script, temp)
    return target


def _write_captions(script: Script, path: Path) -> None:
    import webvtt

    extension = caption_extension(path)
    rate = script.sample_rate
    document = webvtt.WebVTT(
        captions=[
            webvtt.Caption(
                timestamp(caption.start_sample, rate),
                timestamp(caption.end_sample, rate),
                caption_text(caption.title, extension),
            )
            for caption in captions(script)
        ]
    )
    with path.open("w", encoding="utf-8") as out:
        document.write(out, format="srt" if extension == ".srt" else "vtt")


def caption_text(text: str, extension: str) -> str:
    """``text`` made safe for a caption file: "-->" ends a cue's timing line in both
    formats; WebVTT reads ``<`` and ``&`` as markup (escaped here), SubRip as tags."""
    text = text.replace("-->", "\u2192")
    if extension == ".vtt":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("<", "\u2039").replace(">", "\u203a")


@contextlib.contextmanager
def _reported_as(target: Path) -> Iterator[None]:
    """Turn the OS's and the encoder's errors into one ExportError naming ``target``."""
    try:
        yield
    except OSError as error:
        raise ExportError(f"{target}: cannot write the file ({error.strerror})") from None
    except RuntimeError as error:  # libsndfile reports encoder and disk errors this way
        # Its own words only: its prefix names the temp file, not the file the user knows.
        reason = getattr(error, "error_string", None) or str(error)
        raise ExportError(f"{target}: the encoder failed ({reason})") from None
    except TagError as error:
        raise ExportError(f"{target}: could not write its tags ({error})") from None


def timeline(script: Script) -> dict[str, Any]:
    """The Script as the public timeline structure (times in seconds)."""
    rate = script.sample_rate

    def seconds(sample: int) -> float:
        return round(sample / rate, 6)

    return {
        "version": TIMELINE_VERSION,
        "sample_rate": rate,
        "duration": seconds(script.length_samples),
        "cues": [
            {
                "start": seconds(cue.start_sample),
                "end": seconds(cue.end_sample),
                "kind": cue.kind,
                "role": cue.role,
                "text": cue.text,
                "step": cue.step,
                "side": cue.side,
                "rep": cue.rep,
            }
            for cue in script.cues
        ],
        "holds": [
            {
                "step": hold.step,
                "side": hold.side,
                "rep": hold.rep,
                "start": seconds(hold.start_sample),
                "end": seconds(hold.end_sample),
            }
            for hold in script.holds
        ],
        "steps": [
            {
                "step": span.step,
                "name": span.name,
                "start": seconds(span.start_sample),
                "end": seconds(span.end_sample),
            }
            for span in script.steps
        ],
    }


def export_timeline(script: Script, path: str | Path) -> Path:
    """Write the Script's timeline JSON to ``path``."""
    target = Path(path)
    check_target(target)
    with _reported_as(target), atomic_target(target) as temp:
        _write_timeline(script, temp)
    return target


def _write_timeline(script: Script, path: Path) -> None:
    path.write_text(json.dumps(timeline(script), indent=1) + "\n", encoding="utf-8")


def check_targets(
    audio_path: str | Path,
    timeline_path: str | Path | None = None,
    captions_path: str | Path | None = None,
) -> str:
    """Check, before any work, that the export's files can be written; return the format.

    Raises ExportError for an unknown extension, and TargetError for a folder, a
    device, a named pipe or a missing folder given as a target, or two targets that
    are the same file.
    """
    extension = audio_extension(audio_path)
    if captions_path is not None:
        caption_extension(captions_path)
    outputs = [("the audio", audio_path), ("the timeline", timeline_path)]
    outputs.append(("the captions", captions_path))
    for _, path in outputs:
        if path is not None:
            check_target(path)
    check_distinct(outputs)
    return extension


@dataclass(frozen=True)
class Targets:
    """Every file one export writes: the audio, its timeline and captions, and split
    tracks (into ``split``, one per step, with a playlist, in ``split_extension``)."""

    audio: Path | None = None
    timeline: Path | None = None
    captions: Path | None = None
    split: Path | None = None
    split_extension: str = ".mp3"


def check_export_targets(
    targets: Targets, routine: Routine, inputs: Sequence[tuple[str, Path]] = ()
) -> list[Path]:
    """Check, before any work, every file an export of ``routine`` would write.

    Each must be a new file or a regular file in an existing folder, no two may be the
    same file, and none may be one of ``inputs`` ((what, path) pairs: the routine file,
    its sounds, the config): writing it would destroy it. Returns the split tracks that
    already exist and would be replaced.

    Raises
    ------
    ExportError
        For a format that cannot be told from a name.
    TargetError
        For a target that is a folder, a device, a named pipe or a socket, or in a
        missing folder; :class:`SameFileError` (a usage error) for a target that is
        an input or another target.
    """
    outputs: list[tuple[str, Path | None]] = [
        ("the audio", targets.audio),
        ("the timeline", targets.timeline),
        ("the captions", targets.captions),
    ]
    if targets.audio is not None:
        audio_extension(targets.audio)
    if targets.captions is not None:
        caption_extension(targets.captions)
    replaced: list[Path] = []
    if targets.split is not None:
        folder = targets.split
        audio_extension(f"track{targets.split_extension}")
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise TargetError(f"{folder}: is a file; give a folder for the split tracks")
        if not os.path.isdir(folder.parent):
            raise TargetError(f"{folder.parent}: no such folder; create it first")
        names = split_file_names(routine, targets.split_extension)
        for number, name in enumerate(names, start=1):
            what = "the playlist" if number == len(names) else f"split track {number}"
            outputs.append((what, folder / name))
        replaced = [folder / name for name in names[:-1] if os.path.exists(folder / name)]
    new_folder = targets.split is not None and not os.path.exists(targets.split)
    for _, path in outputs:
        # A split folder still to be made holds nothing to check yet.
        if path is not None and not (new_folder and path.parent == targets.split):
            check_target(path)
    check_distinct(outputs, inputs)
    return replaced


def split_file_names(routine: Routine, extension: str) -> list[str]:
    """The file names of the split tracks of ``routine`` (one per step, numbered), then
    of their playlist."""
    width = max(2, len(str(len(routine.steps))))
    tracks = [
        f"{number:0{width}d} {safe_file_name(step.name)}{extension}"
        for number, step in enumerate(routine.steps, start=1)
    ]
    return [*tracks, f"{safe_file_name(routine.name)}.m3u"]


@dataclass(frozen=True)
class Exported:
    """What :func:`export_routine` wrote: the Program it rendered, the files (split
    tracks and their playlist last), the levels the audio was given (None for split
    tracks alone), and the split tracks that replaced earlier ones."""

    program: Program
    written: tuple[Path, ...]
    levels: Levels | None
    replaced: tuple[Path, ...] = ()


def export_routine(
    routine: Routine,
    targets: Targets,
    settings: Settings | None = None,
    export_settings: ExportSettings | None = None,
    *,
    inputs: Sequence[tuple[str, Path]] = (),
    progress: Progress | None = None,
    speech_progress: Progress | None = None,
) -> Exported:
    """Prepare ``routine`` with ``settings`` and write every file ``targets`` names.

    The targets are checked first, before any synthesis: each must be a new file or a
    regular file in an existing folder, and none may be an input (the routine file,
    its sounds, a voice file, and ``inputs``, such as the user's config) or another
    target. Then the audio, its timeline and captions are written (all or none), then
    the split tracks and their playlist, from one render with one gain.

    ``speech_progress`` is called with (clips made, clips to make) while missing
    speech clips are synthesised, ``progress`` with (samples done, samples in all)
    while the audio is rendered and encoded.

    Raises
    ------
    ExportError, TargetError
        As :func:`check_export_targets` does, and for files that cannot be written.
    """
    from .pipeline import input_files, prepare

    settings = settings or Settings()
    every_input = [*input_files(routine, settings.voice, settings), *inputs]
    replaced = check_export_targets(targets, routine, every_input)
    with speaking_here():
        program = prepare(routine, settings, stream_clips=True, progress=speech_progress)
    return _write_targets(program, targets, export_settings, progress, replaced)


def export_program(
    program: Program,
    targets: Targets,
    export_settings: ExportSettings | None = None,
    *,
    inputs: Sequence[tuple[str, Path]] = (),
    progress: Progress | None = None,
) -> Exported:
    """Write every file ``targets`` names from a prepared ``program``, the targets checked
    first as :func:`export_routine` checks them."""
    from .pipeline import input_files

    every_input = [*input_files(program.routine), *inputs]
    replaced = check_export_targets(targets, program.routine, every_input)
    return _write_targets(program, targets, export_settings, progress, replaced)


def _write_targets(
    program: Program,
    targets: Targets,
    export_settings: ExportSettings | None,
    progress: Progress | None,
    replaced: list[Path],
) -> Exported:
    export_settings = export_settings or ExportSettings()
    written: list[Path] = []
    levels = None
    if targets.audio is not None:
        levels = export_files(
            program,
            targets.audio,
            targets.timeline,
            targets.captions,
            settings=export_settings,
            progress=progress,
        )
        written += [path for path in (targets.audio, targets.timeline, targets.captions) if path]
    if targets.split is not None:
        written += export_split(
            program,
            targets.split,
            targets.split_extension,
            settings=export_settings,
            progress=progress,
            levels=levels,
        )
        if targets.audio is None:  # without the audio, the sidecars go with the tracks
            sidecars = ((targets.timeline, export_timeline), (targets.captions, export_captions))
            for path, write in sidecars:
                if path is not None:
                    written.append(write(program.script, path))
    return Exported(program, tuple(written), levels, tuple(replaced))
