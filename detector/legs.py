"""Both legs in one night: one :class:`~detector.detect.Detector` per leg, merged.

A source whose layout names both legs (:meth:`detector.stream.StreamLayout.legs`: a
sleep-lab EDF with ``LAT`` and ``RAT``), or one source per leg (one sensor on each
calf), is run as one detector per leg.  Their events are merged by the bilateral rules
(:mod:`detector.stages.bilateral`): every event carries its ``side``; leg movements
merge into bilateral ones before the PLM series rule.

Push interface as :class:`~detector.detect.Detector`'s (``push``, ``take_notices``,
``finish``), with ``push(item, leg=side)`` for an item of one leg only (its own chunks,
its own gaps: a gap on one leg leaves the other leg's detector untouched).

Latency: cramps, artifacts and other movements reach :meth:`take_notices` as soon as
their leg's detector closes them (early cramp notices too); leg movements and PLMs are
decided over both legs at :meth:`finish` (the series needs both legs' whole sequence).

State: the per-leg detectors, the gaps seen, and per leg how many of its series
candidates are already known (so its notices can be sorted without a rescan).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.config import DetectorConfig
from detector.detect import DETECTOR_VERSION, Detector
from detector.events import KINDS, Event, NightResult, lazy_table
from detector.stages.bilateral import LegEvents, merge_legs, rule_name
from detector.stream import Chunk, Gap, StreamLayout

if TYPE_CHECKING:
    import pandas as pd


class _Leg:
    def __init__(self, side: str, idx: tuple[int, ...], layout: StreamLayout,
                 cfg: DetectorConfig) -> None:  # fmt: skip
        self.side = side
        self.idx = np.asarray(idx, dtype=np.intp)
        self.detector = Detector(layout, cfg)
        self.cand_keys: set[tuple[float, float]] = set()
        self._n_cand = 0

    def sync(self) -> None:
        """Learn the series candidates the leg's detector took since the last call."""
        cands = self.detector.plm.candidates
        for c in cands[self._n_cand :]:
            self.cand_keys.add((c.start_s, c.end_s))
        self._n_cand = len(cands)

    def is_candidate(self, ev: Event) -> bool:
        """A leg movement that went to the leg's series stage (decided at finish)."""
        self.sync()
        return ev.kind in ("plm", "movement") and (ev.start_s, ev.end_s) in self.cand_keys


class LegsDetector:
    """One detector per leg, merged by the bilateral rules (see the module docstring)."""

    def __init__(
        self,
        layout: StreamLayout | Sequence[StreamLayout],
        config: DetectorConfig | None = None,
    ) -> None:
        self.cfg = cfg = config or DetectorConfig()
        self.rule = rule_name(cfg)
        if isinstance(layout, StreamLayout):
            self.layout = layout
            parts = layout.legs()
            self._split = True
        else:
            self.layout = StreamLayout.of_legs(layout)
            parts = [(lay.side, tuple(range(lay.n_emg)), lay) for lay in layout]
            self._split = False
        self.legs = [_Leg(side, idx, sub, cfg) for side, idx, sub in parts]
        self.gaps: list[Gap] = []
        self._finished: NightResult | None = None

    def _leg(self, side: str) -> _Leg:
        for leg in self.legs:
            if leg.side == side:
                return leg
        raise ValueError(f"no {side!r} leg in this night (legs: {[g.side for g in self.legs]})")

    def push(self, item: Chunk | Gap, leg: str | None = None) -> list[Event]:
        """Feed one chunk or gap, to every leg (``leg=None``: the source's channels are
        split by leg) or to one leg's detector; returns the events closed and final."""
        if leg is not None:
            lg = self._leg(leg)
            if isinstance(item, Gap):
                self.gaps.append(replace(item, side=leg))
            return [replace(e, side=leg) for e in lg.detector.push(item)
                    if not lg.is_candidate(e)]  # fmt: skip
        if isinstance(item, Gap):
            self.gaps.append(item)
        out: list[Event] = []
        for lg in self.legs:
            if isinstance(item, Chunk) and self._split:
                part: Chunk | Gap = Chunk(item.emg_start, item.emg[:, lg.idx], item.acc_start,
                                          item.acc)  # fmt: skip
            else:
                part = item
            out += [replace(e, side=lg.side) for e in lg.detector.push(part)
                    if not lg.is_candidate(e)]  # fmt: skip
        return out

    def take_notices(self) -> list[Event]:
        """Early cramp notices and final events as their legs close them, each with its
        ``side``; leg movements and PLMs wait for :meth:`finish`."""
        out: list[Event] = []
        for lg in self.legs:
            for ev in lg.detector.take_notices():
                if ev.is_notice or not lg.is_candidate(ev):
                    out.append(replace(ev, side=lg.side))
        return out

    def finish(self) -> NightResult:
        """Close every leg and merge (all events in onset order, each with its side)."""
        if self._finished is not None:
            return self._finished
        nights = {lg.side: lg.detector.finish() for lg in self.legs}
        legs = [
            LegEvents(lg.side, nights[lg.side].events, lg.detector.plm.candidates)
            for lg in self.legs
        ]
        events, bstats = merge_legs(legs, self.cfg)
        spans = [
            (d._first_i / d.fs, d._last_i / d.fs)
            for d in (lg.detector for lg in self.legs)
            if d._first_i is not None
        ]
        dur = max(b for _, b in spans) - min(a for a, _ in spans) if spans else 0.0
        self._finished = merge_nights(self.layout, nights, events, self.gaps, bstats, dur)
        return self._finished


