"""The morning summary: pure functions from the cramp log to a plain dict, and its text.

:func:`build_summary` reads one night (default: the latest) from a
:class:`~nightcramp.cramplog.CrampLog` and returns a JSON-ready dict; :func:`render_text`
turns that dict into the short terminal report.  ``cramp summary`` and ``cramp demo``
print it; ``--json`` dumps the dict; :mod:`nightcramp.report_html` draws it.

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
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any

from nightcramp.cramplog import CrampLog, night_date, parse_utc, utc_iso

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


def _sleep_from_epochs(epochs: Any) -> dict[str, Any] | None:
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
    # awakenings: wake runs of >= 1 epoch between sleep epochs
    awakenings, prev, seen_sleep = 0, "", False
    t_first_sleep = t_last_sleep = None
    for t, st in zip(epochs["t_s"].tolist(), states, strict=True):
        if st == "sleep":
            if seen_sleep and prev == "wake":
                awakenings += 1
            seen_sleep = True
            t_first_sleep = t if t_first_sleep is None else t_first_sleep
            t_last_sleep = t + EPOCH_S
        if st in ("sleep", "wake"):
            prev = st
    return {
        "in_bed_s": in_bed * EPOCH_S,
        "sleep_s": sleep * EPOCH_S,
        "wake_s": wake * EPOCH_S,
        "efficiency_pct": (100.0 * sleep / in_bed) if in_bed else None,
        "awakenings": awakenings,
        "sleep_onset_t_s": t_first_sleep,
        "final_wake_t_s": t_last_sleep,
        "posture_known": has_posture,
    }


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


def _night_sleep_h(log: CrampLog, night_id: str) -> float | None:
    s = _sleep_from_epochs(log.epochs(night_id))
    return s["sleep_s"] / 3600.0 if s and s["sleep_s"] > 0 else None


def _compare(log: CrampLog, night: dict[str, Any], cramps: int, plmi: float | None) -> dict:
    start = night.get("start_utc") or ""
    prev = [
        n
        for n in log.nights()
        if n["night_id"] != night["night_id"]
        and n["status"] == "complete"
        and (n["start_utc"] or "") < start
    ][:COMPARE_NIGHTS]
    if not prev:
        return {"nights": 0, "line": "No earlier nights in the log to compare with yet."}
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
    return {
        "nights": len(prev),
        "mean_cramps": mean_c,
        "mean_plm_index": mean_p,
        "line": line + ".",
    }


def trends(log: CrampLog, until_utc: str | None = None, days: int = TREND_DAYS) -> list[dict]:
    """Per night over the last ``days`` days up to ``until_utc``: cramps vs evening record."""
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
    for n in reversed([n for n in nights if n["start_utc"] >= since]):
        d = night_date(parse_utc(n["start_utc"]))
        ev = log.evening(d) if d else None
        rows.append(
            {
                "date": d,
                "night_id": n["night_id"],
                "cramps": n["cramps"],
                "felt": felt.get(n["night_id"], 0),
                "plms": n["plms"],
                "water_l": ev.get("water_l") if ev else None,
                "stretch": _b(ev.get("stretch")) if ev else None,
                "exercise": _b(ev.get("exercise")) if ev else None,
                "long_sitting": _b(ev.get("long_sitting")) if ev else None,
                "long_standing": _b(ev.get("long_standing")) if ev else None,
                "supplement": (ev.get("supplement") or None) if ev else None,
            }
        )
    return rows


def _b(v: Any) -> bool | None:
    return None if v is None else bool(v)


#: A habit needs at least this many nights with it and without it before the summary
#: compares them (fewer is anecdote, not a trend).
MIN_NIGHTS_PER_SIDE = 3


def habit_effects(rows: list[dict]) -> list[dict[str, Any]]:
    """Mean cramps per night with and without each evening habit (no statistics claimed)."""
    out = []
    tests = {
        "stretch before bed": lambda r: r["stretch"],
        "light evening exercise": lambda r: r["exercise"],
        "water >= 1.5 L": lambda r: None if r["water_l"] is None else r["water_l"] >= 1.5,
        "long sitting": lambda r: r["long_sitting"],
        "long standing": lambda r: r["long_standing"],
    }
    for name, f in tests.items():
        yes = [r["cramps"] + r["felt"] for r in rows if f(r) is True]
        no = [r["cramps"] + r["felt"] for r in rows if f(r) is False]
        if len(yes) >= MIN_NIGHTS_PER_SIDE and len(no) >= MIN_NIGHTS_PER_SIDE:
            out.append(
                {
                    "habit": name,
                    "nights_with": len(yes),
                    "nights_without": len(no),
                    "cramps_with": mean(yes),
                    "cramps_without": mean(no),
                }
            )
    return out


def build_summary(log: CrampLog, night_id: str | None = None) -> dict[str, Any]:
    """The summary of ``night_id`` (default: the latest night) as a JSON-ready dict."""
    nid = night_id or log.latest_night_id()
    out: dict[str, Any] = {"log": str(log.path), "night": None, "messages": []}
    if nid is None:
        out["messages"].append(
            "The cramp log is empty: record a night with `cramp record` (or try `cramp demo`),"
            " or replay one with `cramp replay`."
        )
        out["precision"] = {"night": None, "all": log.precision()}
        out["trends"] = []
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

    out["night"] = {
        "night_id": nid,
        "status": n["status"],
        "source": n["source"],
        "device": n["device"],
        "detector_version": n["detector_version"],
        "date": night_date(t0),
        "start_utc": utc_iso(t0),
        "end_utc": utc_iso(end_utc),
        "start_clock": clock(t0),
        "end_clock": clock(end_utc),
    }
    out["recording"] = {
        "duration_s": duration,
        "recorded_s": max(0.0, duration - gap_s),
        "gap_s": gap_s,
        "n_gaps": len(gaps),
        "gaps": [
            {
                **g,
                "start_clock": clock(t0 + timedelta(seconds=g["start_s"]) if t0 else None),
            }
            for g in gaps
        ],
        "electrode_off_s": float(eoff),
        "coverage_pct": coverage,
    }
    sleep = _sleep_from_epochs(epochs)
    out["sleep"] = sleep

    cramps = []
    for e in (e for e in events if e["kind"] == "cramp"):
        st = when(e)
        cramps.append(
            {
                "event_id": e["event_id"],
                "start_s": e["start_s"],
                "end_s": e["end_s"],
                "start_utc": utc_iso(st),
                "clock": clock(st),
                "duration_s": e["duration_s"],
                "peak_uv": e["peak_uv"],
                "mean_uv": e["mean_uv"],
                "peak_x_rest": e["peak_x_rest"],
                "confidence": e["confidence"],
                "channels": e["channels"],
                "verdict": e["verdict"],
                "pain": e["pain"],
                "muscle": e["muscle"],
                "side": e["side"],
                "eased_by": e["eased_by"],
                "soreness": e["soreness"],
                "notes": e["notes"],
                **_followed(e, events, epochs),
            }
        )
    out["cramps"] = cramps
    out["felt_cramps"] = [
        {**m, "clock": clock(parse_utc(m["at_utc"]))} for m in log.manual_cramps(nid)
    ]
    plms = [e for e in events if e["kind"] == "plm"]
    sleep_h = sleep["sleep_s"] / 3600.0 if sleep and sleep["sleep_s"] > 0 else None
    rec_h = (duration - gap_s) / 3600.0
    plmi = len(plms) / sleep_h if sleep_h else (len(plms) / rec_h if rec_h > 0 else None)
    out["plm"] = {
        "count": len(plms),
        "index_per_h": plmi,
        "per": "hour of sleep" if sleep_h else "hour of recording",
        "sleep_h": sleep_h,
    }
    others: dict[str, int] = {}
    for e in events:
        if e["kind"] in ("movement", "artifact"):
            k = f"{e['kind']}:{e['subtype'] or 'other'}"
            others[k] = others.get(k, 0) + 1
    out["other_events"] = others
    out["events"] = [
        {
            "event_id": e["event_id"],
            "kind": e["kind"],
            "subtype": e["subtype"],
            "start_s": e["start_s"],
            "end_s": e["end_s"],
            "clock": clock(when(e), seconds=True),
            "duration_s": e["duration_s"],
            "peak_uv": e["peak_uv"],
            "peak_x_rest": e["peak_x_rest"],
            "confidence": e["confidence"],
            "verdict": e["verdict"],
            "reason": e["reason"],
        }
        for e in events
    ]
    out["evening"] = log.evening(out["night"]["date"]) if out["night"]["date"] else None
    out["comparison"] = _compare(log, n, len(cramps), plmi)
    out["precision"] = {"night": log.precision(nid), "all": log.precision()}
    out["trends"] = trends(log, until_utc=n["start_utc"])
    out["habits"] = habit_effects(out["trends"])
    orphans = log.orphaned_annotations(nid)
    out["orphaned_annotations"] = len(orphans)

    msgs = out["messages"]
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


def render_text(s: dict[str, Any]) -> str:
    """The terminal report of a summary dict from :func:`build_summary`."""
    lines: list[str] = []
    n = s.get("night")
    if n is None:
        lines.append("Morning summary")
        lines += [f"  {m}" for m in s["messages"]]
        return "\n".join(lines) + "\n"
    rec = s["recording"]
    title = f"Night of {n['date']}" if n.get("date") else f"Night {n['night_id']}"
    status = " (still recording)" if n["status"] == "recording" else ""
    lines.append(f"{title} -- {n['night_id']}{status}")
    lines.append(
        f"  Recorded   {n['start_clock']}-{n['end_clock']} ({fmt_duration(rec['duration_s'])}),"
        f" coverage {_pct(rec['coverage_pct'])}, {rec['n_gaps']} gap"
        f"{'s' if rec['n_gaps'] != 1 else ''} ({fmt_duration(rec['gap_s'])}),"
        f" electrode off {fmt_duration(rec['electrode_off_s'])}"
    )
    if rec["gaps"]:
        g = max(rec["gaps"], key=lambda g: g["duration_s"])
        lines.append(
            f"             longest gap {fmt_duration(g['duration_s'])} at {g['start_clock']}"
            f" ({g['reason']})"
        )
    sl = s.get("sleep")
    if sl:
        lines.append(
            f"  In bed     {fmt_duration(sl['in_bed_s'])}; asleep {fmt_duration(sl['sleep_s'])},"
            f" awake {fmt_duration(sl['wake_s'])} (sleep efficiency "
            f"{_pct(sl['efficiency_pct'])}, {sl['awakenings']} awakening"
            f"{'s' if sl['awakenings'] != 1 else ''})"
        )
    else:
        lines.append("  In bed     not estimated (no sleep/wake epochs for this night)")
    cramps = s["cramps"]
    if cramps:
        lines.append(f"  Cramps     {len(cramps)}")
        for c in cramps:
            inten = (
                f"peak {c['peak_uv']:.0f} µV ({c['peak_x_rest']:.0f}x rest)"
                if c["peak_uv"] is not None and c["peak_x_rest"] is not None
                else "intensity ?"
            )
            fol = ", ".join(c["what_followed"]) or "nothing noted"
            if c["awake_after_s"]:
                fol += f", awake {fmt_duration(c['awake_after_s'])}"
            mark = {"confirmed": " [confirmed]", "rejected": " [rejected]"}.get(
                c["verdict"] or "", ""
            )
            pain = f", pain {c['pain']}/10" if c["pain"] is not None else ""
            lines.append(
                f"    #{c['event_id']:<4} {c['clock']}  {fmt_duration(c['duration_s']):>9}  "
                f"{inten}{pain}; then: {fol}{mark}"
            )
    else:
        lines.append("  Cramps     none detected")
    for m in s.get("felt_cramps", []):
        dur = f" for {fmt_duration(m['duration_s'])}" if m["duration_s"] else ""
        lines.append(f"    felt (not recorded) at {m['clock']}{dur}")
    p = s["plm"]
    idx = f"{p['index_per_h']:.1f} per {p['per']}" if p["index_per_h"] is not None else "?"
    lines.append(f"  PLM        {p['count']} periodic leg movements, index {idx}")
    if s.get("other_events"):
        other = ", ".join(f"{v} {k.split(':')[1]}" for k, v in sorted(s["other_events"].items()))
        lines.append(f"  Also       {other}")
    ev = s.get("evening")
    if ev:
        bits = []
        if ev.get("water_l") is not None:
            bits.append(f"water {ev['water_l']:g} L")
        for k, label in (
            ("stretch", "stretch"),
            ("exercise", "exercise"),
            ("long_sitting", "long sitting"),
            ("long_standing", "long standing"),
        ):
            if ev.get(k) is not None:
                bits.append(label if ev[k] else f"no {label}")
        if ev.get("supplement"):
            bits.append(ev["supplement"])
        lines.append(f"  Evening    {', '.join(bits) or 'recorded, no details'}")
    lines.append(f"  Trend      {s['comparison']['line']}")
    pr = s["precision"]["all"]
    if pr["precision"] is not None:
        lines.append(
            f"  Detector   precision {100 * pr['precision']:.0f} % on your reviewed cramps "
            f"({pr['confirmed']} confirmed, {pr['rejected']} rejected; "
            f"{pr['felt_not_detected']} felt but not detected)"
        )
    else:
        lines.append(
            "  Detector   no cramps reviewed yet: `cramp log confirm ID` / `cramp log reject ID`"
        )
    lines += [f"  Note: {m}" for m in s["messages"]]
    return "\n".join(lines) + "\n"
