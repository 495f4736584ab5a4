"""The echo gating rule of spoken commands: a command heard while the coach itself was
speaking may be the coach's own voice, picked up by the microphone, and is ignored.

Pure: the caller hands in the output clock ((DAC time, output index) points), the
player's output blocks and the Script; nothing here reads a clock or a device.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from .script import SPEECH, Script

#: A detection this close to the coach's own voice is taken for its echo, in seconds.
ECHO_MARGIN_SECONDS = 0.3


def output_time(output_index: float, clock_points: Sequence[tuple[float, int]], rate: int) -> float:
    """When output sample ``output_index`` sounds on the output clock, in seconds.

    ``clock_points`` are (DAC time, output index) pairs, oldest first, such as the
    output stream's clock log; the last one at or before ``output_index`` places it
    (the first one, for an index before them all).
    """
    if not clock_points:
        raise ValueError("no clock points: nothing has been played yet")
    at = bisect.bisect_right([index for _, index in clock_points], output_index) - 1
    dac, index = clock_points[max(at, 0)]
    return dac + (output_index - index) / rate


def own_speech_spans(
    blocks: Iterable,
    speech_cues: Sequence[tuple[int, int]],
    clock_points: Sequence[tuple[float, int]],
    rate: int,
) -> list[tuple[float, float]]:
    """When the player's own voice sounded, as (start, end) seconds on the output clock.

    ``blocks`` are the player's output blocks (``transport.Block``: ``output_start``,
    ``frames``, the timeline ``position`` they carried or None, and whether they were
    ``inserted`` audio, the lead-in or a confirmation, which is all voice).
    ``speech_cues`` are the (start, end) timeline samples of the Script's speech
    cues, sorted. Pure: the caller hands in the clock.
    """
    starts = [start for start, _ in speech_cues]
    spans: list[tuple[int, int]] = []  # in output samples
    for block in blocks:
        first, stop = block.output_start, block.output_start + block.frames
        if block.position is None:
            if block.inserted:
                spans.append((first, stop))
            continue
        begin, end = block.position, block.position + block.frames
        # Cues are sorted by start and never overlap: only the one before ``begin``
        # and those starting inside the block can reach into it.
        index = max(bisect.bisect_right(starts, begin) - 1, 0)
        while index < len(speech_cues) and speech_cues[index][0] < end:
            cue_start, cue_end = speech_cues[index]
            if cue_end > begin:
                spans.append(
                    (first + max(cue_start, begin) - begin, first + min(cue_end, end) - begin)
                )
            index += 1
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return [
        (output_time(start, clock_points, rate), output_time(stop, clock_points, rate))
        for start, stop in merged
    ]


def overlaps_own_speech(
    start_time: float,
    end_time: float,
    own_speech: Iterable[tuple[float, float]],
    margin: float = ECHO_MARGIN_SECONDS,
) -> bool:
    """Whether a command heard from ``start_time`` to ``end_time`` (seconds on the output
    clock) overlaps the player's own voice, give or take ``margin``: then it is its echo."""
    return any(start - margin < end_time and start_time < end + margin for start, end in own_speech)


def is_echo(
    start_time: float,
    end_time: float,
    blocks: Sequence,
    script: Script | None,
    clock_points: Sequence[tuple[float, int]],
    rate: int,
) -> bool:
    """The gating rule: whether a command heard from ``start_time`` to ``end_time``
    (seconds on the output clock) may be the player's own voice, and must be ignored.

    It is if it overlaps, give or take :data:`ECHO_MARGIN_SECONDS`, a speech cue of
    ``script`` or inserted audio as ``blocks`` placed them (see
    :func:`own_speech_spans`), or if it reaches back before the oldest block the
    player remembers (what sounded then is unknown). Pure.
    """
    if not blocks or not clock_points:
        return True
    if start_time - ECHO_MARGIN_SECONDS < output_time(blocks[0].output_start, clock_points, rate):
        return True
    cues = [
        (cue.start_sample, cue.end_sample)
        for cue in (script.cues if script is not None else ())
        if cue.kind == SPEECH
    ]
    spans = own_speech_spans(blocks, cues, clock_points, rate)
    return overlaps_own_speech(start_time, end_time, spans)
