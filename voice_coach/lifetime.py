"""The process's own lifetime: a worker process asking to be told when its parent dies."""

from __future__ import annotations

import contextlib
import sys

#: Linux's prctl option that sends a signal when the parent process dies.
_PR_SET_PDEATHSIG = 1


def signal_on_parent_death(signum: int) -> bool:
    """Have the kernel send this process ``signum`` when its parent dies, even by
    SIGKILL. Linux only: returns whether that was arranged (elsewhere the caller must
    look for the parent itself)."""
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    return False
