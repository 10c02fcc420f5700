"""Two legs: what running a detector per leg and merging them costs, beside one leg.

Run::

    .venv/bin/python -m benchmarks.bench_legs               # 2 h per leg
    .venv/bin/python -m benchmarks.bench_legs --hours 8

Two synthetic legs (different seeds: a cramp and a PLM series each, 2 EMG channels at
1 kHz + acc at 50 Hz), pre-rendered into memory so only detection is timed, in 300-s
chunks (the bulk size of replay and detect).  Printed, all measured in this run:

* baseline: CPU s of each leg alone through :func:`detector.pipeline.run`, and their sum;
* two legs: CPU s of :func:`detector.pipeline.run_legs` on both (one detector per leg,
  merged), and the part spent in the bilateral merge (:func:`merge_legs`) alone;
* CPU per hour of night, and as % of one core in real time (live);
* whether each leg's cramps and artifacts are the same as when it runs alone.
"""

from __future__ import annotations

import argparse
import time

from detector.config import DetectorConfig
from detector.pipeline import run, run_legs
from detector.stages.bilateral import LegEvents, merge_legs
from detector.stream import ArraySource
from emulator.night import make_night


def _cpu(f):  # noqa: ANN001, ANN202
    t = time.process_time()
    out = f()
    return out, time.process_time() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=2.0, help="night length per leg, h")
    a = ap.parse_args(argv)
    dur = a.hours * 3600.0
    legs = []
    for seed, side in ((101, "left"), (102, "right")):
        n = make_night(seed, dur, side=side, labels=(f"EMG calf {side[0].upper()}",
                       f"EMG tib {side[0].upper()}"), cramps=2, plm_series=2)  # fmt: skip
        emg, acc = n.to_arrays()
        legs.append(ArraySource(n.layout, emg, acc, chunk_s=300.0))
    alone = []
    t_alone = 0.0
    for src in legs:
        res, t = _cpu(lambda src=src: run(src))
        alone.append(res)
        t_alone += t
        print(f"one leg ({src.layout.side}) alone: {t:6.2f} CPU s, {res.stats['counts']}")
    both, t_both = _cpu(lambda: run_legs(legs))
    # the merge again on the legs' own events, every leg movement and PLM a candidate
    per_leg = [
        LegEvents(s, n.events, [e for e in n.events if e.subtype in ("leg-movement", "plm")])
        for s, n in both.legs.items()
    ]
    _, t_merge = _cpu(lambda: [merge_legs(per_leg, DetectorConfig()) for _ in range(10)])
    print(f"both legs, two runs alone (baseline): {t_alone:6.2f} CPU s")
    print(f"both legs, run_legs:                  {t_both:6.2f} CPU s "
          f"({100 * (t_both / t_alone - 1):+.1f} % vs baseline), {both.stats['counts']}")  # fmt: skip
    print(f"  of which the bilateral merge:       {t_merge / 10 * 1000:6.2f} ms "
          f"({both.stats['bilateral']})")  # fmt: skip
    h = dur / 3600.0
    print(f"CPU per hour of night: one leg {t_alone / 2 / h:.2f} s, two legs {t_both / h:.2f} s "
          f"= {100 * t_both / dur:.3f} % of one core (300-s chunks)")  # fmt: skip
    for side, res in zip(("left", "right"), alone, strict=True):
        mine = [(e.kind, e.start_s, e.end_s) for e in both.events
                if e.side == side and e.kind in ("cramp", "artifact")]  # fmt: skip
        want = [(e.kind, e.start_s, e.end_s) for e in res.events
                if e.kind in ("cramp", "artifact")]  # fmt: skip
        print(f"{side}: cramps and artifacts as alone: {sorted(mine) == sorted(want)}")


if __name__ == "__main__":
    main()
