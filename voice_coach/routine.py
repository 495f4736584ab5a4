"""Routine files: YAML text in, a validated, frozen :class:`Routine` out.

This module is part of the pure core: it parses text it is given and never
touches audio. :func:`load_routine` is the one place that reads a file.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import InputFileError, RoutineError, RoutineNotFoundError
from .inputs import read_input

#: The built-in routines, shipped as package data (plain files in the wheel too).
BUILTIN_FOLDER = Path(__file__).resolve().parent / "routines"
#: Longest hold, prep or rest a routine may ask for, in seconds.
MAX_SECONDS = 3600
#: Longest whole routine, counting holds, prep and rest, in seconds.
MAX_ROUTINE_SECONDS = 12 * 3600
#: Longest text in any one field, in characters.
MAX_TEXT = 2000
MAX_REPS = 50
MAX_COUNTDOWN = 30
#: Most "N seconds left" cues a step may ask for.
MAX_WARNS = 10
MAX_STEPS = 500
#: Largest routine file read, in bytes: 500 steps of long instructions fit in it.
MAX_ROUTINE_BYTES = 2 * 1024 * 1024
#: Most YAML nodes (values, keys, lists, aliases) a routine file may hold: a 500-step
#: routine with every setting on every step has about 20,000. Counted while parsing,
#: before anything is built, so a file of millions of tiny values is refused at once.
MAX_YAML_NODES = 50_000
#: Longest number a routine may write, in characters (Python refuses to read integers
#: of more than 4,300 digits, and no setting needs more than a few).
MAX_NUMBER_CHARS = 32

SIDES = ("each", "none")

#: Step settings a routine's ``defaults`` or any step may set, with the built-in value of each.
DEFAULTS: dict[str, Any] = {
    "hold": 30,
    "prep": 5,
    "rest": 5,
    "switch": 5,
    "reps": 1,
    "sides": "each",
    "countdown": 5,
    "warn": (),
    "halfway": True,
    "fractions": (),
    "limb": "side",
    "pause_after_step": False,
}
#: Settings of the whole routine, how it sounds: ``defaults`` may set them, steps may not.
ROUTINE_SETTINGS: dict[str, Any] = {
    "sounds": "chime",
    "chime_level": 0.0,
    "speech_level": 0.0,
    "voice": None,
    "rate": None,
    "volume": None,
    "music": (),
    "duck": None,
    "music_level": None,
    "music_hold_level": None,
}
#: Most music files and folders one setting may name.
MAX_MUSIC_SOURCES = 100
#: The music settings' ranges, in dB: how far the music drops under cues, and its level
#: against the voice between cues and through holds.
DUCK_RANGE = (0.0, 40.0)
MUSIC_LEVEL_RANGE = (-40.0, 0.0)
#: The built-in sound sets (``sounds/`` in the package) and the sounds each one has.
SOUND_SETS = ("chime", "bell", "woodblock", "beep")
SOUND_NAMES = ("hold-start", "hold-end", "last-set", "finish")
SOUND_SUFFIXES = (".wav", ".flac", ".ogg")
#: Quietest and loudest relative level, in dB, of chimes and of speech.
LEVEL_RANGE = (-30.0, 12.0)
#: Fractions a hold may be cued at, by how they are written.
FRACTION_NAMES = {"1/4": (1, 4), "1/3": (1, 3), "1/2": (1, 2), "2/3": (2, 3), "3/4": (3, 4)}
ROUTINE_KEYS = ("name", "description", "language", "defaults", "steps")
#: A language code as voices name them: "en", "en_US", "en-GB", "pt-BR".
LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")
STEP_KEYS = ("name", "instructions", "deeper", *DEFAULTS)
DEFAULTS_KEYS = (*DEFAULTS, *ROUTINE_SETTINGS)


@dataclass(frozen=True)
class Step:
    """One stretch or exercise: what to say, and how long to hold it."""

    name: str
    instructions: str
    hold: float
    prep: float
    rest: float
    reps: int
    sides: str
    countdown: int
    halfway: bool
    limb: str
    deeper: str | None = None
    #: Speak the seconds left every this many seconds ("25 ... 20 ... 15"); 0 is off.
    countdown_every: int = 0
    #: "N seconds left" cues, in seconds before the end, largest first.
    warn: tuple[int, ...] = ()
    #: Cues at these fractions of the hold, as (numerator, denominator), in order.
    fractions: tuple[tuple[int, int], ...] = ()
    #: Seconds of quiet between the two sides (after the switch cue).
    switch: float = 5
    #: The live player waits for a key after this step.
    pause_after_step: bool = False

    @property
    def side_names(self) -> tuple[str | None, ...]:
        """The sides held in each rep, in order: ``("left", "right")`` or ``(None,)``."""
        return ("left", "right") if self.sides == "each" else (None,)


@dataclass(frozen=True)
class CustomSound:
    """A routine's own sound file for one of :data:`SOUND_NAMES`, as written in the routine.

    ``path`` is relative to the routine's folder (checked to stay inside it when
    the sound is loaded, as links can only be followed there); ``line`` is where
    it was given, for error messages.
    """

    name: str
    path: str
    line: int


@dataclass(frozen=True)
class Sounds:
    """Which sounds a routine uses: a built-in set, with some sounds replaced by files."""

    set: str = "chime"
    custom: tuple[CustomSound, ...] = ()


@dataclass(frozen=True)
class MusicPath:
    """A music file or folder a routine names, relative to the routine's folder (checked to
    stay inside it when the music is opened), and the line that names it."""

    path: str
    line: int


@dataclass(frozen=True)
class Routine:
    """A validated routine: a name, a description and its steps in order."""

    name: str
    description: str
    steps: tuple[Step, ...]
    source: str
    #: The language the routine is written in (a code such as "en" or "de_DE"), if given;
    #: it picks a voice that speaks it when no voice is asked for.
    language: str | None = None
    sounds: Sounds = Sounds()
    #: Level of the sounds and of speech, in dB relative to where voice-coach puts them.
    chime_level: float = 0.0
    speech_level: float = 0.0
    #: The routine's own choice of voice, rate (words a minute) and playing volume
    #: (percent); the user's config and command line override them.
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None
    #: Music under the cues (files and folders beside the routine), and its levels in
    #: dB: the drop under cues, the level against the voice, the level through holds.
    music: tuple[MusicPath, ...] = ()
    duck: float | None = None
    music_level: float | None = None
    music_hold_level: float | None = None


#: Unicode categories dropped from spoken text: controls (a terminal escape could
#: repaint the player's screen), invisible format marks such as bidi overrides,
#: private and unassigned code points, and pictographs (emoji), which voices read
#: as names or noise. Letters of every script stay; right-to-left text is spoken
#: by a voice that knows the language.
UNSPEAKABLE = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "So"})


def speakable(text: str) -> str:
    """``text`` without the characters in :data:`UNSPEAKABLE` (line breaks become spaces)."""
    return "".join(
        " " if char in "\n\r\t" else char
        for char in text
        if char in "\n\r\t"
        or (unicodedata.category(char) not in UNSPEAKABLE and not _is_emoji_modifier(char))
    )


def _is_emoji_modifier(char: str) -> bool:
    """Variation selectors and skin tones: marks that only dress up an emoji."""
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or code == 0x20E3


SCHEMA_ID = "https://voice-coach.invalid/routine.schema.json"


def routine_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of routine files, for editors: completion, hover
    help and errors as you type (through the YAML language server).

    It mirrors the loader's rules where a schema can say them (keys, types, ranges,
    text lengths); the loader stays the judge, and also checks what a schema cannot,
    such as a routine's total length.
    """

    def text(description: str) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "description": description}

    def number(description: str, lowest: float, highest: float, whole: bool = False):
        kind = "integer" if whole else "number"
        return {"type": kind, "minimum": lowest, "maximum": highest, "description": description}

    # Looser than the loader (which takes only quarters, thirds and halves): a schema
    # may miss a mistake, but must never flag a routine that works.
    fraction = {
        "anyOf": [
            {"type": "string", "pattern": r"^\s*[1-3]\s*/\s*[2-4]\s*$"},
            {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        ]
    }

    settings = {
        "hold": number("Seconds each hold lasts.", 1, MAX_SECONDS),
        "prep": number("Seconds of quiet after the instructions, to get into position.", 0,
                       MAX_SECONDS),
        "rest": number("Seconds of quiet after each hold.", 0, MAX_SECONDS),
        "reps": number("Holds per side.", 1, MAX_REPS, whole=True),
        "sides": {"enum": list(SIDES), "description": "each: left, then right; none: one hold."},
        "countdown": number("Speak the last N seconds of each hold; 0 is off.", 0,
                            MAX_COUNTDOWN, whole=True),
        "halfway": {"type": "boolean", "description": "A cue at the midpoint of long holds."},
        "limb": {"type": "string", "minLength": 1, "maxLength": 20,
                 "description": 'One word for side cues: "Left leg", "Switch legs".'},
        "switch": number("Seconds of quiet between the two sides.", 0, MAX_SECONDS),
        "warn": {"description": '"N seconds left" cues, such as [10].',
                 "anyOf": [number("", 1, MAX_SECONDS, whole=True),
                           {"type": "array", "maxItems": MAX_WARNS,
                            "items": number("", 1, MAX_SECONDS, whole=True)}]},
        "fractions": {"description": "Cues at these fractions of each hold, such as [1/3, 2/3].",
                      "anyOf": [fraction, {"type": "array", "items": fraction}]},
        "pause_after_step": {"type": "boolean",
                             "description": "Live play waits for a key after the step."},
    }  # fmt: skip
    settings["countdown"] = {
        "description": "Speak the last N seconds (0 or off: none), or every N seconds.",
        "anyOf": [
            settings["countdown"],
            {"enum": ["off", False]},
            {"type": "object", "additionalProperties": False, "required": ["every"],
             "properties": {"every": number("Every N seconds.", 1, MAX_SECONDS, whole=True),
                            "last": number("And the last N one by one.", 0, MAX_COUNTDOWN,
                                           whole=True)}},
        ],
    }  # fmt: skip
    inside = r"^\s*(?![/\\~])(?![A-Za-z]:)(?!(?:.*[/\\])?\.\.(?:[/\\]|$))"
    suffix = r"\.(?:[wW][aA][vV]|[fF][lL][aA][cC]|[oO][gG][gG])\s*$"
    sound_file = {"type": "string", "pattern": inside + ".*" + suffix,
                  "description": "A file beside the routine (its folder or below)."}  # fmt: skip
    music_path = {"type": "string", "minLength": 1, "maxLength": MAX_PATH_CHARS,
                  "pattern": inside + r"(?!\s*$)(?!(?:off)$)",
                  "description": "A music file or folder beside the routine."}  # fmt: skip
    whole_routine = {
        "sounds": {"description": "A sound set, or a set with some sounds from files.",
                   "anyOf": [{"enum": list(SOUND_SETS)},
                             {"type": "object", "additionalProperties": False,
                              "properties": {"set": {"enum": list(SOUND_SETS)},
                                             **{name: sound_file for name in SOUND_NAMES}}}]},
        "chime_level": number("Sounds, in dB, against speech.", *LEVEL_RANGE),
        "speech_level": number("Speech, in dB, against the sounds.", *LEVEL_RANGE),
        "voice": {"type": "string", "minLength": 1, "maxLength": 200,
                  "description": "Voice id, name or language (voice-coach voices)."},
        "rate": number("Words a minute.", 60, 400, whole=True),
        "volume": number("Playing volume in percent.", 0, 200),
        "music": {"description": "Music under the cues: files or folders beside the routine.",
                  "anyOf": [music_path, {"type": "array", "minItems": 1,
                                         "maxItems": MAX_MUSIC_SOURCES, "items": music_path},
                            {"enum": ["off", False]}]},
        "duck": number("How far the music drops under each cue, in dB.", *DUCK_RANGE),
        "music_level": number("The music against the voice between cues, in dB.",
                              *MUSIC_LEVEL_RANGE),
        "music_hold_level": number("The music through holds, in dB against its level.",
                                   *MUSIC_LEVEL_RANGE),
    }  # fmt: skip
    step = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": text("What the stretch is called; spoken first."),
            "instructions": text("How to do it; spoken after the name."),
            "deeper": text("A deeper variant, spoken only with --deeper."),
            **settings,
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "voice-coach routine",
        "type": "object",
        "required": ["name", "steps"],
        "additionalProperties": False,
        "properties": {
            "name": text("The routine's name."),
            "description": {"type": "string", "maxLength": MAX_TEXT},
            "language": {"type": "string", "pattern": f"^{LANGUAGE_CODE.pattern}$",
                         "description": "A language code (en, en_US, de) to pick a voice."},
            "defaults": {"type": "object", "additionalProperties": False,
                         "properties": {**settings, **whole_routine}},
            "steps": {"type": "array", "minItems": 1, "maxItems": MAX_STEPS, "items": step},
        },
    }  # fmt: skip


