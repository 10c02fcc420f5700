"""The native recording: one folder per night, crash-safe, in open formats.

Layout of a recording folder (documented for users in ``recordings/README.md``)::

    night-20261126-231502-1a2b3c4d/      (0700)
        meta.json                        format version, recording id, device, config
        frames-00000.arrow               Apache Arrow IPC *stream* parts (0600), one per
        frames-00001.arrow               ``part_s`` seconds (default 600 s = 10 min)
        notes.jsonl                      reconnects, gaps, clock pairs, status, errors

Each frames part holds the sensor's notifications exactly as they were received:

* ``rx_ns`` (int64): host receive time, UTC nanoseconds since the Unix epoch
  (``time.time_ns()``);
* ``raw`` (binary): the frame bytes as received (after reassembly of MTU-23 fragments);
  decoded samples can always be rebuilt from them with ``firmware_protocol.codec``;
* ``backfill`` (bool): the frame came from a resend request after a loss.

Why Arrow IPC streams: an open container that pyarrow, polars, DuckDB and arrow (R) read;
it is append-only (one record batch per flush), so a crash leaves a valid prefix followed
by at most one torn message, which :func:`read_part` recovers by reading batches until the
damage.  The writer flushes a record batch (and ``fsync``s the part) at least once per
second (``flush_s``), from :meth:`RecordingWriter.append_frame` and from a background
timer, so a ``kill -9`` loses at most the last second.

A full disk (``ENOSPC``) or any other ``OSError`` while writing stops the writer with a
:class:`~recordings.errors.UserError` naming the folder and the fix; what was written before
stays readable (a half-written batch is a torn tail).
"""

from __future__ import annotations

import errno
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from recordings import files
from recordings.errors import UserError

FORMAT_NAME = "nightcramp-recording"
#: Version of the folder format this code writes.  Readers refuse newer versions.
FORMAT_VERSION = 1
#: A night of several sensors (``recordings.night``): its top ``meta.json`` lists the
#: sensors, each one's frames are a version-1 recording in a sub-folder.
NIGHT_FORMAT_VERSION = 2

