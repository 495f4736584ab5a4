"""The article importer: a stretching article's text in, routine YAML text out.

Pure and rule-based: no I/O, no clock, no network, the same output for the same input.
:mod:`article` gives the page's lines with their structure; this module finds the steps
in them (headings, list items, "Name: text" labels, "#2 - Name" lines, or the subject of
prose paragraphs), reads each step's hold, sides and reps from its words, and writes YAML
in which every guessed value carries a ``# guessed: ...`` or ``# note: ...`` comment.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .article import Article, Line, read_article
from .errors import ArticleError, RoutineError
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
#: Seconds one breath is taken to last when a hold is given in breaths.
SECONDS_PER_BREATH = 5
MAX_NAME = 80
#: Longest sentence read as one; a longer run of words is read in pieces of this size.
MAX_SENTENCE = 1_000
#: Most characters of one step (or paragraph) that are read: more than any stretch's
#: instructions, so that no step costs more than this however long the page runs on.
MAX_STEP_CHARS = 8_000
#: Most characters of a line read to tell whether it names a step.
MAX_HEAD_CHARS = 1_000
#: Most cautions kept from an article (they are spoken before the first stretch).
MAX_WARNINGS = 5

_SMALL_WORDS = {
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or",
    "the", "to", "with", "your", "vs", "&", "-", "\u2013", "\u2014",
}  # fmt: skip
#: Words that praise a stretch rather than name it: "a gentle chin tuck".
_FILLER = {
    "gentle", "simple", "easy", "quick", "good", "great", "basic", "classic", "nice", "slow",
    "light", "little", "short", "soft", "relaxing",
}  # fmt: skip
#: Nouns that end a stretch's name: "Seated hamstring stretch", "Child's pose".
_STRETCH_NOUN = re.compile(
    r"\b(stretch(es)?|pose|twist|fold|bend|lunge|squat|bridge|raise|roll|circles?|rotation|"
    r"tilt|reach|opener|release|hug|curl|press|extension|flexion|tuck|shrug|kick|swing|march|"
    r"plank|cobra|pigeon|cat|cow|dog|butterfly|figure[- ]four|windmill|sphinx|salutation)\b",
    re.IGNORECASE,
)
#: Stretch nouns that follow a stretch noun: "chin tuck stretch".
_NOUN_RUN = re.compile(rf"(?:[ -]{_STRETCH_NOUN.pattern})*", re.IGNORECASE)
#: Words an instruction starts with or contains: what makes a block a step's how-to.
_VERB_WORDS = (
    "sit stand lie lay kneel place put hold keep bend lean pull push bring reach extend "
    "raise lift lower repeat switch rest relax breathe inhale exhale start begin grab cross "
    "step turn twist roll move draw slide press rotate tuck clasp interlace hinge return "
    "release stay drop arch round squeeze tilt rock hug fold straighten point flex walk "
    "wrap sink gaze look do try stretch"
)
_VERB = re.compile(r"\b(" + "|".join(_VERB_WORDS.split()) + r")\b", re.IGNORECASE)
#: A standalone line starting with one of these is an instruction, never a step's name.
_FLOW = re.compile(
    r"^(switch|swap|change|repeat|rest|relax|release|breathe|hold|inhale|exhale|return|"
    r"then|now|next|and|or|also|again)\b",
    re.IGNORECASE,
)
#: Labels of a step's fields ("Tip: ...", "Hold: ...", "How to do it:").
_META_LABELS = (
    "target", "targets", "target area", "target areas", "muscles", "muscles worked",
    "muscles stretched", "benefit", "benefits", "equipment", "props", "you'll need",
    "you will need", "level", "difficulty", "good for", "best for", "helps with", "purpose",
    "goal", "focus", "area", "areas", "works", "why", "what", "who", "when", "where",
    "muscle", "type", "category", "props needed",
)  # fmt: skip
_HOWTO_LABELS = ("how", "instructions", "steps", "directions", "method", "technique")
_OTHER_LABELS = (
    "tip", "tips", "note", "notes", "modification", "modifications", "variation",
    "variations", "hold", "hold time", "duration", "time", "reps", "repetitions", "sets",
    "rounds", "frequency", "caution", "warning", "avoid", "common mistakes", "mistakes",
    "cue", "cues", "breathing", "breath", "position", "starting position", "make it easier",
    "make it harder", "easier", "harder", "progression", "regression", "bonus", "option",
    "options", "remember", "important", "safety", "pro tip", "alternative",
)  # fmt: skip
#: Headings that close a step and open none: introductions, outros, site furniture.
_NOT_A_STEP = re.compile(
    r"\b(benefits?|conclusions?|summary|faqs?|frequently|questions?|thoughts|takeaways?|"
    r"bottom line|why|how often|when to|tips|about|related|references?|sources?|share|"
    r"comments?|reply|author|disclaimer|safety|precautions?|introduction|overview|"
    r"what is|what are|causes?|symptoms?|video|newsletter|subscribe|contents|"
    r"getting started|before you|final|more|you may also|popular|recent|categories|"
    r"search|menu|follow us|sign up|log in|privacy|cookies?|advert\w*|sponsored)\b",
    re.IGNORECASE,
)
#: A line or paragraph that starts the article's outro: nothing after it is a step's text.
_OUTRO = re.compile(
    r"^(and )?that['\u2019]?s (it|all)\b|^in (conclusion|summary|short)\b|^to (sum|wrap) up\b|"
    r"^(the )?bottom line\b|^final(ly)?\b(?! stretch)|\bthese (stretches|exercises|poses|moves)\b|"
    r"^hope (this|that|these)\b|^(try|do|perform|practi[cs]e) (these|this routine|them)\b|"
    r"^(always )?(consult|check with|talk to) (your|a)\b|^share (this|on)\b|^related\b",
    re.IGNORECASE,
)
_JUNK = re.compile(
    r"https?://|www\.|\bclick here\b|\bread more\b|\bsubscribe\b|\bsign up\b|\bnewsletter\b|"
    r"\bview all posts\b|\bposted (by|on|in)\b|^by [A-Z][a-z]+|^written by\b|\bshop (now|the)\b|"
    r"\bbuy (now|it)\b|\baffiliate\b|\badvertisement\b|^(photo|image|credit|music|video)\s*:|"
    r"\b(in this|watch the|watch our|the) video\b|\bcopyright\b|©|\ball rights reserved\b|"
    r"\bcookies?\b|\bshare (this|on)\b|\bpin it\b|^(leave a (reply|comment)|comments?)\b",
    re.IGNORECASE,
)
_WARNING = re.compile(
    r"\b(consult|check with|talk (to|with)|speak (to|with)|see) (your|a) (doctor|physician|"
    r"physio\w*|health ?care|medical|gp|physical therapist|therapist)\b|"
    r"\bstop (immediately |right away |at once )?if\b|\bif (it|this|anything) hurts\b|"
    r"\bshould(n['\u2019]t| not| never) (hurt|be painful|cause pain)\b|"
    r"\b(never|don['\u2019]t|do not) (bounce|force)\b|\bsharp (or shooting )?pain\b|"
    r"\bif you (are pregnant|have (an |a )?(injury|injuries|surgery|condition))\b",
    re.IGNORECASE,
)
_DEEPER = re.compile(
    r"^(for|to get) (a |an )?(deeper|more intense|stronger|bigger) (stretch|version)|"
    r"^to (deepen|intensify) (the|this) (stretch|pose)|^to go deeper\b|^for more (of a )?stretch",
    re.IGNORECASE,
)
#: "#2 - Name", "Stretch 3: Name", "No. 4 Name", "5) Name": a number before a name.
_MARKER = re.compile(
    r"^(?:#\s?\d+\s*[.):\u2013\u2014-]?|(?:step|stretch|exercise|pose|move|no\.?|number)\s*#?\d+\s*"
    r"[.):\u2013\u2014-]?|\d+\s*[.):\u2013\u2014-])\s*",
    re.IGNORECASE,
)
_INLINE_LABEL = re.compile(
    r"^(?P<name>[^:.!?;]{2,60}?)\s*(?::|[-\u2013\u2014]\s|\s[-\u2013\u2014])\s*(?P<body>\S.*)$"
)

#: A number as doses are written: a longer run of digits is no dose (and int() of it is slow).
_NUMBER = r"(?<![\d.])\d{1,6}(?:\.\d{1,3})?(?![\d])"
_RANGE = rf"(?P<low>{_NUMBER})(?:\s*(?:-|\u2013|\u2014|to|or)\s*(?P<high>{_NUMBER}))?"
_TIME = re.compile(
    rf"{_RANGE}(?:\s*|-)(?P<unit>seconds?|secs?\b\.?|s\b|minutes?|mins?\b\.?)", re.IGNORECASE
)
_WORD_TIME = re.compile(
    r"\b(?P<what>half a minute|a half minute|a minute or two|a couple of minutes|"
    r"a (?:full )?minute)\b",
    re.IGNORECASE,
)
_BREATHS = re.compile(
    rf"{_RANGE}\s*(?:(?:deep|slow|full|long|steady|calm|easy|complete)\s+)*breath(?:s|\s+cycles)?\b",
    re.IGNORECASE,
)
_FEW_BREATHS = re.compile(r"\b(a few|several|some) (deep |slow )?breaths\b", re.IGNORECASE)
_HOLD_CONTEXT = re.compile(
    r"\b(hold\w*|stay\w*|remain\w*|maintain\w*|keep\w*|sustain\w*|for|about|around|"
    r"approximately)\b|:",
    re.IGNORECASE,
)
_NOT_HOLD = re.compile(
    r"\b(pause|break|wait|between|every|inhale|exhale|breathe (in|out)|up to|count of)\b"
    r"[^.;]{0,12}$",
    re.IGNORECASE,
)
#: Matched where a number's phrase ends (``match(text, end)``): "3 times a day" is no dose.
_FREQUENCY = re.compile(r"\s*(?:(?:a|per|each|every)\s+(?:day|week|night|morning|hour)|daily)")
_REPS = re.compile(
    rf"{_RANGE}\s*(?:more\s+)?(?P<unit>times|reps?|repetitions?|rounds?|sets?|cycles?)\b",
    re.IGNORECASE,
)
_TWICE = re.compile(r"\b(twice|thrice)\b", re.IGNORECASE)
_VAGUE_REPS = re.compile(
    r"\brepeat\w*\b[^.;]{0,30}\b(several|a few|many|multiple|some) times\b", re.IGNORECASE
)
_LIMB_WORDS = r"(sides?|legs?|arms?|feet|foot|knees?|hips?|shoulders?|hands?|ankles?)"
_SIDES = [
    re.compile(rf"\b(switch\w*|swap\w*|chang\w*|alternat\w*) (to )?(the )?{_LIMB_WORDS}\b", re.I),
    re.compile(rf"\b(each|every|per|either) {_LIMB_WORDS}\b", re.I),
    re.compile(
        rf"\b(do|repeat\w*|on|for|stretch|switch to|work) (the )?both {_LIMB_WORDS}\b", re.I
    ),
    re.compile(r"\b(other|opposite) side\b(?!['\u2019]s)", re.I),
    re.compile(
        rf"\b(repeat\w*|switch\w*|swap\w*|chang\w*|same|forget|then|now)\b[^.;!?]{{0,30}}"
        rf"\b(the |your )?(other|opposite) {_LIMB_WORDS}\b(?!['\u2019]s)",
        re.I,
    ),
    re.compile(rf"\bone {_LIMB_WORDS} at a time\b|\bthen the other\b", re.I),
    re.compile(r"\brepeat\w*\b[^.;!?]{0,40}\b(left|right)\b", re.I),
    re.compile(
        r"\b(left|right)\b[^.;!?]{0,40}\b(then|followed by|and then|before)\b[^.;!?]{0,20}"
        r"\b(right|left)\b",
        re.I,
    ),
    re.compile(r"\balternating\b", re.I),
]
_LIMB_OF = {
    "leg": "leg", "legs": "leg", "foot": "leg", "feet": "leg", "knee": "leg", "knees": "leg",
    "hip": "leg", "hips": "leg", "ankle": "leg", "ankles": "leg",
    "arm": "arm", "arms": "arm", "hand": "arm", "hands": "arm", "shoulder": "arm",
    "shoulders": "arm",
}  # fmt: skip
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
class _Segment:
    name: str | None
    lines: list[Line] = field(default_factory=list)
    #: A list item or a "Name: text" line: its text ends where its list or paragraph ends.
    bounded: bool = False
    block: int = 0
    labels: set[str] = field(default_factory=set)
    #: Characters in ``lines``; past :data:`MAX_STEP_CHARS` further lines are not kept.
    chars: int = 0

    def add(self, line: Line) -> None:
        """Keep ``line`` as part of this segment, while it is not over the size read."""
        if self.chars <= MAX_STEP_CHARS:
            self.lines.append(line)
            self.chars += len(line.text) + 1


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
    segments, loose = _segment(lines)
    steps_found = _first_steps(segment for segment in segments if _is_step(segment))
    if not steps_found:
        steps_found = _first_steps(_prose_steps(lines))
        in_steps = {id(line) for segment in steps_found for line in segment.lines}
        loose = [line for line in lines if id(line) not in in_steps]
    if not steps_found:
        raise ArticleError(
            "found no stretches in the article; it needs stretches under headings, in a "
            "list, or as 'Name: how to do it' lines"
        )
    intro = [line.text for line in loose]
    default_hold, hold_note = _intro_hold(intro)
    steps = []
    warnings: list[str] = []
    for number, segment in enumerate(steps_found[:MAX_STEPS], start=1):
        steps.append(_step(segment, number, default_hold, hold_note, warnings))
    for sentence in _sentences(" ".join(intro)):
        _collect_warning(sentence, warnings)
    notes = []
    if len(steps_found) > MAX_STEPS:
        notes.append(
            f"note: the article has over {MAX_STEPS} stretches, more than a routine may "
            f"have; these are its first {MAX_STEPS} (import the rest from a copy without them)"
        )
    steps, note = _within_routine_length(steps)
    notes += [note] if note else []
    return ImportedRoutine(
        name=_limit(title, MAX_NAME),
        steps=tuple(steps),
        notes=tuple(notes),
        warnings=tuple(warnings),
        hold=default_hold or DEFAULTS["hold"],
        name_note=name_note,
        hold_note=hold_note,
        source_url=source_url,
    )


def _first_steps(segments: Iterable[_Segment]) -> list[_Segment]:
    """The first steps, up to one more than a routine may have (that one tells there are
    more): the steps past it are never read, however many the article has."""
    return list(itertools.islice(segments, MAX_STEPS + 1))


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
        if _JUNK.search(line.text):
            continue
        words = line.text.split()
        standalone = all(other.block != line.block for other in lines if other is not line)
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


def _segment(lines: list[Line]) -> tuple[list[_Segment], list[Line]]:
    """Cut the lines into candidate steps at each line that names one.

    Returns the segments and the lines that belong to none (intro, outro, furniture).
    """
    segments: list[_Segment] = []
    loose: list[Line] = []
    current: _Segment | None = None
    for line in lines:
        head = _head(line)
        if head is not None:
            name, body, bounded = head
            current = _Segment(name, bounded=bounded, block=line.block)
            if body:
                current.add(Line(body, "text", line.block, line.level))
            segments.append(current)
            continue
        if line.kind == "heading" or _is_section_line(line):
            current = None
            loose.append(line)
            continue
        if current is None:
            loose.append(line)
            continue
        if current.bounded and line.block != current.block and line.level == 0:
            current = None
            loose.append(line)
            continue
        if _OUTRO.search(line.text[:MAX_HEAD_CHARS]):
            current = None
            loose.append(line)
            continue
        label = _label(line.text)
        if label in _META_LABELS and label in current.labels and _is_step(current):
            # The same field again ("Targets: ...") starts the next stretch, unnamed.
            current = _Segment(None, block=line.block)
            segments.append(current)
        if label:
            current.labels.add(label)
        current.add(line)
    return segments, loose


def _head(line: Line) -> tuple[str, str | None, bool] | None:
    """If ``line`` names a step: its name, the text after the name, and whether bounded."""
    text = line.text
    if _JUNK.search(text[:MAX_HEAD_CHARS]):
        return None
    marked = _MARKER.match(text)
    bare = text[marked.end() :] if marked else text
    if _name_like(bare, line.kind == "heading" or bool(marked) or line.kind == "item"):
        return _clean_name(bare), None, line.kind == "item"
    if line.kind == "heading":
        return None
    inline = _INLINE_LABEL.match(bare)
    if inline and len(inline.group("body").split()) >= 3:
        name = inline.group("name").strip()
        label = name.lower().replace("\u2019", "'")
        if (
            len(name.split()) <= 6
            and _label(name + ":") is None
            and (
                _title_case(name)
                or _STRETCH_NOUN.search(name)
                # a list item's short lead label is a name even in sentence case
                or (line.kind == "item" and len(name.split()) <= 5 and not _VERB.match(name))
            )
            and not _FLOW.match(name)
            and name[:1].isupper()
            and not re.match(r"^(i|you|we|it|this|that|these|there|here)\b", label)
        ):
            return _clean_name(name), inline.group("body"), True
    return None


def _name_like(text: str, structured: bool) -> bool:
    """A short line that reads as a stretch's name, not as a sentence or a field."""
    words = text.split()
    if not 1 <= len(words) <= 8 or len(text) > 70:
        return False
    if text.endswith((".", "!", "?", ",", ";", ":")) or not text[:1].isupper():
        return False
    if _label(text) is not None or _FLOW.match(text) or _NOT_A_STEP.search(text):
        return False
    if not any(char.isalpha() for char in text):
        return False
    return _title_case(text) or bool(_STRETCH_NOUN.search(text)) or (structured and len(words) <= 5)


