"""The morning summary (nightcramp.summary) over a real cramp log.

Also home of the hand-built realistic night (:func:`hand_night`) that the cramp-log,
summary and report tests share: a 7.5-h night with two cramps (the first followed by a
stretch and a walk), a PLM series, turnings, an electrode-off spell and a link gap.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.events import Event, NightResult
from detector.stream import Gap, StreamLayout
from nightcramp.cramplog import CrampLog
from nightcramp.summary import build_summary, render_text

HAND_VERSION = "hand-1"
START = datetime(2026, 11, 24, 22, 50, tzinfo=UTC)


def hand_layout(start: datetime = START) -> StreamLayout:
    return StreamLayout(
        emg_fs=1000.0,
        emg_labels=("EMG1", "EMG2"),
        emg_sites=("calf", "tibialis"),
        acc_fs=50.0,
        start_utc=start,
        side="left",
        extra={"device": "NightCramp-1A2B"},
    )


def hand_night(
    start: datetime = START,
    duration_s: float = 7.5 * 3600,
    *,
    cramps: tuple[tuple[float, float, float], ...] = ((4.35 * 3600, 95.0, 180.0),
                                                      (6.8 * 3600, 38.0, 95.0)),
    plm_series: bool = True,
    with_trace: bool = True,
    version: str = HAND_VERSION,
    seed: int = 7,
) -> NightResult:  # fmt: skip
    """A realistic night built by hand (no detector needed): events, trace, epochs, gaps.

    ``cramps`` holds (start s, duration s, peak µV) tuples.
    """
    rng = np.random.default_rng(seed)
    layout = hand_layout(start)
    events: list[Event] = []
    # Turning over every ~40 min: a few seconds in both muscles.
    for k, t in enumerate(np.arange(1500.0, duration_s - 600, 2400.0)):
        t = float(t + rng.uniform(-300, 300))
        events.append(
            Event("movement", t, t + 4.0, ("EMG1", "EMG2"), 40.0, 18.0, 13.0, 6.0, 0.9,
                  "turning", "both muscles briefly active and the shank rolled over")
        )  # fmt: skip
        _ = k
    if plm_series:
        t = 2.1 * 3600
        while t < 2.6 * 3600:
            events.append(
                Event("plm", t, t + 1.6, ("EMG2",), 22.0, 12.0, 7.0, 4.0, 0.8, "leg-movement",
                      "0.5-10 s burst in tibialis, part of a series with 5-90 s intervals")
            )  # fmt: skip
            t += float(rng.uniform(18, 32))
    followers: list[Event] = []
    for i, (t, d, peak) in enumerate(cramps):
        awake = 540.0 if i == 0 else 150.0
        events.append(
            Event("cramp", t, t + d, ("EMG1",), peak, peak * 0.6, peak / 3.0, peak / 5.0,
                  0.93 - 0.1 * i, "", "sustained calf activity far above rest while lying still",
                  {"asleep_before": True, "woke_after": True, "moved_after_s": 4.0,
                   "walked_after_s": 40.0 if i == 0 else None, "awake_after_s": awake})
        )  # fmt: skip
        followers.append(
            Event("movement", t + d + 4, t + d + 24, ("EMG2",), 35.0, 20.0, 11.0, 6.0, 0.8,
                  "stretch", "tibialis held while the calf stayed passive")
        )  # fmt: skip
        if i == 0:
            followers.append(
                Event("movement", t + d + 40, t + d + 160, ("EMG1",), 60.0, 25.0, 20.0, 8.0,
                      0.85, "walking", "a calf burst at every stride, about 1 per second")
            )  # fmt: skip
    events += followers
    eoff = (5.4 * 3600, 5.4 * 3600 + 90.0)
    events.append(
        Event("artifact", eoff[0], eoff[1], ("EMG1",), 900.0, 400.0, 300.0, 130.0, 0.95,
              "electrode-off", "mains hum and saturation: the electrode lost contact")
    )  # fmt: skip
    events.sort(key=lambda e: e.start_s)
    gaps = [Gap(3.3 * 3600, 3.3 * 3600 + 360.0, "link")]

    n = int(duration_s)
    t = np.arange(n, dtype=float)
    if with_trace:
        rest = 3.0 + 0.6 * np.sin(t / 5000.0)
        env = rest * rng.lognormal(0.0, 0.25, n)
        act = np.abs(rng.normal(0.0, 0.004, n))
        posture = np.array(["lying"] * n, dtype=object)
        posture[:420] = "sitting"
        posture[-300:] = "standing"
        for e in events:
            a, b = int(e.start_s), max(int(e.start_s) + 1, int(e.end_s))
            if e.kind == "artifact":
                env[a:b] = e.peak_uv * rng.uniform(0.7, 1.0, b - a)
                continue
            shape = np.sin(np.linspace(0, np.pi, b - a)) ** 0.5
            env[a:b] = np.maximum(env[a:b], e.peak_uv * (0.4 + 0.6 * shape))
            if e.kind == "movement":
                act[a:b] += 0.08 if e.subtype != "walking" else 0.25
                if e.subtype == "walking":
                    posture[a:b] = "standing"
        for g in gaps:
            a, b = int(g.start_s), int(g.end_s)
            env[a:b] = np.nan
            act[a:b] = np.nan
            rest[a:b] = np.nan
            posture[a:b] = "unknown"
        trace = pd.DataFrame(
            {"t_s": t, "emg_rms_uv": env, "rest_uv": rest, "activity_g": act, "posture": posture}
        )
    else:
        trace = pd.DataFrame(columns=["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"])
    et = np.arange(0.0, duration_s, 30.0)
    state = np.array(["sleep"] * len(et), dtype=object)
    state[et < 1200] = "wake"  # falling asleep
    state[et >= duration_s - 900] = "wake"  # getting up
    for e in events:
        if e.kind == "cramp":
            awake = float(e.context.get("awake_after_s") or 0)
            state[(et + 30 > e.start_s) & (et < e.end_s + awake)] = "wake"
    for g in gaps:
        state[(et + 30 > g.start_s) & (et < g.end_s)] = "gap"
    epost = np.where(et < 420, "sitting", np.where(et >= duration_s - 300, "standing", "lying"))
    epochs = pd.DataFrame({"t_s": et, "state": state, "posture": epost, "activity": 0.01})
    return NightResult(
        layout=layout,
        events=events,
        gaps=gaps,
        trace=trace,
        epochs=epochs,
        duration_s=duration_s,
        detector_version=version,
        stats={"samples": int(duration_s * 1000), "gap_s": 360.0, "electrode_off_s": 90.0},
    )


def ingest(log: CrampLog, night_id: str, result: NightResult, source: str = "replay") -> None:
    """begin_night -> every event through the sink -> end_night, as the recorder does."""
    log.begin_night(
        night_id,
        source=source,
        layout=result.layout,
        start_utc=result.layout.start_utc,
        detector_version=result.detector_version,
    )
    sink = log.event_sink(night_id, lambda t: result.layout.start_utc + timedelta(seconds=t))
    for ev in result.events:
        sink(ev)
    log.end_night(night_id, result)


def fill_history(log: CrampLog, nights: int = 21, seed: int = 3) -> None:
    """Earlier nights (no trace, to stay fast) and evening records, for trends."""
    rng = np.random.default_rng(seed)
    for k in range(nights, 0, -1):
        start = START - timedelta(days=k)
        stretch = bool(rng.random() < 0.5)
        water = round(float(rng.uniform(0.8, 2.6)), 1)
        n_cramps = int(rng.poisson(0.4 if stretch else 1.3))
        cramps = tuple((3600.0 * (1.5 + 1.3 * i), 40.0 + 20 * i, 120.0) for i in range(n_cramps))
        r = hand_night(start, cramps=cramps, plm_series=bool(k % 3), with_trace=False, seed=k)
        ingest(log, f"night-{start:%Y%m%d}", r)
        day = (start - timedelta(hours=12)).astimezone().date().isoformat()
        if k % 5 != 0:  # some evenings unrecorded
            log.set_evening(day, water_l=water, stretch=stretch, exercise=bool(k % 2),
                            long_sitting=bool(rng.random() < 0.3))  # fmt: skip


@pytest.fixture
def log(isolated_home: Path):
    with CrampLog.open() as lg:
        yield lg


@pytest.fixture
def full_log(log: CrampLog) -> CrampLog:
    """History of three weeks plus tonight's hand-made night, two cramps reviewed."""
    fill_history(log)
    ingest(log, "night-tonight", hand_night())
    day = (START - timedelta(hours=12)).astimezone().date().isoformat()
    log.set_evening(day, water_l=1.2, stretch=False, exercise=False, long_sitting=True)
    cramps = log.events("night-tonight", "cramp")
    log.annotate(cramps[0]["event_id"], verdict="confirmed", pain=8, muscle="calf",
                 side="left", eased_by="stretch,walking", soreness=4)  # fmt: skip
    return log


