"""``cramp scan`` and ``cramp record``: the live side of the CLI, thin over the recorder."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import click

from nightcramp.durations import parse_duration
from recordings.errors import UserError
from recordings.jsonout import dumps


def _parse_drops(drops: tuple[str, ...]) -> list[tuple[float, float]]:
    out = []
    for d in drops:
        try:
            at, dur = d.split(":")
            out.append((float(at), float(dur)))
        except ValueError:
            raise UserError(
                f"--drop {d!r}: write AT:DURATION in seconds of sensor time, e.g. 600:30"
            ) from None
    return out


@click.command("scan")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to listen.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.option(
    "--emulate", is_flag=True, help="Scan a virtual radio with one emulated sensor on it."
)
def scan(timeout: float, as_json: bool, emulate: bool) -> None:
    """List nearby leg sensors: name, address, signal strength, battery.

    \b
    Examples:
      cramp scan
      cramp scan --timeout 10 --json
      cramp scan --emulate          # no hardware: shows an emulated sensor
    """
    from nightcramp.recorder import scan as do_scan

    async def main() -> list[Any]:
        if not emulate:
            return await do_scan(timeout)
        from emulator.night import make_night
        from emulator.virtual import LocalAir
        from emulator.virtual.sensor import EmulatedSensor, Faults, make_firmware

        air = LocalAir()
        sensor = EmulatedSensor(
            make_firmware(make_night(1, 600.0), Faults()),
            name="NightCramp-0E01",
            address="C2:00:00:00:0E:01",
        )
        await sensor.start(air)
        try:
            return await do_scan(min(timeout, 1.0), **air.scanner_kwargs())
        finally:
            await sensor.stop()
            await air.close()

    try:
        found = asyncio.run(main())
    except Exception as e:  # bleak: no adapter, Bluetooth off, permission
        if isinstance(e, UserError):
            raise
        from nightcramp.recorder import _explain

        raise UserError(_explain("cramp scan", e)) from e
    from nightcramp.pairing import BondBook

    book = BondBook()
    rows = [
        {
            "name": f.name,
            "address": f.address,
            "rssi_dbm": f.rssi,
            "battery_pct": f.battery,
            "bonded": book.get(f.address) is not None,
        }
        for f in found
    ]
    if as_json:
        click.echo(dumps(rows, indent=2))
        return
    if not rows:
        click.echo(
            "No sensors found. Is the sensor charged and near, and not connected to another device?"
        )
        return
    click.echo(f"{'name':<18} {'address':<18} {'RSSI':>6} {'battery':>8}  bonded")
    for r in rows:
        bat = "?" if r["battery_pct"] is None else f"{r['battery_pct']} %"
        bonded = "yes" if r["bonded"] else "no"
        click.echo(
            f"{r['name']:<18} {r['address']:<18} {r['rssi_dbm']:>4} dBm {bat:>7}  {bonded}"
        )
    if not emulate and not all(r["bonded"] for r in rows):
        click.echo("Not bonded yet: `cramp pair --device NAME` once, before recording.")


@click.command("record")
@click.option(
    "--device",
    "device",
    metavar="ADDRESS_OR_NAME",
    help="The sensor (name or address, see `cramp scan`).",
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
    "--speed", default=1.0, show_default=True, help="Emulator: sensor time runs N times faster."
)
@click.option("--duration", default=None, help="Stop after this much sensor time (8h, 90m, 3600).")
@click.option("--seed", default=1, show_default=True, help="Emulator: synthetic night seed.")
@click.option(
    "--drop", multiple=True, metavar="AT:DUR", help="Emulator: drop the link at AT s for DUR s."
)
@click.option("--reboot", multiple=True, type=float, metavar="AT", help="Emulator: reboot at AT s.")
@click.option("--drift-ppm", default=0.0, help="Emulator: sensor clock error, ppm.")
@click.option("--corrupt-every", default=0, help="Emulator: corrupt every N-th frame.")
@click.option("--out", "out", default=None, metavar="DIR", help="Recordings folder.")
@click.option("--db", "db", default=None, metavar="PATH", help="Cramp log database.")
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
    device: str | None,
    emulate: str | None,
    speed: float,
    duration: str | None,
    seed: int,
    drop: tuple[str, ...],
    reboot: tuple[float, ...],
    drift_ppm: float,
    corrupt_every: int,
    out: str | None,
    db: str | None,
    virtual_hci: int | None,
) -> None:
    """Record a night: stream, save, detect live, log cramps.  Ctrl-C stops cleanly.

    \b
    Examples:
      cramp record --device NightCramp-1A2B
      cramp record --device C2:00:00:00:0E:01 --out ~/nights
      cramp record --emulate --speed 60 --duration 1h
      cramp record --emulate recordings/sample-night --speed 20
    """
    if (device is None) == (emulate is None):
        raise UserError(
            "cramp record: give --device ADDRESS_OR_NAME (a sensor) or --emulate (no hardware)"
        )
    dur = parse_duration(duration)
    if speed <= 0:
        raise UserError(f"--speed {speed}: must be > 0 (1 = real time)")
    from nightcramp import paths

    out_dir = paths.recordings_dir(out)
    rec: Any
    if emulate is not None:
        from emulator.virtual.sensor import Faults, night_source
        from nightcramp.emulated import run_emulated

        faults = Faults(
            drops=_parse_drops(drop),
            reboots=list(reboot),
            drift_ppm=drift_ppm,
            corrupt_every=corrupt_every,
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
        rec = Recorder(device, out_dir=out_dir, db=db, duration_s=dur, **kw)

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
