"""Device kinds: decoding CPU per hour streamed, and detector accuracy on 200-Hz nights.

Run::

    .venv/bin/python -m benchmarks.bench_devices             # both parts
    .venv/bin/python -m benchmarks.bench_devices --cpu-only
    .venv/bin/python -m benchmarks.bench_devices --accuracy-only --quick

(a) CPU: one hour of each kind's notifications, as the device sends them (BITalino: five
channels at 1 kHz, the UART stream cut in 20-byte notifications; Ganglion: firmware 3 with
the accelerometer, 100 packets/s), fed one by one to the kind's decoder; process CPU time
per hour streamed and as a share of one core.  Baseline, same run: our own protocol's
:class:`firmware_protocol.codec.StreamDecoder` on an hour of its frames (2 ch at 1 kHz,
acc 50 Hz, one 244-byte frame per notification).  The detector's own cost at each rate
(:class:`detector.detect.Detector` on an hour of the kind's layout) is printed beside it,
since the goal (< 2 % of a core) is for decoder and detector together.

(c) Recorder: the production recorder over bleak/bumble in one process with an emulated
device of each kind (and our own sensor as the baseline, same run): CPU inside the
recorder's notification callback (session, recording, assembling, detecting, logging)
plus its finish, per hour streamed -- what a real host spends (its BLE stack aside).

(b) Accuracy: the corpus nights (:mod:`benchmarks.corpus`) regenerated at the Ganglion's
rates (EMG 200 Hz, accelerometer 10 Hz; same seeds, scenarios and sites), scored with
:mod:`benchmarks.scoring`; baseline, same run: the same nights at their corpus rates.
At 200 Hz the detector's band is 20 Hz to its low-pass cap (``detector.dsp.emg_band``),
so everything above 100 Hz of the surface EMG is gone by the sampling itself.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from benchmarks.corpus import corpus
from benchmarks.scoring import score_night, summarize
from detector.detect import Detector
from detector.stream import Chunk, StreamLayout
from firmware_protocol.codec import StreamDecoder
from firmware_protocol.devices import bitalino as B
from firmware_protocol.devices import ganglion as G

HOUR = 3600.0


def bitalino_hour(seconds: float = HOUR) -> list[bytes]:
    rng = np.random.default_rng(1)
    n = int(seconds * 1000)
    a = np.empty((n, 5), dtype=np.int64)
    a[:, :4] = np.clip(rng.normal(512, 40, (n, 4)), 0, 1023)
    a[:, 4] = rng.integers(0, 64, n)
    data = B.encode_stream(a)
    return [data[i : i + B.MAX_NOTIFY] for i in range(0, len(data), B.MAX_NOTIFY)]


def ganglion_hour(seconds: float = HOUR) -> list[bytes]:
    rng = np.random.default_rng(2)
    cycles = int(seconds * G.FS / 201)
    pkts = [bytes([255]) + bytes(19)]
    s = rng.integers(-(1 << 20), 1 << 20, (cycles * 200 + 200, 4))
    t = 0
    for c in range(cycles):
        for k in range(99 if c == 0 else 100):
            pkts.append(G.encode_v3(k, s[t].tolist(), s[t + 1].tolist(), k % 10))
            t += 2
    return pkts


def own_hour(seconds: float = HOUR) -> list[bytes]:
    from benchmarks.bench_protocol import night_frames

    return night_frames(seconds / HOUR)


def _cpu(feed, notes: list[bytes]) -> float:
    t = time.process_time()
    for x in notes:
        feed(x)
    return time.process_time() - t


def _detector_cpu(layout: StreamLayout, seconds: float) -> float:
    rng = np.random.default_rng(3)
    det = Detector(layout)
    step = int(60 * layout.emg_fs)
    emg = rng.normal(0, 5, (step, layout.n_emg)).astype(np.float32)
    acc_n = int(60 * (layout.acc_fs or 0))
    acc = np.tile([[0.0, 0.0, 1.0]], (acc_n, 1)) + rng.normal(0, 0.01, (acc_n, 3))
    t = time.process_time()
    for m in range(int(seconds // 60)):
        det.push(Chunk(m * step, emg, m * acc_n, acc if acc_n else np.zeros((0, 3))))
    det.finish()
    return time.process_time() - t


def bench_cpu(seconds: float) -> None:
    scale = HOUR / seconds
    print(f"(a) decoding CPU per hour streamed ({seconds:g} s of notifications, scaled to 1 h)")
    own = own_hour(seconds)
    sd = StreamDecoder()
    t_own = _cpu(sd.feed, own) * scale
    print(
        f"    baseline nightcramp StreamDecoder: {t_own:6.2f} s/h = {100 * t_own / HOUR:.3f} % of a core ({len(own):,} notifications)"
    )
    rows = []
    for kind, notes, dec, layout in (
        (
            "bitalino",
            bitalino_hour(seconds),
            B.BitalinoDecoder(),
            StreamLayout(1000.0, ("A1", "A2"), ("gastrocnemius", "tibialis"), 1000.0),
        ),
        (
            "ganglion",
            ganglion_hour(seconds),
            G.GanglionDecoder(),
            StreamLayout(200.0, ("1", "2", "3"), ("gastrocnemius", "soleus", "tibialis"), 10.0),
        ),
    ):
        dec.start_commands()
        t_dec = _cpu(dec.feed, notes) * scale
        lost = dec.stats.get("lost", 0) + dec.stats.get("lost_samples", 0)
        assert lost == 0, f"{kind}: {lost} samples lost decoding a clean stream"
        t_det = _detector_cpu(layout, min(seconds, 600.0)) * HOUR / min(seconds, 600.0)
        rows.append((kind, t_dec, t_det, len(notes)))
        print(
            f"    {kind:9s} decoder {t_dec:6.2f} s/h = {100 * t_dec / HOUR:.3f} % "
            f"({len(notes) * scale:,.0f} notifications/h); detector at its rates {t_det:6.2f} s/h; "
            f"together {100 * (t_dec + t_det) / HOUR:.2f} % of a core (goal < 2 %)"
        )


def bench_recorder(seconds: float) -> None:
    import asyncio
    import io
    import tempfile

    from emulator.virtual.devices import night_for
    from nightcramp import recorder as rmod
    from nightcramp.emulated import run_emulated, run_emulated_device

    print(
        f"(c) recorder + detector CPU per hour streamed ({seconds:g} s nights through bleak/bumble)"
    )
    spent = [0.0]
    orig_notify, orig_final = rmod.Recorder._on_notify, rmod.Recorder._finalise

    def timed_notify(self, *a):  # type: ignore[no-untyped-def]
        t = time.process_time()
        try:
            return orig_notify(self, *a)
        finally:
            spent[0] += time.process_time() - t

    async def timed_final(self):  # type: ignore[no-untyped-def]
        t = time.process_time()
        try:
            return await orig_final(self)
        finally:
            spent[0] += time.process_time() - t

    rmod.Recorder._on_notify = timed_notify  # type: ignore[method-assign]
    rmod.Recorder._finalise = timed_final  # type: ignore[method-assign]
    try:
        for kind in ("nightcramp", "bitalino", "ganglion"):
            spent[0] = 0.0
            with tempfile.TemporaryDirectory() as d:
                kw = {"out_dir": d, "db": f"{d}/log.sqlite3", "status_stream": io.StringIO()}
                if kind == "nightcramp":
                    from emulator.night import make_night

                    run = asyncio.run(run_emulated(make_night(3, seconds), speed=60.0, **kw))
                else:
                    run = asyncio.run(
                        run_emulated_device(kind, night_for(kind, 3, seconds), speed=60.0, **kw)
                    )
            per_h = spent[0] * HOUR / max(run.recorder._timeline_s, 1e-9)
            base = " (baseline)" if kind == "nightcramp" else ""
            print(
                f"    {kind:10s}{base:11s} {per_h:6.1f} CPU-s/h = {100 * per_h / HOUR:.2f} % of a core "
                f"(goal < 2 %); {run.recorder._timeline_s:.0f} s streamed in {run.wall_s:.0f} s",
                flush=True,
            )
    finally:
        rmod.Recorder._on_notify = orig_notify  # type: ignore[method-assign]
        rmod.Recorder._finalise = orig_final  # type: ignore[method-assign]


def bench_accuracy(quick: bool) -> None:
    print("(b) detector accuracy at the Ganglion's 200 Hz EMG / 10 Hz accelerometer")
    specs = corpus("tune", quick=quick) + corpus("heldout", quick=quick)
    for label, mk in (
        ("corpus rates (baseline)", lambda s: s),
        (
            "200 Hz / acc 10 Hz",
            lambda s: replace(s, emg_fs=200.0, acc_fs=10.0 if s.acc_fs else None),
        ),
    ):
        scores = []
        t0 = time.process_time()
        for spec in specs:
            sp = mk(spec)
            night = sp.make()
            det = Detector(night.layout)
            for item in night.chunks(60.0):
                det.push(item)
            res = det.finish()
            scores.append(score_night(res.events, night.truth, sp.duration_s))
        s = summarize(scores)
        c, p = s.per_kind["cramp"], s.per_kind["plm"]
        print(
            f"    {label:26s} {s.nights} nights: cramp P/R/F1 {c.precision:.2f}/{c.recall:.2f}/{c.f1:.2f}  "
            f"PLM P/R/F1 {p.precision:.2f}/{p.recall:.2f}/{p.f1:.2f}  onset err median "
            f"{s.onset_median_s:.1f} s  false cramps/8 h {s.false_cramps_per_8h:.2f}  "
            f"(CPU {time.process_time() - t0:.0f} s)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu-only", action="store_true")
    ap.add_argument("--accuracy-only", action="store_true")
    ap.add_argument("--recorder-only", action="store_true")
    ap.add_argument(
        "--quick", action="store_true", help="5 short nights per split; 10 min of notifications"
    )
    args = ap.parse_args(argv)
    if args.recorder_only:
        bench_recorder(120.0 if args.quick else 600.0)
        return
    if not args.accuracy_only:
        bench_cpu(600.0 if args.quick else HOUR)
        if not args.cpu_only:
            bench_recorder(120.0 if args.quick else 600.0)
    if not args.cpu_only:
        bench_accuracy(args.quick)


if __name__ == "__main__":
    main()
