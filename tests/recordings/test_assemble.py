"""FrameAssembler: order, backfill, duplicates, corrupt frames, loss frames, reboots."""

from __future__ import annotations

import numpy as np
import pytest
from assemble_kit import frames_from, make_signals, rx_times

from detector.stream import Chunk, Gap, coalesce
from firmware_protocol import codec
from recordings.assemble import FrameAssembler

N = 12_000  # 12 s at 1 kHz = 480 frames of 25 samples


@pytest.fixture(scope="module")
def night() -> tuple[np.ndarray, np.ndarray, list[bytes], list[int]]:
    emg, acc = make_signals(N, seed=3)
    fr = frames_from(emg, acc)
    return emg, acc, fr, rx_times(fr)


def _run(frames: list[bytes], rx: list[int], *, many: bool = False, **kw) -> tuple:  # noqa: ANN003
    a = FrameAssembler(**kw)
    out: list[Chunk | Gap] = []
    if many:
        out += a.push_many(frames, rx)
    else:
        for f, t in zip(frames, rx, strict=True):
            out += a.push(f, t)
    out += a.finish()
    return a, out


def _shape(items: list[Chunk | Gap]) -> list[tuple]:
    res: list[tuple] = []
    for it in coalesce(items, 10_000_000):  # EMG samples: everything contiguous joins
        if isinstance(it, Gap):
            res.append(("gap", round(it.start_s, 6), round(it.end_s, 6), it.reason))
        else:
            res.append(("chunk", it.emg_start, it.emg_stop, it.acc_start, it.acc_stop))
    return res


def _emg(items: list[Chunk | Gap]) -> np.ndarray:
    return np.concatenate([c.emg for c in items if isinstance(c, Chunk)])


def _check_contiguity(items: list[Chunk | Gap], fs: float = 1000.0, acc_fs: float = 50.0) -> None:
    e = a = None
    for it in items:
        if isinstance(it, Gap):
            e = int(round(it.end_s * fs))
            a = None
            continue
        if e is not None:
            assert it.emg_start == e
        if a is not None and it.acc.shape[0]:
            assert it.acc_start == a
        e = it.emg_stop
        if it.acc.shape[0]:
            a = it.acc_stop


