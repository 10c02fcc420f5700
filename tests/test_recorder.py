"""The live recorder through bleak + the bumble backend against the emulated sensor.

Nothing here is mocked: the emulated sensor runs P's ``SensorFirmware`` over a software
Bluetooth LE stack (bumble host + virtual controllers), the recorder is the production
one with bleak's ``backend=`` swapped.  Sensor time is accelerated (``speed``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator.night import make_night
from emulator.virtual import LocalAir, RemoteAir
from emulator.virtual.sensor import EmulatedSensor, Faults, make_firmware
from firmware_protocol import codec
from nightcramp.emulated import EmulatedRun, run_emulated
from nightcramp.recorder import Recorder
from recordings.store import RecordingSource, iter_frames, open_recording

REPO = Path(__file__).resolve().parents[1]
SPEED = 200.0


def _run(
    tmp: Path,
    duration_s: float,
    faults: Faults | None = None,
    seed: int = 5,
    speed: float = SPEED,
    timeout_s: float = 240.0,
    on_event: Any = None,
    **night_kw: Any,
) -> tuple[EmulatedRun, Any]:
    night = make_night(seed, duration_s, **night_kw)
    run = asyncio.run(
        asyncio.wait_for(
            run_emulated(
                night,
                speed=speed,
                duration_s=duration_s,
                faults=faults or Faults(),
                seed=seed,
                out_dir=tmp / "rec",
                db=tmp / "db.sqlite3",
                status_stream=io.StringIO(),
                on_event=on_event,
            ),
            timeout_s,
        )
    )
    return run, night


def _data_frames(path: Path) -> list[codec.DataFrame]:
    out = []
    for batch in iter_frames(open_recording(path)):
        for raw in batch.column("raw").to_pylist():
            try:
                f = codec.decode_frame(raw)
            except codec.ProtocolError:
                continue
            if isinstance(f, codec.DataFrame):
                out.append(f)
    return out


def _expected_frames(run: EmulatedRun, duration_s: float) -> int:
    cfg = run.sensor.fw.config_frame()
    return int(duration_s * cfg.emg_fs) // cfg.emg_per_frame


def _check_complete(run: EmulatedRun, duration_s: float) -> list[codec.DataFrame]:
    rec = run.recorder
    assert rec.recording_path is not None
    frames = _data_frames(rec.recording_path)
    seqs = sorted({f.seq for f in frames})
    assert seqs == list(range(len(seqs)))  # nothing missing
    assert len(seqs) >= _expected_frames(run, duration_s) - 1
    assert rec.assembler is not None and rec.assembler.gaps == []
    assert rec._timeline_s == pytest.approx(duration_s, abs=0.1)
    return frames


def test_accelerated_stream_arrives_complete_in_order_and_replays_identically(
    isolated_home: Path,
) -> None:
    dur = 600.0
    live_sunk: list[Any] = []
    run, night = _run(
        isolated_home, dur, cramps=1, walks=1, plm_series=1, on_event=live_sunk.append
    )
    frames = _check_complete(run, dur)
    live = [f.seq for f in frames if True]
    first_pass = []  # frames as first received: strictly increasing seq
    seen: set[int] = set()
    for s in live:
        if s not in seen:
            first_pass.append(s)
            seen.add(s)
    assert first_pass == sorted(first_pass)
    rec = run.recorder
    assert rec.result is not None and rec.stats.disconnects == 0  # its own final one: no loss
    # the saved recording replays to exactly the live events (same assembler, same detector)
    from detector.pipeline import run as run_pipeline

    src = RecordingSource(rec.recording_path)
    # meta.json carries the sensor configuration under the keys recordings/README.md names
    config = json.loads((rec.recording_path / "meta.json").read_text())["config"]
    assert {"emg_fs", "n_ch", "emg_bits", "acc_fs", "acc_range_g", "emg_per_frame"} <= set(config)
    assert config["emg_scale_uv"] > 0
    replay = run_pipeline(src)
    assert [(e.kind, e.start_s, e.end_s) for e in replay.events] == [
        (e.kind, e.start_s, e.end_s) for e in rec.result.events
    ]
    # and the cramp log holds the night, complete
    from nightcramp.cramplog import CrampLog

    with CrampLog.open(isolated_home / "db.sqlite3") as lg:
        night_row = lg.night(rec.night_id)
        assert night_row is not None and night_row["status"] == "complete"
        # one row per final event: early cramp notices were replaced or retracted
        rows = lg.events(rec.night_id)
        assert len(rows) == len(rec.result.events)
        assert not any(r["context"].get("provisional") for r in rows)
    assert open_recording(rec.recording_path).closed_cleanly
    # the early cramp notices: the cramp was noticed while it went on, and a replay fed
    # the assembler's chunks sends the sinks exactly what the live recorder sent
    from detector.pipeline import Pipeline

    def flags(evs: list[Any]) -> list[tuple[Any, ...]]:
        return [(e.kind, e.start_s, e.end_s, e.notice, e.replaces_start_s) for e in evs]

    has_cramp = any(t.kind == "cramp" for t in night.truth)
    assert any(e.is_notice for e in live_sunk) == has_cramp  # walking: none
    assert sum(not e.is_notice for e in live_sunk) == len(rec.result.events)
    assert sum(rec.stats.events.values()) == len(rec.result.events)
    replay_sunk: list[Any] = []
    src2 = RecordingSource(rec.recording_path)
    pipe = Pipeline(src2.layout, on_event=replay_sunk.append)
    for item in src2.chunks():
        pipe.feed(item)
    pipe.finish()
    assert flags(replay_sunk) == flags(live_sunk)


def test_cramp_noticed_live_while_it_goes_on_and_replay_sends_the_same(
    isolated_home: Path,
) -> None:
    """Early cramp notice through BLE + recorder: the provisional cramp reaches the sinks
    within min duration + 5 s of the onset (timeline), the log ends with one final row,
    and a replay fed the assembler's chunks sends the sinks the same stream."""
    from detector.detect import DetectorConfig
    from detector.pipeline import Pipeline
    from nightcramp.cramplog import CrampLog

    sunk: list[Any] = []
    run, night = _run(
        isolated_home, 900.0, seed=4, cramps=1, cramp_durations=(80.0,), walks=0,
        plm_series=0, on_event=sunk.append,
    )  # fmt: skip
    rec = run.recorder
    assert rec.result is not None and rec.recording_path is not None
    truth = [t for t in night.truth if t.kind == "cramp"]
    prov = [e for e in sunk if e.notice == "provisional"]
    assert len(truth) == 1 and len(prov) == 1
    # the timeline starts at the first frame (<= 1 frame after the night's 0)
    assert prov[0].end_s - truth[0].start_s <= DetectorConfig().cramp_min_s + 5.0
    assert prov[0].end_s < truth[0].end_s
    final = [e for e in sunk if e.replaces_start_s is not None]
    assert len(final) == 1 and final[0].replaces_start_s == prov[0].start_s
    with CrampLog.open(isolated_home / "db.sqlite3") as lg:
        rows = [r for r in lg.events(rec.night_id) if r["kind"] == "cramp"]
        assert len(rows) == 1 and not rows[0]["context"].get("provisional")
    replay: list[Any] = []
    src = RecordingSource(rec.recording_path)
    pipe = Pipeline(src.layout, on_event=replay.append)
    for item in src.chunks():
        pipe.feed(item)
    pipe.finish()
    assert [(e.kind, e.start_s, e.end_s, e.notice, e.replaces_start_s) for e in replay] == [
        (e.kind, e.start_s, e.end_s, e.notice, e.replaces_start_s) for e in sunk
    ]


