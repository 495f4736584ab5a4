#!/usr/bin/env python3
"""Synthesise the built-in sound sets in sounds/ (reproducible and license-clean).

Run from anywhere: ``python scripts/make_sounds.py [OUT_DIR]`` (default: the
project's sounds/ folder). Every sound is computed here with numpy, from fixed
numbers and fixed noise seeds, and written as 16-bit mono WAV at the project's
sample rate and peak level, so running the script twice writes identical files.

Four sets, each with the four sounds a routine uses. Within a set they differ
in pitch and rhythm, and follow one plan: hold-start is a single higher strike,
hold-end a lower (or falling) one, last-set a pair of strikes, finish a figure
of three or more notes.

- chime: a small struck bell (four inharmonic partials); the default set. Its
  hold-start, hold-end and finish are the chimes voice-coach always had.
- bell: a larger bell (hum, prime, minor-third tierce, nominal and upper
  partials, each a slightly detuned pair that beats), ringing long and faded
  out within 1.2 s; its hold-end is damped, its finish a falling peal.
- woodblock: a short knock: a band-limited noise burst for the stick's impact
  plus three quickly damped resonances of the block.
- beep: soft sine tones with a gentle attack and release that fade as they
  sound, so at the same peak they are quieter than the chimes.

Each file ends once its tail has decayed below -66 dBFS (a short fade makes
sure), so a sound's length is its whole audible extent.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import wave
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_coach.sounds import (  # noqa: E402
    PEAK,
    SOUND_NAMES,
    SOUND_SETS,
    sound_file_name,
)

SAMPLE_RATE = 22050
END_LEVEL = 10 ** (-66 / 20)
ATTACK_SECONDS = 0.002
#: Inharmonic partials of a small bell: (ratio to the note, relative level).
BELL_PARTIALS = ((1.0, 1.0), (2.0, 0.45), (2.76, 0.25), (5.4, 0.08))


# --- chime: the default set ----------------------------------------------------------


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


# --- shared by the bell, woodblock and beep sets, each at most 1.2 s long ---------------

#: A voice: (frequency, length in samples) -> one note, peaking near 1.0.
Voice = Callable[[float, int], np.ndarray]


def figure(
    voice: Voice,
    notes: Sequence[tuple[float, ...]],
    seconds: float,
    fade_seconds: float,
) -> np.ndarray:
    """Notes as (start seconds, frequency[, level]) played by ``voice`` into a sound of
    ``seconds``, scaled to :data:`PEAK`, its last ``fade_seconds`` faded out."""
    length = round(seconds * SAMPLE_RATE)
    out = np.zeros(length)
    for start, frequency, *level in notes:
        offset = round(start * SAMPLE_RATE)
        out[offset:] += (level[0] if level else 1.0) * voice(frequency, length - offset)
    out *= PEAK / np.max(np.abs(out))
    # A raised-cosine fade: a long one cuts a ringing bell short without a click.
    fade = round(fade_seconds * SAMPLE_RATE)
    out[-fade:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
    return out


def attack(length: int, seconds: float = ATTACK_SECONDS) -> np.ndarray:
    """A linear rise over ``seconds``, then 1: takes the click out of a note's start."""
    return np.minimum(1.0, np.arange(length) / (seconds * SAMPLE_RATE))


# --- bell: a larger bell ---------------------------------------------------------------

#: A tuned bell's partials relative to its strike note (the prime): (ratio, level,
#: decay seconds). The hum an octave below rings longest, the minor-third tierce
#: gives a bell its sound, the upper partials make the strike and die first.
LARGE_BELL_PARTIALS = (
    (0.5, 0.40, 0.55),
    (1.0, 0.60, 0.40),
    (1.19, 0.50, 0.32),
    (2.0, 1.00, 0.26),
    (2.66, 0.20, 0.10),
    (4.16, 0.08, 0.04),
)
#: Each partial is a pair split by this fraction of its frequency: a bell is never
#: perfectly round, and the pair's slow beat is its shimmer.
BEAT_SPLIT = 0.004


