"""A compiled timeline as a picture: a Script in, a PNG or SVG chart out.

One row per step along a time axis in minutes and seconds. Each row is the step's
bar, with its holds (left and right sides in their own colours and hatching), the
quiet of prep, switches and rests, speech cues as bars over the time they are
spoken, and chimes, countdown numbers and other in-hold cues as marks where they
start. A cue role this module does not know is drawn with a generic mark, so new
roles in the script engine never break a chart.

In the SVG, the parts carry ids for tools (and tests) to find them: ``plot-area``
(its width spans 0 to the Script's duration), ``step-S`` and ``prep-S`` by
``StepSpan.step``, ``hold-N`` and the quiet after it, ``switch-N`` or ``rest-N``,
by index in ``Script.holds``, ``cue-N`` by index in ``Script.cues``, ``pause-S``,
and ``label-R`` for row R's name.

An edge module: matplotlib (with Agg, never a screen) is imported only when a
chart is drawn, so ``import voice_coach`` stays light. The same Script always
gives the same SVG, byte for byte: fixed ids, no date, text kept as text.
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from .atomic import atomic_target
from .errors import ExportError
from .script import Cue, Hold, Script, clock

#: File suffixes a chart may be written to, and the format each means.
CHART_FORMATS = {".png": "png", ".svg": "svg"}
INSTALL_HINT = "pip install 'voice-coach[chart]'"

WIDTH_INCHES = 12.0
#: Height of one step's row; the chart grows with the routine.
ROW_INCHES = 0.55
#: Height of the title, the time axis and the legend around the rows.
FRAME_INCHES = 1.9
#: Resolution of PNG charts (SVG is resolution-free).
DPI = 120

#: Step names wrap at this many characters, onto at most this many lines.
_NAME_WIDTH = 30
_NAME_LINES = 3
#: Held bars narrower than this get no side label inside.
_MIN_LABEL_INCHES = 0.3

# Where each lane lies in a row, as offsets from the row's centre (the y axis
# runs downwards, so negative is higher up): speech above, holds in the middle,
# marks below.
_BAND = (-0.45, 0.45)
_SPEECH_LANE = (-0.38, -0.16)
_HOLD_LANE = (-0.12, 0.22)
_MARK_Y = 0.33

_RC = {
    # Same salt, same ids: the SVG of a routine is identical on every run.
    "svg.hashsalt": "voice-coach",
    # Text stays text, so step names can be searched, selected and read by tools.
    "svg.fonttype": "none",
    "font.size": 9,
    "hatch.linewidth": 0.8,
}


@dataclass(frozen=True)
class _Style:
    """How one kind of thing is drawn, and its legend entry."""

    label: str
    color: str
    #: A marker at the cue's start; None draws a bar over the cue's span instead.
    marker: str | None = None
    hatch: str | None = None
    edge: str = "#333333"


_SPOKEN = _Style("speech: name, instructions", "#4c6a92")
_TURN = _Style("speech: side, switch, release", "#9b7fc7")
_CHIME = _Style("chime", "#222222", marker="v")
_LAST_SET = _Style("chime: last set", "#b8860b", marker="v")
_COUNTDOWN = _Style("countdown", "#c0392b", marker="|")
_HALFWAY = _Style("halfway", "#1f8a70", marker="D")
_WARNING = _Style("time left", "#d35400", marker="^")
_FRACTION = _Style("fraction", "#1f8a70", marker="d")
_OTHER = _Style("other cue", "#7f7f7f", marker="X")
_PAUSE = _Style("pause: waits for a key", "#37474f", marker="s")

#: Cue roles by what they are for; any other role is drawn as ``_OTHER``.
_ROLE_STYLES = {
    "title": _SPOKEN,
    "instructions": _SPOKEN,
    "deeper": _SPOKEN,
    "closing": _SPOKEN,
    "side": _TURN,
    "switch": _TURN,
    "release": _TURN,
    "hold-start": _CHIME,
    "hold-end": _CHIME,
    "last-set": _LAST_SET,
    "finish": _CHIME,
    "countdown": _COUNTDOWN,
    "halfway": _HALFWAY,
    "warn": _WARNING,
    "fraction": _FRACTION,
}

_HOLD_STYLES = {
    "left": _Style("hold, left side", "#3b7dbf", edge="#1d4f80"),
    "right": _Style("hold, right side", "#e8963a", hatch="///", edge="#9a5a12"),
    None: _Style("hold", "#4caf50", edge="#2e6b31"),
}
_OTHER_SIDE = _Style("hold, other side", "#9e9e9e", hatch="xx", edge="#555555")
_PREP = _Style("prep", "#f5e6a8", hatch="..", edge="#b8a25a")
_REST = _Style("rest", "#dfe6ea", hatch="\\\\", edge="#90a4ae")
_SWITCH = _Style("switch sides", "#e3dcef", hatch="\\\\", edge="#9b7fc7")
_STEP = _Style("step", "#f6f6f6", edge="#a0a0a0")


def chart_format(path: str | Path) -> str:
    """The format a chart at ``path`` is drawn in ("png" or "svg"), from its suffix.

    Raises ExportError naming the suffixes otherwise.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in CHART_FORMATS:
        raise ExportError(
            f"{path}: cannot draw a chart as '{suffix or 'no extension'}'; "
            f"end the name with {' or '.join(CHART_FORMATS)}"
        )
    return CHART_FORMATS[suffix]


