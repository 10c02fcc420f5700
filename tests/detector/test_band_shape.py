"""The band-shape stage and the open-lead rules it feeds: an electrode that comes off is
told by its spectrum (hum and a flat floor), not by its level.  Plain arrays, the
unit tests' own synthetic signals (tests/detector/detector_synth.py)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from detector.detect import Detector, DetectorConfig
from detector.events import NightResult
from detector.stages.band_shape import BandShape
from detector.stream import ArraySource

sys.path.insert(0, str(Path(__file__).parent))
from detector_synth import Synth, emg_noise  # noqa: E402

CFG = DetectorConfig()


def flat_noise(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """Unit-RMS noise with a flat spectrum over 20-450 Hz: an open lead's floor."""
    m = 1 << int(np.ceil(np.log2(n)))
    f = np.fft.rfftfreq(m, 1.0 / fs)
    spec = np.fft.rfft(rng.standard_normal(m)) * ((f >= 20) & (f <= 450))
    x = np.fft.irfft(spec, m)[:n]
    return x / np.std(x)


def ratios(x: np.ndarray, fs: float, sizes: list[int] | None = None) -> np.ndarray:
    """(4, seconds, channels) of ``x`` (samples, channels) fed in chunks of ``sizes``."""
    bs = BandShape(fs, x.shape[1])
    i = 0
    k = 0
    while i < x.shape[0]:
        n = x.shape[0] - i if sizes is None else sizes[k % len(sizes)]
        bs.feed(np.ascontiguousarray(x[i : i + n].T), i)
        i += n
        k += 1
    return bs.of_seconds(0, int(x.shape[0] // fs))


def test_muscle_has_its_band_shape_a_flat_floor_does_not_and_hum_is_left_out() -> None:
    fs, n = 1000.0, 20_000
    rng = np.random.default_rng(1)
    t = np.arange(n) / fs
    muscle = 50.0 * emg_noise(rng, n, fs)
    hum = 200.0 * np.sin(2 * np.pi * 50 * t) + 80.0 * np.sin(2 * np.pi * 350 * t)
    x = np.stack([muscle, 50.0 * flat_noise(rng, n, fs), muscle + hum], axis=1)
    _, _, hi, mid = ratios(x, fs)
    r = np.nanmedian(hi / mid, axis=0)
    assert r[0] < 0.15  # muscle: power falls off above 150 Hz
    assert r[1] > 0.7  # a flat floor: as strong at 300 Hz as at 100 Hz
    assert r[2] < 0.15  # hum at 50 and 350 Hz does not count
    clean, line, _, _ = ratios(x, fs)
    share = np.nanmedian(line / (line + clean), axis=0)
    assert 0.1 < share[0] < 0.5  # the line bins' share of a broadband signal
    assert share[2] > 2 * share[0]  # hum fills the lines (its window leaks a little)


def test_band_shape_is_the_same_whatever_the_chunking_and_a_gap_drops_its_second() -> None:
    fs, n = 1024.0, 12 * 1024
    rng = np.random.default_rng(2)
    x = np.stack([emg_noise(rng, n, fs), flat_noise(rng, n, fs)], axis=1) * 30.0 + 500.0
    whole = ratios(x, fs)
    even = np.arange(12) % 2 == 0  # every 2nd second is measured, the others are NaN
    assert np.isfinite(whole[:, even]).all() and np.isnan(whole[:, ~even]).all()
    for sizes in ([1], [7, 300, 1], list(rng.integers(1, 3000, 50))):
        assert np.array_equal(ratios(x, fs, sizes), whole, equal_nan=True)
    # a discontinuity inside the first 256 samples of second 4: that second is lost
    bs = BandShape(fs, 2)
    bs.feed(np.ascontiguousarray(x[: 4 * 1024 + 100].T), 0)
    bs.feed(np.ascontiguousarray(x[4 * 1024 + 200 :].T), 4 * 1024 + 200)
    got = bs.of_seconds(0, 12)
    assert np.isnan(got[:, 4]).all()
    keep = np.delete(np.arange(12), 4)
    assert np.array_equal(got[:, keep], whole[:, keep], equal_nan=True)


@pytest.mark.parametrize("fs", [256.0, 512.0, 800.0])
def test_below_900_hz_only_the_line_share_is_measured(fs: float) -> None:
    """No 250-400 Hz band below ~900 Hz: the high/mid densities stay NaN; the line and
    clean powers (the band holds 50 and 60 Hz) are measured at sleep-lab rates too."""
    bs = BandShape(fs, 1)
    assert bs.enabled and not bs.has_shape
    x = emg_noise(np.random.default_rng(3), int(10 * fs), fs)[None, :]
    bs.feed(x, 0)
    clean, line, hi, mid = bs.of_seconds(0, 10)
    assert np.isnan(hi).all() and np.isnan(mid).all()
    assert np.isfinite(clean[::2]).all() and np.isfinite(line[::2]).all()


def test_no_band_shape_where_the_band_holds_no_line() -> None:
    bs = BandShape(100.0, 1)  # band 20-45 Hz: neither 50 nor 60 Hz is in it
    assert not bs.enabled
    bs.feed(np.ones((1, 1000)), 0)
    assert np.isnan(bs.of_seconds(0, 10)).all()


def test_an_open_lead_at_a_sleep_lab_rate_is_not_a_cramp() -> None:
    """256 Hz, the lead picks up hum: the line share says so without a high band."""
    s = Synth(500, fs=256.0, seed=24, acc_fs=None, sites=("calf",), mains_uv=5.0)
    dur = 55.0
    tt = np.arange(int(dur * s.fs)) / s.fs
    hum = np.sin(2 * np.pi * 50 * tt) + 0.5 * np.sin(2 * np.pi * 100 * tt + 1)
    noise = emg_noise(np.random.default_rng(6), tt.size, s.fs)
    _spell(s, 362, dur, _waxing(s, dur) * (40.0 * hum + 4.0 * noise))
    res = _detect(s)
    assert not [e for e in res.events if e.kind == "cramp"]
    assert [e for e in res.events if e.subtype == "electrode-off" and 350 < e.start_s < 420]
    blind = _detect(s, replace(CFG, open_lead_line_excess=np.inf))
    assert [e for e in blind.events if e.kind == "cramp"]


def _detect(s: Synth, config: DetectorConfig | None = None) -> NightResult:
    d = Detector(s.layout, config)
    for it in ArraySource(s.layout, s.emg, s.acc if s.acc_fs else None, 5.0).chunks():
        d.push(it)
    return d.finish()


def _spell(s: Synth, t0: float, dur: float, add: np.ndarray) -> None:
    i0 = int(t0 * s.fs)
    s.emg[i0 : i0 + add.size, 0] += add


def _waxing(s: Synth, dur: float) -> np.ndarray:
    tt = np.arange(int(dur * s.fs)) / s.fs
    ramp = np.minimum(1.0, tt / 0.5) * np.minimum(1.0, (dur - tt) / 0.5)
    return ramp * (1 + 0.4 * np.sin(2 * np.pi * 1.2 * tt))  # waxes and wanes like a cramp


def test_a_lead_picking_up_hum_is_an_open_lead_not_a_cramp() -> None:
    """The rise is the mains' odd harmonics, which the notches do not take out when the
    lead comes off between two of the mains tracker's checks (every 120 s after the
    first 5 min): no muscle raises only those frequencies."""
    s = Synth(500, seed=21, acc_fs=None, sites=("calf",), mains_uv=20.0)
    dur = 55.0
    tt = np.arange(int(dur * s.fs)) / s.fs
    harm = sum(np.sin(2 * np.pi * 50 * k * tt + k) for k in (5, 7))
    _spell(s, 362, dur, 40.0 * _waxing(s, dur) * harm)
    res = _detect(s)
    assert not [e for e in res.events if e.kind == "cramp"]
    off = [e for e in res.events if e.subtype == "electrode-off" and 350 < e.start_s < 420]
    assert off and "line hum" in off[0].reason
    # the same spell is a cramp to a detector without the spectral rules (the hum's
    # leakage into the high band trips the second too): the test reaches them
    blind = _detect(s, replace(CFG, open_lead_line_excess=np.inf, open_lead_hf_ratio=np.inf))
    assert [e for e in blind.events if e.kind == "cramp"]


def test_a_flat_floor_that_waxes_and_wanes_is_an_open_lead_not_a_cramp() -> None:
    s = Synth(300, seed=22, acc_fs=None, sites=("calf",))
    dur = 60.0
    noise = flat_noise(np.random.default_rng(5), int(dur * s.fs), s.fs)
    _spell(s, 150, dur, 60.0 * _waxing(s, dur) * noise)
    res = _detect(s)
    assert not [e for e in res.events if e.kind == "cramp"]
    off = [e for e in res.events if e.subtype == "electrode-off" and e.start_s < 200]
    assert off and "250-400 Hz" in off[0].reason
    blind = _detect(s, replace(CFG, open_lead_hf_ratio=np.inf))
    assert [e for e in blind.events if e.kind == "cramp"]


@pytest.mark.parametrize("mains_uv", [1.0, 50.0])
def test_a_weak_cramp_under_strong_mains_stays_a_cramp(mains_uv: float) -> None:
    """Hum there all night (a good lead, mains 1-50 µV with harmonics) is no open lead."""
    s = Synth(300, seed=23, acc_fs=None, sites=("calf",), mains_uv=mains_uv)
    s.emg[:, 0] += 0.3 * mains_uv * np.sin(2 * np.pi * 150 * s.t)
    s.emg[:, 0] += 0.2 * mains_uv * np.sin(2 * np.pi * 250 * s.t)
    s.cramp(150, 40, uv=24.0)  # ~12x the 2-µV rest
    cr = [e for e in _detect(s).events if e.kind == "cramp"]
    assert len(cr) == 1 and abs(cr[0].start_s - 150) < 0.5 and abs(cr[0].end_s - 190) < 3


def test_a_cramp_under_mains_that_dwarfs_it_stays_a_cramp() -> None:
    """Raw power 10-20x the band's, all of it hum a good lead carried all night: not
    'mains dominated' when the band shape shows the rise to be muscle."""
    s = Synth(300, seed=29, acc_fs=None, sites=("calf",), mains_uv=250.0)
    s.cramp(150, 40, uv=20.0)  # ~10x the 2-µV rest, under 250 µV of hum
    ev = _detect(s).events
    cr = [e for e in ev if e.kind == "cramp"]
    assert len(cr) == 1 and abs(cr[0].start_s - 150) < 0.5 and abs(cr[0].end_s - 190) < 3, ev
