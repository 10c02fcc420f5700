"""Cohorts: many nights through the one detector on a Dask cluster, into a Parquet dataset.

One night is one Dask task (:func:`process_night`): it opens the file with
:func:`recordings.export.open_source` and runs it through :func:`detector.pipeline.run`,
the code path of ``cramp detect``, so a night's events are exactly those of
``cramp detect --json`` on that file.  The task sends back only the night's event rows
and its one summary row (never samples); the client writes each finished night at once
as its own Parquet part, atomically (temporary name, fsync, rename):

    OUT/events/night-<key>.parquet    one row per event       (:data:`EVENTS_SCHEMA`)
    OUT/nights/night-<key>.parquet    one row per night        (:data:`NIGHTS_SCHEMA`)
    OUT/errors/night-<key>.parquet    one row per failed night (:data:`ERRORS_SCHEMA`)

``<key>`` is derived from the night's absolute path, so a night has at most one part in
each folder.  A night counts as done when its ``nights/`` part exists: that part is
written last.  Resume (see :func:`plan`): a night whose ``nights/`` row (or ``input``
error) has the same file hash, detector version and channel options is skipped; a
changed file, detector or channel choice is redone; nights that failed because their
worker died are retried.  A killed batch loses only the nights in flight.

Dask is an optional dependency (``pip install 'nightcramp[batch]'``); it is imported
lazily so the rest of the application never needs it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import resource
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from concurrent.futures import as_completed as as_completed_threads
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from recordings.errors import UserError
from recordings.files import make_private_dir, write_atomic

#: Suffixes of EDF/EDF+/BDF files found when a folder is searched.
NIGHT_SUFFIXES = (".edf", ".bdf")
#: Suffixes of text files that list inputs, one a line.
LIST_SUFFIXES = (".txt", ".lst", ".list")
#: Default memory limit per local worker: several times a night's peak (< 300 MB).
DEFAULT_MEMORY_LIMIT = "2GiB"
#: Smallest memory limit per worker accepted: a worker peaks at ~255 MB (bench_batch).
MIN_MEMORY_LIMIT = 512 * 2**20
#: Client threads writing finished nights' parts.
WRITERS = 4
#: Bytes read at a time when hashing a file.
HASH_BLOCK = 1 << 20
SCHEMA_VERSION = "1"

_TS = pa.timestamp("us", tz="UTC")

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("night", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("file_hash", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("subtype", pa.string()),
        pa.field("start_s", pa.float64(), nullable=False),
        pa.field("end_s", pa.float64(), nullable=False),
        pa.field("start_utc", _TS),
        pa.field("end_utc", _TS),
        pa.field("duration_s", pa.float64(), nullable=False),
        pa.field("peak_uv", pa.float64()),
        pa.field("mean_uv", pa.float64()),
        pa.field("peak_x_rest", pa.float64()),
        pa.field("mean_x_rest", pa.float64()),
        pa.field("channels", pa.list_(pa.string())),
        pa.field("confidence", pa.float64()),
        pa.field("reason", pa.string()),
        pa.field("context", pa.string()),
        pa.field("detector_version", pa.string(), nullable=False),
    ],
    metadata={b"nightcramp.table": b"events", b"nightcramp.schema": SCHEMA_VERSION.encode()},
)

NIGHTS_SCHEMA = pa.schema(
    [
        pa.field("night", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("file_hash", pa.string(), nullable=False),
        pa.field("file_bytes", pa.int64(), nullable=False),
        pa.field("file_mtime_ns", pa.int64(), nullable=False),
        pa.field("channels_option", pa.string(), nullable=False),
        pa.field("source_kind", pa.string(), nullable=False),
        pa.field("start_utc", _TS),
        pa.field("duration_s", pa.float64(), nullable=False),
        pa.field("recorded_s", pa.float64(), nullable=False),
        pa.field("coverage_pct", pa.float64()),
        pa.field("gap_s", pa.float64(), nullable=False),
        pa.field("n_gaps", pa.int32(), nullable=False),
        pa.field("electrode_off_s", pa.float64(), nullable=False),
        pa.field("sleep_s", pa.float64()),
        pa.field("wake_s", pa.float64()),
        pa.field("cramps", pa.int32(), nullable=False),
        pa.field("plm_count", pa.int32(), nullable=False),
        pa.field("plm_index_per_h", pa.float64()),
        pa.field("plm_index_per", pa.string()),
        pa.field("n_events", pa.int32(), nullable=False),
        pa.field("emg_labels", pa.list_(pa.string())),
        pa.field("emg_fs", pa.float64()),
        pa.field("acc_fs", pa.float64()),
        pa.field("detector_version", pa.string(), nullable=False),
        pa.field("seconds", pa.float64(), nullable=False),
        pa.field("cpu_s", pa.float64(), nullable=False),
        pa.field("worker", pa.string()),
        pa.field("finished_utc", _TS, nullable=False),
    ],
    metadata={b"nightcramp.table": b"nights", b"nightcramp.schema": SCHEMA_VERSION.encode()},
)

ERRORS_SCHEMA = pa.schema(
    [
        pa.field("file", pa.string(), nullable=False),
        pa.field("file_hash", pa.string()),
        pa.field("file_bytes", pa.int64()),
        pa.field("file_mtime_ns", pa.int64()),
        pa.field("channels_option", pa.string(), nullable=False),
        pa.field("error", pa.string(), nullable=False),
        pa.field("error_kind", pa.string(), nullable=False),
        pa.field("detector_version", pa.string(), nullable=False),
        pa.field("finished_utc", _TS, nullable=False),
    ],
    metadata={b"nightcramp.table": b"errors", b"nightcramp.schema": SCHEMA_VERSION.encode()},
)

TABLES = {"events": EVENTS_SCHEMA, "nights": NIGHTS_SCHEMA, "errors": ERRORS_SCHEMA}


def detector_version() -> str:
    from detector.detect import DETECTOR_VERSION

    return str(DETECTOR_VERSION)


# ============================================================================ inputs


@dataclass(frozen=True)
class NightJob:
    """One night to run: its path and the channel options for it (plain data, pickled)."""

    path: str
    emg: tuple[str, ...] = ()
    acc: tuple[str, ...] = ()

    @property
    def channels_option(self) -> str:
        """The channel choice as a stable string (part of the resume fingerprint)."""
        if not self.emg and not self.acc:
            return ""
        return json.dumps({"emg": list(self.emg), "acc": list(self.acc)})

    @property
    def key(self) -> str:
        return night_key(self.path)


def night_key(path: str) -> str:
    """The part name of a night: from its absolute path, so a night has one part."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def _is_recording(p: Path) -> bool:
    from recordings.store import is_recording

    return is_recording(p)