SCHEMA = pa.schema(
    [
        pa.field("rx_ns", pa.int64(), nullable=False),
        pa.field("raw", pa.binary(), nullable=False),
        pa.field("backfill", pa.bool_(), nullable=False),
    ],
    metadata={"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION)},
)

META_NAME = "meta.json"
NOTES_NAME = "notes.jsonl"
PART_RE = re.compile(r"^frames-(\d{5})\.arrow$")

#: Flush interval in s: the issue's crash-safety bound ("a kill -9 loses at most the last
#: second").  Flushing at 1 s means at most ~1 s of frames are only in memory.
FLUSH_S = 1.0
#: Part rotation interval in s of host time (10 min): a damaged part costs at most this.
PART_S = 600.0

WriteFn = Callable[[int, bytes], int]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _FdSink:
    """A minimal file object over an fd for pyarrow, with an injectable ``write``.

    ``write_fn`` defaults to :func:`os.write`; tests pass a function that raises
    ``OSError(ENOSPC)`` after N bytes to inject a real full-disk failure at the OS seam.
    """

    def __init__(self, fd: int, write_fn: WriteFn) -> None:
        self.fd = fd
        self._write = write_fn
        self.closed = False
        self.bytes_written = 0

    def write(self, data: Any) -> int:
        if self.closed:  # never write through a closed (possibly reused) fd number
            raise OSError(errno.EBADF, "write to a closed recording file")
        mv = memoryview(data).cast("B")
        done = 0
        while done < len(mv):
            n = self._write(self.fd, bytes(mv[done:]))
            if n <= 0:
                raise OSError(errno.EIO, "short write")
            done += n
        self.bytes_written += done
        return done

    def flush(self) -> None:
        pass

    def fsync(self) -> None:
        if not self.closed:
            os.fsync(self.fd)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


def _write_json_atomic(path: Path, obj: Any) -> None:
    data = (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()
    files.write_atomic(path, data)


def _disk_error(folder: Path, e: OSError) -> UserError:
    if e.errno == errno.ENOSPC:
        fix = (
            "free some disk space (or record to another disk with --out) and start a new recording"
        )
        what = "the disk is full"
    else:
        fix = "check the disk and its permissions, then start a new recording"
        what = f"write failed ({e.strerror or e})"
    return UserError(
        f"{folder}: {what}; recording stopped, everything written so far is kept and "
        f"replayable -- {fix}"
    )


class RecordingWriter:
    """Append-only writer of one night's recording folder.

    Create with :meth:`create`.  Thread-safe: :meth:`append_frame`, :meth:`note`,
    :meth:`flush` and :meth:`close` may be called from the recorder's event loop while
    the background flusher runs.
    """

    def __init__(
        self,
        folder: Path,
        meta: dict[str, Any],
        *,
        flush_s: float = FLUSH_S,
        part_s: float = PART_S,
        write_fn: WriteFn | None = None,
        background_flush: bool = True,
    ) -> None:
        self.folder = folder
        self.meta = meta
        self.recording_id: str = meta["recording_id"]
        self.flush_s = float(flush_s)
        # Flush early enough that, with the background check every _period s, no frame
        # waits longer than flush_s before it is written.
        self._period = min(0.1, self.flush_s / 4)
        self._interval = max(0.0, self.flush_s - 2 * self._period)
        self.part_s = float(part_s)
        self._write_fn: WriteFn = write_fn or os.write
        self._lock = threading.RLock()
        self._rx: list[int] = []
        self._raw: list[bytes] = []
        self._bf: list[bool] = []
        self._part_index = -1
        self._sink: _FdSink | None = None
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._part_started = 0.0
        self._last_flush = time.monotonic()
        self._closed = False
        self._error: UserError | None = None
        self.frames_written = 0
        self.frames_appended = 0
        notes_fd = os.open(
            folder / NOTES_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, files.FILE_MODE
        )
        self._notes = _FdSink(notes_fd, self._write_fn)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if background_flush:
            self._thread = threading.Thread(
                target=self._flusher, name=f"flush-{folder.name}", daemon=True
            )
            self._thread.start()

    # ----------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        root: str | os.PathLike[str],
        *,
        device: dict[str, Any],
        config: dict[str, Any],
        recording_id: str | None = None,
        created: datetime | None = None,
        folder_name: str | None = None,
        **kwargs: Any,
    ) -> RecordingWriter:
        """Create a new night folder under ``root`` (the application picks it: ``nightcramp.paths``).

        ``device``: identity (name, address, firmware, serial ...); ``config``: the
        sensor configuration (rates, ranges, channel sites ...).  Both JSON-serialisable.
        ``folder_name``: the folder's name instead of ``night-...`` (one sensor's folder
        inside a night of several sensors, ``recordings.night``).
        Extra keyword arguments go to the constructor (``flush_s``, ``part_s``,
        ``write_fn``, ``background_flush``).
        """
        base = Path(root)
        rid = recording_id or str(uuid.uuid4())
        created = created or _utc_now()
        name = folder_name or f"night-{created.strftime('%Y%m%d-%H%M%S')}-{rid.replace('-', '')[:8]}"
        try:
            files.make_private_dir(base)
            folder = base / name
            folder.mkdir(mode=files.DIR_MODE)
            os.chmod(folder, files.DIR_MODE)
            meta = {
                "format": FORMAT_NAME,
                "format_version": FORMAT_VERSION,
                "recording_id": rid,
                "created_utc": created.isoformat(),
                "device": device,
                "config": config,
                "rx_clock": "UTC ns since the Unix epoch (time.time_ns())",
            }
            _write_json_atomic(folder / META_NAME, meta)
        except FileExistsError:
            raise UserError(
                f"{base / name}: a recording with this name already exists -- "
                "use a new recording id"
            ) from None
        except OSError as e:
            raise _disk_error(base / name, e) from None
        w = cls(folder, meta, **kwargs)
        w.note("start", created_utc=meta["created_utc"])
        return w

    # ----------------------------------------------------------------- appending
    def append_frame(self, raw: bytes, rx_ns: int, backfill: bool = False) -> None:
        """Queue one received frame; flushes when the oldest queued frame is >= flush_s old."""
        with self._lock:
            self._check()
            self._rx.append(int(rx_ns))
            self._raw.append(bytes(raw))
            self._bf.append(bool(backfill))
            self.frames_appended += 1
            if time.monotonic() - self._last_flush >= self._interval:
                self._flush_locked()

    def note(self, kind: str, **fields: Any) -> None:
        """Append one line ``{"kind", "utc", ...fields}`` to notes.jsonl (written at once)."""
        rec = {"kind": kind, "utc": _utc_now().isoformat(), **fields}
        line = (json.dumps(rec, default=str, sort_keys=False) + "\n").encode()
        with self._lock:
            self._check()
            try:
                self._notes.write(line)
            except OSError as e:
                self._fail(e)

    def flush(self) -> None:
        """Write queued frames as one record batch and fsync the part."""
        with self._lock:
            self._check()
            self._flush_locked()

    def close(self) -> None:
        """Flush, end the open part with the Arrow end-of-stream marker, close files."""
        if self._closed:
            return
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            if self._closed:
                return
            try:
                if self._error is None:
                    self._flush_locked()
                    self._write_note_raw(
                        {
                            "kind": "close",
                            "utc": _utc_now().isoformat(),
                            "frames": self.frames_written,
                        }
                    )
                    self._close_part()
            finally:
                self._closed = True
                self._notes.close()
                if self._sink is not None:
                    self._sink.close()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._error is None or exc[0] is None:
            self.close()
        else:  # already failing: do not mask the original exception
            try:
                self.close()
            except UserError:
                pass

    # ----------------------------------------------------------------- internals
    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise UserError(f"{self.folder}: the recording is closed; start a new one")

    def _fail(self, e: OSError) -> None:
        self._error = _disk_error(self.folder, e)
        self._stop.set()
        self._release_fds()
        raise self._error

    def _release_fds(self) -> None:
        """Close the files after a write error (the data already written stays)."""
        self._writer = None
        for sink in (self._sink, self._notes):
            if sink is not None:
                try:
                    sink.close()
                except OSError:
                    pass
        self._sink = None

    def _write_note_raw(self, rec: dict[str, Any]) -> None:
        try:
            self._notes.write((json.dumps(rec, default=str) + "\n").encode())
        except OSError as e:
            self._fail(e)

    def _open_part(self) -> None:
        self._part_index += 1
        p = self.folder / f"frames-{self._part_index:05d}.arrow"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, files.FILE_MODE)
        self._sink = _FdSink(fd, self._write_fn)
        self._writer = ipc.new_stream(self._sink, SCHEMA)
        self._part_started = time.monotonic()
        files.fsync_dir(self.folder)

    def _close_part(self) -> None:
        if self._writer is not None:
            self._writer.close()  # writes the end-of-stream marker
            self._writer = None
        if self._sink is not None:
            self._sink.fsync()
            self._sink.close()
            self._sink = None

    def _flush_locked(self) -> None:
        self._last_flush = time.monotonic()
        if not self._rx:
            return
        try:
            if self._writer is not None and time.monotonic() - self._part_started >= self.part_s:
                self._close_part()
            if self._writer is None:
                self._open_part()
            batch = pa.record_batch(
                [
                    pa.array(self._rx, type=pa.int64()),
                    pa.array(self._raw, type=pa.binary()),
                    pa.array(self._bf, type=pa.bool_()),
                ],
                schema=SCHEMA,
            )
            assert self._writer is not None and self._sink is not None
            self._writer.write_batch(batch)
            self._sink.fsync()
        except OSError as e:
            self._fail(e)
        self.frames_written += len(self._rx)
        self._rx, self._raw, self._bf = [], [], []

    def _flusher(self) -> None:
        while not self._stop.wait(self._period):
            with self._lock:
                if self._closed or self._error is not None:
                    return
                if self._rx and time.monotonic() - self._last_flush >= self._interval:
                    try:
                        self._flush_locked()
                    except UserError:
                        return  # raised again on the next append/note/close


