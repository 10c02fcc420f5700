"""Emulated off-the-shelf sensors over bumble: a BITalino (r)evolution BLE and an OpenBCI
Ganglion, each with its vendor's GATT layout and its own encoder written from the public
protocol (:mod:`firmware_protocol.devices`), fed by a night source (µV, g).

Unlike our own sensor these devices have no ring buffer: what the link does not carry is
gone.  Both stop streaming when the link drops (BITalino: the BLE module sends the MCU
0xFF; Ganglion: ``SimbleeBLE_onDisconnect()`` stops the board), so the host must start
them again after every reconnect, and the samples of the time away are simply not there.

Fault switches (:class:`DeviceFaults`, seconds of true time since the first start):
link drops of a given length, reboots, single lost notifications (BITalino: one frame's
bytes dropped from the UART stream; Ganglion: one packet), clock drift.

Sensor time is paced like :class:`emulator.virtual.sensor.EmulatedSensor`: at ``speed``
times real pace, never faster than the link delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bumble.att import Attribute
from bumble.core import UUID
from bumble.core import AdvertisingData as AD
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.link import LocalLink

from detector.stream import Chunk, Gap
from emulator.virtual.air import LocalAir, advertise, peripheral_device, stop_peripheral
from firmware_protocol.devices import bitalino as B
from firmware_protocol.devices import ganglion as G

log = logging.getLogger(__name__)

STEP_S = 0.05
MIN_STEP_WALL_S = 0.002
MAX_IN_FLIGHT = 24
DIS_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
HARDWARE_UUID = "00002a27-0000-1000-8000-00805f9b34fb"


@dataclass
class DeviceFaults:
    drops: list[tuple[float, float]] = field(default_factory=list)
    """(at_s, duration_s): the device goes out of reach (and stops streaming)."""
    reboots: list[float] = field(default_factory=list)
    """at_s: the device restarts (link lost, back after 1 s, idle)."""
    lose: list[float] = field(default_factory=list)
    """at_s: the next data unit (BITalino frame, Ganglion packet) is lost."""
    drift_ppm: float = 0.0


class NightReader:
    """Rows of a :class:`detector.stream.Source` by index, read once, front to back."""

    def __init__(self, source: Any) -> None:
        self.layout = source.layout
        self._it: Iterator[Chunk | Gap] = iter(source.chunks())
        self._emg = np.zeros((0, self.layout.n_emg))
        self._emg0 = 0
        self._acc = np.zeros((0, 3))
        self._acc0 = 0
        self.exhausted = False

    def _pull(self) -> bool:
        for item in self._it:
            if isinstance(item, Chunk):
                e = np.asarray(item.emg, dtype=np.float64)
                if item.emg_start > self._emg0 + len(self._emg):  # source gap: flat line
                    pad = item.emg_start - self._emg0 - len(self._emg)
                    e = np.concatenate([np.zeros((pad, e.shape[1])), e])
                self._emg = np.concatenate([self._emg, e]) if len(self._emg) else e
                if item.acc.shape[0]:
                    a = np.asarray(item.acc, dtype=np.float64)
                    if item.acc_start > self._acc0 + len(self._acc):
                        pad = item.acc_start - self._acc0 - len(self._acc)
                        a = np.concatenate([np.tile([[0.0, 0.0, 1.0]], (pad, 1)), a])
                    self._acc = np.concatenate([self._acc, a]) if len(self._acc) else a
                return True
        self.exhausted = True
        return False

    def emg(self, i0: int, i1: int) -> np.ndarray:
        """EMG rows [i0, i1) (µV); fewer at the end of the source."""
        while self._emg0 + len(self._emg) < i1 and not self.exhausted:
            self._pull()
        drop = max(0, min(i0 - self._emg0, len(self._emg)))
        if drop:
            self._emg = self._emg[drop:]
            self._emg0 += drop
        return self._emg[: max(0, i1 - self._emg0)]

    def acc(self, j0: int, j1: int) -> np.ndarray:
        """Accelerometer rows [j0, j1) (g); the last one repeated past the source's end."""
        while self._acc0 + len(self._acc) < j1 and not self.exhausted:
            self._pull()
        drop = max(0, min(j0 - self._acc0, len(self._acc) - 1))
        if drop > 0:
            self._acc = self._acc[drop:]
            self._acc0 += drop
        if not len(self._acc):
            return np.tile([[0.0, 0.0, 1.0]], (j1 - j0, 1))
        rows = self._acc[max(0, j0 - self._acc0) : max(0, j1 - self._acc0)]
        if len(rows) < j1 - j0:
            rows = np.concatenate([rows, np.tile(self._acc[-1:], (j1 - j0 - len(rows), 1))])
        return rows

    def n_emg_total(self) -> int:
        return self._emg0 + len(self._emg)


