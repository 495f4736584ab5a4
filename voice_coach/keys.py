"""The terminal's keys: character-at-a-time input, and the commands keys give."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterator
from typing import TextIO

from .transport import Command

#: The command each key gives (arrow keys arrive as escape sequences).
KEYS = {
    " ": Command.TOGGLE_PAUSE,
    "n": Command.NEXT,
    "\x1b[C": Command.NEXT,
    "p": Command.PREVIOUS,
    "\x1b[D": Command.PREVIOUS,
    "r": Command.REPEAT,
    "+": Command.LOUDER,
    "=": Command.LOUDER,
    "-": Command.SOFTER,
    "_": Command.SOFTER,
    "q": Command.QUIT,
}


def parse_keys(data: str) -> list[Command]:
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


def read_commands(fd: int | None, timeout: float, wake: int | None = None) -> list[Command]:
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
