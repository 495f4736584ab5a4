"""The article importer: a stretching article's text in, routine YAML text out.

Pure: no I/O, no clock, no network, the same output for the same input. :mod:`article`
gives the page's lines with their structure, :mod:`layout` finds the steps in them and
:mod:`doses` reads each step's hold, sides and reps from its words; statements that apply
to every step ("hold each for 30 seconds", "do each of these twice", "repeat 1 & 2 on the
other leg") are read here. The YAML carries a ``# guessed: ...`` or ``# note: ...``
comment on every value the article does not state plainly, and it always keeps within a
routine's limits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from .article import Article, Line, read_article
from .doses import Dose, find_breaths, find_hold, find_reps, find_sides, is_dose_only
from .errors import ArticleError, RoutineError
from .layout import (
    EVERY_STEP,
    HOWTO_LABELS,
    JUNK,
    META_LABELS,
    VERBS,
    FoundStep,
    clean_name,
    field_label,
    find_steps,
)
from .routine import (
    DEFAULTS,
    MAX_REPS,
    MAX_ROUTINE_SECONDS,
    MAX_SECONDS,
    MAX_STEPS,
    MAX_TEXT,
    parse_routine,
)

#: Largest article accepted, in characters (a saved page with its scripts fits easily).
MAX_ARTICLE_CHARS = 8_000_000
MAX_NAME = 80
#: Longest sentence read as one; a longer run of words is read in pieces of this size.
MAX_SENTENCE = 1_000
#: Most characters of one step that are read: more than any stretch's instructions, so
#: that no step costs more than this however long the page runs on.
MAX_STEP_CHARS = 8_000
#: Most cautions kept from an article (they are spoken before the first stretch).
MAX_WARNINGS = 5

_WARNING = re.compile(
    r"\b(consult|check with|talk (to|with)|speak (to|with)|see|ask) (your|a) (doctor|physician|"
    r"physio\w*|health ?care|medical|gp|physical therapist|therapist)\b|"
    r"\bstop (immediately |right away |at once )?if\b|\bif (it|this|anything) hurts\b|"
    r"\bshould(n['\u2019]t| not| never) (hurt|be painful|cause pain)\b|"
    r"\b(never|don['\u2019]t|do not) (bounce|force)\b|\bsharp (or shooting )?pain\b|"
    r"\bif you (are pregnant|have (an |a )?(injury|injuries|surgery|condition))\b",
    re.IGNORECASE,
)
_DEEPER = re.compile(
    r"^(for|to get) (a |an )?(deeper|more intense|stronger|bigger) (stretch|version)|"
    r"^to (deepen|intensify) (the|this) (stretch|pose)|^to go deeper\b|^for more (of a )?stretch|"
    r"^if you want more (of a )?stretch",
    re.IGNORECASE,
)
#: "Repeat 1 & 2 on the other leg", "repeat steps 1-3": steps named by their numbers.
_STEP_NUMBERS = re.compile(
    r"\b(?:steps?\s*|stretch(?:es)?\s*|exercises?\s*|#\s*|numbers?\s*)?"
    r"(?P<first>\d{1,2})(?P<more>(?:\s*(?:&|and|,|-|\u2013|to|through)\s*#?\s*\d{1,2})+)\b"
)
#: Lettered steps a sentence names: "Repeat C and D", "steps A to C" (not "I").
_STEP_LETTERS = re.compile(
    r"\b(?:steps?\s+|stretch(?:es)?\s+|exercises?\s+)?"
    r"(?P<first>[A-HJ-Z])(?P<more>(?:\s*(?:&|and|,|-|\u2013|to|through)\s*[A-HJ-Z])+)\b"
)
_PARENTHESES = re.compile(r"\(([^()]*)\)")
#: What a parenthesis that points elsewhere says: "(pictured below)", "(see the video)".
_POINTER = re.compile(
    r"https?://|www\.|click|see |pictured|photo|image|video|below|above|shown|link", re.I
)
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)")
_ABBREVIATIONS = [
    (re.compile(r"\b(\d+)\s?secs?\b\.?", re.I), r"\1 seconds"),
    (re.compile(r"\b(\d+)s\b"), r"\1 seconds"),
    (re.compile(r"\b(\d+)\s?mins?\b\.?", re.I), r"\1 minutes"),
    (re.compile(r"\bsecs?\b\.?", re.I), "seconds"),
    (re.compile(r"\bmins\b\.?", re.I), "minutes"),
    (re.compile(r"\bapprox\.?(?=\s)", re.I), "approximately"),
    (re.compile(r"\be\.g\.,?", re.I), "for example"),
    (re.compile(r"\bi\.e\.,?", re.I), "that is"),
    (re.compile(r"\bw/(?=\s)", re.I), "with"),
    (re.compile(r"\breps\b", re.I), "repetitions"),
    (re.compile(r"\s&\s"), " and "),
    (re.compile(r"#\s?(\d)"), r"number \1"),
    (re.compile(r"(\d)\s?[-\u2013\u2014]\s?(\d)"), r"\1 to \2"),
]


@dataclass(frozen=True)
class ImportedStep:
    """One step found in an article; each ``*_note`` explains a value that was guessed."""

    name: str
    instructions: str
    hold: float
    sides: str
    reps: int = 1
    limb: str | None = None
    deeper: str | None = None
    name_note: str | None = None
    hold_note: str | None = None
    sides_note: str | None = None
    reps_note: str | None = None
    instructions_note: str | None = None


@dataclass(frozen=True)
class ImportedRoutine:
    """What the importer found: a title, the warnings, the steps and the default hold."""

    name: str
    steps: tuple[ImportedStep, ...]
    warnings: tuple[str, ...] = ()
    hold: float = DEFAULTS["hold"]
    name_note: str | None = None
    hold_note: str | None = None
    source_url: str | None = None
    #: What the importer changed to keep the routine within a routine's limits.
    notes: tuple[str, ...] = ()


@dataclass
class _General:
    """What the article says once for every step (or for steps it names by number)."""

    hold: Dose | None = None
    reps: Dose | None = None
    sides: str | None = None
    #: Step numbers a sentence such as "repeat 1 & 2 on the other leg" gives each side.
    sided_numbers: frozenset[int] = frozenset()


def import_article(text: str, source: str = "<article>") -> str:
    """Turn an article's ``text`` (plain text, Markdown or HTML) into routine YAML text.

    ``source`` names the article in the YAML's header comment. The YAML is checked with
    :func:`voice_coach.routine.parse_routine` before it is returned.

    Raises
    ------
    ArticleError
        When the text is empty, is not text, is too large, or names no stretch.
    """
    routine = extract_routine(text)
    yaml_text = routine_yaml(routine, source)
    try:
        parse_routine(yaml_text, source)
    except RoutineError as error:
        # The importer keeps within every limit itself, so this is a bug in it.
        raise ArticleError(
            f"voice-coach's importer made a routine it cannot use ({error.message}); "
            "this is a bug: please report it with the article"
        ) from None
    return yaml_text


def decode_article(data: bytes) -> str:
    """An article file's bytes as text: UTF-8 (a BOM allowed), else Windows-1252.

    Raises
    ------
    ArticleError
        When the bytes are not text at all (binary files).
    """
    if b"\x00" in data[:100_000]:
        raise ArticleError("this is not text; give an article as plain text, Markdown or HTML")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Pages saved by older browsers; a wrong guess only garbles a few characters.
        return data.decode("cp1252", errors="replace")


def extract_routine(text: str) -> ImportedRoutine:
    """Find the routine in an article's ``text``: its title, steps and warnings."""
    _check_text(text)
    article = read_article(text)
    lines = list(article.lines)
    source_url = None
    if lines and re.match(r"^(source|url)\s*:", lines[0].text, re.IGNORECASE):
        # A saved page's header line; its address, if any, can still name the routine.
        address = lines.pop(0).text.split(":", 1)[1].strip()
        source_url = address if re.match(r"^(https?://|www\.)\S+$", address) else None
    title, lines = _take_title(article, lines)
    name_note = None
    if title is None:
        title = _title_from_url(source_url)
        name_note = (
            "guessed: the article has no title line; named from its address"
            if title
            else "guessed: the article has no title"
        )
        title = title or "Imported stretches"
    layout = find_steps(lines, MAX_STEPS)
    if not layout.steps:
        raise ArticleError(
            "found no stretches in the article; it needs stretches under headings, in a "
            "list, or as 'Name: how to do it' lines"
        )
    general = _general(layout.steps[:MAX_STEPS], layout.loose)
    warnings: list[str] = []
    steps = [
        _step(found, number, general, warnings)
        for number, found in enumerate(layout.steps[:MAX_STEPS], start=1)
    ]
    for line in layout.loose:
        for sentence in _sentences(line.text):
            _collect_warning(sentence, warnings)
    notes = []
    if len(layout.steps) > MAX_STEPS:
        notes.append(
            f"note: the article has over {MAX_STEPS} stretches, more than a routine may "
            f"have; these are its first {MAX_STEPS} (import the rest from a copy without them)"
        )
    steps, note = _within_routine_length(steps)
    notes += [note] if note else []
    default = general.hold
    return ImportedRoutine(
        name=_limit(title if _has_words(title) else "Imported stretches", MAX_NAME),
        steps=tuple(steps),
        warnings=tuple(warnings),
        hold=min(max(default.value, 1), MAX_SECONDS) if default else DEFAULTS["hold"],
        name_note=name_note,
        hold_note=_every_step_note(default) if default else None,
        source_url=source_url,
        notes=tuple(notes),
    )


