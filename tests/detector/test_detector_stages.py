"""Each detector stage alone, fed plain arrays: physiology-level behaviour, and that a
stage cut into random blocks gives what it gives in one piece."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import numpy as np
import pytest

from detector.config import DetectorConfig
from detector.events import Event
from detector.stages.buffers import FrameRing
from detector.stages.classify import BurstFeatures
from detector.stages.electrode_off import ElectrodeOff
from detector.stages.episodes import (
    Episodes,
    Segment,
    cramp_cores,
    hold_end,
    leftover_parts,
    let_go,
    rise_onset,
    strides_after,
    strides_before,
    tib_takeover,
)
from detector.stages.features import burst_features, rhythm_peak
from detector.stages.frames import Envelope, SecondStats
from detector.stages.front_end import FrontEnd, MainsTracker, emg_band, frame_hop, mains_check
from detector.stages.notices import EarlyNotices
from detector.stages.plm import PlmSeries
from detector.stages.posture import AccSeconds, ShankAxis, upright, walk_onset
from detector.stages.rest import RestLevel, frame_levels, off_level, on_level
from detector.stages.segmenter import BurstSegmenter, refine_onset
from detector.stages.sleep import WakeState, epochs

CFG = DetectorConfig()
FPS = 100.0  # 10-ms frames


def blocks(n: int, rng: np.random.Generator, max_len: int) -> list[tuple[int, int]]:
    """Random contiguous blocks covering 0..n."""
    cuts = [0]
    while cuts[-1] < n:
        cuts.append(min(n, cuts[-1] + int(rng.integers(1, max_len + 1))))
    return list(zip(cuts[:-1], cuts[1:], strict=True))


# --------------------------------------------------------------------------- front end
def _front(fs: float = 1000.0, n_ch: int = 2) -> FrontEnd:
    hp, lp = emg_band(fs, CFG.hp_hz, CFG.lp_hz, CFG.lp_frac)
    mains = MainsTracker(
        fs,
        n_ch,
        CFG.mains_ratio_min,
        CFG.mains_check_every_s,
        CFG.mains_first_checks_s,
        CFG.mains_confirm,
    )
    return FrontEnd(fs, n_ch, hp, lp, CFG.notch_q, frame_hop(fs, CFG.frame_s), mains)


def _frames_of(fe: FrontEnd, x: np.ndarray, cuts: list[tuple[int, int]]) -> dict[str, np.ndarray]:
    got: dict[str, list[np.ndarray]] = {"e2": [], "tk": [], "rv": [], "rm": []}
    k_next = None
    for a, b in cuts:
        fr = fe.process(np.ascontiguousarray(x[:, a:b]), a)
        if fr is None:
            continue
        assert k_next is None or fr.k0 == k_next  # frames come in order, none skipped
        k_next = fr.k0 + fr.n
        for name in got:
            got[name].append(getattr(fr, name))
    return {k: np.concatenate(v, axis=1) for k, v in got.items()}


def test_front_end_in_random_blocks_equals_one_piece_and_finds_the_mains() -> None:
    rng = np.random.default_rng(1)
    fs, n = 1000.0, 40_000
    t = np.arange(n) / fs
    hum = 30.0 * np.sin(2 * np.pi * 60.0 * t)
    x = np.stack([rng.normal(0, 3.0, n) + hum + 500.0, rng.normal(0, 3.0, n)])
    whole_fe = _front(fs)
    whole = _frames_of(whole_fe, x, [(0, n)])
    pieces_fe = _frames_of(_front(fs), x, blocks(n, rng, 777))
    for name in whole:
        assert np.array_equal(whole[name], pieces_fe[name]), name
    assert whole_fe.mains.fundamental == 60.0
    # 10-ms frames of 10 samples; the hum is notched out of the band-passed power: the
    # mean square is that of the 3 µV noise, not of the 30 µV hum (450 µV²)
    assert whole["e2"].shape == (2, n // 10 - 1)
    assert np.median(whole["e2"][0, 1000:]) < 3 * 3.0**2
    # the raw mean keeps the DC offset the band-pass removes
    assert abs(np.mean(whole["rm"][0]) - 500.0) < 1.0


def test_mains_tracker_keeps_both_notches_until_it_hears_hum() -> None:
    fs = 500.0
    m = MainsTracker(fs, 1, CFG.mains_ratio_min, 120, 10, 3)
    rng = np.random.default_rng(2)
    assert m.feed(rng.normal(0, 1, (1, 5 * 500)), 0) == []
    assert m.notches() == (50.0, 60.0) and m.fundamental is None
    t = np.arange(5 * 500, 10 * 500) / fs
    changes = m.feed(rng.normal(0, 1, (1, t.size)) + 20 * np.sin(2 * np.pi * 50 * t), 5 * 500)
    assert m.fundamental == 50.0
    assert changes and changes[0][0] == 6 * 500  # applies from the end of its check block


def test_a_second_line_frequency_is_notched_too_but_not_a_resonance_near_it() -> None:
    """60-Hz equipment on a 50-Hz grid: both lines are notched, or the other one's hum
    lifts the resting level and hides a moderate cramp.  A broad peak of the EMG spectrum
    near 60 Hz is no line."""
    from scipy import signal

    rng = np.random.default_rng(4)
    fs = 1000.0
    t = np.arange(1000) / fs
    emg = rng.normal(0, 3.0, (1, 1000))
    both = emg + 20 * np.sin(2 * np.pi * 50 * t) + 15 * np.sin(2 * np.pi * 60 * t)
    d = mains_check(both, fs, CFG.mains_ratio_min, 200.0)
    assert d.fundamental == 50.0 and 60.0 in d.harmonics
    # EMG through a resonance at 60 Hz (Q ~ 3) plus 50-Hz hum: 50 Hz only
    b, a = signal.iirpeak(60.0, 3.0, fs)
    res = 20 * signal.lfilter(b, a, rng.normal(0, 3.0, (1, 1000)), axis=1)
    d2 = mains_check(res + 20 * np.sin(2 * np.pi * 50 * t), fs, CFG.mains_ratio_min, 200.0)
    assert d2.fundamental == 50.0 and 60.0 not in d2.harmonics


# --------------------------------------------------------------------------- frames
def test_frame_ring_reads_back_by_absolute_frame_across_the_wrap() -> None:
    ring = FrameRing(50, 2)
    v = np.arange(2 * 130, dtype=float).reshape(2, 130)
    for a, b in [(0, 37), (37, 40), (40, 130)]:
        ring.put(a, slice(0, 2), v[:, a:b])
    assert np.array_equal(ring.get(85, 130), v[:, 85:130].T)


def test_envelope_is_a_centred_mean_and_chunk_invariant() -> None:
    rng = np.random.default_rng(3)
    v = rng.random((2, 500))
    whole = Envelope(2, 5)
    k0, out = whole.process(0, v)
    assert k0 == 5
    assert np.allclose(out[:, 0], v[:, 0:11].mean(axis=1))
    parts = Envelope(2, 5)
    got = []
    for a, b in blocks(500, rng, 17):
        _, o = parts.process(a, v[:, a:b])
        got.append(o)
    assert np.array_equal(np.concatenate(got, axis=1), out)


def test_second_medians_ignore_narrow_spikes_and_any_cut() -> None:
    rng = np.random.default_rng(4)
    n = 100 * 20  # 20 s of frames
    e2 = rng.uniform(3.0, 5.0, (1, n))
    e2[0, 550:553] = 1e4  # a 30-ms ECG-like spike in second 5
    feats = np.concatenate([e2, e2 / 2, np.ones((1, n))])
    sec = np.arange(n) // 100
    one = SecondStats(1, CFG.flat_rv_uv2)
    one.push(sec, feats, final=True)
    cut = SecondStats(1, CFG.flat_rv_uv2)
    for a, b in blocks(n, rng, 130):
        cut.push(sec[a:b], feats[:, a:b], final=False)
    cut.push(sec[:0], feats[:, :0], final=True)
    assert np.array_equal(one.med.a[:20], cut.med.a[:20])
    assert np.array_equal(one.e2.a[:20], cut.e2.a[:20])
    assert 3.0 <= one.med.a[5, 0] <= 5.0  # the spike does not lift the median
    assert one.e2.a[5, 0] > 3e4  # ... but is in the sum


# --------------------------------------------------------------------------- rest level
def _rest_inputs(rms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.full(rms.size, FPS)
    med = (rms**2)[:, None]
    return n, med, med.copy()


def test_rest_level_follows_a_drifting_baseline_and_ignores_bursts_and_a_long_cramp() -> None:
    s = np.arange(3600)
    base = 3.0 + 3.0 * s / 3600  # resting EMG drifts from 3 to 6 µV RMS in an hour
    rms = base.copy()
    rms[s % 37 == 0] = 60.0  # leg movements and twitches, one second every 37 s
    rms[1800:2400] = 40.0  # a 10-min cramp
    rl = RestLevel(CFG, 1, FPS)
    rl.update_to(3599, *_rest_inputs(rms))
    rest = rl.rest.a[:3600, 0]
    quiet = (s > 200) & ((s < 1800) | (s > 2500))
    # low percentile over the last 2 min: lags the ramp (~100 s, 0.1 µV) but follows it
    assert np.all(np.abs(rest[quiet] - base[quiet]) < 0.15 * base[quiet])
    # the cramp (more than rest_gate_x x rest) never feeds the level
    assert np.all(rest[1800:2400] < 1.1 * base[1800:2400])


def test_rest_level_relocks_after_a_lasting_change_of_contact() -> None:
    rms = np.r_[np.full(600, 3.0), np.full(3000, 30.0)]  # electrode re-seated: 10x
    rl = RestLevel(CFG, 1, FPS)
    rl.update_to(rms.size - 1, *_rest_inputs(rms))
    rest = rl.rest.a[: rms.size, 0]
    assert rest[1000] == pytest.approx(3.0)  # shut out: a cramp could look like this
    assert rest[-1] == pytest.approx(30.0)  # after rest_relock_s it starts afresh


def test_rest_level_in_random_steps_equals_one_piece() -> None:
    rng = np.random.default_rng(5)
    rms = 3.0 + rng.random(900) * 2
    rms[rng.random(900) < 0.05] = 50.0
    inputs = _rest_inputs(rms)
    one = RestLevel(CFG, 1, FPS)
    one.update_to(899, *inputs)
    steps = RestLevel(CFG, 1, FPS)
    for _, b in blocks(900, rng, 40):
        steps.update_to(b - 1, *inputs)
    assert np.array_equal(one.rest.a[:900], steps.rest.a[:900], equal_nan=True)


def test_on_off_levels_follow_aasm_amplitudes_within_their_bounds() -> None:
    rest = np.array([2.0, 10.0])
    # rest 2 µV: on = rest + 8 = 10 capped at 4x = 8; off = rest + 2 = 4 (2x)
    assert on_level(rest, CFG)[0] == 8.0 and off_level(rest, CFG)[0] == 4.0
    # rest 10 µV: + 8 µV = 18 < 2x = 20 -> 20; + 2 = 12 < 1.8x = 18 -> 18
    assert on_level(rest, CFG)[1] == 20.0 and off_level(rest, CFG)[1] == 18.0


# --------------------------------------------------------------------------- segmenter
def _burst_envelope(spans: list[tuple[float, float, float]], n: int) -> np.ndarray:
    env = np.full(n, 2.0)  # µV RMS, at rest
    for a, b, level in spans:
        env[int(a * FPS) : int(b * FPS)] = level
    return (env**2)[None, :]


def _segment(e2s: np.ndarray, cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    seg = BurstSegmenter(CFG, FPS)
    rest = np.full((e2s.shape[1] // 100 + 1, 1), 2.0)
    out: list[tuple[int, int]] = []
    for a, b in cuts:
        sec = np.arange(a, b) // 100
        on2, off2, ok = frame_levels(rest[sec[0] : sec[-1] + 1], sec, CFG)
        closed, k_end = seg.push(a, e2s[:, a:b], on2, off2, ok)
        out += closed
        seg.k_done = k_end
    last = seg.close()
    return out + ([last] if last else [])


def test_segmenter_onset_and_end_rule_on_a_constructed_burst() -> None:
    n = 3000
    # a 3-s burst at 30 µV (above on = 8 µV) with a 0.3-s dip to rest inside it: the
    # dip is shorter than end_quiet_s (0.5 s), so it is one leg movement (AASM)
    e2s = _burst_envelope([(10.0, 11.5, 30.0), (11.8, 13.0, 30.0)], n)
    assert _segment(e2s, [(0, n)]) == [(1000, 1300)]
    # a 0.6-s dip ends it: two bursts
    e2s = _burst_envelope([(10.0, 11.5, 30.0), (12.1, 13.0, 30.0)], n)
    assert _segment(e2s, [(0, n)]) == [(1000, 1150), (1210, 1300)]
    # above off (4 µV) but never reaching on (8 µV): not a burst
    assert _segment(_burst_envelope([(10.0, 13.0, 6.0)], n), [(0, n)]) == []


def test_segmenter_in_random_blocks_equals_one_piece() -> None:
    rng = np.random.default_rng(6)
    n = 12_000
    spans = [
        (float(a), float(a) + float(rng.uniform(0.2, 4.0)), float(rng.uniform(5, 50)))
        for a in np.sort(rng.uniform(1, 115, 25))
    ]
    e2s = _burst_envelope(spans, n)
    whole = _segment(e2s, [(0, n)])
    assert len(whole) >= 5
    assert _segment(e2s, blocks(n, rng, 90)) == whole


def test_onset_is_refined_to_the_first_persistent_tkeo_rise() -> None:
    tk = np.full((60, 1), 1.0)
    tk[17] = 50.0  # one isolated frame: not persistent
    tk[23:] = 50.0  # the real onset, 7 frames before the envelope's
    assert refine_onset(30, 0, tk, np.array([1.0]), CFG.tkeo_x_rest) == 23
    assert refine_onset(30, 0, tk, np.array([np.nan]), CFG.tkeo_x_rest) == 30  # no rest yet


# --------------------------------------------------------------------------- episodes
def test_bursts_closer_than_merge_gap_form_one_episode() -> None:
    ep = Episodes(CFG, FPS)
    ep.open(Segment(0, 100))
    assert ep.joins(Segment(100 + 199, 400))  # 1.99 s later
    assert not ep.joins(Segment(400 + 200, 700))  # 2.0 s later: a new episode
    assert ep.quiet(400 + 200, None) and not ep.quiet(400 + 199, None)
    assert not ep.quiet(800, open_k0=500)  # a burst still open may yet join it


def test_cramp_core_onset_is_the_foot_of_the_rise_and_keeps_the_prerise_apart() -> None:
    fps = FPS
    t = np.arange(int(40 * fps)) / fps
    rest = np.full(t.size, 2.0)
    off = off_level(rest, CFG)
    env = np.full(t.size, 2.0)
    rise = (t >= 12) & (t < 13)
    env[rise] = np.linspace(2.0, 60.0, int(rise.sum()))  # 1-s rise from rest
    env[(t >= 13) & (t < 28)] = 60.0  # 15-s cramp at 30x rest
    (j, e, pre), *more = cramp_cores(env, rest, off, int(10 * fps), CFG, fps)
    assert not more
    assert j / fps == pytest.approx(12.0, abs=0.05)  # the foot of the rise
    assert e / fps == pytest.approx(28.0, abs=0.05)  # and forward down to the off level
    assert pre == pytest.approx(2.0)  # from the episode's start (10 s) to the onset
    # a pre-cramp rise (6x rest, Chaney & Sherman) for 7 s before it is the local level
    # the onset is measured against: the onset stays on the steep rise
    env[(t >= 5) & (t < 12)] = 12.0
    env[rise] = np.linspace(12.0, 60.0, int(rise.sum()))
    (j, e, pre), *more = cramp_cores(env, rest, off, int(5 * fps), CFG, fps)
    assert not more and j / fps == pytest.approx(12.0, abs=0.05)
    # the cramp's units adding to the pre-rise's in power, sqrt(12² + ramp²): the
    # rise's first tenth hides in the level before it
    hyp = env.copy()
    hyp[rise] = np.hypot(12.0, np.linspace(0.0, np.sqrt(60.0**2 - 12.0**2), int(rise.sum())))
    (j, e, pre), *more = cramp_cores(hyp, rest, off, int(5 * fps), CFG, fps)
    assert not more and j / fps == pytest.approx(12.0, abs=0.15)
    # a noisy pre-rise at half the cramp's level: its noise peaks do not start the cramp
    r = np.random.default_rng(3)
    noisy = env.copy()
    noisy[(t >= 5) & (t < 12)] = 30.0 * (1 + 0.15 * r.standard_normal(700))
    noisy[rise] = np.hypot(30.0, np.linspace(0.0, np.sqrt(60.0**2 - 30.0**2), int(rise.sum())))
    (j, e, pre), *more = cramp_cores(noisy, rest, off, int(5 * fps), CFG, fps)
    assert not more and j / fps == pytest.approx(12.0, abs=0.25)
    # a slow rise (2.5 s) from the pre-cramp level: the foot, not where it crosses a
    # multiple of the level before it (which lands part way up)
    env[(t >= 9.5) & (t < 12)] = np.linspace(12.0, 40.0, int(((t >= 9.5) & (t < 12)).sum()))
    env[rise] = np.linspace(40.0, 60.0, int(rise.sum()))
    (j, e, pre), *more = cramp_cores(env, rest, off, int(5 * fps), CFG, fps)
    # (one ramp fitted over both slopes and a second past the top lands a little way up
    # the gentler first one)
    assert not more and j / fps == pytest.approx(9.5, abs=0.2)
    assert pre == pytest.approx(j / fps - 5.0)
    # a 6-s plateau is no cramp core (cramp_min_s = 8 s)
    short = np.where((t >= 13) & (t < 19), 60.0, 2.0)
    assert cramp_cores(short, rest, off_level(rest, CFG), 0, CFG, fps) == []


def _cramp_then_strides(fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, env, rest): a 40-s cramp at ~15x rest waxing and waning (10-50 s), then strides
    from 50 s: a 0.45-s calf burst at 100x rest every 1.1 s, the calf at 5.5x rest between
    them (its tone on the feet)."""
    t = np.arange(int(120 * fps)) / fps
    rest = np.full(t.size, 2.0)
    env = np.full(t.size, 2.0)
    c = (t >= 10) & (t < 50)
    env[c] = 30.0 * (1 + 0.3 * np.sin(2 * np.pi * 1.4 * t[c]))
    w = t >= 50
    env[w] = 11.0
    env[w & (((t - 50) % 1.1) < 0.45)] = 200.0
    return t, env, rest


