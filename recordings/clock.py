"""Align the sensor's clock to the host's, robust to drift and to notification latency.

Every received frame gives a pair (sensor time ``s``, host receive time ``h``).  With a
sensor clock running at rate ``1 + r`` (|r| <= 100 ppm for the crystal we emulate) and a
notification latency ``L >= 0`` (radio connection interval, stack buffering, scheduler)::

    h = h0 + (1 + r') * s + L          (r' = host rate / sensor rate - 1)

so ``d = h - s`` lies *above* the line ``h0 + r' s`` and touches it when a frame happens
to arrive with the minimum latency.  The line is therefore fitted to the **lower
envelope** of the pairs, never through their middle: latency only ever adds.

Method (Moon, Skelly & Towsley 1999, "Estimation and removal of clock skew from network
delay measurements", IEEE INFOCOM): keep the minimum of ``d`` per window of
:data:`WINDOW_S` seconds of sensor time (bounded memory: 2,880 points for 8 h), then take
the line that lies under every window minimum and maximises its height at the centroid of
the points -- the linear programme of Moon et al., whose optimum is an edge of the lower
convex hull.  Backfilled frames (arriving seconds late) and latency bursts never pull the
line up; only a window with *no* prompt frame at all yields a high point, which the hull
ignores.

The constant bias left is the minimum latency (one BLE connection interval, 7.5-50 ms,
Core spec Vol 6 Part B 4.5.1) minus nothing we can observe; feeding the sensor time of the
*last* sample of a frame (as the recorder does) removes the frame's own duration from it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

#: Width of one envelope window, in seconds of sensor time.  Short enough that a
#: 100 ppm drift moves the floor by only 1 ms within it (10 s x 100e-6), long enough to
#: hold hundreds of notifications (~12 frames/s at 2 EMG ch x 1 kHz), so one of them
#: arrives with near-minimum latency.
WINDOW_S = 10.0


def lower_hull_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, intercept) of the line under all points, highest at the mean of ``xs``.

    ``xs`` must be sorted ascending.  The optimum of Moon et al.'s LP is the lower-hull
    edge spanning the centroid (or the hull vertex at it).
    """
    n = len(xs)
    if n == 0:
        return 0.0, 0.0
    if n == 1 or xs[-1] == xs[0]:
        return 0.0, min(ys)
    hull: list[tuple[float, float]] = []  # Andrew's monotone chain, lower half
    for p in zip(xs, ys, strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    if len(hull) == 1:
        return 0.0, hull[0][1]
    xm = sum(xs) / n
    k = bisect.bisect_left([h[0] for h in hull], xm)
    k = min(max(k, 1), len(hull) - 1)
    (x1, y1), (x2, y2) = hull[k - 1], hull[k]
    slope = (y2 - y1) / (x2 - x1)
    return slope, y1 - slope * x1


@dataclass
class ClockSync:
    """One boot of the sensor: sensor microseconds -> host nanoseconds.

    Feed every received frame with :meth:`add`; ask with :meth:`host_ns`.  Works from
    the first pair (offset only) and learns the drift as the night goes on.
    """

    window_s: float = WINDOW_S
    _s0: int | None = None
    _h0: int = 0
    _xs: list[float] = field(default_factory=list)
    _ys: list[float] = field(default_factory=list)
    _cur_w: int = -1
    _fit: tuple[float, float] | None = None
    pairs: int = 0

    def add(self, sensor_us: int, host_ns: int) -> None:
        """One observation: the sensor's clock ``sensor_us`` was received at ``host_ns``."""
        if self._s0 is None:
            self._s0, self._h0 = int(sensor_us), int(host_ns)
        x = (int(sensor_us) - self._s0) * 1e-6
        y = (int(host_ns) - self._h0) * 1e-9 - x
        self.pairs += 1
        w = int(x // self.window_s)
        if w == self._cur_w:
            if y < self._ys[-1]:
                self._xs[-1], self._ys[-1] = x, y
                self._fit = None
            return
        if w > self._cur_w:
            self._cur_w = w
            self._xs.append(x)
            self._ys.append(y)
        else:  # out-of-order (backfill of an older window): fold into its window
            i = bisect.bisect_left(self._xs, w * self.window_s)
            if i < len(self._xs) and int(self._xs[i] // self.window_s) == w:
                if y < self._ys[i]:
                    self._xs[i], self._ys[i] = x, y
            else:
                self._xs.insert(i, x)
                self._ys.insert(i, y)
        self._fit = None

    @property
    def ready(self) -> bool:
        return self._s0 is not None

    def _line(self) -> tuple[float, float]:
        if self._fit is None:
            self._fit = lower_hull_fit(self._xs, self._ys)
        return self._fit

    @property
    def drift_ppm(self) -> float:
        """Host seconds per sensor second minus 1, in parts per million."""
        return self._line()[0] * 1e6

    @property
    def windows(self) -> int:
        return len(self._xs)

    def host_ns(self, sensor_us: float) -> int:
        """Host clock (ns, same epoch as the ``host_ns`` fed in) at sensor time ``sensor_us``."""
        if self._s0 is None:
            raise ValueError("no clock pairs yet")
        slope, icpt = self._line()
        x = (sensor_us - self._s0) * 1e-6
        return self._h0 + int(round((x + icpt + slope * x) * 1e9))

    def sensor_us(self, host_ns: int) -> float:
        """Inverse of :meth:`host_ns`."""
        if self._s0 is None:
            raise ValueError("no clock pairs yet")
        slope, icpt = self._line()
        return self._s0 + ((host_ns - self._h0) * 1e-9 - icpt) / (1.0 + slope) * 1e6


@dataclass
class _Segment:
    timeline_s: float  # recording timeline second where this boot's sample index 0 sits
    index0_us: float  # sensor clock at this boot's sample index 0
    sync: ClockSync


class TimelineClock:
    """Wall time of recording-timeline seconds, across sensor reboots.

    Each boot of the sensor restarts its clock and sample counters; the recorder tells
    :meth:`boot` where that boot's sample 0 sits on the recording timeline and what the
    sensor clock read there, then feeds pairs with :meth:`add`.  ``wall_time`` is the
    :class:`~detector.stream.Source` ``wall_time`` callable for the cramp log.
    """

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._segs: dict[int, _Segment] = {}
        self._order: list[tuple[float, int]] = []

    def boot(self, boot_id: int, timeline_s: float, index0_us: float) -> None:
        if boot_id in self._segs:
            return
        self._segs[boot_id] = _Segment(timeline_s, index0_us, ClockSync(self.window_s))
        bisect.insort(self._order, (timeline_s, boot_id))

    def known(self, boot_id: int) -> bool:
        return boot_id in self._segs

    def add(self, boot_id: int, sensor_us: int, host_ns: int) -> None:
        self._segs[boot_id].sync.add(sensor_us, host_ns)

    def sync(self, boot_id: int) -> ClockSync:
        return self._segs[boot_id].sync

    def host_ns(self, t_s: float) -> int | None:
        """Host clock (UTC ns) at timeline second ``t_s``, or None before any pair."""
        if not self._order:
            return None
        i = bisect.bisect_right(self._order, (t_s, float("inf"))) - 1
        seg = self._segs[self._order[max(i, 0)][1]]
        if not seg.sync.ready:
            for _, b in reversed(self._order):
                if self._segs[b].sync.ready:
                    seg = self._segs[b]
                    break
            else:
                return None
        return seg.sync.host_ns(seg.index0_us + (t_s - seg.timeline_s) * 1e6)

    def wall_time(self, t_s: float) -> datetime | None:
        ns = self.host_ns(t_s)
        if ns is None:
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


class ClockFit:
    """Timeline seconds <-> host UTC ns: the interface :mod:`recordings.assemble` looks up.

    ``FrameAssembler`` feeds ``add(t_s, rx_ns)`` with the timeline second of the last
    sample of each emitted frame and its receive time; this adapter runs
    :class:`ClockSync` (lower envelope, Moon et al. 1999) over those pairs, so live
    recording and replay share one robust fit.
    """

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self._sync = ClockSync(window_s)

    def add(self, t_s: float, rx_ns: int) -> None:
        self._sync.add(int(round(t_s * 1e6)), int(rx_ns))

    @property
    def n(self) -> int:
        return self._sync.windows

    @property
    def drift_ppm(self) -> float:
        return self._sync.drift_ppm if self._sync.ready else 0.0

    def params(self) -> tuple[float, float] | None:
        """(offset_ns, slope ns/s): rx_ns ~= offset_ns + slope * t_s."""
        if not self._sync.ready:
            return None
        h0 = self._sync.host_ns(0)
        return float(h0), float(self._sync.host_ns(1_000_000) - h0)

    def to_rx_ns(self, t_s: float) -> float | None:
        if not self._sync.ready:
            return None
        return float(self._sync.host_ns(t_s * 1e6))

    def to_timeline(self, rx_ns: int) -> float | None:
        if not self._sync.ready:
            return None
        return self._sync.sensor_us(int(rx_ns)) * 1e-6
