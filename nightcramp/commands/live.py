"""``cramp scan`` and ``cramp record``: the live side of the CLI, thin over the recorder."""

from __future__ import annotations

import asyncio
import math
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from nightcramp.durations import parse_duration
from recordings.errors import UserError
from recordings.jsonout import dumps

#: Fastest emulation asked for (sensor time / wall time); the virtual link caps the real
#: pace far below (see benchmarks/bench_live.py).
MAX_SPEED = 10000.0


def in_range(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hint: str = "",
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback refusing a number outside [lo, hi] (``lo_open``: lo excluded) with
    one line naming the option, the value, the range and ``hint``."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return value
        for v in value if isinstance(value, tuple) else (value,):
            ok = math.isfinite(v)
            if lo is not None:
                ok = ok and (v > lo if lo_open else v >= lo)
            if hi is not None:
                ok = ok and v <= hi
            if not ok:
                name = param.opts[0] if param.opts else str(param.name)
                if lo is not None and hi is not None:
                    want = f"{'more than' if lo_open else 'at least'} {lo:g} and at most {hi:g}"
                elif lo is not None:
                    want = f"{'more than' if lo_open else 'at least'} {lo:g}"
                else:
                    want = f"at most {hi:g}"
                raise UserError(f"{name} {v:g}: must be {want}" + (f" ({hint})" if hint else ""))
        return value

    return check


#: The longest night `cramp record` takes (s): the protocol's counters do not wrap in a
#: week (PROTOCOL.md section 3, "No wrap in a week").
MAX_RECORD_S = 7 * 86400.0


def check_duration(text: str | None, *, lo_s: float = 0.0, hi_s: float = MAX_RECORD_S) -> float | None:
    """``--duration`` as seconds (``parse_duration``), within [lo_s, hi_s]."""
    dur = parse_duration(text)
    if dur is not None and not lo_s <= dur <= hi_s:
        raise UserError(
            f"--duration {text}: must be between {_human(lo_s)} and {_human(hi_s)} of sensor time"
        )
    return dur


def _human(s: float) -> str:
    if s > 86400 and s % 86400 == 0:
        return f"{s / 86400:g} days"
    if s >= 3600:
        return f"{s / 3600:g} h"
    return f"{s / 60:g} min" if s >= 60 else f"{s:g} s"


def _parse_drops(drops: tuple[str, ...]) -> list[tuple[float, float]]:
    out = []
    for d in drops:
        try:
            at, dur = d.split(":")
            at_s, dur_s = float(at), float(dur)
        except ValueError:
            raise UserError(
                f"--drop {d!r}: write AT:DURATION in seconds of sensor time, e.g. 600:30"
            ) from None
        if not (math.isfinite(at_s) and math.isfinite(dur_s) and at_s >= 0 and dur_s > 0):
            raise UserError(
                f"--drop {d!r}: AT must be >= 0 and DURATION > 0 s of sensor time, e.g. 600:30"
            )
        out.append((at_s, dur_s))
    return out


@click.command("scan")
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    callback=in_range(0.0, 600.0, lo_open=True, hint="seconds to listen, e.g. 5"),
    help="Seconds to listen (0-600).",
)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.option(
    "--emulate",
    is_flag=True,
    help="Scan a virtual radio with one emulated sensor of each supported kind on it.",
)
def scan(timeout: float, as_json: bool, emulate: bool) -> None:
    """List nearby sensors of every supported kind: kind, name, address, signal, battery,
    and whether this computer is bonded with it (our sensor; `cramp pair`).

    Kinds: nightcramp (our sensor), bitalino (PLUX BITalino (r)evolution BLE), ganglion
    (OpenBCI Ganglion); see docs/devices/.

    \b
    Examples:
      cramp scan
      cramp scan --timeout 10 --json
      cramp scan --emulate          # no hardware: shows one emulated sensor per kind
    """
    from nightcramp.recorder import scan as do_scan

    async def main() -> list[Any]:
        if not emulate:
            return await do_scan(timeout)
        from emulator.night import make_night
        from emulator.virtual import LocalAir
        from emulator.virtual.devices import make_device, night_for
        from emulator.virtual.sensor import EmulatedSensor, Faults, make_firmware

        air = LocalAir()
        sensors: list[Any] = [
            EmulatedSensor(
                make_firmware(make_night(1, 600.0), Faults()),
                name="NightCramp-0E01",
                address="C2:00:00:00:0E:01",
            ),
            make_device("bitalino", night_for("bitalino", 1, 60.0)),
            make_device("ganglion", night_for("ganglion", 1, 60.0)),
        ]
        for sensor in sensors:
            await sensor.start(air)
        try:
            return await do_scan(min(timeout, 1.0), **air.scanner_kwargs())
        finally:
            for sensor in sensors:
                await sensor.stop()
            await air.close()

    try:
        found = asyncio.run(main())
    except Exception as e:  # bleak: no adapter, Bluetooth off, permission
        if isinstance(e, UserError):
            raise
        from nightcramp.recorder import _explain

        raise UserError(
            _explain("cramp scan", e, without="`cramp scan --emulate` or `cramp record --emulate`")
        ) from e
    from nightcramp.pairing import BondBook

    book = BondBook()
    rows = [
        {
            "kind": f.kind,
            "name": f.name,
            "address": f.address,
            "rssi_dbm": f.rssi,
            "battery_pct": f.battery,
            # our sensor bonds (PROTOCOL.md 7); other kinds bring their own pairing
            "bonded": (book.get(f.address) is not None) if f.kind == "nightcramp" else None,
        }
        for f in found
    ]
    if as_json:
        click.echo(dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            "No sensors found. Is the sensor charged and near, and not connected to another "
            "device? (No sensor at hand: `cramp scan --emulate` shows an emulated one.)"
        )
        return
    click.echo(f"{'kind':<11} {'name':<18} {'address':<18} {'RSSI':>6} {'battery':>8}  bonded")
    for r in rows:
        bat = "?" if r["battery_pct"] is None else f"{r['battery_pct']} %"
        bonded = {True: "yes", False: "no", None: "-"}[r["bonded"]]
        click.echo(
            f"{r['kind']:<11} {r['name']:<18} {r['address']:<18} {r['rssi_dbm']:>4} dBm "
            f"{bat:>7}  {bonded}"
        )
    if not emulate and any(r["bonded"] is False for r in rows):
        click.echo("Not bonded yet: `cramp pair --device NAME` once, before recording.")


