"""Detector benchmark: accuracy on the labelled corpus against peers, then speed and memory.

Run::

    .venv/bin/python -m benchmarks.bench_detector            # tune + heldout + speed
    .venv/bin/python -m benchmarks.bench_detector --quick    # 5 short nights per split
    .venv/bin/python -m benchmarks.bench_detector --split tune --no-peers --verbose
    .venv/bin/python -m benchmarks.bench_detector --speed-only
    .venv/bin/python -m benchmarks.bench_detector --robust            # side-by-side evidence
    .venv/bin/python -m benchmarks.bench_detector --robust --quick    # a smaller draw

What it prints
--------------
For each split (``tune``: what the detector may be tuned on; ``heldout``: never looked
at while tuning) a table with, per method: cramp P/R/F1, PLM P/R/F1, median onset and
end error of matched cramps (s), false cramps per 8 h on cramp-free nights, and the wall
time spent in the method.  Matching: :mod:`benchmarks.scoring` (same kind, IoU >= 0.2,
overlap >= min(1 s, half the shorter event)).

Methods
-------
* ``nightcramp``: :class:`detector.detect.Detector`, fed the night's chunks (60 s) as a
  replay would.  Its time is the time inside ``push``/``finish`` only (rendering the
  synthetic night is not counted).
* ``scipy-floor``: the plain detector at the end of DOMAIN.md: 4th-order 20-450 Hz
  band-pass (capped at 0.45 fs), a notch at the (given, true) mains frequency, 250 ms RMS,
  threshold 6x the night's quiet level (10th percentile of the RMS over the whole night),
  bursts of >= 8 s on any channel -> cramp.  Streamed (``sosfilt`` with ``zi``), so it
  runs on every night.
* ``neurokit2``: ``nk.emg_process`` on the calf channel, activations (``EMG_Activity``)
  of >= 8 s -> cramp.  Whole-signal, ~1-2 min of CPU per hour of 1 kHz EMG, so it runs
  only on short nights (<= 2 h, shortest first, ``--peer-hours`` in total, default 3 h;
  the table says how many hours).
* ``biosppy``: ``biosppy.signals.emg.emg`` on the calf channel (its 100 Hz high-pass and
  ``find_onsets``, whose crossings alternate onset/offset), activations >= 8 s -> cramp.
  Same nights as neurokit2.
The peers report no PLMs (their PLM columns are empty).

Units: the detector consumes the source contract (EMG µV, acc g); a night's
``edf_units`` only matter when writing it to EDF, which this benchmark does not do.

Robustness (``--robust``; also part of the default run): side by side for nightcramp and
the scipy floor, the fixed-preset corpus (held-out split), a randomised draw over
:mod:`emulator.night` (``rand-report``: every knob drawn per night, seeds never used for
tuning), the independent signal model :mod:`benchmarks.wildnight` (``wild-report``), the
invariance suite (cases passed of all) and the real-texture nights (passed of all), see
:mod:`benchmarks.robustness`; then the missed cramps and false cramps of the report
draws sorted into the classes of miss (a cramp flowing into walking, short moderate
cramps, no accelerometer, electrode-off) with what the detector made of each.

Speed/memory: an 8-h night, 2 EMG channels at 1 kHz + acc at 50 Hz, pushed in 60-s
chunks of pre-rendered noise-like data (re-used buffers, so the source costs nothing):
wall time in the detector and peak memory (tracemalloc of the detector's allocations and
the process's max RSS).
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from benchmarks.corpus import NightSpec, corpus
from benchmarks.scoring import NightScore, score_night, summarize
from detector.detect import Detector
from detector.events import Event
from detector.stream import Chunk, Gap, StreamLayout

PEER_MAX_S = 2 * 3600.0
CHUNK_S = 60.0


@dataclass
class Span:
    kind: str
    start_s: float
    end_s: float


def _runs(mask: np.ndarray, rate: float, min_s: float, t0: float = 0.0) -> list[Span]:
    if mask.size == 0:
        return []
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    a = np.flatnonzero(d == 1)
    b = np.flatnonzero(d == -1)
    return [
        Span("cramp", t0 + i / rate, t0 + j / rate)
        for i, j in zip(a, b, strict=True)
        if (j - i) / rate >= min_s
    ]


class FloorPeer:
    """The plain scipy floor of DOMAIN.md, streamed."""

    def __init__(self, layout: StreamLayout, mains_hz: float) -> None:
        fs = layout.emg_fs
        self.fs = fs
        sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
        if mains_hz:
            sos = np.vstack([sos, signal.tf2sos(*signal.iirnotch(mains_hz, 30.0, fs=fs))])
        self.sos = sos
        self.zi = np.zeros((sos.shape[0], layout.n_emg, 2))
        self.hop = max(1, int(round(0.05 * fs)))  # 50 ms frames, RMS over 5 frames = 250 ms
        self.buf = np.zeros((layout.n_emg, 0))
        self.frames: list[np.ndarray] = []

    def push(self, item: Chunk | Gap) -> None:
        if isinstance(item, Gap):
            return
        y, self.zi = signal.sosfilt(self.sos, item.emg.T, axis=-1, zi=self.zi)
        b = np.concatenate([self.buf, y * y], axis=1)
        n = b.shape[1] // self.hop
        self.frames.append(b[:, : n * self.hop].reshape(b.shape[0], n, self.hop).mean(axis=-1))
        self.buf = b[:, n * self.hop :]

    def finish(self) -> list[Span]:
        ms = np.concatenate(self.frames, axis=1)
        k = np.ones(5) / 5
        rms = np.sqrt(np.stack([np.convolve(m, k, mode="same") for m in ms]))
        quiet = np.percentile(rms, 10, axis=1)[:, None]
        active = (rms > 6 * quiet).any(axis=0)
        return _runs(active, self.fs / self.hop, 8.0)


def neurokit_peer(x: np.ndarray, fs: float) -> list[Span]:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig, _ = nk.emg_process(x, sampling_rate=int(round(fs)))
    return _runs(sig["EMG_Activity"].to_numpy() > 0, fs, 8.0)


def biosppy_peer(x: np.ndarray, fs: float) -> list[Span]:
    from biosppy.signals import emg as bemg

    on = np.asarray(bemg.emg(signal=x, sampling_rate=fs, show=False)["onsets"])
    out = []
    for a, b in zip(on[0::2], on[1::2], strict=False):
        if (b - a) / fs >= 8.0:
            out.append(Span("cramp", a / fs, b / fs))
    return out


@dataclass
class MethodRun:
    scores: list[NightScore] = field(default_factory=list)
    wall_s: float = 0.0
    hours: float = 0.0
    names: list[str] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)

    def add(self, name: str, score: NightScore, wall: float, hours: float) -> None:
        self.names.append(name)
        self.scores.append(score)
        self.walls.append(wall)
        self.wall_s += wall
        self.hours += hours

    def subset(self, names: set[str]) -> MethodRun:
        out = MethodRun()
        for n, sc, w in zip(self.names, self.scores, self.walls, strict=True):
            if n in names:
                out.add(n, sc, w, sc.duration_s / 3600)
        return out


def peer_nights(specs: list[NightSpec], hours: float) -> set[str]:
    """The nights the slow whole-signal peers run on: nights <= 2 h, shortest and latest
    first, up to ``hours`` in total."""
    out: set[str] = set()
    total = 0.0
    short = [s for s in specs if s.duration_s <= PEER_MAX_S]
    for s in sorted(short, key=lambda s: (s.duration_s, -specs.index(s))):
        if total + s.hours <= hours + 1e-9:
            out.add(s.name)
            total += s.hours
    return out


def run_split(
    specs: list[NightSpec], peers: bool, verbose: bool, peer_hours: float = 3.0
) -> dict[str, MethodRun]:
    runs: dict[str, MethodRun] = {
        m: MethodRun() for m in ("nightcramp", "scipy-floor", "neurokit2", "biosppy")
    }
    chosen = peer_nights(specs, peer_hours) if peers else set()
    for spec in specs:
        night = spec.make()
        det = Detector(night.layout)
        floor = FloorPeer(night.layout, spec.mains_hz)
        want_peer = spec.name in chosen
        calf = [i for i, s in enumerate(night.layout.emg_sites) if s != "tibialis"][0]
        calf_parts: list[np.ndarray] = []
        t_det = t_floor = 0.0
        for item in night.chunks(CHUNK_S):
            t = time.perf_counter()
            det.push(item)
            t_det += time.perf_counter() - t
            t = time.perf_counter()
            floor.push(item)
            t_floor += time.perf_counter() - t
            if want_peer and isinstance(item, Chunk):
                calf_parts.append(item.emg[:, calf].copy())
        t = time.perf_counter()
        res = det.finish()
        t_det += time.perf_counter() - t
        t = time.perf_counter()
        fl = floor.finish()
        t_floor += time.perf_counter() - t
        truth = night.truth
        dur = spec.duration_s
        ns = score_night(res.events, truth, dur)
        runs["nightcramp"].add(spec.name, ns, t_det, dur / 3600)
        runs["scipy-floor"].add(spec.name, score_night(fl, truth, dur), t_floor, dur / 3600)
        line = (
            f"  {spec.name:40s} {spec.hours:4.1f} h {spec.emg_fs:5.0f} Hz  "
            f"cramps {ns.per_kind['cramp'].tp}/{ns.true_cramps} (+{ns.per_kind['cramp'].fp} false)  "
            f"plm tp/fp/fn {ns.per_kind['plm'].tp}/{ns.per_kind['plm'].fp}/{ns.per_kind['plm'].fn}  "
            f"detector {t_det:.2f} s"
        )
        if want_peer:
            x = np.concatenate(calf_parts)
            calf_parts = []
            fs = night.layout.emg_fs
            for name, fn in (("neurokit2", neurokit_peer), ("biosppy", biosppy_peer)):
                t = time.perf_counter()
                try:
                    spans = fn(x, fs)
                except Exception as exc:  # a peer failing is a result, not a crash
                    print(f"    {name} failed on {spec.name}: {exc}", file=sys.stderr)
                    spans = []
                runs[name].add(
                    spec.name, score_night(spans, truth, dur), time.perf_counter() - t, dur / 3600
                )
        print(line, flush=True)
        if verbose:
            for e in ns.missed:
                print(f"      MISSED {e.kind:8s} {e.start_s:9.2f} {e.end_s:9.2f}")
            for e in ns.false:
                ev = e if isinstance(e, Event) else None
                print(
                    f"      FALSE  {e.kind:8s} {e.start_s:9.2f} {e.end_s:9.2f} "
                    f"{ev.reason if ev else ''}"
                )
    return runs


def _fmt(v: float, w: int = 5, p: int = 2) -> str:
    return f"{v:{w}.{p}f}" if not (isinstance(v, float) and math.isnan(v)) else " " * (w - 1) + "-"


def print_table(title: str, runs: dict[str, MethodRun]) -> None:
    print(f"\n{title}")
    print(
        f"{'method':12s} {'hours':>6s} | {'cramp P':>7s} {'R':>5s} {'F1':>5s} | "
        f"{'PLM P':>5s} {'R':>5s} {'F1':>5s} | {'onset':>5s} {'end':>5s} | "
        f"{'FC/8h':>6s} | {'wall s':>7s}"
    )
    for name, r in runs.items():
        if not r.scores:
            continue
        s = summarize(r.scores)
        c = s.per_kind["cramp"]
        p = s.per_kind["plm"]
        plm = (p.precision, p.recall, p.f1) if name == "nightcramp" else (math.nan,) * 3
        print(
            f"{name:12s} {r.hours:6.1f} | {_fmt(c.precision, 7)} {_fmt(c.recall)} {_fmt(c.f1)} | "
            f"{_fmt(plm[0])} {_fmt(plm[1])} {_fmt(plm[2])} | {_fmt(s.onset_median_s)} "
            f"{_fmt(s.end_median_s)} | {_fmt(s.false_cramps_per_8h, 6)} | {r.wall_s:7.1f}"
        )
    nc = summarize(runs["nightcramp"].scores)
    c = nc.per_kind["cramp"]
    print(
        f"(nightcramp: {c.tp} of {c.tp + c.fn} cramps found, {c.fp} false; "
        f"cramp-free hours {nc.cramp_free_hours:.1f})"
    )


def sleep_wake(specs: list[NightSpec]) -> None:
    """Epoch sleep/wake and per-second posture against the generator's truth."""
    from emulator.night import posture_class

    print(
        f"\n{'night':40s} {'epochs':>6s} {'agree':>6s} {'wake R':>6s} {'sleep R':>7s} {'posture':>7s}"
    )
    for spec in specs:
        night = spec.make()
        det = Detector(night.layout)
        for item in night.chunks(CHUNK_S):
            det.push(item)
        r = det.finish()
        truth = []
        for t in r.epochs["t_s"]:
            st = "sleep"
            for a, b, s in night.states:
                if a <= t + 15 < b:
                    st = s
            truth.append(st)
        tr = np.array(truth)
        pred = r.epochs["state"].to_numpy().astype(str)
        m = pred != "gap"
        wk = tr == "wake"
        ok = tot = 0
        for a, b, p in night.postures:
            sel = ((r.trace["t_s"] >= a) & (r.trace["t_s"] < b)).to_numpy()
            tot += int(sel.sum())
            ok += int((r.trace["posture"].to_numpy()[sel] == posture_class(p)).sum())
        post = f"{ok / tot:7.2f}" if night.layout.acc_fs and tot else "      -"
        print(
            f"{spec.name:40s} {int(m.sum()):6d} {float((tr[m] == pred[m]).mean()):6.2f} "
            f"{float((pred[wk] == 'wake').mean()) if wk.any() else math.nan:6.2f} "
            f"{float((pred[~wk] == 'sleep').mean()):7.2f} {post}"
        )


