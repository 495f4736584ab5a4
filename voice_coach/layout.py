"""Where the stretches are in an article: its lines cut into steps, each with its name.

Pure, for :mod:`importer`. Pages lay a routine out in many ways: headings, list items,
"Name: how to" lines, numbered or lettered lines, names standing alone over their text,
photo captions under it (with the dose on top), or no structure at all. Rather than trying
each layout in turn, every line is read once for what it could be (a name, an instruction,
a dose, page furniture), the lines that could name a step are grouped by how they are laid
out, and each group is scored as a whole: a step scores for having instructions, a dose
and a name that reads like a stretch's, and pays a fixed cost, so a group of real steps
beats a group of sub-steps or stray short lines. The best group gives the steps; numbered
paragraphs without names, then prose (one paragraph naming its stretches inline), are the
fallbacks when no group of names scores.

Every line is read once, and each group only walks the lines, so the time is linear in
the article (groups are at most :data:`MAX_LAYOUTS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .article import Line
from .doses import has_dose, is_dose_only

#: Most characters of a line read to tell what it is.
MAX_HEAD_CHARS = 1_000
#: Longest line read as a name followed by its dose ("Low lunge for one minute each side").
MAX_NAME_WITH_DOSE = 120
#: Most layouts (groups of candidate names) scored for one article.
MAX_LAYOUTS = 8
#: Most characters of one paragraph of prose read for the stretches it names.
MAX_PROSE_CHARS = 8_000


@dataclass(frozen=True)
class Weights:
    """What a step scores for each thing it has. Set by hand (see PROGRESS.md); the bench
    tunes them on some of the project's own articles and scores the rest, to show how
    much they were fitted."""

    #: What every step costs: it must earn it with its instructions, dose and name.
    step: float = 2.0
    instruction: float = 2.0
    dose: float = 2.0
    #: A name with no text under it is a step only when it is a stretch's name for sure.
    bare_name: float = 1.2
    #: A name with a stretch's noun ("... stretch", "... pose"), in Title Case, short.
    noun: float = 1.0
    title_case: float = 0.5
    short: float = 0.3
    #: Numbered paragraphs without names, and prose, score this less as a whole.
    fallback: float = 1.0


#: The weights in use (the bench swaps in others while it tunes them).
WEIGHTS = Weights()

_SMALL_WORDS = {
    "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or",
    "the", "to", "with", "up", "vs", "&", "-", "\u2013", "\u2014",
}  # fmt: skip
#: Words that praise a stretch rather than name it: "a gentle chin tuck".
FILLER = {
    "gentle", "simple", "easy", "quick", "good", "great", "basic", "classic", "nice", "slow",
    "light", "little", "short", "soft", "relaxing", "comfortable", "deep", "deeper", "full",
    "final", "first", "next", "last", "same", "another", "this", "that", "these", "those",
    "each", "every", "your", "my", "our", "their", "his", "her", "its", "whole", "real",
}  # fmt: skip
#: Nouns that end a stretch's name: "Seated hamstring stretch", "Child's pose".
STRETCH_NOUN = re.compile(
    r"\b(?:stretch(?:es)?|pose|twist|fold|bend|lunge|squat|bridge|raise|roll|rolls|circles?|"
    r"rotation|tilt|reach|opener|release|hug|curl|press|press-up|extension|flexion|tuck|"
    r"shrug|kick|swing|march|plank|cobra|pigeon|cat|cow|dog|butterfly|figure[- ](?:four|4)|"
    r"windmill|sphinx|salutation|stretcher|slide|glide|retractions?|pull|dip|hang|sit|"
    r"child|baby|frog|lizard|drop|hold|thread the needle|happy baby|\w+asana|pranayama|"
    r"mudra|floss|rock|rockback|flick|angel|clam|bug|inchworm|crawl|jack|sprint|alphabet|"
    r"switch|jump|hop|skip|shuffle|warrior|triangle|camel|puppy|legs up the wall)(?:e?s)?\b",
    re.IGNORECASE,
)
#: Words an instruction starts with: what makes a sentence a step's how-to.
VERBS = frozenset(
    (
        "sit", "stand", "lie", "lay", "kneel", "place", "put", "hold", "keep", "bend", "lean",
        "pull", "push", "bring", "reach", "extend", "raise", "lift", "lower", "repeat", "switch",
        "rest", "relax", "breathe", "inhale", "exhale", "start", "begin", "grab", "cross", "step",
        "turn", "twist", "roll", "move", "draw", "slide", "press", "rotate", "tuck", "clasp",
        "interlace", "hinge", "return", "release", "stay", "drop", "arch", "round", "squeeze",
        "tilt", "rock", "hug", "fold", "straighten", "point", "flex", "walk", "wrap", "sink",
        "gaze", "look", "do", "try", "stretch", "take", "use", "let", "open", "make", "hang",
        "swing", "shift", "spread", "set", "sweep", "shuffle", "settle", "lace", "loop", "glide",
        "nod", "curl", "remain", "maintain", "allow", "engage", "balance", "grasp", "cradle",
        "recline", "tighten", "flatten", "assist", "pinch", "clench", "squat", "lunge", "circle",
        "interlock", "rise", "swap", "change", "alternate", "hook", "support", "perform", "face",
        "feel", "go", "pause", "shrug", "lengthen", "elongate", "soften", "melt", "visualize",
        "assume", "tip", "leave", "kick", "march", "bounce"
    )
)  # fmt: skip
#: Words a step's name never starts with: a line starting with one is an instruction.
_FLOW = re.compile(
    r"^(?:switch|swap|change|repeat|rest|relax|release|breathe|hold|inhale|exhale|return|"
    r"then|now|next|and|or|also|again|do|don['\u2019]t|try|make|keep|remember|note|"
    r"click|read|watch|see|share|subscribe|follow|sign|log|you|we|i|it|this|that|these|"
    r"there|here|if|when|while|so|but|because|after|before|once|please|thanks|thank)\b",
    re.IGNORECASE,
)
#: Labels of a step's fields that say nothing about how to move ("Targets: hips").
META_LABELS = (
    "target", "targets", "target area", "target areas", "muscles", "muscles worked",
    "muscles stretched", "benefit", "benefits", "equipment", "props", "you'll need",
    "you will need", "what you'll need", "level", "difficulty", "good for", "best for",
    "helps with", "purpose", "goal", "focus", "area", "areas", "works", "why", "what",
    "who", "when", "where", "muscle", "type", "category", "props needed", "elapsed time",
    "time needed", "total time", "session", "session length", "how often", "frequency",
    "source", "photo", "image", "credit", "video",
)  # fmt: skip
HOWTO_LABELS = (
    "how", "how to do it", "instructions", "instruction", "steps", "directions", "method",
    "technique", "how to",
)  # fmt: skip
_OTHER_LABELS = (
    "tip", "tips", "note", "notes", "modification", "modifications", "variation",
    "variations", "hold", "hold time", "duration", "time", "reps", "repetitions", "sets",
    "rounds", "sides", "caution", "warning", "avoid", "common mistakes", "mistakes",
    "cue", "cues", "breathing", "breath", "position", "starting position", "make it easier",
    "make it harder", "easier", "harder", "progression", "regression", "bonus", "option",
    "dose", "dosage", "prescription", "progress to", "too hard", "too easy",
    "options", "remember", "important", "safety", "pro tip", "alternative", "setup",
    "set up", "start", "starting", "movement", "action", "extra", "optional",
)  # fmt: skip
#: Labels that add a step rather than a field: "Bonus: Couch stretch".
_EXTRA_LABELS = ("bonus", "extra", "optional")
_KNOWN_LABELS = frozenset((*META_LABELS, *HOWTO_LABELS, *_OTHER_LABELS))
#: Headings and short lines that open no step: introductions, outros, site furniture.
_NOT_A_STEP = re.compile(
    r"\b(?:benefits?|conclusions?|summary|faqs?|frequently|questions?|thoughts|takeaways?|"
    r"bottom line|why|how often|when to|tips|about|related|references?|sources?|share|"
    r"comments?|reply|author|disclaimer|safety|precautions?|introduction|overview|"
    r"what is|what are|causes?|symptoms?|video|newsletter|subscribe|contents|"
    r"getting started|before you|final|more|you may also|popular|recent|categories|"
    r"search|menu|follow us|sign up|log in|privacy|cookies?|advert\w*|sponsored|"
    r"warm[- ]?up|cool[- ]?down routine|equipment|what you(?:'|\u2019)?ll need|"
    r"instructions|how to do it|how to|directions|routine|program|workout|exercises|"
    r"stretches|poses|moves|tip|at a glance|cheat sheet|quick guide|recap|in brief)\s*$"
    r"|^(?:benefits?|conclusion|summary|faqs?|why|about|related|"
    r"references?|sources?|share|comments?|disclaimer|safety|precautions|introduction|"
    r"overview|what is|what are|causes|symptoms|video|newsletter|subscribe|contents)\b"
    # a class plan's sections: "Standing", "Floor", "Opening (5 min)"
    r"|^(?:opening|closing|standing|seated|sitting|floor|supine|prone|kneeling|lying|"
    r"centering|centring|main (?:set|sequence|part)|the session)"
    r"(?: (?:poses|postures|sequence|section|series|work))?\s*$",
    re.IGNORECASE,
)
#: A line or paragraph that starts the article's outro: nothing after it is a step's text.
OUTRO = re.compile(
    r"^(?:and )?that['\u2019]?s (?:it|all|the whole)\b|^in (?:conclusion|summary|short)\b|"
    r"^to (?:sum|wrap) up\b|^(?:the )?bottom line\b|^final (?:thoughts|words|note)\b|"
    r"^hope (?:this|that|these)\b|^(?:always )?(?:consult|check with|talk to) (?:your|a)\b|"
    r"^share (?:this|on)\b|^related\b|^have (?:a|fun)\b|^enjoy\b|^happy (?:stretching|"
    r"training)\b|^(?:questions|comments)\?|^(?:thanks|thank you) for\b|^please (?:write|"
    r"share|comment|subscribe|like)\b|^(?:sleep|rest|train) well\b",
    re.IGNORECASE,
)


#: A line that opens the page's end matter: comments, related posts, questions and
#: answers. Nothing from it to the next heading as high as its own is the routine's.
END_MATTER = re.compile(
    r"^(?:\d+\s+)?(?:comments?|responses?|replies|reviews?)(?:\s*\(\d+\))?\s*:?$"
    r"|^(?:leave|post|add|write) a (?:comment|reply|review)\b|^join the (?:discussion|conversation)"
    r"|^(?:you (?:might|may|will) also (?:like|enjoy|love)|related(?: posts?| articles?| reading|"
    r" stretches| content| videos?| stories)?|more from\b|more (?:articles|stories|posts)\b|"
    r"most (?:read|popular|viewed)|trending(?: now| stories)?|"
    r"popular(?: posts| articles| right now| now| this week)?|"
    r"recommended(?: for you| reading| articles)?|read next|up next|"
    r"keep reading|further reading|recent posts|latest (?:posts|articles|stories)|"
    r"frequently asked questions|faqs?|questions and answers|q ?& ?a|common questions)\b",
    re.IGNORECASE,
)


class KeywordPattern:
    """A pattern of many alternatives tried only where one of its keywords occurs: a
    substring test is many times quicker than the pattern, and most lines have none."""

    def __init__(self, pattern: re.Pattern, keywords: tuple[str, ...]) -> None:
        self.pattern = pattern
        self.keywords = keywords

    def search(self, text: str) -> re.Match | None:
        """The pattern's first match in ``text``, if any."""
        lowered = text.lower()
        if not any(keyword in lowered for keyword in self.keywords):
            return None
        return self.pattern.search(text)