def test_a_cramp_core_is_held_to_its_own_level_not_to_the_walk_after_it() -> None:
    """A cramp walked off at once, strides many times louder than it: the core ends where
    the strides start.  Held to a quarter of the whole episode's 90th percentile (the
    strides'), the cramp had no core at all; the level now follows what the episode has
    been up to each moment."""
    fps = FPS
    t, env, rest = _cramp_then_strides(fps)
    off = off_level(rest, CFG)
    (j, e, _), *more = cramp_cores(env, rest, off, int(10 * fps), CFG, fps)
    assert not more
    assert j / fps == pytest.approx(10.0, abs=0.1)
    assert 50.0 <= e / fps <= 51.5  # at the first stride's fall, not down the walk
    # the strides alone make no core: the calf falls below the level in every swing
    walk = np.where(t >= 50, env, 2.0)
    assert cramp_cores(walk, rest, off, int(50 * fps), CFG, fps) == []
    # the end walked down the fall stops at a new burst over the core level (a stride),
    # not at a flicker of the waning shorter than a hole
    fall = np.full(t.size, 2.0)
    fall[(t >= 10) & (t < 30)] = 60.0
    ft = (t >= 30) & (t < 33)
    fall[ft] = np.linspace(10.0, 3.0, int(ft.sum()))  # below the level (15 µV) from 30 s
    fall[(t >= 31.0) & (t < 31.1)] = 40.0
    ((_, e, _),) = cramp_cores(fall, rest, off, int(10 * fps), CFG, fps)
    assert e / fps == pytest.approx(31.7, abs=0.1)  # down to a tenth of the core (6 µV)
    fall[(t >= 31.0) & (t < 31.5)] = 40.0
    ((_, e, _),) = cramp_cores(fall, rest, off, int(10 * fps), CFG, fps)
    assert e / fps == pytest.approx(31.0, abs=0.02)


