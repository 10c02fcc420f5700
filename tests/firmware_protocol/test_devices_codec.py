"""Device decoders against the vendors' own Python decoders, both directions, and the fuzz
rule of our codec: whatever the bytes, only ProtocolError escapes a decoder.

Oracles (the ``test`` extra, installed with ``--no-deps``):

* ``bitalino`` (PLUX): ``BITalino.read()`` fed through a stand-in socket.
* ``pyopenbci`` (OpenBCI): ``GanglionDelegate.parse_raw`` and ``decompress_signed``, with a
  stand-in ``bluepy.btle`` module in ``sys.modules`` while the module loads (bluepy does not
  build here).  pyopenbci 0.13's ``parse_raw`` decodes id-0 and 19-bit packets; its 18-bit
  branch raises (it broadcasts four values against none), so 18-bit fields are checked
  with its ``decompress_signed`` on the same bit cuts.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol import ProtocolError
from firmware_protocol.devices import (
    ChannelMap,
    DeviceStatus,
    SampleGap,
    Samples,
    kind_of,
    parse_channel_map,
)
from firmware_protocol.devices import bitalino as B
from firmware_protocol.devices import ganglion as G

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALL4 = ChannelMap(emg=(("1", "calf"), ("2", "calf"), ("3", "soleus"), ("4", "tibialis")), acc=())


# ----------------------------------------------------------------------------- oracles
def _bitalino_read(data: bytes, n_channels: int, n_frames: int) -> np.ndarray:
    import bitalino as vendor  # PLUX's API (test extra)

    class Sock:
        def __init__(self, b: bytes) -> None:
            self.b, self.i = b, 0

        def recv(self, n: int) -> bytes:
            r = self.b[self.i : self.i + n]
            self.i += n
            if not r:
                raise EOFError("stand-in socket exhausted")
            return r

    dev = vendor.BITalino.__new__(vendor.BITalino)  # no connection: just the decoder
    dev.started, dev.serial, dev.blocking, dev.isPython2 = True, False, True, False
    dev.analogChannels = list(range(n_channels))
    dev.socket = Sock(data)
    return dev.read(n_frames)


@pytest.fixture(scope="module")
def pyopenbci_ganglion():
    """pyOpenBCI/ganglion.py loaded with a stand-in bluepy.btle (for this module only)."""
    spec0 = importlib.util.find_spec("pyOpenBCI")
    assert spec0 is not None and spec0.submodule_search_locations, "pyopenbci not installed"
    path = Path(next(iter(spec0.submodule_search_locations))) / "ganglion.py"
    btle = types.ModuleType("bluepy.btle")

    class DefaultDelegate:
        def __init__(self, *a, **k) -> None:
            pass

    btle.DefaultDelegate = DefaultDelegate  # type: ignore[attr-defined]
    btle.Peripheral = btle.Scanner = object  # type: ignore[attr-defined]
    saved = {k: sys.modules.get(k) for k in ("bluepy", "bluepy.btle")}
    sys.modules["bluepy"] = types.ModuleType("bluepy")
    sys.modules["bluepy.btle"] = btle
    try:
        spec = importlib.util.spec_from_file_location("_vendor_pyopenbci_ganglion", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return mod


def _oracle_rows(mod, packets: list[bytes]) -> list[np.ndarray]:
    """parse_raw over packets; per packet the rows it appends (id 0: its final row)."""
    d = mod.GanglionDelegate()
    out = []
    for p in packets:
        d.parse_raw(p)
        rows = [np.asarray(s.channels_data, dtype=np.int64) for s in d.getSamples()]
        out.append(np.stack(rows[-1:] if p[0] == 0 else rows))
    return out


def _samples(events) -> np.ndarray:
    rows = [e.emg_uv for e in events if isinstance(e, Samples) and e.n]
    return np.concatenate(rows) if rows else np.zeros((0, 1))


# ----------------------------------------------------------------------------- BITalino
@pytest.mark.parametrize("n", range(1, 7))
def test_bitalino_encoder_read_back_by_vendor_read(n: int) -> None:
    rng = np.random.default_rng(n)
    a = np.stack([rng.integers(0, 1 << B.SLOT_BITS[k], 300) for k in range(n)], axis=1)
    data = B.encode_stream(a, seq0=7)
    assert len(data) == 300 * B.frame_size(n)
    got = _bitalino_read(data, n, 300)
    assert (got[:, 5:] == a).all()
    assert (got[:, 0] == (7 + np.arange(300)) % 16).all()
    # the scalar encoder makes the same bytes
    assert data[: 3 * B.frame_size(n)] == b"".join(
        B.encode_frame((7 + i) % 16, a[i]) for i in range(3)
    )


@pytest.mark.parametrize("n", [1, 2, 4, 5, 6])
def test_bitalino_frames_agree_with_vendor_on_random_bytes(n: int) -> None:
    """Random frames: the vendor accepts exactly those we accept, with the same fields."""
    rng = np.random.default_rng(100 + n)
    size = B.frame_size(n)
    accepted = 0
    for _ in range(400):
        raw = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        try:
            vendor = _bitalino_read(raw, n, 1)[0]
        except Exception as e:  # the vendor's CRC failure: Exception(CONTACTING_DEVICE)
            assert not isinstance(e, EOFError)
            with pytest.raises(ProtocolError):
                B.decode_frame(raw, n)
            continue
        seq, dig, a = B.decode_frame(raw, n)
        accepted += 1
        assert seq == vendor[0] and dig == tuple(vendor[1:5]) and a == tuple(vendor[5:])
    assert 5 < accepted < 60  # CRC-4 lets about 1 in 16 random frames through


def test_bitalino_commands_are_the_vendor_bytes() -> None:
    import bitalino as vendor

    sent: list[int] = []
    dev = vendor.BITalino.__new__(vendor.BITalino)
    dev.started, dev.isBitalino2 = False, True
    dev.send = sent.append  # type: ignore[method-assign]
    dev.start(1000, [0, 1, 2, 3, 4])
    dev.send = sent.append  # start() ran; capture stop() too
    dev.version = lambda: "BITalino_v5.2"  # type: ignore[method-assign]
    dev.stop()
    dec = B.BitalinoDecoder()
    ours = [c[0] for c in dec.start_commands() + dec.stop_commands()]
    assert ours == sent
    assert B.decode_command(sent[0]).fs == 1000
    assert B.decode_command(sent[1]).channels == (0, 1, 2, 3, 4)


def test_bitalino_decoder_units_and_reassembly() -> None:
    """Mid-scale EMG is 0 µV, the ends are the datasheet's +-1.64 mV; notification cuts
    anywhere give the same samples as whole frames."""
    rng = np.random.default_rng(3)
    k = 500
    a = np.stack([rng.integers(0, 1024, k) for _ in range(4)] + [rng.integers(0, 64, k)], axis=1)
    a[0, 0], a[1, 0], a[2, 0] = 512, 0, 1023
    data = B.encode_stream(a)
    whole = B.BitalinoDecoder()
    whole.start_commands()
    ev_whole = whole.feed(data) + whole.flush()
    cut = B.BitalinoDecoder()
    cut.start_commands()
    ev_cut = []
    i = 0
    while i < len(data):
        step = int(rng.integers(1, B.MAX_NOTIFY + 1))
        ev_cut += cut.feed(data[i : i + step])
        i += step
    ev_cut += cut.flush()
    emg = _samples(ev_whole)
    assert np.array_equal(emg, _samples(ev_cut))
    assert emg.shape == (k, 2)
    assert emg[0, 0] == 0.0
    assert -1640 < emg[1, 0] < -1630 and 1630 < emg[2, 0] < 1640
    acc = np.concatenate([e.acc_g for e in ev_whole if isinstance(e, Samples)])
    assert acc.shape == (k, 3)
    # A5 is a 6-bit slot: its calibration is the 10-bit one scaled by 1/16
    lo, hi = B.acc_cal(6)
    assert np.allclose(acc[:, 2], B.acc_g(a[:, 4], lo, hi))
    assert not any(isinstance(e, SampleGap) for e in ev_whole + ev_cut)


def test_bitalino_lost_and_corrupt_frames_become_gaps_of_the_right_length() -> None:
    rng = np.random.default_rng(4)
    k = 400
    a = np.stack([rng.integers(0, 1024, k) for _ in range(4)] + [rng.integers(0, 64, k)], axis=1)
    size = B.frame_size(5)
    frames = [B.encode_stream(a[i : i + 1], seq0=i % 16) for i in range(k)]
    lost = {50, 51, 52, 200}
    bad = {300}
    stream = b"".join(
        (bytes([f[0] ^ 0x5A]) + f[1:]) if i in bad else f
        for i, f in enumerate(frames)
        if i not in lost
    )
    dec = B.BitalinoDecoder()
    dec.start_commands()
    ev = []
    for i in range(0, len(stream), 20):
        ev += dec.feed(stream[i : i + 20])
    ev += dec.flush()
    gaps = [(e.index, e.n) for e in ev if isinstance(e, SampleGap)]
    assert gaps == [(50, 3), (200, 1), (300, 1)]
    got = {e.index + j for e in ev if isinstance(e, Samples) for j in range(e.n)}
    assert got == set(range(k)) - lost - bad
    assert dec.index == k and dec.stats["corrupt"] == 1 and size == 8
    # a long run of garbage is counted from the bytes it took
    dec2 = B.BitalinoDecoder()
    dec2.start_commands()
    junk = bytes(rng.integers(0, 256, 37 * size, dtype=np.uint8))
    ev2 = dec2.feed(b"".join(frames[:10]) + junk[:-3] + b"".join(frames[47:60])) + dec2.flush()
    (g,) = [e for e in ev2 if isinstance(e, SampleGap)]
    assert (g.index, g.n) == (10, 37)
    with pytest.raises(ProtocolError):
        strict = B.BitalinoDecoder(strict=True)
        strict.start_commands()
        strict.feed(frames[0] + bytes([frames[1][0] ^ 1]) + frames[1][1:])
        strict.flush()


def test_bitalino_version_reply() -> None:
    dec = B.BitalinoDecoder()
    dec.version_command()
    assert dec.feed(b"\x00junkBITal") == []
    (st_,) = dec.feed(b"ino_v5.2\n")
    assert isinstance(st_, DeviceStatus) and st_.text == "BITalino_v5.2"


# ----------------------------------------------------------------------------- Ganglion
def _v2_stream(rng, n_cycles: int, accel: bool):
    """Firmware-2 packets for random 24-bit samples, built as the firmware does [LIB2]."""
    truth = np.clip(
        rng.integers(-(1 << 15), 1 << 15, (n_cycles * 201, 4)).cumsum(axis=0), -(1 << 22), 1 << 22
    )
    pkts, last = [], None
    for c in range(n_cycles):
        base = c * 201
        pkts.append(G.encode_raw(truth[base].tolist()))
        last = truth[base]
        for k in range(1, 101):
            s1, s2 = truth[base + 2 * k - 1], truth[base + 2 * k]
            d1, d2 = last - s1, s1 - s2
            last = s2
            pid = k if accel else 100 + k
            pkts.append(G.encode_v2(pid, d1.tolist(), d2.tolist(), accel_byte=k))
    return truth, pkts


def test_ganglion_fw2_decoder_matches_pyopenbci_parse_raw(pyopenbci_ganglion) -> None:
    rng = np.random.default_rng(5)
    truth, pkts = _v2_stream(rng, 3, accel=False)
    oracle = np.concatenate(_oracle_rows(pyopenbci_ganglion, pkts))
    dec = G.GanglionDecoder(ALL4, firmware=2)
    ours = _samples(ev for p in pkts for ev in dec.feed(p))
    assert ours.shape == oracle.shape == truth.shape
    assert np.allclose(ours, (oracle * G.UV_PER_COUNT).astype(np.float32), rtol=0, atol=1e-6)
    # the firmware drops each delta's LSB (the sign lives there): at most one count per
    # sample drifts away, and every raw packet resets it
    assert np.abs(oracle - truth).max() <= 200


@FAST
@given(st.binary(min_size=19, max_size=19), st.sampled_from([18, 19]))
def test_ganglion_fields_agree_with_pyopenbci_on_random_bytes(pyopenbci_ganglion, payload, n):
    from bitstring import BitArray

    d = pyopenbci_ganglion.GanglionDelegate()
    bits = BitArray()
    for byte in payload[: (8 * n + 7) // 8]:  # as parse_raw builds it
        bits.append(f"0b{byte:08b}")
    vendor = [d.decompress_signed(b) for b in list(bits.cut(n))[:8]]
    ours = [G.field_value(f, n) for f in G.unpack_fields(payload[: (8 * n + 7) // 8], n)]
    assert ours == vendor


def test_ganglion_fw3_packets_read_back_by_vendor_arithmetic(pyopenbci_ganglion) -> None:
    """Firmware 3 sends sample MSBs: parse_raw's 19-bit branch, started from zero, gives
    back -s1 and -(s1 + s2) of the fields; ours must agree, and be the samples truncated."""
    rng = np.random.default_rng(6)
    d = pyopenbci_ganglion.GanglionDelegate()
    dec = G.GanglionDecoder(ALL4, firmware=3)
    for pid in range(101, 200):  # (id 100 is 18-bit to a firmware-2 decoder)
        s = rng.integers(-(1 << 23), 1 << 23, (2, 4))
        pkt = G.encode_v3(pid, s[0].tolist(), s[1].tolist())
        d.last_values = np.zeros(4, dtype=np.int64)
        d.parse_raw(pkt)
        r = [np.asarray(x.channels_data, dtype=np.int64) for x in d.getSamples()]
        f1, f2 = -r[0], r[0] - r[1]
        ours = _samples(dec.feed(pkt))
        assert np.allclose(ours, (np.stack([f1, f2]) << 5) * G.UV_PER_COUNT, rtol=0, atol=1e-3)
        assert np.all(np.abs((np.stack([f1, f2]) << 5) - s) < 1 << 6)


def _v3_packets(rng, n_cycles: int):
    """Firmware-3 packets as [LIB3] sends them: restart packet 255 (ticks 0, 1), a first
    cycle of ids 0..98 (ticks 2..199), then ids 0..99 per cycle of 201 ticks, tick 200 of
    each cycle unsent; accelerometer bytes at id % 10 = 1, 2, 3."""
    truth = rng.integers(-(1 << 22), 1 << 22, (201 * (n_cycles + 1), 4))
    pkts, index_of = [bytes([255]) + bytes(19)], [0]

    def add(pid: int, t: int) -> None:
        ax = {1: 10, 2: -20, 3: 64}.get(pid % 10)
        pkts.append(G.encode_v3(pid, truth[t].tolist(), truth[t + 1].tolist(), ax))
        index_of.append(t)

    for k in range(99):
        add(k, 2 * k + 2)
    for c in range(1, n_cycles + 1):
        for k in range(100):
            add(k, 201 * c + 2 * k)
    return truth, pkts, index_of


def test_ganglion_fw3_timeline_restart_skip_and_loss() -> None:
    rng = np.random.default_rng(7)
    truth, pkts, index_of = _v3_packets(rng, 3)
    ids = [p[0] for p in pkts]
    assert ids[:3] == [255, 0, 1] and ids[ids.index(98) + 1] == 0  # first cycle ends at 98
    drop = {40, 41, 150}
    dec = G.GanglionDecoder(ChannelMap(emg=ALL4.emg, acc=("internal",)), firmware=3)
    ev = [e for i, p in enumerate(pkts) if i not in drop for e in dec.feed(p)]
    got = {}
    for e in ev:
        if isinstance(e, Samples):
            for j in range(e.n):
                got[e.index + j] = e.emg_uv[j]
    want = {index_of[i] + j for i, _ in enumerate(pkts) if i not in drop and i > 0 for j in (0, 1)}
    assert set(got) == want
    for t in list(want)[:50]:
        assert np.allclose(got[t], ((truth[t] >> 6) << 6) * G.UV_PER_COUNT, atol=0.25)
    gaps = [(e.index, e.n, e.reason) for e in ev if isinstance(e, SampleGap)]
    assert gaps[0] == (0, 2, "undecodable")
    assert (index_of[40], 4, "link") in gaps and (index_of[150], 2, "link") in gaps
    assert sum(1 for g in gaps if g[2] == "firmware-skip") == 3
    assert [g[0] for g in gaps if g[2] == "firmware-skip"] == [200, 401, 602]
    acc = [e for e in ev if isinstance(e, Samples) and e.acc_g.shape[0]]
    assert acc and np.allclose(acc[0].acc_g, [[0.16, -0.32, 1.024]])
    assert [e.acc_index for e in acc] == sorted({e.acc_index for e in acc})


def test_ganglion_impedance_and_messages() -> None:
    dec = G.GanglionDecoder()
    (z,) = dec.feed(G.encode_impedance(2, 1234))
    assert isinstance(z, DeviceStatus) and z.values == {"channel": 2.0, "value": 1234.0}
    assert dec.feed(bytes([206]) + b"accelerometer enabl") == []
    (m,) = dec.feed(bytes([207]) + b"ed")
    assert m.text == "accelerometer enabled"


# ----------------------------------------------------------------------------- profiles
def test_kind_recognition_and_channel_maps() -> None:
    assert kind_of("Ganglion-1a2b") == "ganglion"
    assert kind_of(None, [B.SERVICE_UUID.upper()]) == "bitalino"
    assert kind_of("BITalino-12-34") == "bitalino"
    assert kind_of("NightCramp-0001") == "nightcramp"
    assert kind_of("Polar H10 1234") is None
    m = parse_channel_map(B.PROFILE, "A1=gastrocnemius,A2=tibialis", "A3,A4,A5")
    assert m.emg_sites == ("gastrocnemius", "tibialis") and m.acc == ("A3", "A4", "A5")
    assert B.acquired_channels(m) == 5
    assert parse_channel_map(G.PROFILE, None, None) == G.DEFAULT_MAP
    for emg, acc in [
        ("A7=calf", None),
        ("A1=elbow", None),
        ("A1=calf", "A1,A2,A3"),
        ("A1=tibialis", None),
        ("A1=calf", "A2,A3"),
    ]:
        with pytest.raises(ValueError):
            parse_channel_map(B.PROFILE, emg, acc)


# ----------------------------------------------------------------------------- fuzz
def _valid_bitalino_stream() -> bytes:
    a = np.tile(np.array([[512, 300, 400, 700, 33]]), (12, 1))
    return B.encode_stream(a)


def _valid_ganglion_stream() -> list[bytes]:
    _, pkts, _ = _v3_packets(np.random.default_rng(0), 1)
    return pkts[:12]


def _mutations():
    bit = _valid_bitalino_stream()
    gang = _valid_ganglion_stream()
    return st.one_of(
        st.tuples(st.just("b"), st.lists(st.binary(max_size=40), max_size=8)),
        st.tuples(st.just("g"), st.lists(st.binary(max_size=24), max_size=8)),
        st.builds(
            lambda n, i, x: ("b", [bit[:n], bytes([bit[i % len(bit)] ^ x]) + bit[n:]]),
            st.integers(0, len(bit)),
            st.integers(0, 200),
            st.integers(1, 255),
        ),
        st.builds(
            lambda k, n, i, x: (
                "g",
                [
                    p if j != k % 12 else (p[:n] if n < 20 else bytes([p[i % 20] ^ x]) + p[1:])
                    for j, p in enumerate(gang)
                ],
            ),
            st.integers(0, 11),
            st.integers(0, 20),
            st.integers(0, 19),
            st.integers(1, 255),
        ),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(), st.booleans(), st.sampled_from([2, 3]))
def test_fuzz_only_protocol_error_escapes(case, strict, fw) -> None:
    kind, chunks = case
    if kind == "b":
        dec = B.BitalinoDecoder(strict=strict)
        dec.start_commands()
    else:
        dec = G.GanglionDecoder(firmware=fw, strict=strict)  # type: ignore[assignment]
    for c in [*chunks, None]:
        try:
            if c is None:
                events = dec.flush() if kind == "b" else []
            else:
                events = dec.feed(c)
        except ProtocolError:
            assert strict
            return
        for e in events:
            assert isinstance(e, Samples | SampleGap | DeviceStatus)
            if isinstance(e, Samples):
                assert np.isfinite(e.emg_uv).all() and np.isfinite(e.acc_g).all()
            if isinstance(e, SampleGap):
                assert e.n > 0


# ----------------------------------------------------------------------------- recorded
def _record_over_ble(
    kind: str, seconds: float, host_map=None, **dev_kw
) -> tuple[list[bytes], list]:
    """Notifications as they came off the virtual air from an emulated device, and the
    events our decoder made of them."""
    import asyncio

    from bleak import BleakClient

    from emulator.virtual import LocalAir
    from emulator.virtual.devices import make_device, night_for
    from firmware_protocol.devices import PROFILES

    prof = PROFILES[kind]

    async def main():
        air = LocalAir()
        dev = make_device(kind, night_for(kind, 11, seconds), speed=20.0, **dev_kw)
        await dev.start(air)
        raw: list[bytes] = []
        try:
            client = BleakClient(dev.address, **air.client_kwargs())
            await client.connect()
            await client.start_notify(prof.notify_uuid, lambda _c, v: raw.append(bytes(v)))
            if kind == "ganglion":
                rev = bytes(await client.read_gatt_char(G.SOFTWARE_REVISION_UUID))
                dec = G.GanglionDecoder(host_map, firmware=G.firmware_major(rev))
            else:
                dec = B.BitalinoDecoder()
            for cmd in dec.start_commands():
                await client.write_gatt_char(
                    prof.write_uuid, cmd, response=prof.write_with_response
                )
            await dev.done.wait()
            await asyncio.sleep(0.05)
            await client.disconnect()
        finally:
            await dev.stop()
        events = [e for r in raw for e in dec.feed(r)]
        if kind == "bitalino":
            events += dec.flush()
        return raw, events

    return asyncio.run(asyncio.wait_for(main(), 120))


def test_recorded_bitalino_stream_reads_the_same_in_the_vendor_api() -> None:
    raw, events = _record_over_ble("bitalino", 4.0)
    data = b"".join(raw)
    assert max(len(r) for r in raw) <= B.MAX_NOTIFY
    n = len(data) // B.frame_size(5)
    vendor = _bitalino_read(data, 5, n)
    emg = _samples(events)
    assert emg.shape == (n, 2) and n == 4000
    assert np.allclose(emg[:, 0], B.emg_uv(vendor[:, 5], 10), atol=1e-3)
    assert np.allclose(emg[:, 1], B.emg_uv(vendor[:, 6], 10), atol=1e-3)
    assert (np.diff(vendor[:, 0]) % 16 == 1).all()


def test_recorded_ganglion_fw2_stream_reads_the_same_in_pyopenbci(pyopenbci_ganglion) -> None:
    """Without the accelerometer firmware 2 sends raw and 19-bit packets: the branches of
    pyopenbci 0.13's parse_raw that work."""
    no_acc = ChannelMap(emg=ALL4.emg[:3], acc=())
    raw, events = _record_over_ble("ganglion", 3.0, host_map=no_acc, firmware=2)
    ids = [r[0] for r in raw]
    assert ids[0] == 0 and set(ids) == {0, *range(101, 201)}
    oracle = np.concatenate(_oracle_rows(pyopenbci_ganglion, raw))
    ours = _samples(events)
    assert ours.shape == (oracle.shape[0], 3) and ours.shape[0] >= 590
    assert np.allclose(ours, (oracle[:, :3] * G.UV_PER_COUNT).astype(np.float32), atol=1e-4)
