"""The morning summary: one typed :class:`Summary` built from the cramp log, three renderings.

:func:`build_summary` reads one night (default: the latest) from a
:class:`~nightcramp.cramplog.CrampLog` once and returns a :class:`Summary` (dataclasses
all the way down); :func:`render_text` turns it into the short terminal report,
:meth:`Summary.to_dict` into the ``--json`` document (the same field names) and
:mod:`nightcramp.report_html` into the HTML page.  ``cramp summary`` and ``cramp demo``
print it.

Every state of the log gives a sensible summary, never an error: an empty log, a night
still being recorded, a night with no events, a night with nothing but gaps.

Definitions (units in the names)
--------------------------------
* coverage_pct: share of the recording span (first to last sample, timeline s) for
  which samples arrived, i.e. not inside a gap.
* electrode-off time: the detector's ``electrode_off_s`` counter, else the summed
  duration of ``artifact`` events of subtype ``electrode-off``.
* time in bed: 30-s epochs with posture ``lying`` (without posture: all epochs that are
  not gaps).  Sleep and wake: the detector's epoch states (actigraphy-style estimate,
  not polysomnography).
* awakening: a return to wakefulness after sleep onset -- a run of ``wake`` epochs
  between sleep epochs, or a cramp the detector saw wake the sleeper (``woke``); the two
  count once when they overlap.  The count in "In bed" and a cramp's "then: woke" use
  this one definition.
* PLM index: PLM events per hour of estimated sleep (AASM 2007 / WASM 2016 define PLMS
  index per hour of sleep); without a sleep estimate, per hour of recorded data.
* "what followed" a cramp: the detector's context (``woke_after``, ``awake_after_s``,
  ``walked_after_s``), else events starting within :data:`FOLLOW_WINDOW_S` of its end:
  a ``movement``/``stretch`` means stretched, ``movement``/``walking`` means walked.
* precision: confirmed / (confirmed + rejected) over the user's verdicts on detected
  cramps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any

from nightcramp.cramplog import CrampLog, night_date, parse_utc, utc_iso
from recordings.jsonout import jsonable

#: After a cramp ends, events starting within this many seconds count as what the person
#: did about it (stretching, walking it off).  300 s: the seed's remedies are done at once,
#: and the domain brief puts a cramp at seconds to ~10 min.
FOLLOW_WINDOW_S = 300.0
#: Epoch length of the detector's sleep/wake estimate, s (AASM scoring epochs).
EPOCH_S = 30.0
#: How many earlier nights the one-line comparison looks at.
COMPARE_NIGHTS = 14
#: Longest plausible recording, s (16 h): a night still "recording" after that was left
#: unfinished by a stopped recorder.
MAX_NIGHT_S = 16 * 3600.0
#: Trend window for the HTML page, days.
TREND_DAYS = 42


# ----------------------------------------------------------------------------- the types


class _Record:
    """A summary part: :meth:`to_dict` gives its JSON document (the field names)."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = jsonable(self)
        return d


@dataclass
class NightInfo(_Record):
    night_id: str
    status: str
    source: str | None
    device: str | None
    detector_version: str | None
    date: str | None
    """The evening the night belongs to (local start time minus 12 h), YYYY-MM-DD."""
    start_utc: str | None
    end_utc: str | None
    start_clock: str
    end_clock: str


@dataclass
class GapRow(_Record):
    start_s: float
    end_s: float
    duration_s: float
    reason: str
    start_clock: str
    leg: str | None = None
    """The one leg without data (a two-leg night's sensor), None for every channel."""


@dataclass
class Recording(_Record):
    duration_s: float
    recorded_s: float
    gap_s: float
    n_gaps: int
    gaps: list[GapRow]
    electrode_off_s: float
    coverage_pct: float | None


@dataclass
class Sleep(_Record):
    in_bed_s: float
    sleep_s: float
    wake_s: float
    efficiency_pct: float | None
    awakenings: int
    sleep_onset_t_s: float | None
    final_wake_t_s: float | None
    posture_known: bool


