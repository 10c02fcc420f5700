"""Live recording benchmark: CPU per hour streamed, cramp-to-log delay, link throughput.

Run: ``.venv/bin/python -m benchmarks.bench_live [--hours 1] [--speed 200]``

1. **CPU per hour of sensor time** (2 EMG channels at 1 kHz, accelerometer at 50 Hz,
   detection on), measured in *two processes* so the sides do not mix: the emulated
   sensor serves its virtual controller over HCI/TCP on 127.0.0.1 in a child process;
   this process runs the production recorder (bleak over the bumble host).  Printed:

   * recorder + detector: CPU inside the notification callbacks (every characteristic)
     and the finish -- the host session, decoding, writing the recording, assembling,
     detecting, logging.  This is what a
     real host spends (goal < 2 % of one core = 72 CPU-s per hour);
   * bumble host stack in this process (the rest of this process's CPU): on a real host
     that work is BlueZ/CoreBluetooth's, in C;
   * emulator (sensor firmware + its bumble host and controllers): the test harness.

2. **Cramp onset -> cramp log delay**, one process with the emulated host clock (the
   night's own time, so accelerated runs report real-time delays): for every true cramp,
   the sensor time at which it reached the cramp log, minus the cramp's true onset and
   end: first as a *provisional* cramp (the early notice, sent once the cramp rules have
   held for ``DetectorConfig.cramp_min_s`` while the cramp goes on: its delay from the
   onset is the one to compare with the goal, < 5 s beyond that minimum duration), then
   as the final event, which replaces the provisional row when the episode closes
   (~2.5 s after the cramp ends, later if relief activity directly follows it).

3. **Hours of sensor time per minute the virtual link carries** (one process, speed
   uncapped): what limits it is printed from the CPU split.

4. **Two sensors beside one** (``--legs-only`` runs just this): one process, the
   emulated sensors in it too, so only the recorder's own work is timed (thread CPU inside
   every notification callback, each recorder's finish and the two-leg night's finish,
   ``nightcramp.legs_night``).  The same night length is recorded with one sensor
   (``run_emulated``) and with two (``run_emulated_legs``, one recorder per leg), in the
   same run; printed per hour of night, and per sensor.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _cpu_two_process(hours: float, speed: float, tmp: Path) -> dict[str, float]:
    from emulator.virtual import RemoteAir
    from nightcramp.recorder import Recorder

    dur = hours * 3600.0
    sensor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator.virtual.sensor",
            "--port",
            "0",
            "--duration",
            str(dur),
            "--speed",
            str(speed),
            "--seed",
            "11",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sensor.stdout is not None
    port = int(sensor.stdout.readline().split()[1])
    cb_cpu = [0.0]

    async def main() -> Recorder:
        air = RemoteAir(port)
        rec = Recorder(
            "C2:00:00:00:00:01",
            out_dir=tmp / "rec",
            db=tmp / "db.sqlite3",
            scanner_kwargs=air.scanner_kwargs(),
            client_kwargs=air.client_kwargs(pair=True),
            status_stream=io.StringIO(),
        )
        inner = rec._on_notify

        def timed(uuid: str, char: Any, data: bytearray) -> None:
            t = time.thread_time()
            inner(uuid, char, data)
            cb_cpu[0] += time.thread_time() - t

        rec._on_notify = timed  # type: ignore[method-assign]
        inner_fin = rec._finalise

        async def timed_fin() -> None:
            t = time.thread_time()
            await inner_fin()
            cb_cpu[0] += time.thread_time() - t

        rec._finalise = timed_fin  # type: ignore[method-assign]
        try:
            await rec.run()
        finally:
            await air.close()
        return rec

    p0, w0 = time.process_time(), time.monotonic()
    rec = asyncio.run(main())
    proc = time.process_time() - p0
    wall = time.monotonic() - w0
    sensor.send_signal(signal.SIGINT)
    _, err = sensor.communicate(timeout=30)
    emu = float(next(line.split()[1] for line in err.splitlines() if line.startswith("CPU ")))
    h = rec._timeline_s / 3600.0
    return {
        "hours": h,
        "wall_s": wall,
        "recorder_cpu_per_h": cb_cpu[0] / h,
        "host_stack_cpu_per_h": (proc - cb_cpu[0]) / h,
        "emulator_cpu_per_h": emu / h,
        "frames": rec.stats.data_frames,
        "gaps": len(rec.assembler.gaps) if rec.assembler else -1,
    }


def _delay_and_throughput(hours: float, speed: float, tmp: Path) -> dict[str, Any]:
    from detector.detect import DetectorConfig
    from emulator.night import make_night
    from emulator.virtual.sensor import Faults
    from nightcramp.emulated import run_emulated

    dur = hours * 3600.0
    night = make_night(11, dur, cramps=max(2, int(3 * hours)), walks=1, plm_series=1)
    logged: list[tuple[Any, float]] = []
    holder: dict[str, Any] = {}

    def on_event(ev: Any) -> None:
        if ev.kind == "cramp":
            logged.append((ev, holder["sensor"].sensor_s, holder["rec"]._timeline_s))

    def notice(ev: Any) -> bool:
        return bool(ev.is_notice)

    async def main() -> Any:
        from nightcramp import emulated as session

        orig = session.EmulatedSensor.start

        async def start(self: Any, where: Any) -> None:
            holder["sensor"] = self
            await orig(self, where)

        session.EmulatedSensor.start = start  # type: ignore[method-assign]
        from nightcramp import recorder as recmod

        orig_init = recmod.Recorder.__init__

        def init(self: Any, *a: Any, **k: Any) -> None:
            holder["rec"] = self
            orig_init(self, *a, **k)

        recmod.Recorder.__init__ = init  # type: ignore[method-assign]
        try:
            return await run_emulated(
                night,
                speed=speed,
                duration_s=dur,
                faults=Faults(),
                out_dir=tmp / "rec1",
                db=tmp / "db1.sqlite3",
                status_stream=io.StringIO(),
                on_event=on_event,
            )
        finally:
            session.EmulatedSensor.start = orig  # type: ignore[method-assign]
            recmod.Recorder.__init__ = orig_init  # type: ignore[method-assign]

    p0 = time.process_time()
    run = asyncio.run(main())
    cpu = time.process_time() - p0
    rec = run.recorder
    first_t = None
    if rec.recording_path is not None:
        from firmware_protocol import codec
        from recordings.store import iter_frames, open_recording

        for batch in iter_frames(open_recording(rec.recording_path)):
            for raw in batch.column("raw").to_pylist():
                try:
                    f = codec.decode_frame(raw)
                except codec.ProtocolError:
                    continue
                if isinstance(f, codec.DataFrame) and f.seq == 0:
                    first_t = f.t_us / 1e6
                    break
            if first_t is not None:
                break
    k0 = first_t or 0.0
    rows = []
    for t in [t for t in night.truth if t.kind == "cramp"]:
        over = [m for m in logged if m[0].start_s + k0 < t.end_s and m[0].end_s + k0 > t.start_s]
        prov = [m for m in over if m[0].is_notice][:1]  # incl. a retracted one
        match = [m for m in over if not notice(m[0])]
        p_on = prov[0][1] - t.start_s if prov else None
        if match:
            ev, at, tl = match[0]
            # detector lag: data it had seen past the event's end when it closed it;
            # BLE + recorder lag: sensor time at logging minus the data the recorder had
            rows.append(
                (
                    t.start_s,
                    t.end_s,
                    at - t.start_s,
                    at - t.end_s,
                    tl - ev.end_s,
                    at - (tl + k0),
                    p_on,
                )  # fmt: skip
            )
        else:
            rows.append((t.start_s, t.end_s, None, None, None, None, p_on))
    return {
        "hours": rec._timeline_s / 3600.0,
        "wall_s": run.wall_s,
        "cpu_s": cpu,
        "cramps": rows,
        "cramp_min_s": DetectorConfig().cramp_min_s,
    }


def _cpu_legs(hours: float, speed: float, tmp: Path) -> dict[str, dict[str, float]]:
    """Recorder CPU per hour of night: one sensor, then two (one per leg), one process."""
    from emulator.night import make_night
    from nightcramp.emulated import run_emulated, run_emulated_legs
    from nightcramp.legs_night import LegsNight
    from nightcramp.recorder import Recorder

    cpu = [0.0]
    on_notify, finalise, finish = Recorder._on_notify, Recorder._finalise, LegsNight.finish

    def timed_notify(self: Any, char: str, c: Any, data: bytearray) -> None:
        t = time.thread_time()
        on_notify(self, char, c, data)
        cpu[0] += time.thread_time() - t

    async def timed_finalise(self: Any) -> None:
        t = time.thread_time()
        await finalise(self)
        cpu[0] += time.thread_time() - t

    def timed_finish(self: Any) -> Any:
        t = time.thread_time()
        try:
            return finish(self)
        finally:
            cpu[0] += time.thread_time() - t

    dur = hours * 3600.0
    out: dict[str, dict[str, float]] = {}
    Recorder._on_notify = timed_notify  # type: ignore[method-assign]
    Recorder._finalise = timed_finalise  # type: ignore[method-assign]
    LegsNight.finish = timed_finish  # type: ignore[method-assign]
    try:
        cpu[0] = 0.0
        w0 = time.monotonic()
        one = asyncio.run(
            run_emulated(make_night(11, dur), speed=speed, duration_s=dur, out_dir=tmp / "one",
                         db=tmp / "one.sqlite3", status_stream=io.StringIO())  # fmt: skip
        )
        h = one.recorder._timeline_s / 3600.0
        out["one"] = {"cpu_per_h": cpu[0] / h, "hours": h, "wall_s": time.monotonic() - w0,
                      "frames": one.recorder.stats.data_frames, "sensors": 1}  # fmt: skip
        cpu[0] = 0.0
        w0 = time.monotonic()
        srcs = {side: make_night(11 + k, dur, side=side) for k, side in enumerate(("left", "right"))}
        two = asyncio.run(
            run_emulated_legs(srcs, speed=speed, duration_s=dur, out_dir=tmp / "two",
                              db=tmp / "two.sqlite3", status_stream=io.StringIO())  # fmt: skip
        )
        h = max(r._timeline_s for r in two.recorders.values()) / 3600.0
        out["two"] = {"cpu_per_h": cpu[0] / h, "hours": h, "wall_s": time.monotonic() - w0,
                      "frames": sum(r.stats.data_frames for r in two.recorders.values()),
                      "sensors": 2, "gaps": len(two.result.gaps) if two.result else -1}  # fmt: skip
    finally:
        Recorder._on_notify = on_notify  # type: ignore[method-assign]
        Recorder._finalise = finalise  # type: ignore[method-assign]
        LegsNight.finish = finish  # type: ignore[method-assign]
    return out


def _print_legs(c: dict[str, dict[str, float]]) -> None:
    print("\n4. Two sensors beside one (one process; recorder callbacks + finish timed)")
    for k in ("one", "two"):
        r = c[k]
        n = int(r["sensors"])
        print(
            f"   {n} sensor{'s' if n > 1 else ' '}: {r['cpu_per_h']:6.1f} CPU-s per hour of night "
            f"= {r['cpu_per_h'] / 36:.2f} % of one core (goal < 2 %); "
            f"{r['cpu_per_h'] / n:5.1f} CPU-s/h per sensor; {r['hours']:.2f} h, "
            f"{int(r['frames'])} frames, {r['wall_s']:.0f} s wall"
        )
    print(f"   two / one: {c['two']['cpu_per_h'] / c['one']['cpu_per_h']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0, help="sensor time per run, h")
    ap.add_argument("--speed", type=float, default=200.0, help="sensor time / wall time")
    ap.add_argument("--legs-only", action="store_true", help="only section 4 (two sensors)")
    args = ap.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    import warnings

    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp(prefix="bench_live-"))
    print(
        f"bench_live: {args.hours:g} h of sensor time, 2 EMG @ 1 kHz + acc @ 50 Hz, speed {args.speed:g}x"
    )
    if args.legs_only:
        _print_legs(_cpu_legs(args.hours, args.speed, tmp))
        return

    c = _cpu_two_process(args.hours, args.speed, tmp)
    print("\n1. CPU per hour of sensor time (two processes, HCI over TCP on 127.0.0.1)")
    print(
        f"   streamed {c['hours']:.2f} h in {c['wall_s']:.0f} s wall, {c['frames']} frames, {c['gaps']} gaps"
    )
    print(
        f"   recorder + detector (what a real host spends): {c['recorder_cpu_per_h']:6.1f} CPU-s/h "
        f"= {c['recorder_cpu_per_h'] / 36:.2f} % of one core (goal < 2 %)"
    )
    print(
        f"   bumble host stack in the recorder process:       {c['host_stack_cpu_per_h']:6.1f} CPU-s/h "
        "(BlueZ/CoreBluetooth's job on a real host)"
    )
    print(
        f"   emulator process (firmware + bumble, harness):   {c['emulator_cpu_per_h']:6.1f} CPU-s/h"
    )

    d = _delay_and_throughput(args.hours, args.speed * 5, tmp)
    print(
        "\n2. Cramp onset -> cramp log (sensor time): provisional notice while the cramp goes "
        "on, final event when its episode closes"
    )
    m = d["cramp_min_s"]
    print(
        f"   detector minimum cramp duration: {m:g} s (goal: provisional < {m + 5:g} s after onset)"
    )
    for s0, s1, from_on, from_end, det_lag, link_lag, p_on in d["cramps"]:
        head = f"   cramp {s0:7.1f}-{s1:7.1f} s ({s1 - s0:5.1f} s): "
        prov = (
            f"provisional logged {p_on:5.1f} s after onset; "
            if p_on is not None
            else "no provisional notice; "
        )
        if from_on is None:
            print(head + prov + "final: not detected")
        else:
            print(
                head
                + prov
                + f"final {from_on:6.1f} s after onset = {from_end:5.1f} s after its end "
                f"(the detector closed it with data {det_lag:.1f} s past its end, "
                f"incl. the <= 1 s feed block; BLE + recorder {link_lag:.2f} s)"
            )
    print("\n3. Virtual link throughput (one process, everything in one core)")
    print(
        f"   {d['hours']:.2f} h in {d['wall_s']:.1f} s wall = {d['hours'] / d['wall_s'] * 60:.1f} h of sensor "
        f"time per minute; process CPU {d['cpu_s']:.1f} s ({d['cpu_s'] / max(d['wall_s'], 1e-9) * 100:.0f} % of a core)"
    )
    print(
        "   limit: one Python thread runs the emulated firmware, both bumble stacks and the "
        "recorder; see the CPU split above."
    )
    _print_legs(_cpu_legs(args.hours, args.speed, tmp))


if __name__ == "__main__":
    main()
