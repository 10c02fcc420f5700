"""Features: what the classifier rules (:mod:`detector.stages.classify`) see of a burst.

:func:`burst_features` measures one burst or episode from plain arrays: the frames'
envelope, mean square, TKEO and raw variance over it, the raw 10-ms means from just
before it, the resting level per frame and the accelerometer summary
(:meth:`detector.stages.posture.Posture.burst_features`).
"""

from __future__ import annotations

import math

import numpy as np

from detector.config import DetectorConfig
from detector.stages.classify import BurstFeatures
from detector.stages.rest import off_level


def autocorr_peak(x: np.ndarray, lo: int, hi: int) -> tuple[float, int]:
    """Highest normalised autocorrelation of ``x`` at lags ``lo..hi`` (samples)."""
    x = x - x.mean()
    d = float(np.dot(x, x))
    if d <= 0 or hi <= lo or x.size <= hi:
        return 0.0, 0
    n = 1 << int(math.ceil(math.log2(2 * x.size)))
    f = np.fft.rfft(x, n)
    ac = np.fft.irfft(f * np.conj(f), n)[: hi + 1] / d
    i = int(np.argmax(ac[lo : hi + 1])) + lo
    return float(ac[i]), i


def moving_mean(y: np.ndarray, w: int) -> np.ndarray:
    """Centred moving mean over ``w`` points (shorter at the ends)."""
    c = np.r_[0.0, np.cumsum(y)]
    i = np.arange(y.size)
    lo = np.maximum(0, i - w // 2)
    hi = np.minimum(y.size, i + w - w // 2)
    return (c[hi] - c[lo]) / (hi - lo)


def block_means(x: np.ndarray, dec: int) -> np.ndarray:
    """Means of the whole blocks of ``dec`` points of ``x`` (the rest dropped); ``x``
    itself when it is shorter than one block."""
    if x.size < dec:
        return x
    return x[: (x.size // dec) * dec].reshape(-1, dec).mean(axis=1)


def rhythm_peak(x: np.ndarray, fs: float, lo_hz: float, hi_hz: float) -> tuple[float, float]:
    """(autocorrelation, Hz) of the strongest rhythm of ``x`` (sampled at ``fs``) between
    ``lo_hz`` and ``hi_hz``: the first local maximum, nearly as high as the highest, of
    the normalised autocorrelation of ``x`` less its centred 1-s moving mean (slow
    waxing and trends gone; the mean of a whole-Hz rhythm over 1 s is nil, so it stays
    whole) at lags ``1/hi_hz .. 1/lo_hz``, refined by a parabola through its
    neighbours; ``(0.0, 0.0)`` where there is none (a lag-range edge is no peak: a
    smooth or slower envelope only decays there)."""
    m = max(1, int(round(fs)))
    lo, hi = max(2, int(fs / hi_hz)), int(math.ceil(fs / lo_hz))
    if x.size <= max(4 * hi, 2 * m):
        return 0.0, 0.0
    h = x - moving_mean(x, m)
    h = h - h.mean()
    d = float(h @ h)
    if d <= 0:
        return 0.0, 0.0
    n = 1 << int(math.ceil(math.log2(2 * x.size)))
    f = np.fft.rfft(h, n)
    ac = np.fft.irfft(f * np.conj(f), n)[: hi + 2] / d
    lags = np.arange(lo, hi + 1)
    peak = (ac[lags] > ac[lags - 1]) & (ac[lags] >= ac[lags + 1])
    if not peak.any():
        return 0.0, 0.0
    # the fundamental: the first peak nearly as high as the highest (its multiples
    # repeat it at twice and three times the lag)
    pk = lags[peak]
    k = int(pk[np.argmax(ac[pk] >= 0.8 * ac[pk].max())])
    y0, y1, y2 = float(ac[k - 1]), float(ac[k]), float(ac[k + 1])
    den = y0 - 2 * y1 + y2
    dk = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    return y1, fs / (k + dk)


def band_shape_features(
    shape: tuple[np.ndarray, int] | None, xr: np.ndarray, calf: list[int]
) -> tuple[float, float]:
    """(high/mid density ratio, line share of the excess power) on the calf channel that
    carries the burst (the loudest over rest; ``shape`` holds the calf channels only, in
    the order of ``calf``); NaN where they cannot be told.

    The ratio is the median over the burst's seconds.  The line share is the rise of the
    power in the 50/60-Hz line bins over the rise of all the band's power, from the median
    of the seconds before the burst to the median over it: hum that was there all along
    cancels; muscle raises every bin alike (~0.2-0.3, the line bins' share of the band);
    a lead that comes off raises the hum alone (-> 1).
    """
    if shape is None:
        return math.nan, math.nan
    a, pre = shape
    ch = int(np.argmax(np.median(xr[:, calf], axis=0)))  # a's columns are the calf's
    clean, line, hi, mid = (a[i, :, ch] for i in range(4))

    def med(v: np.ndarray) -> float:
        v = v[np.isfinite(v)]
        return float(np.median(v)) if v.size else math.nan

    hf_ratio = med(hi[pre:] / np.maximum(mid[pre:], 1e-30))  # NaN where unmeasured
    d_line = med(line[pre:]) - med(line[:pre])
    d_all = d_line + med(clean[pre:]) - med(clean[:pre])
    line_excess = d_line / d_all if d_all > 0 else math.nan
    return hf_ratio, line_excess


def _window_swing(rm: np.ndarray, w: int, lw: int) -> float | None:
    """Median over windows of ``lw`` frames of the range of the raw ``w``-frame mean, µV
    (None with fewer than two windows)."""
    if rm.size < w + 2 * lw:
        return None
    sm = np.convolve(rm, np.ones(w) / w, mode="valid")
    n_w = sm.size // lw
    sw = sm[: n_w * lw].reshape(n_w, lw)
    return float(np.median(sw.max(axis=1) - sw.min(axis=1)))


def _swing_is_new(rm: np.ndarray, n_pre: int, w: int, lw: int, x: float) -> bool:
    """Does the raw baseline swing in the burst (``rm[n_pre:]``) by at least ``x`` times
    what it swung before it (``rm[:n_pre]``)?  True when the before is too short to tell."""
    before = _window_swing(rm[:n_pre], w, lw)
    during = _window_swing(rm[n_pre:], w, lw)
    if before is None or during is None:
        return True
    return during >= x * before


def burst_features(
    *,
    e2s: np.ndarray,
    e2: np.ndarray,
    tk: np.ndarray,
    rv: np.ndarray,
    rm: np.ndarray,
    rm_pre: int,
    rest: np.ndarray,
    ref: tuple[np.ndarray, np.ndarray] | None = None,
    shape: tuple[np.ndarray, int] | None,
    calf: list[int],
    tib: list[int],
    cfg: DetectorConfig,
    fs: float,
    fps: float,
    t0: float,
    t1: float,
    seg_times: list[tuple[float, float]],
    acc: tuple[float | None, bool | None, float | None],
) -> BurstFeatures:
    """Features of the burst over frames with envelope ``e2s``, mean square ``e2``,
    TKEO ``tk``, raw variance ``rv`` (frames, channels; µV²) and resting level ``rest``
    (frames, channels; µV); ``shape``: the band shape of the burst's seconds and those
    before it, and how many come before (:meth:`BandShape.of_seconds`; None at rates too
    low for it).  ``rm``: the raw 10-ms means from up to ``swing_pre_s`` before the
    burst (or its run's start) to its end, the first ``rm_pre`` of them before it.
    ``seg_times``: the bursts' (start, end) in s; ``acc``: activity (g), upright, turn
    (deg), each None without accelerometer.  ``ref``: the median raw variance and band
    mean square per channel (µV²) before the burst, when there is a second of it: the
    raw-over-band ratio is then taken on what the burst adds (hum that was there all
    along is no part of it).
    """
    env = np.sqrt(e2s)
    xr = env / np.maximum(rest, 1e-9)
    off = off_level(rest, cfg)
    # sustained = the calf stays above its off level (walking: it falls to rest in
    # every swing phase while the tibialis fires; a cramp holds)
    sustain = float((env[:, calf] > off[:, calf]).any(axis=1).mean())
    cx = xr[:, calf].max(axis=1)
    cramp_x = float(np.median(cx))
    cramp_peak = float(cx.max())
    if tib:
        tib_x = float(np.median(xr[:, tib].max(axis=1)))
        tib_uv = float(np.median(env[:, tib].max(axis=1)))
    else:
        tib_x = tib_uv = 0.0
    calf_uv = float(np.median(env[:, calf].max(axis=1)))
    # which muscle leads: 90th percentile of the envelope's excess over rest, µV
    exc = env - np.nan_to_num(rest)
    calf_exc = float(np.percentile(exc[:, calf].max(axis=1), 90))
    tib_exc = float(np.percentile(exc[:, tib].max(axis=1), 90)) if tib else 0.0
    s_e2 = float(e2.sum())
    lf = float(rv.sum()) / max(s_e2, 1e-12)
    if ref is not None:
        # a burst under strong steady hum: its raw power is mostly hum that was there
        # before; a pop's step or an open lead's hum is new (the ratio of the increases)
        d_rv = np.clip(rv - ref[0], 0.0, None).sum()
        d_e2 = np.clip(e2 - ref[1], 0.0, None).sum()
        lf = min(lf, float(d_rv) / max(float(d_e2), 1e-12))
    # steps: excursion of the raw signal's 100-ms mean (which cancels 50 and 60 Hz
    # hum and their harmonics) over the burst, against the peak of the band-passed
    # envelope, on the burst's main channel: a pop's step and decay dwarf it
    w = max(1, int(round(cfg.step_window_s * fps)))
    main = int(np.argmax(env.max(axis=0)))
    step_win = 0.0
    lw = max(1, int(round(cfg.step_long_window_s * fps)))
    swing_new = _swing_is_new(rm[:, main], rm_pre, w, lw, cfg.swing_new_x)
    rm = rm[max(0, rm_pre - w) :]
    if rm.shape[0] > w:
        sm = np.convolve(rm[:, main], np.ones(w) / w, mode="valid")
        step = float(sm.max() - sm.min()) / max(float(env[:, main].max()), 1e-9)
        # a long burst: the same ratio in windows of step_long_window_s, median over
        # them: a loose lead swings all along, while the slow drift of a good lead over
        # minutes (sweat, DOMAIN) adds up to a large excursion end to end
        em = env[:, main]
        o = max(0, rm.shape[0] - em.shape[0])  # rm starts before the burst
        n_w = min(sm.size - o, em.size) // lw
        if n_w >= 2:
            sw = sm[o : o + n_w * lw].reshape(n_w, lw)
            ew = em[: n_w * lw].reshape(n_w, lw).max(axis=1)
            step_win = float(np.median((sw.max(axis=1) - sw.min(axis=1)) / np.maximum(ew, 1e-9)))
        else:
            step_win = step
    else:
        step = 0.0
    # band shape on the calf channel that carries the burst (the loudest over rest)
    hf_ratio, line_excess = band_shape_features(shape, xr, calf)
    ratio = min(1.0, max(0.0, float(tk.sum()) / max(s_e2, 1e-12) / 2.0))
    f_eff = math.asin(math.sqrt(ratio)) * fs / (2 * math.pi)
    flat_frac = float((rv < cfg.flat_rv_uv2).all(axis=1).mean())
    # envelope periodicity on the joint calf envelope, decimated to ~stride_env_hz
    dec = max(1, int(round(fps / cfg.stride_env_hz)))
    ej = block_means(cx, dec)
    fps_d = fps / dec
    lo = int(cfg.stride_period_s[0] * fps_d)
    hi = int(cfg.stride_period_s[1] * fps_d)
    ac, lag = autocorr_peak(ej, lo, hi) if ej.size > 3 * hi else (0.0, 0)
    # a faster rhythm on the same envelope (shaking the leg), at ~rhythm_env_hz
    dec = max(1, int(round(fps / cfg.rhythm_env_hz)))
    er = block_means(cx, dec)
    r_ac, r_hz = rhythm_peak(er, fps / dec, *cfg.rhythm_hz)
    p10, p90 = np.percentile(cx, [10, 90])
    depth = float(p10 / max(p90, 1e-9))
    acc_act, upright, turn = acc
    return BurstFeatures(
        start_s=t0,
        end_s=t1,
        n_segments=len(seg_times),
        seg_durations=[b - a for a, b in seg_times],
        seg_onsets=[a for a, _ in seg_times],
        sustain=sustain,
        cramp_x_rest=cramp_x,
        cramp_peak_x_rest=cramp_peak,
        tib_x_rest=tib_x,
        has_tibialis=bool(tib),
        calf_uv=calf_uv,
        tib_uv=tib_uv,
        calf_exc_uv=calf_exc,
        tib_exc_uv=tib_exc,
        lf_ratio=lf,
        step_ratio=step,
        step_ratio_win=step_win,
        swing_new=swing_new,
        hf_ratio=hf_ratio,
        line_excess=line_excess,
        f_eff_hz=f_eff,
        flat_frac=flat_frac,
        stride_ac=ac,
        stride_period_s=lag / fps_d if lag else 0.0,
        depth=depth,
        rhythm_ac=r_ac,
        rhythm_hz=r_hz,
        acc_activity_g=acc_act,
        acc_upright=upright,
        turn_deg=turn,
    )
