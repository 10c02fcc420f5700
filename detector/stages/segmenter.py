"""Burst segmenter: the double threshold (Bonato 1998) with the AASM/WASM end rule.

On the envelope (mean square per frame, any channel): a burst is a region above the
*off* level that reaches the *on* level somewhere; it ends at the start of >=
``end_quiet_s`` below *off* (AASM 2007, WASM 2016).  Bursts longer than
``max_segment_s`` are cut at fixed frame counts from their start.  The onset is then
refined on the TKEO frames (:func:`refine_onset`, Solnik 2008).

Stage state (explicit, carried between calls): the start of the current contiguous run
(for settling), the open burst (first and last active frame, whether it reached *on*)
and ``k_done``, the frames seen so far.  Frames are absolute, so the output does not
depend on how the envelope was cut into blocks.
"""

from __future__ import annotations

import numpy as np

from detector.config import DetectorConfig


class BurstSegmenter:
    """``push(k0, e2s, on2, off2, valid)`` -> the bursts it closed, as ``(k0, k1)``."""

    def __init__(self, cfg: DetectorConfig, fps: float) -> None:
        self.G = max(1, int(round(cfg.end_quiet_s * fps)))
        self.max_seg = int(round(cfg.max_segment_s * fps))
        self.settle = int(round(cfg.settle_s * fps))
        self.run_k0 = 0
        self.seg_open = False
        self.seg_k0 = 0
        self.seg_last = 0
        self.seg_high = False
        self.k_done = 0  # frames up to here have been through the burst logic

    def start_run(self, k0: int) -> None:
        """A contiguous run of frames starts at ``k0`` (start, or after a gap)."""
        self.run_k0 = k0

    def open_burst(self) -> tuple[int, int] | None:
        """The burst still open (reached *on*) as ``(k0, k1)``, if any."""
        if self.seg_open and self.seg_high:
            return self.seg_k0, self.seg_last + 1
        return None

    def close(self) -> tuple[int, int] | None:
        """Close the open burst at its last active frame (a gap); it if it reached *on*."""
        got = self.open_burst()
        self.seg_open = False
        return got

    def push(
        self, k0: int, e2s: np.ndarray, on2: np.ndarray, off2: np.ndarray, valid: np.ndarray
    ) -> tuple[list[tuple[int, int]], int]:
        """Envelope frames ``k0 ..`` (channels, n) against the squared levels (channels,
        n), ``valid`` where the rest level is known.  Returns the closed bursts and the
        frame count seen; the caller sets :attr:`k_done` to it once it has handled them.
        """
        n = e2s.shape[1]
        valid = valid & (np.arange(k0, k0 + n) >= self.run_k0 + self.settle)
        with np.errstate(invalid="ignore"):
            above = ((e2s > off2).any(axis=0)) & valid
            high = ((e2s > on2).any(axis=0)) & valid
        idx = np.flatnonzero(above)
        k_end = k0 + n  # frames < k_end have been seen
        G = self.G
        closed: list[tuple[int, int]] = []
        if idx.size:
            ka = idx + k0
            brk = np.flatnonzero(np.diff(ka) > G) + 1
            starts = np.concatenate([[0], brk])
            ends = np.concatenate([brk, [ka.size]])
            hi_cnt = np.add.reduceat(high[idx].astype(np.int64), starts)
            groups = [
                (int(ka[s]), int(ka[e - 1]), bool(h))
                for s, e, h in zip(starts, ends, hi_cnt, strict=True)
            ]
        else:
            groups = []
        # continue / close the open segment
        if self.seg_open:
            if groups and groups[0][0] - self.seg_last - 1 < G:
                g0 = groups[0]
                groups[0] = (self.seg_k0, g0[1], g0[2] or self.seg_high)
            else:
                if self.seg_high:
                    closed.append((self.seg_k0, self.seg_last + 1))
            self.seg_open = False
        # all groups but the last are closed; the last one too if G quiet frames follow
        for i, (a, b, h) in enumerate(groups):
            last = i == len(groups) - 1
            # split over-long segments at fixed absolute frame counts from their start
            while b - a + 1 > self.max_seg:
                if h:
                    closed.append((a, a + self.max_seg))
                a = a + self.max_seg
            if last and (k_end - 1) - b < G:
                self.seg_open, self.seg_k0, self.seg_last, self.seg_high = True, a, b, h
            elif h:
                closed.append((a, b + 1))
        return closed, k_end


def refine_onset(k0: int, lo: int, tk: np.ndarray, rest_tk: np.ndarray, x_rest: float) -> int:
    """First TKEO frame above ``x_rest`` x resting TKEO near the envelope onset ``k0``
    (Solnik 2008), with Bonato-like persistence: 2 of the next 3 frames above.

    ``tk`` holds the TKEO of frames ``lo ..`` (frames, channels); ``rest_tk`` the resting
    TKEO at ``k0`` (channels).  Returns ``k0`` when nothing qualifies.
    """
    if not np.all(np.isfinite(rest_tk)):
        return k0
    thr = np.maximum(rest_tk, 1e-12) * x_rest
    a = (tk > thr).any(axis=1)
    if a.size < 3:
        return k0
    pers = a[:-2].astype(int) + a[1:-1] + a[2:]
    ok = np.flatnonzero(a[:-2] & (pers >= 2))
    if ok.size == 0:
        return k0
    return lo + int(ok[0])
