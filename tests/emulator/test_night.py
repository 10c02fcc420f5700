"""The synthetic night generator: determinism, truth sanity, physiology within the cited ranges."""

from __future__ import annotations

import math
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, welch

from detector.stream import ArraySource, Chunk, Source
from emulator.night import (
    SEG_S,
    Scenario,
    SyntheticNight,
    TruthEvent,
    make_night,
)

# benchmarks/ is a script folder, not an installed package: import it from the checkout
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.corpus import corpus  # noqa: E402

BUSY = Scenario(
    cramps=1,
    cramp_durations=(40.0,),
    plm_series=1,
    walks=0,
    stretches=1,
    sleep_onset_s=60.0,
    artifact_rate=1.0,
    spectrum="shwedyk",
)


@pytest.fixture(scope="module")
def night() -> SyntheticNight:
    return make_night(11, 2400.0, scenario=BUSY)


@pytest.fixture(scope="module")
def arrays(night: SyntheticNight) -> tuple[np.ndarray, np.ndarray]:
    return night.to_arrays()


def _band(x: np.ndarray, fs: float, lo: float = 20.0, hi: float = 450.0) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    sos = butter(4, [lo, hi], btype="band", fs=fs, output="sos")
    return np.asarray(sosfiltfilt(sos, x, axis=0))


def _notch_free_rms(x: np.ndarray, fs: float, mains: float) -> np.ndarray:
    """RMS after removing mains and harmonics (simple band-stops), per channel."""
    y = _band(x, fs)
    for h in (1, 3):
        f0 = h * mains
        if f0 < 0.45 * fs:
            sos = butter(2, [f0 - 2, f0 + 2], btype="bandstop", fs=fs, output="sos")
            y = sosfiltfilt(sos, y, axis=0)
    return np.sqrt(np.mean(y * y, axis=0))


def _quiet_windows(night: SyntheticNight, length: float, n: int = 5) -> list[tuple[float, float]]:
    """Sleep windows with no truth event within 5 s (artefacts included)."""
    spans = [(e.start_s - 5, e.end_s + 5) for e in night.truth]
    spans += [(a, b) for a, b, s in night.states if s == "wake"]
    out: list[tuple[float, float]] = []
    t = 0.0
    while t + length < night.duration_s and len(out) < n:
        if all(t + length <= a or t >= b for a, b in spans):
            out.append((t, t + length))
            t += length
        else:
            t += 1.0
    return out


# ------------------------------------------------------------------ determinism