def large_bell(frequency: float, length: int, ring: float = 1.0) -> np.ndarray:
    """One strike of a larger bell whose prime is ``frequency``; ``ring`` scales how
    long it rings (below 1: a bell damped by a hand)."""
    time = np.arange(length) / SAMPLE_RATE
    note = np.zeros(length)
    for ratio, level, decay in LARGE_BELL_PARTIALS:
        partial = frequency * ratio
        pair = np.sin(2 * np.pi * partial * time) + 0.5 * np.sin(
            2 * np.pi * partial * (1 + BEAT_SPLIT) * time + 1.0
        )
        note += level * pair * np.exp(-time / (decay * ring))
    return note * attack(length)


def damped_bell(frequency: float, length: int) -> np.ndarray:
    """A strike of the larger bell, damped soon after: a release rather than a call."""
    return large_bell(frequency, length, ring=0.4)


# --- woodblock: a knock ----------------------------------------------------------------

#: The block's resonances relative to its pitch: (ratio, level, decay seconds).
BLOCK_MODES = ((1.0, 1.0, 0.045), (2.41, 0.35, 0.022), (4.05, 0.12, 0.012))
#: The stick's impact: a burst of noise this long, limited to this band (Hz).
IMPACT_SECONDS = 0.004
IMPACT_BAND = (1200.0, 6000.0)
IMPACT_LEVEL = 0.6
#: Seed of the impact noise. numpy's legacy RandomState keeps its stream fixed
#: across numpy versions, which the newer Generator does not promise.
IMPACT_SEED = 6


def impact_noise() -> np.ndarray:
    """The stick's impact: a short band-limited noise burst, the same every time."""
    length = round(0.03 * SAMPLE_RATE)
    noise = np.random.RandomState(IMPACT_SEED).uniform(-1.0, 1.0, length)
    noise *= np.exp(-np.arange(length) / (IMPACT_SECONDS * SAMPLE_RATE))
    spectrum = np.fft.rfft(noise)
    frequencies = np.fft.rfftfreq(length, 1 / SAMPLE_RATE)
    low, high = IMPACT_BAND
    spectrum[(frequencies < low) | (frequencies > high)] = 0.0
    burst = np.fft.irfft(spectrum, length)
    return burst / np.max(np.abs(burst))


def knock(frequency: float, length: int) -> np.ndarray:
    """One knock on a wood block pitched at ``frequency``."""
    time = np.arange(length) / SAMPLE_RATE
    note = np.zeros(length)
    for ratio, level, decay in BLOCK_MODES:
        note += level * np.sin(2 * np.pi * frequency * ratio * time) * np.exp(-time / decay)
    burst = impact_noise()[:length]
    note[: len(burst)] += IMPACT_LEVEL * burst
    return note * attack(length, 0.0005)


# --- beep: soft tones -------------------------------------------------------------------

BEEP_ATTACK_SECONDS = 0.012
#: The tone fades as it sounds, which keeps a beep soft: at the shared peak level a
#: steady sine would be the loudest sound of all.
BEEP_DECAY_SECONDS = 0.03
BEEP_RELEASE_SECONDS = 0.05


def beep(seconds: float) -> Voice:
    """A voice playing soft sine beeps ``seconds`` long, release included."""

    def tone(frequency: float, length: int) -> np.ndarray:
        sounding = min(length, round(seconds * SAMPLE_RATE))
        time = np.arange(sounding) / SAMPLE_RATE
        rise = round(BEEP_ATTACK_SECONDS * SAMPLE_RATE)
        fall = round(BEEP_RELEASE_SECONDS * SAMPLE_RATE)
        envelope = np.exp(-np.maximum(0.0, time - BEEP_ATTACK_SECONDS) / BEEP_DECAY_SECONDS)
        # A quarter sine up (quick to leave zero, gentle into the tone), a raised cosine down.
        envelope[:rise] *= np.sin(np.linspace(0.0, np.pi / 2, rise))
        envelope[-fall:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, fall))
        note = np.zeros(length)
        note[:sounding] = np.sin(2 * np.pi * frequency * time) * envelope
        return note

    return tone


