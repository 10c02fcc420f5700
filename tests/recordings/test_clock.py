"""Clock alignment on synthetic (sensor, host) pairs: drift, latency jitter, backfill."""

from __future__ import annotations

import numpy as np
import pytest

from recordings.clock import ClockSync, TimelineClock, lower_hull_fit

FRAME_S = 0.08  # ~ one frame of 2 EMG ch x 1 kHz at MTU 247
H0 = 1_790_000_000 * 10**9  # some UTC ns


def _pairs(ppm: float, hours: float, seed: int, backfill: bool = True):
    """Sensor times (us, last sample of each frame), host rx (ns), and the true map."""
    rng = np.random.default_rng(seed)
    s = np.arange(0.0, hours * 3600, FRAME_S)
    true_h = H0 + (s * (1 + ppm * 1e-6)) * 1e9
    # latency: 7.5 ms connection-interval floor + exponential jitter (mean 25 ms)
    # + 1 % spikes of up to 2 s (scheduler stalls)
    lat = 0.0075 + rng.exponential(0.025, s.size)
    spikes = rng.random(s.size) < 0.01
    lat[spikes] += rng.uniform(0.1, 2.0, spikes.sum())
    if backfill:  # 30 s outages every ~hour: those frames arrive in a burst afterwards
        for k in range(int(hours)):
            a = int((k * 3600 + 1234) / FRAME_S)
            b = a + int(30 / FRAME_S)
            lat[a:b] += (b - np.arange(a, b)) * FRAME_S + 0.2
    rx = (true_h + lat * 1e9).astype(np.int64)
    return (s * 1e6).astype(np.int64), rx, true_h


@pytest.mark.parametrize("ppm", [-100.0, -37.0, 0.0, 55.0, 100.0])
def test_error_under_50ms_after_8h_with_drift_and_jitter(ppm: float) -> None:
    su, rx, true_h = _pairs(ppm, 8.0, seed=int(ppm) + 1000)
    c = ClockSync()
    for a, b in zip(su.tolist(), rx.tolist(), strict=True):
        c.add(a, b)
    assert abs(c.drift_ppm - ppm) < 2.0
    idx = np.linspace(0, su.size - 1, 200).astype(int)
    err = np.array([c.host_ns(int(su[i])) - true_h[i] for i in idx]) / 1e6
    assert np.abs(err).max() < 50.0, f"max error {np.abs(err).max():.1f} ms"
    # the residual bias is the latency floor (7.5 ms), not the mean latency
    assert np.abs(err).max() < 15.0


def test_live_estimate_at_each_moment_stays_under_50ms() -> None:
    """What an event closed live gets: the fit so far, extrapolated to 'now'."""
    su, rx, true_h = _pairs(100.0, 8.0, seed=7)
    c = ClockSync()
    worst = 0.0
    for i, (a, b) in enumerate(zip(su.tolist(), rx.tolist(), strict=True)):
        c.add(a, b)
        if i % 3000 == 2999 and i > 3000:  # every ~4 min, after the first minutes
            j = i - 100  # an event that ended ~8 s ago
            worst = max(worst, abs(c.host_ns(int(su[j])) - true_h[j]) / 1e6)
    assert worst < 50.0, worst


def test_naive_mean_fit_would_fail_so_the_test_can_fail() -> None:
    su, rx, true_h = _pairs(100.0, 8.0, seed=3)
    x = su / 1e6
    d = (rx - H0) / 1e9 - x
    slope, icpt = np.polyfit(x, d, 1)
    err = (H0 + (x + icpt + slope * x) * 1e9 - true_h) / 1e6
    assert np.abs(err).max() > 50.0


def test_hull_fit_exact_line_and_single_point() -> None:
    xs = [0.0, 1.0, 2.0, 3.0]
    ys = [1.0, 1.5 + 0.2, 2.0, 2.5]
    slope, icpt = lower_hull_fit(xs, [y - 0.0 for y in ys])
    assert slope == pytest.approx(0.5) and icpt == pytest.approx(1.0)
    assert lower_hull_fit([5.0], [2.0]) == (0.0, 2.0)


def test_timeline_clock_across_a_reboot() -> None:
    tc = TimelineClock()
    assert tc.wall_time(0.0) is None
    tc.boot(1, 0.0, 5_000_000.0)  # boot 1: index 0 at sensor 5 s
    for k in range(100):
        tc.add(1, 5_000_000 + k * 100_000, H0 + k * 100_000_000 + 10_000_000)
    tc.boot(2, 60.0, 0.0)  # after a reboot at timeline 60 s, sensor clock from 0
    for k in range(100):
        tc.add(2, k * 100_000, H0 + 60 * 10**9 + k * 100_000_000 + 10_000_000)
    assert abs(tc.host_ns(5.0) - (H0 + 5 * 10**9 + 10_000_000)) < 1_000_000
    assert abs(tc.host_ns(65.0) - (H0 + 65 * 10**9 + 10_000_000)) < 1_000_000
    wt = tc.wall_time(65.0)
    assert wt is not None and wt.tzinfo is not None


def test_clockfit_adapter_used_by_the_assembler() -> None:
    from recordings.assemble import fit_clock

    f = fit_clock()
    assert type(f).__module__ == "recordings.clock"
    su, rx, true_h = _pairs(-100.0, 2.0, seed=11)
    for a, b in zip(su.tolist(), rx.tolist(), strict=True):
        f.add(a / 1e6, b)
    t = su[-1] / 1e6
    assert abs(f.to_rx_ns(t) - true_h[-1]) / 1e6 < 50.0
    assert f.to_timeline(int(f.to_rx_ns(t))) == pytest.approx(t, abs=1e-4)
    off, slope = f.params()
    assert slope == pytest.approx(1e9 * (1 - 100e-6), rel=2e-6)
