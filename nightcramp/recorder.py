"""The live recorder: sensor over BLE (bleak) -> recording + live detection + cramp log.

One asyncio task does everything, in the order a frame must be safe:

1. every notification is written first (``RecordingWriter.append_frame(raw, rx_ns)``,
   flushed to disk at least once a second by the writer), so nothing received is lost
   whatever happens next;
2. decoded once, it goes to the :class:`~recordings.assemble.FrameAssembler` (the same
   object replay uses), whose chunks and gaps feed the
   :class:`~detector.pipeline.Pipeline` in blocks of about a second; closed events go to
   the cramp log at once (``CrampLog.event_sink``).

What to ask the sensor for is not decided here: the sans-I/O
:class:`firmware_protocol.session.HostSession` gets every notification and link event and
says what to write (START, RESEND, TIME_SYNC) and what happened (holes, reboots, losses,
refusals, status), as plain values this module carries out: bytes to the recording and
the assembler, commands to the control characteristic, notes to ``notes.jsonl``, one
plain line to the status stream.  The kind of sensor (how to recognise it, which
characteristics to read and subscribe to, which session to run) is a
:class:`~firmware_protocol.session.DeviceProfile`; this module has nothing of one
protocol in it beyond the recording's ``config`` (``recording_config``).  Off-the-shelf
devices (BITalino, Ganglion: ``firmware_protocol.devices``) run a
:class:`firmware_protocol.devices.host.DeviceSession`: its notifications are recorded as
received, each connection is a ``segment`` note (they restart their sample count), and
:class:`recordings.device_assemble.DeviceAssembler` puts their samples on the timeline.

The link will drop overnight.  The recorder reconnects with exponential backoff for as
long as the night lasts, **only to the address it first connected to** (a device that
merely advertises the same name is never used); the session resumes the stream (RESEND
from the first frame missing).  What the sensor no longer holds comes back as a
``LossFrame`` and becomes an explicit gap; the two sides are never joined.

The BLE stack is chosen by keyword arguments handed to bleak: none in production
(bleak's platform backend), ``air.scanner_kwargs()`` / ``air.client_kwargs()`` for the
virtual bumble stack of :mod:`emulator.virtual`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import shutil
import sys
import time
from collections import deque
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
from firmware_protocol.devices.host import DeviceSession as VendorSession
from firmware_protocol.devices.host import (
    Notified,
    SegmentEnded,
    SegmentStarted,
    Write,
    all_session_profiles,
)
from firmware_protocol.session import (
    NIGHTCRAMP,
    ClockPair,
    Configured,
    DeviceProfile,
    DeviceSession,
    Linked,
    Loss,
    LowBattery,
    Output,
    Reboot,
    Received,
    Refused,
    Send,
    SourceEnded,
    StatusChanged,
    Unlinked,
)
from nightcramp import heal, paths
from recordings.assemble import FrameAssembler, recording_config
from recordings.errors import UserError

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
#: The status line's frames/s figure is the rate over the last this many seconds.
STATUS_RATE_WINDOW_S = 2.0


def looks_like_address(s: str) -> bool:
    """A Bluetooth address (AA:BB:CC:DD:EE:FF) or a CoreBluetooth UUID."""
    return bool(_ADDRESS_RE.match(s.strip()))


def is_sensor(ad: AdvertisementData, profile: DeviceProfile = NIGHTCRAMP) -> bool:
    return bool(profile.recognises(ad.local_name, ad.service_uuids))


def adv_battery(ad: AdvertisementData) -> int | None:
    raw = ad.manufacturer_data.get(gatt.COMPANY_ID)
    if raw is None:
        return None
    try:
        return gatt.decode_adv_payload(raw).battery_pct
    except ProtocolError:
        return None


class SensorNotFound(UserError):
    """No advertisement of the sensor within the timeout (it may yet come)."""


@dataclass
class Found:
    device: BLEDevice
    name: str
    address: str
    rssi: int
    battery: int | None
    kind: str = "nightcramp"


def kind_of_adv(ad: AdvertisementData, profiles: list[DeviceProfile]) -> DeviceProfile | None:
    """The first of ``profiles`` an advertisement belongs to (None: none)."""
    for p in profiles:
        if is_sensor(ad, p):
            return p
    return None


async def scan(
    timeout: float = 5.0,
    *,
    profile: DeviceProfile | None = None,
    **scanner_kwargs: Any,
) -> list[Found]:
    """Sensors advertising nearby (by service UUID or name prefix), strongest first:
    every supported kind (``firmware_protocol.devices``), or only ``profile``'s."""
    seen: dict[str, Found] = {}
    profiles = [profile] if profile is not None else all_session_profiles()

    def on_adv(d: BLEDevice, ad: AdvertisementData) -> None:
        p = kind_of_adv(ad, profiles)
        if p is not None:
            bat = adv_battery(ad) if p.kind == NIGHTCRAMP.kind else None
            seen[d.address] = Found(
                d, ad.local_name or d.name or "?", d.address, ad.rssi, bat, p.kind
            )

    async with BleakScanner(on_adv, **scanner_kwargs):
        await asyncio.sleep(timeout)
    return sorted(seen.values(), key=lambda f: -f.rssi)


