"""``cramp summary --html FILE``: one self-contained HTML page of a night.

No network is needed to open the page: CSS is inline and the plots are PNG images (the
night, the trends) and SVG images (each cramp up close) drawn by matplotlib and embedded
as base64 ``data:`` URIs.  The page renders the night's
:class:`~nightcramp.summary.Summary` (the same one the text and ``--json`` show):

* the key figures (the cramps card is red only when there are cramps),
* a timeline of the night on a clock-time axis: the EMG RMS envelope in µV on a log
  axis with the resting level, movement (accelerometer activity in g), posture and the
  sleep/wake estimate, every event marked and the cramps labelled, gaps shaded,
* the events table (``<table id="cramps">``: one row per cramp; other events below),
* each cramp up close (``<div class="zoom">``): the 1-s EMG envelope over its resting
  level and the movement from 30 s before the onset to 60 s after the end, onset, end
  and the early notice marked,
* the evening record before the night (water, stretch, exercise, ...),
* trends over the last weeks: one bar per night (labelled by its evening, and its start
  time when an evening has several) against the evening record.

A tiny inline script copies each image's natural size into ``data-natural-width`` /
``data-natural-height`` after load, so a headless browser's DOM dump shows that the
images decoded (the browser test relies on it).
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from nightcramp.cramplog import CrampLog, parse_utc  # noqa: E402
from nightcramp.summary import (  # noqa: E402
    Cramp,
    Evening,
    Summary,
    TrendRow,
    build_summary,
    fmt_duration,
)
from recordings import files  # noqa: E402
from recordings.errors import UserError  # noqa: E402

KIND_COLOURS = {
    "cramp": "#d62728",
    "plm": "#9467bd",
    "movement": "#1f77b4",
    "artifact": "#8c8c8c",
}
POSTURE_COLOURS = {
    "lying": "#9ecae1",
    "sitting": "#fdae6b",
    "standing": "#e6550d",
    "unknown": "#eeeeee",
}
STATE_COLOURS = {"sleep": "#3f51b5", "wake": "#ffc107", "gap": "#dddddd"}
GAP_COLOUR = "#bbbbbb"
#: Envelope bins for the timeline, s: about one bin per pixel of a 1200-px plot (8 h ->
#: 24 s), at least 1 s (the trace's resolution): each bin shows its maximum, so every
#: burst stays visible without drawing 28 800 points.
PLOT_PIXELS = 1200


def _svg(fig: Any) -> str:
    """A small figure as base64 SVG (crisp when zoomed in; text left as text)."""
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nightcramp"}):
        fig.savefig(buf, format="svg", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


class _Axis:
    """Timeline seconds -> matplotlib x values (local clock time, or hours)."""

    def __init__(self, t0: datetime | None) -> None:
        self.t0 = t0.astimezone() if t0 is not None else None

    def x(self, t_s: Any) -> Any:
        t = np.asarray(t_s, dtype=float)
        if self.t0 is None:
            return t / 3600.0
        base = mdates.date2num(self.t0)
        return base + t / 86400.0

    def width(self, dur_s: float) -> float:
        return dur_s / (86400.0 if self.t0 is not None else 3600.0)

    def format(self, ax: Any) -> None:
        if self.t0 is None:
            ax.set_xlabel("time since recording start (h)")
            return
        tz = self.t0.tzinfo
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(tz=tz, minticks=6, maxticks=14))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))
        name = self.t0.tzname() or ""
        ax.set_xlabel(f"clock time ({name})" if name else "clock time")


def _binned(trace: pd.DataFrame, col: str, how: str, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    if col not in trace or trace[col].isna().all():
        return np.array([]), np.array([])
    b = (trace["t_s"] // bin_s) * bin_s
    g = trace[col].astype(float).groupby(b)
    v = g.max() if how == "max" else g.median()
    full = pd.Series(np.nan, index=np.arange(b.min(), b.max() + bin_s, bin_s))
    full.loc[v.index] = v.values
    return full.index.to_numpy(dtype=float) + bin_s / 2, full.to_numpy(dtype=float)


def timeline_png(
    s: Summary,
    trace: pd.DataFrame,
    epochs: pd.DataFrame,
    events: list[dict[str, Any]],
    gaps: list[dict[str, Any]],
) -> str:
    """The night's timeline as base64 PNG (1200 x 720 px)."""
    n, rec = s.night, s.recording
    assert n is not None and rec is not None
    ax_t = _Axis(parse_utc(n.start_utc))
    span = max(float(rec.duration_s or 0.0), 60.0)
    if s.legs:  # a lane per leg: each leg's events and gaps
        fig, (a_emg, a_legs, a_act, a_band) = plt.subplots(
            4,
            1,
            figsize=(12, 8.4),
            sharex=True,
            gridspec_kw={"height_ratios": [3.2, 1.0, 1.2, 1.0], "hspace": 0.08},
        )
        _leg_lanes(a_legs, ax_t, s.legs, events, gaps, span)
    else:
        fig, (a_emg, a_act, a_band) = plt.subplots(
            3,
            1,
            figsize=(12, 7.2),
            sharex=True,
            gridspec_kw={"height_ratios": [3.2, 1.2, 1.0], "hspace": 0.08},
        )
    fig.subplots_adjust(left=0.09, right=0.985, top=0.885, bottom=0.1)
    fig.suptitle(
        f"Night of {n.date or n.night_id}: calf EMG, movement and sleep",
        fontsize=14,
        x=0.09,
        y=0.985,
        ha="left",
    )
    # --- EMG envelope
    bin_s = float(max(1, round(span / PLOT_PIXELS)))
    x, env = _binned(trace, "emg_rms_uv", "max", bin_s)
    xr, rest = _binned(trace, "rest_uv", "median", bin_s)
    ymax = 100.0
    if len(x):
        a_emg.plot(
            ax_t.x(x), env, color="#333333", lw=0.7, label=f"EMG envelope ({bin_s:.0f}-s max)"
        )
        if np.isfinite(env).any():
            ymax = max(ymax, float(np.nanmax(env)) * 3)
    if len(xr):
        a_emg.plot(ax_t.x(xr), rest, color="#2ca02c", lw=1.2, ls="--", label="resting level")
    a_emg.set_yscale("log")
    a_emg.set_ylim(0.5, ymax)
    a_emg.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: f"{v:g}"))
    a_emg.set_ylabel("EMG RMS (µV, log)")
    a_emg.grid(True, which="major", axis="y", alpha=0.3)
    if not len(x):
        a_emg.text(
            0.5,
            0.5,
            "no signal trace stored for this night"
            + (" yet (still recording)" if n.status == "recording" else ""),
            transform=a_emg.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color="#555555",
        )
    # --- events
    cramp_no = 0
    for e in events:
        col = KIND_COLOURS.get(e["kind"], "#000000")
        x0 = ax_t.x(e["start_s"])
        w = max(ax_t.width(e["end_s"] - e["start_s"]), ax_t.width(span / 1200.0))
        if e["kind"] == "cramp":
            # at least ~4 px wide so a 1-min cramp in an 8-h night stays visible
            w = max(w, ax_t.width(span / 250.0))
            cramp_no += 1
            for a in (a_emg, a_act):
                a.axvspan(x0, x0 + w, color=col, alpha=0.35, lw=0)
            a_emg.annotate(
                f"cramp #{e['event_id']}\n{fmt_duration(e['duration_s'])}",
                xy=(x0 + w / 2, ymax * 0.8),
                ha="center",
                va="top",
                fontsize=10,
                fontweight="bold",
                color=col,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": col, "alpha": 0.9},
            )
        else:
            y0, y1 = {"plm": (0.0, 0.06), "movement": (0.06, 0.12), "artifact": (0.12, 0.18)}[
                e["kind"]
            ]
            a_emg.axvspan(x0, x0 + w, ymin=y0, ymax=y1, color=col, alpha=0.9, lw=0)
    # --- gaps (of one leg's sensor: on that leg's lane only)
    for g in gaps:
        if s.legs and g.get("leg"):
            continue
        for a in (a_emg, a_act, a_band):
            a.axvspan(
                ax_t.x(g["start_s"]),
                ax_t.x(g["end_s"]),
                facecolor=GAP_COLOUR,
                alpha=0.55,
                hatch="//",
                edgecolor="#888888",
                lw=0,
            )
    handles = [
        Patch(color=KIND_COLOURS["cramp"], alpha=0.5, label="cramp"),
        Patch(color=KIND_COLOURS["plm"], label="PLM (bottom strip)"),
        Patch(color=KIND_COLOURS["movement"], label="movement"),
        Patch(color=KIND_COLOURS["artifact"], label="artefact"),
        Patch(facecolor=GAP_COLOUR, hatch="//", edgecolor="#888888", label="gap (no data)"),
    ]
    lines, _ = a_emg.get_legend_handles_labels()
    a_emg.legend(
        handles=lines + handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.01),
        ncol=7,
        fontsize=9,
        frameon=False,
        borderaxespad=0.0,
    )
    # --- activity
    xa, act = _binned(trace, "activity_g", "max", bin_s)
    if len(xa):
        a_act.fill_between(ax_t.x(xa), 0, np.nan_to_num(act), color="#1f77b4", alpha=0.6, lw=0)
        top = float(np.nanmax(act)) if np.isfinite(act).any() else 0.0
        a_act.set_ylim(0, max(0.05, top * 1.15))
    else:
        a_act.text(
            0.5,
            0.5,
            "no accelerometer" if len(trace) else "no movement trace stored",
            transform=a_act.transAxes,
            ha="center",
            va="center",
            color="#555555",
        )
    a_act.set_ylabel("movement (g)")
    a_act.grid(True, axis="y", alpha=0.3)
    # --- posture + sleep/wake bands
    a_band.set_ylim(0, 2)
    a_band.set_yticks([0.5, 1.5], ["sleep / wake", "posture"])
    if len(trace) and "posture" in trace:
        _runs_band(a_band, ax_t, trace["t_s"].to_numpy(), trace["posture"], 1.0, 1.0,
                   POSTURE_COLOURS)  # fmt: skip
    elif len(epochs):
        _runs_band(a_band, ax_t, epochs["t_s"].to_numpy(), epochs["posture"], 1.0, 30.0,
                   POSTURE_COLOURS)  # fmt: skip
    if len(epochs):
        _runs_band(a_band, ax_t, epochs["t_s"].to_numpy(), epochs["state"], 0.0, 30.0,
                   STATE_COLOURS)  # fmt: skip
    band_handles = [
        Patch(color=POSTURE_COLOURS[k], label=k) for k in ("lying", "sitting", "standing")
    ] + [Patch(color=STATE_COLOURS[k], label=k) for k in ("sleep", "wake")]
    fig.legend(
        handles=band_handles,
        loc="lower right",
        bbox_to_anchor=(0.985, 0.0),
        ncol=5,
        fontsize=9,
        frameon=False,
    )
    a_band.set_xlim(ax_t.x(0.0), ax_t.x(span))
    ax_t.format(a_band)
    return _png(fig)


