"""A night of several sensors, one per leg: one folder, one version-1 recording per sensor.

Layout on disk (``recordings/README.md``, "Several sensors")::

    night-YYYYMMDD-HHMMSS-<id>/
        meta.json        format_version 2, recording_id, start_ns, sensors: [{side, folder}]
        left/            a version-1 recording (meta.json, frames-*.arrow, notes.jsonl)
        right/           the same for the other leg's sensor

Each sensor's frames stay exactly as received, in a folder of its own, replayed by a
:class:`~recordings.assemble.FrameAssembler` of its own.  The night's timeline starts at
``start_ns`` (host UTC ns); a leg's timeline is placed on it by its own clock alignment
(its layout's ``start_utc``), rounded to that leg's samples.  A sensor listed in
``meta.json`` whose folder is missing or holds no data frame never connected: its leg is
one gap for the whole night (reason ``absent``), the other leg's night is unchanged.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detector.stream import Chunk, Gap, StreamLayout, bulk_chunks
from recordings import files
from recordings.errors import UserError

SIDES = ("left", "right")

#: The gap reason of a leg whose sensor sent nothing all night.
ABSENT = "absent"


def is_night(meta: dict[str, Any]) -> bool:
    """A several-sensor night (its ``meta.json`` lists ``sensors``)."""
    return isinstance(meta.get("sensors"), list)


def utc_of_ns(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns / 1000.0)


def create_night(
    root: str | os.PathLike[str],
    sides: Sequence[str],
    *,
    start_ns: int,
    devices: Sequence[dict[str, Any]] | None = None,
    recording_id: str | None = None,
    created: datetime | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Create the night folder and its ``meta.json``; each sensor's recorder then writes
    its own recording into the sub-folder named by its side."""
    from recordings.store import (
        FORMAT_NAME,
        META_NAME,
        NIGHT_FORMAT_VERSION,
        _disk_error,
        _write_json_atomic,
    )

    if len(set(sides)) != len(sides) or not set(sides) <= set(SIDES):
        raise UserError(f"a night of several sensors needs one per leg (left, right), got {sides}")
    base = Path(root)
    rid = recording_id or str(uuid.uuid4())
    created = created or datetime.now(UTC)
    name = f"night-{created.strftime('%Y%m%d-%H%M%S')}-{rid.replace('-', '')[:8]}"
    devs = list(devices or [{} for _ in sides])
    meta = {
        "format": FORMAT_NAME,
        "format_version": NIGHT_FORMAT_VERSION,
        "recording_id": rid,
        "created_utc": created.isoformat(),
        "start_ns": int(start_ns),
        "start_utc": utc_of_ns(int(start_ns)).isoformat(),
        "sensors": [
            {"side": side, "folder": side, "device": dev}
            for side, dev in zip(sides, devs, strict=True)
        ],
        "rx_clock": "UTC ns since the Unix epoch (time.time_ns())",
    }
    try:
        files.make_private_dir(base)
        folder = base / name
        folder.mkdir(mode=files.DIR_MODE)
        os.chmod(folder, files.DIR_MODE)
        _write_json_atomic(folder / META_NAME, meta)
    except FileExistsError:
        raise UserError(f"{base / name}: a recording with this name already exists") from None
    except OSError as e:
        raise _disk_error(base / name, e) from None
    return folder, meta


def leg_offset(layout: StreamLayout, start_utc: datetime) -> tuple[int, int]:
    """(EMG, accelerometer) sample offsets of a leg's timeline on the night's timeline:
    where the leg's own t = 0 falls after the night's start (never before it)."""
    if layout.start_utc is None:
        return 0, 0
    dt = max(0.0, (layout.start_utc - start_utc).total_seconds())
    return round(dt * layout.emg_fs), round(dt * (layout.acc_fs or 0.0))


