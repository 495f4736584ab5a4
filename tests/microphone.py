"""What a microphone hears, made up for the spoken-command tests and for
``scripts/bench listen``: sound at a level, over light noise, as int16; a routine's
own audio coming back from open speakers; and the keyword spotter run over it."""

from __future__ import annotations

import numpy as np

from voice_coach.audiofile import resample
from voice_coach.listen import FEED_SAMPLES, SPOTTER_RATE, KeywordSpotter
from voice_coach.script import SPEECH
from voice_coach.transport import Block

#: The light noise under everything the microphone hears (white), dBFS RMS.
NOISE_DBFS = -55
#: The player's output blocks as the made-up records below have them.
BLOCK_FRAMES = 1024


def at_level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """``audio`` scaled to an RMS of ``dbfs``."""
    return audio * (10 ** (dbfs / 20) / max(float(np.sqrt(np.mean(audio**2))), 1e-9))


def microphone_pcm(audio: np.ndarray, seed: int = 0) -> np.ndarray:
    """Float 16 kHz sound as the microphone gives it: with the light noise, in int16."""
    noise = np.random.default_rng(seed).standard_normal(len(audio)) * 10 ** (NOISE_DBFS / 20)
    return np.rint(np.clip(audio + noise, -1, 1) * 32767).astype(np.int16)


def spot(pcm: np.ndarray, spotter: KeywordSpotter | None = None) -> list:
    """Feed int16 ``pcm`` to ``spotter`` (a fresh one by default) as the microphone
    would, 20 ms at a time; every detection."""
    fresh = spotter is None
    spotter = KeywordSpotter() if fresh else spotter
    found = []
    for start in range(0, len(pcm), FEED_SAMPLES):
        found += spotter.feed(pcm[start : start + FEED_SAMPLES])
    if fresh:
        spotter.close()
    return found


def routine_echo(program, speech_dbfs: float, delay_seconds: float) -> np.ndarray:
    """The whole routine of ``program`` as the microphone hears it from open speakers:
    mono float at 16 kHz, its speech at ``speech_dbfs`` RMS, ``delay_seconds`` late."""
    script = program.script
    rendered = program.mixer().render(0, script.length_samples) / 32768
    rendered = rendered.reshape(script.length_samples, -1).mean(axis=1)
    speech = np.concatenate([rendered[start:end] for start, end in speech_cues(script)])
    rendered *= 10 ** (speech_dbfs / 20) / np.sqrt(np.mean(speech**2))
    delay = np.zeros(round(delay_seconds * SPOTTER_RATE))
    return np.concatenate([delay, resample(rendered, script.sample_rate, SPOTTER_RATE)])


def speech_cues(script) -> list[tuple[int, int]]:
    """(start, end) timeline samples of ``script``'s speech cues."""
    return [(cue.start_sample, cue.end_sample) for cue in script.cues if cue.kind == SPEECH]


def played_blocks(script) -> list[Block]:
    """The player's record of playing ``script`` straight through from output sample 0."""
    length = script.length_samples
    return [
        Block(start, min(BLOCK_FRAMES, length - start), start)
        for start in range(0, length, BLOCK_FRAMES)
    ]