def _leg_lanes(
    ax: Any,
    ax_t: _Axis,
    legs: list[str],
    events: list[dict[str, Any]],
    gaps: list[dict[str, Any]],
    span: float,
) -> None:
    """One lane per leg: its cramps, PLMs, movements and artefacts (a bilateral movement
    on both lanes), and the gaps of that leg's sensor alone."""
    rows = {leg: len(legs) - 1 - i for i, leg in enumerate(legs)}
    ax.set_ylim(0, len(legs))
    ax.set_yticks([r + 0.5 for r in rows.values()], [f"{leg} leg" for leg in rows])
    for e in events:
        leg = e.get("leg")
        lanes = list(rows) if leg == "both" else [leg] if leg in rows else []
        col = KIND_COLOURS.get(e["kind"], "#000000")
        x0 = ax_t.x(e["start_s"])
        w = max(ax_t.width(e["end_s"] - e["start_s"]), ax_t.width(span / 1200.0))
        if e["kind"] == "cramp":
            w = max(w, ax_t.width(span / 250.0))
        for lane in lanes:
            r = rows[lane]
            lo, hi = (r + 0.1) / len(legs), (r + 0.9) / len(legs)
            ax.axvspan(x0, x0 + w, ymin=lo, ymax=hi, color=col, alpha=0.85, lw=0)
    for g in gaps:
        leg = g.get("leg")
        if leg in rows:
            r = rows[leg]
            ax.axvspan(ax_t.x(g["start_s"]), ax_t.x(g["end_s"]), ymin=r / len(legs),
                       ymax=(r + 1) / len(legs), facecolor=GAP_COLOUR, alpha=0.55, hatch="//",
                       edgecolor="#888888", lw=0)  # fmt: skip
    ax.grid(False)