def builtin_names() -> list[str]:
    """Return the names of the built-in routines, sorted."""
    folder = BUILTIN_FOLDER
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


def load_routine(name_or_path: str | Path) -> Routine:
    """Load a routine from a file path, or a built-in by name (such as ``hamstrings``).

    Raises
    ------
    RoutineNotFoundError
        When ``name_or_path`` is neither an existing file nor a built-in name.
    RoutineError
        When the file exists but is not a valid routine (message names file and line).
    """
    text, source = routine_text(name_or_path)
    return parse_routine(text, source)


def routine_text(name_or_path: str | Path) -> tuple[str, str]:
    """The YAML text of a routine file or built-in, and its name for messages.

    Raises as :func:`load_routine` does for files that cannot be read as text.
    """
    text_name = str(name_or_path)
    if not text_name.strip():
        raise RoutineNotFoundError(
            "no routine given; name a built-in (see `voice-coach list`) or a .yaml file"
        )
    path = Path(name_or_path)
    looks_like_path = path.suffix in (".yaml", ".yml") or "/" in text_name or "\\" in text_name
    if "\x00" in text_name:
        raise RoutineNotFoundError("the routine's name holds a NUL character; give a file's name")
    try:
        present = path.is_symlink() or path.exists()
    except OSError:  # a name the file system refuses (too long): reading it says so
        present = True
    if present or looks_like_path:
        try:
            data = read_input(path, MAX_ROUTINE_BYTES, "routine file")
        except InputFileError as error:
            if error.missing:  # or a link to nothing
                raise RoutineNotFoundError(
                    f"no routine file '{text_name}'; check the path, or run `voice-coach list` "
                    "for the built-in routines"
                ) from None
            raise RoutineError(error.reason, text_name) from None
        return _decode(data, text_name), text_name
    if text_name in builtin_names():
        resource = BUILTIN_FOLDER / f"{text_name}.yaml"
        return resource.read_text(encoding="utf-8"), f"{text_name}.yaml"
    suggestion = difflib.get_close_matches(text_name, builtin_names(), n=1)
    hint = f"did you mean '{suggestion[0]}'? " if suggestion else ""
    raise RoutineNotFoundError(
        f"no built-in routine or file named '{text_name}'; {hint}"
        f"built-ins: {', '.join(builtin_names())}"
    )


