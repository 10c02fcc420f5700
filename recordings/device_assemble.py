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
  placement (the minimum receive latency, not the first one).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
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
        self.stats = {"segments": 0, "samples": 0, "gap_samples": 0, "link_gap_s": 0.0}

    # ------------------------------------------------------------- placement
    def _place(self, seg: _Seg) -> Iterator[Chunk | Gap]:
        if self._t0_ns is None:
            seg.offset = 0
            self._t0_ns = seg.clock.host_ns(0)
        else:
            start_ns = seg.clock.host_ns(0)
            at = int(round((start_ns - self._t0_ns) * 1e-9 * self.fs))
            seg.offset = max(at, self._end + 1)  # after the previous segment, never joined
            if seg.offset > self._end:
                yield from self._gap(self._end, seg.offset, "link")
        for item in seg.held:
            yield from self._item(seg, item)
        seg.held = []

    def _gap(self, i0: int, i1: int, reason: str) -> Iterator[Gap]:
        g = Gap(i0 / self.fs, i1 / self.fs, reason)
        self.gaps.append(g)
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
