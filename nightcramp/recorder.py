"""The live recorder: sensor over BLE (bleak) -> recording + live detection + cramp log.

One asyncio task does everything, in the order a frame must be safe:

1. every notification is written first (``RecordingWriter.append_frame(raw, rx_ns)``,
   flushed to disk at least once a second by the writer), so nothing received is lost
   whatever happens next;
2. decoded once, it goes to the :class:`~recordings.assemble.FrameAssembler` (the same
   object replay uses), whose chunks and gaps feed the
   :class:`~detector.pipeline.Pipeline` in blocks of about a second; closed events go to
   the cramp log at once (``CrampLog.event_sink``).

The link will drop overnight.  The recorder reconnects with exponential backoff for as
long as the night lasts, **only to the address it first connected to** (a device that
merely advertises the same name is never used), and asks the sensor to resend from the
last sequence number it holds + 1 (``Resend``).  What the sensor no longer holds comes
back as a ``LossFrame`` and becomes an explicit gap; the two sides are never joined.  A
sequence hole inside a connection (a corrupted notification) is also asked for again.

The BLE stack is chosen by keyword arguments handed to bleak: none in production
(bleak's platform backend), ``air.scanner_kwargs()`` / ``air.client_kwargs()`` for the
virtual bumble stack of :mod:`emulator.virtual`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDeviceNotFoundError, BleakGATTProtocolError

from detector.events import Event, NightResult
from detector.pipeline import Pipeline
from detector.stream import Chunk, Gap
from firmware_protocol import ProtocolError, codec, gatt
from nightcramp import paths
from recordings.assemble import FrameAssembler, recording_config
from recordings.errors import UserError

log = logging.getLogger(__name__)

_ADDRESS_RE = re.compile(
    r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$"
)

#: Reconnect backoff, wall seconds: first retry after 0.2 s (a dropped link usually
#: comes back within a second: BLE_TESTING.md measured 0.12-0.20 s to resume), doubling
#: to at most 8 s, well inside the sensor's >= 120 s ring buffer (PROTOCOL.md).
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 8.0
#: Feed the detector in blocks of this many seconds of samples (fewer calls, same
#: events: the detector is chunk-size independent); adds at most this much delay.
FEED_BLOCK_S = 1.0
#: Ask for a TimeSync round trip this often (s, wall): pairs go to notes.jsonl.
TIME_SYNC_EVERY_S = 60.0
#: A sequence hole seen mid-connection (a corrupted notification) is asked for again with
#: one outstanding Resend at a time; a request unanswered after this long (s, wall) is
#: repeated.  Holes wider than MAX_HOLE_FRAMES are a reconnect's business, not this.
HOLE_RESEND_TIMEOUT_S = 2.0
MAX_HOLE_FRAMES = 256


def looks_like_address(s: str) -> bool:
    """A Bluetooth address (AA:BB:CC:DD:EE:FF) or a CoreBluetooth UUID."""
    return bool(_ADDRESS_RE.match(s.strip()))


def is_sensor(ad: AdvertisementData) -> bool:
    return gatt.SERVICE_UUID in ad.service_uuids or (ad.local_name or "").startswith(
        gatt.NAME_PREFIX
    )


def adv_battery(ad: AdvertisementData) -> int | None:
    raw = ad.manufacturer_data.get(gatt.COMPANY_ID)
    if raw is None:
        return None
    try:
        return gatt.decode_adv_payload(raw).battery_pct
    except ProtocolError:
        return None


@dataclass
class Found:
    device: BLEDevice
    name: str
    address: str
    rssi: int
    battery: int | None


async def scan(timeout: float = 5.0, **scanner_kwargs: Any) -> list[Found]:
    """Sensors advertising nearby (by service UUID or name prefix), strongest first."""
    seen: dict[str, Found] = {}

    def on_adv(d: BLEDevice, ad: AdvertisementData) -> None:
        if is_sensor(ad):
            seen[d.address] = Found(
                d, ad.local_name or d.name or "?", d.address, ad.rssi, adv_battery(ad)
            )

    async with BleakScanner(on_adv, **scanner_kwargs):
        await asyncio.sleep(timeout)
    return sorted(seen.values(), key=lambda f: -f.rssi)


async def find_sensor(target: str, timeout: float = 10.0, **scanner_kwargs: Any) -> Found:
    """The one sensor named ``target`` (a name or an address); ambiguity is an error."""
    want_addr = looks_like_address(target)
    matches: dict[str, Found] = {}
    first_at: list[float] = []

    def on_adv(d: BLEDevice, ad: AdvertisementData) -> None:
        hit = (d.address.upper() == target.upper()) if want_addr else (ad.local_name == target)
        if hit and d.address not in matches:
            matches[d.address] = Found(
                d, ad.local_name or target, d.address, ad.rssi, adv_battery(ad)
            )
            if not first_at:
                first_at.append(time.monotonic())

    t0 = time.monotonic()
    async with BleakScanner(on_adv, **scanner_kwargs):
        # after the first match keep listening briefly: two sensors with one name must
        # not be resolved by whichever advertised first (1 s > 10 advertising intervals)
        while time.monotonic() - t0 < timeout:
            if first_at and (want_addr or time.monotonic() - first_at[0] > 1.0):
                break
            await asyncio.sleep(0.05)
    if not matches:
        raise UserError(
            f"sensor {target!r}: not found within {timeout:g} s -- is it charged, near, and "
            "not connected to another phone? Run `cramp scan` to list sensors"
        )
    if len(matches) > 1:
        addrs = ", ".join(sorted(matches))
        raise UserError(
            f"sensor {target!r}: {len(matches)} sensors advertise this name ({addrs}) -- "
            "run `cramp record --device ADDRESS` with the one you mean"
        )
    return next(iter(matches.values()))


@dataclass
class RecorderStats:
    connections: int = 0
    disconnects: int = 0
    notifications: int = 0
    data_frames: int = 0
    corrupt: int = 0
    resends: int = 0
    hole_resends: int = 0
    loss_frames: int = 0
    battery: int | None = None
    low_battery: bool = False
    events: dict[str, int] = field(default_factory=dict)
    event_log_delay_s: list[float] = field(default_factory=list)


class Recorder:
    """Record one night.  ``await run()``; call :meth:`stop` (e.g. from a signal) to end.

    ``target``: the sensor's name or address.  ``duration_s``: stop once this much
    timeline (sensor time) has been received (None: until stopped).
    """

    def __init__(
        self,
        target: str,
        *,
        out_dir: str | Path | None = None,
        db: str | Path | None = None,
        duration_s: float | None = None,
        scanner_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        connect_timeout_s: float = 10.0,
        backoff_first_s: float = BACKOFF_FIRST_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        status_stream: TextIO | None = None,
        status_every_s: float = 1.0,
        on_event: Callable[[Event], None] | None = None,
        source_label: str = "ble",
        stop_at_source_end: bool = True,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.target = target
        self.out_dir = out_dir
        self.db = db
        self.duration_s = duration_s
        self.scanner_kwargs = dict(scanner_kwargs or {})
        self.client_kwargs = dict(client_kwargs or {})
        self.connect_timeout_s = connect_timeout_s
        self.backoff_first_s = backoff_first_s
        self.backoff_max_s = backoff_max_s
        self.status_stream = status_stream if status_stream is not None else sys.stderr
        self.status_every_s = status_every_s
        self.on_event = on_event
        self.source_label = source_label
        self.stop_at_source_end = stop_at_source_end
        self.clock_ns = clock_ns
        """Host receive clock, UTC ns (an emulation running faster than real time passes
        its own, so the night's wall times stay those of a real night)."""

        self.address: str | None = target.upper() if looks_like_address(target) else None
        self.name: str | None = None if self.address else target
        self.stats = RecorderStats()
        self.writer: Any = None
        self.assembler: FrameAssembler | None = None
        self.pipeline: Pipeline | None = None
        self.result: NightResult | None = None
        self.night_id: str | None = None
        self.recording_path: Path | None = None
        self.cramplog: Any = None
        self._sink: Callable[[Event], None] | None = None
        self._stop: asyncio.Event | None = None
        self._lost: asyncio.Event | None = None
        self._client: BleakClient | None = None
        self._boot: int | None = None
        self._max_seq = -1
        self._holes: set[int] = set()
        self._hole_req: tuple[int, float] | None = None
        self._status: codec.StatusFrame | None = None
        self._config: codec.ConfigFrame | None = None
        self._source_end = False
        self._block: list[Chunk] = []
        self._block_n = 0
        self._timeline_s = 0.0
        self._state = "starting"
        self._last_status_print = 0.0
        self._rate_mark: tuple[float, int] = (time.monotonic(), 0)
        self._rate = 0.0
        self._token = 0
        self._closing = False
        self._fatal: UserError | None = None

    # ---------------------------------------------------------------- control
    def stop(self) -> None:
        """Ask the recorder to finish (signal-safe when called via loop.add_signal_handler)."""
        if self._stop is not None:
            self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    # ---------------------------------------------------------------- main loop
    async def run(self) -> NightResult | None:
        self._stop = asyncio.Event()
        self._lost = asyncio.Event()
        backoff = self.backoff_first_s
        try:
            while not self._stop.is_set() and self._fatal is None:
                try:
                    await self._session_or_stop()
                    backoff = self.backoff_first_s
                except UserError:
                    if self.stats.connections == 0 or self.writer is None:
                        raise
                    self._state = "searching"
                except Exception as e:  # the link, the stack, a garbled read: retry
                    if self.stats.connections == 0 and (
                        not self.address
                        or not isinstance(e, BleakDeviceNotFoundError | TimeoutError)
                    ):
                        # before the first connection only "not there yet" is worth waiting for
                        raise UserError(
                            _explain(f"sensor {self.target!r}", e, target=self.target)
                        ) from e
                    log.info("recorder: link: %s: %s", type(e).__name__, e)
                    self._state = "reconnecting"
                if self._stop.is_set() or self._fatal is not None:
                    break
                self._print_status(force=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
        finally:
            await self._finalise()
        if self._fatal is not None:
            raise self._fatal
        return self.result

    async def _session_or_stop(self) -> None:
        """Run one connection; a stop request interrupts connecting/searching too."""
        assert self._stop is not None
        sess = asyncio.ensure_future(self._session())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sess, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not sess.done():  # stopping: a connected session ends itself promptly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(sess), 5.0)
            if not sess.done():
                sess.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sess
                return
            sess.result()
        finally:
            stop.cancel()

    async def _session(self) -> None:
        assert self._stop is not None and self._lost is not None
        self._state = "searching"
        if self.address is None:
            found = await find_sensor(self.target, self.connect_timeout_s, **self.scanner_kwargs)
            self.address, self.name = found.address, found.name
            if found.battery is not None:
                self.stats.battery = found.battery
        self._state = "connecting"
        self._lost.clear()
        client = BleakClient(
            self.address,
            disconnected_callback=lambda _c: self._on_disconnect(),
            timeout=self.connect_timeout_s,
            **self.client_kwargs,
        )
        await client.connect()
        self._client = client
        try:
            await self._setup(client)
            self._state = "connected"
            self._print_status(force=True)
            next_sync = time.monotonic()
            while not self._stop.is_set() and not self._lost.is_set():
                now = time.monotonic()
                if now >= next_sync:
                    next_sync = now + TIME_SYNC_EVERY_S
                    await self._command(
                        codec.TimeSync(host_us=self.clock_ns() // 1000, token=self._next_token())
                    )
                self._print_status()
                waiters = [
                    asyncio.ensure_future(self._stop.wait()),
                    asyncio.ensure_future(self._lost.wait()),
                ]
                _, pending = await asyncio.wait(
                    waiters, timeout=0.5, return_when=asyncio.FIRST_COMPLETED
                )
                for p in pending:
                    p.cancel()
            if self._stop.is_set() and client.is_connected:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        self._command(codec.StopStreaming(token=self._next_token())), 2.0
                    )
        finally:
            self._client = None
            if client.is_connected:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), 5.0)

    def _on_disconnect(self) -> None:
        self.stats.disconnects += 1
        self._state = "reconnecting"
        if self.writer is not None and not self._closing:
            self.writer.note("disconnected", last_seq=self._max_seq, boot_id=self._boot)
        if self._lost is not None:
            self._lost.set()

    def _next_token(self) -> int:
        self._token = (self._token + 1) % 256
        return self._token

    async def _command(self, cmd: Any) -> None:
        client = self._client
        if client is None or not client.is_connected:
            return
        await client.write_gatt_char(
            gatt.CONTROL_CHAR_UUID, codec.encode_command(cmd), response=True
        )

    async def _setup(self, client: BleakClient) -> None:
        cfg_raw = await client.read_gatt_char(gatt.CONFIG_CHAR_UUID)
        cfg = codec.decode_frame(bytes(cfg_raw))
        st = codec.decode_frame(bytes(await client.read_gatt_char(gatt.STATUS_CHAR_UUID)))
        if not isinstance(cfg, codec.ConfigFrame) or not isinstance(st, codec.StatusFrame):
            raise ProtocolError("CONFIG/STATUS characteristics returned the wrong frame types")
        self._config = cfg
        self._on_status(st)
        self.stats.connections += 1
        if self.writer is None:
            self._open_outputs(client, cfg)
        self.writer.note(
            "connected",
            address=self.address,
            mtu=client.mtu_size,
            boot_id=st.boot_id,
            next_seq=st.next_seq,
            oldest_seq=st.oldest_seq,
            battery_pct=st.battery_pct,
        )
        await client.start_notify(gatt.DATA_CHAR_UUID, self._on_data)
        await client.start_notify(gatt.CONTROL_CHAR_UUID, self._on_control)
        await client.start_notify(gatt.STATUS_CHAR_UUID, self._on_status_notify)
        self._hole_req = None
        if self._boot is not None and st.boot_id == self._boot and self._max_seq >= 0:
            # same boot: backfill everything after the last frame we hold, then live
            self.stats.resends += 1
            self.writer.note("resend", from_seq=self._max_seq + 1)
            await self._command(codec.Resend(from_seq=self._max_seq + 1, token=self._next_token()))
        elif self._boot is not None and st.boot_id != self._boot:
            self.writer.note("reboot-seen", old_boot=self._boot, new_boot=st.boot_id)
        # (re)start notifications; after a Resend the sensor sends the backfill first
        await self._command(codec.StartStreaming(token=self._next_token()))

    def _open_outputs(self, client: BleakClient, cfg: codec.ConfigFrame) -> None:
        from nightcramp.cramplog import CrampLog
        from recordings.store import RecordingWriter

        device = {
            "name": self.name or client.name,
            "address": self.address,
            "backend": str(type(client._backend).__name__),
        }
        config = recording_config(cfg)
        self.writer = RecordingWriter.create(paths.recordings_dir(self.out_dir), device=device, config=config)
        self.night_id = self.writer.recording_id
        self.recording_path = Path(self.writer.folder)
        self.assembler = FrameAssembler(config=config, device=device)
        self.cramplog = CrampLog.open(self.db)

    # ---------------------------------------------------------------- notifications
    def _on_data(self, _char: Any, data: bytearray) -> None:
        rx_ns = self.clock_ns()
        raw = bytes(data)
        self.stats.notifications += 1
        try:
            frame: Any = codec.decode_frame(raw)
        except ProtocolError:
            frame = None
        backfill = False
        if isinstance(frame, codec.DataFrame):
            self.stats.data_frames += 1
            if self._boot is None or frame.boot_id != self._boot:
                self._boot, self._max_seq = frame.boot_id, -1
            backfill = frame.seq <= self._max_seq
            if frame.seq > self._max_seq + 1 and self._max_seq >= 0:
                if frame.seq - self._max_seq - 1 <= MAX_HOLE_FRAMES:
                    self._holes.update(range(self._max_seq + 1, frame.seq))
            self._holes.discard(frame.seq)
            if self._hole_req is not None and frame.seq == self._hole_req[0]:
                self._hole_req = None  # the resend is arriving
            self._max_seq = max(self._max_seq, frame.seq)
            if self._holes:
                self._ask_hole()
        elif isinstance(frame, codec.LossFrame):
            self.stats.loss_frames += 1
            self._holes.difference_update(range(frame.seq_start, frame.seq_stop))
            self._hole_req = None
            if self.writer is not None:
                self.writer.note(
                    "loss",
                    seq_start=frame.seq_start,
                    seq_stop=frame.seq_stop,
                    reason=frame.reason_name,
                )
        else:
            self.stats.corrupt += 1
        if self.writer is not None:
            try:
                self.writer.append_frame(raw, rx_ns, backfill=backfill)
            except UserError as e:  # disk full: stop cleanly, keep what is on disk
                self._fatal = e
                self.stop()
                return
        if self.assembler is None:
            return
        items = self.assembler.push(frame if frame is not None else raw, rx_ns)
        for item in items:
            self._feed(item)
        if self.duration_s is not None and self._timeline_s >= self.duration_s - 1e-9:
            self.stop()

    def _ask_hole(self) -> None:
        """Ask again for the oldest missing frame (and, by the protocol, all after it)."""
        now = time.monotonic()
        if self._hole_req is not None and now - self._hole_req[1] < HOLE_RESEND_TIMEOUT_S:
            return  # one outstanding request at a time
        from_seq = min(self._holes)
        self._hole_req = (from_seq, now)
        self.stats.hole_resends += 1
        if self.writer is not None:
            self.writer.note("resend", from_seq=from_seq, why="hole")
        asyncio.get_running_loop().create_task(
            self._safe(self._command(codec.Resend(from_seq=from_seq, token=self._next_token())))
        )

    @staticmethod
    async def _safe(coro: Any) -> None:
        with contextlib.suppress(Exception):
            await coro

    def _on_control(self, _char: Any, data: bytearray) -> None:
        rx_ns = self.clock_ns()
        try:
            f = codec.decode_frame(bytes(data))
        except ProtocolError:
            self.stats.corrupt += 1
            return
        if isinstance(f, codec.SyncFrame):
            if self.writer is not None:
                self.writer.note(
                    "time-sync",
                    boot_id=f.boot_id,
                    host_send_ns=f.host_us * 1000,
                    host_recv_ns=rx_ns,
                    sensor_us=f.sensor_us,
                )
        elif isinstance(f, codec.AckFrame) and not f.ok:
            log.warning(
                "sensor refused command 0x%02x: %s", f.command, codec.ACK_RESULTS.get(f.result)
            )
            if self.writer is not None:
                self.writer.note("nack", command=f.command, result=f.result)
            if f.result == codec.ACK_NOT_PAIRED and self._fatal is None:
                why = _refused(f"sensor {self.target!r}", self.target, None)
                self._fatal = UserError(why or "sensor refused: not paired")
                self.stop()
        elif isinstance(f, codec.StatusFrame):
            self._on_status(f)

    def _on_status_notify(self, _char: Any, data: bytearray) -> None:
        try:
            f = codec.decode_frame(bytes(data))
        except ProtocolError:
            self.stats.corrupt += 1
            return
        if isinstance(f, codec.StatusFrame):
            self._on_status(f)
            if self.writer is not None and self._fatal is None:
                try:
                    self.writer.append_frame(bytes(data), self.clock_ns())
                except UserError as e:
                    self._fatal = e
                    self.stop()

    def _on_status(self, st: codec.StatusFrame) -> None:
        self._status = st
        self.stats.battery = st.battery_pct
        if st.low_battery and not self.stats.low_battery:
            log.warning("sensor battery low: %d %%", st.battery_pct)
        self.stats.low_battery = st.low_battery
        if st.flags & codec.FLAG_SOURCE_END and self.stop_at_source_end:
            self._source_end = True
            if st.next_seq <= self._max_seq + 1 and self._boot == st.boot_id:
                self.stop()

    # ---------------------------------------------------------------- pipeline
    def _feed(self, item: Chunk | Gap) -> None:
        if self.pipeline is None:
            self._start_pipeline()
        assert self.assembler is not None and self.assembler.layout is not None
        fs = self.assembler.layout.emg_fs
        if isinstance(item, Gap):
            self._flush_block()
            self._timeline_s = max(self._timeline_s, item.end_s)
            assert self.pipeline is not None
            self.pipeline.feed(item)
            return
        self._block.append(item)
        self._block_n += item.emg.shape[0]
        self._timeline_s = max(self._timeline_s, item.emg_stop / fs)
        if self._block_n >= FEED_BLOCK_S * fs:
            self._flush_block()

    def _flush_block(self) -> None:
        if not self._block or self.pipeline is None:
            return
        blk = self._block
        self._block, self._block_n = [], 0
        joined: list[Chunk] = []
        run = [blk[0]]
        for c in blk[1:]:
            p = run[-1]
            if c.emg_start == p.emg_stop and c.acc_start == p.acc_stop:
                run.append(c)
            else:
                joined.append(_concat(run))
                run = [c]
        joined.append(_concat(run))
        for c in joined:
            self.pipeline.feed(c)

    def _start_pipeline(self) -> None:
        from detector.detect import DETECTOR_VERSION

        assert self.assembler is not None and self.assembler.layout is not None
        lay = self.assembler.layout
        self.pipeline = Pipeline(lay, on_event=self._event)
        self._sink = self.cramplog.event_sink(self.night_id, self.assembler.wall_time)
        self.cramplog.begin_night(
            self.night_id,
            source=self.source_label,
            layout=lay,
            start_utc=lay.start_utc,
            detector_version=DETECTOR_VERSION,
            device=self.address or "",
        )

    def _event(self, ev: Event) -> None:
        # early cramp notices (provisional / retracted, docs/DETECTOR.md) go to the log
        # and the callback but are not counted: their final event is
        if not ev.is_notice:
            self.stats.events[ev.kind] = self.stats.events.get(ev.kind, 0) + 1
        if self._sink is not None:
            self._sink(ev)
        if self.on_event is not None:
            self.on_event(ev)

    # ---------------------------------------------------------------- the end
    async def _finalise(self) -> None:
        self._closing = True
        self._state = "finishing"
        try:
            if self.assembler is not None:
                for item in self.assembler.finish():
                    self._feed(item)
                self._flush_block()
            if self.pipeline is not None and self.assembler is not None:
                self.result = self.pipeline.finish()
                self.cramplog.end_night(
                    self.night_id, self.result, wall_time=self.assembler.wall_time
                )
        finally:
            if self.writer is not None:
                with contextlib.suppress(Exception):
                    self.writer.note(
                        "stop",
                        frames=self.stats.notifications,
                        timeline_s=self._timeline_s,
                        **(self.assembler.stats if self.assembler else {}),
                    )
                self.writer.close()
            if self.cramplog is not None:
                self.cramplog.close()
            self._state = "stopped"
            self._print_status(force=True, final=True)

    # ---------------------------------------------------------------- status
    def status_line(self) -> str:
        now = time.monotonic()
        t0, n0 = self._rate_mark
        if now - t0 >= 2.0:
            self._rate = (self.stats.data_frames - n0) / (now - t0)
            self._rate_mark = (now, self.stats.data_frames)
        a = self.assembler.stats if self.assembler is not None else {}
        ev = self.stats.events
        bat = "?" if self.stats.battery is None else f"{self.stats.battery}%"
        if self.stats.low_battery:
            bat += " LOW"
        return (
            f"{self._state:<12} {self.name or self.target} {self.address or ''} | "
            f"t={_hms(self._timeline_s)} {self._rate:5.1f} frames/s | "
            f"gaps {a.get('gaps', 0)} ({a.get('gap_s', 0.0):.1f} s) corrupt {a.get('corrupt', 0)} | "
            f"battery {bat} | cramps {ev.get('cramp', 0)} other {sum(ev.values()) - ev.get('cramp', 0)}"
        )

    def _print_status(self, force: bool = False, final: bool = False) -> None:
        now = time.monotonic()
        tty = hasattr(self.status_stream, "isatty") and self.status_stream.isatty()
        every = self.status_every_s if tty else max(self.status_every_s, 60.0)
        if not force and now - self._last_status_print < every:
            return
        self._last_status_print = now
        line = self.status_line()
        try:
            if tty:
                self.status_stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
            else:
                self.status_stream.write(time.strftime("%H:%M:%S ") + line + "\n")
            self.status_stream.flush()
        except (OSError, ValueError):
            pass


