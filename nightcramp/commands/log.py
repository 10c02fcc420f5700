"""``cramp log ...`` and ``cramp summary``: thin commands over :mod:`nightcramp.cramplog`.

Every listing takes ``--json`` and ``--csv``; every command takes ``--db`` (else
``NIGHTCRAMP_DB``, else the per-user data folder).  Bad ids and values are
:class:`~recordings.errors.UserError` (one line, exit 2).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import click

from nightcramp import heal
from nightcramp.cramplog import EVENING_FIELDS, CrampLog, parse_utc
from nightcramp.summary import build_summary, clock, fmt_duration, render_text
from recordings.errors import UserError

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


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    return str(o)


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
        click.echo(json.dumps(list(rows), default=_json_default, indent=2, ensure_ascii=False))
        return
    if as_csv:
        keys = list(rows[0].keys()) if rows else [c[0] for c in columns]
        w = csv.DictWriter(sys.stdout, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(
                {
                    k: json.dumps(v, default=_json_default) if isinstance(v, (list, dict)) else v
                    for k, v in r.items()
                }
            )
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


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``1:30``, ``2m``, ``1m30s``, ``2 min`` -> seconds."""
    if text is None:
        return None
    t = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    m = re.fullmatch(r"(\d+):(\d{1,2})", t)
    if m:
        return int(m[1]) * 60.0 + int(m[2])
    m = re.fullmatch(r"(?:(\d+(?:\.\d+)?)(?:m|min))?(?:(\d+(?:\.\d+)?)(?:s|sec)?)?", t)
    if m and (m[1] or m[2]):
        return float(m[1] or 0) * 60 + float(m[2] or 0)
    raise UserError(f"duration {text!r} is not understood; give seconds (90), 1:30 or 2m")


def parse_at(text: str, log: CrampLog, night_id: str | None) -> datetime:
    """``03:10`` (during the given or latest night) or ``2026-11-25 03:10`` (local time)."""
    t = text.strip()
    for fmt in ("%H:%M", "%H:%M:%S"):
        try:
            tod = datetime.strptime(t, fmt).time()
        except ValueError:
            continue
        return _clock_to_datetime(tod, log, night_id)
    try:
        dt = datetime.fromisoformat(t)
    except ValueError as e:
        raise UserError(
            f"time {text!r} is not understood; give a clock time like 03:10 or a date and "
            "time like 2026-11-25T03:10"
        ) from e
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time
    return dt.astimezone(UTC)


def _clock_to_datetime(tod: time, log: CrampLog, night_id: str | None) -> datetime:
    nid = night_id or log.latest_night_id()
    start = parse_utc(log.require_night(nid)["start_utc"]) if nid else None
    if start is not None:
        s_local = start.astimezone()
        cand = datetime.combine(s_local.date(), tod).astimezone()
        if cand < s_local - timedelta(hours=1):
            cand += timedelta(days=1)
        return cand.astimezone(UTC)
    now = datetime.now().astimezone()
    cand = datetime.combine(now.date(), tod).astimezone()
    if cand > now:
        cand -= timedelta(days=1)
    return cand.astimezone(UTC)


def _night_arg(log: CrampLog, night: str | None) -> str | None:
    if night in (None, ""):
        return None
    if night == "latest":
        nid = log.latest_night_id()
        if nid is None:
            raise UserError(f"cramp log {log.path}: has no nights yet; record or replay one first")
        return nid
    return log.require_night(str(night))["night_id"]


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
@click.option("--night", metavar="ID", help="Only this night (a recording id, or 'latest').")
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
        rows = lg.events(_night_arg(lg, night), kind, include_superseded=include_all)
        cols = EVENT_COLUMNS + ([("superseded", "superseded", _bool)] if include_all else [])
        emit(rows, cols, as_json=as_json, as_csv=as_csv, empty="No events in the cramp log.")


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
        click.echo(json.dumps(ev, default=_json_default, indent=2, ensure_ascii=False))
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
        for eid in event_ids:
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
        for eid in event_ids:
            click.echo(f"{_one_line(lg.reject(eid))}: rejected")


def annotation_options(f: F) -> F:
    f = click.option("--note", "note", metavar="TEXT", help="Free text.")(f)
    f = click.option("--soreness", type=WHOLE, metavar="0-10", help="Soreness the next day.")(f)
    f = click.option(
        "--eased-by",
        "eased_by",
        multiple=True,
        metavar="WHAT",
        help="stretch (foot up), walking, shaking, massage, nothing, other; repeat or comma.",
    )(f)
    f = click.option("--side", metavar="SIDE", help="left, right or both.")(f)
    f = click.option("--muscle", metavar="MUSCLE", help="calf, thigh or foot.")(f)
    f = click.option("--pain", type=WHOLE, metavar="0-10", help="Pain, 0 none to 10 worst.")(f)
    return f


def _eased(eased_by: tuple[str, ...]) -> str | None:
    return ",".join(eased_by) if eased_by else None


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
    click.echo(f"{_one_line(ev)}: {', '.join(bits) or 'annotated'}")


@log.command("add")
@click.option("--at", "at", required=True, metavar="TIME",
              help="When: 03:10 (during the latest or --night night) or 2026-11-25T03:10.")  # fmt: skip
@click.option("--duration", metavar="DUR", help="How long: 90, 1:30 or 2m.")
@click.option("--night", metavar="ID", help="The night it belongs to (default: by time).")
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
        nid = _night_arg(lg, night)
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
    click.echo(f"felt cramp {cid} at {clock(when)} logged ({where})")


@log.command("felt")
@click.option("--night", metavar="ID", help="Only this night (or 'latest').")
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
        rows = lg.manual_cramps(_night_arg(lg, night))
    cols: list[tuple[str, str, Callable[[Any], str] | None]] = [
        ("cramp_id", "id", None),
        ("night_id", "night", None),
        ("at_utc", "time", _clock_s),
        ("duration_s", "duration", lambda v: "" if v is None else fmt_duration(v)),
        ("pain", "pain", None),
        ("muscle", "muscle", None),
        ("side", "side", None),
        ("eased_by", "eased by", None),
        ("notes", "notes", None),
    ]
    emit(rows, cols, as_json=as_json, as_csv=as_csv, empty="No felt cramps logged.")


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
        click.echo(json.dumps(row, indent=2, ensure_ascii=False))
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


def _local_dt(v: Any) -> str:
    t = parse_utc(v)
    return t.astimezone().strftime("%Y-%m-%d %H:%M") if t else ""


@click.command("summary")
@click.argument("night", required=False)
@click.option("--json", "as_json", is_flag=True, help="Output the summary as JSON.")
@click.option("--html", "html_file", metavar="FILE", help="Also write a self-contained HTML page.")
@db_option
def summary(night: str | None, as_json: bool, html_file: str | None, db: str | None) -> None:
    """The morning summary of a night (default: the latest).

    \b
    Examples:
      cramp summary
      cramp summary night-20261124 --html night.html
      cramp summary --json | jq .cramps
    """
    with heal.finished(CrampLog.open(db)) as lg:
        nid = _night_arg(lg, night)
        s = build_summary(lg, nid)
        if html_file:
            from nightcramp.report_html import write_html

            p = write_html(lg, html_file, nid)
    if as_json:
        click.echo(json.dumps(s, default=_json_default, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(s), nl=False)
    if html_file:
        click.echo(f"HTML summary written to {p}", err=as_json)