def _decode(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(data):
        raise RoutineError(
            "the file is UTF-16 text; save it as UTF-8 (in most editors: Save As, Encoding)",
            source,
        )
    if b"\x00" in data:
        raise RoutineError("this is not a text file; a routine is a YAML text file", source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RoutineError("the file is not UTF-8 text; save it as UTF-8", source, line) from None


def _looks_like_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: text whose every other byte is a NUL."""
    sample = data[: len(data[:400]) // 2 * 2]
    if len(sample) < 8:
        return False
    for text_bytes, nuls in ((sample[0::2], sample[1::2]), (sample[1::2], sample[0::2])):
        if nuls.count(0) > 0.9 * len(nuls) and sum(
            32 <= byte < 127 or byte in b"\t\n\r" for byte in text_bytes
        ) > 0.9 * len(text_bytes):
            return True
    return False


def parse_routine(text: str, source: str = "<routine>") -> Routine:
    """Parse and validate routine YAML ``text``; ``source`` names it in error messages.

    The Routine holds what the file says; the user's settings (config, flags) are
    applied when it is prepared (see :mod:`voice_coach.settings`).
    """
    return _parse(text, source, collect=False)


def find_problems(text: str, source: str = "<routine>") -> list[RoutineError]:
    """Every problem in routine YAML ``text``, not just the first (empty when it is valid).

    Broken YAML, or a shape so wrong that nothing past it can be read, is one problem.
    """
    try:
        _parse(text, source, collect=True)
    except _Problems as found:
        return found.problems
    except RoutineError as error:
        return [error]
    return []


def _safe_loader():
    """yaml.safe_load's loader, in its libyaml (C) build when PyYAML has one: the same
    safe subset of YAML, parsed several times faster. PyYAML is imported here, on first
    use: a process that parses no routine (a speech worker) never loads it."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_size(text: str, source: str) -> None:
    """Refuse, while parsing and before anything is built, a file of more than
    :data:`MAX_YAML_NODES` nodes or a number longer than :data:`MAX_NUMBER_CHARS`:
    a few kilobytes can ask for millions of steps, and a 5,000-digit number stops
    Python's integer reader with an error of its own."""
    import yaml

    node_events = (
        yaml.ScalarEvent,
        yaml.AliasEvent,
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
    )
    nodes = 0
    for event in yaml.parse(text, Loader=_safe_loader()):
        if not isinstance(event, node_events):
            continue
        nodes += 1
        line = event.start_mark.line + 1
        if nodes > MAX_YAML_NODES:
            raise RoutineError(
                f"the file holds more than {MAX_YAML_NODES:,} values, far more than a routine "
                f"needs (at most {MAX_STEPS} steps); split it into shorter routines",
                source,
                line,
            )
        if (
            isinstance(event, yaml.ScalarEvent)
            and not event.style  # plain: YAML may read it as a number
            and len(event.value) > MAX_NUMBER_CHARS
            and _NUMBER_LIKE.fullmatch(event.value)
        ):
            raise RoutineError(
                f"this number is {len(event.value):,} characters long; write a number of "
                "seconds such as 30 (or put text in quotes)",
                source,
                line,
            )


#: What YAML 1.1 may read as a number: digits, with signs, points, exponents, base
#: prefixes, underscores and the colons of sexagesimal numbers.
_NUMBER_LIKE = re.compile(r"[-+]?[0-9][0-9a-fA-FxXoObB_:.eE+-]*|[-+]?\.[0-9][0-9_eE+-]*")


def _yaml_problem(text: str, line: int | None, problem: str) -> str:
    """libyaml's complaint in words a routine's author can act on."""
    if line is not None and "\t" in (text.splitlines()[line - 1 : line] or [""])[0]:
        return (
            "a tab in the indentation: YAML indents with spaces only; replace the tab with spaces"
        )
    return f"this is not valid YAML ({problem}); check indentation and quoting"


def _parse(text: str, source: str, collect: bool) -> Routine:
    import yaml

    try:
        _check_size(text, source)
        data = yaml.load(text, Loader=_safe_loader())
        lines = _line_map(text)
    except yaml.reader.ReaderError as error:
        line: int | None = text[: error.position].count("\n") + 1
        code = error.character if isinstance(error.character, int) else ord(error.character)
        raise RoutineError(
            f"the file contains the control character U+{code:04X}, "
            "which YAML does not allow; delete it",
            source,
            line,
        ) from None
    except yaml.MarkedYAMLError as error:
        # An unclosed quote or bracket is found at the end of the file; where it
        # opened helps more.
        context = error.context or ""
        opened = error.context_mark if ("quoted" in context or "flow" in context) else None
        mark = opened or error.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = error.problem or error.context or "invalid YAML"
        if "nesting depth" in problem:  # libyaml's own limit
            raise RoutineError(
                "the YAML is nested too deeply; a routine needs only a few levels", source, line
            ) from None
        raise RoutineError(_yaml_problem(text, line, problem), source, line) from None
    except yaml.YAMLError as error:
        raise RoutineError(f"this is not valid YAML ({error})", source) from None
    except ValueError as error:  # a value the constructors refuse (Python's own limits)
        raise RoutineError(f"a value cannot be read ({error})", source) from None
    except _DuplicateKey as duplicate:
        raise RoutineError(
            f"'{duplicate.key}' is given twice in the same place; keep one of them",
            source,
            duplicate.line,
        ) from None
    except RecursionError:
        raise RoutineError(
            "the YAML is nested too deeply; a routine needs only a few levels", source
        ) from None
    validator = _Validator(source, lines, collect)
    try:
        return validator.routine(data)
    except RoutineError as error:
        if collect and validator.problems:
            # Several problems: RoutineError carries them all for `check`.
            problems = list(validator.problems)
            if error not in problems:
                problems.append(error)
            problems.sort(key=lambda problem: problem.line or 0)
            raise _Problems(problems) from None
        raise


class _Problems(Exception):
    """Several problems found at once (only while collecting them for `check`)."""

    def __init__(self, problems: list[RoutineError]) -> None:
        super().__init__(str(problems[0]))
        self.problems = problems


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        self.key = key
        self.line = line


def _line_map(text: str) -> dict[tuple, int]:
    """Map each value's path, such as ``("steps", 0, "hold")``, to its 1-based line.

    The values themselves come from ``yaml.safe_load``; composing the node tree
    (which builds no objects) is only used to find out where each one stood.
    Each node is visited once: an alias points back at a node already seen,
    so "billion laughs" files and self-references cost no more than their text.
    """
    import yaml

    lines: dict[tuple, int] = {}
    root = yaml.compose(text, Loader=_safe_loader())
    seen: set[int] = set()
    pending: list[tuple[yaml.Node, tuple]] = [(root, ())] if root is not None else []
    while pending:
        node, path = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key_path = (*path, key_node.value)
                    if (*key_path, "<key>") in lines:
                        raise _DuplicateKey(key_node.value, key_node.start_mark.line + 1)
                    lines[(*key_path, "<key>")] = key_node.start_mark.line + 1
                    pending.append((value_node, key_path))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, (*path, index)) for index, item in enumerate(node.value))
    return lines


