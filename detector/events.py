"""The detector's output: events, and the per-night result around them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from detector.stream import Gap, StreamLayout

EventKind = Literal["cramp", "plm", "movement", "artifact"]
KINDS: tuple[str, ...] = ("cramp", "plm", "movement", "artifact")


@dataclass(frozen=True)
class Event:
    """One burst of activity, classified, with the reasons for its class.

    Times are seconds on the recording timeline (see :mod:`detector.stream`).
    Intensities are EMG RMS envelope values in µV and as multiples of the resting level
    (the adaptive baseline at onset).
    """

    kind: EventKind
    start_s: float
    end_s: float
    channels: tuple[str, ...] = ()
    peak_uv: float = 0.0
    mean_uv: float = 0.0
    peak_x_rest: float = 0.0
    mean_x_rest: float = 0.0
    confidence: float = 1.0
    subtype: str = ""
    """Finer class: ``turning``, ``walking``, ``stretch``, ``fidget``, ``twitch``,
    ``leg-movement``, ``electrode-off``, ``pop``, ``saturation``, ``mains``, ..."""
    reason: str = ""
    """One human sentence: why this kind."""
    context: dict[str, Any] = field(default_factory=dict, compare=False)
    """For cramps: ``asleep_before`` (bool), ``woke_after`` (bool), ``moved_after_s``,
    ``walked_after_s`` (seconds after the end, or None), ``awake_after_s``."""
    side: str = ""
    """Which leg: ``left``, ``right`` or ``both`` (a bilateral leg movement) when the night
    has two legs; empty for a one-leg night (its layout's ``side`` says which)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if not self.end_s >= self.start_s:
            raise ValueError(f"event ends before it starts: {self.start_s} > {self.end_s}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        if not self.side:
            del d["side"]  # one-leg nights print as they always have
        d["duration_s"] = self.duration_s
        return d


@dataclass
class NightResult:
    """Everything the detector learned about one recording."""

    layout: StreamLayout
    events: list[Event]
    gaps: list[Gap]
    trace: pd.DataFrame
    """One row per second of timeline: ``t_s``, ``emg_rms_uv`` (max over channels),
    ``rest_uv`` (adaptive resting level), ``activity_g`` (acc magnitude variability, NaN
    without accelerometer), ``posture`` (``lying``/``sitting``/``standing``/``unknown``)."""
    epochs: pd.DataFrame
    """One row per 30-s epoch: ``t_s``, ``state`` (``sleep``/``wake``/``gap``),
    ``posture``, ``activity``."""
    duration_s: float
    """Timeline span covered, first to last sample, in s (gaps included)."""
    detector_version: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    """Counters: samples, gap seconds, electrode-off seconds, corrupt frames, ...; for a
    two-leg night also ``bilateral`` (the rule used and what it merged) and ``legs``."""
    legs: dict[str, NightResult] = field(default_factory=dict)
    """A two-leg night: each leg's own night (``left``, ``right``), before the merge;
    empty for one leg."""