def _score_source(src: object, truth: list, dur: float, mains_hz: float) -> tuple:
    """Run nightcramp and the floor on one source; (nightcramp score, floor score, events)."""
    layout = src.layout  # type: ignore[attr-defined]
    det = Detector(layout)
    floor = FloorPeer(layout, mains_hz)
    for item in src.chunks():  # type: ignore[attr-defined]
        det.push(item)
        floor.push(item)
    res = det.finish()
    return score_night(res.events, truth, dur), score_night(floor.finish(), truth, dur), res.events


def _miss_class(t: object, events: list[Event], has_acc: bool) -> str:
    """Which class of miss a missed true cramp falls in (physiological terms)."""
    ex = getattr(t, "extra", {}) or {}
    over = [e for e in events if e.start_s < t.end_s and t.start_s < e.end_s]  # type: ignore[attr-defined]
    made = ",".join(sorted({f"{e.kind}/{e.subtype}" for e in over})) or "nothing"
    dur = t.end_s - t.start_s  # type: ignore[attr-defined]
    if ex.get("relief") == "walk" and (
        ex.get("while_contracted") or (ex.get("delay_s") or 99) <= 3
    ):
        cls = "1 flows into walking"
    elif any(e.subtype == "walking" for e in over):
        cls = "1 flows into walking"
    elif dur <= 25.0:
        cls = "2 short cramp"
    elif not has_acc:
        cls = "3 no accelerometer"
    else:
        cls = "other"
    return f"{cls:22s} -> {made}"


