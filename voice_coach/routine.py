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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import RoutineError, RoutineNotFoundError

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
MAX_STEPS = 500

SIDES = ("each", "none")

#: Step settings a routine's ``defaults`` may set, with the built-in value of each.
DEFAULTS: dict[str, Any] = {
    "hold": 30,
    "prep": 5,
    "rest": 5,
    "reps": 1,
    "sides": "each",
    "countdown": 5,
    "halfway": True,
    "limb": "side",
}
ROUTINE_KEYS = ("name", "description", "language", "defaults", "steps")
#: A language code as voices name them: "en", "en_US", "en-GB", "pt-BR".
LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")
#: yaml.safe_load's loader, in its libyaml (C) build when PyYAML has one: the same
#: safe subset of YAML, parsed several times faster.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STEP_KEYS = ("name", "instructions", "deeper", *DEFAULTS)


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

    @property
    def side_names(self) -> tuple[str | None, ...]:
        """The sides held in each rep, in order: ``("left", "right")`` or ``(None,)``."""
        return ("left", "right") if self.sides == "each" else (None,)


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
                         "properties": settings},
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
    text_name = str(name_or_path)
    if not text_name.strip():
        raise RoutineNotFoundError(
            "no routine given; name a built-in (see `voice-coach list`) or a .yaml file"
        )
    path = Path(name_or_path)
    looks_like_path = path.suffix in (".yaml", ".yml") or "/" in text_name or "\\" in text_name
    if path.exists() or looks_like_path:
        if path.is_dir():
            raise RoutineError("this is a folder; give the path of a routine .yaml file", text_name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RoutineNotFoundError(
                f"no routine file '{text_name}'; check the path, or run `voice-coach list` "
                "for the built-in routines"
            ) from None
        except OSError as error:
            raise RoutineError(f"cannot read the file ({error.strerror})", text_name) from None
        return parse_routine(_decode(data, text_name), text_name)
    if text_name in builtin_names():
        resource = BUILTIN_FOLDER / f"{text_name}.yaml"
        return parse_routine(resource.read_text(encoding="utf-8"), f"{text_name}.yaml")
    suggestion = difflib.get_close_matches(text_name, builtin_names(), n=1)
    hint = f"did you mean '{suggestion[0]}'? " if suggestion else ""
    raise RoutineNotFoundError(
        f"no built-in routine or file named '{text_name}'; {hint}"
        f"built-ins: {', '.join(builtin_names())}"
    )


def _decode(data: bytes, source: str) -> str:
    if b"\x00" in data:
        raise RoutineError("this is not a text file; a routine is a YAML text file", source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RoutineError("the file is not UTF-8 text; save it as UTF-8", source, line) from None


def parse_routine(text: str, source: str = "<routine>") -> Routine:
    """Parse and validate routine YAML ``text``; ``source`` names it in error messages."""
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
        lines = _line_map(text)
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
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
        raise RoutineError(
            f"this is not valid YAML ({problem}); check indentation and quoting", source, line
        ) from None
    except yaml.YAMLError as error:
        raise RoutineError(f"this is not valid YAML ({error})", source) from None
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
    return _Validator(source, lines).routine(data)


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
    lines: dict[tuple, int] = {}
    root = yaml.compose(text, Loader=_SAFE_LOADER)
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
    """Checks plain YAML data against the routine format, raising RoutineError."""

    def __init__(self, source: str, lines: dict[tuple, int]) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: tuple, message: str) -> RoutineError:
        # A value given by alias has no line of its own; its key's line is next best.
        line = self.lines.get(path) or self.lines.get((*path, "<key>"))
        while line is None and path:
            path = path[:-1]
            line = self.lines.get(path)
        return RoutineError(message, self.source, line or 1)

    def routine(self, data: Any) -> Routine:
        if data is None:
            raise self.fail((), "the file is empty; a routine needs a 'name' and a list of 'steps'")
        if not isinstance(data, dict):
            raise self.fail((), "a routine is a mapping with 'name' and 'steps' at the top level")
        self.known_keys(data, (), ROUTINE_KEYS, "routine")
        name = self.text(data, (), "name", required=True)
        description = self.text(data, (), "description", required=False) or ""
        language = data.get("language")
        if language is not None and (
            not isinstance(language, str) or not LANGUAGE_CODE.fullmatch(language)
        ):
            raise self.fail(
                ("language",), "'language' must be a language code such as 'en', 'en_US' or 'de'"
            )
        defaults = dict(DEFAULTS)
        raw_defaults = data.get("defaults")
        if raw_defaults is not None:
            if not isinstance(raw_defaults, dict):
                raise self.fail(("defaults",), "'defaults' must be a mapping such as 'hold: 30'")
            self.known_keys(raw_defaults, ("defaults",), tuple(DEFAULTS), "defaults")
            for key in raw_defaults:
                defaults[key] = self.setting(raw_defaults, ("defaults",), key)
        if "steps" not in data:
            raise self.fail((), "the routine has no 'steps'; add a list of steps, each with a name")
        raw_steps = data["steps"]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail(("steps",), "'steps' must be a non-empty list, each item with a name")
        if len(raw_steps) > MAX_STEPS:
            raise self.fail(("steps",), f"a routine may have at most {MAX_STEPS} steps")
        steps = tuple(self.step(item, index, defaults) for index, item in enumerate(raw_steps))
        total = sum(
            step.prep + len(step.side_names) * step.reps * (step.hold + step.rest) for step in steps
        )
        if total > MAX_ROUTINE_SECONDS:
            raise self.fail(
                ("steps",),
                f"the routine would last over {MAX_ROUTINE_SECONDS // 3600} hours; "
                "split it into shorter routines",
            )
        return Routine(
            name=name, description=description, steps=steps, source=self.source, language=language
        )

    def step(self, item: Any, index: int, defaults: dict[str, Any]) -> Step:
        path = ("steps", index)
        if not isinstance(item, dict):
            raise self.fail(path, f"step {index + 1} must be a mapping with a 'name' and 'hold'")
        self.known_keys(item, path, STEP_KEYS, "step")
        settings = dict(defaults)
        for key in DEFAULTS:
            if key in item:
                settings[key] = self.setting(item, path, key)
        return Step(
            name=self.text(item, path, "name", required=True),
            instructions=self.text(item, path, "instructions", required=False) or "",
            deeper=self.text(item, path, "deeper", required=False),
            **settings,
        )

    def known_keys(self, data: dict, path: tuple, allowed: tuple[str, ...], what: str) -> None:
        for key in data:
            if key in allowed:
                continue
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
            raise self.fail((*path, str(key), "<key>"), f"unknown {what} key '{key}'; {hint}")

    def text(self, data: Mapping, path: tuple, key: str, *, required: bool) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(path, f"'{key}' is missing; add '{key}: ...' here")
            return None
        if not isinstance(value, str):
            raise self.fail((*path, key), f"'{key}' must be text; put it in quotes")
        value = " ".join(speakable(value).split())
        if required and not value:
            raise self.fail((*path, key), f"'{key}' is empty; write some text")
        if len(value) > MAX_TEXT:
            raise self.fail((*path, key), f"'{key}' is longer than {MAX_TEXT} characters")
        if value and key != "description" and not any(char.isalnum() for char in value):
            raise self.fail((*path, key), f"'{key}' has no words to speak; write it in words")
        return value

    def setting(self, data: Mapping, path: tuple, key: str) -> Any:
        value = data[key]
        where = (*path, key)
        if key in ("hold", "prep", "rest"):
            lowest = 1 if key == "hold" else 0
            return self.number(value, where, key, lowest, MAX_SECONDS)
        if key in ("reps", "countdown"):
            lowest = 1 if key == "reps" else 0
            highest = MAX_REPS if key == "reps" else MAX_COUNTDOWN
            number = self.number(value, where, key, lowest, highest)
            if number != int(number):
                raise self.fail(where, f"'{key}' must be a whole number, like {DEFAULTS[key]}")
            return int(number)
        if key == "sides":
            if value not in SIDES:
                raise self.fail(where, f"'sides' must be 'each' or 'none', not {value!r}")
            return value
        if key == "halfway":
            if not isinstance(value, bool):
                raise self.fail(where, "'halfway' must be true or false")
            return value
        if key == "limb":
            if not isinstance(value, str) or not value.isalpha() or len(value) > 20:
                raise self.fail(where, "'limb' must be one word, such as leg, arm or side")
            return value.lower()
        raise AssertionError(key)  # every key in DEFAULTS is handled above

    def number(self, value: Any, where: tuple, key: str, lowest: float, highest: float) -> float:
        example = DEFAULTS[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            unit = " of seconds" if key in ("hold", "prep", "rest") else ""
            raise self.fail(where, f"'{key}' must be a number{unit}, like {example}; got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(where, f"'{key}' must be a finite number, like {example}")
        if not lowest <= value <= highest:
            raise self.fail(where, f"'{key}' must be from {lowest} to {highest}; got {value}")
        return value
