"""The script engine: a Routine plus measured clip lengths in, a timed Script out.

Pure: no I/O and no clock. All times are whole samples (``*_sample`` names) at
the one sample rate used end to end, so a hold lasts exactly its length to the
sample and the mixer needs no rounding.

The rules, in the order the listener hears them:

* the audio opens with ``PREROLL_SECONDS`` of near-silence;
* each step speaks its name, its instructions (and, with ``deeper``, its deeper
  variant), then leaves ``prep`` seconds of quiet;
* each rep and side speaks a side cue ("Left leg"), then the start chime marks
  the hold's first sample (the routine's last hold has the "last set" sound
  instead) and the end chime its last; the last ``countdown`` seconds are
  spoken, number k starting exactly k seconds before the end chime;
* inside the hold, in this order of priority: ``warn`` cues ("10 seconds
  left.") start exactly that long before the end; ``countdown: {every: N}``
  numbers at each multiple of N seconds left; ``fractions`` (and, with
  ``halfway``, holds of 20 s or more) at that fraction of the hold;
* after each hold a switch cue and ``switch`` seconds of quiet between the two
  sides, or a release cue and ``rest`` seconds of quiet (none after the
  routine's last hold);
* the routine ends with a closing phrase and the finish sound.

Cues never overlap. A cue that does not fit its slot is dropped, never cut:
countdown numbers that would run into the start chime or into the next number,
then, in reverse order of priority, the cues inside the hold. Each drop is
recorded in ``Script.notes``. The words around the routine's own text come from
:mod:`phrases`, in the routine's language.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import RoutineError
from .phrases import ENGLISH, Phrases, phrases_for
from .routine import Routine, Step

SPEECH = "speech"
CHIME = "chime"

#: Chime names; the files are ``sounds/<name>.wav``.
HOLD_START = "hold-start"
HOLD_END = "hold-end"
LAST_SET = "last-set"
FINISH = "finish"
CHIMES = (HOLD_START, HOLD_END, LAST_SET, FINISH)

#: The one sample rate used end to end (eSpeak NG's own), in every clip, Script and
#: output; files at other rates are resampled on the way in and out.
SAMPLE_RATE = 22050

PREROLL_SECONDS = 0.6
#: Quiet between two speech cues, and after a chime before speech.
GAP_SECONDS = 0.35
#: Quiet between a side cue and the start chime, so the chime stands apart.
BEFORE_CHIME_SECONDS = 0.5
#: Quiet at the very end, after the finish sound.
TAIL_SECONDS = 1.0
#: Holds at least this long get a halfway cue.
HALFWAY_MIN_HOLD = 20
#: Most different phrases one routine may need: real routines need tens (the built-in
#: ones 30 to 70); each costs up to a fifth of a second to synthesise the first time.
MAX_PHRASES = 200

HALFWAY_PHRASE = ENGLISH.halfway
RELEASE_PHRASE = ENGLISH.release
CLOSING_PHRASE = ENGLISH.closing
#: The live player's lead-in after a pause: "Resuming.", then 3, 2, 1.
RESUMING_PHRASE = ENGLISH.resuming
LEAD_IN_NUMBERS = (3, 2, 1)


@dataclass(frozen=True)
class Cue:
    """One sound on the timeline: a speech clip or a chime, from start to end sample.

    ``role`` says what the cue is for: title, instructions, deeper, side,
    hold-start, last-set, halfway, fraction, warn, countdown, hold-end, release,
    switch, closing, finish.
    """

    start_sample: int
    end_sample: int
    kind: str
    text: str
    role: str
    step: int | None = None
    side: str | None = None
    rep: int | None = None


@dataclass(frozen=True)
class Hold:
    """A timed hold, from the start chime's first sample to the end chime's first sample."""

    step: int
    side: str | None
    rep: int
    start_sample: int
    end_sample: int


@dataclass(frozen=True)
class StepSpan:
    """Where a step lies on the timeline: from its title to the next step's title."""

    step: int
    name: str
    start_sample: int
    end_sample: int
    #: The live player waits for a key when it reaches ``end_sample``.
    pause_after: bool = False


