"""Reading and writing audio files: the one module that uses soundfile and soxr."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile
import soxr

#: Output formats by file extension: (libsndfile format, subtype).
FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}


def read_mono(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read an audio file as float32 mono in [-1, 1], resampled to ``sample_rate``.

    Raises ``soundfile.LibsndfileError`` (a ``RuntimeError``) for unreadable files.
    """
    data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1, dtype=np.float32)
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate).astype(np.float32)
    return mono


def write_blocks(
    path: str | Path, blocks: Iterable[np.ndarray], sample_rate: int, extension: str
) -> int:
    """Write int16 mono ``blocks`` to ``path`` in the format ``extension`` names.

    Blocks go to the encoder one at a time: memory stays flat, and libsndfile's
    Vorbis encoder never sees the one huge write that has crashed it. Returns
    the number of samples written.
    """
    file_format, subtype = FORMATS[extension]
    written = 0
    with soundfile.SoundFile(
        str(path), "w", samplerate=sample_rate, channels=1, format=file_format, subtype=subtype
    ) as out:
        for block in blocks:
            out.write(block)
            written += len(block)
    return written
