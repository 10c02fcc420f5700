"""The emulated sensor firmware: streaming, ring buffer + resend, explicit loss, reboot,
clock drift, corrupt-frame injection, battery, commands."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from detector.stream import ArraySource, StreamLayout
from emulator.firmware import SensorFirmware
from firmware_protocol import ProtocolError
from firmware_protocol.codec import (
    ACK_BAD_STATE,
    ACK_BAD_VALUE,
    ACK_MALFORMED,
    ACK_OK,
    ACK_UNKNOWN,
    FLAG_LOW_BATTERY,
    FLAG_RING_OVERFLOW,
    FLAG_SOURCE_END,
    LOSS_RING,
    STATE_ACQUIRING,
    STATE_IDLE,
    STATE_STREAMING,
    AckFrame,
    ConfigFrame,
    Configure,
    DataFrame,
    LossFrame,
    ReadConfig,
    Resend,
    StartStreaming,
    StatusFrame,
    StopStreaming,
    SyncFrame,
    TimeSync,
    decode_batch,
    decode_frame,
    encode_command,
)
from firmware_protocol.gatt import NAME_PREFIX

FS = 1000
ACC_FS = 50
S = 1_000_000  # µs per second


def ramp_source(seconds: float, fs: int = FS, acc_fs: int | None = ACC_FS) -> ArraySource:
    """EMG ch0 = (i mod 1000) counts of 0.1 µV, ch1 = -(i mod 500); acc x = j mod 100 counts
    at +-8 g: every sample says where it came from."""
    n = int(seconds * fs)
    i = np.arange(n)
    emg = np.stack([(i % 1000) * 0.1, -(i % 500) * 0.1], axis=1)
    lay = StreamLayout(
        emg_fs=fs, emg_labels=("L", "R"), emg_sites=("calf", "tibialis"), acc_fs=acc_fs
    )
    if acc_fs is None:
        return ArraySource(lay, emg, chunk_s=0.37)
    m = int(seconds * acc_fs)
    j = np.arange(m)
    acc = np.zeros((m, 3))
    acc[:, 0] = (j % 100) * (8 / 32768)
    acc[:, 2] = 1.0
    return ArraySource(lay, emg, acc, chunk_s=0.37)


def ctl(fw: SensorFirmware, cmd, t_us: float | None = None) -> list:
    return [decode_frame(b) for b in fw.on_control(encode_command(cmd), true_us=t_us)]


def started(seconds: float = 400, **kw) -> SensorFirmware:
    fw = SensorFirmware(ramp_source(seconds), seed=3, **kw)
    [ack] = ctl(fw, StartStreaming(token=9), t_us=0.5 * S)
    assert ack == AckFrame(9, StartStreaming.TYPE, ACK_OK)
    return fw


def test_stream_samples_are_the_providers_in_order() -> None:
    fw = started()
    raws = fw.advance_to(3.0 * S)
    frames = [decode_frame(r) for r in raws]
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert len(frames) == (3000 - 500) // 40  # 40 EMG samples per frame, started at 0.5 s
    f0 = frames[0]
    assert (f0.emg_index, f0.acc_index, f0.t_us) == (0, 0, 500_000)
    assert (f0.n_emg, f0.n_acc, f0.emg_fs, f0.acc_fs, f0.n_ch) == (40, 2, 1000, 50, 2)
    b = decode_batch(raws)
    k = 500 + np.arange(b.emg_raw.shape[0])  # provider index of each EMG sample
    assert b.emg_raw[:, 0].tolist() == (k % 1000).tolist()
    assert b.emg_raw[:, 1].tolist() == (-(k % 500)).tolist()
    j = 25 + np.arange(b.acc_raw.shape[0])
    assert b.acc_raw[:, 0].tolist() == (j % 100).tolist()
    assert np.allclose(b.acc_g()[:, 2], 1.0, atol=1e-3)
    # Frames are contiguous in both indices and in time.
    assert np.all(np.diff(b.emg_index) == 40) and np.all(np.diff(b.acc_index) == 2)
    assert np.all(np.diff(b.t_us) == 40_000)
    # Nothing more is due until time moves on.
    assert fw.advance_to(3.0 * S) == []


def test_resend_returns_exactly_the_missing_frames() -> None:
    fw = started()
    got = [decode_frame(r) for r in fw.advance_to(10 * S)]
    last = got[-1].seq
    fw.on_disconnect()  # link drop: acquisition continues, nothing is notified
    missed = fw.advance_to(40 * S)
    assert missed == []
    assert decode_frame(fw.read_status()).state == STATE_ACQUIRING
    [ack] = ctl(fw, Resend(last + 1, token=4), t_us=40 * S)
    assert ack.ok and ack.value == last + 1
    assert fw.pending_backfill == fw.next_seq - (last + 1)
    ctl(fw, StartStreaming(), t_us=40 * S)
    after_raw = fw.advance_to(41 * S)
    after = [decode_frame(r) for r in after_raw]
    assert all(isinstance(f, DataFrame) for f in after)
    seqs = [f.seq for f in after]
    assert seqs == list(range(last + 1, fw.next_seq))  # backfill then live, no dup, no hole
    held = {h.seq: h.data for h in fw.ring}
    assert all(held[f.seq] == r for f, r in zip(after, after_raw, strict=True))
    whole = decode_batch([*map(_enc, got), *map(_enc, after)])
    assert np.all(np.diff(whole.emg_index) == 40)


def test_resend_alone_resumes_live_streaming_after_a_drop() -> None:
    fw = started()
    last = decode_frame(fw.advance_to(5 * S)[-1]).seq
    fw.on_disconnect()
    fw.advance_to(8 * S)
    [ack] = ctl(fw, Resend(last + 1), t_us=8 * S)
    assert ack.ok and fw.state == STATE_STREAMING
    seqs = [decode_frame(r).seq for r in fw.advance_to(9 * S)]
    assert seqs == list(range(last + 1, fw.next_seq)) and fw.next_seq > (8 * 1000 - 500) // 40


def _enc(f: DataFrame) -> bytes:
    from firmware_protocol.codec import encode_frame

    return encode_frame(f)


def test_resend_older_than_ring_gives_explicit_loss_with_index_ranges() -> None:
    fw = started(ring_s=120.0)
    fw.on_disconnect()
    fw.advance_to(200.5 * S)  # 200 s acquired, ring holds 120 s
    status = decode_frame(fw.read_status())
    assert status.flags & FLAG_RING_OVERFLOW
    assert status.next_seq == 200 * 25
    assert status.next_seq - status.oldest_seq == 120 * 25  # ring = 3000 frames
    [ack] = ctl(fw, Resend(0), t_us=200.5 * S)
    assert ack.ok and ack.value == status.oldest_seq
    out = [decode_frame(r) for r in fw.advance_to(200.5 * S)]
    loss = out[0]
    assert loss == LossFrame(
        boot_id=fw.boot_id,
        seq_start=0,
        seq_stop=status.oldest_seq,
        emg_start=0,
        emg_stop=status.oldest_seq * 40,
        acc_start=0,
        acc_stop=status.oldest_seq * 2,
        t_us=500_000,
        reason=LOSS_RING,
    )
    data = out[1:]
    assert [f.seq for f in data] == list(range(status.oldest_seq, status.next_seq))
    assert data[0].emg_index == loss.emg_stop and data[0].acc_index == loss.acc_stop
    # Asking for the future is refused, nothing queued.
    [bad] = ctl(fw, Resend(fw.next_seq + 5))
    assert bad.result == ACK_BAD_VALUE and fw.pending_backfill == 0


def test_reboot_resets_seq_clock_ring_and_changes_boot_id() -> None:
    fw = started()
    before = [decode_frame(r) for r in fw.advance_to(20 * S)]
    old_boot = fw.boot_id
    fw.reboot(true_us=30 * S)
    st = decode_frame(fw.read_status())
    assert st.boot_id != old_boot and st.state == STATE_IDLE
    assert (st.next_seq, st.oldest_seq) == (0, 0) and len(fw.ring) == 0
    assert fw.sensor_us == 0
    assert fw.advance_to(31 * S) == []  # idle after a reboot until the host starts it
    ctl(fw, StartStreaming(), t_us=31 * S)
    after = [decode_frame(r) for r in fw.advance_to(33 * S)]
    assert after[0].seq == 0 and after[0].boot_id == st.boot_id
    assert after[0].t_us == 1 * S and after[0].emg_index == 0
    # The provider went on in time: the first sample after reboot is provider index 31000.
    assert after[0].emg[0, 0] == 31_000 % 1000 and after[0].emg[0, 1] == -(31_000 % 500)
    assert before[-1].boot_id == old_boot


@pytest.mark.parametrize("ppm", [100.0, -100.0])
def test_drift_stamps_frames_on_the_sensor_clock(ppm: float) -> None:
    fw = SensorFirmware(ramp_source(1100), seed=1, drift_ppm=ppm)
    ctl(fw, StartStreaming(), t_us=0)
    frames = [decode_frame(r) for r in fw.advance_to(1000 * S)]
    rate = 1 + ppm * 1e-6
    # In 1000 s of true time the sensor's oscillator counted 1000 * rate seconds of samples.
    assert len(frames) == int(1000 * rate * FS) // 40
    assert frames[-1].t_us == frames[-1].emg_index * 1000  # sensor clock = sample grid
    [sync] = ctl(fw, TimeSync(host_us=123), t_us=1000 * S)
    assert sync == SyncFrame(fw.boot_id, 123, round(1000 * S * rate))


def test_corrupt_injection_fails_decode_and_resend_repairs() -> None:
    fw = started(corrupt_at={5, 7})
    raws = fw.advance_to(2 * S)
    for seq, raw in enumerate(raws):
        if seq in (5, 7):
            with pytest.raises(ProtocolError):
                decode_frame(raw)
        else:
            assert decode_frame(raw).seq == seq
    assert fw.stats["corrupted"] == 2
    ctl(fw, Resend(5))
    again = [decode_frame(r) for r in fw.advance_to(2 * S)]
    assert [f.seq for f in again] == list(range(5, fw.next_seq))
    every = started(corrupt_every=10)
    bad = 0
    for raw in every.advance_to(3 * S):
        try:
            decode_frame(raw)
        except ProtocolError:
            bad += 1
    assert bad == every.stats["corrupted"] == len(range(0, every.next_seq, 10))


def test_battery_drains_to_low_battery_flag() -> None:
    fw = SensorFirmware(ramp_source(10), battery_pct=16.5, drain_pct_per_h=2.0)
    st0 = decode_frame(fw.read_status())
    assert st0.battery_pct == 16 and not st0.flags & FLAG_LOW_BATTERY
    fw.pop_status()
    fw.advance_to(3600 * S)  # one hour -> 14.5 %
    notes = [decode_frame(b) for b in fw.pop_status()]
    st = decode_frame(fw.read_status())
    assert isinstance(st, StatusFrame)
    assert st.battery_pct == 14 and st.low_battery
    assert notes and notes[-1] == st


def test_commands_configure_readconfig_and_errors() -> None:
    fw = SensorFirmware(ramp_source(60), seed=2)
    ack, cfg = ctl(fw, ReadConfig(token=1))
    assert ack.ok and isinstance(cfg, ConfigFrame)
    assert (cfg.emg_fs, cfg.n_ch, cfg.emg_per_frame, cfg.ring_s) == (1000, 2, 40, 120)
    assert fw.read_config() == fw.on_control(encode_command(ReadConfig(token=1)))[1]
    [a] = ctl(fw, Configure(emg_fs=2000, n_ch=1, emg_bits=24, acc_fs=100, token=2))
    assert a.ok
    assert decode_frame(fw.read_config()).emg_fs == 2000
    [a] = ctl(fw, Configure(n_ch=4))
    assert a.result == ACK_BAD_VALUE  # the provider has 2 channels
    [a] = ctl(fw, Configure(emg_per_frame=200))
    assert a.result == ACK_BAD_VALUE  # 200 samples x 2 ch do not fit 244 bytes
    ctl(fw, StartStreaming(), t_us=1 * S)
    frames = [decode_frame(r) for r in fw.advance_to(3 * S)]
    assert frames[0].emg_fs == 2000 and frames[0].emg_bits == 24 and frames[0].n_ch == 1
    # 1 kHz provider upsampled to 2 kHz by linear interpolation (start: provider index 1000).
    uv = decode_batch([fw.ring[0].data]).emg_uv()[:, 0]
    assert np.allclose(uv[:4], [0.0, 0.05, 0.1, 0.15], atol=0.001)
    [a] = ctl(fw, Configure())
    assert a.result == ACK_BAD_STATE
    [a] = ctl(fw, StopStreaming(token=3))
    assert a.ok and fw.state == STATE_ACQUIRING and fw.advance_to(4 * S) == []
    assert fw.next_seq > frames[-1].seq + 1  # acquisition went on while stopped
    [m] = [decode_frame(b) for b in fw.on_control(b"\x01\x81\x05\x00\x00")]
    assert m.result == ACK_MALFORMED and m.token == 5 and m.command == 0x81
    [u] = [decode_frame(b) for b in fw.on_control(b"\x01\x99\x05\x00\x00")]
    assert u.result == ACK_UNKNOWN
    [g] = [decode_frame(b) for b in fw.on_control(b"")]
    assert g.result == ACK_MALFORMED
    assert fw.state == STATE_ACQUIRING
    ctl(fw, StartStreaming())
    assert fw.state == STATE_STREAMING


def test_provider_without_accelerometer_and_other_rate_and_end() -> None:
    src = ramp_source(5, fs=512, acc_fs=None)
    fw = SensorFirmware(src)
    assert fw.acc_fs == 0 and fw.emg_fs == 1000
    [a] = ctl(fw, Configure(emg_fs=500, acc_fs=50))
    assert a.result == ACK_BAD_VALUE  # no accelerometer in the provider
    [a] = ctl(fw, Configure(emg_fs=500, acc_fs=0))
    assert a.ok
    ctl(fw, StartStreaming(), t_us=0)
    raws = fw.advance_to(10 * S)
    b = decode_batch(raws)
    assert b.acc_raw.shape == (0, 3) and set(b.acc_fs.tolist()) == {0}
    # 5 s of provider data -> about 5 s of frames, then the source ends.
    assert 4.8 * 500 <= b.emg_raw.shape[0] <= 5 * 500
    assert decode_frame(fw.read_status()).flags & FLAG_SOURCE_END
    assert fw.exhausted and fw.advance_to(20 * S) == []


def test_identity_and_validation() -> None:
    fw = SensorFirmware(ramp_source(1), serial="NC1-0000BEEF")
    assert fw.name == NAME_PREFIX + "BEEF"
    assert set(fw.device_info) >= {"manufacturer", "model", "serial", "firmware_rev"}
    with pytest.raises(ValueError, match="120 s"):
        SensorFirmware(ramp_source(1), ring_s=60)
    with pytest.raises(ValueError, match="backwards"):
        fw.advance_to(5)
        fw.advance_to(4)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.5, 60.0), st.floats(0.0, 200.0)),  # (stream s, then drop s)
        min_size=1,
        max_size=5,
    )
)
@example([(10.0, 200.0), (5.0, 30.0)])  # one drop longer than the 120-s ring
def test_every_frame_arrives_or_is_declared_lost(schedule: list[tuple[float, float]]) -> None:
    """A host that reconnects with RESEND(last + 1) after each link drop ends with every
    sequence number either received exactly once or covered by a LOSS frame."""
    src = ramp_source(700, fs=500, acc_fs=None)
    fw = SensorFirmware(src, seed=5)
    t = 0.0
    ctl(fw, StartStreaming(), t_us=t)
    got: list[int] = []
    lost: list[int] = []

    def take(raws: list[bytes]) -> None:
        for r in raws:
            f = decode_frame(r)
            if isinstance(f, DataFrame):
                got.append(f.seq)
            else:
                assert isinstance(f, LossFrame)
                lost.extend(range(f.seq_start, f.seq_stop))

    for stream_s, drop_s in schedule:
        t += stream_s * S
        take(fw.advance_to(t))
        fw.on_disconnect()
        t += drop_s * S
        assert fw.advance_to(t) == []
        last = max(got + lost, default=-1)
        [ack] = ctl(fw, Resend(last + 1), t_us=t)
        assert ack.ok
    t += 1 * S
    take(fw.advance_to(t))
    assert sorted(got + lost) == list(range(fw.next_seq))
    assert len(set(got)) == len(got)
    if lost:
        assert fw.ring_overflowed
    if schedule == [(10.0, 200.0), (5.0, 30.0)]:
        assert len(lost) > 0


class _GappySource:
    """10 s of ramp, a 7.5-s hole, then 10 s more (like a saved recording with a link gap)."""

    def __init__(self) -> None:
        self.layout = StreamLayout(emg_fs=FS, emg_labels=("L",), emg_sites=("calf",), acc_fs=None)

    def chunks(self):
        from detector.stream import Chunk, Gap

        i = np.arange(10_000)
        yield Chunk(0, ((i % 1000) * 0.1)[:, None] + 1.0)
        yield Gap(10.0, 17.5, "link")
        j = np.arange(17_500, 27_500)
        yield Chunk(17_500, ((j % 1000) * 0.1)[:, None] + 1.0)

    def wall_time(self, t_s: float):
        return None


def test_provider_gap_becomes_an_explicit_fault_loss() -> None:
    fw = SensorFirmware(_GappySource(), config=Configure(n_ch=1, acc_fs=0, emg_per_frame=100))
    ctl(fw, StartStreaming(), t_us=0)
    out = [decode_frame(r) for r in fw.advance_to(30 * S)]
    losses = [f for f in out if isinstance(f, LossFrame)]
    data = [f for f in out if isinstance(f, DataFrame)]
    assert len(losses) == 1
    loss = losses[0]
    assert loss.reason_name == "fault"
    # 100-sample frames: frames 100..174 cover EMG 10,000..17,499, all inside the hole.
    assert (loss.seq_start, loss.seq_stop) == (100, 175)
    assert (loss.emg_start, loss.emg_stop) == (10_000, 17_500)
    assert loss.t_us == 10 * S
    assert sorted([f.seq for f in data] + list(range(100, 175))) == list(range(fw.next_seq))
    assert np.all(np.concatenate([f.emg_uv() for f in data]) >= 1.0)  # no invented zeros
    # A RESEND from inside the hole repeats the LOSS, then the data after it.
    ctl(fw, Resend(150))
    again = [decode_frame(r) for r in fw.advance_to(30 * S)]
    assert again[0] == loss and [f.seq for f in again[1:]] == list(range(175, fw.next_seq))


def test_frames_stop_exactly_where_the_provider_runs_out() -> None:
    """Far past the end of its provider the sensor makes every frame it can fill, no more."""
    lay = StreamLayout(
        emg_fs=1000.0, emg_labels=("a", "b"), emg_sites=("calf", "tibialis"), acc_fs=50.0
    )
    src = ArraySource(lay, np.zeros((10_000, 2)), np.zeros((500, 3)) + [0.0, 0.0, 1.0])
    fw = SensorFirmware(src)
    fw.on_control(encode_command(StartStreaming()), 0)
    frames = fw.advance_to(3600e6)  # one call an hour past a 10-s provider
    frames += fw.advance_to(7200e6)
    seqs = [decode_frame(f).seq for f in frames]
    per_frame = decode_frame(fw.read_config()).emg_per_frame
    assert seqs == list(range(10_000 // per_frame))
    assert fw.exhausted
