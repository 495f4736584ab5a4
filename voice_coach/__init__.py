"""voice-coach: offline, voice-guided stretching routines.

The public Python API, the same front door the ``voice-coach`` command uses (see
``docs/python-api.md``)::

    import voice_coach

    routine = voice_coach.load_routine("hamstrings")
    voice_coach.export(routine, "hamstrings.mp3", captions="hamstrings.vtt")

Importing the package is cheap: every name but the errors is imported on first use,
so the YAML parser, numpy and the audio, speech and playback libraries load only when
something needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    ArticleError,
    ConfigError,
    ExportError,
    InputFileError,
    NoSoundDeviceError,
    PlaybackError,
    RoutineError,
    RoutineNotFoundError,
    SameFileError,
    SpeechError,
    TargetError,
    UnknownVoiceError,
    VoiceCoachError,
)

if TYPE_CHECKING:
    from .exporter import Exported, ExportSettings, Progress
    from .pipeline import Program
    from .routine import Routine, Step, builtin_names, load_routine, parse_routine
    from .script import Cue, Hold, Script, compile_script, spoken_phrases
    from .settings import Settings
    from .speech import Speaker


#: Names imported on first use, so that importing the package (as every speech worker
#: process does) costs no YAML parser, no numpy and no audio library.
_LAZY = {
    "Routine": "routine",
    "Step": "routine",
    "builtin_names": "routine",
    "load_routine": "routine",
    "parse_routine": "routine",
    "Cue": "script",
    "Hold": "script",
    "Script": "script",
    "compile_script": "script",
    "spoken_phrases": "script",
    "Settings": "settings",
    "Program": "pipeline",
    "Speaker": "speech",
    "ExportSettings": "exporter",
    "Exported": "exporter",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # The installed distribution's version (pyproject.toml is its one source), read
        # on first use: importlib.metadata costs an export's start 30 ms.
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("voice-coach")
        except PackageNotFoundError:  # run from a source tree that was never installed
            return "0+unknown"
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'voice_coach' has no attribute {name!r}")


def user_settings() -> Settings:
    """The user's config file's settings (``voice-coach config path`` says where), as
    the command line starts from. The API uses none unless given them::

        voice_coach.export(routine, "out.mp3", settings=voice_coach.user_settings())
    """
    from .config import load_config

    return load_config().as_settings()


def prepare(
    routine: Routine,
    settings: Settings | None = None,
    *,
    speaker: Speaker | None = None,
    stream_clips: bool = False,
) -> Program:
    """Synthesise (or take from the cache) every clip of ``routine`` and compile it into
    a ``Program``, ready to export or play: see :func:`voice_coach.pipeline.prepare`.

    ``settings`` choose the voice, rate, engine, countdown, sounds, pan, ``deeper``,
    ``quiet`` and the music (``music``, ``duck``, ``music_level``,
    ``music_hold_level``) over the routine's own (None: the routine as written, in its own
    voice and rate).
    """
    from .pipeline import prepare as prepare_program

    return prepare_program(routine, settings, speaker=speaker, stream_clips=stream_clips)


def export(
    routine: Routine | Program,
    path: str | Path | None = None,
    *,
    timeline: str | Path | None = None,
    captions: str | Path | None = None,
    split: str | Path | None = None,
    split_format: str = "mp3",
    settings: Settings | None = None,
    loudness: float | None = -16.0,
    true_peak: float = -1.0,
    quality: float | None = None,
    progress: Progress | None = None,
    speech_progress: Progress | None = None,
) -> Exported:
    """Write ``routine`` (or a prepared Program) as audio: every option of ``export``.

    Parameters
    ----------
    routine:
        A Routine (prepared here with ``settings``), or a Program from :func:`prepare`.
    path:
        The audio file: .wav, .flac, .ogg, .opus or .mp3 (tags, and a chapter for
        each step and side).
    timeline, captions:
        Also the timeline JSON, and captions (.vtt or .srt).
    split, split_format:
        Also one track per step into this folder, with an .m3u playlist, in this
        format.
    settings:
        How it is spoken (see :class:`Settings`); only for a Routine.
    loudness, true_peak, quality:
        The integrated loudness target in LUFS (None: as the player plays it), the
        highest true peak in dBTP, and 0 to 10 for ogg, opus and mp3.
    progress:
        Called with (samples done, samples in all) as the audio is rendered and encoded.
    speech_progress:
        Called with (clips made, clips to make) as the speech missing from the clip
        cache is synthesised (a Routine only; a Program is already spoken).

    Every target is checked before any work (a device, a folder, an input of the
    export, or two targets that are one file are refused); each file is written to
    a temp file and renamed into place. Returns an ``Exported``: the Program, the
    files written and the levels.
    """
    from .exporter import ExportSettings, Targets, export_program, export_routine
    from .routine import Routine

    targets = Targets(
        audio=_optional_path(path),
        timeline=_optional_path(timeline),
        captions=_optional_path(captions),
        split=_optional_path(split),
        split_extension=f".{split_format.lstrip('.')}",
    )
    levels = ExportSettings(loudness=loudness, true_peak=true_peak, quality=quality)
    if isinstance(routine, Routine):
        return export_routine(
            routine, targets, settings, levels, progress=progress, speech_progress=speech_progress
        )
    if settings is not None:
        raise ValueError("settings apply when a Routine is prepared; prepare() took them")
    return export_program(routine, targets, levels, progress=progress)


def play(
    routine: Routine | Program,
    settings: Settings | None = None,
    *,
    plain: bool | None = None,
    listen: bool = False,
    duck_others: bool = False,
) -> None:
    """Play ``routine`` (or a prepared Program) live on the default sound device, with
    the keyboard's controls when stdin is a terminal, until it ends or is quit.

    A Routine starts at once: its first step plays while the rest is prepared.
    ``settings`` are as for :func:`prepare`; their ``volume`` is the starting volume,
    their ``music`` plays under the cues, and their ``audio`` is the way to the device
    ("portaudio", or "simpleaudio", which is also used by itself where PortAudio cannot
    be loaded); ``plain`` forces the one-line-per-cue view; ``listen`` obeys spoken
    commands ("coach pause"; the listen extra); ``duck_others`` lowers other apps' sound
    under every cue (PulseAudio or PipeWire; the duck extra).
    """
    from .player import play as play_program
    from .player import play_routine
    from .routine import Routine
    from .settings import Settings, volume_for

    if isinstance(routine, Routine):
        play_routine(routine, settings, plain=plain, listen=listen, duck_others=duck_others)
        return
    settings = settings or Settings()
    volume = volume_for(routine.routine, settings)
    play_program(routine, plain=plain, volume=volume, audio=settings.audio, duck_others=duck_others)


def import_article(text: str, source: str = "<article>") -> str:
    """An article's ``text`` (plain text, Markdown or saved HTML) as routine YAML text,
    as ``voice-coach import`` writes it (and ``play --from-article`` plays it);
    ``parse_routine(yaml_text, source)`` loads it. ``source`` names the article in the
    YAML's header comment.

    Raises
    ------
    ArticleError
        When the text is empty, too large, not text, or names no stretch.
    """
    from .importer import import_article as imported

    return imported(text, source)


def _optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


__all__ = [
    "ArticleError",
    "ConfigError",
    "Cue",
    "ExportError",
    "ExportSettings",
    "Exported",
    "Hold",
    "InputFileError",
    "NoSoundDeviceError",
    "PlaybackError",
    "Program",
    "Routine",
    "RoutineError",
    "RoutineNotFoundError",
    "SameFileError",
    "Script",
    "Settings",
    "Speaker",
    "SpeechError",
    "Step",
    "TargetError",
    "UnknownVoiceError",
    "VoiceCoachError",
    "__version__",
    "builtin_names",
    "compile_script",
    "export",
    "import_article",
    "load_routine",
    "parse_routine",
    "play",
    "prepare",
    "spoken_phrases",
    "user_settings",
]
