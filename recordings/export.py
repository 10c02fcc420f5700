"""Opening any saved source, and exporting it: EDF+ (see :mod:`recordings.edf`) or Parquet.

Parquet layout (one tidy table, streamed with ``pyarrow.parquet.ParquetWriter``, one row
group per ``ROW_GROUP_S`` of timeline): one row per sample per channel --

=========  =======  ==========================================================
column     type     meaning
=========  =======  ==========================================================
stream     string   ``emg`` or ``acc``
channel    string   EMG channel label (e.g. ``EMG1``) or ``x``/``y``/``z``
site       string   muscle site of an EMG channel (``calf``...), ``""`` for acc
index      int64    sample index on the recording timeline (gaps consume indices)
t_s        float64  seconds from the recording's start (``index / fs``)
value      float64  µV (emg) or g (acc)
=========  =======  ==========================================================

The file's key-value metadata holds ``nightcramp.layout``, ``nightcramp.events`` and
``nightcramp.gaps`` as JSON (events with the same fields as ``cramp detect --json``).
Gaps are simply absent rows (and listed in ``nightcramp.gaps``); nothing is interpolated.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.events import Event
from detector.stream import Chunk, Gap, Source, StreamLayout
from recordings import files
from recordings.errors import UserError
from recordings.jsonout import dumps, jsonable, utc_iso

ROW_GROUP_S = 600.0

if TYPE_CHECKING:  # pyarrow only for Parquet export, imported there (detect needs none)
    import pyarrow as pa


def parquet_schema() -> pa.Schema:
    """The tidy table's columns (one row per sample and channel)."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("stream", pa.dictionary(pa.int8(), pa.string())),
            pa.field("channel", pa.dictionary(pa.int8(), pa.string())),
            pa.field("site", pa.dictionary(pa.int8(), pa.string())),
            pa.field("index", pa.int64()),
            pa.field("t_s", pa.float64()),
            pa.field("value", pa.float64()),
        ]
    )


def layout_dict(layout: StreamLayout) -> dict[str, Any]:
    d: dict[str, Any] = {
        "emg_fs": layout.emg_fs,
        "emg_labels": list(layout.emg_labels),
        "emg_sites": list(layout.emg_sites),
        "acc_fs": layout.acc_fs,
        "start_utc": utc_iso(layout.start_utc),
        "side": layout.side,
    }
    if layout.emg_sides:  # both legs: each channel's
        d["emg_sides"] = list(layout.emg_sides)
    return d


def event_dict(ev: Event) -> dict[str, Any]:
    d: dict[str, Any] = jsonable(ev.to_dict())
    return d


def gap_dict(g: Gap) -> dict[str, Any]:
    d: dict[str, Any] = jsonable({"start_s": g.start_s, "end_s": g.end_s, "reason": g.reason})
    if g.side:  # one leg's sensor only
        d["side"] = g.side
    return d


def open_source(
    path: str | os.PathLike[str],
    emg: Sequence[str] | None = None,
    acc: Sequence[str] | None = None,
) -> Source:
    """A native recording folder or an EDF/EDF+/BDF file, as a Source."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such file or folder -- check the path")
    if p.is_dir():
        if emg or acc:
            raise UserError(
                f"{p}: --emg/--acc pick channels of EDF/BDF files; a native recording "
                "always uses its sensor's channels -- drop those options"
            )
        from recordings.device_assemble import DeviceRecordingSource, is_device_recording
        from recordings.night import NightSource, is_night
        from recordings.store import RecordingSource, open_recording, read_meta

        meta = read_meta(p)
        if is_night(meta):  # several sensors, one per leg
            return NightSource(p, meta)  # type: ignore[return-value]
        info = open_recording(p)
        if is_device_recording(info.meta):  # a BITalino / Ganglion night
            return DeviceRecordingSource(str(p), info=info)
        return RecordingSource(p, info=info)
    from recordings.edf import EdfSource

    return EdfSource(p, emg=emg, acc=acc)


def check_folder(path: Path) -> None:
    """The one rule for a file the user names for output: it is not a folder, and its
    folder exists (nothing creates folders the user did not ask for)."""
    if path.is_dir():
        raise UserError(f"{path}: is a folder -- give a file name")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: no such folder -- create it first")


def check_target(path: Path, force: bool) -> None:
    """:func:`check_folder`, and an existing file is kept unless ``force``."""
    if path.exists() and not force and not path.is_dir():
        raise UserError(f"{path}: already exists -- choose another name or add --force")
    check_folder(path)


def write_parquet(
    source: Source,
    path: str | os.PathLike[str],
    events: Iterable[Event] = (),
    gaps: Iterable[Gap] = (),
) -> dict[str, int]:
    """Stream ``source`` into a tidy Parquet table at ``path`` (temp file, then rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table_schema = parquet_schema()
    out = Path(path)
    lay = source.layout
    meta = {
        b"nightcramp.layout": dumps(layout_dict(lay)).encode(),
        b"nightcramp.events": dumps([event_dict(e) for e in events]).encode(),
        b"nightcramp.gaps": dumps([gap_dict(g) for g in gaps]).encode(),
    }
    schema = table_schema.with_metadata(meta)
    emg_ch = pa.array(list(lay.emg_labels) + ["x", "y", "z"], pa.string())
    streams = pa.array(["emg", "acc"], pa.string())
    sites = pa.array(list(lay.emg_sites) + [""], pa.string())
    n_rows = 0
    emg_fs = lay.emg_fs
    acc_fs = lay.acc_fs or 1.0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    group_rows = int(ROW_GROUP_S * (emg_fs * lay.n_emg + (lay.acc_fs or 0) * 3))

    def block(stream: int, idx0: int, data: np.ndarray, fs: float, ch_base: int, site: bool) -> pa.RecordBatch:  # fmt: skip
        n, c = data.shape
        idx = np.tile(np.arange(idx0, idx0 + n, dtype=np.int64), c)
        ch = np.repeat(np.arange(ch_base, ch_base + c, dtype=np.int8), n)
        site_i = ch if site else np.full(n * c, len(lay.emg_sites), np.int8)
        return pa.record_batch(
            [
                pa.DictionaryArray.from_arrays(np.full(n * c, stream, np.int8), streams),
                pa.DictionaryArray.from_arrays(ch, emg_ch),
                pa.DictionaryArray.from_arrays(site_i, sites),
                pa.array(idx),
                pa.array(idx / fs),
                pa.array(data.T.reshape(-1)),
            ],
            schema=table_schema,
        )

    with files.atomic_target(out) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for item in source.chunks():
                if not isinstance(item, Chunk):
                    continue
                pending.append(block(0, item.emg_start, item.emg, emg_fs, 0, True))
                pending_rows += item.emg.size
                if item.acc.shape[0]:
                    pending.append(block(1, item.acc_start, item.acc, acc_fs, lay.n_emg, False))
                    pending_rows += item.acc.size
                if pending_rows >= group_rows:
                    w.write_table(pa.Table.from_batches(pending, schema=table_schema))
                    n_rows += pending_rows
                    pending, pending_rows = [], 0
            if pending:
                w.write_table(pa.Table.from_batches(pending, schema=table_schema))
                n_rows += pending_rows
    return {"rows": n_rows}