def test_in_order_stream_is_lossless(night) -> None:  # noqa: ANN001
    emg, acc, fr, rx = night
    a, items = _run(fr, rx)
    assert _shape(items) == [("chunk", 0, N, 0, N // 20)]
    assert np.max(np.abs(_emg(items) - emg)) <= 0.05 + 1e-9  # half the 0.1 µV count
    got_acc = np.concatenate([c.acc for c in items if isinstance(c, Chunk)])
    assert np.max(np.abs(got_acc - acc)) <= 8 / 32768
    assert a.layout.emg_fs == 1000 and a.layout.acc_fs == 50
    assert a.layout.emg_sites == ("calf", "tibialis")
    assert a.stats["data_frames"] == len(fr) and a.stats["gaps"] == 0


def test_sites_and_labels_from_config(night) -> None:  # noqa: ANN001
    _, _, fr, rx = night
    a, _ = _run(fr[:3], rx[:3], config={"emg_sites": ["soleus", "tibialis"], "side": "left"})
    assert a.layout.emg_sites == ("soleus", "tibialis") and a.layout.side == "left"


def test_backfill_reordered_and_duplicates_give_the_same_stream(night) -> None:  # noqa: ANN001
    emg, _, fr, rx = night
    ref = _emg(_run(fr, rx)[1])
    order = list(range(100)) + list(range(140, 300)) + list(range(100, 140)) + list(range(300, 480))
    order = order[:200] + list(range(150, 170)) + order[200:]  # resent duplicates
    for many in (False, True):
        a, items = _run([fr[i] for i in order], [rx[i] for i in order], many=many)
        assert _shape(items) == [("chunk", 0, N, 0, N // 20)]
        np.testing.assert_array_equal(_emg(items), ref)
        assert a.stats["duplicates"] == 20
        assert a.stats["held_max"] >= 40
        _check_contiguity(items)


def test_hole_without_backfill_becomes_a_link_gap_after_the_hold_bound(night) -> None:  # noqa: ANN001
    _, _, fr, rx = night
    keep = [i for i in range(len(fr)) if not 40 <= i < 60]  # 0.5 s missing at 1.0 s
    a = FrameAssembler(hold_s=2.0)
    seen_gap_at = None
    for i in keep:
        for it in a.push(fr[i], rx[i]):
            if isinstance(it, Gap) and seen_gap_at is None:
                seen_gap_at = i
                assert (it.start_s, it.end_s, it.reason) == (1.0, 1.5, "link")
    assert seen_gap_at is not None
    # given up once the newest held frame is > 2 s (of sensor time) past the hole's start
    # (1.0 s): the first frame ending after 3.0 s is frame 120 (2.975-3.0 ends at 3.0)
    assert seen_gap_at == 120
    assert a.stats["lost_samples"] == 500


def test_corrupt_frame_is_counted_and_backfill_heals_it(night) -> None:  # noqa: ANN001
    _, _, fr, rx = night
    ref = _emg(_run(fr, rx)[1])
    bad = bytearray(fr[77])
    bad[50] ^= 0x40
    frames = fr[:77] + [bytes(bad)] + fr[78:90] + [fr[77]] + fr[90:]
    times = rx[:77] + [rx[77]] + rx[78:90] + [rx[90]] + rx[90:]
    for many in (False, True):
        a, items = _run(frames, times, many=many)
        assert a.stats["corrupt"] == 1 and a.stats["gaps"] == 0
        np.testing.assert_array_equal(_emg(items), ref)
    # never resent: a gap exactly where the corrupt frame was
    a, items = _run(fr[:77] + [bytes(bad)] + fr[78:], rx)
    assert ("gap", 1.925, 1.95, "link") in _shape(items)
    assert a.stats["corrupt"] == 1


def test_loss_frame_declares_a_sensor_loss_gap_immediately(night) -> None:  # noqa: ANN001
    _, _, fr, rx = night
    d = [codec.decode_frame(f) for f in fr]
    loss = codec.LossFrame(
        boot_id=1,
        seq_start=100,
        seq_stop=120,
        emg_start=d[100].emg_index,
        emg_stop=d[120].emg_index,
        acc_start=d[100].acc_index,
        acc_stop=d[120].acc_index,
        t_us=d[100].t_us,
    )
    a = FrameAssembler()
    out: list = []
    for i in range(100):
        out += a.push(fr[i], rx[i])
    for i in range(120, 130):
        out += a.push(fr[i], rx[i])
    assert a.held == 10  # waiting for 100..119
    got = a.push(codec.encode_frame(loss), rx[130])
    gaps = [g for g in got if isinstance(g, Gap)]
    assert len(gaps) == 1 and (gaps[0].start_s, gaps[0].end_s) == (2.5, 3.0)
    assert gaps[0].reason == "sensor-loss" and a.held == 0
    for i in range(130, len(fr)):
        out += a.push(fr[i], rx[i])
    out = out + got + a.finish()
    assert a.stats["lost_samples"] == 500 and a.stats["loss_frames"] == 1


def test_reboot_places_new_boot_by_receive_time(night) -> None:  # noqa: ANN001
    emg, acc, fr, rx = night
    first = fr[:200]  # 5 s
    emg2, acc2 = make_signals(4000, seed=9)
    second = frames_from(emg2, acc2, boot_id=2, seq0=0, index0=0)
    t0 = rx[0] - 33_000_000  # rx_times offsets
    rx2 = rx_times(second, t0_ns=t0 + int(8.0e9))  # boot 2 starts 3 s after boot 1 ended
    a = FrameAssembler()
    items: list = []
    for f, t in zip(first, rx[:200], strict=True):
        items += a.push(f, t)
    for f, t in zip(second, rx2, strict=True):
        items += a.push(f, t)
    items += a.push(fr[10], rx2[-1])  # a stale frame of the old boot
    items += a.finish()
    shape = _shape(items)
    assert shape[0] == ("chunk", 0, 5000, 0, 250)
    assert shape[1][0] == "gap" and shape[1][3] == "reboot"
    assert shape[1][1] == 5.0 and abs(shape[1][2] - 8.0) <= 0.03
    assert shape[2][1] == int(round(shape[1][2] * 1000)) and shape[2][2] - shape[2][1] == 4000
    assert a.stats["reboots"] == 1 and a.stats["stale"] == 1
    _check_contiguity(items)


def test_push_many_equals_push_on_a_messy_stream(night) -> None:  # noqa: ANN001
    _, _, fr, rx = night
    rng = np.random.default_rng(1)
    frames, times = [], []
    for i in range(len(fr)):
        r = rng.random()
        if r < 0.02:
            continue  # lost
        if r < 0.04:
            b = bytearray(fr[i])
            b[-1] ^= 1
            frames.append(bytes(b))
        else:
            frames.append(fr[i])
        times.append(rx[i])
        if r > 0.98:  # duplicate resend
            frames.append(fr[max(0, i - 3)])
            times.append(rx[i])
    a1, i1 = _run(frames, times)
    a2, i2 = _run(frames, times, many=True)
    assert _shape(i1) == _shape(i2)
    np.testing.assert_array_equal(_emg(i1), _emg(i2))
    for k in ("frames", "corrupt", "duplicates", "gaps", "lost_samples"):
        assert a1.stats[k] == a2.stats[k], k
    _check_contiguity(i1)


def test_chunks_are_cut_on_the_timeline_grid_whatever_the_arrival(night) -> None:  # noqa: ANN001
    _, _, fr, rx = night
    _, a = _run(fr, rx)
    _, b = _run(fr, rx, many=True)
    cuts = [(c.emg_start, c.emg_stop, c.acc_start, c.acc_stop) for c in a if isinstance(c, Chunk)]
    assert cuts == [(c.emg_start, c.emg_stop, c.acc_start, c.acc_stop) for c in b]
    # CHUNK_S = 1 s at 1000 Hz EMG / 50 Hz acc: cuts at multiples of 1000 samples
    assert cuts[:2] == [(0, 1_000, 0, 50), (1_000, 2_000, 50, 100)]
    assert all(c[1] % 1_000 == 0 for c in cuts[:-1] if c[1] - c[0] == 1_000)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.emg, y.emg)
        np.testing.assert_array_equal(x.acc, y.acc)


def test_wall_time_follows_receive_times(night) -> None:  # noqa: ANN001
    _, _, fr, rx = night
    a, _ = _run(fr, rx)
    wt = a.wall_time(6.0)
    assert wt is not None
    expect = (rx[0] - 25_000_000 - 8_000_000) / 1e9 + 6.0
    assert abs(wt.timestamp() - expect) < 0.02


@pytest.mark.parametrize("seed", range(6))
def test_any_late_order_with_resends_gives_the_in_order_stream(night, seed: int) -> None:  # noqa: ANN001
    """Property: frames delivered late (within the hold bound), twice, or corrupted and
    then resent, always give the samples of the in-order delivery, with no gap."""
    _, _, fr, rx = night
    ref = _emg(_run(fr, rx)[1])
    rng = np.random.default_rng(seed)
    keys = np.arange(len(fr)) + rng.uniform(0, 60, len(fr))  # up to 60 frames (1.5 s) late
    keys[0] = -1  # the recording starts with the first frame it receives
    order = [int(i) for i in np.argsort(keys, kind="stable")]
    frames, times = [], []
    for k, i in enumerate(order):
        r = rng.random()
        if r < 0.03:  # corrupted on the air, resent a little later
            b = bytearray(fr[i])
            b[int(rng.integers(0, len(b)))] ^= 1 << int(rng.integers(0, 8))
            frames.append(bytes(b))
            times.append(rx[min(k, len(rx) - 1)])
        frames.append(fr[i])
        times.append(rx[min(k, len(rx) - 1)])
        if r > 0.97:
            frames.append(fr[i])
            times.append(rx[min(k, len(rx) - 1)])
    for many in (False, True):
        a, items = _run(frames, times, many=many)
        assert not [it for it in items if isinstance(it, Gap)]
        np.testing.assert_array_equal(_emg(items), ref)
        _check_contiguity(items)