#: ATT errors of a sensor refusing a host it has not bonded with (Core Vol 3 Part F 3.4.1.1)
ATT_SECURITY_ERRORS = frozenset({0x05, 0x08, 0x0C, 0x0F})


def _refused(what: str, target: str, e: BaseException | None) -> str | None:
    """The one line for a link refused for its security, or None if ``e`` is not that."""
    if e is not None and getattr(e, "bond_mismatch", False):
        return (
            f"{what}: refused: it could not prove the keys this computer bonded with "
            "(an impostor at that address, or a sensor that was reset) -- if you reset it, "
            f"run `cramp pair --forget {target}` then `cramp pair --device {target}`"
        )
    if e is not None and getattr(e, "pairing_refused", False):
        return (
            f"{what}: it refused to pair ({e}) -- it is bonded with another host: hold its "
            f"button to open pairing, then `cramp pair --device {target}`"
        )
    if e is None or (isinstance(e, BleakGATTProtocolError) and int(e.code) in ATT_SECURITY_ERRORS):
        return (
            f"{what}: refused: this computer is not paired with it -- run "
            f"`cramp pair --device {target}` once (sensor near), then record again"
        )
    return None


def _explain(what: str, e: BaseException, target: str | None = None) -> str:
    """One line for a Bluetooth failure before anything connected (``what``: the subject)."""
    if (refused := _refused(what, target or "SENSOR", e)) is not None:
        return refused
    if isinstance(e, FileNotFoundError | ConnectionRefusedError) or "dbus" in repr(e).lower():
        return (
            f"{what}: Bluetooth is not available here ({type(e).__name__}: {e}) -- "
            "start the Bluetooth service (bluetoothd) and check the adapter is on, or try "
            "`cramp record --emulate` without hardware"
        )
    return f"{what}: {type(e).__name__}: {e} -- is Bluetooth on and the sensor near?"


def _concat(run: list[Chunk]) -> Chunk:
    if len(run) == 1:
        return run[0]
    return Chunk(
        run[0].emg_start,
        np.concatenate([c.emg for c in run]),
        run[0].acc_start,
        np.concatenate([c.acc for c in run]),
    )


def _hms(t: float) -> str:
    t = int(t)
    return f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}"