@pytest.mark.slow
def test_accelerated_hour_arrives_complete(isolated_home: Path) -> None:
    run, _ = _run(isolated_home, 3600.0, speed=400.0, cramps=2, walks=1, plm_series=1)
    _check_complete(run, 3600.0)


def test_link_drops_with_backfill_lose_nothing(isolated_home: Path) -> None:
    dur = 400.0
    run, _ = _run(isolated_home, dur, Faults(drops=[(60.0, 10.0), (200.0, 45.0)]))
    _check_complete(run, dur)
    rec = run.recorder
    assert rec.stats.disconnects >= 2 and rec.stats.resends >= 2
    assert run.sensor.stats["dropped_on_air"] > 0  # frames really were lost on the air


def test_drop_longer_than_ring_buffer_is_an_explicit_gap_of_the_right_length(
    isolated_home: Path,
) -> None:
    dur, at, away = 500.0, 100.0, 200.0
    run, _ = _run(isolated_home, dur, Faults(drops=[(at, away)]))
    rec = run.recorder
    assert rec.assembler is not None
    gaps = rec.assembler.gaps
    assert len(gaps) == 1 and gaps[0].reason == "sensor-loss"
    ring_s = run.sensor.fw.ring_s
    # lost: from what was last received before the drop (the frames queued on the air at
    # the drop are lost too) to what the ring still held when the host asked again
    resend_at = [t for t in run.sensor.resend_at if t >= at + away]
    assert resend_at, run.sensor.resend_at
    assert gaps[0].end_s == pytest.approx(resend_at[0] - ring_s, abs=0.5)
    assert at - 5.0 <= gaps[0].start_s <= at + 0.2  # the drop comes at the first step >= at
    assert gaps[0].duration_s >= away - ring_s
    assert rec._timeline_s == pytest.approx(dur, abs=0.1)  # both sides kept their place
    assert rec.stats.loss_frames >= 1


