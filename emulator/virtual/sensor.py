"""The emulated NightCramp leg sensor: a bumble peripheral driving ``SensorFirmware``.

It advertises like the real sensor (:mod:`firmware_protocol.gatt`: service UUID and
battery in the advertising data, ``NightCramp-XXXX`` in the scan response), serves the
GATT service of ``PROTOCOL.md`` (data: notify; control: write with response + notify;
status: read + notify; config: read; Device Information), and paces the sans-I/O
:class:`emulator.firmware.SensorFirmware` in *sensor time*: at real pace
(``speed=1``) or ``speed`` times faster.  The virtual link has no radio timing, so the
pace is ours.  Each step's notifications must have reached the central before the next
step is sampled, so the emulated link's latency stays under one step and, when the link
cannot carry ``speed``, sensor time simply advances as fast as the link delivers.

Sensor time starts when the host first starts acquisition (StartStreaming), so a finite
source is measured from its first sample; fault times count from then.

Fault switches (:class:`Faults`, all in seconds of sensor time): link drops of a chosen
length (the sensor keeps sampling into its ring buffer, then re-advertises), reboots,
clock drift, corrupted frames, battery drain, ring-buffer size.

Security (PROTOCOL.md section 7): LE Secure Connections bonding on first use
(:class:`~emulator.virtual.security.SensorSecurity`).  The service's characteristics
need an encrypted link (ATT 0x05 Insufficient Authentication otherwise); a link is
trusted only when encrypted with a bond this sensor holds for that address; an
untrusted link gets no DATA or STATUS notification, and a command reaching the firmware
over one is answered ACK ``not-paired`` and ignored.

Two processes: ``python -m emulator.virtual.sensor --port 0 ...`` serves a
controller on 127.0.0.1 and prints ``PORT <n>``; the recorder then uses
``RemoteAir(n)``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bumble.att import ATT_Error, Attribute, ErrorCode
from bumble.core import UUID
from bumble.core import AdvertisingData as AD
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.link import LocalLink

from emulator.virtual.air import (
    LocalAir,
    advertise,
    peripheral_device,
    serve_controller,
    stop_peripheral,
)
from emulator.virtual.security import SensorSecurity
from firmware_protocol import codec, gatt

log = logging.getLogger(__name__)

#: Sensor time advanced per pacing step at real pace, in s: ~2-3 frames at 2 EMG ch x
#: 1 kHz (40 ms per frame), so notifications leave in small bursts, as BLE connection
#: events carry them (connection interval 7.5 ms-4 s, Core spec Vol 6 Part B 4.5.1).
STEP_S = 0.1
#: Notifications allowed in flight in the host stack before the sensor waits for the
#: link to drain (the real sensor's BLE stack has a few TX buffers).
MAX_IN_FLIGHT = 24
#: Shortest wall time per pacing step when running fast (s): bounds the per-step
#: overhead (delivery round trip through the virtual link) at high ``speed``.
MIN_STEP_WALL_S = 0.002


@dataclass
class Faults:
    """Scripted misbehaviour, in seconds of sensor time since acquisition started."""

    drops: list[tuple[float, float]] = field(default_factory=list)
    """(at_s, duration_s): the sensor drops the link and stays out of reach."""
    reboots: list[float] = field(default_factory=list)
    """at_s: the sensor reboots (sequence, sample counters and clock restart)."""
    drift_ppm: float = 0.0
    """Sensor crystal error; the protocol allows up to +-100 ppm."""
    corrupt_every: int = 0
    """Corrupt every N-th data notification (0 = never)."""
    battery_drain_pct_per_h: float | None = None
    """Battery drain; None = the firmware's default."""
    battery_start_pct: float | None = None
    """Charge at power-on; None = full."""
    ring_s: float | None = None
    """Ring-buffer length in s of samples; None = the firmware's default (>= 120 s)."""


def make_firmware(source: Any, faults: Faults, seed: int = 0) -> Any:
    """Build P's :class:`SensorFirmware` from a sample source and the fault switches."""
    from emulator.firmware import SensorFirmware

    kwargs: dict[str, Any] = {"drift_ppm": faults.drift_ppm, "seed": seed}
    if faults.corrupt_every:
        kwargs["corrupt_every"] = faults.corrupt_every
    if faults.battery_drain_pct_per_h is not None:
        kwargs["drain_pct_per_h"] = faults.battery_drain_pct_per_h
    if faults.battery_start_pct is not None:
        kwargs["battery_pct"] = faults.battery_start_pct
    if faults.ring_s is not None:
        kwargs["ring_s"] = faults.ring_s
    return SensorFirmware(source, **kwargs)