def test_let_go_is_where_the_calf_starts_falling_back_between_bursts() -> None:
    """Strides (or rubbing) after a cramp: the calf drops towards rest between bursts,
    P10/P90 < cramp_min_depth for cramp_letgo_s in a row; a cramp's waxing and waning,
    however deep, never does (its troughs stay far above rest, Minetto 2009)."""
    fps = FPS
    t, env, rest = _cramp_then_strides(fps)
    k = let_go(env, int(10 * fps), t.size, CFG, fps)
    assert 49.0 <= k / fps <= 50.5
    deep = np.where(t >= 10, 30.0 * (1 + 0.6 * np.sin(2 * np.pi * 1.4 * t)), 2.0)
    assert let_go(deep, int(10 * fps), t.size, CFG, fps) == t.size
    assert let_go(env, int(10 * fps), int(45 * fps), CFG, fps) == int(45 * fps)


def test_rise_onset_of_a_ramp_that_levels_off() -> None:
    """Fitted past its top, a ramp that never stops is pulled early; one allowed to level
    off finds the foot."""
    t = np.arange(600, dtype=float)
    y = np.clip((t - 300.0) * 0.5, 0.0, 50.0) + 2.0  # foot at 300, top at 400, then flat
    assert rise_onset(y, 200, 450, e_lo=380) == 300
    assert rise_onset(y, 200, 450) < 290
    assert rise_onset(y[:401], 200, 400) == 300  # up to the top only: either fit