def _search(folder: Path, skip: Path | None) -> Iterator[Path]:
    """EDF/BDF files and recording folders under ``folder`` (sorted, hidden names skipped)."""
    if _is_recording(folder):
        yield folder
        return
    try:
        entries = sorted(folder.iterdir())
    except OSError as e:
        raise UserError(f"{folder}: cannot list the folder ({e.strerror}) -- check it") from None
    for p in entries:
        if p.name.startswith("."):
            continue
        if p.is_dir():
            if skip is not None and p.resolve() == skip:
                continue
            yield from _search(p, skip)
        elif p.suffix.lower() in NIGHT_SUFFIXES:
            yield p


def _read_list(path: Path) -> list[Path]:
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read the list of inputs ({e}) -- check the file") from None
    for line in lines:
        s = line.strip()
        if s and not s.startswith("#"):
            p = Path(s).expanduser()
            out.append(p if p.is_absolute() else path.parent / p)
    return out


def _split_labels(text: str, what: str, where: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    if what == "acc" and parts and len(parts) != 3:
        raise UserError(f"{where}: acc {text!r}: give three labels X,Y,Z separated by commas")
    return parts


def read_channels_csv(path: Path) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """``file,emg,acc`` rows (labels comma-separated inside a quoted cell) by absolute path.

    ``file`` is relative to the CSV's folder unless absolute; an empty cell means "as
    found in the file" (the same automatic choice as ``cramp detect``).
    """
    out: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read the channel CSV ({e}) -- check the file") from None
    rows = csv.DictReader(io.StringIO(text))
    if not rows.fieldnames or "file" not in rows.fieldnames:
        raise UserError(f"{path}: line 1: the channel CSV needs a header 'file,emg,acc' -- add it")
    for i, row in enumerate(rows, start=2):
        f = (row.get("file") or "").strip()
        if not f:
            raise UserError(f"{path}: line {i}: empty 'file' cell -- name the night's file")
        p = Path(f).expanduser()
        p = p if p.is_absolute() else path.parent / p
        where = f"{path}: line {i}"
        out[str(p.resolve())] = (
            _split_labels(row.get("emg") or "", "emg", where),
            _split_labels(row.get("acc") or "", "acc", where),
        )
    return out


def collect(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    emg: Sequence[str] = (),
    acc: Sequence[str] = (),
    channels_csv: Path | None = None,
    out: Path | None = None,
) -> list[NightJob]:
    """The nights named by ``inputs``: files, folders (searched), lists of paths.

    Each night once (by absolute path), in the order given (folders sorted).  A path that
    does not exist is a :class:`UserError` before anything runs.
    """
    per_file = read_channels_csv(channels_csv) if channels_csv else {}
    skip = out.resolve() if out is not None else None
    seen: set[str] = set()
    jobs: list[NightJob] = []

    def add(p: Path) -> None:
        ap = str(p.resolve())
        if ap in seen:
            return
        seen.add(ap)
        e, a = per_file.get(ap, (tuple(emg), tuple(acc)))
        jobs.append(NightJob(ap, tuple(e), tuple(a)))

    def visit(p: Path, depth: int) -> None:
        if not p.exists():
            raise UserError(f"{p}: no such file or folder -- check the path")
        if p.is_dir():
            for q in _search(p, skip):
                add(q)
        elif p.suffix.lower() in LIST_SUFFIXES:
            if depth > 4:
                raise UserError(f"{p}: lists nest more than 4 deep -- flatten them")
            for q in _read_list(p):
                visit(q, depth + 1)
        else:
            add(p)

    for i in inputs:
        visit(Path(i).expanduser(), 0)
    return jobs


# ======================================================================= fingerprints


def _files_of(p: Path) -> list[Path]:
    if p.is_dir():
        return sorted(q for q in p.rglob("*") if q.is_file())
    return [p]


def stat_fingerprint(path: str) -> tuple[int, int]:
    """(bytes, newest mtime in ns) of a file or a recording folder: the cheap check."""
    p = Path(path)
    size = mtime = 0
    for q in _files_of(p):
        st = q.stat()
        size += st.st_size
        mtime = max(mtime, st.st_mtime_ns)
    return size, mtime


def file_hash(path: str) -> str:
    """``sha256:`` of a file's bytes; of a folder: of its files' relative names and bytes."""
    p = Path(path)
    h = hashlib.sha256()
    folder = p.is_dir()
    for q in _files_of(p):
        if folder:
            h.update(str(q.relative_to(p)).encode("utf-8", "surrogateescape") + b"\0")
        with open(q, "rb") as f:
            while block := f.read(HASH_BLOCK):
                h.update(block)
    return "sha256:" + h.hexdigest()


# ============================================================================ the task


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _night_row_and_events(
    job: NightJob, src: Any, result: Any, fhash: str, stat: tuple[int, int], version: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from nightcramp.summary import _sleep_from_epochs
    from recordings.export import event_dict

    rid = getattr(src, "recording_id", None)
    night = str(rid) if rid else f"file:{job.path}"
    rows = []
    for ev in result.events:
        d = event_dict(ev)
        rows.append(
            {
                "night": night,
                "file": job.path,
                "file_hash": fhash,
                "kind": d["kind"],
                "subtype": d["subtype"],
                "start_s": d["start_s"],
                "end_s": d["end_s"],
                "start_utc": _utc(src.wall_time(ev.start_s)),
                "end_utc": _utc(src.wall_time(ev.end_s)),
                "duration_s": d["duration_s"],
                "peak_uv": d["peak_uv"],
                "mean_uv": d["mean_uv"],
                "peak_x_rest": d["peak_x_rest"],
                "mean_x_rest": d["mean_x_rest"],
                "channels": d["channels"],
                "confidence": d["confidence"],
                "reason": d["reason"],
                "context": json.dumps(d["context"], sort_keys=True),
                "detector_version": version,
            }
        )
    duration = float(result.duration_s)
    gap_s = min(float(sum(g.duration_s for g in result.gaps)), duration)
    sleep = _sleep_from_epochs(result.epochs)
    sleep_s = float(sleep.sleep_s) if sleep else None
    # the PLMS index: periodic leg movements in sleep (a series while awake, PLMW, has
    # subtype "wake" and stays in events/ only)
    plm = sum(1 for e in result.events if e.kind == "plm" and e.subtype != "wake")
    recorded = max(0.0, duration - gap_s)
    if sleep_s:
        plmi, per = plm / (sleep_s / 3600.0), "hour of sleep"
    elif recorded > 0:
        plmi, per = plm / (recorded / 3600.0), "hour of recording"
    else:
        plmi, per = None, None
    lay = src.layout
    night_row = {
        "night": night,
        "file": job.path,
        "file_hash": fhash,
        "file_bytes": stat[0],
        "file_mtime_ns": stat[1],
        "channels_option": job.channels_option,
        "source_kind": "recording" if rid else "edf",
        "start_utc": _utc(lay.start_utc),
        "duration_s": duration,
        "recorded_s": recorded,
        "coverage_pct": 100.0 * recorded / duration if duration > 0 else None,
        "gap_s": gap_s,
        "n_gaps": len(result.gaps),
        "electrode_off_s": float(result.stats.get("electrode_off_s", 0.0)),
        "sleep_s": sleep_s,
        "wake_s": float(sleep.wake_s) if sleep else None,
        "cramps": sum(1 for e in result.events if e.kind == "cramp"),
        "plm_count": plm,
        "plm_index_per_h": plmi,
        "plm_index_per": per,
        "n_events": len(result.events),
        "emg_labels": list(lay.emg_labels),
        "emg_fs": float(lay.emg_fs),
        "acc_fs": float(lay.acc_fs) if lay.acc_fs else None,
        "detector_version": version,
    }
    return night_row, rows


def process_night(
    job: NightJob, expect_version: str, known: tuple[str, str] | None = None
) -> dict[str, Any]:
    """Run one night on a worker; return its rows (small), or its one-line error.

    ``known`` = (file hash, channel options) of the night's existing part: if the file's
    bytes and options are unchanged (only its mtime moved), the night is not rerun.
    A :class:`UserError` (bad input) is returned as an ``input`` error, never raised, so
    the batch goes on and Dask does not retry what would fail the same way; anything
    else raises, and Dask retries the night once.
    """
    from detector.pipeline import run
    from recordings.export import open_source

    t0, c0 = time.perf_counter(), time.thread_time()
    version = detector_version()
    base: dict[str, Any] = {"key": job.key, "file": job.path, "detector_version": version}
    fhash = None
    stat: tuple[int, int] | None = None
    try:
        if version != expect_version:
            raise UserError(
                f"{job.path}: this worker runs detector {version!r}, the client "
                f"{expect_version!r} -- install the same nightcramp on the workers"
            )
        try:
            stat = stat_fingerprint(job.path)
            fhash = file_hash(job.path)
        except OSError as e:
            raise UserError(f"{job.path}: cannot read ({e.strerror}) -- check the path") from None
        if known is not None and known == (fhash, job.channels_option):
            return {**base, "status": "unchanged", "file_hash": fhash, "stat": stat}
        src = open_source(job.path, list(job.emg) or None, list(job.acc) or None)
        result = run(src)
        night, events = _night_row_and_events(job, src, result, fhash, stat, version)
    except UserError as e:
        return {
            **base,
            "status": "error",
            "error": str(e),
            "error_kind": "input",
            "file_hash": fhash,
            "stat": stat,
        }
    night["seconds"] = time.perf_counter() - t0
    night["cpu_s"] = time.thread_time() - c0
    night["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return {
        **base,
        "status": "ok",
        "night": night,
        "events": events,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


# ========================================================================= the output


class Output:
    """The dataset folder: atomic parts, and what is in it already (for resume)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"{self.root}: is a file -- give a folder for --out")
        for t in TABLES:
            make_private_dir(self.root / t)
        self._clean_temporaries()

    def part(self, table: str, key: str) -> Path:
        return self.root / table / f"night-{key}.parquet"

    def _clean_temporaries(self) -> None:
        """Temporary parts left by a killed batch (readers never see them: dot names)."""
        for t in TABLES:
            for p in (self.root / t).glob(".night-*.parquet.*.tmp"):
                p.unlink(missing_ok=True)

    def write(self, table: str, key: str, rows: list[dict[str, Any]]) -> None:
        schema = TABLES[table]
        tab = pa.Table.from_pylist(rows, schema=schema)
        buf = pa.BufferOutputStream()
        # parts hold one night each (a few kB): compressing them saves nothing and costs
        # ~0.7 ms of CPU per part on the client, which shares the cores with the workers
        pq.write_table(tab, buf, compression="none")
        write_atomic(self.part(table, key), buf.getvalue().to_pybytes())

    def remove(self, table: str, key: str) -> None:
        self.part(table, key).unlink(missing_ok=True)

    def done(self) -> dict[str, dict[str, Any]]:
        """Resume index: night key -> the fingerprint of its nights/ row or input error."""
        out: dict[str, dict[str, Any]] = {}
        for table in ("errors", "nights"):  # a nights/ row wins over a stale error
            cols = ["file", "file_hash", "file_bytes", "file_mtime_ns", "channels_option"]
            cols += ["detector_version"] + (["error_kind"] if table == "errors" else [])
            for p in sorted((self.root / table).glob("night-*.parquet")):
                try:
                    rows = pq.read_table(p, columns=cols).to_pylist()
                except Exception:  # noqa: BLE001 - an unreadable part is simply redone
                    continue
                for r in rows:
                    r["table"] = table
                    out[p.stem.removeprefix("night-")] = r
        return out

    def commit(self, res: dict[str, Any]) -> None:
        """Write one finished night: events part, then the nights part (the commit mark)."""
        key = res["key"]
        self.remove("nights", key)
        self.write("events", key, res["events"])
        self.write("nights", key, [{**res["night"], "finished_utc": datetime.now(UTC)}])
        self.remove("errors", key)

    def commit_error(self, job: NightJob, res: dict[str, Any]) -> None:
        key = job.key
        stat = res.get("stat") or (None, None)
        row = {
            "file": job.path,
            "file_hash": res.get("file_hash"),
            "file_bytes": stat[0],
            "file_mtime_ns": stat[1],
            "channels_option": job.channels_option,
            "error": res["error"],
            "error_kind": res["error_kind"],
            "detector_version": res["detector_version"],
            "finished_utc": datetime.now(UTC),
        }
        self.remove("nights", key)
        self.remove("events", key)
        self.write("errors", key, [row])

    def touch(self, key: str, stat: tuple[int, int]) -> None:
        """An unchanged night whose file's mtime moved: record the new stat only."""
        p = self.part("nights", key)
        rows = pq.read_table(p).to_pylist()
        for r in rows:
            r["file_bytes"], r["file_mtime_ns"] = stat
        self.write("nights", key, rows)


@dataclass
class Plan:
    todo: list[NightJob] = field(default_factory=list)
    skipped: list[NightJob] = field(default_factory=list)
    skipped_failed: int = 0
    """Of the skipped, nights whose last run was an ``input`` error (still in errors/)."""
    known: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Night key -> (hash, options) of an up-to-date part whose file's stat moved."""


def plan(jobs: Iterable[NightJob], done: dict[str, dict[str, Any]], version: str) -> Plan:
    """Which nights to run.  Skipped: a nights/ row, or an ``input`` error, for the same
    detector version, channel options and file (same size and mtime; a moved mtime is
    checked against the hash on the worker).  Everything else runs: new nights, changed
    files, another detector version or channel choice, and nights whose worker died."""
    out = Plan()
    for job in jobs:
        d = done.get(job.key)
        if (
            d is None
            or d["file"] != job.path
            or d["detector_version"] != version
            or d["channels_option"] != job.channels_option
            or (d["table"] == "errors" and d.get("error_kind") != "input")
            or d["file_hash"] is None
        ):
            out.todo.append(job)
            continue
        try:
            stat = stat_fingerprint(job.path)
        except OSError:
            out.todo.append(job)
            continue
        if stat == (d["file_bytes"], d["file_mtime_ns"]):
            out.skipped.append(job)
            out.skipped_failed += d["table"] == "errors"
        else:
            out.todo.append(job)
            if d["table"] == "nights":
                out.known[job.key] = (d["file_hash"], d["channels_option"])
    return out


# ========================================================================== the batch


def _require_dask() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UserError(
            "cramp batch needs Dask: pip install 'nightcramp[batch]' (dask, distributed)"
        ) from None


def has_dashboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


#: Dask settings for the clusters this module starts (and for yours, see docs/BATCH.md).
CLUSTER_CONFIG: dict[str, Any] = {
    # a night whose worker dies is retried once, then recorded in errors/
    "distributed.scheduler.allowed-failures": 1,
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers by default: glibc then
    # hands freed memory back at once and faults it in again for the next array, which
    # doubles the detector's CPU time (bench_batch); a night's memory is bounded anyway
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # the statistical profiler (the dashboard's Profile page) samples every 10 ms: it
    # halves an idle worker's CPU (3.6 -> 1.9 % of a core, bench notes in docs/BATCH.md)
    "distributed.worker.profile.enabled": False,
    # every process's event loop wakes every 20 ms to time itself (the "tick"), and a
    # system monitor samples CPU, memory and network twice a second; in a worker both
    # take the GIL from the night's thread: the task cost ~13 % more CPU than in a plain
    # process, ~4 % with these (bench_batch, docs/BATCH.md)
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}


def local_cluster(
    workers: int,
    memory_limit: str | int = DEFAULT_MEMORY_LIMIT,
    *,
    dashboard: bool = True,
) -> Any:
    """A LocalCluster of ``workers`` single-threaded worker processes on loopback.

    A task whose worker dies is retried once (``allowed-failures`` = 1), then fails with
    ``KilledWorker``; a worker over ``memory_limit`` is restarted by its nanny.  See
    :data:`CLUSTER_CONFIG`.
    """
    _require_dask()
    import logging

    import dask
    from dask.utils import format_bytes, parse_bytes
    from distributed import LocalCluster

    try:
        limit = parse_bytes(memory_limit) if isinstance(memory_limit, str) else int(memory_limit)
    except (ValueError, TypeError):
        raise UserError(
            f"--memory-limit {memory_limit}: not a size -- give e.g. 2GiB or 1500MB"
        ) from None
    if limit < MIN_MEMORY_LIMIT:
        raise UserError(
            f"--memory-limit {memory_limit}: {format_bytes(limit)} is less than a night needs "
            f"(~300 MB) -- give at least {format_bytes(MIN_MEMORY_LIMIT)}"
        )

    with dask.config.set(CLUSTER_CONFIG):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            memory_limit=limit,
            dashboard_address="127.0.0.1:0" if (dashboard and has_dashboard()) else None,
            silence_logs=logging.ERROR,
        )


@dataclass
class BatchReport:
    total: int = 0
    done: int = 0
    skipped: int = 0
    unchanged: int = 0
    failed: int = 0
    kept_failed: int = 0
    """Skipped nights whose error (bad input, unchanged file) stays in errors/."""
    events: int = 0
    seconds: float = 0.0
    night_seconds: float = 0.0
    """Sum of the tasks' own wall times (worker side)."""
    night_cpu_s: float = 0.0
    """Sum of the tasks' CPU times (worker side)."""
    peak_rss_mb: float = 0.0
    write_s: float = 0.0
    """Time spent writing parts (atomic, fsynced), summed over the writer threads."""
    dashboard: str | None = None


def _worker_died_message(job: NightJob, exc: BaseException) -> str:
    return (
        f"{job.path}: the worker running this night died twice (killed, or over its "
        f"memory limit): {type(exc).__name__} -- rerun the batch to retry it, or give "
        "workers more memory (--memory-limit)"
    )


def _write(output: Output, job: NightJob, res: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Write one finished night's parts (in a writer thread); return it and the time."""
    t0 = time.perf_counter()
    try:
        if res["status"] == "ok":
            output.commit(res)
        elif res["status"] == "unchanged":
            output.touch(job.key, res["stat"])
        else:
            output.commit_error(job, res)
    except OSError as e:
        raise UserError(
            f"{output.root}: cannot write {job.path}'s results ({e.strerror}) -- free disk "
            "space or fix the folder's permissions; a rerun resumes where this one stopped"
        ) from None
    return res, time.perf_counter() - t0


def pending(jobs: Sequence[NightJob], out: Path) -> int:
    """How many of ``jobs`` a batch into ``out`` would run (0: no cluster needed)."""
    return len(plan(jobs, Output(out).done(), detector_version()).todo)


def run_batch(
    jobs: Sequence[NightJob],
    out: Path,
    *,
    client: Any,
    progress: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> BatchReport:
    """Run ``jobs`` on ``client``'s cluster into ``out``; return the counts.

    Results stream back as they finish (``as_completed``); each is written at once and
    dropped, so the client holds at most the rows of the nights just finished.
    ``client`` may be None when every night is already done (see :func:`pending`).
    """
    from distributed import as_completed

    t0 = time.perf_counter()
    version = detector_version()
    output = Output(out)
    p = plan(jobs, output.done(), version)
    rep = BatchReport(total=len(jobs), skipped=len(p.skipped), kept_failed=p.skipped_failed)
    if not p.todo:  # nothing to run: no cluster needed (``client`` may be None)
        rep.seconds = time.perf_counter() - t0
        return rep
    rep.dashboard = getattr(client, "dashboard_link", None) if has_dashboard() else None
    by_key = {j.key: j for j in p.todo}
    futures = [
        client.submit(
            process_night,
            j,
            version,
            p.known.get(j.key),
            key=f"night-{Path(j.path).name}-{j.key[:8]}-{os.urandom(4).hex()}",
            retries=1,
            pure=False,
        )
        for j in p.todo
    ]
    keys = {f.key: j.key for f, j in zip(futures, p.todo, strict=True)}
    bar: Any = None
    if progress and p.todo:
        from tqdm import tqdm

        bar = tqdm(total=len(p.todo), unit="night", desc="nights", dynamic_ncols=True)
        bar.set_postfix(failed=0)

    def account(res: dict[str, Any], seconds: float) -> None:
        rep.write_s += seconds
        if res["status"] == "ok":
            rep.done += 1
            rep.events += len(res["events"])
            rep.night_seconds += res["night"]["seconds"]
            rep.night_cpu_s += res["night"]["cpu_s"]
            rep.peak_rss_mb = max(rep.peak_rss_mb, res.get("peak_rss_mb", 0.0))
        elif res["status"] == "unchanged":
            rep.unchanged += 1
        else:
            rep.failed += 1
        if on_result is not None:
            on_result(res)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(failed=rep.failed)

    # results are fetched on the client's event loop as tasks finish (no blocking round
    # trip per night from this thread)
    ac = as_completed(futures, with_results=True, raise_errors=False)
    del futures
    # parts are written by a few threads (most of a write is fsync, which frees the GIL)
    pool = ThreadPoolExecutor(WRITERS, thread_name_prefix="nightcramp-write")
    writes: set[Future[tuple[dict[str, Any], float]]] = set()
    try:
        for fut, got in ac:
            job = by_key[keys.pop(fut.key)]
            try:
                if fut.status == "error":  # got: (type, exception, traceback)
                    raise got[1]
                if isinstance(got, BaseException):  # cancelled
                    raise got
                res = got
            except Exception as e:  # noqa: BLE001 - a lost worker or a crash: recorded
                from distributed import KilledWorker

                if isinstance(e, KilledWorker):
                    msg, kind = _worker_died_message(job, e), "worker"
                else:
                    msg = f"{job.path}: {type(e).__name__}: {e} (failed twice) -- rerun to retry"
                    kind = "internal"
                res = {
                    "key": job.key,
                    "status": "error",
                    "error": " ".join(msg.split()),
                    "error_kind": kind,
                    "detector_version": version,
                }
            del fut
            writes.add(pool.submit(_write, output, job, res))
            if len(writes) >= 2 * WRITERS:  # bounded: the client holds a few nights only
                wait(writes, return_when=FIRST_COMPLETED)
            for w in [w for w in writes if w.done()]:
                writes.discard(w)
                account(*w.result())
        for w in as_completed_threads(writes):
            account(*w.result())
    finally:
        pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
    rep.seconds = time.perf_counter() - t0
    return rep