def test_sensor_reboot_is_handled(isolated_home: Path) -> None:
    dur = 300.0
    run, _ = _run(isolated_home, dur, Faults(reboots=[120.0]))
    rec = run.recorder
    assert rec.assembler is not None and rec.assembler.stats["reboots"] == 1
    reboot_gaps = [g for g in rec.assembler.gaps if g.reason == "reboot"]
    assert len(reboot_gaps) == 1
    g = reboot_gaps[0]
    # from the last frame before the reboot to the new boot's first sample: the sensor was
    # away >= 1 s, then re-advertised; the host reconnected and restarted it
    assert 119.0 <= g.start_s <= 120.2 and 121.0 <= g.end_s < 120.0 + 60.0
    boots = {f.boot_id for f in _data_frames(rec.recording_path)}
    assert len(boots) == 2
    assert rec.result is not None and rec._timeline_s > dur - 10.0


@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_clock_alignment_under_50ms_with_drift_through_ble(isolated_home: Path, ppm: float) -> None:
    dur = 900.0
    run, _ = _run(isolated_home, dur, Faults(drift_ppm=ppm, drops=[(300.0, 20.0)]))
    rec = run.recorder
    assert rec.assembler is not None
    frames = _data_frames(rec.recording_path)
    first = min(frames, key=lambda f: f.seq)
    start_ns = rec.clock_ns() - int(run.sensor.sensor_s * 1e9)  # the emulated host epoch
    errs = []
    for t in np.linspace(0.0, dur, 31):
        true_s = (first.t_us / 1e6 + t) / (1.0 + ppm * 1e-6)  # firmware: osc = true*(1+ppm)
        wt = rec.assembler.wall_time(float(t))
        assert wt is not None
        got_ns = int(round(wt.timestamp() * 1e9))
        errs.append(abs(got_ns - (start_ns + true_s * 1e9)) / 1e6)
    assert max(errs) < 50.0, f"max error {max(errs):.1f} ms"
    # ignoring the drift would have been wrong by |ppm| x 900 s = 90 ms at the end
    assert abs(ppm) * 1e-6 * dur * 1e3 > 50.0


def test_corrupted_frames_are_counted_skipped_and_repaired(isolated_home: Path) -> None:
    dur = 300.0
    run, _ = _run(isolated_home, dur, Faults(corrupt_every=97))
    rec = run.recorder
    assert rec.assembler is not None
    assert rec.assembler.stats["corrupt"] >= 50
    assert rec.stats.hole_resends >= 1
    # the sensor's ring held good copies: nothing lost (seq 0 was corrupt too, and the
    # timeline starts at the first frame received, so there is no hole before it)
    seqs = sorted({f.seq for f in _data_frames(rec.recording_path)})
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[0] <= 1
    assert rec.assembler.gaps == []
    assert rec._timeline_s == pytest.approx(dur, abs=0.1)