class EmulatedDevice:
    """Shared machinery: advertising, GATT plumbing, pacing, faults.  Subclasses model the
    device's firmware (commands in, notifications out)."""

    kind = "device"
    service_uuid = ""
    notify_uuid = ""

    def __init__(
        self,
        source: Any,
        *,
        name: str,
        address: str,
        speed: float = 1.0,
        faults: DeviceFaults | None = None,
        duration_s: float | None = None,
    ) -> None:
        self.reader = NightReader(source)
        self.name = name
        self.address = address
        self.speed = float(speed)
        self.faults = faults or DeviceFaults()
        self.duration_s = duration_s
        self.device: Device | None = None
        self.conn: Connection | None = None
        self.true_s = 0.0
        self.streaming = False
        self.done = asyncio.Event()
        self.stats: dict[str, int] = {"notified": 0, "connections": 0, "lost": 0, "starts": 0}
        self._started = asyncio.Event()
        self._out: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._away_until = -1.0
        self._drops = sorted(self.faults.drops)
        self._reboots = sorted(self.faults.reboots)
        self._lose = sorted(self.faults.lose)
        self._notify: Characteristic | None = None

    # ---------------------------------------------------------------- subclass hooks
    def build_services(self) -> list[Service]:  # pragma: no cover - abstract
        raise NotImplementedError

    def produce(self, t0: float, t1: float) -> list[bytes]:  # pragma: no cover - abstract
        """Notifications for device time (t0, t1] while streaming."""
        raise NotImplementedError

    def on_link_lost(self) -> None:
        self.streaming = False

    def on_reboot(self) -> None:
        self.streaming = False

    # ---------------------------------------------------------------- helpers
    def device_time(self) -> float:
        return self.true_s * (1.0 + self.faults.drift_ppm * 1e-6)

    def _lose_now(self) -> bool:
        if self._lose and self._lose[0] <= self.true_s:
            self._lose.pop(0)
            self.stats["lost"] += 1
            return True
        return False

    def send(self, raw: bytes) -> None:
        if self.conn is None:
            return
        self._out.append(raw)
        self._wake.set()

    def started(self) -> None:
        """A start command arrived (the subclass calls it)."""
        self.streaming = True
        self.stats["starts"] += 1
        self._started.set()

    # ---------------------------------------------------------------- lifecycle
    def _adv(self) -> tuple[bytes, bytes]:
        u = UUID(self.service_uuid)
        kind = (
            AD.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS
            if len(u.to_bytes()) == 2
            else AD.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS
        )
        adv = AD([(AD.Type.FLAGS, bytes([0x06])), (kind, u.to_bytes())])
        rsp = AD([(AD.Type.COMPLETE_LOCAL_NAME, self.name.encode())])
        return bytes(adv), bytes(rsp)

    async def _advertise(self) -> None:
        assert self.device is not None
        await advertise(self.device, *self._adv())

    async def start(self, where: LocalAir | LocalLink) -> None:
        link = where.link if isinstance(where, LocalAir) else where
        dev = peripheral_device(link, self.name, self.address)
        for svc in self.build_services():
            dev.add_service(svc)
        dev.on(dev.EVENT_CONNECTION, self._on_connection)
        await dev.power_on()
        self.device = dev
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        self._sender = loop.create_task(self._send_loop())
        await self._advertise()

    async def stop(self) -> None:
        await stop_peripheral(self.device, self.conn, (self._task, self._sender))

    def _on_connection(self, conn: Connection) -> None:
        self.conn = conn
        self.stats["connections"] += 1
        conn.on(conn.EVENT_DISCONNECTION, lambda *_: self._on_disconnection(conn))

    def _on_disconnection(self, conn: Connection) -> None:
        if self.conn is not conn:
            return
        self.conn = None
        self._out.clear()
        self._drained.set()
        self.on_link_lost()
        if self._task is not None and not self._task.done() and self.true_s >= self._away_until:
            asyncio.get_running_loop().create_task(self._advertise())

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                conn, dev = self.conn, self.device
                if conn is None or dev is None or self._notify is None:
                    self._out.clear()
                    break
                raw = self._out.popleft()
                try:
                    await dev.notify_subscriber(conn, self._notify, raw)
                    self.stats["notified"] += 1
                except Exception:
                    continue
                queue = dev.host.get_data_packet_queue(conn.handle)
                if queue is not None and queue.pending >= MAX_IN_FLIGHT:
                    with contextlib.suppress(Exception):
                        await queue.drain(conn.handle)
            self._drained.set()

    async def _delivered(self) -> None:
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
        for _ in range(4):
            await asyncio.sleep(0)

    async def _go_away(self, duration_s: float) -> None:
        self._away_until = self.true_s + duration_s
        assert self.device is not None
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.disconnect()
        self.on_link_lost()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        await self._started.wait()
        t_last = loop.time()
        target = 0.0
        away = False
        step_s = max(STEP_S, self.speed * MIN_STEP_WALL_S)
        try:
            while True:
                if self.reader.exhausted and self.reader.n_emg_total() <= self._consumed():
                    self.done.set()
                    await asyncio.sleep(0.01)
                    continue
                while self._drops and self._drops[0][0] <= self.true_s:
                    _, dur = self._drops.pop(0)
                    log.info("%s: link drop at %.1f s for %.1f s", self.kind, self.true_s, dur)
                    await self._go_away(dur)
                    away = True
                while self._reboots and self._reboots[0] <= self.true_s:
                    self._reboots.pop(0)
                    log.info("%s: reboot at %.1f s", self.kind, self.true_s)
                    self.on_reboot()
                    await self._go_away(1.0)
                    away = True
                if away and self.true_s >= self._away_until:
                    away = False
                    if self.conn is None:
                        await self._advertise()
                now = loop.time()
                pace = self.speed if (away or self.streaming) else min(self.speed, 1.0)
                target = min(
                    max(target, self.true_s) + (now - t_last) * pace, self.true_s + 2 * step_s
                )
                t_last = now
                if target < self.true_s + step_s:
                    await asyncio.sleep(min(0.05, (self.true_s + step_s - target) / pace))
                    continue
                t0 = self.device_time()
                self.true_s = min(target, self.true_s + step_s)
                if self.streaming and self.conn is not None:
                    for raw in self.produce(t0, self.device_time()):
                        self.send(raw)
                    await self._delivered()
                else:
                    self.skip(t0, self.device_time())
        finally:
            self.done.set()

    def _consumed(self) -> int:  # pragma: no cover - overridden
        return 0

    def skip(self, t0: float, t1: float) -> None:
        """Device time passes while not streaming (the night goes on unseen)."""