@dataclass
class Cramp(_Record):
    event_id: int
    start_s: float
    end_s: float
    start_utc: str | None
    clock: str
    duration_s: float
    peak_uv: float | None
    mean_uv: float | None
    peak_x_rest: float | None
    confidence: float | None
    channels: list[str]
    verdict: str | None
    pain: int | None
    muscle: str | None
    side: str | None
    eased_by: str | None
    soreness: int | None
    notes: str | None
    asleep_before: bool | None
    woke: bool | None
    stretched: bool
    walked: bool
    moved: bool
    awake_after_s: float | None
    what_followed: list[str]
    early_notice_s: float | None = None
    """Timeline s at which the detector's early notice of this cramp went out, if any."""
    leg: str | None = None
    """The leg the detector found it on (``left``/``right``), when known; ``side`` is
    the leg the sleeper said they felt it in."""


@dataclass
class FeltCramp(_Record):
    cramp_id: int
    night_id: str | None
    at_utc: str
    date: str
    """Local calendar date of ``at_utc``."""
    clock: str
    duration_s: float | None
    pain: int | None
    muscle: str | None
    side: str | None
    eased_by: str | None
    soreness: int | None
    notes: str


@dataclass
class Plm(_Record):
    count: int
    """Periodic leg movements in sleep (PLMS), the index's numerator."""
    index_per_h: float | None
    per: str
    sleep_h: float | None
    awake: int = 0
    """PLMs of series while awake (PLMW, subtype ``wake``): not in the index."""


@dataclass
class EventRow(_Record):
    event_id: int
    kind: str
    subtype: str | None
    start_s: float
    end_s: float
    clock: str
    duration_s: float
    peak_uv: float | None
    peak_x_rest: float | None
    confidence: float | None
    verdict: str | None
    reason: str | None


@dataclass
class Evening(_Record):
    date: str
    water_l: float | None = None
    stretch: bool | None = None
    exercise: bool | None = None
    long_sitting: bool | None = None
    long_standing: bool | None = None
    crossed_legs: bool | None = None
    hard_floor: bool | None = None
    tired: int | None = None
    supplement: str | None = None
    notes: str | None = None

    @classmethod
    def from_row(cls, r: dict[str, Any] | None) -> Evening | None:
        if r is None:
            return None
        return cls(
            date=str(r["date"]),
            water_l=r.get("water_l"),
            stretch=_b(r.get("stretch")),
            exercise=_b(r.get("exercise")),
            long_sitting=_b(r.get("long_sitting")),
            long_standing=_b(r.get("long_standing")),
            crossed_legs=_b(r.get("crossed_legs")),
            hard_floor=_b(r.get("hard_floor")),
            tired=r.get("tired"),
            supplement=r.get("supplement") or None,
            notes=r.get("notes") or None,
        )

    def text(self) -> str:
        """``water 1.2 L, no stretch, no exercise, long sitting, magnesium``."""
        bits = []
        if self.water_l is not None:
            bits.append(f"water {self.water_l:g} L")
        for name, label in (
            ("stretch", "stretch"),
            ("exercise", "exercise"),
            ("long_sitting", "long sitting"),
            ("long_standing", "long standing"),
        ):
            v = getattr(self, name)
            if v is not None:
                bits.append(label if v else f"no {label}")
        if self.supplement:
            bits.append(self.supplement)
        return ", ".join(bits) or "recorded, no details"


@dataclass
class Comparison(_Record):
    nights: int
    line: str
    mean_cramps: float | None = None
    mean_plm_index: float | None = None


@dataclass
class Precision(_Record):
    kind: str
    detected: int
    confirmed: int
    rejected: int
    unreviewed: int
    felt_not_detected: int
    precision: float | None

    @classmethod
    def from_log(cls, d: dict[str, Any]) -> Precision:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


@dataclass
class Precisions(_Record):
    night: Precision | None
    all: Precision


@dataclass
class TrendRow(_Record):
    date: str | None
    night_id: str
    start_utc: str | None
    start_clock: str
    cramps: int
    felt: int
    plms: int
    water_l: float | None
    stretch: bool | None
    exercise: bool | None
    long_sitting: bool | None
    long_standing: bool | None
    supplement: str | None


