"""Replay/detect a long night from a native recording and from EDF: wall time, peak memory.

A night of 2 EMG channels at 1 kHz + accelerometer at 50 Hz (the sensor's defaults) is
encoded once into real protocol frames (``firmware_protocol.codec``) and written with
``RecordingWriter``, and once as EDF+ (``recordings.edf.write_edf``).  Each measurement runs
in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own.

    .venv/bin/python -m benchmarks.bench_replay                 # 8 h and 16 h
    .venv/bin/python -m benchmarks.bench_replay --hours 8 24    # also a 24-h night

Prints, per night length and source: wall time of (a) reading + assembling the sample
stream alone and (b) the full detection (after the imports, shown apart), and peak RSS
of the whole process (~170 MB of it are numpy/scipy/pandas/pyarrow after import).
Goal (issue 4): memory flat in the night's length and < 300 MB; a few seconds per night.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
EMG_FS, ACC_FS, PER_FRAME = 1000, 50, 40  # 40 x 2 ch x 16 bit + 2 acc = 208 B
BLOCK_S = 60


def _signals(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Block ``k`` (60 s): resting EMG with a burst now and then, gravity + small motion."""
    rng = np.random.default_rng(k)
    n = BLOCK_S * EMG_FS
    emg = rng.normal(0, 3.0, (n, 2))
    if k % 7 == 3:  # a 5-s movement burst
        emg[20_000:25_000] *= 30
    acc = rng.normal(0, 0.01, (BLOCK_S * ACC_FS, 3)) + [0.0, 0.0, 1.0]
    return emg, acc


def _frames(hours: float) -> Iterator[tuple[bytes, int]]:
    from firmware_protocol import codec

    t0 = int(datetime(2026, 11, 25, 23, 0, tzinfo=UTC).timestamp() * 1e9)
    seq = 0
    step = EMG_FS // ACC_FS
    for k in range(int(math.ceil(hours * 3600 / BLOCK_S))):
        emg, acc = _signals(k)
        base = k * BLOCK_S * EMG_FS
        for i in range(0, emg.shape[0], PER_FRAME):
            gi = base + i
            a0 = gi // step
            f = codec.DataFrame.from_samples(
                emg[i : i + PER_FRAME],
                acc[i // step : (i + PER_FRAME) // step],
                seq=seq,
                boot_id=7,
                t_us=gi * 1000,
                emg_index=gi,
                acc_index=a0,
                emg_fs=EMG_FS,
                acc_fs=ACC_FS,
            )
            seq += 1
            yield codec.encode_frame(f), t0 + (gi + PER_FRAME) * 1_000_000 + 9_000_000


class _BlockSource:
    """The same night as a streaming Source (for the EDF writer)."""

    def __init__(self, hours: float) -> None:
        from detector.stream import StreamLayout

        self.hours = hours
        self.layout = StreamLayout(
            float(EMG_FS),
            ("EMG1", "EMG2"),
            ("calf", "tibialis"),
            float(ACC_FS),
            datetime(2026, 11, 25, 23, 0, tzinfo=UTC),
        )

    def chunks(self):  # noqa: ANN201
        from detector.stream import Chunk

        for k in range(int(math.ceil(self.hours * 3600 / BLOCK_S))):
            emg, acc = _signals(k)
            yield Chunk(k * BLOCK_S * EMG_FS, emg, k * BLOCK_S * ACC_FS, acc)

    def wall_time(self, t: float) -> None:
        return None


def build(hours: float) -> tuple[Path, Path]:
    from recordings.edf import write_edf
    from recordings.store import RecordingWriter

    OUT.mkdir(exist_ok=True)
    rec_root = OUT / f"rec-{hours:g}h"
    edf = OUT / f"night-{hours:g}h.edf"
    done = list(rec_root.glob("night-*"))
    if done and edf.exists():
        return done[0], edf
    import shutil

    shutil.rmtree(rec_root, ignore_errors=True)
    t = time.perf_counter()
    w = RecordingWriter.create(
        rec_root, device={"name": "bench"}, config={"emg_sites": ["calf", "tibialis"]}
    )
    for raw, rx in _frames(hours):
        w.append_frame(raw, rx)
    w.close()
    print(f"  built {hours:g} h recording in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    write_edf(_BlockSource(hours), edf)
    print(f"  built {hours:g} h EDF in {time.perf_counter() - t:.1f} s", flush=True)
    return w.folder, edf


def measure(kind: str, path: str, what: str) -> dict:
    """Run in a subprocess: assemble only, or full detection."""
    t = time.perf_counter()
    import detector.pipeline  # noqa: F401
    import recordings.edf  # noqa: F401
    import recordings.store  # noqa: F401

    t_import = time.perf_counter() - t
    t = time.perf_counter()
    if kind == "native":
        from recordings.store import RecordingSource

        src = RecordingSource(path)
    else:
        from recordings.edf import EdfSource

        src = EdfSource(path)
    n = 0
    if what == "assemble":
        for item in src.chunks():
            n += getattr(item, "emg", np.zeros((0, 1))).shape[0]
        events = None
    else:
        from detector.pipeline import run

        res = run(src)
        n = int(res.duration_s * EMG_FS)
        events = len(res.events)
    wall = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB (Linux)
    return {"wall_s": wall, "import_s": t_import, "rss_mb": rss, "samples": n, "events": events}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[8.0, 16.0])
    ap.add_argument("--measure", nargs=3, metavar=("KIND", "PATH", "WHAT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(*a.measure)))
        return
    print(
        f"{'night':>6} {'source':>7} {'step':>9} {'wall s':>8} {'(+import s)':>11} "
        f"{'peak RSS MB':>12} {'events':>7}"
    )
    for h in a.hours:
        rec, edf = build(h)
        size = sum(p.stat().st_size for p in rec.iterdir()) / 1e6
        print(f"  {h:g} h: recording {size:.0f} MB, EDF {edf.stat().st_size / 1e6:.0f} MB")
        for kind, path in (("native", rec), ("edf", edf)):
            for what in ("assemble", "detect"):
                r = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.bench_replay",
                        "--measure",
                        kind,
                        str(path),
                        what,
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                m = json.loads(r.stdout.strip().splitlines()[-1])
                ev = "" if m["events"] is None else str(m["events"])
                print(
                    f"{h:>5g}h {kind:>7} {what:>9} {m['wall_s']:8.1f} {m['import_s']:11.1f} "
                    f"{m['rss_mb']:12.0f} {ev:>7}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
