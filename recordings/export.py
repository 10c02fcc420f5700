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
side       string   the leg of the row's sensor channel: ``left``/``right``, the
                    one-leg source's side (``unknown`` when not known), ``both``
                    for a two-leg EDF's shared accelerometer
=========  =======  ==========================================================

A night of one sensor per leg has both legs' rows on the night's timeline, told apart
by ``side`` (each leg's channels keep their sensor's labels, so ``channel`` repeats
across legs: group by ``side`` and ``channel``).  Files written before ``side`` existed
lack the column: their rows are all of the layout's ``side``.

The file's key-value metadata holds ``nightcramp.layout``, ``nightcramp.events`` and
``nightcramp.gaps`` as JSON (events with the same fields as ``cramp detect --json``;
a gap of one leg only carries its ``side``).  Gaps are simply absent rows (and listed in
``nightcramp.gaps``); nothing is interpolated or filled.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
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
            pa.field("side", pa.dictionary(pa.int8(), pa.string())),
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
    """Stream ``source`` into a tidy Parquet table at ``path`` (temp file, then rename).

    A source that gives each leg's items (:func:`detector.stream.leg_layouts_of`) is
    written leg by leg, every row with its leg in ``side``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from detector.stream import leg_layouts_of

    table_schema = parquet_schema()
    out = Path(path)
    lay = source.layout
    legs = leg_layouts_of(source)
    meta = {
        b"nightcramp.layout": dumps(layout_dict(lay)).encode(),
        b"nightcramp.events": dumps([event_dict(e) for e in events]).encode(),
        b"nightcramp.gaps": dumps([gap_dict(g) for g in gaps]).encode(),
    }
    schema = table_schema.with_metadata(meta)
    # one "part" per leg (its EMG channels and accelerometer), or the whole source
    parts = legs or [lay]
    labels: list[str] = []
    site_names: list[str] = []
    emg_base: dict[str, int] = {}
    for p in parts:
        emg_base[p.side] = len(labels)
        labels += list(p.emg_labels)
        site_names += list(p.emg_sites)
    emg_ch = pa.array(labels + ["x", "y", "z"], pa.string())
    streams = pa.array(["emg", "acc"], pa.string())
    sites = pa.array(site_names + [""], pa.string())
    side_names = list(dict.fromkeys([p.side for p in parts] + list(lay.emg_sides)))
    side_arr = pa.array(side_names, pa.string())
    if legs:
        emg_side = [side_names.index(p.side) for p in parts for _ in p.emg_labels]
    else:
        emg_side = [side_names.index(s) for s in (lay.emg_sides or (lay.side,) * lay.n_emg)]
    n_rows = 0
    emg_fs = lay.emg_fs
    acc_fs = lay.acc_fs or 1.0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    group_rows = int(ROW_GROUP_S * sum(p.emg_fs * p.n_emg + (p.acc_fs or 0) * 3 for p in parts))

    def block(
        stream: int, idx0: int, data: np.ndarray, fs: float, ch_base: int, site: bool, side: int
    ) -> pa.RecordBatch:
        n, c = data.shape
        idx = np.tile(np.arange(idx0, idx0 + n, dtype=np.int64), c)
        ch = np.repeat(np.arange(ch_base, ch_base + c, dtype=np.int8), n)
        site_i = ch if site else np.full(n * c, len(site_names), np.int8)
        if side >= 0:
            side_i = np.full(n * c, side, np.int8)
        else:  # EMG of a one-stream source: each channel's leg
            side_i = np.repeat(np.asarray(emg_side[ch_base : ch_base + c], np.int8), n)
        return pa.record_batch(
            [
                pa.DictionaryArray.from_arrays(np.full(n * c, stream, np.int8), streams),
                pa.DictionaryArray.from_arrays(ch, emg_ch),
                pa.DictionaryArray.from_arrays(site_i, sites),
                pa.array(idx),
                pa.array(idx / fs),
                pa.array(data.T.reshape(-1)),
                pa.DictionaryArray.from_arrays(side_i, side_arr),
            ],
            schema=table_schema,
        )

    items: Iterator[tuple[str | None, Chunk | Gap]]
    if legs:
        items = source.leg_items()  # type: ignore[attr-defined]
    else:
        items = ((None, it) for it in source.chunks())
    with files.atomic_target(out) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for leg, item in items:
                if not isinstance(item, Chunk):
                    continue
                if leg is None:
                    e_base, e_side, a_side = 0, -1, side_names.index(lay.side)
                else:
                    e_base = emg_base[leg]
                    e_side = a_side = side_names.index(leg)
                pending.append(block(0, item.emg_start, item.emg, emg_fs, e_base, True, e_side))
                pending_rows += item.emg.size
                if item.acc.shape[0]:
                    pending.append(
                        block(1, item.acc_start, item.acc, acc_fs, len(labels), False, a_side)
                    )
                    pending_rows += item.acc.size
                if pending_rows >= group_rows:
                    w.write_table(pa.Table.from_batches(pending, schema=table_schema))
                    n_rows += pending_rows
                    pending, pending_rows = [], 0
            if pending:
                w.write_table(pa.Table.from_batches(pending, schema=table_schema))
                n_rows += pending_rows
    return {"rows": n_rows}
