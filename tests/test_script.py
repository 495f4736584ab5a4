"""The script engine's rules, checked on Scripts compiled from made-up clip lengths."""

from __future__ import annotations

import importlib.util
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from voice_coach.routine import load_routine, parse_routine
from voice_coach.script import (
    CHIMES,
    HALFWAY_PHRASE,
    PREROLL_SECONDS,
    compile_script,
    spoken_phrases,
)

RATE = 22050
CHIME_SAMPLES = {"hold-start": 15000, "hold-end": 20000, "last-set": 18000, "finish": 40000}


def lengths(routine, seconds=lambda text: 0.2 + 0.06 * len(text), deeper=False):
    return {text: round(seconds(text) * RATE) for text in spoken_phrases(routine, deeper=deeper)}


def compile_yaml(text, *, seconds=lambda t: 0.2 + 0.06 * len(t), deeper=False):
    routine = parse_routine(textwrap.dedent(text), "test.yaml")
    return compile_script(
        routine, lengths(routine, seconds, deeper), CHIME_SAMPLES, RATE, deeper=deeper
    )


def assert_no_overlap(script):
    for earlier, later in zip(script.cues, script.cues[1:], strict=False):
        assert earlier.end_sample <= later.start_sample, (earlier, later)
    assert script.cues[-1].end_sample <= script.length_samples


def roles(script, step=None):
    return [c.role for c in script.cues if step is None or c.step == step]


ONE_STEP = """
name: Test
steps:
  - name: Calf stretch
    instructions: Lean on the wall.
    hold: 30
    prep: 4
    rest: 6
"""


