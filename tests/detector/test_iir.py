"""detector.stages.iir: its filter designs against scipy.signal to rounding, against their
defining properties without scipy, and its compiled-kernel ``sosfilt`` against the public
``scipy.signal.sosfilt`` bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from detector.stages import iir

RATES = (100.0, 128.0, 200.0, 250.0, 256.0, 333.3, 500.0, 512.0, 977.0, 1000.0, 1024.0,
         2000.0, 2048.0, 4000.0)  # fmt: skip
# coefficients are O(1): a relative tolerance, and an absolute floor for the ones that are
# zero in exact arithmetic (cos(w0) at f0 = fs/4 comes out ~1e-16 either way)
RTOL, ATOL = 1e-10, 1e-14


def _corners(fs: float) -> list[float]:
    cands = (5.0, 10.0, 20.0, 0.1 * fs, 30.0, 100.0, 0.35 * fs, 0.45 * fs, 450.0)
    return [fc for fc in cands if fc < fs / 2]


def _notches(fs: float) -> list[float]:
    cands = [50.0 * h for h in range(1, 10)] + [60.0 * h for h in range(1, 9)] + [13.7]
    return [f for f in cands if f < 0.48 * fs]


def _response(sos: np.ndarray, w: np.ndarray) -> np.ndarray:
    """H(e^{jw}) of a cascade, from its coefficients (no scipy)."""
    z1 = np.exp(-1j * np.asarray(w, dtype=float))
    h = np.ones_like(z1)
    for b0, b1, b2, a0, a1, a2 in sos:
        h *= (b0 + b1 * z1 + b2 * z1**2) / (a0 + a1 * z1 + a2 * z1**2)
    return h


def _tdf2(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """The cascade run sample by sample in plain Python (transposed direct form II)."""
    y = [float(v) for v in x]
    for (b0, b1, b2, _, a1, a2), (z0, z1) in zip(sos.tolist(), zi.tolist(), strict=True):
        for n, v in enumerate(y):
            y[n] = out = b0 * v + z0
            z0, z1 = b1 * v - a1 * out + z1, b2 * v - a2 * out
    return np.array(y)


@pytest.mark.parametrize("fs", RATES)
def test_butter2_matches_scipy(fs: float) -> None:
    for fc in _corners(fs):
        for btype in ("highpass", "lowpass"):
            want = signal.butter(2, fc, btype=btype, fs=fs, output="sos")
            got = iir.butter2(fc, fs, btype)
            assert got.shape == want.shape == (1, 6) and got[0, 3] == 1.0
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{fc} {btype}")


@pytest.mark.parametrize("fs", RATES)
def test_notch_matches_scipy(fs: float) -> None:
    for f0 in _notches(fs):
        for q in (10.0, 30.0, 35.0):
            want = signal.tf2sos(*signal.iirnotch(f0, q, fs=fs))
            got = iir.notch_sos(f0, q, fs)
            assert got.shape == want.shape == (1, 6) and got[0, 3] == 1.0
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=f"{f0} {q}")


@pytest.mark.parametrize("fs", RATES)
def test_butter2_is_a_butterworth(fs: float) -> None:
    """1 and 0 at DC and Nyquist, 1/sqrt(2) at the corner, and in between exactly the
    bilinear-mapped Butterworth magnitude 1 / (1 + (tan(w/2) / tan(wc/2))^4)."""
    w = np.linspace(1e-3, math.pi - 1e-3, 997)
    for fc in _corners(fs):
        wc = 2 * math.pi * fc / fs
        ratio = np.tan(w / 2) / math.tan(wc / 2)
        lp, hp = iir.butter2(fc, fs, "lowpass"), iir.butter2(fc, fs, "highpass")
        h_lp = np.abs(_response(lp, np.array([0.0, wc, math.pi])))
        h_hp = np.abs(_response(hp, np.array([0.0, wc, math.pi])))
        # a low corner puts both poles near z = 1, where A(1) = 1 + a1 + a2 ~ 4 K^2 is a
        # difference of O(1) coefficients: rounding in them moves |H| there by ~eps / K^2
        tol = 1e-12 + 1e-15 / math.tan(wc / 2) ** 2
        np.testing.assert_allclose(h_lp, [1.0, 1 / math.sqrt(2), 0.0], rtol=tol, atol=tol)
        np.testing.assert_allclose(h_hp, [0.0, 1 / math.sqrt(2), 1.0], rtol=tol, atol=tol)
        np.testing.assert_allclose(
            np.abs(_response(lp, w)) ** 2, 1 / (1 + ratio**4), rtol=1e-9, atol=1e-13
        )
        np.testing.assert_allclose(
            np.abs(_response(hp, w)) ** 2, 1 / (1 + ratio**-4), rtol=1e-9, atol=1e-13
        )
        for sos in (lp, hp):  # stable: both poles inside the unit circle
            assert np.all(np.abs(np.roots(sos[0, 3:])) < 1)


@pytest.mark.parametrize("fs", RATES)
def test_notch_nulls_f0_and_is_bw_wide_at_3db(fs: float) -> None:
    """0 at f0, 1 at DC and Nyquist, never above 1, and the -3 dB points (found by
    bisection on each side of f0) lie w0/q apart."""
    for f0 in _notches(fs):
        for q in (10.0, 30.0):
            sos = iir.notch_sos(f0, q, fs)
            w0 = 2 * math.pi * f0 / fs
            h = np.abs(_response(sos, np.array([w0, 0.0, math.pi])))
            # at w0 a narrow notch divides the numerator's rounding by |A(e^jw0)| ~ bw
            np.testing.assert_allclose(h, [0.0, 1.0, 1.0], atol=1e-12 + 1e-13 * q / w0)
            grid = np.linspace(0, math.pi, 2001)
            assert np.all(np.abs(_response(sos, grid)) <= 1 + 1e-12)
            edges = []
            for lo, hi in ((0.0, w0), (w0, math.pi)):
                # |H|^2 - 1/2 changes sign once on each side of the null
                inside_at_lo = abs(_response(sos, np.array([lo]))[0]) ** 2 < 0.5
                for _ in range(80):
                    mid = (lo + hi) / 2
                    inside = abs(_response(sos, np.array([mid]))[0]) ** 2 < 0.5
                    lo, hi = (mid, hi) if inside == inside_at_lo else (lo, mid)
                edges.append((lo + hi) / 2)
            assert edges[1] - edges[0] == pytest.approx(w0 / q, rel=1e-9), (f0, q)


def _cascade(fs: float) -> np.ndarray:
    return np.vstack(
        [iir.butter2(20.0, fs, "highpass"), iir.butter2(0.35 * fs, fs, "lowpass")]
        + [iir.notch_sos(f, 30.0, fs) for f in (50.0, 100.0, 150.0, 60.0) if f < 0.48 * fs]
    )


@pytest.mark.parametrize("fs", (100.0, 256.0, 1000.0, 2048.0, 4000.0))
def test_sosfilt_zi_and_the_filtered_output_match_scipy(fs: float) -> None:
    sos = _cascade(fs)
    np.testing.assert_allclose(iir.sosfilt_zi(sos), signal.sosfilt_zi(sos), rtol=RTOL, atol=ATOL)
    # the whole chain with our designs and zi against scipy's designs and zi: the output
    # of a random signal with a DC offset agrees to 1e-10 of its peak (elementwise relative
    # error is meaningless at the zero crossings)
    ref = np.vstack(
        [
            signal.butter(2, 20.0, btype="highpass", fs=fs, output="sos"),
            signal.butter(2, 0.35 * fs, btype="lowpass", fs=fs, output="sos"),
        ]
        + [signal.tf2sos(*signal.iirnotch(f, 30.0, fs=fs)) for f in (50.0, 100.0, 150.0, 60.0)
           if f < 0.48 * fs]
    )  # fmt: skip
    x = np.random.default_rng(int(fs)).normal(size=(2, 20_000)) * 40 + 7
    y, _ = iir.sosfilt(sos, x, iir.sosfilt_zi(sos)[:, None, :] * x[:, 0][None, :, None])
    want, _ = signal.sosfilt(
        ref, x, axis=-1, zi=signal.sosfilt_zi(ref)[:, None, :] * x[:, 0][None, :, None]
    )
    np.testing.assert_allclose(y, want, rtol=0, atol=1e-10 * np.max(np.abs(want)))


@pytest.mark.parametrize("fs", (256.0, 1000.0, 2048.0))
def test_sosfilt_is_scipys_public_sosfilt(fs: float) -> None:
    sos = _cascade(fs)
    rng = np.random.default_rng(int(fs))
    zi = rng.normal(size=(sos.shape[0], 2, 2))
    # C-ordered (channels, n) and the transposed view of an (n, channels) chunk
    for x in (rng.normal(size=(2, 20_000)) * 40 + 7, (rng.normal(size=(3001, 2)) * 9).T):
        want_y, want_z = signal.sosfilt(sos, x, axis=-1, zi=zi)
        y, z = iir.sosfilt(sos, x, zi)
        assert y.tobytes() == np.ascontiguousarray(want_y).tobytes()
        assert np.array_equal(z, want_z) and z.shape == want_z.shape


@pytest.mark.parametrize("fs", (200.0, 1000.0, 4000.0))
def test_zi_holds_a_constant_input_at_rest_from_the_first_sample(fs: float) -> None:
    """With zi scaled by the constant, every output sample is the cascade's DC gain times
    it: 1 through low-pass and notches, 0 once a high-pass is in front (plain-Python run,
    no scipy)."""
    c = 37.5
    x = np.full(300, c)
    passes = np.vstack(
        [iir.butter2(0.35 * fs, fs, "lowpass"), iir.notch_sos(50.0, 30.0, fs),
         iir.butter2(0.2 * fs, fs, "lowpass"), iir.notch_sos(60.0, 10.0, fs)]
    )  # fmt: skip
    for sos, gain in ((passes, 1.0), (_cascade(fs), 0.0)):
        zi = iir.sosfilt_zi(sos)
        assert zi.shape == (sos.shape[0], 2)
        y = _tdf2(sos, x, zi * c)
        np.testing.assert_allclose(y, np.full_like(x, gain * c), rtol=1e-12, atol=1e-12 * c)
    # a section with a pole at z = 1 has no rest state
    with pytest.raises(ValueError):
        iir.sosfilt_zi(np.array([[1.0, 0.0, 0.0, 1.0, -1.0, 0.0]]))


def test_sosfilt_leaves_its_inputs_alone_and_chains() -> None:
    sos = _cascade(1000.0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5000))
    zi = iir.sosfilt_zi(sos)[:, None, :] * x[:, 0][None, :, None]
    x0, zi0 = x.copy(), zi.copy()
    y_all, z_all = iir.sosfilt(sos, x, zi)
    assert np.array_equal(x, x0) and np.array_equal(zi, zi0)
    y1, z1 = iir.sosfilt(sos, x[:, :1234], zi)
    y2, z2 = iir.sosfilt(sos, x[:, 1234:], z1)
    assert np.array_equal(np.concatenate([y1, y2], axis=1), y_all) and np.array_equal(z2, z_all)


def test_lead_columns_go_before_the_filtered_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    sos = _cascade(1000.0)
    rng = np.random.default_rng(4)
    x, lead = rng.normal(size=(2, 4000)), rng.normal(size=(2, 3))
    zi = rng.normal(size=(sos.shape[0], 2, 2))
    want_y, want_z = signal.sosfilt(sos, x, axis=-1, zi=zi)
    want = np.concatenate([lead, want_y], axis=1)
    for kernel in (iir._KERNEL[:], [None]):  # the compiled kernel, then the fallback
        monkeypatch.setattr(iir, "_KERNEL", kernel)
        y, z = iir.sosfilt(sos, x, zi, lead=lead)
        assert y.tobytes() == want.tobytes() and np.array_equal(z, want_z)


def test_the_fallback_is_scipys_public_sosfilt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the compiled kernel (another scipy layout), the public function runs."""
    sos = _cascade(500.0)
    x = np.random.default_rng(5).normal(size=(2, 3000))
    zi = np.zeros((sos.shape[0], 2, 2))
    monkeypatch.setattr(iir, "_KERNEL", [None])
    y, z = iir.sosfilt(sos, x, zi)
    want_y, want_z = signal.sosfilt(sos, x, axis=-1, zi=zi)
    assert np.array_equal(y, want_y) and np.array_equal(z, want_z)


def test_out_of_range_designs_are_refused() -> None:
    with pytest.raises(ValueError):
        iir.butter2(600.0, 1000.0, "highpass")
    with pytest.raises(ValueError):
        iir.butter2(20.0, 1000.0, "bandpass")
    with pytest.raises(ValueError):
        iir.notch_sos(600.0, 30.0, 1000.0)
    with pytest.raises(ValueError):
        iir.notch_sos(50.0, 0.0, 1000.0)