def require_matplotlib() -> None:
    """Raise ExportError, saying how to install the chart extra, if matplotlib is missing."""
    _matplotlib()


def figure_inches(script: Script) -> tuple[float, float]:
    """Width and height of the chart of ``script`` in inches (times DPI for PNG pixels)."""
    return WIDTH_INCHES, FRAME_INCHES + ROW_INCHES * len(_row_names(script))


def draw_chart(script: Script, path: str | Path, *, title: str = "") -> None:
    """Draw ``script`` as a chart and write it atomically to ``path`` (.png or .svg).

    ``title`` (the routine's name) heads the chart with the total time and counts.
    Raises ExportError for an unknown suffix, a missing matplotlib, or a file that
    cannot be written.
    """
    file_format = chart_format(path)
    mpl = _matplotlib()
    with mpl.style.context("default"), mpl.rc_context(_RC), warnings.catch_warnings():
        # DejaVu Sans lacks some scripts' glyphs; a missing glyph is no reason to fail.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=Warning)
        figure = _figure(mpl, script, title)
        metadata: dict[str, str | None] = {"Title": title} if title else {}
        if file_format == "svg":
            metadata["Date"] = None
        try:
            with atomic_target(path) as temp:
                figure.savefig(temp, format=file_format, dpi=DPI, metadata=metadata)
        except OSError as error:
            raise ExportError(f"{path}: cannot write the file ({error.strerror})") from None


def _matplotlib():
    """The parts of matplotlib the chart uses, loaded now, or ExportError saying how to
    install it. Only the Agg canvas is used, so no display is ever needed."""
    try:
        import matplotlib
        import matplotlib.style
        from matplotlib.backends import backend_agg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch, Rectangle
        from matplotlib.ticker import FuncFormatter, MultipleLocator
        from matplotlib.transforms import blended_transform_factory
    except ImportError:
        raise ExportError(f"drawing a chart needs matplotlib; install it: {INSTALL_HINT}") from None
    if matplotlib.__version_info__ < (3, 7):
        raise ExportError(
            f"drawing a chart needs matplotlib 3.7 or newer, not {matplotlib.__version__}; "
            f"upgrade it: {INSTALL_HINT}"
        )

    return SimpleNamespace(
        style=matplotlib.style,
        rc_context=matplotlib.rc_context,
        FigureCanvasAgg=backend_agg.FigureCanvasAgg,
        Figure=Figure,
        Line2D=Line2D,
        Patch=Patch,
        Rectangle=Rectangle,
        FuncFormatter=FuncFormatter,
        MultipleLocator=MultipleLocator,
        blended_transform_factory=blended_transform_factory,
    )


def _row_names(script: Script) -> list[str]:
    """One row per step, then one for cues of no step (the closing), if there are any."""
    names = [f"{span.step + 1}. {span.name}" for span in script.steps]
    if any(_row_of(cue, script) == len(script.steps) for cue in script.cues):
        names.append("End")
    return names or ["(no steps)"]


