"""The morning summary (nightcramp.summary) over a real cramp log (the night: hand_nights)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from hand_nights import HAND_VERSION, START, fill_history, hand_layout, hand_night, ingest

from detector.events import NightResult
from detector.stream import Gap
from nightcramp.cramplog import CrampLog
from nightcramp.summary import build_summary, render_text


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


def test_plms_while_awake_are_shown_but_not_in_the_sleep_index(log: CrampLog) -> None:
    """A series while awake (PLMW, subtype "wake") is reported beside the PLMS and kept
    out of the index per hour of sleep."""
    from dataclasses import replace

    r = hand_night()
    plms = [e for e in r.events if e.kind == "plm"]
    assert len(plms) >= 8
    wake = set(id(e) for e in plms[:5])
    r.events = [replace(e, subtype="wake") if id(e) in wake else e for e in r.events]
    ingest(log, "plmw", r)
    s = build_summary(log, "plmw")
    assert s.plm.count == len(plms) - 5 and s.plm.awake == 5
    assert s.plm.index_per_h == pytest.approx(s.plm.count / s.plm.sleep_h)
    assert "; 5 more while awake" in render_text(s)


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
