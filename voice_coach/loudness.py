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
    dB; everything else is untouched. Worked out block by block, so a long clip
    costs a few blocks of memory beyond itself.
    """
    if clip.size == 0 or max(float(clip.max()), -float(clip.min())) <= ceiling:
        return clip
    radius = max(1, round(LIMITER_SECONDS * sample_rate))
    limited = np.empty_like(clip)
    for start in range(0, clip.size, _LIMITER_BLOCK):
        end = min(clip.size, start + _LIMITER_BLOCK)
        gain = _limiter_gain(clip, start, end, radius, ceiling)
        limited[start:end] = clip[start:end] * gain
    return limited


#: Samples the limiter works out at a time.
_LIMITER_BLOCK = 65536


def _limiter_gain(
    clip: np.ndarray, start: int, end: int, radius: int, ceiling: float
) -> np.ndarray:
    """The limiter's gain for ``clip[start:end]``: at each sample, the minimum over
    +-radius of the gain each sample needs, averaged over +-radius. That is at every
    sample at most the gain it needs, and changes smoothly. Beyond the clip's ends the
    first and last values repeat, as if the clip were padded with them."""
    window = 2 * radius + 1
    last = clip.size - 1
    # The gain needed from start - 2 radius to end + 2 radius (edges repeated) ...
    indices = np.clip(np.arange(start - 2 * radius, end + 2 * radius), 0, last)
    magnitude = np.abs(clip[indices].astype(np.float64))
    needed = np.minimum(1.0, ceiling / np.maximum(magnitude, 1e-12))
    # ... its running minimum, from start - radius to end + radius ...
    held = np.lib.stride_tricks.sliding_window_view(needed, window).min(axis=1)
    positions = np.arange(start - radius, end + radius)
    if positions[0] < 0:
        held[positions < 0] = held[positions == 0]
    if positions[-1] > last:
        held[positions > last] = held[positions == last]
    # ... and that minimum's running average, from start to end.
    sums = np.concatenate(([0.0], np.cumsum(held)))
    gain = (sums[window:] - sums[:-window]) / window
    return np.minimum(gain, needed[2 * radius : 2 * radius + end - start])
