"""Doses in an article's words: how long a stretch is held, how many times, which sides.

Pure text functions for :mod:`importer`. Each reader takes one sentence (at most a
thousand characters; the importer cuts longer ones) and returns what it says, or nothing:
"hold for 20-30 seconds" (the upper bound of a range), "three sets of twenty seconds",
"3 x 20 s", "(45 sec, 2x per leg)", "for five deep breaths", "repeat 5 more times",
"switch legs", "then the other foot". Numbers in words are read as digits first. Every
pattern is bounded or stops at punctuation, so reading is linear in the text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

#: Seconds one breath is taken to last when a hold is given in breaths.
SECONDS_PER_BREATH = 5

_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"
)  # fmt: skip
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER_WORD = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?:[- ](?P<unit>{'|'.join(_UNITS[1:10])}))?"
    rf"|(?P<small>{'|'.join(_UNITS)})|(?P<couple>a (?:couple|pair) of|a dozen))\b",
    re.IGNORECASE,
)
#: Times said in words, rewritten as digits before anything else is read; each is tried
#: only when its keyword is one of the text's words.
_WORD_TIMES = [
    ("minute", re.compile(r"\b(?:a|one|1) minute or (?:two|2)\b", re.I), "1-2 minutes"),
    ("half", re.compile(r"\b(?:a|one|1) and a half minutes?\b", re.I), "90 seconds"),
    ("half", re.compile(r"\b(\d{1,3}) and a half minutes\b", re.I), r"\1.5 minutes"),
    ("half", re.compile(r"\b(?:half a|a half) minute\b", re.I), "30 seconds"),
    ("minute", re.compile(r"\ba (?:full |whole |good )?minute\b", re.I), "1 minute"),
    ("hour", re.compile(r"\ban hour\b", re.I), "60 minutes"),
    ("twice", re.compile(r"\btwice\b", re.I), "2 times"),
    ("thrice", re.compile(r"\bthrice\b", re.I), "3 times"),
    ("'", re.compile(r"(\d)\s*[-\u2013\u2014]?\s*seconds?['\u2019]s?", re.I), r"\1 seconds"),
    ("\u00bd", re.compile(r"(\d)\s*\u00bd"), r"\1.5"),
    ("\u00bd", re.compile(r"\u00bd"), "0.5"),
]
_WORD = re.compile(r"[a-z]+")
_ANY_DIGIT = re.compile(r"\d")
_NUMBER_WORDS = frozenset((*_UNITS, *_TENS, "couple", "pair", "dozen"))

_NUM = r"(?<!\d)(?<!\d[.,])\d{1,6}(?:\.\d{1,3})?(?![\d])"
_SEP = r"\s*(?:-|\u2013|\u2014|to|or)\s*"
_UNIT = r"(?:seconds?|secs?\b\.?|s\b|minutes?|mins?\b\.?)"
#: A time: "30 seconds", "20-30 s", "45 seconds to 1 minute", "1-2 min", "30s".
_TIME = re.compile(
    rf"(?P<low>{_NUM})(?:\s*-?\s*(?P<low_unit>{_UNIT}))?"
    rf"(?:{_SEP}(?P<high>{_NUM}))?(?:\s*-?\s*(?P<unit>{_UNIT}))?",
    re.IGNORECASE,
)
_BREATH_ADJECTIVES = (
    r"(?:(?:deep|slow|full|long|steady|calm|easy|complete|relaxed|gentle|even|big|"
    r"natural|smooth|more)\s+){0,2}"
)
#: "5 deep breaths", "6 breath cycles", "10 rounds of breath".
_BREATH_WORDS = (
    rf"(?:{_BREATH_ADJECTIVES}breath(?:s|\s+cycles)?|(?:rounds?|cycles?)\s+of\s+"
    rf"{_BREATH_ADJECTIVES}breath(?:s|ing)?)\b"
)
_BREATHS = re.compile(rf"(?P<low>{_NUM})(?:{_SEP}(?P<high>{_NUM}))?\s+{_BREATH_WORDS}", re.I)
_FEW_BREATHS = re.compile(rf"\b(?:a few|several|some)\s+{_BREATH_WORDS}", re.I)
#: Words that may stand between a count and what it counts: "15 slow reps", "5 more times".
_COUNT_WORDS = (
    r"(?:(?:more|slow|slower|controlled|gentle|easy|small|big|large|full|deep|smooth|quick|"
    r"fast|alternating|further|additional|extra|good|careful|steady)\s+){0,2}"
)
#: Movements counted by their name: "10 rolls", "20 scrunches", "15 swings per leg".
_COUNTED_MOVES = (
    r"rolls|circles|swings|squeezes|scrunches|rotations|lifts|raises|pulses|lunges|slides|"
    r"tucks|shrugs|kicks|bridges|squats|presses|curls|tilts|reaches|pumps|bounces|marches|"
    r"laps|lengths|glides|nods|turns|twists|rocks|taps|crunches|pushes|pulls|flosses|jumps|"
    r"hops|skips"
)
#: What may follow "x 5" to make it a size or a time, not repetitions: "x 20 m".
_NOT_COUNT_AFTER = (
    r"\d|\.\d|\s*-?\s*(?:seconds?|secs?|s\b|minutes?|mins?|m\b|cm|km|metres?|meters?|"
    r"yards?|yds?|ft\b|feet|inch)"
)
#: Repetitions: "3 times", "2-3 reps", "10 iterations", "3 sets of", "3 x", "x 2", "2x",
#: "10 slow rolls", "twice more".
_REPS = re.compile(
    rf"(?P<low>{_NUM})(?:{_SEP}(?P<high>{_NUM}))?\s*(?P<words>{_COUNT_WORDS})"
    rf"(?P<unit>times|reps?\b|repetitions?|iterations?|rounds?|sets?|cycles?|"
    rf"(?:{_COUNTED_MOVES})\b|[x\u00d7](?![a-z]))(?P<again>\s+more\b)?"
    rf"|(?<![a-z])[x\u00d7]\s*(?P<after>\d{{1,2}})(?!{_NOT_COUNT_AFTER})",
    re.IGNORECASE,
)
#: Units that count sets, each of which may hold a count of its own ("3 x 10").
_SET_UNITS = ("x", "\u00d7", "set", "sets", "round", "rounds")
_TIME_WORDS = r"seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|breaths?"
#: A count for each side, with or without what it counts: "6 on each leg", "(5/side)",
#: "8 each", "10 steps each leg", "Do 5 with each leg".
_SIDE_COUNT = re.compile(
    rf"(?P<low>{_NUM})(?:{_SEP}(?P<high>{_NUM}))?\s*(?:{_COUNT_WORDS}(?!(?:{_TIME_WORDS})\b)"
    rf"[a-z]+\s+)?(?:(?:(?:with|on|for)\s+)?(?:each|per|a|every)\s+(?:side|leg|arm|foot|way)\b"
    rf"|/\s*(?:side|leg|arm|foot)\b|each\b(?!\s+(?:of|other|time)\b))",
    re.IGNORECASE,
)
#: What after "30 s" makes it seconds: the end, punctuation, or a dose's words.
_SECONDS_APART = re.compile(
    r"\s*(?:$|[^\w\s]|(?:each|per|a|on|x|hold|then|and|rest|at|in|with|or)\b)", re.I
)
_OF_BREATH = re.compile(r"\s+of\s+(?:\w+\s+)?breath", re.I)
#: "Hold for a count of 10": a count is about a second.
_COUNT_HOLD = re.compile(
    r"\b(?:hold|stay|pause|keep|remain)\w*\b[^.;!?]{0,30}?\bcount of (?P<count>\d{1,3})\b",
    re.IGNORECASE,
)
#: A field giving the reps: "Reps: 10", "Sets: 2-3".
_REPS_FIELD = re.compile(
    rf"^\W*(?:reps|repetitions|sets|rounds)\s*:\s*(?P<low>{_NUM})(?:{_SEP}(?P<high>{_NUM}))?", re.I
)
_VAGUE_REPS = re.compile(r"\b(several|a few|many|multiple|some) times\b", re.I)
#: What after a number makes it a frequency, not a dose: "3 times a day".
_FREQUENCY = re.compile(
    r"\s*(?:x\s*)?(?:(?:(?:a|per|each|every)\s+|/\s*)(?:day|week|wk|night|morning|evening|"
    r"hour)\b|daily|weekly|days? (?:a|per) week\b)",
    re.I,
)
#: Words before a time that make it a hold, and words that make it something else.
_HOLD_BEFORE = re.compile(
    r"\b(?:hold\w*|held|stay\w*|remain\w*|maintain\w*|keep\w*|sustain\w*|for|about|around|"
    r"approximately|up to|at least|another|sink|relax|rest in|rest there|hang|lie|sit|"
    r"breathe|paus\w*)\b|:|[(,]\s*$|^\W*$|\b(?:sets?|rounds?|reps?) of\s*$|[x\u00d7]\s*$",
    re.IGNORECASE,
)
_NOT_HOLD_BEFORE = re.compile(
    r"\b(?:rest(?!\s+(?:here|there|in\b|like|on\b|with\b))|break|wait|between|warm\w*|"
    r"spend|spent|takes?|took|total|session|"
    r"length|elapsed|counts? of|inhale|exhale|breathe (?:in|out)|interval)\b[^.;]{0,40}$"
    r"|\b(?:after|within|only|last\w*|in|every)\s*$",
    re.IGNORECASE,
)
#: What after a time makes it a dose whatever came before: "40 seconds per leg".
_DOSE_AFTER = re.compile(
    r"\s*(?:(?:per|each|a|on each|for each)\s+(?:side|leg|arm|foot)\b|[x\u00d7]\s*\d)", re.I
)
_NOT_HOLD_AFTER = re.compile(r"\s*(?:of (?:rest|walking|easy|light|cardio)|between|rest)\b", re.I)
#: What a dose always has: a number with a unit ("30 s", "5 breaths", "3 x", "2 sets").
_DOSE_UNIT = re.compile(
    rf"\d\s*-?\s*(?:s\b|sec|min|breath|rep|time|set|round|iteration|cycle|x\b|\u00d7|"
    rf"(?:{_COUNTED_MOVES})\b)"
    r"|\b(?:x|\u00d7)\s*\d|\b(?:reps|repetitions|sets|rounds)\s*:\s*\d",
    re.IGNORECASE,
)
#: A sentence that is nothing but a dose: "30 seconds per leg.", "3 x 20-30 seconds".
_DOSE_WORDS = re.compile(
    r"\b(?:hold|holds|hold time|for|each|ea|per|a|an|on|side|sides|leg|legs|arm|arms|rep|reps|"
    r"repetitions?|sets?|rounds?|times|iterations?|of|x|and|seconds?|secs?|s|minutes?|mins?|"
    r"breaths?|deep|slow|about|approximately|up|to|or|stretch|the|with|both|stay|duration|"
    rf"time|repeat|more|then|switch|do|total|direction|directions|{_COUNTED_MOVES})\b|\d+s\b|"
    r"/\s*(?:side|leg|arm|foot)\b|[\d\s.,;:()\-\u2013\u2014x\u00d7|]",
    re.IGNORECASE,
)

_LIMB = (
    r"(?:sides?|legs?|arms?|feet|foot|knees?|hips?|shoulders?|hands?|ankles?|wrists?|"
    r"elbows?|calf|calves|thighs?|glutes?|hamstrings?|quads?)"
)
#: A sentence that does each side: patterns tried in order; the first match decides.
_SIDES = [
    re.compile(
        rf"(?:\b(?:for|on|with|to|per|\w*\d\w*|seconds?|secs?|minutes?|mins?|breaths?|times|"
        rf"reps?)|,)\s+(?:each|every|either)\s+{_LIMB}\b(?!\s+of\b)|\bper\s+{_LIMB}\b"
        rf"|^\W*each\s+{_LIMB}\b|\beach\s+{_LIMB}\s+for\b|\w\s*/\s*(?:side|leg|arm|foot)\b"
        rf"|\b(?:\d\w*|secs?|seconds?|mins?|minutes?|reps?|times|breaths?)\.?\s+ea\b"
        rf"|\b\d\w*\s+[a-z]+\s+(?:each|per)\s+{_LIMB}\b",
        re.I,
    ),
    re.compile(r"\bsides?\s*:\s*(?:both|each|2|two|left and right|alternat\w*)\b", re.I),
    re.compile(r"\bboth sides\b(?!\s+of\b)", re.I),
    re.compile(
        r"\b(?:\w*\d\w*|seconds?|minutes?|mins?|breaths?|times|reps?)\s+a\s+(?:side|leg|arm)\b",
        re.I,
    ),
    re.compile(
        rf"\b(?:for|do|repeat\w*|stretch|work|switch to)\s+(?:the\s+)?(?:both|each|either)\s+"
        rf"{_LIMB}\b|\bon\s+(?:the\s+)?both\s+(?:sides|legs|arms)\b",
        re.I,
    ),
    re.compile(
        rf"\b(?:switch\w*|swap\w*|chang\w*|alternat\w*|trade)\s+(?:to\s+)?(?:the\s+)?{_LIMB}\b",
        re.I,
    ),
    re.compile(r"\b(?:switch|swap|change)\b\s*(?:[.;!),]|$|and\b|then\b)", re.I),
    # "then the other leg", but not a foot placed within one movement: "step up, then
    # bring the other foot up"
    re.compile(
        rf"\b(?:then|now|next|afterwards|after that|and then|repeat\w*|do|doing|switch\w*|swap\w*|"
        rf"chang\w*|forget|same|turn\w*|twist\w*|move|roll|go|finish)\b"
        rf"(?:(?!\b(?:bring|step|place|put|plant|cross)\b)[^.;!?]){{0,40}}?"
        rf"\b(?:the\s+|your\s+)?(?:other|opposite|second)\s+(?:{_LIMB}|one|ones)\b(?!['\u2019]s)",
        re.I,
    ),
    re.compile(rf"^\W*(?:the\s+)?(?:other|opposite)\s+{_LIMB}\b", re.I),
    re.compile(rf"\b(?:other|opposite)\s+{_LIMB}\s+(?:next|after|afterwards|too|as well)\b", re.I),
    re.compile(r"\b(?:twist|turn|lean|rotat)\w*\b[^.;!?]{0,25}\bthe other way\b", re.I),
    re.compile(rf"\bone\s+{_LIMB}\s+at\s+a\s+time\b", re.I),
    re.compile(
        r"\b(?:do|repeat|stretch|switch to|change to)\s+(?:the\s+|your\s+)?(?:left|right)\s+"
        r"(?:side|leg|arm|foot|one)\b"
        r"|\b(?:do|repeat|switch to|change to)\s+(?:on\s+|with\s+)?(?:the|your)\s+(?:left|right)"
        r"\s*(?:[.;!,)]|$)",
        re.I,
    ),
    re.compile(
        r"\b(?:then|and then|now)\s+(?:to\s+|on\s+|do\s+)?the\s+other\s*(?:[.;!,)]|$)", re.I
    ),
    re.compile(
        r"\b(?:then|now|next|repeat\w*|switch\w*|afterwards|before|same)\b[^.;!?]{0,30}?"
        r"\b(?:to|on|with|onto|toward)\s+(?:the\s+|your\s+)?(?:left|right)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:left|right)\b[^.;!?]{0,40}\b(?:then|followed by)\b[^.;!?]{0,30}\b(?:right|left)\b",
        re.I,
    ),
    # "5 breaths R, then L", "R/L"
    re.compile(r"\b[RL]\s*(?:,\s*)?(?:then|&|and|/|,|\+)\s*(?:then\s+)?[LR]\b"),
    re.compile(r"\b(?:each|either|both)\s+ways?\b", re.I),
    # a sentence or field that says no more than "Both legs." or "Notes: both legs please"
    re.compile(
        r"^\W*(?:do\s+|on\s+)?(?:both|each|either)\s+(?:sides?|legs?|arms?)\b[^.;!?]{0,15}"
        r"[.!]?\s*$|^[A-Za-z ]{1,20}:\s*(?:both|each)\s+(?:sides|legs|arms)\b",
        re.I,
    ),
    re.compile(r"\b(?:alternating|alternate)\b", re.I),
]
#: Side words that switch nothing: "rock from side to side", the head turning.
_NOT_SIDES = re.compile(
    r"\bside to side\b"
    r"|\b(?:head|gaze|eyes|face|chin|nose)\b[^.;!?]{0,20}\b(?:other|opposite)\s+side\b",
    re.I,
)
_LIMB_OF = {
    "leg": "leg", "legs": "leg", "foot": "leg", "feet": "leg", "knee": "leg", "knees": "leg",
    "hip": "leg", "hips": "leg", "ankle": "leg", "ankles": "leg", "calf": "leg",
    "calves": "leg", "thigh": "leg", "thighs": "leg", "hamstring": "leg", "hamstrings": "leg",
    "quad": "leg", "quads": "leg", "glute": "leg", "glutes": "leg",
    "arm": "arm", "arms": "arm", "hand": "arm", "hands": "arm", "shoulder": "arm",
    "shoulders": "arm", "wrist": "arm", "wrists": "arm", "elbow": "arm", "elbows": "arm",
}  # fmt: skip


@dataclass(frozen=True)
class Dose:
    """A value read from the text, with the comment that explains it (or None)."""

    value: float
    note: str | None = None


@functools.lru_cache(maxsize=4096)
def spelled_as_digits(text: str) -> str:
    """``text`` with numbers and times said in words as digits: "forty-five seconds" gives
    "45 seconds", "half a minute" gives "30 seconds", "twice" gives "2 times".

    Remembered for the last few thousand texts: every dose reader asks for the same
    sentence."""
    if not text:
        return text
    words = set(_WORD.findall(text.lower()))
    if words & _NUMBER_WORDS:
        text = _NUMBER_WORD.sub(_word_value, text)
    for keyword, pattern, replacement in _WORD_TIMES:
        said = keyword in text or (keyword == "'" and "\u2019" in text)
        if keyword in words or (not keyword.isalpha() and said):
            text = pattern.sub(replacement, text)
    return text


def _word_value(match: re.Match) -> str:
    if match["couple"]:
        return "12" if "dozen" in match["couple"].lower() else "2"
    if match["small"]:
        return str(_UNITS.index(match["small"].lower()))
    value = 20 + 10 * _TENS.index(match["tens"].lower())
    return str(value + (_UNITS.index(match["unit"].lower()) if match["unit"] else 0))


def _number(value: float) -> str:
    return f"{value:g}"


def _upper(low: str, high: str | None) -> tuple[float, float | None]:
    """The upper bound of a range (and its lower bound), or the one number."""
    first = float(low)
    if high is not None and float(high) > first:
        return float(high), first
    return first, None


def _seconds(unit: str | None) -> int:
    return 60 if unit and unit.lower().startswith("m") else 1


def find_hold(sentence: str) -> Dose | None:
    """The hold a sentence gives in seconds: the first time that reads as a hold."""
    digits = spelled_as_digits(sentence)
    lone = is_dose_only(digits)
    for match in _TIME.finditer(digits):
        unit = match["unit"] or (match["low_unit"] if match["high"] is None else None)
        if unit is None:
            continue
        if unit.lower() == "s" and not (
            re.match(r"\d+s\b", match.group(0), re.I) or _SECONDS_APART.match(digits, match.end())
        ):
            continue  # "30 s" is seconds written together, "30s", or before a dose's words
        before = digits[max(0, match.start() - 60) : match.start()]
        if _NOT_HOLD_BEFORE.search(before) or _NOT_HOLD_AFTER.match(digits, match.end()):
            continue
        if _FREQUENCY.match(digits, match.end()):
            continue
        if not (lone or _HOLD_BEFORE.search(before) or _DOSE_AFTER.match(digits, match.end())):
            continue
        high_unit = match["unit"] or match["low_unit"]
        low_seconds = float(match["low"]) * _seconds(match["low_unit"] or high_unit)
        if match["high"] is None:
            return Dose(low_seconds)
        seconds = float(match["high"]) * _seconds(high_unit)
        if seconds <= low_seconds:
            return Dose(low_seconds)
        low_said = match["low"] + (
            f" {_unit_name(match['low_unit'], match['low'])}" if match["low_unit"] else ""
        )
        high_said = f"{match['high']} {_unit_name(high_unit, match['high'])}"
        return Dose(seconds, f"note: the article says {low_said} to {high_said}")
    count = _COUNT_HOLD.search(digits)
    if count:
        seconds = float(count["count"])
        return Dose(seconds, f"note: the article says a count of {seconds:g}; a second a count")
    return None


def _unit_name(unit: str, number: str) -> str:
    name = "minute" if unit.lower().startswith("m") else "second"
    return name if float(number) == 1 else f"{name}s"


def find_breaths(sentence: str) -> Dose | None:
    """A hold given in breaths, at about :data:`SECONDS_PER_BREATH` seconds a breath."""
    digits = spelled_as_digits(sentence)
    for match in _BREATHS.finditer(digits):
        before = digits[max(0, match.start() - 40) : match.start()]
        if re.search(r"\b(?:inhale|exhale|every|each|count)\b[^.;]{0,20}$", before, re.I):
            continue
        count, low = _upper(match["low"], match["high"])
        said = f"{_number(low)} to {_number(count)}" if low is not None else _number(count)
        return Dose(
            count * SECONDS_PER_BREATH,
            f"note: the article says {said} breaths; about {SECONDS_PER_BREATH} s a breath",
        )
    few = _FEW_BREATHS.search(sentence)
    if few:
        return Dose(3 * SECONDS_PER_BREATH, f"guessed: the article says {few.group(0).lower()}")
    return None


def find_reps(sentence: str) -> Dose | None:
    """Repetitions: "repeat 3 times", "2-3 reps" (the upper bound), "3 x 20 seconds",
    "30 seconds x 2", "twice", "Sets: 2"; "5 more times" counts the first one too."""
    digits = spelled_as_digits(sentence)
    field = _REPS_FIELD.match(digits)
    if field:
        count, low = _upper(field["low"], field["high"])
        note = f"note: the article says {_number(low)} to {_number(count)} times" if low else None
        return Dose(count, note) if count >= 1 and count == int(count) else None
    side_count = next(
        (
            found
            for found in _SIDE_COUNT.finditer(digits)
            if not _FREQUENCY.match(digits, found.end())
        ),
        None,
    )
    for match in _REPS.finditer(digits):
        if match["after"] is not None:
            return Dose(float(match["after"]))
        if _FREQUENCY.match(digits, match.end()) or _OF_BREATH.match(digits, match.end()):
            continue
        count, low = _upper(match["low"], match["high"])
        if count != int(count) or count < 1:
            continue
        unit = match["unit"].lower()
        if side_count is not None and side_count.start() > match.start() and unit not in _SET_UNITS:
            break  # "10 reps (5/side)": the count for each side
        note = None
        if low is not None:
            note = f"note: the article says {_number(low)} to {_number(count)} times"
        if "more" in match["words"].lower() or match["again"]:
            note = f"note: the article says {_number(count)} more, after the first"
            count += 1
        return Dose(count, note)
    if side_count is not None:
        count, low = _upper(side_count["low"], side_count["high"])
        if count >= 1 and count == int(count):
            note = f"note: the article says {_number(low)} to {_number(count)}" if low else None
            return Dose(count, note)
    vague = _VAGUE_REPS.search(digits)
    if vague and not _FREQUENCY.match(digits, vague.end()):
        return Dose(
            1, f"guessed: the article says '{vague.group(1).lower()} times', with no number"
        )
    return None


def find_sides(sentence: str) -> str | None:
    """The limb word when ``sentence`` does each side ("leg", "arm", or "side"), else None."""
    if _NOT_SIDES.search(sentence) and not re.search(
        r"\b(?:each|per|switch|swap|both sides)\b", _NOT_SIDES.sub(" ", sentence), re.I
    ):
        return None
    for pattern in _SIDES:
        match = pattern.search(sentence)
        if match:
            for word in re.findall(r"[a-z]+", match.group(0).lower()):
                if word in _LIMB_OF:
                    return _LIMB_OF[word]
            return "side"
    return None


@functools.lru_cache(maxsize=4096)
def is_dose_only(text: str) -> bool:
    """Whether ``text`` says nothing but a dose: "3 x 20-30 seconds", "Hold: 5 breaths"."""
    digits = spelled_as_digits(text)
    if len(digits) > 80 or not _DOSE_UNIT.search(digits):
        return False
    return not _DOSE_WORDS.sub("", digits).strip(" .,;:!?'\"")


def has_dose(text: str) -> bool:
    """Whether ``text`` gives a hold, breaths or reps anywhere."""
    if not _ANY_DIGIT.search(spelled_as_digits(text)):
        return False  # no number, no dose: most lines stop here
    return any(
        find(sentence) is not None
        for sentence in re.split(r"(?<=[.!?;])\s+", text)
        for find in (find_hold, find_breaths, find_reps)
    )