# ----------------------------------------------------------------------------- tests


def test_summary_of_a_realistic_night(full_log: CrampLog) -> None:
    s = build_summary(full_log)
    assert s.night.night_id == "night-tonight"
    assert [c.duration_s for c in s.cramps] == pytest.approx([95.0, 38.0])
    c1, c2 = s.cramps
    assert c1.woke and c1.stretched and c1.walked and c1.awake_after_s == 540
    assert c2.stretched and not c2.walked
    assert c1.verdict == "confirmed" and c1.pain == 8
    rec = s.recording
    assert rec.gap_s == pytest.approx(360.0)
    assert rec.coverage_pct == pytest.approx(100 * (27000 - 360) / 27000)
    assert rec.electrode_off_s == pytest.approx(90.0)
    sl = s.sleep
    assert 5.5 * 3600 < sl.sleep_s < 7.3 * 3600
    assert sl.in_bed_s <= 7.5 * 3600 - 400
    assert s.plm.count > 40
    assert s.plm.index_per_h == pytest.approx(s.plm.count / (sl.sleep_s / 3600))
    assert s.comparison.nights == 14
    assert "vs" in s.comparison.line
    assert s.precision.all.confirmed == 1
    assert s.precision.all.precision == 1.0
    assert len(s.trends) == 22
    assert s.evening.long_sitting == 1
    json.dumps(s.to_dict(), allow_nan=False)  # JSON-ready
    text = render_text(s)
    assert "Cramps     2" in text and "stretched" in text and "walked" in text
    assert "PLM" in text and "Trend" in text and "precision 100 %" in text


