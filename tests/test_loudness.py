"""The loudness meter, the true-peak meter and the limiter, checked against
independent code: libebur128 (through pyebur128, the meter voice-coach used before,
kept here as the reference), pyloudnorm on whole arrays, and scipy's filters.

pyebur128 has wheels up to CPython 3.12 only. The test extra installs it there, and
on those Pythons (CI runs 3.11) a missing pyebur128 fails this file's collection:
the comparison never silently disappears. From 3.13 on the comparisons with it skip,
saying why; the others still run.
"""

from __future__ import annotations

import sys
import tracemalloc

import numpy as np
import pyloudnorm
import pytest
import soundfile
from scipy.signal import sosfilt

from conftest import ROOT
from voice_coach.filters import BlockFilter
from voice_coach.loudness import (
    LoudnessMeter,
    TruePeakMeter,
    decibels,
    k_weighting,
    limit_peaks,
    oversampling,
    running_min,
    true_peak,
)

if sys.version_info < (3, 13):
    import pyebur128  # the reference: an ImportError here is a failure, not a skip
else:
    pyebur128 = None

needs_libebur128 = pytest.mark.skipif(
    pyebur128 is None, reason="pyebur128 (libebur128) has no wheels for Python 3.13+"
)

#: EBU Tech 3341 lets two meters differ by 0.1 LU; the two agree far closer (see below).
LU_TOLERANCE = 0.1
#: True peaks may differ by this much: see test_true_peak_agrees_with_libebur128.
TRUE_PEAK_TOLERANCE_DB = 0.2


def tone(rate: int, frequency: float, seconds: float = 6.0, phase: float = 0.0) -> np.ndarray:
    time_axis = np.arange(round(rate * seconds)) / rate
    return 0.3 * np.sin(2 * np.pi * frequency * time_axis + phase)


def signals(rate: int) -> dict[str, np.ndarray]:
    """Test signals at ``rate``: tones low and high, noise, quiet parts the gates drop,
    a part 20 LU down that the relative gate drops, and stereo."""
    rng = np.random.default_rng(rate)
    middle = tone(rate, 440)
    noise = rng.normal(0, 0.05, len(middle))
    bursts = middle * (np.arange(len(middle)) // (rate // 2) % 3 == 0)
    steps = middle * np.where(np.arange(len(middle)) < len(middle) // 2, 1.0, 0.1)
    return {
        "440 Hz": middle,
        "40 Hz": tone(rate, 40),
        "5 kHz": tone(rate, 5000),
        "noise": noise,
        "bursts and silence": bursts,
        "loud then 20 dB down": steps,
        "stereo": np.stack([bursts, noise * 0.5], axis=1),
    }


CASES = [(rate, name) for rate in (22050, 44100, 48000) for name in signals(rate)]


def chime_files() -> list:
    return sorted((ROOT / "sounds").rglob("*.wav"))


def channels_of(signal: np.ndarray) -> int:
    return 1 if signal.ndim == 1 else signal.shape[1]


def measured(signal: np.ndarray, rate: int) -> float:
    meter = LoudnessMeter(rate, channels_of(signal))
    meter.feed(signal)
    return meter.integrated()


def libebur128_loudness(signal: np.ndarray, rate: int, histogram: bool) -> float:
    modes = pyebur128.MeasurementMode
    mode = modes.MODE_I | (modes.MODE_HISTOGRAM if histogram else 0)
    state = pyebur128.R128State(channels_of(signal), rate, mode)
    data = np.ascontiguousarray(signal, dtype=np.float64)
    state.add_frames(data.reshape(-1), len(data))
    return pyebur128.get_loudness_global(state)


def libebur128_true_peak(samples: np.ndarray, rate: int) -> float:
    """libebur128's true peak of a mono clip, with silence around it (as true_peak has)."""
    data = np.pad(np.asarray(samples, dtype=np.float64), 512)
    state = pyebur128.R128State(1, rate, pyebur128.MeasurementMode.MODE_TRUE_PEAK)
    state.add_frames(data, len(data))
    return max(pyebur128.get_true_peak(state, 0), float(np.abs(data).max()))


def test_k_weighting_at_48_khz_is_the_standards_table():
    """ITU-R BS.1770-4, tables 1 and 2: the coefficients at 48 kHz."""
    (shelf_b, shelf_a), (high_b, high_a) = k_weighting(48000)
    assert shelf_b == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285])
    assert shelf_a == pytest.approx([1.0, -1.69065929318241, 0.73248077421585])
    assert high_b == pytest.approx([1.0, -2.0, 1.0])
    assert high_a == pytest.approx([1.0, -1.99004745483398, 0.99007225036621])


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000, 192000])
def test_the_block_filter_is_the_recursive_filter(rate):
    """Run as matrix products, a block at a time, the K-weighting gives what scipy's
    sample-by-sample recursion gives, to rounding."""
    sections = k_weighting(rate)
    block_filter = BlockFilter(sections)
    size = block_filter.BLOCK_SAMPLES
    signal = np.random.default_rng(rate).normal(0, 0.3, size * 5)
    state = block_filter.initial_state()
    pieces = []
    for start in range(0, len(signal), size):
        filtered, state = block_filter.run(signal[start : start + size], state)
        pieces.append(filtered)
    reference = sosfilt(np.array([[*b, *a] for b, a in sections]), signal)
    assert np.abs(np.concatenate(pieces) - reference).max() < 1e-9


@needs_libebur128
@pytest.mark.parametrize(("rate", "name"), CASES)
def test_integrated_loudness_agrees_with_libebur128(rate, name):
    """Within 0.1 LU of libebur128 with its histogram (what voice-coach used) and
    without it (exact gating); measured here, the exact ones agree within 0.0001 LU."""
    signal = signals(rate)[name]
    ours = measured(signal, rate)
    assert ours == pytest.approx(libebur128_loudness(signal, rate, histogram=False), abs=0.01)
    assert ours == pytest.approx(
        libebur128_loudness(signal, rate, histogram=True), abs=LU_TOLERANCE
    )


@needs_libebur128
@pytest.mark.parametrize("path", chime_files(), ids=lambda path: path.stem)
def test_the_shipped_sounds_measure_as_libebur128_measures_them(path):
    samples, rate = soundfile.read(str(path), dtype="float64")
    quiet = np.zeros(rate)
    padded = np.concatenate([quiet, samples, quiet])
    assert measured(padded, rate) == pytest.approx(
        libebur128_loudness(padded, rate, histogram=False), abs=0.01
    )
    assert decibels(true_peak(samples, rate)) == pytest.approx(
        decibels(libebur128_true_peak(samples, rate)), abs=TRUE_PEAK_TOLERANCE_DB
    )


@needs_libebur128
def test_speech_measures_as_libebur128_measures_it(hamstrings_program):
    """The real clips export measures: their true peaks set the export's gain."""
    rate = hamstrings_program.script.sample_rate
    clips = list(hamstrings_program.clips.values())[:12]
    for clip in clips:
        ours, theirs = decibels(true_peak(clip, rate)), decibels(libebur128_true_peak(clip, rate))
        assert ours == pytest.approx(theirs, abs=0.05)
    speech = np.concatenate(clips).astype(np.float64)
    assert measured(speech, rate) == pytest.approx(
        libebur128_loudness(speech, rate, histogram=False), abs=0.01
    )


def faded(signal: np.ndarray, rate: int) -> np.ndarray:
    """``signal`` faded in and out over 10 ms. Cut off abruptly, a tone has content up
    to the top of the band, where 4x meters part (see the full-band test)."""
    position = np.arange(len(signal))
    return signal * np.minimum(1.0, np.minimum(position, position[::-1]) / (0.01 * rate))


def band_limited_noise(rate: int, top: float = 0.35) -> np.ndarray:
    """A second of white noise with nothing above ``top`` of the sample rate."""
    spectrum = np.fft.rfft(np.random.default_rng(rate).normal(0, 0.1, rate))
    spectrum[round(len(spectrum) * top / 0.5) :] = 0
    return np.fft.irfft(spectrum, rate)


@needs_libebur128
@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_true_peak_agrees_with_libebur128(rate):
    """Both oversample 4 times, with different interpolators: libebur128 a 49-tap
    Hann-windowed sinc, ours a 97-tap Kaiser one that stays flat further up (within
    0.01 dB to 0.4 of the rate). On content below that (speech, chimes, these) they
    agree within 0.06 dB here. 0.2 dB is the overshoot EBU Tech 3341 tolerates in a
    true-peak meter."""
    for signal in (
        faded(tone(rate, rate / 4, seconds=1.0, phase=np.pi / 4), rate),  # samples 3 dB low
        faded(tone(rate, rate / 6, seconds=1.0, phase=np.pi / 3), rate),
        faded(tone(rate, 997, seconds=1.0), rate),
        faded(tone(rate, rate * 0.35, seconds=1.0, phase=0.3), rate),
        band_limited_noise(rate),
    ):
        assert decibels(true_peak(signal, rate)) == pytest.approx(
            decibels(libebur128_true_peak(signal, rate)), abs=TRUE_PEAK_TOLERANCE_DB
        )


@needs_libebur128
@pytest.mark.parametrize("rate", [22050, 44100, 48000])
def test_full_band_content_reads_no_lower_than_libebur128(rate):
    """White noise, and a tone cut off abruptly, peak partly in the top tenth of the
    band, where any 4x meter under-reads (both by up to 0.6 dB against 32x here) and
    the shorter filter more: ours read up to 0.26 dB higher, never lower."""
    signals = [np.random.default_rng(seed * rate).normal(0, 0.1, rate) for seed in range(4)]
    signals.append(tone(rate, rate * 0.35, seconds=1.0, phase=0.3))
    for signal in signals:
        ours, theirs = true_peak(signal, rate), libebur128_true_peak(signal, rate)
        assert decibels(ours) >= decibels(theirs) - 0.01


@pytest.mark.parametrize("rate", [22050, 48000])
@pytest.mark.parametrize(("divisor", "degrees"), [(4, 0.0), (4, 45.0), (6, 60.0), (8, 67.5)])
def test_ebu_tech_3341_true_peak_cases(rate, divisor, degrees):
    """EBU Tech 3341 cases 15 to 18: a half-scale sine at a quarter, sixth or eighth
    of the rate, sampled off its crests, reads -6.0 dBTP (+0.2/-0.4 dB)."""
    sine = tone(rate, rate / divisor, seconds=2.0, phase=np.radians(degrees)) * (0.5 / 0.3)
    assert -6.4 <= decibels(true_peak(faded(sine, rate), rate)) <= -5.8


def test_true_peak_finds_the_peak_between_samples():
    """A quarter-rate tone sampled 45 degrees off its crests: every sample is 3 dB
    under the waveform's peak, which the 4x interpolator lands on."""
    rate = 22050
    signal = faded(tone(rate, rate / 4, seconds=1.0, phase=np.pi / 4), rate)
    assert decibels(np.abs(signal).max() / 0.3) == pytest.approx(-3.01, abs=0.01)
    assert decibels(true_peak(signal, rate) / 0.3) == pytest.approx(0.0, abs=0.01)


def test_oversampling_follows_the_standard():
    assert [oversampling(rate) for rate in (22050, 48000, 96000, 192000)] == [4, 4, 2, 1]


@pytest.mark.parametrize("rate", [22050, 48000])
def test_any_split_into_blocks_gives_the_same_figures(rate):
    """Fed whole, or in odd pieces across every internal boundary, or as int16: the
    same loudness to the last bit, and the same true peak."""
    for signal in signals(rate).values():
        channels = channels_of(signal)
        whole, pieces = LoudnessMeter(rate, channels), LoudnessMeter(rate, channels)
        peak_whole, peak_pieces = TruePeakMeter(rate, channels), TruePeakMeter(rate, channels)
        whole.feed(signal)
        peak_whole.feed(signal)
        position = 0
        for size in [1, 0, 999, 4096, 8191, 4800, 70000, 3]:
            pieces.feed(signal[position : position + size])
            peak_pieces.feed(signal[position : position + size])
            position += size
        pieces.feed(signal[position:])
        peak_pieces.feed(signal[position:])
        assert pieces.integrated() == whole.integrated()
        assert peak_pieces.peak == pytest.approx(peak_whole.peak, rel=1e-12)
        as_int16 = LoudnessMeter(rate, channels)
        as_int16.feed(np.round(signal * 32767).astype(np.int16))
        assert as_int16.integrated() == pytest.approx(whole.integrated(), abs=0.001)


def test_reading_the_meter_midway_changes_nothing():
    rate = 22050
    signal = signals(rate)["bursts and silence"]
    meter, untouched = LoudnessMeter(rate), LoudnessMeter(rate)
    meter.feed(signal[:30000])
    midway = meter.integrated()
    meter.feed(signal[30000:])
    untouched.feed(signal)
    assert midway == pytest.approx(measured(signal[:30000], rate), abs=1e-12)
    assert meter.integrated() == untouched.integrated()


def test_silence_and_sound_under_the_absolute_gate_are_minus_infinity():
    rate = 22050
    assert measured(np.zeros(rate * 3), rate) == -np.inf
    assert measured(tone(rate, 440) * 1e-5, rate) == -np.inf  # about -100 LUFS
    assert measured(np.zeros(100), rate) == -np.inf  # shorter than one gating block


def test_the_meter_keeps_a_fixed_amount_of_memory():
    """What the meter holds after a minute of audio and after ten is the same size:
    a histogram, not the samples nor one value per gating block."""
    rate = 22050
    block = np.random.default_rng(1).normal(0, 0.1, 65536)

    def held_after(minutes: int) -> int:
        tracemalloc.start()
        meter = LoudnessMeter(rate)
        for _ in range(minutes * 60 * rate // len(block)):
            meter.feed(block)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert meter.integrated() > -30
        return held

    assert held_after(10) <= held_after(1) + 4096


def test_the_streaming_meter_agrees_with_pyloudnorm():
    """At 48 kHz, the rate BS.1770 specifies its filter for, our meter fed in odd
    blocks and pyloudnorm given the whole array agree within the 0.1 LU that EBU Tech
    3341 allows meters."""
    rate = 48000
    for name in ("bursts and silence", "noise", "stereo"):
        signal = signals(rate)[name]
        assert measured(signal, rate) == pytest.approx(
            pyloudnorm.Meter(rate).integrated_loudness(signal), abs=LU_TOLERANCE
        )


def test_the_limiter_brings_peaks_to_the_ceiling_and_leaves_the_rest():
    rate = 22050
    time_axis = np.arange(rate) / rate
    clip = (0.2 * np.sin(2 * np.pi * 200 * time_axis)).astype(np.float32)
    clip[11000:11050] *= 4.5  # one loud burst
    limited = limit_peaks(clip, 0.4, rate)
    assert len(limited) == len(clip)
    assert np.abs(limited).max() <= 0.4 + 1e-6
    assert np.array_equal(limited[:10000], clip[:10000])  # far from the burst: untouched
    assert true_peak(limited, rate) < 0.45


@pytest.mark.parametrize("window", [1, 2, 7, 177, 1000])
def test_the_running_minimum_is_the_minimum_of_each_window(window):
    values = np.random.default_rng(window).normal(size=3001)
    expected = np.lib.stride_tricks.sliding_window_view(values, window).min(axis=1)
    assert np.array_equal(running_min(values, window), expected)
