"""The streaming detector: chunk invariance, gaps, rates, mains, cramps vs hard negatives,
real recordings.  Small ad-hoc synthetic signals (tests/detector_synth.py), no mocks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from detector.detect import DETECTOR_VERSION, Detector, DetectorConfig
from detector.events import Event, NightResult
from detector.pipeline import Pipeline
from detector.stream import ArraySource, Chunk, Gap, StreamLayout

sys.path.insert(0, str(Path(__file__).parent))
from detector_synth import Synth, emg_noise, walked_off  # noqa: E402

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


def run_chunks(det: Detector, items: list[Chunk | Gap]) -> tuple[list[Event], NightResult]:
    pushed: list[Event] = []
    for it in items:
        pushed += det.push(it)
    return pushed, det.finish()


def chunked(s: Synth, sizes: list[int]) -> list[Chunk | Gap]:
    """Cut the synthetic arrays at the given EMG chunk sizes (acc follows, as ArraySource)."""
    out: list[Chunk | Gap] = []
    i0 = 0
    fs, afs = s.fs, s.acc_fs
    k = 0
    while i0 < s.n:
        i1 = min(s.n, i0 + sizes[k % len(sizes)])
        k += 1
        if afs:
            j0 = int(np.ceil(i0 / fs * afs - 1e-9))
            j1 = s.acc.shape[0] if i1 == s.n else int(np.ceil(i1 / fs * afs - 1e-9))
            acc = s.acc[j0:j1]
        else:
            j0, acc = 0, np.zeros((0, 3))
        out.append(Chunk(i0, s.emg[i0:i1], j0, acc))
        i0 = i1
    return out


def detect(s: Synth, chunk_s: float = 5.0, config: DetectorConfig | None = None) -> NightResult:
    d = Detector(s.layout, config)
    for it in ArraySource(s.layout, s.emg, s.acc if s.acc_fs else None, chunk_s).chunks():
        d.push(it)
    return d.finish()


@pytest.fixture(scope="module")
def busy() -> Synth:
    s = Synth(520, seed=3)  # quiet for 200 s first: the sleeper falls asleep
    s.plm_series(200, 5, 18)
    s.cramp(300, 25)
    s.walking(390, 40)
    s.stretch(445)
    s.turn(490)
    return s


@pytest.fixture(scope="module")
def busy_result(busy: Synth) -> NightResult:
    return detect(busy, 1.0)


def kinds(res: NightResult, kind: str) -> list[Event]:
    return [e for e in res.events if e.kind == kind]


# ------------------------------------------------------------------ contract
def test_version_and_result_shape(busy_result: NightResult) -> None:
    assert isinstance(DETECTOR_VERSION, str) and DETECTOR_VERSION
    r = busy_result
    assert r.detector_version == DETECTOR_VERSION
    assert abs(r.duration_s - 520) < 0.01
    assert len(r.trace) == 520
    assert list(r.trace.columns) == ["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"]
    assert len(r.epochs) == 18
    assert set(r.epochs["state"]) <= {"sleep", "wake", "gap"}
    st = list(r.epochs["state"])
    # awake at the start until 3 quiet minutes, asleep through the PLMs, awake after the
    # cramp (300-325 s) and while walking
    assert st[0] == "wake" and st[6:9] == ["sleep"] * 3 and st[11] == "wake" and st[13] == "wake"
    assert r.stats["samples"] == 520_000
    assert r.stats["mains_hz"] == 50.0


def test_chunk_invariance_random_chunkings(busy: Synth, busy_result: NightResult) -> None:
    rng = np.random.default_rng(7)
    ref = busy_result.events
    assert len(ref) >= 8
    for trial in range(2):
        sizes = [int(x) for x in np.exp(rng.uniform(0, np.log(40000), size=300))]
        pushed, res = run_chunks(Detector(busy.layout), chunked(busy, sizes))
        assert res.events == ref, f"trial {trial}"
        # bit-for-bit: floats equal, not merely close
        assert [e.peak_uv for e in res.events] == [e.peak_uv for e in ref]
        assert pushed == res.events[: len(pushed)]
        np.testing.assert_array_equal(
            res.trace["emg_rms_uv"].to_numpy(), busy_result.trace["emg_rms_uv"].to_numpy()
        )
    whole = detect(busy, 520.0)
    assert whole.events == ref


def test_one_sample_chunks_equal_one_piece() -> None:
    s = Synth(14, seed=11, acc_fs=None, sites=("calf",))
    s.burst(0, 6.0, 8.0, 40.0)
    one = detect(s, 14.0)
    _, res = run_chunks(Detector(s.layout), chunked(s, [1]))
    assert one.events == res.events
    assert len(one.events) == 1


def test_pipeline_emits_each_event_once(busy: Synth, busy_result: NightResult) -> None:
    seen: list[Event] = []
    pipe = Pipeline(busy.layout, on_event=seen.append)
    for it in ArraySource(busy.layout, busy.emg, busy.acc, 0.02 * 50).chunks():
        pipe.feed(it)
    res = pipe.finish()
    # early cramp notices (provisional / retracted) go to the sinks too; the rest are the
    # final events, each once (tests/detector/test_detector_provisional.py covers the notices)
    final = [e for e in seen if not e.is_notice]
    assert final == res.events == busy_result.events
    assert sum(1 for e in seen if e.is_notice) == 1  # the 25-s cramp


# ------------------------------------------------------------------ classification
def test_cramp_found_with_onset_within_half_second(busy_result: NightResult) -> None:
    cr = kinds(busy_result, "cramp")
    assert len(cr) == 1
    c = cr[0]
    assert abs(c.start_s - 300) < 0.5
    assert abs(c.end_s - 325) < 3.0
    assert c.channels == ("EMG1",)
    assert c.peak_x_rest > 10 and c.mean_x_rest > 5
    assert 0 < c.confidence <= 1 and c.reason
    ctx = c.context
    assert {
        "asleep_before",
        "woke_after",
        "moved_after_s",
        "walked_after_s",
        "awake_after_s",
    } <= set(ctx)


def test_hard_negatives_are_not_cramps(busy_result: NightResult) -> None:
    ev = busy_result.events
    plm = kinds(busy_result, "plm")
    assert [round(e.start_s) for e in plm] == [200, 218, 236, 254, 272]
    walking = [e for e in ev if e.subtype == "walking"]
    assert walking and all(385 < e.start_s < 435 for e in walking)
    assert any(e.subtype == "stretch" and abs(e.start_s - 445) < 1 for e in ev)
    assert any(e.subtype == "turning" and abs(e.start_s - 490) < 1 for e in ev)
    assert all(not (e.kind == "cramp" and e.start_s > 330) for e in ev)


def test_walking_without_accelerometer_is_not_a_cramp() -> None:
    s = Synth(200, seed=5, acc_fs=None)
    s.walking(60, 90, period=1.0)
    res = detect(s, 2.0)
    assert not kinds(res, "cramp")
    assert any(e.subtype == "walking" for e in res.events)


def test_isolated_leg_movements_are_movements_not_plm() -> None:
    s = Synth(500, seed=8, acc_fs=None)
    s.plm_series(250, 2, 100)  # two movements 100 s apart: not a series
    res = detect(s, 2.0)
    assert not kinds(res, "plm")
    assert sum(e.subtype == "leg-movement" for e in res.events) == 2


def test_electrode_pop_is_an_artifact() -> None:
    s = Synth(120, seed=9, acc_fs=None, sites=("calf",))
    i = int(60 * s.fs)
    tau = 0.3
    t = np.arange(int(2 * s.fs)) / s.fs
    s.emg[i : i + t.size, 0] += 2000 * np.exp(-t / tau)
    res = detect(s, 2.0)
    assert not kinds(res, "cramp")
    pops = [e for e in res.events if 59 < e.start_s < 61]
    assert pops and all(e.kind == "artifact" for e in pops)


def test_electrode_off_hum_is_not_a_cramp() -> None:
    s = Synth(200, seed=10, acc_fs=None, sites=("calf",))
    i0, i1 = int(80 * s.fs), int(110 * s.fs)
    t = np.arange(i1 - i0) / s.fs
    s.emg[i0:i1, 0] = np.clip(3000 * np.sin(2 * np.pi * 50 * t), -2500, 2500)
    res = detect(s, 2.0)
    assert not kinds(res, "cramp")
    assert any(e.kind == "artifact" for e in res.events)


# ------------------------------------------------------------------ adaptation
@pytest.mark.parametrize("fs", [256.0, 500.0, 1000.0, 2000.0])
def test_sampling_rates(fs: float) -> None:
    s = Synth(120, fs=fs, seed=int(fs), acc_fs=None)
    s.cramp(60, 20)
    res = detect(s, 3.0)
    hp, lp = res.stats["band_hz"]
    assert hp == 20.0
    assert lp is None or lp <= 0.45 * fs
    cr = kinds(res, "cramp")
    assert len(cr) == 1 and abs(cr[0].start_s - 60) < 0.5 and abs(cr[0].end_s - 80) < 3


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_detected(mains: float) -> None:
    s = Synth(40, seed=2, mains_hz=mains, mains_uv=50.0, acc_fs=None)
    res = detect(s, 1.0)
    assert res.stats["mains_hz"] == mains
    # the notch removed it: the rest level is close to the 2 µV of the noise
    assert float(np.nanmedian(res.trace["rest_uv"].to_numpy()[5:])) < 4.0


def test_one_and_three_channels_no_acc() -> None:
    s = Synth(100, seed=4, acc_fs=None, sites=("calf",))
    s.cramp(40, 15)
    assert len(kinds(detect(s), "cramp")) == 1
    s3 = Synth(100, seed=4, sites=("gastrocnemius", "soleus", "tibialis"))
    s3.cramp(40, 15)
    r3 = detect(s3)
    assert len(kinds(r3, "cramp")) == 1
    assert set(r3.trace["posture"].iloc[5:]) == {"lying"}


def test_rest_tracks_drift() -> None:
    s = Synth(900, seed=6, acc_fs=None, sites=("calf",))
    gain = np.linspace(1.0, 3.0, s.n)
    s.emg[:, 0] = (s.emg[:, 0] - 300.0) * gain + 300.0
    res = detect(s, 10.0)
    rest = res.trace["rest_uv"].to_numpy()
    assert rest[850] > 1.8 * rest[100]
    assert not res.events  # drift alone is no event


# ------------------------------------------------------------------ gaps, latency
def test_gap_closes_bursts_and_resets() -> None:
    s = Synth(200, seed=12, acc_fs=None)
    s.cramp(60, 40)
    items = [it for it in ArraySource(s.layout, s.emg, None, 1.0).chunks()]
    assert isinstance(items[80], Chunk)
    # drop 80..90 s: the cramp is cut by a gap
    kept: list[Chunk | Gap] = [it for it in items if not (80 <= it.emg_start / s.fs < 90)]
    pos = next(i for i, it in enumerate(kept) if it.emg_start / s.fs >= 90)
    kept.insert(pos, Gap(80.0, 90.0, "link"))
    _, res = run_chunks(Detector(s.layout), kept)
    assert res.gaps and res.stats["gap_s"] == 10.0
    for e in res.events:
        assert e.end_s <= 80.0 or e.start_s >= 90.0, e
    assert any(e.kind == "cramp" and e.start_s < 61 for e in res.events)
    assert set(res.epochs["state"]) <= {"sleep", "wake", "gap"}
    # and the same whatever the chunking
    kept2: list[Chunk | Gap] = []
    for it in kept:
        if isinstance(it, Chunk) and it.emg.shape[0] > 300:
            kept2 += [Chunk(it.emg_start, it.emg[:300]), Chunk(it.emg_start + 300, it.emg[300:])]
        else:
            kept2.append(it)
    _, res2 = run_chunks(Detector(s.layout), kept2)
    assert res2.events == res.events


def test_cramp_emitted_within_seconds_of_its_end() -> None:
    s = Synth(150, seed=13)
    s.cramp(50, 30)
    d = Detector(s.layout)
    when = None
    for it in ArraySource(s.layout, s.emg, s.acc, 0.1).chunks():
        assert isinstance(it, Chunk)
        for e in d.push(it):
            if e.kind == "cramp":
                when = it.emg_stop / s.fs
    assert when is not None and when - 80 <= 5.0


# ------------------------------------------------------------------ real recordings
def _real(
    path: Path, fs: float, x: np.ndarray, acc: np.ndarray | None = None, afs=None
) -> NightResult:
    lay = StreamLayout(emg_fs=fs, emg_labels=(path.stem,), emg_sites=("unknown",), acc_fs=afs)
    d = Detector(lay)
    for it in ArraySource(lay, x[:, None], acc, 0.5).chunks():
        d.push(it)
    return d.finish()


def _bitalino_uv(counts: np.ndarray) -> np.ndarray:
    # 12-bit BITalino-style EMG: ~0.8 µV per count around mid-scale (3.3 V / 4096 / G=1009)
    return (counts - np.median(counts)) * 3.3e6 / 4096 / 1009


@pytest.mark.skipif(not REAL.exists(), reason="shared real data not present")
def test_real_biosppy_emg_1_activations_are_events_not_cramps() -> None:
    p = REAL / "biosppy_examples" / "emg_1.txt"
    res = _real(p, 1000.0, _bitalino_uv(np.loadtxt(p)))
    assert not kinds(res, "cramp")
    starts = [e.start_s for e in res.events]
    # the two clear activations (around 15.5-17 s and 25.5-26.5 s)
    assert any(15 <= t <= 16.5 for t in starts) and any(25 <= t <= 26.5 for t in starts)


@pytest.mark.skipif(not REAL.exists(), reason="shared real data not present")
def test_real_files_run() -> None:
    p = REAL / "biosppy_examples" / "emg.txt"
    acc = np.loadtxt(REAL / "biosppy_examples" / "acc.txt")  # magnitudes ~1: g, 100 Hz, 20 s
    x = _bitalino_uv(np.loadtxt(p))
    n_acc = min(acc.shape[0], int(x.size / 1000 * 100))
    res = _real(p, 1000.0, x, acc[:n_acc], 100.0)
    assert not kinds(res, "cramp")
    for name in ("emg_healthy", "emg_myopathy", "emg_neuropathy"):
        f = REAL / "physionet_emgdb_tibialis" / f"{name}.dat"
        uv = np.fromfile(f, dtype="<i2") / 1e4 * 1000.0  # counts -> mV -> µV
        r = _real(f, 4000.0, uv)
        assert r.stats["samples"] == uv.size
        assert not kinds(r, "cramp") or name != "emg_healthy"


def test_flat_electrode_off_spell_is_reported_and_rest_survives() -> None:
    s = Synth(300, seed=14, acc_fs=None, sites=("calf",))
    i0, i1 = int(100 * s.fs), int(200 * s.fs)
    s.emg[i0:i1, 0] = 300.0  # pinned: no signal at all for 100 s
    res = detect(s, 2.0)
    off = [e for e in res.events if e.subtype == "electrode-off"]
    assert len(off) == 1 and abs(off[0].start_s - 100) <= 1 and abs(off[0].end_s - 200) <= 1
    assert res.stats["electrode_off_s"] >= 98
    assert not kinds(res, "cramp")  # signal returning is not a burst: rest did not collapse
    rest = res.trace["rest_uv"].to_numpy()
    assert 0.5 * rest[90] < rest[250] < 2 * rest[90]


def test_long_leg_movements_of_a_series_are_not_cramps_short_cramp_is_held() -> None:
    s = Synth(560, seed=15, acc_fs=None, sites=("calf",))
    for i in range(5):  # calf-only PLMs of 9 s (AASM allows up to 10 s), 30 s apart
        s.burst(0, 200 + 30 * i, 209 + 30 * i, 40.0)
    s.cramp(420, 12.0)  # a short cramp alone: a cramp, emitted once no series follows
    d = Detector(s.layout)
    emitted_at: dict[float, float] = {}
    for it in ArraySource(s.layout, s.emg, None, 1.0).chunks():
        assert isinstance(it, Chunk)
        for e in d.push(it):
            emitted_at[e.start_s] = it.emg_stop / s.fs
    res = d.finish()
    assert [round(e.start_s) for e in kinds(res, "plm")] == [200, 230, 260, 290, 320]
    cr = kinds(res, "cramp")
    assert len(cr) == 1 and abs(cr[0].start_s - 420) < 0.5
    assert emitted_at[cr[0].start_s] <= cr[0].start_s + 95


def test_an_11_s_cramp_at_a_series_interval_after_leg_movements_is_a_cramp() -> None:
    """A leg movement of one leg lasts at most 10 s (AASM, WASM 2016; 15 s only for both
    legs counted together, and each leg has a detector of its own): an 11-s cramp of a
    calf-only sensor 30 s after a series of leg movements is a cramp, not the series' next
    movement."""
    s = Synth(400, seed=17, acc_fs=None, sites=("calf",))
    for i in range(5):  # a PLM series: 2-s calf bursts 30 s apart
        s.burst(0, 100 + 30 * i, 102 + 30 * i, 30.0)
    s.cramp(280.0, 11.0)
    res = detect(s)
    cr = kinds(res, "cramp")
    assert len(cr) == 1 and abs(cr[0].start_s - 280.0) < 0.5, res.events
    assert [round(e.start_s) for e in kinds(res, "plm")] == [100, 130, 160, 190, 220]


def test_a_calf_led_short_cramp_after_a_leg_movement_is_a_cramp() -> None:
    """A 12-s cramp of the calf 30 s after a tibialis leg movement (a series interval):
    PLMs are tibialis-led (DOMAIN), so with a tibialis channel a calf-led burst is no
    member of a series."""
    s = Synth(300, seed=16, acc_fs=None, sites=("calf", "tibialis"))
    s.burst(1, 100.0, 102.0, 30.0)  # a leg movement of the tibialis
    s.cramp(132.0, 12.0)
    cr = kinds(detect(s), "cramp")
    assert len(cr) == 1 and abs(cr[0].start_s - 132.0) < 0.5, cr


def test_periodic_calf_bursts_with_the_shank_lying_still_are_not_walking() -> None:
    """The accelerometer vetoes: stride-like bursts at ~1 s with the shank lying still
    and never turned are no walk; the same bursts with the shank upright and swinging are,
    and so are they with no accelerometer to tell (the EMG alone decides)."""
    lying = Synth(200, seed=32, sites=("calf",))
    lying.walking(90, 40)
    lying.acc[:] = np.array([0.0, 0.0, 1.0])  # the walk's acc undone: lying, still
    lying.acc += 0.003 * np.random.default_rng(1).standard_normal(lying.acc.shape)
    assert not [e for e in detect(lying).events if e.subtype == "walking"]
    walking = Synth(200, seed=32, sites=("calf",))
    walking.walking(90, 40)
    assert [e for e in detect(walking).events if e.subtype == "walking"]
    blind = Synth(200, seed=32, sites=("calf",), acc_fs=None)
    blind.walking(90, 40)
    assert [e for e in detect(blind).events if e.subtype == "walking"]


def test_a_cramp_that_wanes_deeply_for_a_moment_is_one_event() -> None:
    """Its waning dips below the core level for ~1 s, twice: still one cramp, and no
    two events of the night ever overlap."""
    s = Synth(240, seed=33, acc_fs=None, sites=("calf",))
    s.cramp(60, 60, uv=40.0)
    for t in (78.0, 99.0):  # the envelope sags to ~4x rest for 1.2 s
        i0, i1 = int(t * s.fs), int((t + 1.2) * s.fs)
        s.emg[i0:i1, 0] = 300.0 + (s.emg[i0:i1, 0] - 300.0) * 0.2
    res = detect(s)
    cr = kinds(res, "cramp")
    assert len(cr) == 1 and abs(cr[0].start_s - 60) < 0.5 and abs(cr[0].end_s - 120) < 3
    evs = sorted((e.start_s, e.end_s) for e in res.events)
    assert all(b[0] >= a[1] for a, b in zip(evs, evs[1:], strict=False))


def _waning_cramp(s: Synth, t0: float, strong_s: float, weak_s: float, weak_uv: float) -> None:
    """A cramp at 30x rest for ``strong_s`` that wanes to ``weak_uv`` for ``weak_s`` more
    before the calf lets go (calf channel 0, waxing and waning at 1.4 Hz throughout)."""
    dur = strong_s + weak_s
    i0, k = int(t0 * s.fs), int(dur * s.fs)
    tt = np.arange(k) / s.fs
    level = np.where(tt < strong_s, 60.0, weak_uv)
    env = level * (1 + 0.3 * np.sin(2 * np.pi * 1.4 * tt))
    ramp = np.minimum(1.0, tt / 0.3) * np.minimum(1.0, (dur - tt) / 0.5)
    s.emg[i0 : i0 + k, 0] += env * ramp * emg_noise(s.rng, k, s.fs)


@pytest.mark.parametrize("acc_fs", [50.0, None])
def test_a_long_cramp_that_wanes_below_its_core_level_is_one_cramp(acc_fs: float | None) -> None:
    """60 s at 30x rest, then 120 s at 4.5x (below the 6x core level and the 8x cramp
    median) until the calf lets go: one cramp to the end, not a cramp and a fidget.  A
    detector that does not let a cramp hold splits it."""
    s = Synth(420, seed=41, acc_fs=acc_fs)
    _waning_cramp(s, 150, 60, 120, 9.0)
    cr = kinds(detect(s), "cramp")
    assert len(cr) == 1 and abs(cr[0].start_s - 150) < 0.5 and abs(cr[0].end_s - 330) < 3
    assert "held on" in cr[0].reason
    split = kinds(detect(s, config=DetectorConfig(cramp_hold_x_rest=np.inf)), "cramp")
    assert len(split) == 1 and split[0].end_s < 220


def test_a_cramp_does_not_hold_through_a_movement_that_works_the_tibialis_too() -> None:
    """Turning over straight after a cramp, without an accelerometer to see it: a burst of
    both muscles.  The cramp ends where the calf's own contraction does."""
    s = Synth(300, seed=42, acc_fs=None)
    s.cramp(120, 40)
    s.burst(0, 160.2, 165, 30.0)
    s.burst(1, 160.2, 165, 25.0)
    cr = kinds(detect(s), "cramp")
    assert len(cr) == 1 and abs(cr[0].end_s - 160) < 1.0
    # the same burst on the calf alone is the cramp holding on
    s = Synth(300, seed=42, acc_fs=None)
    s.cramp(120, 40)
    s.burst(0, 160.2, 165, 30.0)
    cr = kinds(detect(s), "cramp")
    assert len(cr) == 1 and abs(cr[0].end_s - 165) < 1.0


