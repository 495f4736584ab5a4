"""MP3 through LAME (the lameenc binding): the one module that uses it.

lameenc hands back bare MPEG frames. Players need one more thing to play an MP3 at
its exact length: the Xing/LAME header, a silent first frame that counts the frames
and bytes, gives a seek table, and says how many samples of the encoder's delay and
of its padding to drop. LAME's own file interface writes it; lameenc has none, so
:func:`encode_mp3` writes it here, from the frames it has seen (the header's layout:
Gabriel Bouvigne's "Mp3 info tag rev 1 specifications", as LAME 3.100 writes it).

lameenc lets go of the GIL while LAME works, so the mixer can render the next block
on another core meanwhile (audiofile.write_blocks renders ahead in a thread).
"""

from __future__ import annotations

import contextlib
import struct
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import BinaryIO

import numpy as np

#: LAME's VBR quality runs from 0 (best) to 9 (smallest); its own default is 4.
DEFAULT_VBR_QUALITY = 4
#: LAME's algorithm quality: 2 is its slowest and best, 7 its fastest. For speech at
#: 22,050 Hz the fast setting sounds the same (tests compare the envelopes) and takes
#: a quarter of the time (scripts/bench export).
ALGORITHM_QUALITY = 7
#: Samples LAME's encoder adds before the first sample (ENCDELAY in LAME 3.100);
#: decoders drop them, plus their own 529, when the LAME header says so.
ENCODER_DELAY = 576
#: The LAME header's version string: the encoder lameenc bundles.
ENCODER_VERSION = b"LAME3.100"
#: The LAME header's VBR method for LAME's default VBR mode (vbr_mtrh).
VBR_METHOD_MTRH = 4
#: lameenc's number for vbr_mtrh (LAME's vbr_mode enum).
LAME_VBR_MTRH = 4

# MPEG audio frame headers (ISO 11172-3, 13818-3): version id -> sample rates and
# Layer III bitrates (kbit/s) by index, and samples per frame.
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_SYNC = 0xFFE00000


def vbr_quality(quality: float | None) -> int:
    """LAME's VBR quality (0 best, 9 smallest) for voice-coach's 0 (smallest) to 10 (best)."""
    if quality is None:
        return DEFAULT_VBR_QUALITY
    return round(9 * (10 - quality) / 10)


def encode_mp3(
    out: BinaryIO,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    quality: float | None = None,
) -> int:
    """Encode int16 ``blocks`` as VBR MP3 into the seekable ``out``, with a LAME header
    giving the exact length; returns the number of samples encoded.

    Raises RuntimeError (lameenc's, or this module's) when LAME refuses the settings
    or there is no audio.
    """
    return encode_mp3_parts(
        out, [(0, None)], lambda start, end: blocks, sample_rate, channels, quality
    )


#: Samples of quiet left either side of a cut, for LAME's look-ahead and its window.
CUT_MARGIN = 2048
#: Shortest part worth a LAME of its own: below this, a thread costs more than it saves.
MIN_PART_SAMPLES = 20 * 22050
#: Most parts encoded at once, however many cores: each holds a LAME, a mixer and its
#: loaded clips, and a queue of rendered blocks, so memory is bounded by this cap.
MAX_PARTS = 8


def junction_samples(part_samples: int, sample_rate: int) -> int:
    """Samples a cut after a part of ``part_samples`` adds to the decoded stream: LAME
    ends each stream with padding and starts the next with its delay, both silence.

    For rates coded in 576-sample frames (MPEG-2: 16, 22.05 and 24 kHz), LAME 3.100
    makes ceil((n + 576) / 576) + 1 frames of n samples (checked by the tests)."""
    return _frames_for(part_samples) * 576 - part_samples