@dataclass
class Habit(_Record):
    habit: str
    nights_with: int
    nights_without: int
    cramps_with: float
    cramps_without: float


@dataclass
class Summary(_Record):
    """Everything the three renderings show; built once by :func:`build_summary`."""

    log: str
    night: NightInfo | None
    precision: Precisions
    messages: list[str] = field(default_factory=list)
    recording: Recording | None = None
    sleep: Sleep | None = None
    cramps: list[Cramp] = field(default_factory=list)
    felt_cramps: list[FeltCramp] = field(default_factory=list)
    plm: Plm | None = None
    other_events: dict[str, int] = field(default_factory=dict)
    events: list[EventRow] = field(default_factory=list)
    evening: Evening | None = None
    comparison: Comparison | None = None
    trends: list[TrendRow] = field(default_factory=list)
    habits: list[Habit] = field(default_factory=list)
    orphaned_annotations: int = 0
    legs: list[str] = field(default_factory=list)
    """``["left", "right"]`` for a night recorded on both legs, else empty."""


# ----------------------------------------------------------------------------- helpers


def _local(t: datetime | None) -> datetime | None:
    return t.astimezone() if t is not None else None


def clock(t: datetime | None, seconds: bool = False) -> str:
    """Local clock time ``HH:MM`` (or ``HH:MM:SS``), ``--:--`` when unknown."""
    lt = _local(t)
    if lt is None:
        return "--:--"
    return lt.strftime("%H:%M:%S" if seconds else "%H:%M")


def fmt_duration(s: float | None) -> str:
    """``45 s``, ``3 min 10 s``, ``7 h 12 min``."""
    if s is None or not math.isfinite(s):
        return "?"
    s = float(s)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        m, r = divmod(int(round(s)), 60)
        return f"{m} min {r} s" if r else f"{m} min"
    h, r = divmod(int(round(s / 60)), 60)
    return f"{h} h {r:02d} min"


def _b(v: Any) -> bool | None:
    return None if v is None else bool(v)


def _wake_runs(epochs: Any) -> list[tuple[float, float]]:
    """(start, end) timeline s of each run of ``wake`` epochs between sleep epochs."""
    runs: list[tuple[float, float]] = []
    if epochs is None or len(epochs) == 0:
        return runs
    seen_sleep = False
    run: list[float] | None = None
    for t, st in zip(epochs["t_s"].tolist(), epochs["state"].fillna("").tolist(), strict=True):
        if st == "sleep":
            if run is not None:
                runs.append((run[0], run[1]))
            run = None
            seen_sleep = True
        elif st == "wake" and seen_sleep:
            run = [t, t + EPOCH_S] if run is None else [run[0], t + EPOCH_S]
    return runs


def _sleep_from_epochs(epochs: Any) -> Sleep | None:
    if epochs is None or len(epochs) == 0:
        return None
    states = epochs["state"].fillna("").tolist()
    postures = epochs["posture"].fillna("").tolist()
    has_posture = any(p in ("lying", "sitting", "standing") for p in postures)
    in_bed = 0
    sleep = wake = 0
    for st, po in zip(states, postures, strict=True):
        if st == "gap":
            continue
        bed = (po == "lying") if has_posture else True
        if bed:
            in_bed += 1
            if st == "sleep":
                sleep += 1
            elif st == "wake":
                wake += 1
    t_first_sleep = t_last_sleep = None
    for t, st in zip(epochs["t_s"].tolist(), states, strict=True):
        if st == "sleep":
            t_first_sleep = t if t_first_sleep is None else t_first_sleep
            t_last_sleep = t + EPOCH_S
    return Sleep(
        in_bed_s=in_bed * EPOCH_S,
        sleep_s=sleep * EPOCH_S,
        wake_s=wake * EPOCH_S,
        efficiency_pct=(100.0 * sleep / in_bed) if in_bed else None,
        awakenings=len(_wake_runs(epochs)),
        sleep_onset_t_s=t_first_sleep,
        final_wake_t_s=t_last_sleep,
        posture_known=has_posture,
    )