def _combine_trace(traces: list[pd.DataFrame]) -> pd.DataFrame:
    """Per second: the loudest leg's EMG and rest, the most active leg's acceleration,
    the first known posture."""
    import pandas as pd

    traces = [t for t in traces if len(t)]
    if not traces:
        return pd.DataFrame(columns=["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"])
    n = max(len(t) for t in traces)
    t_s = np.arange(n, dtype=float)

    def stack(col: str) -> np.ndarray:
        a = np.full((len(traces), n), np.nan)
        for i, t in enumerate(traces):
            a[i, : len(t)] = t[col].to_numpy(dtype=float)
        return a

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN seconds stay NaN
        rms = np.nanmax(stack("emg_rms_uv"), axis=0)
        rest = np.nanmax(stack("rest_uv"), axis=0)
        act = np.nanmax(stack("activity_g"), axis=0)
    posture = np.full(n, "unknown", dtype=object)
    for t in reversed(traces):
        p = t["posture"].to_numpy(dtype=object)
        known = p != "unknown"
        posture[: len(p)][known] = p[known]
    return pd.DataFrame(
        {"t_s": t_s, "emg_rms_uv": rms, "rest_uv": rest, "activity_g": act, "posture": posture}
    )


def _combine_epochs(epochs: list[pd.DataFrame]) -> pd.DataFrame:
    """Per epoch: wake if either leg says wake, else sleep if either has data, else gap."""
    import pandas as pd

    epochs = [e for e in epochs if len(e)]
    if not epochs:
        return pd.DataFrame(columns=["t_s", "state", "posture", "activity"])
    base = max(epochs, key=len).copy().reset_index(drop=True)
    for e in epochs:
        st = e["state"].to_numpy(dtype=object)
        cur = base["state"].to_numpy(dtype=object, copy=True)
        k = len(st)
        cur[:k] = np.where(
            (cur[:k] == "wake") | (st == "wake"),
            "wake",
            np.where((cur[:k] == "sleep") | (st == "sleep"), "sleep", cur[:k]),
        )
        base["state"] = cur
        if "activity" in e:
            a = base["activity"].to_numpy(dtype=float, copy=True)
            a[:k] = np.fmax(a[:k], e["activity"].to_numpy(dtype=float))
            base["activity"] = a
    return base


def merge_nights(
    layout: StreamLayout,
    nights: dict[str, NightResult],
    events: list[Event],
    gaps: list[Gap],
    bilateral: dict[str, Any],
    duration_s: float,
) -> NightResult:
    """One night from the legs' nights and the merged events (see :class:`LegsDetector`)."""
    first = next(iter(nights.values()))
    legs_stats = {side: n.stats for side, n in nights.items()}
    stats: dict[str, Any] = {
        "samples": sum(int(s.get("samples", 0)) for s in legs_stats.values()),
        "acc_samples": sum(int(s.get("acc_samples", 0)) for s in legs_stats.values()),
        "gap_s": float(sum(g.duration_s for g in gaps)),
        "gaps": len(gaps),
        "electrode_off_s": float(sum(s.get("electrode_off_s", 0.0) for s in legs_stats.values())),
        "artifact_s": float(sum(s.get("artifact_s", 0.0) for s in legs_stats.values())),
        "twitches": sum(int(s.get("twitches", 0)) for s in legs_stats.values()),
        "counts": {k: sum(1 for e in events if e.kind == k) for k in KINDS},
        "bilateral": bilateral,
        "legs": legs_stats,
    }
    return NightResult(
        layout=layout,
        events=events,
        gaps=sorted(gaps, key=lambda g: (g.start_s, g.side)),
        # made on first read, as each leg's own tables (pandas only for who reads them)
        trace=lazy_table(lambda: _combine_trace([n.trace for n in nights.values()])),
        epochs=lazy_table(lambda: _combine_epochs([n.epochs for n in nights.values()])),
        duration_s=duration_s,
        detector_version=first.detector_version or DETECTOR_VERSION,
        stats=stats,
        legs=nights,
    )
