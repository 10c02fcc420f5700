"""The one narrow interface between where samples come from and what processes them.

Every source of samples -- the live BLE sensor, a saved native recording, a sleep-lab
EDF/EDF+ file, the synthetic night generator -- is a :class:`Source`: it announces a
:class:`StreamLayout` once, then yields :class:`Chunk` items (samples) and :class:`Gap`
items (time for which no samples exist) in time order.  Everything downstream (the
detector, the recording writer, the cramp log) sees only this, so events cannot depend
on where the samples came from or how they were cut into chunks.

Conventions
-----------
* Time is the *recording timeline*: seconds from the first sample of the recording, on
  the sensor's own clock.  EMG sample ``i`` is at ``i / emg_fs`` s and accelerometer
  sample ``j`` at ``j / acc_fs`` s.  A gap consumes timeline indices: the samples after a
  gap keep their true position in time.
* EMG is float64 in microvolts (µV), shape ``(n, n_channels)``.
* Acceleration is float64 in standard gravity (g), shape ``(m, 3)``; ``m`` may be 0, and
  is always 0 when the source has no accelerometer (``layout.acc_fs is None``).
* Within one source, the EMG indices of successive chunks are contiguous unless a
  :class:`Gap` stands between them; the same holds for accelerometer indices.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: Muscle sites a channel can be tagged with.  ``calf`` covers gastrocnemius and soleus
#: when the source does not say which head.
SITES = ("calf", "gastrocnemius", "soleus", "tibialis", "thigh", "foot", "unknown")

#: The legs a channel can be on.
LEGS = ("left", "right")


@dataclass(frozen=True)
class StreamLayout:
    """What a source delivers, known before the first sample."""

    emg_fs: float
    """EMG sampling rate in Hz (all EMG channels share it)."""
    emg_labels: tuple[str, ...]
    """One label per EMG channel, as the source names it (e.g. ``"EMG1"``, ``"LAT"``)."""
    emg_sites: tuple[str, ...]
    """One muscle site per EMG channel, from :data:`SITES`."""
    acc_fs: float | None = None
    """Accelerometer sampling rate in Hz, or ``None`` when there is no accelerometer."""
    start_utc: datetime | None = None
    """Wall-clock time (timezone-aware, UTC) of timeline t = 0, when known."""
    side: str = "unknown"
    """Which leg: ``left``, ``right`` or ``unknown``; ``both`` when ``emg_sides`` names
    two legs."""
    emg_sides: tuple[str, ...] = ()
    """One leg per EMG channel (``left`` / ``right``) when the source records both legs;
    empty (every one-leg layout): all channels are on ``side``.  See :meth:`legs`."""
    extra: dict[str, str] = field(default_factory=dict, compare=False)
    """Free-form identity facts (device address, file name, ...), for display only."""

    def __post_init__(self) -> None:
        if not self.emg_fs > 0:
            raise ValueError(f"emg_fs must be > 0 Hz, got {self.emg_fs!r}")
        if len(self.emg_labels) == 0:
            raise ValueError("a source needs at least one EMG channel")
        if len(self.emg_labels) != len(self.emg_sites):
            raise ValueError("emg_labels and emg_sites differ in length")
        for s in self.emg_sites:
            if s not in SITES:
                raise ValueError(f"unknown muscle site {s!r}; expected one of {SITES}")
        if self.acc_fs is not None and not self.acc_fs > 0:
            raise ValueError(f"acc_fs must be > 0 Hz or None, got {self.acc_fs!r}")
        if self.emg_sides:
            if len(self.emg_sides) != len(self.emg_labels):
                raise ValueError("emg_sides and emg_labels differ in length")
            for s in self.emg_sides:
                if s not in LEGS:
                    raise ValueError(f"unknown leg {s!r} in emg_sides; expected one of {LEGS}")

    @property
    def n_emg(self) -> int:
        return len(self.emg_labels)

    def legs(self) -> list[tuple[str, tuple[int, ...], StreamLayout]]:
        """The legs this source records: ``(side, channel indices, one-leg layout)``.

        One entry (the layout itself, all channels) unless ``emg_sides`` names both
        legs; then left first, each with the channels of that leg, the shared sampling
        rates, accelerometer and clock.
        """
        if len(set(self.emg_sides)) < 2:
            return [(self.side, tuple(range(self.n_emg)), self)]
        out = []
        for leg in LEGS:
            idx = tuple(i for i, s in enumerate(self.emg_sides) if s == leg)
            sub = replace(
                self,
                emg_labels=tuple(self.emg_labels[i] for i in idx),
                emg_sites=tuple(self.emg_sites[i] for i in idx),
                side=leg,
                emg_sides=(),
            )
            out.append((leg, idx, sub))
        return out

    @staticmethod
    def of_legs(layouts: Sequence[StreamLayout]) -> StreamLayout:
        """One layout for one-leg layouts of distinct sides (two sensors, one per leg),
        their channels in order; sampling rates and clock from the first."""
        if len(layouts) == 1:
            return layouts[0]
        sides = [lay.side for lay in layouts]
        if sorted(sides) != sorted(set(sides)) or not set(sides) <= set(LEGS):
            raise ValueError(f"one layout per leg (left, right) needed, got sides {sides}")
        first = layouts[0]
        return replace(
            first,
            emg_labels=tuple(lb for lay in layouts for lb in lay.emg_labels),
            emg_sites=tuple(st for lay in layouts for st in lay.emg_sites),
            side="both",
            emg_sides=tuple(lay.side for lay in layouts for _ in lay.emg_labels),
            extra={k: v for lay in layouts for k, v in lay.extra.items()},
        )


@dataclass(frozen=True, eq=False)
class Chunk:
    """A run of samples. ``emg[k]`` is at timeline index ``emg_start + k``."""

    emg_start: int
    emg: np.ndarray
    acc_start: int = 0
    acc: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))

    def __post_init__(self) -> None:
        if self.emg.ndim != 2:
            raise ValueError(f"emg must be 2-D (samples, channels), got shape {self.emg.shape}")
        if self.acc.ndim != 2 or self.acc.shape[1] != 3:
            raise ValueError(f"acc must have shape (m, 3), got {self.acc.shape}")

    @property
    def emg_stop(self) -> int:
        return self.emg_start + self.emg.shape[0]

    @property
    def acc_stop(self) -> int:
        return self.acc_start + self.acc.shape[0]


@dataclass(frozen=True)
class Gap:
    """Timeline span with no samples.  ``reason`` says why, for the user."""

    start_s: float
    end_s: float
    reason: str = "unknown"
    """``link`` (BLE loss not recovered), ``sensor-loss`` (sensor no longer held it),
    ``reboot``, ``corrupt``, ``edf-discontinuity``, ``crash``, ``unknown``."""
    side: str = ""
    """The leg without samples (``left`` / ``right``) in a night recorded by one sensor
    per leg; empty: every channel of the source."""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@runtime_checkable
class Source(Protocol):
    """Anything that delivers samples.  See the module docstring for the contract."""

    layout: StreamLayout

    def chunks(self) -> Iterator[Chunk | Gap]:
        """Yield chunks and gaps in time order, once."""
        ...

    def wall_time(self, t_s: float) -> datetime | None:
        """The wall-clock (UTC) time of timeline second ``t_s``, or ``None`` if unknown."""
        ...


def simple_wall_time(layout: StreamLayout, t_s: float) -> datetime | None:
    """``start_utc + t_s``: the wall-clock mapping for sources with a trustworthy clock."""
    if layout.start_utc is None:
        return None
    return layout.start_utc + timedelta(seconds=float(t_s))


class ArraySource:
    """A source over in-memory arrays, cut into chunks of ``chunk_s`` seconds.

    For tests and small data; real nights stream from files or the sensor.
    """

    def __init__(
        self,
        layout: StreamLayout,
        emg: np.ndarray,
        acc: np.ndarray | None = None,
        chunk_s: float = 1.0,
    ) -> None:
        emg = np.asarray(emg, dtype=np.float64)
        if emg.ndim == 1:
            emg = emg[:, None]
        if acc is None:
            acc = np.zeros((0, 3))
        self.layout = layout
        self._emg = emg
        self._acc = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
        self._chunk_s = float(chunk_s)

    def chunks(self) -> Iterator[Chunk | Gap]:
        n = self._emg.shape[0]
        step = max(1, int(round(self._chunk_s * self.layout.emg_fs)))
        acc_fs = self.layout.acc_fs
        m = self._acc.shape[0]
        for i0 in range(0, n, step):
            i1 = min(n, i0 + step)
            if acc_fs:
                j0 = min(m, int(np.ceil(i0 / self.layout.emg_fs * acc_fs - 1e-9)))
                j1 = m if i1 == n else min(m, int(np.ceil(i1 / self.layout.emg_fs * acc_fs - 1e-9)))
            else:
                j0 = j1 = 0
            yield Chunk(i0, self._emg[i0:i1], j0, self._acc[j0:j1])

    def wall_time(self, t_s: float) -> datetime | None:
        return simple_wall_time(self.layout, t_s)


def coalesce(items: Iterable[Chunk | Gap], max_samples: int) -> Iterator[Chunk | Gap]:
    """Join contiguous chunks into chunks of up to ``max_samples`` EMG samples.

    The detector gives the same events whatever the chunking, but each push has a fixed
    cost: an 8-h night pushed in 10-s chunks costs about 2.7 times the CPU of 300-s chunks
    (3.5 s against 1.3 s, 2 channels at 1 kHz).  Sources cut where it suits them (frames,
    EDF records); bulk consumers (replay, detect) re-cut here, live keeps its small chunks.
    Gaps, and any discontinuity of the EMG or accelerometer index, pass through and close
    the chunk being built; nothing is reordered, dropped or copied twice.
    """
    if max_samples < 1:
        raise ValueError(f"max_samples must be >= 1, got {max_samples}")
    held: list[Chunk] = []
    n_held = 0

    def flush() -> Iterator[Chunk]:
        nonlocal held, n_held
        if len(held) == 1:
            yield held[0]
        elif held:
            yield Chunk(
                held[0].emg_start,
                np.concatenate([c.emg for c in held]),
                held[0].acc_start,
                np.concatenate([c.acc for c in held]),
            )
        held, n_held = [], 0

    for item in items:
        if isinstance(item, Gap):
            yield from flush()
            yield item
            continue
        if held and (
            item.emg_start != held[-1].emg_stop
            or item.acc_start != held[-1].acc_stop
            or item.emg.shape[1] != held[-1].emg.shape[1]
        ):
            yield from flush()
        held.append(item)
        n_held += item.emg.shape[0]
        if n_held >= max_samples:
            yield from flush()
    yield from flush()


#: Chunk length (s) for bulk runs (replay, detect, EDF): see :func:`coalesce`.
BULK_CHUNK_S = 300.0


def leg_layouts_of(source: Any) -> list[StreamLayout]:
    """The one-leg layouts of a source that gives each leg's items itself
    (``leg_layouts`` and ``leg_items()``: a night of one sensor per leg, or the EDF+
    export of one), else ``[]`` (the source is one stream: ``chunks()``)."""
    legs = getattr(source, "leg_layouts", None)
    return list(legs) if legs and callable(getattr(source, "leg_items", None)) else []


def bulk_chunks(source: Source, seconds: float = BULK_CHUNK_S) -> Iterator[Chunk | Gap]:
    """``source.chunks()`` re-cut into pieces of ``seconds`` (same events, less CPU)."""
    return coalesce(source.chunks(), max(1, int(seconds * source.layout.emg_fs)))
