"""Bonding benchmark: what LE Secure Connections costs the host per night.

Run: ``.venv/bin/python -m benchmarks.bench_pair [--rounds 20]``

Through bleak over bumble (one process, the virtual air, the emulated sensor), each
figure the median of ``--rounds`` in this run, wall time and this process's CPU:

* baseline: connect + MTU + discovery + one read of the serial number (Device
  Information, open to all) on an unencrypted link: a host with no bond;
* a bonded reconnect: the same, plus encrypting with the stored key (what every
  reconnect of a night adds);
* a first bond: connect + LESC pairing (P-256 ECDH, Just Works and numeric comparison)
  + the read: paid once, by ``cramp pair``.

The virtual controller does not cipher the link (it checks the two LTKs match); on a
real radio AES-CCM runs in the controller's hardware, so the per-notification cost of
encryption does not reach the host's CPU either.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from bleak import BleakClient

from emulator.night import make_night
from emulator.virtual import LocalAir
from emulator.virtual.security import SensorSecurity
from emulator.virtual.sensor import EmulatedSensor, Faults, make_firmware
from firmware_protocol import gatt

ADDR = "C2:00:00:00:BE:01"


async def _timed(fn: Callable[[], Awaitable[None]], rounds: int) -> tuple[float, float]:
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        await fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


async def _run(rounds: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for label, security, bonded, pair_each in (
        ("baseline (no bond, no encryption)", SensorSecurity(), False, False),
        ("bonded reconnect (encrypt)", SensorSecurity(), True, False),
        ("first bond, Just Works", SensorSecurity(), False, True),
        ("first bond, numeric comparison", SensorSecurity(io="display"), False, True),
    ):
        air = LocalAir()
        sensor = EmulatedSensor(
            make_firmware(make_night(1, 60.0), Faults()), address=ADDR, security=security
        )
        await sensor.start(air)
        if bonded:  # bond once before timing
            c = BleakClient(ADDR, **air.client_kwargs(pair=True))
            await c.connect()
            await c.disconnect()

        async def once(
            air: LocalAir = air, security: SensorSecurity = security, pair_each: bool = pair_each
        ) -> None:
            if pair_each:  # forget on both sides: every round is a first bond
                air.keystore.forget(ADDR)
                for a in security.store.addresses():
                    security.store.forget(a)
            c = BleakClient(ADDR, **air.client_kwargs(pair=pair_each))
            await c.connect()
            await c.read_gatt_char(gatt.SERIAL_NUMBER_UUID)
            await c.disconnect()

        out[label] = await _timed(once, rounds)
        await sensor.stop()
        await air.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args(argv)
    res = asyncio.run(_run(args.rounds))
    base_w, _ = res["baseline (no bond, no encryption)"]
    print(f"median of {args.rounds} rounds: connect + discover + read serial + disconnect")
    print(f"{'':32} {'wall ms':>8} {'CPU ms':>8} {'vs baseline (wall)':>20}")
    for label, (w, c) in res.items():
        print(f"{label:34} {w * 1e3:8.1f} {c * 1e3:8.1f} {f'+{(w - base_w) * 1e3:.1f} ms':>20}")


if __name__ == "__main__":
    main()