def test_leg_movements_on_a_noisy_sleep_lab_rest_end_where_they_end() -> None:
    """At 256 Hz the 100-ms RMS of a 5-µV resting EMG holds few degrees of freedom and
    reaches 1.5x the rest level: an end level of rest + 2 µV (1.4x) lies inside that
    noise and 0.5 s wholly below it came late (leg movements seconds too long, then no
    longer leg movements at all).  The end level is at least 1.8x rest."""

    def end_errors(cfg: DetectorConfig) -> list[float]:
        errs = []
        for seed in (0, 1):
            s = Synth(330, fs=256.0, seed=seed, acc_fs=None, rest_uv=5.0)
            onsets = [200.0 + 20.0 * i for i in range(6)]
            for t in onsets:
                s.burst(1, t, t + 2.0, 30.0)
            evs = [e for e in detect(s, config=cfg).events if e.start_s > 190]
            for t in onsets:
                hit = [e for e in evs if e.start_s < t + 2.0 and e.end_s > t]
                errs.append(hit[0].end_s - (t + 2.0) if hit else np.inf)
        return errs

    errs = end_errors(DetectorConfig())
    assert np.median(errs) < 0.2 and max(errs) < 2.0
    assert np.median(end_errors(DetectorConfig(off_min_x_rest=1.5))) > 0.5


