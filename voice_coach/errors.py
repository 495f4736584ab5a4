"""The project's own errors.

Library code raises these; only the CLI turns them into messages and exit codes.
Every message is one line that says what is wrong and how to fix it.
"""

from __future__ import annotations


class VoiceCoachError(Exception):
    """Base class of every error voice-coach reports to a user."""

    #: Exit code the CLI uses: 1 for failures, 2 for usage errors.
    exit_code = 1


class RoutineError(VoiceCoachError):
    """A routine file that cannot be used, with the file and line at fault."""

    def __init__(self, message: str, source: str, line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")


class RoutineNotFoundError(VoiceCoachError):
    """A routine named on the command line is neither a built-in nor a file."""

    exit_code = 2


class SpeechError(VoiceCoachError):
    """The speech engine is missing or failed to synthesise a phrase."""


class UnknownVoiceError(SpeechError):
    """``--voice`` names no installed voice."""

    exit_code = 2


class PlaybackError(VoiceCoachError):
    """Live playback failed, for example because there is no sound device."""


class NoSoundDeviceError(PlaybackError):
    """No sound output device could be opened."""


class ExportError(VoiceCoachError):
    """An audio or timeline file could not be written."""


class TargetError(VoiceCoachError):
    """An output that cannot be written where it was asked for: a folder, a device, a
    named pipe or a socket (only regular files are ever replaced), a missing folder, or
    a name the file system refuses. Found before any work."""


class SameFileError(TargetError):
    """Two paths of one command are the same file: an output that is also an input
    (it would be destroyed), or two outputs (one would silently replace the other).
    A usage error, found before any work."""

    exit_code = 2


class InputFileError(VoiceCoachError):
    """An input file that voice-coach will not read: missing, not a regular file (a
    named pipe or a device would block or never end), or over its size limit.

    ``reason`` is the problem without the path, for callers that report it as
    ``FILE:LINE: reason`` in their own kind of error.
    """

    def __init__(self, path: str, reason: str, missing: bool = False) -> None:
        self.path = path
        self.reason = reason
        #: The file does not exist (or is a link to nothing).
        self.missing = missing
        super().__init__(f"{path}: {reason}")


class ConfigError(RoutineError):
    """The user's config file cannot be used (reported as FILE:LINE like a routine)."""


class MusicWarning(UserWarning):
    """A music file in a folder that cannot be played, left out (one line, as
    :class:`VoiceWarning`)."""


class VoiceWarning(UserWarning):
    """No installed voice speaks the routine's language; the default voice speaks it.

    Printed by the CLI as one line, like :class:`CacheWarning`.
    """


def no_voice_for(language: str) -> str:
    """The one line of a :class:`VoiceWarning`."""
    return (
        f"no installed voice speaks '{language}', the routine's language; the default voice "
        "reads it (see `voice-coach voices`, or install one, e.g. espeak-ng-data)"
    )


class CacheWarning(UserWarning):
    """The clip cache could not be used as asked; voice-coach carried on without it.

    Library code warns (``warnings.warn``); the CLI prints each as one line.
    """


class ArticleError(VoiceCoachError):
    """An article that cannot be turned into a routine: empty, not text, or no stretches."""


class OutputClosedError(VoiceCoachError):
    """Standard output cannot be written: closed (``>&-``), full, or a broken pipe."""

    def __init__(self, reason: str, broken_pipe: bool = False) -> None:
        super().__init__(f"cannot write to standard output ({reason})")
        #: A reader that went away (``| head``): not worth a message.
        self.broken_pipe = broken_pipe


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (``kill``, ``timeout``, systemd stopping a unit).

    Raised by the CLI's signal handler in the main thread. Being a KeyboardInterrupt,
    it takes every path Ctrl-C takes: temp files are removed, the terminal is restored,
    the sound stops and batch workers stop with the parent; the exit code is 143.
    """