def test_a_cramp_holds_while_the_calf_stays_contracted_then_falls_to_rest() -> None:
    """A long cramp that wanes from 30x to 4x rest (below the 6x core level) holds until
    the calf lets go; at 2.5x (near a pre-rise's least, below the hold level) or for less
    than the shortest hold it does not."""
    fps = FPS
    t = np.arange(int(200 * fps)) / fps
    rest = np.full(t.size, 2.0)
    off = off_level(rest, CFG)
    wax = 1 + 0.3 * np.sin(2 * np.pi * 1.4 * t)  # waxing and waning (Minetto 2009)
    env = np.full(t.size, 2.0)
    env[(t >= 10) & (t < 70)] = 60.0 * wax[(t >= 10) & (t < 70)]
    env[(t >= 70) & (t < 150)] = 8.0 * wax[(t >= 70) & (t < 150)]
    j = int(70 * fps)
    assert hold_end(env, rest, off, j, t.size, CFG, fps) / fps == pytest.approx(150.0, abs=0.1)
    # never past the limit it is given (the next cramp, or where strides start)
    assert hold_end(env, rest, off, j, int(120 * fps), CFG, fps) == int(120 * fps)
    low = env.copy()
    low[(t >= 70) & (t < 150)] = 5.0
    assert hold_end(low, rest, off, j, t.size, CFG, fps) == j
    brief = env.copy()
    brief[(t >= 71.5) & (t < 150)] = 2.0  # 1.5 s: left to the fall walked forward
    assert hold_end(brief, rest, off, j, t.size, CFG, fps) == j
    assert hold_end(env, np.full(t.size, np.nan), off, j, t.size, CFG, fps) == j