def test_same_seed_same_samples_and_chunk_size_invariance() -> None:
    a = make_night(5, 600.0, emg_fs=333.3, scenario=BUSY)
    b = make_night(5, 600.0, emg_fs=333.3, scenario=BUSY)
    assert a.truth == b.truth
    i0, i1 = int(8.5 * 333.3), int(41.7 * 333.3)  # spans 10-s segment seams
    whole = a.render(i0, i1)
    np.testing.assert_array_equal(whole, b.render(i0, i1))
    # pieces of odd sizes, rendered out of order, equal the whole
    cuts = [i0, i0 + 17, i0 + 3001, i0 + 3002, i0 + 7777, i1]
    pieces = {k: a.render(cuts[k], cuts[k + 1]) for k in (3, 0, 4, 2, 1)}
    np.testing.assert_array_equal(np.concatenate([pieces[k] for k in range(5)]), whole)
    # chunks of different sizes stream the same samples
    c = make_night(5, 60.0, emg_fs=1000.0, scenario=BUSY)
    s1 = [x for x in c.chunks(0.37) if isinstance(x, Chunk)]
    s2 = [x for x in c.chunks(2.5) if isinstance(x, Chunk)]
    for parts in (s1, s2):
        assert parts[0].emg_start == 0 and parts[0].acc_start == 0
        for p, q in zip(parts, parts[1:], strict=False):
            assert q.emg_start == p.emg_stop and q.acc_start == p.acc_stop
    np.testing.assert_array_equal(
        np.concatenate([p.emg for p in s1]), np.concatenate([p.emg for p in s2])
    )
    np.testing.assert_array_equal(
        np.concatenate([p.acc for p in s1]), np.concatenate([p.acc for p in s2])
    )
    assert sum(p.emg.shape[0] for p in s1) == c.n_emg == 60000
    assert sum(p.acc.shape[0] for p in s1) == c.n_acc == 3000
    # across a cramp (motor-unit trains, envelopes) in a fresh instance, seam by seam
    (cr,) = a.truth_of("cramp")
    j0, j1 = int((cr.start_s - 2) * 333.3), int((cr.start_s + 25) * 333.3)
    fresh = make_night(5, 600.0, emg_fs=333.3, scenario=BUSY)
    seams = [j0] + [k * fresh._seg_n for k in range(j0 // fresh._seg_n + 1, j1 // fresh._seg_n + 1)]
    spans = list(zip(seams, seams[1:] + [j1], strict=True))
    blocks = [fresh.render(u, v) for u, v in reversed(spans)]  # last seam first
    np.testing.assert_array_equal(np.concatenate(blocks[::-1]), b.render(j0, j1))
    # a different seed is a different night
    d = make_night(6, 600.0, emg_fs=333.3, scenario=BUSY)
    assert not np.array_equal(d.render(i0, i1), whole)


def test_chunks_match_array_source_indexing() -> None:
    n = make_night(3, 45.0, emg_fs=256.0, acc_fs=25.0, scenario=BUSY)
    emg, acc = n.to_arrays()
    ref = list(ArraySource(n.layout, emg, acc, chunk_s=1.3).chunks())
    got = list(n.chunks(1.3))
    assert len(ref) == len(got)
    for r, g in zip(ref, got, strict=True):
        assert isinstance(r, Chunk) and isinstance(g, Chunk)
        assert (r.emg_start, r.acc_start, r.emg.shape, r.acc.shape) == (
            g.emg_start,
            g.acc_start,
            g.emg.shape,
            g.acc.shape,
        )


def test_is_a_source_with_layouts() -> None:
    n = make_night(1, 30.0, sites=("calf",), acc_fs=None)
    assert isinstance(n, Source)
    assert n.layout.emg_sites == ("calf",) and n.layout.acc_fs is None
    ch = next(iter(n.chunks()))
    assert isinstance(ch, Chunk) and ch.emg.shape == (1000, 1) and ch.acc.shape == (0, 3)
    n3 = make_night(1, 30.0, sites=("gastrocnemius", "soleus", "tibialis"), emg_fs=2000.0)
    assert n3.render(0, 10).shape == (10, 3)
    assert n3.wall_time(60.0) is not None
    with pytest.raises(ValueError, match="sites"):
        make_night(1, 30.0, sites=("tibialis",))
    with pytest.raises(ValueError, match="emg_fs"):
        make_night(1, 30.0, emg_fs=50.0)


# ------------------------------------------------------------------ truth sanity


def _conflicts(truth: list[TruthEvent]) -> list[tuple[TruthEvent, TruthEvent]]:
    bad = []
    ev = [e for e in truth if e.kind in ("cramp", "plm", "movement")]
    for i, a in enumerate(ev):
        for b in ev[i + 1 :]:
            if b.start_s >= a.end_s:
                break
            ov = min(a.end_s, b.end_s) - max(a.start_s, b.start_s)
            relief = (
                a.kind == "cramp"
                and b.subtype == "stretch"
                and b.extra.get("relief_of") == a.start_s
                and ov <= 5.0
            )
            if ov > 0 and not relief:
                bad.append((a, b))
    return bad


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_truth_sane_on_random_8h_nights(seed: int) -> None:
    n = make_night(seed, 8 * 3600.0, scenario=Scenario(hard=seed == 3))
    t = n.truth
    assert t == sorted(t, key=lambda e: (e.start_s, e.end_s, e.kind))
    assert not _conflicts(t)
    for e in t:
        assert e.kind in ("cramp", "plm", "movement", "artifact")
        assert 0 <= e.start_s < e.end_s <= n.duration_s
        if e.kind == "cramp":
            assert 10.0 <= e.duration_s <= 600.0
            if e.extra["prerise_pct"] > 0:
                pre = e.start_s - e.extra["prerise_start_s"]
                assert 19.99 <= pre <= 70.01 and 99.9 <= e.extra["prerise_pct"] <= 500.1
                assert e.extra["asleep_before"]
            else:
                assert e.extra["prerise_start_s"] is None
            assert any(s in ("calf", "gastrocnemius", "soleus") for s in e.sites)
        if e.kind == "plm" or e.subtype == "leg-movement":
            assert 0.5 <= e.duration_s <= 10.0
        if e.subtype == "twitch":
            assert e.duration_s < 0.5
    # the night has sleep, wake and postures
    assert {s for _, _, s in n.states} == {"sleep", "wake"}
    assert n.postures[0][0] == 0.0 and n.postures[-1][1] == n.duration_s


def test_plm_series_follow_aasm_wasm() -> None:
    n = make_night(4, 3 * 3600.0, scenario=Scenario(plm_series=3, cramps=0))
    series: dict[float, list[TruthEvent]] = {}
    for e in n.truth_of("plm"):
        series.setdefault(e.extra["series_start_s"], []).append(e)
    assert len(series) == 3
    for evs in series.values():
        assert len(evs) >= 4
        on = np.array([e.start_s for e in evs])
        iv = np.diff(on)
        assert np.all(iv >= 10.0) and np.all(iv <= 90.0)  # WASM 2016 intervals
        assert all(0.5 <= e.duration_s <= 10.0 for e in evs)
    # isolated leg movements are >= 90 s from any PLM
    plm_on = np.array([e.start_s for e in n.truth_of("plm")])
    for e in n.truth:
        if e.subtype == "leg-movement":
            assert np.min(np.abs(plm_on - e.start_s)) > 90.0


def test_counts_follow_the_scenario() -> None:
    n = make_night(
        9, 6 * 3600.0, scenario=Scenario(cramps=3, walks=2, stretches=2, electrode_off=2)
    )
    assert len(n.truth_of("cramp")) == 3
    subs = [e.subtype for e in n.truth]
    assert subs.count("electrode-off") == 2
    assert subs.count("walking") >= 2 + sum(
        1 for e in n.truth_of("cramp") if e.extra["relief"] == "walk"
    )
    free = make_night(9, 3600.0, scenario=Scenario(cramps=0))
    assert free.truth_of("cramp") == []
    df = n.truth_frame()
    assert len(df) == len(n.truth) and (df["end_s"] > df["start_s"]).all()


# ------------------------------------------------------------------ physiology


def test_noise_blocks_have_unit_variance() -> None:
    n = make_night(2, 30.0, emg_fs=500.0)
    e, a = n._noise_block(0)
    assert e.std(axis=1) == pytest.approx([1.0, 1.0], rel=0.06)


def test_resting_level_cramp_amplitude_and_spectrum(
    night: SyntheticNight, arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    emg, acc = arrays
    fs = night.layout.emg_fs
    quiet = _quiet_windows(night, 20.0)
    assert len(quiet) >= 3
    rest = np.array(
        [_notch_free_rms(emg[int(a * fs) : int(b * fs)], fs, night.mains_hz) for a, b in quiet]
    )
    assert np.all(rest > 0.3) and np.all(rest < 8.0)  # a few µV RMS
    (cramp,) = night.truth_of("cramp")
    calf = night.layout.emg_sites.index("calf")
    seg = emg[int((cramp.start_s + 3) * fs) : int((cramp.end_s - 5) * fs)]
    c_rms = _notch_free_rms(seg, fs, night.mains_hz)[calf]
    assert 20.0 <= c_rms <= 400.0
    assert c_rms > 8 * np.median(rest[:, calf])
    # sEMG spectrum of the contraction: power in 20..450 Hz, peak ~50..150 Hz
    f, p = welch(seg[:, calf], fs=fs, nperseg=2048)
    assert p[(f >= 20) & (f <= 450)].sum() / p.sum() > 0.9
    assert 40.0 <= f[np.argmax(p)] <= 160.0
    # waxing and waning near 1.4 Hz (Minetto 2009): the 50-ms envelope has more power at
    # 0.9..2.1 Hz than at 3..8 Hz
    e = np.sqrt(np.mean(_band(seg[:, calf], fs)[: len(seg) // 50 * 50].reshape(-1, 50) ** 2, 1))
    fe, pe = welch(e - e.mean(), fs=20.0, nperseg=256)
    assert pe[(fe >= 0.9) & (fe <= 2.1)].mean() > 1.5 * pe[(fe >= 3) & (fe <= 8)].mean()
    # the pre-cramp rise: calf RMS in the last 10 s before onset above the earlier level
    pre0 = cramp.extra["prerise_start_s"]
    assert pre0 is not None
    early = _notch_free_rms(emg[int((pre0 - 20) * fs) : int(pre0 * fs)], fs, night.mains_hz)
    late = _notch_free_rms(
        emg[int((cramp.start_s - 10) * fs) : int((cramp.start_s - 1) * fs)], fs, night.mains_hz
    )
    assert late[calf] > 1.3 * early[calf]


def test_bandpass_spectrum_nights_stay_in_band() -> None:
    n = make_night(8, 60.0, scenario=Scenario(cramps=0, artifact_rate=0.0, spectrum="bandpass"))
    assert n.params["spectrum"] == "bandpass"
    x = n.render(0, n.n_emg)[:, 0]
    f, p = welch(x, fs=1000.0, nperseg=2048)
    assert p[(f >= 15) & (f <= 460)].sum() / p.sum() > 0.8


def test_random_acc_axes_keep_one_g() -> None:
    a = make_night(8, 60.0, scenario=Scenario(cramps=0, acc_axes="random"))
    b = make_night(8, 60.0, scenario=Scenario(cramps=0))
    ga, gb = a.render_acc(0, 500), b.render_acc(0, 500)
    assert np.median(np.linalg.norm(ga, axis=1)) == pytest.approx(1.0, abs=0.05)
    assert not np.allclose(np.median(ga, axis=0), np.median(gb, axis=0), atol=0.1)


def test_no_activity_outside_the_truth(
    night: SyntheticNight, arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    """Every 250-ms stretch of EMG well above rest lies in a truth event (or a pre-rise)."""
    emg, _ = arrays
    fs = night.layout.emg_fs
    y = _band(emg, fs)
    for h in (1, 2, 3, 5, 6):
        f0 = h * night.mains_hz
        if f0 < 0.45 * fs:
            sos = butter(2, [f0 - 2, f0 + 2], btype="bandstop", fs=fs, output="sos")
            y = sosfiltfilt(sos, y, axis=0)
    k = int(0.25 * fs)
    m = len(y) // k * k
    r = np.sqrt(np.mean(y[:m].reshape(-1, k, y.shape[1]) ** 2, axis=1))
    q = np.percentile(r, 20, axis=0)
    hot = np.flatnonzero((r > np.maximum(6 * q, q + 8)).any(axis=1)) * 0.25
    assert hot.size > 100  # the night is not empty
    spans = [(e.start_s - 0.5, e.end_s + 0.5) for e in night.truth]
    spans += [
        (e.extra["prerise_start_s"], e.start_s)
        for e in night.truth_of("cramp")
        if e.extra["prerise_start_s"] is not None
    ]
    stray = [t for t in hot if not any(a <= t + 0.25 and t <= b for a, b in spans)]
    assert stray == []
    # and the other way round: every cramp, PLM and movement shows in its channels
    labels = night.layout.emg_labels
    for e in night.truth:
        if e.kind == "artifact" or e.subtype in ("standing", "twitch") or not e.channels:
            continue
        cols = [labels.index(c) for c in e.channels]
        i0, i1 = int(e.start_s / 0.25), int(math.ceil(e.end_s / 0.25))
        peak = max(float(np.max(r[i0:i1, c] / q[c])) for c in cols)
        assert peak > 2.0, e


def test_sleeplab_rate_has_nothing_above_its_band() -> None:
    sc = Scenario(cramps=1, cramp_durations=(60.0,), sleep_onset_s=30.0, artifact_rate=0.0)
    n = make_night(3, 900.0, emg_fs=256.0, scenario=sc)
    assert n.params["front_end"] == "sleeplab"
    (c,) = n.truth_of("cramp")
    for a, b in ((5.0, 125.0), (c.start_s + 5, c.end_s - 5)):  # rest, then the cramp
        x = n.render(int(a * 256), int(b * 256))[:, 0]
        f, p = welch(x, fs=256.0, nperseg=512)
        assert p[f > 115].sum() / p.sum() < 0.05


def test_plm_amplitude_above_rest(
    night: SyntheticNight, arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    emg, _ = arrays
    fs = night.layout.emg_fs
    tib = night.layout.emg_sites.index("tibialis")
    plms = night.truth_of("plm")
    assert len(plms) >= 4
    quiet = _quiet_windows(night, 10.0, n=3)
    rest = np.median(
        [_notch_free_rms(emg[int(a * fs) : int(b * fs)], fs, night.mains_hz)[tib] for a, b in quiet]
    )
    y = _band(emg[:, tib], fs)
    k = int(0.25 * fs)
    for e in plms:
        seg = y[int(e.start_s * fs) : int(e.end_s * fs)]
        peak = np.sqrt(np.convolve(seg**2, np.ones(k) / k, mode="valid")).max()
        # AASM: the signal rises >= 8 µV above rest; a 250-ms RMS >= 8 µV and >= 2x rest
        # means peaks of ~3x that
        assert peak >= max(8.0, 2.0 * rest)


def test_accelerometer_reads_one_g_at_rest(
    night: SyntheticNight, arrays: tuple[np.ndarray, np.ndarray]
) -> None:
    _, acc = arrays
    afs = night.layout.acc_fs
    assert afs is not None
    for a, b in _quiet_windows(night, 20.0):
        g = np.linalg.norm(acc[int(a * afs) : int(b * afs)], axis=1)
        assert np.median(g) == pytest.approx(1.0, abs=0.05)
        assert np.std(g) < 0.02


def test_walking_has_strides_and_standing_posture() -> None:
    n = make_night(12, 3600.0, scenario=Scenario(cramps=0, walks=1, plm_series=0, stretches=0))
    walks = [e for e in n.truth if e.subtype == "walking"]
    assert walks
    w = max(walks, key=lambda e: e.duration_s)
    fs = n.layout.emg_fs
    a0, a1 = int(w.start_s * fs), int(w.end_s * fs)
    calf = n.render(a0, a1)[:, 0]
    env = np.sqrt(np.convolve(_band(calf, fs) ** 2, np.ones(100) / 100, mode="same"))[::10]
    f, p = welch(env - env.mean(), fs=fs / 10, nperseg=min(len(env), 4096))
    assert 0.7 <= f[np.argmax(p)] <= 1.3  # one calf burst per stride, ~1 per second
    kinds = {name for a, b, name in n.postures if a < w.end_s and b > w.start_s}
    assert kinds == {"standing"}


# ------------------------------------------------------------------ memory and corpus


def test_an_hour_streams_in_bounded_memory() -> None:
    n = make_night(21, 3600.0, emg_fs=1000.0)
    tracemalloc.start()
    total = 0
    for ch in n.chunks(5.0):
        assert isinstance(ch, Chunk)
        total += ch.emg.shape[0]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == 3_600_000
    assert peak < 20e6  # bytes; the whole hour would be 57.6 MB


def test_corpus_splits_are_disjoint_and_cover_the_requirements() -> None:
    tune, held = corpus("tune"), corpus("heldout")
    assert {s.seed for s in tune}.isdisjoint({s.seed for s in held})
    for split in (tune, held):
        assert {256.0, 500.0, 1000.0, 2000.0} <= {s.emg_fs for s in split}
        assert {50.0, 60.0} == {s.mains_hz for s in split}
        assert any(s.acc_fs is None for s in split) and any(s.acc_fs for s in split)
        assert any("tibialis" not in s.sites for s in split)
        assert any(s.cramp_free for s in split)
        assert {("uV", "g"), ("mV", "m/s2")} == {s.edf_units for s in split}
        assert sum(s.hours for s in split if s.hours >= 8) >= 24
    q = corpus("tune", quick=True)
    assert 0 < len(q) < len(tune) and all(s.hours <= 1.5 for s in q)
    assert SEG_S == 10.0


@pytest.mark.slow
def test_a_whole_8h_night_streams_in_bounded_memory() -> None:
    n = make_night(7, 8 * 3600.0)
    tracemalloc.start()
    total = acc = 0
    for ch in n.chunks(1.0):
        assert isinstance(ch, Chunk)
        total += ch.emg.shape[0]
        acc += ch.acc.shape[0]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (total, acc) == (28_800_000, 1_440_000)
    assert peak < 20e6
