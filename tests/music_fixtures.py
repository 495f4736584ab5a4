"""Test music made by code (never downloaded): chords, tones and noise bursts, written in
any format soundfile writes, and the analysis of a mix with music (what the music adds
is the mix with it minus the mix without it)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

#: Formats the music is written in, by extension: libsndfile's names.
FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}


def chord(seconds: float, rate: int = 44100, root: float = 220.0, seed: int = 0) -> np.ndarray:
    """A major chord with a slow swell and a little noise, stereo, float in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    tone = sum(
        np.sin(2 * np.pi * root * ratio * t + phase)
        for ratio, phase in zip((1, 1.26, 1.5, 2), rng.uniform(0, 6, 4), strict=True)
    )
    swell = 0.75 + 0.25 * np.sin(2 * np.pi * 0.2 * t)
    left = 0.15 * tone * swell + 0.02 * rng.standard_normal(len(t))
    right = 0.15 * tone * swell[::-1] + 0.02 * rng.standard_normal(len(t))
    return np.stack([left, right], axis=1).astype(np.float32)


def noise_bursts(seconds: float, rate: int = 44100, seed: int = 1) -> np.ndarray:
    """Drum-like bursts of noise, four a second, mono."""
    rng = np.random.default_rng(seed)
    out = 0.01 * rng.standard_normal(round(seconds * rate))
    beat = rate // 4
    decay = np.exp(-np.arange(beat) / (0.03 * rate))
    for start in range(0, len(out) - beat, beat):
        out[start : start + beat] += 0.6 * decay * rng.standard_normal(beat)
    return np.clip(out, -1, 1).astype(np.float32)


def write_music(path: Path, audio: np.ndarray, rate: int = 44100) -> Path:
    """Write float ``audio`` as the format ``path``'s extension names."""
    import soundfile

    container, subtype = FORMATS[path.suffix.lower()]
    if subtype == "OPUS" and rate not in (8000, 12000, 16000, 24000, 48000):
        import soxr

        audio, rate = soxr.resample(audio, rate, 48000).astype(np.float32), 48000
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    # In blocks: libsndfile's encoders have crashed on one huge write.
    with soundfile.SoundFile(
        path, "w", samplerate=rate, channels=channels, format=container, subtype=subtype
    ) as out:
        for start in range(0, len(audio), 65536):
            out.write(audio[start : start + 65536])
    return path


def music_part(program) -> tuple[np.ndarray, np.ndarray]:
    """(the whole mix without music, what the music adds to it), as float mono."""
    from voice_coach.mixer import Mixer

    script = program.script
    with_music = program.mixer().render(0, script.length_samples).astype(np.float64)
    without = Mixer(script, program.clips).render(0, script.length_samples).astype(np.float64)
    return without / 32768, (with_music - without) / 32768


def rms_db(audio: np.ndarray) -> float:
    """RMS level in dBFS."""
    return 10 * np.log10(max(float(np.mean(np.square(audio))), 1e-20))


class MusicLevels(NamedTuple):
    """The music's RMS level (dBFS) in parts of a mix, from what the music adds to it."""

    #: During speech cues.
    during: float
    #: Between cues: outside every dip and its ramps (holds included).
    between: float
    #: Between cues and outside holds.
    outside_holds: float
    #: Between cues and through holds.
    holds: float


def music_levels(program, music: np.ndarray) -> MusicLevels:
    """The music's levels during speech cues and between them (outside holds and through
    holds), leaving out the fades at the ends; from what the music adds to the rendered
    mix (see :func:`music_part`)."""
    from voice_coach.ducking import FADE_IN_SECONDS, RELEASE_SECONDS, duck_spans
    from voice_coach.script import PREROLL_SECONDS

    script = program.script
    rate = script.sample_rate
    finish = max(c.end_sample for c in script.cues)
    usable = np.zeros(script.length_samples, dtype=bool)
    usable[round((PREROLL_SECONDS + FADE_IN_SECONDS) * rate) : finish] = True
    during = np.zeros_like(usable)
    for cue in script.cues:
        if cue.kind == "speech":
            during[cue.start_sample : cue.end_sample] = True
    between = usable.copy()
    for start, end in duck_spans(script):
        between[start : end + round(RELEASE_SECONDS * rate)] = False
    holds = np.zeros_like(usable)
    for hold in script.holds:
        holds[hold.start_sample : hold.end_sample] = True
    return MusicLevels(
        during=rms_db(music[during & usable]),
        between=rms_db(music[between]),
        outside_holds=rms_db(music[between & ~holds]),
        holds=rms_db(music[between & holds]),
    )
