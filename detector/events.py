"""The detector's output: events, and the per-night result around them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NoReturn, cast

if TYPE_CHECKING:  # pandas costs ~0.5 s to import; only the trace/epochs tables need it
    import pandas as pd

from detector.stream import Gap, StreamLayout

EventKind = Literal["cramp", "plm", "movement", "artifact"]
KINDS: tuple[str, ...] = ("cramp", "plm", "movement", "artifact")

NoticeKind = Literal["provisional", "retracted"]
"""An early notice (``docs/DETECTOR.md``): a cramp still going on, or its withdrawal."""


class FrozenContext(dict[str, Any]):
    """The read-only mapping of :attr:`Event.context`: a ``dict`` (so JSON, ``dict(...)``
    and ``**`` work as before) that refuses every change.  Build a new event with
    :func:`dataclasses.replace` instead."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("Event.context is read-only; use dataclasses.replace(event, context=...)")

    __setitem__ = __delitem__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]
    __ior__ = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[FrozenContext], tuple[dict[str, Any]]]:
        return (FrozenContext, (dict(self),))


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
    context: Mapping[str, Any] = field(default_factory=FrozenContext, compare=False)
    """For cramps: ``asleep_before`` (bool), ``woke_after`` (bool), ``moved_after_s``,
    ``walked_after_s`` (seconds after the end, or None), ``awake_after_s``,
    ``prerise_s``.  Read-only (:class:`FrozenContext`)."""
    notice: NoticeKind | None = field(default=None, compare=False)
    """``None`` for a final event.  An early notice from
    :meth:`detector.detect.Detector.take_notices`: ``"provisional"`` (a cramp still going
    on; ``end_s`` = when it was noticed) or ``"retracted"`` (that provisional cramp
    withdrawn; same ``start_s``)."""
    replaces_start_s: float | None = field(default=None, compare=False)
    """On a final cramp sent to live sinks: the ``start_s`` of the provisional cramp it
    replaces (the key of that row), else ``None``."""
    side: str = ""
    """Which leg: ``left``, ``right`` or ``both`` (a bilateral leg movement) when the night
    has two legs; empty for a one-leg night (its layout's ``side`` says which)."""

    def __post_init__(self) -> None:
        if type(self.context) is not FrozenContext:
            object.__setattr__(self, "context", FrozenContext(self.context))
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")
        if not self.end_s >= self.start_s:
            raise ValueError(f"event ends before it starts: {self.start_s} > {self.end_s}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def is_notice(self) -> bool:
        """A provisional cramp or its retraction, not a final event."""
        return self.notice is not None

    def record_context(self) -> dict[str, Any]:
        """:attr:`context` as written out (JSON, the cramp log's ``context_json``): with
        the notice as the stored flags ``provisional`` (true on a provisional cramp and
        its retraction), ``retracted`` and ``provisional_start_s``."""
        d = dict(self.context)
        if self.notice is not None:
            d["provisional"] = True
        if self.notice == "retracted":
            d["retracted"] = True
        if self.replaces_start_s is not None:
            d["provisional_start_s"] = self.replaces_start_s
        return d

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["notice"], d["replaces_start_s"]
        d["context"] = self.record_context()
        d["channels"] = list(self.channels)
        if not self.side:
            del d["side"]  # one-leg nights print as they always have
        d["duration_s"] = self.duration_s
        return d


class _Lazy:
    """A table not made yet: the function making it."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], pd.DataFrame]) -> None:
        self.make = make


def lazy_table(make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """A :class:`NightResult` ``trace``/``epochs`` value made by ``make()`` on first read,
    so a caller that never reads the tables (``cramp detect --json``) never imports pandas
    (~0.2 s).  Typed as the table it stands for: every read of the field gives the table."""
    return cast("pd.DataFrame", _Lazy(make))


class _Table:
    """The descriptor of a :class:`NightResult` table field: makes a :func:`lazy_table`
    on first read and keeps it.  Set on the class after the dataclass is made, so the
    field stays a required one in its place (a class value would be taken for its
    default)."""

    def __init__(self, name: str) -> None:
        self.slot = f"_{name}_table"

    def __get__(self, obj: object, owner: type | None = None) -> pd.DataFrame:
        if obj is None:
            raise AttributeError(self.slot)
        v = obj.__dict__[self.slot]
        if isinstance(v, _Lazy):
            v = obj.__dict__[self.slot] = v.make()
        return cast("pd.DataFrame", v)

    def __set__(self, obj: object, value: pd.DataFrame) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class NightResult:
    """Everything the detector learned about one recording.

    ``trace`` and ``epochs`` may be given as :func:`lazy_table`; reading them always
    gives the tables."""

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


NightResult.trace = _Table("trace")  # type: ignore[assignment]
NightResult.epochs = _Table("epochs")  # type: ignore[assignment]
