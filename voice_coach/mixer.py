"""The mixer: a Script and its clips in, 16-bit PCM out, any span, block by block.

Pure: no I/O and no clock. Output is int16 at the Script's sample rate, mono by
default or stereo with ``pan`` (left-side cues in the left ear, right-side cues
in the right). Any span of the timeline renders on its own, so the exporter can
stream fixed-size blocks with flat memory and the live player can jump, pause
and resume anywhere; both get exactly the same samples.

Music, when there is some, comes from a :class:`MusicSource` (the bed at any
timeline sample, see :mod:`music`), under the levels :mod:`ducking` computes from
the Script, so it too is the same whichever span is rendered.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Protocol

import numpy as np

from .ducking import Envelope, MusicMix
from .script import Cue, Script

DEFAULT_BLOCK_SAMPLES = 8192
#: Peak of the noise floor laid under the whole timeline, in int16 steps
#: (about -72 dBFS). Digital zero lets Bluetooth headphones and some DACs power
#: down, which clips the first word after a pause; this keeps the link awake
#: while staying far below anything a listener would notice.
FLOOR_PEAK = 8
#: Where the noise floor's hash starts: any fixed number gives a fixed floor.
FLOOR_SEED = 20261127
#: Channel gains (left, right) of a cue by its side, when panning.
PAN_GAINS = {"left": (1.0, 0.0), "right": (0.0, 1.0), None: (1.0, 1.0)}

ClipKey = tuple[str, str]


class MusicSource(Protocol):
    """Music at any timeline sample: the same values whichever span asks for them."""

    def samples(self, start_sample: int, count: int) -> np.ndarray:
        """The music of samples ``start_sample`` onwards (float, mono; 1.0 is as loud as
        the voice)."""


def clip_key(cue: Cue) -> ClipKey:
    """The key under which a cue's audio is found in the clips mapping: (kind, text)."""
    return (cue.kind, cue.text)


@lru_cache(maxsize=4)
def _noise_floor(period: int) -> np.ndarray:
    # White noise from a hash of the sample index (an integer mixer: xor-shifts and odd
    # multipliers), not numpy.random: loading that module cost every run ~10 ms.
    x = np.arange(period, dtype=np.uint32) + np.uint32(FLOOR_SEED)
    for shift, multiplier in ((16, 0x7FEB352D), (15, 0x846CA68B)):
        x ^= x >> np.uint32(shift)
        x *= np.uint32(multiplier)
    x ^= x >> np.uint32(16)
    return (x % np.uint32(2 * FLOOR_PEAK + 1)).astype(np.int16) - np.int16(FLOOR_PEAK)


#: Periods of the noise floor kept repeated, for spans up to 15 s long (under 1.5 MB).
REPEATED_PERIODS = 16


@lru_cache(maxsize=4)
def _repeated_floor(period: int) -> np.ndarray:
    floor = np.tile(_noise_floor(period), REPEATED_PERIODS)
    floor.flags.writeable = False  # handed out as views
    return floor


def noise_floor(start_sample: int, count: int, sample_rate: int) -> np.ndarray:
    """The noise floor of samples ``start_sample`` onwards (int16, mono, read-only).

    It depends only on the sample index, so any span renders the same on its own;
    the pre-roll before the first cue is exactly this.
    """
    count = max(0, count)
    offset = start_sample % sample_rate
    periods = -(-(offset + count) // sample_rate)
    if periods <= REPEATED_PERIODS:
        # A view of the period repeated, not a gather through an index array: that
        # took most of a block's render time.
        return _repeated_floor(sample_rate)[offset : offset + count]
    return np.tile(_noise_floor(sample_rate), periods)[offset : offset + count]


class Mixer:
    """Renders any span of one Script.

    Parameters
    ----------
    script:
        The timeline to render.
    clips:
        Float audio in [-1, 1] for every cue, keyed by :func:`clip_key`; each clip
        is exactly as long as its cue.
    pan:
        Render stereo, each sided cue in its own ear; otherwise mono.
    music:
        Music under the cues, or None.
    mix:
        How the music sits under the voice (see :class:`ducking.MusicMix`).
    music_gain:
        The music's gain at its ``mix.level`` (the routine's speech level, and the
        level against the voice, as a linear gain).
    """

    def __init__(
        self,
        script: Script,
        clips: Mapping[ClipKey, np.ndarray],
        *,
        pan: bool = False,
        music: MusicSource | None = None,
        mix: MusicMix | None = None,
        music_gain: float = 1.0,
    ) -> None:
        self.script = script
        self.clips = clips
        self.channels = 2 if pan else 1
        self.pan = pan
        self.music = music
        self.music_gain = music_gain
        self._envelope = Envelope(script, mix or MusicMix()) if music is not None else None
        # Cues are sorted and never overlap, so their ends are sorted too.
        self._ends = [cue.end_sample for cue in script.cues]

    def render(self, start_sample: int, count: int, gain: float = 1.0) -> np.ndarray:
        """``count`` samples from ``start_sample`` (clipped to the Script's end) as int16.

        The shape is ``(n,)`` for mono and ``(n, 2)`` for stereo. ``gain`` scales
        the cues (not the noise floor).
        """
        script = self.script
        start = max(0, start_sample)
        end = min(start + max(0, count), script.length_samples)
        mix = np.zeros((end - start, self.channels), dtype=np.float32)
        index = bisect.bisect_right(self._ends, start)
        while index < len(script.cues) and script.cues[index].start_sample < end:
            cue = script.cues[index]
            low, high = max(cue.start_sample, start), min(cue.end_sample, end)
            if high > low:
                piece = self.clips[clip_key(cue)][low - cue.start_sample : high - cue.start_sample]
                if self.pan:
                    mix[low - start : high - start] += piece[:, None] * PAN_GAINS[cue.side]
                else:
                    mix[low - start : high - start, 0] += piece
            index += 1
        if self.music is not None and self._envelope is not None and end > start:
            bed = self.music.samples(start, end - start)
            bed *= self._envelope.gains(start, end - start) * self.music_gain
            mix += bed.astype(np.float32)[:, None]
        # In place: a block is rendered for every 3 s of an export, on every core at once.
        if gain != 1.0:
            mix *= gain
        mix *= 32767.0
        np.rint(mix, out=mix)
        np.clip(mix, -32768 + FLOOR_PEAK, 32767 - FLOOR_PEAK, out=mix)
        out = mix.astype(np.int16)
        out += noise_floor(start, end - start, script.sample_rate)[:, None]
        return out[:, 0] if self.channels == 1 else out


def render_blocks(
    script: Script,
    clips: Mapping[ClipKey, np.ndarray],
    *,
    block_samples: int = DEFAULT_BLOCK_SAMPLES,
    start_sample: int = 0,
    pan: bool = False,
    gain: float = 1.0,
    mixer: Mixer | None = None,
) -> Iterator[np.ndarray]:
    """Yield the rendered audio from ``start_sample`` to the end, in int16 blocks.

    The output does not depend on ``block_samples`` (the last block may be shorter).
    See :class:`Mixer` for the other parameters; ``mixer``, if given, renders them
    (with its music).
    """
    if block_samples <= 0:
        raise ValueError("block_samples must be positive")
    mixer = mixer or Mixer(script, clips, pan=pan)
    for block_start in range(start_sample, script.length_samples, block_samples):
        yield mixer.render(block_start, block_samples, gain)


def render(script: Script, clips: Mapping[ClipKey, np.ndarray], *, pan: bool = False) -> np.ndarray:
    """Render the whole Script into one int16 array (for short routines and tests)."""
    return Mixer(script, clips, pan=pan).render(0, script.length_samples)
