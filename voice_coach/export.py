"""Export: a Program to an audio file, and its Script to timeline JSON. Atomic writes.

The timeline JSON is a public format (see ARCHITECTURE.md): all times are in
seconds, rounded to the microsecond, so ``round(t * sample_rate)`` gives back
the exact sample.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .atomic import atomic_target
from .audiofile import FORMATS, write_blocks
from .errors import ExportError
from .pipeline import Program
from .script import Script

TIMELINE_VERSION = 1


def audio_extension(path: str | Path) -> str:
    """The lower-case extension of ``path`` if it is a format voice-coach writes.

    Raises ExportError naming the formats otherwise.
    """
    extension = Path(path).suffix.lower()
    if extension not in FORMATS:
        raise ExportError(
            f"{path}: cannot tell the format from '{extension or 'no extension'}'; "
            f"end the name with one of {', '.join(FORMATS)}"
        )
    return extension


def export_audio(program: Program, path: str | Path) -> Path:
    """Render ``program`` into the audio file ``path`` (format from its extension)."""
    return export_files(program, path)


def export_files(
    program: Program, audio_path: str | Path, timeline_path: str | Path | None = None
) -> Path:
    """Write the audio file and, if asked, the timeline JSON: both or neither.

    Both targets are checked before any rendering. Each file is written to a temp
    file beside it and renamed into place; the audio is renamed last, once the
    timeline is written, so a failure leaves any existing audio file as it was.
    """
    target = Path(audio_path)
    extension = check_targets(target, timeline_path)
    with _reported_as(target), atomic_target(target) as temp:
        write_blocks(
            temp, program.blocks(), program.script.sample_rate, extension, program.channels
        )
        if timeline_path is not None:
            export_timeline(program.script, timeline_path)
    return target


@contextlib.contextmanager
def _reported_as(target: Path) -> Iterator[None]:
    """Turn the OS's and the encoder's errors into one ExportError naming ``target``."""
    try:
        yield
    except OSError as error:
        raise ExportError(f"{target}: cannot write the file ({error.strerror})") from None
    except RuntimeError as error:  # libsndfile reports encoder and disk errors this way
        raise ExportError(f"{target}: the encoder failed ({error})") from None


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
        temp.write_text(json.dumps(timeline(script), indent=1) + "\n", encoding="utf-8")
    return target


def check_targets(audio_path: str | Path, timeline_path: str | Path | None = None) -> str:
    """Check, before any work, that the export's files can be written; return the format.

    Raises ExportError for an unknown extension, a folder given as a file, or a
    missing folder.
    """
    extension = audio_extension(audio_path)
    for path in (audio_path, timeline_path):
        if path is not None:
            check_target(path)
    return extension


def check_target(path: str | Path) -> None:
    """Raise ExportError now if ``path`` could not be written later."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{target}: is a folder; give a file name inside it")
    if not target.parent.is_dir():
        raise ExportError(f"{target.parent}: no such folder; create it first")
