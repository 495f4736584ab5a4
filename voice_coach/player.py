"""Live playback through simpleaudio, with a one-line terminal view.

The player renders nothing of its own: it plays the Program's mixer blocks, the
same audio an export writes. This is the only module that imports simpleaudio.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from typing import TextIO

import numpy as np

from .errors import NoSoundDeviceError, PlaybackError
from .pipeline import Program
from .script import Script, clock

#: How often the terminal view is refreshed, in seconds.
VIEW_INTERVAL = 0.1


def status_at(script: Script, sample: int) -> tuple[str, str]:
    """What the terminal shows at ``sample``: (a key that changes per phase, the full line).

    The key leaves out the ticking seconds, so a non-terminal log can print one
    line per phase.
    """
    rate = script.sample_rate
    left_total = clock((script.length_samples - sample) / rate)
    span = next((s for s in script.steps if s.start_sample <= sample < s.end_sample), None)
    if span is None:
        phase = "starting" if sample < script.steps[0].start_sample else "finishing"
        return phase, f"{phase.capitalize()} · {left_total} to go"
    where = f"[{span.step + 1}/{len(script.steps)}] {span.name}"
    hold = next(
        (
            h
            for h in script.holds
            if h.step == span.step and h.start_sample <= sample < h.end_sample
        ),
        None,
    )
    if hold is not None:
        side = f" · {hold.side}" if hold.side else ""
        left = clock((hold.end_sample - sample) / rate)
        return f"{where}{side} hold", f"{where}{side} · hold {left} left · {left_total} to go"
    return where, f"{where} · {left_total} to go"


class TerminalView:
    """Shows playback progress: one rewritten line on a terminal, one line per phase otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.is_tty = stream.isatty()
        self.last_key: str | None = None
        self.drawn = False
        self.closed = False

    def show(self, key: str, line: str) -> None:
        """Display ``line``; ``key`` identifies the phase it belongs to."""
        if self.closed:
            return
        try:
            if self.is_tty:
                # Cut to the width: a wrapped line cannot be rewritten in place.
                width = shutil.get_terminal_size().columns - 1
                self.stream.write("\r\x1b[K" + line[: max(width, 10)])
                self.stream.flush()
                self.drawn = True
            elif key != self.last_key:
                self.stream.write(line + "\n")
                self.stream.flush()
        except BrokenPipeError:
            # The reader went away (``play | head``); keep playing, stop showing.
            self.closed = True
        self.last_key = key

    def close(self) -> None:
        """End the rewritten line so later output starts on a fresh one."""
        if self.is_tty and self.drawn and not self.closed:
            self.stream.write("\n")
            self.stream.flush()


@contextlib.contextmanager
def _quiet_c_stderr() -> Iterator[None]:
    """Silence what ALSA's C library prints to fd 2 while a device is opened.

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


def _start(pcm: np.ndarray, sample_rate: int, routine_ref: str):
    import simpleaudio

    try:
        with _quiet_c_stderr():
            return simpleaudio.play_buffer(pcm.tobytes(), 1, 2, sample_rate)
    except simpleaudio._simpleaudio.SimpleaudioError as error:
        cause = str(error).split("MSG:")[-1].strip() or str(error)
        raise NoSoundDeviceError(
            f"no sound device (the default output could not be opened: {cause}); "
            f"to get the routine as a file instead, run "
            f"`voice-coach export {routine_ref} -o routine.wav`"
        ) from None


def play(program: Program, stream: TextIO | None = None, routine_ref: str = "ROUTINE") -> None:
    """Play ``program`` to the default sound device, showing progress on ``stream``.

    ``routine_ref`` is how the user named the routine, for the hint in error messages.

    Blocks until the routine ends. On Ctrl-C the sound stops at once and
    KeyboardInterrupt propagates to the caller.

    Raises
    ------
    NoSoundDeviceError
        When no output device can be opened.
    """
    script = program.script
    view = TerminalView(stream if stream is not None else sys.stdout)
    # The whole routine is one buffer, played by one continuous stream: chaining
    # separate plays would add a gap (and drift) at every join.
    pcm = np.concatenate(list(program.blocks()))
    playing = _start(pcm, script.sample_rate, routine_ref)
    started = time.monotonic()
    try:
        while playing.is_playing():
            sample = min(round((time.monotonic() - started) * script.sample_rate), len(pcm) - 1)
            view.show(*status_at(script, sample))
            time.sleep(VIEW_INTERVAL)
        view.show("done", f"Done · {script.duration / 60:.1f} minutes")
    except KeyboardInterrupt:
        playing.stop()
        raise
    except Exception as error:
        playing.stop()
        raise PlaybackError(f"playback failed: {error}") from None
    finally:
        view.close()