def test_never_connects_to_an_impostor_with_the_same_name(isolated_home: Path) -> None:
    async def main() -> tuple[Recorder, EmulatedSensor, EmulatedSensor]:
        air = LocalAir()
        name = "NightCramp-7A7A"
        real = EmulatedSensor(
            make_firmware(make_night(2, 300.0), Faults(drops=[(60.0, 30.0)])),
            name=name,
            address="C2:00:00:00:7A:01",
            speed=SPEED,
            faults=Faults(drops=[(60.0, 30.0)]),
        )
        impostor = EmulatedSensor(
            make_firmware(make_night(3, 300.0), Faults()),
            name=name,
            address="C2:00:00:00:7A:02",
            speed=SPEED,
        )
        await real.start(air)
        rec = Recorder(
            name,
            out_dir=isolated_home / "rec",
            db=isolated_home / "db.sqlite3",
            duration_s=300.0,
            scanner_kwargs=air.scanner_kwargs(),
            client_kwargs=air.client_kwargs(pair=True),
            backoff_max_s=0.1,
            status_stream=io.StringIO(),
        )
        task = asyncio.create_task(rec.run())
        while rec.stats.connections == 0:
            await asyncio.sleep(0.01)
        await impostor.start(air)  # same name, advertising from now on
        await asyncio.wait_for(task, 120)
        await real.stop()
        await impostor.stop()
        return rec, real, impostor

    rec, real, impostor = asyncio.run(main())
    assert rec.address == "C2:00:00:00:7A:01"
    assert impostor.stats["connections"] == 0
    assert real.stats["connections"] >= 2  # it did reconnect, to the right one
    assert rec.assembler is not None and rec.assembler.gaps == []


def test_two_sensors_with_one_name_at_start_is_a_user_error(isolated_home: Path) -> None:
    from recordings.errors import UserError

    async def main() -> None:
        air = LocalAir()
        sensors = [
            EmulatedSensor(
                make_firmware(make_night(k, 60.0), Faults()),
                name="NightCramp-DUPE",
                address=f"C2:00:00:00:D0:0{k}",
            )
            for k in (1, 2)
        ]
        for s in sensors:
            await s.start(air)
        rec = Recorder(
            "NightCramp-DUPE",
            out_dir=isolated_home / "rec",
            db=isolated_home / "db",
            scanner_kwargs=air.scanner_kwargs(),
            client_kwargs=air.client_kwargs(pair=True),
            connect_timeout_s=3.0,
            status_stream=io.StringIO(),
        )
        try:
            with pytest.raises(UserError, match="2 sensors advertise this name"):
                await rec.run()
        finally:
            for s in sensors:
                await s.stop()

    asyncio.run(main())


def test_sigint_finalises_the_recording(isolated_home: Path) -> None:
    env = dict(os.environ)
    cmd = [
        sys.executable,
        "-m",
        "nightcramp.cli",
        "record",
        "--emulate",
        "--speed",
        "20",
        "--duration",
        "1h",
        "--out",
        str(isolated_home / "rec"),
        "--db",
        str(isolated_home / "db.sqlite3"),
    ]
    p = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            parts = list((isolated_home / "rec").glob("*/*.arrow*"))
            if parts and sum(f.stat().st_size for f in parts) > 400_000:  # > 60 s of frames
                break
            time.sleep(0.2)
        else:
            pytest.fail("the recorder never wrote frames")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    folder = next((isolated_home / "rec").iterdir())
    info = open_recording(folder)
    assert info.closed_cleanly and info.frames > 100
    from nightcramp.cramplog import CrampLog

    with CrampLog.open(isolated_home / "db.sqlite3") as lg:
        assert lg.night(info.recording_id)["status"] == "complete"
    assert "recording:" in err


def test_two_process_mode_over_tcp(isolated_home: Path) -> None:
    sensor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator.virtual.sensor",
            "--port",
            "0",
            "--duration",
            "120",
            "--speed",
            "100",
            "--seed",
            "4",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sensor.stdout is not None
        line = sensor.stdout.readline()
        assert line.startswith("PORT "), line
        port = int(line.split()[1])

        async def main() -> Recorder:
            air = RemoteAir(port)
            rec = Recorder(
                "C2:00:00:00:00:01",
                out_dir=isolated_home / "rec",
                db=isolated_home / "db",
                scanner_kwargs=air.scanner_kwargs(),
                client_kwargs=air.client_kwargs(pair=True),
                status_stream=io.StringIO(),
            )
            try:
                await asyncio.wait_for(rec.run(), 60)
            finally:
                await air.close()
            return rec

        rec = asyncio.run(main())
    finally:
        sensor.send_signal(signal.SIGINT)
        try:
            sensor.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            sensor.kill()
    assert rec.assembler is not None and rec.assembler.gaps == []
    assert rec._timeline_s == pytest.approx(120.0, abs=0.1)
    seqs = sorted({f.seq for f in _data_frames(rec.recording_path)})
    assert seqs == list(range(len(seqs))) and len(seqs) >= 2900