def test_leftover_parts_cut_out_the_cramp_and_its_prerise() -> None:
    segs = [Segment(0, 3000), Segment(3500, 3600)]
    parts = leftover_parts(segs, [(Segment(1200, 2800), 2.0)], FPS, 10, 200)
    assert [[(s.k0, s.k1) for s in p] for p in parts] == [
        [(0, 1000)],
        [(2800, 3000)],
        [(3500, 3600)],
    ]


# --------------------------------------------------------------------------- electrode off
def test_flat_seconds_make_one_electrode_off_event_when_long_enough() -> None:
    stage = ElectrodeOff(CFG, ("calf",))
    lens = np.full(10, 100)
    flat = np.zeros((10, 1))
    flat[3:6] = 100  # three flat seconds
    flat[8] = 100  # one: too short
    med = np.full((10, 1), 9.0)
    rest = np.full((10, 1), 3.0)
    evs = stage.push(np.arange(10), lens, flat, med, rest) + stage.close()
    assert [(e.kind, e.subtype, e.start_s, e.end_s) for e in evs] == [
        ("artifact", "electrode-off", 3.0, 6.0)
    ]


# --------------------------------------------------------------------------- PLM series
def _features(**kw: float) -> BurstFeatures:
    base = dict.fromkeys(BurstFeatures.__dataclass_fields__, 0.0)
    base.update(
        n_segments=1,
        seg_durations=[],
        seg_onsets=[],
        has_tibialis=False,
        acc_activity_g=None,
        acc_upright=None,
        turn_deg=None,
        in_lm_series=False,
        swing_new=True,
        extra={},
    )
    base.update(kw)
    return BurstFeatures(**base)  # type: ignore[arg-type]


def _lm(t: float) -> Event:
    return Event(kind="movement", start_s=t, end_s=t + 1.5, subtype="leg-movement")


def _series_events(onsets: list[float], cfg: DetectorConfig = CFG) -> list[Event]:
    out: list[Event] = []
    plm = PlmSeries(cfg, out.append, lambda t: False)
    for t in onsets:
        plm.add(_lm(t))
    plm.flush()
    return out


def _series(onsets: list[float], cfg: DetectorConfig = CFG) -> list[str]:
    return [e.kind for e in _series_events(onsets, cfg)]


@pytest.mark.parametrize(
    ("interval", "series"),
    [(10.0, True), (9.9, False), (90.0, True), (90.1, False), (30.0, True)],
)
def test_plm_series_at_the_wasm_interval_edges(interval: float, series: bool) -> None:
    wasm = replace(CFG, plm_min_interval_s=10.0)
    kinds = _series([100.0 + i * interval for i in range(4)], wasm)
    assert kinds == (["plm"] * 4 if series else ["movement"] * 4)


def test_plm_series_by_default_at_aasm_2007s_minimum_interval_of_5_s() -> None:
    """Intervals of 5-10 s make a series by default (AASM 2007), and the reason names the
    standard; WASM 2016's 10 s is a setting."""
    assert _series([100.0 + i * 5.0 for i in range(4)]) == ["plm"] * 4
    assert _series([100.0 + i * 4.9 for i in range(4)]) == ["movement"] * 4
    out = _series_events([100.0 + 7.0 * i for i in range(4)])
    assert [e.kind for e in out] == ["plm"] * 4
    assert "intervals 5-90 s, AASM 2007" in out[0].reason, out[0].reason


def test_plm_series_needs_four_and_a_break_flushes_the_rest() -> None:
    assert _series([100.0, 120.0, 140.0]) == ["movement"] * 3
    kinds = _series([100.0, 120.0, 140.0, 160.0, 180.0, 400.0])
    assert kinds == ["plm"] * 5 + ["movement"]


def test_a_series_while_awake_is_plmw_kept_out_of_the_sleep_index() -> None:
    """Periodic limb movements in wake are a series all the same (AASM's PLMW); their
    subtype keeps them apart from the PLMS, which are counted per hour of sleep."""
    out: list[Event] = []
    plm = PlmSeries(CFG, out.append, lambda t: t < 150.0)  # awake, then asleep
    for i in range(5):
        plm.add(_lm(100.0 + 20 * i))
    plm.flush()
    assert [(e.kind, e.subtype) for e in out] == [("plm", "wake")] * 3 + [("plm", "plm")] * 2
    assert "while awake (PLMW" in out[0].reason and "awake" not in out[-1].reason
    # awake movements that form no series stay leg movements, and say they were awake
    out2: list[Event] = []
    plm2 = PlmSeries(CFG, out2.append, lambda t: True)
    for t in (100.0, 120.0, 300.0):
        plm2.add(_lm(t))
    plm2.flush()
    assert [e.kind for e in out2] == ["movement"] * 3
    assert all(e.reason.endswith("while awake") for e in out2)


def test_a_held_short_cramp_becomes_a_leg_movement_when_a_series_follows() -> None:
    out: list[Event] = []
    withdrawn: list[Event] = []
    plm = PlmSeries(CFG, out.append, lambda t: False, withdrawn.append)
    cramp = Event(kind="cramp", start_s=50.0, end_s=62.0, subtype="calf")
    f = _features(start_s=50.0, end_s=62.0, calf_exc_uv=18.0)
    plm.hold(cramp, f)
    plm.add(_lm(70.0))  # 20 s after its onset: a series interval
    assert withdrawn == [cramp]
    plm.flush()
    assert [e.kind for e in out] == ["movement", "movement"]
    # ... but one followed by nothing is released as a cramp after 90 s
    out.clear()
    plm.hold(cramp, f)
    plm.timeout(50.0 + 91.0)
    assert [e.kind for e in out] == ["cramp"]


