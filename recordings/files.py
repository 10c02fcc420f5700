"""Owner-only files and folders for health data, and atomic replacement of small files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

#: Permission bits for folders and files holding health data: owner only.
DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and every missing parent owner-only (0700), whatever the umask.

    An existing ``path`` is tightened to 0700; existing parents are left as they are.
    """
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(d, DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path, mode: str = "ab"):  # noqa: ANN201 - returns a file object
    """Open ``path`` for writing, creating it with owner-only permissions."""
    flags = os.O_WRONLY | os.O_CREAT
    if "a" in mode:
        flags |= os.O_APPEND
    if "w" in mode:
        flags |= os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    return os.fdopen(fd, mode)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_target(path: Path, *, mode: int = FILE_MODE) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write; on success it replaces ``path`` atomically.

    For files written in a stream (EDF, Parquet): write the yielded path, and when the
    block ends without an exception the file is fsynced, given ``mode``, renamed over
    ``path`` and the folder fsynced, so a reader sees the old file or the whole new one.
    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old or the new file, never half.

    Written to a temporary sibling, fsynced, renamed over ``path``, the folder fsynced
    (:func:`atomic_target`).
    """
    with atomic_target(path, mode=mode) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        finally:
            os.close(fd)