def test_empty_log_summary(log: CrampLog) -> None:
    s = build_summary(log)
    assert s.night is None
    assert "empty" in render_text(s)


def test_no_event_night(log: CrampLog) -> None:
    r = hand_night(cramps=(), plm_series=False, with_trace=False)
    r.events = []
    ingest(log, "quiet", r)
    s = build_summary(log, "quiet")
    assert s.cramps == [] and s.plm.count == 0
    text = render_text(s)
    assert "none detected" in text and "quiet night" in text


def test_gaps_only_night(log: CrampLog) -> None:
    layout = hand_layout()
    log.begin_night("lost", source="live", layout=layout, start_utc=START,
                    detector_version="v")  # fmt: skip
    empty = pd.DataFrame(columns=["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"])
    r = NightResult(layout, [], [Gap(0.0, 3600.0, "sensor-loss")], empty,
                    pd.DataFrame(columns=["t_s", "state", "posture", "activity"]), 3600.0, "v")  # fmt: skip
    log.end_night("lost", r)
    s = build_summary(log, "lost")
    assert s.recording.coverage_pct == 0
    assert any("No usable data" in m for m in s.messages)
    assert "coverage 0 %" in render_text(s)


def test_night_in_progress(log: CrampLog) -> None:
    r = hand_night()
    log.begin_night("now", source="live", layout=r.layout, start_utc=r.layout.start_utc,
                    detector_version=HAND_VERSION)  # fmt: skip
    sink = log.event_sink("now", lambda t: None)
    for ev in r.events[:5]:
        sink(ev)
    s = build_summary(log, "now")
    assert s.night.status == "recording"
    assert s.sleep is None
    text = render_text(s)
    assert "still recording" in text
    assert s.recording.duration_s > 0


def test_unknown_night_is_a_user_error(log: CrampLog) -> None:
    from recordings.errors import UserError

    with pytest.raises(UserError, match="no night 'nope'"):
        build_summary(log, "nope")


def test_fast_emulated_clock_falls_back_to_timeline(log: CrampLog) -> None:
    """A night streamed 100x faster than real time: wall clock != timeline; clock times
    follow the timeline so the span and the cramp times agree."""
    r = hand_night(with_trace=False)
    t0 = r.layout.start_utc
    assert t0 is not None
    log.begin_night("fast", source="demo", layout=r.layout, start_utc=t0,
                    detector_version=HAND_VERSION)  # fmt: skip
    fast = lambda t: t0 + timedelta(seconds=t / 100)  # noqa: E731
    sink = log.event_sink("fast", fast)
    for ev in r.events:
        sink(ev)
    log.end_night("fast", r, wall_time=fast)
    s = build_summary(log, "fast")
    assert s.night.end_clock == (t0 + timedelta(seconds=r.duration_s)).astimezone().strftime(
        "%H:%M"
    )
    c = s.cramps[0]
    assert c.clock == (t0 + timedelta(seconds=c.start_s)).astimezone().strftime("%H:%M")


def test_one_definition_of_awakening(log: CrampLog) -> None:
    """A cramp that woke the sleeper is an awakening even when the epochs missed it (the
    sample night said "then: woke ..., awake 5 min 10 s" and "0 awakenings")."""
    r = hand_night(with_trace=False)
    r.epochs["state"] = "sleep"  # the sleep/wake estimate saw no wake run at all
    ingest(log, "woken", r)
    s = build_summary(log, "woken")
    woke = [c for c in s.cramps if c.woke]
    assert len(woke) == 2 and s.sleep is not None
    assert s.sleep.awakenings == 2
    assert "2 awakenings" in render_text(s)
    # where the epochs do show the wake run after a cramp, it counts once
    ingest(log, "seen", hand_night(with_trace=False))
    seen = build_summary(log, "seen")
    assert seen.sleep is not None and seen.sleep.awakenings == 2


def test_summary_is_typed_and_renders_three_ways(full_log: CrampLog) -> None:
    from dataclasses import fields, is_dataclass

    from nightcramp.report_html import render_html
    from nightcramp.summary import Cramp, Summary

    s = build_summary(full_log)
    assert isinstance(s, Summary) and all(isinstance(c, Cramp) for c in s.cramps)
    doc = s.to_dict()
    assert [f.name for f in fields(Summary)] == list(doc)
    assert doc["cramps"][0]["what_followed"] == s.cramps[0].what_followed
    assert not any(is_dataclass(v) for v in doc.values())
    page = render_html(full_log, summary=s)
    assert s.comparison is not None and s.comparison.line in page
    assert s.comparison.line in render_text(s)
