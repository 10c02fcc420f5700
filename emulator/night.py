"""Synthetic nights: the emulated leg sensor's physiological model, with ground truth.

A :class:`SyntheticNight` is a :class:`detector.stream.Source` (surface EMG in µV per
channel, shank accelerometer in g) plus ``.truth``: the list of :class:`TruthEvent` the
night contains.  Build one with :func:`make_night`.

What is modelled (figures from ``shared/brief/DOMAIN.md`` unless said otherwise)
-------------------------------------------------------------------------------
* **Surface EMG** = Gaussian noise with a surface-EMG power spectrum
  ``P(f) ~ f^2 fh^4 / ((f^2 + fl^2)(f^2 + fh^2)^2)`` (Shwedyk et al. 1977, the classic
  sEMG spectral model), ``fl`` 50..95 Hz and ``fh`` = 1.8..2.6 x ``fl`` drawn per channel
  and night, so the peak lies at ~55..120 Hz and >93 % of the power in 20..450 Hz; on 30 %
  of nights instead a flat band between 2nd-order edges at 15..30 and 150..450 Hz
  (``Scenario.spectrum``; how simpler simulators make EMG: detectors must not rely on
  one spectral shape).
  A front end shapes it: ``wearable`` (2nd-order high-pass at 0.5..20 Hz, 4th-order
  low-pass at min(450 Hz, 0.45 fs)) or ``sleeplab`` (the 10..100 Hz band of sleep-lab leg
  EMG; the default below 400 Hz); nothing exists above Nyquist (the ADC's anti-aliasing
  is ideal).  The noise is
  amplitude-modulated by an activation envelope in µV RMS:
  ``env^2 = rest^2 * (1 + sum(rel_k^2)) + sum(abs_k^2)`` (independent motor-unit pools
  add power).  Crosstalk: each channel receives 2..15 % of the others' EMG (10..30 %
  between gastrocnemius and soleus).
* **Resting tone** 1..5 µV RMS per channel, drifting slowly over the night (x0.55..1.8,
  periods 15 min..3 h; ``Scenario.rest_drift`` scales it) with steps at every posture
  change (electrode pressure, x0.75..1.3): a detector needs an adaptive baseline.
  Amplifier noise 0.2..0.8 µV RMS.
* **Cramps** (truth ``cramp``): calf channel(s), duration 10 s..10 min (75 % log-uniform
  20 s..3 min, 10 % 10..20 s, 15 % 3..10 min; Hallegraeff 2017 "up to about 10 min").
  Preceded, while asleep and lying, by a rise of calf EMG lasting 41 +- 11 s to +100..500 %
  of the resting level (log-uniform, geometric mean ~ +220 %; Chaney & Sherman, n = 6,
  mean +217 %).  The contraction: rise 0.3..2 s to 30..300 µV RMS (log-uniform, and at
  least 12x the channel's base resting level), sagging to 65..100 % by its end, waxing and
  waning at 1.4 +- 0.25 Hz (Minetto 2009 shared oscillation, depth 15..40 %) with slower
  0.05..0.3 Hz swells; fall 0.5..4 s; with two calf channels it is confined to
  one head in 35 % of cramps (Khan & Burne 2007).  Large motor units firing irregularly
  (mean rate 14.5 +- 5.1 /s, interspike CV 45 %, Minetto 2009) add a spiky texture.
  10 % of cramps have no pre-rise (variety: six sleepers do not make it universal); 20 %
  of cramps >= 30 s half let go for 1..3 s mid-way (to ~30 %) and cramp again
  (``extra['lull_s']``); 15 % come back 30..150 s after the relief, awake and without a
  pre-rise, for 10..60 s (a second truth cramp, ``extra['recurrence_of']``).
  The sleeper wakes 2..10 s in (a posture change in 50 %) and relieves it by stretching
  (tibialis hold with dorsiflexion, 45 %), walking it off (30 %) or massaging/shaking the
  leg (25 %), then lies awake 2..15 min with fidgets and turns.
  **Truth span**: ``start_s`` = the start of the sustained contraction's rise (the
  pre-cramp rise belongs to no event; it is in ``extra['prerise_start_s']``,
  ``extra['prerise_pct']``), ``end_s`` = the end of its fall, back at the resting level.
  A relieving stretch begins while the cramp falls: it may overlap the cramp's last
  <= 5 s (``extra['relief_of']`` on the stretch names the cramp's start).
* **PLM series** (truth ``plm`` per leg movement): tibialis anterior, 4..60 movements,
  onset-to-onset 15..40 s (80 %) or 10..90 s (20 %), jitter +-15 % kept in 10..90 s
  (WASM 2016), durations around a series median of 0.5..5 s kept in 0.5..10 s, amplitude
  12..80 µV RMS (>= 8 µV above rest, AASM), calf co-activation in 35 % of series
  (always when no tibialis channel is recorded, then 30..80 % of it and >= 12 µV); 60 %
  of movements jolt the accelerometer (39 % of EMG leg movements show none, Terrill
  2013).  Only one leg is recorded.
  Isolated leg movements (>= 100 s from any other): truth ``movement``/``leg-movement``.
* **Movements** (truth ``movement``): ``turning`` (1.5..6 s, both muscles 15..150 µV,
  gravity vector rolls), ``posture`` (sit up / stand up / lie down), ``walking`` (stride
  0.85..1.4 s, ~1 per second; a calf burst of 30..200 µV over stance, 35..55 % of the
  cycle, on 1..12 µV of tonic activity; tibialis bursts at heel strike and over swing;
  shank swing and heel strikes on the accelerometer; bathroom trips 15 s..2 min per leg
  of the trip, pacing up to 6 min on hard nights), ``standing`` (tonic soleus 4..15 µV with sway),
  ``stretch`` (tibialis 20..150 µV held 10..60 s, up to 150 s on hard nights; calf
  passive; on hard nights also a 3..8 s toe-pointing calf stretch, ``extra['variant']``),
  ``fidget`` (awake bursts 0.3..2 s), ``massage``/``shaking`` (after cramps; shaking at
  3..6 Hz), ``twitch`` (0.05..0.4 s, one channel).
* **Artefacts** (truth ``artifact``): ``pop`` (a 50..3000 µV step decaying with tau
  0.05..0.8 s; truth spans 3 tau), ``electrode-off`` (10 s..5 min, 10 min on hard nights;
  ``extra['mode']`` = ``hum`` (mains at 200..3000 µV, saturating above the range),
  ``saturation`` (pinned at the rail, +-3276.7 µV by default), ``flat`` or ``loose`` (large
  1..20 Hz motion, broadband contact noise and mains)), ``wander`` (0.1..2 Hz baseline
  wander spells, labelled only when > 10 µV survive the front end), ``ecg`` (ECG bleed
  spells of 10..60 µV R waves).  Background, never labelled: mains at 50/60 Hz,
  0.2..5 µV (10 % of nights 5..30 µV) plus harmonics (3rd; 2nd, 5th, 6th on some
  nights); low-level ECG bleed (<= 4 µV R) at 50..80 bpm with heart-rate variability;
  movement artefacts inside movements.
* **Accelerometer** on the calf, axes x = along the shank towards the knee, y =
  mediolateral, z = out of the calf (posterior).  At rest it reads +1 g "up":
  standing (1, 0, 0), supine (0, 0, -1), prone (0, 0, 1), side (0, +-1, 0) with
  random shank pitch/roll per posture, a per-night mounting rotation (<= 15 deg per axis),
  bias <= 0.02 g, noise 2..8 mg; ``Scenario(acc_axes="random")`` wears the sensor in any
  of the 24 right-angle orientations (another device's axis convention).  ``sitting`` = on the bed edge (shank near vertical),
  ``sitting-in-bed`` = legs straight in bed (the shank alone cannot tell it from lying).
* Sleep/wake periods (``night.states``) and postures (``night.postures``) as ground truth.

Truth conventions: every span runs from the first instant of the event's activation
(start of its rise) to the end of its fall (back at rest), as AASM scores leg movements.
Twitches are labelled (``movement``/``twitch``).  ECG bleed: the continuous low level
is background (no event); spells of 10..60 µV R waves are ``artifact``/``ecg``.  Truth
events of kinds cramp, plm and movement never overlap each other, except a relieving
stretch over the last <= 5 s of its cramp.  Artefacts may overlap movements and PLMs;
pops, wander and electrode-off spells are kept clear of cramps, ECG spells are not.
Per-night parameters (spectra, rest levels, mains, ECG, front end) are in
``night.params``.

What is NOT modelled: the other leg (so no bilateral PLM merging), sleep stages as
such (REM atonia only through the slow drift), fatigue-related spectral shift during
long cramps (one spectrum per channel per night), cramps of the thigh or foot, a cramp
that goes on while the sleeper walks, respiratory-event-related leg movements, sensor
quantisation and data loss (the firmware emulator adds those), temperature drift of
the accelerometer.

Rendering
---------
Deterministic per ``seed`` and independent of chunking: the night is cut into fixed
10-s segments; each segment's noise comes from its own seeded generator (synthesised in
the frequency domain, joined to the previous segment by a 50-ms power-complementary
crossfade); envelopes, mains, ECG and artefacts are closed-form functions of absolute
time evaluated from a plan made once in :func:`make_night`.  Memory stays bounded (one
segment at a time, ~60 MB RSS); an 8-h night at 1 kHz x 2 channels + 50 Hz acc renders in
~6.5 s on one core (``python -m emulator.night``), 2 kHz in ~12 s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import scipy.fft as sfft

from detector.stream import Chunk, Gap, StreamLayout

__all__ = [
    "TruthEvent",
    "Scenario",
    "SyntheticNight",
    "make_night",
    "LYING",
    "posture_class",
]

SEG_S = 10.0
"""Length of a rendering segment in s (each segment has its own seeded noise)."""
ENV_FS = 200.0
"""Rate in Hz of the grid the activation envelopes are evaluated on (5 ms steps)."""
XFADE_S = 0.05
"""Crossfade between the noise of successive segments, in s."""

CALF_SITES = ("calf", "gastrocnemius", "soleus")
EMG_SITES = CALF_SITES + ("tibialis",)
LYING = ("supine", "prone", "left", "right")
POSTURES = LYING + ("sitting", "sitting-in-bed", "standing")

_DEFAULT_START = datetime(2026, 1, 15, 22, 30, tzinfo=UTC)


def posture_class(name: str) -> str:
    """``lying`` / ``sitting`` / ``standing`` for a posture name of :data:`POSTURES`."""
    if name in LYING:
        return "lying"
    if name.startswith("sitting"):
        return "sitting"
    return name


@dataclass(frozen=True)
class TruthEvent:
    """One true event of a synthetic night.  Times in s on the recording timeline."""

    kind: str
    """``cramp`` | ``plm`` | ``movement`` | ``artifact`` (as :data:`detector.events.KINDS`)."""
    subtype: str
    """``turning``, ``walking``, ``standing``, ``posture``, ``stretch``, ``fidget``,
    ``massage``, ``shaking``, ``twitch``, ``leg-movement``; ``pop``, ``electrode-off``,
    ``wander``, ``ecg``; ``""`` for cramps and PLMs."""
    start_s: float
    end_s: float
    channels: tuple[str, ...] = ()
    """Labels of the EMG channels in which the event shows (may be empty for acc-only)."""
    sites: tuple[str, ...] = ()
    side: str = "unknown"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subtype": self.subtype,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "channels": list(self.channels),
            "sites": list(self.sites),
            "side": self.side,
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class Scenario:
    """What happens in a night.  ``None`` = drawn at random from realistic ranges.

    Counts are per night (not per hour) unless the name says otherwise.
    """

    cramps: int | None = None
    """Number of cramps (0 = a cramp-free night).  Random: 0..3."""
    plm_series: int | None = None
    """Number of PLM series.  Random: 0..3."""
    walks: int | None = None
    """Bathroom trips (out of bed, walking there and back).  Random: 0..2."""
    turns_per_hour: float | None = None
    """Turning over, per hour.  Random: 2..6 /h."""
    stretches: int | None = None
    """Voluntary stretches in bed.  Random: 0..3."""
    electrode_off: int | None = None
    """Electrode-off spells.  Random: Poisson, mean 0.4 per 8 h x artifact_rate."""
    artifact_rate: float = 1.0
    """Multiplier of all artefact rates (pops, wander, ECG spells); 0 = none."""
    twitches_per_hour: float | None = None
    """Random: 5..30 /h during sleep."""
    leg_movements_per_hour: float | None = None
    """Isolated leg movements (not in a series).  Random: 0.5..4 /h."""
    ecg: str | None = None
    """``none`` | ``low`` (continuous <= 4 µV) | ``spells`` (plus labelled 10..60 µV spells)."""
    front_end: str | None = None
    """``wearable`` | ``sleeplab`` (10..100 Hz).  Default: sleeplab if emg_fs < 400 Hz."""
    recurrence_prob: float = 0.15
    """Chance that a cramp comes back 30..150 s after its relief (awake, no pre-rise,
    10..60 s); the recurrence counts as one of the night's ``cramps``."""
    cramp_durations: tuple[float, ...] | None = None
    """Durations (s) of the cramps, cycled; None = drawn (10 s..10 min, see module doc)."""
    cramp_relief: tuple[str, ...] | None = None
    """Relief per cramp from ``stretch``, ``walk``, ``massage`` (cycled); None = random."""
    hard: bool = False
    """Include the hard negatives at their hardest: long walks (pacing 2..6 min), long
    stretches (60..150 s), toe-pointing calf stretches, >= 1 long electrode-off spell,
    ECG spells, a near-DC front end (baseline wander passes)."""
    rest_uv: tuple[float, float] = (1.0, 5.0)
    """Range of the resting EMG level in µV RMS (per channel, drawn log-uniform)."""
    emg_range_uv: float = 3276.7
    """The amplifier's input range +-µV; the signal saturates there (default: the emulated
    sensor's 16-bit samples at 0.1 µV/count, ``PROTOCOL.md``)."""
    spectrum: str | None = None
    """EMG spectral model: ``shwedyk`` (the sEMG shape, peak 55..120 Hz) or ``bandpass``
    (flat between a 15..30 Hz and a 150..450 Hz 2nd-order edge: how simpler simulators
    make EMG).  Random: shwedyk on 70 % of nights."""
    acc_axes: str = "canonical"
    """``canonical`` (x up the shank, z out of the calf) or ``random`` (the sensor worn in
    any of the 24 right-angle orientations, as another device's axis convention would be)."""
    rest_drift: float = 1.0
    """Scale of the slow drift of the resting level over the night (1 = x0.55..1.8)."""
    mains_uv: tuple[float, float] | None = None
    """Range of the mains amplitude in µV; None = 0.2..5 µV (10 % of nights 5..30 µV)."""
    side: str = "right"
    """Which leg carries the sensor (``left``/``right``)."""
    sleep_onset_s: float | None = None
    """Awake time at the start (lying, fidgeting).  Random: 5..25 min (shorter nights: less)."""


