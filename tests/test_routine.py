"""Tests for voice_coach.routine: the built-in routine, validation, line numbers, files."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_coach.errors import RoutineError, RoutineNotFoundError, VoiceCoachError
from voice_coach.routine import (
    DEFAULTS,
    MAX_ROUTINE_SECONDS,
    Routine,
    Step,
    builtin_names,
    load_routine,
    parse_routine,
)


def yaml_text(text: str) -> str:
    """Dedent a test snippet; its first line is line 1 of the routine."""
    return textwrap.dedent(text).lstrip("\n")


def parse_error(text: str, source: str = "bad.yaml") -> RoutineError:
    with pytest.raises(RoutineError) as info:
        parse_routine(text, source)
    return info.value


# --- the built-in routine -------------------------------------------------------------


@pytest.fixture(scope="module")
def hamstrings() -> Routine:
    return load_routine("hamstrings")


def test_builtin_names_lists_hamstrings_sorted():
    names = builtin_names()
    assert "hamstrings" in names
    assert names == sorted(names)
    assert all(not name.endswith(".yaml") for name in names)


def test_every_builtin_loads():
    for name in builtin_names():
        routine = load_routine(name)
        assert routine.steps, name
        assert routine.source == f"{name}.yaml"


def test_hamstrings_has_three_steps_in_order(hamstrings):
    assert hamstrings.name == "Hamstring stretches"
    assert hamstrings.description
    assert [step.name for step in hamstrings.steps] == [
        "Seated hamstring stretch",
        "Standing hamstring stretch",
        "Lying hamstring stretch",
    ]


def test_hamstrings_step_settings(hamstrings):
    for step in hamstrings.steps:
        assert step.hold == 30
        assert step.sides == "each"
        assert step.side_names == ("left", "right")
        assert step.limb == "leg"
        assert step.reps == 1
        assert step.countdown == 5
        assert step.halfway is True
        assert step.rest == 5
    # prep is set per step, overriding the routine's default of 5
    assert [step.prep for step in hamstrings.steps] == [6, 8, 8]


def test_hamstrings_keeps_the_seed_facts(hamstrings):
    seated, standing, lying = hamstrings.steps
    # lying: a rolled towel under the small of the (lower) back, knee bent about 20 degrees
    assert "towel" in lying.instructions
    assert "lower back" in lying.instructions
    assert "small curve" in lying.instructions
    assert "about 20 degrees" in lying.instructions
    # standing: the chair seat is the deeper variant, not part of the main instructions
    assert standing.deeper is not None
    assert "seat of a sturdy chair" in standing.deeper
    assert "chair" not in standing.instructions
    assert seated.deeper is None
    assert lying.deeper is None
    # seated: tip forward from the hips
    assert "from the hips" in seated.instructions
    # folded YAML text is one line of single-spaced words
    for step in hamstrings.steps:
        assert "\n" not in step.instructions
        assert "  " not in step.instructions


def test_routine_and_step_are_frozen(hamstrings):
    assert isinstance(hamstrings.steps, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hamstrings.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        hamstrings.steps[0].hold = 5  # type: ignore[misc]
    assert isinstance(hamstrings.steps[0], Step)


def test_loading_is_repeatable(hamstrings):
    again = load_routine("hamstrings")
    assert again == hamstrings
    assert hash(again.steps[0]) == hash(hamstrings.steps[0])


# --- defaults and overrides -----------------------------------------------------------


def test_defaults_apply_to_steps_and_a_step_overrides_them():
    routine = parse_routine(
        yaml_text(
            """
            name: Arms
            defaults:
              hold: 20
              sides: none
              limb: Arm
              halfway: false
            steps:
              - name: First
              - name: Second
                hold: 45
                sides: each
                reps: 2
            """
        ),
        "arms.yaml",
    )
    first, second = routine.steps
    assert (first.hold, first.sides, first.limb, first.halfway, first.reps) == (
        20,
        "none",
        "arm",
        False,
        1,
    )
    assert first.side_names == (None,)
    assert (second.hold, second.sides, second.reps) == (45, "each", 2)
    assert second.side_names == ("left", "right")
    # what neither the step nor the defaults set keeps the built-in value
    assert second.halfway is False
    assert second.limb == "arm"
    assert (second.prep, second.rest, second.countdown) == (
        DEFAULTS["prep"],
        DEFAULTS["rest"],
        DEFAULTS["countdown"],
    )
    assert routine.source == "arms.yaml"
    assert routine.description == ""


def test_built_in_defaults_without_a_defaults_section():
    (step,) = parse_routine("name: x\nsteps:\n  - name: a\n").steps
    for key, value in DEFAULTS.items():
        assert getattr(step, key) == value, key
    assert step.instructions == ""
    assert step.deeper is None


def test_text_whitespace_is_collapsed():
    routine = parse_routine(
        yaml_text(
            """
            name: "  Two   words "
            steps:
              - name: a
                instructions: |
                  Line one.
                  Line   two.
            """
        )
    )
    assert routine.name == "Two words"
    assert routine.steps[0].instructions == "Line one. Line two."


def test_routine_over_twelve_hours_is_refused():
    # 5 s prep + 2 sides x 6 reps x (3600 s hold + 5 s rest) = 43265 s > 12 h
    text = yaml_text(
        """
        name: Marathon
        steps:
          - name: Endless
            hold: 3600
            reps: 6
        """
    )
    error = parse_error(text)
    assert error.line == 3
    assert "12 hours" in error.message
    assert str(error) == f"bad.yaml:3: {error.message}"


def test_routine_just_under_twelve_hours_is_accepted():
    # 5 s prep + 2 x 5 x 3605 s = 36055 s, under 12 h
    routine = parse_routine("name: x\nsteps:\n  - name: a\n    hold: 3600\n    reps: 5\n")
    assert routine.steps[0].reps == 5
    assert MAX_ROUTINE_SECONDS == 12 * 3600


def test_the_twelve_hour_limit_counts_every_step():
    # each step alone is 5 + 2 x 3 x 3605 = 21635 s; two are 43270 s > 12 h
    step = "  - name: a\n    hold: 3600\n    reps: 3\n"
    parse_routine("name: x\nsteps:\n" + step)
    error = parse_error("name: x\nsteps:\n" + step + step)
    assert "12 hours" in error.message


# --- validation errors: SOURCE:LINE: message ------------------------------------------

BAD_ROUTINES = [
    pytest.param(
        """
        name: x
        steps:
          - name: a
           hold: 30
        """,
        4,
        "not valid YAML",
        id="yaml-syntax-bad-indent",
    ),
    pytest.param(
        """
        name: x
        steps:
        \t- name: a
        """,
        3,
        "a tab in the indentation",
        id="yaml-syntax-tab",
    ),
    pytest.param(
        """
        # a list is not a routine
        - name: a
        - name: b
        """,
        2,
        "a routine is a mapping",
        id="top-level-list",
    ),
    pytest.param("", 1, "the file is empty", id="empty-file"),
    pytest.param("# only a comment\n\n", 1, "the file is empty", id="only-comments"),
    pytest.param(
        """
        description: no name here
        steps:
          - name: a
        """,
        1,
        "'name' is missing",
        id="missing-name",
    ),
    pytest.param(
        """
        name: x
        steps:
          - hold: 30
        """,
        3,
        "'name' is missing",
        id="missing-step-name",
    ),
    pytest.param("name: x\ndescription: y\n", 1, "has no 'steps'", id="missing-steps"),
    pytest.param("name: x\nsteps: []\n", 2, "non-empty list", id="empty-steps"),
    pytest.param(
        """
        name: x
        steps:
          - name: a
            hodl: 30
        """,
        4,
        "unknown step key 'hodl'; did you mean 'hold'?",
        id="unknown-step-key",
    ),
    pytest.param(
        """
        name: x
        step:
          - name: a
        """,
        2,
        "unknown routine key 'step'; did you mean 'steps'?",
        id="unknown-routine-key",
    ),
    pytest.param(
        """
        name: x
        defaults:
          hold: 30
          prpe: 5
        steps:
          - name: a
        """,
        4,
        "unknown defaults key 'prpe'; did you mean 'prep'?",
        id="unknown-defaults-key",
    ),
    pytest.param(
        """
        name: x
        steps:
          - name: a
            hold: "30"
        """,
        4,
        "'hold' must be a number of seconds, like 30; got '30'",
        id="hold-string",
    ),
    pytest.param(
        """
        name: x
        steps:
          - name: a
          - name: b
            hold: -5
        """,
        5,
        "'hold' must be from 1 to 3600; got -5",
        id="hold-negative",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    hold: 0\n",
        4,
        "'hold' must be from 1 to 3600; got 0",
        id="hold-zero",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    hold: .nan\n",
        4,
        "'hold' must be a finite number",
        id="hold-nan",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    hold: .inf\n",
        4,
        "'hold' must be a finite number",
        id="hold-inf",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    hold: 3601\n",
        4,
        "'hold' must be from 1 to 3600; got 3601",
        id="hold-over-an-hour",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    hold: true\n",
        4,
        "'hold' must be a number of seconds, like 30; got True",
        id="hold-boolean",
    ),
    pytest.param(
        "name: x\ndefaults:\n  hold: abc\nsteps:\n  - name: a\n",
        3,
        "'hold' must be a number",
        id="defaults-hold-string",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    reps: 1.5\n",
        4,
        "'reps' must be a whole number",
        id="reps-fraction",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    countdown: 31\n",
        4,
        "'countdown' must be from 0 to 30",
        id="countdown-too-long",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    sides: both\n",
        4,
        "'sides' must be 'each' or 'none', not 'both'",
        id="sides-both",
    ),
    pytest.param(
        'name: x\nsteps:\n  - name: a\n    halfway: "yes"\n',
        4,
        "'halfway' must be true or false",
        id="halfway-string",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    limb: left leg\n",
        4,
        "'limb' must be one word",
        id="limb-two-words",
    ),
    pytest.param(
        "name: x\nsteps:\n  - name: a\n    instructions: " + "a" * 2001 + "\n",
        4,
        "'instructions' is longer than 2000 characters",
        id="text-too-long",
    ),
    pytest.param(
        "name: 5\nsteps:\n  - name: a\n",
        1,
        "'name' must be text",
        id="name-number",
    ),
    pytest.param(
        """
        name: x
        steps:
          - name: a
          - just a sentence
        """,
        4,
        "step 2 must be a mapping",
        id="step-plain-string",
    ),
    pytest.param(
        """
        name: x
        defaults: 30
        steps:
          - name: a
        """,
        2,
        "'defaults' must be a mapping",
        id="defaults-not-mapping",
    ),
    pytest.param(
        "{name: x, steps: [{name: a}, {name: b, hold: -1}]}\n",
        1,
        "'hold' must be from 1 to 3600",
        id="flow-style",
    ),
    pytest.param(
        "# comment\n# comment\n\nname: x\nsteps:\n  - name: a\n    hold: 2000\n    reps: 0\n",
        8,
        "'reps' must be from 1 to 50",
        id="after-leading-comments",
    ),
    pytest.param(
        "name: x\r\nsteps:\r\n  - name: a\r\n    hold: -1\r\n",
        4,
        "'hold' must be from 1 to 3600",
        id="crlf-line-endings",
    ),
]


@pytest.mark.parametrize(("text", "line", "phrase"), BAD_ROUTINES)
def test_bad_routine_names_source_and_line(text, line, phrase):
    error = parse_error(yaml_text(text), "bad.yaml")
    assert error.source == "bad.yaml"
    assert error.line == line, str(error)
    assert str(error) == f"bad.yaml:{line}: {error.message}"
    assert phrase in error.message
    assert "\n" not in str(error)


def test_unknown_key_without_a_close_match_lists_the_allowed_keys():
    error = parse_error("name: x\nsteps:\n  - name: a\n    zzzzzz: 1\n")
    assert error.line == 4
    assert "did you mean" not in error.message
    assert "allowed: name, instructions, deeper, hold" in error.message


def test_a_loaded_file_names_its_path_in_errors(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: x\nsteps:\n  - name: a\n    hodl: 30\n", encoding="utf-8")
    with pytest.raises(RoutineError) as info:
        load_routine(path)
    assert str(info.value) == f"{path}:4: unknown step key 'hodl'; did you mean 'hold'?"


# --- files and names ------------------------------------------------------------------


def test_load_routine_from_a_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: Mine\nsteps:\n  - name: a\n    hold: 12.5\n", encoding="utf-8")
    routine = load_routine(path)
    assert routine.name == "Mine"
    assert routine.steps[0].hold == 12.5
    assert routine.source == str(path)
    assert load_routine(str(path)) == routine


def test_a_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffname: Café\nsteps:\n  - name: a\n".encode())
    assert load_routine(path).name == "Café"


def test_missing_path_raises_not_found(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(RoutineNotFoundError) as info:
        load_routine(path)
    assert not isinstance(info.value, RoutineError)
    assert str(path) in str(info.value)
    assert info.value.exit_code == 2


def test_unknown_builtin_suggests_a_close_name():
    with pytest.raises(RoutineNotFoundError) as info:
        load_routine("hamstring")
    message = str(info.value)
    assert "did you mean 'hamstrings'?" in message
    assert "built-ins: " in message
    assert "\n" not in message


def test_unknown_builtin_without_a_close_name_lists_builtins():
    with pytest.raises(RoutineNotFoundError) as info:
        load_routine("qqqqqq")
    assert "did you mean" not in str(info.value)
    assert "hamstrings" in str(info.value)


def test_a_folder_is_a_routine_error(tmp_path):
    with pytest.raises(RoutineError) as info:
        load_routine(tmp_path)
    assert "folder" in info.value.message
    assert info.value.source == str(tmp_path)


def test_a_binary_file_is_a_routine_error(tmp_path):
    path = tmp_path / "sound.yaml"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ")
    with pytest.raises(RoutineError) as info:
        load_routine(path)
    assert "not a text file" in info.value.message
    assert str(info.value).startswith(f"{path}")


def test_a_non_utf8_file_is_a_routine_error_with_the_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\nsteps:\n  - name: Café\n".encode("latin-1"))
    with pytest.raises(RoutineError) as info:
        load_routine(path)
    assert info.value.line == 3
    assert str(info.value) == f"{path}:3: {info.value.message}"
    assert "UTF-8" in info.value.message


def test_a_yaml_tag_that_runs_code_is_refused():
    error = parse_error("name: !!python/object/apply:os.system ['true']\nsteps:\n  - name: a\n")
    assert error.line == 1
    assert "not valid YAML" in error.message


# --- regressions: hostile or broken YAML is a RoutineError, never a crash -------------


def test_recursive_alias_is_a_routine_error():
    error = parse_error("name: x\nsteps: &s\n  - name: a\n    deeper: *s\n")
    assert "'deeper' must be text" in error.message
    assert error.line is not None


def test_an_aliased_value_points_at_the_alias():
    error = parse_error("name: x\nsteps: &s\n  - name: a\n    deeper: *s\n")
    assert error.line == 4


def test_deeply_nested_yaml_is_a_routine_error():
    error = parse_error("name: x\nsteps: " + "[" * 1000 + "]" * 1000 + "\n")
    assert "nested too deeply" in error.message
    assert str(error) == f"bad.yaml:2: {error.message}"


def test_huge_integer_hold_is_a_routine_error():
    error = parse_error("name: x\nsteps:\n  - name: a\n    hold: " + "9" * 400 + "\n")
    assert error.line == 4
    assert "this number is 400 characters long" in error.message


def test_a_hold_of_more_digits_than_python_reads_is_a_routine_error():
    """Python refuses integers of over 4,300 digits with an error of its own."""
    error = parse_error("name: x\nsteps:\n  - name: a\n    hold: " + "9" * 5000 + "\n")
    assert error.line == 4
    assert "this number is 5,000 characters long" in error.message


def test_a_long_number_in_quotes_is_text():
    error = parse_error('name: x\nsteps:\n  - name: a\n    hold: "' + "9" * 400 + '"\n')
    assert "'hold' must be a number" in error.message


def test_control_character_is_reported_with_its_line():
    error = parse_error("name: x\nsteps:\n  - name: a\x07b\n")
    assert error.line == 3
    assert "control character" in error.message
    assert "(invalid YAML)" not in error.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: 'Morning\nsteps: []\n", 1),
        ('name: x\nsteps:\n  - name: "a\n    hold: 3\n', 3),
    ],
    ids=["single-quote", "double-quote"],
)
def test_unclosed_quote_points_at_its_line(text, line):
    error = parse_error(text)
    assert error.line == line
    assert "not valid YAML" in error.message


def test_unclosed_bracket_points_at_its_line():
    error = parse_error("name: x\nsteps:\n  - name: a\n    hold: [30\n")
    assert error.line == 4


def test_empty_steps_value_points_at_the_steps_key():
    error = parse_error("name: x\nsteps:\n")
    assert error.line == 2
    assert "non-empty list" in error.message


_ALIAS_BOMB = "".join(
    [
        "name: x\nsteps:\n  - name: a\n",
        "a0: &a0 [x, x, x, x, x, x, x, x, x]\n",
        *(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)),
    ]
)


def test_alias_bomb_fails_fast():
    """A ~500-byte 'billion laughs' file (9 levels of 9 aliases, 9**9 paths) must fail at
    once; run in a subprocess so a regression times out instead of hanging the suite."""
    code = (
        "import sys\n"
        "from voice_coach.routine import parse_routine\n"
        "from voice_coach.errors import RoutineError\n"
        "try:\n"
        "    parse_routine(sys.stdin.read(), 'bomb.yaml')\n"
        "except RoutineError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=_ALIAS_BOMB,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "bomb.yaml:4: unknown routine key 'a0'; "
        "allowed: name, description, language, defaults, steps"
    )


def test_every_error_is_a_voice_coach_error():
    assert issubclass(RoutineError, VoiceCoachError)
    assert issubclass(RoutineNotFoundError, VoiceCoachError)


def test_a_duplicate_key_is_an_error_at_its_second_line():
    error = parse_error("name: x\nsteps:\n  - name: a\n    hold: 3\n    hold: 4\n")
    assert error.line == 5
    assert "'hold' is given twice" in error.message


def test_an_empty_name_is_not_found():
    with pytest.raises(RoutineNotFoundError, match="no routine given"):
        load_routine("")


@pytest.mark.parametrize("code", ["en", "en_US", "de-DE", "pt-BR"])
def test_a_routine_may_name_its_language(code):
    routine = parse_routine(f"name: R\nlanguage: {code}\nsteps:\n  - name: Reach\n", "r.yaml")
    assert routine.language == code


@pytest.mark.parametrize("value", ["english", "12", "e", "[en]", "en US"])
def test_a_bad_language_code_is_reported_on_its_line(value):
    error = parse_error(f"name: R\nlanguage: {value}\nsteps:\n  - name: Reach\n")
    assert str(error).startswith("bad.yaml:2: ")
    assert "language code" in str(error)


# --- property-based: any input gives a Routine or a RoutineError, nothing else --------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
_keys = st.sampled_from(
    [
        "name",
        "description",
        "language",
        "defaults",
        "steps",
        "hold",
        "prep",
        "rest",
        "reps",
        "sides",
        "limb",
        "countdown",
        "halfway",
        "instructions",
        "deeper",
        "holdd",
        "x",
        "switch",
        "warn",
        "fractions",
        "pause_after_step",
        "sounds",
        "chime_level",
        "speech_level",
        "voice",
        "rate",
        "volume",
        "every",
        "last",
        "set",
        "finish",
    ]
)
_documents = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=6)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_any_yaml_document_loads_or_is_a_routine_error(document):
    import yaml

    text = yaml.safe_dump(document, allow_unicode=True)
    try:
        routine = parse_routine(text, "prop.yaml")
    except RoutineError as error:
        assert str(error).startswith("prop.yaml:")
        assert "\n" not in str(error)
    else:
        assert routine.steps


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_loads_or_is_a_routine_error(text):
    try:
        parse_routine(text, "prop.yaml")
    except RoutineError as error:
        assert str(error).startswith("prop.yaml:")


def test_control_characters_bidi_marks_and_emoji_are_stripped_from_spoken_text():
    text = yaml_text(
        r"""
        name: "Reach\a up \U0001F600 \u202e\u0645\u0631\u062d\u0628\u0627"
        steps:
          - name: "Tilt\u200b head \x1b[31m slowly"
            instructions: "Breathe\tin \u2764\ufe0f and out."
        """
    )
    routine = parse_routine(text, "odd.yaml")
    assert routine.name == "Reach up \u0645\u0631\u062d\u0628\u0627"  # the Arabic word stays
    assert routine.steps[0].name == "Tilt head [31m slowly"
    assert routine.steps[0].instructions == "Breathe in and out."


def test_text_that_is_only_emoji_has_no_words_to_speak():
    error = parse_error('name: R\nsteps:\n  - name: "\\U0001F600\\U0001F64F"\n')
    assert str(error).startswith("bad.yaml:3: ")
    assert "'name' has nothing a voice can say" in str(error)


@pytest.mark.parametrize(
    "hostile",
    [
        _ALIAS_BOMB,
        "[" * 100_000 + "]" * 100_000,
        "a: " + "{b: " * 50_000 + "1" + "}" * 50_000,
        "- " * 20_000 + "x",
    ],
    ids=["alias bomb", "deep lists", "deep mappings", "deep block lists"],
)
def test_hostile_yaml_is_refused_within_its_budget_and_50_mb(hostile):
    """Measured in a fresh interpreter: the CPU time it takes (a loaded machine stretches
    the wall clock, not this) and the peak memory the parser allocates. Each is refused
    in well under a second here; the budget leaves room for a slower machine."""
    code = (
        "import sys, time, tracemalloc\n"
        "from voice_coach.routine import parse_routine\n"
        "from voice_coach.errors import RoutineError\n"
        "text = sys.stdin.read()\n"
        "tracemalloc.start()\n"
        "started = time.process_time()\n"
        "try:\n"
        "    parse_routine(text, 'hostile.yaml')\n"
        "except RoutineError as error:\n"
        "    print(str(error).split(':')[0])\n"
        "print(time.process_time() - started, tracemalloc.get_traced_memory()[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input=hostile, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    refused, measures = result.stdout.splitlines()
    seconds, peak_bytes = map(float, measures.split())
    assert refused == "hostile.yaml"
    assert seconds < 5.0
    assert peak_bytes < 50e6


# --- the JSON Schema for editors ------------------------------------------------------


@pytest.fixture(scope="module")
def schema_validator():
    import jsonschema

    from voice_coach.routine import routine_schema

    schema = routine_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_every_builtin_routine_fits_the_schema(schema_validator):
    import yaml

    from voice_coach.routine import BUILTIN_FOLDER

    for path in BUILTIN_FOLDER.glob("*.yaml"):
        assert not list(schema_validator.iter_errors(yaml.safe_load(path.read_text()))), path


@pytest.mark.parametrize(
    "step",
    [
        {"name": "A", "fractions": [0.33, "1 / 3", "3/4"]},
        {"name": "A", "countdown": {"every": 5, "last": 2}},
        {"name": "A", "countdown": "off", "warn": [10], "switch": 0, "pause_after_step": True},
    ],
)
def test_the_schema_accepts_the_settings_the_loader_accepts(schema_validator, step):
    import yaml

    document = {
        "name": "R",
        "defaults": {"sounds": {"set": "bell", "finish": "sub/Gong.Wav"}, "chime_level": -6},
        "steps": [step],
    }
    parse_routine(yaml.safe_dump(document), "ok.yaml")
    assert not list(schema_validator.iter_errors(document))


@pytest.mark.parametrize(
    "document",
    [
        {"name": "R", "steps": [{"name": "A", "hold": -1}]},
        {"name": "R", "steps": [{"name": "A", "sides": "both"}]},
        {"name": "R", "steps": [{"name": "A", "holdd": 3}]},
        {"name": "R", "steps": []},
        {"steps": [{"name": "A"}]},
        {"name": "R", "language": "english", "steps": [{"name": "A"}]},
        {"name": "R", "defaults": {"reps": 2.5}, "steps": [{"name": "A"}]},
        {"name": "R", "steps": [{"name": "A", "fractions": ["1/5"]}]},
        {"name": "R", "steps": [{"name": "A", "countdown": "sometimes"}]},
        {"name": "R", "steps": [{"name": "A", "countdown": {"every": 0}}]},
        {"name": "R", "steps": [{"name": "A", "sounds": "bell"}]},
        {"name": "R", "defaults": {"sounds": "gong"}, "steps": [{"name": "A"}]},
        {"name": "R", "defaults": {"sounds": {"finish": "/etc/x.wav"}}, "steps": [{"name": "A"}]},
        {"name": "R", "defaults": {"sounds": {"finish": "x.mp3"}}, "steps": [{"name": "A"}]},
        {"name": "R", "defaults": {"sounds": {"finish": "../x.wav"}}, "steps": [{"name": "A"}]},
        {
            "name": "R",
            "defaults": {"sounds": {"finish": "a/../../y.wav"}},
            "steps": [{"name": "A"}],
        },
        {"name": "R", "defaults": {"sounds": {"finish": "C:/x.wav"}}, "steps": [{"name": "A"}]},
        {"name": "R", "defaults": {"chime_level": 40}, "steps": [{"name": "A"}]},
        {"name": "R", "defaults": {"rate": 20}, "steps": [{"name": "A"}]},
    ],
)
def test_the_schema_and_the_loader_refuse_the_same_mistakes(schema_validator, document):
    import yaml

    assert list(schema_validator.iter_errors(document))
    with pytest.raises(RoutineError):
        parse_routine(yaml.safe_dump(document), "bad.yaml")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_whatever_the_loader_accepts_the_schema_accepts(schema_validator, document):
    """The schema never flags a routine that works (it may miss some that don't)."""
    import yaml

    try:
        parse_routine(yaml.safe_dump(document, allow_unicode=True), "prop.yaml")
    except RoutineError:
        return
    assert not list(schema_validator.iter_errors(document))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents)
def test_check_finds_problems_exactly_when_loading_fails(document):
    """`check` (find_problems) and the loader agree, and every problem is one line."""
    import yaml

    from voice_coach.routine import find_problems

    text = yaml.safe_dump(document, allow_unicode=True)
    problems = find_problems(text, "prop.yaml")
    try:
        parse_routine(text, "prop.yaml")
    except RoutineError as error:
        assert str(error) in [str(problem) for problem in problems]
        lines = [problem.line or 0 for problem in problems]
        assert lines == sorted(lines)
    else:
        assert problems == []
    for problem in problems:
        assert str(problem).startswith("prop.yaml:") and "\n" not in str(problem)