class EmulatedSensor:
    """One emulated sensor on a virtual air (or on a bare ``LocalLink``)."""

    def __init__(
        self,
        firmware: Any,
        *,
        name: str | None = None,
        address: str = "C2:00:00:00:00:01",
        speed: float = 1.0,
        faults: Faults | None = None,
        duration_s: float | None = None,
        security: SensorSecurity | None = None,
    ) -> None:
        self.fw = firmware
        self.security = security or SensorSecurity()
        self.name: str = name or str(getattr(firmware, "name", gatt.NAME_PREFIX + "0001"))
        self.address = address
        self.speed = float(speed)
        self.faults = faults or Faults()
        self.duration_s = duration_s  # informational: the source's length, if known
        self.device: Device | None = None
        self.conn: Connection | None = None
        self.sensor_s = 0.0  # true time since power-on, s (the firmware adds its drift)
        self.done = asyncio.Event()
        """Set once the sample source is used up (the sensor keeps serving resends)."""
        self._started = asyncio.Event()
        self.resend_at: list[float] = []
        """Sensor time (true s) of every Resend command received (tests, benchmarks)."""
        self.stats: dict[str, int] = {
            "notified": 0,
            "dropped_on_air": 0,
            "connections": 0,
            "untrusted_withheld": 0,
        }
        self._out: deque[tuple[Characteristic, bytes]] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._away_until = -1.0
        self._pending_drops = sorted(self.faults.drops)
        self._pending_reboots = sorted(self.faults.reboots)
        self._chars: dict[str, Characteristic] = {}

    # ----------------------------------------------------------------- GATT
    def _guarded(self, read: Callable[[], bytes]) -> Callable[[Connection], bytes]:
        def value(conn: Connection) -> bytes:
            if not self.security.trusted(conn):
                raise ATT_Error(ErrorCode.INSUFFICIENT_AUTHENTICATION)
            return read()

        return value

    def _build_gatt(self, dev: Device) -> None:
        props = Characteristic.Properties
        # the service needs an encrypted link (bumble answers ATT 0x05 otherwise); the
        # callbacks then check it is a bond this sensor holds
        r_sec = Attribute.READABLE | Attribute.READ_REQUIRES_AUTHENTICATION
        w_sec = Attribute.WRITEABLE | Attribute.WRITE_REQUIRES_AUTHENTICATION
        data: Characteristic[bytes] = Characteristic(
            gatt.DATA_CHAR_UUID,
            props.NOTIFY,
            r_sec,
            CharacteristicValue[bytes](read=self._guarded(lambda: b"")),
        )
        control: Characteristic[bytes] = Characteristic(
            gatt.CONTROL_CHAR_UUID,
            props.WRITE | props.NOTIFY,
            w_sec | r_sec,
            CharacteristicValue[bytes](read=self._guarded(lambda: b""), write=self._on_control),
        )
        status: Characteristic[bytes] = Characteristic(
            gatt.STATUS_CHAR_UUID,
            props.READ | props.NOTIFY,
            r_sec,
            CharacteristicValue[bytes](read=self._guarded(lambda: self.fw.read_status())),
        )
        config: Characteristic[bytes] = Characteristic(
            gatt.CONFIG_CHAR_UUID,
            props.READ,
            r_sec,
            CharacteristicValue[bytes](read=self._guarded(lambda: self.fw.read_config())),
        )
        self._chars = {"data": data, "control": control, "status": status, "config": config}
        dev.add_service(Service(gatt.SERVICE_UUID, [data, control, status, config]))
        info = getattr(self.fw, "device_info", None) or {}
        dis = [
            Characteristic(uuid, props.READ, Attribute.READABLE, str(info[key]).encode())
            for key, uuid in gatt.DEVICE_INFO_CHARS.items()
            if key in info
        ]
        if dis:
            dev.add_service(Service(gatt.DEVICE_INFO_SERVICE_UUID, dis))

    def _on_control(self, conn: Connection, value: bytes) -> None:
        if len(value) > 1 and value[1] == codec.C_RESEND:
            self.resend_at.append(self.sensor_s)
        secure = self.security.trusted(conn)
        for raw in self.fw.on_control(bytes(value), self.sensor_s * 1e6, secure=secure):
            self._queue(raw, self._chars["control"])
        if self.fw.state != 0:  # left IDLE: acquisition has started
            self._started.set()

    def _queue(self, raw: bytes, char: Characteristic) -> None:
        if self.conn is None:
            self.stats["dropped_on_air"] += 1
            return
        self._out.append((char, raw))
        self._wake.set()

    # ----------------------------------------------------------------- advertising
    def _adv_data(self) -> tuple[bytes, bytes]:
        battery = int(getattr(self.fw, "battery_pct", 100))
        flags = int(getattr(self.fw, "flags", 0))
        adv = AD(
            [
                (AD.Type.FLAGS, bytes([0x06])),
                (
                    AD.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    UUID(gatt.SERVICE_UUID).to_bytes(),
                ),
                (
                    AD.Type.MANUFACTURER_SPECIFIC_DATA,
                    gatt.COMPANY_ID.to_bytes(2, "little")
                    + gatt.encode_adv_payload(max(0, min(100, battery)), flags),
                ),
            ]
        )
        rsp = AD([(AD.Type.COMPLETE_LOCAL_NAME, self.name.encode())])
        return bytes(adv), bytes(rsp)

    async def _advertise(self) -> None:
        assert self.device is not None
        await advertise(self.device, *self._adv_data())

    def _on_connection(self, conn: Connection) -> None:
        self.conn = conn
        self.stats["connections"] += 1
        conn.on(conn.EVENT_DISCONNECTION, lambda *_: self._on_disconnection(conn))
        conn.on(conn.EVENT_PAIRING, lambda *_: self.security.on_bonded(conn))
        if hasattr(self.fw, "on_connect"):
            self.fw.on_connect()

    def _on_disconnection(self, conn: Connection) -> None:
        if self.conn is conn:
            self.conn = None
            self.stats["dropped_on_air"] += len(self._out)
            self._out.clear()
            self._drained.set()
            if hasattr(self.fw, "on_disconnect"):
                self.fw.on_disconnect()
            if (
                self._task is not None
                and not self._task.done()
                and self.sensor_s >= self._away_until
            ):
                asyncio.get_running_loop().create_task(self._advertise())

    # ----------------------------------------------------------------- lifecycle
    async def start(self, where: LocalAir | LocalLink) -> None:
        link = where.link if isinstance(where, LocalAir) else where
        dev = peripheral_device(link, self.name, self.address)
        self._build_gatt(dev)
        dev.keystore = self.security.store
        dev.pairing_config_factory = self.security.pairing_config
        dev.on(dev.EVENT_CONNECTION, self._on_connection)
        await dev.power_on()
        self.device = dev
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._sender = asyncio.get_running_loop().create_task(self._send_loop())
        await self._advertise()

    async def stop(self) -> None:
        await stop_peripheral(self.device, self.conn, (self._task, self._sender))

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                conn, dev = self.conn, self.device
                if conn is None or dev is None:
                    self._out.clear()
                    break
                char, raw = self._out.popleft()
                if char is not self._chars["control"] and not self.security.trusted(conn):
                    self.stats["untrusted_withheld"] += 1  # no data for a stranger
                    continue
                try:
                    await dev.notify_subscriber(conn, char, raw)
                    self.stats["notified"] += 1
                except Exception:  # link went down under us: the ring buffer has it
                    self.stats["dropped_on_air"] += 1
                    continue
                queue = dev.host.get_data_packet_queue(conn.handle)
                if queue is not None and queue.pending >= MAX_IN_FLIGHT:
                    with contextlib.suppress(Exception):
                        await queue.drain(conn.handle)
            self._drained.set()

    async def _delivered(self) -> None:
        """Wait until this step's notifications have reached the central's host.

        Each step leaves only once the previous one has arrived, so the emulated link's
        latency stays under one step (as a real link that keeps up), whatever the speed;
        when the link cannot keep up, sensor time slows down instead.
        """
        if self.conn is None or not self._out:
            return
        self._drained.clear()
        if self._out:
            await self._drained.wait()
        conn, dev = self.conn, self.device
        if conn is not None and dev is not None:
            queue = dev.host.get_data_packet_queue(conn.handle)
            if queue is not None and queue.pending:
                with contextlib.suppress(Exception):
                    await queue.drain(conn.handle)
        for _ in range(4):  # controller -> link -> controller -> host hops
            await asyncio.sleep(0)

    async def _link_drop(self, duration_s: float) -> None:
        self._away_until = self.sensor_s + duration_s
        assert self.device is not None
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.disconnect()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # The sensor is strapped on and switched on when the host first starts it: sensor
        # time starts then, so a finite source is measured from its first sample.
        await self._started.wait()
        t_last = loop.time()
        target = 0.0  # sensor time the wall clock x speed has reached
        away = False
        # a step is STEP_S of sensor time, or >= MIN_STEP_WALL_S of wall time when fast
        step_s = max(STEP_S, self.speed * MIN_STEP_WALL_S)
        try:
            while True:
                if self.fw.exhausted:
                    # the source is used up: sensor time stands still (nothing more to
                    # sample), but queued resends still go out
                    self.done.set()
                    for raw in self.fw.advance_to(self.sensor_s * 1e6):
                        self._queue(raw, self._chars["data"])
                    for raw in self.fw.pop_status():
                        self._queue(raw, self._chars["status"])
                    await self._delivered()
                    await asyncio.sleep(0.01)
                    continue
                # fault schedule
                while self._pending_drops and self._pending_drops[0][0] <= self.sensor_s:
                    _, dur = self._pending_drops.pop(0)
                    log.info("sensor: link drop at %.1f s for %.1f s", self.sensor_s, dur)
                    await self._link_drop(dur)
                    away = True
                while self._pending_reboots and self._pending_reboots[0] <= self.sensor_s:
                    self._pending_reboots.pop(0)
                    log.info("sensor: reboot at %.1f s", self.sensor_s)
                    self.fw.reboot()
                    await self._link_drop(1.0)
                    away = True
                if away and self.sensor_s >= self._away_until:
                    away = False
                    if self.conn is None:
                        await self._advertise()
                # pace: sensor time follows the wall clock x speed (and waits for the link,
                # below).  While the host is reconnecting (link up or coming, not streaming)
                # it runs at real pace: a reconnect takes the host ~0.2 s of real time
                # (BLE_TESTING.md), not 0.2 s x speed.
                now = loop.time()
                streaming = self.conn is not None and self.fw.state == codec.STATE_STREAMING
                pace = self.speed if (away or streaming) else min(self.speed, 1.0)
                # no catching up: when the link (or the host) was slower than ``speed``,
                # sensor time slowed down with it, as it would have at real pace
                target = min(
                    max(target, self.sensor_s) + (now - t_last) * pace, self.sensor_s + 2 * step_s
                )
                t_last = now
                if target < self.sensor_s + step_s:
                    await asyncio.sleep(min(0.05, (self.sensor_s + step_s - target) / pace))
                    continue
                step = min(target, self.sensor_s + step_s)
                self.sensor_s = step
                for raw in self.fw.advance_to(step * 1e6):
                    self._queue(raw, self._chars["data"])
                for raw in self.fw.pop_status():
                    self._queue(raw, self._chars["status"])
                await self._delivered()
        finally:
            self.done.set()


