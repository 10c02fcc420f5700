"""``cramp detect`` of an EDF night as a whole process, against the scipy floor.

What a user runs: ``cramp detect night.edf --json`` on an 8-h night (2 EMG channels at
1 kHz + a 50 Hz accelerometer, written once by :func:`benchmarks.bench_replay.build`),
timed from process start to exit (imports included), with its peak resident memory; and
in the same run, the plain scipy floor of ``DOMAIN.md``
(:class:`benchmarks.bench_detector.FloorPeer`) over the same file read by the same EDF
reader, also as a whole process.  Each runs ``--repeat`` times (default 3), alternating;
the medians are printed and their ratio.  Goal (issue 10): detect <= 0.3x the floor's
wall time, peak memory < 300 MB.

    .venv/bin/python -m benchmarks.bench_detect_edf [--hours 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path


def _floor(path: str) -> None:
    """The floor as a process: read the EDF, stream it through FloorPeer, print the count."""
    from benchmarks.bench_detector import FloorPeer
    from detector.stream import bulk_chunks
    from recordings.edf import EdfSource

    src = EdfSource(path)
    peer = FloorPeer(src.layout, 50.0)
    for item in bulk_chunks(src):
        peer.push(item)
    print(len(peer.finish()))


#: Runs one command and prints its wall time and peak RSS.  Linux carries a process's
#: peak RSS over fork and exec, so a child forked from this process (which may hold a
#: freshly built 8-h night) would report this process's peak: the command is forked from
#: this small launcher instead.
_LAUNCH = """
import os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, ru = os.wait4(p.pid, 0)
wall = time.perf_counter() - t
code = os.waitstatus_to_exitcode(status)
if code:
    sys.stderr.write(p.stderr.read().decode()[-500:])
    sys.exit(code)
print(wall, ru.ru_maxrss / 1024.0)
"""


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of one child process."""
    r = subprocess.run([sys.executable, "-c", _LAUNCH, *cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-500:]}")
    wall, rss = r.stdout.split()
    return float(wall), float(rss)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--floor", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.floor:
        _floor(a.floor)
        return
    from benchmarks.bench_replay import build

    _, edf = build(a.hours)
    cramp = Path(sys.executable).with_name("cramp")
    det_cmd = [str(cramp), "detect", str(edf), "--json"]
    floor_cmd = [sys.executable, "-m", "benchmarks.bench_detect_edf", "--floor", str(edf)]
    det, flo = [], []
    for _ in range(a.repeat):
        det.append(_run(det_cmd))
        flo.append(_run(floor_cmd))
    dw = statistics.median(w for w, _ in det)
    fw = statistics.median(w for w, _ in flo)
    print(
        f"{a.hours:g}-h EDF night (2 EMG @ 1 kHz + acc @ 50 Hz), whole processes, median of "
        f"{a.repeat}:\n"
        f"  cramp detect --json  wall {dw:6.2f} s  peak RSS {max(m for _, m in det):5.0f} MB\n"
        f"  scipy floor          wall {fw:6.2f} s  peak RSS {max(m for _, m in flo):5.0f} MB\n"
        f"  ratio detect/floor   {dw / fw:.2f}x  (goal <= 0.30x)"
    )


if __name__ == "__main__":
    main()