# --------------------------------------------------------------------------- posture
def test_shank_axis_is_learnt_as_the_direction_gravity_visits_least() -> None:
    acc = AccSeconds(10.0)
    # lying, the leg rolls about the shank (sensor y here): gravity sweeps the x-z plane
    ang = np.repeat(np.linspace(0, np.pi, 1200), 10)
    g = np.stack([np.cos(ang), np.zeros_like(ang), np.sin(ang)], axis=1)
    for a, b in blocks(g.shape[0], np.random.default_rng(7), 333):
        acc.push(a, g[a:b])
    cfg = replace(CFG, acc_shank_axis=0)
    axis = ShankAxis(cfg).at(1200, acc)
    assert abs(axis[1]) > 0.99
    assert upright(np.array([[0.0, 1.0, 0.0]]), axis, cfg.upright_deg)[0]
    assert not upright(np.array([[1.0, 0.0, 0.0]]), axis, cfg.upright_deg)[0]
    # without a roll to learn from, the configured axis
    assert np.array_equal(ShankAxis(cfg).at(100, acc), [1.0, 0.0, 0.0])


def test_acc_seconds_in_random_blocks_equal_one_piece() -> None:
    rng = np.random.default_rng(8)
    a = rng.normal(0, 0.05, (50 * 120, 3)) + [0, 0, 1]
    one = AccSeconds(50.0)
    one.push(0, a)
    cut = AccSeconds(50.0)
    for i, j in blocks(a.shape[0], rng, 37):
        cut.push(i, a[i:j])
    assert np.array_equal(one.seconds(0, 120)[1], cut.seconds(0, 120)[1])
    g, act, ok = one.seconds(0, 120)
    assert ok.all() and np.allclose(g.mean(axis=0), [0, 0, 1], atol=0.01)
    assert np.allclose(act, np.sqrt(3) * 0.05, rtol=0.2)


def test_walk_onset_is_the_first_second_of_a_run_upright_and_moving() -> None:
    fs = 50
    rng = np.random.default_rng(9)
    t = np.arange(60 * fs) / fs
    lying = np.tile([1.0, 0.0, 0.0], (t.size, 1))  # shank horizontal (sensor x: along it)
    g = lying + rng.normal(0, 0.003, lying.shape)
    up = t >= 28.0  # stands up at 28 s, strides from 30 s
    g[up] = [0.0, 0.0, 1.0]
    strides = t >= 30.0
    g[strides, 2] += 0.25 * np.sin(2 * np.pi * 1.0 * t[strides])  # ~1 stride per second
    g[strides, 0] += 0.1 * np.sin(2 * np.pi * 2.0 * t[strides])
    acc = AccSeconds(float(fs))
    acc.push(0, g)
    acc.flush()
    cfg = replace(CFG, acc_shank_axis=2)
    axis = ShankAxis(cfg)
    assert walk_onset(acc, axis, cfg, 0.0, 60.0) == 30.0
    assert walk_onset(acc, axis, cfg, 0.0, 29.0) is None  # standing still is no walk
    assert walk_onset(AccSeconds(None), axis, cfg, 0.0, 60.0) is None
    # a shake of the leg in bed is moving but not upright: no walk
    g2 = lying.copy()
    g2[t >= 30.0, 1] += 0.3 * np.sin(2 * np.pi * 3.0 * t[t >= 30.0])
    acc2 = AccSeconds(float(fs))
    acc2.push(0, g2)
    acc2.flush()
    assert walk_onset(acc2, axis, cfg, 0.0, 60.0) is None


def _step_features(raw_mean: np.ndarray, fps: float = 100.0, pre: int = 0) -> BurstFeatures:
    """A sustained burst (envelope 50 µV, waxing and waning at 1.4 Hz) over raw 10-ms
    means ``raw_mean``, the first ``pre`` of them from before the burst."""
    n = raw_mean.size - pre
    env2 = (50.0 * (1 + 0.3 * np.sin(2 * np.pi * 1.4 * np.arange(n) / fps)))[:, None] ** 2
    rest = np.full((n, 1), 2.0)
    return burst_features(
        e2s=env2, e2=env2, tk=env2 * 0.1, rv=env2, rm=raw_mean[:, None], rm_pre=pre,
        rest=rest, shape=None,
        calf=[0], tib=[], cfg=CFG, fs=1000.0, fps=fps, t0=0.0, t1=n / fps,
        seg_times=[(0.0, n / fps)], acc=(None, None, None),
    )  # fmt: skip


def test_step_ratio_of_a_long_burst_is_measured_in_windows() -> None:
    """A good lead's slow drift over minutes (sweat) is no swing; a loose lead's is."""
    t = np.arange(12000) / 100.0
    drift = _step_features(300.0 * t / t[-1])  # 300 µV end to end over 2 minutes
    assert drift.step_ratio > 3 * CFG.artifact_step_long and drift.step_ratio_win < 0.5
    swing = _step_features(150.0 * np.sin(2 * np.pi * 0.7 * t))  # swings within seconds
    assert swing.step_ratio_win > CFG.artifact_step_long
    from detector.stages.classify import classify

    assert classify(drift, CFG).kind == "cramp"
    v = classify(swing, CFG)
    assert (v.kind, v.subtype) == ("artifact", "electrode-off")


def test_calf_bursts_that_fall_back_to_rest_between_strokes_are_no_cramp() -> None:
    """Rubbing or shaking the calf (what ends a cramp, DOMAIN) gives loud calf bursts at
    1-6 Hz that return towards rest between strokes; a cramp's troughs stay high."""
    from dataclasses import replace as dc_replace

    from detector.stages.classify import classify

    held = _step_features(np.zeros(12000))
    assert held.depth > 0.3 and classify(held, CFG).kind == "cramp"
    rubbed = dc_replace(held, depth=0.05)
    v = classify(rubbed, CFG)
    assert (v.kind, v.subtype) == ("movement", "fidget") and "rubbing" in v.reason


def _beating(hz: float, depth: float, seed: int, fs: float = 50.0, dur: float = 15.0) -> np.ndarray:
    """An envelope (µV) beating at ``hz`` by +-``depth`` under the frame-to-frame noise
    of EMG (20 % per 20-ms frame)."""
    r = np.random.default_rng(seed)
    t = np.arange(int(dur * fs)) / fs
    noise = np.abs(1 + 0.2 * r.standard_normal(t.size))
    return 40.0 * (1 + depth * np.sin(2 * np.pi * hz * t + r.uniform(0, 6.3))) * noise


