"""The mixer: a Script and its clips in, 16-bit PCM out, block by block.

Pure: no I/O and no clock. Output is mono int16 at the Script's sample rate,
produced in fixed-size blocks so memory stays flat however long the routine is.
The same blocks feed the live player and every exporter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache

import numpy as np

from .script import Cue, Script

DEFAULT_BLOCK_SAMPLES = 8192
#: Peak of the noise floor laid under the whole timeline, in int16 steps
#: (about -72 dBFS). Digital zero lets Bluetooth headphones and some DACs power
#: down, which clips the first word after a pause; this keeps the link awake
#: while staying far below anything a listener would notice.
FLOOR_PEAK = 8

ClipKey = tuple[str, str]


def clip_key(cue: Cue) -> ClipKey:
    """The key under which a cue's audio is found in the clips mapping: (kind, text)."""
    return (cue.kind, cue.text)


@lru_cache(maxsize=4)
def _noise_floor(period: int) -> np.ndarray:
    rng = np.random.default_rng(20261127)
    return rng.integers(-FLOOR_PEAK, FLOOR_PEAK + 1, size=period, dtype=np.int16)


def render_blocks(
    script: Script,
    clips: Mapping[ClipKey, np.ndarray],
    *,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    start_sample: int = 0,
) -> Iterator[np.ndarray]:
    """Yield the rendered audio from ``start_sample`` to the end, in int16 blocks.

    Parameters
    ----------
    script:
        The timeline to render.
    clips:
        Float audio in [-1, 1] for every cue, keyed by :func:`clip_key`; each clip
        is exactly as long as its cue.
    block_samples:
        Samples per block (the last block may be shorter). The output does not
        depend on it.
    start_sample:
        Where to start, for resuming or seeking.
    """
    if block_samples <= 0:
        raise ValueError("block_samples must be positive")
    cues = script.cues
    floor = _noise_floor(script.sample_rate)
    first_live = 0
    for block_start in range(start_sample, script.length_samples, block_samples):
        block_end = min(block_start + block_samples, script.length_samples)
        mix = np.zeros(block_end - block_start, dtype=np.float32)
        # Cues are sorted and never overlap, so their ends are sorted too.
        while first_live < len(cues) and cues[first_live].end_sample <= block_start:
            first_live += 1
        index = first_live
        while index < len(cues) and cues[index].start_sample < block_end:
            cue = cues[index]
            clip = clips[clip_key(cue)]
            low = max(cue.start_sample, block_start)
            high = min(cue.end_sample, block_end)
            if high > low:
                mix[low - block_start : high - block_start] += clip[
                    low - cue.start_sample : high - cue.start_sample
                ]
            index += 1
        pcm = np.clip(np.rint(mix * 32767.0), -32768 + FLOOR_PEAK, 32767 - FLOOR_PEAK)
        positions = np.arange(block_start, block_end) % floor.size
        yield (pcm.astype(np.int16) + floor[positions]).astype(np.int16)


def render(script: Script, clips: Mapping[ClipKey, np.ndarray]) -> np.ndarray:
    """Render the whole Script into one int16 array (for short routines and tests)."""
    blocks = list(render_blocks(script, clips))
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)