# --------------------------------------------------------------------- convenience
def night_source(spec: str | None, duration_s: float | None, seed: int = 1) -> Any:
    """A sample source from a CLI spec: None/'synthetic' -> make_night; else a recording
    folder or an EDF/BDF file (:func:`recordings.export.open_source`)."""
    if spec in (None, "", "synthetic", "night"):
        from emulator.night import make_night

        return make_night(seed, duration_s or 3600.0)
    from recordings.export import open_source

    return open_source(spec)


async def serve(args: argparse.Namespace, on_port: Callable[[int], None]) -> None:
    link = LocalLink()
    transport, port = await serve_controller(link, args.port)
    faults = Faults(
        drops=[(float(a), float(b)) for a, b in (d.split(":") for d in args.drop)],
        reboots=[float(r) for r in args.reboot],
        drift_ppm=args.drift_ppm,
        corrupt_every=args.corrupt_every,
    )
    src = night_source(args.source, args.duration, args.seed)
    fw = make_firmware(src, faults, seed=args.seed)
    sensor = EmulatedSensor(
        fw,
        name=args.name,
        address=args.address,
        speed=args.speed,
        faults=faults,
        duration_s=args.duration,
        security=SensorSecurity(io=args.io),
    )
    on_port(port)
    await sensor.start(link)
    t = time.process_time()
    try:
        await asyncio.get_running_loop().create_future()  # until killed
    finally:
        print(f"CPU {time.process_time() - t:.3f}", file=sys.stderr, flush=True)
        await sensor.stop()
        await transport.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description="Serve an emulated NightCramp sensor over HCI/TCP on 127.0.0.1."
    )
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument(
        "--source", default=None, help="synthetic (default), a recording folder or an EDF file"
    )
    ap.add_argument("--duration", type=float, default=3600.0, help="seconds of sensor time")
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--name", default=None)
    ap.add_argument("--address", default="C2:00:00:00:00:01")
    ap.add_argument("--drop", action="append", default=[], help="AT:DURATION in sensor seconds")
    ap.add_argument("--reboot", action="append", default=[])
    ap.add_argument("--drift-ppm", type=float, default=0.0)
    ap.add_argument("--corrupt-every", type=int, default=0)
    ap.add_argument(
        "--io",
        choices=("none", "display"),
        default="none",
        help="none: Just Works pairing; display: numeric comparison (PROTOCOL.md 7)",
    )
    args = ap.parse_args(argv)

    def on_port(port: int) -> None:
        print(f"PORT {port}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args, on_port))


if __name__ == "__main__":
    main()
