#!/usr/bin/env python3
"""Synthesise the chimes in sounds/ (reproducible and license-clean).

Run from anywhere: ``python scripts/make_sounds.py [OUT_DIR]`` (default: the
project's sounds/ folder). Each chime is a sum of decaying sine partials, like a
small struck bell, written as 16-bit mono WAV at the project's sample rate.
The file ends once the tail has decayed below -66 dBFS, so a chime's length is
its whole audible extent.
"""

from __future__ import annotations

import math
import sys
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
PEAK = 0.55  # about -5 dBFS: just under the limited speech peaks; quieter than speech
END_LEVEL = 10 ** (-66 / 20)
ATTACK_SECONDS = 0.002
#: Inharmonic partials of a small bell: (ratio to the note, relative level).
BELL_PARTIALS = ((1.0, 1.0), (2.0, 0.45), (2.76, 0.25), (5.4, 0.08))


def bell(frequency: float, decay_seconds: float, length: int) -> np.ndarray:
    """A struck-bell note of ``length`` samples, peaking near 1.0."""
    time = np.arange(length) / SAMPLE_RATE
    note = np.zeros(length)
    for ratio, level in BELL_PARTIALS:
        # Higher partials die away faster, as on a real bell.
        note += (
            level
            * np.sin(2 * np.pi * frequency * ratio * time)
            * np.exp(-time * ratio / decay_seconds)
        )
    attack = np.minimum(1.0, time / ATTACK_SECONDS)
    return note * attack / sum(level for _, level in BELL_PARTIALS)


def chime(notes: list[tuple[float, float]], decay_seconds: float) -> np.ndarray:
    """Notes given as (start seconds, frequency), each a bell with the same decay."""
    last_start = max(start for start, _ in notes)
    tail = decay_seconds * math.log(PEAK / END_LEVEL)
    length = round((last_start + tail) * SAMPLE_RATE)
    out = np.zeros(length)
    for start, frequency in notes:
        offset = round(start * SAMPLE_RATE)
        out[offset:] += bell(frequency, decay_seconds, length - offset)
    out *= PEAK / np.max(np.abs(out))
    # A short fade guarantees the last samples are below the end level.
    fade = round(0.03 * SAMPLE_RATE)
    out[-fade:] *= np.linspace(1.0, 0.0, fade)
    return out


SOUNDS = {
    # Bright single strike: the hold begins.
    "hold-start": chime([(0.0, 1046.5)], decay_seconds=0.11),
    # Lower double strike: the hold is over.
    "hold-end": chime([(0.0, 784.0), (0.16, 587.3)], decay_seconds=0.12),
    # Rising arpeggio: the routine is done.
    "finish": chime([(0.0, 523.3), (0.18, 659.3), (0.36, 784.0), (0.54, 1046.5)], 0.2),
}


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write float samples in [-1, 1] as 16-bit mono PCM."""
    pcm = np.rint(samples * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())


def main(argv: list[str]) -> int:
    """Write every chime into the given folder, or the project's sounds/."""
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "sounds"
    folder.mkdir(parents=True, exist_ok=True)
    for name, samples in SOUNDS.items():
        write_wav(folder / f"{name}.wav", samples)
        print(f"{folder / name}.wav: {len(samples) / SAMPLE_RATE:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
