"""Reading files that come from outside: regular files only, and never more than a limit.

Routines, configs, articles, sounds and voice files come from the internet or from a
careless command line. A named pipe would block forever, a device such as /dev/zero
never ends, and a huge file would be read whole before any check could look at it.
So every input is looked at with ``stat`` before it is opened (opening some devices
has effects of its own), opened without blocking, checked again on the open file
(the path may have changed in between), and read up to its limit and no further.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import InputFileError

#: What a file that is not regular is, by its type, for messages.
_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def describe_size(size: int) -> str:
    """A byte count as people read it: ``512 bytes``, ``64 KB``, ``2 MB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    megabytes = f"{size / (1024 * 1024):.1f}".removesuffix(".0")
    return f"{megabytes} MB"


def not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, if it is not a regular file or a folder."""
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return None


def open_input(path: str | Path, what: str) -> BinaryIO:
    """Open the regular file ``path`` for reading, binary, without ever blocking.

    ``what`` names the file in messages ("routine file", "sound file").

    Raises
    ------
    InputFileError
        For a missing file, a folder, a named pipe, a device or a socket, or a file
        that cannot be opened; ``reason`` says which, and what to give instead.
    """
    name = os.fspath(path)
    try:
        before = os.stat(name)
        _check_mode(before.st_mode, what, name)
        # O_NONBLOCK: if the path became a pipe since the stat, opening it still returns.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(name, flags)
    except InputFileError:
        raise
    except (OSError, ValueError) as error:
        missing = isinstance(error, FileNotFoundError)
        raise InputFileError(name, _reason(error, what), missing=missing) from None
    try:
        _check_mode(os.fstat(fd).st_mode, what, name)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: str | Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refused if there are more than ``limit``.

    The file's size is checked before reading, and the read stops one byte past the
    limit whatever the size said (files in /proc report 0), so memory is bounded.

    Raises
    ------
    InputFileError
        As :func:`open_input` does, and for a file larger than ``limit``.
    """
    with open_input(path, what) as source:
        try:
            size = os.fstat(source.fileno()).st_size
            if size > limit:
                raise InputFileError(os.fspath(path), too_large(what, limit, size))
            data = source.read(limit + 1)
        except OSError as error:
            raise InputFileError(os.fspath(path), _reason(error, what)) from None
    if len(data) > limit:
        raise InputFileError(os.fspath(path), too_large(what, limit))
    return data


def too_large(what: str, limit: int, size: int | None = None) -> str:
    """The reason given for an input over its size limit."""
    found = f" ({describe_size(size)})" if size is not None else ""
    return f"the {what} is larger than {describe_size(limit)}{found}, more than any {what} needs"


def _check_mode(mode: int, what: str, name: str) -> None:
    if stat.S_ISDIR(mode):
        raise InputFileError(name, f"this is a folder; give the path of a {what}")
    kind = not_regular(mode)
    if kind is not None:
        raise InputFileError(
            name, f"this is {kind}, not a regular file; save the {what} as a file and give that"
        )


def _reason(error: Exception, what: str) -> str:
    if isinstance(error, ValueError):  # a NUL in the path
        return "the path holds a NUL character; give the file's real name"
    if isinstance(error, FileNotFoundError):
        return f"no such {what}; check the path"
    if isinstance(error, IsADirectoryError):
        return f"this is a folder; give the path of a {what}"
    if isinstance(error, OSError) and error.errno == errno.ENAMETOOLONG:
        return "the file name is too long for this system"
    strerror = getattr(error, "strerror", None) or str(error)
    return f"cannot read the {what} ({strerror})"