def awakenings(epochs: Any, cramps: list[Cramp]) -> int:
    """Awakenings (module doc): wake runs between sleep epochs, plus each cramp that woke
    the sleeper outside every such run."""
    runs = _wake_runs(epochs)
    n = len(runs)
    for c in cramps:
        if not c.woke:
            continue
        a, b = c.start_s, c.end_s + (c.awake_after_s or 0.0)
        if not any(r0 - EPOCH_S <= b and a <= r1 + EPOCH_S for r0, r1 in runs):
            runs.append((a, b))
            n += 1
    return n


def _awake_run_after(epochs: Any, t_end: float) -> float | None:
    """Seconds of consecutive ``wake`` epochs from the one holding ``t_end``."""
    if epochs is None or len(epochs) == 0:
        return None
    total = 0.0
    started = False
    for t, st in zip(epochs["t_s"].tolist(), epochs["state"].tolist(), strict=True):
        if t + EPOCH_S <= t_end:
            continue
        if st == "wake":
            started = True
            total += EPOCH_S
        elif started or st == "sleep":
            break
    return total


def _followed(ev: dict[str, Any], events: list[dict[str, Any]], epochs: Any) -> dict[str, Any]:
    ctx = ev.get("context") or {}
    after = [
        o
        for o in events
        if o["event_id"] != ev["event_id"]
        and ev["end_s"] - 1.0 <= o["start_s"] <= ev["end_s"] + FOLLOW_WINDOW_S
    ]
    stretched = any(o["kind"] == "movement" and o["subtype"] == "stretch" for o in after)
    walked = ctx.get("walked_after_s") is not None or any(
        o["kind"] == "movement" and o["subtype"] == "walking" for o in after
    )
    moved = ctx.get("moved_after_s") is not None or any(o["kind"] == "movement" for o in after)
    awake = ctx.get("awake_after_s")
    if awake is None:
        awake = _awake_run_after(epochs, ev["end_s"])
    woke = ctx.get("woke_after")
    if woke is None and awake is not None:
        woke = awake > 0
    what = []
    if woke:
        what.append("woke")
    if stretched:
        what.append("stretched")
    if walked:
        what.append("walked")
    if moved and not (stretched or walked):
        what.append("moved")
    return {
        "asleep_before": ctx.get("asleep_before"),
        "woke": bool(woke) if woke is not None else None,
        "stretched": stretched,
        "walked": walked,
        "moved": moved,
        "awake_after_s": awake,
        "what_followed": what,
    }


def _early_notice_s(ev: dict[str, Any]) -> float | None:
    v = (ev.get("context") or {}).get("noticed_s")
    try:
        return float(v) if v is not None and math.isfinite(float(v)) else None
    except (TypeError, ValueError):
        return None


def _night_sleep_h(log: CrampLog, night_id: str) -> float | None:
    s = _sleep_from_epochs(log.epochs(night_id))
    return s.sleep_s / 3600.0 if s and s.sleep_s > 0 else None


def _compare(log: CrampLog, night: dict[str, Any], cramps: int, plmi: float | None) -> Comparison:
    start = night.get("start_utc") or ""
    prev = [
        n
        for n in log.nights()
        if n["night_id"] != night["night_id"]
        and n["status"] == "complete"
        and (n["start_utc"] or "") < start
    ][:COMPARE_NIGHTS]
    if not prev:
        return Comparison(nights=0, line="No earlier nights in the log to compare with yet.")
    mean_c = mean(n["cramps"] for n in prev)
    plmis = []
    for n in prev:
        h = _night_sleep_h(log, n["night_id"])
        if h:
            plmis.append(n["plms"] / h)
    mean_p = mean(plmis) if plmis else None
    word = "cramp" if cramps == 1 else "cramps"
    line = (
        f"Tonight {cramps} {word} vs {mean_c:.1f} per night over the previous "
        f"{len(prev)} night{'s' if len(prev) != 1 else ''}"
    )
    if plmi is not None and mean_p is not None:
        line += f"; PLM index {plmi:.1f}/h vs {mean_p:.1f}/h"
    return Comparison(nights=len(prev), line=line + ".", mean_cramps=mean_c, mean_plm_index=mean_p)


