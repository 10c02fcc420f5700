"""The host's side of the sensor protocol, sans-I/O: link events and notifications in,
commands and plain values out.

:class:`HostSession` is what a central (the live recorder, the sample-night maker, a
test) runs between the BLE stack and the frame assembler.  It has no sockets, no asyncio
and no clock of its own: the caller passes every notification with its characteristic,
its host receive time (``rx_ns``, UTC ns) and a monotonic time (``now_s``, s) for the
session's timers, and tells it when the link came up or went down and when time passes
(:meth:`HostSession.tick`).  Every call returns a list of outputs, in the order the
caller must act on them:

* :class:`Received` -- a notification to keep (every one of the data characteristic,
  and STATUS notifications), decoded once: write it to the recording, then hand
  ``frame`` (or ``raw`` when it did not decode) to
  :class:`recordings.assemble.FrameAssembler`;
* :class:`Send` -- a command to write to the control characteristic (typed, and as bytes);
* plain values saying what happened: :class:`Linked`, :class:`Unlinked`,
  :class:`Configured`, :class:`Hole`, :class:`Duplicate`, :class:`Reboot`,
  :class:`Loss`, :class:`Corrupt`, :class:`Refused`, :class:`StatusChanged`,
  :class:`LowBattery`, :class:`ClockPair`, :class:`SourceEnded`.

Responsibilities.  The session decides what to ask the sensor for -- START after a
connection, RESEND of what the host lacks (after a reconnect, or for a sequence hole a
corrupted notification left), TIME_SYNC every :data:`TIME_SYNC_EVERY_S`, CONFIGURE when
the caller wants a configuration and the sensor is idle.  It never decides what becomes
samples or gaps: that is the assembler's job, from the recorded frames alone, so a replay
of the recording gives what the live run gave.

The policy (PROTOCOL.md section 5, "Host procedure"):

* sequence numbers are tracked per boot; a new ``boot_id`` (in STATUS on connecting or in
  a DATA frame) is a reboot: the old boot's holes are forgotten -- the rebooted sensor no
  longer has them, and asking for them is what made it refuse RESENDs before;
* a hole is asked for at once with ``RESEND(first missing seq)``; one request is
  outstanding at a time.  The sensor answers with everything it holds from ``from_seq``
  on, then live frames, so holes that open while the answer streams in wait for it: the
  request ends when every hole is filled, or when live frames follow its answer (then
  the holes left are asked for at once).  A request that brings nothing for
  :data:`RESEND_TIMEOUT_S` is repeated; a refused one (ACK result != ok) gives up its
  holes (the assembler turns them into gaps), so a refusal is never repeated;
* after a reconnect to the same boot: ``RESEND(first missing seq)`` -- the oldest open
  hole or the frame after the last one received -- then START;
* a LOSS frame closes the holes it covers;
* the source has ended (STATUS flag, emulator) once the sensor has nothing left to send:
  ``next_seq`` reached and no hole still asked for.

:class:`DeviceProfile` is the small description of a kind of sensor a central needs to
find it and talk to it (advertisement, characteristics, the session to run);
:data:`NIGHTCRAMP` is ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from firmware_protocol import ProtocolError, codec, gatt

#: Ask for a TimeSync round trip this often (s of the caller's monotonic clock).
TIME_SYNC_EVERY_S = 60.0
#: A RESEND that brought nothing for this long (s) is sent again.
RESEND_TIMEOUT_S = 2.0


# ------------------------------------------------------------------ outputs
@dataclass(frozen=True, slots=True)
class Send:
    """Write ``command`` to ``char`` (with response).  ``why``: start, resume, hole,
    time-sync, stop, configure, read-config."""

    command: codec.Command
    why: str
    char: str = gatt.CONTROL_CHAR_UUID

    @property
    def data(self) -> bytes:
        return codec.encode_command(self.command)


@dataclass(slots=True)  # not frozen: one per notification, the cheapest to make
class Received:
    """A data notification: record ``raw`` first, then assemble ``frame`` (``None``:
    it did not decode; pass ``raw`` and the assembler counts it corrupt).  ``backfill``:
    it arrived after a frame with a higher seq (a resend)."""

    raw: bytes
    rx_ns: int
    frame: Any
    backfill: bool = False


@dataclass(frozen=True, slots=True)
class Linked:
    """The session is set up on a new connection (what STATUS said)."""

    boot_id: int
    next_seq: int
    oldest_seq: int
    battery_pct: int
    resumed_from: int | None
    """The RESEND sent to resume this boot, or None (first connection, reboot, nothing held)."""


@dataclass(frozen=True, slots=True)
class Unlinked:
    """The link went down; ``last_seq``: the highest seq held of ``boot_id`` (-1: none)."""

    boot_id: int | None
    last_seq: int


@dataclass(frozen=True, slots=True)
class Configured:
    """The configuration in force (read on connecting, or the reply to READ_CONFIG)."""

    config: codec.ConfigFrame


@dataclass(frozen=True, slots=True)
class Hole:
    """Frames ``[seq_start, seq_stop)`` of ``boot_id`` were skipped in the stream."""

    boot_id: int
    seq_start: int
    seq_stop: int


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A frame received before (resends overlap)."""

    boot_id: int
    seq: int