def _title_case(text: str) -> bool:
    words = [word for word in re.findall(r"[A-Za-z][\w'\u2019-]*", text)]
    significant = [word for word in words if word.lower() not in _SMALL_WORDS]
    return (
        bool(significant)
        and all(word[0].isupper() for word in significant)
        and (len(significant) >= 2 or len(words) == 1)
    )


def _label(text: str) -> str | None:
    """The field label a line starts with ("Tip", "Hold", "how"), if it has one."""
    found = re.match(r"^([A-Za-z][A-Za-z'\u2019 ]{0,30}?)\s*:", text)
    if not found:
        return None
    label = found.group(1).lower().replace("\u2019", "'").strip()
    for known in (*_META_LABELS, *_HOWTO_LABELS, *_OTHER_LABELS):
        if label == known or label.startswith(known + " "):
            return known
    if label.startswith(("what ", "how ", "why ")):
        return label.split()[0]
    return None


def _is_section_line(line: Line) -> bool:
    """A short standalone line that opens an article's furniture ("Related posts")."""
    text = line.text
    return (
        len(text.split()) <= 6
        and not text.endswith((".", ","))
        and bool(_NOT_A_STEP.search(text))
        and _title_case(text)
    )


def _is_step(segment: _Segment) -> bool:
    """Whether a segment instructs a stretch: it says how to move, or how long to hold."""
    text = " ".join(line.text for line in segment.lines)
    if not text or len(text.split()) < 2:
        return False
    return bool(_VERB.search(text) or _find_hold(text)[0] is not None or _find_breaths(text)[0])


