"""What every device kind shares: the decoder's output events, the profile, the channel map.

A device kind is a sans-I/O decoder (notification bytes in; samples in physical units,
sequence gaps and device status out; commands to bytes) plus a :class:`DeviceProfile` (how
to recognise the device in a scan, which GATT characteristics carry what, the start/stop
command sequence, its channels and units).  Nothing here does I/O or knows the clock:
sample ``index`` counts sample periods at the device's nominal rate since acquisition
started, lost periods included, so the host can place samples on its timeline and fit
the device clock to receive times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from firmware_protocol import ProtocolError

#: Leg sites a channel can be mapped to (a subset of ``detector.stream.SITES``; this layer
#: imports nothing of ours, so the names are repeated here).
LEG_SITES = ("calf", "gastrocnemius", "soleus", "tibialis", "thigh", "foot", "unknown")
CALF_SITES = ("calf", "gastrocnemius", "soleus")


@dataclass(frozen=True, eq=False)
class Samples:
    """A run of consecutive samples, in physical units.

    ``emg_uv[k]`` is EMG sample ``index + k`` (µV, one column per mapped EMG channel);
    ``acc_g[k]`` is accelerometer sample ``acc_index + k`` (g, x/y/z) at the profile's
    ``acc_fs``.
    """

    index: int
    emg_uv: np.ndarray
    acc_index: int = 0
    acc_g: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    @property
    def n(self) -> int:
        return int(self.emg_uv.shape[0])


@dataclass(frozen=True)
class SampleGap:
    """``n`` EMG sample periods from ``index`` on never arrived (the device cannot resend)."""

    index: int
    n: int
    reason: str = "link"
    """``link`` (a packet lost on the air, seen in the sequence numbers), ``corrupt``
    (bytes that failed the frame check), ``undecodable`` (samples that arrived but cannot
    be reconstructed, e.g. delta-coded samples after a loss)."""


@dataclass(frozen=True)
class DeviceStatus:
    """Something the device said about itself (not a sample)."""

    what: str
    """``version``, ``state``, ``impedance``, ``message``."""
    text: str = ""
    values: dict[str, float] = field(default_factory=dict)


Event = Samples | SampleGap | DeviceStatus


@dataclass(frozen=True)
class ChannelSpec:
    """One device channel."""

    name: str
    """As the vendor labels it (``A1``..``A6`` on BITalino, ``1``..``4`` on Ganglion)."""
    bits: int
    fs: float
    unit: str
    """Unit after the transfer function (``µV`` or ``g``)."""


@dataclass(frozen=True)
class ChannelMap:
    """Which device channels carry EMG (and from which leg site) and which the accelerometer."""

    emg: tuple[tuple[str, str], ...]
    """(device channel, leg site) per EMG channel, in stream order."""
    acc: tuple[str, ...] = ()
    """Three device channels for x, y, z, or ``("internal",)`` for a built-in accelerometer,
    or empty for none."""

    @property
    def emg_channels(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.emg)

    @property
    def emg_sites(self) -> tuple[str, ...]:
        return tuple(s for _, s in self.emg)

    def describe(self) -> dict[str, object]:
        """JSON-ready form (for ``meta.json``)."""
        return {"emg": {c: s for c, s in self.emg}, "acc": list(self.acc)}


@dataclass(frozen=True)
class DeviceProfile:
    """The facts the host needs about one device kind."""

    kind: str
    vendor: str
    name_prefixes: tuple[str, ...]
    """Advertised local names start with one of these."""
    service_uuid: str
    """Primary service (advertised, and holding the two characteristics below)."""
    notify_uuid: str
    """Characteristic the device notifies samples on."""
    write_uuid: str
    """Characteristic the host writes commands to."""
    write_with_response: bool
    channels: tuple[ChannelSpec, ...]
    default_map: ChannelMap
    emg_fs: float
    """Nominal EMG rate the default start sequence sets, Hz."""
    acc_fs: float | None
    """Nominal accelerometer rate for the default map, Hz."""
    firmware_uuid: str | None = None
    """Device Information characteristic holding the firmware revision, if any."""
    notes: str = ""

    def channel(self, name: str) -> ChannelSpec:
        for c in self.channels:
            if c.name == name:
                return c
        names = ", ".join(c.name for c in self.channels)
        raise ValueError(f"{self.kind} has no channel {name!r}; its channels are {names}")

    def matches(self, name: str | None, service_uuids: list[str] | tuple[str, ...] = ()) -> bool:
        """Whether an advertisement (local name, advertised service UUIDs) is this kind."""
        uuids = {u.lower() for u in service_uuids}
        if self.service_uuid.lower() in uuids:
            return True
        return bool(name) and any(str(name).startswith(p) for p in self.name_prefixes)


def parse_channel_map(profile: DeviceProfile, emg: str | None, acc: str | None) -> ChannelMap:
    """``--emg A1=gastrocnemius,A2=tibialis --acc A3,A4,A5`` -> :class:`ChannelMap`.

    ``None`` keeps the profile's default for that part; ``acc=""`` or ``"none"`` means no
    accelerometer.  Raises ``ValueError`` with a one-line reason for anything else.
    """
    dm = profile.default_map
    emg_pairs: list[tuple[str, str]] = []
    if emg is None:
        emg_pairs = list(dm.emg)
    else:
        for part in (p.strip() for p in emg.split(",") if p.strip()):
            ch, _, site = part.partition("=")
            ch, site = ch.strip(), (site.strip() or "calf")
            profile.channel(ch)
            if site not in LEG_SITES:
                raise ValueError(f"--emg {part}: unknown site {site!r}; use one of {LEG_SITES}")
            emg_pairs.append((ch, site))
        if not emg_pairs:
            raise ValueError("--emg: name at least one channel, e.g. A1=gastrocnemius")
    if acc is None:
        acc_t = dm.acc
    elif acc.strip().lower() in ("", "none", "off"):
        acc_t = ()
    else:
        acc_t = tuple(p.strip() for p in acc.split(",") if p.strip())
        if acc_t != ("internal",):
            if len(acc_t) != 3:
                raise ValueError(f"--acc {acc}: give three channels (x,y,z), e.g. A3,A4,A5")
            for ch in acc_t:
                profile.channel(ch)
    used = [c for c, _ in emg_pairs] + [c for c in acc_t if c != "internal"]
    dup = sorted({c for c in used if used.count(c) > 1})
    if dup:
        raise ValueError(f"channel {dup[0]} is mapped twice; give each channel one role")
    if not any(s in CALF_SITES for _, s in emg_pairs):
        raise ValueError("--emg: map at least one channel to a calf site (gastrocnemius/soleus)")
    return ChannelMap(emg=tuple(emg_pairs), acc=acc_t)


def check_strict(strict: bool, msg: str, errors: list[str]) -> None:
    """Raise (strict) or record (lenient) one decoding problem."""
    if strict:
        raise ProtocolError(msg)
    errors.append(msg)