def test_a_very_loud_cramp_does_not_hold_over_the_weak_activity_after_it() -> None:
    """A cramp at ~400x rest, then 40 s of calf activity at ~12x (a stretch or massage
    after it, seen without a tibialis channel): a cramp wanes, it does not drop to a
    thirtieth of itself and hold there.  Without the floor on the cramp's own level it
    is held over the whole of it."""
    s = Synth(300, seed=43, acc_fs=None, sites=("calf",))
    s.cramp(120, 30, uv=800.0)
    s.burst(0, 150.2, 190, 24.0, ramp_s=0.5)
    cr = kinds(detect(s), "cramp")
    assert len(cr) == 1 and abs(cr[0].end_s - 150) < 1.0
    held = kinds(detect(s, config=DetectorConfig(cramp_hold_frac=0.0)), "cramp")
    assert len(held) == 1 and held[0].end_s > 185


def test_a_cramp_ended_by_pulling_the_foot_up_ends_where_the_tibialis_takes_over() -> None:
    """A 20-s calf cramp; 2 s before it ends the sleeper pulls the foot up (the tibialis
    fires at 150x rest for 20 s) while the calf, stretched, keeps firing at 15x (above the
    core level).  The cramp ends where the tibialis takes over, and the stretch is an
    event of its own after it; judged as one burst, the whole is a stretch and the cramp
    is lost."""
    s = Synth(300, seed=51, acc_fs=None)
    s.cramp(100.0, 20.0, uv=60.0)
    s.burst(1, 118.0, 138.0, 300.0, ramp_s=0.3)
    s.burst(0, 119.5, 138.0, 30.0, ramp_s=0.5)
    res = detect(s)
    (c,) = kinds(res, "cramp")
    assert abs(c.start_s - 100.0) < 0.5 and 117.0 <= c.end_s <= 121.0, c
    st = [e for e in res.events if e.subtype == "stretch"]
    assert st and abs(st[0].start_s - c.end_s) < 1.0, res.events


