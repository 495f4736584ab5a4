"""What the live player shows: one line per cue (for screen readers and logs), or a
compact panel with a large countdown, both following the heard position."""

from __future__ import annotations

import bisect
from typing import TextIO

from .errors import OutputClosedError
from .script import SPEECH, Script, clock


class PlainView:
    """One line per cue as it sounds, plus one per control: for screen readers and logs."""

    def __init__(self, script: Script | None, stream: TextIO) -> None:
        self.script = script
        self.stream = stream
        self.next_cue = 0
        self.closed = False

    def seek(self, position: int) -> None:
        """The player jumped to ``position``: the next cue to print is the first from there."""
        if self.script is not None:
            self.next_cue = bisect.bisect_left(
                [cue.start_sample for cue in self.script.cues], position
            )

    def update(self, position: int | None, paused: bool, volume: float) -> None:
        """Print every cue that has started by ``position``."""
        if position is None or self.script is None:
            return
        cues = self.script.cues
        while self.next_cue < len(cues) and cues[self.next_cue].start_sample <= position:
            cue = cues[self.next_cue]
            when = clock(cue.start_sample / self.script.sample_rate)
            text = cue.text if cue.kind == SPEECH else f"[{cue.text} chime]"
            self.say(f"{when} {text}")
            self.next_cue += 1

    def event(self, message: str) -> None:
        """Report a control, such as "paused"."""
        self.say(f"({message})")

    def say(self, line: str) -> None:
        """Write one line; stop quietly once the reader has gone."""
        if self.closed:
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError, OutputClosedError):
            # The reader has gone, or the output was closed: the routine plays on.
            self.closed = True

    def close(self) -> None:
        """Nothing to tidy for plain output."""


class RichView:
    """A compact live panel: step x of n, name, side, a large hold countdown, next up,
    and a progress bar over the routine."""

    def __init__(self, script: Script | None, title: str, stream: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self.script = script
        self.title = title
        self.console = Console(file=stream)
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.live.start()
        self.message = ""
        self.position = 0

    def update(self, position: int | None, paused: bool, volume: float) -> None:
        """Redraw for the audio at ``position`` (None while paused or in the lead-in)."""
        if position is not None:
            self.position = position
        self.live.update(self._panel(self.position, paused, volume), refresh=True)

    def event(self, message: str) -> None:
        """Show the last control briefly under the panel."""
        self.message = message

    def seek(self, position: int) -> None:
        """Nothing to do: the panel is redrawn from the audio position."""

    def _panel(self, sample: int, paused: bool, volume: float):
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        if self.script is None:
            return Panel(Text("Starting…"), title=self.title, expand=False, width=64)
        script, rate = self.script, self.script.sample_rate
        span = next((s for s in script.steps if s.start_sample <= sample < s.end_sample), None)
        step = span.step if span else (0 if sample < script.steps[0].start_sample else None)
        hold = next((h for h in script.holds if h.start_sample <= sample < h.end_sample), None)
        grid = Table.grid(expand=True)
        if step is None:
            grid.add_row(Text("Finishing", style="bold"))
        else:
            name = script.steps[step].name
            grid.add_row(Text(f"Step {step + 1} of {len(script.steps)} · {name}", style="bold"))
        side_cue = next(
            (
                cue.text.rstrip(".")
                for cue in script.cues
                if hold
                and cue.role == "side"
                and (cue.step, cue.side, cue.rep) == (hold.step, hold.side, hold.rep)
            ),
            None,
        )
        grid.add_row(Text(side_cue or " ", style="cyan"))
        if hold:
            seconds = (hold.end_sample - sample + rate - 1) // rate
            grid.add_row(Text(big_digits(clock(seconds)), style="bold green"))
        else:
            grid.add_row(Text("\n\n", style="dim"))
        upcoming = (
            script.steps[step + 1].name
            if step is not None and step + 1 < len(script.steps)
            else "the end"
        )
        grid.add_row(Text(f"Next up: {upcoming}", style="dim"))
        bar = Table.grid(expand=True)
        bar.add_column(ratio=1)
        bar.add_column(justify="right")
        bar.add_row(
            ProgressBar(total=script.length_samples, completed=sample),
            f" {clock((script.length_samples - sample) / rate)} left",
        )
        grid.add_row(bar)
        state = "PAUSED" if paused else ""
        grid.add_row(Text(" · ".join(part for part in (state, self.message) if part) or " "))
        grid.add_row(
            Text(
                f"space pause · n/p step · r repeat · +/- vol {round(volume * 100)}% · q quit",
                style="dim",
            )
        )
        return Panel(grid, title=self.title, expand=False, width=64)

    def close(self) -> None:
        """Leave the last frame on screen and restore the cursor."""
        self.live.stop()


#: A three-row block font for the hold countdown.
_BIG = {
    "0": ("█▀█", "█ █", "▀▀▀"),
    "1": (" ▀█", "  █", "  ▀"),
    "2": ("▀▀█", "█▀▀", "▀▀▀"),
    "3": ("▀▀█", " ▀█", "▀▀▀"),
    "4": ("█ █", "▀▀█", "  ▀"),
    "5": ("█▀▀", "▀▀█", "▀▀▀"),
    "6": ("█▀▀", "█▀█", "▀▀▀"),
    "7": ("▀▀█", "  █", "  ▀"),
    "8": ("█▀█", "█▀█", "▀▀▀"),
    "9": ("█▀█", "▀▀█", "▀▀▀"),
    ":": (" ", "▀", " "),
}


def big_digits(text: str) -> str:
    """``text`` (digits and colons) drawn three rows high."""
    rows = ["", "", ""]
    for char in text:
        for row, part in enumerate(_BIG.get(char, ("   ", "   ", "   "))):
            rows[row] += part + " "
    return "\n".join(row.rstrip() for row in rows)