@dataclass(frozen=True, slots=True)
class Reboot:
    """The sensor rebooted: ``old_boot``'s frames after ``last_seq`` will never come."""

    old_boot: int
    new_boot: int
    last_seq: int
    open_holes: int
    """Holes of the old boot given up (frames after ``last_seq`` not counted)."""


@dataclass(frozen=True, slots=True)
class Loss:
    """The sensor declared frames ``[seq_start, seq_stop)`` lost (LOSS frame)."""

    boot_id: int
    seq_start: int
    seq_stop: int
    reason: str


@dataclass(frozen=True, slots=True)
class Corrupt:
    """A notification on ``char`` that did not decode."""

    char: str
    error: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The sensor refused a command (ACK result != ok)."""

    command: int
    result: int
    token: int
    gave_up: tuple[tuple[int, int], ...] = ()
    """Seq ranges no longer asked for because this was their RESEND."""

    @property
    def command_name(self) -> str:
        return codec.COMMAND_NAMES.get(self.command, f"0x{self.command:02x}")

    @property
    def result_name(self) -> str:
        return str(codec.ACK_RESULTS.get(self.result, self.result))


@dataclass(frozen=True, slots=True)
class StatusChanged:
    status: codec.StatusFrame


@dataclass(frozen=True, slots=True)
class LowBattery:
    """The battery went low (once per crossing)."""

    battery_pct: int


@dataclass(frozen=True, slots=True)
class ClockPair:
    """A TIME_SYNC round trip: host send / receive times and the sensor clock."""

    boot_id: int
    host_send_ns: int
    host_recv_ns: int
    sensor_us: int


@dataclass(frozen=True, slots=True)
class SourceEnded:
    """The sensor's sample source ended and everything it made has arrived (emulator)."""


Output = (
    Send | Received | Linked | Unlinked | Configured | Hole | Duplicate | Reboot | Loss
    | Corrupt | Refused | StatusChanged | LowBattery | ClockPair | SourceEnded
)  # fmt: skip


# ------------------------------------------------------------------ the session
@dataclass
class _Request:
    """The one outstanding RESEND.  The sensor answers with the frames it holds from
    ``from_seq`` on, in order, then live frames: ``upto`` is the first seq surely past
    its answer's start (the highest seen when asked + 1, or STATUS ``next_seq``)."""

    from_seq: int
    upto: int
    token: int
    progress_s: float
    started: bool = False
    """A frame of the answer has arrived."""


@dataclass
class SessionStats:
    connections: int = 0
    disconnects: int = 0
    data_frames: int = 0
    corrupt: int = 0
    duplicates: int = 0
    holes: int = 0
    resends: int = 0
    """RESENDs sent to resume after a reconnect."""
    hole_resends: int = 0
    """RESENDs sent for a sequence hole (incl. repeats after a timeout)."""
    refused: int = 0
    loss_frames: int = 0
    reboots: int = 0
    stale: int = 0


