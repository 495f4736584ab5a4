"""Live playback: one continuous output stream, with pause, skip, repeat and volume.

The player renders nothing of its own: it pulls spans from the Program's Mixer,
the same samples an export writes, into one sounddevice (PortAudio) output
stream. Because the stream never stops, the timeline cannot drift, and every
sample written before a pause is played: a paused hold resumes exactly where it
stopped. The terminal view follows the audio clock (the stream's DAC time of
each block), never a timer of its own. This is the only module that imports
sounddevice.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import functools
import os
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import numpy as np

from .errors import NoSoundDeviceError, OutputClosedError, PlaybackError
from .mixer import ClipKey, noise_floor
from .phrases import phrases_for
from .routine import Routine
from .script import (
    LEAD_IN_NUMBERS,
    PREROLL_SECONDS,
    SPEECH,
    Script,
    clock,
    countdown_phrase,
)

if TYPE_CHECKING:  # the pipeline (speech, sounds) is imported once the sound is running
    from .pipeline import Program

#: The one sample rate (speech.SAMPLE_RATE; not imported, to keep start-up light).
SAMPLE_RATE = 22050
#: Samples per callback block: 1024 at 22,050 Hz is 46 ms, so a control is heard
#: within one block plus the device latency.
BLOCK_SAMPLES = 1024
#: How often the view and the keyboard are polled, in seconds.
POLL_SECONDS = 0.05
#: "p" goes back to the start of the current step when this far into it.
BACK_TO_STEP_START_SECONDS = 3.0
VOLUME_STEP = 0.1
MAX_VOLUME = 2.0
#: Quiet between "Resuming." and "3"; the routine goes on one second after "1".
LEAD_IN_GAP_SECONDS = 0.4


def lead_in_audio(
    clips: dict[ClipKey, np.ndarray], sample_rate: int, language: str = "en"
) -> np.ndarray:
    """The float mono lead-in spoken on resume ("Resuming." in the routine's language,
    then 3, 2, 1), ending where the routine goes on."""
    resuming = clips[(SPEECH, phrases_for(language).resuming)]
    first_number = len(resuming) + round(LEAD_IN_GAP_SECONDS * sample_rate)
    total = first_number + len(LEAD_IN_NUMBERS) * sample_rate
    audio = np.zeros(total, dtype=np.float32)
    audio[: len(resuming)] = resuming
    for index, number in enumerate(LEAD_IN_NUMBERS):
        clip = clips[(SPEECH, countdown_phrase(number))][:sample_rate]
        start = first_number + index * sample_rate
        audio[start : start + len(clip)] = clip
    return audio


@dataclass(frozen=True)
class Block:
    """What one output block held: timeline samples from ``position``, or None (inserted
    or silence); ``inserted`` marks the player's own voice (lead-in, confirmations)."""

    output_start: int
    frames: int
    position: int | None
    inserted: bool = False


def _when_ready(control):
    """A Transport control: run under the lock, once a Program is attached."""

    @functools.wraps(control)
    def run(self: Transport) -> str:
        with self._lock:
            if self.script is None:
                return "still starting"
            return control(self)

    return run