def _prose_steps(lines: list[Line]) -> list[_Segment]:
    """With no structure, each paragraph that names a stretch and instructs it is a step."""
    blocks: dict[int, list[Line]] = {}
    for line in lines:
        blocks.setdefault(line.block, []).append(line)
    found = []
    for block_lines in blocks.values():
        segment = _Segment(None)
        for line in block_lines:
            segment.add(line)
        text = " ".join(line.text for line in segment.lines)
        if _OUTRO.search(text) or _JUNK.search(text):
            continue
        name = segment.name = _subject(text)
        if name and _is_step(segment) and (_find_hold(text)[0] or _find_breaths(text)[0]):
            found.append(segment)
    return found


def _subject(text: str) -> str | None:
    """The stretch a prose paragraph is about: its first "... stretch/pose/twist" phrase."""
    for match in _STRETCH_NOUN.finditer(text):
        # the three words before the noun, read from a window so no match reads far back
        window = text[max(0, match.start() - 200) : match.start()].split()
        before = window[-3:] if match.start() <= 200 else window[1:][-3:]
        kept: list[str] = []
        for word in reversed(before):
            clean = word.strip(",;:()\"'")
            if clean != word or clean.lower() in _SMALL_WORDS | _FILLER or _VERB.fullmatch(clean):
                break
            kept.insert(0, clean)
        # "chin tuck stretch": the name runs on over the nouns that follow
        after = _NOUN_RUN.match(text[match.end() : match.end() + 200])
        name = " ".join([*kept, match.group(0) + after.group(0)])
        if kept or match.group(0)[0].isupper():
            return name[:1].upper() + name[1:]
    return None