def _dis(items: dict[str, str]) -> Service:
    props = Characteristic.Properties
    return Service(
        DIS_UUID,
        [Characteristic(u, props.READ, Attribute.READABLE, v.encode()) for u, v in items.items()],
    )


# ------------------------------------------------------------------------ BITalino
class EmulatedBitalino(EmulatedDevice):
    """A BITalino (r)evolution BLE with EMG modules on A1/A2 and the ACC module on
    A3/A4/A5 (default), speaking the MCU's byte protocol through the BT121 bridge."""

    kind = B.KIND
    service_uuid = B.SERVICE_UUID
    notify_uuid = B.FRAMES_UUID
    VERSION = "BITalino_v5.2"

    def __init__(
        self,
        source: Any,
        *,
        name: str = "BITalino-0E-02",
        address: str = "C2:00:00:00:0E:02",
        cmap: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(source, name=name, address=address, **kw)
        self.cmap = cmap or B.DEFAULT_MAP
        self.fs = 1000
        self.channels: tuple[int, ...] = ()
        self._uart = bytearray()
        self._i = 0  # next sample index (device clock)
        self._seq = 0
        lay = self.reader.layout
        self._acc_ratio = (lay.acc_fs or 0.0) / float(lay.emg_fs)

    def build_services(self) -> list[Service]:
        props = Characteristic.Properties
        commands: Characteristic[bytes] = Characteristic(
            B.COMMANDS_UUID,
            props.WRITE | props.READ | props.INDICATE,
            Attribute.WRITEABLE | Attribute.READABLE,
            CharacteristicValue[bytes](read=lambda _c: b"", write=self._on_command),
        )
        frames: Characteristic[bytes] = Characteristic(
            B.FRAMES_UUID, props.READ | props.NOTIFY, Attribute.READABLE, b""
        )
        self._notify = frames
        return [
            _dis(
                {
                    MANUFACTURER_UUID: "Plux",
                    B.FIRMWARE_REVISION_UUID: "Firmware v1.0",
                    HARDWARE_UUID: "PCB v1.0",
                }
            ),
            Service(B.SERVICE_UUID, [commands, frames]),
        ]

    def _on_command(self, _conn: Connection, value: bytes) -> None:
        for b in bytes(value):
            cmd = B.decode_command(b)
            if self.streaming:
                if cmd.what in ("stop", "idle"):
                    self.streaming = False
                continue
            if cmd.what == "rate":
                self.fs = cmd.fs
            elif cmd.what == "version":
                self._uart_out((self.VERSION + "\n").encode())
            elif cmd.what == "start":
                self.channels = cmd.channels
                self._i = int(self.device_time() * self.fs)
                self._seq = 0
                self.started()

    def _uart_out(self, data: bytes) -> None:
        # the BT121 forwards UART bytes as they come, up to 20 per notification
        for i in range(0, len(data), B.MAX_NOTIFY):
            self.send(data[i : i + B.MAX_NOTIFY])

    def on_link_lost(self) -> None:
        self.streaming = False  # the module sends the MCU 0xFF [BT121]
        self._uart.clear()

    def _consumed(self) -> int:
        return self._i

    def skip(self, t0: float, t1: float) -> None:
        self._i = int(t1 * self.fs)

    def produce(self, t0: float, t1: float) -> list[bytes]:
        i1 = int(t1 * self.fs)
        i0 = self._i
        if i1 <= i0:
            return []
        self._i = i1
        n = len(self.channels)
        emg = self.reader.emg(i0, i1)
        k = emg.shape[0]
        if k == 0:
            return []
        adc = np.zeros((k, n), dtype=np.int64)
        adc[:, :] = 1 << 9
        for j, ch in enumerate(self.cmap.emg_channels):
            col = B.ANALOG_NAMES.index(ch)
            if col < n and j < emg.shape[1]:
                adc[:, col] = B.emg_adc(emg[:, j], B.SLOT_BITS[col])
        if self.cmap.acc and self._acc_ratio:
            jj = np.floor((np.arange(i0, i0 + k)) * self._acc_ratio).astype(np.int64)
            acc = self.reader.acc(int(jj[0]), int(jj[-1]) + 1)[jj - jj[0]]
            for j, ch in enumerate(self.cmap.acc):
                col = B.ANALOG_NAMES.index(ch)
                if col < n:
                    lo, hi = B.acc_cal(B.SLOT_BITS[col])
                    adc[:, col] = B.acc_adc(acc[:, j], lo, hi, B.SLOT_BITS[col])
        frames = B.encode_stream(adc, seq0=self._seq)
        self._seq = (self._seq + k) % 16
        size = B.frame_size(n)
        if self._lose and self._lose[0] <= self.true_s and k:
            self._lose_now()
            frames = frames[:size] + frames[2 * size :] if k > 1 else b""
        self._uart += frames
        out = []
        while len(self._uart) >= B.MAX_NOTIFY:
            out.append(bytes(self._uart[: B.MAX_NOTIFY]))
            del self._uart[: B.MAX_NOTIFY]
        if self._uart:  # the UART idles between steps: the bridge sends what it has
            out.append(bytes(self._uart))
            self._uart.clear()
        return out


# ------------------------------------------------------------------------ Ganglion
class EmulatedGanglion(EmulatedDevice):
    """An OpenBCI Ganglion (firmware 3 by default, or 2) with electrodes on channels 1-3."""

    kind = G.KIND
    service_uuid = G.SERVICE_UUID
    notify_uuid = G.RECEIVE_UUID

    def __init__(
        self,
        source: Any,
        *,
        name: str = "Ganglion-0e03",
        address: str = "C2:00:00:00:0E:03",
        firmware: int = 3,
        **kw: Any,
    ) -> None:
        super().__init__(source, name=name, address=address, **kw)
        self.firmware = firmware
        self.revision = "3.0.2" if firmware == 3 else "2.0.1"
        self.use_accel = False
        self._accel_edge = False
        self._tick = 0  # next MCP3912 sample (device clock, 200 Hz)
        self._counter = 0xFF
        self._ring = 0xFF
        self._first = True
        self._last = np.zeros(4, dtype=np.int64)
        self._half: np.ndarray | None = None
        self._half_n = 18

    def build_services(self) -> list[Service]:
        props = Characteristic.Properties
        receive: Characteristic[bytes] = Characteristic(
            G.RECEIVE_UUID, props.READ | props.NOTIFY, Attribute.READABLE, b""
        )
        send: Characteristic[bytes] = Characteristic(
            G.SEND_UUID,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            Attribute.WRITEABLE,
            CharacteristicValue[bytes](write=self._on_command),
        )
        disc: Characteristic[bytes] = Characteristic(
            G.DISCONNECT_UUID,
            props.WRITE | props.WRITE_WITHOUT_RESPONSE,
            Attribute.WRITEABLE,
            CharacteristicValue[bytes](write=lambda *_: None),
        )
        self._notify = receive
        return [
            _dis(
                {
                    MANUFACTURER_UUID: "openbci.com",
                    MODEL_UUID: "Ganglion",
                    HARDWARE_UUID: "1.0.1",
                    G.SOFTWARE_REVISION_UUID: self.revision,
                }
            ),
            Service(G.SERVICE_UUID, [receive, send, disc]),
        ]

    def _on_command(self, _conn: Connection, value: bytes) -> None:
        for ch in bytes(value):
            c = bytes([ch])
            if c == G.START and not self.streaming:
                self._counter, self._ring, self._first = 0xFF, 0xFF, True
                self._tick = int(self.device_time() * G.FS)
                self._last = np.zeros(4, dtype=np.int64)
                self.started()
            elif c == G.STOP:
                self.streaming = False
            elif c == G.ACCEL_ON:
                self.use_accel, self._accel_edge = True, True
            elif c == G.ACCEL_OFF:
                self.use_accel, self._accel_edge = False, True

    def on_link_lost(self) -> None:
        self.streaming = False  # SimbleeBLE_onDisconnect(): stopRunning(), useAccel = false
        self.use_accel = False

    def _consumed(self) -> int:
        return self._tick

    def skip(self, t0: float, t1: float) -> None:
        self._tick = int(t1 * G.FS)

    def _counts(self, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
        emg = self.reader.emg(t0, t1)
        counts = np.zeros((emg.shape[0], 4), dtype=np.int64)
        c = np.rint(emg[:, :4] / G.UV_PER_COUNT).astype(np.int64)
        counts[:, : c.shape[1]] = np.clip(c, -(1 << 23), (1 << 23) - 1)
        lay = self.reader.layout
        if lay.acc_fs and emg.shape[0]:
            jj = np.floor(np.arange(t0, t0 + emg.shape[0]) * lay.acc_fs / lay.emg_fs).astype(
                np.int64
            )
            acc = self.reader.acc(int(jj[0]), int(jj[-1]) + 1)[jj - jj[0]]
        else:
            acc = np.tile([[0.0, 0.0, 1.0]], (emg.shape[0], 1))
        axis = np.clip(np.rint(acc / G.G_PER_COUNT), -128, 127).astype(np.int64) & 0xFF
        return counts, axis

    def produce(self, t0: float, t1: float) -> list[bytes]:
        k1 = int(t1 * G.FS)
        if k1 <= self._tick:
            return []
        counts, axis = self._counts(self._tick, k1)
        self._tick += counts.shape[0]
        out: list[bytes] = []
        for row, ax in zip(counts, axis, strict=True):
            pkt = self._sample(row, ax)
            if pkt is not None:
                if self._lose and self._lose[0] <= self.true_s:
                    self._lose_now()
                    continue
                out.append(pkt)
        return out

    def _sample(self, row: np.ndarray, ax: np.ndarray) -> bytes | None:
        """One MCP3912 sample through the firmware's processData() [LIB3 / LIB2]."""
        self._counter = (self._counter + 1) & 0xFF  # MCP_ISR: sampleCounter++
        if self.firmware == 3:
            if self._counter > 200:
                self._counter, self._ring = 0, 0
            n = 18 if self.use_accel else 19
            if self._accel_edge:
                self._accel_edge = False
                if self._counter % 2 == 0:
                    n = 19 if self.use_accel else 18
            if self._counter % 2 == 0:
                self._half, self._half_n = row.copy(), n
                return None
            first = self._half if self._half is not None else row
            pid = self._ring if n == 18 else (self._ring + 100) & 0xFF
            self._ring = (self._ring + 1) & 0xFF
            self._half = None
            if self._first:  # ring level 0xFF: id 255 (or 99), half 19-bit half 18-bit [LIB3]
                self._first = False
                return bytes([pid]) + bytes(19)
            a = None
            if n == 18 and pid % 10 in (1, 2, 3):
                a = int(ax[pid % 10 - 1])
            return G.encode_v3(pid, first.tolist(), row.tolist(), a)
        # firmware 2
        if self._counter >= 201:
            self._counter = 0
        if self._counter == 0:
            self._last = row.copy()
            return G.encode_raw(row.tolist())
        d = self._last - row
        self._last = row.copy()
        if self._counter % 2 == 1:
            self._half = d
            return None
        k = self._counter // 2
        pid = k if self.use_accel else 100 + k
        a = int(ax[k % 10 - 1]) if self.use_accel and k % 10 in (1, 2, 3) else None
        first = self._half if self._half is not None else d
        self._half = None
        return G.encode_v2(pid, first.tolist(), d.tolist(), a)


def make_device(kind: str, source: Any, **kw: Any) -> EmulatedDevice:
    if kind == B.KIND:
        return EmulatedBitalino(source, **kw)
    if kind == G.KIND:
        return EmulatedGanglion(source, **kw)
    raise ValueError(f"no emulated device of kind {kind!r}")


def night_for(kind: str, seed: int, duration_s: float, **kw: Any) -> Any:
    """A synthetic night at the device's rates and sites."""
    from emulator.night import make_night

    if kind == B.KIND:
        return make_night(
            seed, duration_s, emg_fs=1000.0, acc_fs=100.0, sites=("gastrocnemius", "tibialis"), **kw
        )
    if kind == G.KIND:
        return make_night(
            seed,
            duration_s,
            emg_fs=200.0,
            acc_fs=10.0,
            sites=("gastrocnemius", "soleus", "tibialis"),
            **kw,
        )
    raise ValueError(f"no night model for kind {kind!r}")