def test_leg_movements_under_strong_steady_hum_are_a_plm_series_not_pops() -> None:
    """A sleep-lab night at 400 Hz with 50 µV of 60-Hz hum all night: five 10-µV leg
    movements of the tibialis 25 s apart have raw power ~13x their band power, nearly all
    of it the hum that was there before them.  They are a PLM series; judged on the raw
    power alone they were pops."""
    s = Synth(300, fs=400.0, seed=52, acc_fs=None, mains_hz=60.0, mains_uv=50.0)
    for i in range(5):
        s.burst(1, 100 + 25 * i, 102 + 25 * i, 10.0, ramp_s=0.1)
    t = np.arange(int(2 * s.fs)) / s.fs
    i = int(260 * s.fs)  # ... while a pop under the same hum is still a pop
    s.emg[i : i + t.size, 0] += 2000 * np.exp(-t / 0.3)
    res = detect(s)
    assert [round(e.start_s) for e in kinds(res, "plm")] == [100, 125, 150, 175, 200], res.events
    arts = [e for e in res.events if e.kind == "artifact"]
    assert arts and all(259 < e.start_s < 261 for e in arts), res.events


def test_a_cramp_out_of_a_pre_rise_louder_than_the_core_level_starts_at_its_sudden_rise() -> None:
    """The calf rises for 40 s before the cramp (Chaney & Sherman: 41 +- 11 s), here to
    7.5x rest, above the 6x core level; then the cramp rises suddenly to ~20x for 15 s.
    The cramp starts at that rise, not 40 s early at the foot of the pre-rise (whose
    level, a plateau above the core level, is context: ``prerise_s``)."""
    s = Synth(300, seed=53, acc_fs=None, sites=("calf",))
    s.burst(0, 100.0, 155.0, 15.0, ramp_s=5.0)
    s.cramp(140.0, 15.0, uv=36.0)
    (c,) = kinds(detect(s), "cramp")
    assert abs(c.start_s - 140.0) < 0.5 and abs(c.end_s - 155.0) < 3.0, c