def _intro_hold(intro: list[str]) -> tuple[float | None, str | None]:
    """A hold the introduction gives for every stretch ("hold each for 15-40 seconds")."""
    for sentence in _sentences(" ".join(intro)):
        if re.search(r"\bhold\w*\b", sentence, re.IGNORECASE):
            seconds, note = _find_hold(sentence)
            if seconds is not None:
                said = f" ({note.removeprefix('note: the article says ')})" if note else ""
                return seconds, f"note: the article gives one hold{said} for every stretch"
            breaths, note = _find_breaths(sentence)
            if breaths:
                return breaths, note
    return None, None


def _step(
    segment: _Segment,
    number: int,
    default_hold: float | None,
    default_note: str | None,
    warnings: list[str],
) -> ImportedStep:
    body = _instruction_lines(segment)
    text = " ".join(body)
    all_text = " ".join(line.text for line in segment.lines)
    seconds, hold_note = _find_hold(all_text)
    if seconds is None:
        seconds, hold_note = _find_breaths(all_text)
    if seconds is None:
        if default_hold is not None:
            seconds, hold_note = default_hold, default_note
        else:
            seconds, hold_note = DEFAULTS["hold"], "guessed: no hold time given"
    if seconds > MAX_SECONDS:
        said = f"{_number(seconds / 60)} minutes" if seconds >= 120 else f"{seconds:g} seconds"
        hold_note = (
            f"note: the article says {said}; a hold lasts {MAX_SECONDS // 60} minutes at most"
        )
    seconds = min(max(seconds, 1), MAX_SECONDS)
    sides, limb = _find_sides(all_text)
    reps, reps_note = _find_reps(all_text)
    sentences = _sentences(text)
    deeper = [sentence for sentence in sentences if _DEEPER.search(sentence)]
    spoken = [sentence for sentence in sentences if sentence not in deeper]
    for sentence in sentences:
        _collect_warning(sentence, warnings)
    name, name_note = segment.name, None
    if not name:
        name = _unnamed(segment, number)
        name_note = "guessed: the article names no stretch here"
    instructions = _speakable(" ".join(spoken))
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
        sides=sides,
        reps=reps,
        limb=limb,
        deeper=_limit(_speakable(" ".join(deeper)), MAX_TEXT) or None,
        name_note=name_note,
        hold_note=hold_note,
        reps_note=reps_note,
    )