@dataclass(frozen=True)
class Script:
    """The compiled timeline of a routine; everything else renders from this."""

    sample_rate: int
    length_samples: int
    cues: tuple[Cue, ...]
    holds: tuple[Hold, ...]
    steps: tuple[StepSpan, ...]
    notes: tuple[str, ...] = ()
    #: The language of the cue phrases (see :mod:`phrases`).
    language: str = "en"

    @property
    def duration(self) -> float:
        """Length of the rendered audio in seconds."""
        return self.length_samples / self.sample_rate


def side_phrase(step: Step, side: str | None, rep: int, phrases: Phrases = ENGLISH) -> str | None:
    """What is said before a hold: "Left leg", "Right leg, 2 of 3", or None for one plain hold."""
    parts = []
    if side is not None:
        parts.append(phrases.side(step.limb, side))
    if step.reps > 1:
        template = phrases.rep_of if parts else phrases.round_of
        parts.append(template.format(n=rep, total=step.reps))
    return ", ".join(parts) + "." if parts else None


def switch_phrase(step: Step, phrases: Phrases = ENGLISH) -> str:
    """What is said between the two sides: "Switch legs."."""
    return phrases.switch(step.limb)


def countdown_phrase(seconds_left: int) -> str:
    """The spoken text of one countdown number."""
    return str(seconds_left)


def player_phrases(language: str | None = None) -> list[str]:
    """The phrases the live player speaks itself (its lead-in after a pause)."""
    return [phrases_for(language).resuming, *(countdown_phrase(n) for n in LEAD_IN_NUMBERS)]


def every_numbers(step: Step) -> list[int]:
    """The seconds left that ``countdown: {every: N}`` speaks, largest first: the
    multiples of N below the hold's length, above the last-seconds countdown."""
    if not step.countdown_every:
        return []
    every = step.countdown_every
    longest = math.ceil(step.hold) - 1
    return [k for k in range(longest - longest % every, step.countdown, -every) if k > 0]


def hold_fractions(step: Step) -> list[tuple[int, int]]:
    """The fractions of the hold that get a cue: ``fractions``, plus one half for
    ``halfway`` on holds of at least :data:`HALFWAY_MIN_HOLD` seconds."""
    wanted = set(step.fractions)
    if step.halfway and step.hold >= HALFWAY_MIN_HOLD:
        wanted.add((1, 2))
    return sorted(wanted, key=lambda fraction: fraction[0] / fraction[1])


def spoken_phrases(
    routine: Routine, *, deeper: bool = False, quiet: bool = False, language: str | None = None
) -> list[str]:
    """Every distinct phrase the routine may speak, in first-use order.

    These are the clips to synthesise and measure before :func:`compile_script`.
    ``language`` is the language of the cue phrases when the routine names none.
    """
    words = phrases_for(routine.language or language)
    if quiet:
        numbers = {
            k
            for step in routine.steps
            for k in (*range(1, step.countdown + 1), *every_numbers(step))
        }
        return [countdown_phrase(k) for k in sorted(numbers, reverse=True)]
    phrases: list[str] = []
    for step in routine.steps:
        phrases.append(step.name)
        if step.instructions:
            phrases.append(step.instructions)
        if deeper and step.deeper:
            phrases.append(step.deeper)
        for rep in range(1, step.reps + 1):
            for side in step.side_names:
                phrase = side_phrase(step, side, rep, words)
                if phrase:
                    phrases.append(phrase)
        phrases.extend(words.time_left(seconds) for seconds in step.warn)
        phrases.extend(words.fraction(*fraction) for fraction in hold_fractions(step))
        phrases.extend(countdown_phrase(k) for k in every_numbers(step))
        phrases.extend(countdown_phrase(k) for k in range(step.countdown, 0, -1))
        if step.sides == "each":
            phrases.append(switch_phrase(step, words))
        phrases.append(words.release)
    phrases.append(words.closing)
    return list(dict.fromkeys(phrases))


