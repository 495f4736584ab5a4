"""AAC in MP4 (.m4a, .m4b) through PyAV: the one module that uses it.

PyAV carries FFmpeg's libraries in its wheels (about 100 MB installed), so it is an
optional extra, ``aac``; nothing imports it until an .m4a or .m4b is written.

FFmpeg's MP4 muxer (its "ipod" flavour, the one for .m4a and .m4b) writes the
chapters twice: as a QuickTime chapter track, which Apple's players (Books, Music,
Podcasts) read, and as a Nero ``chpl`` box, which others (and ffprobe) read. Both
must be known before the first packet, so the chapters come in with the audio;
the title, artist and album tags are written afterwards by tags.py, like every
other format's. An edit list drops the encoder's priming samples and gives the
exact length.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from .chapters import Chapter
from .errors import ExportError

#: The extra that brings PyAV.
EXTRA = "aac"
INSTALL_HINT = f"pip install 'voice-coach[{EXTRA}]'"
#: AAC bitrate per channel for voice-coach's quality 0 (smallest) to 10 (best), and
#: without one: speech at 22,050 Hz sounds clean from about 40 kbit/s.
LOWEST_KBPS = 24
KBPS_PER_STEP = 8
DEFAULT_KBPS = 48
#: FFmpeg's AAC encoder's coder: "fast" takes half the time of its default
#: ("twoloop") and sounds the same on speech (tests compare the envelopes).
AAC_CODER = "fast"


def available() -> bool:
    """Whether PyAV is installed (without importing it)."""
    return importlib.util.find_spec("av") is not None


def check_available(path: str | Path) -> None:
    """Raise ExportError, saying how to install it, when PyAV is missing."""
    if not available():
        raise ExportError(
            f"{path}: .m4a and .m4b need the {EXTRA} extra (PyAV, with FFmpeg's AAC "
            f"encoder); install it with: {INSTALL_HINT}"
        )


def bitrate(quality: float | None, channels: int) -> int:
    """The AAC bitrate in bit/s for voice-coach's ``quality`` (0 to 10, or None)."""
    kbps = DEFAULT_KBPS if quality is None else LOWEST_KBPS + KBPS_PER_STEP * quality
    return round(kbps * 1000 * channels)


def encode_mp4(
    path: str | Path,
    blocks: Iterable[np.ndarray],
    sample_rate: int,
    channels: int,
    quality: float | None = None,
    chapters: Sequence[Chapter] = (),
    audiobook: bool = False,
) -> int:
    """Encode int16 ``blocks`` as AAC into an MP4 file at ``path``, with ``chapters``
    (in samples at ``sample_rate``), branded an audiobook (``M4B``) if asked; returns
    the number of samples encoded.

    Raises ExportError when PyAV is missing, and RuntimeError for FFmpeg's errors.
    """
    check_available(path)
    import av

    layout = "mono" if channels == 1 else "stereo"
    try:
        brand = {"brand": "M4B "} if audiobook else {}
        container = av.open(str(path), "w", format="ipod", options=brand)
    except av.FFmpegError as error:
        raise RuntimeError(str(error)) from None
    samples = 0
    try:
        stream = container.add_stream("aac", rate=sample_rate, layout=layout)
        stream.bit_rate = bitrate(quality, channels)
        stream.codec_context.options = {"aac_coder": AAC_CODER}
        if chapters:
            container.set_chapters(
                [
                    {
                        "id": number,
                        "start": chapter.start_sample,
                        "end": chapter.end_sample,
                        "time_base": Fraction(1, sample_rate),
                        "metadata": {"title": chapter.title},
                    }
                    for number, chapter in enumerate(chapters, start=1)
                ]
            )
        for block in blocks:
            # PyAV takes packed samples as one row: (1, samples x channels).
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block, dtype=np.int16).reshape(1, -1),
                format="s16",
                layout=layout,
            )
            frame.sample_rate = sample_rate
            frame.pts = samples
            frame.time_base = Fraction(1, sample_rate)
            samples += len(block)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        container.close()  # writes the chapters and the index
    except av.FFmpegError as error:
        container.close()
        raise RuntimeError(str(error)) from None
    return samples
