"""Loudness and peaks (ITU-R BS.1770-4): measuring them, and keeping speech peaks in check.

Pure: no I/O and no clock, and numpy only, so it installs from wheels wherever
numpy does. Audio is measured as it streams past, so a two-hour export measures
in constant memory.

* :class:`LoudnessMeter`: integrated, gated loudness of audio fed block by block.
* :class:`TruePeakMeter`: the true peak (oversampled) of audio fed block by block;
  :func:`true_peak` of one clip.
* :func:`limit_peaks`: a look-ahead peak limiter for single clips.

The figures agree with libebur128 (the reference implementation ffmpeg and mpv
use, which voice-coach used before) within 0.01 LU and 0.2 dB of true peak on
the signals tests/test_loudness.py compares.
"""

from __future__ import annotations

import math

import numpy as np

from .filters import BlockFilter, Interpolator

#: How long the limiter looks ahead of a peak, and holds its gain down after it.
LIMITER_SECONDS = 0.004

#: The K-weighting's first stage, a high shelf (+4 dB above about 1.7 kHz), as
#: centre frequency (Hz), gain (dB), Q and the exponent of its mid-band gain:
#: the parameters Brecht De Man fitted to BS.1770's 48 kHz coefficients, which
#: pyloudnorm publishes (its "DeMan" filters) and libebur128 uses. They give the
#: standard's coefficients at 48 kHz and the same filter at any other rate.
SHELF = (1681.9744509555319, 3.99984385397, 0.7071752369554193, 0.499666774155)
#: The second stage, the RLB high-pass: corner frequency (Hz) and Q.
HIGH_PASS = (38.13547087613982, 0.5003270373253953)

#: BS.1770 gating: 400 ms blocks, a new one every 100 ms (75 % overlap).
SEGMENTS_PER_BLOCK = 4
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
#: Channel weights in BS.1770's order: left, right, centre, left and right surround.
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
#: Width of the block-loudness histogram's bins, and its top (louder blocks count
#: in the top bin, their energy exact).
BIN_LU = 0.01
HISTOGRAM_TOP_LUFS = 30.0


def decibels(ratio: float) -> float:
    """A linear amplitude ratio in dB (-inf for 0)."""
    return 20.0 * math.log10(ratio) if ratio > 0 else -math.inf


def ratio(decibel: float) -> float:
    """A level in dB as a linear amplitude ratio."""
    return 10.0 ** (decibel / 20.0)


def k_weighting(sample_rate: int) -> list[tuple[list[float], list[float]]]:
    """The K-weighting filter at ``sample_rate``: two biquads as (numerator, denominator).

    Each stage is its analog prototype through the bilinear transform, warped
    so that its corner frequency lands where it should at every rate.
    """
    centre, gain_db, q, mid_exponent = SHELF
    warped = math.tan(math.pi * centre / sample_rate)
    high = 10.0 ** (gain_db / 20.0)
    mid = high**mid_exponent
    poles = _poles(warped, q)
    shelf = (
        [
            (high + mid * warped / q + warped**2) / poles[0],
            2.0 * (warped**2 - high) / poles[0],
            (high - mid * warped / q + warped**2) / poles[0],
        ],
        [1.0, poles[1] / poles[0], poles[2] / poles[0]],
    )
    corner, q = HIGH_PASS
    poles = _poles(math.tan(math.pi * corner / sample_rate), q)
    # The standard's high-pass numerator is 1, -2, 1 as it stands, not divided by a0.
    high_pass = ([1.0, -2.0, 1.0], [1.0, poles[1] / poles[0], poles[2] / poles[0]])
    return [shelf, high_pass]


def _poles(warped: float, q: float) -> tuple[float, float, float]:
    """The denominator (a0, a1, a2) of a bilinear-transformed second-order section."""
    return 1.0 + warped / q + warped**2, 2.0 * (warped**2 - 1.0), 1.0 - warped / q + warped**2


def _as_frames(block: np.ndarray, channels: int) -> np.ndarray:
    """``block`` as float64 frames x channels (int16 counts 32768 as full scale)."""
    samples = np.asarray(block)
    scale = 1.0 / 32768.0 if samples.dtype == np.int16 else 1.0
    frames = samples.astype(np.float64) * scale
    if frames.ndim == 1:
        frames = frames[:, np.newaxis]
    if frames.shape[1] != channels:
        raise ValueError(f"expected {channels} channel(s), got {frames.shape[1]}")
    return frames


