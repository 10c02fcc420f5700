"""An independent night model for the report draws: not :mod:`emulator.night`.

The detector and :mod:`emulator.night` grew up together, so a score on its nights is
partly a score of how well the rules learnt that generator.  This module is a second,
deliberately different signal model, written from ``shared/brief/DOMAIN.md`` alone,
used to *report* on its ``report`` and ``report2`` draws; only its ``smoke`` draw and the
scripted one-cramp draws of :mod:`benchmarks.bench_scripted` are tuned on:

* **Texture.**  Rest is Gaussian noise through a random resonant filter (an AR(2) peak at
  40-160 Hz with random damping, then a random 1st-4th order high-pass), not the Shwedyk
  spectrum.  Contractions are sums of motor-unit action-potential trains (biphasic or
  triphasic Hermite-Rodriguez shapes, 1.5-8 ms wide, firing as gamma renewal processes at
  6-25 /s with an interspike CV of 15-50 %, recruited as the drive rises) plus a Gaussian
  interference part: spiky where :mod:`emulator.night` is smooth.
* **Cramps.**  Duration 8 s-10 min (log-uniform), intensity 10-150x the channel's rest
  (log-uniform), linear onset ramp 0.2-2.5 s (log-uniform: "sudden", DOMAIN), waxing and waning at 0.5-3 Hz with depth 0-60 %
  plus slow swells, a sag or a build-up over the cramp, optional pre-rise, one or every
  calf head.  Relief: stretch, walk, massage/shake, a turn-over or none, starting 0-60 s
  after the cramp, and for walking also *while the calf is still contracted* (the truth
  cramp then ends where the first stride starts).
* **Hard negatives.**  PLM series (interval 5-90 s, 0.5-10 s, 8-100 µV), turn-overs,
  bathroom walks (stride 0.8-1.5 s), voluntary stretches (tibialis held 10-120 s),
  fidgets, twitches, electrode-off spells (line hum with harmonics over a flat broadband
  floor, saturating or swinging), pops, ECG bleed spells, baseline wander.
* **Signal chain.**  256 Hz-2 kHz; below 600 Hz a sleep-lab band (10-100 Hz, or 10 Hz to
  0.4 fs), above it a wearable band; mains 50/60 Hz at 1-50 µV with random harmonics; with
  or without accelerometer (12.5-100 Hz) and tibialis channel; a random gain error of the
  amplifier is not modelled here (the invariance suite does that).

Truth conventions: a span runs from the start of the activation's rise to the end of its
fall; a cramp that flows into walking ends where the first stride starts.

``wild_night(seed, duration_s, cramp_free=False, **overrides)`` builds one night (rendered
whole into float32 arrays: keep nights <= 1 h); :func:`wild_corpus` a list of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import signal
from scipy.ndimage import uniform_filter1d

from detector.stream import ArraySource, Chunk, Gap, StreamLayout, simple_wall_time

ENV_FS = 100.0
"""Rate of the activation-envelope grid, Hz."""


@dataclass(frozen=True)
class Truth:
    kind: str
    subtype: str
    start_s: float
    end_s: float
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _lu(r: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(r.uniform(math.log(lo), math.log(hi))))


def _muap(r: np.random.Generator, fs: float) -> np.ndarray:
    """One motor-unit action potential: a Hermite-Rodriguez shape of order 1 or 2."""
    w = r.uniform(0.0015, 0.008)
    n = max(3, int(6 * w * fs))
    t = (np.arange(n) - n / 2) / fs / w
    g = np.exp(-(t**2))
    shape = t * g if r.random() < 0.6 else (1 - 2 * t**2) * g
    return shape / (np.sqrt(np.sum(shape**2)) + 1e-12)


class _Builder:
    """Plans a night, then renders it into arrays."""

    def __init__(self, seed: int, duration_s: float, kw: dict[str, Any]) -> None:
        r = np.random.default_rng(seed)
        self.r = r
        self.seed = seed
        self.T = float(duration_s)
        self.fs = float(kw.get("emg_fs", r.choice([256.0, 400.0, 512.0, 1000.0, 1024.0, 2000.0])))
        sites = kw.get("sites")
        if sites is None:
            sites = [("calf",), ("calf", "tibialis"), ("gastrocnemius", "soleus", "tibialis")][
                int(r.choice(3, p=[0.25, 0.5, 0.25]))
            ]
        self.sites = tuple(sites)
        acc = kw.get("acc_fs", "draw")
        if acc == "draw":
            acc = None if r.random() < 0.4 else float(r.choice([12.5, 25.0, 50.0, 100.0]))
        self.acc_fs = acc
        self.mains_hz = float(kw.get("mains_hz", r.choice([50.0, 60.0])))
        self.mains_uv = float(kw.get("mains_uv", _lu(r, 1.0, 50.0)))
        if self.fs < 600:
            hi = 100.0 if r.random() < 0.7 else 0.4 * self.fs
            self.band = (10.0, hi)
        else:
            self.band = (
                float(r.uniform(5.0, 20.0)),
                min(float(r.uniform(400, 500)), 0.45 * self.fs),
            )
        self.n = int(round(self.T * self.fs))
        self.calf = [i for i, s in enumerate(self.sites) if s != "tibialis"]
        self.tib = [i for i, s in enumerate(self.sites) if s == "tibialis"]
        nc = len(self.sites)
        self.rest = np.array([_lu(r, 0.7, 6.0) for _ in range(nc)])
        self.ne = int(self.T * ENV_FS) + 2
        te = np.arange(self.ne) / ENV_FS
        # resting level drifts slowly over the night (x0.6-1.6)
        drift = np.ones((nc, self.ne))
        for c in range(nc):
            p = _lu(r, 600.0, 7200.0)
            drift[c] = np.exp(r.uniform(0.0, 0.45) * np.sin(2 * np.pi * te / p + r.uniform(0, 6.3)))
        self.rest_env = self.rest[:, None] * drift
        # power of Gaussian activity (µV^2) and drive of motor-unit activity (µV RMS) per channel
        self.gpow = np.zeros((nc, self.ne))
        self.mu = np.zeros((nc, self.ne))
        self.add: list[tuple[str, float, float, dict[str, Any]]] = []
        """Additive artefacts rendered after the front end: (kind, t0, t1, params)."""
        self.truth: list[Truth] = []
        self.busy: list[tuple[float, float]] = []
        # accelerometer plan: posture changes (t0, t1, vector) and motion (t0, t1, kind, amp)
        self.mount = self._rotation(r.uniform(-0.3, 0.3, 3))
        self.post: list[tuple[float, float, np.ndarray]] = []
        self.motion: list[tuple[float, float, str, float]] = []
        self.cur_post = self._lying()
        self.post.append((0.0, 0.0, self.cur_post))

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _rotation(a: np.ndarray) -> np.ndarray:
        cx, cy, cz = np.cos(a)
        sx, sy, sz = np.sin(a)
        rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
        return rz @ ry @ rx

    def _lying(self) -> np.ndarray:
        r = self.r
        v = [
            np.array([0, 0, -1.0]),
            np.array([0, 0, 1.0]),
            np.array([0, 1.0, 0]),
            np.array([0, -1.0, 0]),
        ][int(r.integers(0, 4))]
        v = self._rotation(r.uniform(-0.25, 0.25, 3)) @ v
        return v / np.linalg.norm(v)

    def _span(self, t0: float, t1: float) -> slice:
        return slice(max(0, int(t0 * ENV_FS)), min(self.ne, int(math.ceil(t1 * ENV_FS)) + 1))

    def _shape(self, t0: float, t1: float, rise: float, fall: float) -> tuple[slice, np.ndarray]:
        sl = self._span(t0, t1)
        t = np.arange(sl.start, sl.stop) / ENV_FS
        a = np.clip((t - t0) / max(rise, 1e-3), 0, 1)
        b = np.clip((t1 - t) / max(fall, 1e-3), 0, 1)
        return sl, np.minimum(a, b)

    def gauss(
        self, c: int, t0: float, t1: float, uv: float, rise: float = 0.1, fall: float = 0.1
    ) -> None:
        sl, s = self._shape(t0, t1, rise, fall)
        self.gpow[c, sl] += (uv * s) ** 2

    def mus(
        self, c: int, t0: float, t1: float, uv: np.ndarray | float, rise: float, fall: float
    ) -> None:
        sl, s = self._shape(t0, t1, rise, fall)
        self.mu[c, sl] = np.sqrt(self.mu[c, sl] ** 2 + (s * uv) ** 2)

    def label(self, kind: str, sub: str, t0: float, t1: float, **extra: Any) -> None:
        # an event the night's end cuts off is rendered up to the end: its truth is the
        # part that is there (dropping it left rendered activity without a label, which
        # scored a detector that found it as a false cramp)
        if t1 > self.T and t0 < self.T:
            t1, extra = self.T, {**extra, "cut_at_end": True}
        if t1 > t0 and t0 >= 0 and t1 <= self.T:
            self.truth.append(Truth(kind, sub, round(t0, 3), round(t1, 3), extra))

    def set_posture(self, t: float, v: np.ndarray, dur: float = 2.0) -> None:
        self.post.append((t, t + dur, v / np.linalg.norm(v)))
        self.cur_post = v

    def stand_vec(self) -> np.ndarray:
        return self._rotation(self.r.uniform(-0.15, 0.15, 3)) @ np.array([1.0, 0, 0])

    # ----------------------------------------------------------------- events
    def turn(self, t: float, both: bool = True) -> float:
        r = self.r
        d = float(r.uniform(1.5, 6.0))
        for c in range(len(self.sites)):
            if both or r.random() < 0.5:
                self.gauss(c, t, t + d, _lu(r, 10.0, 150.0), 0.3, 0.5)
        self.set_posture(t + 0.3 * d, self._lying(), 0.5 * d)
        self.motion.append((t, t + d, "jolt", float(r.uniform(0.05, 0.3))))
        self.label("movement", "turning", t, t + d)
        return t + d

    def walk(self, t: float, dur: float, calf_tonic: float = 0.0) -> float:
        """Strides from t for dur s (standing already)."""
        r = self.r
        stride = float(r.uniform(0.8, 1.5))
        amp = _lu(r, 25.0, 250.0)
        tib_amp = _lu(r, 15.0, 120.0)
        k = t
        while k < t + dur:
            st = stride * float(r.uniform(0.92, 1.08))
            for c in self.calf:
                a = amp * float(r.uniform(0.7, 1.3))
                self.mus(c, k + 0.1 * st, k + 0.55 * st, a, 0.08, 0.1)
            for c in self.tib:
                self.gauss(c, k, k + 0.15 * st, tib_amp, 0.03, 0.05)
                self.gauss(c, k + 0.65 * st, k + 0.95 * st, 0.6 * tib_amp, 0.05, 0.05)
            k += st
        for c in self.calf:
            self.gauss(c, t, k, _lu(r, 2.0, 12.0), 0.5, 0.5)
        self.motion.append((t, k, "walk", stride))
        self.label("movement", "walking", t, k)
        return k

    def trip(self, t: float) -> float:
        """Out of bed, walk, back to bed."""
        r = self.r
        self.set_posture(t, np.array([0.3, 0, -0.95]), 1.5)
        self.turn_small(t, 2.0)
        ts = t + float(r.uniform(2.0, 6.0))
        self.set_posture(ts - 1.5, self.stand_vec(), 1.5)
        k = self.walk(ts, float(r.uniform(20.0, 180.0)))
        k = self.walk(k + float(r.uniform(10.0, 120.0)), float(r.uniform(15.0, 90.0)))
        self.set_posture(k + 1.0, self._lying(), 2.0)
        self.turn_small(k + 1.0, 2.5)
        return k + 4.0

    def turn_small(self, t: float, d: float) -> None:
        for c in range(len(self.sites)):
            self.gauss(c, t, t + d, _lu(self.r, 6.0, 40.0), 0.3, 0.3)
        self.motion.append((t, t + d, "jolt", 0.1))

    def stretch(self, t: float, dur: float | None = None) -> float:
        r = self.r
        d = float(dur if dur is not None else r.uniform(10.0, 120.0))
        if self.tib:
            for c in self.tib:
                self.mus(c, t, t + d, _lu(r, 20.0, 160.0), float(r.uniform(0.3, 2.0)), 0.8)
                self.gauss(c, t, t + d, _lu(r, 5.0, 30.0), 0.5, 0.8)
        for c in self.calf:
            self.gauss(c, t, t + d, self.rest[c] * float(r.uniform(0.5, 2.5)), 1.0, 1.0)
        self.motion.append((t, t + 1.5, "jolt", 0.05))
        self.label("movement", "stretch", t, t + d)
        return t + d

    def massage(self, t: float) -> float:
        r = self.r
        d = float(r.uniform(8.0, 60.0))
        shake = r.random() < 0.5
        f = float(r.uniform(3.0, 6.0)) if shake else float(r.uniform(0.7, 2.0))
        k = t
        while k < t + d:
            for c in self.calf:
                self.gauss(c, k, k + 0.35 / f, _lu(r, 20.0, 200.0), 0.02, 0.05)
            k += (1.0 / f) * float(r.uniform(0.8, 1.25))
        self.motion.append((t, t + d, "shake" if shake else "jolt", f if shake else 0.08))
        self.label("movement", "shaking" if shake else "massage", t, t + d)
        return t + d

    def fidget(self, t: float) -> float:
        r = self.r
        d = float(r.uniform(0.3, 2.5))
        for c in range(len(self.sites)):
            if r.random() < 0.7:
                self.gauss(c, t, t + d, _lu(r, 15.0, 120.0), 0.05, 0.1)
        self.motion.append((t, t + d, "jolt", float(r.uniform(0.02, 0.2))))
        self.label("movement", "fidget", t, t + d)
        return t + d

    def twitch(self, t: float) -> float:
        r = self.r
        d = float(r.uniform(0.05, 0.4))
        c = int(r.integers(0, len(self.sites)))
        self.mus(c, t, t + d, _lu(r, 15.0, 200.0), 0.01, 0.02)
        self.label("movement", "twitch", t, t + d)
        return t + d

    def plm_series(
        self, t: float, n: int | None = None, skip: tuple[float, float] | None = None
    ) -> float:
        r = self.r
        n = int(n if n is not None else r.integers(4, 40))
        interval = float(r.uniform(5.0, 90.0)) if r.random() < 0.3 else float(r.uniform(10.0, 40.0))
        med = float(r.uniform(0.5, 5.0))
        chans = self.tib if self.tib else self.calf[:1]
        co = r.random() < 0.35
        k = t
        for _ in range(n):
            d = float(np.clip(med * r.lognormal(0, 0.3), 0.5, 10.0))
            if skip is None or not (skip[0] - 3 < k + d and k < skip[1] + 3):
                amp = float(r.uniform(8.0, 100.0)) + 2 * float(self.rest[chans[0]])
                for c in chans:
                    self.gauss(c, k, k + d, amp, 0.1, 0.15)
                if co or not self.tib:
                    for c in self.calf:
                        if c not in chans:
                            self.gauss(c, k, k + d, amp * float(r.uniform(0.2, 0.8)), 0.1, 0.15)
                if r.random() < 0.6:
                    self.motion.append((k, k + min(d, 1.0), "jolt", float(r.uniform(0.01, 0.08))))
                self.label("plm", "", k, k + d)
            k += float(np.clip(interval * r.uniform(0.85, 1.15), 5.0, 90.0))
        return k

    def cramp(
        self,
        tc: float,
        relief: str | None = None,
        dur: float | None = None,
        delay: float | None = None,
        while_contracted: bool | None = None,
    ) -> float:
        """One cramp from tc; returns the end of the whole episode (relief included)."""
        r = self.r
        dur = float(dur if dur is not None else _lu(r, 8.0, 600.0))
        heads = list(self.calf)
        if len(heads) >= 2 and r.random() < 0.35:
            heads = [heads[int(r.integers(0, len(heads)))]]
        relief = relief or str(
            r.choice(["stretch", "walk", "massage", "turn", "none"], p=[0.3, 0.3, 0.2, 0.1, 0.1])
        )
        d_draw = float(r.uniform(0.0, 60.0)) if r.random() < 0.5 else float(r.uniform(0.0, 3.0))
        delay = d_draw if delay is None else float(delay)
        wc_draw = relief == "walk" and r.random() < 0.4
        while_contracted = wc_draw if while_contracted is None else bool(while_contracted)
        x_rest = _lu(r, 10.0, 150.0)
        rise = _lu(r, 0.2, 2.5)
        fall = float(r.uniform(0.5, 4.0))
        t1 = tc + dur
        if r.random() < 0.7:  # pre-rise, 20-60 s, +100-500 %
            pre = float(r.uniform(20.0, 60.0))
            pct = _lu(r, 1.0, 5.0)
            for c in heads:
                self.gauss(
                    c,
                    tc - pre,
                    tc + rise + 1.0,
                    self.rest[c] * math.sqrt((1 + pct) ** 2 - 1),
                    5.0,
                    1.0,
                )
        sl, s = self._shape(
            tc, t1 if not while_contracted else t1 + float(r.uniform(0.5, 3.0)), rise, fall
        )
        t = np.arange(sl.start, sl.stop) / ENV_FS - tc
        depth = float(r.uniform(0.0, 0.6))
        f_w = float(r.uniform(0.5, 3.0))
        trend = float(r.uniform(-0.4, 0.3))
        mod = (
            (1 - depth / 2 + depth / 2 * np.sin(2 * np.pi * f_w * t + r.uniform(0, 6.3)))
            * (1 + 0.25 * np.sin(2 * np.pi * r.uniform(0.03, 0.2) * t + r.uniform(0, 6.3)))
            * (1 + trend * t / dur)
        )
        for c in heads:
            a = x_rest * float(self.rest_env[c, sl.start]) * float(r.uniform(0.8, 1.2))
            prof = a * s * np.clip(mod, 0.2, None)
            frac = float(r.uniform(0.3, 0.9))  # share of motor-unit texture
            self.mu[c, sl] = np.sqrt(self.mu[c, sl] ** 2 + frac * prof**2)
            self.gpow[c, sl] += (1 - frac) * prof**2
        for c in self.calf:
            if c not in heads:
                self.gauss(
                    c,
                    tc,
                    t1,
                    x_rest * float(self.rest[c]) * float(r.uniform(0.0, 0.08)),
                    rise,
                    fall,
                )
        for c in self.tib:
            if r.random() < 0.5:
                self.gauss(
                    c,
                    tc,
                    t1,
                    x_rest * float(self.rest[heads[0]]) * float(r.uniform(0.01, 0.12)),
                    rise,
                    fall,
                )
        if self.acc_fs and r.random() < 0.7:
            self.motion.append(
                (tc + min(dur * 0.5, float(r.uniform(1, 8))), tc + min(dur, 10.0), "jolt", 0.05)
            )
        self.label(
            "cramp",
            "",
            tc,
            t1,
            relief=relief,
            delay_s=round(delay, 2),
            x_rest=round(x_rest, 1),
            while_contracted=while_contracted,
            rise_s=round(rise, 2),
        )
        end = t1 + fall
        if relief == "stretch":
            end = self.stretch(t1 - fall * 0.5 + delay if delay > 1 else t1 - 1.0)
        elif relief == "walk":
            if while_contracted:
                # up on the feet while the calf still cramps; strides start at t1
                self.set_posture(t1 - float(r.uniform(1.0, 3.0)), self.stand_vec(), 1.0)
                end = self.walk(t1, float(r.uniform(30.0, 240.0)))
            else:
                ts = t1 + fall + delay
                self.set_posture(max(t1, ts - 2.0), self.stand_vec(), 1.0)
                if delay > 4:
                    for c in self.calf:
                        self.gauss(c, ts - delay + 1, ts, _lu(r, 2.0, 10.0), 0.5, 0.2)
                end = self.walk(ts, float(r.uniform(30.0, 240.0)))
            self.set_posture(end + 1.0, self._lying(), 2.0)
            self.turn_small(end + 1.0, 2.5)
            end += 4.0
        elif relief == "massage":
            end = self.massage(t1 + fall + delay)
        elif relief == "turn":
            end = self.turn(t1 + fall * 0.3 + (delay if delay > 3 else 0.0))
        return end

    # ----------------------------------------------------------------- plan
    def plan(self, kw: dict[str, Any]) -> None:
        r = self.r
        script = kw.get("script")
        if script is not None:
            # scripted night: only the listed cramps (t, relief, duration, delay or None,
            # while_contracted or None), on a quiet background of twitches
            for tc, relief, dur, delay, wc in script:
                self.cramp(float(tc), relief=relief, dur=dur, delay=delay, while_contracted=wc)
            self._sprinkle(self.twitch, 10.0, 1.0)
            self.add.append(("ecg", 0.0, self.T, {"uv": 1.0}))
            return
        cramp_free = bool(kw.get("cramp_free", False))
        n_cramps = 0 if cramp_free else int(kw.get("cramps", r.integers(1, 4)))
        eps: list[str] = ["cramp"] * n_cramps
        eps += ["plm"] * int(r.integers(0, 3))
        eps += ["trip"] * int(r.integers(0, 2) + (1 if cramp_free else 0))
        eps += ["stretch"] * int(r.integers(0, 3) + (1 if cramp_free else 0))
        eps += ["eoff"] * int(r.random() < (0.6 if cramp_free else 0.3))
        eps += ["combo"] * (0 if cramp_free or r.random() < 0.5 else 1)
        r.shuffle(eps)
        t = float(r.uniform(30.0, 240.0))
        for e in eps:
            if t > self.T - 60:
                break
            if e == "cramp":
                t = self.cramp(t)
            elif e == "plm":
                t = self.plm_series(t)
            elif e == "trip":
                t = self.trip(t)
            elif e == "stretch":
                t = self.stretch(t)
            elif e == "eoff":
                t = self.eoff(t)
            elif e == "combo":
                kind = str(r.choice(["plm", "turn", "double"]))
                if kind == "plm":  # a cramp during a PLM series
                    tc = t + float(r.uniform(60.0, 200.0))
                    d = _lu(r, 10.0, 120.0)
                    end = self.plm_series(t, int(r.integers(10, 30)), skip=(tc - 5, tc + d + 40))
                    t = max(end, self.cramp(tc, relief="stretch", dur=d))
                elif kind == "turn":  # a cramp right after turning over
                    t = self.cramp(self.turn(t) + float(r.uniform(0.0, 3.0)))
                else:  # two cramps a minute apart
                    t = self.cramp(t, relief="massage")
                    t = self.cramp(t + float(r.uniform(20.0, 60.0)))
            t += float(r.uniform(30.0, 400.0))
        # background: turns, fidgets, twitches, pops, ECG spells, wander
        self._sprinkle(self.turn, float(r.uniform(1.0, 6.0)), 8.0)
        self._sprinkle(self.fidget, float(r.uniform(2.0, 15.0)), 4.0)
        self._sprinkle(self.twitch, float(r.uniform(5.0, 40.0)), 1.0)
        for _ in range(int(r.poisson(3 * self.T / 3600))):
            a = float(r.uniform(0, self.T - 5))
            self.add.append(("pop", a, a + 3.0, {"uv": _lu(r, 50, 3000), "tau": _lu(r, 0.05, 0.8)}))
        if r.random() < 0.4:
            a = float(r.uniform(0, self.T - 120))
            self.add.append(("ecg", a, a + float(r.uniform(30, 600)), {"uv": _lu(r, 10, 60)}))
        self.add.append(("ecg", 0.0, self.T, {"uv": float(r.uniform(0.0, 4.0))}))
        if r.random() < 0.5:
            a = float(r.uniform(0, self.T - 120))
            self.add.append(("wander", a, a + float(r.uniform(30, 900)), {"uv": _lu(r, 5, 60)}))

    def _sprinkle(self, fn: Any, per_hour: float, room: float) -> None:
        occupied = sorted((e.start_s - 5, e.end_s + 5) for e in self.truth)
        for _ in range(int(self.r.poisson(per_hour * self.T / 3600))):
            t = float(self.r.uniform(5, self.T - room - 5))
            if all(not (a < t + room and t < b) for a, b in occupied):
                fn(t)
                occupied.append((t - 5, t + room + 5))

    def eoff(self, t: float) -> float:
        r = self.r
        d = _lu(r, 10.0, 400.0)
        self.add.append(
            (
                "eoff",
                t,
                t + d,
                {
                    "hum": _lu(r, 150.0, 4000.0),
                    "floor": _lu(r, 10.0, 200.0),
                    "swing": float(r.uniform(0, 1) < 0.5),
                },
            )
        )
        self.label("artifact", "electrode-off", t, t + d)
        return t + d

    # ----------------------------------------------------------------- render
    def render(self) -> tuple[np.ndarray, np.ndarray | None]:
        r = np.random.default_rng(self.seed + 7_000_000)
        fs, n = self.fs, self.n
        nc = len(self.sites)
        out = np.zeros((n, nc), dtype=np.float32)
        te = np.arange(self.ne) / ENV_FS
        t = np.arange(n) / fs
        lo, hi = self.band
        band = signal.butter(int(r.integers(2, 5)), [lo, hi], btype="band", fs=fs, output="sos")
        for c in range(nc):
            # resonant rest spectrum
            f0 = float(r.uniform(40.0, min(160.0, 0.35 * fs)))
            rr = float(r.uniform(0.6, 0.95))
            a = [1.0, -2 * rr * math.cos(2 * math.pi * f0 / fs), rr * rr]
            w = signal.lfilter([1.0], a, r.standard_normal(n + 500))[500:]
            w = signal.sosfilt(band, w)
            w /= np.std(w) + 1e-12
            env = np.sqrt(np.interp(t, te, self.rest_env[c] ** 2 + self.gpow[c]))
            x = env * w
            x += self._mu_texture(r, c, t)
            x += float(r.uniform(0.2, 0.8)) * r.standard_normal(n)
            out[:, c] = x
        self._additive(r, out, t)
        rail = float(r.uniform(1500.0, 6000.0))
        np.clip(out, -rail, rail, out=out)
        acc = self._acc(r) if self.acc_fs else None
        return out, acc

    def _mu_texture(self, r: np.random.Generator, c: int, t: np.ndarray) -> np.ndarray:
        fs = self.fs
        drive = self.mu[c]
        act = drive > 0
        x = np.zeros(t.size)
        if not act.any():
            return x
        band = signal.butter(2, [self.band[0], self.band[1]], btype="band", fs=fs, output="sos")
        d = np.diff(np.r_[0, act.astype(np.int8), 0])
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            t0, t1 = a / ENV_FS, b / ENV_FS
            i0, i1 = int(t0 * fs), min(t.size, int(t1 * fs) + 1)
            if i1 <= i0 + 4:
                continue
            seg = np.zeros(i1 - i0)
            n_mu = int(r.integers(4, 14))
            dur = t1 - t0
            for _k in range(n_mu):
                rate = float(r.uniform(6.0, 25.0))
                cv = float(r.uniform(0.15, 0.5))
                shape = 1 / cv**2
                isi = r.gamma(shape, 1 / (rate * shape), size=int(dur * rate * 1.6) + 4)
                ft = np.cumsum(isi) + float(r.uniform(0, 1 / rate))
                ft = ft[ft < dur]
                # recruitment threshold (share of the peak drive); the smallest unit
                # recruits at once (size principle), so activity shows from the first drive
                thr = 0.0 if _k == 0 else float(r.uniform(0.0, 0.6))
                dv = np.interp(t0 + ft, np.arange(drive.size) / ENV_FS, drive)
                keep = dv >= thr * float(drive[a:b].max())
                idx = (ft[keep] * fs).astype(int)
                imp = np.zeros(i1 - i0)
                np.add.at(imp, np.clip(idx, 0, imp.size - 1), dv[keep] * float(r.uniform(0.5, 1.5)))
                seg += signal.fftconvolve(imp, _muap(r, fs), mode="same")
            # scale to the drive's RMS over 1-s windows
            seg = signal.sosfilt(band, seg)
            want = np.interp(t[i0:i1], np.arange(drive.size) / ENV_FS, drive)
            k = max(1, min(int(0.5 * fs), seg.size))
            p = uniform_filter1d(seg**2, k)
            q = uniform_filter1d(want**2, k)
            x[i0:i1] += seg * np.sqrt(q / np.maximum(p, 1e-9 * (q.max() + 1e-12)))
        return x

    def _additive(self, r: np.random.Generator, out: np.ndarray, t: np.ndarray) -> None:
        fs = self.fs
        nc = out.shape[1]
        # mains with random harmonics
        harm = [(1, 1.0)] + [
            (h, float(r.uniform(0, 0.3))) for h in (2, 3, 5) if h * self.mains_hz < 0.45 * fs
        ]
        for c in range(nc):
            m = np.zeros(t.size)
            for h, g in harm:
                m += g * np.sin(2 * np.pi * h * self.mains_hz * t + r.uniform(0, 6.3))
            out[:, c] += (self.mains_uv * float(r.uniform(0.6, 1.4)) * m).astype(np.float32)
        for kind, a, b, p in self.add:
            i0, i1 = int(a * fs), min(t.size, int(b * fs))
            if i1 <= i0:
                continue
            tt = t[i0:i1] - a
            if kind == "pop":
                c = int(r.integers(0, nc))
                out[i0:i1, c] += (p["uv"] * np.exp(-tt / p["tau"])).astype(np.float32)
                self.label("artifact", "pop", a, a + 3 * p["tau"])
            elif kind == "ecg":
                hr = float(r.uniform(50.0, 90.0)) / 60.0
                beats = np.arange(float(r.uniform(0, 1)), b - a, 1 / hr)
                beats += r.normal(0, 0.02, beats.size)
                q = np.zeros(i1 - i0)
                for bt in beats:
                    j = int(bt * fs)
                    w = int(0.04 * fs)
                    lo_, hi_ = max(0, j - w), min(q.size, j + w)
                    if hi_ > lo_:
                        q[lo_:hi_] += np.exp(-(((np.arange(lo_, hi_) - j) / (0.008 * fs)) ** 2)) * (
                            1 - 2 * ((np.arange(lo_, hi_) - j) / (0.012 * fs)) ** 2
                        )
                for c in range(nc):
                    out[i0:i1, c] += (p["uv"] * float(r.uniform(0.3, 1.0)) * q).astype(np.float32)
                if p["uv"] >= 10:
                    self.label("artifact", "ecg", a, b)
            elif kind == "wander":
                f = float(r.uniform(0.2, 2.0))
                w = p["uv"] * np.sin(2 * np.pi * f * tt) * np.sin(np.pi * tt / (b - a))
                for c in range(nc):
                    out[i0:i1, c] += (w * float(r.uniform(0.5, 1.0))).astype(np.float32)
            elif kind == "eoff":
                c_set = list(range(nc)) if r.random() < 0.5 else [int(r.choice(self.calf))]
                ramp = np.minimum(1.0, np.minimum(tt, (b - a) - tt) / 0.3)
                for c in c_set:
                    hum = sum(
                        g * np.sin(2 * np.pi * h * self.mains_hz * tt + r.uniform(0, 6.3))
                        for h, g in ((1, 1.0), (2, 0.2), (3, float(r.uniform(0.2, 0.6))), (5, 0.15))
                        if h * self.mains_hz < 0.45 * fs
                    )
                    x = p["hum"] * hum * (1 + 0.3 * np.sin(2 * np.pi * r.uniform(0.02, 0.3) * tt))
                    x += p["floor"] * r.standard_normal(tt.size)  # flat, broadband contact noise
                    if p["swing"]:
                        x += 3 * p["hum"] * np.sin(2 * np.pi * r.uniform(0.2, 3.0) * tt)
                    out[i0:i1, c] = (ramp * x + (1 - ramp) * out[i0:i1, c]).astype(np.float32)

    def _acc(self, r: np.random.Generator) -> np.ndarray:
        afs = float(self.acc_fs or 0)
        m = int(self.T * afs)
        ta = np.arange(m) / afs
        g = np.zeros((m, 3))
        post = sorted(self.post, key=lambda p: p[0])
        cur = post[0][2]
        g[:] = cur
        for t0, t1, v in post[1:]:
            i0, i1 = int(t0 * afs), int(max(t1, t0 + 1e-3) * afs)
            if i0 >= m:
                continue
            lam = np.clip((ta[i0:] - t0) / max(t1 - t0, 1e-3), 0, 1)[:, None]
            mix = (1 - lam) * cur + lam * v
            g[i0:] = mix / np.linalg.norm(mix, axis=1, keepdims=True)
            cur = v
            _ = i1
        for t0, t1, kind, amp in self.motion:
            i0, i1 = int(t0 * afs), min(m, int(t1 * afs) + 1)
            if i1 <= i0:
                continue
            tt = ta[i0:i1] - t0
            if kind == "walk":
                stride = amp
                sw = 0.5 * np.sin(2 * np.pi * tt / stride)
                g[i0:i1, 0] += 0.15 * np.cos(2 * np.pi * tt / stride)
                g[i0:i1, 2] += sw
                strikes = (np.mod(tt, stride) < 0.06).astype(float)
                g[i0:i1] += strikes[:, None] * r.normal(0, 0.6, (i1 - i0, 3))
            elif kind == "shake":
                g[i0:i1, 1] += 0.4 * np.sin(2 * np.pi * amp * tt)
            else:
                g[i0:i1] += amp * r.standard_normal((i1 - i0, 3)) * np.hanning(i1 - i0)[:, None]
        g = g @ self.mount.T
        g += r.normal(0, 0.02, 3) + r.normal(0, float(r.uniform(0.002, 0.008)), (m, 3))
        return g


class WildNight:
    """A night of the independent model: a :class:`~detector.stream.Source` with truth."""

    def __init__(self, seed: int, duration_s: float, *, chunk_s: float = 60.0, **kw: Any) -> None:
        b = _Builder(seed, duration_s, kw)
        b.plan(kw)
        emg, acc = b.render()
        self.seed = seed
        self.duration_s = float(duration_s)
        self.emg = emg
        self.acc = acc
        self.mains_hz = b.mains_hz
        self.truth = sorted(b.truth, key=lambda e: e.start_s)
        labels = {
            "calf": "EMG calf",
            "gastrocnemius": "EMG gastroc",
            "soleus": "EMG soleus",
            "tibialis": "EMG tib ant",
        }
        self.layout = StreamLayout(
            emg_fs=b.fs,
            emg_labels=tuple(labels[s] for s in b.sites),
            emg_sites=b.sites,
            acc_fs=b.acc_fs,
            start_utc=datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
        )
        self.params = {
            "fs": b.fs,
            "sites": b.sites,
            "acc_fs": b.acc_fs,
            "mains_hz": b.mains_hz,
            "mains_uv": round(b.mains_uv, 1),
            "band": b.band,
            "rest_uv": [round(float(v), 2) for v in b.rest],
        }
        self.chunk_s = chunk_s

    def chunks(self) -> Iterator[Chunk | Gap]:
        return ArraySource(self.layout, self.emg, self.acc, chunk_s=self.chunk_s).chunks()

    def wall_time(self, t_s: float) -> datetime | None:
        return simple_wall_time(self.layout, t_s)

    def truth_of(self, kind: str) -> list[Truth]:
        return [e for e in self.truth if e.kind == kind]

    def describe(self) -> str:
        p = self.params
        return (
            f"wild/{self.seed} {self.duration_s / 60:.0f} min {p['fs']:.0f} Hz "
            f"{'+'.join(s[:4] for s in p['sites'])} acc={p['acc_fs'] or 'no'} "
            f"band={p['band'][0]:.0f}-{p['band'][1]:.0f} mains={p['mains_hz']:.0f}Hz/{p['mains_uv']}µV"
        )


def wild_specs(split: str, n: int | None = None) -> list[tuple[int, float, dict[str, Any]]]:
    """(seed, duration_s, overrides) of a report draw.  ``split`` ``report``: 24 nights with
    cramps of 20-45 min and 8 cramp-free nights of 1 h (8 h of hard negatives);
    ``report2``: another draw of the same size; ``smoke`` and ``smoke2``: two tuning draws of
    the same size (the only ones a rule may be decided on)."""
    base = {"report": 50_000, "report2": 60_000, "smoke": 70_000, "smoke2": 71_000}[split]
    out: list[tuple[int, float, dict[str, Any]]] = []
    k = 24 if n is None else n
    for i in range(k):
        r = np.random.default_rng(base + i)
        out.append((base + i, float(r.uniform(20, 45)) * 60.0, {}))
    for i in range(8 if n is None else max(1, n // 3)):
        out.append((base + 500 + i, 3600.0, {"cramp_free": True}))
    return out


def wild_corpus(split: str = "report", n: int | None = None) -> Iterator[WildNight]:
    for seed, dur, kw in wild_specs(split, n):
        yield WildNight(seed, dur, **kw)


if __name__ == "__main__":
    import sys
    import time

    split = sys.argv[1] if len(sys.argv) > 1 else "smoke"
    for seed, dur, kw in wild_specs(split, 3):
        t0 = time.perf_counter()
        night = WildNight(seed, dur, **kw)
        kinds: dict[str, int] = {}
        for e in night.truth:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        print(f"{night.describe():70s} {kinds} {time.perf_counter() - t0:.1f} s")
        for e in night.truth_of("cramp"):
            print(f"   cramp {e.start_s:8.1f} {e.end_s:8.1f} {e.extra}")
