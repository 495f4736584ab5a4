"""What a background source (media keys, spoken commands) hands the player's loop:
player commands, and one-line notices for the view, each collected in one go."""

from __future__ import annotations

import contextlib
import queue

from .transport import Command


class Inbox:
    """Commands and notices put by one thread and collected by the player's loop."""

    def __init__(self) -> None:
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._notices: queue.SimpleQueue[str] = queue.SimpleQueue()

    def commands(self) -> list[Command]:
        """The player commands put since the last call."""
        return _drain(self._commands)

    def notices(self) -> list[str]:
        """The one-line notices for the view put since the last call."""
        return _drain(self._notices)


def _drain(items: queue.SimpleQueue) -> list:
    found = []
    with contextlib.suppress(queue.Empty):
        while True:
            found.append(items.get_nowait())
    return found