@click.command("record")
@click.option(
    "--device",
    "devices",
    multiple=True,
    metavar="ADDRESS_OR_NAME",
    help="The sensor (name or address, see `cramp scan`).  Twice: both legs, the first "
    "on the left.",
)
@click.option(
    "--left", "left", default=None, metavar="ADDRESS_OR_NAME", help="The left leg's sensor."
)
@click.option(
    "--right", "right", default=None, metavar="ADDRESS_OR_NAME", help="The right leg's sensor."
)
@click.option(
    "--legs",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="Emulator: 1 sensor, or 2 (one per leg, each its own night, link and faults: "
    "--drop/--reboot go to the left one, --drop-right/--reboot-right to the right one; "
    "--drift-ppm and --corrupt-every to both).",
)
@click.option(
    "--emulate",
    "emulate",
    is_flag=False,
    flag_value="synthetic",
    default=None,
    metavar="[SOURCE]",
    help="Record an emulated sensor instead (no hardware): a synthetic night (default; 1 h "
    "unless --duration), a recording folder or an EDF file replayed as if measured.",
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    callback=in_range(0.0, MAX_SPEED, lo_open=True, hint="1 = real time"),
    help="Emulator: sensor time runs N times faster.",
)
@click.option("--duration", default=None, help="Stop after this much sensor time (8h, 90m, 3600).")
@click.option(
    "--seed",
    default=1,
    show_default=True,
    callback=in_range(0, 2**32 - 1),
    help="Emulator: synthetic night seed.",
)
@click.option(
    "--drop", multiple=True, metavar="AT:DUR", help="Emulator: drop the link at AT s for DUR s."
)
@click.option(
    "--reboot",
    multiple=True,
    type=float,
    metavar="AT",
    callback=in_range(0.0, hint="seconds of sensor time after the start"),
    help="Emulator: reboot at AT s.",
)
@click.option(
    "--drop-right",
    multiple=True,
    metavar="AT:DUR",
    help="Emulator, --legs 2: drop the right sensor's link at AT s for DUR s.",
)
@click.option(
    "--reboot-right",
    multiple=True,
    type=float,
    metavar="AT",
    callback=in_range(0.0, hint="seconds of sensor time after the start"),
    help="Emulator, --legs 2: reboot the right sensor at AT s.",
)
@click.option(
    "--absent",
    type=click.Choice(["left", "right"]),
    default=None,
    help="Emulator, --legs 2: this leg's sensor never powers on (its leg is one gap).",
)
@click.option(
    "--drift-ppm",
    default=0.0,
    callback=in_range(-100.0, 100.0, hint="the protocol allows a sensor clock error of +-100 ppm"),
    help="Emulator: sensor clock error, ppm (-100 to 100).",
)
@click.option(
    "--corrupt-every",
    type=int,
    default=None,
    metavar="N",
    callback=in_range(2, hint="N = 2 corrupts every second frame; leave it out for none"),
    help="Emulator: corrupt every N-th frame (N >= 2; default none).",
)
@click.option("--out", "out", default=None, metavar="DIR", help="Recordings folder.")
@click.option("--db", "db", default=None, metavar="PATH", help="Cramp log database.")
@click.option(
    "--kind",
    type=click.Choice(["nightcramp", "bitalino", "ganglion"]),
    default=None,
    help="Kind of sensor (default: whatever --device turns out to be; with --emulate: "
    "nightcramp).  See docs/devices/.",
)
@click.option(
    "--emg",
    "emg_map",
    default=None,
    metavar="CH=SITE,...",
    help="BITalino/Ganglion: which channels carry EMG from which muscle, e.g. "
    "A1=gastrocnemius,A2=tibialis (default per kind, see docs/devices/).",
)
@click.option(
    "--acc",
    "acc_map",
    default=None,
    metavar="X,Y,Z",
    help="BITalino: the ACC module's channels, e.g. A3,A4,A5; Ganglion: internal; none: off.",
)
@click.option(
    "--virtual-hci",
    "virtual_hci",
    type=int,
    default=None,
    hidden=True,
    help="Use a virtual controller served on 127.0.0.1:PORT by "
    "`python -m emulator.virtual.sensor` (two-process emulation).",
)
def record(
    devices: tuple[str, ...],
    left: str | None,
    right: str | None,
    legs: int,
    drop_right: tuple[str, ...],
    reboot_right: tuple[float, ...],
    absent: str | None,
    emulate: str | None,
    speed: float,
    duration: str | None,
    seed: int,
    drop: tuple[str, ...],
    reboot: tuple[float, ...],
    drift_ppm: float,
    corrupt_every: int | None,
    out: str | None,
    db: str | None,
    kind: str | None,
    emg_map: str | None,
    acc_map: str | None,
    virtual_hci: int | None,
) -> None:
    """Record a night: stream, save, detect live, log cramps.  Ctrl-C stops cleanly.

    \b
    Examples:
      cramp record --device NightCramp-1A2B
      cramp record --device C2:00:00:00:0E:01 --out ~/nights
      cramp record --emulate --speed 60 --duration 1h
      cramp record --emulate recordings/sample-night --speed 20
      cramp record --device Ganglion-1a2b --emg 1=gastrocnemius,3=tibialis
      cramp record --emulate --kind bitalino --speed 60 --duration 10m
      cramp record --left NightCramp-1A2B --right NightCramp-3C4D
      cramp record --emulate --legs 2 --speed 60 --duration 1h --drop 600:30
    """
    targets = _leg_targets(devices, left, right)
    device = devices[0] if len(targets) == 1 else None
    if len(targets) == 2 and emulate is not None:
        raise UserError(
            "cramp record: --device/--left/--right and --emulate exclude each other -- "
            "use --emulate --legs 2 for two emulated sensors"
        )
    if emulate is None and (legs != 1 or drop_right or reboot_right or absent):
        raise UserError(
            "cramp record: --legs, --drop-right, --reboot-right and --absent only apply to "
            "--emulate"
        )
    if legs == 1 and (drop_right or reboot_right or absent):
        raise UserError("cramp record: --drop-right, --reboot-right and --absent need --legs 2")
    if len(targets) == 2:
        device = targets["left"]
    if device is not None and emulate is not None:
        raise UserError(
            "cramp record: --device and --emulate exclude each other -- give --device "
            "ADDRESS_OR_NAME to record a sensor, or --emulate (no hardware)"
        )
    if device is None and emulate is None:
        raise UserError(
            "cramp record: give --device ADDRESS_OR_NAME (a sensor) or --emulate (no hardware)"
        )
    dur = check_duration(duration)
    if device is not None:
        given = [
            name
            for name, v, default in (
                ("--speed", speed, 1.0), ("--seed", seed, 1), ("--drift-ppm", drift_ppm, 0.0),
                ("--corrupt-every", corrupt_every, None),
            )
            if v != default
        ] + (["--drop"] if drop else []) + (["--reboot"] if reboot else [])  # fmt: skip
        if given:
            raise UserError(
                f"cramp record: {', '.join(given)} only apply to --emulate, not to a real sensor"
            )
    if sys.stderr.isatty():  # at once, before the BLE stack loads; the recorder redraws it
        sys.stderr.write("\r\x1b[2Kscanning     | starting the Bluetooth stack ...")
        sys.stderr.flush()
    from nightcramp import heal, paths

    out_dir = paths.recordings_dir(out)
    heal.finish_killed_nights_in(db, out_dir)
    rec: Any
    if (emg_map is not None or acc_map is not None) and (kind or "") == "nightcramp":
        raise UserError(
            "--emg/--acc map the channels of a BITalino or a Ganglion; our sensor's channels "
            "are fixed -- drop them, or give --kind bitalino|ganglion"
        )
    if (len(targets) == 2 or legs == 2) and kind not in (None, "nightcramp"):
        raise UserError(
            f"cramp record: two legs are recorded with two nightcramp sensors, not --kind {kind}"
        )
    if emulate is not None and legs == 2:
        from emulator.virtual.sensor import Faults
        from nightcramp.emulated import run_emulated_legs

        if emulate != "synthetic":
            raise UserError(
                f"--emulate {emulate}: two emulated legs play a synthetic night each -- use "
                "--emulate alone with --legs 2"
            )
        night_s = dur if dur is not None else 3600.0
        leg_faults = {
            side: Faults(
                drops=_parse_drops(d),
                reboots=list(r),
                drift_ppm=drift_ppm,
                corrupt_every=corrupt_every or 0,
            )
            for side, d, r in (("left", drop, reboot), ("right", drop_right, reboot_right))
        }
        sources = {
            side: _leg_night(seed + k, night_s, side) for k, side in enumerate(("left", "right"))
        }
        lrun = asyncio.run(
            run_emulated_legs(
                sources,
                speed=speed,
                duration_s=night_s,
                faults=leg_faults,
                seed=seed,
                absent=(absent,) if absent else (),
                handle_signals=True,
                out_dir=out_dir,
                db=db,
            )
        )
        _report_legs(lrun.night, list(lrun.recorders.values()), db)
        return
    if len(targets) == 2:
        _record_two(targets, out_dir, db, dur)
        return
    if emulate is not None and kind in ("bitalino", "ganglion"):
        from emulator.virtual.devices import DeviceFaults, night_for
        from nightcramp.emulated import run_emulated_device

        if emulate != "synthetic":
            raise UserError(
                f"--emulate {emulate}: an emulated {kind} plays a synthetic night at its own "
                "rates -- use --emulate alone"
            )
        if corrupt_every or drift_ppm:
            raise UserError(
                f"--corrupt-every/--drift-ppm: not emulated for a {kind}; use --drop or --reboot"
            )
        cmap = _channel_map(kind, emg_map, acc_map)
        night_s = dur if dur is not None else 3600.0
        src = night_for(kind, seed, night_s)
        run = asyncio.run(
            run_emulated_device(
                kind,
                src,
                speed=speed,
                duration_s=night_s,
                faults=DeviceFaults(drops=_parse_drops(drop), reboots=list(reboot)),
                seed=seed,
                cmap=cmap,
                handle_signals=True,
                out_dir=out_dir,
                db=db,
            )
        )
        rec = run.recorder
    elif emulate is not None:
        from emulator.virtual.sensor import Faults, night_source
        from nightcramp.emulated import run_emulated

        faults = Faults(
            drops=_parse_drops(drop),
            reboots=list(reboot),
            drift_ppm=drift_ppm,
            corrupt_every=corrupt_every or 0,
        )
        src = night_source(emulate, dur, seed)
        if dur is None:
            dur = getattr(src, "duration_s", None)
        run = asyncio.run(
            run_emulated(
                src,
                speed=speed,
                duration_s=dur,
                faults=faults,
                seed=seed,
                handle_signals=True,
                out_dir=out_dir,
                db=db,
            )
        )
        rec = run.recorder
    else:
        from nightcramp.recorder import Recorder

        assert device is not None
        kw: dict[str, Any] = {}
        air: Any = None
        if virtual_hci is not None:
            from emulator.virtual import RemoteAir
            from emulator.virtual.security import BondStore

            air = RemoteAir(virtual_hci, keystore=BondStore(paths.virtual_keys_path()))
            kw = {"scanner_kwargs": air.scanner_kwargs(), "client_kwargs": air.client_kwargs()}
        profile, device = _resolve_kind(device, kind, emg_map, acc_map, kw)
        rec = Recorder(device, out_dir=out_dir, db=db, duration_s=dur, profile=profile, **kw)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, rec.stop)
            try:
                await rec.run()
            finally:
                if air is not None:
                    await air.close()

        asyncio.run(main())
    _report(rec, db)