# --------------------------------------------------------------------------- helpers


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _frontend_gain(f: np.ndarray, hp_hz: float, lp_hz: float) -> np.ndarray:
    """|H(f)| of a 2nd-order Butterworth high-pass times a 4th-order low-pass."""
    f = np.asarray(f, dtype=np.float64)
    with np.errstate(divide="ignore"):
        hp = 1.0 / np.sqrt(1.0 + (hp_hz / np.maximum(f, 1e-9)) ** 4)
    lp = 1.0 / np.sqrt(1.0 + (f / lp_hz) ** 8)
    return np.asarray(hp * lp)


def _semg_psd(f: np.ndarray, fl: float, fh: float) -> np.ndarray:
    """Shwedyk et al. 1977 surface-EMG power spectrum shape (unnormalised)."""
    f2 = f * f
    return np.asarray(f2 * fh**4 / ((f2 + fl * fl) * (f2 + fh * fh) ** 2))


def _rot(ax: float, ay: float, az: float) -> np.ndarray:
    """Rotation matrix from angles (rad) about x, then y, then z."""
    cx, sx, cy, sy, cz, sz = (
        math.cos(ax),
        math.sin(ax),
        math.cos(ay),
        math.sin(ay),
        math.cos(az),
        math.sin(az),
    )
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return np.asarray(rz @ ry @ rx)


def _posture_vector(rng: np.random.Generator, name: str) -> np.ndarray:
    """The 'up' reading (+1 g) of the shank sensor in its body frame for a posture."""
    d = math.radians
    if name == "standing":
        v = _rot(d(rng.uniform(-4, 4)), d(rng.uniform(-6, 6)), 0) @ np.array([1.0, 0, 0])
    elif name == "sitting":
        # bed edge, feet on the floor: shank within 30 deg of vertical
        v = _rot(d(rng.uniform(-8, 8)), d(rng.uniform(-30, 25)), 0) @ np.array([1.0, 0, 0])
    elif name in ("supine", "sitting-in-bed"):
        # knee bent up to 25 deg (shank pitch), leg rolled out up to 25 deg
        v = _rot(d(rng.uniform(-25, 25)), d(rng.uniform(-8, 25)), 0) @ np.array([0, 0, -1.0])
    elif name == "prone":
        v = _rot(d(rng.uniform(-20, 20)), d(rng.uniform(-15, 10)), 0) @ np.array([0, 0, 1.0])
    elif name == "left":
        v = _rot(d(rng.uniform(-25, 25)), d(rng.uniform(-20, 20)), 0) @ np.array([0, 1.0, 0])
    elif name == "right":
        v = _rot(d(rng.uniform(-25, 25)), d(rng.uniform(-20, 20)), 0) @ np.array([0, -1.0, 0])
    else:
        raise ValueError(f"unknown posture {name!r}")
    return np.asarray(v / np.linalg.norm(v))


# Envelope component columns (one row per component), see _EnvComps.
_E_CH, _E_T0, _E_T1, _E_RISE, _E_FALL, _E_A0, _E_A1, _E_REL = range(8)
_E_MOD = 8  # then f1, d1, p1, f2, d2, p2, f3, d3, p3
_E_NCOL = _E_MOD + 9

# Additive (time-domain) components.
_ADD_POP, _ADD_WANDER, _ADD_OFF = 0, 1, 2
_OFF_MODES = ("hum", "saturation", "flat", "loose")

# Accelerometer dynamic components.
_ACC_JITTER, _ACC_STRIDE, _ACC_SHAKE = 0, 1, 2


class _Plan:
    """Everything a night contains, decided once from the seed; rendering only reads it."""

    def __init__(self) -> None:
        self.env: list[list[float]] = []
        self.add: list[tuple[int, int, float, float, tuple[float, ...]]] = []
        # (type, ch, t0, t1, params)
        self.acc: list[tuple[int, float, float, tuple[float, ...]]] = []
        self.truth: list[TruthEvent] = []
        self.transitions: list[tuple[float, float, str]] = []
        self.wake: list[tuple[float, float]] = []
        self.busy: list[tuple[float, float]] = []
        self.spikes: list[tuple[int, float, float, float, float, float, float]] = []
        # motor-unit trains: (ch, t0, t1, rate_hz, amp_uv, width_s, seed)

    def snapshot(self) -> tuple[int, ...]:
        return (
            len(self.env),
            len(self.add),
            len(self.acc),
            len(self.truth),
            len(self.transitions),
            len(self.wake),
            len(self.spikes),
        )

    def restore(self, snap: tuple[int, ...]) -> None:
        lists: tuple[list[Any], ...] = (
            self.env,
            self.add,
            self.acc,
            self.truth,
            self.transitions,
            self.wake,
            self.spikes,
        )
        for lst, n in zip(lists, snap, strict=True):
            del lst[n:]

    # ---- time reservations
    def is_free(self, a: float, b: float) -> bool:
        return all(b <= s or a >= e for s, e in self.busy)

    def reserve(self, a: float, b: float) -> None:
        self.busy.append((a, b))

    def find(
        self,
        rng: np.random.Generator,
        length: float,
        lo: float,
        hi: float,
        margin: float = 0.0,
        tries: int = 400,
    ) -> float | None:
        """A random start in [lo, hi - length] with [start - margin, end + margin] free."""
        if hi - lo < length:
            return None
        for _ in range(tries):
            t = float(rng.uniform(lo, hi - length))
            if self.is_free(t - margin, t + length + margin):
                return t
        return None

    # ---- components
    def env_comp(
        self,
        ch: int,
        t0: float,
        t1: float,
        a0: float,
        a1: float | None = None,
        rise: float = 0.1,
        fall: float = 0.1,
        rel: bool = False,
        mods: tuple[tuple[float, float, float], ...] = (),
    ) -> None:
        dur = t1 - t0
        rise = min(rise, 0.5 * dur)
        fall = min(fall, 0.5 * dur)
        row = [float(ch), t0, t1, rise, fall, a0, a0 if a1 is None else a1, 1.0 if rel else 0.0]
        m = list(mods)[:3]
        while len(m) < 3:
            m.append((0.0, 0.0, 0.0))
        for f, dpt, ph in m:
            row += [f, dpt, ph]
        self.env.append(row)