@dataclass
class HostSession:
    """The host side of one sensor for a whole night (across reconnects and reboots).

    ``configure``: the configuration to ask for when the sensor is idle (None: take the
    one it has).  ``stop_at_source_end``: report :class:`SourceEnded` (emulated sources).
    """

    configure: codec.Configure | None = None
    stop_at_source_end: bool = True
    time_sync_every_s: float = TIME_SYNC_EVERY_S
    resend_timeout_s: float = RESEND_TIMEOUT_S

    boot_id: int | None = field(default=None, init=False)
    max_seq: int = field(default=-1, init=False)
    """Highest seq received of the current boot (-1: none yet)."""
    holes: list[tuple[int, int]] = field(default_factory=list, init=False)
    """Open holes of the current boot, half-open seq ranges, in order."""
    config: codec.ConfigFrame | None = field(default=None, init=False)
    status: codec.StatusFrame | None = field(default=None, init=False)
    linked: bool = field(default=False, init=False)
    stats: SessionStats = field(default_factory=SessionStats, init=False)

    _request: _Request | None = field(default=None, init=False)
    _token: int = field(default=0, init=False)
    _next_sync_s: float | None = field(default=None, init=False)
    _seen_boots: set[int] = field(default_factory=set, init=False)
    _low: bool = field(default=False, init=False)
    _source_end: bool = field(default=False, init=False)
    _ended: bool = field(default=False, init=False)

    # -------------------------------------------------------------- link events
    def connected(self, reads: Mapping[str, bytes], now_s: float, host_ns: int) -> list[Output]:
        """A connection is up; ``reads``: the values read from ``read_on_connect``
        characteristics (status and config).  Returns the set-up to perform: subscribe to
        the profile's notifications, then send the :class:`Send` outputs in order."""
        st = codec.decode_frame(reads[gatt.STATUS_CHAR_UUID])
        cfg = codec.decode_frame(reads[gatt.CONFIG_CHAR_UUID])
        if not isinstance(st, codec.StatusFrame) or not isinstance(cfg, codec.ConfigFrame):
            raise ProtocolError("CONFIG/STATUS characteristics returned the wrong frame types")
        out: list[Output] = []
        self.linked = True
        self._request = None
        self.stats.connections += 1
        self._on_status(st, out)
        if self.boot_id is not None and st.boot_id != self.boot_id:
            self._reboot(st.boot_id, out)
        elif self.boot_id is None:
            self._adopt(st.boot_id)
        resumed: int | None = None
        sends: list[Output] = []
        if self.max_seq >= 0 and st.boot_id == self.boot_id:
            resumed = self._first_missing()
            self._request = _Request(resumed, st.next_seq, self._next_token(), now_s)
            self.stats.resends += 1
            sends.append(Send(codec.Resend(from_seq=resumed, token=self._request.token), "resume"))
        out.append(
            Linked(st.boot_id, st.next_seq, st.oldest_seq, st.battery_pct, resumed_from=resumed)
        )
        if self.configure is not None and st.state == codec.STATE_IDLE:
            sends.append(Send(self._with_token(self.configure), "configure"))
            sends.append(Send(codec.ReadConfig(token=self._next_token()), "read-config"))
        else:
            self.config = cfg
            out.append(Configured(cfg))
        sends.append(Send(codec.StartStreaming(token=self._next_token()), "start"))
        out.extend(sends)
        self._next_sync_s = now_s
        out.extend(self.tick(now_s, host_ns))
        return out

    def disconnected(self, now_s: float) -> list[Output]:
        """The link went down (the sensor forgets any resend it had queued)."""
        if not self.linked:
            return []
        self.linked = False
        self._request = None
        self.stats.disconnects += 1
        return [Unlinked(self.boot_id, self.max_seq)]

    def stop(self) -> list[Output]:
        """The host is finishing: stop the notifications (acquisition goes on)."""
        if not self.linked:
            return []
        return [Send(codec.StopStreaming(token=self._next_token()), "stop")]

    def tick(self, now_s: float, host_ns: int) -> list[Output]:
        """Time passes: a TIME_SYNC when due, a RESEND that brought nothing repeated."""
        out: list[Output] = []
        if not self.linked:
            return out
        if self._next_sync_s is not None and now_s >= self._next_sync_s:
            self._next_sync_s = now_s + self.time_sync_every_s
            out.append(
                Send(codec.TimeSync(host_us=host_ns // 1000, token=self._next_token()), "time-sync")
            )
        self._maybe_ask(now_s, out)
        return out

    # -------------------------------------------------------------- notifications
    def receive(self, char: str, raw: bytes, rx_ns: int, now_s: float) -> list[Output]:
        """A notification on ``char``, received at host time ``rx_ns``."""
        if char == gatt.DATA_CHAR_UUID:
            return self._on_data(raw, rx_ns, now_s)
        out: list[Output] = []
        try:
            f = codec.decode_frame(raw)
        except ProtocolError as e:
            self.stats.corrupt += 1
            out.append(Corrupt(char, str(e)))
            return out
        if isinstance(f, codec.StatusFrame):
            if char == gatt.STATUS_CHAR_UUID:  # battery and flags belong in the recording
                out.append(Received(raw, rx_ns, f))
            self._on_status(f, out)
            self._check_end(out)
        elif isinstance(f, codec.SyncFrame):
            out.append(ClockPair(f.boot_id, f.host_us * 1000, rx_ns, f.sensor_us))
        elif isinstance(f, codec.AckFrame):
            if f.result != codec.ACK_OK:
                self._on_refused(f, now_s, out)
        elif isinstance(f, codec.ConfigFrame):
            self.config = f
            out.append(Configured(f))
        return out

    # -------------------------------------------------------------- internals
    def _on_data(self, raw: bytes, rx_ns: int, now_s: float) -> list[Output]:
        try:
            frame: Any = codec.decode_frame(raw)
        except ProtocolError as e:
            self.stats.corrupt += 1
            return [Received(raw, rx_ns, None), Corrupt(gatt.DATA_CHAR_UUID, str(e))]
        if isinstance(frame, codec.DataFrame):
            self.stats.data_frames += 1
            seq = frame.seq
            if frame.boot_id != self.boot_id:
                if frame.boot_id in self._seen_boots:
                    self.stats.stale += 1  # a frame of an earlier boot, late: not ours to ask
                    return [Received(raw, rx_ns, frame)]
                out: list[Output] = [Received(raw, rx_ns, frame)]
                if self.boot_id is None:
                    self._adopt(frame.boot_id)
                else:
                    self._reboot(frame.boot_id, out)
                self.max_seq = seq
                return out
            mx = self.max_seq
            r = self._request
            if r is not None:
                if r.from_seq <= seq < r.upto:
                    r.started, r.progress_s = True, now_s
                elif seq > mx and r.started:
                    self._request = None  # live frames again: the answer is complete
            if seq == mx + 1 or mx < 0:
                self.max_seq = seq
                if not self.holes and not self._source_end:
                    return [Received(raw, rx_ns, frame)]  # the common case, kept cheap
                out = [Received(raw, rx_ns, frame)]
            elif seq > mx + 1:
                out = [Received(raw, rx_ns, frame)]
                self.holes.append((mx + 1, seq))
                self.stats.holes += 1
                out.append(Hole(frame.boot_id, mx + 1, seq))
                self.max_seq = seq
            else:
                out = [Received(raw, rx_ns, frame, backfill=True)]
                if self._fill(seq):
                    if self._request is not None:
                        self._request.progress_s = now_s
                        self._request.started = True
                else:
                    self.stats.duplicates += 1
                    out.append(Duplicate(frame.boot_id, seq))
            self._satisfied()
            self._maybe_ask(now_s, out)
            self._check_end(out)
            return out
        out = [Received(raw, rx_ns, frame)]
        if isinstance(frame, codec.LossFrame):
            self.stats.loss_frames += 1
            out.append(Loss(frame.boot_id, frame.seq_start, frame.seq_stop, frame.reason_name))
            if frame.boot_id == self.boot_id:
                self._close(frame.seq_start, frame.seq_stop)
                if frame.seq_stop - 1 > self.max_seq:
                    self.max_seq = frame.seq_stop - 1
                if self._request is not None and frame.seq_stop > self._request.from_seq:
                    self._request.progress_s = now_s
                    self._request.started = True
                self._satisfied()
                self._maybe_ask(now_s, out)
                self._check_end(out)
        return out

    def _adopt(self, boot: int) -> None:
        self.boot_id = boot
        self._seen_boots.add(boot)
        self.max_seq = -1
        self.holes = []
        self._request = None

    def _reboot(self, new_boot: int, out: list[Output]) -> None:
        old, last, n = self.boot_id, self.max_seq, len(self.holes)
        assert old is not None
        self._adopt(new_boot)
        self.stats.reboots += 1
        out.append(Reboot(old, new_boot, last, n))

    def _first_missing(self) -> int:
        return self.holes[0][0] if self.holes else self.max_seq + 1

    def _fill(self, seq: int) -> bool:
        """Take ``seq`` out of the holes; False if it was not missing."""
        for i, (lo, hi) in enumerate(self.holes):
            if lo <= seq < hi:
                parts = [(a, b) for a, b in ((lo, seq), (seq + 1, hi)) if b > a]
                self.holes[i : i + 1] = parts
                return True
            if lo > seq:
                break
        return False

    def _close(self, lo: int, hi: int) -> None:
        """Remove ``[lo, hi)`` from the holes."""
        kept: list[tuple[int, int]] = []
        for a, b in self.holes:
            if b <= lo or a >= hi:
                kept.append((a, b))
                continue
            if a < lo:
                kept.append((a, lo))
            if b > hi:
                kept.append((hi, b))
        self.holes = kept

    def _satisfied(self) -> None:
        if self._request is not None and not self.holes:
            self._request = None

    def _maybe_ask(self, now_s: float, out: list[Output]) -> None:
        if not self.holes or not self.linked:
            return
        r = self._request
        if r is not None and now_s - r.progress_s < self.resend_timeout_s:
            return  # one request at a time; the holes it covers are on their way
        first = self.holes[0][0]
        self._request = _Request(first, self.max_seq + 1, self._next_token(), now_s)
        self.stats.hole_resends += 1
        out.append(Send(codec.Resend(from_seq=first, token=self._request.token), "hole"))

    def _on_refused(self, f: codec.AckFrame, now_s: float, out: list[Output]) -> None:
        self.stats.refused += 1
        r = self._request
        gave_up: tuple[tuple[int, int], ...] = ()
        if f.command == codec.C_RESEND and r is not None and f.token == r.token:
            # the sensor cannot resend this: stop asking; the assembler makes the gaps
            gave_up = tuple((a, b) for a, b in self.holes if a < r.upto and b > r.from_seq)
            self._close(r.from_seq, r.upto)
            self._request = None
        out.append(Refused(f.command, f.result, f.token, gave_up))
        self._maybe_ask(now_s, out)
        self._check_end(out)

    def _on_status(self, st: codec.StatusFrame, out: list[Output]) -> None:
        self.status = st
        out.append(StatusChanged(st))
        if st.low_battery and not self._low:
            out.append(LowBattery(st.battery_pct))
        self._low = st.low_battery
        if st.flags & codec.FLAG_SOURCE_END and self.stop_at_source_end:
            self._source_end = True

    def _check_end(self, out: list[Output]) -> None:
        st = self.status
        if not self._source_end or self._ended or st is None or st.boot_id != self.boot_id:
            return
        if st.next_seq <= self.max_seq + 1 and not self.holes:
            self._ended = True
            out.append(SourceEnded())

    def _next_token(self) -> int:
        self._token = self._token % 255 + 1
        return self._token

    def _with_token(self, cmd: codec.Configure) -> codec.Configure:
        from dataclasses import replace

        return replace(cmd, token=self._next_token())


# ------------------------------------------------------------------ device kinds
class DeviceSession(Protocol):
    """What the recorder drives, for any kind of sensor (:class:`HostSession` is ours).

    Every method returns the outputs to act on in order: :class:`Received` (record, then
    assemble), :class:`Send` (write ``data`` to ``char``), :class:`Configured` (the
    configuration the recording's meta.json is made from), and plain values to note or
    show.  A kind with no resend (no ring buffer) simply never emits a RESEND.
    """

    def connected(self, reads: Mapping[str, bytes], now_s: float, host_ns: int) -> list[Any]: ...
    def receive(self, char: str, raw: bytes, rx_ns: int, now_s: float) -> list[Any]: ...
    def disconnected(self, now_s: float) -> list[Any]: ...
    def tick(self, now_s: float, host_ns: int) -> list[Any]: ...
    def stop(self) -> list[Any]: ...


@dataclass(frozen=True)
class DeviceProfile:
    """What a central needs to know of one kind of sensor.

    ``read_on_connect`` are read right after connecting and handed to the session's
    ``connected``; ``notify`` are subscribed to, each notification going to the
    session's ``receive(char, raw, rx_ns, now_s)``; :class:`Send` outputs say where
    their bytes go.  ``new_session(stop_at_source_end=...)`` builds the
    :class:`DeviceSession` (one per night).
    """

    kind: str
    name_prefix: str
    service_uuids: tuple[str, ...]
    read_on_connect: tuple[str, ...]
    notify: tuple[str, ...]
    new_session: Callable[..., Any]

    def recognises(self, local_name: str | None, service_uuids: Iterable[str]) -> bool:
        """Does an advertisement (its local name, its service UUIDs) come from this kind?"""
        uuids = {u.lower() for u in service_uuids}
        return any(u in uuids for u in self.service_uuids) or (local_name or "").startswith(
            self.name_prefix
        )


#: Our own sensor (PROTOCOL.md).
NIGHTCRAMP = DeviceProfile(
    kind="nightcramp",
    name_prefix=gatt.NAME_PREFIX,
    service_uuids=(gatt.SERVICE_UUID,),
    read_on_connect=(gatt.CONFIG_CHAR_UUID, gatt.STATUS_CHAR_UUID),
    notify=(gatt.DATA_CHAR_UUID, gatt.CONTROL_CHAR_UUID, gatt.STATUS_CHAR_UUID),
    new_session=HostSession,
)
