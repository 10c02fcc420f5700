"""cramp batch throughput: a sequential loop vs Dask with 1 and 2 workers, and memory.

The same nights (default 16 synthetic one-hour nights, 2 EMG channels at 1 kHz + acc at
50 Hz, written as EDF+ by ``recordings.edf.write_edf``; cached in ``benchmarks/out``) run

* in a plain loop of :func:`nightcramp.batch.process_night` in this process (baseline:
  detection alone), and in a loop that also writes each night's Parquet parts the way
  the batch does (the same job, done sequentially),
* on a plain pool of 2 warm processes (no Dask, nothing written): the ceiling of what 2
  cores give this work,
* through :func:`nightcramp.batch.run_batch` on a LocalCluster of 2 workers, the three
  alternating ``--repeat`` times, then once on 1 worker (warm workers; the time includes
  the Parquet parts being written),

and the benchmark prints wall time, nights per hour per core, the 2-worker speedup over
the loop (goal >= 1.8x on 2 cores), the per-night overhead of the batch machinery (wall
time beyond the tasks' own time, and the scheduler's round trip for an empty task), and
peak RSS: of a fresh process running one 1-h and one 8-h night (goal < 300 MB whatever
the night's length, beside the same process after its imports only) and of each worker
after the 2-worker run.  The load average is printed with each figure: the machine is
shared, so compare figures measured when it is quiet.

    .venv/bin/python -m benchmarks.bench_batch
    .venv/bin/python -m benchmarks.bench_batch --nights 4 --hours 0.25 --long-hours 1 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out" / "batch"


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def _night(hours: float, seed: int) -> Path:
    """A synthetic night as EDF+ (cached: the generator is slower than the detector)."""
    from emulator.night import make_night
    from recordings.edf import write_edf

    p = OUT / "nights" / f"h{hours:g}-s{seed}.edf"
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        write_edf(make_night(seed, hours * 3600.0, cramps=1), tmp)
        tmp.rename(p)
    return p


def _measure_one(path: str) -> None:
    """(subprocess) one night through process_night; print its peak RSS as JSON."""
    rss0 = _peak_rss_mb()
    from nightcramp import batch as nb

    job = nb.NightJob(path)
    if path == "-":
        # the imports a night needs, no night: the floor of every worker
        import detector.pipeline  # noqa: F401
        import nightcramp.summary  # noqa: F401
        import recordings.edf  # noqa: F401

        res: dict[str, Any] = {"status": "none"}
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        res = nb.process_night(job, nb.detector_version())
        res["wall_s"] = time.perf_counter() - t0
        res["cpu_s"] = time.process_time() - c0
        c1 = time.process_time()
        nb.process_night(job, nb.detector_version())  # again, warm: the night's own CPU
        res["warm_cpu_s"] = time.process_time() - c1
    rss = _peak_rss_mb()
    print(
        json.dumps(
            {"rss_start_mb": rss0, "peak_rss_mb": rss, "status": res["status"],
             "wall_s": res.get("wall_s"), "cpu_s": res.get("cpu_s"),
             "warm_cpu_s": res.get("warm_cpu_s")}
        )
    )  # fmt: skip


def _fresh_process_peak(path: str) -> dict[str, Any]:
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_batch", "--measure", path],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def _sequential(paths: list[Path], write: bool = False) -> tuple[float, float]:
    """Wall and CPU time of the nights in a plain loop in this process; with ``write``,
    the same job as the batch: each night detected, then its two Parquet parts written
    (atomic, fsynced) into a fresh dataset folder."""
    from nightcramp import batch as nb

    version = nb.detector_version()
    nb.process_night(nb.NightJob(str(paths[0])), version)  # warm: imports, caches
    output = None
    if write:
        out = OUT / "run-loop"
        shutil.rmtree(out, ignore_errors=True)
        output = nb.Output(out)
    t0 = time.perf_counter()
    cpu0 = time.thread_time()
    for p in paths:
        res = nb.process_night(nb.NightJob(str(p)), version)
        assert res["status"] == "ok", res
        if output is not None:
            output.commit(res)
    return time.perf_counter() - t0, time.thread_time() - cpu0


def _warm_one(path: str) -> int:
    from nightcramp import batch as nb

    nb.process_night(nb.NightJob(path), nb.detector_version())
    return os.getpid()


def _plain(paths: list[Path], pool: Any) -> float:
    """Wall time of the nights on a plain pool of 2 warm processes (no Dask, no parts
    written): what 2 cores give this work at best, the ceiling of any batch machinery."""
    t = time.perf_counter()
    for _ in pool.imap_unordered(_warm_one, [str(p) for p in paths], chunksize=1):
        pass
    return time.perf_counter() - t


def _dask(paths: list[Path], workers: int, warm: Path) -> dict[str, Any]:
    from distributed import Client

    from nightcramp import batch as nb

    t0 = time.perf_counter()
    cluster = nb.local_cluster(workers, "2GiB", dashboard=False)
    try:
        with Client(cluster) as client:
            client.wait_for_workers(workers)
            start_s = time.perf_counter() - t0
            # warm every worker (imports) on a small night, as a long batch would be
            out = OUT / f"run-{workers}w"
            shutil.rmtree(out, ignore_errors=True)
            warm_jobs = [nb.NightJob(str(warm))]
            for w in client.scheduler_info()["workers"]:
                client.submit(
                    nb.process_night, warm_jobs[0], nb.detector_version(), workers=[w],
                    pure=False,
                ).result()  # fmt: skip
            # the scheduler's round trip for an empty task, one at a time
            n_empty = 200
            t1 = time.perf_counter()
            for _ in range(n_empty):
                client.submit(int, 1, pure=False).result()
            rtt = (time.perf_counter() - t1) / n_empty
            jobs = [nb.NightJob(str(p)) for p in paths]
            import psutil

            me = psutil.Process()
            worker_pids = set(client.run(os.getpid).values())
            nannies = [c for c in me.children() if c.pid not in worker_pids]

            def nanny_cpu() -> float:
                return sum(sum(c.cpu_times()[:2]) for c in nannies)

            w0, c0, n0 = client.run(time.process_time), time.process_time(), nanny_cpu()
            t2 = time.perf_counter()
            rep = nb.run_batch(jobs, out, client=client)
            wall = time.perf_counter() - t2
            w1, c1, n1 = client.run(time.process_time), time.process_time(), nanny_cpu()
            # every thread of the workers, plus this process (client + scheduler)
            worker_cpu = sum(w1[w] - w0[w] for w in w1)
            all_cpu = worker_cpu + (c1 - c0)
            assert rep.done == len(paths) and rep.failed == 0, rep
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    finally:
        cluster.close()
    return {
        "wall_s": wall,
        "task_s": rep.night_seconds,
        "task_cpu_s": rep.night_cpu_s,
        "write_s": rep.write_s,
        "all_cpu_s": all_cpu,
        "worker_cpu_s": worker_cpu,
        "client_cpu_s": c1 - c0,
        "nanny_cpu_s": n1 - n0,
        "start_s": start_s,
        "rtt_s": rtt,
        "worker_peak_mb": sorted(peaks.values()),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=16, help="nights in the batch (16)")
    ap.add_argument("--hours", type=float, default=1.0, help="hours per night (1)")
    ap.add_argument("--long-hours", type=float, default=8.0, help="the long night (8)")
    ap.add_argument(
        "--repeat", type=int, default=3, help="times the loop and 2 workers run, alternating (3)"
    )
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.measure:
        _measure_one(a.measure)
        return
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores; {_load()}")
    t = time.perf_counter()
    paths = [_night(a.hours, 100 + i) for i in range(a.nights)]
    warm = _night(0.05, 99)
    long = _night(a.long_hours, 200)
    print(f"nights ready ({time.perf_counter() - t:.0f} s): {a.nights} x {a.hours:g} h")

    print(f"\n== {a.nights} nights of {a.hours:g} h ({_load()})")
    night_h = a.nights * a.hours

    def row(name: str, wall: float, n_cores: int) -> None:
        per_core = a.nights / (wall / 3600.0) / n_cores
        print(
            f"{name:<22} {wall:7.2f} s  {a.nights / wall * 3600:8.0f} nights/h  "
            f"{per_core:8.0f} nights/h/core  {night_h * 3600 / wall:6.0f}x real time"
        )

    # The loop and the 2-worker batch alternate, so a neighbour's burst of work lands on
    # both arms alike; the speedup is given from the medians and from the best runs.
    import multiprocessing

    pool = multiprocessing.get_context("spawn").Pool(2)
    pool.map(_warm_one, [str(warm)] * 2, chunksize=1)
    seqs: list[tuple[float, float]] = []
    jobs_seq: list[float] = []
    d2s: list[dict[str, Any]] = []
    plains: list[float] = []
    for k in range(max(1, a.repeat)):
        seqs.append(_sequential(paths))
        row(f"sequential loop #{k + 1}", seqs[-1][0], 1)
        print(f"{'':<22} (cpu {seqs[-1][1]:.2f} s; {_load()})")
        jobs_seq.append(_sequential(paths, write=True)[0])
        row(f"loop + parts #{k + 1}", jobs_seq[-1], 1)
        plains.append(_plain(paths, pool))
        row(f"2 plain processes #{k + 1}", plains[-1], 2)
        d2s.append(_dask(paths, 2, warm))
        d = d2s[-1]
        row(f"dask, 2 workers #{k + 1}", d["wall_s"], 2)
        print(f"{'':<22} (tasks: {d['task_s']:.2f} s, cpu {d['task_cpu_s']:.2f} s; {_load()})")
    pool.close()
    d1 = _dask(paths, 1, warm)
    row("dask, 1 worker", d1["wall_s"], 1)
    print(f"{'':<22} (tasks: {d1['task_s']:.2f} s, cpu {d1['task_cpu_s']:.2f} s; {_load()})")
    seq_walls = [w for w, _ in seqs]
    d2_walls = [d["wall_s"] for d in d2s]
    seq, d2_wall = statistics.median(seq_walls), statistics.median(d2_walls)
    seq_cpu = statistics.median(c for _, c in seqs)
    d2 = d2s[d2_walls.index(sorted(d2_walls)[len(d2_walls) // 2])]  # the median run
    print(
        f"speedup, 2 workers vs the loop: {seq / d2_wall:.2f}x from the medians of "
        f"{len(seqs)} runs each, {min(seq_walls) / min(d2_walls):.2f}x best vs best "
        f"(goal >= 1.8x on 2 cores); vs 1 worker: {d1['wall_s'] / d2_wall:.2f}x; "
        f"loop walls {', '.join(f'{w:.1f}' for w in seq_walls)} s, 2 workers "
        f"{', '.join(f'{w:.1f}' for w in d2_walls)} s"
    )
    print(
        f"speedup, 2 workers vs the same job in a loop (detect + write the parts): "
        f"{statistics.median(jobs_seq) / d2_wall:.2f}x from the medians (loop walls "
        f"{', '.join(f'{w:.1f}' for w in jobs_seq)} s)"
    )
    print(
        f"the ceiling, 2 plain processes (no Dask, no parts) vs the loop: "
        f"{seq / statistics.median(plains):.2f}x (medians; walls "
        f"{', '.join(f'{w:.2f}' for w in plains)} s): Dask's 2 workers reach "
        f"{statistics.median(plains) / d2_wall:.0%} of it"
    )
    over = max(0.0, (d1["wall_s"] - d1["task_s"]) / a.nights)
    # on a shared machine the wall clock measures the neighbours; CPU does not: with the
    # same CPU per night in a worker as in the loop, 2 free cores would give
    per_loop = seq_cpu / a.nights
    per_task = d2["task_cpu_s"] / a.nights
    per_all = d2["all_cpu_s"] / a.nights
    print(
        f"speedup projected from CPU for 2 free cores: {2 * per_loop / per_all:.2f}x "
        f"(CPU per night: loop {per_loop * 1000:.0f} ms; 2-worker batch {per_all * 1000:.0f} "
        f"ms in all, workers' every thread + client + scheduler, of which the task "
        f"{per_task * 1000:.0f} ms)"
    )
    for name, d in (("1 worker", d1), ("2 workers", d2)):
        print(
            f"CPU per night, {name}: workers {d['worker_cpu_s'] / a.nights * 1000:.0f} ms "
            f"(task {d['task_cpu_s'] / a.nights * 1000:.0f}), client+scheduler "
            f"{d['client_cpu_s'] / a.nights * 1000:.0f} ms, nannies "
            f"{d['nanny_cpu_s'] / a.nights * 1000:.0f} ms; loop {per_loop * 1000:.0f} ms "
            f"({_load()})"
        )
    print(
        f"batch overhead per night (1 worker: wall - the tasks' own time, incl. the "
        f"Parquet parts): {over * 1000:.0f} ms, of which the client writing the night's "
        f"two parts {d1['write_s'] / a.nights * 1000:.0f} ms; scheduler round trip of an "
        "empty task: "
        f"{d1['rtt_s'] * 1000:.1f} ms; cluster start: {d1['start_s']:.1f} s (1 worker), "
        f"{d2['start_s']:.1f} s (2 workers)"
    )

    print(f"\n== peak memory ({_load()})")
    floor = _fresh_process_peak("-")
    print(f"imports only (the floor of any worker): {floor['peak_rss_mb']:6.0f} MB")
    for h, p in ((a.hours, paths[0]), (a.long_hours, long)):
        m = _fresh_process_peak(str(p))
        print(
            f"one {h:g}-h night in a fresh process:     {m['peak_rss_mb']:6.0f} MB peak "
            f"({m['peak_rss_mb'] - floor['peak_rss_mb']:+.0f} MB over the floor; "
            f"{m['wall_s']:.1f} s, cpu {m['cpu_s']:.1f} s incl. first imports, "
            f"{m['warm_cpu_s']:.2f} s warm; goal < 300 MB)"
        )
    peaks = ", ".join(f"{x:.0f}" for x in d2["worker_peak_mb"])
    print(f"each worker after the 2-worker batch:  {peaks} MB peak")
    print(f"\n{_load()}")


if __name__ == "__main__":
    main()
