"""Reading and writing audio files: the one module that uses soundfile and soxr.

Both are imported only when needed: the clip cache and the chimes are 16-bit
mono WAV at the project's rate, which the standard library reads faster than
libsndfile loads, and that keeps the live player's start quick.
"""

from __future__ import annotations

import errno
import os
import struct
import wave
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np


@dataclass(frozen=True)
class Format:
    """An output format: libsndfile's names for it, and what it accepts."""

    container: str
    subtype: str
    #: The sample rates the codec takes (None: any); others are resampled to the last.
    rates: tuple[int, ...] | None = None
    #: Whether ``quality`` applies (a lossy codec with a bitrate to choose).
    lossy: bool = False


#: Output formats by file extension.
FORMATS = {
    ".wav": Format("WAV", "PCM_16"),
    ".flac": Format("FLAC", "PCM_16"),
    ".ogg": Format("OGG", "VORBIS", lossy=True),
    # Opus codes at 8, 12, 16, 24 or 48 kHz; 48 kHz is its native rate, and libopus
    # encoded it twice as fast here as 24 kHz.
    ".opus": Format("OGG", "OPUS", rates=(8000, 12000, 16000, 24000, 48000), lossy=True),
    ".mp3": Format("MP3", "MPEG_LAYER_III", lossy=True),
}
#: ``quality`` runs from 0 (smallest) to 10 (best); libsndfile's compression level
#: runs the other way, from 0.0 to 1.0, but its MP3 encoder refuses 1.0.
QUALITY_RANGE = (0, 10)
_MOST_COMPRESSION = 0.9


def output_rate(extension: str, sample_rate: int) -> int:
    """The sample rate a file of this format gets for audio at ``sample_rate``."""
    rates = FORMATS[extension].rates
    return sample_rate if rates is None or sample_rate in rates else rates[-1]


