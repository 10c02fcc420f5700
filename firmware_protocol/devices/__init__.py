"""Sensors a person can buy, beside our own: one sans-I/O decoder and one profile per kind.

* :mod:`firmware_protocol.devices.bitalino` -- PLUX BITalino (r)evolution BLE.
* :mod:`firmware_protocol.devices.ganglion` -- OpenBCI Ganglion.

Each kind's decoder takes notification bytes and gives :class:`Samples` (µV, g),
:class:`SampleGap` (sample periods that will never come) and :class:`DeviceStatus`; it
also turns the start/stop sequence into bytes.  Only
:class:`~firmware_protocol.ProtocolError` escapes a decoder, whatever the input.
Our own protocol (``kind="nightcramp"``) has its profile here too; its codec is
:mod:`firmware_protocol.codec`.
"""

from __future__ import annotations

from firmware_protocol import gatt
from firmware_protocol.devices import bitalino, ganglion
from firmware_protocol.devices.base import (
    CALF_SITES,
    LEG_SITES,
    ChannelMap,
    ChannelSpec,
    DeviceProfile,
    DeviceStatus,
    Event,
    SampleGap,
    Samples,
    parse_channel_map,
)

NIGHTCRAMP = DeviceProfile(
    kind="nightcramp",
    vendor="NightCramp leg sensor",
    name_prefixes=(gatt.NAME_PREFIX,),
    service_uuid=gatt.SERVICE_UUID,
    notify_uuid=gatt.DATA_CHAR_UUID,
    write_uuid=gatt.CONTROL_CHAR_UUID,
    write_with_response=True,
    channels=tuple(ChannelSpec(f"EMG{i + 1}", 24, 1000.0, "µV") for i in range(4)),
    default_map=ChannelMap(emg=(("EMG1", "calf"), ("EMG2", "tibialis")), acc=("internal",)),
    emg_fs=1000.0,
    acc_fs=50.0,
    firmware_uuid=gatt.FIRMWARE_REVISION_UUID,
    notes="Our own protocol (PROTOCOL.md): ring buffer and resend, so losses are repaired.",
)

#: Every supported kind, by name.
PROFILES: dict[str, DeviceProfile] = {
    p.kind: p for p in (NIGHTCRAMP, bitalino.PROFILE, ganglion.PROFILE)
}
KINDS = tuple(PROFILES)


def kind_of(name: str | None, service_uuids: list[str] | tuple[str, ...] = ()) -> str | None:
    """The kind an advertisement belongs to (service UUID first, then name), or None."""
    uuids = {u.lower() for u in service_uuids}
    for p in PROFILES.values():
        if p.service_uuid.lower() in uuids:
            return p.kind
    for p in PROFILES.values():
        if p.matches(name, ()):
            return p.kind
    return None


def make_decoder(kind: str, cmap: ChannelMap | None = None, **kw: object) -> object:
    """A fresh decoder of ``kind`` (``bitalino`` or ``ganglion``)."""
    if kind == bitalino.KIND:
        return bitalino.BitalinoDecoder(cmap, **kw)  # type: ignore[arg-type]
    if kind == ganglion.KIND:
        return ganglion.GanglionDecoder(cmap, **kw)  # type: ignore[arg-type]
    raise ValueError(f"no device decoder for kind {kind!r}; kinds: {', '.join(KINDS)}")


__all__ = [
    "CALF_SITES",
    "KINDS",
    "LEG_SITES",
    "NIGHTCRAMP",
    "PROFILES",
    "ChannelMap",
    "ChannelSpec",
    "DeviceProfile",
    "DeviceStatus",
    "Event",
    "SampleGap",
    "Samples",
    "bitalino",
    "ganglion",
    "kind_of",
    "make_decoder",
    "parse_channel_map",
]