def robust(quick: bool, verbose: bool, tune: bool = False, draw: str = "report") -> None:
    """The side-by-side evidence table (see the module doc).  ``tune``: the draws one may
    tune on instead (the fixed tune split and the randomised tune draw; no independent
    model nights, which are for reporting only)."""
    from benchmarks.robustness import (
        check_real,
        compare_cramps,
        floor_cramps,
        invariance_cases,
        random_specs,
        real_texture_nights,
    )
    from benchmarks.wildnight import wild_corpus

    rows: dict[str, dict[str, MethodRun]] = {}
    misses: list[str] = []
    falses: list[str] = []

    def new() -> dict[str, MethodRun]:
        return {"nightcramp": MethodRun(), "scipy-floor": MethodRun()}

    t0 = time.perf_counter()
    fixed = corpus("tune" if tune else "heldout", quick=quick)
    rows[f"fixed presets ({'tune' if tune else 'heldout'})"] = r = new()
    for spec in fixed:
        n = spec.make(chunk_s=CHUNK_S)
        nc, fl, _ = _score_source(n, n.truth, spec.duration_s, spec.mains_hz)
        r["nightcramp"].add(spec.name, nc, 0.0, spec.hours)
        r["scipy-floor"].add(spec.name, fl, 0.0, spec.hours)
    print(f"  fixed presets done ({time.perf_counter() - t0:.0f} s)", flush=True)
    split = "tune" if tune else draw
    rnd = random_specs(split, n=8 if quick else 20, n_free=2 if quick else 4)
    rows[f"randomised emulator ({split})"] = r = new()
    for spec in rnd:
        n = spec.make(chunk_s=CHUNK_S)
        nc, fl, ev = _score_source(n, n.truth, spec.duration_s, spec.mains_hz)
        r["nightcramp"].add(spec.name, nc, 0.0, spec.hours)
        r["scipy-floor"].add(spec.name, fl, 0.0, spec.hours)
        for t in nc.missed:
            if t.kind == "cramp":
                misses.append(
                    f"{spec.name:32s} {t.start_s:8.1f} {t.end_s - t.start_s:6.1f} s  "
                    + _miss_class(t, ev, bool(spec.acc_fs))
                )
        for e in nc.false:
            if e.kind == "cramp":
                falses.append(
                    f"{spec.name:32s} {e.start_s:8.1f} {e.end_s - e.start_s:6.1f} s  "
                    + _false_class(e, n.truth)
                )
    print(f"  randomised emulator done ({time.perf_counter() - t0:.0f} s)", flush=True)
    rows[f"independent model ({draw})"] = r = new()
    for w in () if tune else wild_corpus(draw, n=8 if quick else None):
        nc, fl, ev = _score_source(w, w.truth, w.duration_s, w.mains_hz)
        name = w.describe()
        r["nightcramp"].add(name, nc, 0.0, w.duration_s / 3600)
        r["scipy-floor"].add(name, fl, 0.0, w.duration_s / 3600)
        for t in nc.missed:
            if t.kind == "cramp":
                misses.append(
                    f"wild/{w.seed:<27d} {t.start_s:8.1f} {t.end_s - t.start_s:6.1f} s  "
                    + _miss_class(t, ev, bool(w.layout.acc_fs))
                )
        for e in nc.false:
            if e.kind == "cramp":
                falses.append(
                    f"wild/{w.seed:<27d} {e.start_s:8.1f} {e.end_s - e.start_s:6.1f} s  "
                    + _false_class(e, w.truth)
                )
    print(f"  independent model done ({time.perf_counter() - t0:.0f} s)", flush=True)
    own_truth: dict[str, list[tuple[float, float]]] = {}
    inv = {"nightcramp": [0, 0], "scipy-floor": [0, 0]}
    rel = {"nightcramp": [0, 0], "scipy-floor": [0, 0]}
    own: dict[str, dict[str, list[tuple[float, float]]]] = {"nightcramp": {}, "scipy-floor": {}}
    inv_fail: list[str] = []
    for case in invariance_cases(full=not quick):
        from benchmarks.robustness import detect_cramps

        base = case.name.split(" / ")[0]
        found = {
            "nightcramp": detect_cramps(case.source()),
            "scipy-floor": floor_cramps(case.source(), case.mains_hz),
        }
        for m, got in found.items():
            res = compare_cramps(got, case.cramps, case.name)
            inv[m][0] += res.ok
            inv[m][1] += 1
            if m == "nightcramp" and not res.ok:
                inv_fail.append(f"{case.name}: {res.why}")
            # the metamorphic relation proper: the changed night against the method's
            # own output on the unchanged one (times moved by a shift)
            if " / " in case.name:
                if case.name.endswith(" / as-is"):
                    own[m][base] = got
                    own_truth[base] = case.cramps
                    continue
                d = case.cramps[0][0] - own_truth[base][0][0] if case.cramps else 0.0
                ref = [(a + d, b + d) for a, b in own[m].get(base, [])]
                rel[m][0] += compare_cramps(got, ref, case.name).ok
                rel[m][1] += 1
    real = {"nightcramp": [0, 0], "scipy-floor": [0, 0]}
    real_fail: list[str] = []
    for rn in real_texture_nights(full=not quick):
        from benchmarks.robustness import detect_cramps

        b = check_real(rn, detect_cramps(rn.night.source()))
        a = check_real(rn, floor_cramps(rn.night.source(), rn.night.mains_hz))
        for m, res in (("nightcramp", b), ("scipy-floor", a)):
            real[m][0] += res.ok
            real[m][1] += 1
        if not b.ok:
            real_fail.append(f"{rn.night.name}: {b.why}")
    print(f"  invariance and real textures done ({time.perf_counter() - t0:.0f} s)")

    print(
        f"\n{'evidence':30s} {'method':12s} {'hours':>6s} | {'cramps':>7s} {'P':>5s} {'R':>5s} "
        f"{'F1':>5s} | {'onset':>5s} {'end':>5s} | {'FC/8h':>6s} | {'PLM F1':>6s}"
    )
    for title, runs in rows.items():
        for m, mr in runs.items():
            if not mr.scores:
                continue
            s = summarize(mr.scores)
            c = s.per_kind["cramp"]
            p = s.per_kind["plm"].f1 if m == "nightcramp" else math.nan
            print(
                f"{title:30s} {m:12s} {mr.hours:6.1f} | {c.tp:3d}/{c.tp + c.fn:<3d} "
                f"{_fmt(c.precision)} {_fmt(c.recall)} {_fmt(c.f1)} | {_fmt(s.onset_median_s)} "
                f"{_fmt(s.end_median_s)} | {_fmt(s.false_cramps_per_8h, 6)} | {_fmt(p, 6)}"
            )
    for title, d in (
        ("invariance suite (vs truth)", inv),
        ("invariance (vs own as-is)", rel),
        ("real-texture nights", real),
    ):
        for m, (ok, tot) in d.items():
            print(f"{title:30s} {m:12s}        | passed {ok} of {tot}")
    print(f"\nmissed cramps of the report draws ({len(misses)}), by class:")
    for line in sorted(misses, key=lambda x: x[50:]):
        print("  " + line)
    print(f"false cramps of the report draws ({len(falses)}):")
    for line in sorted(falses, key=lambda x: x[50:]):
        print("  " + line)
    if inv_fail or verbose:
        print(f"invariance cases failed ({len(inv_fail)}):")
        for line in inv_fail:
            print("  " + line)
    if real_fail:
        print("real-texture nights failed:")
        for line in real_fail:
            print("  " + line)


