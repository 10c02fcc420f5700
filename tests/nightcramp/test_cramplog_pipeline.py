"""The cramp log fed by the real detector on a short synthetic night (no hand-made events)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import detector.pipeline as pipeline  # noqa: E402
import emulator.night as night_mod  # noqa: E402
from nightcramp.cramplog import CrampLog  # noqa: E402
from nightcramp.summary import build_summary, render_text  # noqa: E402

START = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def _night():
    return night_mod.make_night(4, 900.0, cramps=1, cramp_durations=(80.0,), walks=0,
                                plm_series=0, start_utc=START)  # fmt: skip


def _replay(log: CrampLog, nid: str) -> tuple[int, int]:
    src = _night()
    from detector.detect import DETECTOR_VERSION

    log.begin_night(nid, source="replay", layout=src.layout, start_utc=START,
                    detector_version=DETECTOR_VERSION)  # fmt: skip
    sunk: list[int] = []
    sink = log.event_sink(nid, src.wall_time)

    def on_event(ev):  # type: ignore[no-untyped-def]
        notice = ev.is_notice
        sunk.append(0 if notice else 1)
        sink(ev)

    result = pipeline.run(src, on_event=on_event)
    log.end_night(nid, result, wall_time=src.wall_time)
    return sum(sunk), len(result.events)


def test_detected_night_logged_once_and_summarised(tmp_path: Path) -> None:
    with CrampLog.open(tmp_path / "log.sqlite3") as log:
        n_sunk, n_events = _replay(log, "syn-4")
        assert n_sunk == n_events  # every event went through the sink as it closed
        first = log.events("syn-4")
        assert len(first) == n_events
        _replay(log, "syn-4")  # the same night replayed again
        assert [e["event_id"] for e in log.events("syn-4")] == [e["event_id"] for e in first]
        trace = log.trace("syn-4")
        assert len(trace) == 900 and trace["emg_rms_uv"].notna().mean() > 0.9
        assert len(log.epochs("syn-4")) == 30
        s = build_summary(log, "syn-4")
        assert s.night is not None and s.night.status == "complete"
        assert s.recording is not None and s.recording.coverage_pct == pytest.approx(100.0)
        render_text(s)
        # wall-clock times come from the source's clock
        for e in first:
            assert e["start_utc"] is not None and e["start_utc"] >= "2026-11-24T23:00"
