"""``cramp log ...``: thin commands over :mod:`nightcramp.cramplog` (``cramp summary``
lives in :mod:`nightcramp.commands.summary`).

Every listing takes ``--json`` and ``--csv``; every command takes ``--db`` (else
``NIGHTCRAMP_DB``, else the per-user data folder).  Bad ids and values are
:class:`~recordings.errors.UserError` (one line, exit 2).
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from nightcramp import heal
from nightcramp.cramplog import EASED_BY, EVENING_FIELDS, CrampLog, night_date, parse_utc
from nightcramp.durations import parse_duration
from nightcramp.summary import clock, fmt_duration
from recordings.errors import UserError
from recordings.jsonout import dumps, jsonable

F = TypeVar("F", bound=Callable[..., Any])

DB_HELP = "Cramp log file (default: $NIGHTCRAMP_DB, else the per-user data folder)."


def db_option(f: F) -> F:
    return click.option("--db", "db", metavar="PATH", default=None, help=DB_HELP)(f)


def format_options(f: F) -> F:
    f = click.option("--csv", "as_csv", is_flag=True, help="Output CSV.")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Output JSON.")(f)
    return f


def _open(ctx: click.Context, db: str | None) -> CrampLog:
    """The log named by this command's ``--db``, else the group's, else the default."""
    c: click.Context | None = ctx
    while db is None and c is not None:
        db = c.params.get("db")
        c = c.parent
    return heal.finished(CrampLog.open(db))


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str, Callable[[Any], str] | None]],
    *,
    as_json: bool,
    as_csv: bool,
    empty: str,
) -> None:
    """Print ``rows``: JSON (all fields), CSV or an aligned table (the ``columns``)."""
    if as_json and as_csv:
        raise UserError("--json and --csv exclude each other; pick one")
    if as_json:
        click.echo(dumps(list(rows), indent=2))
        return
    if as_csv:
        keys = list(rows[0].keys()) if rows else [c[0] for c in columns]
        w = csv.DictWriter(sys.stdout, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in jsonable(list(rows)):
            w.writerow({k: dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})
        return
    if not rows:
        click.echo(empty)
        return
    cells = [
        [(fmt(r.get(key)) if fmt else ("" if r.get(key) is None else str(r.get(key))))
         for key, _, fmt in columns]
        for r in rows
    ]  # fmt: skip
    heads = [h for _, h, _ in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip())
    for c in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())


def _clock_s(v: Any) -> str:
    return clock(parse_utc(v), seconds=True) if v else "--:--:--"


def _num(fmt: str) -> Callable[[Any], str]:
    return lambda v: "" if v is None else fmt.format(v)


def _bool(v: Any) -> str:
    return "" if v is None else ("yes" if v else "no")


EVENT_COLUMNS: list[tuple[str, str, Callable[[Any], str] | None]] = [
    ("event_id", "id", None),
    ("night_id", "night", None),
    ("start_utc", "time", _clock_s),
    ("kind", "kind", None),
    ("subtype", "subtype", None),
    ("duration_s", "duration", fmt_duration),
    ("peak_uv", "peak µV", _num("{:.0f}")),
    ("peak_x_rest", "x rest", _num("{:.0f}")),
    ("confidence", "conf", _num("{:.2f}")),
    ("verdict", "verdict", None),
    ("pain", "pain", None),
]

# ----------------------------------------------------------------------------- parsing


class _Number(click.ParamType):
    """A number whose bad spelling is a one-line :class:`UserError`, not a usage dump."""

    def __init__(self, name: str, kind: type, example: str) -> None:
        self.name = name
        self._kind = kind
        self._example = example

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self._kind):
            return value
        try:
            return self._kind(str(value).strip())
        except ValueError:
            what = (param.name or "value") if param is not None else "value"
            what = what.replace("event_ids", "event id").replace("_", " ")
            raise UserError(
                f"{what} {value!r} is not {self.name}; give e.g. {self._example}"
            ) from None


EVENT_ID = _Number("a whole number", int, "12 (the id column of `cramp log list`)")
WHOLE = _Number("a whole number", int, "7")
NUMBER = _Number("a number", float, "1.5")


def parse_at(text: str, log: CrampLog, night_id: str | None) -> datetime:
    """When a felt cramp happened (UTC), never in the future.

    ``03:10`` (a bare local clock time) is the 03:10 during the ``--night`` night, else
    during the latest night; when that is still to come, the most recent past 03:10
    (with an explicit ``--night`` that is an error instead).  ``2026-11-25T03:10`` or
    ``2026-11-25 03:10`` is that local date and time.
    """
    t = text.strip()
    now = datetime.now().astimezone()
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            tod = datetime.strptime(t, fmt).time()
        except ValueError:
            continue
        return _clock_to_datetime(text, tod, log, night_id, now).astimezone(UTC)
    try:
        dt = datetime.fromisoformat(t)
    except ValueError as e:
        raise UserError(
            f"time {text!r} is not understood; give a clock time like 03:10 or a date and "
            "time like 2026-11-25T03:10"
        ) from e
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time
    if dt > now + timedelta(minutes=1):
        raise UserError(
            f"time {text!r} ({dt.astimezone():%Y-%m-%d %H:%M}) is in the future;"
            " log a cramp once it has happened"
        )
    return dt.astimezone(UTC)


def _clock_to_datetime(
    text: str, tod: time, log: CrampLog, night_id: str | None, now: datetime
) -> datetime:
    last = datetime.combine(now.date(), tod).astimezone()
    if last > now:
        last -= timedelta(days=1)
    nid = night_id or log.latest_night_id()
    start = parse_utc(log.require_night(nid)["start_utc"]) if nid else None
    if start is None:
        return last
    s_local = start.astimezone()
    cand = datetime.combine(s_local.date(), tod).astimezone()
    if cand < s_local - timedelta(hours=1):
        cand += timedelta(days=1)
    if cand <= now:
        return cand
    if night_id is None:
        return last
    raise UserError(
        f"time {text!r} during night {night_id} (started {s_local:%Y-%m-%d %H:%M}) would be"
        f" {cand:%Y-%m-%d %H:%M}, in the future; give the date too, e.g."
        f" --at '{last:%Y-%m-%d} {tod:%H:%M}'"
    )


#: How a night may be named on the command line (``--night``, ``cramp summary NIGHT``).
NIGHT_NAMES = (
    "latest, its id (a UUID, or the first 8 characters), its recording folder"
    " (night-20261125-231502-1a2b3c4d), night-20261125 or 2026-11-25 (the night that"
    " started that evening)"
)


def resolve_night(log: CrampLog, name: str | None) -> str | None:
    """The night id named by ``name`` (see :data:`NIGHT_NAMES`); ``None`` stays ``None``.

    A date names the night that started that evening (``nightcramp.cramplog.night_date``);
    a name that fits several nights is a :class:`UserError` listing them.
    """
    if name in (None, ""):
        return None
    text = str(name).strip()
    if text == "latest":
        nid = log.latest_night_id()
        if nid is None:
            raise UserError(f"cramp log {log.path}: has no nights yet; record or replay one first")
        return nid
    if log.night(text) is not None:
        return text
    nights = log.nights()
    folder = Path(text).name
    m_folder = re.fullmatch(r"night-\d{8}-\d{6}-([0-9a-f]{8})", folder, flags=re.I)
    m_day = re.fullmatch(r"(?:night-)?(\d{4})-?(\d{2})-?(\d{2})", folder, flags=re.I)
    found: list[dict[str, Any]] = []
    day: str | None = None
    if m_folder or re.fullmatch(r"[0-9a-f]{8,32}", folder.replace("-", ""), flags=re.I):
        prefix = (m_folder[1] if m_folder else folder.replace("-", "")).lower()
        found = [n for n in nights if n["night_id"].replace("-", "").lower().startswith(prefix)]
    if not found and m_day and (folder.startswith("night-") or "-" in folder):
        try:
            day = date(int(m_day[1]), int(m_day[2]), int(m_day[3])).isoformat()
        except ValueError:
            raise UserError(f"night {text!r}: {m_day[0]} is not a calendar date") from None
        found = [n for n in nights if night_date(parse_utc(n["start_utc"])) == day]
    if len(found) == 1:
        return str(found[0]["night_id"])
    what = f"{text!r} (the evening of {day})" if day else repr(text)
    if len(found) > 1:
        choices = "; ".join(
            f"{n['night_id']} (started {_local_dt(n['start_utc'])})" for n in found
        )
        raise UserError(f"night {what} fits {len(found)} nights: {choices}; name one by its id")
    if day is not None:
        raise UserError(
            f"cramp log {log.path}: no night started on the evening of {day};"
            " see `cramp log nights`"
        )
    log.require_night(text)  # raises: no night 'x'; known nights ...
    return text


# ----------------------------------------------------------------------------- commands


@click.group("log")
@db_option
@click.pass_context
def log(ctx: click.Context, db: str | None) -> None:
    """List, confirm, reject and annotate cramps; log felt cramps and evenings.

    \b
    Examples:
      cramp log list --night latest --kind cramp
      cramp log confirm 12
      cramp log annotate 12 --pain 7 --muscle calf --side left --eased-by stretch
      cramp log add --at 03:10 --duration 2m --pain 6      # felt, not recorded
      cramp log evening --water 1.5 --stretch --no-exercise
    """
    ctx.ensure_object(dict)
    ctx.obj["db"] = db


@log.command("list")
@click.option("--night", metavar="NIGHT", help="Only this night: " + NIGHT_NAMES + ".")
@click.option("--kind", metavar="KIND", help="Only cramp, plm, movement or artifact.")
@click.option("--all", "include_all", is_flag=True, help="Include superseded events.")
@format_options
@db_option
@click.pass_context
def list_(
    ctx: click.Context,
    night: str | None,
    kind: str | None,
    include_all: bool,
    as_json: bool,
    as_csv: bool,
    db: str | None,
) -> None:
    """List detected events.

    \b
    Example:
      cramp log list --night latest --kind cramp --csv > cramps.csv
    """
    with _open(ctx, db) as lg:
        nid = resolve_night(lg, night)
        rows = lg.events(nid, kind, include_superseded=include_all)
        cols = EVENT_COLUMNS + ([("superseded", "superseded", _bool)] if include_all else [])
        empty = "No events in the cramp log."
        if not rows and (nid is not None or kind):
            where = f"night {nid}" if nid is not None else "the cramp log"
            held = len(lg.events(None, None, include_superseded=include_all))
            empty = f"No {kind + ' ' if kind else ''}events in {where}" + (
                f" (the log holds {held} event{'s' if held != 1 else ''} in all;"
                " see `cramp log list`)." if held else "."
            )
        emit(rows, cols, as_json=as_json, as_csv=as_csv, empty=empty)


@log.command("show")
@click.argument("event_id", type=EVENT_ID)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@db_option
@click.pass_context
def show(ctx: click.Context, event_id: int, as_json: bool, db: str | None) -> None:
    """Show one event with its annotations.

    \b
    Example:
      cramp log show 12
    """
    with _open(ctx, db) as lg:
        ev = lg.event(event_id)
    if as_json:
        click.echo(dumps(ev, indent=2))
        return
    click.echo(
        f"Event {ev['event_id']}: {ev['kind']}{' / ' + ev['subtype'] if ev['subtype'] else ''}"
    )
    rows = [
        ("night", ev["night_id"]),
        ("time", f"{_clock_s(ev['start_utc'])} to {_clock_s(ev['end_utc'])}"
                 f" ({fmt_duration(ev['duration_s'])}; timeline {ev['start_s']:.1f} s)"),
        ("intensity", f"peak {_num('{:.0f}')(ev['peak_uv'])} µV"
                      f" ({_num('{:.1f}')(ev['peak_x_rest'])}x rest), mean"
                      f" {_num('{:.0f}')(ev['mean_uv'])} µV"),
        ("confidence", _num("{:.2f}")(ev["confidence"])),
        ("channels", ", ".join(ev["channels"])),
        ("why", ev["reason"]),
        ("detector", ev["detector_version"] + ("  (superseded)" if ev["superseded"] else "")),
    ]  # fmt: skip
    if ev.get("replaced_by") is not None:
        rows.append(("replaced by", f"event {ev['replaced_by']}"))
    if ev["context"]:
        rows.append(("context", ", ".join(f"{k}={v}" for k, v in sorted(ev["context"].items()))))
    if ev["annotation_id"] is not None:
        rows += [
            ("verdict", ev["verdict"] or "not reviewed"),
            ("pain", "" if ev["pain"] is None else f"{ev['pain']}/10"),
            ("muscle", ev["muscle"] or ""),
            ("side", ev["side"] or ""),
            ("eased by", ev["eased_by"] or ""),
            ("soreness", "" if ev["soreness"] is None else f"{ev['soreness']}/10"),
            ("notes", ev["notes"] or ""),
        ]
        if ev["orphaned"]:
            rows.append(("note", "annotation kept: no re-detected event overlapped it"))
    else:
        rows.append(("verdict", "not reviewed"))
    for k, v in rows:
        if v not in ("", None):
            click.echo(f"  {k:<11} {v}")


def _one_line(ev: dict[str, Any]) -> str:
    return (
        f"event {ev['event_id']} ({ev['kind']} at {_clock_s(ev['start_utc'])},"
        f" {fmt_duration(ev['duration_s'])})"
    )


def _known_ids(lg: CrampLog, event_ids: Sequence[int]) -> list[int]:
    """``event_ids`` once each, after checking every one exists (nothing changes otherwise)."""
    ids = list(dict.fromkeys(event_ids))
    for eid in ids:
        lg.event(eid)  # raises UserError: no event with id ...
    return ids


@log.command("confirm")
@click.argument("event_ids", type=EVENT_ID, nargs=-1, required=True)
@db_option
@click.pass_context
def confirm(ctx: click.Context, event_ids: tuple[int, ...], db: str | None) -> None:
    """Mark events as real (you felt them): ground truth for the detector's precision.

    \b
    Example:
      cramp log confirm 12 14
    """
    with _open(ctx, db) as lg:
        for eid in _known_ids(lg, event_ids):
            click.echo(f"{_one_line(lg.confirm(eid))}: confirmed")


@log.command("reject")
@click.argument("event_ids", type=EVENT_ID, nargs=-1, required=True)
@db_option
@click.pass_context
def reject(ctx: click.Context, event_ids: tuple[int, ...], db: str | None) -> None:
    """Mark events as false alarms (no cramp then).

    \b
    Example:
      cramp log reject 13
    """
    with _open(ctx, db) as lg:
        for eid in _known_ids(lg, event_ids):
            click.echo(f"{_one_line(lg.reject(eid))}: rejected")


def annotation_options(f: F) -> F:
    f = click.option("--note", "note", metavar="TEXT", help="Free text.")(f)
    f = click.option("--soreness", type=WHOLE, metavar="0-10", help="Soreness the next day.")(f)
    f = click.option(
        "--eased-by",
        "eased_by",
        multiple=True,
        metavar="WHAT",
        help=f"{', '.join(EASED_BY)} ('stretch' means stretch-foot-up: pulling the foot"
        " up); repeat the option or give a comma list.",
    )(f)
    f = click.option("--side", metavar="SIDE", help="left, right or both.")(f)
    f = click.option("--muscle", metavar="MUSCLE", help="calf, thigh or foot.")(f)
    f = click.option("--pain", type=WHOLE, metavar="0-10", help="Pain, 0 none to 10 worst.")(f)
    return f


def _eased(eased_by: tuple[str, ...]) -> str | None:
    return ",".join(eased_by) if eased_by else None


def _eased_note(given: tuple[str, ...], stored: str | None) -> str:
    """How typed short names were stored, e.g. `` ('stretch' stored as stretch-foot-up)``."""
    if not given or not stored:
        return ""
    typed = [t.strip().lower() for g in given for t in g.split(",") if t.strip()]
    kept = stored.split(",")
    moved = [f"{t!r} stored as {k}" for t, k in zip(typed, kept, strict=False) if t != k]
    return f" ({'; '.join(moved)})" if moved and len(typed) == len(kept) else ""


@log.command("annotate")
@click.argument("event_id", type=EVENT_ID)
@annotation_options
@click.option("--confirm/--reject", "verdict", default=None, help="Also give a verdict.")
@db_option
@click.pass_context
def annotate(
    ctx: click.Context,
    event_id: int,
    pain: int | None,
    muscle: str | None,
    side: str | None,
    eased_by: tuple[str, ...],
    soreness: int | None,
    note: str | None,
    verdict: bool | None,
    db: str | None,
) -> None:
    """Record how a cramp felt and what eased it.

    \b
    Example:
      cramp log annotate 12 --pain 7 --muscle calf --side left --eased-by stretch \\
          --soreness 3 --note "woke me, walked it off"
    """
    with _open(ctx, db) as lg:
        ev = lg.annotate(
            event_id,
            verdict=None if verdict is None else ("confirmed" if verdict else "rejected"),
            pain=pain,
            muscle=muscle.lower() if muscle else None,
            side=side.lower() if side else None,
            eased_by=_eased(eased_by),
            soreness=soreness,
            notes=note,
        )
    bits = [f"{k} {ev[k]}" for k in ("verdict", "pain", "muscle", "side", "eased_by", "soreness")
            if ev.get(k) is not None]  # fmt: skip
    click.echo(f"{_one_line(ev)}: {', '.join(bits) or 'annotated'}{_eased_note(eased_by, ev['eased_by'])}")


@log.command("add")
@click.option("--at", "at", required=True, metavar="TIME",
              help="When: 03:10 (during --night or the latest night; if that is still to"
                   " come, the most recent past 03:10) or 2026-11-25T03:10; never a time in"
                   " the future.")  # fmt: skip
@click.option("--duration", metavar="DUR", help="How long: 90 (s), 1:30, 2m or 1m30s.")
@click.option("--night", metavar="NIGHT", help="The night it belongs to (default: by time): "
              + NIGHT_NAMES + ".")  # fmt: skip
@annotation_options
@db_option
@click.pass_context
def add(
    ctx: click.Context,
    at: str,
    duration: str | None,
    night: str | None,
    pain: int | None,
    muscle: str | None,
    side: str | None,
    eased_by: tuple[str, ...],
    soreness: int | None,
    note: str | None,
    db: str | None,
) -> None:
    """Log a cramp you felt that the sensor did not record (not worn, battery, ...).

    \b
    Example:
      cramp log add --at 03:10 --duration 2m --pain 6 --muscle calf --eased-by walking
    """
    with _open(ctx, db) as lg:
        nid = resolve_night(lg, night)
        when = parse_at(at, lg, nid)
        cid = lg.add_manual_cramp(
            when,
            duration_s=parse_duration(duration),
            night_id=nid,
            pain=pain,
            muscle=muscle.lower() if muscle else None,
            side=side.lower() if side else None,
            eased_by=_eased(eased_by),
            soreness=soreness,
            notes=note or "",
        )
        row = next(m for m in lg.manual_cramps() if m["cramp_id"] == cid)
    where = f"night {row['night_id']}" if row["night_id"] else "no recorded night"
    local = when.astimezone()
    extra = _eased_note(eased_by, row["eased_by"])
    if row["eased_by"]:
        extra = f", eased by {row['eased_by']}{extra}"
    click.echo(f"felt cramp {cid} on {local:%Y-%m-%d} at {clock(when)} logged ({where}{extra})")


@log.command("felt")
@click.option("--night", metavar="NIGHT", help="Only this night: " + NIGHT_NAMES + ".")
@format_options
@db_option
@click.pass_context
def felt(
    ctx: click.Context, night: str | None, as_json: bool, as_csv: bool, db: str | None
) -> None:
    """List cramps you logged by hand (felt, not recorded).

    \b
    Example:
      cramp log felt --json
    """
    with _open(ctx, db) as lg:
        nid = resolve_night(lg, night)
        rows = lg.manual_cramps(nid)
    cols: list[tuple[str, str, Callable[[Any], str] | None]] = [
        ("cramp_id", "id", None),
        ("night_id", "night", None),
        ("at_utc", "date", _local_date),
        ("at_utc", "time", _clock_s),
        ("duration_s", "duration", lambda v: "" if v is None else fmt_duration(v)),
        ("pain", "pain", None),
        ("muscle", "muscle", None),
        ("side", "side", None),
        ("eased_by", "eased by", None),
        ("notes", "notes", None),
    ]
    empty = f"No felt cramps logged for night {nid}." if nid else "No felt cramps logged."
    emit(rows, cols, as_json=as_json, as_csv=as_csv, empty=empty)


def _default_evening() -> str:
    """Before noon the evening meant is yesterday's, after noon today's."""
    return (datetime.now().astimezone() - timedelta(hours=12)).date().isoformat()


@log.command("evening")
@click.argument("day", metavar="[DATE]", required=False)
@click.option("--water", type=NUMBER, metavar="LITRES", help="Water drunk over the day, L.")
@click.option("--stretch/--no-stretch", default=None, help="Calf stretch before bed.")
@click.option("--exercise/--no-exercise", default=None, help="Light exercise in the evening.")
@click.option("--long-sitting/--no-long-sitting", default=None, help="Sat for long.")
@click.option("--long-standing/--no-long-standing", default=None, help="Stood for long.")
@click.option("--crossed-legs/--no-crossed-legs", default=None, help="Sat with legs crossed.")
@click.option("--hard-floor/--no-hard-floor", default=None, help="Stood on hard floors.")
@click.option("--tired", type=WHOLE, metavar="0-10", help="Tiredness, 0 fresh to 10 exhausted.")
@click.option("--supplement", metavar="TEXT", help="Supplement or medicine taken.")
@click.option("--note", metavar="TEXT", help="Free text.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@db_option
@click.pass_context
def evening(
    ctx: click.Context,
    day: str | None,
    water: float | None,
    stretch: bool | None,
    exercise: bool | None,
    long_sitting: bool | None,
    long_standing: bool | None,
    crossed_legs: bool | None,
    hard_floor: bool | None,
    tired: int | None,
    supplement: str | None,
    note: str | None,
    as_json: bool,
    db: str | None,
) -> None:
    """Record (or show) the evening before a night: what might cause or prevent cramps.

    DATE is YYYY-MM-DD (default: this evening; before noon, last evening).

    \b
    Example:
      cramp log evening --water 1.5 --stretch --no-exercise --long-sitting \\
          --supplement "magnesium 300 mg"
      cramp log evening 2026-11-24          # show it
    """
    d = day or _default_evening()
    fields = {
        "water_l": water, "stretch": stretch, "exercise": exercise,
        "long_sitting": long_sitting, "long_standing": long_standing,
        "crossed_legs": crossed_legs, "hard_floor": hard_floor, "tired": tired,
        "supplement": supplement, "notes": note,
    }  # fmt: skip
    with _open(ctx, db) as lg:
        if any(v is not None for v in fields.values()):
            row: dict[str, Any] | None = lg.set_evening(d, **fields)
        else:
            row = lg.evening(d)
    if as_json:
        click.echo(dumps(row, indent=2))
        return
    if row is None:
        click.echo(f"No evening record for {d}; add one, e.g. cramp log evening {d} --water 1.5")
        return
    click.echo(f"Evening of {row['date']}: {_evening_text(row)}")


def _evening_text(r: dict[str, Any]) -> str:
    bits = []
    if r.get("water_l") is not None:
        bits.append(f"water {r['water_l']:g} L")
    for k in EVENING_FIELDS:
        if k in ("water_l", "supplement", "notes", "tired"):
            continue
        if r.get(k) is not None:
            label = k.replace("_", " ")
            bits.append(label if r[k] else f"no {label}")
    if r.get("tired") is not None:
        bits.append(f"tired {r['tired']}/10")
    if r.get("supplement"):
        bits.append(f"took {r['supplement']}")
    if r.get("notes"):
        bits.append(f"note: {r['notes']}")
    return ", ".join(bits) or "(empty)"


@log.command("evenings")
@format_options
@db_option
@click.pass_context
def evenings(ctx: click.Context, as_json: bool, as_csv: bool, db: str | None) -> None:
    """List the evening records.

    \b
    Example:
      cramp log evenings --csv
    """
    with _open(ctx, db) as lg:
        rows = lg.evenings()
    cols: list[tuple[str, str, Callable[[Any], str] | None]] = [
        ("date", "date", None),
        ("water_l", "water L", _num("{:g}")),
        ("stretch", "stretch", _bool),
        ("exercise", "exercise", _bool),
        ("long_sitting", "long sitting", _bool),
        ("long_standing", "long standing", _bool),
        ("supplement", "supplement", None),
        ("notes", "notes", None),
    ]
    emit(rows, cols, as_json=as_json, as_csv=as_csv, empty="No evening records yet.")


@log.command("nights")
@format_options
@db_option
@click.pass_context
def nights(ctx: click.Context, as_json: bool, as_csv: bool, db: str | None) -> None:
    """List the nights in the log, newest first.

    \b
    Example:
      cramp log nights
    """
    with _open(ctx, db) as lg:
        rows = lg.nights()
    cols: list[tuple[str, str, Callable[[Any], str] | None]] = [
        ("night_id", "night", None),
        ("start_utc", "start", lambda v: _local_dt(v)),
        ("duration_s", "span", lambda v: "" if v is None else fmt_duration(v)),
        ("status", "status", None),
        ("cramps", "cramps", None),
        ("plms", "PLMs", None),
        ("events", "events", None),
        ("detector_version", "detector", None),
        ("source", "source", None),
    ]
    emit(rows, cols, as_json=as_json, as_csv=as_csv, empty="No nights in the cramp log yet.")


def _local_date(v: Any) -> str:
    t = parse_utc(v)
    return t.astimezone().strftime("%Y-%m-%d") if t else ""


def _local_dt(v: Any) -> str:
    t = parse_utc(v)
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else ""