class _Validator:
    """Checks plain YAML data against the routine format, raising RoutineError.

    With ``collect``, problems that leave the rest of the file readable (a bad
    value, an unknown key) are gathered in ``problems`` instead, so one run of
    ``check`` can report them all.
    """

    def __init__(
        self,
        source: str,
        lines: dict[tuple, int],
        collect: bool = False,
    ) -> None:
        self.source = source
        self.lines = lines
        self.collect = collect
        self.problems: list[RoutineError] = []
        self.written_defaults: set[str] = set()

    def fail(self, path: tuple, message: str) -> RoutineError:
        # A value given by alias has no line of its own; its key's line is next best.
        line = self.lines.get(path) or self.lines.get((*path, "<key>"))
        while line is None and path:
            path = path[:-1]
            line = self.lines.get(path)
        return RoutineError(message, self.source, line or 1)

    def attempt(self, check, *args, fallback: Any = None) -> Any:
        """``check(*args)``; when collecting, a problem is noted and ``fallback`` returned."""
        try:
            return check(*args)
        except RoutineError as problem:
            if not self.collect:
                raise
            self.problems.append(problem)
            return fallback

    def routine(self, data: Any) -> Routine:
        if data is None:
            raise self.fail((), "the file is empty; a routine needs a 'name' and a list of 'steps'")
        if not isinstance(data, dict):
            raise self.fail((), "a routine is a mapping with 'name' and 'steps' at the top level")
        self.known_keys(data, (), ROUTINE_KEYS, "routine")
        name = self.attempt(self.text, data, (), "name", True, fallback="?")
        description = self.attempt(self.text, data, (), "description", False) or ""
        language = self.attempt(self.language, data)
        defaults = {key: setting_value(key, value) for key, value in DEFAULTS.items()}
        whole = dict(ROUTINE_SETTINGS, sounds=Sounds())
        raw_defaults = data.get("defaults")
        if raw_defaults is not None:
            if not isinstance(raw_defaults, dict):
                raise self.fail(("defaults",), "'defaults' must be a mapping such as 'hold: 30'")
            self.known_keys(raw_defaults, ("defaults",), DEFAULTS_KEYS, "defaults")
            self.written_defaults = set(raw_defaults)
            for key in raw_defaults:
                if key in DEFAULTS:
                    defaults[key] = self.attempt(
                        self.setting, raw_defaults, ("defaults",), key, fallback=defaults[key]
                    )
                elif key in ROUTINE_SETTINGS:
                    whole[key] = self.attempt(
                        self.setting, raw_defaults, ("defaults",), key, fallback=whole[key]
                    )
        if "steps" not in data:
            raise self.fail((), "the routine has no 'steps'; add a list of steps, each with a name")
        raw_steps = data["steps"]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail(("steps",), "'steps' must be a non-empty list, each item with a name")
        if len(raw_steps) > MAX_STEPS:
            raise self.fail(("steps",), f"a routine may have at most {MAX_STEPS} steps")
        steps = tuple(
            step
            for index, item in enumerate(raw_steps)
            if (step := self.attempt(self.step, item, index, defaults)) is not None
        )
        total = sum(
            step.prep
            + step.reps * len(step.side_names) * (step.hold + step.rest)
            + step.reps * (len(step.side_names) - 1) * (step.switch - step.rest)
            for step in steps
        )
        if total > MAX_ROUTINE_SECONDS:
            raise self.fail(
                ("steps",),
                f"the routine would last over {MAX_ROUTINE_SECONDS // 3600} hours; "
                "split it into shorter routines",
            )
        if self.problems:
            self.problems.sort(key=lambda problem: problem.line or 0)
            raise self.problems[0]
        return Routine(
            name=name,
            description=description,
            steps=steps,
            source=self.source,
            language=language,
            sounds=whole["sounds"],
            chime_level=whole["chime_level"],
            speech_level=whole["speech_level"],
            voice=whole["voice"],
            rate=whole["rate"],
            volume=whole["volume"],
            music=whole["music"],
            duck=whole["duck"],
            music_level=whole["music_level"],
            music_hold_level=whole["music_hold_level"],
        )

    def language(self, data: Mapping) -> str | None:
        language = data.get("language")
        if language is not None and (
            not isinstance(language, str) or not LANGUAGE_CODE.fullmatch(language)
        ):
            raise self.fail(
                ("language",), "'language' must be a language code such as 'en', 'en_US' or 'de'"
            )
        return language

    def step(self, item: Any, index: int, defaults: dict[str, Any]) -> Step:
        path = ("steps", index)
        if not isinstance(item, dict):
            raise self.fail(path, f"step {index + 1} must be a mapping with a 'name' and 'hold'")
        for key in item:
            if key in ROUTINE_SETTINGS:
                message = f"'{key}' applies to the whole routine; set it under 'defaults'"
                self.attempt(self.raise_at, (*path, key, "<key>"), message)
        self.known_keys(item, path, (*STEP_KEYS, *ROUTINE_SETTINGS), "step", hints=STEP_KEYS)
        settings = dict(defaults)
        for key in DEFAULTS:
            if key in item:
                settings[key] = self.attempt(self.setting, item, path, key, fallback=defaults[key])
        # Too long for the hold, as written in this routine (a config or flag that does
        # not fit a short hold only drops numbers, with a note: see settings.applied).
        for key, wanted, too_long in (
            ("countdown", settings["countdown"][0], settings["countdown"][0] > settings["hold"]),
            (
                "warn",
                max(settings["warn"], default=0),
                max(settings["warn"], default=0) >= settings["hold"],
            ),
        ):
            written = (*path, key) if key in item else ("defaults", key)
            if too_long and (key in item or key in self.written_defaults):
                self.attempt(
                    self.raise_at,
                    written,
                    f"'{key}: {wanted}' does not fit step {index + 1}'s {settings['hold']:g} s "
                    f"hold; lower '{key}' or lengthen 'hold'",
                )
        last, every = settings.pop("countdown")
        step = Step(
            name=self.attempt(self.text, item, path, "name", True, fallback="?"),
            instructions=self.attempt(self.text, item, path, "instructions", False) or "",
            deeper=self.attempt(self.text, item, path, "deeper", False),
            countdown=last,
            countdown_every=every,
            **settings,
        )
        return step

    def raise_at(self, path: tuple, message: str) -> None:
        raise self.fail(path, message)

    def known_keys(
        self,
        data: dict,
        path: tuple,
        allowed: tuple[str, ...],
        what: str,
        hints: tuple[str, ...] | None = None,
    ) -> None:
        for key in data:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), hints or allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
            self.attempt(
                self.raise_at, (*path, str(key), "<key>"), f"unknown {what} key '{key}'; {hint}"
            )

    def text(self, data: Mapping, path: tuple, key: str, required: bool) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(path, f"'{key}' is missing; add '{key}: ...' here")
            return None
        if not isinstance(value, str):
            raise self.fail((*path, key), f"'{key}' must be text; put it in quotes")
        written = value
        value = " ".join(speakable(value).split())
        if required and not value:
            if written.strip():
                raise self.fail(
                    (*path, key),
                    f"'{key}' has nothing a voice can say (emoji, symbols and control "
                    "characters are left out); write it in words",
                )
            raise self.fail((*path, key), f"'{key}' is empty; write some text")
        if len(value) > MAX_TEXT:
            raise self.fail((*path, key), f"'{key}' is longer than {MAX_TEXT} characters")
        if value and key != "description" and not any(char.isalnum() for char in value):
            raise self.fail((*path, key), f"'{key}' has no words to speak; write it in words")
        return value

    def setting(self, data: Mapping, path: tuple, key: str) -> Any:
        value = data[key]
        where = (*path, key)
        try:
            checked = setting_value(key, value)
        except _BadSetting as bad:
            if bad.index is not None:
                where = (*where, bad.index)
            raise self.fail(where, str(bad)) from None
        if key == "sounds" and checked.custom:
            lines = {
                sound.name: self.lines.get((*where, sound.name)) or self.lines.get(where) or 1
                for sound in checked.custom
            }
            custom = tuple(replace(sound, line=lines[sound.name]) for sound in checked.custom)
            checked = replace(checked, custom=custom)
        if key == "music":
            music = []
            for index, written in enumerate(checked):
                at = (*where, index) if isinstance(value, list) else where
                line = self.lines.get(at) or self.lines.get(where) or 1
                problem = _inside_problem(written, "music", "the music", "music")
                if problem:
                    raise RoutineError(problem, self.source, line)
                music.append(MusicPath(written, line))
            checked = tuple(music)
        return checked


