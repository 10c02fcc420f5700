"""A tiny ad-hoc synthetic leg signal for the detector's unit tests.

Independent of the project's night generator on purpose: the unit tests must pin the
detector's behaviour on signals whose every parameter is visible here.  Rest ~2 µV RMS
band-limited noise, mains hum, and bursts of band-limited noise with given envelopes.
"""

from __future__ import annotations

import numpy as np

from detector.stream import StreamLayout


def emg_noise(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """Unit-RMS noise with a surface-EMG spectrum: the classic shape
    P(f) ~ f^2 fh^4 / ((f^2 + fl^2) (f^2 + fh^2)^2) (Shwedyk et al. 1977; fl = 60 Hz,
    fh = 120 Hz: power peaks near 70 Hz and falls off above 150 Hz), cut to
    20-min(450, 0.45 fs) Hz.  Not flat: a flat 20-450 Hz floor is what an open lead
    looks like (DOMAIN.md), and the detector tells the two apart."""
    m = 1 << int(np.ceil(np.log2(max(n, 2))))
    f = np.fft.rfftfreq(m, 1.0 / fs)
    fl, fh = 60.0, 120.0
    shape = f**2 * fh**4 / ((f**2 + fl**2) * (f**2 + fh**2) ** 2)
    shape[(f < 20.0) | (f > min(450.0, 0.45 * fs))] = 0.0
    spec = np.fft.rfft(rng.standard_normal(m)) * np.sqrt(shape)
    x = np.fft.irfft(spec, m)[:n]
    return x / np.std(x)


class Synth:
    def __init__(
        self,
        duration_s: float,
        fs: float = 1000.0,
        sites: tuple[str, ...] = ("calf", "tibialis"),
        acc_fs: float | None = 50.0,
        mains_hz: float = 50.0,
        mains_uv: float = 20.0,
        rest_uv: float = 2.0,
        seed: int = 0,
    ) -> None:
        self.fs, self.acc_fs = fs, acc_fs
        self.rng = np.random.default_rng(seed)
        n = int(duration_s * fs)
        self.n = n
        self.t = np.arange(n) / fs
        self.emg = np.stack([rest_uv * emg_noise(self.rng, n, fs) for _ in sites], axis=1)
        self.emg += mains_uv * np.sin(2 * np.pi * mains_hz * self.t)[:, None]
        self.emg += 300.0  # DC offset
        self.sites = sites
        self.layout = StreamLayout(
            emg_fs=fs,
            emg_labels=tuple(f"EMG{i + 1}" for i in range(len(sites))),
            emg_sites=sites,
            acc_fs=acc_fs,
        )
        m = int(duration_s * acc_fs) if acc_fs else 0
        self.acc = np.zeros((m, 3))
        self.acc[:, 2] = 1.0  # lying: gravity across the shank (axis x is the shank)
        self.acc += 0.003 * self.rng.standard_normal((m, 3))
        self.truth: list[tuple[str, float, float]] = []

    def burst(self, ch: int, t0: float, t1: float, uv: float, ramp_s: float = 0.05) -> None:
        i0, i1 = int(t0 * self.fs), int(t1 * self.fs)
        k = i1 - i0
        env = np.ones(k)
        r = max(1, int(ramp_s * self.fs))
        env[:r] = np.linspace(0, 1, r)
        env[-r:] = np.minimum(env[-r:], np.linspace(1, 0, r))
        self.emg[i0:i1, ch] += uv * env * emg_noise(self.rng, k, self.fs)

    def cramp(
        self,
        t0: float,
        dur: float,
        uv: float = 60.0,
        ch: int = 0,
        wax_hz: float = 1.4,
        wax_depth: float = 0.3,
        rise_s: float = 0.3,
        fall_s: float = 0.5,
    ) -> None:
        i0 = int(t0 * self.fs)
        k = int(dur * self.fs)
        tt = np.arange(k) / self.fs
        # waxing and waning (Minetto 2009: a shared oscillation near 1.4 Hz)
        env = uv * (1 + wax_depth * np.sin(2 * np.pi * wax_hz * tt))
        ramp = np.minimum(1.0, tt / rise_s) * np.minimum(1.0, (dur - tt) / fall_s)
        self.emg[i0 : i0 + k, ch] += env * ramp * emg_noise(self.rng, k, self.fs)
        self.truth.append(("cramp", t0, t0 + dur))

    def still(self, t0: float, t1: float, gravity: tuple[float, float, float]) -> None:
        """The shank still from ``t0`` to ``t1`` s with ``gravity`` (g) in sensor axes
        (axis x is the shank: ``(1, 0, 0)`` is upright)."""
        j0, j1 = int(t0 * self.acc_fs), int(t1 * self.acc_fs)
        self.acc[j0:j1] = np.asarray(gravity) + 0.003 * self.rng.standard_normal((j1 - j0, 3))

    def plm_series(self, t0: float, n: int, interval: float, dur: float = 2.0) -> None:
        for i in range(n):
            s = t0 + i * interval
            self.burst(len(self.sites) - 1, s, s + dur, 30.0)
            self.truth.append(("plm", s, s + dur))

    def walking(self, t0: float, dur: float, period: float = 1.05, uv: float = 50.0) -> None:
        t = t0
        while t < t0 + dur:
            self.burst(0, t, t + 0.4, uv)
            if len(self.sites) > 1:
                self.burst(1, t + 0.5, t + 0.8, 30.0)
            t += period
        if self.acc_fs:
            j0, j1 = int(t0 * self.acc_fs), int((t0 + dur) * self.acc_fs)
            tt = np.arange(j1 - j0) / self.acc_fs
            self.acc[j0:j1] = 0.0
            self.acc[j0:j1, 0] = 1.0 + 0.3 * np.sin(2 * np.pi * tt / period)
            self.acc[j0:j1, 2] = 0.2 * np.sin(2 * np.pi * tt / period)
        self.truth.append(("movement", t0, t0 + dur))

    def shaking(self, t0: float, dur: float, hz: float = 4.5, uv: float = 40.0) -> None:
        """The leg shaken (by the sleeper or by hand) ``hz`` times a second: the calf
        (``uv``) and the tibialis (half that) burst at every swing, the envelope falling
        to 40 % of its peaks between bursts (never near rest: the leg never rests); the shank swings with it (when there is an
        accelerometer)."""
        i0, k = int(t0 * self.fs), int(dur * self.fs)
        tt = np.arange(k) / self.fs
        env = uv * (0.7 + 0.3 * np.sin(2 * np.pi * hz * tt))
        for ch, site in enumerate(self.sites):
            g = 0.5 if site == "tibialis" else 1.0
            self.emg[i0 : i0 + k, ch] += g * env * emg_noise(self.rng, k, self.fs)
        if self.acc_fs:
            j0, j1 = int(t0 * self.acc_fs), int((t0 + dur) * self.acc_fs)
            ta = np.arange(j1 - j0) / self.acc_fs
            self.acc[j0:j1, 1] += 0.5 * np.sin(2 * np.pi * hz * ta)
        self.truth.append(("movement", t0, t0 + dur))

    def stretch(self, t0: float, dur: float = 20.0) -> None:
        self.burst(len(self.sites) - 1, t0, t0 + dur, 40.0, ramp_s=0.5)
        self.burst(0, t0, t0 + dur, 3.0, ramp_s=0.5)
        self.truth.append(("movement", t0, t0 + dur))

    def turn(self, t0: float, dur: float = 3.0) -> None:
        for ch in range(len(self.sites)):
            self.burst(ch, t0, t0 + dur, 40.0)
        if self.acc_fs:
            j = int((t0 + dur / 2) * self.acc_fs)
            self.acc[j:, 2] = 0.0
            self.acc[j:, 1] = 1.0
        self.truth.append(("movement", t0, t0 + dur))


def walked_off(seed: int, acc: bool) -> Synth:
    """A 40-s calf cramp at ~15x rest (100-140 s) walked off while still contracted: the
    strides start at 139 s, each calf burst ~100x rest (pushing the body off)."""
    s = Synth(300, seed=seed, acc_fs=50.0 if acc else None)
    s.cramp(100.0, 40.0, uv=30.0)
    s.walking(139.0, 60.0, uv=200.0)
    return s