def test_golden_hamstrings_script_is_current():
    spec = importlib.util.spec_from_file_location("make_golden", ROOT / "scripts/make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    golden = (ROOT / "tests/golden/hamstrings.script.json").read_text()
    assert module.golden_text() == golden, "the Script changed: run scripts/make_golden.py"


def test_preroll_comes_first():
    script = compile_yaml(ONE_STEP)
    assert script.cues[0].start_sample == round(PREROLL_SECONDS * RATE)
    assert PREROLL_SECONDS >= 0.5


def test_step_order_with_sides():
    script = compile_yaml(ONE_STEP)
    hold_cues = ["halfway", *["countdown"] * 5, "hold-end"]
    assert roles(script) == [
        "title",
        "instructions",
        "side",
        "hold-start",
        *hold_cues,
        "switch",
        "side",
        # The routine's last hold opens with the "last set" sound.
        "last-set",
        *hold_cues,
        "release",
        "closing",
        "finish",
    ]
    texts = [c.text for c in script.cues if c.role in ("side", "switch")]
    assert texts == ["Left side.", "Switch sides.", "Right side."]


def test_holds_are_exact_and_framed_by_chimes():
    script = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 27.5"))
    chimes = {(c.role, c.start_sample) for c in script.cues if c.kind == "chime"}
    assert len(script.holds) == 2
    for hold in script.holds:
        assert hold.end_sample - hold.start_sample == round(27.5 * RATE)
        assert {("hold-start", hold.start_sample), ("last-set", hold.start_sample)} & chimes
        assert ("hold-end", hold.end_sample) in chimes
    assert ("last-set", script.holds[-1].start_sample) in chimes


def test_countdown_number_k_starts_k_seconds_before_the_end_chime():
    script = compile_yaml(ONE_STEP)
    for hold in script.holds:
        numbers = [
            c
            for c in script.cues
            if c.role == "countdown" and hold.start_sample <= c.start_sample < hold.end_sample
        ]
        assert [c.text for c in numbers] == ["5", "4", "3", "2", "1"]
        for cue in numbers:
            assert hold.end_sample - cue.start_sample == int(cue.text) * RATE


def test_halfway_at_the_midpoint_only_for_long_holds():
    script = compile_yaml(ONE_STEP)
    halfway = [c for c in script.cues if c.role == "halfway"]
    assert [c.start_sample for c in halfway] == [
        h.start_sample + (h.end_sample - h.start_sample) // 2 for h in script.holds
    ]
    assert "halfway" not in roles(compile_yaml(ONE_STEP.replace("hold: 30", "hold: 19")))
    off = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 30\n    halfway: false"))
    assert "halfway" not in roles(off)


def test_prep_and_rest_are_quiet_gaps():
    script = compile_yaml(ONE_STEP)
    cues = script.cues
    instructions = next(c for c in cues if c.role == "instructions")
    first_side = next(c for c in cues if c.role == "side")
    assert first_side.start_sample - instructions.end_sample == 4 * RATE
    switch = next(c for c in cues if c.role == "switch")
    second_side = [c for c in cues if c.role == "side"][1]
    # Between the sides: `switch` seconds (5 by default), not `rest`.
    assert second_side.start_sample - switch.end_sample == 5 * RATE
    longer = compile_yaml(ONE_STEP.replace("rest: 6", "rest: 6\n    switch: 9"))
    switch = next(c for c in longer.cues if c.role == "switch")
    second_side = [c for c in longer.cues if c.role == "side"][1]
    assert second_side.start_sample - switch.end_sample == 9 * RATE


def test_no_rest_after_the_last_hold():
    script = compile_yaml(ONE_STEP.replace("rest: 6", "rest: 60"))
    release = next(c for c in script.cues if c.role == "release")
    closing = next(c for c in script.cues if c.role == "closing")
    assert closing.start_sample - release.end_sample < 1 * RATE


def test_rest_separates_steps():
    two = ONE_STEP + "  - name: Second\n    hold: 10\n"
    script = compile_yaml(two)
    release = next(c for c in script.cues if c.role == "release" and c.step == 0)
    title = next(c for c in script.cues if c.role == "title" and c.step == 1)
    assert title.start_sample - release.end_sample == 6 * RATE
    assert [s.start_sample for s in script.steps] == [
        c.start_sample for c in script.cues if c.role == "title"
    ]


def test_sides_none_and_reps():
    script = compile_yaml(
        """
        name: Test
        steps:
          - name: Cat cow
            hold: 10
            sides: none
            reps: 3
        """
    )
    assert [c.text for c in script.cues if c.role == "side"] == [
        "Round 1 of 3.",
        "Round 2 of 3.",
        "Round 3 of 3.",
    ]
    assert "switch" not in roles(script)
    assert roles(script).count("release") == 3
    assert [(h.side, h.rep) for h in script.holds] == [(None, 1), (None, 2), (None, 3)]


def test_sided_reps_alternate_sides():
    script = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 10\n    reps: 2\n    limb: arm"))
    assert [c.text for c in script.cues if c.role == "side"] == [
        "Left arm, 1 of 2.",
        "Right arm, 1 of 2.",
        "Left arm, 2 of 2.",
        "Right arm, 2 of 2.",
    ]
    # "Switch arms." between the sides; "And release." (and the rest) after each rep.
    assert roles(script).count("switch") == 2
    assert roles(script).count("release") == 2


def test_deeper_is_spoken_only_when_asked():
    text = ONE_STEP.replace("prep: 4", "prep: 4\n    deeper: Use a step.")
    assert "deeper" not in roles(compile_yaml(text))
    script = compile_yaml(text, deeper=True)
    assert roles(script)[:3] == ["title", "instructions", "deeper"]


def test_short_hold_drops_countdown_numbers_and_says_so():
    script = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 3"))
    numbers = [c.text for c in script.cues if c.role == "countdown"]
    # The start chime (0.68 s) plus a 0.35 s gap leaves room for "1" only.
    assert numbers == ["1", "1"]
    assert_no_overlap(script)
    assert any("drops 5, 4, 3, 2," in note for note in script.notes)


def test_a_number_too_long_for_its_second_is_dropped():
    script = compile_yaml(ONE_STEP, seconds=lambda t: 1.3 if t == "3" else 0.3)
    numbers = [c.text for c in script.cues if c.role == "countdown"]
    assert numbers == ["5", "4", "2", "1"] * 2
    assert any("drops 3" in note for note in script.notes)


def test_halfway_gives_way_first():
    # The numbers start 11 s in; a 1 s "Halfway." at 10 s would run into "9".
    crowded = ONE_STEP.replace("hold: 30", "hold: 20\n    countdown: 9")
    script = compile_yaml(crowded, seconds=lambda t: 0.5 if t != HALFWAY_PHRASE else 1.0)
    assert "halfway" not in roles(script)
    assert [c.text for c in script.cues if c.role == "countdown"][:9] == [
        str(k) for k in range(9, 0, -1)
    ]
    assert any("halfway" in note for note in script.notes)


def test_every_speech_cue_has_a_listed_phrase():
    routine = load_routine("hamstrings")
    phrases = set(spoken_phrases(routine, deeper=True))
    script = compile_script(
        routine, lengths(routine, deeper=True), CHIME_SAMPLES, RATE, deeper=True
    )
    assert {c.text for c in script.cues if c.kind == "speech"} <= phrases
    assert {c.text for c in script.cues if c.kind == "chime"} == set(CHIMES)


def test_missing_clip_is_a_programming_error():
    routine = parse_routine(ONE_STEP, "test.yaml")
    with pytest.raises(ValueError, match="no measured clip"):
        compile_script(routine, {}, CHIME_SAMPLES, RATE)


step_strategy = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["A", "Hip opener", "Long name for a stretch"]),
        "hold": st.one_of(st.integers(1, 90), st.floats(1, 90).map(lambda x: round(x, 3))),
        "prep": st.integers(0, 10),
        "rest": st.integers(0, 10),
        "reps": st.integers(1, 3),
        "sides": st.sampled_from(["each", "none"]),
        "countdown": st.integers(0, 10),
        "halfway": st.booleans(),
        "switch": st.integers(0, 10),
        "warn": st.lists(st.integers(1, 60), max_size=2),
        "fractions": st.lists(st.sampled_from(["1/4", "1/3", "1/2", "2/3", "3/4"]), max_size=3),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(step_strategy, min_size=1, max_size=4),
    per_char=st.floats(0.01, 0.2),
    base=st.floats(0.05, 1.5),
)
def test_any_routine_gives_exact_holds_and_no_overlap(steps, per_char, base):
    import yaml

    for step in steps:  # a countdown written longer than its hold is refused (test_routine)
        step["countdown"] = min(step["countdown"], int(step["hold"]))
        step["warn"] = [seconds for seconds in step["warn"] if seconds < step["hold"]]
    routine = parse_routine(yaml.safe_dump({"name": "Fuzz", "steps": steps}), "fuzz.yaml")
    script = compile_script(
        routine, lengths(routine, lambda t: base + per_char * len(t)), CHIME_SAMPLES, RATE
    )
    assert_no_overlap(script)
    assert script.cues[0].start_sample >= 0.5 * RATE
    expected = [
        round(s["hold"] * RATE)
        for s in steps
        for _ in range(s["reps"] * (1 + (s["sides"] == "each")))
    ]
    assert [h.end_sample - h.start_sample for h in script.holds] == expected
    for cue in script.cues:
        if cue.role == "countdown":
            hold = next(h for h in script.holds if h.start_sample < cue.start_sample < h.end_sample)
            assert hold.end_sample - cue.start_sample == int(cue.text) * RATE


