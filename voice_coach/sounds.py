"""The chimes shipped in sounds/ (made by scripts/make_sounds.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .audiofile import read_mono
from .errors import VoiceCoachError
from .script import CHIMES


def sounds_folder() -> Path:
    """The folder holding the chime WAVs.

    A built wheel carries them inside the package (``voice_coach/sounds``); a
    source checkout or editable install finds them at the project's top level.
    """
    package_copy = Path(__file__).resolve().parent / "sounds"
    if package_copy.is_dir():
        return package_copy
    return Path(__file__).resolve().parent.parent / "sounds"


@lru_cache(maxsize=4)
def load_chimes(sample_rate: int) -> dict[str, np.ndarray]:
    """Every chime in :data:`voice_coach.script.CHIMES` as float32 mono at ``sample_rate``."""
    folder = sounds_folder()
    chimes = {}
    for name in CHIMES:
        path = folder / f"{name}.wav"
        try:
            chimes[name] = read_mono(path, sample_rate)
        except (OSError, RuntimeError):
            raise VoiceCoachError(
                f"{path}: chime missing or unreadable; reinstall voice-coach, "
                "or run scripts/make_sounds.py in a source checkout"
            ) from None
    return chimes