def _false_class(e: Event, truth: list) -> str:
    over = [t for t in truth if t.start_s < e.end_s and e.start_s < t.end_s]
    made = ",".join(sorted({f"{t.kind}/{t.subtype}" for t in over})) or "nothing true"
    cls = "4 electrode-off" if any(t.subtype == "electrode-off" for t in over) else "other"
    return f"{cls:22s} <- {made}: {e.reason[:90]}"


def _peak_rss_mb() -> float:
    """Peak resident memory of this process, MB: VmHWM (reset at exec, unlike ru_maxrss,
    which a child inherits from its parent across fork + exec on Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def speed_memory(hours: float = 8.0, chunk_s: float = CHUNK_S) -> None:
    fs, afs = 1000.0, 50.0
    layout = StreamLayout(
        emg_fs=fs, emg_labels=("EMG calf", "EMG tib"), emg_sites=("calf", "tibialis"), acc_fs=afs
    )
    rng = np.random.default_rng(0)
    n = int(chunk_s * fs)
    m = int(chunk_s * afs)
    # a few distinct pre-rendered blocks (rest noise with a burst), cycled
    blocks = []
    for b in range(4):
        e = (
            rng.standard_normal((n, 2)) * 3.0
            + 20 * np.sin(2 * np.pi * 50 * np.arange(n) / fs)[:, None]
        )
        if b % 2:
            e[n // 3 : n // 3 + 3000] *= 10.0
        a = np.tile([0.0, 0.0, 1.0], (m, 1)) + rng.standard_normal((m, 3)) * 0.005
        blocks.append((e, a))
    total = int(hours * 3600 / chunk_s)

    def night(n_chunks: int) -> tuple[float, float, int]:
        det = Detector(layout)
        t, c = time.perf_counter(), time.process_time()
        for i in range(n_chunks):
            e, a = blocks[i % 4]
            det.push(Chunk(i * n, e, i * m, a))
        res = det.finish()
        return time.perf_counter() - t, time.process_time() - c, len(res.events)

    wall, cpu, n_ev = night(total)
    rss = _peak_rss_mb()
    tracemalloc.start()
    night(int(3600 / chunk_s))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"\nspeed/memory: {hours:.0f} h, 2 EMG ch @ {fs:.0f} Hz + acc @ {afs:.0f} Hz, "
        f"{chunk_s:.0f}-s chunks: detector wall {wall:.2f} s, CPU {cpu:.2f} s "
        f"({cpu / hours:.3f} CPU s per hour; {n_ev} events); process max RSS {rss:.0f} MB "
        f"(includes the pre-rendered blocks and imported libraries); detector allocations "
        f"peak {peak / 1e6:.0f} MB (tracemalloc, 1-h night)"
    )
    # live-like: 20 ms chunks for 10 min
    det = Detector(layout)
    n20, m20 = int(0.02 * fs), 1
    e, a = blocks[1]
    t = time.perf_counter()
    steps = int(600 / 0.02)
    for i in range(steps):
        j = (i * n20) % (n - n20)
        det.push(Chunk(i * n20, e[j : j + n20], i * m20, a[i % m : i % m + 1]))
    wall20 = time.perf_counter() - t
    print(
        f"live: 10 min in 20-ms chunks: {wall20:.2f} s of CPU = {100 * wall20 / 600:.2f} % "
        f"of one core ({1e6 * wall20 / steps:.0f} µs per push)"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 short nights per split")
    ap.add_argument("--split", choices=("tune", "heldout", "both"), default="both")
    ap.add_argument("--no-peers", action="store_true", help="skip neurokit2 / biosppy")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument(
        "--sleep-wake", action="store_true", help="epoch sleep/wake + posture vs truth only"
    )
    ap.add_argument("--verbose", action="store_true", help="list missed and false events")
    ap.add_argument("--robust", action="store_true", help="the side-by-side evidence only")
    ap.add_argument(
        "--tune", action="store_true", help="with --robust: the tuning draws, not the report"
    )
    ap.add_argument(
        "--draw",
        choices=("report", "report2"),
        default="report",
        help="with --robust: which report draw (report2: a second, disjoint one)",
    )
    ap.add_argument("--only", default="", help="run only nights whose name contains this")
    ap.add_argument(
        "--peer-hours", type=float, default=3.0, help="hours of short nights for the slow peers"
    )
    a = ap.parse_args(argv)
    if a.sleep_wake:
        splits = ("tune", "heldout") if a.split == "both" else (a.split,)
        for sp in splits:
            sleep_wake([s for s in corpus(sp, quick=a.quick) if a.only in s.name])  # type: ignore[arg-type]
        return
    if a.robust:
        robust(a.quick, a.verbose, a.tune, a.draw)
        return
    if not a.speed_only:
        splits = ("tune", "heldout") if a.split == "both" else (a.split,)
        for sp in splits:
            specs = [s for s in corpus(sp, quick=a.quick) if a.only in s.name]  # type: ignore[arg-type]
            print(f"\n== {sp}: {len(specs)} nights, {sum(s.hours for s in specs):.1f} h")
            runs = run_split(specs, not a.no_peers, a.verbose, a.peer_hours)
            print_table(
                f"{sp} split, all nights (neurokit2/biosppy: whole-signal and slow, so only "
                f"on {runs['neurokit2'].hours:.0f} h of short nights)",
                runs,
            )
            if runs["neurokit2"].names:
                same = set(runs["neurokit2"].names)
                print_table(
                    f"{sp} split, the same short nights for every method: {sorted(same)}",
                    {k: v.subset(same) for k, v in runs.items()},
                )
        print("\n== robustness: nights the detector was never tuned on")
        robust(a.quick, a.verbose)
        # a fresh process, so that the peak RSS is the detector's, not the peers'
        import subprocess

        subprocess.run([sys.executable, "-m", "benchmarks.bench_detector", "--speed-only"])
        return
    speed_memory()


if __name__ == "__main__":
    main()
