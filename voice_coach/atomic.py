"""Writing outputs safely: a temp file beside the target, then a rename, over regular
files only, and never over an input of the same command.

A reader, or a user whose export is interrupted, sees either the old file or the
complete new one, never a half-written file. Renaming over a device node, a named
pipe or a socket would replace it (as root, ``/dev/null`` itself), so only new paths
and regular files are ever targets. And before any work, a command's outputs are
checked against its inputs and against each other (:func:`check_distinct`), so
``--timeline routine.yaml`` cannot destroy the routine, nor two outputs that are one
file lose one of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import SameFileError, TargetError
from .inputs import not_regular

#: The longest file name most file systems take, in bytes.
MAX_NAME_BYTES = 255
#: What a temp name adds to the target's: "." before, ".XXXXXXXX.part" after, then the
#: extension (mkstemp's random part is 8 characters).
_TEMP_AFFIXES = len(".") + len(".XXXXXXXX") + len(".part")


def check_target(path: str | Path) -> None:
    """Raise :class:`TargetError` now if ``path`` could not be written later.

    A target is a new file in an existing folder, or an existing regular file (a link
    is followed to the file it names). Folders, devices, named pipes and sockets are
    refused, and so are names the file system would refuse.
    """
    name = os.fspath(path)
    if "\x00" in name:
        raise TargetError(f"{name!r}: a file name cannot hold a NUL character")
    component = os.path.basename(name.rstrip("/" + os.sep)) or name
    if len(os.fsencode(component)) > MAX_NAME_BYTES:
        raise TargetError(
            f"{name}: the file name is {len(os.fsencode(component))} bytes long; "
            f"file systems take at most {MAX_NAME_BYTES}, so choose a shorter one"
        )
    try:
        found = os.stat(name)
    except FileNotFoundError:
        _check_folder(name)
        return
    except OSError as error:
        raise TargetError(_cannot_write(name, error)) from None
    if stat.S_ISDIR(found.st_mode):
        raise TargetError(f"{name}: is a folder; give a file name inside it")
    kind = not_regular(found.st_mode)
    if kind is not None:
        raise TargetError(
            f"{name}: this is {kind}; voice-coach only replaces regular files, "
            "so give the name of a file"
        )


def _check_folder(name: str) -> None:
    """The folder a new file would go in must exist (a dangling link's, its target's)."""
    folder = os.path.dirname(os.path.realpath(name)) or "."
    try:
        if stat.S_ISDIR(os.stat(folder).st_mode):
            return
    except FileNotFoundError:
        pass
    except OSError as error:
        raise TargetError(_cannot_write(folder, error)) from None
    shown = os.path.dirname(name) or folder
    raise TargetError(f"{shown}: no such folder; create it first")


def _cannot_write(name: str, error: OSError) -> str:
    if error.errno == errno.ENAMETOOLONG:
        return f"{name}: the path is too long for this system; choose a shorter one"
    if error.errno == errno.ENOTDIR:
        return f"{name}: a part of the path is a file, not a folder"
    return f"{name}: cannot write there ({error.strerror})"


def file_identity(path: str | Path) -> tuple:
    """What makes two paths the same file: device and inode when it exists (so links
    and different spellings agree), else its real, case-normalised path."""
    name = os.fspath(path)
    with contextlib.suppress(OSError, ValueError):
        found = os.stat(name)
        return ("inode", found.st_dev, found.st_ino)
    return ("path", os.path.normcase(os.path.realpath(name)))


def check_distinct(
    outputs: Iterable[tuple[str, str | Path | None]],
    inputs: Iterable[tuple[str, str | Path | None]] = (),
) -> None:
    """Refuse, before any work, an output that is one of the command's inputs or the same
    file as another of its outputs.

    ``outputs`` and ``inputs`` are (what, path) pairs, ``what`` as the user gave it
    ("-o", "--timeline", "the routine"); paths that are None are skipped.

    Raises
    ------
    SameFileError
        Naming both and saying what to do (exit code 2).
    """
    seen_inputs: dict[tuple, tuple[str, str]] = {}
    for what, path in inputs:
        if path is not None:
            seen_inputs.setdefault(file_identity(path), (what, os.fspath(path)))
    seen_outputs: dict[tuple, tuple[str, str]] = {}
    for what, path in outputs:
        if path is None:
            continue
        name = os.fspath(path)
        identity = file_identity(name)
        if identity in seen_inputs:
            source, source_name = seen_inputs[identity]
            raise SameFileError(
                f"{name}: {what} would write over {source} ({source_name}); "
                "give the output another name"
            )
        if identity in seen_outputs:
            other, other_name = seen_outputs[identity]
            same = "" if other_name == name else f" ({other_name})"
            raise SameFileError(
                f"{name}: {what} and {other}{same} are the same file, so one would be lost; "
                "give each its own name"
            )
        seen_outputs[identity] = (what, name)


@contextlib.contextmanager
def atomic_target(path: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success rename it over ``path``.

    With ``keep_existing``, a file already at ``path`` (written meanwhile by another
    process) is kept and the temp file dropped: for caches, where every reader must see
    one content under one name, whichever process wrote it first.

    On any exception (Ctrl-C and SIGTERM included) the temp file is removed and
    ``path`` is left as it was. The temp name keeps the target's extension, so
    libraries that pick a format from the name still work, and stays within the
    file system's name limit. An OSError about the temp file names ``path``, the file
    the user knows.

    Raises
    ------
    TargetError
        When ``path`` is a folder, a device, a named pipe or a socket: only regular
        files are replaced.
    """
    # Through a symlink to the file it names, so the link survives and points at the
    # new file; an existing file keeps its permissions.
    check_target(path)
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(target.stat().st_mode) if target.is_file() else None
    stem, suffix = _temp_stem(target)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{stem}.", suffix=f".part{suffix}", dir=target.parent
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        # mkstemp makes the file private (0600); give it the mode the file it replaces
        # had, or the one a plain open() would.
        os.chmod(temp, mode if mode is not None else 0o666 & ~_current_umask())
        check_target(target)  # the path may have become a pipe or a device meanwhile
        if keep_existing:
            _publish_once(temp, target)
        else:
            os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(error, OSError):
            for attribute in ("filename", "filename2"):
                if getattr(error, attribute, None) in (temp_name, temp):
                    setattr(error, attribute, os.fspath(path))
        raise


def _publish_once(temp: Path, target: Path) -> None:
    """Give ``target`` the content of ``temp`` unless it exists; ``temp`` is gone after.

    A hard link fails where a file is, where a rename would replace it. Where the file
    system has no hard links (FAT, some network shares), the rename it is.
    """
    try:
        os.link(temp, target)
    except FileExistsError:
        pass
    except OSError:
        os.replace(temp, target)
        return
    temp.unlink()


def _temp_stem(target: Path) -> tuple[str, str]:
    """The temp file's stem and suffix: the target's, cut so the temp name fits in
    :data:`MAX_NAME_BYTES` whatever the target's own length (file names are bytes)."""
    suffix = target.suffix if len(os.fsencode(target.suffix)) <= 16 else ""
    room = MAX_NAME_BYTES - _TEMP_AFFIXES - len(os.fsencode(suffix))
    return os.fsdecode(os.fsencode(target.stem)[:room]) or "vc", suffix


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
