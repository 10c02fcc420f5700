"""Rest level: the adaptive resting EMG level per second, and the burst thresholds on it.

Resting EMG drifts over a night (DOMAIN.md), so the level is a low percentile
(``rest_percentile``) of the per-second medians of the 10-ms mean squares over the last
``rest_window_s``, recomputed every ``rest_update_s`` (every second during the first
``rest_warmup_s``) and held in between.  The update is gated: seconds above
``rest_gate_x`` x the current level (bursts, cramps) or below ``flat_x_rest`` x it (no
signal) do not feed it; after ``rest_relock_s`` with every second shut out the level
restarts from all seconds.  Stage state: the next second to compute and when the gate
shut.  The level for second ``s`` only reads seconds before ``s``.

:func:`on_level` / :func:`off_level` are the double threshold of Bonato 1998 with the
AASM 2007 / WASM 2016 amplitudes.
"""

from __future__ import annotations

import numpy as np

from detector.config import DetectorConfig
from detector.stages.buffers import Growable


def on_level(rest: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Onset level, µV: AASM's rest + 8 µV, kept within [on_min_x, on_max_x] x rest so it
    stays meaningful when the data are not µV-scaled or the rest is unusual."""
    return np.clip(rest + cfg.on_abs_uv, cfg.on_min_x_rest * rest, cfg.on_x_rest * rest)


def off_level(rest: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """End level, µV: AASM/WASM rest + 2 µV, within [off_min_x, off_x] x rest."""
    return np.clip(rest + cfg.off_abs_uv, cfg.off_min_x_rest * rest, cfg.off_x_rest * rest)


class RestLevel:
    """Per-second resting level (µV RMS) and resting TKEO (µV²), per channel.

    ``update_to(s_max, n, med, med_tk)`` fills seconds up to ``s_max`` from per-second
    arrays indexed by absolute second: ``n`` frames in the second, ``med`` the median
    10-ms mean square (µV², NaN if unknown), ``med_tk`` the median TKEO.  ``rest.a[s]``
    and ``rest_tk.a[s]`` then hold the levels (NaN until known).
    """

    def __init__(self, cfg: DetectorConfig, n_ch: int, fps: float) -> None:
        self.cfg = cfg
        self.c = n_ch
        self.fps = fps
        self.rest = Growable(n_ch, np.nan)
        self.rest_tk = Growable(n_ch, np.nan)
        self._next = 0
        self._locked_since: int | None = None

    def update_to(
        self, s_max: int, n_fr: np.ndarray, med_a: np.ndarray, med_tk: np.ndarray
    ) -> None:
        """Compute the resting level for seconds up to ``s_max`` (inclusive)."""
        cfg = self.cfg
        fpsec = self.fps
        self.rest.ensure(s_max + 1)
        self.rest_tk.ensure(s_max + 1)
        s = self._next
        c = self.c
        while s <= s_max:
            # the level is recomputed on "update" seconds and held until the next one
            if s < cfg.rest_warmup_s:
                nxt = s + 1
            else:
                nxt = (s // cfg.rest_update_s + 1) * cfg.rest_update_s
            update = s < cfg.rest_warmup_s or s % cfg.rest_update_s == 0 or s == self._next
            hold_to = min(nxt, s_max + 1)
            val = self.rest.a[s - 1] if s > 0 else np.full(c, np.nan)
            val_tk = self.rest_tk.a[s - 1] if s > 0 else np.full(c, np.nan)
            if update and (s < cfg.rest_warmup_s or s % cfg.rest_update_s == 0):
                lo = max(0, s - cfg.rest_window_s)
                n = n_fr[lo:s]
                med = med_a[lo:s]
                ok = (n >= cfg.rest_min_fill * fpsec) & np.isfinite(med[:, 0])
                # gate: seconds clearly active (median > rest_gate x the current level)
                # do not feed the resting level, so a long cramp cannot lift it; if the
                # gate has shut everything out for rest_relock_s, start afresh
                if np.isfinite(val).all():
                    # ... nor do seconds without signal (electrode off, flat): both
                    # bounds in one pass
                    inside = (med <= (cfg.rest_gate_x * val) ** 2) & (
                        med >= (cfg.flat_x_rest * val) ** 2
                    )
                    quiet = ok & inside.all(axis=1)
                    if np.count_nonzero(quiet) >= cfg.rest_min_s:
                        ok = quiet
                        self._locked_since = None
                    elif self._locked_since is None:
                        self._locked_since = s
                        ok = np.zeros_like(ok)
                    elif s - self._locked_since < cfg.rest_relock_s:
                        ok = np.zeros_like(ok)
                    else:
                        self._locked_since = None
                if ok.any():
                    # nearest-rank percentile of the per-second medians (np.partition:
                    # ~10x cheaper than np.percentile; rms and TKEO in one call)
                    v = np.concatenate([med[ok], med_tk[lo:s][ok]], axis=1)
                    kq = int(cfg.rest_percentile / 100.0 * (v.shape[0] - 1) + 0.5)
                    q = np.partition(v, kq, axis=0)[kq]
                    val, val_tk = np.sqrt(q[:c]), q[c:]
            self.rest.a[s:hold_to] = val
            self.rest_tk.a[s:hold_to] = val_tk
            s = hold_to
        self._next = max(self._next, s_max + 1)

    def level_at(self, s: int) -> np.ndarray:
        """The resting level of second ``s``; for a second before the level was first known
        (NaN), the first level known after it (so an event that begins before the resting
        level is known still gets finite x-rest figures), else NaN."""
        val = self.rest.a[s]
        if np.isfinite(val).all():
            return val
        later = self.rest.a[s : self._next]
        known = np.nonzero(np.isfinite(later).all(axis=1))[0]
        return later[known[0]] if known.size else val


def frame_levels(
    rest: np.ndarray, sec: np.ndarray, cfg: DetectorConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared on and off levels (channels, frames) and where the rest is known
    (frames,), for frames in seconds ``sec`` (ascending) from the per-second ``rest``
    of seconds ``sec[0] .. sec[-1]`` (seconds, channels)."""
    s0, s1 = int(sec[0]), int(sec[-1])
    on = on_level(rest, cfg) ** 2
    off = off_level(rest, cfg) ** 2
    # frames per second (sec is sorted): spreading by np.repeat copies the same values
    # as fancy indexing by ``sec - s0``, at a fraction of the cost
    cnt = np.bincount(sec - s0, minlength=s1 - s0 + 1)
    ok = np.isfinite(rest).all(axis=1)
    return np.repeat(on.T, cnt, axis=1), np.repeat(off.T, cnt, axis=1), np.repeat(ok, cnt)