# ===================================================================== reading


@dataclass
class PartInfo:
    path: Path
    batches: int = 0
    frames: int = 0
    torn: bool = False
    """True when the part ends in a damaged message (crash or full disk): read up to it."""
    complete: bool = False
    """True when the part ends with the Arrow end-of-stream marker (closed cleanly)."""
    error: str = ""


@dataclass
class RecordingInfo:
    """What :func:`open_recording` found: metadata, notes, parts and counts."""

    path: Path
    meta: dict[str, Any]
    notes: list[dict[str, Any]]
    parts: list[PartInfo]
    recovered: list[str] = field(default_factory=list)
    """Human sentences about damage found and worked around (torn tails, bad note lines)."""

    @property
    def recording_id(self) -> str:
        return str(self.meta["recording_id"])

    @property
    def frames(self) -> int:
        return sum(p.frames for p in self.parts)

    @property
    def closed_cleanly(self) -> bool:
        return any(n.get("kind") == "close" for n in self.notes)

    def stats(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "parts": len(self.parts),
            "frames": self.frames,
            "torn_parts": sum(p.torn for p in self.parts),
            "closed_cleanly": self.closed_cleanly,
            "notes": len(self.notes),
        }


def iter_part_batches(part: PartInfo | Path) -> Iterator[pa.RecordBatch]:
    """Yield the record batches of one part, stopping silently at a torn tail."""
    path = part.path if isinstance(part, PartInfo) else part
    try:
        # Plain reads, not a memory map: mapped pages would count as the process's memory
        # and grow with the night's length.
        src = pa.OSFile(str(path), "r")
    except OSError:
        return
    try:
        try:
            reader = ipc.open_stream(src)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError, ValueError):
            return
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError, ValueError):
                return
            yield batch
    finally:
        src.close()


