"""Test helper (no tests here): encode synthetic samples into real protocol frames (via the codec)."""

from __future__ import annotations

import math

import numpy as np

from firmware_protocol import codec

EMG_FS = 1000
ACC_FS = 50
PER_FRAME = 25  # EMG samples per channel per frame


def make_signals(n: int, n_ch: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    emg = rng.normal(0, 20.0, (n, n_ch))
    acc = rng.normal(0, 0.05, (n * ACC_FS // EMG_FS, 3)) + [0, 0, 1]
    return emg, acc


def frames_from(
    emg: np.ndarray,
    acc: np.ndarray | None,
    *,
    boot_id: int = 1,
    seq0: int = 0,
    index0: int = 0,
    t0_us: int = 0,
    per_frame: int = PER_FRAME,
    emg_fs: int = EMG_FS,
    acc_fs: int = ACC_FS,
) -> list[bytes]:
    """Frames covering ``emg`` (samples index0..), acc at acc_fs on the same timeline."""
    out = []
    n = emg.shape[0]
    step = emg_fs // acc_fs if acc is not None else 0
    for k, i in enumerate(range(0, n, per_frame)):
        i1 = min(n, i + per_frame)
        gi, gi1 = index0 + i, index0 + i1
        if acc is not None:
            a0 = math.ceil(gi / step)
            a1 = math.ceil(gi1 / step)
            ab = a0 - math.ceil(index0 / step)
            a = acc[ab : ab + (a1 - a0)]
            a1 = a0 + a.shape[0]
        else:
            a0, a = 0, None
        f = codec.DataFrame.from_samples(
            emg[i:i1],
            a,
            seq=seq0 + k,
            boot_id=boot_id,
            t_us=t0_us + int(round(gi * 1e6 / emg_fs)),
            emg_index=gi,
            acc_index=a0,
            emg_fs=emg_fs,
            acc_fs=acc_fs if acc is not None else 0,
        )
        out.append(codec.encode_frame(f))
    return out


def rx_times(
    frames: list[bytes],
    *,
    t0_ns: int = 1_780_000_000 * 10**9,
    per_frame: int = PER_FRAME,
    emg_fs: int = EMG_FS,
    latency_ms: float = 8.0,
) -> list[int]:
    return [
        t0_ns + int(((k + 1) * per_frame / emg_fs + latency_ms / 1000) * 1e9)
        for k in range(len(frames))
    ]