def _every_step_note(dose: Dose) -> str:
    said = dose.note.removeprefix("note: the article says ") if dose.note else None
    return (
        "note: the article gives one hold" + (f" ({said})" if said else "") + " for every stretch"
    )


def _general(steps: list[FoundStep], loose: list[Line]) -> _General:
    """What the article says once for all steps: in its introduction or outro, or in a
    sentence inside a step that speaks of all of them ("Do each of these twice")."""
    general = _General()
    inside = [
        sentence
        for step in steps
        for line in step.lines
        for sentence in _sentences(line.text)
        if EVERY_STEP.search(sentence) or (_step_reference(sentence) and not step.numbered_lines)
    ]
    outside = [sentence for line in loose for sentence in _sentences(line.text)]
    sided: set[int] = set()
    for sentence in outside + inside:
        every = bool(EVERY_STEP.search(sentence))
        if (
            general.hold is None
            and (every or sentence in outside)
            and re.search(r"\b(?:hold\w*|held|stay|remain)\b", sentence, re.IGNORECASE)
        ):
            general.hold = find_hold(sentence) or find_breaths(sentence)
        if every and general.reps is None:
            reps = find_reps(sentence)
            general.reps = reps if reps is not None and reps.value > 1 else None
        if every and general.sides is None:
            general.sides = find_sides(sentence)
        numbers = _step_reference(sentence)
        if (
            numbers
            and re.search(r"\brepeat\w*\b", sentence, re.IGNORECASE)
            and find_sides(sentence)
        ):
            sided.update(_numbers_in(numbers))
    general.sided_numbers = frozenset(sided)
    return general