def scan_part(path: Path) -> PartInfo:
    """Count the readable batches/frames of a part and tell whether its tail is torn."""
    info = PartInfo(path)
    try:
        size = path.stat().st_size
        src = pa.OSFile(str(path), "r")
    except OSError as e:
        info.torn, info.error = True, str(e)
        return info
    try:
        try:
            reader = ipc.open_stream(src)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError, ValueError) as e:
            info.torn, info.error = True, f"no readable schema ({size} bytes): {e}"
            return info
        if reader.schema.names[:3] != ["rx_ns", "raw", "backfill"]:
            info.error = f"unexpected columns {reader.schema.names}"
            info.torn = True
            return info
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                info.complete = src.tell() >= size - 8
                break
            except (pa.ArrowInvalid, pa.ArrowIOError, OSError, ValueError) as e:
                info.torn, info.error = True, str(e).splitlines()[0][:200]
                break
            info.batches += 1
            info.frames += batch.num_rows
        # A stream that simply stops after a whole batch (crash before the end marker) is
        # readable in full; call it torn only if bytes remain after the last good message.
        if not info.torn and not info.complete and src.tell() < size:
            info.torn = True
            info.error = f"{size - src.tell()} unreadable bytes at the end"
    finally:
        src.close()
    return info


def is_recording(path: Path) -> bool:
    return (path / META_NAME).is_file()