def _unnamed(segment: _Segment, number: int) -> str:
    for line in segment.lines:
        if _label(line.text) in ("target", "targets", "target area", "target areas", "focus"):
            what = line.text.split(":", 1)[1].strip().rstrip(".")
            if what and len(what.split()) <= 6:
                return f"Stretch for {what[:1].lower() + what[1:]}"
    return f"Stretch {number}"


def _instruction_lines(segment: _Segment) -> list[str]:
    """The step's own how-to: field labels and furniture dropped, after "How to do it:"."""
    lines = [line.text for line in segment.lines]
    howto = [i for i, text in enumerate(lines) if _label(text) in _HOWTO_LABELS]
    if howto:
        start = howto[0]
        after = lines[start].split(":", 1)[1].strip()
        lines = ([after] if after else []) + lines[start + 1 :]
    kept = []
    for text in lines:
        label = _label(text)
        if label in _META_LABELS or label in ("reps", "repetitions", "sets", "rounds"):
            continue
        if _JUNK.search(text) and not _VERB.search(_strip_junk(text)):
            continue
        if label in ("hold", "hold time", "duration", "time"):
            text = "Hold for " + text.split(":", 1)[1].strip()
        text = _strip_junk(text)
        if text and not text.endswith((".", "!", "?", ":", ";")):
            text += "."
        if text:
            kept.append(text)
    return kept


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


