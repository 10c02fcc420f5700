"""Frame features: the 10-ms frames on the detector's clock, their 100-ms envelope, the
ring of recent frames and the per-second aggregates.

* :class:`FrameClock`: frame index <-> time and second, exact on the absolute grid.
* :class:`Envelope`: centred moving mean of the frames' mean square (the detection
  envelope, a 100-ms RMS once square-rooted), with its carry.
* :class:`FrameStore`: the last frames' features in a :class:`FrameRing` (columns:
  envelope, mean square, TKEO, raw variance, raw mean; ``channels`` wide each).
* :class:`SecondStats`: per-second sums and medians of the frames, taken once a second
  is complete (the rest is carried), by the same operations whatever the chunking.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detector.stages.buffers import FrameRing, Growable
from detector.stages.front_end import Frames


class FrameClock:
    """Frame ``k`` starts at sample ``k * hop``: its time (s) and its second."""

    def __init__(self, fs: float, hop: int) -> None:
        self.fs = fs
        self.hop = hop
        self.fps = fs / hop
        self._fs_int = int(round(fs)) if abs(fs - round(fs)) < 1e-9 else 0

    def sec_of(self, k: np.ndarray | int) -> Any:
        if self._fs_int:
            return (np.asarray(k) * self.hop) // self._fs_int
        return np.floor(np.asarray(k) * self.hop / self.fs).astype(np.int64)

    def t(self, k: int) -> float:
        return k * self.hop / self.fs

    def frames(self, s: float) -> int:
        """Frames in ``s`` seconds, rounded."""
        return int(round(s * self.fps))


class Envelope:
    """Centred moving mean over ``w = 2 * half + 1`` frames, with a carry between calls.

    Output frame ``k`` is the mean of input frames ``k - half .. k + half`` of the same
    contiguous run; the first ``half`` frames of a run get no output (settling).
    """

    def __init__(self, n_ch: int, half: int) -> None:
        self.half = half
        self.w = 2 * half + 1
        self.n_ch = n_ch
        self.carry = np.zeros((n_ch, 0))
        self.carry_k0 = 0

    def reset(self) -> None:
        self.carry = np.zeros((self.n_ch, 0))

    def process(self, k0: int, v: np.ndarray) -> tuple[int, np.ndarray]:
        if self.carry.shape[1] and self.carry_k0 + self.carry.shape[1] != k0:
            self.carry = np.zeros((self.n_ch, 0))
        if self.carry.shape[1] == 0:
            self.carry_k0 = k0
            a = v
        else:
            a = np.concatenate([self.carry, v], axis=1)
        if a.shape[1] < self.w:
            self.carry = a
            return self.carry_k0 + self.half, np.zeros((self.n_ch, 0))
        # explicit left-to-right sum of the w shifted views: the same operations for each
        # output whatever the block (bit-exact), and far cheaper than summing a strided
        # sliding-window view
        n_out = a.shape[1] - self.w + 1
        acc = a[:, 0:n_out].copy()
        for i in range(1, self.w):
            acc += a[:, i : i + n_out]
        out = acc / self.w
        k_out = self.carry_k0 + self.half
        keep = a[:, a.shape[1] - (self.w - 1) :]
        self.carry_k0 = self.carry_k0 + a.shape[1] - (self.w - 1)
        self.carry = keep
        return k_out, out


#: Columns of :class:`FrameStore`, each ``channels`` wide.
ENV, E2, TK, RV, RM = range(5)


class FrameStore:
    """Recent frames' features by absolute frame index (a ring of ``n_frames``)."""

    def __init__(self, n_frames: int, n_ch: int) -> None:
        self.c = n_ch
        self.n = n_frames
        self.ring = FrameRing(n_frames, 5 * n_ch)

    def cols(self, which: int) -> slice:
        return slice(which * self.c, (which + 1) * self.c)

    def put_frames(self, fr: Frames, feats: np.ndarray) -> None:
        """The four frame features (e2, tk, rv, rm stacked, (4 c, n)) in one write."""
        self.ring.put(fr.k0, slice(self.c, 5 * self.c), feats)

    def put_envelope(self, k0: int, e2s: np.ndarray) -> None:
        self.ring.put(k0, self.cols(ENV), e2s)

    def get(self, k0: int, k1: int) -> np.ndarray:
        """Frames ``k0 .. k1 - 1`` as (frames, 5 c); slice with :meth:`cols`."""
        return self.ring.get(k0, k1)