def read_meta(path: Path) -> dict[str, Any]:
    """Read and check ``meta.json``; ``UserError`` for non-recordings and newer formats."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder -- check the path")
    if not path.is_dir():
        raise UserError(
            f"{path}: not a recording folder (a recording is a folder with meta.json) -- "
            "pass a night-... folder, or an .edf/.bdf file to `cramp detect`"
        )
    mp = path / META_NAME
    if not mp.is_file():
        raise UserError(
            f"{path}: not a nightcramp recording (no {META_NAME}) -- pass a night-... "
            "folder made by `cramp record`"
        )
    try:
        meta = json.loads(mp.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(
            f"{mp}: unreadable metadata ({str(e).splitlines()[0]}) -- the folder is damaged; "
            "restore meta.json from a backup"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise UserError(
            f"{mp}: not a nightcramp recording (format is {meta.get('format') if isinstance(meta, dict) else None!r}) "
            "-- pass a folder made by `cramp record`"
        )
    ver = meta.get("format_version")
    if not isinstance(ver, int):
        raise UserError(f"{mp}: format_version {ver!r} is not a number -- the file is damaged")
    # version 2 is a night of several sensors (a list of them, each a version-1 folder)
    night = ver == NIGHT_FORMAT_VERSION and isinstance(meta.get("sensors"), list)
    if ver > FORMAT_VERSION and not night:
        raise UserError(
            f"{path}: recording format version {ver} is newer than this nightcramp understands "
            f"(<= {NIGHT_FORMAT_VERSION}) -- upgrade nightcramp (pip install -U nightcramp)"
        )
    if "recording_id" not in meta:
        raise UserError(f"{mp}: no recording_id -- the file is damaged")
    return meta


def read_notes(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    notes: list[dict[str, Any]] = []
    problems: list[str] = []
    np_ = path / NOTES_NAME
    try:
        data = np_.read_bytes()
    except FileNotFoundError:
        return notes, problems
    lines = data.split(b"\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            if isinstance(rec, dict):
                notes.append(rec)
                continue
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
        problems.append(f"{np_.name} line {i}: unreadable (torn write), skipped")
    return notes, problems


def list_parts(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if PART_RE.match(p.name))


def open_recording(path: str | os.PathLike[str], *, record_recovery: bool = True) -> RecordingInfo:
    """Open a recording folder: check its metadata, read notes, scan parts.

    A torn part tail (crash, full disk) is never fatal: the readable prefix is used and
    a ``recovered`` note is appended to notes.jsonl once per damaged part (when the
    folder is writable and ``record_recovery``).
    """
    p = Path(path)
    meta = read_meta(p)
    notes, problems = read_notes(p)
    parts = [scan_part(pp) for pp in list_parts(p)]
    info = RecordingInfo(p, meta, notes, parts, recovered=list(problems))
    already = {n.get("part") for n in notes if n.get("kind") == "recovered"}
    for part in parts:
        if part.torn:
            msg = (
                f"{part.path.name}: torn tail after {part.batches} batches / {part.frames} "
                f"frames ({part.error}); read up to the damage"
            )
            info.recovered.append(msg)
            if record_recovery and part.path.name not in already:
                rec = {
                    "kind": "recovered",
                    "utc": _utc_now().isoformat(),
                    "part": part.path.name,
                    "frames_kept": part.frames,
                    "detail": part.error,
                }
                try:
                    fd = os.open(
                        p / NOTES_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, files.FILE_MODE
                    )
                    try:
                        os.write(fd, (json.dumps(rec) + "\n").encode())
                    finally:
                        os.close(fd)
                    info.notes.append(rec)
                except OSError:
                    pass  # read-only medium: the recovery still happens in memory
    return info


def iter_frames(info: RecordingInfo) -> Iterator[pa.RecordBatch]:
    """All readable record batches of a recording, parts in order."""
    for part in info.parts:
        yield from iter_part_batches(part)


# ===================================================================== replay source

#: Frames per decode call in replay (an Arrow batch is ~1 s of frames; this joins small
#: batches so decode_batch's vectorisation pays off).  Bounded memory: ~ 1 MB of frames.
REPLAY_FRAMES = 4096


class RecordingSource:
    """A saved recording as a :class:`~detector.stream.Source`.

    Reads the parts in order, batch by batch (bounded memory), and replays the frames,
    in the order they were received and with their receive times, through a fresh
    :class:`~recordings.assemble.FrameAssembler` -- the same one the live recorder uses --
    so a replay yields the chunks and gaps, and therefore the events, of the live run.
    """

    def __init__(self, path: str | os.PathLike[str], *, info: RecordingInfo | None = None) -> None:
        self.info = info or open_recording(path)
        self.path = self.info.path
        self.recording_id = self.info.recording_id
        self.assembler = self._new_assembler()
        probe = self._new_assembler()
        for raws, rx in self._frames():
            probe.push_many(raws, rx)
            if probe.layout is not None:
                break
        if probe.layout is None:
            raise UserError(
                f"{self.path}: the recording holds no readable data frame -- nothing to replay "
                "(was the sensor streaming?)"
            )
        self.layout = probe.layout

    def _new_assembler(self):  # noqa: ANN202
        from recordings.assemble import FrameAssembler

        return FrameAssembler(
            config=self.info.meta.get("config") or {}, device=self.info.meta.get("device") or {}
        )

    def _frames(self) -> Iterator[tuple[list[bytes], Any]]:
        """(raw frames, rx_ns) in groups of about REPLAY_FRAMES, in the received order."""
        raws: list[bytes] = []
        rxs: list[Any] = []
        n = 0
        for batch in iter_frames(self.info):
            for off in range(0, batch.num_rows, REPLAY_FRAMES):
                sl = batch.slice(off, REPLAY_FRAMES)
                raws.extend(sl.column("raw").to_pylist())
                rxs.append(sl.column("rx_ns").to_numpy())
                n += sl.num_rows
                if n >= REPLAY_FRAMES:
                    yield raws, (rxs[0] if len(rxs) == 1 else _concat(rxs))
                    raws, rxs, n = [], [], 0
        if raws:
            yield raws, (rxs[0] if len(rxs) == 1 else _concat(rxs))

    def chunks(self) -> Iterator[Any]:
        """The assembler's output: the live run's chunks (cut on the same timeline grid)."""
        self.assembler = asm = self._new_assembler()
        for raws, rx in self._frames():
            yield from asm.push_many(raws, rx)
        yield from asm.finish()

    def wall_time(self, t_s: float) -> datetime | None:
        return self.assembler.wall_time(t_s)

    @property
    def stats(self) -> dict[str, Any]:
        return {**self.info.stats(), **self.assembler.stats}


def _concat(arrs: list[Any]) -> Any:
    import numpy as np

    return np.concatenate(arrs)
