"""The emulated BITalino and Ganglion through bleak over bumble, decoded by our decoders.

The host side here is bleak's public API and the sans-I/O decoders, nothing else: scan by
the profile, connect, subscribe, write the start sequence, feed notifications in.  What
must hold: every sample arrives, at the right index; a lost packet becomes a gap of its
own length; after a link drop or a reboot the device streams again once started again.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner

from emulator.virtual import LocalAir
from emulator.virtual.devices import DeviceFaults, EmulatedDevice, make_device, night_for
from firmware_protocol.devices import PROFILES, SampleGap, Samples, kind_of
from firmware_protocol.devices import bitalino as B
from firmware_protocol.devices import ganglion as G


async def _session(air: LocalAir, dev: EmulatedDevice, kind: str, events: list, rounds: int = 1):
    """Connect, start, stream until the device is done or drops; returns the decoder."""
    prof = PROFILES[kind]
    found = await BleakScanner.find_device_by_filter(
        lambda d, ad: kind_of(ad.local_name, ad.service_uuids) == kind,
        timeout=5,
        **air.scanner_kwargs(),
    )
    assert found is not None and found.address == dev.address
    lost = asyncio.Event()
    client = BleakClient(found, disconnected_callback=lambda _c: lost.set(), **air.client_kwargs())
    await client.connect()
    if kind == G.KIND:
        rev = await client.read_gatt_char(G.SOFTWARE_REVISION_UUID)
        dec = G.GanglionDecoder(firmware=G.firmware_major(bytes(rev)))
    else:
        dec = B.BitalinoDecoder()  # type: ignore[assignment]
    await client.start_notify(prof.notify_uuid, lambda _c, v: events.extend(dec.feed(bytes(v))))
    for cmd in dec.start_commands():
        await client.write_gatt_char(prof.write_uuid, cmd, response=prof.write_with_response)
    done = asyncio.ensure_future(dev.done.wait())
    gone = asyncio.ensure_future(lost.wait())
    await asyncio.wait([done, gone], return_when=asyncio.FIRST_COMPLETED)
    done.cancel()
    gone.cancel()
    if isinstance(dec, B.BitalinoDecoder):
        events.extend(dec.flush())
    if client.is_connected:
        await asyncio.sleep(0.05)
        for cmd in dec.stop_commands():
            await client.write_gatt_char(prof.write_uuid, cmd, response=prof.write_with_response)
        await client.disconnect()
    return dec


def _timeline(events) -> tuple[set[int], list[SampleGap], np.ndarray]:
    idx: set[int] = set()
    rows = []
    for e in events:
        if isinstance(e, Samples) and e.n:
            idx.update(range(e.index, e.index + e.n))
            rows.append(e.emg_uv)
    return idx, [e for e in events if isinstance(e, SampleGap)], np.concatenate(rows)


@pytest.mark.parametrize("kind", ["bitalino", "ganglion"])
def test_a_short_night_arrives_complete(kind: str) -> None:
    dur = 8.0

    async def main():
        air = LocalAir()
        night = night_for(kind, 3, dur)
        dev = make_device(kind, night, speed=20.0)
        await dev.start(air)
        events: list = []
        try:
            dec = await _session(air, dev, kind, events)
        finally:
            await dev.stop()
        return dec, events, night

    dec, events, night = asyncio.run(asyncio.wait_for(main(), 120))
    idx, gaps, emg = _timeline(events)
    fs = PROFILES[kind].emg_fs
    if kind == B.KIND:
        assert gaps == [] and idx == set(range(int(dur * fs)))
        # the values are the night's, through the 10-bit ADC (3.2 µV per count)
        ref = np.concatenate([c.emg for c in night.chunks()])[: len(idx)]
        assert np.abs(emg - np.clip(ref, -1600, 1600)).max() < 3.3
    else:
        # the first packet is undecodable, then one unsent sample per 201 [LIB3]
        assert gaps[0] == SampleGap(0, 2, "undecodable")
        skips = [g for g in gaps[1:] if g.reason == "firmware-skip"]
        assert len(gaps) == 1 + len(skips) and len(skips) == int(dur * fs) // 201
        assert max(idx) + 1 >= int(dur * fs) - 3
        assert len(idx) + 2 + len(skips) == max(idx) + 1


@pytest.mark.parametrize("kind", ["bitalino", "ganglion"])
def test_a_lost_packet_is_a_gap_of_its_length(kind: str) -> None:
    async def main():
        air = LocalAir()
        dev = make_device(
            kind, night_for(kind, 4, 6.0), speed=20.0, faults=DeviceFaults(lose=[2.0, 4.0])
        )
        await dev.start(air)
        events: list = []
        try:
            await _session(air, dev, kind, events)
        finally:
            await dev.stop()
        return dev, events

    dev, events = asyncio.run(asyncio.wait_for(main(), 120))
    assert dev.stats["lost"] == 2
    _, gaps, _ = _timeline(events)
    link = [g for g in gaps if g.reason == "link"]
    want = 1 if kind == B.KIND else 2  # one BITalino frame, or one Ganglion packet
    assert [g.n for g in link] == [want, want]
    for g, t in zip(link, (2.0, 4.0), strict=True):
        assert abs(g.index / PROFILES[kind].emg_fs - t) < 0.2


@pytest.mark.parametrize("kind", ["bitalino", "ganglion"])
@pytest.mark.parametrize("fault", ["drop", "reboot"])
def test_after_a_drop_or_reboot_the_device_streams_again(kind: str, fault: str) -> None:
    """The device stops on a lost link; a new session (start again) gets fresh samples."""
    faults = DeviceFaults(drops=[(2.0, 1.5)]) if fault == "drop" else DeviceFaults(reboots=[2.0])

    async def main():
        air = LocalAir()
        dev = make_device(kind, night_for(kind, 5, 6.0), speed=10.0, faults=faults)
        await dev.start(air)
        first: list = []
        second: list = []
        try:
            await _session(air, dev, kind, first)
            assert not dev.streaming
            await _session(air, dev, kind, second)
        finally:
            await dev.stop()
        return dev, first, second

    dev, first, second = asyncio.run(asyncio.wait_for(main(), 120))
    fs = PROFILES[kind].emg_fs
    a, _, _ = _timeline(first)
    b, _, _ = _timeline(second)
    assert dev.stats["starts"] == 2 and dev.stats["connections"] == 2
    assert 1.5 * fs < len(a) < 2.3 * fs  # the first session ended with the link
    assert min(b) < 5 and len(b) > 1.0 * fs  # the second one counts from its own start
