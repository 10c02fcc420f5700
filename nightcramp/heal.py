"""Finish nights a killed recorder left "recording" in the cramp log.

A recorder stopped by ``kill -9`` (or a power cut) leaves a recording folder that is
fine up to its last second, but never calls ``end_night``: the cramp log keeps the night
"recording" forever.  The next ``cramp record``, ``cramp summary`` or ``cramp log`` run
calls :func:`finish_killed_nights`, which, for every such night whose recorder is gone,

* re-detects the events from what the recording holds (the frames through the same
  frame assembler and detector as live, so the events are the live run's; a night of
  two sensors, one folder with a recording per leg, through a detector per leg),
* stores them with ``end_night`` (the night becomes ``complete``),
* and marks it interrupted: ``nights.interrupted_utc`` is the wall-clock time of the
  last data, which the summary reports.

Whether a recorder is gone: a recorder holds an exclusive ``flock`` on
``<folder>/.recorder.lock`` (:func:`hold`) for as long as its process lives; the kernel
drops it when the process dies, however it dies.  A folder without that lock file (a
recorder from before it) counts as gone once no file in it has changed for
:data:`STALE_S`.  Where a night's folder is: :func:`hold` also leaves a
pointer beside the cramp log, ``.<log file name>-recordings/<folder name>`` holding the
folder's path, so a night recorded with ``--out DIR`` is found from any later command on
that log; the recordings folder (``--out`` / ``NIGHTCRAMP_RECORDINGS`` / default) is
searched too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
import weakref
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from nightcramp import paths
from recordings import files
from recordings.errors import UserError

LOCK_NAME = ".recorder.lock"
#: A folder without a lock file whose newest file is older than this is no live night.
STALE_S = 600.0


def _pointer_dir(db: str | os.PathLike[str] | None) -> Path:
    p = paths.db_path(db)
    return p.with_name(f".{p.name}-recordings")


def hold(
    folder: str | os.PathLike[str], db: str | os.PathLike[str] | None = None, *, owner: Any = None
) -> int:
    """Mark ``folder`` as being recorded (into the log at ``db``) by this process: an
    exclusive lock released when the process ends, or when ``owner`` is collected.
    Returns the lock's file descriptor."""
    folder = Path(folder)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, files.FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as e:
        os.close(fd)
        raise UserError(
            f"{folder}: another recorder is writing this recording ({e.strerror})"
        ) from None
    if owner is not None:
        weakref.finalize(owner, os.close, fd)
    with contextlib.suppress(OSError):  # best effort: the recordings folder is searched too
        files.make_private_dir(_pointer_dir(db))
        files.write_atomic(_pointer_dir(db) / folder.name, f"{folder.resolve()}\n".encode())
    return fd


def is_live(folder: Path, now: float | None = None) -> bool:
    """Whether a recorder is still writing ``folder`` (see the module docstring)."""
    lock = folder / LOCK_NAME
    if lock.exists():
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            return True  # cannot tell: leave it alone
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # also releases the probe's own lock
        return False
    now = time.time() if now is None else now
    try:
        newest = max((p.stat().st_mtime for p in folder.iterdir()), default=0.0)
    except OSError:
        return True
    return now - newest < STALE_S


def find_folder(night_id: str, roots: Iterable[Path], db: Path | None = None) -> Path | None:
    """The recording folder of ``night_id``: a pointer left by :func:`hold`, else a
    ``night-*-<id8>`` folder under one of ``roots`` whose meta.json names the night."""
    from recordings.store import read_meta

    tag = night_id.replace("-", "")[:8]
    candidates: list[Path] = []
    with contextlib.suppress(OSError):
        for ptr in sorted(_pointer_dir(db).glob(f"night-*-{tag}")):
            with contextlib.suppress(OSError):
                candidates.append(Path(ptr.read_text(encoding="utf-8").strip()))
    for root in roots:
        with contextlib.suppress(OSError):
            candidates.extend(sorted(Path(root).glob(f"night-*-{tag}")))
    for c in candidates:
        try:
            if c.is_dir() and str(read_meta(c).get("recording_id")) == night_id:
                return c
        except (UserError, OSError, ValueError):
            continue
    return None


def _redetect(folder: Path) -> tuple[Any, Any, datetime | None]:
    """(NightResult, source, wall time of the last data) of a recording folder."""
    from detector.pipeline import run
    from detector.stream import Chunk, Gap
    from recordings.export import open_source

    src: Any = open_source(folder)  # ours, a BITalino/Ganglion night, or one per leg
    fs = src.layout.emg_fs
    last = 0.0

    def seen(item: Chunk | Gap) -> None:
        nonlocal last
        if not isinstance(item, Gap) and item.emg.shape[0]:
            last = max(last, item.emg_stop / fs)

    result = run(src, on_item=seen)  # a night of one sensor per leg: leg by leg
    return result, src, src.wall_time(last)


def finish_killed_nights(
    log: Any, recordings: str | os.PathLike[str] | None = None, *, err: IO[str] | None = None
) -> list[str]:
    """Finish every night of ``log`` left "recording" by a recorder that is gone.

    Returns (and prints to ``err``, default stderr) one line per night finished.  Nights
    whose folder is not found, or whose recorder still runs, are left as they are; a
    recording that cannot be read is reported, never raised.
    """
    from nightcramp.cramplog import utc_iso

    roots = list(dict.fromkeys([paths.recordings_dir(recordings), paths.recordings_dir(None)]))
    out = sys.stderr if err is None else err
    done: list[str] = []
    for night_id in log.unfinished_nights():
        folder = find_folder(night_id, roots, log.path)
        if folder is None or is_live(folder):
            continue
        try:
            result, src, last_utc = _redetect(folder)
        except UserError as e:  # e.g. killed before the first frame: nothing to detect
            log.mark_interrupted(night_id, None, close=True)
            msg = f"night {night_id}: its recorder stopped without finishing; closed empty: {e}"
            print(msg, file=out)
            done.append(msg)
            continue
        log.end_night(night_id, result, wall_time=src.wall_time)
        log.mark_interrupted(night_id, last_utc)
        n = sum(1 for e in result.events if e.kind == "cramp")
        when = utc_iso(last_utc) or "an unknown time"
        msg = (
            f"night {night_id}: its recorder stopped without finishing (last data "
            f"{when}); finished from {folder} ({n} cramp{'s' if n != 1 else ''})"
        )
        print(msg, file=out)
        done.append(msg)
        with contextlib.suppress(OSError):
            (_pointer_dir(log.path) / folder.name).unlink()
    return done


def finished(log: Any) -> Any:
    """``log`` after :func:`finish_killed_nights` (for ``with heal.finished(open(...))``)."""
    try:
        finish_killed_nights(log)
    except BaseException:
        log.close()
        raise
    return log


def finish_killed_nights_in(
    db: str | os.PathLike[str] | None, recordings: str | os.PathLike[str] | None = None
) -> list[str]:
    """:func:`finish_killed_nights` on the cramp log at ``db`` (opened and closed here)."""
    from nightcramp.cramplog import CrampLog

    with CrampLog.open(db) as log:
        return finish_killed_nights(log, recordings)