class Transport:
    """Playback state: where in the timeline, paused or not, and what to output next.

    ``fill`` runs on the audio thread; the control methods run on the main thread.
    A lock keeps them apart, and every control takes effect at the next block.

    A Transport can start before its Program is ready: it then plays the pre-roll
    (which is only the noise floor, the same samples the Program would render) and
    waits in silence at its end. ``attach`` hands it the Program, or a Program of
    the first step only (``complete=False``), which is played up to the end of that
    step while the whole routine is prepared behind it.
    """

    def __init__(
        self,
        program: Program | None = None,
        *,
        sample_rate: int | None = None,
        channels: int = 1,
        volume: float = 1.0,
    ) -> None:
        self.rate = program.script.sample_rate if program else sample_rate
        if self.rate is None:
            raise ValueError("a Transport needs a Program or a sample rate")
        self.channels = program.channels if program else channels
        self.volume = volume
        self.position = 0
        self.paused = False
        self.finished = False
        self.output_index = 0
        self.blocks: deque[Block] = deque(maxlen=256)
        self.script: Script | None = None
        self.mixer = None
        self.complete = False
        self.ready_until = round(PREROLL_SECONDS * self.rate)
        #: Output index of the first sample after the last jump: earlier output is
        #: from before it, and may still be sounding.
        self.jumped_at_output = 0
        self._lock = threading.Lock()
        self._inserted: np.ndarray | None = None
        self._inserted_at = 0
        #: Where steps with ``pause_after_step`` end: playback waits there for a key.
        self._pause_points: list[int] = []
        self._waited_at: int | None = None
        #: Set (on the audio thread) when playback stops to wait after a step; the
        #: main loop says so once and clears it.
        self.waiting = False
        if program is not None:
            self.attach(program)

    def attach(self, program: Program, *, complete: bool = True) -> None:
        """Play ``program`` from the current position on (see the class notes)."""
        lead_in = lead_in_audio(program.clips, self.rate, program.script.language)
        turn_starts = _turn_starts(program.script)
        mixer = program.mixer()
        with self._lock:
            self.script, self.mixer = program.script, mixer
            self._lead_in, self._turn_starts = lead_in, turn_starts
            self._pause_points = [
                span.end_sample for span in program.script.steps[:-1] if span.pause_after
            ]
            self.complete = complete
            self.ready_until = (
                program.script.length_samples if complete else program.script.steps[0].end_sample
            )

    # ----------------------------------------------------------------- audio thread
    def fill(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples of output, int16 of shape (frames, channels)."""
        with self._lock:
            out = np.zeros((frames, self.channels), dtype=np.int16)
            done = 0
            while done < frames and not self.finished:
                done += self._fill_part(out[done:], frames - done)
            return out

    def _fill_part(self, out: np.ndarray, frames: int) -> int:
        """Fill the start of ``out``; return how many frames were filled."""
        if self.paused and self._inserted is None:
            self._log(frames, None)  # silence
            return frames
        if self._inserted is not None:  # plays even while paused: it says "Paused."
            piece = self._inserted[self._inserted_at : self._inserted_at + frames]
            pcm = np.rint(np.clip(piece * self.volume, -1, 1) * 32767).astype(np.int16)
            out[: len(piece)] = pcm[:, None]
            self._inserted_at += len(piece)
            if self._inserted_at >= len(self._inserted):
                self._inserted = None
            self._log(len(piece), None, inserted=True)
            return len(piece)
        stop = next(
            (
                p
                for p in self._pause_points
                if p > self.position or p == self.position != self._waited_at
            ),
            None,
        )
        if stop == self.position:
            # The end of a step that waits for the listener: pause as a key would.
            self.paused, self._waited_at, self.waiting = True, stop, True
            self._log(frames, None)
            return frames
        count = min(
            frames, (stop or self.ready_until) - self.position, self.ready_until - self.position
        )
        if count <= 0:  # the rest of the routine is still being prepared
            self._log(frames, None)
            return frames
        if self.mixer is None:
            pcm = noise_floor(self.position, count, self.rate)
        else:
            pcm = self.mixer.render(self.position, count, self.volume)
        out[:count] = pcm.reshape(count, -1)
        self._log(count, self.position)
        self.position += count
        if self.complete and self.position >= self.script.length_samples:
            self.finished = True
        return count

    def _log(self, frames: int, position: int | None, inserted: bool = False) -> None:
        self.blocks.append(Block(self.output_index, frames, position, inserted))
        self.output_index += frames

    # ----------------------------------------------------------------- controls
    @_when_ready
    def toggle_pause(self) -> str:
        """Pause, or resume with the spoken lead-in; returns what happened."""
        return self._set_paused(not self.paused)

    @_when_ready
    def pause(self) -> str:
        """Pause, unless paused already (media keys' Pause)."""
        return "already paused" if self.paused else self._set_paused(True)

    @_when_ready
    def resume(self) -> str:
        """Resume with the spoken lead-in, unless playing already (media keys' Play)."""
        return self._set_paused(False) if self.paused else "already playing"

    def _set_paused(self, paused: bool) -> str:
        if paused:
            self.paused = True
            self._inserted = None
            return "paused"
        self.paused = False
        self._inserted, self._inserted_at = self._lead_in, 0
        return "resumed"

    @_when_ready
    def next_step(self) -> str:
        """Jump to the start of the next step (or the closing, after the last)."""
        steps = self.script.steps
        current = self._step_index()
        if self.paused and self.position == self._waited_at:
            # Waiting after a step, at the next one's start: "next" goes on, as space does.
            self.paused = False
            self._inserted, self._inserted_at = self._lead_in, 0
            return f"to step {current + 1}"
        if current + 1 < len(steps):
            return self._jump(steps[current + 1].start_sample, f"step {current + 2}")
        return self._jump(steps[-1].end_sample, "the end")

    @_when_ready
    def previous_step(self) -> str:
        """Back to this step's start, or to the previous step's when just past the start."""
        steps = self.script.steps
        current = self._step_index()
        into = self.position - steps[current].start_sample
        if into > BACK_TO_STEP_START_SECONDS * self.rate or current == 0:
            return self._jump(steps[current].start_sample, f"step {current + 1}")
        return self._jump(steps[current - 1].start_sample, f"step {current}")

    @_when_ready
    def repeat_side(self) -> str:
        """Back to the start of the current side (its side cue), or of the step."""
        position = self.position
        step = self._step_index()
        starts = [
            start
            for start, hold_step in self._turn_starts
            if hold_step == step and start <= position
        ]
        target = starts[-1] if starts else self.script.steps[step].start_sample
        return self._jump(target, "the side again")

    def announce(self, audio: np.ndarray) -> None:
        """Say ``audio`` (float mono) before whatever plays next, even while paused;
        not over a lead-in that is about to play, which says enough."""
        with self._lock:
            if self._inserted is None:
                self._inserted, self._inserted_at = audio, 0

    def change_volume(self, delta: float) -> str:
        """Raise or lower the volume by ``delta`` (0 to 2; 1 is as rendered)."""
        with self._lock:
            self.volume = round(min(MAX_VOLUME, max(0.0, self.volume + delta)), 2)
            return f"volume {round(self.volume * 100)}%"

    def _jump(self, target: int, label: str) -> str:
        self.position = max(0, min(target, self.script.length_samples))
        self._inserted = None
        self._waited_at = None
        self.jumped_at_output = self.output_index
        return f"to {label}"

    def _step_index(self) -> int:
        position = self.position
        index = 0
        for span in self.script.steps:
            if span.start_sample <= position:
                index = span.step
        return index

    # ----------------------------------------------------------------- audio clock
    def position_at_output(self, output_index: float) -> int | None:
        """The timeline sample that output sample ``output_index`` carries, or None."""
        with self._lock:
            blocks = list(self.blocks)
        for block in reversed(blocks):
            if block.output_start <= output_index:
                if block.position is None:
                    return None
                offset = min(int(output_index - block.output_start), block.frames)
                return block.position + offset
        return 0


def _turn_starts(script: Script) -> list[tuple[int, int]]:
    """(start sample, step) of every side and rep: its side cue, or its hold."""
    side_cues = {
        (cue.step, cue.side, cue.rep): cue.start_sample for cue in script.cues if cue.role == "side"
    }
    return [
        (side_cues.get((hold.step, hold.side, hold.rep), hold.start_sample), hold.step)
        for hold in script.holds
    ]


# ------------------------------------------------------------------------- the view
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


# ------------------------------------------------------------------------- keyboard
KEYS = {
    " ": "pause",
    "n": "next",
    "\x1b[C": "next",
    "p": "previous",
    "\x1b[D": "previous",
    "r": "repeat",
    "+": "louder",
    "=": "louder",
    "-": "softer",
    "_": "softer",
    "q": "quit",
}


def parse_keys(data: str) -> list[str]:
    """The commands in a chunk of terminal input (arrow keys arrive as escape sequences)."""
    commands = []
    index = 0
    while index < len(data):
        if data.startswith("\x1b[", index) and index + 2 < len(data):
            key = data[index : index + 3]
            index += 3
        else:
            key = data[index]
            index += 1
        if key in KEYS:
            commands.append(KEYS[key])
    return commands


@contextlib.contextmanager
def keyboard(stream: TextIO | None) -> Iterator[int | None]:
    """Put a terminal into character-at-a-time mode; yield its fd, or None if not a TTY.

    The terminal's mode is restored however the block ends, Ctrl-C included.
    """
    if stream is None or not stream.isatty():
        yield None
        return
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_commands(fd: int | None, timeout: float, wake: int | None = None) -> list[str]:
    """Commands typed within ``timeout`` seconds (just waits when there is no keyboard).

    A byte on the ``wake`` file descriptor ends the wait early (and is read), so
    that commands from elsewhere, such as spoken ones, are applied at once.
    """
    watched = [each for each in (fd, wake) if each is not None]
    if not watched:
        time.sleep(timeout)
        return []
    ready, _, _ = select.select(watched, [], [], timeout)
    if wake is not None and wake in ready:
        os.read(wake, 64)
    if fd is None or fd not in ready:
        return []
    return parse_keys(os.read(fd, 64).decode(errors="ignore"))


# ------------------------------------------------------------------------- device
@contextlib.contextmanager
def _quiet_c_stderr() -> Iterator[None]:
    """Silence what ALSA's C library prints to fd 2 while devices are probed.

    Its multi-line "cannot find card" chatter would bury the one line we report.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _no_device(cause: str, routine_ref: str) -> NoSoundDeviceError:
    if "device -1" in cause:  # PortAudio found no output device at all
        cause = "no output device was found"
    return NoSoundDeviceError(
        f"no sound device (the default output could not be opened: {cause}); "
        f"to get the routine as a file instead, run "
        f"`voice-coach export {routine_ref} -o routine.wav`"
    )


def open_stream(transport: Transport, routine_ref: str):
    """An started output stream that pulls its audio from ``transport``."""
    try:
        with _quiet_c_stderr():
            import sounddevice
    except OSError as error:  # the PortAudio library itself is missing
        raise _no_device(f"PortAudio is not installed: {error}", routine_ref) from None
    clock_log: deque[tuple[float, int]] = deque(maxlen=256)

    def callback(outdata, frames, timing, status) -> None:
        start = transport.output_index
        outdata[:] = transport.fill(frames)
        dac = timing.outputBufferDacTime or timing.currentTime
        clock_log.append((dac, start))
        if transport.finished:
            raise sounddevice.CallbackStop

    try:
        stream = _started(
            sounddevice.OutputStream,
            samplerate=transport.rate,
            channels=transport.channels,
            blocksize=BLOCK_SAMPLES,
            callback=callback,
        )
    except (sounddevice.PortAudioError, ValueError) as error:
        raise _no_device(_cause(error), routine_ref) from None
    stream.clock_log = clock_log
    return stream


def open_microphone(rate: int, block_samples: int, callback):
    """A started mono int16 input stream from the default microphone (for ``--listen``).

    ``callback(samples, latency)`` gets each block of ``block_samples`` and how long
    ago, in seconds, its first sample was captured. Raises PlaybackError when no
    microphone can be opened.
    """
    try:
        with _quiet_c_stderr():
            import sounddevice
    except OSError as error:
        raise PlaybackError(f"no microphone: PortAudio is not installed ({error})") from None

    def on_block(indata, frames, timing, status) -> None:
        adc = timing.inputBufferAdcTime
        latency = timing.currentTime - adc if adc else frames / rate
        callback(indata[:, 0].copy(), latency)

    try:
        return _started(
            sounddevice.InputStream,
            samplerate=rate,
            channels=1,
            blocksize=block_samples,
            callback=on_block,
        )
    except (sounddevice.PortAudioError, ValueError) as error:
        raise PlaybackError(
            f"no microphone (the default input could not be opened: {_cause(error)}); "
            "play without --listen, or connect one"
        ) from None


def _started(stream_class, **options):
    """A started int16 PortAudio stream at low latency, ALSA's chatter silenced."""
    with _quiet_c_stderr():
        stream = stream_class(dtype="int16", latency="low", **options)
        stream.start()
    return stream


def _cause(error: Exception) -> str:
    """PortAudio's reason for ``error``, without its error-code suffix."""
    return str(error).split("[PaErrorCode")[0].strip() or "PortAudio error"


def audio_position(stream, transport: Transport) -> int | None:
    """The timeline sample being heard now, from the stream's DAC times."""
    try:
        now = stream.time
    except Exception:  # the stream has closed
        return transport.position
    for dac, output_start in reversed(stream.clock_log):
        if dac and dac <= now:
            heard = output_start + (now - dac) * transport.rate
            if heard < transport.jumped_at_output:
                return None  # the tail from before a jump is still sounding
            return transport.position_at_output(heard)
    return 0 if stream.clock_log else None


# ------------------------------------------------------------------------- play
def play(
    program: Program,
    stream: TextIO | None = None,
    routine_ref: str = "ROUTINE",
    *,
    plain: bool | None = None,
    volume: float = 1.0,
    keys: TextIO | None = None,
) -> None:
    """Play a prepared ``program`` on the default sound device until it ends or the
    user quits.

    Parameters
    ----------
    program:
        What to play.
    stream:
        Where the view goes (default stdout). A rich panel on a terminal; one line
        per cue (``plain``) elsewhere or when asked.
    routine_ref:
        How the user named the routine, for the hint in error messages.
    plain:
        Force the one-line-per-cue view (None: plain unless ``stream`` is a TTY).
    volume:
        Starting volume, 0 to 2 (1 is as rendered).
    keys:
        The keyboard (default stdin); controls work only when it is a terminal.

    Raises
    ------
    NoSoundDeviceError
        When no output device can be opened.
    PlaybackError
        When the device stops mid-routine. On Ctrl-C the sound stops at once, the
        terminal is restored and KeyboardInterrupt propagates.
    """
    transport = Transport(program, volume=volume)
    output = open_stream(transport, routine_ref)
    _run(transport, output, program.routine.name, stream, plain, keys)


def play_routine(
    routine: Routine,
    *,
    voice: str | None = None,
    rate: int | None = None,
    engine: str | None = None,
    deeper: bool = False,
    quiet: bool = False,
    pan: bool = False,
    stream: TextIO | None = None,
    routine_ref: str = "ROUTINE",
    plain: bool | None = None,
    volume: float = 1.0,
    keys: TextIO | None = None,
    listen: bool = False,
) -> None:
    """Play ``routine`` with the sound starting at once, before everything is ready.

    The output opens first and plays the pre-roll while the first step is
    prepared; the first step then plays while the rest of the routine is prepared
    in the background (with a cold clip cache, that is the speech synthesis). The
    audio is the same as :func:`play` of the whole prepared routine. ``voice``,
    ``rate`` and ``engine`` are as for ``speech.Speaker``; the other parameters as for :func:`play`
    and :func:`pipeline.prepare`. With ``listen``, spoken commands ("coach pause")
    on the default microphone control it too (see :mod:`listen`).
    """
    transport = Transport(sample_rate=SAMPLE_RATE, channels=2 if pan else 1, volume=volume)
    output = open_stream(transport, routine_ref)
    failures: list[BaseException] = []
    listener = None
    try:
        # Imported here, not at the top: the pre-roll is already playing meanwhile.
        from .pipeline import prepare, prepare_with_voice

        options = {"deeper": deeper, "quiet": quiet, "pan": pan}
        first_step = dataclasses.replace(routine, steps=routine.steps[:1])
        first, speaker = prepare_with_voice(
            routine,
            first_step,
            voice=voice,
            rate=rate,
            engine=engine,
            continues=len(routine.steps) > 1,
            **options,
        )
        transport.attach(first, complete=len(routine.steps) == 1)
        if listen:
            from .listen import Listener

            listener = Listener(transport, output, open_microphone, speaker, routine)
        if len(routine.steps) > 1:

            def prepare_the_rest() -> None:
                try:
                    transport.attach(prepare(routine, speaker, **options))
                except BaseException as error:  # reported by the main loop
                    failures.append(error)

            threading.Thread(target=prepare_the_rest, daemon=True).start()
    except BaseException:
        _close(output)
        raise
    _run(transport, output, routine.name, stream, plain, keys, failures, listener)


def _run(
    transport: Transport,
    output,
    title: str,
    stream: TextIO | None,
    plain: bool | None,
    keys: TextIO | None,
    failures: list[BaseException] | None = None,
    listener=None,
) -> None:
    """The main loop: keys in, view out, until the routine ends, fails or is quit."""
    out = stream if stream is not None else sys.stdout
    keys = keys if keys is not None else sys.stdin
    use_plain = plain if plain is not None else not out.isatty()
    view = PlainView(transport.script, out) if use_plain else RichView(transport.script, title, out)
    # Imported here: the sound is already playing, so its import costs no start-up time.
    from .mpris import MediaControls

    media = MediaControls(transport, title)
    media.start()
    try:
        # PortAudio's ALSA code prints assertion lines from its audio thread when a
        # device dies, and again on closing it; our one-line report comes after.
        with _quiet_c_stderr():
            try:
                if listener is not None:
                    listener.start()
                with keyboard(keys) as fd:
                    _loop(transport, output, view, fd, failures or [], media, listener)
            finally:
                _close(output, drain=transport.finished)
    finally:
        if listener is not None:
            listener.close()
        media.close()
        view.close()


def _loop(
    transport: Transport, output, view, fd: int | None, failures: list, media, listener=None
) -> None:
    while True:
        if failures:
            raise failures[0]
        if transport.waiting:
            transport.waiting = False
            view.event("step done, waiting: press space to go on")
        wake = listener.wake_fd if listener else None
        typed = read_commands(fd, POLL_SECONDS, wake)
        # Commands first, then notices: what was heard is queued before the command
        # it gave, so it is reported before it.
        spoken = listener.commands() if listener else []
        for notice in media.notices() + (listener.notices() if listener else []):
            view.event(notice)
        for command in typed + media.commands() + spoken:
            if command == "quit":
                view.event("quit")
                return
            view.event(_apply(transport, command))
            if command in ("next", "previous", "repeat"):
                view.seek(transport.position)
                media.seek(transport.position)
        if spoken:  # confirmed once applied: a jump would cut the confirmation short
            listener.confirm(spoken[-1])
        view.script = transport.script
        position = audio_position(output, transport)
        if position is None and transport.paused:
            position = transport.position  # where resuming will start
        view.update(position, transport.paused, transport.volume)
        media.follow(position)
        if not output.active:
            if transport.finished:
                break
            raise PlaybackError(
                "the sound device stopped in the middle of the routine; "
                "check the output device and start again"
            )
    view.update(transport.script.length_samples, False, transport.volume)


def _close(output, drain: bool = False) -> None:
    """Close the stream: at the routine's end let the device play out what it holds;
    otherwise (quit, Ctrl-C, errors) stop the sound at once."""
    with contextlib.suppress(Exception):
        if drain:
            output.stop()
        else:
            output.abort()
        output.close()


def _apply(transport: Transport, command: str) -> str:
    if command == "pause":
        return transport.toggle_pause()
    if command == "resume":  # media keys' Play
        return transport.resume()
    if command == "pause-only":  # media keys' Pause
        return transport.pause()
    if command == "next":
        return transport.next_step()
    if command == "previous":
        return transport.previous_step()
    if command == "repeat":
        return transport.repeat_side()
    if command == "louder":
        return transport.change_volume(VOLUME_STEP)
    return transport.change_volume(-VOLUME_STEP)
