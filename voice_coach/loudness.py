"""Loudness and peaks (ITU-R BS.1770): measuring them, and keeping speech peaks in check.

Pure: no I/O and no clock. The measuring is libebur128's (through pyebur128), the
reference implementation that ffmpeg and mpv use: it takes audio block by block
and keeps a fixed-size histogram, so a two-hour export measures in constant
memory. (pyloudnorm, which the tests use as an independent check, needs the
whole signal in memory and scipy, whose import alone took 75 MB here.)

* :class:`LoudnessMeter`: integrated, gated loudness of audio fed block by block.
* :func:`true_peak`: the BS.1770 true peak (oversampled) of one clip.
* :func:`limit_peaks`: a look-ahead peak limiter for single clips (numpy only).
"""

from __future__ import annotations

import math

import numpy as np

#: How long the limiter looks ahead of a peak, and holds its gain down after it.
LIMITER_SECONDS = 0.004


def decibels(ratio: float) -> float:
    """A linear amplitude ratio in dB (-inf for 0)."""
    return 20.0 * math.log10(ratio) if ratio > 0 else -math.inf


def ratio(decibel: float) -> float:
    """A level in dB as a linear amplitude ratio."""
    return 10.0 ** (decibel / 20.0)


class LoudnessMeter:
    """Integrated loudness (LUFS) of audio fed in consecutive blocks of any size.

    Feed float or int16 samples, ``(n,)`` for mono or ``(n, channels)``; left and
    right weigh 1, as BS.1770 has it. Then read :meth:`integrated`.
    """

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        import pyebur128

        modes = pyebur128.MeasurementMode
        # The histogram keeps memory fixed however long the audio is.
        self._state = pyebur128.R128State(
            channels, sample_rate, modes.MODE_I | modes.MODE_HISTOGRAM
        )
        self._loudness_of = pyebur128.get_loudness_global
        self.channels = channels

    def feed(self, block: np.ndarray) -> None:
        """Add the next ``block`` of samples (int16 counts 32768 as full scale)."""
        samples = np.ascontiguousarray(block)
        if samples.dtype not in (np.int16, np.float32, np.float64):
            samples = samples.astype(np.float64)
        frames = len(samples)
        if frames:
            self._state.add_frames(samples.reshape(-1), frames)

    def integrated(self) -> float:
        """The gated integrated loudness in LUFS so far (-inf for silence)."""
        return float(self._loudness_of(self._state))


def true_peak(samples: np.ndarray, sample_rate: int) -> float:
    """The true peak of float mono ``samples`` (linear, 1.0 = full scale), oversampled."""
    if len(samples) == 0:
        return 0.0
    import pyebur128

    # 20 ms of quiet on both sides lets the interpolator settle at the clip's edges.
    data = np.pad(np.asarray(samples, dtype=np.float64), 512)
    state = pyebur128.R128State(1, sample_rate, pyebur128.MeasurementMode.MODE_TRUE_PEAK)
    state.add_frames(data, len(data))
    return float(max(pyebur128.get_true_peak(state, 0), np.max(np.abs(data))))


def limit_peaks(clip: np.ndarray, ceiling: float, sample_rate: int) -> np.ndarray:
    """``clip`` with every sample peak brought down to ``ceiling`` by a smooth gain.

    A look-ahead limiter: the gain starts falling ``LIMITER_SECONDS`` before a
    peak and recovers over the same time after it, so a peak is lowered without
    clipping its waveform (which would add harshness). Loud vowels lose a few
    dB; everything else is untouched.
    """
    magnitude = np.abs(clip)
    if magnitude.size == 0 or float(magnitude.max()) <= ceiling:
        return clip
    radius = max(1, round(LIMITER_SECONDS * sample_rate))
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    # The minimum over +-radius, averaged over +-radius, is at every sample at most
    # the gain that sample needs, and changes smoothly.
    window = 2 * radius + 1
    padded = np.pad(needed, radius, mode="edge")
    held = np.lib.stride_tricks.sliding_window_view(padded, window).min(axis=1)
    sums = np.concatenate(([0.0], np.cumsum(np.pad(held, radius, mode="edge"))))
    gain = (sums[window:] - sums[:-window]) / window
    return (clip * np.minimum(gain, needed)).astype(clip.dtype)
