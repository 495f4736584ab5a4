"""Chapters, split-track bounds and captions of a Script. Pure: no I/O and no clock.

Everything here is in whole samples, like the Script; the exporter turns them
into the times each file format wants.

* Chapters: one per step, and one per side (and round) of a sided step, titled
  as podcast players show them: "Seated hamstring stretch: left". A side's
  chapter begins as the previous side's end chime dies away, so skipping to it
  plays "Switch legs." and the rest before the hold. The first chapter starts
  at the file's first sample and the last ends at its last, so the chapters
  cover the whole file.
* Tracks: one per step, cut at the same bounds, for ``export --split``.
* Captions: one per cue; chimes read ``[chime]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .script import CHIME, Script

CHIME_CAPTION = "[chime]"


@dataclass(frozen=True)
class Chapter:
    """A titled span of the timeline: ``start_sample`` up to ``end_sample``."""

    start_sample: int
    end_sample: int
    title: str


def tracks(script: Script) -> list[Chapter]:
    """One span per step, covering the whole timeline end to end with no gap.

    The first also holds the opening quiet, the last the closing phrase and sound.
    """
    spans = [[span.start_sample, span.end_sample, span.name] for span in script.steps]
    if not spans:
        return [Chapter(0, script.length_samples, "")]
    spans[0][0] = 0
    spans[-1][1] = script.length_samples
    return [Chapter(start, end, name) for start, end, name in spans]


def chapters(script: Script) -> list[Chapter]:
    """The chapters of ``script``: each step, split by side and round where it has them."""
    hold_ends = {
        (cue.step, cue.side, cue.rep): cue.end_sample
        for cue in script.cues
        if cue.role == "hold-end"
    }
    result: list[Chapter] = []
    for track, span in zip(tracks(script), script.steps, strict=True):
        holds = [hold for hold in script.holds if hold.step == span.step]
        sided = any(hold.side is not None for hold in holds)
        if not sided:
            result.append(track)
            continue
        rounds = max(hold.rep for hold in holds)
        start = track.start_sample
        for index, hold in enumerate(holds):
            title = f"{track.title}: {hold.side}"
            if rounds > 1:
                title += f", round {hold.rep} of {rounds}"
            last = index == len(holds) - 1
            end = track.end_sample if last else hold_ends[(hold.step, hold.side, hold.rep)]
            result.append(Chapter(start, end, title))
            start = end
    return result


def captions(script: Script) -> list[Chapter]:
    """One caption per cue: the spoken words, or ``[chime]`` for a sound."""
    return [
        Chapter(cue.start_sample, cue.end_sample, CHIME_CAPTION if cue.kind == CHIME else cue.text)
        for cue in script.cues
    ]


def milliseconds(sample: int, sample_rate: int) -> int:
    """A sample index as whole milliseconds (rounded), the unit chapter formats use."""
    return (sample * 1000 + sample_rate // 2) // sample_rate


def timestamp(sample: int, sample_rate: int) -> str:
    """A sample index as ``HH:MM:SS.mmm``, as WebVTT and Vorbis chapters write times."""
    total = milliseconds(sample, sample_rate)
    hours, rest = divmod(total, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