def test_quiet_speaks_only_the_countdown_and_keeps_the_holds():
    routine = parse_routine(ONE_STEP, "test.yaml")
    phrases = spoken_phrases(routine, quiet=True)
    assert phrases == ["5", "4", "3", "2", "1"]
    script = compile_script(routine, lengths(routine), CHIME_SAMPLES, RATE, quiet=True)
    speech_roles = {c.role for c in script.cues if c.kind == "speech"}
    assert speech_roles == {"countdown"}
    assert [c.role for c in script.cues if c.kind == "chime"] == [
        "hold-start",
        "hold-end",
        "last-set",
        "hold-end",
        "finish",
    ]
    assert [h.end_sample - h.start_sample for h in script.holds] == [30 * RATE, 30 * RATE]
    assert_no_overlap(script)


def cues_in_hold(script, hold, role=None):
    return [
        c
        for c in script.cues
        if hold.start_sample < c.start_sample < hold.end_sample and role in (None, c.role)
    ]


def test_countdown_every_n_speaks_the_seconds_left_on_their_seconds():
    script = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 30\n    countdown: {every: 5}"))
    for hold in script.holds:
        numbers = cues_in_hold(script, hold, "countdown")
        assert [c.text for c in numbers] == ["25", "20", "15", "10", "5"]
        for cue in numbers:
            assert hold.end_sample - cue.start_sample == int(cue.text) * RATE
    # every: N with last: M also counts the last M seconds one by one.
    both = compile_yaml(
        ONE_STEP.replace("hold: 30", "hold: 30\n    countdown: {every: 10, last: 3}")
    )
    numbers = cues_in_hold(both, both.holds[0], "countdown")
    assert [c.text for c in numbers] == ["20", "10", "3", "2", "1"]


def test_countdown_off_speaks_no_numbers():
    for off in ("off", "0", "false"):
        script = compile_yaml(ONE_STEP.replace("hold: 30", f"hold: 30\n    countdown: {off}"))
        assert "countdown" not in roles(script)
        assert [c.role for c in script.cues if c.kind == "chime"].count("hold-end") == 2


def test_warn_cues_start_exactly_that_long_before_the_end():
    script = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 40\n    warn: [10, 20]"))
    for hold in script.holds:
        warns = cues_in_hold(script, hold, "warn")
        assert [c.text for c in warns] == ["20 seconds left.", "10 seconds left."]
        assert [hold.end_sample - c.start_sample for c in warns] == [20 * RATE, 10 * RATE]
    assert_no_overlap(script)