def read_mono(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read an audio file as float32 mono in [-1, 1], resampled to ``sample_rate``.

    Raises ``soundfile.LibsndfileError`` (a ``RuntimeError``) for unreadable files.
    """
    quick = _read_pcm16_wav(path, sample_rate)
    if quick is not None:
        return quick
    import soundfile
    import soxr

    data, file_rate = soundfile.read(_native(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1, dtype=np.float32)
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate).astype(np.float32)
    return mono


#: Highest sample rate an input file may declare: 768 kHz is the most any recording
#: format uses; a header claiming more is damaged or hostile.
MAX_INPUT_RATE = 768_000
#: Frames decoded at a time from an input file: memory stays bounded by the limit,
#: whatever the file says of itself.
_READ_BLOCK_FRAMES = 4096
#: libsndfile's frame count for a file whose header gives no length (SF_COUNT_MAX).
_UNKNOWN_FRAMES = 2**62


class TooLongError(ValueError):
    """An input file holds more audio than the caller allows."""


class UnusualFileError(ValueError):
    """An input file's header declares a sample rate or channel count no real sound has."""


def read_mono_limited(source: BinaryIO, sample_rate: int, max_seconds: float) -> np.ndarray:
    """Decode the open audio file ``source`` as float32 mono at ``sample_rate``, refusing
    more than ``max_seconds`` of audio.

    The length the header gives is judged before decoding anything, and decoding
    stops one block past the limit whatever the header said: a tiny compressed file
    that unpacks to gigabytes costs no more than the limit.

    Raises
    ------
    TooLongError
        Over ``max_seconds``.
    UnusualFileError
        For a sample rate above :data:`MAX_INPUT_RATE` or no channels.
    RuntimeError
        (``soundfile.LibsndfileError``) for a file that is not audio libsndfile reads.
    """
    import soundfile

    with soundfile.SoundFile(source) as sound:
        rate, channels = sound.samplerate, sound.channels
        if not 0 < rate <= MAX_INPUT_RATE or channels < 1:
            raise UnusualFileError(f"{rate} Hz, {channels} channels")
        limit = int(max_seconds * rate)
        # A stream that does not say its length reports libsndfile's largest count.
        unknown = sound.frames >= _UNKNOWN_FRAMES
        if limit < sound.frames and not unknown:
            raise TooLongError(sound.frames / rate)
        pieces: list[np.ndarray] = []
        total = 0
        while total <= limit:
            try:
                block = sound.read(_READ_BLOCK_FRAMES, dtype="float32", always_2d=True)
            except RuntimeError:
                # libsndfile cannot find its place at the end of a stream of unknown
                # length; what was read is the sound.
                if unknown and pieces:
                    break
                raise
            if not len(block):
                break
            pieces.append(block.mean(axis=1, dtype=np.float32))
            total += len(block)
        if total > limit:
            raise TooLongError(total / rate)
    mono = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return resample(mono, rate, sample_rate) if rate != sample_rate else mono


#: The RIFF chunk after a cached clip's samples that holds their CRC-32.
CHECK_CHUNK = b"vcck"
_CLIP_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


def write_clip_wav(path: str | Path, pcm: np.ndarray, sample_rate: int) -> None:
    """Write int16 mono ``pcm`` as a WAV with a CRC-32 of its samples in a chunk of its own.

    Players and libraries skip the extra chunk; :func:`checked_clip_frames` uses it
    to tell a whole clip from a damaged or truncated one.
    """
    data = np.asarray(pcm, dtype="<i2").tobytes()
    check = CHECK_CHUNK + struct.pack("<II", 4, zlib.crc32(data))
    header = _CLIP_HEADER.pack(
        b"RIFF",
        4 + 24 + 8 + len(data) + len(check),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        len(data),
    )
    Path(path).write_bytes(header + data + check)


def checked_clip_frames(path: str | Path, sample_rate: int) -> int | None:
    """The length in samples of a clip written by :func:`write_clip_wav`, or None if the
    file is missing, not such a clip, at another rate, truncated or damaged."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    size = _CLIP_HEADER.size
    if len(raw) < size + 12:
        return None
    fields = _CLIP_HEADER.unpack_from(raw)
    riff, _, wave_id, fmt, _, kind, channels, rate, _, _, bits, data_id, length = fields
    expected = (b"RIFF", b"WAVE", b"fmt ", 1, 1, sample_rate, 16, b"data")
    if (riff, wave_id, fmt, kind, channels, rate, bits, data_id) != expected:
        return None
    if len(raw) != size + length + 12 or raw[size + length : size + length + 4] != CHECK_CHUNK:
        return None
    (crc,) = struct.unpack_from("<I", raw, size + length + 8)
    if zlib.crc32(memoryview(raw)[size : size + length]) != crc:
        return None
    return length // 2


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Float mono ``samples`` at ``from_rate`` resampled to ``to_rate`` (soxr)."""
    import soxr

    return soxr.resample(samples, from_rate, to_rate).astype(np.float32)


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
    quality: float | None = None,
) -> int:
    """Write int16 ``blocks`` (``(n,)`` mono or ``(n, channels)``) to ``path``.

    The format is the one ``extension`` names; ``quality`` (0 to 10, lossy
    formats only) picks the bitrate, None the encoder's default. Audio at a rate
    the codec does not take is resampled (soxr, streaming) to :func:`output_rate`.

    Blocks go to the encoder one at a time: memory stays flat, and libsndfile's
    Vorbis encoder never sees the one huge write that has crashed it. Returns
    the number of samples written.
    """
    file_format = FORMATS[extension]
    file_rate = output_rate(extension, sample_rate)
    compression = None
    if quality is not None and file_format.lossy:
        low, high = QUALITY_RANGE
        compression = _MOST_COMPRESSION * (high - quality) / (high - low)
    try:
        return _write(path, blocks, file_format, sample_rate, file_rate, channels, compression)
    except RuntimeError:
        # libsndfile reports a full disk as a bare "System error"; say what it is,
        # while the partly written file still holds the space it took.
        if _nearly_full(Path(path).parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise


def _write(path, blocks, file_format, sample_rate, file_rate, channels, compression) -> int:
    import soundfile

    resampler = None
    if file_rate != sample_rate:
        import soxr

        resampler = soxr.ResampleStream(sample_rate, file_rate, channels, dtype="float32")
    written = 0
    with soundfile.SoundFile(
        _native(path),
        "w",
        samplerate=file_rate,
        channels=channels,
        format=file_format.container,
        subtype=file_format.subtype,
        compression_level=compression,
    ) as out:
        pending = None
        for block in blocks:
            if resampler is None:
                out.write(block)
                written += len(block)
                continue
            # Hold one block back, so the resampler can be told which one is last.
            if pending is not None:
                written += _write_resampled(out, resampler, pending, last=False)
            pending = block
        if resampler is not None and pending is not None:
            written += _write_resampled(out, resampler, pending, last=True)
    return written


def _native(path: str | Path) -> str | bytes:
    """``path`` as libsndfile takes it: bytes on POSIX, where soundfile would encode a
    str strictly as UTF-8 and fail on a name that is not (Python keeps its bytes)."""
    return str(path) if os.name == "nt" else os.fsencode(path)


def _nearly_full(folder: Path) -> bool:
    """Whether the file system holding ``folder`` has under 64 KiB left."""
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False
    return stats.f_bavail * stats.f_frsize < 65536


def _write_resampled(out, resampler, block: np.ndarray, *, last: bool) -> int:
    samples = block.astype(np.float32) / 32768.0
    resampled = resampler.resample_chunk(samples, last=last)
    out.write(resampled)
    return len(resampled)


class AudioStream:
    """An open audio file decoded from its start, as float32 mono at one rate, in blocks.

    For music, which may be hours long: nothing is decoded until asked for. The file is
    always read in blocks of the same size and resampled by one streaming resampler, so
    the samples depend on the file alone, never on how much is asked for at a time.

    Raises ``UnusualFileError`` for a header that declares a sample rate above
    :data:`MAX_INPUT_RATE` or no channels, and ``RuntimeError``
    (``soundfile.LibsndfileError``) for a file that is not audio libsndfile reads.
    """

    #: Frames read from the file at a time.
    BLOCK_FRAMES = 16384

    def __init__(self, source: BinaryIO, sample_rate: int) -> None:
        import soundfile

        self._sound = soundfile.SoundFile(source)
        self.file_rate: int = self._sound.samplerate
        channels = self._sound.channels
        if not 0 < self.file_rate <= MAX_INPUT_RATE or channels < 1:
            self._sound.close()
            raise UnusualFileError(f"{self.file_rate} Hz, {channels} channels")
        self.sample_rate = sample_rate
        unknown = self._sound.frames >= _UNKNOWN_FRAMES
        #: The length the header gives, in samples at ``sample_rate``; None when it
        #: does not say.
        self.samples: int | None = (
            None if unknown else round(self._sound.frames * sample_rate / self.file_rate)
        )
        self._resampler = None
        if self.file_rate != sample_rate:
            import soxr

            self._resampler = soxr.ResampleStream(self.file_rate, sample_rate, 1, dtype="float32")
        self._ended = False

    def next_block(self) -> np.ndarray:
        """The next decoded samples (an empty array once the file has ended)."""
        while not self._ended:
            try:
                block = self._sound.read(self.BLOCK_FRAMES, dtype="float32", always_2d=True)
            except RuntimeError:
                block = np.zeros((0, 1), dtype=np.float32)  # a damaged end: the sound so far
            last = len(block) < self.BLOCK_FRAMES
            self._ended = last
            mono = block.mean(axis=1, dtype=np.float32)
            if self._resampler is not None:
                mono = self._resampler.resample_chunk(mono, last=last)
            if len(mono) or last:
                return np.asarray(mono, dtype=np.float32)
        return np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        """Close the file."""
        self._sound.close()
