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
CHIME_SAMPLES = {"hold-start": 15000, "hold-end": 20000, "finish": 40000}


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
    hold_cues = ["hold-start", "halfway", *["countdown"] * 5, "hold-end"]
    assert roles(script) == [
        "title",
        "instructions",
        "side",
        *hold_cues,
        "switch",
        "side",
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
        assert ("hold-start", hold.start_sample) in chimes
        assert ("hold-end", hold.end_sample) in chimes


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
    assert second_side.start_sample - switch.end_sample == 6 * RATE


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
    assert roles(script).count("switch") == 3


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
    crowded = ONE_STEP.replace("hold: 30", "hold: 20\n    countdown: 10")
    script = compile_yaml(crowded, seconds=lambda t: 0.5 if t != HALFWAY_PHRASE else 1.0)
    assert "halfway" not in roles(script)
    assert [c.text for c in script.cues if c.role == "countdown"][:10] == [
        str(k) for k in range(10, 0, -1)
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
        "hold-start",
        "hold-end",
        "finish",
    ]
    assert [h.end_sample - h.start_sample for h in script.holds] == [30 * RATE, 30 * RATE]
    assert_no_overlap(script)