def test_fractions_fall_at_their_fraction_of_the_hold():
    script = compile_yaml(
        ONE_STEP.replace("hold: 30", "hold: 36\n    halfway: false\n    fractions: [1/3, 2/3]")
    )
    for hold in script.holds:
        cues = cues_in_hold(script, hold, "fraction")
        assert [c.text for c in cues] == ["A third done.", "Two thirds done."]
        length = hold.end_sample - hold.start_sample
        assert [c.start_sample - hold.start_sample for c in cues] == [length // 3, 2 * length // 3]
        assert not cues_in_hold(script, hold, "halfway")


def test_crowded_hold_drops_lower_priority_cues_and_says_so():
    # A third of 12 s is 4 s in: "8 seconds left." starts there too, and wins, silently.
    # A quarter (3 s in) would run into the warning: dropped, with a note.
    script = compile_yaml(
        ONE_STEP.replace(
            "hold: 30", "hold: 12\n    countdown: 2\n    warn: 8\n    fractions: [1/4, 1/3]"
        )
    )
    for hold in script.holds:
        inside = cues_in_hold(script, hold)
        assert [c.role for c in inside] == ["warn", "countdown", "countdown"]
        assert hold.end_sample - inside[0].start_sample == 8 * RATE
    assert any("'A quarter done.' does not fit" in note for note in script.notes)
    assert not any("third" in note for note in script.notes)
    assert_no_overlap(script)


def test_a_fraction_on_an_every_number_is_left_out_silently():
    script = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 30\n    countdown: {every: 5}"))
    assert "halfway" not in roles(script)  # "15" marks the middle
    assert not script.notes


def test_every_numbers_inside_the_start_chime_are_left_out_silently():
    script = compile_yaml(ONE_STEP.replace("hold: 30", "hold: 25.5\n    countdown: {every: 5}"))
    numbers = [c.text for c in cues_in_hold(script, script.holds[0], "countdown")]
    assert numbers == ["20", "15", "10", "5"]  # "25" would start 0.5 s in, on the chime
    assert not any("'25'" in note for note in script.notes)


def test_reps_with_sides_switch_between_sides_and_rest_between_reps():
    script = compile_yaml(
        ONE_STEP.replace("rest: 6", "rest: 10\n    switch: 3\n    reps: 2\n    countdown: 0")
    )
    gaps = []
    for cue in script.cues:
        if cue.role in ("switch", "release"):
            following = [c for c in script.cues if c.start_sample >= cue.end_sample]
            if following and following[0].role == "side":
                gaps.append((cue.role, (following[0].start_sample - cue.end_sample) / RATE))
    assert gaps == [("switch", 3), ("release", 10), ("switch", 3)]


def test_pause_after_step_marks_the_step_end():
    two = ONE_STEP.replace("rest: 6", "rest: 6\n    pause_after_step: true") + (
        "  - name: Second\n    hold: 10\n"
    )
    script = compile_yaml(two)
    assert [span.pause_after for span in script.steps] == [True, False]


@pytest.mark.parametrize(
    ("language", "side", "switch", "closing"),
    [
        (
            "de",
            "Linkes Bein.",
            "Bein wechseln.",
            "Geschafft, das war die ganze Einheit. Gut gemacht.",
        ),
        ("es", "Pierna izquierda.", "Cambia de pierna.", "Rutina terminada. ¡Buen trabajo!"),
        ("fr", "Jambe gauche.", "Changez de jambe.", "Séance terminée. Bravo !"),
        ("en", "Left leg.", "Switch legs.", "That is the whole routine. Well done."),
    ],
)
def test_cue_phrases_follow_the_routine_language(language, side, switch, closing):
    text = f"language: {language}\n" + ONE_STEP.replace("hold: 30", "hold: 30\n    limb: leg")
    script = compile_yaml(text)
    spoken = [c.text for c in script.cues if c.kind == "speech"]
    assert side in spoken and switch in spoken and closing in spoken
    assert script.language == language


def test_the_voice_language_picks_the_phrases_when_the_routine_names_none():
    routine = parse_routine(ONE_STEP, "test.yaml")
    phrases = spoken_phrases(routine, language="de")
    assert "Linke Seite." in phrases and "Seite wechseln." in phrases
    script = compile_script(
        routine,
        {text: 5000 for text in phrases},
        CHIME_SAMPLES,
        RATE,
        language="de",
    )
    assert script.language == "de"


def test_quiet_keeps_only_numbers_inside_the_hold():
    text = ONE_STEP.replace(
        "hold: 30",
        "hold: 30\n    warn: 10\n    fractions: 1/3\n    countdown: {every: 10, last: 3}",
    )
    routine = parse_routine(text, "test.yaml")
    script = compile_script(routine, lengths(routine), CHIME_SAMPLES, RATE, quiet=True)
    spoken = [c.text for c in script.cues if c.kind == "speech"]
    assert spoken == ["20", "10", "3", "2", "1"] * 2