def plan_parts(
    length: int, quiet: Sequence[tuple[int, int]], sample_rate: int, count: int
) -> list[tuple[int, int]]:
    """Spans of the timeline [0, length) to encode as ``count`` MP3 streams at once, or
    one span when that cannot be done well.

    At most MAX_PARTS, whatever ``count``. Each cut lies in a span of ``quiet`` (the
    noise floor alone), near an even share of the length. The next part starts after
    the samples the junction adds, so every sample after it decodes at its own place;
    those samples, noise floor in the timeline, decode as codec silence. Only rates
    coded in 576-sample frames cut.
    """
    parts = [(0, length)]
    if count < 2 or sample_rate not in _RATES[2] or length < 2 * MIN_PART_SAMPLES:
        return parts
    count = min(count, MAX_PARTS, length // MIN_PART_SAMPLES)
    start = 0
    planned = []
    for index in range(1, count):
        goal = length * index // count
        best = None
        for low, high in quiet:
            # As near the goal as it fits, with the junction after it (at most 3 frames).
            cut = min(max(goal, low + CUT_MARGIN), high - CUT_MARGIN - 3 * 576)
            if cut - start < MIN_PART_SAMPLES:
                continue
            after = cut + junction_samples(cut - start, sample_rate)
            if after + CUT_MARGIN > high or length - after < MIN_PART_SAMPLES:
                continue
            if best is None or abs(cut - goal) < abs(best[0] - goal):
                best = (cut, after)
        if best is None:
            continue
        planned.append((start, best[0]))
        start = best[1]
    planned.append((start, length))
    return planned if len(planned) > 1 else parts


def encode_mp3_parts(
    out: BinaryIO,
    parts: Sequence[tuple[int, int | None]],
    blocks_of: Callable[[int, int | None], Iterable[np.ndarray]],
    sample_rate: int,
    channels: int,
    quality: float | None = None,
    length: int | None = None,
) -> int:
    """Encode the ``parts`` of a timeline (from :func:`plan_parts`; ``blocks_of(start,
    end)`` gives each one's int16 blocks) as one VBR MP3 into the seekable ``out``,
    each part by its own LAME in its own thread, with a LAME header giving the exact
    ``length`` (the timeline's; by default what was encoded). Returns that length.

    The first part's frames go straight to ``out``, the others' to temp files beside
    it, appended in order once all are done. Raises RuntimeError (lameenc's, or this
    module's) when LAME refuses the settings or there is no audio.
    """
    start = out.tell()
    tag = _TagFrame(sample_rate, channels)
    out.write(bytes(tag.size))  # room for the header, written once the frames are counted
    frames = _Frames(out)
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        spills = [stack.enter_context(tempfile.TemporaryFile()) for _ in parts[1:]]

        def encode(index: int) -> int:
            encoder = _encoder(sample_rate, channels, quality)
            write = frames.feed if index == 0 else spills[index - 1].write
            samples = 0
            for block in blocks_of(*parts[index]):
                if stop.is_set():
                    raise _Stopped
                samples += len(block)
                write(encoder.encode(np.ascontiguousarray(block, dtype="<i2").tobytes()))
            write(encoder.flush())
            return samples

        counts = _in_threads(encode, len(parts), stop)
        if not sum(counts):
            raise RuntimeError("no audio to encode")
        for index, spill in enumerate(spills, start=1):
            # Each cut counted on LAME making this many frames of the part before it.
            made = len(frames.offsets) - sum(_frames_for(n) for n in counts[: index - 1])
            if made != _frames_for(counts[index - 1]):
                raise RuntimeError(f"LAME made {made} frames, not {_frames_for(counts[index - 1])}")
            spill.seek(0)
            while chunk := spill.read(_COPY_BYTES):
                frames.feed(chunk)
    end = out.tell()
    out.seek(start)
    total = sum(counts) if length is None else length
    out.write(tag.build(frames, total, vbr_quality(quality)))
    out.seek(end)
    return total


def _in_threads(encode: Callable[[int], int], count: int, stop: threading.Event) -> list[int]:
    """``encode(0)`` to ``encode(count - 1)`` at once: the first in this thread, each other
    in a thread of its own; their results in order. The first error (or Ctrl-C here)
    sets ``stop``, so the others end at their next block, and is raised once they have."""
    counts = [0] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            counts[index] = encode(index)
        except BaseException as error:  # raised again in this function's thread
            stop.set()
            errors.append(error)

    others = [
        threading.Thread(target=run, args=(index,), name=f"mp3-part-{index}", daemon=True)
        for index in range(1, count)
    ]
    for thread in others:
        thread.start()
    try:
        # Stopped means another part failed: its error is raised below.
        with contextlib.suppress(_Stopped):
            counts[0] = encode(0)
        for thread in others:
            thread.join()
    except BaseException:  # here, or Ctrl-C while waiting for the others
        stop.set()
        for thread in others:
            thread.join()
        raise
    failures = [error for error in errors if not isinstance(error, _Stopped)]
    if failures:
        raise failures[0]
    return counts


def _frames_for(samples: int) -> int:
    """Frames LAME 3.100 makes of ``samples`` in 576-sample frames (see junction_samples)."""
    return -(-(samples + ENCODER_DELAY) // 576) + 1


_COPY_BYTES = 1 << 20


class _Stopped(Exception):
    """Another part failed or was interrupted: this one stops too."""


def _encoder(sample_rate: int, channels: int, quality: float | None):
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(channels)
    encoder.set_vbr(LAME_VBR_MTRH)
    encoder.set_vbr_quality(vbr_quality(quality))
    encoder.set_quality(ALGORITHM_QUALITY)
    encoder.silence()
    return encoder


def frame_bytes(header: int) -> int:
    """The length in bytes of the Layer III frame whose 4-byte header is ``header``."""
    version = (header >> 19) & 3
    kbps = (_MPEG1_KBPS if version == 3 else _MPEG2_KBPS)[(header >> 12) & 15]
    rate = _RATES[version][(header >> 10) & 3]
    padding = (header >> 9) & 1
    return (144 if version == 3 else 72) * kbps * 1000 // rate + padding


class _Frames:
    """The MPEG frames the encoder makes: written to ``out`` as they come, counted, and
    their offsets (from the first audio frame) kept for the seek table."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offsets = array("Q")
        self.size = 0  # bytes of audio frames so far
        self._unread = bytearray()  # bytes from self._unread_at on, not yet parsed
        self._unread_at = 0
        self._next = 0  # where the next frame header starts

    def feed(self, data: bytes | bytearray) -> None:
        """Write ``data`` (whole or partial frames) and note the frames it starts."""
        self.out.write(data)
        self.size += len(data)
        self._unread += data
        while self._next + 4 <= self.size:
            at = self._next - self._unread_at
            header = int.from_bytes(self._unread[at : at + 4], "big")
            if header & _SYNC != _SYNC:
                raise RuntimeError("LAME wrote something that is not an MPEG frame")
            self.offsets.append(self._next)
            self._next += frame_bytes(header)
        done = min(self._next, self.size) - self._unread_at
        del self._unread[:done]
        self._unread_at += done


class _TagFrame:
    """The Xing/LAME header frame for a stream at ``sample_rate`` with ``channels``: a
    Layer III frame at the lowest bitrate that holds the tag, with no audio in it."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        versions = [v for v, rates in _RATES.items() if sample_rate in rates]
        if not versions:
            raise RuntimeError(f"MP3 has no {sample_rate} Hz")
        version = versions[0]
        self.version = version
        self.sample_rate = sample_rate
        self.rate_index = _RATES[version].index(sample_rate)
        self.channels = channels
        side_info = (17 if channels == 1 else 32) if version == 3 else (9 if channels == 1 else 17)
        self.tag_at = 4 + side_info
        needed = self.tag_at + _XING_BYTES + _LAME_BYTES
        table = _MPEG1_KBPS if version == 3 else _MPEG2_KBPS
        for index in range(1, len(table)):
            self.header = self._header(index)
            self.size = frame_bytes(self.header)
            if self.size >= needed:
                break
        else:
            raise RuntimeError(f"no MP3 frame at {sample_rate} Hz holds the LAME header")

    def _header(self, bitrate_index: int) -> int:
        mode = 3 if self.channels == 1 else 1  # mono, or joint stereo as LAME codes it
        return (
            _SYNC
            | self.version << 19
            | 1 << 17  # Layer III
            | 1 << 16  # no CRC
            | bitrate_index << 12
            | self.rate_index << 10
            | mode << 6
        )

    def build(self, frames: _Frames, samples: int, vbr_q: int) -> bytes:
        """The frame's bytes, once every audio frame has been written."""
        count = len(frames.offsets)
        total = self.size + frames.size
        samples_per_frame = 1152 if self.version == 3 else 576
        padding = count * samples_per_frame - samples - ENCODER_DELAY
        if not 0 <= padding < 4096:
            raise RuntimeError(f"LAME's padding of {padding} samples does not fit its header")
        # The seek table: where each percent of the duration starts, in 256ths of the file.
        toc = bytes(
            min(255, (self.size + frames.offsets[count * percent // 100]) * 256 // total)
            for percent in range(100)
        )
        xing = b"Xing" + struct.pack(">III", 0x0F, count, total) + toc
        xing += struct.pack(">I", 100 - 10 * vbr_q - ALGORITHM_QUALITY)
        source_rate = {44100: 1, 48000: 2}.get(self.sample_rate, 0)  # 0: 32 kHz or less
        stereo = 0 if self.channels == 1 else 3
        lame = ENCODER_VERSION + struct.pack(
            ">BBfHHBB",
            VBR_METHOD_MTRH,  # tag revision 0
            0,  # lowpass: not known through lameenc
            0.0,  # peak amplitude: not measured
            0,  # radio replay gain: not set
            0,  # audiophile replay gain: not set
            0,  # encoding flags, ATH type
            0,  # lowest bitrate: not known
        )
        lame += (ENCODER_DELAY << 12 | padding).to_bytes(3, "big")
        lame += struct.pack(">BBHIH", source_rate << 6 | stereo << 2, 0, 0, total, 0)
        frame = bytearray(self.size)
        frame[:4] = self.header.to_bytes(4, "big")
        body = xing + lame
        frame[self.tag_at : self.tag_at + len(body)] = body
        crc_at = self.tag_at + len(body)
        frame[crc_at : crc_at + 2] = _crc16(frame[:crc_at]).to_bytes(2, "big")
        return bytes(frame)


_XING_BYTES = 4 + 4 + 4 + 4 + 100 + 4
_LAME_BYTES = 36


def _crc16(data: bytes | bytearray) -> int:
    """CRC-16/ARC (polynomial 0x8005, reflected), the LAME header's own checksum."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc
