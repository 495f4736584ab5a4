"""Measurements on rendered samples, independent of the code's own bookkeeping."""

from __future__ import annotations

import functools
import re

import numpy as np

from voice_coach.mixer import FLOOR_PEAK

#: A sample above this (-40 dBFS) is sound; the noise floor stays near -72 dBFS.
SOUND = 0.01


def as_float(pcm: np.ndarray) -> np.ndarray:
    """int16 samples as float64 in [-1, 1)."""
    return pcm.astype(np.float64) / 32768.0


def first_sound(audio: np.ndarray, start: int, stop: int) -> int | None:
    """Index of the first sample above SOUND in ``audio[start:stop]``, or None."""
    loud = np.flatnonzero(np.abs(audio[start:stop]) > SOUND)
    return start + int(loud[0]) if loud.size else None


def onsets(audio: np.ndarray, start: int, stop: int, quiet_samples: int) -> list[int]:
    """Starts of sounds in ``audio[start:stop]`` preceded by at least ``quiet_samples`` of quiet."""
    loud = np.flatnonzero(np.abs(audio[start:stop]) > SOUND)
    found = []
    previous = None
    for index in loud:
        if previous is None or index - previous > quiet_samples:
            found.append(start + int(index))
        previous = index
    return found


def template_positions(
    audio: np.ndarray, template: np.ndarray, threshold: float = 0.95
) -> list[int]:
    """Every sample position where ``template`` occurs in ``audio``, by normalised
    cross-correlation (FFT based), strongest match per occurrence."""
    size = 1 << int(np.ceil(np.log2(len(audio) + len(template))))
    correlation = np.fft.irfft(
        np.fft.rfft(audio, size) * np.conj(np.fft.rfft(template, size)), size
    )[: len(audio) - len(template) + 1]
    cumulative = np.concatenate(([0.0], np.cumsum(audio**2)))
    energy = cumulative[len(template) :] - cumulative[: -len(template)]
    norm = np.sqrt(np.maximum(energy, 1e-12) * float(np.sum(template**2)))
    score = correlation / norm
    candidates = np.flatnonzero(score > threshold)
    positions: list[int] = []
    for index in candidates:
        if positions and index - positions[-1] < len(template):
            if score[index] > score[positions[-1]]:
                positions[-1] = int(index)
            continue
        positions.append(int(index))
    return positions


def frame_peaks(audio: np.ndarray, frame: int) -> np.ndarray:
    """Peak absolute level of each whole frame of ``frame`` samples."""
    usable = len(audio) // frame * frame
    return np.abs(audio[:usable]).reshape(-1, frame).max(axis=1)


