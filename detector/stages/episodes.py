"""Episodes: bursts closer than ``merge_gap_s`` form one episode; its cramp cores.

* :class:`Episodes`: the open episode (stage state); a burst joins it when it starts
  less than ``merge_gap_s`` after its end (below the 5-10 s minimum PLM interval of
  AASM/WASM, above a stride's swing phase) and the episode stays within
  ``max_segment_s``.
* :func:`cramp_cores`: sustained high calf activity inside an episode, with the onset
  walked back down the rise and the end walked forward down the fall.
* :func:`leftover_parts`: what is left of an episode around its cramps, grouped again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from detector.config import DetectorConfig


@dataclass
class Segment:
    """One burst: frames ``k0 .. k1 - 1``."""

    k0: int
    k1: int  # exclusive


@dataclass
class Episode:
    segs: list[Segment] = field(default_factory=list)

    @property
    def k0(self) -> int:
        return self.segs[0].k0

    @property
    def k1(self) -> int:
        return self.segs[-1].k1


class Episodes:
    """The open episode: ``joins(seg)`` appends a burst if it belongs, else the caller
    closes :attr:`episode` (:meth:`take`) and :meth:`open` s a new one."""

    def __init__(self, cfg: DetectorConfig, fps: float) -> None:
        self.merge = int(round(cfg.merge_gap_s * fps))
        self.max_seg = int(round(cfg.max_segment_s * fps))
        self.episode: Episode | None = None

    def joins(self, seg: Segment) -> bool:
        ep = self.episode
        if ep is None:
            return False
        too_long = (seg.k1 - ep.k0) > self.max_seg
        if seg.k0 - ep.k1 < self.merge and not too_long:
            ep.segs.append(seg)
            return True
        return False

    def open(self, seg: Segment) -> None:
        self.episode = Episode([seg])

    def take(self) -> Episode | None:
        ep, self.episode = self.episode, None
        return ep

    def quiet(self, k_done: int, open_k0: int | None) -> bool:
        """No burst for ``merge_gap_s`` after the episode (``open_k0``: the start of the
        burst still open, which may yet join it)."""
        ep = self.episode
        assert ep is not None
        return k_done >= ep.k1 + self.merge and not (
            open_k0 is not None and open_k0 - ep.k1 < self.merge
        )


def cramp_cores(
    env: np.ndarray,
    rest: np.ndarray,
    off: np.ndarray,
    start: int,
    cfg: DetectorConfig,
    fps: float,
) -> list[tuple[int, int, float]]:
    """Sustained high calf activity: ``(j0, j1, pre-rise s)`` as indices into ``env``.

    ``env`` is the joint calf envelope (µV RMS per frame) from a look-back before the
    episode (which starts at index ``start``) to its end; ``rest`` and ``off`` the calf
    rest and off levels on the same frames (NaN while unknown).

    Core level: ``max(cramp_core_x_rest x rest, cramp_core_frac x P90)`` of the calf
    envelope: above the highest pre-cramp rise (+500 %, Chaney & Sherman) and below the
    troughs of a cramp's waxing and waning (depth <= 45 %, Minetto 2009).  Holes shorter
    than ``cramp_hole_s`` are bridged; runs of >= ``cramp_min_s`` are kept.  The onset is
    then walked back down the contraction's rise to where the envelope meets
    ``cramp_onset_x_pre`` x the level just before it (a local baseline, as in Severini
    2012's adaptive double threshold); the end is walked forward down the fall to the off
    level.
    """
    inner = env[start:]
    p90 = float(np.percentile(inner, 90))
    level = np.maximum(rest * cfg.cramp_core_x_rest, cfg.cramp_core_frac * p90)
    hi = env > level
    hi[:start] = False
    idx = np.flatnonzero(hi)
    if idx.size == 0:
        return []
    hole = int(round(cfg.cramp_hole_s * fps))
    brk = np.flatnonzero(np.diff(idx) > hole + 1) + 1
    starts = idx[np.r_[0, brk]]
    ends = idx[np.r_[brk - 1, idx.size - 1]] + 1
    runs = []
    min_len = int(round(cfg.cramp_min_s * fps))
    pre_far, pre_near = cfg.cramp_pre_window_s
    for a, b in zip(starts, ends, strict=True):
        if b - a < min_len:
            continue
        a, b = int(a), int(b)
        # onset: walk back down the rise to the local pre-level
        w0 = max(0, a - int(round(pre_far * fps)))
        w1 = max(w0 + 1, a - int(round(pre_near * fps)))
        pre_level = float(np.median(env[w0:w1])) if w1 > w0 else float(rest[a])
        floor = max(pre_level * cfg.cramp_onset_x_pre, float(off[a]))
        back = int(round(cfg.cramp_rise_max_s * fps))
        j = a
        while j > max(start, a - back) and env[j - 1] > floor:
            j -= 1
        # end: walk forward down the fall to the off level (or the post level)
        fwd = int(round(cfg.cramp_fall_max_s * fps))
        e = b
        lim = min(env.size, b + fwd)
        tail = cfg.cramp_fall_floor * float(np.median(env[a:b]))
        while e < lim and env[e] > off[e] and env[e] > tail:
            e += 1
        pre_s = 0.0
        seg_start = max(start, 0)
        if j > seg_start:
            pre_s = (j - seg_start) / fps
        runs.append((j, e, pre_s))
    return runs


def leftover_parts(
    segs: list[Segment],
    cramps: list[tuple[Segment, float]],
    fps: float,
    min_frames: int,
    merge: int,
) -> list[list[Segment]]:
    """The bursts of an episode with its cramps (and each one's pre-rise) cut out,
    pieces shorter than ``min_frames`` dropped, regrouped into parts ``merge`` apart.

    The pre-cramp rise right before a cramp is context, not an event.
    """
    rest: list[Segment] = []
    for sg in segs:
        pieces = [(sg.k0, sg.k1)]
        for c, pre in cramps:
            nxt = []
            for a, b in pieces:
                lo = c.k0 - int(round(pre * fps))
                if b <= lo or a >= c.k1:
                    nxt.append((a, b))
                    continue
                if a < lo:
                    nxt.append((a, lo))
                if b > c.k1:
                    nxt.append((c.k1, b))
            pieces = nxt
        rest += [Segment(a, b) for a, b in pieces if b - a >= min_frames]
    parts: list[list[Segment]] = []
    group: list[Segment] = []
    for sg in rest:
        if group and sg.k0 - group[-1].k1 >= merge:
            parts.append(group)
            group = []
        group.append(sg)
    if group:
        parts.append(group)
    return parts