class _Planner:
    """Draws a night's script: events, truth, postures, artefacts."""

    def __init__(
        self,
        rng: np.random.Generator,
        duration_s: float,
        sites: tuple[str, ...],
        labels: tuple[str, ...],
        has_acc: bool,
        sc: Scenario,
        fe_hp: float,
        fe_lp: float,
        mains_hz: float,
    ) -> None:
        self.rng = rng
        self.T = duration_s
        self.sites = sites
        self.labels = labels
        self.has_acc = has_acc
        self.sc = sc
        self.p = _Plan()
        self.calf = [i for i, s in enumerate(sites) if s in CALF_SITES]
        self.tib = [i for i, s in enumerate(sites) if s == "tibialis"]
        self.fe_hp = fe_hp
        self.fe_lp = fe_lp
        self.mains_hz = mains_hz
        self.rest_base: np.ndarray = np.ones(len(sites))

    # ---- small builders
    def _label(self, chans: list[int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        chans = sorted(set(chans))
        return tuple(self.labels[c] for c in chans), tuple(self.sites[c] for c in chans)

    def truth(
        self, kind: str, subtype: str, t0: float, t1: float, chans: list[int], **extra: Any
    ) -> TruthEvent:
        labels, sites = self._label(chans)
        ev = TruthEvent(
            kind, subtype, round(t0, 4), round(t1, 4), labels, sites, self.sc.side, dict(extra)
        )
        self.p.truth.append(ev)
        return ev

    def _irregular(self) -> tuple[tuple[float, float, float], ...]:
        r = self.rng
        return (
            (float(r.uniform(0.5, 3.0)), float(r.uniform(0.1, 0.4)), float(r.uniform(0, 6.28))),
            (float(r.uniform(3.0, 9.0)), float(r.uniform(0.05, 0.3)), float(r.uniform(0, 6.28))),
        )

    def _jitter(self, t0: float, t1: float, g: float) -> None:
        """Accelerometer jitter of about g (in g) over [t0, t1]."""
        r = self.rng
        par: list[float] = []
        for _ax in range(3):
            for _k in range(3):
                par += [
                    float(r.uniform(0.3, 6.0)),
                    g * float(r.uniform(0.2, 0.7)),
                    float(r.uniform(0, 6.28)),
                ]
        self.p.acc.append((_ACC_JITTER, t0, t1, tuple(par)))

    def _motion_artifact(self, ch: int, t0: float, t1: float, amp_uv: float) -> None:
        """Low-frequency electrode motion artefact (1..8 Hz), attenuated by the front end."""
        r = self.rng
        par: list[float] = []
        for _k in range(3):
            f = float(r.uniform(1.0, 8.0))
            g = float(_frontend_gain(np.array([f]), self.fe_hp, self.fe_lp)[0])
            par += [f, amp_uv * float(r.uniform(0.2, 0.6)) * g, float(r.uniform(0, 6.28))]
        self.p.add.append((_ADD_WANDER, ch, t0, t1, tuple(par)))

    def burst(
        self,
        chans: list[int],
        t0: float,
        dur: float,
        amp: float,
        rise: float | None = None,
        fall: float | None = None,
    ) -> None:
        r = self.rng
        rise = float(r.uniform(0.05, 0.3)) if rise is None else rise
        fall = float(r.uniform(0.1, 0.5)) if fall is None else fall
        for c in chans:
            a = amp * float(r.uniform(0.7, 1.3))
            self.p.env_comp(
                c,
                t0,
                t0 + dur,
                a,
                a * float(r.uniform(0.6, 1.2)),
                rise,
                fall,
                mods=self._irregular(),
            )

    # ---- episodes
    def turn(self, t0: float, dur: float | None = None, target: str = "turn") -> float:
        r = self.rng
        dur = float(r.uniform(1.5, 6.0)) if dur is None else dur
        chans = list(range(len(self.sites)))
        self.burst(chans, t0, dur, _loguniform(r, 15, 150), rise=0.2, fall=0.4)
        for c in chans:
            if r.random() < 0.5:
                self._motion_artifact(c, t0, t0 + dur, _loguniform(r, 10, 200))
        self.p.transitions.append((t0 + 0.2 * dur, t0 + 0.9 * dur, target))
        if self.has_acc:
            self._jitter(t0, t0 + dur, float(r.uniform(0.05, 0.3)))
        sub = "turning" if target == "turn" else "posture"
        self.truth("movement", sub, t0, t0 + dur, chans, to=target)
        return t0 + dur

    def fidget(self, t0: float) -> float:
        r = self.rng
        t = end = t0
        chans_all: list[int] = []
        for _ in range(int(r.integers(1, 4))):
            d = float(r.uniform(0.3, 2.0))
            ch = (
                list(range(len(self.sites)))
                if r.random() < 0.5
                else [int(r.integers(0, len(self.sites)))]
            )
            self.burst(ch, t, d, _loguniform(r, 15, 100))
            chans_all += ch
            end = t + d  # the spell ends with its last burst
            t += d + float(r.uniform(0.2, 1.5))
        if self.has_acc:
            self._jitter(t0, end, float(r.uniform(0.02, 0.15)))
        self.truth("movement", "fidget", t0, end, chans_all)
        return end

    def twitch(self, t0: float, ch: int | None = None) -> float:
        r = self.rng
        ch = int(r.integers(0, len(self.sites))) if ch is None else ch
        d = float(r.uniform(0.05, 0.4))
        self.p.env_comp(ch, t0, t0 + d, _loguniform(r, 10, 80), rise=0.2 * d, fall=0.3 * d)
        self.truth("movement", "twitch", t0, t0 + d, [ch])
        return t0 + d

    def awake_filler(self, a: float, b: float, turns: int = 1) -> None:
        """Fidgets and the odd turn while lying awake in [a, b]."""
        r = self.rng
        if b - a < 20:
            return
        n = int(r.integers(1, 4)) + int((b - a) // 240)
        slots = sorted(r.uniform(a + 5, b - 12, size=n + turns))
        last = a
        kinds = ["turn"] * turns + ["fidget"] * n
        r.shuffle(kinds)
        for t, k in zip(slots, kinds, strict=True):
            t = max(float(t), last + 4.0)
            if t > b - 12:
                break
            last = self.turn(t) if k == "turn" else self.fidget(t)

    def stand_walk(
        self, t0: float, bouts: list[float], stand_s: list[float], lie_after: bool = True
    ) -> float:
        """From lying or sitting: sit up, stand, walk bouts separated by standing; back to bed."""
        r = self.rng
        t = self.turn(t0, float(r.uniform(2.0, 4.0)), target="sitting")
        t += float(r.uniform(3.0, 40.0))
        t = self.turn(t, float(r.uniform(1.0, 2.5)), target="standing")
        for i, wb in enumerate(bouts):
            s = stand_s[i] if i < len(stand_s) else float(r.uniform(2, 8))
            t = self.standing(t, s)
            t = self.walk(t, wb)
        t = self.standing(t, float(r.uniform(2, 8)))
        t = self.turn(t, float(r.uniform(1.0, 2.5)), target="sitting")
        t += float(r.uniform(3.0, 40.0))
        if lie_after:
            t = self.turn(t, float(r.uniform(2.0, 4.0)), target="lie")
        return t

    def standing(self, t0: float, dur: float) -> float:
        r = self.rng
        sway = (
            (float(r.uniform(0.1, 0.5)), float(r.uniform(0.2, 0.5)), float(r.uniform(0, 6.28))),
        )
        chans: list[int] = []
        for c in self.calf:
            self.p.env_comp(c, t0, t0 + dur, _loguniform(r, 4, 15), rise=0.5, fall=0.5, mods=sway)
            chans.append(c)
        for c in self.tib:
            if r.random() < 0.5:
                self.p.env_comp(c, t0, t0 + dur, _loguniform(r, 2, 6), rise=0.5, fall=0.5)
        if self.has_acc:
            self._jitter(t0, t0 + dur, 0.01)
        self.truth("movement", "standing", t0, t0 + dur, chans)
        return t0 + dur

    def walk(self, t0: float, dur: float) -> float:
        """Walking: per stride (0.85..1.4 s; ~1 per second) a calf burst over stance (from
        loading at 5..15 % of the cycle to push-off at 45..60 %), tibialis bursts at heel
        strike and over swing, tonic calf activity and cable motion throughout."""
        r = self.rng
        period = float(r.uniform(0.85, 1.4))
        calf_amp = _loguniform(r, 30, 200)
        tib_amp = _loguniform(r, 20, 100)
        c_on = float(r.uniform(0.05, 0.15))
        c_len = float(r.uniform(0.35, 0.55))
        tonic = {c: _loguniform(r, 1, 12) for c in self.calf}
        t = t0
        n = 0
        while t + period <= t0 + dur:
            p = period * float(r.normal(1.0, 0.03))
            for c in self.calf:
                bd = p * c_len * float(r.uniform(0.9, 1.1))
                ts = t + c_on * p
                self.p.env_comp(
                    c,
                    ts,
                    ts + bd,
                    calf_amp * float(r.uniform(0.8, 1.2)),
                    rise=0.6 * bd,
                    fall=0.25 * bd,
                )
            for c in self.tib:
                bd = p * float(r.uniform(0.1, 0.18))
                self.p.env_comp(
                    c, t, t + bd, tib_amp * float(r.uniform(0.8, 1.2)), rise=0.2 * bd, fall=0.4 * bd
                )
                bd2 = p * float(r.uniform(0.25, 0.4))
                ts2 = t + float(r.uniform(0.6, 0.7)) * p
                self.p.env_comp(
                    c,
                    ts2,
                    ts2 + bd2,
                    0.6 * tib_amp * float(r.uniform(0.8, 1.2)),
                    rise=0.3 * bd2,
                    fall=0.3 * bd2,
                )
            if self.has_acc:
                self.p.acc.append(
                    (
                        _ACC_STRIDE,
                        t,
                        t + p,
                        (
                            math.radians(float(r.uniform(20, 35))),
                            float(r.uniform(0.4, 1.5)),
                            float(r.uniform(0.1, 0.35)),
                        ),
                    )
                )
            t += p
            n += 1
        for c, a in tonic.items():
            self.p.env_comp(c, t0, t, a, rise=1.0, fall=1.0)
        for c in range(len(self.sites)):
            if r.random() < 0.5:
                self._motion_artifact(c, t0, t, _loguniform(r, 10, 100))
        self.truth(
            "movement", "walking", t0, t, self.calf + self.tib, strides=n, stride_s=round(period, 3)
        )
        return t

    def stretch(self, t0: float, dur: float, relief_of: float | None = None) -> float:
        r = self.rng
        chans: list[int] = []
        amp = _loguniform(r, 20, 150)
        tmods = (
            (float(r.uniform(0.05, 0.3)), float(r.uniform(0.05, 0.25)), float(r.uniform(0, 6.28))),
            (float(r.uniform(6, 12)), float(r.uniform(0.05, 0.15)), float(r.uniform(0, 6.28))),
        )
        for c in self.tib:
            self.p.env_comp(
                c,
                t0,
                t0 + dur,
                amp,
                amp * float(r.uniform(0.6, 1.1)),
                rise=float(r.uniform(0.3, 1.5)),
                fall=float(r.uniform(0.3, 1.5)),
                mods=tmods,
            )
            chans.append(c)
        for c in self.calf:
            # passive calf: a little stretch-reflex activity at most
            if r.random() < 0.5:
                self.p.env_comp(
                    c, t0, t0 + dur, amp * float(r.uniform(0.02, 0.1)), rise=1.0, fall=1.0
                )
        if not self.tib:
            # without a tibialis channel only crosstalk of the stretch shows in the calf
            # (labelled on the channel only when >= 6 µV RMS of it shows, else acc-only)
            for c in self.calf:
                xt = amp * float(r.uniform(0.05, 0.15))
                self.p.env_comp(c, t0, t0 + dur, xt, rise=1.0, fall=1.0)
                if xt >= 6.0:
                    chans.append(c)
        self.p.transitions.append((t0, t0 + 1.0, "tilt"))
        self.p.transitions.append((t0 + dur - 1.0, t0 + dur, "untilt"))
        if self.has_acc:
            self._jitter(t0, t0 + 1.5, 0.05)
            self._jitter(t0 + dur - 1.5, t0 + dur, 0.05)
        extra: dict[str, Any] = {"variant": "dorsiflex"}
        if relief_of is not None:
            extra["relief_of"] = relief_of
        self.truth("movement", "stretch", t0, t0 + dur, chans, **extra)
        return t0 + dur

    def toe_point(self, t0: float) -> float:
        r = self.rng
        dur = float(r.uniform(3.0, 8.0))
        amp = _loguniform(r, 30, 150)
        for c in self.calf:
            self.p.env_comp(
                c,
                t0,
                t0 + dur,
                amp,
                amp * float(r.uniform(0.7, 1.0)),
                rise=float(r.uniform(0.3, 1.0)),
                fall=float(r.uniform(0.3, 1.0)),
            )
        if self.has_acc:
            self._jitter(t0, t0 + 1.0, 0.04)
        self.truth("movement", "stretch", t0, t0 + dur, list(self.calf), variant="plantarflex")
        return t0 + dur

    def massage(self, t0: float) -> float:
        r = self.rng
        chans = list(range(len(self.sites)))
        if r.random() < 0.4:
            dur = float(r.uniform(5, 20))
            fs = float(r.uniform(3, 6))
            for c in chans:
                a = _loguniform(r, 20, 80)
                self.p.env_comp(
                    c,
                    t0,
                    t0 + dur,
                    a,
                    rise=0.3,
                    fall=0.3,
                    mods=((fs, 0.9, float(r.uniform(0, 6.28))),),
                )
                self._motion_artifact(c, t0, t0 + dur, _loguniform(r, 20, 300))
            if self.has_acc:
                self.p.acc.append(
                    (
                        _ACC_SHAKE,
                        t0,
                        t0 + dur,
                        (
                            fs,
                            float(r.uniform(0.3, 1.5)),
                            float(r.integers(0, 3)),
                            float(r.uniform(0, 6.28)),
                        ),
                    )
                )
            self.truth("movement", "shaking", t0, t0 + dur, chans, rate_hz=round(fs, 2))
            return t0 + dur
        dur = float(r.uniform(20, 90))
        t = t0
        while t < t0 + dur - 1:
            d = min(float(r.uniform(0.3, 1.5)), t0 + dur - t)
            c = int(r.integers(0, len(self.sites)))
            self.p.env_comp(c, t, t + d, _loguniform(r, 5, 30), rise=0.1, fall=0.2)
            t += d + float(r.uniform(0.2, 2.0))
        for c in self.calf:
            self._motion_artifact(c, t0, t0 + dur, _loguniform(r, 20, 300))
        if self.has_acc:
            self._jitter(t0, t0 + dur, float(r.uniform(0.02, 0.1)))
        self.truth("movement", "massage", t0, t0 + dur, chans)
        return t0 + dur

    def _contraction(
        self, tc: float, dur: float, active: list[int], relief: str
    ) -> tuple[float, float, dict[str, float], float | None]:
        """The sustained cramp contraction on ``active`` from tc for dur s.

        Returns (end, fall time, peak µV per channel label, time of a mid-cramp lull or None).
        """
        r = self.rng
        # 30..300 µV RMS and >= 12x this channel's base resting level (10..100x rest)
        floor_uv = max(30.0, 12.0 * max(float(self.rest_base[c]) for c in active))
        amp = _loguniform(r, floor_uv, max(300.0, floor_uv * 1.01))
        rise = float(r.uniform(0.3, 2.0))
        fall = float(r.uniform(0.5, 3.0)) if relief == "stretch" else float(r.uniform(0.5, 4.0))
        t1 = tc + dur
        # waxing and waning: the 1.4 Hz shared oscillation (Minetto 2009) and slower swells;
        # in half the cramps a second component near 1.4 Hz makes it quasi-periodic (a
        # spectral peak, not a clock)
        f1 = float(r.normal(1.4, 0.25))
        f3 = float(r.uniform(0.3, 0.8)) if r.random() < 0.5 else f1 * float(r.uniform(0.8, 1.2))
        mods = (
            (f1, float(r.uniform(0.15, 0.4)), float(r.uniform(0, 6.28))),
            (float(r.uniform(0.05, 0.3)), float(r.uniform(0.1, 0.3)), float(r.uniform(0, 6.28))),
            (f3, float(r.uniform(0.0, 0.15)), float(r.uniform(0, 6.28))),
        )
        # in some long cramps the muscle half lets go for 1..3 s and cramps again
        lull = None
        if dur >= 30.0 and r.random() < 0.2:
            lull = tc + float(r.uniform(0.3, 0.7)) * dur
        amps: dict[str, float] = {}
        for c in active:
            a = amp * float(r.uniform(0.8, 1.2))
            a0 = a * float(r.uniform(0.8, 1.0))
            a1 = a * float(r.uniform(0.65, 1.0))
            if lull is None:
                self.p.env_comp(c, tc, t1, a0, a1, rise=rise, fall=fall, mods=mods)
            else:
                L = float(r.uniform(1.0, 3.0))
                am = 0.5 * (a0 + a1)
                self.p.env_comp(c, tc, lull + L, a0, am, rise=rise, fall=L, mods=mods)
                self.p.env_comp(c, lull + L, t1, am, a1, rise=L, fall=fall, mods=mods)
                self.p.env_comp(c, lull - 0.5, lull + L + 1.5, 0.3 * am, rise=0.5, fall=0.5)
            amps[self.labels[c]] = round(a, 1)
            # large motor units firing irregularly (Minetto 2009): 2..6 trains
            for _ in range(int(r.integers(2, 7))):
                rate = float(np.clip(r.normal(14.5, 5.1), 6.0, 25.0))
                self.p.spikes.append(
                    (
                        c,
                        tc + rise,
                        t1 - fall,
                        rate,
                        a * float(r.uniform(0.5, 1.5)),
                        float(r.uniform(0.0015, 0.003)),
                        float(r.integers(0, 2**31)),
                    )
                )
        for c in self.calf:
            if c not in active:
                self.p.env_comp(c, tc, t1, amp * float(r.uniform(0.0, 0.1)), rise=rise, fall=fall)
        for c in self.tib:
            if r.random() < 0.5:
                self.p.env_comp(
                    c,
                    tc,
                    t1,
                    amp * float(r.uniform(0.02, 0.15)),
                    rise=rise,
                    fall=fall,
                    mods=mods[:1],
                )
        return t1, fall, amps, lull

    def _active_heads(self) -> list[int]:
        calf = list(self.calf)
        # Khan & Burne 2007: confined to one head in some cramps
        if len(calf) >= 2 and self.rng.random() < 0.35:
            return [calf[int(self.rng.integers(0, len(calf)))]]
        return calf

    def _relief(self, tc: float, t1: float, fall: float, relief: str, hard: bool) -> float:
        r = self.rng
        if relief == "stretch":
            ts = t1 - fall - float(r.uniform(0.0, 1.0))
            d = float(r.uniform(60, 150)) if hard and r.random() < 0.5 else float(r.uniform(10, 60))
            return self.stretch(ts, d, relief_of=round(tc, 4))
        if relief == "walk":
            t = t1 + float(r.uniform(2.0, 15.0))
            bout = float(r.uniform(60, 360)) if hard else float(r.uniform(45, 180))
            return self.stand_walk(t, [bout], [float(r.uniform(1, 5))], lie_after=True)
        return self.massage(t1 + float(r.uniform(0.5, 5.0)))

    def cramp(
        self, tc: float, dur: float, relief: str, hard: bool, recur_dur: float | None = None
    ) -> float:
        """One cramp episode starting its sustained contraction at tc; returns its end.

        ``recur_dur``: the cramp comes back (awake, no pre-rise) 30..150 s after the relief,
        for that many seconds, and is relieved by a stretch or massage.
        """
        r = self.rng
        active = self._active_heads()
        # pre-cramp rise: 41 +- 11 s, +100..500 % (Chaney & Sherman, n = 6); absent in 10 %
        # of cramps (variety: a pilot of six sleepers does not make it universal)
        pre = float(np.clip(r.normal(41.0, 11.0), 20.0, 70.0))
        pct = _loguniform(r, 100.0, 500.0) if r.random() < 0.9 else 0.0
        if pct > 0:
            target = math.sqrt((1 + pct / 100.0) ** 2 - 1)
            for c in active:
                self.p.env_comp(
                    c,
                    tc - pre,
                    tc + 1.0,
                    0.1 * target,
                    target,
                    rise=3.0,
                    fall=1.0,
                    rel=True,
                    mods=((float(r.uniform(0.05, 0.2)), 0.2, float(r.uniform(0, 6.28))),),
                )
        t1, fall, amps, lull = self._contraction(tc, dur, active, relief)
        # the sleeper wakes; in half the cramps sits up (in bed or on the bed edge)
        wake_at = tc + min(float(r.uniform(2.0, 10.0)), 0.5 * dur)
        sat = None
        if self.has_acc:
            self._jitter(wake_at, wake_at + 2.0, float(r.uniform(0.02, 0.15)))
        if r.random() < 0.5:
            ts = tc + min(float(r.uniform(3.0, 15.0)), 0.6 * dur)
            sat = "sitting" if relief == "walk" or r.random() < 0.5 else "sitting-in-bed"
            self.p.transitions.append((ts, ts + float(r.uniform(1.5, 3.0)), sat))
            if self.has_acc:
                self._jitter(ts, ts + 3.0, float(r.uniform(0.05, 0.3)))
        self.truth(
            "cramp",
            "",
            tc,
            t1,
            active,
            prerise_start_s=round(tc - pre, 4) if pct > 0 else None,
            prerise_pct=round(pct, 1),
            peak_uv=amps,
            relief=relief,
            woke_at_s=round(wake_at, 3),
            asleep_before=True,
            sat_up=sat,
            lull_s=None if lull is None else round(lull, 3),
        )
        self.p.wake.append((wake_at, t1))
        if relief == "massage" and sat is None:
            # one sits up to reach the calf
            self.p.transitions.append((t1, t1 + float(r.uniform(1.0, 2.5)), "sitting-in-bed"))
            sat = "sitting-in-bed"
        end = self._relief(tc, t1, fall, relief, hard)
        if relief == "walk":
            sat = None
        if recur_dur is not None:
            # the cramp comes back while the sleeper is still awake
            tc2 = end + float(r.uniform(30.0, 150.0))
            relief2 = "stretch" if r.random() < 0.6 else "massage"
            t2, fall2, amps2, lull2 = self._contraction(tc2, recur_dur, active, relief2)
            self.truth(
                "cramp",
                "",
                tc2,
                t2,
                active,
                prerise_start_s=None,
                prerise_pct=0.0,
                peak_uv=amps2,
                relief=relief2,
                woke_at_s=None,
                asleep_before=False,
                recurrence_of=round(tc, 4),
                sat_up=None,
                lull_s=None if lull2 is None else round(lull2, 3),
            )
            end = self._relief(tc2, t2, fall2, relief2, hard)
        if sat is not None:
            end = self.turn(end + float(r.uniform(3, 30)), float(r.uniform(2.0, 4.0)), target="lie")
        # awake 2..15 min (shorter in short recordings, so that they hold their episodes)
        awake = min(float(r.uniform(120, 900)), max(120.0, 0.1 * self.T))
        self.awake_filler(end + 2, end + awake, turns=int(r.integers(0, 3)))
        self.p.wake.append((t1, end + awake))
        return end + awake

    def plm_series(self, t0: float, n: int) -> float:
        r = self.rng
        base = float(r.uniform(15, 40)) if r.random() < 0.8 else float(r.uniform(10, 90))
        med = float(r.uniform(0.5, 5.0))
        amp = _loguniform(r, 10, 80)
        coact = (not self.tib) or r.random() < 0.35
        ratio = float(r.uniform(0.2, 0.6))
        t = t0
        times = []
        for i in range(n):
            d = float(np.clip(med * math.exp(r.normal(0, 0.35)), 0.5, 10.0))
            chans: list[int] = []
            # >= 12 µV RMS: clearly >= 8 µV above rest (AASM onset criterion)
            a = max(12.0, amp * float(r.uniform(0.7, 1.3)))
            for c in self.tib:
                self.p.env_comp(
                    c,
                    t,
                    t + d,
                    a,
                    a * float(r.uniform(0.8, 1.2)),
                    rise=float(r.uniform(0.05, 0.3)),
                    fall=float(r.uniform(0.1, 0.4)),
                    mods=self._irregular(),
                )
                chans.append(c)
            if coact:
                # without a tibialis channel the series shows through calf co-activation only
                ca = a * ratio if self.tib else max(12.0, a * float(r.uniform(0.3, 0.8)))
                for c in self.calf:
                    self.p.env_comp(
                        c,
                        t + float(r.uniform(0, 0.2)),
                        t + d,
                        ca,
                        rise=0.15,
                        fall=0.3,
                        mods=self._irregular(),
                    )
                    chans.append(c)
            if self.has_acc and r.random() < 0.6:
                self._jitter(t, t + min(d, 2.0), float(r.uniform(0.01, 0.08)))
            self.truth(
                "plm", "", t, t + d, chans, series_start_s=round(t0, 3), index=i, amp_uv=round(a, 1)
            )
            times.append(t)
            iv = float(np.clip(base * float(r.normal(1.0, 0.15)), 10.0, 90.0))
            iv = max(iv, d + 2.0)
            t += iv
        return times[-1] + 10.0

    # ---- the whole night
    def plan(self) -> _Plan:
        r = self.rng
        sc = self.sc
        T = self.T
        hours = T / 3600.0
        p = self.p

        def count(v: int | None, choices: list[int], probs: list[float]) -> int:
            if v is not None:
                return int(v)
            # per-night figures are for ~8 h in bed: thin them out in shorter recordings
            return int(r.binomial(int(r.choice(choices, p=probs)), min(1.0, hours / 6.0)))

        n_cramps = count(sc.cramps, [0, 1, 2, 3], [0.25, 0.35, 0.25, 0.15])
        n_plm = count(sc.plm_series, [0, 1, 2, 3], [0.35, 0.3, 0.2, 0.15])
        n_walks = count(sc.walks, [0, 1, 2], [0.4, 0.45, 0.15])
        n_stretch = count(sc.stretches, [0, 1, 2, 3], [0.2, 0.35, 0.3, 0.15])
        ar = sc.artifact_rate
        if sc.electrode_off is not None:
            n_off = sc.electrode_off
        else:
            n_off = int(r.poisson(0.4 * ar * hours / 8.0)) + (1 if sc.hard else 0)
        turns_h = sc.turns_per_hour if sc.turns_per_hour is not None else float(r.uniform(2, 6))
        tw_h = sc.twitches_per_hour if sc.twitches_per_hour is not None else float(r.uniform(5, 30))
        lm_h = (
            sc.leg_movements_per_hour
            if sc.leg_movements_per_hour is not None
            else float(r.uniform(0.5, 4))
        )

        # sleep onset: lying awake
        if sc.sleep_onset_s is not None:
            onset = float(sc.sleep_onset_s)
        else:
            onset = float(r.uniform(300, 1500)) * min(1.0, hours / 4.0)
        onset = min(onset, 0.3 * T)
        p.reserve(-1e9, onset)
        p.wake.append((0.0, onset))
        if onset > 30:
            self.awake_filler(5.0, onset - 5.0, turns=1)
        final = float(r.uniform(0, 600)) if hours >= 2 else 0.0
        if final > 60:
            p.reserve(T - final, 1e12)
            p.wake.append((T - final, T))
            self.awake_filler(T - final + 5, T - 5, turns=1)
        else:
            p.reserve(T - 30, 1e12)

        # cramps (a cramp that comes back minutes later is one more cramp of the night)
        reliefs = list(sc.cramp_relief) if sc.cramp_relief else []
        i = 0
        while i < n_cramps:
            u = r.random()
            if u < 0.1:
                dur = float(r.uniform(10, 20))
            elif u < 0.85:
                dur = _loguniform(r, 20, 180)
            else:
                dur = _loguniform(r, 180, 600)
            if sc.cramp_durations:
                dur = float(sc.cramp_durations[i % len(sc.cramp_durations)])
            if reliefs:
                relief = reliefs[i % len(reliefs)]
            else:
                relief = str(r.choice(["stretch", "walk", "massage"], p=[0.45, 0.3, 0.25]))
            recur: float | None = None
            if n_cramps - i >= 2 and r.random() < sc.recurrence_prob:
                recur = _loguniform(r, 10.0, 60.0)
                if sc.cramp_durations:
                    recur = float(sc.cramp_durations[(i + 1) % len(sc.cramp_durations)])
            # asleep and quiet for >= 60 s before the pre-cramp rise (<= 70 s)
            self._place(
                onset,
                150 + dur,
                lambda t, d=dur, rl=relief, rc=recur: self.cramp(t + 130, d, rl, sc.hard, rc) + 30,
            )
            i += 1 if recur is None else 2

        # bathroom trips
        for _ in range(n_walks):
            if sc.hard:
                bouts = [float(r.uniform(120, 360))]
            else:
                bouts = [float(r.uniform(15, 120)), float(r.uniform(15, 120))]
            stands = [float(r.uniform(2, 8)), float(r.uniform(30, 180))]
            self._place(
                onset,
                sum(bouts) + sum(stands) + 60,
                lambda t, b=bouts, s=stands: self._trip(t, b, s),
            )

        # PLM series (asleep)
        for _ in range(n_plm):
            # series of 4..60 movements, at most ~a quarter of the recording long
            n = max(4, min(int(round(_loguniform(r, 4, 60))), int(T / 4 / 30)))
            ok = self._place(onset, 40 + n * 15.0, lambda t, n=n: self.plm_series(t + 40, n) + 40)
            if not ok:
                self._place(onset, 40 + 4 * 15.0, lambda t: self.plm_series(t + 40, 4) + 40)

        # stretches in bed (awake briefly around them)
        for i in range(n_stretch):
            long = sc.hard and (i == 0 or r.random() < 0.5)
            d = float(r.uniform(60, 150)) if long else float(r.uniform(10, 60))
            self._place(onset, d + 100, lambda t, d=d: self._stretch_episode(t, d))
        if sc.hard:
            for _ in range(int(r.integers(1, 4))):
                self._place(onset, 60, lambda t: self._toe_episode(t))

        # electrode-off spells
        for _ in range(n_off):
            d = _loguniform(r, 10, 600 if sc.hard else 300)
            if sc.hard and _ == 0:
                d = max(d, float(r.uniform(60, 300)))
            t = p.find(r, d, onset, T - 30, margin=20)
            if t is None:
                continue
            ch = int(r.integers(0, len(self.sites)))
            mode = str(r.choice(_OFF_MODES, p=[0.4, 0.2, 0.15, 0.25]))
            amp = _loguniform(r, 200, 3000)
            self.p.add.append(
                (
                    _ADD_OFF,
                    ch,
                    t,
                    t + d,
                    (float(_OFF_MODES.index(mode)), amp, float(r.uniform(0, 6.28))),
                )
            )
            for tp in (t, t + d):
                self.p.add.append(
                    (
                        _ADD_POP,
                        ch,
                        tp,
                        tp + 2.0,
                        (_loguniform(r, 100, 3000) * float(r.choice([-1, 1])), 0.2),
                    )
                )
            self.truth("artifact", "electrode-off", t, t + d, [ch], mode=mode, amp_uv=round(amp, 1))
            p.reserve(t - 10, t + d + 10)

        # turns while asleep (Poisson), then isolated leg movements and twitches
        t = onset + float(r.exponential(3600 / max(turns_h, 1e-6)))
        while t < T - 60 and turns_h > 0:
            d = float(r.uniform(1.5, 6.0))
            if p.is_free(t - 15, t + d + 15):
                self.turn(t, d)
                p.reserve(t - 5, t + d + 5)
            t += float(r.exponential(3600 / turns_h))

        lm_times: list[float] = [ev.start_s for ev in p.truth if ev.kind == "plm"]
        t = onset + float(r.exponential(3600 / max(lm_h, 1e-6)))
        while t < T - 60 and lm_h > 0:
            d = float(np.clip(math.exp(r.normal(math.log(1.5), 0.6)), 0.5, 10.0))
            far = all(abs(t - x) > 100 for x in lm_times)
            if far and p.is_free(t - 10, t + d + 10) and not self._in_wake(t):
                chans: list[int] = []
                a = _loguniform(r, 12, 80)
                for c in self.tib:
                    self.p.env_comp(c, t, t + d, a, rise=0.1, fall=0.3, mods=self._irregular())
                    chans.append(c)
                if not self.tib or r.random() < 0.3:
                    for c in self.calf:
                        self.p.env_comp(
                            c,
                            t,
                            t + d,
                            max(12.0, 0.4 * a) if not self.tib else 0.4 * a,
                            rise=0.1,
                            fall=0.3,
                        )
                        chans.append(c)
                self.truth("movement", "leg-movement", t, t + d, chans, amp_uv=round(a, 1))
                lm_times.append(t)
                p.reserve(t - 3, t + d + 3)
            t += float(r.exponential(3600 / lm_h))

        t = onset + float(r.exponential(3600 / max(tw_h, 1e-6)))
        while t < T - 10 and tw_h > 0:
            if p.is_free(t - 3, t + 3.5) and not self._in_wake(t):
                end = self.twitch(t)
                p.reserve(t - 1, end + 1)
            t += float(r.exponential(3600 / tw_h))

        self._artifacts(onset)
        p.truth.sort(key=lambda e: (e.start_s, e.end_s, e.kind))
        p.wake.sort()
        return p

    def _place(self, lo: float, min_len: float, build: Any, tries: int = 60) -> bool:
        """Put an episode somewhere free in [lo, T - 30]: ``build(t)`` returns its end."""
        p = self.p
        for _ in range(tries):
            t = p.find(self.rng, min_len, lo, self.T - 30, margin=30)
            if t is None:
                return False
            snap = p.snapshot()
            end = float(build(t))
            if end <= self.T - 30 and p.is_free(t - 30, end + 30):
                p.reserve(t, end)
                return True
            p.restore(snap)
        return False

    def _trip(self, t: float, bouts: list[float], stands: list[float]) -> float:
        r = self.rng
        end = self.stand_walk(t + 20, bouts, stands, lie_after=True)
        awake = min(float(r.uniform(60, 600)), max(60.0, 0.1 * self.T))
        self.awake_filler(end + 2, end + awake)
        self.p.wake.append((t, end + awake))
        return end + awake

    def _stretch_episode(self, t: float, d: float) -> float:
        r = self.rng
        self.fidget(t + 5)
        end = self.stretch(t + 60, d)
        end = self.fidget(end + float(r.uniform(5, 30)))
        self.p.wake.append((t, end + 30))
        return end + 30

    def _toe_episode(self, t: float) -> float:
        end = self.toe_point(t + 20)
        self.p.wake.append((t, end + 30))
        return end + 30

    def _in_wake(self, t: float) -> bool:
        return any(a <= t <= b for a, b in self.p.wake)

    def _artifacts(self, onset: float) -> None:
        r = self.rng
        p = self.p
        sc = self.sc
        ar = sc.artifact_rate
        hours = self.T / 3600
        cramp_spans = [(e.start_s - 5, e.end_s + 5) for e in p.truth if e.kind == "cramp"]

        def clear_of_cramps(a: float, b: float) -> bool:
            return all(b <= s or a >= e for s, e in cramp_spans)

        # electrode pops
        n = int(r.poisson(ar * float(r.uniform(0.5, 4.0)) * hours))
        for _ in range(n):
            t = float(r.uniform(0, self.T - 5))
            tau = _loguniform(r, 0.05, 0.8)
            if not clear_of_cramps(t, t + 3 * tau):
                continue
            ch = int(r.integers(0, len(self.sites)))
            amp = _loguniform(r, 50, 3000) * float(r.choice([-1, 1]))
            p.add.append((_ADD_POP, ch, t, t + 8 * tau, (amp, tau)))
            self.truth(
                "artifact", "pop", t, t + 3 * tau, [ch], amp_uv=round(amp, 1), tau_s=round(tau, 3)
            )
        # baseline wander spells (sweat, pressure on the electrode)
        n = int(r.poisson(ar * float(r.uniform(0.0, 2.0)) * hours))
        for _ in range(n):
            d = float(r.uniform(5, 60))
            t = float(r.uniform(0, self.T - d - 1))
            if not clear_of_cramps(t, t + d):
                continue
            ch = int(r.integers(0, len(self.sites)))
            par: list[float] = []
            peak = 0.0
            for _k in range(3):
                f = float(r.uniform(0.1, 2.0))
                a = _loguniform(r, 10, 300) * float(
                    _frontend_gain(np.array([f]), self.fe_hp, self.fe_lp)[0]
                )
                par += [f, a, float(r.uniform(0, 6.28))]
                peak += a
            p.add.append((_ADD_WANDER, ch, t, t + d, tuple(par)))
            if peak > 10.0:
                self.truth("artifact", "wander", t, t + d, [ch], amp_uv=round(peak, 1))


# --------------------------------------------------------------------------- rendering


class SyntheticNight:
    """A synthetic night: a :class:`detector.stream.Source` with ground truth.

    Use :func:`make_night` to build one.  ``chunks(chunk_s)`` streams it; ``render(i0, i1)``
    and ``render_acc(j0, j1)`` give any slice (deterministic: the same samples whatever
    the slicing); ``to_arrays()`` gives the whole night (short nights only).
    """

    def __init__(
        self,
        seed: int,
        duration_s: float,
        *,
        emg_fs: float,
        acc_fs: float | None,
        sites: tuple[str, ...],
        labels: tuple[str, ...],
        mains_hz: float,
        scenario: Scenario,
        start_utc: datetime,
        chunk_s: float = 1.0,
    ) -> None:
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.scenario = scenario
        self.chunk_s = float(chunk_s)
        self.layout = StreamLayout(
            emg_fs=float(emg_fs),
            emg_labels=labels,
            emg_sites=sites,
            acc_fs=None if acc_fs is None else float(acc_fs),
            start_utc=start_utc,
            side=scenario.side,
            extra={"source": "synthetic", "seed": str(seed)},
        )
        fs = self.layout.emg_fs
        self.n_emg = int(round(self.duration_s * fs))
        self.n_acc = 0 if acc_fs is None else int(round(self.duration_s * float(acc_fs)))
        nch = len(sites)
        rng = np.random.default_rng([self.seed, 0])
        r = rng

        # ---- per-night physiology and signal-chain parameters
        fe = scenario.front_end or ("sleeplab" if fs < 400 else "wearable")
        if fe == "sleeplab":
            hp, lp = 10.0, min(100.0, 0.45 * fs)
        elif fe == "wearable":
            if scenario.hard:
                hp = 0.5
            else:
                hp = float(r.choice([0.5, 5.0, 10.0, 20.0], p=[0.2, 0.3, 0.3, 0.2]))
            lp = min(450.0, 0.45 * fs)
        else:
            raise ValueError(f"front_end must be 'wearable' or 'sleeplab', got {fe!r}")
        self.fe_hp, self.fe_lp = hp, lp
        self.mains_hz = float(mains_hz or 0.0)
        self.params: dict[str, Any] = {"front_end": fe, "hp_hz": hp, "lp_hz": lp}

        # EMG spectrum per channel (Shwedyk 1977 shape)
        self._fl = np.array([r.uniform(50, 95) for _ in range(nch)])
        self._fh = self._fl * np.array([r.uniform(1.8, 2.6) for _ in range(nch)])
        spec = scenario.spectrum or ("shwedyk" if r.random() < 0.7 else "bandpass")
        if spec not in ("shwedyk", "bandpass"):
            raise ValueError(f"spectrum must be 'shwedyk' or 'bandpass', got {spec!r}")
        self._spec_kind = spec
        self._bp = [(float(r.uniform(15, 30)), float(r.uniform(150, 450))) for _ in range(nch)]
        lo, hi = scenario.rest_uv
        self._rest_base = np.array([_loguniform(r, lo, hi) for _ in range(nch)])
        self._rest_drift = [
            [
                (
                    _loguniform(r, 900, 10800),
                    scenario.rest_drift * float(r.uniform(0.05, 0.2)),
                    float(r.uniform(0, 6.28)),
                )
                for _ in range(3)
            ]
            for _ in range(nch)
        ]
        self._amp_noise = np.array([r.uniform(0.2, 0.8) for _ in range(nch)])
        # crosstalk
        mix = np.eye(nch)
        for i in range(nch):
            for j in range(nch):
                if i != j:
                    both_calf = sites[i] in ("gastrocnemius", "soleus") and sites[j] in (
                        "gastrocnemius",
                        "soleus",
                    )
                    mix[i, j] = r.uniform(0.1, 0.3) if both_calf else r.uniform(0.02, 0.15)
        self._mix = mix
        # mains
        if scenario.mains_uv is not None:
            m_lo, m_hi = scenario.mains_uv
        else:
            m_lo, m_hi = (5.0, 30.0) if r.random() < 0.1 else (0.2, 5.0)
        self._mains_amp = np.array(
            [_loguniform(r, m_lo, max(m_hi, m_lo * 1.0001)) for _ in range(nch)]
        )
        # harmonics relative to the fundamental: 3rd always some, 2nd/5th/6th on some nights
        # (the real recording shared/data/real/.../emg_1.txt carries 50 and 300 Hz)
        self._mains_harm = [
            (3, float(r.uniform(0.0, 0.3))),
            (2, float(r.uniform(0.0, 0.05))),
            (5, float(r.uniform(0.0, 0.2)) if r.random() < 0.3 else 0.0),
            (6, float(r.uniform(0.0, 0.3)) if r.random() < 0.2 else 0.0),
        ]
        self._mains_phase = float(r.uniform(0, 6.28))
        self._mains_wobble = (_loguniform(r, 600, 3600), float(r.uniform(0.0, 0.3)))
        # ECG bleed
        ecg_mode = scenario.ecg or str(r.choice(["none", "low", "spells"], p=[0.3, 0.5, 0.2]))
        if scenario.hard and scenario.ecg is None:
            ecg_mode = "spells"
        if scenario.artifact_rate <= 0 and scenario.ecg is None:
            ecg_mode = "none"
        self.params.update(
            spectrum=spec,
            spectrum_fl_hz=[round(float(x), 1) for x in self._fl],
            spectrum_fh_hz=[round(float(x), 1) for x in self._fh],
            rest_uv=[round(float(x), 2) for x in self._rest_base],
            amp_noise_uv=[round(float(x), 2) for x in self._amp_noise],
            mains_uv=[round(float(x), 2) for x in self._mains_amp],
            ecg=ecg_mode,
        )

        # ---- the script of the night
        planner = _Planner(
            r, self.duration_s, sites, labels, acc_fs is not None, scenario, hp, lp, self.mains_hz
        )
        planner.rest_base = self._rest_base
        plan = planner.plan()
        self._prepare_ecg(r, ecg_mode, nch, plan, planner)
        plan.truth.sort(key=lambda e: (e.start_s, e.end_s, e.kind))
        self.truth: list[TruthEvent] = [
            e if e.end_s <= self.duration_s else replace(e, end_s=self.duration_s)
            for e in plan.truth
            if e.start_s < self.duration_s and e.end_s > 0
        ]
        self._prepare_env(plan)
        self._prepare_add(plan)
        self._prepare_spikes(plan)
        self._prepare_postures(r, plan)
        self._prepare_acc(r, plan)
        self.states = self._states(plan.wake)

        # ---- segment geometry and spectral shapes
        self._seg_n = max(1, int(round(SEG_S * fs)))
        ov_min = max(4, int(round(XFADE_S * fs)))
        self._L = int(sfft.next_fast_len(self._seg_n + ov_min, real=True))
        self._ov = self._L - self._seg_n
        f = np.fft.rfftfreq(self._L, 1.0 / fs)
        g = _frontend_gain(f, hp, lp)
        self._H = np.empty((nch, f.size))
        self._Hamp = np.empty((nch, f.size))
        for c in range(nch):
            if self._spec_kind == "shwedyk":
                h = np.sqrt(_semg_psd(f, self._fl[c], self._fh[c])) * g
            else:
                lo_c, hi_c = self._bp[c]
                with np.errstate(divide="ignore"):
                    hb = 1.0 / np.sqrt(1.0 + (lo_c / np.maximum(f, 1e-9)) ** 4)
                h = hb / np.sqrt(1.0 + (f / hi_c) ** 4) * g
            self._H[c] = h * self._norm(h)
            self._Hamp[c] = g * self._norm(g) * self._amp_noise[c]
        w = np.linspace(0.0, math.pi / 2, self._ov, endpoint=False) + math.pi / (4 * self._ov)
        self._xf_in = np.sin(w)
        self._xf_out = np.cos(w)
        self._cache: tuple[int, np.ndarray, np.ndarray] | None = None
        self._acc_seg_n = 0 if acc_fs is None else max(1, int(round(SEG_S * float(acc_fs))))
        self._acc_cache: tuple[int, np.ndarray] | None = None

    # ------------------------------------------------------------------ preparation
    def _norm(self, h: np.ndarray) -> float:
        """Scale making irfft of (N(0,1) + iN(0,1)) * h unit-variance (length L)."""
        L = self._L
        h = h.copy()
        h[0] = 0.0
        if L % 2 == 0:
            s = 4.0 * float(np.sum(h[1:-1] ** 2)) + float(h[-1] ** 2)
        else:
            s = 4.0 * float(np.sum(h[1:] ** 2))
        return L / math.sqrt(s) if s > 0 else 0.0

    def _prepare_env(self, plan: _Plan) -> None:
        arr = np.array(plan.env, dtype=np.float64).reshape(-1, _E_NCOL)
        arr = arr[np.argsort(arr[:, _E_T0], kind="stable")]
        self._env = arr
        self._env_maxdur = float(np.max(arr[:, _E_T1] - arr[:, _E_T0])) if len(arr) else 0.0

    def _prepare_add(self, plan: _Plan) -> None:
        self._add = sorted(plan.add, key=lambda a: a[2])
        self._add_t0 = np.array([a[2] for a in self._add])
        self._add_maxdur = max((a[3] - a[2] for a in self._add), default=0.0)

    def _prepare_spikes(self, plan: _Plan) -> None:
        self._spikes = sorted(plan.spikes, key=lambda s: s[1])

    def _prepare_ecg(
        self, r: np.random.Generator, mode: str, nch: int, plan: _Plan, planner: _Planner
    ) -> None:
        hr = float(r.uniform(50, 80))  # bpm, sleeping adult
        self.params["heart_rate_bpm"] = round(hr, 1)
        gains = np.array([r.uniform(0.3, 1.0) for _ in range(nch)])
        self._ecg_gain = gains
        if mode == "none":
            self._beats = np.zeros(0)
            self._beat_amp = np.zeros(0)
            return
        n_est = int(self.duration_s * hr / 60 * 1.3) + 10
        rr = 60.0 / hr * (1 + 0.05 * r.standard_normal(n_est))
        rr *= 1 + 0.08 * np.sin(2 * np.pi * np.cumsum(rr) / r.uniform(600, 3600))
        beats = np.cumsum(rr) + r.uniform(0, 1)
        beats = beats[beats < self.duration_s + 1]
        low = float(r.uniform(0.5, 4.0))
        amp = np.full(beats.size, low)
        if mode == "spells":
            n = max(1, int(r.poisson(self.scenario.artifact_rate * 2 * self.duration_s / 28800)))
            for _ in range(n):
                d = float(r.uniform(60, 1200))
                t0 = float(r.uniform(0, max(1.0, self.duration_s - d)))
                a = _loguniform(r, 10, 60)
                sel = (beats >= t0) & (beats < t0 + d)
                amp[sel] = a
                planner.truth(
                    "artifact", "ecg", t0, t0 + d, list(range(nch)), r_wave_uv=round(a, 1)
                )
        self._beats = beats
        self._beat_amp = amp

    def _prepare_postures(self, r: np.random.Generator, plan: _Plan) -> None:
        trans = sorted(plan.transitions)
        cur = str(r.choice(list(LYING), p=[0.45, 0.1, 0.225, 0.225]))
        v = _posture_vector(r, cur)
        knots_t = [0.0]
        knots_v = [v]
        postures: list[tuple[float, float, str]] = []
        p_start = 0.0
        last_lying = cur
        before_tilt: np.ndarray | None = None
        rest_steps_t = [0.0]
        rest_steps_f = [1.0]
        for ta, tb, tgt in trans:
            if ta >= self.duration_s:
                break
            # keep knot times increasing even if two transitions overlap
            ta = max(ta, knots_t[-1] + 0.01)
            tb = max(tb, ta + 0.2)
            name = cur
            if tgt == "turn":
                opts = [p for p in LYING if p != cur] if cur in LYING else list(LYING)
                name = str(r.choice(opts))
            elif tgt == "lie":
                name = last_lying if r.random() < 0.5 else str(r.choice(list(LYING)))
            elif tgt in POSTURES:
                name = tgt
            if tgt == "tilt":
                before_tilt = v
                ang = math.radians(r.uniform(3, 10))
                nv = _rot(0, ang, 0) @ v
            elif tgt == "untilt":
                nv = before_tilt if before_tilt is not None else v
                before_tilt = None
            else:
                nv = _posture_vector(r, name)
            if float(np.dot(v, nv)) < -0.3:
                # rolling through a side posture, not through zero
                mid = np.cross(v, np.array([1.0, 0.0, 0.0]))
                if np.linalg.norm(mid) < 0.2:
                    mid = np.array([0.0, 1.0, 0.0])
                mid = mid / np.linalg.norm(mid)
                knots_t += [ta, 0.5 * (ta + tb)]
                knots_v += [v, mid]
            else:
                knots_t.append(ta)
                knots_v.append(v)
            knots_t.append(tb)
            knots_v.append(nv)
            v = nv
            if name != cur:
                postures.append((p_start, ta, cur))
                p_start = ta
                cur = name
                if cur in LYING:
                    last_lying = cur
            if tgt not in ("tilt", "untilt"):
                rest_steps_t += [ta, tb]
                rest_steps_f += [rest_steps_f[-1], float(_loguniform(r, 0.75, 1.3))]
        postures.append((p_start, self.duration_s, cur))
        self.postures: list[tuple[float, float, str]] = [
            (round(a, 3), round(b, 3), n) for a, b, n in postures if b > a
        ]
        self._knot_t = np.array(knots_t)
        self._knot_v = np.array(knots_v)
        self._rest_t = np.array(rest_steps_t)
        self._rest_f = np.array(rest_steps_f)

    def _prepare_acc(self, r: np.random.Generator, plan: _Plan) -> None:
        d = math.radians
        self._mount = _rot(d(r.uniform(-15, 15)), d(r.uniform(-15, 15)), d(r.uniform(-15, 15)))
        if self.scenario.side == "left":
            # the left leg's lateral side is the body frame's -y
            self._mount = self._mount @ np.diag([1.0, -1.0, 1.0])
        if self.scenario.acc_axes == "random":
            perm = np.eye(3)[list(r.permutation(3))]
            signs = r.choice([-1.0, 1.0], size=3)
            m = perm * signs[:, None]
            if np.linalg.det(m) < 0:
                m[2] *= -1.0  # a proper rotation: the sensor is worn turned, not mirrored
            self._mount = m @ self._mount
        elif self.scenario.acc_axes != "canonical":
            raise ValueError(
                f"acc_axes must be 'canonical' or 'random', got {self.scenario.acc_axes!r}"
            )
        self._acc_bias = r.uniform(-0.02, 0.02, size=3)
        self._acc_scale = r.uniform(0.98, 1.02, size=3)
        self._acc_noise = float(r.uniform(0.002, 0.008))
        self._accc = sorted(plan.acc, key=lambda a: a[1])
        self._accc_t0 = np.array([a[1] for a in self._accc])
        self._accc_maxdur = max((a[2] - a[1] for a in self._accc), default=0.0)

    def _states(self, wake: list[tuple[float, float]]) -> list[tuple[float, float, str]]:
        merged: list[list[float]] = []
        for a, b in sorted(wake):
            a, b = max(0.0, a), min(self.duration_s, b)
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        out: list[tuple[float, float, str]] = []
        t = 0.0
        for a, b in merged:
            if a > t:
                out.append((round(t, 3), round(a, 3), "sleep"))
            out.append((round(a, 3), round(b, 3), "wake"))
            t = b
        if t < self.duration_s:
            out.append((round(t, 3), round(self.duration_s, 3), "sleep"))
        return out

    # ------------------------------------------------------------------ public helpers
    def rest_uv(self, t_s: np.ndarray | float, ch: int = 0) -> np.ndarray:
        """The resting EMG level (µV RMS, before amplifier noise) of channel ``ch`` at t_s."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        s = np.zeros_like(t)
        for per, a, ph in self._rest_drift[ch]:
            s += a * np.sin(2 * np.pi * t / per + ph)
        step = np.interp(t, self._rest_t, self._rest_f)
        return np.asarray(self._rest_base[ch] * np.exp(s) * step)

    def wall_time(self, t_s: float) -> datetime | None:
        if self.layout.start_utc is None:
            return None
        return self.layout.start_utc + timedelta(seconds=float(t_s))

    def truth_of(self, kind: str) -> list[TruthEvent]:
        """The truth events of one kind (``cramp``, ``plm``, ``movement``, ``artifact``)."""
        return [e for e in self.truth if e.kind == kind]

    def truth_frame(self) -> Any:
        """The truth as a pandas DataFrame, one row per event (``extra`` as a dict column)."""
        import pandas as pd

        return pd.DataFrame([e.to_dict() for e in self.truth])

    # ------------------------------------------------------------------ EMG rendering
    def _noise_block(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit-variance sEMG noise and amplifier noise blocks (nch, L) of segment k."""
        nch = self.layout.n_emg
        nf = self._H.shape[1]
        rg = np.random.default_rng([self.seed, 1, k])
        z = rg.standard_normal((2, nch, 2, nf))
        spec = (z[0, :, 0] + 1j * z[0, :, 1]) * self._H
        spec_a = (z[1, :, 0] + 1j * z[1, :, 1]) * self._Hamp
        emg = sfft.irfft(spec, n=self._L, axis=-1)
        amp = sfft.irfft(spec_a, n=self._L, axis=-1)
        return emg, amp

    def _envelope(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Activation envelopes (nch, G) in µV RMS on the ENV_FS grid covering [t0, t1]."""
        nch = self.layout.n_emg
        g0 = int(math.floor(t0 * ENV_FS)) - 1
        g1 = int(math.ceil(t1 * ENV_FS)) + 2
        tg = np.arange(g0, g1) / ENV_FS
        rel2 = np.zeros((nch, tg.size))
        abs2 = np.zeros((nch, tg.size))
        E = self._env
        if len(E):
            lo = int(np.searchsorted(E[:, _E_T0], tg[0] - self._env_maxdur, side="left"))
            hi = int(np.searchsorted(E[:, _E_T0], tg[-1], side="right"))
            for row in E[lo:hi]:
                c0, c1 = row[_E_T0], row[_E_T1]
                if c1 <= tg[0]:
                    continue
                i0 = max(0, int(math.ceil((c0 - tg[0]) * ENV_FS - 1e-9)))
                i1 = min(tg.size, int(math.floor((c1 - tg[0]) * ENV_FS + 1e-9)) + 1)
                if i1 <= i0:
                    continue
                u = tg[i0:i1] - c0
                dur = c1 - c0
                a = row[_E_A0] + (row[_E_A1] - row[_E_A0]) * (u / dur)
                rise, fall = row[_E_RISE], row[_E_FALL]
                if rise > 0:
                    m = u < rise
                    a[m] *= 0.5 - 0.5 * np.cos(np.pi * u[m] / rise)
                if fall > 0:
                    m = u > dur - fall
                    a[m] *= 0.5 - 0.5 * np.cos(np.pi * np.clip(dur - u[m], 0, None) / fall)
                for q in range(3):
                    fq, dq, pq = row[_E_MOD + 3 * q : _E_MOD + 3 * q + 3]
                    if dq > 0:
                        a *= 1.0 + dq * np.sin(2 * np.pi * fq * u + pq)
                c = int(row[_E_CH])
                if row[_E_REL] > 0:
                    rel2[c, i0:i1] += a * a
                else:
                    abs2[c, i0:i1] += a * a
        env = np.empty((nch, tg.size))
        for c in range(nch):
            rest = self.rest_uv(tg, c)
            env[c] = np.sqrt(rest * rest * (1.0 + rel2[c]) + abs2[c])
        return tg, env

    def _render_segment(self, k: int) -> np.ndarray:
        """All channels of segment k, shape (seg_n, nch), in µV."""
        if self._cache is not None and self._cache[0] == k:
            return self._cache[1]
        fs = self.layout.emg_fs
        n = self._seg_n
        ov = self._ov
        emg, amp = self._noise_block(k)
        if k > 0:
            if self._cache is not None and self._cache[0] == k - 1:
                tails = self._cache[2]
            else:
                pe, pa = self._noise_block(k - 1)
                tails = np.stack([pe[:, n:], pa[:, n:]])
            emg[:, :ov] = self._xf_out * tails[0] + self._xf_in * emg[:, :ov]
            amp[:, :ov] = self._xf_out * tails[1] + self._xf_in * amp[:, :ov]
        new_tails = np.stack([emg[:, n:], amp[:, n:]])
        emg = emg[:, :n]
        amp = amp[:, :n]
        i0 = k * n
        idx = np.arange(i0, i0 + n, dtype=np.float64)
        t = idx / fs
        tg, env = self._envelope(float(t[0]), float(t[-1]))
        nch = emg.shape[0]
        x = np.empty((nch, n))
        for c in range(nch):
            x[c] = emg[c] * np.interp(t, tg, env[c])
        self._add_spikes(x, t, k)
        x = self._mix @ x
        x += amp
        self._add_mains(x, idx)
        self._add_ecg(x, t)
        self._add_additive(x, t, amp)
        lim = self.scenario.emg_range_uv
        np.clip(x, -lim, lim, out=x)
        out = np.ascontiguousarray(x.T)
        self._cache = (k, out, new_tails)
        return out

    def _spike_times(self, sd: float, kk: int, s0: float, s1: float, rate: float) -> np.ndarray:
        """Firing times of one motor unit inside segment kk (its own seeded renewal process)."""
        fs = self.layout.emg_fs
        ta = kk * self._seg_n / fs
        tb = (kk + 1) * self._seg_n / fs
        a, b = max(s0, ta), min(s1, tb)
        if b <= a:
            return np.zeros(0)
        rg = np.random.default_rng([int(sd), kk])
        # gamma-distributed interspike intervals with CV 45 % (Minetto 2009): shape 1/0.45^2
        shape = 1 / 0.45**2
        n = int((b - a) * rate * 2) + 4
        isi = rg.gamma(shape, 1.0 / (rate * shape), size=n)
        times = a + rg.uniform(0, 1.0 / rate) + np.cumsum(isi) - isi[0]
        return np.asarray(times[times < b])

    def _add_spikes(self, x: np.ndarray, t: np.ndarray, k: int) -> None:
        """Large motor units firing irregularly during cramps (Minetto 2009)."""
        if not self._spikes:
            return
        ta, tb = float(t[0]), float(t[-1])
        fs = self.layout.emg_fs
        for ch, s0, s1, rate, amp, width, sd in self._spikes:
            if s1 <= ta - 0.05 or s0 > tb + 0.05:
                continue
            # neighbours too: a waveform near a seam spills into the next segment
            times = np.concatenate(
                [self._spike_times(sd, kk, s0, s1, rate) for kk in (k - 1, k, k + 1) if kk >= 0]
            )
            if times.size == 0:
                continue
            # band-limit the shape analytically: a Gaussian low-pass with its -3 dB point at
            # the front end's low-pass (sigma = 0.132 / f_c) widens the Gaussian to w_eff
            w_eff = math.hypot(width, 0.132 / self.fe_lp)
            hw = int(math.ceil(4 * w_eff * fs))
            off = np.arange(-hw, hw + 1)
            centre = np.round((times - ta) * fs).astype(np.int64)
            frac = (times - ta) * fs - centre
            u = (off[None, :] - frac[:, None]) / (w_eff * fs)
            # biphasic motor-unit action potential (first derivative of a Gaussian)
            wave = -u * np.exp(-0.5 * u * u) * (1.65 * amp * (width / w_eff) ** 2)
            pos = centre[:, None] + off[None, :]
            ok = (pos >= 0) & (pos < x.shape[1])
            if ok.any():
                x[ch] += np.bincount(pos[ok], weights=wave[ok], minlength=x.shape[1])[: x.shape[1]]

    def _add_mains(self, x: np.ndarray, idx: np.ndarray) -> None:
        f = self.mains_hz
        fs = self.layout.emg_fs
        if f <= 0 or f >= fs / 2:
            return
        w = 2 * np.pi * f / fs
        per, dep = self._mains_wobble
        t = idx / fs
        g1 = float(_frontend_gain(np.array([f]), self.fe_hp, self.fe_lp)[0])
        s = np.sin(w * idx + self._mains_phase) * g1
        for h, rel in self._mains_harm:
            if h * f < 0.45 * fs and rel > 0:
                gh = float(_frontend_gain(np.array([h * f]), self.fe_hp, self.fe_lp)[0])
                s += rel * gh * np.sin(h * w * idx + h * self._mains_phase)
        s *= 1.0 + dep * np.sin(2 * np.pi * t / per)
        x += self._mains_amp[:, None] * s[None, :]

    def _add_ecg(self, x: np.ndarray, t: np.ndarray) -> None:
        if self._beats.size == 0:
            return
        fs = self.layout.emg_fs
        ta, tb = float(t[0]), float(t[-1])
        lo = int(np.searchsorted(self._beats, ta - 0.4))
        hi = int(np.searchsorted(self._beats, tb + 0.1))
        if hi <= lo:
            return
        bt = self._beats[lo:hi]
        ba = self._beat_amp[lo:hi]
        off = np.arange(int(-0.1 * fs), int(0.4 * fs) + 1)
        centre = np.round((bt - ta) * fs).astype(np.int64)
        pos = centre[:, None] + off[None, :]
        dt = (pos + 0.0) / fs + ta - bt[:, None]
        # QRS (energy ~10..20 Hz) and T wave (~4 Hz), each through the front end's gain
        g_qrs, g_t = _frontend_gain(np.array([15.0, 4.0]), self.fe_hp, self.fe_lp)
        wave = (
            g_qrs
            * (
                -0.12 * np.exp(-0.5 * ((dt + 0.03) / 0.008) ** 2)
                + np.exp(-0.5 * (dt / 0.01) ** 2)
                - 0.25 * np.exp(-0.5 * ((dt - 0.03) / 0.01) ** 2)
            )
            + g_t * 0.2 * np.exp(-0.5 * ((dt - 0.25) / 0.04) ** 2)
        ) * ba[:, None]
        ok = (pos >= 0) & (pos < x.shape[1])
        s = np.bincount(pos[ok], weights=wave[ok], minlength=x.shape[1])[: x.shape[1]]
        x += self._ecg_gain[:, None] * s[None, :]

    def _add_additive(self, x: np.ndarray, t: np.ndarray, white: np.ndarray) -> None:
        """Pops, wander and electrode-off spells; ``white`` = this segment's amplifier noise."""
        if not self._add:
            return
        ta, tb = float(t[0]), float(t[-1])
        fs = self.layout.emg_fs
        lo = int(np.searchsorted(self._add_t0, ta - self._add_maxdur))
        hi = int(np.searchsorted(self._add_t0, tb, side="right"))
        offs = []
        for typ, ch, a0, a1, par in self._add[lo:hi]:
            if a1 <= ta:
                continue
            i0 = max(0, int(math.ceil((a0 - ta) * fs - 1e-9)))
            i1 = min(x.shape[1], int(math.floor((a1 - ta) * fs)) + 1)
            if i1 <= i0:
                continue
            u = t[i0:i1] - a0
            if typ == _ADD_POP:
                amp, tau = par
                x[ch, i0:i1] += amp * np.exp(-u / tau)
            elif typ == _ADD_WANDER:
                d = a1 - a0
                taper = np.minimum(1.0, np.minimum(u, d - u) / max(0.05, min(1.0, 0.2 * d)))
                s = np.zeros_like(u)
                for q in range(0, len(par), 3):
                    s += par[q + 1] * np.sin(2 * np.pi * par[q] * u + par[q + 2])
                x[ch, i0:i1] += taper * s
            else:
                offs.append((ch, i0, i1, u, par))
        for ch, i0, i1, u, par in offs:
            mode = _OFF_MODES[int(par[0])]
            lim = self.scenario.emg_range_uv
            if mode == "hum":
                fm = self.mains_hz if self.mains_hz > 0 else 50.0
                tt = t[i0:i1]
                s = np.zeros_like(u)
                for h, rel in ((1, 1.0), (3, 0.3)):
                    if h * fm < 0.45 * fs:  # the ADC's anti-aliasing removes the rest
                        gh = float(_frontend_gain(np.array([h * fm]), self.fe_hp, self.fe_lp)[0])
                        s += rel * gh * par[1] * np.sin(2 * np.pi * h * fm * tt + par[2])
                g03 = float(_frontend_gain(np.array([0.3]), self.fe_hp, self.fe_lp)[0])
                s += 0.05 * g03 * par[1] * np.sin(2 * np.pi * 0.3 * u)
                x[ch, i0:i1] = s + 0.5 * x[ch, i0:i1]
            elif mode == "saturation":
                sign = 1.0 if par[2] > 3.14 else -1.0
                x[ch, i0:i1] = sign * lim
            elif mode == "flat":
                x[ch, i0:i1] = 0.0
            else:
                # loose electrode: cable/skin motion (1..20 Hz, large), white contact noise
                # (not EMG-shaped: the front end's flat band), mains picked up through the
                # high impedance, what is left of the EMG
                ph = par[2]
                s = np.zeros_like(u)
                for q in range(4):
                    fq = 1.0 + ((ph * (q + 1) * 7.31) % 19.0)
                    gq = float(_frontend_gain(np.array([fq]), self.fe_hp, self.fe_lp)[0])
                    s += (0.5 / (q + 1)) * gq * np.sin(2 * np.pi * fq * u + q * ph)
                fm = self.mains_hz if self.mains_hz > 0 else 50.0
                gm = float(_frontend_gain(np.array([fm]), self.fe_hp, self.fe_lp)[0])
                x[ch, i0:i1] = (
                    0.3 * par[1] * s
                    + white[ch, i0:i1] * (0.04 * par[1] / self._amp_noise[ch])
                    + 0.5 * x[ch, i0:i1]
                    + 0.1 * gm * par[1] * np.sin(2 * np.pi * fm * t[i0:i1] + ph)
                )

    def render(self, i0: int, i1: int) -> np.ndarray:
        """EMG samples [i0, i1) as (n, n_channels) float64 µV."""
        i0 = max(0, int(i0))
        i1 = min(self.n_emg, int(i1))
        nch = self.layout.n_emg
        if i1 <= i0:
            return np.zeros((0, nch))
        n = self._seg_n
        parts = []
        for k in range(i0 // n, (i1 - 1) // n + 1):
            seg = self._render_segment(k)
            a = max(i0, k * n) - k * n
            b = min(i1, (k + 1) * n) - k * n
            parts.append(seg[a:b])
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)

    # ------------------------------------------------------------------ accelerometer
    def _render_acc_segment(self, k: int) -> np.ndarray:
        if self._acc_cache is not None and self._acc_cache[0] == k:
            return self._acc_cache[1]
        afs = float(self.layout.acc_fs or 1.0)
        m = self._acc_seg_n
        t = np.arange(k * m, (k + 1) * m, dtype=np.float64) / afs
        v = np.stack([np.interp(t, self._knot_t, self._knot_v[:, a]) for a in range(3)], axis=1)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        ta, tb = float(t[0]), float(t[-1])
        if self._accc:
            lo = int(np.searchsorted(self._accc_t0, ta - self._accc_maxdur))
            hi = int(np.searchsorted(self._accc_t0, tb, side="right"))
            for typ, c0, c1, par in self._accc[lo:hi]:
                if c1 <= ta:
                    continue
                sel = (t >= c0) & (t < c1)
                if not sel.any():
                    continue
                u = t[sel] - c0
                d = c1 - c0
                if typ == _ACC_JITTER:
                    taper = np.sin(np.pi * np.clip(u / d, 0, 1))
                    for ax in range(3):
                        s = np.zeros_like(u)
                        for q in range(3):
                            f, a, ph = par[9 * ax + 3 * q : 9 * ax + 3 * q + 3]
                            s += a * np.sin(2 * np.pi * f * u + ph)
                        v[sel, ax] += taper * s
                elif typ == _ACC_STRIDE:
                    pitch_amp, impact, swing = par
                    phase = 2 * np.pi * u / d
                    p = pitch_amp * np.sin(phase)
                    vx, vz = v[sel, 0].copy(), v[sel, 2].copy()
                    v[sel, 0] = vx * np.cos(p) + vz * np.sin(p)
                    v[sel, 2] = -vx * np.sin(p) + vz * np.cos(p)
                    v[sel, 0] += impact * np.exp(-0.5 * (u / 0.03) ** 2)
                    v[sel, 2] += swing * np.sin(2 * phase)
                else:  # shake
                    f, a, axis, ph0 = par
                    taper = np.minimum(1.0, np.minimum(u, d - u) / 0.5)
                    v[sel, int(axis)] += a * taper * np.sin(2 * np.pi * f * u + ph0)
        out = (v @ self._mount.T) * self._acc_scale + self._acc_bias
        rg = np.random.default_rng([self.seed, 2, k])
        out += self._acc_noise * rg.standard_normal(out.shape)
        self._acc_cache = (k, out)
        return out

    def render_acc(self, j0: int, j1: int) -> np.ndarray:
        """Accelerometer samples [j0, j1) as (m, 3) float64 g (empty without accelerometer)."""
        j0 = max(0, int(j0))
        j1 = min(self.n_acc, int(j1))
        if j1 <= j0 or self.layout.acc_fs is None:
            return np.zeros((0, 3))
        m = self._acc_seg_n
        parts = []
        for k in range(j0 // m, (j1 - 1) // m + 1):
            seg = self._render_acc_segment(k)
            a = max(j0, k * m) - k * m
            b = min(j1, (k + 1) * m) - k * m
            parts.append(seg[a:b])
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)

    # ------------------------------------------------------------------ Source
    def _acc_index(self, i: int) -> int:
        if self.layout.acc_fs is None:
            return 0
        if i >= self.n_emg:
            return self.n_acc
        j = int(math.ceil(i / self.layout.emg_fs * self.layout.acc_fs - 1e-9))
        return min(self.n_acc, j)

    def chunks(self, chunk_s: float | None = None) -> Iterator[Chunk | Gap]:
        """Yield the night as :class:`Chunk` of ``chunk_s`` seconds (default ``self.chunk_s``).

        Accelerometer samples go with the EMG chunk that covers their time, as in
        :class:`detector.stream.ArraySource`.
        """
        cs = self.chunk_s if chunk_s is None else float(chunk_s)
        step = max(1, int(round(cs * self.layout.emg_fs)))
        for i0 in range(0, self.n_emg, step):
            i1 = min(self.n_emg, i0 + step)
            j0, j1 = self._acc_index(i0), self._acc_index(i1)
            yield Chunk(i0, self.render(i0, i1), j0, self.render_acc(j0, j1))

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole night: EMG (n, ch) µV and acc (m, 3) g.  Short nights only (memory!)."""
        return self.render(0, self.n_emg), self.render_acc(0, self.n_acc)

    def __repr__(self) -> str:
        kinds: dict[str, int] = {}
        for e in self.truth:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        return (
            f"SyntheticNight(seed={self.seed}, duration_s={self.duration_s}, "
            f"emg_fs={self.layout.emg_fs}, sites={self.layout.emg_sites}, "
            f"acc_fs={self.layout.acc_fs}, truth={kinds})"
        )


def make_night(
    seed: int,
    duration_s: float,
    *,
    emg_fs: float = 1000.0,
    acc_fs: float | None = 50.0,
    sites: tuple[str, ...] = ("calf", "tibialis"),
    mains_hz: float = 50.0,
    scenario: Scenario | None = None,
    start_utc: datetime | None = None,
    labels: tuple[str, ...] | None = None,
    chunk_s: float = 1.0,
    **scenario_kw: Any,
) -> SyntheticNight:
    """Build a synthetic night (a :class:`detector.stream.Source` with ``.truth``).

    ``emg_fs`` 200..4000 Hz; ``acc_fs`` in Hz or ``None`` (no accelerometer); ``sites`` from
    ``calf``, ``gastrocnemius``, ``soleus``, ``tibialis`` (e.g. ``("calf",)`` or
    ``("gastrocnemius", "soleus", "tibialis")``); ``mains_hz`` 50 or 60 (0 = no mains).
    Scenario knobs come as a :class:`Scenario` and/or keyword arguments overriding it
    (``make_night(1, 3600, cramps=2, hard=True)``).
    """
    sites = tuple(sites)
    if not sites:
        raise ValueError("sites: need at least one EMG site, e.g. ('calf', 'tibialis')")
    for s in sites:
        if s not in EMG_SITES:
            raise ValueError(f"sites: unknown site {s!r}; use one of {EMG_SITES}")
    if not any(s in CALF_SITES for s in sites):
        raise ValueError(
            "sites: the sensor needs at least one calf channel (calf/gastrocnemius/soleus)"
        )
    if not 200.0 <= float(emg_fs) <= 4000.0:
        raise ValueError(f"emg_fs={emg_fs!r} Hz: use 200..4000 Hz")
    if acc_fs is not None and not 1.0 <= float(acc_fs) <= 1000.0:
        raise ValueError(f"acc_fs={acc_fs!r} Hz: use 1..1000 Hz or None")
    if not duration_s > 0:
        raise ValueError(f"duration_s={duration_s!r}: must be > 0 s")
    sc = scenario or Scenario()
    if scenario_kw:
        sc = replace(sc, **scenario_kw)
    if labels is None:
        names = {
            "calf": "EMG calf",
            "gastrocnemius": "EMG gastroc",
            "soleus": "EMG soleus",
            "tibialis": "EMG tib ant",
        }
        labels = tuple(names[s] for s in sites)
    return SyntheticNight(
        seed,
        duration_s,
        emg_fs=emg_fs,
        acc_fs=acc_fs,
        sites=sites,
        labels=tuple(labels),
        mains_hz=mains_hz,
        scenario=sc,
        start_utc=start_utc or _DEFAULT_START,
        chunk_s=chunk_s,
    )


def _main(argv: list[str]) -> None:
    """``python -m emulator.night [--hours H] [--fs HZ] [--cramps N] [--truth]``:
    build a night, stream it in 1-s chunks and print the rendering speed and truth counts."""
    import argparse
    import resource
    import time

    ap = argparse.ArgumentParser(prog="python -m emulator.night")
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--fs", type=float, default=1000.0)
    ap.add_argument("--acc-fs", type=float, default=50.0)
    ap.add_argument("--sites", default="calf,tibialis")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cramps", type=int, default=2)
    ap.add_argument("--hard", action="store_true", help="a hard night (see Scenario.hard)")
    ap.add_argument("--truth", action="store_true", help="list the truth events")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    c0 = time.process_time()
    n = make_night(
        a.seed,
        a.hours * 3600.0,
        emg_fs=a.fs,
        acc_fs=a.acc_fs or None,
        sites=tuple(a.sites.split(",")),
        cramps=a.cramps,
        hard=a.hard,
    )
    plan_s = time.perf_counter() - t0
    samples = 0
    for ch in n.chunks(1.0):
        if isinstance(ch, Chunk):
            samples += ch.emg.size
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(n)
    print(
        f"{a.hours:g} h, {n.layout.n_emg} ch at {a.fs:g} Hz + acc {a.acc_fs:g} Hz: "
        f"{samples / 1e6:.1f} M EMG samples; plan {plan_s:.2f} s, total wall {wall:.1f} s, "
        f"CPU {cpu:.1f} s ({a.hours * 3600 / wall:,.0f}x real time), peak RSS {rss:.0f} MB"
    )
    if a.truth:
        for e in n.truth:
            chans = ",".join(e.channels)
            print(f"  {e.start_s:9.2f} {e.end_s:9.2f} {e.kind:9s} {e.subtype:13s} {chans}")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