def _standing_night(calf_uv: float, stand: bool) -> Synth:
    """Lying until 80 s, a walk, then (``stand``) standing still 100-170 s with the calf
    at ``calf_uv`` (rest 2 µV) all along, then a walk again."""
    s = Synth(260, seed=54, sites=("calf",))
    s.walking(80.0, 20.0)
    if stand:
        s.still(100.0, 170.0, (1.0, 0.0, 0.0))  # upright: gravity along the shank
    s.burst(0, 100.0, 170.0, calf_uv, ramp_s=0.5)
    s.walking(170.0, 20.0)
    return s


def test_the_calf_holding_the_body_up_while_standing_still_is_no_cramp() -> None:
    """Quiet standing after a walk: the soleus's postural tone, here 10x the lying rest
    for 70 s, is steady and sustained like a cramp.  With the shank upright and still,
    right after the walk, it is standing; the same activity lying down is a cramp, and so
    is a near-maximal contraction (40x) while standing."""
    assert not kinds(detect(_standing_night(20.0, stand=True)), "cramp")
    assert len(kinds(detect(_standing_night(20.0, stand=False)), "cramp")) == 1
    assert len(kinds(detect(_standing_night(80.0, stand=True)), "cramp")) == 1


def test_the_calf_and_the_tibialis_working_alike_is_no_cramp() -> None:
    """Shaking the leg after a cramp without an accelerometer: 12 s of both muscles at
    about the same multiple of their rest (the tibialis a little busier).  A calf cramp
    is the calf's; with the tibialis at a third of it (crosstalk, or a foot braced) it is
    a cramp."""
    both = Synth(200, seed=55, acc_fs=None)
    both.burst(0, 100.0, 112.0, 60.0, ramp_s=0.3)
    both.burst(1, 100.0, 112.0, 70.0, ramp_s=0.3)
    assert not kinds(detect(both), "cramp")
    calf = Synth(200, seed=55, acc_fs=None)
    calf.burst(0, 100.0, 112.0, 60.0, ramp_s=0.3)
    calf.burst(1, 100.0, 112.0, 20.0, ramp_s=0.3)
    assert len(kinds(detect(calf), "cramp")) == 1