def _step_reference(sentence: str) -> re.Match | None:
    """Where ``sentence`` names steps by number or letter ("1 & 2", "C and D")."""
    return _STEP_NUMBERS.search(sentence) or _STEP_LETTERS.search(sentence)


def _numbers_in(match: re.Match) -> set[int]:
    """The step numbers a reference names: "1 & 2", "1-3", "2, 4 and 5", "C and D"
    (letters count from A, 1)."""

    def value(said: str) -> int:
        return int(said) if said.isdigit() else ord(said) - ord("A") + 1

    numbers = [value(match["first"])]
    for joiner, number in re.findall(
        r"(&|and|,|-|\u2013|to|through)\s*#?\s*(\d{1,2}|[A-Z])\b", match["more"]
    ):
        if joiner in ("-", "\u2013", "to", "through") and value(number) > numbers[-1]:
            numbers.extend(range(numbers[-1] + 1, value(number) + 1))
        else:
            numbers.append(value(number))
    return set(numbers)


def _step_sentences(found: FoundStep) -> list[str]:
    """The sentences a step's doses are read from: its name's line first, then its text
    up to :data:`MAX_STEP_CHARS`, without fields that say nothing of the dose."""
    texts = []
    size = 0
    for text in _step_texts(found, with_head=True):
        if field_label(text) in META_LABELS:
            continue
        texts.append(text)
        size += len(text)
    # the same stretch named elsewhere with its dose (a summary, a table), read last
    for text in found.elsewhere:
        if field_label(text) not in META_LABELS and size <= MAX_STEP_CHARS:
            texts.append(text)
            size += len(text)
    return [sentence for text in texts for sentence in _sentences(text)]