class _BadSetting(ValueError):
    """A setting's value is wrong; ``index`` points into a list or mapping value."""

    def __init__(self, message: str, index: int | str | None = None) -> None:
        super().__init__(message)
        self.index = index


def setting_value(key: str, value: Any) -> Any:
    """Check one setting (a key of :data:`DEFAULTS` or :data:`ROUTINE_SETTINGS`) and return
    the value the Routine keeps; raise ValueError with a message that says how to fix it.

    ``countdown`` becomes a pair (last seconds, every N seconds).
    """
    if key in ("hold", "prep", "rest", "switch"):
        lowest = 1 if key == "hold" else 0
        return _number(value, key, lowest, MAX_SECONDS)
    if key == "reps":
        return _whole(value, key, 1, MAX_REPS)
    if key == "countdown":
        return _countdown(value)
    if key == "warn":
        items = list(value) if isinstance(value, list | tuple) else [value]
        if len(items) > MAX_WARNS:
            raise _BadSetting(
                f"'warn' takes at most {MAX_WARNS} times, such as [60, 30, 10]; "
                f"for a number every few seconds use 'countdown: {{every: N}}'"
            )
        seconds = []
        for index, item in enumerate(items):
            try:
                seconds.append(_whole(item, "warn", 1, MAX_SECONDS, example=10))
            except _BadSetting as bad:
                raise _BadSetting(str(bad), index if isinstance(value, list) else None) from None
        return tuple(sorted(set(seconds), reverse=True))
    if key == "fractions":
        items = list(value) if isinstance(value, list | tuple) else [value]
        found = []
        for index, item in enumerate(items):
            fraction = _fraction(item)
            if fraction is None:
                raise _BadSetting(
                    f"'fractions' takes {', '.join(FRACTION_NAMES)}; got {item!r}",
                    index if isinstance(value, list) else None,
                )
            found.append(fraction)
        return tuple(sorted(set(found), key=lambda f: f[0] / f[1]))
    if key == "sides":
        if value not in SIDES:
            raise _BadSetting(f"'sides' must be 'each' or 'none', not {value!r}")
        return value
    if key in ("halfway", "pause_after_step"):
        if not isinstance(value, bool):
            raise _BadSetting(f"'{key}' must be true or false")
        return value
    if key == "limb":
        if not isinstance(value, str) or not value.isalpha() or len(value) > 20:
            raise _BadSetting("'limb' must be one word, such as leg, arm or side")
        return value.lower()
    if key == "sounds":
        return _sounds(value)
    if key in ("chime_level", "speech_level"):
        return float(_number(value, key, *LEVEL_RANGE, unit=" of dB", example=-6))
    if key == "voice":
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise _BadSetting(
                "'voice' must be a voice id, name or language (see `voice-coach voices`)"
            )
        return value.strip()
    if key == "rate":
        return _whole(value, "rate", 60, 400, example=170)
    if key == "volume":
        return float(_number(value, "volume", 0, 200, unit=" (percent)", example=80))
    if key == "music":
        return _music(value)
    if key == "duck":
        return float(_number(value, "duck", *DUCK_RANGE, unit=" of dB", example=12))
    if key in ("music_level", "music_hold_level"):
        return float(_number(value, key, *MUSIC_LEVEL_RANGE, unit=" of dB", example=-8))
    raise AssertionError(key)  # every setting is handled above