def test_standing_still_long_after_a_walk_is_standing_whatever_the_learnt_axis() -> None:
    """A walk (80-100 s), then standing still; the soleus tone rises to 10x the lying rest
    only 40 s later (140-200 s), then another walk.  The walk is long before the tone, and
    the shank's gravity while upright (0.6, 0, 0.8) is 53 deg off the axis learnt from
    the quiet seconds, so "upright" cannot be read from it: but the sleeper got up (the
    gravity turned 37 deg from lying when the walk began) and has kept the walk's
    orientation since.  That is standing, not a cramp; the same tone lying is one."""
    s = Synth(300, seed=58, sites=("calf",))
    up = np.array([0.6, 0.0, 0.8])
    j = lambda t: int(t * s.acc_fs)  # noqa: E731
    for t0 in (80.0, 200.0):
        s.walking(t0, 20.0)
        tt = np.arange(j(t0 + 20) - j(t0)) / s.acc_fs
        s.acc[j(t0) : j(t0 + 20)] = up + 0.3 * np.sin(2 * np.pi * tt / 1.05)[:, None] * up
    s.still(100.0, 200.0, (0.6, 0.0, 0.8))
    s.burst(0, 140.0, 200.0, 20.0, ramp_s=0.5)
    assert not kinds(detect(s), "cramp")
    lying = Synth(300, seed=58, sites=("calf",))
    lying.burst(0, 140.0, 200.0, 20.0, ramp_s=0.5)
    assert len(kinds(detect(lying), "cramp")) == 1