class SecondStats:
    """Per-second aggregates of the frames (e2, tk, rv stacked: (3 c, n)).

    Sums (for the trace and features) and the median of the 10-ms mean squares (the
    resting level's input: a median, so narrow spikes such as ECG R waves or twitches in
    a second do not lift it).  A second is aggregated only once all its frames are in
    (the rest is carried), always by the same operations: bit-exact whatever the
    chunking.  ``flat`` counts frames whose raw variance is below ``flat_rv_uv2``.
    """

    def __init__(self, n_ch: int, flat_rv_uv2: float) -> None:
        c = self.c = n_ch
        self.flat_rv_uv2 = flat_rv_uv2
        self.e2 = Growable(c)
        self.tk = Growable(c)
        self.rv = Growable(c)
        self.flat = Growable(c)
        self.n = Growable(1)
        self.med = Growable(c, np.nan)  # median of the frames' mean square, µV²
        self.med_tk = Growable(c, np.nan)
        self._carry = np.zeros((3 * c, 0))
        self._carry_sec = np.zeros(0, dtype=np.int64)

    def push(
        self, sec: np.ndarray, feats: np.ndarray, final: bool
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Add frames (their seconds ``sec``, features ``feats``); ``final`` closes the
        partial second.  Returns the seconds completed and their frame counts, if any."""
        c = self.c
        if self._carry_sec.size:
            sec = np.concatenate([self._carry_sec, sec])
            feats = np.concatenate([self._carry, feats], axis=1)
        if sec.size == 0:
            return None
        cut = sec.size if final else int(np.searchsorted(sec, sec[-1]))
        self._carry_sec, self._carry = sec[cut:], feats[:, cut:]
        if cut == 0:
            return None
        sec, feats = sec[:cut], feats[:, :cut]
        s1 = int(sec[-1])
        for g in (self.e2, self.tk, self.rv, self.flat, self.n):
            g.ensure(s1 + 1)
        self.med.ensure(s1 + 1)
        self.med_tk.ensure(s1 + 1)
        starts = np.r_[0, np.flatnonzero(np.diff(sec)) + 1]
        secs = sec[starts]
        sums = np.add.reduceat(feats, starts, axis=1)
        flat = np.add.reduceat((feats[2 * c :] < self.flat_rv_uv2).astype(float), starts, axis=1)
        self.e2.a[secs] = sums[:c].T
        self.tk.a[secs] = sums[c : 2 * c].T
        self.rv.a[secs] = sums[2 * c :].T
        self.flat.a[secs] = flat.T
        lens = np.diff(np.r_[starts, cut])
        self.n.a[secs, 0] = lens
        nsec = secs.size
        if np.all(lens == lens[0]):
            L = int(lens[0])
            both = feats[: 2 * c].reshape(2 * c, nsec, L)
            med = np.partition(both, L // 2, axis=-1)[:, :, L // 2]  # upper median
            self.med.a[secs] = med[:c].T
            self.med_tk.a[secs] = med[c:].T
        else:
            for a, n_ in zip(starts, lens, strict=True):
                m = np.partition(feats[: 2 * c, a : a + n_], n_ // 2, axis=1)[:, n_ // 2]
                self.med.a[sec[a]] = m[:c]
                self.med_tk.a[sec[a]] = m[c:]
        return secs, lens