def trends(log: CrampLog, until_utc: str | None = None, days: int = TREND_DAYS) -> list[TrendRow]:
    """Per night over the last ``days`` days up to ``until_utc``: cramps vs evening record.

    One row per night, oldest first (two nights of one evening are two rows)."""
    nights = [n for n in log.nights() if n["start_utc"]]
    if until_utc:
        nights = [n for n in nights if n["start_utc"] <= until_utc]
    if not nights:
        return []
    last = parse_utc(nights[0]["start_utc"])
    assert last is not None
    since = utc_iso(last - timedelta(days=days)) or ""
    felt: dict[str, int] = {}
    for m in log.manual_cramps():
        if m["night_id"]:
            felt[m["night_id"]] = felt.get(m["night_id"], 0) + 1
    rows = []
    evenings = {e["date"]: Evening.from_row(e) for e in log.evenings()}
    for n in reversed([n for n in nights if n["start_utc"] >= since]):
        t0 = parse_utc(n["start_utc"])
        d = night_date(t0)
        ev = evenings.get(d) if d else None
        rows.append(
            TrendRow(
                date=d,
                night_id=n["night_id"],
                start_utc=utc_iso(t0),
                start_clock=clock(t0),
                cramps=n["cramps"],
                felt=felt.get(n["night_id"], 0),
                plms=n["plms"],
                water_l=ev.water_l if ev else None,
                stretch=ev.stretch if ev else None,
                exercise=ev.exercise if ev else None,
                long_sitting=ev.long_sitting if ev else None,
                long_standing=ev.long_standing if ev else None,
                supplement=ev.supplement if ev else None,
            )
        )
    return rows


#: A habit needs at least this many nights with it and without it before the summary
#: compares them (fewer is anecdote, not a trend).
MIN_NIGHTS_PER_SIDE = 3


def habit_effects(rows: list[TrendRow]) -> list[Habit]:
    """Mean cramps per night with and without each evening habit (no statistics claimed)."""
    out = []
    tests = {
        "stretch before bed": lambda r: r.stretch,
        "light evening exercise": lambda r: r.exercise,
        "water >= 1.5 L": lambda r: None if r.water_l is None else r.water_l >= 1.5,
        "long sitting": lambda r: r.long_sitting,
        "long standing": lambda r: r.long_standing,
    }
    for name, f in tests.items():
        yes = [r.cramps + r.felt for r in rows if f(r) is True]
        no = [r.cramps + r.felt for r in rows if f(r) is False]
        if len(yes) >= MIN_NIGHTS_PER_SIDE and len(no) >= MIN_NIGHTS_PER_SIDE:
            out.append(Habit(name, len(yes), len(no), mean(yes), mean(no)))
    return out


