"""The host's side of an off-the-shelf device for a whole night, sans-I/O.

:class:`DeviceSession` is to a BITalino or a Ganglion what the host session of our own
protocol is to our sensor: the caller (the recorder, a test) tells it when the link came
up or went down and hands it every notification with its host receive time; it answers
with what to write and what arrived.  No sockets, no asyncio, no clock of its own.

These devices hold nothing for the host: every connection starts acquisition afresh
(the sample count restarts at 0), so each connection is a new **segment** of the night.
Outputs, in the order the caller must act on them:

* :class:`Write` -- bytes to write to the profile's command characteristic;
* :class:`SegmentStarted` -- a new sample count begins (a connection, a restart);
* :class:`DeviceData` -- decoder events (samples in µV/g, gaps, status) of one
  notification, with its receive time and the device time (µs since the segment's
  start, at the nominal rate) of the last sample it completed -- a clock pair for the
  caller's drift-corrected fit;
* :class:`SegmentEnded` -- the link went down (or the host stopped): the samples of the
  segment are all out; the time until the next segment is a gap the caller sizes from its
  clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_protocol.devices import bitalino, ganglion
from firmware_protocol.devices.base import ChannelMap, DeviceProfile, Event, SampleGap, Samples


@dataclass(frozen=True, slots=True)
class Write:
    char: str
    data: bytes
    with_response: bool
    why: str


@dataclass(frozen=True, slots=True)
class SegmentStarted:
    segment: int
    firmware: str


@dataclass(frozen=True, slots=True)
class DeviceData:
    segment: int
    events: tuple[Event, ...]
    rx_ns: int
    device_us: int | None
    """Device time of the end of the last sample decoded so far (None: none yet)."""


@dataclass(frozen=True, slots=True)
class Notified:
    """One notification: record ``raw`` (with ``rx_ns``) first, then assemble ``data``
    (None: it completed no sample yet, e.g. a BITalino batch still gathering)."""

    raw: bytes
    rx_ns: int
    data: DeviceData | None


@dataclass(frozen=True, slots=True)
class SegmentEnded:
    segment: int
    samples: int
    """Sample periods of the segment (lost ones included)."""
    events: tuple[Event, ...] = ()


Output = Write | SegmentStarted | Notified | DeviceData | SegmentEnded


@dataclass
class DeviceSession:
    """One device kind's host side across the night's connections."""

    def recording_config(self) -> dict[str, Any]:
        """What ``meta.json`` says of the acquisition (kind, rates, channel map, units)."""
        p = self.profile
        return {
            "kind": p.kind,
            "emg_fs": self.profile_fs,
            "acc_fs": (p.acc_fs if self.cmap.acc else None),
            "channel_map": self.cmap.describe(),
            "emg_unit": "uV",
            "acc_unit": "g",
            "firmware": self.firmware,
        }

    profile: DeviceProfile
    cmap: ChannelMap
    decoder_kw: dict[str, Any] = field(default_factory=dict)
    segment: int = field(default=-1, init=False)
    decoder: Any = field(default=None, init=False)
    firmware: str = field(default="", init=False)
    linked: bool = field(default=False, init=False)
    stats: dict[str, int] = field(
        default_factory=lambda: {"connections": 0, "samples": 0, "lost": 0, "notifications": 0},
        init=False,
    )

    @property
    def read_on_connect(self) -> tuple[str, ...]:
        return (self.profile.firmware_uuid,) if self.profile.firmware_uuid else ()

    def _new_decoder(self, reads: Mapping[str, bytes]) -> Any:
        if self.profile.kind == ganglion.KIND:
            rev = reads.get(ganglion.SOFTWARE_REVISION_UUID, b"")
            self.firmware = bytes(rev).decode("ascii", "replace").strip() or "unknown"
            return ganglion.GanglionDecoder(
                self.cmap, firmware=ganglion.firmware_major(rev), **self.decoder_kw
            )
        if self.profile.kind == bitalino.KIND:
            self.firmware = "BITalino (r)evolution"
            return bitalino.BitalinoDecoder(self.cmap, **self.decoder_kw)
        raise ValueError(f"no device session for kind {self.profile.kind!r}")

    @property
    def notify(self) -> tuple[str, ...]:
        return (self.profile.notify_uuid,)

    def connected(
        self, reads: Mapping[str, bytes], now_s: float = 0.0, host_ns: int = 0
    ) -> list[Output]:
        """A connection is up (``reads``: the :attr:`read_on_connect` values).  Subscribe to
        ``profile.notify_uuid`` first, then perform the writes."""
        self.linked = True
        self.stats["connections"] += 1
        self.segment += 1
        self.decoder = self._new_decoder(reads)
        out: list[Output] = [SegmentStarted(self.segment, self.firmware)]
        for cmd in self.decoder.start_commands():
            out.append(
                Write(self.profile.write_uuid, cmd, self.profile.write_with_response, "start")
            )
        return out

    def feed(self, raw: bytes, rx_ns: int) -> list[DeviceData]:
        """A notification of ``profile.notify_uuid`` received at host time ``rx_ns``:
        one :class:`DeviceData`, or nothing when it completed no sample yet."""
        if self.decoder is None:
            return []
        self.stats["notifications"] += 1
        events = self.decoder.feed(raw)
        if not events:
            return []
        return [self._data(events, rx_ns)]

    def receive(self, char: str, raw: bytes, rx_ns: int, now_s: float = 0.0) -> list[Output]:
        """A notification on ``char`` (the host-session call shape): one :class:`Notified`
        to record, then to assemble."""
        outs = self.feed(raw, rx_ns) if char == self.profile.notify_uuid else []
        return [Notified(bytes(raw), rx_ns, outs[0] if outs else None)]

    def tick(self, now_s: float = 0.0, host_ns: int = 0) -> list[Output]:
        """Time passes: nothing to ask (these devices hold nothing to resend)."""
        return []

    def _data(self, events: list[Event], rx_ns: int) -> DeviceData:
        for e in events:
            if isinstance(e, Samples):
                self.stats["samples"] += e.n
            elif isinstance(e, SampleGap):
                self.stats["lost"] += e.n
        idx = int(self.decoder.index)
        us = int(round(idx * 1e6 / self.profile_fs)) if idx else None
        return DeviceData(self.segment, tuple(events), rx_ns, us)

    @property
    def profile_fs(self) -> float:
        fs = getattr(self.decoder, "fs", None)
        return float(fs) if fs else float(self.profile.emg_fs)

    def _end(self) -> list[Output]:
        if self.decoder is None:
            return []
        ev = tuple(self.decoder.flush()) if hasattr(self.decoder, "flush") else ()
        n = int(self.decoder.index)
        self.decoder = None
        return [SegmentEnded(self.segment, n, ev)]

    def disconnected(self, now_s: float = 0.0) -> list[Output]:
        """The link went down: the device stopped acquiring; the segment is over."""
        if not self.linked:
            return []
        self.linked = False
        return self._end()

    def stop(self) -> list[Output]:
        """The host is finishing: the frames still gathered, then stop acquisition."""
        if not self.linked or self.decoder is None:
            return []
        ev = tuple(self.decoder.flush()) if hasattr(self.decoder, "flush") else ()
        out: list[Output] = [
            Write(self.profile.write_uuid, c, self.profile.write_with_response, "stop")
            for c in self.decoder.stop_commands()
        ]
        n = int(self.decoder.index)
        self.decoder = None
        self.linked = False
        return [*out, SegmentEnded(self.segment, n, ev)]


def session_profile(kind: str, cmap: ChannelMap | None = None) -> Any:
    """The :class:`firmware_protocol.session.DeviceProfile` the recorder runs for ``kind``
    (``nightcramp``, ``bitalino``, ``ganglion``); ``cmap``: the channel map (None: the
    kind's default)."""
    from firmware_protocol import session
    from firmware_protocol.devices import PROFILES

    if kind == "nightcramp":
        return session.NIGHTCRAMP
    if kind not in PROFILES:
        raise ValueError(f"unknown device kind {kind!r}; kinds: {', '.join(PROFILES)}")
    prof = PROFILES[kind]
    chosen = cmap or prof.default_map

    def new_session(**_kw: Any) -> DeviceSession:
        return DeviceSession(prof, chosen)

    return session.DeviceProfile(
        kind=kind,
        name_prefix=prof.name_prefixes[0],
        service_uuids=(prof.service_uuid,),
        read_on_connect=(prof.firmware_uuid,) if prof.firmware_uuid else (),
        notify=(prof.notify_uuid,),
        new_session=new_session,
    )


def all_session_profiles() -> list[Any]:
    """Every supported kind's recorder profile (default channel maps), ours first."""
    from firmware_protocol.devices import KINDS

    return [session_profile(k) for k in KINDS]