def _runs_band(
    ax: Any,
    axt: _Axis,
    t: np.ndarray,
    labels: pd.Series,
    y: float,
    step_s: float,
    colours: dict[str, str],
) -> None:
    vals = labels.fillna("unknown").astype(str).to_numpy()
    if len(vals) == 0:
        return
    start = 0
    for i in range(1, len(vals) + 1):
        if i == len(vals) or vals[i] != vals[start] or t[i] - t[i - 1] > step_s * 1.5:
            c = colours.get(vals[start])
            if c is not None:
                x0 = axt.x(t[start])
                x1 = axt.x(t[i - 1] + step_s)
                ax.broken_barh([(x0, x1 - x0)], (y + 0.1, 0.8), color=c, lw=0)
            start = i


def trend_labels(rows: list[TrendRow]) -> list[str]:
    """One label per night: its evening's date (``24 Nov``), and its start time when the
    evening has several nights (``24 Nov 22:50``)."""
    per_date: dict[str | None, int] = {}
    for r in rows:
        per_date[r.date] = per_date.get(r.date, 0) + 1
    out = []
    for r in rows:
        d = datetime.fromisoformat(r.date).strftime("%d %b") if r.date else "?"
        out.append(f"{d} {r.start_clock}" if per_date[r.date] > 1 else d)
    return out