def check_phrase_budget(routine: Routine, phrases: list[str]) -> None:
    """Refuse, before any synthesis, a routine that needs more than :data:`MAX_PHRASES`
    different phrases: a few lines of settings (a number every second of an hour's
    hold) would otherwise keep the speech engine busy for many minutes.

    Raises
    ------
    RoutineError
        Saying how many phrases, how many of them numbers, and what to change.
    """
    if len(phrases) <= MAX_PHRASES:
        return
    numbers = sum(phrase.isdigit() for phrase in phrases)
    raise RoutineError(
        f"the routine needs {len(phrases)} different phrases spoken ({numbers} of them "
        f"numbers); voice-coach prepares at most {MAX_PHRASES}: use a longer "
        "'countdown: {every: N}', fewer 'warn' times, fewer reps or fewer steps",
        routine.source,
    )


def compile_script(
    routine: Routine,
    speech_samples: Mapping[str, int],
    chime_samples: Mapping[str, int],
    sample_rate: int,
    *,
    deeper: bool = False,
    quiet: bool = False,
    language: str | None = None,
    continues: bool = False,
) -> Script:
    """Compile ``routine`` into a Script of timed cues.

    Parameters
    ----------
    routine:
        The validated routine.
    speech_samples:
        Length in samples of the trimmed clip of every phrase in
        :func:`spoken_phrases` (same ``deeper``).
    chime_samples:
        Length in samples of each chime in :data:`CHIMES`, covering its audible tail.
    sample_rate:
        The one sample rate of every clip and of the output.
    deeper:
        Speak each step's ``deeper`` variant after its instructions.
    quiet:
        Speak only the countdown: no names, instructions or side cues, for people
        who know the routine. Chimes and all timings stay as they are.
    language:
        The language of the cue phrases when the routine names none (the voice's).
    continues:
        ``routine`` is the first part of a longer one (the live player's first step):
        its last hold is not the routine's last, so it gets no "last set" sound and
        is followed by its rest, exactly as in the whole routine.
    """
    compiler = _Compiler(routine, speech_samples, chime_samples, sample_rate, deeper, quiet)
    compiler.words = phrases_for(routine.language or language)
    compiler.continues = continues
    return compiler.run()


