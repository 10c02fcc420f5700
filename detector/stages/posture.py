"""Posture: the accelerometer per second, the shank axis, upright, turning, posture.

* :class:`AccSeconds`: per-second sums of the three axes and their squares; a second is
  summed once complete (carried until then), by the same operations whatever the
  chunking.  :meth:`AccSeconds.seconds` gives each second's gravity vector (mean, g),
  activity (RMS of the axes' variation, g) and whether it has data.
* :class:`ShankAxis`: the direction along the shank, learnt from the night.
* :func:`upright`: shank within ``upright_deg`` of vertical.
* :func:`burst_acc`: activity, upright and turning across one burst.
* :func:`posture_per_second`: lying / sitting / standing / unknown.
"""

from __future__ import annotations

import math

import numpy as np

from detector.config import DetectorConfig
from detector.stages.buffers import Growable


class AccSeconds:
    def __init__(self, acc_fs: float | None) -> None:
        self.acc_fs = acc_fs
        self.sums = Growable(7)  # sx sy sz sxx syy szz n
        self.n_samples = 0
        self.sec_done = 0  # seconds before this are complete
        self._next: int | None = None
        self._carry = np.zeros((0, 3))
        self._carry_j0 = 0

    @property
    def n(self) -> int:
        """Seconds stored (highest + 1)."""
        return self.sums.n

    def push(self, j0: int, a: np.ndarray) -> None:
        """Samples ``a`` (n, 3) in g from absolute acc index ``j0``."""
        fs = float(self.acc_fs or 0)
        m = a.shape[0]
        self.n_samples += m
        if self._carry.shape[0] and self._next != j0:
            self.flush()
        if self._carry.shape[0] == 0:
            self._carry_j0 = j0
            buf = a
        else:
            buf = np.concatenate([self._carry, a])
        j = np.arange(self._carry_j0, self._carry_j0 + buf.shape[0])
        sec = (
            j // int(round(fs)) if abs(fs - round(fs)) < 1e-9 else np.floor(j / fs).astype(np.int64)
        )
        cut = int(np.searchsorted(sec, sec[-1]))
        # the last second is complete when its last sample is in
        if abs(fs - round(fs)) < 1e-9 and (j[-1] + 1) % int(round(fs)) == 0:
            cut = buf.shape[0]
        self._sum(sec[:cut], buf[:cut])
        self._carry = buf[cut:]
        self._carry_j0 = int(j[cut]) if cut < buf.shape[0] else int(j[-1]) + 1
        self._next = j0 + m
        self.sec_done = max(self.sec_done, int(math.floor((j0 + m) / fs)))

    def flush(self) -> None:
        """Sum the partial second carried (end of the night, a jump in the index)."""
        if self._carry.shape[0]:
            fs = float(self.acc_fs or 1)
            j = np.arange(self._carry_j0, self._carry_j0 + self._carry.shape[0])
            self._sum(np.floor(j / fs + 1e-9).astype(np.int64), self._carry)
            self._carry = np.zeros((0, 3))

    def _sum(self, sec: np.ndarray, a: np.ndarray) -> None:
        if sec.size == 0:
            return
        starts = np.r_[0, np.flatnonzero(np.diff(sec)) + 1]
        secs = sec[starts]
        self.sums.ensure(int(secs[-1]) + 1)
        cols = np.concatenate([a, a * a], axis=1)
        self.sums.a[secs, :6] = np.add.reduceat(cols, starts, axis=0)
        self.sums.a[secs, 6] = np.diff(np.r_[starts, sec.size])

    def seconds(self, s0: int, s1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-second gravity (k,3), activity (k,), valid (k,) for seconds s0..s1-1."""
        s0 = max(0, s0)
        s1 = max(s0, min(s1, self.sums.n))
        a = self.sums.a[s0:s1]
        n = a[:, 6]
        ok = n > 0
        nn = np.maximum(n, 1)[:, None]
        mean = a[:, 0:3] / nn
        var = np.maximum(a[:, 3:6] / nn - mean**2, 0.0)
        act = np.sqrt(var.sum(axis=1))
        return mean, act, ok


class ShankAxis:
    """Unit vector along the shank in sensor axes, from quiet seconds before ``s_max``.

    Lying, gravity is across the shank whichever way the leg rolls, so the shank is the
    direction gravity visits least: the smallest-eigenvalue eigenvector of the scatter
    of unit gravity vectors.  When the leg did not roll enough to tell (the two smallest
    eigenvalues within ``axis_eig_ratio``), the configured ``acc_shank_axis`` is used.
    Re-learnt every ``axis_block_s`` from sums over fixed blocks in time order (the same
    sums whatever the chunking).  State: the scatter so far and a one-entry cache.
    """

    def __init__(self, cfg: DetectorConfig) -> None:
        self.cfg = cfg
        self._cache: dict[int, np.ndarray] = {}
        self._scatter = np.zeros((3, 3))
        self._n = 0
        self._upto = 0

    def at(self, s_max: int, acc: AccSeconds) -> np.ndarray:
        blk = self.cfg.axis_block_s
        default = np.zeros(3)
        default[self.cfg.acc_shank_axis] = 1.0
        s_max = (s_max // blk) * blk
        if s_max in self._cache:
            return self._cache[s_max]
        axis = self._learn(s_max, default, acc)
        self._cache = {s_max: axis}
        return axis

    def _learn(self, s_max: int, default: np.ndarray, acc: AccSeconds) -> np.ndarray:
        blk = self.cfg.axis_block_s
        while self._upto + blk <= s_max:
            a = self._upto
            g, act, ok = acc.seconds(a, a + blk)
            sel = ok & (act < self.cfg.active_acc_g)
            if sel.any():
                u = g[sel] / np.maximum(np.linalg.norm(g[sel], axis=1, keepdims=True), 1e-9)
                self._scatter += u.T @ u
                self._n += int(sel.sum())
            self._upto += blk
        if self._n < self.cfg.axis_min_s:
            return default
        w, v = np.linalg.eigh(self._scatter / self._n)
        if w[0] < self.cfg.axis_eig_ratio * w[1]:
            return v[:, 0]
        return default


def upright(g: np.ndarray, axis: np.ndarray, upright_deg: float) -> np.ndarray:
    """Gravity ``g`` (..., 3) within ``upright_deg`` of the shank ``axis``."""
    norm = np.linalg.norm(g, axis=-1)
    cosang = np.abs(g @ axis) / np.maximum(norm, 1e-9)
    return cosang >= math.cos(math.radians(upright_deg))


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    """Angle between two vectors, degrees."""
    c = float(np.dot(u, v) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-12))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def burst_acc(
    acc: AccSeconds, axis: ShankAxis, cfg: DetectorConfig, t0: float, t1: float
) -> tuple[float | None, bool | None, float | None]:
    """Median activity (g) over the burst, upright (most of it), and the turn of the
    gravity vector (deg) from just before to just after it; None where unknown."""
    if not acc.acc_fs:
        return None, None, None
    s0, s1 = int(math.floor(t0)), int(math.ceil(t1))
    g, act, ok = acc.seconds(s0, max(s1, s0 + 1))
    if not ok.any():
        return None, None, None
    activity = float(np.median(act[ok]))
    up = bool(upright(g[ok], axis.at(s0, acc), cfg.upright_deg).mean() >= cfg.upright_frac)
    far, near = cfg.turn_far_s, cfg.turn_near_s
    gb, _, okb = acc.seconds(s0 - far, s0 - near)
    ga, _, oka = acc.seconds(s1 + near, s1 + far)
    turn = None
    if okb.any() and oka.any():
        turn = _angle(gb[okb].mean(axis=0), ga[oka].mean(axis=0))
    return activity, up, turn


def on_feet(acc: AccSeconds, axis: ShankAxis, cfg: DetectorConfig, t0: float, t1: float) -> bool:
    """Standing through ``[t0, t1)`` by a walk next to it: a bout of ``walk_onset_run_s``
    seconds or more moving like walking (acc activity >= ``walk_acc_g``), either the last
    one ending within ``standing_since_max_s`` before ``t0`` (standing since the walk) or
    the first one starting after ``t0`` whose ``walk_onset_run_s`` seconds lie within
    ``standing_before_s`` after ``t1`` (standing up to it: the seconds read end there), that
    was upright (by the learnt shank axis, or the gravity vector turned by
    ``turn_angle_deg`` from a still second in the ``got_up_s`` before it or before ``t0``:
    the sleeper got up), the shank keeping the bout's mean gravity (within
    ``turn_angle_deg``) between the bout and ``[t0, t1)``.  Needs no learnt axis once the
    sleeper is seen getting up."""
    if not acc.acc_fs:
        return False
    s0 = max(0, int(math.floor(t0)) - int(cfg.standing_since_max_s))
    g, act, ok = acc.seconds(s0, int(math.ceil(t1 + cfg.standing_before_s)))
    n0, n1 = int(math.floor(t0)) - s0, int(math.ceil(t1)) - s0
    moving = ok & (act >= cfg.walk_acc_g)
    d = np.diff(np.r_[0, moving.astype(np.int8), 0])
    on, off = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    long_ = off - on >= max(1, int(cfg.walk_onset_run_s))
    on, off = on[long_], off[long_]
    bouts = []
    if (off <= n0).any():
        i = int(np.flatnonzero(off <= n0)[-1])
        bouts.append((int(on[i]), int(off[i]), slice(int(off[i]), n1)))
    if (on > n0).any():  # the walk may start in the core's last second
        i = int(np.flatnonzero(on > n0)[0])
        bouts.append((int(on[i]), int(off[i]), slice(n0, min(n1, int(on[i])))))
    for i0, i1, between in bouts:
        gw = g[i0:i1][ok[i0:i1]].mean(axis=0)
        up = bool(
            upright(g[i0:i1][ok[i0:i1]], axis.at(s0 + i0, acc), cfg.upright_deg).mean() >= 0.5
        )
        if not up:  # the axis may be learnt wrong: did the shank turn as it got up?
            k = min(i0, n0)
            pre = slice(max(0, k - int(cfg.got_up_s)), k)
            still = g[pre][ok[pre] & ~moving[pre]]
            up = any(_angle(v, gw) >= cfg.turn_angle_deg for v in still)
        gs = g[between][ok[between]]
        if up and gs.shape[0]:
            nrm = np.maximum(np.linalg.norm(gs, axis=1) * float(np.linalg.norm(gw)), 1e-12)
            up = bool(((gs @ gw) / nrm >= math.cos(math.radians(cfg.turn_angle_deg))).all())
        if up:
            return True
    return False


def walk_onset(
    acc: AccSeconds, axis: ShankAxis, cfg: DetectorConfig, t0: float, t1: float
) -> float | None:
    """The second walking starts within [t0, t1): the first of ``walk_onset_run_s``
    seconds in a row with the shank upright and moving like walking (acc activity
    >= ``walk_acc_g``); None without accelerometer or walking.

    A cramp walked off at once (DOMAIN: people get up the moment it bites) ends where the
    strides start: the part of the episode before this second is judged on its own.
    """
    if not acc.acc_fs:
        return None
    s0, s1 = int(math.floor(t0)), int(math.ceil(t1))
    g, act, ok = acc.seconds(s0, max(s1, s0 + 1))
    if not ok.any():
        return None
    walking = ok & (act >= cfg.walk_acc_g) & upright(g, axis.at(s0, acc), cfg.upright_deg)
    run = max(1, int(cfg.walk_onset_run_s))
    if walking.size < run:
        return None
    full = np.convolve(walking.astype(np.int32), np.ones(run, np.int32), mode="valid") == run
    hit = np.flatnonzero(full)
    return float(max(t0, s0 + int(hit[0]))) if hit.size else None


def posture_per_second(
    ok: np.ndarray, up: np.ndarray, moving: np.ndarray, walking: np.ndarray, near_s: int
) -> np.ndarray:
    """``lying`` / ``sitting`` / ``standing`` per second with data (``ok``), else
    ``unknown``.  Sitting vs standing from the shank alone is ambiguous: standing when
    upright and walking or moving within ``near_s`` seconds, else sitting (our rule)."""
    n_sec = ok.size
    posture = np.full(n_sec, "unknown", dtype=object)
    # +-near_s dilation; "full" then centred slice (mode="same" returns the kernel's
    # length for recordings shorter than it)
    mv = (walking | moving).astype(float)
    near = (
        np.convolve(mv, np.ones(2 * near_s + 1), mode="full")[near_s : near_s + n_sec] > 0
        if n_sec
        else np.zeros(0, bool)
    )
    posture[ok] = "lying"
    posture[ok & up] = "sitting"
    posture[ok & up & near] = "standing"
    return posture