def _digits(text: str) -> str:
    """``text`` with numbers in words written as digits ("one to two" -> "1 to 2")."""
    from text_to_num import alpha2digit

    try:
        return alpha2digit(text, "en", threshold=0)
    except Exception:  # the library's parser is native code; never let it stop an import
        return text


def _upper(match: re.Match) -> tuple[float, float | None]:
    low = float(match.group("low"))
    high = match.group("high")
    return (float(high), low) if high is not None and float(high) > low else (low, None)


def _find_hold(text: str) -> tuple[float | None, str | None]:
    """The hold in seconds, from the first time phrase that reads as a hold."""
    for sentence in _sentences(_digits(text)):
        candidates: list[tuple[int, int, float, str | None]] = []
        for match in _TIME.finditer(sentence):
            if match.group("unit").lower() == "s" and not re.match(r"\d+s\b", match.group(0)):
                continue  # "30 s" is seconds only when written together: "30s"
            value, low = _upper(match)
            minutes = match.group("unit").lower().startswith("m")
            scale = 60 if minutes else 1
            note = None
            if low is not None:
                unit = "minutes" if minutes else "seconds"
                note = f"note: the article says {_number(low)} to {_number(value)} {unit}"
            candidates.append((match.start(), match.end(), value * scale, note))
        for match in _WORD_TIME.finditer(sentence):
            what = match.group("what").lower()
            where = match.start(), match.end()
            if what in ("a minute or two", "a couple of minutes"):
                candidates.append((*where, 120, f"note: the article says {what}"))
            elif "half" in what:
                candidates.append((*where, 30, None))
            else:
                candidates.append((*where, 60, None))
        for start, end, seconds, note in sorted(candidates):
            before = sentence[:start]
            if _NOT_HOLD.search(before) or _FREQUENCY.match(sentence, end):
                continue
            if not _HOLD_CONTEXT.search(before):
                continue
            return seconds, note
    return None, None