def _leg_targets(devices: tuple[str, ...], left: str | None, right: str | None) -> dict[str, str]:
    """The sensors asked for, by leg: ``--device X`` -> ``{"": X}``; ``--device L --device
    R`` or ``--left L --right R`` -> both legs."""
    if (left is None) != (right is None):
        raise UserError(
            "cramp record: give both --left and --right (or --device twice, the left first)"
        )
    if left is not None and right is not None:
        if devices:
            raise UserError(
                "cramp record: --left/--right replace --device -- give one or the other"
            )
        if left.upper() == right.upper():
            raise UserError(f"cramp record: --left and --right are the same sensor ({left})")
        return {"left": left, "right": right}
    if len(devices) > 2:
        raise UserError(
            f"cramp record: {len(devices)} --device options; one sensor per leg at most (two)"
        )
    if len(devices) == 2:
        if devices[0].upper() == devices[1].upper():
            raise UserError(f"cramp record: the same sensor twice ({devices[0]}) -- give two")
        return {"left": devices[0], "right": devices[1]}
    return {"": devices[0]} if devices else {}


def _leg_night(seed: int, duration_s: float, side: str) -> Any:
    from emulator.night import make_night

    return make_night(seed, duration_s, side=side)


def _record_two(targets: dict[str, str], out_dir: Any, db: str | None, dur: float | None) -> None:
    """Two real sensors, one per leg, in one loop into one night."""
    import time

    from nightcramp.legs_night import LegsNight, record_legs
    from nightcramp.recorder import Recorder

    night = LegsNight(
        ["left", "right"],
        start_ns=time.time_ns(),
        out_dir=out_dir,
        db=db,
        devices=[{"target": targets["left"]}, {"target": targets["right"]}],
    )
    recs = [
        Recorder(targets[side], out_dir=out_dir, db=db, duration_s=dur, side=side, night=night)
        for side in ("left", "right")
    ]

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop_all() -> None:
            for r in recs:
                r.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_all)
        await record_legs(night, recs)

    asyncio.run(main())
    _report_legs(night, recs, db)