def trends_png(rows: list[TrendRow]) -> str | None:
    """Cramps per night over the last weeks against the evening record (base64 PNG).

    One bar per night (two nights of one evening are two bars), oldest first.
    ``None`` below two nights: one bar is not a trend."""
    if len(rows) < 2:
        return None
    x = np.arange(len(rows), dtype=float)
    labels = trend_labels(rows)
    fig, (a_c, a_w, a_h) = plt.subplots(
        3,
        1,
        figsize=(12, 6.4),
        sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1.2, 1.1], "hspace": 0.1},
    )
    fig.subplots_adjust(left=0.09, right=0.985, top=0.9, bottom=0.1)
    fig.suptitle("Cramps per night and the evening before", fontsize=14, x=0.09, ha="left")
    det = np.array([r.cramps for r in rows], dtype=float)
    felt = np.array([r.felt for r in rows], dtype=float)
    a_c.bar(x, det, width=0.7, color=KIND_COLOURS["cramp"], label="detected")
    a_c.bar(x, felt, width=0.7, bottom=det, color="#f4a6a6", label="felt, not recorded")
    a_c.set_ylabel("cramps per night")
    top = float((det + felt).max()) if len(det) else 1.0
    a_c.set_ylim(0, max(2.0, top + 1))
    a_c.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
    a_c.grid(True, axis="y", alpha=0.3)
    a_c.legend(loc="upper left", fontsize=9, ncol=2)
    water = np.array([np.nan if r.water_l is None else r.water_l for r in rows])
    a_w.bar(x, np.nan_to_num(water), width=0.7, color="#6baed6")
    for xi, w in zip(x, water, strict=True):
        if np.isnan(w):
            a_w.text(xi, 0.05, "?", ha="center", va="bottom", fontsize=8, color="#777777")
    a_w.set_ylabel("water (L)")
    a_w.set_ylim(0, max(3.0, float(np.nanmax(water)) * 1.2 if np.isfinite(water).any() else 3))
    a_w.grid(True, axis="y", alpha=0.3)
    habits = [
        ("stretch", "stretch"),
        ("exercise", "exercise"),
        ("long_sitting", "sat long"),
    ]
    for i, (k, _label) in enumerate(habits):
        yv = len(habits) - 1 - i
        for xi, r in zip(x, rows, strict=True):
            v = getattr(r, k)
            if v is None:
                a_h.plot(xi, yv, marker="o", ms=7, mfc="none", mec="#cccccc")
            elif v:
                a_h.plot(xi, yv, marker="o", ms=9, color="#2ca02c")
            else:
                a_h.plot(xi, yv, marker="x", ms=7, color="#999999")
    a_h.set_yticks(range(len(habits)), [lab for _, lab in reversed(habits)])
    a_h.set_ylim(-0.6, len(habits) - 0.4)
    a_h.set_xlabel("evening of (filled: yes, x: no, hollow: not recorded)")
    step = max(1, math.ceil(len(rows) / 24))  # at most ~24 labels across 1200 px
    ticks = list(range(len(rows) - 1, -1, -step))[::-1]
    a_h.set_xticks([x[i] for i in ticks], [labels[i] for i in ticks], rotation=45, ha="right",
                   fontsize=8)  # fmt: skip
    a_h.set_xlim(x.min() - 0.8, x.max() + 0.8)
    fig.subplots_adjust(bottom=0.2)
    return _png(fig)


