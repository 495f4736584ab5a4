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
    VoiceCoachError,
)
from .routine import Routine, Step, builtin_names, load_routine, parse_routine
from .script import Cue, Hold, Script, compile_script, spoken_phrases


def prepare(routine, speaker=None, *, deeper=False):
    """Synthesise and measure every clip, then compile: see :func:`pipeline.prepare`."""
    from .pipeline import prepare as _prepare

    return _prepare(routine, speaker, deeper=deeper)


def export(program, path, timeline_path=None):
    """Write a prepared Program to an audio file, and optionally its timeline JSON."""
    from .export import export_audio, export_timeline

    export_audio(program, path)
    if timeline_path is not None:
        export_timeline(program.script, timeline_path)


def play(program):
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