def _one_head_night(seed: int) -> Synth:
    """Gastrocnemius, soleus and tibialis; the gastrocnemius rests at ~5.4 µV, the soleus
    at 2 µV.  The soleus alone cramps 100-160 s at ~15x its own rest (30 µV, waxing and
    waning), the gastrocnemius stays silent (Khan & Burne 2007)."""
    s = Synth(300, seed=seed, acc_fs=None, sites=("gastrocnemius", "soleus", "tibialis"))
    s.emg[:, 0] += 5.0 * emg_noise(s.rng, s.n, s.fs)
    s.cramp(100.0, 60.0, uv=30.0, ch=1)
    return s


def test_a_cramp_of_one_calf_head_is_measured_against_that_heads_own_rest() -> None:
    """The soleus cramps at ~15x its own rest, but only ~5.5x the louder gastrocnemius's:
    the loudest calf channel in µV never reaches the core level.  Each head is measured
    against its own rest, so the cramp is found, start and end within a second."""
    (c,) = kinds(detect(_one_head_night(57)), "cramp")
    assert abs(c.start_s - 100.0) < 1.0 and abs(c.end_s - 160.0) < 1.0, c


@pytest.mark.parametrize("acc", [True, False])
def test_a_cramp_walked_off_by_strides_louder_than_it_is_still_a_cramp(acc: bool) -> None:
    """The strides, many times the cramp's level, lifted the core level of the whole
    episode above the cramp: without an accelerometer to cut the walk off, the cramp and
    the walk were one long fidget.  The core level follows what the episode has been up
    to each moment, and the cramp ends where the strides start."""
    res = detect(walked_off(60, acc))
    (c,) = kinds(res, "cramp")
    assert abs(c.start_s - 100.0) < 0.5 and abs(c.end_s - 140.0) < 3.0, c
    assert [e for e in res.events if e.subtype == "walking" and e.start_s >= c.end_s - 0.01]


def test_standing_tone_long_after_a_walk_without_an_accelerometer_is_no_cramp() -> None:
    """A walk (60-100 s, strides ~100x rest), then 130 s of the soleus holding the body up
    at ~12x rest, then another walk; no accelerometer, one episode.  The core level follows
    what the episode has been so far and does not forget the walk: a running percentile
    that forgot it as the standing went on let the tone's last 20 s become a cramp."""
    s = Synth(300, seed=63, acc_fs=None, sites=("calf",))
    s.walking(60.0, 40.0, uv=200.0)
    s.burst(0, 100.0, 230.0, 24.0, ramp_s=0.5)
    s.walking(230.0, 30.0, uv=200.0)
    assert not kinds(detect(s), "cramp")


def test_leg_movements_during_ecg_bleed_are_still_a_plm_series() -> None:
    """ECG bleeds into both leads for 4 min (40-ms spikes at 67 bpm) while the tibialis
    makes six 2-s leg movements 25 s apart.  The spikes are an ECG artefact and the leg
    movements a PLM series; judged as one, the spell (every burst within the merge gap of
    the next) was a single event ("walking" here, a long "fidget" on a tuning night) that
    swallowed the series."""
    s = Synth(400, seed=59, acc_fs=None)
    t = 60.0
    while t < 300.0:
        for ch in (0, 1):
            s.burst(ch, t, t + 0.04, 40.0, ramp_s=0.01)
        t += 0.9
    for i in range(6):
        s.burst(1, 100.0 + 25 * i, 102.0 + 25 * i, 30.0, ramp_s=0.1)
    res = detect(s)
    assert [round(e.start_s) for e in kinds(res, "plm")] == [100, 125, 150, 175, 200, 225]
    assert any(e.subtype == "ecg" for e in res.events), res.events


def _up_then_walk_night(stand_first: bool) -> Synth:
    """Lying; the calf at 10x rest 100-112 s, then a walk 112-140 s.  ``stand_first``: the
    sleeper got up at 100 s and stood still (upright) while the calf held the body up;
    else the calf contracted lying and the walk began the moment it let go."""
    s = Synth(240, seed=60, sites=("calf",))
    if stand_first:
        s.still(100.0, 112.0, (1.0, 0.0, 0.0))  # upright: gravity along the shank
    s.burst(0, 100.0, 112.0, 20.0, ramp_s=0.5)
    s.walking(112.0, 28.0)
    return s


def test_standing_still_up_to_a_walk_is_standing_not_a_cramp() -> None:
    """Out of bed and standing still before walking off: the soleus's postural tone
    (10x the lying rest, 12 s) ends where the walk starts.  With the shank upright and
    still all along, in the orientation of the walk that follows, it is standing; the
    same contraction lying, the walk starting as it ends, is a cramp walked off."""
    assert not kinds(detect(_up_then_walk_night(stand_first=True)), "cramp")
    assert len(kinds(detect(_up_then_walk_night(stand_first=False)), "cramp")) == 1


@pytest.mark.parametrize("hz", [4.0, 5.5])
def test_shaking_the_leg_right_after_a_cramp_without_an_accelerometer_is_no_cramp(
    hz: float,
) -> None:
    """A calf cramp (60-100 s), then 3 s later the leg shaken for 15 s, calf and tibialis
    bursting together at every swing; no accelerometer to see the shank move.  The shake
    is sustained, loud and calf-led like a cramp, but its envelope beats at ``hz``: a
    rhythmic voluntary movement, not a cramp's irregular firing."""
    s = Synth(200, seed=67, acc_fs=None)
    s.cramp(60.0, 40.0, uv=40.0)
    s.shaking(103.0, 15.0, hz=hz, uv=40.0)
    res = detect(s)
    (c,) = kinds(res, "cramp")
    assert abs(c.start_s - 60.0) < 0.5 and abs(c.end_s - 100.0) < 3.0, c
    (sh,) = [e for e in res.events if e.subtype == "shaking"]
    assert abs(sh.start_s - 103.0) < 1.0 and abs(sh.end_s - 118.0) < 1.0, sh
    assert "Hz" in sh.reason and "shaking" in sh.reason


