"""The wire codec: round trips, the published vectors, fragmentation, batch decoding, and
that nothing but ProtocolError ever escapes a decoder."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import firmware_protocol.codec as codec
from firmware_protocol import ProtocolError
from firmware_protocol.codec import (
    ACC_RANGES,
    ACC_RATES,
    EMG_RATES,
    AckFrame,
    ConfigFrame,
    Configure,
    DataFrame,
    Fragmenter,
    LossFrame,
    ReadConfig,
    Resend,
    StartStreaming,
    StatusFrame,
    StopStreaming,
    StreamDecoder,
    SyncFrame,
    TimeSync,
    auto_emg_per_frame,
    crc16,
    decode_batch,
    decode_command,
    decode_frame,
    emg_frame_size,
    encode_command,
    encode_frame,
    fragment,
)

VECTORS = json.loads((Path(codec.__file__).parent / "vectors.json").read_text())
FRAME_TYPES = {
    c.__name__: c for c in (DataFrame, LossFrame, StatusFrame, ConfigFrame, AckFrame, SyncFrame)
}
COMMAND_TYPES = {
    c.__name__: c for c in (StartStreaming, StopStreaming, Configure, ReadConfig, TimeSync, Resend)
}
U32 = 2**32 - 1
U48 = 2**48 - 1


def _build(types: dict, name: str, fields: dict):
    cls = types[name]
    f = dict(fields)
    if cls is DataFrame:
        f["emg"] = np.array(f["emg"], dtype=np.int64).reshape(-1, len(f["emg"][0]))
        f["acc"] = np.array(f["acc"], dtype=np.int64).reshape(-1, 3)
    return cls(**f)


# ------------------------------------------------------------------ vectors


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1 == VECTORS["crc16_ccitt_false_check"]["crc"]
    rows = np.frombuffer(b"123456789" * 3, np.uint8).reshape(3, 9)
    assert codec.crc16_rows(rows).tolist() == [0x29B1] * 3


@pytest.mark.parametrize("v", VECTORS["frames"], ids=lambda v: v["name"])
def test_frame_vectors_both_directions(v: dict) -> None:
    frame = _build(FRAME_TYPES, v["type"], v["fields"])
    assert encode_frame(frame).hex() == v["hex"]
    assert decode_frame(bytes.fromhex(v["hex"])) == frame


@pytest.mark.parametrize("v", VECTORS["commands"], ids=lambda v: v["name"])
def test_command_vectors_both_directions(v: dict) -> None:
    cmd = _build(COMMAND_TYPES, v["type"], v["fields"])
    assert encode_command(cmd).hex() == v["hex"]
    assert decode_command(bytes.fromhex(v["hex"])) == cmd


@pytest.mark.parametrize("v", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors(v: dict) -> None:
    dec = decode_frame if v["kind"] == "frame" else decode_command
    with pytest.raises(ProtocolError, match=v["error"].replace("(", r"\(").replace(")", r"\)")):
        dec(bytes.fromhex(v["hex"]))


def test_fragmentation_vector() -> None:
    fv = VECTORS["fragmentation"]
    frame = bytes.fromhex(fv["frame_hex"])
    parts = fragment(frame, fv["mtu"], fv["counter_start"])
    assert [p.hex() for p in parts] == fv["fragments"]
    dec = StreamDecoder(strict=True)
    dec._counter = fv["counter_start"] - 1
    got = [f for p in parts for f in dec.feed(p)]
    assert got == [decode_frame(frame)]


def test_worked_example_in_spec_matches_vector() -> None:
    spec = (Path(codec.__file__).parent / "PROTOCOL.md").read_text()
    hexes = VECTORS["frames"][0]["hex"]
    spaced = " ".join(hexes[i : i + 2] for i in range(0, len(hexes), 2))
    assert spaced[:47] in spec and spaced[-20:] in spec


# ------------------------------------------------------------------ hypothesis round trips

u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, U32)
u48 = st.integers(0, U48)
scales = st.floats(1e-6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def data_frames(draw: st.DrawFn) -> DataFrame:
    n_ch = draw(st.integers(1, 4))
    bits = draw(st.sampled_from((16, 24)))
    emg_fs = draw(st.sampled_from(EMG_RATES))
    acc_fs = draw(st.sampled_from(ACC_RATES))
    room = 244 - 36
    n_acc = draw(st.integers(0, min(5, room // 6))) if acc_fs else 0
    max_emg = (room - 6 * n_acc) // (n_ch * bits // 8)
    n_emg = draw(st.integers(1, min(255, max_emg)))
    lim = 1 << (bits - 1)
    emg = draw(st.lists(st.integers(-lim, lim - 1), min_size=n_emg * n_ch, max_size=n_emg * n_ch))
    acc = draw(st.lists(st.integers(-32768, 32767), min_size=3 * n_acc, max_size=3 * n_acc))
    return DataFrame(
        seq=draw(u32),
        boot_id=draw(u16),
        t_us=draw(u48),
        emg_index=draw(u32),
        acc_index=draw(u32),
        emg_fs=emg_fs,
        acc_fs=acc_fs,
        emg_bits=bits,
        acc_range_g=draw(st.sampled_from(ACC_RANGES)),
        emg_scale=draw(scales),
        emg=np.array(emg, dtype=np.int64).reshape(n_emg, n_ch),
        acc=np.array(acc, dtype=np.int64).reshape(n_acc, 3),
    )


@st.composite
def loss_frames(draw: st.DrawFn) -> LossFrame:
    s0, s1 = sorted((draw(u32), draw(u32)))
    e0, e1 = sorted((draw(u32), draw(u32)))
    a0, a1 = sorted((draw(u32), draw(u32)))
    return LossFrame(draw(u16), s0, s1, e0, e1, a0, a1, draw(u48), draw(st.sampled_from((1, 2))))


@st.composite
def status_frames(draw: st.DrawFn) -> StatusFrame:
    old, nxt = sorted((draw(u32), draw(u32)))
    return StatusFrame(
        draw(u16), draw(st.integers(0, 100)), draw(st.sampled_from((0, 1, 2))), draw(u16), nxt, old
    )


config_frames = st.builds(
    ConfigFrame,
    emg_fs=st.sampled_from(EMG_RATES),
    n_ch=st.integers(1, 4),
    emg_bits=st.sampled_from((16, 24)),
    acc_fs=st.sampled_from(ACC_RATES),
    acc_range_g=st.sampled_from(ACC_RANGES),
    emg_per_frame=st.integers(1, 255),
    emg_scale=scales,
    ring_s=u16,
)
ack_frames = st.builds(
    AckFrame, token=u8, command=u8, result=st.sampled_from((0, 1, 2, 3, 4)), value=u32
)
sync_frames = st.builds(SyncFrame, boot_id=u16, host_us=st.integers(0, 2**64 - 1), sensor_us=u48)
any_frame = st.one_of(
    data_frames(), loss_frames(), status_frames(), config_frames, ack_frames, sync_frames
)
any_command = st.one_of(
    st.builds(StartStreaming, token=u8),
    st.builds(StopStreaming, token=u8),
    st.builds(ReadConfig, token=u8),
    st.builds(TimeSync, host_us=st.integers(0, 2**64 - 1), token=u8),
    st.builds(Resend, from_seq=u32, token=u8),
    st.builds(
        Configure,
        emg_fs=st.sampled_from(EMG_RATES),
        n_ch=st.integers(1, 4),
        emg_bits=st.sampled_from((16, 24)),
        acc_fs=st.sampled_from(ACC_RATES),
        acc_range_g=st.sampled_from(ACC_RANGES),
        emg_per_frame=u8,
        token=u8,
    ),
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(any_frame)
def test_frame_round_trip(frame) -> None:
    data = encode_frame(frame)
    assert len(data) <= 244
    assert decode_frame(data) == frame
    assert encode_frame(decode_frame(data)) == data


@FAST
@given(any_command)
def test_command_round_trip(cmd) -> None:
    data = encode_command(cmd)
    assert len(data) <= 20  # never fragmented, even at MTU 23
    assert decode_command(data) == cmd


@FAST
@given(any_frame, st.integers(23, 247), st.integers(0, 31))
def test_fragmentation_round_trip(frame, mtu: int, counter: int) -> None:
    data = encode_frame(frame)
    parts = fragment(data, mtu, counter)
    assert all(len(p) <= mtu - 3 for p in parts)
    dec = StreamDecoder(strict=True)
    dec._counter = (counter - 1) % 32
    got = [f for p in parts for f in dec.feed(p)]
    assert got == [frame]


@FAST
@given(any_frame, st.data())
def test_mutations_raise_only_protocol_error(frame, data) -> None:
    raw = bytearray(encode_frame(frame))
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(raw) * 8 - 1))
            raw[i // 8] ^= 1 << (i % 8)
    elif kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "extend":
        raw += bytes(data.draw(st.binary(min_size=1, max_size=300)))
    else:
        other = encode_frame(data.draw(any_frame))
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut] + other[data.draw(st.integers(0, len(other))) :]
    raw = bytes(raw)
    for dec in (decode_frame, decode_command):
        try:
            dec(raw)
        except ProtocolError:
            pass
    # A single bit flip is always caught (CRC-16 detects all 1-bit errors).
    if kind == "flip" and len(raw) == len(encode_frame(frame)):
        flipped = sum(bin(a ^ b).count("1") for a, b in zip(raw, encode_frame(frame), strict=True))
        if flipped == 1:
            with pytest.raises(ProtocolError):
                decode_frame(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_error(raw: bytes) -> None:
    for dec in (decode_frame, decode_command):
        try:
            dec(raw)
        except ProtocolError:
            pass
    sd = StreamDecoder()
    sd.feed(raw)
    try:
        decode_batch([raw, raw[:10]])
    except ProtocolError:
        pass


def test_random_and_mutated_inputs_bulk() -> None:
    """10,000 random/mutated inputs of every kind (the benchmark runs >= 1,000,000)."""
    rnd = random.Random(7)
    seeds = [bytes.fromhex(v["hex"]) for v in VECTORS["frames"] + VECTORS["commands"]]
    sd = StreamDecoder()
    for _ in range(10_000):
        b = bytearray(rnd.choice(seeds))
        r = rnd.random()
        if r < 0.4:
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        elif r < 0.6:
            b = b[: rnd.randrange(len(b))]
        elif r < 0.8:
            b = b[: rnd.randrange(len(b) + 1)] + rnd.choice(seeds)[rnd.randrange(4) :]
        else:
            b = bytearray(rnd.randbytes(rnd.randrange(300)))
        raw = bytes(b)
        for dec in (decode_frame, decode_command):
            try:
                dec(raw)
            except ProtocolError:
                pass
        sd.feed(raw)
        if rnd.random() < 0.3 and raw:
            sd.feed(bytes([0x80 | rnd.randrange(128)]) + raw[:19])
    assert sd.n_errors > 0


def test_oversize_input_is_protocol_error() -> None:
    for big in (bytes(10**6), b"\x01" * 10**6, b"\x01\x01" + bytes(243)):
        for dec in (decode_frame, decode_command):
            with pytest.raises(ProtocolError):
                dec(big)
        sd = StreamDecoder()
        assert sd.feed(big) == [] and sd.n_errors == 1
        assert sd.feed(b"\xc0" + big[:300]) == [] and sd.n_errors == 2  # oversize fragment
        assert decode_batch([big], errors="skip").bad[0][0] == 0


def test_non_bytes_input_is_protocol_error() -> None:
    for bad in (None, 5, "01 01", [1, 1], 3.0):
        with pytest.raises(ProtocolError):
            decode_frame(bad)  # type: ignore[arg-type]
        with pytest.raises(ProtocolError):
            decode_command(bad)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        decode_batch([b"\x01", 5])  # type: ignore[list-item]
    assert decode_frame(bytearray(bytes.fromhex(VECTORS["frames"][0]["hex"]))).seq == 1000


# ------------------------------------------------------------------ stream decoder


def _frames(n: int, n_ch: int = 2, seed: int = 0) -> list[DataFrame]:
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n):
        out.append(
            DataFrame.from_samples(
                rng.normal(0, 50, (40 if n_ch <= 2 else 20, n_ch)),
                rng.normal(0, 0.3, (2, 3)),
                seq=s,
                boot_id=0x4242,
                t_us=s * 40_000,
                emg_index=40 * s,
                acc_index=2 * s,
                emg_fs=1000,
                acc_fs=50,
            )
        )
    return out


def test_stream_decoder_mtu23_many_frames_and_errors() -> None:
    frames = _frames(30)
    fr = Fragmenter(23)
    notes = [p for f in frames for p in fr.split(encode_frame(f))]
    assert all(len(p) <= 20 for p in notes)
    dec = StreamDecoder()
    got = [f for p in notes for f in dec.feed(p)]
    assert got == frames and dec.n_errors == 0
    # Lose one middle fragment of frame 3: frame 3 is dropped and counted, the rest decode.
    per = len(fragment(encode_frame(frames[0]), 23))
    lossy = notes[: 3 * per + 2] + notes[3 * per + 3 :]
    dec = StreamDecoder()
    got = [f for p in lossy for f in dec.feed(p)]
    assert [f.seq for f in got] == [s for s in range(30) if s != 3]
    assert dec.n_errors == 1 and "lost fragment" in dec.errors[0]
    with pytest.raises(ProtocolError, match="lost fragment"):
        strict = StreamDecoder(strict=True)
        for p in lossy:
            strict.feed(p)


def test_stream_decoder_whole_frames_and_corrupt_counted() -> None:
    frames = _frames(5)
    raws = [encode_frame(f) for f in frames]
    bad = bytearray(raws[2])
    bad[50] ^= 4
    dec = StreamDecoder()
    out = []
    for r in raws[:2] + [bytes(bad)] + raws[3:]:
        out += dec.feed_raw(r)
    assert [f.seq for _, f in out] == [0, 1, 3, 4]
    assert out[0][0] == raws[0]
    assert dec.n_errors == 1 and "bad CRC" in dec.errors[0]
    cmd_dec = StreamDecoder(kind="command")
    assert cmd_dec.feed(encode_command(Resend(5))) == [Resend(5)]


# ------------------------------------------------------------------ batch


def test_decode_batch_equals_per_frame_decode() -> None:
    frames = _frames(50, n_ch=2)
    raws = [encode_frame(f) for f in frames]
    b = decode_batch(raws)
    assert b.n_frames == 50 and b.others == [] and b.bad == []
    assert b.seq.tolist() == [f.seq for f in frames]
    assert b.t_us.tolist() == [f.t_us for f in frames]
    assert np.array_equal(b.emg_uv(), np.concatenate([f.emg_uv() for f in frames]))
    assert np.array_equal(b.acc_g(), np.concatenate([f.acc_g() for f in frames]))
    assert b.emg_sample_index().tolist() == list(range(2000))


def test_decode_batch_mixed_lengths_others_and_bad() -> None:
    rng = np.random.default_rng(1)
    frames = []
    for s in range(20):
        n_acc = 1 + s % 2  # two frame lengths interleaved
        frames.append(
            DataFrame.from_samples(
                rng.normal(0, 50, (10 + s % 3, 3)),
                rng.normal(0, 0.3, (n_acc, 3)),
                seq=s,
                boot_id=1,
                t_us=s * 10_000,
                emg_index=10 * s,
                acc_index=s,
                emg_fs=1000,
                acc_fs=100,
                emg_bits=24,
                emg_scale=0.05 * (1 + s % 2),
            )
        )
    raws = [encode_frame(f) for f in frames]
    loss = LossFrame(1, 20, 25, 200, 250, 20, 25, 200_000)
    corrupt = bytearray(raws[7])
    corrupt[-1] ^= 0xFF
    items = raws[:5] + [encode_frame(loss)] + raws[5:7] + [bytes(corrupt)] + raws[8:]
    with pytest.raises(ProtocolError, match="frame 8 of batch: bad CRC"):
        decode_batch(items)
    b = decode_batch(items, errors="skip")
    keep = [f for i, f in enumerate(frames) if i != 7]
    assert b.seq.tolist() == [f.seq for f in keep]
    assert b.others == [(5, loss)]
    assert [i for i, _ in b.bad] == [8] and "bad CRC" in b.bad[0][1]
    assert np.array_equal(b.emg_uv(), np.concatenate([f.emg_uv() for f in keep]))
    assert np.array_equal(b.acc_g(), np.concatenate([f.acc_g() for f in keep]))
    assert b.pos.tolist() == [0, 1, 2, 3, 4, 6, 7, 9] + list(range(10, 21))


@FAST
@given(st.lists(data_frames(), min_size=1, max_size=8), st.data())
def test_decode_batch_matches_decode_frame_property(frames, data) -> None:
    n_ch, bits = frames[0].n_ch, frames[0].emg_bits
    frames = [f for f in frames if f.n_ch == n_ch and f.emg_bits == bits]
    raws = [encode_frame(f) for f in frames]
    if data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(raws) - 1))
        b = bytearray(raws[i])
        b[data.draw(st.integers(0, len(b) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        raws[i] = bytes(b)
    singles = []
    for r in raws:
        try:
            singles.append(decode_frame(r))
        except ProtocolError:
            singles.append(None)
    b = decode_batch(raws, errors="skip")
    good = [(i, f) for i, f in enumerate(singles) if isinstance(f, DataFrame)]
    assert b.pos.tolist() == [i for i, _ in good]
    assert [i for i, _ in b.bad] == [i for i, f in enumerate(singles) if f is None]
    if good:
        assert np.array_equal(b.emg_uv(), np.concatenate([f.emg_uv() for _, f in good]))
        assert np.array_equal(b.acc_g(), np.concatenate([f.acc_g() for _, f in good]))
        assert b.t_us.tolist() == [f.t_us for _, f in good]


def test_decode_batch_rejects_mixed_channel_counts() -> None:
    a = _frames(1, n_ch=2)[0]
    b = _frames(1, n_ch=3)[0]
    with pytest.raises(ProtocolError, match="mixed channel counts"):
        decode_batch([encode_frame(a), encode_frame(b)])
    assert decode_batch([]).n_frames == 0


# ------------------------------------------------------------------ sizes and builders


def test_auto_frame_size_fits_and_has_constant_acc_count() -> None:
    for fs in EMG_RATES:
        for afs in ACC_RATES:
            for n_ch in range(1, 5):
                for bits in (16, 24):
                    n = auto_emg_per_frame(fs, afs, n_ch, bits)
                    worst = -(-n * afs // fs) if afs else 0
                    assert 1 <= n <= 255
                    assert emg_frame_size(n_ch, bits, n, worst) <= 244
    assert auto_emg_per_frame(1000, 50, 2, 16) == 40  # 208-byte frames, 25 frames/s


def test_from_samples_quantizes_and_saturates() -> None:
    f = DataFrame.from_samples(
        np.array([[1.04], [-1.06], [1e9], [np.nan]]),
        np.array([[20.0, -20.0, 1.0]]),
        seq=0,
        boot_id=0,
        t_us=0,
        emg_index=0,
        acc_index=0,
        emg_fs=1000,
        acc_fs=50,
        acc_range_g=16,
    )
    assert f.emg[:, 0].tolist() == [10, -11, 32767, 0]
    assert f.acc.tolist() == [[32767, -32768, 2048]]
    assert np.allclose(f.acc_g(), [[16 * 32767 / 32768, -16, 1.0]])


def test_constructors_validate() -> None:
    with pytest.raises(ValueError, match="channel"):
        DataFrame(0, 0, 0, 0, 0, 1000, 0, 16, 8, 0.1, np.zeros((2, 5), int))
    with pytest.raises(ValueError, match="exceeds"):
        DataFrame(0, 0, 0, 0, 0, 1000, 0, 16, 8, 0.1, np.zeros((120, 4), int))
    with pytest.raises(ValueError):
        Configure(emg_fs=250)
    with pytest.raises(ValueError):
        LossFrame(0, 5, 4, 0, 0, 0, 0, 0)