def _step_texts(found: FoundStep, with_head: bool) -> list[str]:
    """The step's texts (its name's line first, ``with_head``), up to about
    :data:`MAX_STEP_CHARS`, with a sentence broken over lines put together again: a copy
    of a PDF or a hard-wrapped e-mail ("Hold for 45" / "seconds, rest 2 minutes")."""
    pieces = [(found.block, found.head_rest)] if with_head and found.head_rest else []
    pieces += [(line.block, line.text) for line in found.lines]
    # fields set side by side on one line are one text each: "Time: 5 seconds • Reps: 8"
    pieces = [(block, part) for block, text in pieces for part in _FIELD_BREAK.split(text)]
    joined: list[tuple[int | None, str]] = []
    size = 0
    for block, text in pieces:
        if size > MAX_STEP_CHARS:
            break
        size += len(text)
        if joined and block is not None and joined[-1][0] == block:
            previous = joined[-1][1]
            if _CONTINUED.search(previous) and _CONTINUING.match(text) and not field_label(text):
                # "work-" / "top" is one word again; other lines join with a space
                glue = previous[:-1] if re.search(r"[a-z]-$", previous) else previous + " "
                joined[-1] = (block, glue + text)
                continue
        joined.append((block, text))
    return [text for _, text in joined]


#: What sets fields side by side on one line: a bar, bullet or middle dot with spaces.
_FIELD_BREAK = re.compile(r"\s+[|\u2022\u00b7\u25e6\u25aa]\s+")
#: A line that stops mid-sentence, and one that goes on with it.
_CONTINUED = re.compile(r"[^.!?:;)\"\u201d]\s*$")
_CONTINUING = re.compile(r"[a-z0-9]")


def _step(found: FoundStep, number: int, general: _General, warnings: list[str]) -> ImportedStep:
    sentences = _step_sentences(found)
    hold = None
    for sentence in sentences:
        hold = find_hold(sentence) or find_breaths(sentence)
        if hold is not None:
            break
    hold_note = hold.note if hold else None
    if hold is None and general.hold is not None:
        hold, hold_note = general.hold, _every_step_note(general.hold)
    seconds = hold.value if hold else DEFAULTS["hold"]
    if hold is None:
        hold_note = "guessed: no hold time given"
    if seconds > MAX_SECONDS:
        said = f"{seconds / 60:g} minutes" if seconds >= 120 else f"{seconds:g} seconds"
        most = MAX_SECONDS // 60
        hold_note = f"note: the article says {said}; a hold lasts {most} minutes at most"
    seconds = min(max(seconds, 1), MAX_SECONDS)
    reps = _reps(sentences, general)
    limb = next((limb for limb in map(find_sides, sentences) if limb), None)
    if limb is None and (general.sides or number in general.sided_numbers
                         or (found.ordinal in general.sided_numbers)):  # fmt: skip
        limb = general.sides or "side"
    body = _instruction_lines(found)
    spoken_sentences = _sentences(" ".join(body))
    deeper = [sentence for sentence in spoken_sentences if _DEEPER.search(sentence)]
    spoken = [sentence for sentence in spoken_sentences if sentence not in deeper]
    for sentence in spoken_sentences:
        _collect_warning(sentence, warnings)
    name, name_note = found.name if _has_words(found.name) else None, None
    if not name:
        name = _unnamed(found, number)
        name_note = "guessed: the article names no stretch here"
    instructions = _speakable(" ".join(spoken)) if _has_words(" ".join(spoken)) else ""
    instructions_note = None
    if len(instructions) > MAX_TEXT:
        instructions_note = (
            f"note: the article's text is cut to the {MAX_TEXT:,} characters a step may say"
        )
    return ImportedStep(
        name=_limit(name, MAX_NAME),
        instructions=_limit(instructions, MAX_TEXT),
        instructions_note=instructions_note,
        hold=float(seconds),
        sides="each" if limb else "none",
        reps=int(reps.value),
        limb=limb if limb in ("leg", "arm") else None,
        deeper=_limit(_speakable(" ".join(deeper)), MAX_TEXT)
        if _has_words(" ".join(deeper))
        else None,
        name_note=name_note,
        hold_note=hold_note,
        reps_note=reps.note,
    )


