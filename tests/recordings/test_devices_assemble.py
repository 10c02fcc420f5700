"""Device sessions and the device assembler: connections become segments of one timeline,
placed by host time, with every loss a Gap of its length (these devices cannot resend)."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from bleak import BleakClient

from detector.stream import Chunk, Gap, StreamLayout
from emulator.virtual import LocalAir
from emulator.virtual.devices import DeviceFaults, make_device, night_for
from firmware_protocol.devices import PROFILES
from firmware_protocol.devices import ganglion as G
from firmware_protocol.devices.host import DeviceSession, Write
from recordings.device_assemble import DeviceAssembler

GANGLION_LAYOUT = StreamLayout(
    200.0, ("1", "2", "3"), ("gastrocnemius", "soleus", "tibialis"), 10.0
)


def _v3(n_packets: int, t0: int = 2, first_cycle: bool = True) -> list[bytes]:
    pk = [bytes([255]) + bytes(19)]
    k, cyc = 0, 0
    for _ in range(n_packets):
        pk.append(G.encode_v3(k, [1000, 2000, 3000, 4000], [1000, 2000, 3000, 4000], k % 10))
        k += 1
        if k == (99 if cyc == 0 else 100):
            k, cyc = 0, cyc + 1
    return pk


def _items(asm: DeviceAssembler, outs) -> list[Chunk | Gap]:
    return [it for o in outs for it in asm.push(o)]


def test_segments_are_placed_by_host_time_and_never_joined() -> None:
    sess = DeviceSession(PROFILES["ganglion"], G.DEFAULT_MAP)
    asm = DeviceAssembler(GANGLION_LAYOUT)
    items: list[Chunk | Gap] = []
    t0 = 1_800_000_000 * 10**9
    rng = np.random.default_rng(0)
    for seg_start_s in (0.0, 30.0):  # second connection 30 s after the first began
        outs = sess.connected({G.SOFTWARE_REVISION_UUID: b"3.0.2"})
        assert [o.data for o in outs if isinstance(o, Write)] == [b"n", b"b"]
        items += _items(asm, outs)
        for i, p in enumerate(_v3(1000)):  # 1000 packets: 10 s (+ the unsent samples)
            if seg_start_s == 0.0 and i == 500:
                continue  # one packet lost on the air
            rx = t0 + int(
                (seg_start_s + (2 * i + 2) / 200.0 + 0.0075 + rng.exponential(0.01)) * 1e9
            )
            items += _items(asm, sess.feed(p, rx))
        items += _items(asm, sess.disconnected())
    items += list(asm.finish())
    chunks = [c for c in items if isinstance(c, Chunk)]
    gaps = [g for g in items if isinstance(g, Gap)]
    # contiguous: every index covered once, by a chunk or a gap
    spans = sorted(
        [(c.emg_start, c.emg_stop) for c in chunks]
        + [(round(g.start_s * 200), round(g.end_s * 200)) for g in gaps]
    )
    assert spans[0][0] == 0
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
    link = [g for g in gaps if g.reason == "link"]
    assert [round(g.duration_s * 200) for g in link if g.duration_s < 1] == [2]  # the lost packet
    (big,) = [g for g in link if g.duration_s >= 1]
    # the second segment starts 30 s after the first: gap = 30 s minus the first's length
    first_len = 1000 * 2 + 2 + 1000 * 2 // 200  # samples + restart packet + unsent ones
    assert abs(big.end_s - 30.0) < 0.05 and abs(big.start_s - first_len / 200.0) < 0.05
    assert sess.stats["connections"] == 2 and asm.stats["segments"] == 2
    acc = [c for c in chunks if c.acc.shape[0]]
    assert acc and all(np.allclose(c.acc[:, 2], c.acc[0, 2]) for c in acc[:1])


def test_a_drop_over_ble_becomes_a_gap_of_its_length() -> None:
    """Emulated Ganglion, link dropped for 3 s of device time: the host reconnects, the
    assembler puts a gap of about 3 s (plus the reconnect) between the two segments."""

    async def main():
        air = LocalAir()
        speed = 4.0
        dev = make_device(
            "ganglion",
            night_for("ganglion", 9, 12.0),
            speed=speed,
            faults=DeviceFaults(drops=[(4.0, 3.0)]),
        )
        await dev.start(air)
        sess = DeviceSession(PROFILES["ganglion"], G.DEFAULT_MAP)
        asm = DeviceAssembler(GANGLION_LAYOUT)
        items: list = []
        t_wall0 = time.monotonic()

        def now_ns() -> int:  # host clock in device-time units (the emulation runs at speed x)
            return int((time.monotonic() - t_wall0) * speed * 1e9)

        try:
            for _ in range(2):
                lost = asyncio.Event()
                client = BleakClient(
                    dev.address, disconnected_callback=lambda _c, ev=lost: ev.set(), **air.client_kwargs()
                )
                for _attempt in range(200):
                    try:
                        await client.connect()
                        break
                    except Exception:
                        await asyncio.sleep(0.05)
                rev = bytes(await client.read_gatt_char(G.SOFTWARE_REVISION_UUID))
                outs = sess.connected({G.SOFTWARE_REVISION_UUID: rev})
                await client.start_notify(
                    G.RECEIVE_UUID,
                    lambda _c, v: items.extend(
                        x for o in sess.feed(bytes(v), now_ns()) for x in asm.push(o)
                    ),
                )
                for o in outs:
                    items.extend(asm.push(o))
                    if isinstance(o, Write):
                        await client.write_gatt_char(o.char, o.data, response=o.with_response)
                done = asyncio.ensure_future(dev.done.wait())
                gone = asyncio.ensure_future(lost.wait())
                await asyncio.wait([done, gone], return_when=asyncio.FIRST_COMPLETED)
                done.cancel()
                gone.cancel()
                if client.is_connected:
                    for o in sess.stop():
                        if isinstance(o, Write):
                            await client.write_gatt_char(o.char, o.data, response=o.with_response)
                        items.extend(asm.push(o))
                    await client.disconnect()
                else:
                    for o in sess.disconnected():
                        items.extend(asm.push(o))
        finally:
            await dev.stop()
        items.extend(asm.finish())
        return items, asm

    items, asm = asyncio.run(asyncio.wait_for(main(), 120))
    link = [g for g in items if isinstance(g, Gap) and g.reason == "link" and g.duration_s > 1]
    assert len(link) == 1
    g = link[0]
    assert 3.0 <= g.duration_s < 4.5, g
    assert 3.5 < g.start_s < 4.6
    assert asm.stats["segments"] == 2
