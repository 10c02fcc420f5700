"""Front end: raw EMG samples -> band-passed, mains-notched EMG -> fixed ~10-ms frames.

Stage state: the filter state ``zi`` (as :func:`scipy.signal.sosfilt` keeps it), the
partial frame, the mains tracker's check block.  Every output is computed on a fixed grid
of the *absolute* timeline (sample index ``i``, frame index ``k = i // hop``, second
index) by the same floating-point operations in the same order whatever the block sizes
of the input, so a night pushed in 1-sample chunks and in one piece give the same frames,
bit for bit (``tests/detector/test_detector.py``, ``tests/detector/test_detector_stages.py``).

* :func:`emg_band` / :func:`design_sos`: band-pass fitted to the sampling rate, plus mains
  notches (2nd-order Butterworth sections and IIR notches, designed in
  :mod:`detector.stages.iir` without importing scipy.signal).
* :class:`MainsTracker`: decides by itself whether the mains is 50 or 60 Hz (and which
  harmonics stand out) from narrow-band power on fixed 1-s check blocks.
* :class:`FrontEnd`: raw EMG -> filtered (``sosfilt`` with ``zi``) -> :class:`Frames` of
  ``hop`` samples holding the mean square of the filtered EMG (µV²), the mean
  Teager-Kaiser energy (TKEO, Solnik 2008), the raw variance and the raw mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.stages import iir


def emg_band(fs: float, hp_hz: float, lp_hz: float, lp_frac: float) -> tuple[float, float | None]:
    """High-pass and low-pass corner frequencies (Hz) fitted to the sampling rate ``fs``.

    Surface EMG power lies in about 20-450 Hz (DOMAIN.md; De Luca 2010); sleep labs record
    leg EMG at 200-512 Hz with a 10-100 Hz band (AASM manual).  So the low-pass is
    ``min(lp_hz, lp_frac * fs)`` and the high-pass is ``min(hp_hz, 0.1 * fs)`` (10 Hz at
    100 Hz-Nyquist data would still be 20 Hz at 256 Hz: we keep 20 Hz down to fs = 200 Hz).
    When the low-pass would sit above 0.4 fs it is dropped (returned as ``None``): the
    front end's anti-alias filter already limits the band there, and it saves a section.
    """
    hp = min(hp_hz, 0.1 * fs)
    lp = min(lp_hz, lp_frac * fs)
    return hp, (lp if lp < 0.4 * fs else None)


def design_sos(
    fs: float, hp: float, lp: float | None, notches: tuple[float, ...], q: float
) -> np.ndarray:
    """Second-order sections: 2nd-order Butterworth high-pass (and low-pass), then notches.

    The band-pass sections always come first so their state survives a change of notches.
    """
    parts = [iir.butter2(hp, fs, "highpass")]
    if lp is not None:
        parts.append(iir.butter2(lp, fs, "lowpass"))
    for f in notches:
        if f < 0.48 * fs:
            parts.append(iir.notch_sos(f, q, fs))
    return np.vstack(parts).astype(np.float64)


def n_band_sections(lp: float | None) -> int:
    return 1 if lp is None else 2


# ---------------------------------------------------------------------------------------
# Mains detection
# ---------------------------------------------------------------------------------------


@dataclass
class MainsDecision:
    """What a check block said: mains fundamental (Hz or None) and its harmonics to notch."""

    fundamental: float | None
    harmonics: tuple[float, ...]
    ratio: float


def mains_check(block: np.ndarray, fs: float, ratio_min: float, max_hz: float) -> MainsDecision:
    """Look for mains hum in one 1-s block of raw EMG (channels, samples).

    Narrow-band power at 50 and 60 Hz (+-1 Hz, Hann window, 1 Hz bins) against the median
    power of the 20-``max_hz`` band with all 50/60-Hz multiples excluded.  A fundamental
    counts when that ratio exceeds ``ratio_min`` (unitless power ratio); its harmonics count
    when their own ratio does too.  Standard narrow-band line detection (e.g. the
    CleanLine/Zapline literature); the ratio is our choice, see DetectorConfig.
    """
    n = block.shape[-1]
    x = block - block.mean(axis=-1, keepdims=True)
    spec = np.abs(np.fft.rfft(x * np.hanning(n), axis=-1)) ** 2
    p = spec.mean(axis=0)
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    hi = min(max_hz, 0.45 * fs)
    band = (freqs >= 20) & (freqs <= hi)
    for base in (50.0, 60.0):
        for h in range(1, int(hi // base) + 1):
            band &= np.abs(freqs - base * h) > 3.0
    ref = float(np.median(p[band])) if band.any() else float(np.median(p[1:]))
    ref = max(ref, 1e-30)

    def peak(f: float) -> float:
        sel = np.abs(freqs - f) <= 1.0
        return float(p[sel].max()) if sel.any() else 0.0

    def ratio(f: float) -> float:
        return peak(f) / ref

    r50, r60 = ratio(50.0), ratio(60.0)
    best, r = (50.0, r50) if r50 >= r60 else (60.0, r60)
    if r < ratio_min:
        return MainsDecision(None, (), r)
    harm = {best * h for h in range(2, 10) if best * h < 0.45 * fs and ratio(best * h) >= ratio_min}

    # a second line frequency (equipment on the other standard nearby, a 60-Hz device on
    # a 50-Hz grid): notched as well when it stands out of its own neighbourhood, so that
    # a broad resonance of the EMG spectrum near it is not taken for a line
    def local(f: float) -> float:
        near = (np.abs(freqs - f) >= 4.0) & (np.abs(freqs - f) <= 12.0)
        return peak(f) / max(float(np.median(p[near])), 1e-30) if near.any() else 0.0

    other = 110.0 - best
    if ratio(other) >= ratio_min and local(other) >= ratio_min:
        harm |= {
            other * h
            for h in range(1, 10)
            if other * h < 0.45 * fs
            and other * h != best
            and ratio(other * h) >= ratio_min
            and local(other * h) >= ratio_min
        }
    return MainsDecision(best, tuple(sorted(harm)), r)


class MainsTracker:
    """Keeps the mains decision over the night, on fixed 1-s check blocks.

    Check blocks are seconds ``j`` of the absolute timeline: every second for the first
    ``first`` s, every ``early_every`` s for the first ``early`` s (10 s and 5 min by
    default), then every ``every`` s (``DetectorConfig.mains_check_every_s``, 120 s).  Before any hum is seen both 50 and 60 Hz are notched (cheap and
    safe); the first block that shows hum sets the fundamental; switching to the other
    fundamental later needs ``confirm`` consecutive blocks agreeing.  Harmonics are only
    ever added (no churn).
    """

    def __init__(
        self,
        fs: float,
        n_ch: int,
        ratio_min: float,
        every: int,
        first: int,
        confirm: int,
        early: int = 300,
        early_every: int = 10,
        max_hz: float = 200.0,
    ) -> None:
        self.fs = fs
        self.early = early
        self.early_every = early_every
        self.max_hz = max_hz
        self.n = int(round(fs))
        self.ratio_min = ratio_min
        self.every = every
        self.first = first
        self.confirm = confirm
        self.fundamental: float | None = None
        self.harmonics: tuple[float, ...] = ()
        self._other = 0
        self._buf = np.zeros((n_ch, self.n))
        self._buf_block = -1
        self._buf_fill = 0
        self.checks = 0
        self.history: list[tuple[int, float | None]] = []

    def notches(self) -> tuple[float, ...]:
        if self.fundamental is None:
            return (50.0, 60.0)
        return (self.fundamental, *self.harmonics)

    def _is_check(self, j: int) -> bool:
        return (
            j < self.first or (j < self.early and j % self.early_every == 0) or j % self.every == 0
        )

    def _next_check(self, j: int) -> int:
        j += 1
        if j < self.first:
            return j
        a = -(-j // self.early_every) * self.early_every
        b = -(-j // self.every) * self.every
        return min(a, b) if a < self.early else b

    def reset(self) -> None:
        """After a gap: drop a half-filled check block."""
        self._buf_block = -1
        self._buf_fill = 0

    def feed(self, x: np.ndarray, i0: int) -> list[tuple[int, tuple[float, ...]]]:
        """Feed raw samples (ch, n) starting at absolute index ``i0``.

        Returns ``(index, notches)`` for each change: the absolute sample index (a check
        block's end) from which the notch set ``notches`` applies.
        """
        n = x.shape[1]
        changes: list[tuple[int, tuple[float, ...]]] = []
        i1 = i0 + n
        j = i0 // self.n
        while j * self.n < i1:
            b0, b1 = j * self.n, (j + 1) * self.n
            if not self._is_check(j):
                j = self._next_check(j)
                continue
            lo, hi = max(b0, i0), min(b1, i1)
            if self._buf_block != j:
                if lo != b0:  # block started before this run (gap / mid-block start): skip
                    j += 1
                    continue
                self._buf_block, self._buf_fill = j, 0
            if lo - b0 != self._buf_fill:  # discontinuity inside the block
                self._buf_block = -1
                j += 1
                continue
            self._buf[:, lo - b0 : hi - b0] = x[:, lo - i0 : hi - i0]
            self._buf_fill = hi - b0
            if self._buf_fill == self.n:
                self._buf_block = -1
                if self._decide(mains_check(self._buf, self.fs, self.ratio_min, self.max_hz)):
                    changes.append((b1, self.notches()))
            j += 1
        return changes

    def _decide(self, d: MainsDecision) -> bool:
        self.checks += 1
        if d.fundamental is None:
            self._other = 0
            return False
        if self.fundamental is None:
            self.fundamental, self.harmonics = d.fundamental, d.harmonics
            self.history.append((self.checks, d.fundamental))
            return True
        if d.fundamental != self.fundamental:
            self._other += 1
            if self._other >= self.confirm:
                self.fundamental, self.harmonics, self._other = d.fundamental, d.harmonics, 0
                self.history.append((self.checks, d.fundamental))
                return True
            return False
        self._other = 0
        new = tuple(sorted(set(self.harmonics) | set(d.harmonics)))
        if new != self.harmonics:
            self.harmonics = new
            return True
        return False


# ---------------------------------------------------------------------------------------
# Front end: samples -> frames
# ---------------------------------------------------------------------------------------


def frame_hop(fs: float, frame_s: float) -> int:
    """Samples per frame: a divisor of the (integer) rate near ``frame_s`` so that frames
    tile seconds exactly (10 ms -> 10 samples at 1 kHz, 5 at 500 Hz, 2 at 256 Hz, ...).
    At least 2: a frame's raw variance (the flat-signal test) needs two samples."""
    target = fs * frame_s
    if abs(fs - round(fs)) < 1e-9:
        f = int(round(fs))
        divs = [d for d in range(2, f + 1) if f % d == 0 and 0.5 * target <= d <= 1.5 * target]
        if divs:
            return min(divs, key=lambda d: abs(d - target))
    return max(2, int(round(target)))


@dataclass
class Frames:
    """Frame features for frames ``k0 .. k0 + n - 1`` (shape (channels, n) each)."""

    k0: int
    e2: np.ndarray
    """Mean square of the band-passed, notched EMG in the frame, µV²."""
    tk: np.ndarray
    """Mean Teager-Kaiser energy psi[n] = y[n]^2 - y[n-1] y[n+1] in the frame, µV²."""
    rv: np.ndarray
    """Variance of the raw (unfiltered) EMG within the frame, µV²."""
    rm: np.ndarray
    """Mean of the raw (unfiltered) EMG in the frame, µV (steps, pops, hum show in its
    frame-to-frame differences)."""

    @property
    def n(self) -> int:
        return int(self.e2.shape[1])


class FrontEnd:
    """Raw EMG chunks -> filtered -> fixed frames, with explicit carried state.

    ``process(x, i0)`` takes raw samples (channels, n) at absolute index ``i0`` (contiguous
    with the previous call unless :meth:`reset` was called in between) and returns the
    :class:`Frames` completed by them (possibly none).
    """

    def __init__(
        self,
        fs: float,
        n_ch: int,
        hp: float,
        lp: float | None,
        notch_q: float,
        hop: int,
        mains: MainsTracker,
    ) -> None:
        self.fs, self.n_ch, self.hp, self.lp, self.q, self.hop = fs, n_ch, hp, lp, notch_q, hop
        self.mains = mains
        self.nb = n_band_sections(lp)
        self.notch_set = mains.notches()
        self.sos = design_sos(fs, hp, lp, self.notch_set, notch_q)
        self.zi: np.ndarray | None = None
        self.buf = np.zeros((n_ch, 0))  # col 0: previous filtered sample; then pending
        self.rbuf = np.zeros((n_ch, 0))  # raw samples of the pending (partial) frame
        self.raw_m = np.zeros((n_ch, 0))  # raw frame means not yet emitted, from raw_k0
        self.raw_s = np.zeros((n_ch, 0))  # raw frame mean squares, same frames
        self.raw_k0 = 0
        self.frame_start = 0  # absolute sample index of buf[:, 1] / rbuf[:, 0]
        self.dc = np.zeros(n_ch)
        self.next_i: int | None = None
        self._skip = 0

    def reset(self) -> None:
        self.zi = None
        self.next_i = None
        self.mains.reset()

    def _refilter(self, notches: tuple[float, ...]) -> None:
        new = design_sos(self.fs, self.hp, self.lp, notches, self.q)
        zi = np.zeros((new.shape[0], self.n_ch, 2))
        if self.zi is not None:
            # the band-pass state survives, and so does each notch kept (by frequency):
            # only a newly added notch starts from rest
            zi[: self.nb] = self.zi[: self.nb]
            old = [f for f in self.notch_set if f < 0.48 * self.fs]
            new_f = [f for f in notches if f < 0.48 * self.fs]
            for i, f in enumerate(new_f):
                if f in old:
                    zi[self.nb + i] = self.zi[self.nb + old.index(f)]
        self.sos, self.zi, self.notch_set = new, zi, tuple(notches)

    def process(self, x: np.ndarray, i0: int) -> Frames | None:
        n = x.shape[1]
        if n == 0:
            return None
        if self.zi is None or self.next_i != i0:
            # (Re)start: steady-state filter state for a constant input equal to the
            # first sample, so a DC offset does not ring through the high-pass.
            self.zi = iir.sosfilt_zi(self.sos)[:, None, :] * x[:, 0][None, :, None]
            self.dc = x[:, 0].copy()
            k_first = -(-i0 // self.hop)
            self.frame_start = k_first * self.hop
            skip = self.frame_start - i0
            self.buf = np.zeros((self.n_ch, 0))
            self.rbuf = np.zeros((self.n_ch, 0))
            self.raw_m = np.zeros((self.n_ch, 0))
            self.raw_s = np.zeros((self.n_ch, 0))
            self.raw_k0 = k_first
            self._skip = skip
        self.next_i = i0 + n
        changes = self.mains.feed(x, i0)
        if not changes and self._skip == 0 and self.buf.shape[1]:
            # the common case: filtered samples go straight behind the carried ones
            self.buf, self.zi = iir.sosfilt(self.sos, x, self.zi, lead=self.buf)
            self._raw_frames(x)
            return self._emit_frames()
        if changes:
            parts, pos = [], 0
            for c, notches in changes:
                cut = c - i0
                if cut > pos:
                    y, self.zi = iir.sosfilt(self.sos, x[:, pos:cut], self.zi)
                    parts.append(y)
                pos = cut
                self._refilter(notches)
            if n > pos:
                y, self.zi = iir.sosfilt(self.sos, x[:, pos:], self.zi)
                parts.append(y)
            y = np.concatenate(parts, axis=1)
        else:
            y, self.zi = iir.sosfilt(self.sos, x, self.zi)
        # raw in-frame variance as mean(x^2) - mean(x)^2 on x itself (no copy): in float64
        # the cancellation error is ~1e-16 x DC^2, far below a µV² even for ADC counts
        r = x
        if self._skip > 0:
            # samples before the first whole frame after a (re)start: keep only the last
            # filtered one as the TKEO's left neighbour
            take = min(self._skip, n)
            if take == self._skip:
                self.buf = y[:, take - 1 : take]
            y = y[:, take:]
            r = r[:, take:]
            self._skip -= take
            if y.shape[1] == 0:
                return None
        if self.buf.shape[1] == 0:
            self.buf = np.zeros((self.n_ch, 1))  # started exactly on a frame: neighbour 0
        self._raw_frames(r)
        self.buf = np.concatenate([self.buf, y], axis=1)
        return self._emit_frames()

    def _emit_frames(self) -> Frames | None:
        """The whole frames in ``buf`` (after its first column, the left neighbour)."""
        h = self.hop
        nf = (self.buf.shape[1] - 2) // h
        if nf <= 0:
            return None
        m = nf * h
        yy = self.buf[:, 1 : 1 + m].reshape(self.n_ch, nf, h)
        ym = self.buf[:, 0:m].reshape(self.n_ch, nf, h)
        yp = self.buf[:, 2 : 2 + m].reshape(self.n_ch, nf, h)
        s2 = np.einsum("cfh,cfh->cf", yy, yy)
        cross = np.einsum("cfh,cfh->cf", ym, yp)
        k0 = self.frame_start // h
        i = k0 - self.raw_k0
        r1 = self.raw_m[:, i : i + nf]
        r2 = self.raw_s[:, i : i + nf]
        self.raw_m, self.raw_s, self.raw_k0 = (
            self.raw_m[:, i + nf :],
            self.raw_s[:, i + nf :],
            k0 + nf,
        )
        out = Frames(
            k0=k0,
            e2=s2 / h,
            tk=(s2 - cross) / h,
            rv=np.maximum(r2 - r1 * r1, 0.0),
            rm=r1,
        )
        self.buf = self.buf[:, m:]
        self.frame_start += m
        return out

    def _raw_frames(self, r: np.ndarray) -> None:
        """Raw per-frame mean and mean square for every complete frame, straight from the
        input (no copy of it); only a partial frame is carried.  The filtered frames lag
        one frame behind (TKEO look-ahead), so these wait in a small per-frame carry."""
        h = self.hop
        ms, ss = [], []
        if self.rbuf.shape[1]:
            need = h - self.rbuf.shape[1]
            if r.shape[1] < need:
                self.rbuf = np.concatenate([self.rbuf, r], axis=1)
                return
            head = np.concatenate([self.rbuf, r[:, :need]], axis=1).reshape(self.n_ch, 1, h)
            ms.append(np.einsum("cfh->cf", head) / h)
            ss.append(np.einsum("cfh,cfh->cf", head, head) / h)
            r = r[:, need:]
        nf = r.shape[1] // h
        if nf:
            main = r[:, : nf * h].reshape(self.n_ch, nf, h)
            ms.append(np.einsum("cfh->cf", main) / h)
            ss.append(np.einsum("cfh,cfh->cf", main, main) / h)
        self.rbuf = r[:, nf * h :].copy()
        if ms:
            self.raw_m = np.concatenate([self.raw_m, *ms], axis=1)
            self.raw_s = np.concatenate([self.raw_s, *ss], axis=1)