def _reps(sentences: list[str], general: _General) -> Dose:
    """The step's own reps (the first number given), else the article's for every step."""
    vague = None
    for sentence in sentences:
        reps = find_reps(sentence)
        if reps is None:
            continue
        if reps.note and reps.note.startswith("guessed"):
            vague = vague or reps
            continue
        if reps.value > MAX_REPS:
            return Dose(MAX_REPS, f"note: the article says {reps.value:g}; capped")
        return reps
    if general.reps is not None:
        return Dose(
            min(general.reps.value, MAX_REPS), "note: the article gives this for every stretch"
        )
    return vague or Dose(1)


def _unnamed(found: FoundStep, number: int) -> str:
    for line in found.lines:
        if field_label(line.text) in ("target", "targets", "target area", "target areas", "focus"):
            what = line.text.split(":", 1)[1].strip().rstrip(".")
            if what and len(what.split()) <= 6:
                return f"Stretch for {what[:1].lower() + what[1:]}"
    return f"Stretch {number}"


def _instruction_lines(found: FoundStep) -> list[str]:
    """The step's own how-to: field labels and furniture dropped, after "How to do it:"."""
    with_head = bool(found.head_rest) and not is_dose_only(found.head_rest)
    lines = _step_texts(found, with_head)
    howto = [i for i, text in enumerate(lines) if field_label(text) in HOWTO_LABELS]
    if howto:
        start = howto[0]
        after = lines[start].split(":", 1)[1].strip()
        lines = ([after] if after else []) + lines[start + 1 :]
    kept = []
    size = 0
    for text in lines:
        label = field_label(text)
        if label in META_LABELS or label in (
            "reps",
            "repetitions",
            "sets",
            "rounds",
            "sides",
            "side",
        ):
            continue
        if JUNK.search(text) and not _has_verb(_strip_junk(text)):
            continue
        if label in ("hold", "hold time", "duration", "time"):
            text = "Hold for " + text.split(":", 1)[1].strip()
        text = _strip_junk(text)
        if text and not text.endswith((".", "!", "?", ":", ";")):
            text += "."
        if text:
            kept.append(text)
            size += len(text)
        if size > MAX_STEP_CHARS:
            break
    return kept


def _number(value: float) -> str:
    return f"{value:g}"


def _has_words(text: str | None) -> bool:
    """Whether ``text`` has anything to say: a routine's texts need a letter or digit."""
    return any(char.isalnum() for char in text or "")


def _has_verb(text: str) -> bool:
    return any(word in VERBS for word in re.findall(r"[a-z]+", text.lower()))


def _step_seconds(step: ImportedStep) -> float:
    """How long ``step`` lasts with the default prep, rest and switch, as
    :func:`~voice_coach.routine.parse_routine` counts it."""
    sides = 2 if step.sides == "each" else 1
    rest, switch = DEFAULTS["rest"], DEFAULTS["switch"]
    return (
        DEFAULTS["prep"]
        + step.reps * sides * (step.hold + rest)
        + step.reps * (sides - 1) * (switch - rest)
    )


