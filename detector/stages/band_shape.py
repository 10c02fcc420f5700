"""Band shape: is the EMG band's spectral shape still there, second by second?

Surface EMG has most of its power at 50-150 Hz and falls off above it (De Luca 1997;
DOMAIN.md: power in about 20-450 Hz); an electrode that comes off leaves line hum and its
harmonics over a flat, broadband floor, as strong at 400 Hz as at 80 Hz.  This stage
measures, for absolute seconds ``j`` (see below) and each channel, the mean power density of the raw
EMG in a high band (``hi_hz``, 250-400 Hz) over that of a mid band (``mid_hz``,
60-150 Hz), with every multiple of 50 and 60 Hz left out (by 5 Hz: hum, notched or not,
does not count): about 0.01-0.2 for muscle, about 1 for a flat floor; and the power in
the line bins (within 3 Hz of those multiples) and in the rest of the 20-450 Hz band, from
which :func:`detector.stages.features.band_shape_features` tells a rise of hum alone.

The high/mid ratio needs the high band below 0.45 fs (fs >= ~900 Hz): below that
(sleep-lab rates and bands) :attr:`BandShape.has_shape` is false and those densities stay
NaN; the line and clean powers are measured at any rate whose band holds a line
(:attr:`BandShape.enabled`, fs >= ~150 Hz).

Every ``every_s``-th second's value (every 2nd: a burst of >= 8 s has >= 4, the minute
before it 30) comes from the first ``nfft`` samples of that second of the absolute
timeline (``nfft`` the power of two nearest fs/4: ~4-Hz bins), Hann-windowed, so the
values do not depend on how the samples were cut into chunks; the other seconds are
NaN.  Stage state: the partial block of the second being collected.
"""

from __future__ import annotations

import numpy as np

from detector.stages.buffers import Growable


class BandShape:
    def __init__(
        self,
        fs: float,
        n_ch: int,
        hi_hz: tuple[float, float] = (250.0, 400.0),
        mid_hz: tuple[float, float] = (60.0, 150.0),
        line_hz: float = 3.0,
        shape_mask_hz: float = 5.0,
        every_s: int = 2,
    ) -> None:
        self.fs = fs
        self.every = int(every_s)
        self.n_ch = n_ch
        self.per_s = int(round(fs))
        self.nfft = 1 << max(3, int(round(np.log2(max(fs, 8.0) / 4.0))))
        # per second and channel: power sums (µV², window-scaled) in the band's clean
        # bins (no 50/60-Hz multiple near), in its line bins, and the mean power densities
        # of the clean high and mid bands
        self.clean = Growable(n_ch, np.nan)
        self.line = Growable(n_ch, np.nan)
        self.hi = Growable(n_ch, np.nan)
        self.mid = Growable(n_ch, np.nan)
        f = np.fft.rfftfreq(self.nfft, 1.0 / fs)

        def off_lines(w: float) -> np.ndarray:
            keep = np.ones(f.size, dtype=bool)
            for base in (50.0, 60.0):
                keep &= np.abs(f - base * np.round(f / base)) > w
            return keep

        band = (f >= 20.0) & (f <= min(450.0, 0.45 * fs))
        # the line bins: the narrow peaks of hum; the band shape's bins keep further
        # away, out of the Hann window's main lobe around strong lines
        near = off_lines(line_hz)
        self._clean = band & near
        self._line = band & ~near
        keep = off_lines(shape_mask_hz)
        self._hi = keep & (f >= hi_hz[0]) & (f <= hi_hz[1])
        self._mid = keep & (f >= mid_hz[0]) & (f <= mid_hz[1])
        self.has_shape = hi_hz[1] <= 0.45 * fs and bool(self._hi.any() and self._mid.any())
        # the line share needs lines and clean bins inside the band (fs >= ~150 Hz)
        self.enabled = bool(self._line.any() and self._clean.any())
        self._win = np.hanning(self.nfft)
        self._blk = np.zeros((n_ch, self.nfft))
        self._blk_j = -1  # the second being collected, -1 none
        self._fill = 0

    def reset(self) -> None:
        """After a gap: drop a half-collected block."""
        self._blk_j = -1
        self._fill = 0

    def feed(self, x: np.ndarray, i0: int) -> None:
        """Raw samples ``x`` (channels, n) from absolute sample ``i0``."""
        if not self.enabled or x.shape[1] == 0:
            return
        n, per, L = x.shape[1], self.per_s, self.nfft
        i1 = i0 + n
        # a block already begun in an earlier chunk
        if self._blk_j >= 0:
            b0 = self._blk_j * per
            if i0 != b0 + self._fill:
                self.reset()
            else:
                take = min(L - self._fill, n)
                self._blk[:, self._fill : self._fill + take] = x[:, :take]
                self._fill += take
                if self._fill == L:
                    self._finish(np.array([self._blk_j]), self._blk[:, None, :])
                    self.reset()
        # blocks starting inside this chunk: every ``every_s``-th second's first L samples
        step = self.every * per
        b = -(-i0 // step) * step
        n_whole = (i1 - L - b) // step + 1 if b + L <= i1 else 0
        if n_whole > 0:
            # (ch, blocks, L), a strided view of x (blocks ``step`` apart, each inside x),
            # copied C-ordered like a block collected piece by piece (numpy's sums run in
            # another order over a strided array, and the bits would differ)
            sc, ss = x.strides
            view = np.lib.stride_tricks.as_strided(
                x[:, b - i0 :], shape=(x.shape[0], n_whole, L), strides=(sc, step * ss, ss),
                writeable=False,
            )  # fmt: skip
            js = (b + step * np.arange(n_whole)) // per
            self._finish(js, np.ascontiguousarray(view))
        b += n_whole * step
        if b < i1:  # a block begun here, finished by a later chunk
            self._blk_j, self._fill = b // per, i1 - b
            self._blk[:, : self._fill] = x[:, b - i0 :]

    def _finish(self, js: np.ndarray, blocks: np.ndarray) -> None:
        b = blocks - blocks.mean(axis=-1, keepdims=True)
        p = np.abs(np.fft.rfft(b * self._win, axis=-1)) ** 2
        s1 = int(js[-1]) + 1
        # (store, bins, as a mean density rather than a power sum)
        parts: list[tuple[Growable, np.ndarray, bool]] = [
            (self.clean, self._clean, False),
            (self.line, self._line, False),
        ]
        if self.has_shape:
            parts += [(self.hi, self._hi, True), (self.mid, self._mid, True)]
        for g, sel, density in parts:
            v = p[:, :, sel]
            g.ensure(s1)
            g.a[js] = (v.mean(axis=-1) if density else v.sum(axis=-1)).T

    def of_seconds(self, s0: int, s1: int) -> np.ndarray:
        """Seconds ``s0 .. s1 - 1`` as (4, seconds, channels): clean power, line power,
        high-band and mid-band density; NaN where none was measured (before the night,
        in a gap, or not yet)."""
        out = np.full((4, max(0, s1 - s0), self.n_ch), np.nan)
        a = max(0, s0)
        for i, g in enumerate((self.clean, self.line, self.hi, self.mid)):
            b = min(s1, g.a.shape[0])  # the high/mid rows stay empty without a shape
            if b > a:
                out[i, a - s0 : b - s0] = g.a[a:b]
        return out
