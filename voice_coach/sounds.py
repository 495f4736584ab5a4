"""The built-in sound sets shipped in sounds/ (made by scripts/make_sounds.py), and a
routine's own sound files.

Layout: the default set, ``chime``, sits at the top of the folder
(``sounds/hold-start.wav`` ...), each other set in a folder of its own
(``sounds/bell/hold-start.wav`` ...). Every set has every sound in
:data:`SOUND_NAMES`, at the same peak level.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from .audiofile import TooLongError, UnusualFileError, read_mono, read_mono_limited
from .errors import InputFileError, RoutineError, VoiceCoachError
from .inputs import open_input
from .routine import SOUND_NAMES, SOUND_SETS, SOUND_SUFFIXES
from .script import CHIMES

__all__ = [
    "CUSTOM_MAX_SECONDS",
    "DEFAULT_SET",
    "PEAK",
    "SOUND_NAMES",
    "SOUND_SETS",
    "SOUND_SUFFIXES",
    "load_chimes",
    "load_sound_file",
    "load_sound_set",
    "resolve_sound_path",
    "sound_file_name",
    "sound_set_paths",
    "sounds_folder",
]

#: The set whose files sit at the top of sounds/ (the chimes voice-coach always had).
DEFAULT_SET = "chime"
#: Peak level of every sound, built-in or custom: about -5 dBFS, just under the
#: limited speech peaks, so a sound never stands out louder than the voice.
PEAK = 0.55
#: Longest custom sound: a cue, not a song; longer files would also push the
#: spoken cues around the hold apart.
CUSTOM_MAX_SECONDS = 5.0
#: A file this big cannot hold a few seconds of audio (5 s of 8-channel 32-bit
#: audio at 384 kHz is 61 MB); refusing it early saves decoding an hour of music.
_CUSTOM_MAX_BYTES = 64 * 1024 * 1024


def sounds_folder() -> Path:
    """The folder holding the built-in sounds.

    A built wheel carries them inside the package (``voice_coach/sounds``); a
    source checkout or editable install finds them at the project's top level.
    """
    package_copy = Path(__file__).resolve().parent / "sounds"
    if package_copy.is_dir():
        return package_copy
    return Path(__file__).resolve().parent.parent / "sounds"


def sound_file_name(set_name: str, sound_name: str) -> PurePosixPath:
    """Where a built-in sound sits, relative to :func:`sounds_folder`."""
    _check_set(set_name)
    if sound_name not in SOUND_NAMES:
        raise ValueError(f"unknown sound {sound_name!r}; the sounds are {SOUND_NAMES}")
    file_name = PurePosixPath(f"{sound_name}.wav")
    return file_name if set_name == DEFAULT_SET else set_name / file_name


def sound_set_paths(set_name: str) -> dict[str, Path]:
    """The file of each sound in :data:`SOUND_NAMES` of the built-in set ``set_name``."""
    folder = sounds_folder()
    return {name: folder / sound_file_name(set_name, name) for name in SOUND_NAMES}


@lru_cache(maxsize=8)
def load_sound_set(set_name: str, sample_rate: int) -> dict[str, np.ndarray]:
    """Every sound of the built-in set ``set_name`` as float32 mono at ``sample_rate``."""
    sounds = {}
    for name, path in sound_set_paths(set_name).items():
        try:
            sounds[name] = read_mono(path, sample_rate)
        except (OSError, RuntimeError):
            raise VoiceCoachError(
                f"{path}: built-in sound missing or unreadable; reinstall voice-coach, "
                "or run scripts/make_sounds.py in a source checkout"
            ) from None
    return sounds


def load_chimes(sample_rate: int) -> dict[str, np.ndarray]:
    """Every chime in :data:`voice_coach.script.CHIMES`, from the default set, as float32
    mono at ``sample_rate``."""
    chimes = load_sound_set(DEFAULT_SET, sample_rate)
    return {name: chimes[name] for name in CHIMES}


def load_sound_file(path: str | Path, sample_rate: int) -> np.ndarray:
    """A routine's own sound file (WAV, FLAC or Ogg Vorbis; any rate, any channels) as
    float32 mono at ``sample_rate``, scaled to the built-in sounds' :data:`PEAK`.

    Its length is judged from the header before anything is decoded, and decoding
    stops at :data:`CUSTOM_MAX_SECONDS` whatever the header says.

    Raises :class:`VoiceCoachError` for a file that is missing, not a regular file,
    not audio, silent, or longer than :data:`CUSTOM_MAX_SECONDS`.
    """
    path = Path(path)
    if path.suffix.lower() not in SOUND_SUFFIXES:
        raise VoiceCoachError(f"{path}: a sound must be a WAV, FLAC or OGG file")
    if not os.path.exists(path):
        raise VoiceCoachError(
            f"{path}: no such sound file; check its name, which is relative to the routine's folder"
        )
    try:
        with open_input(path, "sound file") as source:
            if os.fstat(source.fileno()).st_size > _CUSTOM_MAX_BYTES:
                raise _too_long(path)
            samples = read_mono_limited(source, sample_rate, CUSTOM_MAX_SECONDS)
    except InputFileError as error:
        raise VoiceCoachError(str(error)) from None
    except TooLongError:
        raise _too_long(path) from None
    except UnusualFileError as unusual:
        raise VoiceCoachError(
            f"{path}: the file declares {unusual}, which no sound has; export it again "
            "as an ordinary WAV, FLAC or OGG file"
        ) from None
    except (OSError, RuntimeError):
        raise VoiceCoachError(
            f"{path}: not a readable WAV, FLAC or OGG file; convert it to one of those"
        ) from None
    peak = float(np.max(np.abs(samples), initial=0.0))
    if not np.isfinite(peak):
        raise VoiceCoachError(f"{path}: the sound file holds invalid samples (NaN or infinity)")
    if peak == 0.0:
        raise VoiceCoachError(f"{path}: the sound file is silent")
    return (samples * np.float32(PEAK / peak)).astype(np.float32)


def resolve_sound_path(
    routine_folder: Path,
    relative: str,
    *,
    source: str | None = None,
    line: int | None = None,
    what: str = "sound",
    suffixes: tuple[str, ...] | None = SOUND_SUFFIXES,
) -> Path:
    """The real path of a routine's sound file, given relative to the routine's folder.

    Refuses (:class:`RoutineError`, reported at ``source`` and ``line``, by default
    the folder) a path that is absolute, that leaves the folder through ``..`` or
    through a symbolic link, or that does not end in .wav, .flac or .ogg: a shared
    routine must not make voice-coach read files elsewhere on the user's disk.
    The file itself need not exist yet; loading it reports that. ``what`` names the
    file in messages, and ``suffixes`` are the endings allowed (None: any, and a
    folder too): the routine's music is resolved the same way.
    """
    where = source if source is not None else str(routine_folder)
    keep_inside = (
        f"keep {what} files inside the routine's folder and give their path relative to it"
    )
    if not relative.strip():
        raise RoutineError(f"empty {what} path; {keep_inside}", where, line)
    # A Windows drive or UNC path is refused on every system, so a routine is
    # judged the same wherever it is opened.
    if PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).anchor:
        raise RoutineError(f"{what} path {relative!r} is absolute; {keep_inside}", where, line)
    if "\\" in relative:
        raise RoutineError(
            f"{what} path {relative!r} has a backslash; separate folders with /", where, line
        )
    if suffixes is not None and PurePosixPath(relative).suffix.lower() not in suffixes:
        raise RoutineError(
            f"{what} path {relative!r} is not a .wav, .flac or .ogg file", where, line
        )
    folder = os.path.normcase(os.path.realpath(routine_folder))
    target = os.path.realpath(os.path.join(routine_folder, relative))
    try:
        inside = os.path.commonpath([folder, os.path.normcase(target)]) == folder
    except ValueError:  # another drive, on Windows
        inside = False
    if not inside:
        raise RoutineError(
            f"{what} path {relative!r} leads outside the routine's folder (to {target}); "
            + keep_inside,
            where,
            line,
        )
    return Path(target)


def _check_set(set_name: str) -> None:
    if set_name not in SOUND_SETS:
        raise VoiceCoachError(
            f"unknown sound set {set_name!r}; choose one of {', '.join(SOUND_SETS)}"
        )


def _too_long(path: Path) -> VoiceCoachError:
    return VoiceCoachError(
        f"{path}: the sound is longer than {CUSTOM_MAX_SECONDS:g} seconds; trim it"
    )