def test_battery_drain_reaches_low_battery_status_and_status_line(isolated_home: Path) -> None:
    dur = 120.0
    faults = Faults(battery_start_pct=17.0, battery_drain_pct_per_h=120.0)  # 2 % per minute
    run, _ = _run(isolated_home, dur, faults)
    rec = run.recorder
    assert rec.stats.battery is not None and rec.stats.battery <= 14
    assert rec.stats.low_battery
    line = rec.status_line()
    assert "LOW" in line and "gaps 0" in line and "cramps" in line
    log = rec.status_stream.getvalue()  # not a terminal: plain log lines
    assert "\r" not in log and "connected" in log
    assert "sensor battery low" in log  # a plain line, not a logger record
    # STATUS notifications are kept in the recording with the data
    statuses = []
    for batch in iter_frames(open_recording(rec.recording_path)):
        for raw in batch.column("raw").to_pylist():
            f = codec.decode_frame(raw)
            if isinstance(f, codec.StatusFrame):
                statuses.append(f)
    assert statuses and statuses[-1].low_battery


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_clock_alignment_after_8_hours_through_ble(isolated_home: Path) -> None:
    dur, ppm = 8 * 3600.0, 100.0
    drops = [(3600.0 * k + 500.0, 60.0) for k in range(8)]
    faults = Faults(drift_ppm=ppm, drops=drops)
    run, _ = _run(isolated_home, dur, faults, speed=2000.0, timeout_s=1700.0)
    rec = run.recorder
    assert rec.assembler is not None and rec.assembler.gaps == []
    first = min(_data_frames(rec.recording_path), key=lambda f: f.seq)
    start_ns = rec.clock_ns() - int(run.sensor.sensor_s * 1e9)
    errs = []
    for t in np.linspace(0.0, dur, 49):
        true_s = (first.t_us / 1e6 + t) / (1.0 + ppm * 1e-6)
        wt = rec.assembler.wall_time(float(t))
        assert wt is not None
        errs.append(abs(int(round(wt.timestamp() * 1e9)) - (start_ns + true_s * 1e9)) / 1e6)
    assert max(errs) < 50.0, f"max error {max(errs):.1f} ms"


# ------------------------------------------------------------------ the live status line
class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Clock:
    """Stands in for the recorder module's ``time`` (monotonic seconds set by the test)."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def strftime(self, fmt: str) -> str:
        return time.strftime(fmt)

    def time_ns(self) -> int:
        return time.time_ns()


def test_status_line_fits_the_terminal_most_important_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os as _os
    import shutil

    stream = _Tty()
    rec = Recorder("NightCramp-0E01", status_stream=stream)
    rec.stats.events = {"cramp": 2, "movement": 7}
    full = rec.status_line()
    assert len(full) > 80  # all fields: it would wrap on 80 columns
    for width in (30, 50, 80):
        line = rec.status_line(width)
        assert len(line) <= width
        assert line.startswith("scanning") or line.startswith("starting")
    assert "cramps 2" in rec.status_line(50) and "NightCramp-0E01" not in rec.status_line(50)
    assert full.index("cramps") < full.index("battery") < full.index("frames/s")
    # on a terminal every redraw is trimmed to its width, from the very first line
    monkeypatch.setattr(shutil, "get_terminal_size", lambda *a: _os.terminal_size((60, 24)))
    rec.show_status()
    rec._say("sensor battery low: 14 %")
    rec._print_status(force=True)
    draws = [d for d in stream.getvalue().replace("\n", "\r").split("\r") if d]
    assert draws[0].startswith("\x1b[2Kscanning")
    assert all(len(d.replace("\x1b[2K", "")) < 60 for d in draws)
    assert any("battery low" in d for d in draws)  # a message: its own plain line


def test_status_frames_per_second_follows_the_last_two_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nightcramp import recorder as recmod

    clock = _Clock()
    monkeypatch.setattr(recmod, "time", clock)
    rec = Recorder("NightCramp-0E01", status_stream=io.StringIO())
    rates = []
    for t, n in ((0, 0), (1, 25), (2, 50), (3, 150), (4, 250)):
        clock.now = 100.0 + t
        rec.stats.data_frames = n
        rates.append(next(f for f in rec.status_fields() if f.endswith("frames/s")))
    assert rates[2] == "25 frames/s"
    assert rates[3] == "62 frames/s"  # a second after the rate went up, it shows
    assert rates[4] == "100 frames/s"