@pytest.mark.parametrize("hz", [3.6, 4.5, 6.5])
def test_rhythm_peak_finds_the_beat_of_a_shaken_leg_at_its_own_rate(hz: float) -> None:
    """The beat's rate, not a multiple of its period (the autocorrelation repeats it at
    twice and three times the lag), and strong."""
    ac, f = rhythm_peak(_beating(hz, 0.4, seed=int(hz * 10)), 50.0, 2.0, 7.0)
    assert ac > 0.5 and abs(f - hz) < 0.3, (ac, f)


def test_rhythm_peak_sees_no_fast_rhythm_in_a_cramps_waxing_or_in_noise() -> None:
    """A cramp's waxing and waning near 1.4 Hz (Minetto 2009), deep, with a slow drift
    on top, has no beat in 2-7 Hz (its period is past the lags looked at, where the
    autocorrelation only falls); nor has irregular noise."""
    t = np.arange(750) / 50.0
    wax = _beating(1.4, 0.6, seed=3) * (1 + 0.3 * np.sin(2 * np.pi * 0.1 * t))
    assert rhythm_peak(wax, 50.0, 2.0, 7.0)[0] < 0.2
    r = np.random.default_rng(4)
    ac, _ = rhythm_peak(40.0 * np.abs(1 + 0.3 * r.standard_normal(750)), 50.0, 2.0, 7.0)
    assert ac < 0.2


def test_a_sustained_calf_burst_beating_fast_and_regularly_is_shaking_not_a_cramp() -> None:
    """Loud, sustained and calf-led like a cramp, but its envelope beats at 4.5 Hz: the
    leg shaken (without an accelerometer to see it).  At 2.8 Hz (the second harmonic of
    a cramp's 1.4-Hz waxing) or with a weak beat it stays a cramp; the label holds for
    what is left around a cramp too (no cramp allowed there)."""
    from detector.stages.classify import classify

    held = _step_features(np.zeros(1500))  # 15 s
    assert held.rhythm_ac == 0.0 and classify(held, CFG).kind == "cramp"
    shaken = replace(held, rhythm_ac=0.6, rhythm_hz=4.5)
    for allow in (True, False):
        v = classify(shaken, CFG, allow_cramp=allow)
        assert (v.kind, v.subtype) == ("movement", "shaking") and "4.5 Hz" in v.reason
    assert classify(replace(shaken, rhythm_hz=2.8), CFG).kind == "cramp"
    assert classify(replace(shaken, rhythm_ac=0.2), CFG).kind == "cramp"


def test_strides_beside_a_core_are_periodic_and_louder_than_it() -> None:
    """Envelopes at 100 frames/s: 10 s of what comes before, then a 20-s core at 24 µV.
    Strides (0.4-s bursts at 50 µV every 1.05 s, rest between) right before it say the
    calf walked up to it; rest, a quieter pre-rise, one loud 3-s burst (a turn) or
    strides quieter than the core do not."""
    fps = 100.0
    t = np.arange(1000) / fps
    core = np.full(2000, 24.0)
    strides = np.where((t % 1.05) < 0.4, 50.0, 2.0)
    cases = {
        "strides": (strides, True),
        "rest": (np.full(1000, 2.0), False),
        "pre-rise": (np.full(1000, 10.0), False),
        "turn": (np.where(t >= 7.0, 50.0, 2.0), False),
        "quiet strides": (np.where((t % 1.05) < 0.4, 20.0, 2.0), False),
    }
    for name, (before, want) in cases.items():
        env = np.r_[before, core]
        assert strides_before(env, 1000, 3000, CFG, fps) is want, name
    # no room for the look-back: unknown, so no
    assert not strides_before(np.r_[strides[-300:], core], 300, 2300, CFG, fps)
    # the same reading after a core: strides right after it, or rest, or not all there
    assert strides_after(np.r_[core, strides], 0, 2000, CFG, fps)
    assert not strides_after(np.r_[core, np.full(1000, 2.0)], 0, 2000, CFG, fps)
    assert not strides_after(np.r_[core, strides[:500]], 0, 2000, CFG, fps)


def test_a_contraction_held_longer_than_any_prerise_is_a_cramp_from_the_core_level() -> None:
    """7x rest is below the 8x a cramp needs, and above the highest pre-cramp rise (6x):
    held 100 s with its troughs up it is a cramp; held 50 s (a pre-rise's length), or
    100 s falling back between bursts (fidgeting, standing tone), it is not."""
    from dataclasses import replace as dc_replace

    from detector.stages.classify import classify

    base = _step_features(np.zeros(10000))  # 100 s
    held = dc_replace(base, cramp_x_rest=7.0, depth=0.45)
    assert classify(held, CFG).kind == "cramp"
    assert classify(dc_replace(held, cramp_x_rest=5.5), CFG).kind != "cramp"
    assert classify(dc_replace(held, end_s=held.start_s + 50.0), CFG).kind != "cramp"
    v = classify(dc_replace(held, depth=0.15), CFG)
    assert (v.kind, v.subtype) == ("movement", "fidget")


def test_a_baseline_that_swung_before_the_burst_is_wander_not_a_loose_lead() -> None:
    """Sweat wander under a good lead is there before a cramp and goes on through it; a
    lead that comes loose starts to swing with the burst (DOMAIN: wander is an artefact
    of its own, the cramp under it is still a cramp)."""
    from detector.stages.classify import classify

    t = np.arange(3000 + 12000) / 100.0  # 30 s before the burst, then 120 s of it
    wander = 150.0 * np.sin(2 * np.pi * 0.7 * t)
    f = _step_features(wander, pre=3000)
    assert f.step_ratio_win > CFG.artifact_step_long and not f.swing_new
    assert classify(f, CFG).kind == "cramp"
    # the same swing starting with the burst (a quiet baseline before it) is new
    loose = np.where(t >= 30.0, wander, 0.3 * np.sin(2 * np.pi * 0.7 * t))
    g = _step_features(loose, pre=3000)
    assert g.swing_new
    v = classify(g, CFG)
    assert (v.kind, v.subtype) == ("artifact", "electrode-off")