async def find_sensor(
    target: str,
    timeout: float = 10.0,
    *,
    profile: DeviceProfile | None = NIGHTCRAMP,
    **scanner_kwargs: Any,
) -> Found:
    """The one sensor named ``target`` (a name or an address) of ``profile``'s kind (None:
    of any supported kind, and ``Found.kind`` says which); ambiguity is an error.  A
    device of another kind is never a match, by name or by address."""
    want_addr = looks_like_address(target)
    matches: dict[str, Found] = {}
    first_at: list[float] = []
    profiles = [profile] if profile is not None else all_session_profiles()
    other: list[str] = []

    def on_adv(d: BLEDevice, ad: AdvertisementData) -> None:
        if want_addr:
            hit = d.address.upper() == target.upper()
        else:  # a name: and of this kind of sensor
            hit = ad.local_name == target
        p = kind_of_adv(ad, profiles) if hit else None
        if hit and p is None and not other:
            other.append(ad.local_name or d.address)
        if p is not None and d.address not in matches:
            bat = adv_battery(ad) if p.kind == NIGHTCRAMP.kind else None
            matches[d.address] = Found(d, ad.local_name or target, d.address, ad.rssi, bat, p.kind)
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
    if not matches and other and profile is not None:
        raise UserError(
            f"sensor {target!r}: the device there is not a {profile.kind} sensor -- pick the "
            "right --kind (or none), or run `cramp scan` to see what each device is"
        )
    if not matches:
        raise SensorNotFound(
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
    """Links lost (the recorder's own disconnect at the end is not counted)."""
    notifications: int = 0
    data_frames: int = 0
    corrupt: int = 0
    resends: int = 0
    hole_resends: int = 0
    loss_frames: int = 0
    refused: int = 0
    battery: int | None = None
    low_battery: bool = False
    events: dict[str, int] = field(default_factory=dict)
    event_log_delay_s: list[float] = field(default_factory=list)


class Recorder:
    """Record one night.  ``await run()``; call :meth:`stop` (e.g. from a signal) to end.

    ``target``: the sensor's name or address.  ``duration_s``: stop once this much
    timeline (sensor time) has been received (None: until stopped).  ``profile``: the
    kind of sensor (:class:`firmware_protocol.session.DeviceProfile`): how to recognise
    it, what to read and subscribe to, and the sans-I/O session that decides what to ask
    it for.  Everything device-specific sits behind it; this class only moves bytes.
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
        profile: DeviceProfile = NIGHTCRAMP,
        side: str | None = None,
        night: Any = None,
    ) -> None:
        self.target = target
        self.side = side
        """The leg this sensor lies on (written into the recording's config)."""
        self.night = night
        """A night of several sensors (:class:`nightcramp.legs_night.LegsNight`): this
        recorder writes its sensor's folder in it and feeds its leg of the shared pipeline."""
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
        self.clock_ns = clock_ns
        """Host receive clock, UTC ns (an emulation running faster than real time passes
        its own, so the night's wall times stay those of a real night)."""
        self.profile = profile
        self.session: DeviceSession = profile.new_session(stop_at_source_end=stop_at_source_end)

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
        self._config: Any = None
        self._block: list[Chunk] = []
        self._block_n = 0
        self._timeline_s = 0.0
        self._state = "starting"
        self._last_status_print = 0.0
        self._marks: deque[tuple[float, int]] = deque()
        self._rate = 0.0
        self._leaving = False
        self._closing = False
        self._fatal: UserError | None = None
        self._line_open = False
        self._verified = False

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
        self._set_state("scanning" if self.address is None else "connecting")
        backoff = self.backoff_first_s
        try:
            while not self._stop.is_set() and self._fatal is None:
                try:
                    await self._connection_or_stop()
                    backoff = self.backoff_first_s
                except UserError:
                    if self.stats.connections == 0 or self.writer is None:
                        raise
                    self._state = "scanning"
                except Exception as e:  # the link, the stack, a garbled read: retry
                    if self.stats.connections == 0 and (
                        not self.address
                        or not isinstance(e, BleakDeviceNotFoundError | TimeoutError)
                    ):
                        # before the first connection only "not there yet" is worth waiting for
                        raise UserError(
                            _explain(f"sensor {self.target!r}", e, target=self.target)
                        ) from e
                    self._say(f"link: {type(e).__name__}: {e}; retrying")
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

    async def _connection_or_stop(self) -> None:
        """Run one connection; a stop request interrupts connecting/searching too."""
        assert self._stop is not None
        conn = asyncio.ensure_future(self._connection())
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({conn, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not conn.done():  # stopping: a connected session ends itself promptly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(conn), 5.0)
            if not conn.done():
                conn.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await conn
                return
            conn.result()
        finally:
            stop.cancel()

    async def _connection(self) -> None:
        assert self._stop is not None and self._lost is not None
        if self.address is None or not self._verified:
            # an address is checked once too: the device there must be of this kind
            self._set_state("scanning")
            try:
                found = await find_sensor(
                    self.address or self.target,
                    self.connect_timeout_s,
                    profile=self.profile,
                    **self.scanner_kwargs,
                )
            except SensorNotFound as e:
                if self.address is None:
                    raise
                raise BleakDeviceNotFoundError(self.address, str(e)) from None
            self.address, self.name = found.address, found.name
            self._verified = True
            if found.battery is not None:
                self.stats.battery = found.battery
        self._set_state("connecting")
        self._lost.clear()
        self._leaving = False
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
            self._set_state("connected")
            while not self._stop.is_set() and not self._lost.is_set():
                self._act(self.session.tick(time.monotonic(), self.clock_ns()))
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
                for out in self.session.stop():
                    if isinstance(out, Send | Write):
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(self._write(out), 2.0)
                    else:
                        self._act([out])
        finally:
            self._client = None
            if client.is_connected:
                self._leaving = True  # our own disconnect: not a lost link
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), 5.0)
            self._act(self.session.disconnected(time.monotonic()))

    def _on_disconnect(self) -> None:
        if not (self._leaving or self._closing):
            self.stats.disconnects += 1
            self._state = "reconnecting"
        self._act(self.session.disconnected(time.monotonic()))
        if self._lost is not None:
            self._lost.set()

    async def _write(self, s: Send | Write) -> None:
        client = self._client
        if client is None or not client.is_connected:
            return
        response = s.with_response if isinstance(s, Write) else True
        try:
            await client.write_gatt_char(s.char, s.data, response=response)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being cancelled ourselves
            # the stack cancels a write whose link went down under it: a lost link
            raise ConnectionError(f"the link went down while sending {s.why}") from None

    async def _setup(self, client: BleakClient) -> None:
        reads = {u: bytes(await client.read_gatt_char(u)) for u in self.profile.read_on_connect}
        self._check_kind(client)
        outs = self.session.connected(reads, time.monotonic(), self.clock_ns())
        self.stats.connections += 1
        sends = [o for o in outs if isinstance(o, Send | Write)]
        if isinstance(self.session, VendorSession) and self._config is None:
            self._config = self.session.recording_config()
        if self.writer is None and isinstance(self.session, VendorSession):
            self._open_outputs(client, self._config)
        self._act([o for o in outs if not isinstance(o, Send | Write)])
        if self.writer is None:
            if self._config is None:
                raise ProtocolError("the sensor gave no configuration")
            self._open_outputs(client, self._config)
            self._act([o for o in outs if isinstance(o, Linked)])  # note it, now there is a writer
        for char in self.profile.notify:
            await client.start_notify(char, functools.partial(self._on_notify, char))
        # (re)start notifications; after a Resend the sensor sends the backfill first
        for s in sends:
            self._note_send(s)
            await self._write(s)

    def _check_kind(self, client: BleakClient) -> None:
        """The connected device serves this kind's characteristics (else: not ours)."""
        svcs = client.services
        missing = [
            u for u in self.profile.notify if svcs is None or svcs.get_characteristic(u) is None
        ]
        if missing:
            self._fatal = UserError(
                f"{self.address}: this device has no {self.profile.kind} data characteristic "
                f"({missing[0]}) -- it is another kind of device; check --device / --kind"
            )
            self.stop()
            raise self._fatal

    def _open_outputs(self, client: BleakClient, cfg: Any) -> None:
        from nightcramp.cramplog import CrampLog
        from recordings.store import RecordingWriter

        device = {
            "name": self.name or client.name,
            "address": self.address,
            "backend": _backend_name(self.client_kwargs),
            "kind": self.profile.kind,
        }
        if isinstance(self.session, VendorSession):
            from recordings.device_assemble import DeviceAssembler, layout_from_config

            config = dict(cfg)
            device["vendor"] = self.session.profile.vendor
            device["firmware"] = self.session.firmware
            asm: Any = DeviceAssembler(layout_from_config(config, device))
        else:
            config = recording_config(cfg, side=self.side)
            asm = FrameAssembler(config=config, device=device)
        if self.side is not None:
            config["side"] = self.side
        if self.night is not None:  # one sensor of several: its folder in the night's
            self.writer = RecordingWriter.create(
                self.night.folder, device=device, config=config, folder_name=self.side
            )
            self.night_id = self.night.night_id
            self.recording_path = Path(self.night.folder)
            self.assembler = asm
            self.cramplog = self.night.cramplog
            return
        self.writer = RecordingWriter.create(
            paths.recordings_dir(self.out_dir), device=device, config=config
        )
        self.night_id = self.writer.recording_id
        self.recording_path = Path(self.writer.folder)
        heal.hold(self.writer.folder, self.db, owner=self)  # a later command finishes it if killed
        self.assembler = asm
        self.cramplog = CrampLog.open(self.db)

    # ---------------------------------------------------------------- notifications
    def _on_notify(self, char: str, _c: Any, data: bytearray) -> None:
        rx_ns = self.clock_ns()
        self.stats.notifications += 1
        outs = self.session.receive(char, bytes(data), rx_ns, time.monotonic())
        if len(outs) == 1 and type(outs[0]) is Received:  # a frame in order: most of them
            self._received(outs[0])
        else:
            self._act(outs)

    def _act(self, outs: list[Any]) -> None:
        """Carry out what the session said, in order."""
        for o in outs:
            if type(o) is Received:
                self._received(o)
            elif isinstance(o, Notified | SegmentStarted | SegmentEnded):
                self._device_out(o)
            elif isinstance(o, Send | Write):
                self._note_send(o)
                asyncio.get_running_loop().create_task(self._safe(self._write(o)))
            else:
                self._event_out(o)

    def _received(self, r: Received) -> None:
        if type(r.frame) is codec.DataFrame:
            self.stats.data_frames += 1
        elif r.frame is None:
            self.stats.corrupt += 1
        if self.writer is not None and self._fatal is None:
            try:
                self.writer.append_frame(r.raw, r.rx_ns, backfill=r.backfill)
            except UserError as e:  # disk full: stop cleanly, keep what is on disk
                self._fatal = e
                self.stop()
                return
        if self.assembler is None:
            return
        for item in self.assembler.push(r.frame if r.frame is not None else r.raw, r.rx_ns):
            self._feed(item)
        if self.duration_s is not None and self._timeline_s >= self.duration_s - 1e-9:
            self.stop()

    def _device_out(self, o: Notified | SegmentStarted | SegmentEnded) -> None:
        """An off-the-shelf device's session output: record, then assemble."""
        if self._fatal is not None or self.writer is None or self.assembler is None:
            return
        try:
            if isinstance(o, Notified):
                if o.data is not None:
                    self.stats.data_frames += 1
                self.writer.append_frame(o.raw, o.rx_ns)
            elif isinstance(o, SegmentStarted):
                # the replay cuts the frames into connections by these notes
                self.writer.note(
                    "segment", segment=o.segment, firmware=o.firmware, rx_ns=self.clock_ns()
                )
            elif not self._closing:
                self.writer.note("segment-end", segment=o.segment, samples=o.samples)
        except UserError as e:  # disk full: stop cleanly, keep what is on disk
            self._fatal = e
            self.stop()
            return
        asm: Any = self.assembler
        for item in asm.push(o):
            self._feed(item)
        if self.duration_s is not None and self._timeline_s >= self.duration_s - 1e-9:
            self.stop()

    def _note_send(self, s: Send | Write) -> None:
        if isinstance(s, Write):
            return
        cmd = s.command
        if isinstance(cmd, codec.Resend) and self.writer is not None:
            why = {"why": s.why} if s.why != "resume" else {}
            self.writer.note("resend", from_seq=cmd.from_seq, **why)
        if s.why == "resume":
            self.stats.resends += 1
        elif s.why == "hole":
            self.stats.hole_resends += 1

    def _event_out(self, o: Output) -> None:
        w = self.writer if not self._closing else None
        if isinstance(o, Configured):
            self._config = o.config
        elif isinstance(o, StatusChanged):
            self.stats.battery = o.status.battery_pct
            self.stats.low_battery = o.status.low_battery
        elif isinstance(o, LowBattery):
            self._say(f"sensor battery low: {o.battery_pct} %")
        elif isinstance(o, Linked):
            if w is not None:
                w.note(
                    "connected",
                    address=self.address,
                    mtu=self._client.mtu_size if self._client is not None else None,
                    boot_id=o.boot_id,
                    next_seq=o.next_seq,
                    oldest_seq=o.oldest_seq,
                    battery_pct=o.battery_pct,
                )
        elif isinstance(o, Unlinked):
            if w is not None and not self._leaving:
                w.note("disconnected", last_seq=o.last_seq, boot_id=o.boot_id)
        elif isinstance(o, Reboot):
            if w is not None:
                w.note("reboot-seen", old_boot=o.old_boot, new_boot=o.new_boot, last_seq=o.last_seq)
            if o.last_seq < 0:
                self._say("sensor rebooted before its first frame arrived")
            else:
                missing = f" and {o.open_holes} hole(s) before it" if o.open_holes else ""
                self._say(
                    f"sensor rebooted: its frames after #{o.last_seq}{missing} are lost (a gap)"
                )
        elif isinstance(o, Loss):
            self.stats.loss_frames += 1
            if w is not None:
                w.note("loss", seq_start=o.seq_start, seq_stop=o.seq_stop, reason=o.reason)
        elif isinstance(o, ClockPair):
            if w is not None:
                w.note(
                    "time-sync",
                    boot_id=o.boot_id,
                    host_send_ns=o.host_send_ns,
                    host_recv_ns=o.host_recv_ns,
                    sensor_us=o.sensor_us,
                )
        elif isinstance(o, Refused):
            self.stats.refused += 1
            if w is not None:
                w.note("nack", command=o.command, result=o.result)
            lost = sum(b - a for a, b in o.gave_up)
            self._say(
                f"sensor refused {o.command_name} ({o.result_name})"
                + (f"; {lost} frames will be a gap" if lost else "")
            )
            if o.result == codec.ACK_NOT_PAIRED and self._fatal is None:
                why = _refused(f"sensor {self.target!r}", self.target, None)
                self._fatal = UserError(why or "sensor refused: not paired")
                self.stop()
        elif isinstance(o, SourceEnded):
            self.stop()

    @staticmethod
    async def _safe(coro: Any) -> None:
        with contextlib.suppress(Exception):
            await coro

    # ---------------------------------------------------------------- pipeline
    def _feed(self, item: Chunk | Gap) -> None:
        if self.pipeline is None:
            self._start_pipeline()
        assert self.assembler is not None and self.assembler.layout is not None
        fs = self.assembler.layout.emg_fs
        if isinstance(item, Gap):
            self._flush_block()
            self._timeline_s = max(self._timeline_s, item.end_s)
            self._to_pipeline(item)
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
            self._to_pipeline(c)

    def _to_pipeline(self, item: Chunk | Gap) -> None:
        if self.night is not None:
            self.night.feed(self, item)
        else:
            assert self.pipeline is not None
            self.pipeline.feed(item)

    def _start_pipeline(self) -> None:
        from detector.detect import DETECTOR_VERSION

        assert self.assembler is not None and self.assembler.layout is not None
        lay = self.assembler.layout
        if self.night is not None:
            self.pipeline = self.night.pipeline_for(self)
            return
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
            if self.pipeline is not None and self.assembler is not None and self.night is None:
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
            if self.cramplog is not None and self.night is None:
                self.cramplog.close()
            self._state = "stopped"
            self._print_status(force=True, final=True)

    # ---------------------------------------------------------------- status
    def status_fields(self) -> list[str]:
        """The status line's fields, most important first."""
        now = time.monotonic()
        marks = self._marks
        marks.append((now, self.stats.data_frames))
        while len(marks) > 2 and now - marks[1][0] >= STATUS_RATE_WINDOW_S:
            marks.popleft()
        t0, n0 = marks[0]
        if now - t0 > 0.2:
            self._rate = (self.stats.data_frames - n0) / (now - t0)
        a = self.assembler.stats if self.assembler is not None else {}
        ev = self.stats.events
        bat = "?" if self.stats.battery is None else f"{self.stats.battery}%"
        if self.stats.low_battery:
            bat += " LOW"
        other = sum(ev.values()) - ev.get("cramp", 0)
        return [
            f"{self._state:<12}",
            f"t={_hms(self._timeline_s)}",
            f"cramps {ev.get('cramp', 0)}",
            f"gaps {a.get('gaps', 0)} ({a.get('gap_s', 0.0):.1f} s)",
            f"battery {bat}",
            f"{self._rate:.0f} frames/s",
            f"corrupt {a.get('corrupt', 0)}",
            f"other {other}",
            f"{self.name or self.target} {self.address or ''}".strip(),
        ]

    def status_line(self, width: int | None = None) -> str:
        """The fields that fit in ``width`` columns (None: all), most important first."""
        return fit_fields(self.status_fields(), width)

    def show_status(self) -> None:
        """Print the status line now ("scanning" / "connecting" before anything is up)."""
        if self._state == "starting":
            self._state = "scanning" if self.address is None else "connecting"
        self._print_status(force=True)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self._print_status(force=True)

    def _tty(self) -> bool:
        return hasattr(self.status_stream, "isatty") and self.status_stream.isatty()

    def _print_status(self, force: bool = False, final: bool = False) -> None:
        now = time.monotonic()
        tty = self._tty()
        every = self.status_every_s if tty else max(self.status_every_s, 60.0)
        if not force and now - self._last_status_print < every:
            return
        self._last_status_print = now
        try:
            if tty:
                width = shutil.get_terminal_size().columns - 1
                self.status_stream.write("\r\x1b[2K" + self.status_line(width))
                self._line_open = not final
                if final:
                    self.status_stream.write("\n")
            else:
                self.status_stream.write(time.strftime("%H:%M:%S ") + self.status_line() + "\n")
            self.status_stream.flush()
        except (OSError, ValueError):
            pass

    def _say(self, text: str) -> None:
        """A one-off message, as a plain line (above the live status line on a terminal)."""
        try:
            if self._tty():
                self.status_stream.write("\r\x1b[2K" + text + "\n")
                self._last_status_print = 0.0  # redraw the live line at the next chance
            else:
                self.status_stream.write(time.strftime("%H:%M:%S ") + text + "\n")
            self.status_stream.flush()
        except (OSError, ValueError):
            pass


def fit_fields(fields: list[str], width: int | None, sep: str = " | ") -> str:
    """Join ``fields`` in order while the line stays within ``width`` columns."""
    fields = [f.rstrip() if i else f for i, f in enumerate(fields)]
    if width is None:
        return sep.join(fields)
    line = ""
    for i, f in enumerate(fields):
        cand = f if i == 0 else line + sep + f
        if len(cand) > width:
            break
        line = cand
    return line[: max(width, 0)] if line else fields[0][: max(width, 0)]


def _backend_name(client_kwargs: dict[str, Any]) -> str:
    backend = client_kwargs.get("backend")
    if backend is None:
        try:
            from bleak.backends.client import get_platform_client_backend_type

            backend = get_platform_client_backend_type()[0]
        except Exception:  # an unsupported platform: bleak itself will say so on connect
            return "unknown"
    return str(getattr(backend, "__name__", backend))


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


def _explain(
    what: str,
    e: BaseException,
    *,
    without: str = "`cramp record --emulate`",
    target: str | None = None,
) -> str:
    """One line for a Bluetooth failure before anything connected (``what``: the subject,
    ``without``: what to try without hardware, ``target``: the sensor, for `cramp pair`)."""
    if (refused := _refused(what, target or "SENSOR", e)) is not None:
        return refused
    if isinstance(e, FileNotFoundError | ConnectionRefusedError) or "dbus" in repr(e).lower():
        return (
            f"{what}: Bluetooth is not available here ({type(e).__name__}: {e}) -- "
            "start the Bluetooth service (bluetoothd) and check the adapter is on, or try "
            f"{without} without hardware"
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