def shift(item: Chunk | Gap, off: tuple[int, int], fs: float, side: str) -> Chunk | Gap:
    """One leg's item on the night's timeline, its gaps marked with the leg."""
    if isinstance(item, Gap):
        d = off[0] / fs
        return replace(item, start_s=item.start_s + d, end_s=item.end_s + d, side=side)
    if off == (0, 0):
        return item
    return Chunk(item.emg_start + off[0], item.emg, item.acc_start + off[1], item.acc)


class NightSource:
    """A several-sensor night as one source per leg, on one timeline.

    :attr:`leg_layouts` (one per leg, each with its ``side``) make the two-leg
    :class:`~detector.pipeline.Pipeline`; :meth:`leg_items` gives ``(side, item)`` in
    timeline order, each leg's frames through its own frame assembler.
    """

    def __init__(self, path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
        from recordings.store import RecordingSource, is_recording, open_recording

        self.path = Path(path)
        self.meta = meta
        self.recording_id: str = meta["recording_id"]
        self.start_utc = utc_of_ns(int(meta.get("start_ns", 0)))
        self.legs: dict[str, RecordingSource | None] = {}
        self.absent: list[str] = []
        for s in meta["sensors"]:
            side, folder = s.get("side"), s.get("folder")
            if (
                side not in SIDES
                or not isinstance(folder, str)
                or "/" in folder
                or folder in ("", ".", "..")
            ):
                raise UserError(
                    f"{self.path / 'meta.json'}: sensor entry {s!r} is damaged -- each needs a "
                    "side (left/right) and its folder's name"
                )
            sub = self.path / folder
            src = None
            if is_recording(sub):
                try:
                    src = RecordingSource(sub, info=open_recording(sub))
                except UserError as e:
                    if "no readable data frame" not in str(e):
                        raise
            if src is None:
                self.absent.append(side)
            self.legs[side] = src
        present = [s for s in self.legs.values() if s is not None]
        if not present:
            raise UserError(
                f"{self.path}: no sensor of this night sent a data frame -- nothing to replay"
            )
        self.leg_layouts: list[StreamLayout] = []
        for side, src in self.legs.items():
            base = (src or present[0]).layout
            self.leg_layouts.append(replace(base, side=side, start_utc=self.start_utc))
        self.layout = StreamLayout.of_legs(self.leg_layouts)

    def leg_items(self, bulk: bool = True) -> Iterator[tuple[str, Chunk | Gap]]:
        """Both legs' items in timeline order; an absent leg's one gap comes last."""
        import heapq

        def tagged(k: int, side: str, src: Any) -> Iterator[tuple[float, int, str, Chunk | Gap]]:
            fs = src.layout.emg_fs
            off = leg_offset(src.layout, self.start_utc)
            for item in bulk_chunks(src) if bulk else src.chunks():
                it = shift(item, off, fs, side)
                t = it.start_s if isinstance(it, Gap) else it.emg_start / fs
                yield t, k, side, it

        end = 0.0
        srcs = [
            (k, side, src) for k, (side, src) in enumerate(self.legs.items()) if src is not None
        ]
        for _, _, side, it in heapq.merge(*(tagged(*x) for x in srcs), key=lambda x: x[:2]):
            fs = self.layout.emg_fs
            end = max(end, it.end_s if isinstance(it, Gap) else it.emg_stop / fs)
            yield side, it
        for side in self.absent:
            yield side, Gap(0.0, end, ABSENT, side)

    def chunks(self) -> Iterator[Chunk | Gap]:
        raise UserError(
            f"{self.path}: a night of two sensors is not one stream -- cramp detect, "
            "replay and export take each leg apart; for one sensor alone use its folder "
            f"({self.path / 'left'}, {self.path / 'right'})"
        )

    def wall_time(self, t_s: float) -> datetime:
        return self.start_utc + timedelta(seconds=float(t_s))

    @property
    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for side, src in self.legs.items():
            if src is None:
                out[f"{side}_absent"] = True
                continue
            for k, v in src.stats.items():
                if isinstance(v, int | float) and not isinstance(v, bool):
                    out[k] = out.get(k, 0) + v
                    out[f"{side}_{k}"] = v
        return out
