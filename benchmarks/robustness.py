"""Evidence that is not circular: randomised draws, metamorphic cases and real textures.

Four bodies of evidence, each usable from the benchmark and (in small doses) from tests:

* :func:`random_specs` -- a **randomised corpus** over :mod:`emulator.night`: every knob of
  the night model drawn from wide ranges per night (rate 256 Hz-2 kHz with the sleep-lab
  band below 600 Hz, sites, accelerometer or none, rest level and drift, mains 50/60 Hz
  at 1-50 µV, spectrum, cramp count and durations 8 s-10 min, relief, PLM series, walks,
  stretches, electrode-off spells, artefact rate, ...).  ``tune`` and ``report`` are
  disjoint seed ranges; nothing may be tuned on ``report``.
* :mod:`benchmarks.wildnight` -- an **independent signal model** for report draws
  (:func:`benchmarks.wildnight.wild_corpus`).
* :func:`invariance_cases` -- **metamorphic cases**: each keeps every cramp of its night
  (same count, onset within 0.5 s, end within 3 s of the truth) and adds none: gain
  x0.1-x10, mains 50/60 Hz at 1-50 µV, resampling to 256/512/2000 Hz with the band a
  sleep lab or a wearable would use, no accelerometer, no tibialis, baseline wander, ECG
  bleed, electrode pops, sub-second shifts of the start, and walking, a stretch or a
  turn-over straight after a cramp.
* :func:`real_texture_nights` -- **real EMG** from ``shared/data/real`` spliced into
  quiet baselines: the sustained real contraction (openhdemg, vastus lateralis, 4
  electrodes) must come out as a cramp-like burst within 1 s of the force trace's start
  and end; short real activations (BioSPPy ``emg_1``) and real tibialis needle EMG
  (PhysioNet emgdb, gentle dorsiflexion) must not be cramps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from benchmarks.corpus import MV_MS2, UV_G, NightSpec
from benchmarks.wildnight import WildNight
from detector.stream import ArraySource, Chunk, Gap, StreamLayout
from emulator.night import Scenario


def _find_real() -> Path:
    repo = Path(__file__).resolve().parents[1]
    for up in (repo.parent, repo.parent.parent):
        if (up / "shared" / "data" / "real").is_dir():
            return up / "shared" / "data" / "real"
    return repo.parent / "shared" / "data" / "real"


REAL = _find_real()
"""The shared real recordings: ``shared/data/real`` beside the repository (or beside the
folder of worktrees it is checked out in)."""


# ----------------------------------------------------------------------- randomised


def _lu(r: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(r.uniform(math.log(lo), math.log(hi))))


def random_spec(seed: int, name: str, cramp_free: bool = False) -> NightSpec:
    """One night of :mod:`emulator.night` with every knob drawn from a wide range."""
    r = np.random.default_rng(seed)
    fs = float(r.choice([256.0, 400.0, 500.0, 512.0, 1000.0, 1024.0, 2000.0]))
    sites = [("calf",), ("calf", "tibialis"), ("gastrocnemius", "soleus", "tibialis")][
        int(r.choice(3, p=[0.25, 0.5, 0.25]))
    ]
    acc_fs = None if r.random() < 0.35 else float(r.choice([25.0, 50.0, 100.0]))
    n_cr = 0 if cramp_free else int(r.integers(1, 4))
    durs = tuple(round(_lu(r, 8.0, 600.0), 1) for _ in range(max(1, n_cr)))
    relief = tuple(str(r.choice(["stretch", "walk", "massage"])) for _ in range(max(1, n_cr)))
    lo = _lu(r, 0.5, 4.0)
    mains = _lu(r, 1.0, 50.0)
    sc = Scenario(
        cramps=n_cr,
        plm_series=int(r.integers(0, 4)),
        walks=int(r.integers(0, 3)) + (1 if cramp_free else 0),
        stretches=int(r.integers(0, 4)),
        electrode_off=int(r.integers(0, 2 if not cramp_free else 3)),
        artifact_rate=float(r.uniform(0.0, 3.0)),
        turns_per_hour=float(r.uniform(1.0, 10.0)),
        twitches_per_hour=float(r.uniform(2.0, 40.0)),
        leg_movements_per_hour=float(r.uniform(0.0, 5.0)),
        ecg=str(r.choice(["none", "low", "spells"])),
        front_end="sleeplab" if fs < 600 else str(r.choice(["wearable", "wearable", "sleeplab"])),
        recurrence_prob=float(r.uniform(0.0, 0.3)),
        cramp_durations=durs,
        cramp_relief=relief,
        hard=bool(r.random() < 0.4),
        rest_uv=(lo, lo * float(r.uniform(1.2, 3.0))),
        spectrum=str(r.choice(["shwedyk", "bandpass"])),
        acc_axes=str(r.choice(["canonical", "random"])),
        rest_drift=float(r.uniform(0.3, 3.0)),
        mains_uv=(mains, mains * 1.2),
        sleep_onset_s=float(r.uniform(60.0, 900.0)),
    )
    dur = 3600.0 * (2.0 if cramp_free else float(r.uniform(0.75, 1.5)))
    return NightSpec(
        name=name,
        seed=seed,
        duration_s=round(dur),
        emg_fs=fs,
        acc_fs=acc_fs,
        sites=sites,
        mains_hz=float(r.choice([50.0, 60.0])),
        scenario=sc,
        edf_units=UV_G if r.random() < 0.5 else MV_MS2,
    )


def random_specs(split: str, n: int = 20, n_free: int = 4) -> list[NightSpec]:
    """A randomised draw: ``n`` nights with cramps and ``n_free`` cramp-free 2-h nights.

    ``tune`` (seeds 30000+) is what the detector may be tuned on; ``report`` (40000+) and
    ``report2`` (45000+) are never looked at while tuning."""
    base = {"tune": 30_000, "report": 40_000, "report2": 45_000}[split]
    out = [random_spec(base + i, f"rand-{split}/{base + i}") for i in range(n)]
    out += [
        random_spec(base + 900 + i, f"rand-{split}/{base + 900 + i}-free", cramp_free=True)
        for i in range(n_free)
    ]
    return out


# ----------------------------------------------------------------------- invariance


@dataclass
class Night:
    """A night as arrays (µV, g) with its true cramp spans; what the cases transform."""

    name: str
    layout: StreamLayout
    emg: np.ndarray
    acc: np.ndarray | None
    cramps: list[tuple[float, float]]
    mains_hz: float = 50.0
    notes: dict[str, Any] = field(default_factory=dict)

    def source(self, chunk_s: float = 60.0) -> ArraySource:
        return ArraySource(self.layout, self.emg, self.acc, chunk_s=chunk_s)

    @property
    def duration_s(self) -> float:
        return self.emg.shape[0] / self.layout.emg_fs


def from_wild(w: WildNight, name: str) -> Night:
    return Night(
        name,
        w.layout,
        np.asarray(w.emg, dtype=np.float64),
        None if w.acc is None else np.asarray(w.acc, dtype=np.float64),
        [(e.start_s, e.end_s) for e in w.truth_of("cramp")],
        w.mains_hz,
        {"truth": w.truth},
    )


#: Base nights of the invariance suite: (name, seed, duration s, overrides).  Scripted
#: cramps (start s, relief, duration s, delay s, walking while contracted) on quiet nights.
BASES: tuple[tuple[str, int, float, dict[str, Any]], ...] = (
    (
        "two-cramps",
        101,
        600.0,
        dict(
            emg_fs=1000.0,
            sites=("calf", "tibialis"),
            acc_fs=50.0,
            mains_hz=50.0,
            mains_uv=3.0,
            script=[(90.0, "stretch", 45.0, 8.0, False), (330.0, "massage", 20.0, 3.0, False)],
        ),
    ),
    (
        "long-cramp-3ch",
        102,
        600.0,
        dict(
            emg_fs=1000.0,
            sites=("gastrocnemius", "soleus", "tibialis"),
            acc_fs=50.0,
            mains_hz=60.0,
            mains_uv=2.0,
            script=[(120.0, "none", 150.0, 5.0, False)],
        ),
    ),
    (
        "short-cramp-calf-only",
        103,
        480.0,
        dict(
            emg_fs=1000.0,
            sites=("calf",),
            acc_fs=25.0,
            mains_hz=50.0,
            mains_uv=5.0,
            script=[(100.0, "massage", 16.0, 10.0, False)],
        ),
    ),
)

#: Cramps followed at once by what ends them: (name, seed, relief, delay s, while contracted).
AFTER: tuple[tuple[str, int, str, float, bool], ...] = (
    ("walk-at-once", 111, "walk", 0.0, False),
    ("walk-while-contracted", 112, "walk", 0.0, True),
    ("stretch-at-once", 113, "stretch", 0.0, False),
    ("turn-at-once", 114, "turn", 0.0, False),
)


def base_night(i: int) -> Night:
    name, seed, dur, kw = BASES[i]
    return from_wild(WildNight(seed, dur, **kw), name)


def after_night(i: int, with_acc: bool = True) -> Night:
    name, seed, relief, delay, wc = AFTER[i]
    kw: dict[str, Any] = dict(
        emg_fs=1000.0,
        sites=("calf", "tibialis"),
        acc_fs=50.0 if with_acc else None,
        mains_hz=50.0,
        mains_uv=3.0,
        script=[(120.0, relief, 40.0, delay, wc)],
    )
    return from_wild(WildNight(seed, 480.0, **kw), name + ("" if with_acc else "+no-acc"))


def _band(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    sos = signal.butter(2, [lo, hi], btype="band", fs=fs, output="sos")
    return signal.sosfilt(sos, x, axis=0)


def _resample(n: Night, fs_new: int, band: tuple[float, float] | None) -> Night:
    fs = int(round(n.layout.emg_fs))
    g = math.gcd(fs, fs_new)
    y = signal.resample_poly(n.emg, fs_new // g, fs // g, axis=0)
    if band is not None:
        y = _band(y, float(fs_new), *band)
    lay = replace(n.layout, emg_fs=float(fs_new))
    return replace(n, name=f"{n.name}@{fs_new}Hz", layout=lay, emg=y)


def _add(n: Night, name: str, fn: Callable[[np.ndarray, float], np.ndarray]) -> Night:
    t = np.arange(n.emg.shape[0]) / n.layout.emg_fs
    return replace(n, name=f"{n.name}+{name}", emg=n.emg + fn(t, n.layout.emg_fs)[:, None])


def _quiet_times(n: Night, k: int, r: np.random.Generator) -> list[float]:
    out: list[float] = []
    while len(out) < k:
        t = float(r.uniform(10.0, n.duration_s - 10.0))
        if all(not (a - 20 < t < b + 20) for a, b in n.cramps):
            out.append(t)
    return out


def _pops(n: Night) -> Night:
    r = np.random.default_rng(7)
    fs = n.layout.emg_fs
    y = n.emg.copy()
    for t in _quiet_times(n, 4, r):
        i = int(t * fs)
        k = np.arange(int(2.0 * fs))
        c = int(r.integers(0, y.shape[1]))
        seg = 800.0 * np.exp(-k / (0.2 * fs))
        y[i : i + k.size, c] += seg[: y.shape[0] - i]
    return replace(n, name=f"{n.name}+pops", emg=y)


def _ecg(t: np.ndarray, fs: float) -> np.ndarray:
    beat = 60.0 / 72.0
    ph = np.mod(t, beat) - 0.3
    return 40.0 * np.exp(-((ph / 0.01) ** 2)) * (1 - 2 * (ph / 0.014) ** 2)


def _shift(n: Night, s: float) -> Night:
    fs = n.layout.emg_fs
    k = int(round(s * fs))
    acc = n.acc
    if acc is not None and n.layout.acc_fs:
        acc = acc[int(round(s * n.layout.acc_fs)) :]
    return replace(
        n,
        name=f"{n.name}+shift{s}s",
        emg=n.emg[k:],
        acc=acc,
        cramps=[(a - k / fs, b - k / fs) for a, b in n.cramps],
    )


def _drop_acc(n: Night) -> Night:
    return replace(n, name=f"{n.name}-acc", layout=replace(n.layout, acc_fs=None), acc=None)


def _drop_tib(n: Night) -> Night:
    keep = [i for i, s in enumerate(n.layout.emg_sites) if s != "tibialis"]
    lay = replace(
        n.layout,
        emg_labels=tuple(n.layout.emg_labels[i] for i in keep),
        emg_sites=tuple(n.layout.emg_sites[i] for i in keep),
    )
    return replace(n, name=f"{n.name}-tib", layout=lay, emg=n.emg[:, keep])


def _gain(n: Night, g: float) -> Night:
    return replace(n, name=f"{n.name}x{g}", emg=n.emg * g)


def _wander(t: np.ndarray, fs: float) -> np.ndarray:
    return 60.0 * np.sin(2 * np.pi * 0.35 * t) + 25.0 * np.sin(2 * np.pi * 1.3 * t + 1.0)


def _mains(f: float, uv: float) -> Callable[[Night], Night]:
    return lambda n: _add(
        n, f"mains{f:.0f}Hz{uv:.0f}uV", lambda t, fs: uv * np.sin(2 * np.pi * f * t + 0.4)
    )


VARIANTS: dict[str, Callable[[Night], Night | None]] = {
    "as-is": lambda n: n,
    "gain x0.1": lambda n: _gain(n, 0.1),
    "gain x0.3": lambda n: _gain(n, 0.3),
    "gain x3": lambda n: _gain(n, 3.0),
    "gain x10": lambda n: _gain(n, 10.0),
    "mains 50 Hz 50 uV": _mains(50.0, 50.0),
    "mains 60 Hz 50 uV": _mains(60.0, 50.0),
    "mains 60 Hz 1 uV": _mains(60.0, 1.0),
    "256 Hz 10-100 Hz": lambda n: _resample(n, 256, (10.0, 100.0)),
    "512 Hz 10-100 Hz": lambda n: _resample(n, 512, (10.0, 100.0)),
    "2000 Hz": lambda n: _resample(n, 2000, None),
    "no accelerometer": lambda n: _drop_acc(n) if n.acc is not None else None,
    "no tibialis": lambda n: _drop_tib(n) if "tibialis" in n.layout.emg_sites else None,
    "baseline wander": lambda n: _add(n, "wander", _wander),
    "wander, no accelerometer": lambda n: (
        _add(_drop_acc(n), "wander", _wander) if n.acc is not None else None
    ),
    "ECG bleed": lambda n: _add(n, "ecg", _ecg),
    "electrode pops": _pops,
    "shift 0.26 s": lambda n: _shift(n, 0.26),
    "shift 0.74 s": lambda n: _shift(n, 0.74),
}
"""The metamorphic changes: name -> night -> changed night (None: does not apply)."""


def variants(n: Night) -> list[Night]:
    """Every metamorphic variant of one night (the night itself first)."""
    out = []
    for key, fn in VARIANTS.items():
        v = fn(n)
        if v is not None:
            out.append(replace(v, name=f"{n.name} / {key}"))
    return out


QUICK_VARIANTS = ("gain x0.1", "gain x10", "256 Hz 10-100 Hz", "no accelerometer", "shift 0.26 s")


def invariance_cases(full: bool = True) -> Iterator[Night]:
    """All cases of the suite (``full=False``: a handful for the fast tests)."""
    if not full:
        n = base_night(0)
        for key in QUICK_VARIANTS:
            v = VARIANTS[key](n)
            if v is not None:
                yield replace(v, name=f"{n.name} / {key}")
        yield after_night(1)
        return
    for i in range(len(BASES)):
        yield from variants(base_night(i))
    for i in range(len(AFTER)):
        yield after_night(i)
        yield after_night(i, with_acc=False)


@dataclass
class CaseResult:
    name: str
    ok: bool
    why: str


def compare_cramps(
    found: list[tuple[float, float]], truth: list[tuple[float, float]], name: str = ""
) -> CaseResult:
    """Same count, onset within 0.5 s, end within 3 s, pairwise in time order."""
    found = sorted(found)
    truth = sorted(truth)
    if len(found) != len(truth):
        return CaseResult(
            name,
            False,
            f"{len(found)} cramps for {len(truth)}: found {_fmt(found)}, true {_fmt(truth)}",
        )
    for (a, b), (ta, tb) in zip(found, truth, strict=True):
        if abs(a - ta) > 0.5 or abs(b - tb) > 3.0:
            return CaseResult(
                name, False, f"cramp {a:.1f}-{b:.1f} s for {ta:.1f}-{tb:.1f} s (onset/end off)"
            )
    return CaseResult(name, True, "")


def _fmt(v: list[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"{a:.1f}-{b:.1f}" for a, b in v) + "]"


# ----------------------------------------------------------------------- real textures


@dataclass
class RealNight:
    """A quiet baseline with a real recording spliced in, and what must be found."""

    night: Night
    want: str
    """``cramp``: one cramp within 1 s of ``span``; ``none``: no cramp anywhere."""
    span: tuple[float, float] | None = None


def _load_openhdemg() -> tuple[np.ndarray, np.ndarray, float]:
    d = REAL / "openhdemg_vastus_lateralis"
    return np.loadtxt(d / "emg_uv.txt"), np.loadtxt(d / "force_pct_mvc.txt"), 2048.0


def force_span(force: np.ndarray, fs: float) -> tuple[float, float]:
    """Start and end of the held contraction: where the force crosses 10 % of its held
    level (the median of the force above half its maximum)."""
    held = float(np.median(force[force > 0.5 * force.max()]))
    on = np.flatnonzero(force > 0.1 * held)
    return on[0] / fs, (on[-1] + 1) / fs


def _baseline(
    seed: int, dur: float, fs: float, sites: tuple[str, ...], acc_fs: float | None
) -> Night:
    w = WildNight(
        seed, dur, emg_fs=fs, sites=sites, acc_fs=acc_fs, mains_hz=50.0, mains_uv=3.0, script=[]
    )
    return from_wild(w, f"quiet-{seed}")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _splice(
    base: Night,
    x: np.ndarray,
    x_fs: float,
    at_s: float,
    ch: int,
    rest_s: tuple[float, float] | None,
    band: tuple[float, float],
) -> tuple[Night, float]:
    """Band-limit ``x`` (µV at ``x_fs``) as the baseline's front end would, resample it to
    the baseline's rate, scale it so that its own resting stretch ``rest_s`` (s, or the
    quietest 20 % of 0.5-s windows) matches the baseline's resting level, and replace
    the baseline there by it (0.2-s crossfades).  Returns the night and the scale."""
    fs = base.layout.emg_fs
    y = signal.sosfiltfilt(
        signal.butter(4, band, btype="band", fs=x_fs, output="sos"), x - x.mean()
    )
    g = math.gcd(int(round(fs)), int(round(x_fs)))
    y = signal.resample_poly(y, int(round(fs)) // g, int(round(x_fs)) // g)
    if rest_s is not None:
        real_rest = _rms(y[int(rest_s[0] * fs) : int(rest_s[1] * fs)])
    else:
        w = int(0.5 * fs)
        r = np.sqrt(np.mean(y[: y.size // w * w].reshape(-1, w) ** 2, axis=1))
        real_rest = float(np.percentile(r, 20))
    i0 = int(at_s * fs)
    base_rest = _rms(
        base.emg[i0 - int(5 * fs) : i0, ch] - np.mean(base.emg[i0 - int(5 * fs) : i0, ch])
    )
    k = base_rest / max(real_rest, 1e-9)
    emg = base.emg.copy()
    seg = emg[i0 : i0 + y.size, ch]
    ramp = np.clip(np.minimum(np.arange(y.size), y.size - 1 - np.arange(y.size)) / (0.2 * fs), 0, 1)
    emg[i0 : i0 + y.size, ch] = ramp * (k * y) + (1 - ramp) * seg
    return replace(base, emg=emg), k


def real_texture_nights(full: bool = True) -> Iterator[RealNight]:
    """The real-texture nights (``full=False``: one of each kind, 1 kHz only)."""
    emg, force, rfs = _load_openhdemg()
    fa, fb = force_span(force, rfs)
    rates = ((1000.0, (20.0, 450.0)), (256.0, (10.0, 100.0)), (2000.0, (20.0, 450.0)))
    for k in range(emg.shape[1] if full else 1):
        for fs, band in rates if full else rates[:1]:
            base = _baseline(200 + k, 180.0, fs, ("calf", "tibialis"), 50.0)
            at = 60.0
            n, _ = _splice(base, emg[:, k], rfs, at, 0, (0.0, 0.6), band)
            n = replace(n, name=f"openhdemg-e{k}@{fs:.0f}Hz", cramps=[(at + fa, at + fb)])
            yield RealNight(n, "cramp", (at + fa, at + fb))
    b = np.loadtxt(REAL / "biosppy_examples" / "emg_1.txt")
    for fs, band in rates if full else rates[:1]:
        base = _baseline(210, 180.0, fs, ("calf", "tibialis"), 50.0)
        n, _ = _splice(base, b * 0.8, 1000.0, 60.0, 0, None, band)  # 12-bit counts ~0.8 µV
        yield RealNight(replace(n, name=f"biosppy-emg_1@{fs:.0f}Hz", cramps=[]), "none")
    for rec in ("emg_healthy", "emg_myopathy", "emg_neuropathy") if full else ("emg_healthy",):
        x = np.fromfile(REAL / "physionet_emgdb_tibialis" / f"{rec}.dat", dtype="<i2") / 1e4 * 1e3
        base = _baseline(220, 180.0, 1000.0, ("calf", "tibialis"), 50.0)
        n, _ = _splice(base, x, 4000.0, 60.0, 1, None, (20.0, 450.0))
        yield RealNight(replace(n, name=f"physionet-{rec}-tibialis", cramps=[]), "none")


def check_real(rn: RealNight, found: list[tuple[float, float]]) -> CaseResult:
    n = rn.night.name
    if rn.want == "none":
        ok = not found
        return CaseResult(n, ok, "" if ok else f"cramps where none: {_fmt(found)}")
    assert rn.span is not None
    a, b = rn.span
    hit = [f for f in found if f[0] < b and a < f[1]]
    if len(found) != 1 or not hit:
        return CaseResult(
            n, False, f"{len(found)} cramps {_fmt(found)} for the real one {a:.1f}-{b:.1f} s"
        )
    fa, fb = hit[0]
    ok = abs(fa - a) <= 1.0 and abs(fb - b) <= 1.0
    return CaseResult(
        n, ok, "" if ok else f"cramp {fa:.1f}-{fb:.1f} s for the force's {a:.1f}-{b:.1f} s"
    )


# ----------------------------------------------------------------------- runners


def detect_cramps(src: ArraySource | Any) -> list[tuple[float, float]]:
    from detector.pipeline import run

    return [(e.start_s, e.end_s) for e in run(src).events if e.kind == "cramp"]


def floor_cramps(src: ArraySource | Any, mains_hz: float) -> list[tuple[float, float]]:
    from benchmarks.bench_detector import FloorPeer

    fl = FloorPeer(src.layout, mains_hz)
    for item in src.chunks():
        if isinstance(item, Chunk | Gap):
            fl.push(item)
    return [(s.start_s, s.end_s) for s in fl.finish()]