def _felt(m: dict[str, Any]) -> FeltCramp:
    at = parse_utc(m["at_utc"])
    lt = _local(at)
    return FeltCramp(
        cramp_id=m["cramp_id"],
        night_id=m["night_id"],
        at_utc=m["at_utc"],
        date=lt.date().isoformat() if lt else "",
        clock=clock(at),
        duration_s=m["duration_s"],
        pain=m["pain"],
        muscle=m["muscle"],
        side=m["side"],
        eased_by=m["eased_by"],
        soreness=m["soreness"],
        notes=m["notes"] or "",
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ----------------------------------------------------------------------------- building


def build_summary(log: CrampLog, night_id: str | None = None) -> Summary:
    """The summary of ``night_id`` (default: the latest night)."""
    nid = night_id or log.latest_night_id()
    all_precision = Precision.from_log(log.precision())
    if nid is None:
        out = Summary(log=str(log.path), night=None, precision=Precisions(None, all_precision))
        out.felt_cramps = [_felt(m) for m in log.manual_cramps()]
        evs = log.evenings()
        out.evening = Evening.from_row(evs[-1]) if evs else None
        if not out.felt_cramps and out.evening is None:
            out.messages.append(
                "The cramp log is empty: record a night with `cramp record` (or try"
                " `cramp demo`), or replay one with `cramp replay`."
            )
        else:
            held = [
                _plural(len(out.felt_cramps), "felt cramp") if out.felt_cramps else "",
                _plural(len(evs), "evening record") if evs else "",
            ]
            out.messages.append(
                f"No recorded nights yet (the log holds {' and '.join(b for b in held if b)}):"
                " record one with `cramp record` (or try `cramp demo`)."
            )
        return out
    n = log.require_night(nid)
    t0 = parse_utc(n["start_utc"])
    events = log.events(nid)
    gaps = log.gaps(nid)
    epochs = log.epochs(nid)
    stats = n.get("stats") or {}
    recording = n["status"] == "recording"

    duration = n.get("duration_s")
    if duration is None:
        ends = [e["end_s"] for e in events] + [g["end_s"] for g in gaps]
        if recording and t0 is not None:
            since = (datetime.now(UTC) - t0).total_seconds()
            # within a night's length of its start, the night runs until now; later the
            # recorder must have stopped without finishing, so the data end is the end.
            if 0 <= since <= MAX_NIGHT_S:
                ends.append(since)
        duration = max(ends) if ends else 0.0
    gap_s = sum(g["duration_s"] for g in gaps)
    gap_s = min(gap_s, duration) if duration else gap_s
    eoff = stats.get("electrode_off_s")
    if eoff is None:
        eoff = sum(
            e["duration_s"]
            for e in events
            if e["kind"] == "artifact" and e["subtype"] == "electrode-off"
        )
    coverage = 100.0 * (duration - gap_s) / duration if duration > 0 else None

    stored_end = parse_utc(n.get("end_utc"))
    timeline_end = t0 + timedelta(seconds=duration) if t0 is not None else None
    # The stored wall-clock times come from the source's clock mapping.  On a real night
    # they track the timeline within the sensor's drift (ppm); when they do not (an
    # emulated night streamed faster than real time), clock times follow the timeline.
    wall_ok = (
        stored_end is None
        or t0 is None
        or abs((stored_end - t0).total_seconds() - duration) <= max(60.0, 0.02 * duration)
    )
    end_utc = stored_end if (wall_ok and stored_end is not None) else timeline_end

    def when(e: dict[str, Any]) -> datetime | None:
        st = parse_utc(e["start_utc"]) if wall_ok else None
        return st or (t0 + timedelta(seconds=e["start_s"]) if t0 is not None else None)

    night = NightInfo(
        night_id=nid,
        status=n["status"],
        source=n["source"],
        device=n["device"],
        detector_version=n["detector_version"],
        date=night_date(t0),
        start_utc=utc_iso(t0),
        end_utc=utc_iso(end_utc),
        start_clock=clock(t0),
        end_clock=clock(end_utc),
    )
    out = Summary(
        log=str(log.path),
        night=night,
        precision=Precisions(Precision.from_log(log.precision(nid)), all_precision),
    )
    sides = (n.get("layout") or {}).get("emg_sides") or []
    out.legs = [leg for leg in ("left", "right") if leg in sides] if len(set(sides)) > 1 else []
    out.recording = Recording(
        duration_s=duration,
        recorded_s=max(0.0, duration - gap_s),
        gap_s=gap_s,
        n_gaps=len(gaps),
        gaps=[
            GapRow(
                start_s=g["start_s"],
                end_s=g["end_s"],
                duration_s=g["duration_s"],
                reason=g["reason"],
                start_clock=clock(t0 + timedelta(seconds=g["start_s"]) if t0 else None),
                leg=g.get("leg"),
            )
            for g in gaps
        ],
        electrode_off_s=float(eoff),
        coverage_pct=coverage,
    )

    for e in (e for e in events if e["kind"] == "cramp"):
        st = when(e)
        out.cramps.append(
            Cramp(
                event_id=e["event_id"],
                start_s=e["start_s"],
                end_s=e["end_s"],
                start_utc=utc_iso(st),
                clock=clock(st),
                duration_s=e["duration_s"],
                peak_uv=e["peak_uv"],
                mean_uv=e["mean_uv"],
                peak_x_rest=e["peak_x_rest"],
                confidence=e["confidence"],
                channels=list(e["channels"]),
                verdict=e["verdict"],
                pain=e["pain"],
                muscle=e["muscle"],
                side=e["side"],
                eased_by=e["eased_by"],
                soreness=e["soreness"],
                notes=e["notes"],
                early_notice_s=_early_notice_s(e),
                leg=e.get("leg"),
                **_followed(e, events, epochs),
            )
        )
    sleep = _sleep_from_epochs(epochs)
    if sleep is not None:
        sleep.awakenings = awakenings(epochs, out.cramps)
    out.sleep = sleep
    out.felt_cramps = [_felt(m) for m in log.manual_cramps(nid)]
    plms = [e for e in events if e["kind"] == "plm" and e["subtype"] != "wake"]
    plmw = sum(1 for e in events if e["kind"] == "plm" and e["subtype"] == "wake")
    sleep_h = sleep.sleep_s / 3600.0 if sleep and sleep.sleep_s > 0 else None
    rec_h = (duration - gap_s) / 3600.0
    plmi = len(plms) / sleep_h if sleep_h else (len(plms) / rec_h if rec_h > 0 else None)
    out.plm = Plm(
        count=len(plms),
        index_per_h=plmi,
        per="hour of sleep" if sleep_h else "hour of recording",
        sleep_h=sleep_h,
        awake=plmw,
    )
    for e in events:
        if e["kind"] in ("movement", "artifact"):
            k = f"{e['kind']}:{e['subtype'] or 'other'}"
            out.other_events[k] = out.other_events.get(k, 0) + 1
    out.events = [
        EventRow(
            event_id=e["event_id"],
            kind=e["kind"],
            subtype=e["subtype"],
            start_s=e["start_s"],
            end_s=e["end_s"],
            clock=clock(when(e), seconds=True),
            duration_s=e["duration_s"],
            peak_uv=e["peak_uv"],
            peak_x_rest=e["peak_x_rest"],
            confidence=e["confidence"],
            verdict=e["verdict"],
            reason=e["reason"],
        )
        for e in events
    ]
    out.evening = Evening.from_row(log.evening(night.date)) if night.date else None
    out.comparison = _compare(log, n, len(out.cramps), plmi)
    out.trends = trends(log, until_utc=n["start_utc"])
    out.habits = habit_effects(out.trends)
    orphans = log.orphaned_annotations(nid)
    out.orphaned_annotations = len(orphans)

    msgs = out.messages
    if recording:
        msgs.append(
            "Still recording (or the recorder stopped before finishing the night): "
            "these are the figures so far."
        )
    if n.get("interrupted_utc"):
        msgs.append(f"Interrupted: the recorder stopped at {clock(parse_utc(n['interrupted_utc']))} without finishing; the night was finished from its recording.")  # fmt: skip  # noqa: E501
    if duration > 0 and gap_s >= duration - 1e-6:
        msgs.append(
            "No usable data: the sensor sent nothing for this night (gaps cover it all);"
            " check the sensor's battery and that it stays in range."
        )
    elif not events and not recording:
        msgs.append("No events detected: a quiet night.")
    if orphans:
        msgs.append(
            f"{len(orphans)} of your annotations matched no event after re-detection;"
            " see `cramp log list --all`."
        )
    return out


# ----------------------------------------------------------------------------- text


def _pct(x: float | None) -> str:
    return "?" if x is None else f"{x:.0f} %"


def _felt_line(m: FeltCramp, with_date: bool) -> str:
    dur = f" for {fmt_duration(m.duration_s)}" if m.duration_s else ""
    on = f" on {m.date}" if with_date and m.date else ""
    return f"    felt (not recorded) at {m.clock}{on}{dur}"


def render_text(s: Summary) -> str:
    """The terminal report of a :class:`Summary`."""
    lines: list[str] = []
    n = s.night
    if n is None:
        lines.append("Morning summary")
        lines += [f"  {m}" for m in s.messages]
        if s.felt_cramps:
            lines.append(f"  Felt       {_plural(len(s.felt_cramps), 'cramp')} logged by hand")
            lines += [_felt_line(m, True) for m in s.felt_cramps]
        if s.evening is not None:
            lines.append(f"  Evening    {s.evening.date}: {s.evening.text()}")
        return "\n".join(lines) + "\n"
    rec = s.recording
    assert rec is not None and s.plm is not None and s.comparison is not None
    # a night is named by the evening it began (a start at 00:40 belongs to the evening
    # before: cramplog.night_date), and the output says so
    title = f"Night of {n.date} (the evening it began)" if n.date else f"Night {n.night_id}"
    status = " (still recording)" if n.status == "recording" else ""
    lines.append(f"{title} -- {n.night_id}{status}")
    lines.append(
        f"  Recorded   {n.start_clock}-{n.end_clock} ({fmt_duration(rec.duration_s)}),"
        f" coverage {_pct(rec.coverage_pct)}, {rec.n_gaps} gap"
        f"{'s' if rec.n_gaps != 1 else ''} ({fmt_duration(rec.gap_s)}),"
        f" electrode off {fmt_duration(rec.electrode_off_s)}"
    )
    if rec.gaps:
        g = max(rec.gaps, key=lambda g: g.duration_s)
        lines.append(
            f"             longest gap {fmt_duration(g.duration_s)} at {g.start_clock} ({g.reason})"
        )
    sl = s.sleep
    if sl:
        lines.append(
            f"  In bed     {fmt_duration(sl.in_bed_s)}; asleep {fmt_duration(sl.sleep_s)},"
            f" awake {fmt_duration(sl.wake_s)} (sleep efficiency "
            f"{_pct(sl.efficiency_pct)}, {sl.awakenings} awakening"
            f"{'s' if sl.awakenings != 1 else ''})"
        )
    else:
        lines.append("  In bed     not estimated (no sleep/wake epochs for this night)")
    if s.legs:
        per = ", ".join(f"{leg} {sum(c.leg == leg for c in s.cramps)}" for leg in s.legs)
        lines.append(f"  Legs       both recorded; cramps per leg: {per}")
    if s.cramps:
        lines.append(f"  Cramps     {len(s.cramps)}")
        for c in s.cramps:
            inten = (
                f"peak {c.peak_uv:.0f} µV ({c.peak_x_rest:.0f}x rest)"
                if c.peak_uv is not None and c.peak_x_rest is not None
                else "intensity ?"
            )
            fol = ", ".join(c.what_followed) or "nothing noted"
            if c.awake_after_s:
                fol += f", awake {fmt_duration(c.awake_after_s)}"
            mark = {"confirmed": " [confirmed]", "rejected": " [rejected]"}.get(c.verdict or "", "")
            pain = f", pain {c.pain}/10" if c.pain is not None else ""
            leg = f"{c.leg} leg, " if s.legs and c.leg else ""
            lines.append(
                f"    #{c.event_id:<4} {c.clock}  {fmt_duration(c.duration_s):>9}  "
                f"{leg}{inten}{pain}; then: {fol}{mark}"
            )
    else:
        lines.append("  Cramps     none detected")
    for m in s.felt_cramps:
        lines.append(_felt_line(m, False))
    p = s.plm
    idx = f"{p.index_per_h:.1f} per {p.per}" if p.index_per_h is not None else "?"
    lines.append(
        f"  PLM        {p.count} periodic leg movements, index {idx}"
        + (f"; {p.awake} more while awake" if p.awake else "")
    )
    if s.other_events:
        other = ", ".join(f"{v} {k.split(':')[1]}" for k, v in sorted(s.other_events.items()))
        lines.append(f"  Also       {other}")
    if s.evening:
        lines.append(f"  Evening    {s.evening.text()}")
    lines.append(f"  Trend      {s.comparison.line}")
    pr = s.precision.all
    if pr.precision is not None:
        lines.append(
            f"  Detector   precision {100 * pr.precision:.0f} % on your reviewed cramps "
            f"({pr.confirmed} confirmed, {pr.rejected} rejected; "
            f"{pr.felt_not_detected} felt but not detected)"
        )
    else:
        lines.append(
            "  Detector   no cramps reviewed yet: `cramp log confirm ID` / `cramp log reject ID`"
        )
    lines += [f"  Note: {m}" for m in s.messages]
    return "\n".join(lines) + "\n"