def _within_routine_length(
    steps: list[ImportedStep],
) -> tuple[list[ImportedStep], str | None]:
    """``steps`` cut to a routine's longest length: fewer reps for a step that alone is
    longer, then the first steps that fit, with a note when any step is left out."""
    fitted: list[ImportedStep] = []
    total = 0.0
    for step in steps:
        if _step_seconds(step) > MAX_ROUTINE_SECONDS:
            most = max(1, int(MAX_ROUTINE_SECONDS // _step_seconds(replace(step, reps=1))))
            step = replace(
                step,
                reps=most,
                reps_note=f"note: the article asks for more; {most} fill the "
                f"{MAX_ROUTINE_SECONDS // 3600} hours a routine may last",
            )
        if total + _step_seconds(step) > MAX_ROUTINE_SECONDS:
            hours = MAX_ROUTINE_SECONDS // 3600
            return fitted, (
                f"note: the article's stretches would last over {hours} hours, longer than a "
                f"routine may; these are the first {len(fitted)} of {len(steps)}, which fit"
            )
        fitted.append(step)
        total += _step_seconds(step)
    return fitted, None


def _check_text(text: str) -> None:
    if not text or not text.strip():
        raise ArticleError("the article is empty; give a file with the article's text")
    if len(text) > MAX_ARTICLE_CHARS:
        raise ArticleError(
            f"the article is over {MAX_ARTICLE_CHARS // 1_000_000} million characters; "
            "save just the page's text, or the part with the stretches"
        )
    sample = text[:100_000]
    odd = sum(
        1 for char in sample if (ord(char) < 32 and char not in "\t\n\r\f") or char == "\ufffd"
    )
    if "\x00" in sample or odd > len(sample) / 20:
        raise ArticleError("this is not text; give an article as plain text, Markdown or HTML")


def _take_title(article: Article, lines: list[Line]) -> tuple[str | None, list[Line]]:
    """The title: a top heading, the page's <title>, or a short first line standing alone."""
    for index, line in enumerate(lines):
        if line.kind == "heading" and line.level == 1:
            return _clean_name(line.text), lines[:index] + lines[index + 1 :]
    if article.title:
        title = re.split(r"\s+[|\u2013\u2014-]\s+", article.title[:300])[0]
        # The page's heading often repeats its <title>: drop that line too.
        rest = [line for line in lines if _similar(line.text, title) < 0.9]
        return _clean_name(title), rest
    for index, line in enumerate(lines[:3]):
        if JUNK.search(line.text):
            continue
        words = line.text.split()
        following = lines[index + 1] if index + 1 < len(lines) else None
        standalone = (
            following is None
            or following.block != line.block
            or (
                # a title typed right over the text, with no blank line between
                index == 0
                and len(following.text.split()) >= 6
                and following.text.endswith((".", "!", "?"))
            )
        )
        if (
            line.kind in ("heading", "text")
            and 1 <= len(words) <= 14
            and not line.text.endswith((".", "!", "?", ":", ","))
            and (standalone or line.kind == "heading")
            and line.text[:1].isupper() | line.text[:1].isdigit()
        ):
            return _clean_name(line.text), lines[:index] + lines[index + 1 :]
        break
    return None, lines


def _title_from_url(url: str | None) -> str | None:
    if not url:
        return None
    path = re.sub(r"[?#].*$", "", url).rstrip("/")
    slug = path.rsplit("/", 1)[-1]
    slug = re.sub(r"\.\w{2,5}$", "", slug)
    words = [word for word in re.split(r"[-_]+", slug) if word]
    if len(words) < 2 or not any(word.isalpha() for word in words):
        return None
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _strip_junk(text: str) -> str:
    """Drop links, references and parentheses that do not read well aloud."""
    text = _PARENTHESES.sub(_unless_pointer, text)
    text = re.sub(r"https?://\S+|www\.\S+", "", text)
    text = re.sub(r"\[\d+\]|\(\d+\)", "", text)
    # A short aside reads well as a clause: "arch your back, cow pose, and ...".
    text = re.sub(r"\s*\(([^()]{1,200})\)\s*([.,;:!?]?)", _aside, text)
    return " ".join(text.split())


def _unless_pointer(match: re.Match) -> str:
    """Nothing for a parenthesis that points at a link or picture, else the parenthesis."""
    return "" if _POINTER.search(match.group(1)) else match.group(0)


def _aside(match: re.Match) -> str:
    inner, after = match.group(1).strip(), match.group(2)
    if inner.endswith((".", "!", "?")):
        return f", {inner} "
    return f", {inner}{after or ','} "


def _speakable(text: str) -> str:
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r",([.;:!?])", r"\1", text)
    return " ".join(text.split())


def _sentences(text: str) -> list[str]:
    """The sentences of ``text``; one longer than :data:`MAX_SENTENCE` is cut at spaces,
    so that every pattern read over a sentence reads a bounded string."""
    sentences = []
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        while len(piece) > MAX_SENTENCE:
            cut = piece.rfind(" ", MAX_SENTENCE // 2, MAX_SENTENCE)
            cut = cut if cut > 0 else MAX_SENTENCE
            sentences.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if piece:
            sentences.append(piece)
    return sentences


def _collect_warning(sentence: str, warnings: list[str]) -> None:
    if len(warnings) < MAX_WARNINGS and len(sentence) < 300 and _WARNING.search(sentence):
        clean = _speakable(_strip_junk(sentence))
        if clean and clean not in warnings:
            warnings.append(clean)


def _clean_name(text: str) -> str:
    return clean_name(_strip_junk(text))


def _limit(text: str, most: int) -> str:
    """Cut ``text`` to at most ``most`` characters, at a sentence or word end."""
    text = " ".join(text.split())
    if len(text) <= most:
        return text
    cut = text[:most]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end > most // 2:
        return cut[: end + 1]
    return cut[: cut.rfind(" ")].rstrip(",;:") if " " in cut else cut


def _similar(a: str, b: str) -> float:
    import difflib

    matcher = difflib.SequenceMatcher(None, a.lower(), b.lower())
    # The quick upper bound first: the full ratio takes time by the product of the lengths.
    return matcher.ratio() if matcher.real_quick_ratio() >= 0.5 else 0.0


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of it)."""
    return json.dumps(text, ensure_ascii=False)


def routine_yaml(routine: ImportedRoutine, source: str = "<article>") -> str:
    """Write ``routine`` as routine YAML, with a comment on every value that was guessed."""

    def line(indent: str, key: str, value: str, note: str | None = None) -> str:
        comment = f"  # {note}" if note else ""
        return f"{indent}{key}: {value}{comment}"

    out = [
        f"# Imported by voice-coach from {_one_line(source)}"
        + (f" ({_one_line(routine.source_url)})" if routine.source_url else ""),
        "# Check the values marked 'guessed' or 'note' before you rely on them.",
        *(f"# {note}" for note in routine.notes),
        line("", "name", _quoted(routine.name), routine.name_note),
    ]
    description = f'Imported from the article "{routine.name}".'
    if routine.warnings:
        description += " " + " ".join(routine.warnings)
    out.append(line("", "description", _quoted(_limit(description, MAX_TEXT))))
    out.append("defaults:")
    out.append(line("  ", "hold", _number(routine.hold), routine.hold_note))
    out.append("steps:")
    for index, step in enumerate(routine.steps):
        instructions = step.instructions
        if index == 0 and routine.warnings:
            # The article's cautions are spoken once, before the first stretch.
            caution = "First, a caution from the article: " + " ".join(routine.warnings)
            instructions = _limit(f"{caution} {instructions}".strip(), MAX_TEXT)
        out.append(line("  - ", "name", _quoted(step.name), step.name_note))
        if instructions:
            out.append(line("    ", "instructions", _quoted(instructions), step.instructions_note))
        if step.deeper:
            out.append(line("    ", "deeper", _quoted(step.deeper)))
        out.append(line("    ", "hold", _number(step.hold), step.hold_note))
        out.append(line("    ", "sides", step.sides, step.sides_note))
        if step.limb and step.sides == "each":
            out.append(line("    ", "limb", step.limb))
        out.append(line("    ", "reps", str(step.reps), step.reps_note))
    return "\n".join(out) + "\n"


def _one_line(text: str) -> str:
    return " ".join(str(text).split()).replace("#", "")


__all__ = [
    "MAX_ARTICLE_CHARS",
    "ImportedRoutine",
    "ImportedStep",
    "decode_article",
    "extract_routine",
    "import_article",
    "routine_yaml",
]
