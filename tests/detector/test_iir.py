"""detector.stages.iir against scipy.signal itself, bit for bit: the front end's filters
without importing scipy.signal must give exactly what scipy gives (the golden events
depend on every bit)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from detector.stages import iir

RATES = (100.0, 128.0, 200.0, 250.0, 256.0, 333.3, 500.0, 512.0, 977.0, 1000.0, 1024.0,
         2000.0, 2048.0, 4000.0)  # fmt: skip


@pytest.mark.parametrize("fs", RATES)
def test_butter2_is_scipys(fs: float) -> None:
    for fc in (5.0, 10.0, 20.0, 0.1 * fs, 30.0, 100.0, 0.35 * fs, 0.45 * fs, 450.0):
        for btype in ("highpass", "lowpass"):
            if fc >= fs / 2:
                continue
            want = signal.butter(2, fc, btype=btype, fs=fs, output="sos")
            assert iir.butter2(fc, fs, btype).tobytes() == want.tobytes(), (fc, btype)


@pytest.mark.parametrize("fs", RATES)
def test_notch_is_scipys(fs: float) -> None:
    for f0 in [50.0 * h for h in range(1, 10)] + [60.0 * h for h in range(1, 9)] + [13.7]:
        if f0 >= 0.48 * fs:
            continue
        for q in (10.0, 30.0, 35.0):
            want = signal.tf2sos(*signal.iirnotch(f0, q, fs=fs))
            assert iir.notch_sos(f0, q, fs).tobytes() == want.tobytes(), (f0, q)


def _cascade(fs: float) -> np.ndarray:
    return np.vstack(
        [iir.butter2(20.0, fs, "highpass"), iir.butter2(0.35 * fs, fs, "lowpass")]
        + [iir.notch_sos(f, 30.0, fs) for f in (50.0, 100.0, 150.0, 60.0) if f < 0.48 * fs]
    )


@pytest.mark.parametrize("fs", (256.0, 1000.0, 2048.0))
def test_sosfilt_zi_and_sosfilt_are_scipys(fs: float) -> None:
    sos = _cascade(fs)
    assert iir.sosfilt_zi(sos).tobytes() == signal.sosfilt_zi(sos).tobytes()
    rng = np.random.default_rng(int(fs))
    zi = rng.normal(size=(sos.shape[0], 2, 2))
    # C-ordered (channels, n) and the transposed view of an (n, channels) chunk
    for x in (rng.normal(size=(2, 20_000)) * 40 + 7, (rng.normal(size=(3001, 2)) * 9).T):
        want_y, want_z = signal.sosfilt(sos, x, axis=-1, zi=zi)
        y, z = iir.sosfilt(sos, x, zi)
        assert y.tobytes() == np.ascontiguousarray(want_y).tobytes()
        assert np.array_equal(z, want_z) and z.shape == want_z.shape


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
