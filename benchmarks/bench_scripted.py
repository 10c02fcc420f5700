"""Scripted one-cramp nights of the independent model: two *tuning* draws of its own.

Each night is 20-25 min of quiet sleep (twitches, ECG bleed) with one cramp at 300 s, its
other parameters drawn by :class:`benchmarks.wildnight.WildNight` as usual (intensity,
waxing and waning, sag or build-up, pre-rise, heads, texture, rate, band, mains):

* ``long``: seeds 81000+, cramps of 150-600 s with a random relief: where a long cramp
  wanes below its core level (the hold, ``cramp_hold_*``);
* ``relief``: seeds 82000+, cramps of 10-300 s (log-uniform) ended at once (0-2 s) by a
  stretch, a walk (half of them while the calf is still contracted), massage or turning
  over, in turn: where a cramp ends and what follows it begins.

These draws are for tuning, like ``smoke``; the report draws stay ``report`` and
``report2``.  Scored with :mod:`benchmarks.scoring` (cramps: overlap >= 1 s, IoU >= 0.2);
misses and false cramps are listed with the events around them.

    .venv/bin/python -m benchmarks.bench_scripted [--draw long|relief|both] [-n N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
from typing import Any

import numpy as np

RELIEFS = ("stretch", "walk", "massage", "turn")


def night(draw: str, seed: int) -> Any:
    from benchmarks.wildnight import WildNight

    r = np.random.default_rng(seed)
    if draw == "long":
        dur = float(r.uniform(150.0, 600.0))
        return WildNight(seed, 1500.0, script=[(300.0, None, dur, None, None)])
    dur = float(np.exp(r.uniform(np.log(10.0), np.log(300.0))))
    relief = RELIEFS[seed % len(RELIEFS)]
    wc = bool(r.random() < 0.5) if relief == "walk" else False
    return WildNight(seed, 1200.0, script=[(300.0, relief, dur, float(r.uniform(0, 2)), wc)])


def _job(arg: tuple[str, int]) -> tuple[str, int, Any, list[str]]:
    from benchmarks.scoring import score_night
    from detector.detect import Detector

    draw, seed = arg
    n = night(draw, seed)
    det = Detector(n.layout)
    for it in n.chunks():
        det.push(it)
    ev = det.finish().events
    s = score_night(ev, n.truth, n.duration_s)
    lines: list[str] = []
    bad = [t for t in s.missed if t.kind == "cramp"] + [e for e in s.false if e.kind == "cramp"]
    if bad:
        tr = [t for t in n.truth if t.kind == "cramp"][0]
        lines.append(f"{n.describe()[:72]}  true cramp {tr.start_s:.0f}-{tr.end_s:.0f} s")
        for e in ev:
            if e.kind != "plm" and e.end_s > tr.start_s - 20 and e.start_s < tr.end_s + 30:
                lines.append(
                    f"    {e.kind}/{e.subtype} {e.start_s:.1f}-{e.end_s:.1f}: {e.reason[:90]}"
                )
    return draw, seed, s, lines


def main(argv: list[str] | None = None) -> None:
    from benchmarks.scoring import summarize

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draw", choices=("long", "relief", "both"), default="both")
    ap.add_argument("-n", type=int, default=None, help="nights per draw (24 long, 32 relief)")
    a = ap.parse_args(argv)
    draws = ("long", "relief") if a.draw == "both" else (a.draw,)
    base = {"long": 81000, "relief": 82000}
    size = {"long": 24, "relief": 32}
    jobs = [(d, base[d] + i) for d in draws for i in range(a.n or size[d])]
    with mp.get_context("fork").Pool(2) as pool:
        res = pool.map(_job, jobs, chunksize=1)
    for d in draws:
        rs = [r for r in res if r[0] == d]
        sm = summarize([r[2] for r in rs])
        c = sm.per_kind["cramp"]
        print(
            f"{d:7s} {len(rs):3d} nights  cramps {c.tp}/{c.tp + c.fn}  P {c.precision:.2f} "
            f"R {c.recall:.2f} F1 {c.f1:.2f}  onset {sm.onset_median_s:.2f} s  "
            f"end {sm.end_median_s:.2f} s"
        )
        for r in rs:
            for line in r[3]:
                print("  " + line)


if __name__ == "__main__":
    main()