class _Compiler:
    def __init__(
        self,
        routine: Routine,
        speech_samples: Mapping[str, int],
        chime_samples: Mapping[str, int],
        sample_rate: int,
        deeper: bool,
        quiet: bool = False,
    ) -> None:
        self.routine = routine
        self.quiet = quiet
        self.speech_samples = speech_samples
        self.chime_samples = chime_samples
        self.rate = sample_rate
        self.deeper = deeper
        self.cues: list[Cue] = []
        self.holds: list[Hold] = []
        self.notes: list[str] = []
        self.gap = self.samples(GAP_SECONDS)
        self.words = ENGLISH
        self.continues = False

    def samples(self, seconds: float) -> int:
        return round(seconds * self.rate)

    def speech(self, start: int, text: str, role: str, **where) -> int:
        """Place a speech cue at ``start``; return its end sample."""
        if self.quiet and role != "countdown":
            return start
        try:
            length = self.speech_samples[text]
        except KeyError:
            raise ValueError(f"no measured clip for phrase {text!r}") from None
        if length <= 0:
            raise ValueError(f"clip for phrase {text!r} is empty")
        self.cues.append(Cue(start, start + length, SPEECH, text, role, **where))
        return start + length

    def chime(self, start: int, name: str, role: str, **where) -> int:
        """Place a chime cue at ``start``; return its end sample."""
        end = start + self.chime_samples[name]
        self.cues.append(Cue(start, end, CHIME, name, role, **where))
        return end

    def run(self) -> Script:
        spans: list[StepSpan] = []
        cursor = self.samples(PREROLL_SECONDS)
        steps = self.routine.steps
        for index, step in enumerate(steps):
            step_start = cursor
            where = {"step": index}
            end = self.speech(cursor, step.name, "title", **where)
            for role, text in (("instructions", step.instructions), ("deeper", step.deeper)):
                if text and (role != "deeper" or self.deeper):
                    end = self.speech(end + self.gap, text, role, **where)
            cursor = end + max(self.samples(step.prep), self.gap)
            turns = [(rep, side) for rep in range(1, step.reps + 1) for side in step.side_names]
            for turn, (rep, side) in enumerate(turns):
                last_of_step = turn == len(turns) - 1
                last_of_routine = last_of_step and index == len(steps) - 1 and not self.continues
                last_set = last_of_routine and (index > 0 or len(turns) > 1)
                end, switched = self.hold(cursor, index, step, side, rep, last_of_step, last_set)
                quiet = step.switch if switched else step.rest
                rest = 0 if last_of_routine else max(self.samples(quiet), self.gap)
                cursor = end + rest
            spans.append(StepSpan(index, step.name, step_start, cursor, step.pause_after_step))
        end = self.speech(cursor + self.gap, self.words.closing, "closing")
        end = self.chime(end + self.gap, FINISH, "finish")
        length = end + self.samples(TAIL_SECONDS)
        return Script(
            sample_rate=self.rate,
            length_samples=length,
            cues=tuple(sorted(self.cues, key=lambda cue: cue.start_sample)),
            holds=tuple(self.holds),
            steps=tuple(spans),
            notes=tuple(dict.fromkeys(self.notes)),
            language=self.words.language,
        )

    def hold(
        self,
        cursor: int,
        index: int,
        step: Step,
        side: str | None,
        rep: int,
        last_of_step: bool,
        last_set: bool = False,
    ) -> tuple[int, bool]:
        """Place one hold with its cues from ``cursor``; return the end of its release
        or switch cue, and whether it was a switch cue."""
        where: dict[str, Any] = {"step": index, "side": side, "rep": rep}
        phrase = side_phrase(step, side, rep, self.words)
        if phrase:
            cursor = self.speech(cursor, phrase, "side", **where) + self.samples(
                BEFORE_CHIME_SECONDS
            )
        start = cursor
        end = start + self.samples(step.hold)
        opening = (LAST_SET, "last-set") if last_set else (HOLD_START, "hold-start")
        start_chime_end = self.chime(start, *opening, **where)
        if start_chime_end > end:
            # Holds are at least 1 s (routine.py) and the chime is shorter.
            raise ValueError("the hold-start chime is longer than this hold")
        numbers = self.countdown(start_chime_end + self.gap, end, index, step, where)
        self.cues.extend(numbers)
        self.inside_hold(start, end, start_chime_end, numbers, index, step, where)
        self.holds.append(Hold(index, side, rep, start, end))
        released = self.chime(end, HOLD_END, "hold-end", **where)
        # "Switch legs." and the `switch` quiet between the sides of a rep; "And
        # release." and the `rest` after a rep's last side.
        if last_of_step or side is None or side == step.side_names[-1]:
            return self.speech(released + self.gap, self.words.release, "release", **where), False
        switch = switch_phrase(step, self.words)
        return self.speech(released + self.gap, switch, "switch", **where), True

    def countdown(self, earliest: int, end: int, index: int, step: Step, where: dict) -> list[Cue]:
        """Number k starts exactly k seconds before ``end``; a number that would start
        before ``earliest`` or run into the next number is dropped."""
        numbers: list[Cue] = []
        dropped: list[int] = []
        for seconds_left in range(step.countdown, 0, -1):
            start = end - seconds_left * self.rate
            text = countdown_phrase(seconds_left)
            length = self.speech_samples[text]
            next_start = end - (seconds_left - 1) * self.rate
            if start < earliest or start + length > next_start:
                dropped.append(seconds_left)
                continue
            numbers.append(Cue(start, start + length, SPEECH, text, "countdown", **where))
            earliest = start + length
        if dropped:
            self.notes.append(
                f"step {index + 1} ({step.name}): the countdown drops "
                f"{', '.join(map(str, dropped))}, which do not fit a {step.hold:g} s hold; "
                "lengthen the hold or lower 'countdown'"
            )
        return numbers

    def inside_hold(
        self,
        start: int,
        end: int,
        start_chime_end: int,
        numbers: list[Cue],
        index: int,
        step: Step,
        where: dict,
    ) -> None:
        """Warnings, every-N numbers and fractions, each where it falls if it fits
        between the cues already placed (a gap clear of each), in order of priority."""
        taken = [(start, start_chime_end)] + [(c.start_sample, c.end_sample) for c in numbers]
        exact = {int(c.text) for c in numbers}
        wanted: list[tuple[int, str, str]] = []
        for seconds in () if self.quiet else step.warn:
            wanted.append((end - seconds * self.rate, self.words.time_left(seconds), "warn"))
        for seconds in every_numbers(step):
            # Inside the start chime, or said already: left out, as nothing is lost.
            if end - seconds * self.rate < start_chime_end + self.gap:
                continue
            if seconds not in exact and (self.quiet or seconds not in step.warn):
                wanted.append((end - seconds * self.rate, countdown_phrase(seconds), "countdown"))
        # Quiet: chimes and numbers only.
        timed = [at for at, _, _ in wanted] + [c.start_sample for c in numbers]
        for numerator, denominator in [] if self.quiet else hold_fractions(step):
            at = start + (end - start) * numerator // denominator
            if any(abs(at - other) < self.gap for other in timed):
                # "Halfway" on the second "15" is said anyway: the number marks the time.
                continue
            role = "halfway" if (numerator, denominator) == (1, 2) else "fraction"
            wanted.append((at, self.words.fraction(numerator, denominator), role))
        dropped: list[str] = []
        for at, text, role in wanted:
            length = self.speech_samples[text]
            fits = at >= start_chime_end + self.gap and at + length + self.gap <= end
            fits = fits and all(
                at >= taken_end + self.gap or at + length + self.gap <= taken_start
                for taken_start, taken_end in taken
            )
            if not fits:
                dropped.append(f"'{text}'" if role != "halfway" else "the halfway cue")
                continue
            self.speech(at, text, role, **where)
            taken.append((at, at + length))
        if dropped:
            self.notes.append(
                f"step {index + 1} ({step.name}): {', '.join(dropped)} "
                f"{'does' if len(dropped) == 1 else 'do'} not fit in the {step.hold:g} s hold "
                "between the other cues, so "
                f"{'it is' if len(dropped) == 1 else 'they are'} left out"
            )


def clock(seconds: float) -> str:
    """Seconds as ``M:SS``, rounded to the nearest second."""
    whole = max(0, int(seconds + 0.5))
    return f"{whole // 60}:{whole % 60:02d}"


def format_script(script: Script) -> str:
    """The Script as a readable table: start, end, kind and text of every cue, then the total."""

    def stamp(sample: int) -> str:
        seconds = sample / script.sample_rate
        return f"{int(seconds // 60)}:{seconds % 60:06.3f}"

    lines = [f"{'start':>9} {'end':>9}  {'kind':<6} {'role':<12} text"]
    for cue in script.cues:
        text = cue.text if len(cue.text) <= 70 else cue.text[:67] + "..."
        lines.append(
            f"{stamp(cue.start_sample):>9} {stamp(cue.end_sample):>9}  "
            f"{cue.kind:<6} {cue.role:<12} {text}"
        )
    lines.append(
        f"total {stamp(script.length_samples)} · {len(script.steps)} steps · "
        f"{len(script.holds)} holds"
    )
    return "\n".join(lines)
