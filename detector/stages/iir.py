"""The front end's IIR filters without importing ``scipy.signal`` (~0.5 s per process).

:func:`butter2`, :func:`notch_sos`, :func:`sosfilt_zi` give bit for bit what
``scipy.signal.butter(2, fc, btype, fs=fs, output="sos")``,
``tf2sos(*iirnotch(f, q, fs=fs))`` and ``sosfilt_zi(sos)`` give: the same numpy operations
in the same order, taken from scipy's own code for these cases (one second-order section
each; scipy is BSD-licensed).  :func:`sosfilt` runs scipy's compiled second-order-section
kernel (the one ``scipy.signal.sosfilt`` calls), loaded without the rest of
``scipy.signal``; if that cannot be done, it falls back to ``scipy.signal.sosfilt``.
``tests/detector/test_iir.py`` checks all four against scipy, bit for bit, over a grid of
rates and frequencies: the detected events cannot depend on this shortcut.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def _cplxreal(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy.signal._filter_design._cplxreal: conjugate pairs (one of each) and reals."""
    z = np.atleast_1d(z)
    if z.size == 0:
        return z, z
    tol = 100 * np.finfo((1.0 * z).dtype).eps
    z = z[np.lexsort((abs(z.imag), z.real))]
    real_indices = abs(z.imag) <= tol * abs(z)
    zr = z[real_indices].real
    if len(zr) == len(z):
        return np.array([]), zr
    z = z[~real_indices]
    zp = z[z.imag > 0]
    zn = z[z.imag < 0]
    if len(zp) != len(zn):
        raise ValueError("complex value with no matching conjugate")
    same_real = np.diff(zp.real) <= tol * abs(zp[:-1])
    diffs = np.diff(np.concatenate(([0], same_real, [0])))
    run_starts = np.nonzero(diffs > 0)[0]
    run_stops = np.nonzero(diffs < 0)[0]
    for i in range(len(run_starts)):
        start, stop = run_starts[i], run_stops[i] + 1
        for chunk in (zp[start:stop], zn[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    if any(abs(zp - zn.conj()) > tol * abs(zn)):
        raise ValueError("complex value with no matching conjugate")
    return (zp + zn.conj()) / 2, zr


def _poly(seq: np.ndarray) -> np.ndarray:
    """scipy.signal._polyutils.poly (numpy's np.poly, 1-D)."""
    a = np.ones((1,), dtype=seq.dtype)
    one = np.ones_like(seq[0])
    for zero in seq:
        a = np.convolve(a, np.stack((one, -zero)), mode="full")
    if np.iscomplexobj(a):
        roots = np.asarray(seq, dtype=np.complex128)
        if np.all(np.sort(np.imag(roots)) == np.sort(np.imag(np.conj(roots)))):
            a = np.asarray(np.real(a), copy=True)
    return a


def _section(z: list[Any], p: list[Any]) -> np.ndarray:
    """scipy's _single_zpksos(z, p, 1): one section [b0 b1 b2 a0 a1 a2]."""
    sos = np.zeros(6)
    zz, pp = np.asarray(z), np.asarray(p)
    k = np.asarray(1, dtype=np.result_type(np.real(zz), np.real(pp), 1))
    b = np.multiply(k, _poly(zz))
    a = np.atleast_1d(np.asarray(_poly(pp)))
    sos[3 - len(b) : 3] = b
    sos[6 - len(a) : 6] = a
    return sos


def _nearest(fro: np.ndarray, to: complex, which: str) -> int:
    order = np.argsort(np.abs(fro - to))
    if which == "any":
        return int(order[0])
    mask = np.isreal(fro[order])
    return int(order[np.nonzero(mask)[0][0]])


def _zpk2sos_2(z: np.ndarray, p: np.ndarray, k: Any) -> np.ndarray:
    """scipy's zpk2sos (digital, ``nearest`` pairing) for two zeros and one conjugate
    pole pair: the one path these filters take."""
    z, p, kk = np.asarray(z), np.asarray(p), np.asarray(k)
    z = np.concatenate(_cplxreal(z))
    p = np.concatenate(_cplxreal(p))
    if len(p) != 1 or np.isreal(p[0]) or len(z) not in (1, 2):
        raise ValueError("not a single section with a conjugate pole pair")
    p1 = p[int(np.argmin(np.abs(1 - np.abs(p))))]
    p2 = p1.conj()
    z1_idx = _nearest(z, p1, "any")
    z1 = z[z1_idx]
    z = np.delete(z, z1_idx)
    if not np.isreal(z1):
        sec = _section([z1, z1.conj()], [p1, p2])
    else:
        z2 = z[_nearest(z, p1, "real")]
        sec = _section([z1, z2], [p1, p2])
    sos = sec[None, :].copy()
    sos[0][:3] *= kk.real
    return sos


def butter2(fc: float, fs: float, btype: str) -> np.ndarray:
    """``scipy.signal.butter(2, fc, btype=btype, fs=fs, output="sos")``, bit for bit
    (``btype``: ``highpass`` or ``lowpass``)."""
    fs = float(fs)
    wn = np.asarray(fc, dtype=np.float64) / (fs / 2)
    if not 0 < wn < 1:
        raise ValueError(f"critical frequency {fc} Hz not in (0, {fs / 2}) Hz")
    warped = 2 * 2.0 * np.tan(np.pi * wn / 2.0)
    # analog prototype (buttap(2))
    m = np.arange(-1, 2, 2, dtype=np.float64)
    p = -np.exp(1j * np.pi * m / 4)
    z = np.asarray([], dtype=np.float64)
    k = 1.0
    wo = float(warped)
    if btype == "highpass":
        z_hp = np.concatenate((wo / z, np.zeros(2)))
        p_hp = wo / p
        k = k * np.real(np.prod(-z) / np.prod(-p))
        z, p = z_hp, p_hp
    elif btype == "lowpass":
        z, p = wo * z, wo * p
        k = k * wo**2
    else:
        raise ValueError(f"btype {btype!r}: highpass or lowpass")
    # bilinear_zpk(z, p, k, fs=2.0)
    fs2 = 2.0 * 2.0
    degree = len(p) - len(z)
    z_z = np.concatenate(((fs2 + z) / (fs2 - z), -np.ones(degree)))
    p_z = (fs2 + p) / (fs2 - p)
    k_z = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    return _zpk2sos_2(z_z, p_z, k_z)


def notch_sos(f0: float, q: float, fs: float) -> np.ndarray:
    """``scipy.signal.tf2sos(*scipy.signal.iirnotch(f0, q, fs=fs))``, bit for bit."""
    fs = float(fs)
    w0 = 2 * float(f0) / fs
    if w0 > 1.0 or w0 < 0.0:
        raise ValueError("w0 should be such that 0 < w0 < 1")
    bw = w0 / float(q)
    bw = bw * np.pi
    w0 = w0 * np.pi
    beta = math.tan(bw / 2.0)
    gain = 1.0 / (1.0 + beta)
    b = gain * np.asarray([1.0, -2.0 * math.cos(w0), 1.0])
    a = np.asarray([1.0, -2.0 * gain * math.cos(w0), (2.0 * gain - 1.0)])
    # tf2zpk: normalize (a[0] == 1), then roots
    b, a = b / a[0], a / a[0]
    k = b[0]
    b = b / b[0]
    return _zpk2sos_2(np.roots(b), np.roots(a), k)


def _lfilter_zi(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """scipy.signal.lfilter_zi for one section (a[0] == 1)."""
    if a[0] != 1.0:
        b = b / a[0]
        a = a / a[0]
    n = max(a.shape[0], b.shape[0])
    comp = np.zeros((n - 1, n - 1), dtype=(-a[1:] / (1.0 * a[0:1])).dtype)
    comp[0, :] = -a[1:] / (1.0 * a[0:1])
    comp[np.arange(1, n - 1), np.arange(0, n - 2)] = 1
    iminus_a = np.asarray(np.eye(n - 1) - comp.T, dtype=np.result_type(a, b))
    return np.asarray(np.linalg.solve(iminus_a, b[1:] - a[1:] * b[0]))


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """``scipy.signal.sosfilt_zi(sos)``, bit for bit: shape (n_sections, 2)."""
    sos = np.asarray(sos)
    zi = np.empty((sos.shape[0], 2), dtype=sos.dtype)
    scale = 1.0
    for s in range(sos.shape[0]):
        b, a = sos[s, :3], sos[s, 3:]
        zi[s, ...] = scale * _lfilter_zi(b, a)
        scale *= np.sum(b) / np.sum(a)
    return zi


Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray], None]


def _load_kernel() -> Kernel | None:
    """scipy's compiled ``_sosfilt(sos, x, zi)`` (in place; x (signals, n) and zi
    (signals, sections, 2), C-contiguous float64), without importing scipy.signal."""
    import sys

    name = "scipy.signal._sosfilt"
    try:
        mod = sys.modules.get(name)
        if mod is None:
            import importlib.machinery
            import importlib.util
            from pathlib import Path

            import scipy

            base = Path(scipy.__path__[0]) / "signal"
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = base / f"_sosfilt{suffix}"
                if path.exists():
                    break
            else:
                return None
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                return None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[name] = mod  # as the import system would: one copy per process
        kernel: Kernel = mod._sosfilt
        # the contract relied on, checked once against the recurrence written out
        sos = np.array([[0.5, 0.25, 0.125, 1.0, -0.5, 0.25]])
        x = np.array([[1.0, 2.0, 3.0, -1.0]])
        zi = np.array([[[0.5, -0.25]]])
        want, (z0, z1) = [], zi[0, 0]
        b0, b1, b2, _, a1, a2 = sos[0]
        for v in x[0]:
            y = b0 * v + z0
            z0, z1 = b1 * v - a1 * y + z1, b2 * v - a2 * y
            want.append(y)
        kernel(sos, x, zi)
        if x[0].tolist() != want or zi[0, 0].tolist() != [z0, z1]:
            return None
        return kernel
    except Exception:  # noqa: BLE001 - any doubt: the public function
        return None


_KERNEL: list[Kernel | None] = []  # empty until first use


def sosfilt(
    sos: np.ndarray, x: np.ndarray, zi: np.ndarray, lead: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``scipy.signal.sosfilt(sos, x, axis=-1, zi=zi)`` for float64 ``x`` (channels, n)
    and ``zi`` (sections, channels, 2): the filtered copy of ``x`` and the final state.

    ``lead`` (channels, m): columns to put before the filtered samples, in the same new
    array (``concatenate([lead, y], axis=1)``, without copying ``y`` a second time)."""
    if not _KERNEL:
        _KERNEL.append(_load_kernel())
    kernel = _KERNEL[0]
    if kernel is None:
        from scipy import signal

        y, zf = signal.sosfilt(sos, x, axis=-1, zi=zi)
        if lead is not None:
            y = np.concatenate([lead, y], axis=1)
        return y, zf
    z = np.array(np.moveaxis(zi, 0, 1), dtype=np.float64, order="C")
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    if lead is None:
        y = np.array(x, dtype=np.float64, order="C")  # copies, as sosfilt does
        kernel(sos, y, z)
        return y, np.moveaxis(z, 1, 0)
    m = lead.shape[1]
    y = np.empty((x.shape[0], m + x.shape[1]))
    y[:, :m] = lead
    y[:, m:] = x
    for i in range(y.shape[0]):  # one row at a time: each row's samples are contiguous
        kernel(sos, y[i : i + 1, m:], z[i : i + 1])
    return y, np.moveaxis(z, 1, 0)
