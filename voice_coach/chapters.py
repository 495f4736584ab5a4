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
* Captions: every cue, long ones in pieces of two short lines; chimes read ``[chime]``.
"""

from __future__ import annotations

import re
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
    spans = [Chapter(span.start_sample, span.end_sample, span.name) for span in script.steps]
    if not spans:
        return [Chapter(0, script.length_samples, "")]
    spans[0] = Chapter(0, spans[0].end_sample, spans[0].title)
    spans[-1] = Chapter(spans[-1].start_sample, script.length_samples, spans[-1].title)
    return spans


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
    """The captions of ``script``: the spoken words, or ``[chime]`` for a sound.

    A short cue is one caption. A long one (an instruction) is cut into pieces of
    at most two lines of ``CAPTION_LINE`` characters, at sentence ends where it
    can and between words where it must, and the cue's time is shared among the
    pieces by their length, as subtitle editors do; the first piece starts with
    the cue and the last ends with it.
    """
    result: list[Chapter] = []
    for cue in script.cues:
        if cue.kind == CHIME:
            result.append(Chapter(cue.start_sample, cue.end_sample, CHIME_CAPTION))
            continue
        pieces = caption_pieces(cue.text)
        total = sum(len(piece) for piece in pieces)
        span = cue.end_sample - cue.start_sample
        start, done = cue.start_sample, 0
        for piece in pieces:
            done += len(piece)
            end = cue.start_sample + span * done // total
            result.append(Chapter(start, end, _wrap(piece)))
            start = end
    return result


#: Characters in one caption line, and lines in one caption (the usual subtitle limits).
CAPTION_LINE = 42
CAPTION_LINES = 2


def caption_pieces(text: str) -> list[str]:
    """``text`` cut into caption-sized pieces: whole sentences where they fit, and a
    long sentence halved, and halved again, near its middle (after a comma if
    one is close)."""
    pieces: list[str] = []
    for sentence in re.split(r"(?<=[.!?;])\s+", " ".join(text.split())):
        pieces.extend(_halved(sentence.split()))
    return pieces or [text]


def _halved(words: list[str]) -> list[str]:
    text = " ".join(words)
    if len(text) <= CAPTION_LINE * CAPTION_LINES or len(words) < 2:
        return [text]

    def cost(cut: int) -> float:
        left = " ".join(words[:cut])
        # A comma is a natural pause: worth a cut up to 12 characters off the middle.
        return abs(len(left) - len(text) / 2) - (12 if left.endswith(",") else 0)

    cut = min(range(1, len(words)), key=cost)
    return _halved(words[:cut]) + _halved(words[cut:])


def _wrap(piece: str) -> str:
    """A piece on two balanced lines if it is longer than one."""
    words = piece.split()
    if len(piece) <= CAPTION_LINE or len(words) < 2:
        return piece  # one long word stays whole: a player wraps it if it must
    best = min(
        range(1, len(words)),
        key=lambda cut: abs(len(" ".join(words[:cut])) - len(" ".join(words[cut:]))),
    )
    return " ".join(words[:best]) + "\n" + " ".join(words[best:])


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
