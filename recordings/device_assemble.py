"""Off-the-shelf devices' samples onto the night's timeline: the device counterpart of
:class:`recordings.assemble.FrameAssembler`.

A :class:`firmware_protocol.devices.host.DeviceSession` gives, per connection (a
*segment*: these devices restart their sample count on every start), decoded samples with
their sample index, gaps of sample periods that never came, and (device time, host
receive time) pairs.  :class:`DeviceAssembler` turns that into :class:`Chunk` /
:class:`Gap` items on one timeline at the device's nominal rate:

* inside a segment a sample's place is its index (the device's clock); the segment's own
  :class:`~recordings.clock.ClockSync` (lower envelope of the pairs, drift included) maps
  it to host time;
* a new segment is placed by host time: its index 0 lands where the host clock says,
  after the previous segment's end, never before it.  The time in between is a
  :class:`Gap` (``reason="link"``), so two segments are never joined;
* a segment's first :data:`PLACE_S` seconds are held back until enough pairs came for the
  placement (the minimum receive latency, not the first one);
* the Ganglion's firmware-3 hole (one sample in 201 packed but never sent,
  ``reason="firmware-skip"``) is filled with the sample before it and counted
  (``stats["held"]``), not cut as a Gap: a Gap closes every burst (no event spans one),
  and one each second would cut every cramp into one-second pieces.  Any longer loss
  stays a Gap.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from detector.stream import Chunk, Gap, StreamLayout
from firmware_protocol.devices.base import DeviceStatus, SampleGap, Samples
from firmware_protocol.devices.host import DeviceData, Notified, SegmentEnded, SegmentStarted
from recordings.clock import ClockSync

#: Hold a new segment's samples this long (s of device time) before placing it.
PLACE_S = 2.0


@dataclass
class _Seg:
    n: int
    clock: ClockSync = field(default_factory=ClockSync)
    offset: int | None = None  # timeline EMG index of the segment's index 0
    held: list[Samples | SampleGap] = field(default_factory=list)
    first_rx: int | None = None


class DeviceAssembler:
    """Device session outputs in, :class:`Chunk` / :class:`Gap` out (one timeline)."""

    def __init__(self, layout: StreamLayout) -> None:
        self.layout = layout
        self.fs = float(layout.emg_fs)
        self.acc_fs = float(layout.acc_fs or 0.0)
        self._seg: _Seg | None = None
        self._end = 0  # timeline EMG index after the last emitted item
        self._acc_end = 0
        self._t0_ns: int | None = None  # host time of timeline 0
        self._prev_clock: ClockSync | None = None
        self.gaps: list[Gap] = []
        self.status: list[DeviceStatus] = []
        self.stats: dict[str, float | int] = {
            "segments": 0,
            "samples": 0,
            "gaps": 0,
            "gap_s": 0.0,
            "gap_samples": 0,
            "link_gap_s": 0.0,
            "corrupt": 0,
            "held": 0,
        }
        self._last_row: np.ndarray | None = None

    # ------------------------------------------------------------- placement
    def _place(self, seg: _Seg) -> Iterator[Chunk | Gap]:
        if self._t0_ns is None:
            seg.offset = 0
            self._t0_ns = seg.clock.host_ns(0)
            self.layout = replace(self.layout, start_utc=self.wall_time(0.0))
        else:
            start_ns = seg.clock.host_ns(0)
            at = int(round((start_ns - self._t0_ns) * 1e-9 * self.fs))
            seg.offset = max(at, self._end + 1)  # after the previous segment, never joined
            if seg.offset > self._end:
                yield from self._gap(self._end, seg.offset, "link")
        self._last_row = None  # never hold across segments
        for item in seg.held:
            yield from self._item(seg, item)
        seg.held = []

    def _gap(self, i0: int, i1: int, reason: str) -> Iterator[Gap]:
        g = Gap(i0 / self.fs, i1 / self.fs, reason)
        self.gaps.append(g)
        self.stats["gaps"] += 1
        self.stats["gap_s"] += g.duration_s
        if reason == "corrupt":
            self.stats["corrupt"] += 1
        if reason == "link":
            self.stats["link_gap_s"] += g.duration_s
        self.stats["gap_samples"] += i1 - i0
        self._end = i1
        if self.acc_fs:
            self._acc_end = int(math.ceil(i1 * self.acc_fs / self.fs - 1e-9))
        yield g

    def _item(self, seg: _Seg, item: Samples | SampleGap) -> Iterator[Chunk | Gap]:
        assert seg.offset is not None
        if isinstance(item, SampleGap):
            i0 = seg.offset + item.index
            if item.reason == "firmware-skip" and item.n <= 2 and self._last_row is not None:
                if i0 == self._end:
                    self.stats["held"] += item.n
                    yield from self._item(
                        seg, Samples(item.index, np.repeat(self._last_row[None, :], item.n, axis=0))
                    )
                    return
            if i0 + item.n > self._end:
                yield from self._gap(max(i0, self._end), i0 + item.n, item.reason)
            return
        i0 = seg.offset + item.index
        emg = item.emg_uv
        if i0 < self._end:  # never overlap what was emitted (cannot happen in order)
            emg = emg[self._end - i0 :]
            i0 = self._end
        if i0 > self._end:
            yield from self._gap(self._end, i0, "link")
        acc = item.acc_g
        a0 = self._acc_end
        if acc.shape[0] and self.acc_fs:
            a0 = int(math.ceil(seg.offset * self.acc_fs / self.fs - 1e-9)) + item.acc_index
            if a0 < self._acc_end:
                acc = acc[self._acc_end - a0 :]
                a0 = self._acc_end
        if emg.shape[0] == 0 and acc.shape[0] == 0:
            return
        ch = Chunk(i0, np.asarray(emg, dtype=np.float64), a0, np.asarray(acc, dtype=np.float64))
        self._end = i0 + emg.shape[0]
        if emg.shape[0]:
            self._last_row = np.asarray(emg[-1], dtype=np.float64)
        if acc.shape[0]:
            self._acc_end = a0 + acc.shape[0]
        self.stats["samples"] += emg.shape[0]
        yield ch

    # ------------------------------------------------------------- input
    def push(self, out: object, rx_ns: int | None = None) -> Iterator[Chunk | Gap]:
        """One :class:`DeviceSession` output (``rx_ns`` unused: outputs carry their own)."""
        if isinstance(out, Notified):
            if out.data is None:
                return
            out = out.data
        if isinstance(out, SegmentStarted):
            self._seg = _Seg(out.segment)
            self.stats["segments"] += 1
            return
        seg = self._seg
        if seg is None:
            return
        if isinstance(out, DeviceData):
            if out.device_us is not None:
                seg.clock.add(out.device_us, out.rx_ns)
            items = [e for e in out.events if isinstance(e, Samples | SampleGap)]
            self.status += [e for e in out.events if isinstance(e, DeviceStatus)]
            if seg.offset is None:
                seg.held += items
                if out.device_us is not None and out.device_us >= PLACE_S * 1e6:
                    yield from self._place(seg)
                return
            for it in items:
                yield from self._item(seg, it)
        elif isinstance(out, SegmentEnded):
            items = [e for e in out.events if isinstance(e, Samples | SampleGap)]
            if seg.offset is None:
                seg.held += items
                if seg.clock.ready:
                    yield from self._place(seg)
                else:  # nothing timed in it: its samples cannot be placed
                    self.stats["gap_samples"] += sum(
                        e.n for e in seg.held if isinstance(e, Samples | SampleGap)
                    )
                    seg.held = []
            else:
                for it in items:
                    yield from self._item(seg, it)
            self._prev_clock = seg.clock
            self._seg = None

    def finish(self) -> Iterator[Chunk | Gap]:
        if self._seg is not None:
            yield from self.push(SegmentEnded(self._seg.n, 0))

    # ------------------------------------------------------------- time
    def wall_time(self, t_s: float) -> datetime | None:
        if self._t0_ns is None:
            return None
        return datetime.fromtimestamp(0, UTC) + timedelta(
            microseconds=self._t0_ns / 1000 + t_s * 1e6
        )

    @property
    def timeline_s(self) -> float:
        return self._end / self.fs


# ===================================================================== replay
#: ``meta.json`` config kinds this module replays.
DEVICE_KINDS = ("bitalino", "ganglion")


def is_device_recording(meta: dict) -> bool:
    return (meta.get("config") or {}).get("kind") in DEVICE_KINDS


def layout_from_config(config: dict, device: dict | None = None) -> StreamLayout:
    """The stream layout a device recording's ``config`` describes."""
    cm = config.get("channel_map") or {}
    emg = cm.get("emg") or {}
    if not emg:
        raise ValueError("the recording's channel map names no EMG channel")
    acc_fs = config.get("acc_fs") if cm.get("acc") else None
    extra = {k: str(v) for k, v in (device or {}).items() if v is not None}
    return StreamLayout(
        emg_fs=float(config["emg_fs"]),
        emg_labels=tuple(f"EMG {c}" for c in emg),
        emg_sites=tuple(emg.values()),
        acc_fs=float(acc_fs) if acc_fs else None,
        extra=extra,
    )


