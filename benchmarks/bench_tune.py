"""Every tuning draw in one run, with a threshold changed on the command line.

What a rule change is decided on (never the ``report`` / ``report2`` draws):

* ``presets``: the emulator's fixed ``tune`` split;
* ``rand``: the emulator's randomised ``tune`` draw (seeds 30000-30019, 4 cramp-free);
* ``rand2``: forty more randomised tuning nights (seeds 30020-30059);
* ``rand3`` (only when asked for, ``--groups rand3``; ~6 min): eighty more (30060-30139);
* ``smoke`` / ``smoke2``: the independent model's two tuning draws (seeds 70000+, 71000+);
* ``long`` / ``relief``: the scripted one-cramp draws of :mod:`benchmarks.bench_scripted`;
* ``inv``: the whole invariance suite (64 cases, pass count; ``--inv``).

``--set NAME=VALUE`` replaces a :class:`detector.config.DetectorConfig` field for the run
(repeatable), so a candidate is compared with the shipped values on the same nights:

    .venv/bin/python -m benchmarks.bench_tune [--groups rand,smoke] [--inv] [--set K=V]

Prints cramps found / true, precision, recall, PLM F1 and false cramps per group, and
each missed or false cramp.  Two processes; ~2-3 min on 2 cores (``--inv`` ~10 s more).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import time
from typing import Any

from detector.config import DetectorConfig

GROUPS = ("presets", "rand", "rand2", "smoke", "smoke2", "long", "relief")
_CONFIG = DetectorConfig()


def parse_set(items: list[str]) -> DetectorConfig:
    """``["cramp_x_rest=7"]`` -> a config with those fields replaced (typed as the field)."""
    base = DetectorConfig()
    kw: dict[str, Any] = {}
    for it in items:
        name, _, val = it.partition("=")
        if not hasattr(base, name):
            raise SystemExit(f"--set {it}: DetectorConfig has no field {name!r}")
        kw[name] = type(getattr(base, name))(val)
    return dataclasses.replace(base, **kw)


def jobs(groups: list[str]) -> list[tuple[str, Any]]:
    from benchmarks.corpus import corpus
    from benchmarks.wildnight import wild_specs

    out: list[tuple[str, Any]] = []
    for g in groups:
        if g == "presets":
            out += [(g, s.name) for s in corpus("tune")]
        elif g == "rand":
            out += [(g, 30_000 + i) for i in range(20)] + [(g, -(30_900 + i)) for i in range(4)]
        elif g == "rand2":
            out += [(g, 30_020 + i) for i in range(40)]
        elif g == "rand3":
            out += [(g, 30_060 + i) for i in range(80)]
        elif g in ("smoke", "smoke2"):
            out += [(g, s) for s in wild_specs(g)]
        elif g == "long":
            out += [(g, 81_000 + i) for i in range(24)]
        elif g == "relief":
            out += [(g, 82_000 + i) for i in range(32)]
        elif g == "inv":
            from benchmarks.robustness import AFTER, BASES, VARIANTS

            out += [(g, ("base", i, v)) for i in range(len(BASES)) for v in VARIANTS]
            out += [(g, ("after", i, a)) for i in range(len(AFTER)) for a in (True, False)]
        else:
            raise SystemExit(f"unknown group {g!r}; one of {', '.join(GROUPS)}, rand3, inv")
    return out


def _night(group: str, key: Any) -> tuple[str, Any, list, float]:
    """(name, source, truth, duration s) of one job."""
    if group == "presets":
        from benchmarks.corpus import corpus

        spec = next(s for s in corpus("tune") if s.name == key)
        n = spec.make(chunk_s=60.0)
        return spec.name, n, n.truth, spec.duration_s
    if group in ("rand", "rand2", "rand3"):
        from benchmarks.robustness import random_spec

        seed = abs(key)
        spec = random_spec(seed, f"rand-tune/{seed}", cramp_free=key < 0)
        n = spec.make(chunk_s=60.0)
        return spec.name, n, n.truth, spec.duration_s
    if group in ("smoke", "smoke2"):
        from benchmarks.wildnight import WildNight

        seed, dur, kw = key
        w = WildNight(seed, dur, **kw)
        return f"{group}/{seed}", w, w.truth, w.duration_s
    from benchmarks.bench_scripted import night

    w = night(group, key)
    return f"{group}/{key}", w, w.truth, w.duration_s


def _job(arg: tuple[str, Any]) -> tuple[str, str, Any, list[str]]:
    from benchmarks.scoring import score_night
    from detector.pipeline import run

    group, key = arg
    if group == "inv":
        from dataclasses import replace

        from benchmarks.robustness import BASES, VARIANTS, after_night, base_night, compare_cramps

        kind, i, v = key
        if kind == "base":
            n = VARIANTS[v](base_night(i))
            name = f"{BASES[i][0]} / {v}"
        else:
            n = after_night(i, with_acc=v)
            name = f"{n.name} / {'acc' if v else 'no-acc'}"
        if n is None:
            return group, name, None, []
        n = replace(n, name=name)
        ev = run(n.source(), config=_CONFIG).events
        r = compare_cramps([(e.start_s, e.end_s) for e in ev if e.kind == "cramp"], n.cramps)
        return group, name, r.ok, [] if r.ok else [f"{name}: {r.why}"]
    name, src, truth, dur = _night(group, key)
    ev = run(src, config=_CONFIG).events
    s = score_night(ev, truth, dur)
    lines = []
    for t in s.missed:
        if t.kind == "cramp":
            near = [
                f"{e.kind}/{e.subtype} {e.start_s:.0f}-{e.end_s:.0f}"
                for e in ev
                if e.kind != "plm" and e.end_s > t.start_s - 5 and e.start_s < t.end_s + 5
            ]
            lines.append(
                f"{name}: missed {t.start_s:.1f}-{t.end_s:.1f} -> {', '.join(near) or 'nothing'}"
            )
    for e in s.false:
        if e.kind == "cramp":
            lines.append(f"{name}: false {e.start_s:.1f}-{e.end_s:.1f}  {e.reason[:100]}")
    return group, name, s, lines


def main(argv: list[str] | None = None) -> None:
    global _CONFIG
    from benchmarks.scoring import summarize

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--groups", default=",".join(GROUPS), help="comma-separated")
    ap.add_argument("--inv", action="store_true", help="also the invariance suite")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--procs", type=int, default=2)
    a = ap.parse_args(argv)
    _CONFIG = parse_set(a.set)
    groups = [g for g in a.groups.split(",") if g] + (["inv"] if a.inv else [])
    t0 = time.perf_counter()
    with mp.get_context("fork").Pool(a.procs) as pool:
        res = pool.map(_job, jobs(groups), chunksize=1)
    print(f"settings: {' '.join(a.set) or 'as shipped'}  ({time.perf_counter() - t0:.0f} s)")
    for g in groups:
        rs = [r for r in res if r[0] == g]
        if g == "inv":
            ran = [r for r in rs if r[2] is not None]
            print(f"{g:8s} {sum(bool(r[2]) for r in ran)}/{len(ran)} cases pass")
        else:
            sm = summarize([r[2] for r in rs])
            c, p = sm.per_kind["cramp"], sm.per_kind["plm"]
            fp = sum(r[2].false_cramps for r in rs)
            print(
                f"{g:8s} {len(rs):3d} nights  cramps {c.tp}/{c.tp + c.fn}  P {c.precision:.2f} "
                f"R {c.recall:.2f}  false {fp}  PLM F1 {p.f1:.2f} ({p.tp}/{p.tp + p.fn}, "
                f"{p.fp} false)  "
                f"onset {sm.onset_median_s:.2f} end {sm.end_median_s:.2f} s"
            )
        for r in rs:
            for line in r[3]:
                print("    " + line)


if __name__ == "__main__":
    main()
