"""Charts of the timeline: checked against the Script they draw.

The unit tests draw Scripts compiled from made-up clip lengths (no speech engine);
one CLI test draws the built-in routine spoken by the real engine.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import struct
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from voice_coach.chart import DPI, chart_format, draw_chart, figure_inches
from voice_coach.cli import cli
from voice_coach.errors import ExportError, TargetError
from voice_coach.routine import load_routine, parse_routine
from voice_coach.script import CHIMES, Cue, compile_script, spoken_phrases

RATE = 22050
SVG = "{http://www.w3.org/2000/svg}"
#: Positions are read back from the SVG's coordinates, written to about 1e-6 pt.
SECONDS_TOLERANCE = 0.02

REPS_ROUTINE = """\
name: Reps and plain holds
steps:
  - name: Neck tilt
    hold: 12
    reps: 3
    sides: none
    countdown: 3
    rest: 4
  - name: Calf stretch against the wall, with the back heel pressed down
    hold: 25
    reps: 2
    prep: 3
    switch: 6
"""


def compile_fake(routine):
    """The routine's Script, with clip lengths made up from the text's length."""
    speech = {text: round((0.2 + 0.06 * len(text)) * RATE) for text in spoken_phrases(routine)}
    chimes = dict.fromkeys(CHIMES, 15000)
    return compile_script(routine, speech, chimes, RATE)


@pytest.fixture(scope="module")
def hamstrings():
    return compile_fake(load_routine("hamstrings"))


@pytest.fixture(scope="module")
def reps():
    return compile_fake(parse_routine(REPS_ROUTINE, "reps.yaml"))


class Drawn:
    """An SVG chart, parsed, with its x coordinates mapped back to seconds."""

    def __init__(self, path, script):
        self.text = path.read_text(encoding="utf-8")
        self.root = ET.fromstring(self.text)
        self.script = script
        left, right = self.x_range("plot-area")
        self.left, self.points_per_second = left, (right - left) / script.duration

    def element(self, gid):
        found = self.root.findall(f".//*[@id='{gid}']")
        assert len(found) == 1, f"{len(found)} elements with id {gid}"
        return found[0]

    def ids(self, pattern):
        return sorted(
            e.get("id") for e in self.root.iter() if re.fullmatch(pattern, e.get("id", ""))
        )

    def corners(self, gid):
        """The (x, y) corners of the path drawn for ``gid``, in SVG points."""
        path = self.element(gid).find(f"{SVG}path")
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d"))]
        return list(zip(numbers[::2], numbers[1::2], strict=True))

    def x_range(self, gid):
        xs = [x for x, _ in self.corners(gid)]
        return min(xs), max(xs)

    def y_range(self, gid):
        ys = [y for _, y in self.corners(gid)]
        return min(ys), max(ys)

    def seconds(self, x):
        return (x - self.left) / self.points_per_second

    def span_seconds(self, gid):
        return tuple(self.seconds(x) for x in self.x_range(gid))

    def mark_seconds(self, gid):
        """Where the marker drawn for ``gid`` stands, in seconds."""
        uses = self.element(gid).findall(f".//{SVG}use")
        assert len(uses) == 1
        return self.seconds(float(uses[0].get("x")))

    def fill(self, gid):
        style = self.element(gid).find(f"{SVG}path").get("style")
        return re.search(r"fill: ([^;]+)", style).group(1)

    def all_text(self):
        return " ".join(text.text or "" for text in self.root.iter(f"{SVG}text"))

    def label(self, gid):
        return " ".join(text.text for text in self.element(gid).iter(f"{SVG}text"))


def draw_svg(script, tmp_path, name="chart.svg", title="Test"):
    path = tmp_path / name
    draw_chart(script, path, title=title)
    return Drawn(path, script)


def seconds(sample):
    return sample / RATE


# --- SVG: the parts are where the Script puts them -------------------------------------


def test_one_bar_per_step_over_its_span_with_its_name(hamstrings, tmp_path):
    drawn = draw_svg(hamstrings, tmp_path)
    assert drawn.ids(r"step-\d+") == [f"step-{span.step}" for span in hamstrings.steps]
    for row, span in enumerate(hamstrings.steps):
        start, end = drawn.span_seconds(f"step-{span.step}")
        assert start == pytest.approx(seconds(span.start_sample), abs=SECONDS_TOLERANCE)
        assert end == pytest.approx(seconds(span.end_sample), abs=SECONDS_TOLERANCE)
        assert drawn.label(f"label-{row}") == f"{span.step + 1}. {span.name}"
    # Step 1 at the top, each row below the last, none overlapping.
    tops_and_bottoms = [drawn.y_range(f"step-{span.step}") for span in hamstrings.steps]
    for upper, lower in itertools.pairwise(tops_and_bottoms):
        assert upper[1] < lower[0]


def test_holds_stand_at_the_scripts_times_in_their_steps_rows(hamstrings, tmp_path):
    drawn = draw_svg(hamstrings, tmp_path)
    assert drawn.ids(r"hold-\d+") == sorted(f"hold-{n}" for n in range(len(hamstrings.holds)))
    for n, hold in enumerate(hamstrings.holds):
        start, end = drawn.span_seconds(f"hold-{n}")
        assert start == pytest.approx(seconds(hold.start_sample), abs=SECONDS_TOLERANCE)
        assert end == pytest.approx(seconds(hold.end_sample), abs=SECONDS_TOLERANCE)
        top, bottom = drawn.y_range(f"hold-{n}")
        row_top, row_bottom = drawn.y_range(f"step-{hold.step}")
        assert row_top < top < bottom < row_bottom


def test_left_and_right_holds_look_different(hamstrings, tmp_path):
    drawn = draw_svg(hamstrings, tmp_path)
    fills = {side: set() for side in ("left", "right")}
    for n, hold in enumerate(hamstrings.holds):
        fills[hold.side].add(drawn.fill(f"hold-{n}"))
    assert len(fills["left"]) == 1
    assert len(fills["right"]) == 1
    assert fills["left"] != fills["right"]
    labels = [drawn.label(f"hold-label-{n}") for n in range(len(hamstrings.holds))]
    assert labels == ["L", "R"] * 3


def test_every_cue_is_drawn_at_its_start(hamstrings, tmp_path):
    drawn = draw_svg(hamstrings, tmp_path)
    assert len(drawn.ids(r"cue-\d+")) == len(hamstrings.cues)
    for n, cue in enumerate(hamstrings.cues):
        if cue.role in ("countdown", "hold-start", "hold-end", "last-set", "halfway", "finish"):
            at = drawn.mark_seconds(f"cue-{n}")
        else:  # speech outside the holds: a bar over the time it is spoken
            at, end = drawn.span_seconds(f"cue-{n}")
            assert end == pytest.approx(seconds(cue.end_sample), abs=SECONDS_TOLERANCE)
        assert at == pytest.approx(seconds(cue.start_sample), abs=SECONDS_TOLERANCE), cue


def test_prep_switch_and_rest_fill_the_quiet_between_the_cues(hamstrings, tmp_path):
    drawn = draw_svg(hamstrings, tmp_path)
    for span in hamstrings.steps:
        cues = [cue for cue in hamstrings.cues if cue.step == span.step]
        spoken_end = max(cue.end_sample for cue in cues if cue.role in ("title", "instructions"))
        first_side = min(cue.start_sample for cue in cues if cue.role == "side")
        start, end = drawn.span_seconds(f"prep-{span.step}")
        assert start == pytest.approx(seconds(spoken_end), abs=SECONDS_TOLERANCE)
        assert end == pytest.approx(seconds(first_side), abs=SECONDS_TOLERANCE)
    last = len(hamstrings.holds) - 1
    for n, hold in enumerate(hamstrings.holds):
        turn = [c for c in hamstrings.cues if (c.step, c.side, c.rep) == (hold.step, hold.side, 1)]
        spoken = max(cue.end_sample for cue in turn)
        if hold.side == "left":
            start, _ = drawn.span_seconds(f"switch-{n}")
            assert start == pytest.approx(seconds(spoken), abs=SECONDS_TOLERANCE)
            assert drawn.ids(rf"rest-{n}") == []
        elif n != last:
            _, end = drawn.span_seconds(f"rest-{n}")
            step_end = hamstrings.steps[hold.step].end_sample
            assert end == pytest.approx(seconds(step_end), abs=SECONDS_TOLERANCE)
    # The routine's last hold ends in the closing, with no rest.
    assert drawn.ids(rf"(rest|switch)-{last}") == []


def test_reps_and_plain_holds(reps, tmp_path):
    drawn = draw_svg(reps, tmp_path)
    labels = [drawn.label(f"hold-label-{n}") for n in range(len(reps.holds))]
    assert labels == ["1", "2", "3", "L 1", "R 1", "L 2", "R 2"]
    assert len({drawn.fill(f"hold-{n}") for n in range(3)}) == 1
    assert drawn.fill("hold-0") not in {drawn.fill("hold-3"), drawn.fill("hold-4")}
    # The long name wraps onto lines of the label, and nothing of it is lost.
    assert drawn.label("label-1") == "2. " + reps.steps[1].name
    assert len(drawn.element("label-1").findall(f".//{SVG}text")) > 1


def test_the_end_row_holds_the_closing_and_finish(hamstrings, tmp_path):
    drawn = draw_svg(hamstrings, tmp_path)
    end_row = len(hamstrings.steps)
    assert drawn.label(f"label-{end_row}") == "End"
    finish = next(n for n, cue in enumerate(hamstrings.cues) if cue.role == "finish")
    assert drawn.mark_seconds(f"cue-{finish}") == pytest.approx(
        seconds(hamstrings.cues[finish].start_sample), abs=SECONDS_TOLERANCE
    )


def test_an_unknown_cue_role_gets_a_generic_mark_and_a_legend_entry(hamstrings, tmp_path):
    hold = hamstrings.holds[0]
    made_up = Cue(
        hold.start_sample + 3 * RATE,
        hold.start_sample + 4 * RATE,
        "speech",
        "Breathe out.",
        "breathe",
        step=hold.step,
        side=hold.side,
        rep=hold.rep,
    )
    cues = tuple(sorted((*hamstrings.cues, made_up), key=lambda cue: cue.start_sample))
    script = dataclasses.replace(hamstrings, cues=cues)
    drawn = draw_svg(script, tmp_path)
    n = cues.index(made_up)
    assert drawn.mark_seconds(f"cue-{n}") == pytest.approx(
        seconds(made_up.start_sample), abs=SECONDS_TOLERANCE
    )
    assert "other cue (breathe)" in drawn.all_text()
    assert "other cue" not in draw_svg(hamstrings, tmp_path, "plain.svg").all_text()


def test_a_step_that_waits_for_a_key_is_marked_at_its_end(hamstrings, tmp_path):
    steps = (dataclasses.replace(hamstrings.steps[0], pause_after=True), *hamstrings.steps[1:])
    drawn = draw_svg(dataclasses.replace(hamstrings, steps=steps), tmp_path)
    assert drawn.ids(r"pause-\d+") == ["pause-0"]
    assert drawn.mark_seconds("pause-0") == pytest.approx(
        seconds(steps[0].end_sample), abs=SECONDS_TOLERANCE
    )


def test_the_title_heads_the_chart_and_names_with_dollars_stay_text(tmp_path):
    routine = parse_routine(
        "name: Save $5 stretch\nsteps:\n  - name: Reach for $10 & <more>\n    hold: 5\n", "d.yaml"
    )
    drawn = draw_svg(compile_fake(routine), tmp_path, title=routine.name)
    assert drawn.root.find(f"{SVG}title").text == "Save $5 stretch"
    assert drawn.label("label-0") == "1. Reach for $10 & <more>"
    texts = [text.text for text in drawn.root.iter(f"{SVG}text")]
    assert any(text.startswith("Save $5 stretch · 0:") for text in texts)


# --- files: formats, determinism, atomic writes -----------------------------------------


def test_the_same_script_gives_the_same_svg_bytes(hamstrings, tmp_path):
    first, second = tmp_path / "first.svg", tmp_path / "second.svg"
    draw_chart(hamstrings, first, title="Hamstrings")
    draw_chart(hamstrings, second, title="Hamstrings")
    assert first.read_bytes() == second.read_bytes()
    assert "dc:date" not in first.read_text(encoding="utf-8")


def test_png_is_a_png_of_the_expected_size(hamstrings, tmp_path):
    from matplotlib.image import imread

    path = tmp_path / "chart.png"
    draw_chart(hamstrings, path, title="Hamstrings")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    inches = figure_inches(hamstrings)
    assert (width, height) == (round(inches[0] * DPI), round(inches[1] * DPI))
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    # Not blank: the left holds' blue is there.
    blue = (pixels[..., :3] * 255).round() == (0x3B, 0x7D, 0xBF)
    assert blue.all(axis=-1).sum() > 1000


def test_more_steps_make_a_taller_chart(hamstrings, reps):
    assert figure_inches(reps)[0] == figure_inches(hamstrings)[0]
    assert figure_inches(reps)[1] < figure_inches(hamstrings)[1]


@pytest.mark.parametrize("name", ["chart.pdf", "chart", "chart.svg.txt"])
def test_other_suffixes_are_refused(hamstrings, tmp_path, name):
    with pytest.raises(ExportError, match=r"\.png or \.svg"):
        chart_format(tmp_path / name)
    with pytest.raises(ExportError):
        draw_chart(hamstrings, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_upper_case_suffixes_are_fine():
    assert chart_format("A.SVG") == "svg"
    assert chart_format("b.Png") == "png"


def test_a_missing_folder_is_one_error_and_leaves_nothing(hamstrings, tmp_path):
    with pytest.raises(TargetError, match="no such folder"):
        draw_chart(hamstrings, tmp_path / "missing" / "chart.svg")
    assert list(tmp_path.iterdir()) == []


def test_a_chart_replaces_an_old_one_whole_and_leaves_no_temp_files(hamstrings, tmp_path):
    path = tmp_path / "chart.svg"
    path.write_text("old", encoding="utf-8")
    draw_chart(hamstrings, path)
    ET.fromstring(path.read_text(encoding="utf-8"))
    assert [entry.name for entry in tmp_path.iterdir()] == ["chart.svg"]


def test_importing_the_chart_module_does_not_load_matplotlib():
    code = "import sys, voice_coach.chart; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


# --- the command line ----------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(cli, list(args), prog_name="voice-coach")


@pytest.mark.parametrize("name", ["chart.pdf", "chart"])
def test_cli_other_suffixes_are_a_usage_error(tmp_path, name):
    target = tmp_path / name
    result = run("show", "hamstrings", "--chart", str(target))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "--chart" in lines[0]
    assert ".png or .svg" in lines[0]
    assert result.stdout == ""
    assert not target.exists()


def test_cli_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    for name in [name for name in sys.modules if name.split(".")[0] == "matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    target = tmp_path / "chart.svg"
    result = run("show", "hamstrings", "--chart", str(target))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "pip install 'voice-coach[chart]'" in lines[0]
    assert not target.exists()


def test_cli_draws_the_built_in_routine_with_the_real_engine(tmp_path):
    target = tmp_path / "hamstrings.svg"
    result = run("show", "hamstrings", "--engine", "pyttsx3", "--chart", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {target}\n"
    root = ET.fromstring(target.read_text(encoding="utf-8"))
    ids = [element.get("id", "") for element in root.iter()]
    assert sum(bool(re.fullmatch(r"step-\d+", gid)) for gid in ids) == 3
    assert sum(bool(re.fullmatch(r"hold-\d+", gid)) for gid in ids) == 6
    texts = [text.text for text in root.iter(f"{SVG}text")]
    for name in ("Seated", "Standing", "Lying"):
        assert f"{name} hamstring stretch" in " ".join(texts)
    assert root.find(f"{SVG}title").text == "Hamstring stretches"


def test_holds_without_sides_have_rests_but_no_switches(tmp_path):
    text = textwrap.dedent(
        """\
        name: Morning
        defaults:
          hold: 20
          sides: none
        steps:
          - name: Reach up
          - name: Fold forward
            reps: 2
        """
    )
    script = compile_fake(parse_routine(text, "morning.yaml"))
    drawn = draw_svg(script, tmp_path)
    assert drawn.ids(r"step-\d+") == ["step-0", "step-1"]
    assert drawn.ids(r"switch-\d+") == []
    assert len(drawn.ids(r"hold-\d+")) == 3
    assert drawn.ids(r"rest-\d+") == ["rest-0", "rest-1"]