class DeviceRecordingSource:
    """A saved BITalino/Ganglion recording as a :class:`~detector.stream.Source`.

    The frames are the device's notifications as received; ``segment`` notes (written by
    the recorder at every connection, before its first notification) cut them into the
    connections.  Each frame goes through a fresh :class:`DeviceSession` and
    :class:`DeviceAssembler`, as it did live, so the replay yields the live run's chunks
    and gaps.
    """

    def __init__(self, path: str, *, info: object | None = None) -> None:
        from firmware_protocol.devices import PROFILES
        from firmware_protocol.devices.base import ChannelMap
        from recordings.errors import UserError
        from recordings.store import open_recording

        self.info = info or open_recording(path)
        self.path = self.info.path  # type: ignore[attr-defined]
        meta = self.info.meta  # type: ignore[attr-defined]
        self.recording_id = meta["recording_id"]
        cfg = meta.get("config") or {}
        try:
            self.profile = PROFILES[cfg["kind"]]
            cm = cfg["channel_map"]
            self.cmap = ChannelMap(emg=tuple(cm["emg"].items()), acc=tuple(cm.get("acc") or ()))
            self.layout = layout_from_config(cfg, meta.get("device"))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise UserError(
                f"{self.path}/meta.json: the device configuration is incomplete ({e}) -- "
                "the recording cannot be replayed"
            ) from None
        self.segments = sorted(
            (n for n in self.info.notes if n.get("kind") == "segment"),  # type: ignore[attr-defined]
            key=lambda n: int(n.get("rx_ns", 0)),
        )
        self.assembler = DeviceAssembler(self.layout)

    def _frames(self) -> Iterator[tuple[bytes, int]]:
        from recordings.store import iter_frames

        for batch in iter_frames(self.info):  # type: ignore[arg-type]
            raws = batch.column("raw").to_pylist()
            rxs = batch.column("rx_ns").to_pylist()
            yield from zip(raws, rxs, strict=True)

    def chunks(self) -> Iterator[Chunk | Gap]:
        from firmware_protocol.devices.host import DeviceSession

        self.assembler = asm = DeviceAssembler(self.layout)
        sess = DeviceSession(self.profile, self.cmap)
        fw_uuid = self.profile.firmware_uuid
        pending = list(self.segments)

        def start(note: dict) -> Iterator[Chunk | Gap]:
            for o in sess.disconnected():
                yield from asm.push(o)
            reads = {fw_uuid: str(note.get("firmware", "")).encode()} if fw_uuid else {}
            for o in sess.connected(reads):
                yield from asm.push(o)

        if not pending:  # an old or hand-made recording: one segment
            pending = [{"rx_ns": -1}]
        for raw, rx in self._frames():
            while pending and int(pending[0].get("rx_ns", 0)) <= rx:
                yield from start(pending.pop(0))
            for d in sess.feed(raw, rx):
                yield from asm.push(d)
        for o in sess.disconnected():
            yield from asm.push(o)
        yield from asm.finish()

    def wall_time(self, t_s: float) -> datetime | None:
        return self.assembler.wall_time(t_s)

    @property
    def stats(self) -> dict:
        return dict(self.assembler.stats)
