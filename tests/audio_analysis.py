"""Measurements on rendered samples, independent of the code's own bookkeeping."""

from __future__ import annotations

import functools
import re

import numpy as np

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
