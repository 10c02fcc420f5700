"""Sleep/wake: who is awake when (for the PLM rules and the context of a cramp), and the
30-s epochs (Cole-Kripke).

* :class:`WakeState` (stage state, live): the sleeper is taken to be awake from the
  recording start and after a cramp, walking, a stretch or a posture change
  (``wake_subtypes``), until the first ``wake_quiet_s`` without movement other than
  single leg-movement-like bursts, at most ``wake_max_s``.  AASM scores PLMS in sleep;
  sleepers lie awake minutes after a cramp (Hallegraeff 2017).
* :func:`asleep_before`, :func:`after_cramp`: a cramp's context.
* :func:`wake_periods`, :func:`epochs`: the night's 30-s epochs at the end, from active
  seconds weighted over epochs -4..+2 (Cole, Kripke et al. 1992).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from detector.config import DetectorConfig
from detector.events import Event
from detector.stages.posture import AccSeconds


class WakeState:
    def __init__(self, cfg: DetectorConfig) -> None:
        self.cfg = cfg
        self.wake_t = 0.0  # last wake trigger (the recording start counts)
        self.sleep_t = cfg.wake_max_s  # estimated time of falling asleep after it
        self.last_active = 0.0  # end of the last burst >= lm_min_s that is not LM-like

    def start(self, t0: float) -> None:
        """The recording starts at ``t0`` (s): awake."""
        self.wake_t = self.last_active = t0
        self.sleep_t = t0 + self.cfg.wake_max_s

    def _fell_asleep(self, t: float) -> None:
        if t - self.last_active >= self.cfg.wake_quiet_s and self.last_active >= self.wake_t:
            self.sleep_t = min(self.sleep_t, self.last_active + self.cfg.wake_quiet_s)

    def episode(self, t0: float, t1: float, n_segments: int) -> None:
        """An episode of activity from ``t0`` to ``t1`` (s) closed.  Single bursts of
        leg-movement length do not count as wakefulness (PLMS occur in sleep)."""
        cfg = self.cfg
        lm_like = n_segments <= cfg.lm_max_segments and t1 - t0 <= cfg.lm_max_s
        if t1 - t0 >= cfg.lm_min_s and not lm_like:
            self._fell_asleep(t0)
            self.last_active = max(self.last_active, t1)

    def is_awake(self, t: float) -> bool:
        """Awake at ``t``: after a wake trigger and before the first quiet stretch."""
        self._fell_asleep(t)
        return self.wake_t <= t < self.sleep_t

    def emitted(self, ev: Event) -> None:
        """A final event: cramps and ``wake_subtypes`` wake the sleeper."""
        if ev.kind == "cramp" or ev.subtype in self.cfg.wake_subtypes:
            if ev.end_s > self.wake_t:
                self.wake_t = ev.end_s
                self.sleep_t = ev.end_s + self.cfg.wake_max_s
                self.last_active = max(self.last_active, ev.end_s)


def asleep_before(
    t0: float, events: Sequence[Event], acc: AccSeconds | None, cfg: DetectorConfig
) -> bool:
    """No movement event and a quiet accelerometer for ``asleep_quiet_s`` before ``t0``."""
    lo = t0 - cfg.asleep_quiet_s
    for e in events:
        if e.kind == "movement" and e.end_s > lo and e.start_s < t0:
            return False
    if acc is not None:
        _, act, ok = acc.seconds(int(lo), int(t0))
        if ok.any() and float(np.mean(act[ok] > cfg.active_acc_g)) > cfg.asleep_active_frac:
            return False
    return t0 >= cfg.asleep_min_t_s


def after_cramp(
    e: Event, events: Sequence[Event], acc: AccSeconds | None, cfg: DetectorConfig
) -> dict[str, Any]:
    """What followed cramp ``e``: ``moved_after_s``, ``walked_after_s``, ``woke_after``,
    ``awake_after_s`` (within ``after_window_s``)."""
    win = cfg.after_window_s
    after = [x for x in events if x.start_s >= e.end_s - cfg.after_slack_s and x is not e]
    moved = [x for x in after if x.kind == "movement" and x.start_s - e.end_s <= win]
    walked = [x for x in moved if x.subtype == "walking"]
    ctx: dict[str, Any] = {}
    ctx["moved_after_s"] = round(max(0.0, moved[0].start_s - e.end_s), 1) if moved else None
    ctx["walked_after_s"] = round(max(0.0, walked[0].start_s - e.end_s), 1) if walked else None
    awake = 0.0
    if acc is not None:
        _, act, ok = acc.seconds(int(e.end_s), int(e.end_s) + win)
        if ok.any():
            a = act[ok] > cfg.active_acc_g
            last = np.flatnonzero(a)
            awake = float(last[-1] + 1) if last.size else 0.0
    if moved:
        awake = max(awake, moved[-1].end_s - e.end_s)
    ctx["woke_after"] = bool(moved) or awake > 0 or e.duration_s >= cfg.woke_min_cramp_s
    ctx["awake_after_s"] = round(awake, 1)
    return ctx


def wake_periods(
    events: Sequence[Event], t0: float, t_end: float, cfg: DetectorConfig
) -> list[tuple[float, float]]:
    """The :class:`WakeState` rule over the whole night: (start, end) s of each period."""
    evs = sorted(events, key=lambda e: e.start_s)
    triggers = [t0] + [e.end_s for e in evs if e.kind == "cramp" or e.subtype in cfg.wake_subtypes]
    busy = [
        (e.start_s, e.end_s)
        for e in evs
        if e.kind in ("movement", "cramp") and e.subtype not in ("leg-movement", "twitch")
    ]
    out = []
    for tr in triggers:
        last = tr
        end = min(tr + cfg.wake_max_s, t_end)
        for a, b in busy:
            if b <= tr:
                continue
            if a >= end or a - last >= cfg.wake_quiet_s:
                break
            last = max(last, b)
        end = min(end, last + cfg.wake_quiet_s)
        out.append((tr, end))
    return out


def epochs(
    active: np.ndarray,
    have: np.ndarray,
    up: np.ndarray,
    posture: np.ndarray,
    wake: list[tuple[float, float]],
    cfg: DetectorConfig,
) -> dict[str, Any]:
    """Sleep/wake epochs from per-second ``active``, ``have`` (data), ``up`` (upright
    with data) and ``posture``, plus the ``wake`` periods (s).

    An epoch is wake when the Cole-Kripke weighted count of active seconds over epochs
    -4..+2 reaches ``wake_score_s``, when it is upright for ``epoch_upright_s`` or more,
    or inside a wake period (lying awake after waking up is mostly still: actigraphy
    misses it); ``gap`` with fewer than ``epoch_min_data_s`` seconds of data.
    """
    L = cfg.epoch_s
    n_sec = active.size
    n_ep = int(math.ceil(n_sec / L)) if n_sec else 0
    pad = n_ep * L - n_sec
    act_ep = np.concatenate([active, np.zeros(pad, bool)]).reshape(n_ep, L).sum(axis=1)
    have_ep = np.concatenate([have, np.zeros(pad, bool)]).reshape(n_ep, L).sum(axis=1)
    up_ep = np.concatenate([up, np.zeros(pad, bool)]).reshape(n_ep, L).sum(axis=1)
    w = np.array(cfg.cole_weights, float)
    w = w / w.sum()
    lead = cfg.cole_lead
    lag = w.size - 1 - lead
    padded = np.concatenate([np.zeros(lead), act_ep.astype(float), np.zeros(lag)])
    score = np.array([float(np.dot(w, padded[i : i + w.size])) for i in range(n_ep)])
    state = np.where(score >= cfg.wake_score_s, "wake", "sleep").astype(object)
    state[up_ep >= cfg.epoch_upright_s] = "wake"
    for wa, wb in wake:
        state[int(wa // L) : int(math.ceil(wb / L))] = "wake"
    state[have_ep < cfg.epoch_min_data_s] = "gap"
    post_ep = []
    for i in range(n_ep):
        p = posture[i * L : (i + 1) * L]
        vals, cnt = np.unique(p.astype(str), return_counts=True)
        post_ep.append(str(vals[np.argmax(cnt)]) if vals.size else "unknown")
    return {
        "t_s": np.arange(n_ep) * float(L),
        "state": state,
        "posture": post_ep,
        "activity": act_ep.astype(int),
    }
