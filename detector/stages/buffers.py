"""Storage shared by the stages: whole-night per-second rows and a ring of recent frames.

Both are indexed by *absolute* numbers (second ``s``, frame ``k``), never by a position
that depends on how the samples were chunked.
"""

from __future__ import annotations

import numpy as np


class Growable:
    """A 2-D float array indexed by an absolute row number that grows on demand.

    Per-second stores for the whole night are small (28 800 rows for 8 h).
    """

    def __init__(self, n_cols: int, fill: float = 0.0) -> None:
        self.n_cols = n_cols
        self.fill = fill
        self.a = np.full((1024, n_cols), fill)
        self.n = 0  # rows in use (highest written row + 1)

    def ensure(self, n_rows: int) -> None:
        if n_rows > self.a.shape[0]:
            new = max(n_rows, 2 * self.a.shape[0])
            b = np.full((new, self.n_cols), self.fill)
            b[: self.a.shape[0]] = self.a
            self.a = b
        self.n = max(self.n, n_rows)

    def view(self) -> np.ndarray:
        return self.a[: self.n]


class FrameRing:
    """The last ``n_frames`` frames, ``width`` columns each, addressed by absolute frame.

    ``put(k0, cols, v)`` writes ``v`` (columns, frames) as frames ``k0 ..``; ``get(k0, k1)``
    reads frames ``k0 .. k1 - 1`` as (frames, width).  Frames older than ``n_frames``
    behind the newest written are overwritten: the reader must not ask for them.
    """

    def __init__(self, n_frames: int, width: int) -> None:
        self.n = n_frames
        self.a = np.zeros((n_frames, width))

    def put(self, k0: int, cols: slice, v: np.ndarray) -> None:
        n = v.shape[1]
        if n > self.n:
            k0, v, n = k0 + n - self.n, v[:, n - self.n :], self.n
        p0 = k0 % self.n
        first = min(n, self.n - p0)
        self.a[p0 : p0 + first, cols] = v[:, :first].T
        if first < n:
            self.a[: n - first, cols] = v[:, first:].T

    def get(self, k0: int, k1: int) -> np.ndarray:
        pos = np.arange(k0, k1) % self.n
        return self.a[pos]