def _report_legs(night: Any, recs: list[Any], db: str | None) -> None:
    from nightcramp import paths

    for rec in recs:
        a = rec.assembler.stats if rec.assembler is not None else {}
        ev = rec.stats.events
        what = (
            f"{rec._timeline_s / 3600:.2f} h: {rec.stats.data_frames} frames, "
            f"{a.get('gaps', 0)} gaps ({a.get('gap_s', 0.0):.1f} s), {a.get('corrupt', 0)} "
            f"corrupt, {rec.stats.disconnects} disconnects; events: "
            + (", ".join(f"{k} {v}" for k, v in sorted(ev.items())) or "none")
            if rec.stats.connections
            else "never found: its leg is one gap all night"
        )
        click.echo(f"{rec.side} leg ({rec.address or rec.target}) {what}", err=True)
    click.echo(f"recording: {night.folder}", err=True)
    click.echo(
        f"cramp log: {paths.db_path(db)} (night {night.night_id}) -- see `cramp summary`",
        err=True,
    )
    if all(r.stats.data_frames == 0 for r in recs):
        sys.exit(1)


def _channel_map(kind: str, emg_map: str | None, acc_map: str | None) -> Any:
    from firmware_protocol.devices import PROFILES, parse_channel_map

    try:
        return parse_channel_map(PROFILES[kind], emg_map, acc_map)
    except ValueError as e:
        raise UserError(f"cramp record --kind {kind}: {e}") from None


