"""Electrode off: spells where a channel carries no signal become artifact events.

A second is flat on a channel when its raw signal is flat (stuck or pinned) in at least
``flat_frame_frac`` of its frames, or its EMG-band median is below ``flat_x_rest`` x the
resting level.  Runs of >= ``flat_min_s`` such seconds become ``artifact/electrode-off``
events, emitted when the run ends (DOMAIN.md: electrode off).  Stage state: the open run.
"""

from __future__ import annotations

import numpy as np

from detector.config import DetectorConfig
from detector.events import Event


class ElectrodeOff:
    def __init__(self, cfg: DetectorConfig, labels: tuple[str, ...]) -> None:
        self.cfg = cfg
        self.labels = labels
        self._run: tuple[int, int, set[int]] | None = None  # first s, end s, channels

    def push(
        self,
        secs: np.ndarray,
        lens: np.ndarray,
        flat_frames: np.ndarray,
        med: np.ndarray,
        rest: np.ndarray,
    ) -> list[Event]:
        """Completed seconds ``secs`` (ascending) with their frame counts ``lens``, flat
        frames (s, c), median 10-ms mean square (s, c, µV²) and resting level (s, c, µV).
        Returns the spells that ended."""
        cfg = self.cfg
        out: list[Event] = []
        with np.errstate(invalid="ignore"):
            low = med < (cfg.flat_x_rest * rest) ** 2
        flat = (flat_frames >= cfg.flat_frame_frac * lens[:, None]) | low
        any_flat = np.asarray(flat.any(axis=1))
        if not any_flat.any():
            if self._run is not None:
                out += self.close()
            return out
        for i, sc in enumerate(secs):
            sc = int(sc)
            if any_flat[i]:
                if self._run is None or sc != self._run[1]:
                    out += self.close()
                    self._run = (sc, sc + 1, set())
                else:
                    self._run = (self._run[0], sc + 1, self._run[2])
                self._run[2].update(int(j) for j in np.flatnonzero(flat[i]))
            elif self._run is not None:
                out += self.close()
        return out

    def close(self) -> list[Event]:
        """End the open spell (a gap, the end of the night); its event if long enough."""
        run = self._run
        self._run = None
        if run is None or run[1] - run[0] < self.cfg.flat_min_s:
            return []
        labels = tuple(self.labels[j] for j in sorted(run[2]))
        return [
            Event(
                kind="artifact",
                start_s=float(run[0]),
                end_s=float(run[1]),
                channels=labels,
                confidence=0.9,
                subtype="electrode-off",
                reason=f"no signal on {', '.join(labels)} for {run[1] - run[0]} s "
                "(flat, pinned or below the tissue noise): electrode off",
            )
        ]
