"""An emulated night end to end, in one process: sensor -> bumble BLE -> recorder.

Used by ``cramp record --emulate``, ``cramp demo``, the tests and the benchmarks.  The
recorder is exactly the production one; only bleak's backend is the virtual one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from emulator.virtual.air import LocalAir
from emulator.virtual.sensor import EmulatedSensor, Faults, make_firmware


def emulated_start_ns(duration_s: float | None, now_ns: int | None = None) -> int:
    """Host time (UTC ns) an accelerated emulated night starts at: it ends now."""
    now = time.time_ns() if now_ns is None else now_ns
    return now - int((duration_s or 0.0) * 1e9)


@dataclass
class EmulatedRun:
    recorder: Any  # nightcramp.recorder.Recorder
    sensor: EmulatedSensor
    wall_s: float


async def run_emulated(
    source: Any,
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    faults: Faults | None = None,
    seed: int = 1,
    name: str = "NightCramp-0E01",
    address: str = "C2:00:00:00:0E:01",
    handle_signals: bool = False,
    host_start_ns: int | None = None,
    **recorder_kwargs: Any,
) -> EmulatedRun:
    """Start an emulated sensor on a fresh virtual air and record it until done/stopped.

    Faster than real time (``speed != 1``) the recorder's receive clock is the emulated
    one: ``host_start_ns`` + the sensor's true elapsed time, so wall times in the recording
    and the cramp log are those of a night lived at real pace.  The one rule for when
    that night was lived (``cramp record --emulate`` and ``cramp demo`` alike): it **ends
    now** -- ``host_start_ns`` defaults to the moment of the call minus ``duration_s``, so
    no event is stamped in the future.  At real pace (``speed == 1``) the host's clock is
    used as it is: the night is being lived now.

    ``duration_s`` defaults to the source's duration (``source.duration_s``) if it has one.
    ``recorder_kwargs`` go to
    :class:`nightcramp.recorder.Recorder` (``out_dir``, ``db``, ``status_stream``, ...).
    """
    from nightcramp.recorder import Recorder

    # the virtual stack's own chatter (e.g. a packet for a link the sensor just dropped)
    # is the harness's business, not a line for the person watching the night
    logging.getLogger("bumble").setLevel(logging.ERROR)
    loop = asyncio.get_running_loop()
    faults = faults or Faults()
    if duration_s is None:
        duration_s = getattr(source, "duration_s", None)
    air = LocalAir()
    sensor = EmulatedSensor(
        make_firmware(source, faults, seed=seed),
        name=name,
        address=address,
        speed=speed,
        faults=faults,
        duration_s=duration_s,
    )
    scale = max(1.0, speed)
    # reconnect backoff in wall time, scaled so that in sensor time it is what the real
    # recorder does (0.2 s first, 8 s at most: nightcramp.recorder)
    recorder_kwargs.setdefault("backoff_first_s", max(0.002, 0.2 / scale))
    recorder_kwargs.setdefault("backoff_max_s", max(0.02, 8.0 / scale))
    if speed != 1.0:
        start_ns = emulated_start_ns(duration_s) if host_start_ns is None else int(host_start_ns)
        rng = np.random.default_rng(seed)

        def clock_ns() -> int:
            # a BLE notification's latency: >= one 7.5 ms connection interval plus
            # scheduling jitter (exponential, mean 10 ms): what the clock fit must see through
            lat_s = 0.0075 + rng.exponential(0.010)
            return start_ns + int((sensor.sensor_s + lat_s) * 1e9)

        recorder_kwargs.setdefault("clock_ns", clock_ns)
    rec = Recorder(
        recorder_kwargs.pop("target", name),
        duration_s=duration_s,
        scanner_kwargs=air.scanner_kwargs(),
        # the emulated sensor is new each run: bond on first use, on its own
        client_kwargs=air.client_kwargs(pair=True),
        source_label=recorder_kwargs.pop("source_label", "emulated"),
        **recorder_kwargs,
    )
    rec.show_status()  # from the first moment, while the emulated sensor powers on
    await sensor.start(air)
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, rec.stop)
    t0 = loop.time()
    try:
        await rec.run()
    finally:
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        await sensor.stop()
        await air.close()
    return EmulatedRun(rec, sensor, loop.time() - t0)


async def run_emulated_device(
    kind: str,
    source: Any,
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    faults: Any = None,
    seed: int = 1,
    cmap: Any = None,
    firmware: int = 3,
    handle_signals: bool = False,
    host_start_ns: int | None = None,
    **recorder_kwargs: Any,
) -> EmulatedRun:
    """Like :func:`run_emulated` with an emulated off-the-shelf device (``bitalino`` or
    ``ganglion``, :mod:`emulator.virtual.devices`) recorded by the production recorder
    with that kind's profile and channel map ``cmap`` (None: the kind's default)."""
    from emulator.virtual.devices import make_device
    from firmware_protocol.devices.host import session_profile
    from nightcramp.recorder import Recorder

    loop = asyncio.get_running_loop()
    if duration_s is None:
        duration_s = getattr(source, "duration_s", None)
    air = LocalAir()
    kw: dict[str, Any] = {"speed": speed, "faults": faults, "duration_s": duration_s}
    if kind == "ganglion":
        kw["firmware"] = firmware
    elif cmap is not None:
        kw["cmap"] = cmap
    dev = make_device(kind, source, **kw)
    await dev.start(air)
    scale = max(1.0, speed)
    recorder_kwargs.setdefault("backoff_first_s", max(0.002, 0.2 / scale))
    recorder_kwargs.setdefault("backoff_max_s", max(0.02, 8.0 / scale))
    if speed != 1.0:
        start_ns = time.time_ns() if host_start_ns is None else int(host_start_ns)
        rng = np.random.default_rng(seed)

        def clock_ns() -> int:
            lat_s = 0.0075 + rng.exponential(0.010)
            return start_ns + int((dev.true_s + lat_s) * 1e9)

        recorder_kwargs.setdefault("clock_ns", clock_ns)
    rec = Recorder(
        recorder_kwargs.pop("target", dev.name),
        duration_s=duration_s,
        scanner_kwargs=air.scanner_kwargs(),
        client_kwargs=air.client_kwargs(),
        source_label=recorder_kwargs.pop("source_label", f"emulated-{kind}"),
        profile=session_profile(kind, cmap),
        **recorder_kwargs,
    )
    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, rec.stop)

    async def stop_at_end() -> None:
        # the device has no "source ended" message: stop once its night is used up and
        # the last notifications are in
        await dev.done.wait()
        await asyncio.sleep(0.2)
        rec.stop()

    watcher = loop.create_task(stop_at_end())
    t0 = loop.time()
    try:
        await rec.run()
    finally:
        watcher.cancel()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        await dev.stop()
        await air.close()
    return EmulatedRun(rec, dev, loop.time() - t0)  # type: ignore[arg-type]


@dataclass
class EmulatedLegsRun:
    night: Any  # nightcramp.legs_night.LegsNight
    recorders: dict[str, Any]  # side -> Recorder
    sensors: dict[str, EmulatedSensor]
    result: Any
    wall_s: float


async def run_emulated_legs(
    sources: dict[str, Any],
    *,
    speed: float = 1.0,
    duration_s: float | None = None,
    faults: dict[str, Faults] | None = None,
    seed: int = 1,
    absent: tuple[str, ...] = (),
    handle_signals: bool = False,
    host_start_ns: int | None = None,
    out_dir: Any = None,
    db: Any = None,
    **recorder_kwargs: Any,
) -> EmulatedLegsRun:
    """Two emulated sensors (``sources``: side -> night source) on one virtual air, one
    recorder per leg in this loop, into one night (``nightcramp.legs_night``).

    ``faults``: each side's own; ``absent``: sides whose sensor never powers on (their
    recorder looks for it all night).  Clocks as in :func:`run_emulated`, per sensor.
    """
    from nightcramp.legs_night import LegsNight, record_legs
    from nightcramp.recorder import Recorder

    logging.getLogger("bumble").setLevel(logging.ERROR)
    loop = asyncio.get_running_loop()
    faults = faults or {}
    sides = list(sources)
    if duration_s is None:
        duration_s = min(getattr(s, "duration_s", 3600.0) for s in sources.values())
    air = LocalAir()
    start_ns = emulated_start_ns(duration_s) if host_start_ns is None else int(host_start_ns)
    if speed == 1.0:
        start_ns = time.time_ns()
    scale = max(1.0, speed)
    recorder_kwargs.setdefault("backoff_first_s", max(0.002, 0.2 / scale))
    recorder_kwargs.setdefault("backoff_max_s", max(0.02, 8.0 / scale))
    night = LegsNight(
        sides,
        start_ns=start_ns,
        out_dir=out_dir,
        db=db,
        devices=[{"address": _leg_address(s), "name": _leg_name(s)} for s in sides],
        source_label=recorder_kwargs.pop("source_label", "emulated"),
        on_event=recorder_kwargs.pop("on_event", None),
        config=recorder_kwargs.pop("config", None),
    )
    sensors: dict[str, EmulatedSensor] = {}
    recs: dict[str, Any] = {}
    for k, side in enumerate(sides):
        f = faults.get(side) or Faults()
        sensor = EmulatedSensor(
            make_firmware(sources[side], f, seed=seed + k),
            name=_leg_name(side),
            address=_leg_address(side),
            speed=speed,
            faults=f,
            duration_s=duration_s,
        )
        kw = dict(recorder_kwargs)
        if speed != 1.0:
            rng = np.random.default_rng(seed + k)

            def clock_ns(sensor: EmulatedSensor = sensor, rng: Any = rng) -> int:
                lat_s = 0.0075 + rng.exponential(0.010)
                return start_ns + int((sensor.sensor_s + lat_s) * 1e9)

            kw.setdefault("clock_ns", clock_ns)
        recs[side] = Recorder(
            _leg_address(side),
            duration_s=duration_s,
            scanner_kwargs=air.scanner_kwargs(),
            client_kwargs=air.client_kwargs(pair=True),  # each new sensor: bond on first use
            side=side,
            night=night,
            **kw,
        )
        if side not in absent:
            sensors[side] = sensor
    for sensor in sensors.values():
        await sensor.start(air)
    if handle_signals:

        def stop_all() -> None:
            for r in recs.values():
                r.stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_all)
    t0 = loop.time()
    try:
        result = await record_legs(night, list(recs.values()), grace_s=max(5.0, 60.0 / scale))
    finally:
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(sig)
        for sensor in sensors.values():
            await sensor.stop()
        await air.close()
    return EmulatedLegsRun(night, recs, sensors, result, loop.time() - t0)


def _leg_address(side: str) -> str:
    return "C2:00:00:00:0E:0A" if side == "left" else "C2:00:00:00:0E:0B"


def _leg_name(side: str) -> str:
    return "NightCramp-0E0A" if side == "left" else "NightCramp-0E0B"