def _row_of(cue: Cue, script: Script) -> int:
    """The row a cue is drawn in: its step's, or the last row for cues of no known step."""
    rows = {span.step: row for row, span in enumerate(script.steps)}
    return len(script.steps) if cue.step is None else rows.get(cue.step, len(script.steps))


def _turn_key(item: Cue | Hold) -> tuple:
    return (item.step, item.side, item.rep)


def _quiet_spans(script: Script) -> Iterator[tuple[_Style, str, int, int, int]]:
    """(style, gid, row, start, end) of each step's prep and of the quiet after each hold.

    A turn (one rep of one side) runs from its side cue to its release or switch
    cue; prep is the quiet between the step's spoken introduction and its first
    turn; after a turn comes a switch (after a switch cue) or a rest, up to the
    next turn or the step's end.
    """
    turn_bounds: dict[tuple, tuple[int, int]] = {}
    switches = {_turn_key(cue) for cue in script.cues if cue.role == "switch"}
    for cue in script.cues:
        if cue.rep is not None:
            start, end = turn_bounds.get(_turn_key(cue), (cue.start_sample, cue.end_sample))
            turn_bounds[_turn_key(cue)] = (min(start, cue.start_sample), max(end, cue.end_sample))
    for row, span in enumerate(script.steps):
        numbered = [(n, hold) for n, hold in enumerate(script.holds) if hold.step == span.step]
        if not numbered:
            continue

        def bounds(hold: Hold) -> tuple[int, int]:
            start, end = turn_bounds.get(_turn_key(hold), (hold.start_sample, hold.end_sample))
            return min(start, hold.start_sample), max(end, hold.end_sample)

        first_turn = bounds(numbered[0][1])[0]
        spoken = [
            cue.end_sample
            for cue in script.cues
            if cue.step == span.step and cue.rep is None and cue.start_sample < first_turn
        ]
        intro_end = max(spoken, default=span.start_sample)
        if first_turn > intro_end:
            yield _PREP, f"prep-{span.step}", row, intro_end, first_turn
        for place, (n, hold) in enumerate(numbered):
            turn_end = bounds(hold)[1]
            following = numbered[place + 1][1] if place + 1 < len(numbered) else None
            next_start = bounds(following)[0] if following else span.end_sample
            if next_start > turn_end:
                if _turn_key(hold) in switches:
                    yield _SWITCH, f"switch-{n}", row, turn_end, next_start
                else:
                    yield _REST, f"rest-{n}", row, turn_end, next_start


def _tick_seconds(duration: float) -> int:
    """A round tick spacing giving at most about 14 ticks over ``duration`` seconds."""
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration / step <= 14:
            return step
    return 7200


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _hold_label(hold: Hold, multi_rep: bool) -> str:
    side = {"left": "L", "right": "R"}.get(hold.side or "", "")
    rep = str(hold.rep) if multi_rep else ""
    return " ".join(part for part in (side, rep) if part)