def dbfs(level: float) -> float:
    """A linear level as dBFS."""
    return 20 * np.log10(max(level, 1e-12))


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, as a speech recogniser writes them."""
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def word_accuracy(reference: str, heard: str) -> float:
    """1 - word error rate (Levenshtein distance over words), at least 0."""
    ref, hyp = words(reference), words(heard)
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            diagonal, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word)),
            )
    return max(0.0, 1 - row[len(hyp)] / max(1, len(ref)))


@functools.cache
def _decoder():
    """pocketsphinx's decoder with its US English model, made once: loading the model
    takes seconds, and one decoder serves every utterance."""
    from pocketsphinx import Decoder

    return Decoder(samprate=16000)


def recognise(clip: np.ndarray, sample_rate: int) -> str:
    """What pocketsphinx's US English model (inside its package) hears in ``clip``."""
    import soxr

    pcm = np.clip(soxr.resample(clip, sample_rate, 16000) * 32767, -32768, 32767)
    decoder = _decoder()
    decoder.start_utt()
    decoder.process_raw(pcm.astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


#: Samples compared to place a piece of a recording in the rendered audio.
PROBE = 512


def find_in(recorded: np.ndarray, expected: np.ndarray, at: int, low: int, high: int) -> int | None:
    """The offset o in [low, high] for which ``recorded[at + o:]`` starts with
    ``expected[at : at + PROBE]`` exactly, or None."""
    probe = expected[at : at + PROBE]
    for offset in range(low, high + 1):
        start = at + offset
        if start >= 0 and np.array_equal(recorded[start : start + len(probe)], probe):
            return offset
    return None


def joins(
    recorded: np.ndarray, expected: np.ndarray, start: int, offset: int, reach: int
) -> tuple[list[tuple[int, int]], int]:
    """Follow ``expected`` from ``start`` through ``recorded`` (where
    ``recorded[start + offset]`` is ``expected[start]``) and find where the recording
    jumps: the joins of an output that plays one buffer after another, each started
    on its own.

    Returns ([(expected index, shift in samples)], how far it matched): at each
    join the rest of ``expected`` is found again within ``reach`` samples either
    side. A positive shift is a gap (the next buffer started late: digital silence
    between them), a negative one an overlap (it started early: both played at once).
    """
    found = []
    at = max(start, -offset)
    end = min(len(expected), len(recorded) - offset)
    while at < end:
        same = recorded[at + offset : end + offset] == expected[at:end]
        wrong = np.flatnonzero(~same)
        if wrong.size == 0:
            return found, end
        first = at + int(wrong[0])
        # Past the disturbance (an overlap is the two buffers summed), find it again.
        again = first + 2 * reach
        if again + PROBE > end:
            return found, first
        new = find_in(recorded, expected, again, offset - reach, offset + reach)
        if new is None:
            return found, first
        found.append((first, new - offset))
        offset, at = new, again
    return found, end


def start_of(captured: np.ndarray, expected: np.ndarray, sample_rate: int) -> int:
    """Where ``expected`` begins in ``captured``: PortAudio primes the device with a
    little digital silence before the first block it was given."""
    probe = expected[:512]
    for offset in range(min(len(captured) - len(probe), sample_rate // 2) + 1):
        if np.array_equal(captured[offset : offset + len(probe)], probe):
            assert not captured[:offset].any(), "the priming before the audio is not silent"
            return offset
    raise AssertionError("the rendered audio does not start within 0.5 s of the capture")


def assert_same_audio(captured: np.ndarray, expected: np.ndarray, sample_rate: int) -> None:
    """``captured`` is ``expected`` sample for sample, after a little silent priming and
    before at most a little silent padding (the last block is filled out)."""
    assert captured.dtype == np.int16 and expected.dtype == np.int16
    captured = captured[start_of(captured, expected, sample_rate) :]
    assert len(captured) >= len(expected), (
        f"the device got {len(captured)} samples, the rendered audio has {len(expected)}"
    )
    head = captured[: len(expected)]
    differing = np.flatnonzero(head != expected)
    assert differing.size == 0, (
        f"{differing.size} samples differ, first at sample {differing[0]} "
        f"(device {head[differing[0]]}, rendered {expected[differing[0]]})"
    )
    padding = captured[len(expected) :]
    assert len(padding) < sample_rate, f"{len(padding)} extra samples after the end"
    if padding.size:
        assert int(np.abs(padding.astype(np.int32)).max()) <= FLOOR_PEAK, "padding is not silent"


def without_waiting(captured: np.ndarray, minimum: int = 64) -> np.ndarray:
    """``captured`` with every run of at least ``minimum`` exact zeros taken out.

    The player outputs digital silence only while it waits: PortAudio priming the
    device, the routine not ready yet when an unpaced device has already taken the
    pre-roll or the first step, and the padding after the end. The routine itself
    always carries its noise floor, so it never has such a run.
    """
    zero = np.concatenate(([False], captured == 0, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(zero)).reshape(-1, 2)
    keep = np.ones(len(captured), dtype=bool)
    for first, end in edges:
        if end - first >= minimum:
            keep[first:end] = False
    return captured[keep]
