"""Reading and writing audio files: the one module that uses soundfile and soxr.

MP3 goes through LAME (mp3.py), which is four times as fast as libsndfile's MP3
encoder (its LAME runs at a slow setting nothing can change: scripts/bench export).

soundfile and soxr are imported only when needed: the clip cache and the chimes are 16-bit
mono WAV at the project's rate, which the standard library reads faster than
libsndfile loads, and that keeps the live player's start quick.
"""

from __future__ import annotations

import errno
import os
import queue
import struct
import threading
import wave
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from .chapters import Chapter


@dataclass(frozen=True)
class Format:
    """An output format: libsndfile's names for it (or the encoder that writes it
    instead), and what it accepts."""

    container: str
    subtype: str
    #: The sample rates the codec takes (None: any); others are resampled to the last.
    rates: tuple[int, ...] | None = None
    #: Whether ``quality`` applies (a lossy codec with a bitrate to choose).
    lossy: bool = False
    #: Who encodes it: "sndfile" (libsndfile), "lame" (mp3.py), "av" (mp4.py, PyAV).
    encoder: str = "sndfile"


_AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
#: Output formats by file extension.
FORMATS = {
    ".wav": Format("WAV", "PCM_16"),
    ".flac": Format("FLAC", "PCM_16"),
    ".ogg": Format("OGG", "VORBIS", lossy=True),
    # Opus codes at 8, 12, 16, 24 or 48 kHz; 48 kHz is its native rate, and libopus
    # encoded it twice as fast here as 24 kHz.
    ".opus": Format("OGG", "OPUS", rates=(8000, 12000, 16000, 24000, 48000), lossy=True),
    ".mp3": Format(
        "MP3",
        "MPEG_LAYER_III",
        rates=(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
        lossy=True,
        encoder="lame",
    ),
    # AAC in MP4, for Apple's players: .m4b is the audiobook flavour of .m4a.
    ".m4a": Format("MP4", "AAC", rates=_AAC_RATES, lossy=True, encoder="av"),
    ".m4b": Format("MP4", "AAC", rates=_AAC_RATES, lossy=True, encoder="av"),
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


def stored_checksum(path: str | Path) -> bytes:
    """The CRC-32 a clip written by :func:`write_clip_wav` carries (its last 4 bytes),
    unchecked: for a clip :func:`checked_clip_frames` has already passed."""
    with open(path, "rb") as clip:
        clip.seek(-4, os.SEEK_END)
        return clip.read(4)


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


@dataclass(frozen=True)
class Track:
    """Audio to write, rendered on demand: ``length`` samples, of which ``span(start,
    end)`` gives any span as int16 blocks, and the spans of ``quiet`` (the noise floor
    alone), where an encoder may cut it to encode the parts at once."""

    length: int
    span: Callable[[int, int], Iterable[np.ndarray]]
    quiet: Sequence[tuple[int, int]] = ()


def write_track(
    path: str | Path,
    track: Track,
    sample_rate: int,
    extension: str,
    channels: int = 1,
    quality: float | None = None,
    chapters: Sequence[Chapter] = (),
) -> int:
    """Write ``track`` to ``path`` as :func:`write_blocks` does, but an MP3 in parts
    encoded at once, one per core, cut in its quiet spans (see :func:`mp3.plan_parts`).
    Returns the number of samples written."""
    file_format = FORMATS[extension]
    if file_format.encoder != "lame" or output_rate(extension, sample_rate) != sample_rate:
        blocks = track.span(0, track.length)
        return write_blocks(path, blocks, sample_rate, extension, channels, quality, chapters)
    from .mp3 import encode_mp3_parts, plan_parts

    parts = plan_parts(track.length, track.quiet, sample_rate, _cores())

    def blocks_of(start: int, end: int | None) -> Iterable[np.ndarray]:
        blocks = track.span(start, track.length if end is None else end)
        # A part a core: rendering ahead in more threads would only take turns with LAME.
        return blocks if len(parts) > 1 else rendered_ahead(blocks)

    try:
        with open(path, "wb") as out:
            return encode_mp3_parts(
                out, parts, blocks_of, sample_rate, channels, quality, track.length
            )
    except RuntimeError:
        if _nearly_full(Path(path).parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise


def _cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS or Windows
        return os.cpu_count() or 1


def write_blocks(
    path: str | Path,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    extension: str,
    channels: int = 1,
    quality: float | None = None,
    chapters: Sequence[Chapter] = (),
) -> int:
    """Write int16 ``blocks`` (``(n,)`` mono or ``(n, channels)``) to ``path``.

    The format is the one ``extension`` names; ``quality`` (0 to 10, lossy
    formats only) picks the bitrate, None the encoder's default. Audio at a rate
    the codec does not take is resampled (soxr, streaming) to :func:`output_rate`.
    ``chapters`` (in samples at ``sample_rate``) go into MP4 files, whose chapters
    the muxer writes; the other formats get theirs from tags.py.

    Blocks go to the encoder one at a time: memory stays flat, and libsndfile's
    Vorbis encoder never sees the one huge write that has crashed it. They are
    made in a thread of their own (see :func:`rendered_ahead`), so rendering and
    encoding share the cores. Returns the number of samples written.
    """
    file_format = FORMATS[extension]
    file_rate = output_rate(extension, sample_rate)
    if not file_format.lossy:
        quality = None
    blocks = rendered_ahead(blocks)
    if file_rate != sample_rate:
        blocks = _resampled(blocks, sample_rate, file_rate, channels)
    try:
        if file_format.encoder == "lame":
            from .mp3 import encode_mp3

            with open(path, "wb") as out:
                return encode_mp3(out, _as_int16(blocks), file_rate, channels, quality)
        if file_format.encoder == "av":
            from .mp4 import encode_mp4

            if file_rate != sample_rate:
                chapters = [_rescaled(c, sample_rate, file_rate) for c in chapters]
            audiobook = extension == ".m4b"
            pcm = _as_int16(blocks)
            return encode_mp4(path, pcm, file_rate, channels, quality, chapters, audiobook)
        return _write_sndfile(path, blocks, file_format, file_rate, channels, quality)
    except RuntimeError:
        # libsndfile reports a full disk as a bare "System error"; say what it is,
        # while the partly written file still holds the space it took.
        if _nearly_full(Path(path).parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise


#: Blocks made ahead of the encoder: enough to keep both busy, little memory.
AHEAD_BLOCKS = 2


def rendered_ahead(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """``blocks``, made in a thread of their own at most AHEAD_BLOCKS ahead of their use.

    The encoders (LAME, libsndfile's) let go of the GIL while they work, and so does
    much of numpy, so the next block is rendered on another core meanwhile. An error
    in the thread is raised here; when the caller stops early (an error, Ctrl-C,
    SIGTERM), the thread stops at its next block.
    """
    made: queue.Queue = queue.Queue(AHEAD_BLOCKS)
    stop = threading.Event()
    end = object()

    def hand(item: object) -> bool:
        while not stop.is_set():
            try:
                made.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for block in blocks:
                if not hand(block):
                    return
            hand(end)
        except BaseException as error:  # raised again in the caller's thread
            hand(error)

    thread = threading.Thread(target=make, name="render-ahead", daemon=True)
    thread.start()
    try:
        while (item := made.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _write_sndfile(path, blocks, file_format, file_rate, channels, quality) -> int:
    import soundfile

    compression = None
    if quality is not None:
        low, high = QUALITY_RANGE
        compression = _MOST_COMPRESSION * (high - quality) / (high - low)
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
        for block in blocks:
            out.write(block)
            written += len(block)
    return written


def _resampled(
    blocks: Iterable[np.ndarray], from_rate: int, to_rate: int, channels: int
) -> Iterator[np.ndarray]:
    """int16 ``blocks`` at ``from_rate`` as float32 blocks at ``to_rate`` (soxr, streaming)."""
    import soxr

    resampler = soxr.ResampleStream(from_rate, to_rate, channels, dtype="float32")
    pending = None
    for block in blocks:
        # Hold one block back, so the resampler can be told which one is last.
        if pending is not None:
            yield resampler.resample_chunk(pending.astype(np.float32) / 32768.0, last=False)
        pending = block
    if pending is not None:
        yield resampler.resample_chunk(pending.astype(np.float32) / 32768.0, last=True)


def _rescaled(chapter: Chapter, from_rate: int, to_rate: int) -> Chapter:
    """``chapter`` with its sample positions at ``to_rate``."""
    return replace(
        chapter,
        start_sample=round(chapter.start_sample * to_rate / from_rate),
        end_sample=round(chapter.end_sample * to_rate / from_rate),
    )


def _as_int16(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Blocks as int16: float ones (resampled, in [-1, 1]) rounded and clipped."""
    for block in blocks:
        if block.dtype != np.int16:
            block = np.clip(np.rint(block * 32768.0), -32768, 32767).astype(np.int16)
        yield block


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
