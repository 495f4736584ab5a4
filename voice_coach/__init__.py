"""voice-coach: offline, voice-guided stretching routines.

The public Python API. Importing the package is cheap: the audio, speech and
playback libraries load only when a function that needs them is called.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    ExportError,
    NoSoundDeviceError,
    PlaybackError,
    RoutineError,
    RoutineNotFoundError,
    SpeechError,
    UnknownVoiceError,
    VoiceCoachError,
)
from .routine import Routine, Step, builtin_names, load_routine, parse_routine
from .script import Cue, Hold, Script, compile_script, spoken_phrases


def prepare(routine: Routine, speaker=None, *, deeper: bool = False):
    """Synthesise and measure every clip, then compile: see :func:`pipeline.prepare`.

    Returns a ``pipeline.Program``; ``speaker`` is a ``speech.Speaker`` (default voice
    and rate when None).
    """
    from .pipeline import prepare as _prepare

    return _prepare(routine, speaker, deeper=deeper)


def export(program, path: str, timeline_path: str | None = None) -> None:
    """Write a prepared Program to an audio file, and optionally its timeline JSON.

    Both files are written atomically, and both or neither are replaced.
    """
    from .export import export_files

    export_files(program, path, timeline_path)


def play(program) -> None:
    """Play a prepared Program live on the default sound device."""
    from .player import play as _play

    _play(program)


__all__ = [
    "Cue",
    "ExportError",
    "Hold",
    "NoSoundDeviceError",
    "PlaybackError",
    "Routine",
    "RoutineError",
    "RoutineNotFoundError",
    "Script",
    "SpeechError",
    "Step",
    "UnknownVoiceError",
    "VoiceCoachError",
    "builtin_names",
    "compile_script",
    "export",
    "load_routine",
    "parse_routine",
    "play",
    "prepare",
    "spoken_phrases",
]