def _figure(mpl, script: Script, title: str):
    """Build the matplotlib Figure of ``script`` (drawn later by savefig)."""
    rate = script.sample_rate
    duration = script.duration
    names = _row_names(script)
    width, height = figure_inches(script)
    figure = mpl.Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    mpl.FigureCanvasAgg(figure)  # Agg, never a window
    axes = figure.add_subplot()
    axes.patch.set_gid("plot-area")
    axes.set_xlim(0, duration)
    axes.set_ylim(len(names) - 0.5, -0.5)  # step 1 at the top
    axes.set_yticks([])
    for edge in ("left", "right", "top"):
        axes.spines[edge].set_visible(False)
    tick = _tick_seconds(duration)
    axes.xaxis.set_major_locator(mpl.MultipleLocator(tick))
    axes.xaxis.set_major_formatter(mpl.FuncFormatter(lambda seconds, _: clock(seconds)))
    if tick >= 10:
        axes.xaxis.set_minor_locator(mpl.MultipleLocator(tick / 5))
    axes.grid(axis="x", color="#e0e0e0", linewidth=0.6, zorder=0)
    axes.set_axisbelow(True)
    axes.set_xlabel("time (minutes:seconds)")
    if len(names) > 8:  # a tall chart: the time axis on top as well
        axes.tick_params(axis="x", labeltop=True, top=True)
    heading = " · ".join(
        part
        for part in (
            title,
            clock(duration),
            _plural(len(script.steps), "step"),
            _plural(len(script.holds), "hold"),
        )
        if part
    )
    axes.set_title(heading, loc="left", fontsize=11, parse_math=False)

    label_place = mpl.blended_transform_factory(axes.transAxes, axes.transData)
    for row, name in enumerate(names):
        wrapped = textwrap.wrap(name, _NAME_WIDTH, max_lines=_NAME_LINES, placeholder="…") or [name]
        axes.text(
            -0.008,
            row,
            "\n".join(wrapped),
            transform=label_place,
            ha="right",
            va="center",
            parse_math=False,
            gid=f"label-{row}",
        )

    used: dict[_Style, None] = {}

    def bar(style: _Style, gid: str, row: int, start: int, end: int, lane, zorder: float):
        top, bottom = lane
        axes.add_patch(
            mpl.Rectangle(
                (start / rate, row + top),
                (end - start) / rate,
                bottom - top,
                facecolor=style.color,
                edgecolor=style.edge,
                hatch=style.hatch,
                linewidth=0.6,
                gid=gid,
                zorder=zorder,
            )
        )
        used.setdefault(style, None)

    def mark(style: _Style, gid: str, row: int, sample: int):
        axes.add_line(
            mpl.Line2D(
                [sample / rate],
                [row + _MARK_Y],
                marker=style.marker,
                markersize=6 if style.marker != "|" else 7,
                markeredgewidth=1.2,
                color=style.color,
                linestyle="none",
                gid=gid,
                zorder=4,
            )
        )
        used.setdefault(style, None)

    for row, span in enumerate(script.steps):
        bar(_STEP, f"step-{span.step}", row, span.start_sample, span.end_sample, _BAND, 1)
    for row, span in enumerate(script.steps):
        if span.pause_after:
            mark(_PAUSE, f"pause-{span.step}", row, span.end_sample)
    for style, gid, row, start, end in _quiet_spans(script):
        bar(style, gid, row, start, end, _HOLD_LANE, 2)

    rows = {span.step: row for row, span in enumerate(script.steps)}
    multi_rep = {hold.step for hold in script.holds if hold.rep > 1}
    inches_per_second = width * 0.7 / max(duration, 1e-9)
    for n, hold in enumerate(script.holds):
        row = rows.get(hold.step, len(script.steps))
        style = _HOLD_STYLES.get(hold.side, _OTHER_SIDE)
        bar(style, f"hold-{n}", row, hold.start_sample, hold.end_sample, _HOLD_LANE, 3)
        label = _hold_label(hold, hold.step in multi_rep)
        seconds = (hold.end_sample - hold.start_sample) / rate
        if label and seconds * inches_per_second >= _MIN_LABEL_INCHES:
            axes.text(
                (hold.start_sample + hold.end_sample) / 2 / rate,
                row + sum(_HOLD_LANE) / 2,
                label,
                ha="center",
                va="center",
                fontsize=8,
                fontweight="bold",
                color="white" if hold.side != "right" else "#3d2506",
                gid=f"hold-label-{n}",
                zorder=5,
            )

    unknown_roles: set[str] = set()
    for n, cue in enumerate(script.cues):
        known = _ROLE_STYLES.get(cue.role)
        if known is None:
            unknown_roles.add(cue.role)
        style = known or _OTHER
        row = _row_of(cue, script)
        if style.marker is None:
            bar(style, f"cue-{n}", row, cue.start_sample, cue.end_sample, _SPEECH_LANE, 3)
        else:
            mark(style, f"cue-{n}", row, cue.start_sample)

    handles = []
    for style in used:
        label = style.label
        if style is _OTHER:
            label = f"{label} ({', '.join(sorted(unknown_roles))})"
        if style.marker is None:
            handles.append(
                mpl.Patch(
                    facecolor=style.color, edgecolor=style.edge, hatch=style.hatch, label=label
                )
            )
        else:
            handles.append(
                mpl.Line2D(
                    [], [], marker=style.marker, color=style.color, linestyle="none", label=label
                )
            )
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 5),
        frameon=False,
        fontsize=8,
    )
    return figure