_JUNK_PATTERN = re.compile(
    r"https?://|www\.|\bclick here\b|\bread more\b|\bsubscribe\b|\bsign up\b|\bnewsletter\b|"
    r"\bview all posts\b|\bposted (?:by|on|in)\b|^by [A-Z][a-z]+|^written by\b|"
    r"\bshop (?:now|the)\b|\bbuy (?:now|it)\b|\baffiliate\b|\badvertisement\b|"
    r"^(?:photo|image|credit|music|video)\s*:|\b(?:in this|watch the|watch our|the) video\b|"
    r"\bcopyright\b|\u00a9|\ball rights reserved\b|\bcookies?\b|\bshare (?:this|on)\b|"
    r"\bpin it\b|^(?:leave a (?:reply|comment)|comments?)\b|^updated\b|^last updated\b",
    re.IGNORECASE,
)
#: Links, bylines, adverts and other site furniture inside a line.
JUNK = KeywordPattern(
    _JUNK_PATTERN,
    ("http", "www.", "click", "read more", "subscribe", "sign up", "newsletter", "view all",
     "posted", "by ", "shop", "buy ", "affiliate", "advertis", "photo", "image", "credit",
     "music", "video", "copyright", "\u00a9", "rights reserved", "cookie", "share", "pin it",
     "leave a", "comment", "updated"),
)  # fmt: skip
#: "#2 - Name", "Stretch 3: Name", "No. 4 Name", "5) Name", "A. Name", "B) Name".
_MARKER = re.compile(
    r"^(?:(?P<hash>#\s?(?P<hash_n>\d{1,3})\s*[.):\u2013\u2014-]?)"
    r"|(?P<word>(?:step|stretch|exercise|pose|move|no\.?|number|day)\s*#?(?P<word_n>\d{1,3})"
    r"\s*[.):\u2013\u2014-]?)"
    r"|(?P<digit>\(?(?P<digit_n>\d{1,3})\s*(?:[.):]|[\u2013\u2014-](?=\s)))"
    r"|(?P<letter>\(?(?P<letter_n>[A-Ha-h])[.)](?=\s)))\s*",
    re.IGNORECASE,
)
#: "Name: text", "Name - text", "Name- text", "Name \u2013 text".
_INLINE_LABEL = re.compile(
    r"^(?P<name>[^:.!?;]{2,60}?)\s*(?::|[-\u2013\u2014]\s|\s[-\u2013\u2014])\s*(?P<body>\S.*)$"
)
#: "Name. Text": a short name ending a sentence of its own.
_NAME_SENTENCE = re.compile(r"^(?P<name>[^.!?;:]{2,50})\.\s+(?P<body>[A-Z\u00c0-\u00de].*)$")
_LABEL = re.compile(r"^([A-Za-z][A-Za-z'\u2019 ]{0,30}?)\s*:")
#: The first two words of each sentence or clause.
_CLAUSE_START = re.compile(r"(?:^|[.!?;,:]\s+)[\W_]*([A-Za-z]+)(?:[^\w.!?;,]+([A-Za-z]+))?")
#: Verbs a name never has: "The second one is the cat-camel" is a sentence.
_FINITE_VERB = re.compile(
    r"\b(?:is|are|was|were|comes|come|will|should|can|could|has|have|had|does|did|"
    r"takes|gets|helps|makes|feels|works|means)\b",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(?:you|your|i|my|me|we|our|us)\b", re.IGNORECASE)
_QUESTION_WORDS = frozenset(("what", "why", "how", "when", "can", "should", "is", "are", "do",
                             "does", "will", "which", "who"))  # fmt: skip
#: Sentences that speak of every stretch at once: "Do each of these twice".
EVERY_STEP = re.compile(
    r"\b(?:each|all|every|both) (?:of )?(?:these|them|the (?:stretch|pose|exercise|move)\w*|"
    r"stretch\w*|pose\w*|exercise\w*|move\w*|position\w*)\b|\bthese (?:stretch|pose|exercise|"
    r"move)\w*\b|\bhold each\b|\bhold (?:them|these)\b|\b(?:held|hold) for [^.;]{1,40}\beach\b"
    r"(?!\s+(?:side|leg|arm|foot|hand|knee|way|direction|position|time|rep|set)s?\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Head:
    """A line's reading as a step's name: the name, the text after it on the line (a body
    or a dose), its layout and how much it reads like a stretch's name."""

    name: str
    rest: str
    layout: tuple
    quality: float


@dataclass
class LineInfo:
    """What one line of the article could be, read once."""

    line: Line
    #: The line's text without a leading "1." / "#2 -" / "A)" marker.
    rest: str
    marker: str | None = None
    ordinal: int | None = None
    label: str | None = None
    head: Head | None = None
    furniture: bool = False
    question: bool = False
    outro: bool = False
    instruction: bool = False
    dose: bool = False
    dose_only: bool = False
    #: Alone in its paragraph (or first or last of it, apart from sentences around it).
    standalone: bool = False


@dataclass
class FoundStep:
    """A step found in the article: its name (None: the page names none), the rest of its
    name's line, and the lines under it."""

    name: str | None
    head_rest: str = ""
    lines: list[Line] = field(default_factory=list)
    ordinal: int | None = None
    #: Sub-steps the page numbers inside this step ("1. Stand...", "2. Bend...").
    numbered_lines: bool = False
    #: The article's lines this step spans (its name's line first), if it has a name's line,
    #: and the paragraph its name's line is in.
    span: range | None = None
    block: int | None = None
    #: Whether its text tells how to move, and whether it gives a dose.
    instructed: bool = False
    dosed: bool = False
    #: Texts elsewhere on the page that name this stretch again with a dose: a summary
    #: list, a routine box, a table. Read for its dose after its own text.
    elsewhere: list[str] = field(default_factory=list)


@dataclass
class Layout:
    """The steps found and the lines that belong to none (introduction, outro, furniture),
    how they were found, and what they scored."""

    steps: list[FoundStep]
    loose: list[Line]
    how: str = ""
    score: float = 0.0


def field_label(text: str) -> str | None:
    """The field label a line starts with ("tip", "hold", "how"), if it has a known one."""
    found = _LABEL.match(text)
    if not found:
        return None
    words = found.group(1).lower().replace("\u2019", "'").split()
    # the longest known label the text starts with: "how to do it" before "how"
    for size in range(min(len(words), 4), 0, -1):
        known = " ".join(words[:size])
        if known in _KNOWN_LABELS:
            return known
    return None


def _is_question(text: str) -> bool:
    """A line that asks: it ends with "?", or starts with a question word and has one."""
    if text.rstrip().endswith("?"):
        return True
    first = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    return first in _QUESTION_WORDS and "?" in text


def title_case(text: str) -> bool:
    """Whether every significant word of ``text`` starts with a capital."""
    words = re.findall(r"[A-Za-z][\w'\u2019-]*", text)
    significant = [word for word in words if word.lower() not in _SMALL_WORDS]
    return (
        bool(significant)
        and all(word[0].isupper() for word in significant)
        and (len(significant) >= 2 or len(words) == 1)
    )


def is_instruction(text: str) -> bool:
    """Whether ``text`` tells how to move: a sentence or clause starting with a verb such
    as "sit", "lean", "hold" ("Gently pull ...", "Feet wide, shift your weight ...")."""
    for match in _CLAUSE_START.finditer(text[:MAX_HEAD_CHARS]):
        first, second = match[1].lower(), (match[2] or "").lower()
        if first in VERBS or (first in FILLER_ADVERBS and second in VERBS):
            return True
    return False


#: Adverbs an instruction may start with: "Gently pull...", "Slowly lower...".
FILLER_ADVERBS = frozenset(
    (
        "gently", "slowly", "carefully", "then", "now", "next", "and", "again", "also", "just",
        "simply", "first", "finally", "afterwards", "still", "but", "or", "so"
    )
)  # fmt: skip


def name_quality(name: str, heading: bool = False) -> float:
    """How much ``name`` reads like a stretch's name (about -3 to 2); a heading's text is
    a name more surely than a line's."""
    words = name.split()
    if not words:
        return -3.0
    quality = 0.0
    # A stretch's name ends with its noun ("Wall sit"), or has it after its first word.
    noun = any(match.start() > 0 or len(words) == 1 for match in STRETCH_NOUN.finditer(name))
    if noun:
        quality += WEIGHTS.noun
    if title_case(name):
        quality += WEIGHTS.title_case
    if len(words) <= 5:
        quality += WEIGHTS.short
    elif len(words) > 8:
        quality -= 0.5
    first = words[0].lower().strip("\"'(")
    if _flows(name):
        quality -= 2.0
    elif first in VERBS:
        # "Pull Back Toes" is a name; "Sit on the floor" is an instruction.
        quality -= 0.5 if noun or heading or title_case(name) else 2.0
    if _PRONOUN.search(name):
        quality -= 1.0
    return quality


def _flows(text: str) -> bool:
    """Whether ``text`` starts as an instruction or a sentence does ("Then ...", "It ...");
    an acronym is no pronoun ("IT band")."""
    return bool(_FLOW.match(text)) and not re.match(r"[A-Z]{2,}\b(?!\s+[A-Z]{2,})", text)


def _name_like(text: str, lowercase: bool = False) -> bool:
    """A short text that could be a name: not a sentence, not a field, not furniture."""
    words = text.split()
    if not 1 <= len(words) <= 10 or len(text) > 80:
        return False
    if text.endswith((",", ";", ":", "!", "?")) or not (lowercase or text[:1].isupper()):
        return False
    if ": " in text or _FINITE_VERB.search(text):
        return False  # "Name: how to" is a label, read as one; "X is the Y" a sentence
    if text.endswith(".") and (len(words) > 8 or text.endswith("..") or words[0].lower() in VERBS):
        return False  # a sentence, or an instruction: "Stand with feet apart."
    if re.search(r"[a-z]\.\s+[A-Z][a-z]", text):
        return False  # a name and a sentence after it: "Soleus stretch. As above but ..."
    if not any(char.isalpha() for char in text):
        return False
    if field_label(text) is not None or _flows(text) or _NOT_A_STEP.search(text):
        return False
    return not JUNK.search(text)


def clean_name(text: str) -> str:
    """A name as it is said: no markers, dashes, trailing punctuation or parentheses of
    links."""
    text = re.sub(r"^[\s#*\u2022\u2013\u2014-]+|[\s:*\u2013\u2014.,-]+$", "", text)
    return " ".join(text.split())


def _without_dose(text: str) -> tuple[str, str]:
    """``text`` split into a name and the dose that follows it on the line:
    "Low lunge for one minute each side" gives ("Low lunge", "for one minute each side")."""
    parenthesis = re.search(r"\s*\(([^()]{1,80})\)\s*$", text)
    if parenthesis and not (has_dose(parenthesis[1]) or _SIDES_ONLY.fullmatch(parenthesis[1])):
        parenthesis = None
    if len(text) > MAX_NAME_WITH_DOSE:
        return (text[: parenthesis.start()], parenthesis[1].strip()) if parenthesis else (text, "")
    for dose in _DOSE_START.finditer(text, 0, parenthesis.start() if parenthesis else len(text)):
        tail = text[dose.end() :]
        if dose.start() == 0:
            continue
        if is_dose_only(tail):
            return text[: dose.start()], tail
        said = dose.group(0).strip().lower()
        if said == "x" and re.match(r"\d{1,3}\b", tail):
            return text[: dose.start()], f"x {tail}"  # "Inchworms x 5"
        apart = said not in ("", ",", "for", "hold") and (said != dose.group(0) or said == ":")
        if apart and tail[:1].isdigit() and has_dose(tail):
            return text[: dose.start()], tail  # "Cat-cow - 8 slow rounds", "Pigeon -> 60s"
    if parenthesis:
        return text[: parenthesis.start()], parenthesis[1].strip()
    return text, ""


#: A parenthesis after a name that only says which sides: "(both sides)", "(per leg)".
_SIDES_ONLY = re.compile(
    r"\s*(?:both sides|each side|either side|per (?:side|leg|arm)|left and right|"
    r"each (?:leg|arm)|both legs|both arms|one side at a time)\s*",
    re.IGNORECASE,
)
#: Where a dose may start after a name: "Name - 45s", "Name for one minute", "Name, 3 x",
#: "Name ➡️ 10 reps".
_DOSE_START = re.compile(
    r"(?:\s*(?:[,:|\u2013\u2014\u2192\u21d2\u27a1-]\ufe0f?|->|=>)\s*|\s+(?:for|hold)\s+|\s+x\s*|\s+)"
    r"(?=(?:about\s+|up to\s+)?"
    r"(?:\d+s?|one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|"
    r"forty|sixty|half|a minute|a few)\b)",
    re.IGNORECASE,
)


def read_line(line: Line, previous: Line | None) -> LineInfo:
    """What ``line`` could be, given the line before it (for whether it stands alone)."""
    text = line.text
    head_text = text[:MAX_HEAD_CHARS]
    marked = _MARKER.match(head_text) if line.kind != "item" or line.number is None else None
    info = LineInfo(line, head_text[marked.end() :] if marked else head_text)
    if marked:
        style = next(name for name in ("hash", "word", "digit", "letter") if marked[name])
        number = marked[f"{style}_n"]
        info.marker = "digit" if style in ("digit", "word") else style
        info.ordinal = ord(number.lower()) - 96 if style == "letter" else int(number)
    elif line.kind == "item" and line.number is not None:
        info.marker, info.ordinal = "digit", line.number
    info.label = field_label(text)
    info.question = len(text) < 200 and _is_question(head_text)
    info.outro = bool(OUTRO.match(head_text))
    info.furniture = bool(
        JUNK.search(head_text)
        or (
            len(text.split()) <= 6
            and _NOT_A_STEP.search(_without_dose(text)[0])  # "Opening (5 min)"
            and line.kind != "item"
        )
        or info.label in META_LABELS
    )
    info.instruction = is_instruction(info.rest)
    info.dose = has_dose(head_text)
    info.dose_only = info.dose and len(text) <= 80 and is_dose_only(head_text)
    # A line is its own when nothing runs into it: a sentence typed over two lines is not.
    info.standalone = line.kind == "heading" or (
        line.kind != "item"
        and (
            previous is None
            or previous.block != line.block
            or previous.kind == "item"
            or previous.text.endswith((".", "!", "?", ":", ";", ")"))
        )
    )
    info.head = _head(info)
    return info


def _layout_of(info: LineInfo, form: str) -> tuple:
    """How a name is laid out: steps of one routine are laid out alike."""
    line = info.line
    if line.kind == "heading":
        return ("heading", line.level)
    if info.marker:
        return ("numbered", info.marker)
    if line.kind == "item":
        return ("item", min(line.level, 4))
    return (form,)


def _head(info: LineInfo) -> Head | None:
    """The step name ``info``'s line gives, if it can give one."""
    if info.furniture or info.question or info.outro:
        return None
    line, text = info.line, info.rest.strip()
    if info.label in _EXTRA_LABELS:
        text = text.split(":", 1)[1].strip()  # "Bonus: Couch stretch"
    elif info.label is not None:
        return None
    if not text:
        return None
    if " | " in text:
        return _table_row(info, text)
    if info.dose_only:
        return None  # "3 x 20 seconds" names nothing, even set as a heading
    bold = _bold_head(info, text)
    if bold is not None:
        return bold
    name, dose = _without_dose(text)
    aside = _HOW_ASIDE.search(name)
    if aside:  # "calf stretch (heel down, knee straight): 45s": the parenthesis says how
        name, dose = name[: aside.start()], f"{aside[1].strip()}. {dose}".rstrip(". ")
    name = clean_name(name)
    # a line in bold alone is set like a heading: "**hip flexor**"
    emphasised = line.lead is not None and line.lead == line.text
    structured = line.kind in ("heading", "item") or info.marker is not None or emphasised
    sentence = text.endswith(".") and not structured and not dose
    whole = None
    if _name_like(name, lowercase=structured) and (structured or info.standalone) and not sentence:
        layout = _layout_of(info, "label" if dose else "line")
        whole = Head(name, dose, layout, name_quality(name, line.kind == "heading"))
        if whole.quality >= 0:
            return whole
    # "Standing quad stretch - hold your ankle ... for 30 seconds" is a name and its text
    labelled = _labelled_head(info, text, structured)
    if labelled is None and line.kind == "item" and (whole is None or whole.quality < 1):
        return _noun_led_head(info, text) or whole
    return labelled or whole


def _noun_led_head(info: LineInfo, text: str) -> Head | None:
    """A list item that opens with a stretch's name, ended by its noun, and runs on into
    its how-to and dose with no mark between: "finger flexor stretch, palm on the wall:
    3x30s each arm", "child's pose w/ arms walked to one side, 40s each side"."""
    words = text[:_NOUN_LEAD_CHARS]
    for noun in STRETCH_NOUN.finditer(words):
        if noun.start() == 0:
            continue
        name = clean_name(text[: noun.end()])
        rest = text[noun.end() :]
        body = rest.lstrip(" ,;:\u2013\u2014-")
        if len(name.split()) > 5 or not re.match(r"\s*(?:[,(;:\u2013\u2014-]|\s+[a-z])", rest):
            continue
        if not _name_like(name, lowercase=True) or name_quality(name) < 1:
            continue
        if has_dose(body) or is_instruction(body):
            return Head(name, body, _layout_of(info, "label"), name_quality(name))
        return None
    return None


#: How far into an item its name may run before its text: a few words.
_NOUN_LEAD_CHARS = 60


def _bold_head(info: LineInfo, text: str) -> Head | None:
    """The name a line gives in bold before its text: "**Upper back.** Lie back with ...",
    "<strong>Sleeper stretch.</strong> Lie on your side ..."."""
    lead = info.line.lead
    if not lead or lead == info.line.text:
        return None
    marker = _MARKER.match(lead)
    lead = lead[marker.end() :] if marker and info.marker else lead
    if not text.startswith(lead) or field_label(lead.rstrip(":") + ":"):
        return None
    body = text[len(lead) :].lstrip(" .:;,\u2013\u2014-")
    name, dose = _without_dose(clean_name(lead))
    name = clean_name(name)
    if (
        not body
        or not _name_like(name, lowercase=True)
        or len(name.split()) > 7
        or not (is_instruction(body) or has_dose(body) or dose or len(body.split()) >= 6)
    ):
        return None
    rest = f"{dose}. {body}" if dose else body
    return Head(name, rest, _layout_of(info, "label"), name_quality(name))


def _labelled_head(info: LineInfo, text: str, structured: bool) -> Head | None:
    """The name a line leads with, before its text: "Name: text", "Name - text",
    "Name. Text"."""
    for pattern in (_INLINE_LABEL, _NAME_SENTENCE):
        found = pattern.match(text)
        if not found:
            continue
        name, dose = _without_dose(found["name"])
        body = found["body"].strip()
        aside = _HOW_ASIDE.search(name)
        if aside:  # "calf stretch (heel down, knee straight): 45s": the parenthesis says how
            name, body = name[: aside.start()], f"{aside[1].strip()}. {body}"
        name, body = clean_name(name), f"{dose}. {body}".lstrip(". ")
        quality = name_quality(name)
        # "Good posture. Sit tall." names nothing; "Toe walks (1 min)." does, and so does
        # "A. Heel dig. Lie ..." among other lettered or numbered names
        marked = info.marker is not None and len(name.split()) <= 5 and quality >= 0
        if pattern is _NAME_SENTENCE and quality < 0.8 and not dose and not marked:
            continue
        if (
            _name_like(name, lowercase=structured)
            and len(name.split()) <= 7
            and (is_instruction(body) or has_dose(body) or len(body.split()) >= 6)
            and not (pattern is _INLINE_LABEL and field_label(name + ":"))
        ):
            return Head(name, body, _layout_of(info, "label"), quality)
    return None


#: A parenthesis closing a name that tells how to move, a list of cues ("(fist, bend the
#: wrist down)"), not another name ("(sciatic nerve glide)").
_HOW_ASIDE = re.compile(r"\(([^()]{1,80},[^()]{1,80})\)\s*$")


def _table_row(info: LineInfo, text: str) -> Head | None:
    """A table's row read as a step: the first cell names it, the others say how."""
    cells = [cell.strip() for cell in text.strip("| ").split(" | ")]
    name = clean_name(cells[0])
    if not _name_like(name, lowercase=True) or len(cells) < 2:
        return None
    rest = ". ".join(cell.rstrip(".") for cell in cells[1:] if cell)
    return Head(name, rest + "." if rest else "", ("table",), name_quality(name))


def find_steps(lines: list[Line], most: int) -> Layout:
    """The steps in an article's ``lines`` (at most ``most``, and one more if there are
    more), by the best-scoring layout of their names, else numbered paragraphs, else prose.
    """
    infos = [
        read_line(line, lines[index - 1] if index else None) for index, line in enumerate(lines)
    ]
    end_matter = _end_matter(infos)
    layout = _find_steps(infos, most)
    if end_matter:
        layout.loose = [line for line in layout.loose if id(line) not in end_matter]
    return layout


def _end_matter(infos: list[LineInfo]) -> set[int]:
    """The lines of the page's end matter (ids of their :class:`Line`), made furniture:
    from a line such as "3 comments", "Related posts" or "FAQ" standing alone, to the next
    heading as high as its own (any heading, if it is no heading)."""
    ended: set[int] = set()
    level: int | None = None  # the end matter's heading level (6 when a line opened it)
    for info in infos:
        line = info.line
        opens = (
            info.standalone
            and len(line.text) <= 60
            and bool(END_MATTER.match(clean_name(line.text)))
        )
        if level is not None and line.kind == "heading" and line.level <= level and not opens:
            level = None
        if opens:
            level = line.level if line.kind == "heading" else 6
        if level is not None:
            ended.add(id(line))
            info.furniture, info.head = True, None
    return ended


def _find_steps(infos: list[LineInfo], most: int) -> Layout:
    """The best layout of names with two steps or more, else the best-scoring of it,
    numbered paragraphs and prose."""
    named = _best_named(infos, most)
    if named is not None and len(named.steps) >= 2:
        return named
    options = [option for option in (named, _numbered(infos, most), _prose(infos, most)) if option]
    if not options:
        return Layout([], [info.line for info in infos])
    return max(options, key=lambda option: (option.score, -options.index(option)))


def _best_named(infos: list[LineInfo], most: int) -> Layout | None:
    """The layout of names whose steps score best, and its steps."""
    by_layout: dict[tuple, list[int]] = {}
    for index, info in enumerate(infos):
        if info.head is not None and info.head.quality >= 0:
            by_layout.setdefault(info.head.layout, []).append(index)
    layouts = sorted(by_layout, key=lambda key: -len(by_layout[key]))[:MAX_LAYOUTS]
    found = [_cut(infos, by_layout[key], most) for key in layouts]
    captions = _captions(infos, most)
    if captions is not None:
        found.append(captions)
    found = [layout for layout in found if layout.steps]
    if not found:
        return None
    ranked = sorted(found, key=lambda layout: -layout.score)  # stable: the first of equals
    return _merged(ranked[0], ranked[1:], infos, most)


def _merged(best: Layout, others: list[Layout], infos: list[LineInfo], most: int) -> Layout:
    """The best layout's steps with what the others find in the lines it leaves: the same
    stretch named again (a summary list, a routine box, a table of doses) gives that step
    its dose, and a section laid out its own way (a warm-up list before numbered
    stretches) adds its steps, when it has at least two."""
    used: set[int] = set()
    for step in best.steps:
        used.update(step.span or ())
    steps = list(best.steps)
    for other in others:
        added: list[FoundStep] = []
        for step in other.steps:
            if step.span is None or not used.isdisjoint(step.span):
                continue
            same = next((mine for mine in steps if _same_stretch(mine.name, step.name)), None)
            if same is not None:
                _absorb(same, step)
                used.update(step.span)
            elif step.instructed or step.dosed:
                added.append(step)
        if len(added) >= 2 and len(steps) + len(added) <= most + 1:
            steps.extend(added)
            for step in added:
                used.update(step.span or ())
    if len(steps) > len(best.steps):
        order = {id(step): index for index, step in enumerate(best.steps)}
        steps.sort(key=lambda step: (step.span.start if step.span else -1, order.get(id(step), 0)))
    loose = [info.line for index, info in enumerate(infos) if index not in used]
    return Layout(steps, loose, how=best.how, score=best.score)


def _stretch_key(name: str | None) -> str:
    """A name reduced to its words, without parentheses: "Nerve floss (glide)" -> "nerve floss"."""
    text = re.sub(r"\([^()]*\)", " ", (name or "").lower())
    return " ".join(re.findall(r"[a-z0-9]+", text))


def _same_stretch(one: str | None, other: str | None) -> bool:
    """Whether two names name the same stretch: alike, or one the start of the other
    ("Lying hamstring stretch" and "Lying hamstring stretch with a strap")."""
    first, second = _stretch_key(one), _stretch_key(other)
    if not first or not second:
        return False
    short, long = sorted((first, second), key=len)
    return long == short or long.startswith(short + " ")


def _absorb(step: FoundStep, again: FoundStep) -> None:
    """Give ``step`` what ``again`` (the same stretch named elsewhere) says. The mention
    that says more of how to move keeps its text, the other is read for its dose; the
    name is the fuller one (a summary shortens it)."""

    def told(found: FoundStep) -> int:
        return sum(len(text) for text in (found.head_rest, *(line.text for line in found.lines)))

    name = max((step.name, again.name), key=lambda name: (len(_stretch_key(name)), len(name or "")))
    texts = [again.head_rest, *(line.text for line in again.lines)]
    if again.instructed and (not step.instructed or told(again) > told(step)):
        texts = [step.head_rest, *(line.text for line in step.lines)]
        step.head_rest, step.lines = again.head_rest, again.lines
        step.instructed = True
        if again.span is not None and step.span is not None:
            step.span = range(min(again.span.start, step.span.start), step.span.stop)
    step.name = name
    step.elsewhere.extend(text for text in texts if text)


def _segment_end(infos: list[LineInfo], start: int, stop: int, headings: bool = True) -> int:
    """Where the step named at ``start`` ends, before ``stop`` (the next name) at the latest:
    at a heading as high as its own (unless not ``headings``: a caption may be one), the
    page's furniture, or its outro."""
    head_line = infos[start].line
    item_depth = head_line.level if head_line.kind == "item" else None
    head = infos[start].head
    has_body = bool(head and head.rest)
    for index in range(start + 1, stop):
        info = infos[index]
        line = info.line
        if (
            headings
            and line.kind == "heading"
            and (head_line.kind != "heading" or line.level <= head_line.level)
            and info.label is None  # a field set as a heading ("Targets: ...") is the step's
        ):
            return index
        if (
            info.outro
            or (info.question and info.standalone)
            or (info.furniture and info.standalone and info.label is None)
        ):
            return index
        if (
            item_depth is not None
            and has_body
            and line.level < item_depth
            and line.block != head_line.block
        ):
            return index
        has_body = has_body or info.instruction or info.dose
    return stop


def _score(head: Head | None, body: list[LineInfo], quality: float | None = None) -> float:
    """What a step scores: its instructions, its dose and its name, less what it costs."""
    if quality is None:
        quality = head.quality if head else 0.0
    rest = head.rest if head else ""
    instruction = any(info.instruction for info in body) or (bool(rest) and is_instruction(rest))
    dose = any(info.dose for info in body) or (bool(rest) and has_dose(rest))
    if not body and not rest:
        return quality - WEIGHTS.bare_name
    return WEIGHTS.instruction * instruction + WEIGHTS.dose * dose + quality - WEIGHTS.step


def _cut(infos: list[LineInfo], starts: list[int], most: int) -> Layout:
    """The steps named by the lines at ``starts``; names whose steps do not score are
    left out (their lines go to the step before, or to no step)."""
    steps: list[FoundStep] = []
    used: set[int] = set()
    score = 0.0
    bounds = [*starts[1:], len(infos)]
    for start, stop in zip(starts, bounds, strict=True):
        if len(steps) > most:
            break
        end = _segment_end(infos, start, stop)
        body = infos[start + 1 : end]
        head = infos[start].head
        if head is None:
            continue
        value = _score(head, body)
        if value <= 0:
            continue
        score += value
        step = FoundStep(clean_name(head.name), head.rest, [info.line for info in body],
                         infos[start].ordinal)  # fmt: skip
        step.instructed = any(info.instruction for info in body) or is_instruction(head.rest)
        step.dosed = any(info.dose for info in body) or has_dose(head.rest)
        step.block = infos[start].line.block
        parts = _split_restarts(step, body)
        for part in parts:
            part.span = range(start, end)
        steps.extend(parts)
        used.update(range(start, end))
    first = infos[starts[0]].head
    layout = Layout(steps, [info.line for index, info in enumerate(infos) if index not in used],
                    how=str(first.layout if first else ""))  # fmt: skip
    layout.score = score
    return layout


def _split_restarts(step: FoundStep, body: list[LineInfo]) -> list[FoundStep]:
    """``step``, and the unnamed steps inside it: a numbered list starting again at 1
    after a list of its own, or a field ("Targets:") given a second time."""
    found = [step]
    current = step
    current.lines = []
    seen_numbers = False
    labels: set[str] = set()
    previous_block = None
    has_text = False
    for info in body:
        line = info.line
        restart = info.ordinal == 1 and seen_numbers and line.block != previous_block and has_text
        repeated = info.label in META_LABELS and info.label in labels and has_text
        if restart or repeated:
            current = FoundStep(None)
            found.append(current)
            labels, seen_numbers, has_text = set(), False, False
        if info.ordinal is not None:
            seen_numbers = True
            current.numbered_lines = True
        if info.label:
            labels.add(info.label)
        has_text = has_text or info.instruction or info.dose
        current.lines.append(line)
        previous_block = line.block
    return found


def _captions(infos: list[LineInfo], most: int) -> Layout | None:
    """Steps laid out dose first and named last, as under a photo: "3 x 20 seconds", the
    how-to, then "chest stretch"."""
    starts = [
        index
        for index, info in enumerate(infos)
        if info.dose_only and info.standalone and info.line.kind != "item"
    ]
    if len(starts) < 2:
        return None
    steps: list[FoundStep] = []
    used: set[int] = set()
    score = 0.0
    for start, stop in zip(starts, [*starts[1:], len(infos)], strict=True):
        end = _segment_end(infos, start, stop, headings=False)
        body = infos[start + 1 : end]
        last = body[-1] if body else None
        if (
            last is None
            or not last.standalone
            or last.line.block == infos[start].line.block
            or not _name_like(last.line.text, lowercase=True)
            or len(last.line.text.split()) > 6
            or not any(info.instruction for info in body[:-1])
        ):
            continue
        name = clean_name(last.line.text)
        head = Head(name, infos[start].line.text, ("caption",), name_quality(name))
        value = _score(head, body[:-1])
        if value <= 0:
            continue
        score += value
        step = FoundStep(name, infos[start].line.text, [info.line for info in body[:-1]])
        step.span, step.instructed = range(start, end), True
        steps.append(step)
        used.update(range(start, end))
        if len(steps) > most:
            break
    layout = Layout(steps, [info.line for index, info in enumerate(infos) if index not in used],
                    how="captions")  # fmt: skip
    layout.score = score
    return layout


def _numbered(infos: list[LineInfo], most: int) -> Layout | None:
    """Numbered paragraphs that instruct, without names: each is a step."""
    starts = [
        index
        for index, info in enumerate(infos)
        if info.marker == "digit"
        and info.instruction
        and info.line.level <= 1
        and not info.furniture
    ]
    if not starts:
        return None
    steps: list[FoundStep] = []
    used: set[int] = set()
    score = 0.0
    for start, stop in zip(starts, [*starts[1:], len(infos)], strict=True):
        end = _segment_end(infos, start, stop)
        body = infos[start:end]
        value = _score(None, body, quality=0.5)
        if value <= 0:
            continue
        score += value
        first = replace(infos[start].line, text=infos[start].rest, kind="text")
        lines = [first] + [info.line for info in body[1:]]
        steps.append(FoundStep(None, "", lines, infos[start].ordinal))
        used.update(range(start, end))
        if len(steps) > most:
            break
    layout = Layout(steps, [info.line for index, info in enumerate(infos) if index not in used],
                    how="numbered")  # fmt: skip
    layout.score = score - WEIGHTS.fallback
    return layout


#: "The first stretch is the doorway stretch", "Last comes the cat-camel": a name that a
#: sentence introduces and ends on.
_INTRODUCED_NAME = re.compile(
    r"\b(?:is|are|comes|come|up is|there['\u2019]s|called)\s+(?:the|a|an)\s+"
    r"(?P<name>[\w'\u2019-]+(?:\s+[\w'\u2019-]+){0,4}?)\s*(?:[.;:!?(]|,\s|$)"
    # "which she calls the 'ankle alphabet'": a name in quotes that a sentence gives
    r"|\b(?:calls?|called|known as|dubbed|nicknamed|named)\s+(?:the\s+|a\s+|an\s+)?"
    r"['\"\u2018\u201c](?P<quoted>[\w'\u2019-]+(?:\s+[\w'\u2019-]+){0,4}?)['\"\u2019\u201d]"
)
_CAPITALISED_NAME = re.compile(
    r"\b(?:the|a|an)\s+(?P<name>[A-Z][\w'\u2019-]*(?:\s+(?:[A-Z][\w'\u2019-]*|of|the|to|and|on)){1,5})"
)


def subject(sentence: str) -> str | None:
    """The stretch a sentence of prose introduces: "... a standing quad stretch",
    "the Seated Spinal Twist"."""
    capitalised = _CAPITALISED_NAME.search(sentence)
    if capitalised:
        name = re.sub(r"\s+(?:of|the|to|and|on)$", "", capitalised["name"])
        if len(name.split()) >= 2 and not _PRONOUN.search(name):
            return name
    introduced = _INTRODUCED_NAME.search(sentence)
    if introduced and introduced["quoted"]:
        return introduced["quoted"]
    if introduced and not _PRONOUN.search(introduced["name"]):
        words = introduced["name"].split()
        # "the wrist and forearm stretch": a stretch's noun may be a verb too
        inner = words[1:-1] if STRETCH_NOUN.fullmatch(words[-1]) else words[1:]
        if not any(word.lower() in VERBS for word in inner) and words[0].lower() not in FILLER:
            return introduced["name"]
    for match in STRETCH_NOUN.finditer(sentence):
        window = sentence[max(0, match.start() - 200) : match.start()].split()
        before = window[-3:] if match.start() <= 200 else window[1:][-3:]
        kept: list[str] = []
        for word in reversed(before):
            clean = word.strip(",;:()\"'")
            if (
                clean != word
                or clean.lower() in _SMALL_WORDS | FILLER | FILLER_ADVERBS
                or clean.lower() in VERBS
                or (not clean.isalpha() and "-" not in clean)
                or _FINITE_VERB.fullmatch(clean)
                or _PRONOUN.fullmatch(clean)
            ):
                break  # "After that come shoulder rolls", not "Then I sit", "to gently pull"
            kept.insert(0, clean)
        after = re.match(
            r"(?:[ -](?:stretch|pose|hold|twist|fold))*", sentence[match.end() :][:40], re.I
        )
        if kept or " " in match.group(0):  # a name of several words needs no more:
            # "legs up the wall", "thread the needle"
            return " ".join([*kept, match.group(0) + (after.group(0) if after else "")])
    return None


def _prose(infos: list[LineInfo], most: int) -> Layout | None:
    """Steps named inline in prose: each sentence that introduces a stretch starts one,
    and the sentences after it, up to the next, are its text."""
    blocks: dict[int, list[int]] = {}
    for index, info in enumerate(infos):
        if info.line.kind == "text" and not info.furniture:
            blocks.setdefault(info.line.block, []).append(index)
    layout = Layout([], [], how="prose", score=-WEIGHTS.fallback)
    used: set[int] = set()
    for indexes in blocks.values():
        text = " ".join(infos[index].line.text for index in indexes)[:MAX_PROSE_CHARS]
        if OUTRO.match(text) or JUNK.search(text[:MAX_HEAD_CHARS]):
            continue
        block = infos[indexes[0]].line.block
        found: list[FoundStep] = []
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            name = subject(sentence)
            if name:
                found.append(FoundStep(name[:1].upper() + name[1:]))
            if found:
                found[-1].lines.append(Line(sentence, "text", block))
        for step in found:
            body = " ".join(line.text for line in step.lines)
            dose = any(has_dose(line.text) for line in step.lines)
            moves = any(word in VERBS for word in re.findall(r"[a-z]+", body.lower()))
            value = (
                WEIGHTS.instruction * moves + WEIGHTS.dose * dose + name_quality(step.name or "")
            )
            if dose and value > WEIGHTS.step:
                layout.steps.append(step)
                layout.score += value - WEIGHTS.step
                used.update(indexes)
        if len(layout.steps) > most:
            break
    if not layout.steps:
        return None
    layout.loose = [info.line for index, info in enumerate(infos) if index not in used]
    return layout