@pytest.mark.parametrize("wax_hz", [1.4, 2.8])
def test_a_cramp_waxing_deeply_at_up_to_twice_its_usual_rate_stays_a_cramp(
    wax_hz: float,
) -> None:
    """A cramp's waxing and waning (near 1.4 Hz, Minetto 2009) made deep (+-60 %) and up
    to twice as fast (its second harmonic): still irregular firing under a slow beat, a
    cramp, not the shaking of a leg."""
    s = Synth(200, seed=68, acc_fs=None)
    s.cramp(60.0, 40.0, uv=40.0, wax_hz=wax_hz, wax_depth=0.6)
    (c,) = kinds(detect(s), "cramp")
    assert abs(c.start_s - 60.0) < 0.5 and abs(c.end_s - 100.0) < 3.0, c


@pytest.mark.parametrize("sites", [("calf",), ("calf", "tibialis")])
def test_standing_tone_right_after_a_walk_without_an_accelerometer_is_no_cramp(
    sites: tuple[str, ...],
) -> None:
    """A walk (60-100 s, strides at ~25x rest), then a minute of the soleus holding the
    body up at ~12x rest, starting with the last stride; no accelerometer.  Between
    strides the calf falls back to rest, so the walk forms no cramp core and the tone
    does: a cramp, until the strides the EMG shows right before it (periodic, louder than
    the tone) say the sleeper walked up to it."""
    s = Synth(300, seed=71, acc_fs=None, sites=sites)
    s.walking(60.0, 40.0, uv=50.0)
    s.burst(0, 100.0, 160.0, 24.0, ramp_s=0.5)
    assert not kinds(detect(s), "cramp")


@pytest.mark.parametrize("before", ["walk", "plm", "turn"])
def test_a_cramp_right_after_a_walk_a_plm_series_or_a_turn_stays_a_cramp(before: str) -> None:
    """No accelerometer.  A cramp louder than the strides before it (a cramp rises out
    of something quieter than itself), a cramp 4 s after the last movement of a PLM series (a
    series' interval is no stride), and a cramp 2 s after turning over (a few seconds,
    not periodic) are cramps."""
    s = Synth(300, seed=73, acc_fs=None)
    if before == "walk":
        s.walking(60.0, 40.0, uv=50.0)
    elif before == "plm":
        s.plm_series(46.0, 5, 12.0)
    else:
        s.turn(95.0, 3.0)
    s.cramp(100.0, 40.0, uv=80.0)
    (c,) = kinds(detect(s), "cramp")
    assert abs(c.start_s - 100.0) < 0.5 and abs(c.end_s - 140.0) < 3.0, c


@pytest.mark.parametrize("dur", [8.5, 9.0])
def test_a_short_cramp_out_of_a_prerise_is_a_cramp_from_its_rise_to_its_fall(
    dur: float,
) -> None:
    """A 40-s pre-rise at ~2.5x rest, then an 8.5-9-s cramp at 15x with a 1.2-s rise
    and a 2-s fall: above the core level only ~7 s of it, so no core held the 8 s a
    cramp lasts, and the whole episode was a fidget.  The core may be shorter when the
    cramp it makes, rise to fall, lasts the 8 s."""
    s = Synth(200, seed=75, acc_fs=None)
    s.burst(0, 60.0, 100.5, 5.0, ramp_s=2.0)
    s.cramp(100.0, dur, uv=30.0, rise_s=1.2, fall_s=2.0)
    (c,) = kinds(detect(s), "cramp")
    assert abs(c.start_s - 100.0) < 0.5 and abs(c.end_s - (100.0 + dur)) < 3.0, c


def test_a_burst_too_short_for_a_cramp_from_rise_to_fall_is_none() -> None:
    """A guard: a 7-s contraction at 15x (0.3-s rise, 0.5-s fall) holds above the core level
    longer than the 6 s a core needs, but from its rise to its fall it lasts less
    than the 8 s of a cramp."""
    s = Synth(200, seed=76, acc_fs=None)
    s.cramp(100.0, 7.0, uv=30.0)
    assert not kinds(detect(s), "cramp")


@pytest.mark.parametrize("tib_rises", [True, False])
def test_getting_up_to_walk_without_an_accelerometer_is_no_cramp(tib_rises: bool) -> None:
    """No accelerometer.  Rising from the bed works both muscles for a second, then the
    soleus holds the body up (15x rest) for 9 s, then the walk.  That is standing up to
    walk, not a cramp.  Without the tibialis rising with the calf it is what a cramp
    walked off at once looks like (a cramp bites in the calf alone): a cramp."""
    s = Synth(300, seed=77, acc_fs=None)
    if tib_rises:
        s.burst(1, 100.0, 101.0, 30.0, ramp_s=0.2)
    s.burst(0, 100.0, 110.0, 30.0, ramp_s=0.2)
    s.walking(110.0, 60.0, uv=200.0)
    res = detect(s)
    assert bool(kinds(res, "cramp")) is not tib_rises
    assert [e for e in res.events if e.subtype == "walking" and e.end_s > 165.0]