#: The zoomed panel of a cramp: from this many seconds before its onset ...
ZOOM_BEFORE_S = 30.0
#: ... to this many seconds after its end.
ZOOM_AFTER_S = 60.0


def cramp_zoom_svg(c: Cramp, trace: pd.DataFrame) -> str:
    """One cramp up close (base64 SVG, 1200 x 330 px at 100 dpi): the EMG envelope over its resting
    level and the movement, ``ZOOM_BEFORE_S`` before the onset to ``ZOOM_AFTER_S`` after
    the end, with onset, end and the early notice marked (seconds from the onset)."""
    lo, hi = c.start_s - ZOOM_BEFORE_S, c.end_s + ZOOM_AFTER_S
    win = trace[(trace["t_s"] >= lo) & (trace["t_s"] <= hi)] if len(trace) else trace
    fig, (a_emg, a_act) = plt.subplots(
        2, 1, figsize=(12, 3.3), sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1.0], "hspace": 0.08},
    )  # fmt: skip
    fig.subplots_adjust(left=0.09, right=0.985, top=0.86, bottom=0.16)
    when = f" at {c.clock}" if c.clock else ""
    fig.suptitle(
        f"Cramp #{c.event_id}{when}: {fmt_duration(c.duration_s)}, peak "
        f"{_f(c.peak_uv)} µV ({_f(c.peak_x_rest, '{:.0f}')}x rest)",
        fontsize=12, x=0.09, y=0.98, ha="left",
    )  # fmt: skip
    col = KIND_COLOURS["cramp"]
    rel = (win["t_s"].to_numpy(dtype=float) - c.start_s) if len(win) else np.array([])
    if len(win) and win["emg_rms_uv"].notna().any():
        env = win["emg_rms_uv"].to_numpy(dtype=float)
        a_emg.plot(rel, env, color="#333333", lw=1.0, label="EMG envelope (1-s RMS)")
        if "rest_uv" in win and win["rest_uv"].notna().any():
            a_emg.plot(rel, win["rest_uv"].to_numpy(dtype=float), color="#2ca02c", lw=1.2,
                       ls="--", label="resting level")  # fmt: skip
        a_emg.set_yscale("log")
        top = float(np.nanmax(env)) if np.isfinite(env).any() else 100.0
        a_emg.set_ylim(0.5, max(10.0, top * 2.5))
        a_emg.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    else:
        a_emg.text(0.5, 0.5, "no signal trace stored around this cramp",
                   transform=a_emg.transAxes, ha="center", va="center", color="#555555")  # fmt: skip
    if len(win) and win["activity_g"].notna().any():
        act = win["activity_g"].to_numpy(dtype=float)
        a_act.fill_between(rel, 0, np.nan_to_num(act), color="#1f77b4", alpha=0.6, lw=0)
        a_act.set_ylim(0, max(0.05, float(np.nanmax(act)) * 1.15))
    else:
        a_act.text(0.5, 0.5, "no accelerometer trace", transform=a_act.transAxes,
                   ha="center", va="center", color="#555555")  # fmt: skip
    dur = c.end_s - c.start_s
    for a in (a_emg, a_act):
        a.axvspan(0.0, dur, color=col, alpha=0.15, lw=0)
        a.axvline(0.0, color=col, lw=1.6)
        a.axvline(dur, color=col, lw=1.6, ls=":")
        a.grid(True, axis="y", alpha=0.3)
    a_emg.annotate("onset", xy=(0.0, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                   textcoords="offset points", va="top", color=col, fontsize=9)  # fmt: skip
    a_emg.annotate("end", xy=(dur, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                   textcoords="offset points", va="top", color=col, fontsize=9)  # fmt: skip
    if c.early_notice_s is not None:
        tn = c.early_notice_s - c.start_s
        for a in (a_emg, a_act):
            a.axvline(tn, color="#ff7f0e", lw=1.4, ls="--")
        a_emg.annotate(f"early notice (+{tn:.0f} s)", xy=(tn, 0.02),
                       xycoords=("data", "axes fraction"), xytext=(3, 3),
                       textcoords="offset points", va="bottom", color="#c45e00",
                       fontsize=9)  # fmt: skip
    a_emg.set_ylabel("EMG (µV, log)")
    a_act.set_ylabel("movement (g)")
    a_act.set_xlabel("seconds from the onset")
    a_act.set_xlim(-ZOOM_BEFORE_S, dur + ZOOM_AFTER_S)
    if a_emg.get_legend_handles_labels()[0]:
        a_emg.legend(loc="upper right", fontsize=8, frameon=False)
    return _svg(fig)


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0;
       background: #fafafa; color: #222; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 20px; margin: 28px 0 8px; }
.sub { color: #555; margin: 0 0 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 10px 12px;
        flex: 1 1 120px; }
.card .v { font-size: 21px; font-weight: 600; white-space: nowrap; } .card .l { color: #666; font-size: 13px; }
.card.cramp .v { color: #d62728; } .card.none .v { color: #2e7d32; }
.msg { background: #fff8e1; border-left: 4px solid #ffc107; padding: 8px 12px; margin: 8px 0; }
img.plot { width: 100%; height: auto; background: #fff; border: 1px solid #ddd;
           border-radius: 6px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 6px 8px; text-align: left; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.cramp td:first-child { border-left: 4px solid #d62728; }
.zoom { margin: 10px 0 16px; } .zoom p { margin: 4px 0; color: #444; }
dl.evening { display: grid; grid-template-columns: max-content auto; gap: 4px 14px;
             background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; }
dl.evening dt { color: #666; } dl.evening dd { margin: 0; }
.muted { color: #777; } footer { color: #888; font-size: 12px; margin-top: 30px; }
"""

SCRIPT = """
window.addEventListener('load', function () {
  document.querySelectorAll('img').forEach(function (im) {
    im.setAttribute('data-natural-width', String(im.naturalWidth));
    im.setAttribute('data-natural-height', String(im.naturalHeight));
  });
  document.body.setAttribute('data-loaded', 'yes');
});
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _f(x: Any, fmt: str = "{:.0f}") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "&ndash;"
    return fmt.format(x)


def _evening_html(ev: Evening | None, day: str | None) -> list[str]:
    """The evening record before the night, as the text summary's "Evening" line shows it."""
    if ev is None:
        when = f" of {_e(day)}" if day else ""
        return [
            f'<p class="muted" id="evening">No evening record{when}: log one with <code>cramp '
            "log evening --water 1.5 --stretch</code>.</p>"
        ]

    def yn(v: bool | None) -> str:
        return "not recorded" if v is None else ("yes" if v else "no")

    rows = [
        ("water", "not recorded" if ev.water_l is None else f"{ev.water_l:g} L"),
        ("calf stretch before bed", yn(ev.stretch)),
        ("light exercise", yn(ev.exercise)),
        ("sat for long", yn(ev.long_sitting)),
        ("stood for long", yn(ev.long_standing)),
    ]
    if ev.tired is not None:
        rows.append(("tiredness", f"{ev.tired}/10"))
    if ev.supplement:
        rows.append(("supplement", ev.supplement))
    if ev.notes:
        rows.append(("note", ev.notes))
    cells = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return [
        f'<p class="sub">Evening of {_e(ev.date)}: {_e(ev.text())}</p>',
        f'<dl class="evening" id="evening">{cells}</dl>',
    ]


def render_html(log: CrampLog, night_id: str | None = None, summary: Summary | None = None) -> str:
    """The self-contained page for ``night_id`` (default: the latest night); ``summary``:
    the night's :class:`Summary` when the caller built it already."""
    s = summary if summary is not None else build_summary(log, night_id)
    n = s.night
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>nightcramp: {_e(n.date if n else 'empty log')}</title>",
        f"<style>{CSS}</style>",
        f"<script>{SCRIPT}</script>",
        "</head><body><main>",
    ]
    if n is None:
        parts.append("<h1>Morning summary</h1>")
        parts += [f'<p class="msg">{_e(m)}</p>' for m in s.messages]
        if s.felt_cramps:
            parts.append("<p>Felt cramps logged by hand: ")
            parts.append(", ".join(f"{_e(m.date)} {_e(m.clock)}" for m in s.felt_cramps))
            parts.append("</p>")
        if s.evening is not None:
            parts += _evening_html(s.evening, s.evening.date)
        parts.append("</main></body></html>")
        return "\n".join(parts)
    rec, sl, plm, cmp_ = s.recording, s.sleep, s.plm, s.comparison
    assert rec is not None and plm is not None and cmp_ is not None
    status = " &middot; still recording" if n.status == "recording" else ""
    parts.append(f"<h1>Night of {_e(n.date or n.night_id)}</h1>")
    parts.append(
        f'<p class="sub">{_e(n.start_clock)}&ndash;{_e(n.end_clock)} &middot; '
        f"recording <code>{_e(n.night_id)}</code> &middot; {_e(n.source)}"
        f"{status}</p>"
    )
    cards = [
        ("cramp" if s.cramps else "none", str(len(s.cramps)), "cramps detected"),
        ("", _f(rec.coverage_pct, "{:.0f} %"), "data coverage"),
        ("", fmt_duration(sl.sleep_s) if sl else "&ndash;", "estimated sleep"),
        ("", fmt_duration(sl.in_bed_s) if sl else "&ndash;", "time in bed"),
        ("", _f(plm.index_per_h, "{:.1f}/h"), f"PLM index ({plm.count} PLMs)"),
        ("", fmt_duration(rec.gap_s), f"gaps ({rec.n_gaps})"),
        ("", fmt_duration(rec.electrode_off_s), "electrode off"),
    ]
    parts.append('<div class="cards">')
    for cls, v, label in cards:
        parts.append(
            f'<div class="card {cls}"><div class="v">{v}</div><div class="l">{_e(label)}</div>'
            "</div>"
        )
    parts.append("</div>")
    parts += [f'<p class="msg">{_e(m)}</p>' for m in s.messages]
    parts.append(f"<p>{_e(cmp_.line)}</p>")

    nid = n.night_id
    trace = log.trace(nid)
    tl = timeline_png(s, trace, log.epochs(nid), log.events(nid), log.gaps(nid))
    parts.append("<h2>The night</h2>")
    parts.append(
        f'<img class="plot" id="timeline" alt="Timeline of the night: EMG envelope, movement, '
        f'posture, sleep and wake, events and gaps" src="data:image/png;base64,{tl}">'
    )

    parts.append("<h2>Cramps</h2>")
    if s.cramps:
        parts.append(
            '<table id="cramps"><thead><tr><th>#</th><th>time</th><th>duration</th>'
            + ("<th>leg</th>" if s.legs else "")
            + "<th>peak (µV)</th><th>peak (x rest)</th><th>confidence</th><th>what followed</th>"
            "<th>awake after</th><th>your verdict</th><th>pain</th><th>eased by</th>"
            "</tr></thead><tbody>"
        )
        for c in s.cramps:
            parts.append(
                f'<tr class="cramp" data-event-id="{c.event_id}"><td>{c.event_id}</td>'
                f"<td>{_e(c.clock)}</td><td class=num>{fmt_duration(c.duration_s)}</td>"
                + (f'<td class="leg">{_e(c.leg or "?")}</td>' if s.legs else "")
                + f"<td class=num>{_f(c.peak_uv)}</td><td class=num>"
                f"{_f(c.peak_x_rest, '{:.0f}x')}</td>"
                f"<td class=num>{_f(c.confidence, '{:.2f}')}</td>"
                f"<td>{_e(', '.join(c.what_followed) or '–')}</td>"
                f"<td class=num>{fmt_duration(c.awake_after_s) if c.awake_after_s else '–'}"
                f"</td><td>{_e(c.verdict or 'not reviewed')}</td>"
                f"<td class=num>{_f(c.pain, '{}/10')}</td>"
                f"<td>{_e((c.eased_by or '').replace(',', ', '))}</td>"
                "</tr>"
            )
        parts.append("</tbody></table>")
        parts.append(
            "<h3>Each cramp up close</h3>"
            f'<p class="muted">{ZOOM_BEFORE_S:.0f} s before the onset to {ZOOM_AFTER_S:.0f} s'
            " after the end: a cramp is a sustained burst far above the resting level while"
            " the leg is still. Confirm or reject it with <code>cramp log confirm ID</code> /"
            " <code>cramp log reject ID</code>.</p>"
        )
        for c in s.cramps:
            z = cramp_zoom_svg(c, trace)
            notice = (
                f"early notice {c.early_notice_s - c.start_s:.0f} s after the onset"
                if c.early_notice_s is not None
                else "no early notice recorded"
            )
            parts.append(
                f'<div class="zoom" id="cramp-{c.event_id}"><img class="plot" '
                f'alt="Cramp {c.event_id} up close: EMG envelope and movement from '
                f'{ZOOM_BEFORE_S:.0f} s before to {ZOOM_AFTER_S:.0f} s after, onset and end marked"'
                f' src="data:image/svg+xml;base64,{z}"><p>#{c.event_id} at {_e(c.clock)}: onset to'
                f" end {fmt_duration(c.duration_s)}, {_e(notice)}; "
                f"{_e(c.verdict or 'not reviewed')}.</p></div>"
            )
    else:
        parts.append('<table id="cramps"><tbody></tbody></table>')
        parts.append('<p class="muted">No cramps detected this night.</p>')
    if s.felt_cramps:
        parts.append("<p>Felt but not recorded: ")
        parts.append(
            ", ".join(
                f"{_e(m.clock)}" + (f" ({fmt_duration(m.duration_s)})" if m.duration_s else "")
                for m in s.felt_cramps
            )
        )
        parts.append("</p>")

    others = [e for e in s.events if e.kind != "cramp"]
    if others:
        parts.append(
            f"<details><summary>Other events ({len(others)}: PLMs, movements, artefacts)</summary>"
        )
        parts.append(
            '<table id="other-events"><thead><tr><th>#</th><th>time</th><th>kind</th>'
            "<th>duration</th><th>peak (µV)</th><th>why</th></tr></thead><tbody>"
        )
        for e in others:
            parts.append(
                f'<tr class="{_e(e.kind)}"><td>{e.event_id}</td><td>{_e(e.clock)}</td>'
                f"<td>{_e(e.kind)}{(' / ' + _e(e.subtype)) if e.subtype else ''}</td>"
                f"<td class=num>{fmt_duration(e.duration_s)}</td>"
                f"<td class=num>{_f(e.peak_uv)}</td><td>{_e(e.reason)}</td></tr>"
            )
        parts.append("</tbody></table></details>")

    parts.append("<h2>The evening before</h2>")
    parts += _evening_html(s.evening, n.date)

    parts.append("<h2>Over the last weeks</h2>")
    tr = trends_png(s.trends)
    if tr:
        parts.append(
            '<img class="plot" id="trends" alt="Cramps per night against water, stretch and '
            f'exercise the evening before" src="data:image/png;base64,{tr}">'
        )
    if s.habits:
        parts.append(
            '<table id="habits"><thead><tr><th>evening</th><th>nights with</th>'
            "<th>cramps/night with</th><th>nights without</th><th>cramps/night without</th>"
            "</tr></thead><tbody>"
        )
        for h in s.habits:
            parts.append(
                f"<tr><td>{_e(h.habit)}</td><td class=num>{h.nights_with}</td>"
                f"<td class=num>{h.cramps_with:.1f}</td><td class=num>"
                f"{h.nights_without}</td><td class=num>{h.cramps_without:.1f}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts.append(
            '<p class="muted">Plain averages over your own nights, not a trial: many things '
            "change from night to night.</p>"
        )
    elif tr is None:
        parts.append(
            '<p class="muted">Trends appear here once the log holds a few nights. Log your '
            "evenings too (<code>cramp log evening --water 1.5 --stretch</code>).</p>"
        )
    else:
        parts.append(
            '<p class="muted">Log your evenings (<code>cramp log evening --water 1.5 '
            "--stretch</code>) for a few weeks to compare nights with and without each habit."
            "</p>"
        )
    pr = s.precision.all
    if pr.precision is not None:
        parts.append(
            f"<p>Detector precision on the cramps you reviewed: "
            f"<b>{100 * pr.precision:.0f} %</b> ({pr.confirmed} confirmed, "
            f"{pr.rejected} rejected, {pr.felt_not_detected} felt but not detected).</p>"
        )
    parts.append(
        f"<footer>nightcramp &middot; detector {_e(n.detector_version)} &middot; "
        f"generated {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M')} &middot; "
        "estimates from a leg sensor, not a medical diagnosis</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts)


def write_html(
    log: CrampLog, path: str | Path, night_id: str | None = None, summary: Summary | None = None
) -> Path:
    """Write the page to ``path`` (owner-only: it holds health data), atomically.

    Missing folders are created owner-only; ``cramp summary --html`` refuses a missing
    folder before calling this (:func:`recordings.export.check_folder`, as ``cramp export``).
    """
    p = Path(path)
    text = render_html(log, night_id, summary)
    try:
        if p.parent and not p.parent.exists():
            files.make_private_dir(p.parent)
        files.write_atomic(p, text.encode("utf-8"))
    except OSError as e:
        raise UserError(
            f"{p}: cannot write the HTML summary ({e.strerror}); pick another FILE"
        ) from e
    return p
