"""The front end's IIR filters, designed here, without importing ``scipy.signal``.

Importing ``scipy.signal`` costs ~0.5 s per process; the front end needs only three small
designs and one filter loop:

* :func:`butter2`: 2nd-order Butterworth high-pass or low-pass, one second-order section,
  by the bilinear transform of the analog prototype with the corner pre-warped.
* :func:`notch_sos`: the second-order IIR notch (a pair of zeros on the unit circle at
  ``f0``, poles just inside it), one section.
* :func:`sosfilt_zi`: the state of each section at rest under a unit step.
* :func:`sosfilt`: runs the cascade with a compiled kernel (see :func:`_load_kernel`).

Sections are rows ``[b0 b1 b2 a0 a1 a2]`` with ``a0 == 1``, the layout of
``scipy.signal``'s ``sos`` arrays; a filter's gain sits in its numerator, and the sections
run in row order.  The state layout is the transposed direct form II (per section, input
``x``, output ``y``, state ``(z0, z1)``)::

    y  = b0 x + z0
    z0 <- b1 x - a1 y + z1
    z1 <- b2 x - a2 y

The designs agree with ``scipy.signal``'s to rounding (the last digits), not bit for bit;
``tests/detector/test_iir.py`` checks that over a grid of rates and frequencies, and checks
the defining properties (magnitude at DC, Nyquist, the corner; the notch's null and its
3-dB bandwidth; a constant input's constant output) without scipy.

References: A. V. Oppenheim, R. W. Schafer, *Discrete-Time Signal Processing* (ch. 7:
IIR design by the bilinear transform, pre-warping; ch. 6: transposed direct forms);
S. K. Mitra, *Digital Signal Processing: A Computer-Based Approach* (simple digital
filters: the second-order IIR notch); R. Bristow-Johnson, *Audio EQ Cookbook* (its LPF and
HPF are the same closed forms, with Q = 1/sqrt(2)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def butter2(fc: float, fs: float, btype: str) -> np.ndarray:
    """2nd-order Butterworth ``btype`` (``"lowpass"`` or ``"highpass"``) with its -3 dB
    corner at ``fc`` Hz for sampling rate ``fs`` Hz: one section, shape (1, 6).

    Analog prototype, corner 1 rad/s: ``H(s) = 1 / (s^2 + sqrt(2) s + 1)`` (its poles
    ``exp(±j 3pi/4)``; ``|H(j w)|^2 = 1 / (1 + w^4)``).  The bilinear transform maps the
    analog frequency ``W`` to the digital ``w`` by ``W = (2/T) tan(w/2)``, so pre-warping
    the corner and scaling ``s`` by it leaves, with ``K = tan(pi fc / fs)``::

        s  ->  (1/K) (1 - z^-1) / (1 + z^-1)          (low-pass)
        s  ->  K (1 + z^-1) / (1 - z^-1)              (high-pass: s -> 1/s first)

    Multiplying out by ``(1 + z^-1)^2`` (low-pass) or ``(1 - z^-1)^2`` (high-pass) and
    dividing by ``D = K^2 + sqrt(2) K + 1``::

        low-pass:   b = K^2/D [1,  2, 1]
        high-pass:  b = 1/D   [1, -2, 1]
        both:       a = [1, 2 (K^2 - 1)/D, (K^2 - sqrt(2) K + 1)/D]

    The digital magnitude is then exactly ``1 / (1 + (tan(w/2)/K)^4)`` (low-pass; the
    ratio inverted for the high-pass): 1 and 0 at DC and Nyquist, 1/sqrt(2) at ``fc``.
    """
    fs, fc = float(fs), float(fc)
    if not 0.0 < fc < fs / 2:
        raise ValueError(f"critical frequency {fc} Hz not in (0, {fs / 2}) Hz")
    k = math.tan(math.pi * fc / fs)
    kk = k * k
    r2k = math.sqrt(2.0) * k
    d = kk + r2k + 1.0
    a = [1.0, 2.0 * (kk - 1.0) / d, (kk - r2k + 1.0) / d]
    if btype == "lowpass":
        g = kk / d
        b = [g, 2.0 * g, g]
    elif btype == "highpass":
        g = 1.0 / d
        b = [g, -2.0 * g, g]
    else:
        raise ValueError(f"btype {btype!r}: highpass or lowpass")
    return np.array([b + a])


def notch_sos(f0: float, q: float, fs: float) -> np.ndarray:
    """Second-order IIR notch at ``f0`` Hz with quality factor ``q`` (``f0`` over the
    -3 dB bandwidth) for sampling rate ``fs`` Hz: one section, shape (1, 6).

    With ``w0 = 2 pi f0 / fs`` and bandwidth ``bw = w0 / q`` (rad/sample), the notch is
    ``H(z) = (1 + A(z)) / 2`` for the 2nd-order all-pass ``A(z)`` whose phase passes -pi
    at ``w0`` (Mitra).  Its closed form, with ``g = 1 / (1 + tan(bw/2))``::

        b = g [1, -2 cos w0, 1]         (zeros exp(±j w0): |H| = 0 at f0)
        a = [1, -2 g cos w0, 2g - 1]    (pole radius sqrt(2g - 1) < 1)

    ``|H| = 1`` at DC and Nyquist (numerator and denominator agree there: ``2g(1 -+ cos
    w0)`` both), and the two -3 dB frequencies lie ``bw`` apart.
    """
    fs, f0, q = float(fs), float(f0), float(q)
    if not 0.0 < f0 < fs / 2:
        raise ValueError(f"notch frequency {f0} Hz not in (0, {fs / 2}) Hz")
    if not q > 0.0:
        raise ValueError(f"notch quality factor {q}: must be > 0")
    w0 = 2.0 * math.pi * f0 / fs
    bw = w0 / q
    g = 1.0 / (1.0 + math.tan(bw / 2.0))
    c = math.cos(w0)
    return np.array([[g, -2.0 * g * c, g, 1.0, -2.0 * g * c, 2.0 * g - 1.0]])


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """Per-section state, shape (n_sections, 2), that a cascade holds at rest under a
    constant input of 1: scale it by the first sample to start a filter without the step
    response ringing through.

    At rest the state stops changing, so in the transposed direct form II (module
    docstring) with ``x = u`` constant and ``y = b0 u + z0``::

        z0 = b1 u - a1 (b0 u + z0) + z1      i.e.  (1 + a1) z0 - z1 = (b1 - a1 b0) u
        z1 = b2 u - a2 (b0 u + z0)           i.e.        a2 z0 + z1 = (b2 - a2 b0) u

    a 2x2 system; adding the rows eliminates ``z1``::

        z0 = (b1 + b2 - (a1 + a2) b0) u / (1 + a1 + a2),   z1 = (b2 - a2 b0) u - a2 z0

    (so ``y = b0 u + z0 = H(1) u``, the DC gain, as it must).  The determinant
    ``1 + a1 + a2`` is the denominator at ``z = 1``: it vanishes only with a pole at DC,
    which has no rest state.  In a cascade, section ``s`` sees ``u`` = the product of the
    DC gains of the sections before it (0 after a high-pass).
    """
    sos = np.asarray(sos, dtype=np.float64)
    if sos.ndim != 2 or sos.shape[1] != 6:
        raise ValueError(f"sos of shape {sos.shape}: must be (n_sections, 6)")
    zi = np.empty((sos.shape[0], 2))
    u = 1.0
    for s, (b0, b1, b2, a0, a1, a2) in enumerate(sos.tolist()):
        if a0 != 1.0:
            b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        det = 1.0 + a1 + a2
        if det == 0.0:
            raise ValueError(f"section {s} has a pole at z = 1: no rest state")
        z0 = (b1 + b2 - (a1 + a2) * b0) * u / det
        zi[s] = z0, (b2 - a2 * b0) * u - a2 * z0
        u *= (b0 + b1 + b2) / det
    return zi


Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray], None]


def _load_kernel() -> Kernel | None:
    """The compiled cascade loop of the installed scipy, or ``None``.

    This loads a *private* scipy extension module, ``scipy/signal/_sosfilt.*.so`` (the
    binary that ``scipy.signal.sosfilt`` itself calls), by its file path, so that
    ``scipy.signal`` is not imported.  Its contract, relied on here and not promised by
    scipy: ``_sosfilt(sos, x, zi)`` filters in place, ``x`` (signals, n) and ``zi``
    (signals, sections, 2), C-contiguous float64, transposed direct form II.

    On first use it checks itself: a short signal through the kernel must give bit for
    bit the recurrence of the module docstring written out in Python (not
    ``scipy.signal.sosfilt``, whose import is what this avoids).  If the file is missing,
    fails to load, or disagrees, this returns ``None`` and :func:`sosfilt` calls the
    public ``scipy.signal.sosfilt`` instead.  ``tests/detector/test_iir.py`` compares the
    kernel path with the public ``scipy.signal.sosfilt`` bit for bit and tests the
    fallback.  Checked on scipy 1.11.4 (the floor ``pyproject.toml`` requires) and 1.17.1.
    A later scipy that moves the module, or whose kernel fails the short check, only costs
    the import time back; a change the short check cannot see is what the test is for.
    """
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
    and ``zi`` (sections, channels, 2): the filtered copy of ``x`` and the final state,
    bit for bit (the same compiled loop, :func:`_load_kernel`, or the public function).

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
