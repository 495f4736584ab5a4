"""Reading and writing audio files: the one module that uses soundfile and soxr.

Both are imported only when needed: the clip cache and the chimes are 16-bit
mono WAV at the project's rate, which the standard library reads faster than
libsndfile loads, and that keeps the live player's start quick.
"""

from __future__ import annotations

import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np

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
    quick = _read_pcm16_wav(path, sample_rate)
    if quick is not None:
        return quick
    import soundfile
    import soxr

    data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1, dtype=np.float32)
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate).astype(np.float32)
    return mono


def _read_pcm16_wav(path: str | Path, sample_rate: int) -> np.ndarray | None:
    """A 16-bit mono WAV at ``sample_rate``, read like soundfile would; else None."""
    try:
        with wave.open(str(path), "rb") as source:
            if (source.getnchannels(), source.getsampwidth(), source.getframerate()) != (
                1,
                2,
                sample_rate,
            ):
                return None
            frames = source.readframes(source.getnframes())
    except (wave.Error, EOFError, OSError):
        return None  # let soundfile read it, or report what is wrong with it
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def write_blocks(
    path: str | Path,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    extension: str,
    channels: int = 1,
) -> int:
    """Write int16 ``blocks`` (``(n,)`` mono or ``(n, channels)``) to ``path``.

    The format is the one ``extension`` names.

    Blocks go to the encoder one at a time: memory stays flat, and libsndfile's
    Vorbis encoder never sees the one huge write that has crashed it. Returns
    the number of samples written.
    """
    import soundfile

    file_format, subtype = FORMATS[extension]
    written = 0
    with soundfile.SoundFile(
        str(path),
        "w",
        samplerate=sample_rate,
        channels=channels,
        format=file_format,
        subtype=subtype,
    ) as out:
        for block in blocks:
            out.write(block)
            written += len(block)
    return written