def _number(
    value: Any, key: str, lowest: float, highest: float, unit: str | None = None, example=None
) -> float:
    example = example if example is not None else DEFAULTS.get(key)
    if unit is None:
        unit = " of seconds" if key in ("hold", "prep", "rest", "switch") else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadSetting(f"'{key}' must be a number{unit}, like {example}; got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _BadSetting(f"'{key}' must be a finite number, like {example}")
    if not lowest <= value <= highest:
        raise _BadSetting(f"'{key}' must be from {lowest:g} to {highest:g}; got {value}")
    return value


def _whole(value: Any, key: str, lowest: int, highest: int, example=None) -> int:
    example = example if example is not None else DEFAULTS.get(key, 10)
    number = _number(value, key, lowest, highest, example=example)
    if number != int(number):
        raise _BadSetting(f"'{key}' must be a whole number, like {example}")
    return int(number)


def _countdown(value: Any) -> tuple[int, int]:
    if value is False or value == "off":
        return (0, 0)
    if isinstance(value, tuple):  # already checked
        return value
    if value is True:
        raise _BadSetting("'countdown' is a number of seconds, 'off', or 'every: N'; not true")
    if isinstance(value, dict):
        unknown = [key for key in value if key not in ("every", "last")]
        if unknown or "every" not in value:
            raise _BadSetting(
                "write the countdown as a number (the last seconds), 'off', "
                "or 'every: N' (with an optional 'last: N')"
            )
        every = _whole(value["every"], "every", 1, MAX_SECONDS, example=5)
        last = _whole(value.get("last", 0), "last", 0, MAX_COUNTDOWN, example=3)
        return (last, every)
    if isinstance(value, str):
        raise _BadSetting(
            f"'countdown' must be a number of seconds, 'off', or 'every: N'; got {value!r}"
        )
    return (_whole(value, "countdown", 0, MAX_COUNTDOWN, example=5), 0)


def _fraction(item: Any) -> tuple[int, int] | None:
    if isinstance(item, tuple) and item in FRACTION_NAMES.values():  # already checked
        return item
    if isinstance(item, str):
        return FRACTION_NAMES.get(item.replace(" ", ""))
    if isinstance(item, int | float) and not isinstance(item, bool):
        for fraction in FRACTION_NAMES.values():
            if abs(item - fraction[0] / fraction[1]) < 0.01:
                return fraction
    return None


def _sounds(value: Any) -> Sounds:
    if isinstance(value, Sounds):  # already checked
        return value
    if isinstance(value, str):
        if value not in SOUND_SETS:
            close = difflib.get_close_matches(value, SOUND_SETS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise _BadSetting(f"no sound set '{value}'; {hint}choose {', '.join(SOUND_SETS)}")
        return Sounds(set=value)
    if not isinstance(value, dict):
        raise _BadSetting(
            f"'sounds' is a set ({', '.join(SOUND_SETS)}) or a mapping of sound names to files"
        )
    chosen = _sounds(value.get("set", "chime"))
    custom = []
    for name, path in value.items():
        if name == "set":
            continue
        if name not in SOUND_NAMES:
            close = difflib.get_close_matches(str(name), SOUND_NAMES, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise _BadSetting(
                f"no sound named '{name}'; {hint}the sounds are {', '.join(SOUND_NAMES)}"
            )
        try:
            custom.append(CustomSound(name, _sound_path(path), 0))
        except _BadSetting as bad:
            raise _BadSetting(str(bad), name) from None
    return Sounds(set=chosen.set, custom=tuple(custom))


#: Longest music path, in characters.
MAX_PATH_CHARS = 4096


def _music(value: Any) -> tuple[str, ...]:
    """Music files and folders: one path or a list of them; "off" or false for none."""
    if value is False or value == "off":
        return ()
    if isinstance(value, tuple):  # already checked
        return tuple(str(item) for item in value)
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        raise _BadSetting("'music' lists no files; name files or folders, or write 'off'")
    if len(items) > MAX_MUSIC_SOURCES:
        raise _BadSetting(f"'music' names at most {MAX_MUSIC_SOURCES} files or folders")
    paths = []
    for index, item in enumerate(items):
        at = index if isinstance(value, list) else None
        if not isinstance(item, str) or not item.strip():
            raise _BadSetting("'music' is a file or folder path, or a list of them", at)
        if len(item) > MAX_PATH_CHARS or any(unicodedata.category(char)[0] == "C" for char in item):
            raise _BadSetting(
                f"music path {item[:60]!r} holds a control character or is too long", at
            )
        paths.append(item.strip())
    return tuple(paths)


def _inside_problem(text: str, what: str, thing: str, things: str) -> str | None:
    """Why ``text``, a path a routine gives, could lead out of the routine's folder, or
    None; ``what`` starts the message, ``thing`` and ``things`` name what to keep inside."""
    pure = Path(text.replace("\\", "/"))
    if pure.is_absolute() or text.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", text):
        return (
            f"{what} '{text}' is an absolute path; put {thing} in the routine's folder "
            "and give its path relative to the routine"
        )
    if ".." in pure.parts:
        return f"{what} '{text}' leaves the routine's folder; keep {things} inside it"
    return None


def _sound_path(path: Any) -> str:
    """A custom sound's path, refused when it could leave the routine's folder."""
    if not isinstance(path, str) or not path.strip():
        raise _BadSetting("a sound is a file path relative to the routine, like sounds/bell.ogg")
    text = path.strip()
    if any(unicodedata.category(char)[0] == "C" for char in text):
        raise _BadSetting(f"sound {text!r} holds a control character; give the file's plain name")
    problem = _inside_problem(text, "sound", "the file", "sound files")
    if problem:
        raise _BadSetting(problem)
    pure = Path(text.replace("\\", "/"))
    if pure.suffix.lower() not in SOUND_SUFFIXES:
        raise _BadSetting(f"sound '{text}' must be a {', '.join(SOUND_SUFFIXES)} file")
    return pure.as_posix()