def _find_breaths(text: str) -> tuple[float | None, str | None]:
    """A hold given in breaths, at about five seconds a breath."""
    digits = _digits(text)
    for match in _BREATHS.finditer(digits):
        count, low = _upper(match)
        said = f"{_number(low)} to {_number(count)}" if low is not None else _number(count)
        return count * SECONDS_PER_BREATH, (
            f"note: the article says {said} breaths; about {SECONDS_PER_BREATH} s a breath"
        )
    few = _FEW_BREATHS.search(text)
    if few:
        return 3 * SECONDS_PER_BREATH, f"guessed: the article says {few.group(0).lower()}"
    return None, None


def _find_sides(text: str) -> tuple[str, str | None]:
    """``("each", limb)`` when the text switches sides, else ``("none", None)``."""
    for pattern in _SIDES:
        match = pattern.search(text)
        if match:
            limb = None
            for word in re.findall(r"[a-z]+", match.group(0).lower()):
                if word in _LIMB_OF:
                    limb = _LIMB_OF[word]
                    break
            return "each", limb
    return "none", None


def _find_reps(text: str) -> tuple[int, str | None]:
    """Repetitions per side: "repeat 3 times", "2-3 reps" (the upper bound), "twice"."""
    digits = _digits(text)
    for match in _REPS.finditer(digits):
        if _FREQUENCY.match(digits, match.end()):
            continue
        count, low = _upper(match)
        if count != int(count) or count < 1:
            continue
        note = None
        if low is not None:
            note = f"note: the article says {_number(low)} to {_number(count)} times"
        if count > MAX_REPS:
            count, note = MAX_REPS, f"note: the article says {_number(count)}; capped"
        return int(count), note
    twice = _TWICE.search(text)
    if twice and not _FREQUENCY.match(text, twice.end()):
        return (2 if twice.group(1).lower() == "twice" else 3), None
    vague = _VAGUE_REPS.search(text)
    if vague:
        return 1, f"guessed: the article says '{vague.group(1).lower()} times', with no number"
    return 1, None


def _number(value: float) -> str:
    return f"{value:g}"


def _clean_name(text: str) -> str:
    text = _strip_junk(text)
    text = re.sub(r"^[\s#*•\u2013\u2014-]+|[\s:\u2013\u2014-]+$", "", text)
    return " ".join(text.split())


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