def _resolve_kind(
    device: str, kind: str | None, emg_map: str | None, acc_map: str | None, kw: dict[str, Any]
) -> tuple[Any, str]:
    """The recorder profile for ``--device`` (and the target to give it): ``--kind`` if
    given, else the kind of the device found under that name or address."""
    from firmware_protocol.devices.host import session_profile

    target = device
    if kind is None and kw:  # a virtual controller (tests): our own sensor unless told
        kind = "nightcramp"
    if kind is None:
        from nightcramp.recorder import find_sensor

        try:
            found = asyncio.run(find_sensor(device, profile=None, **kw.get("scanner_kwargs", {})))
        except UserError:
            raise
        except Exception as e:  # bleak: no adapter, Bluetooth off, permission
            from nightcramp.recorder import _explain

            raise UserError(_explain("cramp record", e)) from e
        kind, target = found.kind, found.address
        click.echo(f"{found.name} ({found.address}) is a {kind} sensor", err=True)
    if kind == "nightcramp":
        return session_profile(kind), target
    return session_profile(kind, _channel_map(kind, emg_map, acc_map)), target


def _report(rec: Any, db: str | None) -> None:
    from nightcramp import paths

    a = rec.assembler.stats if rec.assembler is not None else {}
    ev = rec.stats.events
    click.echo(
        f"recorded {rec._timeline_s / 3600:.2f} h: {rec.stats.data_frames} frames, "
        f"{a.get('gaps', 0)} gaps ({a.get('gap_s', 0.0):.1f} s), {a.get('corrupt', 0)} corrupt, "
        f"{rec.stats.disconnects} disconnects; events: "
        + (", ".join(f"{k} {v}" for k, v in sorted(ev.items())) or "none"),
        err=True,
    )
    if rec.recording_path is not None:
        click.echo(f"recording: {rec.recording_path}", err=True)
        click.echo(
            f"cramp log: {paths.db_path(db)} (night {rec.night_id}) -- see `cramp summary`",
            err=True,
        )
    if rec.stats.data_frames == 0:
        sys.exit(1)


__all__ = ["scan", "record", "parse_duration", "Path"]
