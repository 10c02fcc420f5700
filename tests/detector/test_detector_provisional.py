"""Early cramp notice: provisional cramps while the cramp goes on, their final event or
retraction, the cramp log keeping one row; and finish() on very short recordings.
Small synthetic signals (tests/detector_synth.py), the real detector and log."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from detector.detect import DETECTOR_VERSION, Detector, DetectorConfig
from detector.events import Event, NightResult
from detector.pipeline import Pipeline
from detector.stream import ArraySource
from nightcramp.cramplog import CrampLog

sys.path.insert(0, str(Path(__file__).parent))
from detector_synth import Synth, walked_off  # noqa: E402

START = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
MIN_S = DetectorConfig().cramp_min_s  # 8 s


def _feed(s: Synth, chunk_s: float) -> tuple[list[tuple[float, Event]], NightResult]:
    """Run the pipeline; (feed time, event) for everything its sink saw."""
    seen: list[tuple[float, Event]] = []
    now = [0.0]
    pipe = Pipeline(s.layout, on_event=lambda ev: seen.append((now[0], ev)))
    for it in ArraySource(s.layout, s.emg, s.acc if s.acc_fs else None, chunk_s).chunks():
        now[0] = it.emg_stop / s.fs  # type: ignore[union-attr]
        pipe.feed(it)
    now[0] = s.n / s.fs
    res = pipe.finish()
    assert len(pipe.events) == len(res.events)  # the final events only
    return seen, res


def _prov(seen: list[tuple[float, Event]]) -> list[tuple[float, Event]]:
    return [(t, e) for t, e in seen if e.notice == "provisional"]


@pytest.mark.parametrize("dur", [0.5, 5.0, 15.0, 20.0, 21.0, 25.0])
def test_finish_on_short_recordings(dur: float) -> None:
    s = Synth(dur, seed=1)
    d = Detector(s.layout)
    for it in ArraySource(s.layout, s.emg, s.acc, 1.0).chunks():
        d.push(it)
    res = d.finish()
    assert isinstance(res, NightResult)
    assert res.duration_s == pytest.approx(dur)
    assert len(res.trace) == int(np.ceil(dur))


def test_finish_with_no_chunks() -> None:
    s = Synth(1.0, seed=1)
    res = Detector(s.layout).finish()
    assert res.events == [] and res.duration_s == 0.0 and len(res.trace) == 0


def test_long_cramp_noticed_while_ongoing_then_final_replaces_it(tmp_path: Path) -> None:
    s = Synth(150, seed=13)
    s.cramp(50, 40)
    seen, res = _feed(s, 0.25)
    prov = _prov(seen)
    assert len(prov) == 1
    t_seen, p = prov[0]
    assert abs(p.start_s - 50) <= 1.0
    assert t_seen - 50 <= MIN_S + 5.0  # within (min duration + 5 s) of the onset
    assert t_seen < 90  # while the cramp still goes on
    assert p.kind == "cramp" and "ongoing" in p.reason and p.end_s <= t_seen + 1e-6
    finals = [e for _, e in seen if e.replaces_start_s is not None]
    assert len(finals) == 1 and finals[0].replaces_start_s == p.start_s
    assert not any(e.notice == "retracted" for _, e in seen)
    # finish() holds the final events only; the final cramp is the one found without notices
    cramps = [e for e in res.events if e.kind == "cramp"]
    assert len(cramps) == 1 and abs(cramps[0].end_s - 90) <= 1.5
    assert not any(e.is_notice for e in res.events)
    plain = Detector(s.layout)
    for it in ArraySource(s.layout, s.emg, s.acc, 7.0).chunks():
        plain.push(it)
    assert plain.finish().events == res.events
    # the cramp log: the provisional row, then one row updated by the final event
    with CrampLog.open(tmp_path / "log.sqlite3") as log:
        log.begin_night("n", source="live", layout=s.layout, start_utc=START,
                        detector_version=DETECTOR_VERSION)  # fmt: skip
        sink = log.event_sink("n", lambda t: START + timedelta(seconds=t))
        for t, ev in seen:
            sink(ev)
            rows = [r for r in log.events("n") if r["kind"] == "cramp"]
            if ev is p:
                assert len(rows) == 1 and rows[0]["context"]["provisional"] is True
            if t >= t_seen:
                assert len(rows) == 1  # never a second copy
        log.end_night("n", res)
        rows = [r for r in log.events("n") if r["kind"] == "cramp"]
        assert len(rows) == 1 and "provisional" not in rows[0]["context"]
        assert rows[0]["start_s"] == cramps[0].start_s
        n_all = len(log.events("n"))
        # replayed twice: no duplicates, same ids
        ids = [r["event_id"] for r in log.events("n") if r["kind"] != "cramp"]
        for _ in range(2):
            for _, ev in seen:
                sink(ev)
            log.end_night("n", res)
        assert len(log.events("n")) == n_all
        assert [r["event_id"] for r in log.events("n") if r["kind"] != "cramp"] == ids


def test_notice_also_with_one_second_blocks_and_without_accelerometer() -> None:
    s = Synth(120, seed=4, acc_fs=None)
    s.cramp(40, 30)
    seen, _ = _feed(s, 1.0)
    prov = _prov(seen)
    assert len(prov) == 1 and prov[0][0] - 40 <= MIN_S + 5.0


@pytest.mark.parametrize("acc", [True, False])
def test_a_cramp_walked_off_is_noticed_and_the_notice_stands(acc: bool) -> None:
    """Walked off while still contracted, strides many times its level: the notice comes
    while it bites and is not retracted once the walk begins (without an accelerometer
    the walk had swallowed the cramp and the notice was withdrawn)."""
    seen, res = _feed(walked_off(60, acc), 1.0)
    assert [e.notice for _, e in seen if e.is_notice] == ["provisional"]
    ((t, p),) = _prov(seen)
    assert t - 100.0 <= MIN_S + 5.0 and abs(p.start_s - 100.0) < 0.5
    assert [e.kind for e in res.events].count("cramp") == 1


def test_short_burst_and_walking_give_no_notice() -> None:
    s = Synth(200, seed=5, acc_fs=None)
    s.walking(60, 90, period=1.0)
    s.burst(0, 170, 174, 40.0)  # 4 s: shorter than a cramp
    seen, res = _feed(s, 1.0)
    assert not _prov(seen) and not any(e.kind == "cramp" for e in res.events)


def test_cramp_turning_into_shaking_is_retracted(tmp_path: Path) -> None:
    """Calf held still for 12 s (a cramp so far), then the leg shakes for the rest: the
    episode is shaking/massage, not a rigid cramp, and the notice is withdrawn."""
    s = Synth(150, seed=13)
    s.cramp(50, 40)
    a0, a1 = int(62 * 50), int(90 * 50)
    s.acc[a0:a1] += 0.4 * s.rng.standard_normal((a1 - a0, 3))
    seen, res = _feed(s, 0.5)
    prov = _prov(seen)
    assert len(prov) == 1
    p = prov[0][1]
    assert not any(e.kind == "cramp" for e in res.events)
    retr = [(t, e) for t, e in seen if e.notice == "retracted"]
    assert len(retr) == 1 and retr[0][1].start_s == p.start_s and retr[0][0] > prov[0][0]
    with CrampLog.open(tmp_path / "log.sqlite3") as log:
        log.begin_night("n", source="live", layout=s.layout, start_utc=START,
                        detector_version=DETECTOR_VERSION)  # fmt: skip
        sink = log.event_sink("n", lambda t: START + timedelta(seconds=t))
        for _t, ev in seen:
            sink(ev)
            if ev is p:
                assert [r["kind"] for r in log.events("n")].count("cramp") == 1
        assert not any(r["kind"] == "cramp" for r in log.events("n"))
        log.end_night("n", res)
        assert len(log.events("n")) == len(res.events)


def test_log_drops_a_provisional_row_left_without_its_final(tmp_path: Path) -> None:
    """A recorder that died after a notice: end_night (replay) removes the stale row."""
    s = Synth(150, seed=13)
    s.cramp(50, 40)
    seen, res = _feed(s, 1.0)
    p = _prov(seen)[0][1]
    with CrampLog.open(tmp_path / "log.sqlite3") as log:
        log.begin_night("n", source="live", layout=s.layout, start_utc=START,
                        detector_version=DETECTOR_VERSION)  # fmt: skip
        sink = log.event_sink("n", None)
        sink(p)
        # a retraction never deletes a final row at the same onset
        final_same_onset = Event(**{**p.__dict__, "context": {}, "notice": None})
        log.add_event("n", final_same_onset)
        assert log.retract_event("n", p) == -1
        assert len(log.events("n")) == 1
        sink(p)
        log.end_night("n", res)
        rows = log.events("n")
        assert not any(r["context"].get("provisional") for r in rows)
        assert sum(r["kind"] == "cramp" for r in rows) == 1
