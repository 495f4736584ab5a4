"""Atomic file writes: a temp file beside the target, then a rename.

A reader, or a user whose export is interrupted, sees either the old file or
the complete new one, never a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it over ``path``.

    On any exception (Ctrl-C included) the temp file is removed and ``path`` is
    left as it was. The temp name keeps the target's extension, so libraries
    that pick a format from the name still work.
    """
    # Through a symlink to the file it names, so the link survives and points at the
    # new file; an existing file keeps its permissions.
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else None
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        # mkstemp makes the file private (0600); give it the mode the file it replaces
        # had, or the one a plain open() would.
        os.chmod(temp, mode if mode is not None else 0o666 & ~_current_umask())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