# --- the sets ----------------------------------------------------------------------------


def sound_sets() -> dict[str, dict[str, np.ndarray]]:
    """Every set's four sounds as float samples at :data:`PEAK`."""
    return {
        "chime": {
            # Bright single strike: the hold begins.
            "hold-start": chime([(0.0, 1046.5)], decay_seconds=0.11),
            # Lower double strike: the hold is over.
            "hold-end": chime([(0.0, 784.0), (0.16, 587.3)], decay_seconds=0.12),
            # Rising double strike: the last set begins.
            "last-set": chime([(0.0, 880.0), (0.14, 1318.5)], decay_seconds=0.11),
            # Rising arpeggio: the routine is done.
            "finish": chime([(0.0, 523.3), (0.18, 659.3), (0.36, 784.0), (0.54, 1046.5)], 0.2),
        },
        "bell": {
            # A ringing call, a damped low strike, a double strike, a falling peal.
            "hold-start": figure(large_bell, [(0.0, 659.3)], 1.1, 0.45),
            "hold-end": figure(damped_bell, [(0.0, 293.7)], 0.6, 0.25),
            "last-set": figure(large_bell, [(0.0, 440.0), (0.14, 440.0)], 1.15, 0.45),
            "finish": figure(
                large_bell, [(0.0, 523.3, 0.8), (0.22, 392.0, 0.8), (0.44, 261.6)], 1.2, 0.4
            ),
        },
        "woodblock": {
            # A high knock, a low knock, a rising pair, three rising knocks.
            "hold-start": figure(knock, [(0.0, 1480.0)], 0.32, 0.05),
            "hold-end": figure(knock, [(0.0, 700.0)], 0.36, 0.05),
            "last-set": figure(knock, [(0.0, 988.0), (0.13, 1480.0)], 0.48, 0.05),
            "finish": figure(
                knock, [(0.0, 790.0, 0.8), (0.15, 1000.0, 0.8), (0.34, 1400.0)], 0.7, 0.05
            ),
        },
        "beep": {
            # A high beep, a low one, a rising pair, three rising beeps.
            "hold-start": figure(beep(0.15), [(0.0, 880.0)], 0.16, 0.01),
            "hold-end": figure(beep(0.18), [(0.0, 523.3)], 0.19, 0.01),
            "last-set": figure(beep(0.11), [(0.0, 659.3, 0.7), (0.15, 880.0)], 0.27, 0.01),
            "finish": figure(
                beep(0.13), [(0.0, 587.3, 0.7), (0.17, 740.0, 0.7), (0.34, 987.8)], 0.48, 0.01
            ),
        },
    }


def wav_bytes(samples: np.ndarray) -> bytes:
    """Float samples in [-1, 1] as the bytes of a 16-bit mono PCM WAV file."""
    pcm = np.rint(samples * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file beside it, so a reader (a test,
    a running voice-coach) never sees half a sound."""
    temp = path.with_name(f".{path.name}.part")
    temp.write_bytes(data)
    temp.replace(path)


def main(argv: list[str]) -> int:
    """Write every set into the given folder, or the project's sounds/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out_dir", nargs="?", type=Path, default=ROOT / "sounds", help="default: sounds/"
    )
    folder = parser.parse_args(argv[1:]).out_dir
    sets = sound_sets()
    # Every set the package offers must be made here, with every sound.
    if tuple(sets) != SOUND_SETS or any(tuple(sounds) != SOUND_NAMES for sounds in sets.values()):
        raise SystemExit(f"make_sounds.py must make the sets {SOUND_SETS}, each with {SOUND_NAMES}")
    for set_name, sounds in sets.items():
        for name, samples in sounds.items():
            path = folder / sound_file_name(set_name, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, wav_bytes(samples))
            print(f"{path}: {len(samples) / SAMPLE_RATE:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