# --------------------------------------------------------------------------- sleep / wake
def test_awake_from_the_start_until_a_quiet_stretch_then_woken_by_a_cramp() -> None:
    w = WakeState(CFG)
    w.start(0.0)
    assert w.is_awake(60.0)
    w.episode(100.0, 130.0, 5)  # fidgeting in bed
    assert w.is_awake(200.0)
    assert not w.is_awake(130.0 + CFG.wake_quiet_s + 1)  # 3 min quiet: asleep
    w.emitted(Event(kind="cramp", start_s=1000.0, end_s=1060.0))
    assert w.is_awake(1100.0)
    assert not w.is_awake(1060.0 + CFG.wake_quiet_s + 1)


def test_cole_kripke_epochs_score_activity_upright_and_missing_data() -> None:
    n = 30 * 20
    active = np.zeros(n, bool)
    active[30 * 10 : 30 * 11] = True  # one fully active epoch
    have = np.ones(n, bool)
    have[30 * 19 :] = False  # the last epoch has no data
    up = np.zeros(n, bool)
    up[30 * 3 : 30 * 4] = True  # sat up for an epoch
    posture = np.full(n, "lying", dtype=object)
    ep = epochs(active, have, up, posture, [], CFG)
    state = list(ep["state"])
    assert state[10] == "wake" and state[3] == "wake" and state[19] == "gap"
    assert state[0] == "sleep" and state[15] == "sleep"
    # the weights reach 4 epochs back and 2 forward: activity at epoch 10 can make epochs
    # 8..14 wake, never 7 or 15
    assert state[8] == "wake" and state[14] == "wake"
    assert state[7] == "sleep" and state[15] == "sleep"


# --------------------------------------------------------------------------- notices
def test_a_provisional_cramp_is_replaced_by_its_final_cramp_or_retracted() -> None:
    nt = EarlyNotices()
    cramp = Event(kind="cramp", start_s=100.0, end_s=109.0, subtype="calf", reason="calf: x")
    nt.raise_(cramp, 109.0)
    assert not nt.armed
    final = replace(cramp, start_s=99.9, end_s=160.0)
    nt.final(final)
    got = nt.take()
    assert got[0].notice == "provisional" and got[0].end_s == 109.0
    assert got[1].notice is None and got[1].start_s == 99.9 and got[1].replaces_start_s == 100.0
    nt.episode_closed(None)
    nt.raise_(cramp, 109.0)
    nt.episode_closed(None)  # closed without a cramp
    got = nt.take()
    assert got[-1].notice == "retracted" and got[-1].start_s == 100.0
    assert got[-1].reason.startswith("retracted: ")


def test_events_are_immutable_and_notices_are_written_out_as_the_stored_flags() -> None:
    ctx = {"asleep_before": True}
    ev = Event(kind="cramp", start_s=1.0, end_s=20.0, context=ctx)
    ctx["asleep_before"] = False  # the caller's dict is not the event's
    assert ev.context["asleep_before"] is True
    with pytest.raises(TypeError):
        ev.context["woke_after"] = True  # type: ignore[index]
    with pytest.raises(TypeError):
        ev.context.update(x=1)  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(ev)).context == ev.context
    assert json.loads(json.dumps(ev.to_dict()))["context"] == {"asleep_before": True}
    prov = replace(ev, notice="provisional")
    retr = replace(ev, notice="retracted")
    final = replace(ev, replaces_start_s=1.0)
    assert prov == ev == final  # the notice takes no part in equality, like the context
    assert prov.to_dict()["context"] == {"asleep_before": True, "provisional": True}
    assert retr.record_context() == {"asleep_before": True, "provisional": True, "retracted": True}
    assert final.record_context() == {"asleep_before": True, "provisional_start_s": 1.0}
    assert "notice" not in final.to_dict() and ev.to_dict().keys() == final.to_dict().keys()


# --------------------------------------------------------------------------- config
def test_every_config_number_is_documented_and_read_by_a_stage() -> None:
    """No threshold hides outside DetectorConfig, and none inside it is dead."""
    import ast
    from dataclasses import fields
    from pathlib import Path

    import detector

    pkg = Path(detector.__file__).parent
    tree = ast.parse((pkg / "config.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "DetectorConfig")
    documented = {
        a.target.id
        for a, b in zip(cls.body, cls.body[1:], strict=False)
        if isinstance(a, ast.AnnAssign)
        and isinstance(a.target, ast.Name)
        and isinstance(b, ast.Expr)
        and isinstance(b.value, ast.Constant)
        and isinstance(b.value.value, str)
    }
    names = {f.name for f in fields(DetectorConfig)}
    assert names - documented == set()
    code = "".join(p.read_text() for p in sorted(pkg.rglob("*.py")) if p.name != "config.py")
    assert {n for n in names if f".{n}" not in code} == set()


def test_tib_takeover_ends_a_core_where_the_tibialis_leads_for_2_s() -> None:
    fps = 100.0
    n = 4000  # a 40-s core
    calf = np.full(n, 40.0)
    tib = np.full(n, 5.0)
    assert tib_takeover(calf, tib, 0, n, CFG, fps) == n  # the calf's all along
    tib[2500:] = 80.0  # the foot pulled up at 25 s
    calf[2600:] = 15.0
    assert abs(tib_takeover(calf, tib, 0, n, CFG, fps) - 2500) <= 60
    # a 1-s lead of the tibialis is no takeover (shorter than tib_takeover_s) ...
    tib2 = np.full(n, 5.0)
    tib2[2000:2100] = 80.0
    assert tib_takeover(calf, tib2, 0, n, CFG, fps) == n
    # ... nor one from inside the first cramp_min_s (no calf cramp: the classifier's call)
    tib3 = np.full(n, 5.0)
    tib3[300:] = 80.0
    assert tib_takeover(calf, tib3, 0, n, CFG, fps) == n
    # unknown rest (NaN) leads nowhere
    assert tib_takeover(np.full(n, np.nan), np.full(n, np.nan), 0, n, CFG, fps) == n