def _block_loudness(energy: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(energy)


class LoudnessMeter:
    """Integrated loudness (LUFS) of audio fed in consecutive blocks of any size.

    Feed float or int16 samples, ``(n,)`` for mono or ``(n, channels)`` in BS.1770's
    order (left, right and centre weigh 1, the surrounds 1.41). Then read
    :meth:`integrated`.

    Memory stays fixed however long the audio is: the gating blocks' energies go
    into a histogram of 0.01 LU bins (like libebur128's, which has 0.1 LU bins),
    each keeping its count and the exact sum of its energies, so the gated mean
    is exact; only a block within 0.005 LU of the relative gate is kept or
    dropped with its bin.
    """

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        if not 1 <= channels <= len(CHANNEL_WEIGHTS):
            raise ValueError(f"BS.1770 weighs 1 to {len(CHANNEL_WEIGHTS)} channels, not {channels}")
        self.channels = channels
        self._weights = np.array(CHANNEL_WEIGHTS[:channels])
        self._filter = BlockFilter(k_weighting(sample_rate))
        self._states = [self._filter.initial_state() for _ in range(channels)]
        #: Samples in 100 ms, rounded as libebur128 rounds them.
        self._segment = (sample_rate + 5) // 10
        self._unfiltered = np.zeros((0, channels))  # less than one filter block
        self._power = np.zeros(0)  # weighted squares of the unfinished segment
        self._recent = np.zeros(0)  # the last three segments' sums
        bins = round((HISTOGRAM_TOP_LUFS - ABSOLUTE_GATE_LUFS) / BIN_LU)
        self._counts = np.zeros(bins, dtype=np.int64)
        self._energies = np.zeros(bins)

    def feed(self, block: np.ndarray) -> None:
        """Add the next ``block`` of samples (int16 counts 32768 as full scale)."""
        frames = np.concatenate([self._unfiltered, _as_frames(block, self.channels)])
        whole = len(frames) - len(frames) % self._filter.BLOCK_SAMPLES
        if whole:
            power, self._states = self._weighted_power(frames[:whole], self._states)
            energies, self._power, self._recent = self._gating_blocks(power)
            self._add(self._counts, self._energies, energies)
        self._unfiltered = frames[whole:]

    def integrated(self) -> float:
        """The gated integrated loudness in LUFS so far (-inf for silence)."""
        counts, energies = self._counts, self._energies
        if len(self._unfiltered):
            # The unfinished filter block, padded with silence, may finish segments.
            padded = np.zeros((self._filter.BLOCK_SAMPLES, self.channels))
            padded[: len(self._unfiltered)] = self._unfiltered
            power, _ = self._weighted_power(padded, self._states)
            tail, _, _ = self._gating_blocks(power[: len(self._unfiltered)])
            counts, energies = counts.copy(), energies.copy()
            self._add(counts, energies, tail)
        kept = counts.sum()
        if kept == 0:
            return -math.inf
        gate = float(_block_loudness(energies.sum() / kept)) + RELATIVE_GATE_LU
        # A bin counts as above the gate when its centre is.
        first = min(max(0, math.ceil((gate - ABSOLUTE_GATE_LUFS) / BIN_LU - 0.5)), len(counts))
        if counts[first:].sum() == 0:
            return -math.inf
        return float(_block_loudness(energies[first:].sum() / counts[first:].sum()))

    def _weighted_power(self, frames: np.ndarray, states: list) -> tuple[np.ndarray, list]:
        """Each frame's K-weighted, channel-weighted power, and the filters' new states.

        ``frames`` is a whole number of filter blocks.
        """
        power = np.zeros(len(frames))
        after = []
        size = self._filter.BLOCK_SAMPLES
        for channel, weight in enumerate(self._weights):
            samples = np.ascontiguousarray(frames[:, channel])
            state = states[channel]
            for start in range(0, len(samples), size):
                filtered, state = self._filter.run(samples[start : start + size], state)
                np.square(filtered, out=filtered)
                if weight != 1.0:
                    filtered *= weight
                power[start : start + size] += filtered
            after.append(state)
        return power, after

    def _gating_blocks(self, power: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean-square energies of the gating blocks that ``power`` completes, with the
        unfinished segment's power and the last three segments' sums to carry on."""
        power = np.concatenate([self._power, power])
        whole = len(power) - len(power) % self._segment
        sums = np.concatenate([self._recent, power[:whole].reshape(-1, self._segment).sum(axis=1)])
        count = len(sums) - SEGMENTS_PER_BLOCK + 1
        energies = np.zeros(max(0, count))
        for offset in range(SEGMENTS_PER_BLOCK):
            energies += sums[offset : offset + len(energies)]
        energies /= SEGMENTS_PER_BLOCK * self._segment
        return energies, power[whole:], sums[-(SEGMENTS_PER_BLOCK - 1) :]

    @staticmethod
    def _add(counts: np.ndarray, energies: np.ndarray, blocks: np.ndarray) -> None:
        """Count ``blocks`` (energies) above the absolute gate into the histogram."""
        loudness = _block_loudness(blocks)
        above = loudness > ABSOLUTE_GATE_LUFS
        bins = np.minimum(
            ((loudness[above] - ABSOLUTE_GATE_LUFS) / BIN_LU).astype(np.int64), len(counts) - 1
        )
        np.add.at(counts, bins, 1)
        np.add.at(energies, bins, blocks[above])


def oversampling(sample_rate: int) -> int:
    """How many times BS.1770 true peak oversamples at ``sample_rate``: 4 below
    96 kHz, 2 below 192 kHz, none above."""
    return 4 if sample_rate < 96000 else 2 if sample_rate < 192000 else 1


class TruePeakMeter:
    """The true peak (linear, 1.0 = full scale) of audio fed in consecutive blocks.

    The samples are upsampled (see :func:`oversampling`) and the largest
    magnitude kept, never less than the largest sample. The interpolator's
    input history carries across blocks, so any split gives the same peak.
    """

    #: Samples upsampled per matrix product (kept under OpenBLAS's threading threshold).
    PIECE_SAMPLES = 2048

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        self.channels = channels
        self._interpolator = Interpolator(oversampling(sample_rate))
        self._history = np.zeros((self._interpolator.history, channels))
        self.peak = 0.0

    def feed(self, block: np.ndarray) -> None:
        """Add the next ``block`` of samples (int16 counts 32768 as full scale)."""
        frames = _as_frames(block, self.channels)
        if not len(frames):
            return
        self.peak = max(self.peak, float(np.abs(frames).max()))
        if self._interpolator.factor > 1:
            samples = np.concatenate([self._history, frames])
            history = self._interpolator.history
            for start in range(0, len(frames), self.PIECE_SAMPLES):
                piece = samples[start : start + self.PIECE_SAMPLES + history]
                for channel in range(self.channels):
                    upsampled = self._interpolator.run(np.ascontiguousarray(piece[:, channel]))
                    self.peak = max(self.peak, float(np.abs(upsampled).max()))
            self._history = samples[len(samples) - history :]

    def ring_out(self) -> None:
        """Feed the silence the interpolator needs to reach the last samples fed."""
        self.feed(np.zeros((self._interpolator.history, self.channels)))


def true_peak(samples: np.ndarray, sample_rate: int) -> float:
    """The true peak of float mono ``samples`` (linear, 1.0 = full scale), oversampled,
    as a clip with silence before and after it."""
    meter = TruePeakMeter(sample_rate)
    meter.feed(samples)
    meter.ring_out()
    return meter.peak


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


def running_min(values: np.ndarray, window: int) -> np.ndarray:
    """The minimum of every ``window`` consecutive ``values`` (``len(values) - window + 1``
    of them), in time linear in the length whatever the window (van Herk and
    Gil-Werman: minima running forward and backward within blocks of ``window``)."""
    count = values.size - window + 1
    padded = np.concatenate((values, np.full(-values.size % window, np.inf)))
    blocks = padded.reshape(-1, window)
    forward = np.minimum.accumulate(blocks, axis=1).ravel()
    backward = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(backward[:count], forward[window - 1 : window - 1 + count])


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
    held = running_min(needed, window)
    positions = np.arange(start - radius, end + radius)
    if positions[0] < 0:
        held[positions < 0] = held[positions == 0]
    if positions[-1] > last:
        held[positions > last] = held[positions == last]
    # ... and that minimum's running average, from start to end.
    sums = np.concatenate(([0.0], np.cumsum(held)))
    gain = (sums[window:] - sums[:-window]) / window
    return np.minimum(gain, needed[2 * radius : 2 * radius + end - start])
