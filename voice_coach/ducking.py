"""The music's level along the timeline: lowered under every cue, from the Script alone.

Pure: no I/O and no clock. Nothing listens for speech: the Script says when every
cue starts and ends, so the music starts going down a little before each cue and
comes back after it. Cues closer than :data:`MERGE_GAP_SECONDS` share one dip, so
the music does not pump between them. Optionally it is quieter through holds, it
fades in at the start and out after the finishing sound.

Every curve is a smoothstep (3u² - 2u³: no corner where it starts or ends, so no
click) of plain arithmetic, so the gain at a sample is the same whichever span it
is computed in: any span of the timeline renders on its own.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from .script import PREROLL_SECONDS, Script
from .settings import DEFAULT_DUCK, DEFAULT_HOLD_LEVEL, DEFAULT_MUSIC_LEVEL

#: The music is all the way down this long before a cue starts...
BEFORE_CUE_SECONDS = 0.15
#: ...having taken this long to go down;
ATTACK_SECONDS = 0.35
#: it stays down this long after the cue ends...
AFTER_CUE_SECONDS = 0.15
#: ...then takes this long to come back.
RELEASE_SECONDS = 0.6
#: Cues closer than this (from the end of one dip to the start of the next) share a dip.
MERGE_GAP_SECONDS = 1.0
#: The fade-in, from the end of the pre-roll (which stays the noise floor alone: the
#: live player plays it before anything is prepared).
FADE_IN_SECONDS = 2.0
#: The fade-out after the finishing sound: the timeline grows by this much with music.
FADE_OUT_SECONDS = 3.0
#: Through holds, the music takes this long to settle to the hold level and back.
HOLD_RAMP_SECONDS = 1.0
#: The music during a cue is always at least this far below the voice, whatever
#: ``duck`` and ``music_level`` say: the issue's rule is 10 dB; 2 dB more for music
#: whose short-term level rises above its integrated loudness.
MIN_CLEARANCE_DB = 12.0


@dataclass(frozen=True)
class MusicMix:
    """How the music sits under the voice, in dB.

    ``level`` is the music's loudness against the voice's between cues; ``duck`` how
    far it drops under each cue and chime; ``hold_level`` how much quieter it is
    through holds (0: as between cues).
    """

    level: float = DEFAULT_MUSIC_LEVEL
    duck: float = DEFAULT_DUCK
    hold_level: float = DEFAULT_HOLD_LEVEL

    @property
    def ducked_level(self) -> float:
        """The music's level against the voice during a cue: ``level - duck``, but never
        within :data:`MIN_CLEARANCE_DB` of the voice."""
        return min(self.level - self.duck, -MIN_CLEARANCE_DB)


def _dips(script: Script) -> list[list[int]]:
    """Each dip of the music: [going down from, all the way down from, down until, back
    up at], in samples; cues closer than :data:`MERGE_GAP_SECONDS` share one."""
    rate = script.sample_rate
    before, attack = round(BEFORE_CUE_SECONDS * rate), round(ATTACK_SECONDS * rate)
    after, release = round(AFTER_CUE_SECONDS * rate), round(RELEASE_SECONDS * rate)
    merge = round(MERGE_GAP_SECONDS * rate)
    dips: list[list[int]] = []
    for cue in sorted(script.cues, key=lambda cue: cue.start_sample):
        down = max(0, cue.start_sample - before)
        up = cue.end_sample + after
        if dips and down - attack - dips[-1][2] < merge:
            dips[-1][2] = max(dips[-1][2], up)
        else:
            dips.append([max(0, down - attack), down, up, up + release])
    for dip in dips:
        dip[3] = dip[2] + release
    return dips


def duck_spans(script: Script) -> list[tuple[int, int]]:
    """(start, end) in samples of each span where the music is lowered for cues, from
    the moment it starts going down to the moment it starts coming back: what other
    apps' sound follows, live (see :mod:`others`)."""
    return [(going, up) for going, _, up, _ in _dips(script)]


def smoothstep(u: np.ndarray) -> np.ndarray:
    """0 to 1 with a flat start and end, for ``u`` from 0 to 1 (clipped outside)."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


class Envelope:
    """The music's gain (linear, relative to its level between cues) at any sample of
    one Script.

    Parameters
    ----------
    script:
        The timeline whose cues duck the music and whose holds may lower it.
    mix:
        The levels (only ``duck`` and ``hold_level`` matter here).
    """

    def __init__(self, script: Script, mix: MusicMix) -> None:
        rate = script.sample_rate
        self.length = script.length_samples
        self.ducked = 10 ** ((mix.ducked_level - mix.level) / 20)
        self.held = 10 ** (mix.hold_level / 20)
        dips = _dips(script)
        self._fade_out: tuple[int, int] | None = None
        finish = [cue for cue in script.cues if cue.role == "finish"]
        if finish:
            # The last dip stays down; the music fades out from there to the end.
            end = max(cue.end_sample for cue in finish)
            self._fade_out = (end, self.length)
            if dips:
                dips[-1][2] = dips[-1][3] = self.length + 1
        self._dips = dips
        self._dip_ends = [dip[3] for dip in dips]
        self._preroll = round(PREROLL_SECONDS * rate)
        self._fade_in = self._preroll + round(FADE_IN_SECONDS * rate)
        ramp = round(HOLD_RAMP_SECONDS * rate)
        self._holds = [
            (
                hold.start_sample,
                hold.end_sample,
                min(ramp, (hold.end_sample - hold.start_sample) // 2),
            )
            for hold in script.holds
        ]
        self._hold_ends = [hold[1] for hold in self._holds]

    def gains(self, start_sample: int, count: int) -> np.ndarray:
        """The gain of samples ``start_sample`` to ``start_sample + count`` (float64)."""
        end = start_sample + count
        level = np.ones(count)
        index = bisect.bisect_right(self._dip_ends, start_sample)
        while index < len(self._dips) and self._dips[index][0] < end:
            going, down, up, back = self._dips[index]
            low, high = max(going, start_sample), min(back, end)
            t = np.arange(low, high, dtype=np.float64)
            falling = smoothstep((t - going) / max(1, down - going))
            rising = smoothstep((t - up) / max(1, back - up))
            part = level[low - start_sample : high - start_sample]
            np.minimum(part, 1.0 - (1.0 - self.ducked) * falling * (1.0 - rising), out=part)
            index += 1
        if self.held != 1.0:
            index = bisect.bisect_right(self._hold_ends, start_sample)
            while index < len(self._holds) and self._holds[index][0] < end:
                first, last, ramp = self._holds[index]
                low, high = max(first, start_sample), min(last, end)
                t = np.arange(low, high, dtype=np.float64)
                shape = smoothstep((t - first) / max(1, ramp)) * smoothstep(
                    (last - t) / max(1, ramp)
                )
                part = level[low - start_sample : high - start_sample]
                np.minimum(part, 1.0 - (1.0 - self.held) * shape, out=part)
                index += 1
        if start_sample < self._fade_in:
            high = min(end, self._fade_in)
            t = np.arange(start_sample, high, dtype=np.float64)
            ramp = self._fade_in - self._preroll
            level[: high - start_sample] *= smoothstep((t - self._preroll) / ramp)
        if self._fade_out is not None and end > self._fade_out[0]:
            first, last = self._fade_out
            low = max(first, start_sample)
            t = np.arange(low, end, dtype=np.float64)
            level[low - start_sample :] *= 1.0 - smoothstep((t - first) / max(1, last - first))
        return level
