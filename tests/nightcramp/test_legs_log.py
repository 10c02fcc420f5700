"""A two-leg night in the cramp log, the morning summary and the HTML page: the detected
leg of every event is stored, a gap of one sensor stays on its leg, the summary counts
cramps per leg and the page has a lane per leg and a leg column."""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from detector.detect import DETECTOR_VERSION
from detector.pipeline import Pipeline, leg_items, run
from detector.stream import Chunk, Gap, Source
from emulator.night import SyntheticNight, make_night
from nightcramp.cramplog import CrampLog
from nightcramp.report_html import render_html
from nightcramp.summary import build_summary, render_text

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


class _LostAfter:
    """A leg's source whose sensor drops out from ``t_s`` on (a gap to the end)."""

    def __init__(self, night: SyntheticNight, t_s: float) -> None:
        self.layout, self._n, self._t = night.layout, night, t_s

    def chunks(self) -> Iterator[Chunk | Gap]:
        fs = self.layout.emg_fs
        for item in self._n.chunks(10.0):
            assert isinstance(item, Chunk)
            if item.emg_stop / fs <= self._t:
                yield item
        yield Gap(self._t, self._n.duration_s, "link")

    def wall_time(self, t_s: float) -> datetime | None:
        return self._n.wall_time(t_s)


def _log_night(log: CrampLog, nid: str, sources: list[Source]) -> None:
    pipe = Pipeline([s.layout for s in sources])
    log.begin_night(nid, source="test", layout=pipe.layout, start_utc=T0,
                    detector_version=DETECTOR_VERSION)  # fmt: skip
    pipe.add_sink(log.event_sink(nid))
    for side, item in leg_items(sources):
        pipe.feed(item, leg=side)
    log.end_night(nid, pipe.finish())


def _png_heights(page: str) -> list[int]:
    pngs = [
        base64.b64decode(b) for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    ]
    return [struct.unpack(">I", p[20:24])[0] for p in pngs]


@pytest.fixture(scope="module")
def two_legs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("log") / "log.sqlite3"
    left = make_night(53, 900, side="left", labels=("EMG calf L", "EMG tib L"), start_utc=T0,
                      cramps=1, plm_series=1)  # fmt: skip
    right = make_night(52, 900, side="right", labels=("EMG calf R", "EMG tib R"), start_utc=T0,
                       cramps=0, plm_series=1)  # fmt: skip
    with CrampLog.open(path) as log:
        _log_night(log, "both-legs", [left, _LostAfter(right, 600.0)])
    return path


def test_the_log_keeps_each_events_leg_and_a_one_leg_gap(two_legs: Path) -> None:
    with CrampLog.open(two_legs) as log:
        events = log.events("both-legs")
        gaps = log.gaps("both-legs")
    assert events and all(e["leg"] in ("left", "right", "both") for e in events)
    cramps = [e for e in events if e["kind"] == "cramp"]
    assert cramps and all(e["leg"] == "left" for e in cramps)
    assert [(g["start_s"], g["leg"]) for g in gaps] == [(600.0, "right")]
    assert gaps[0]["reason"].startswith("link")
    # nothing on the right leg while its sensor was gone
    assert not [e for e in events if e["leg"] == "right" and e["start_s"] >= 600.0]


def test_summary_and_page_show_each_leg(two_legs: Path) -> None:
    with CrampLog.open(two_legs) as log:
        s = build_summary(log, "both-legs")
        page = render_html(log, "both-legs", s)
    assert s.legs == ["left", "right"]
    assert [c.leg for c in s.cramps] == ["left"] * len(s.cramps) and s.cramps
    assert s.recording is not None and [g.leg for g in s.recording.gaps] == ["right"]
    text = render_text(s)
    assert f"cramps per leg: left {len(s.cramps)}, right 0" in text
    assert "left leg, peak" in text
    assert "<th>leg</th>" in page and '<td class="leg">left</td>' in page
    assert _png_heights(page)[0] == 840  # the timeline has a lane per leg


def test_a_one_leg_night_looks_as_before_but_logs_its_leg(tmp_path: Path) -> None:
    night = make_night(53, 900, side="right", start_utc=T0, cramps=1)
    with CrampLog.open(tmp_path / "log.sqlite3") as log:
        log.begin_night("one", source="test", layout=night.layout, start_utc=T0,
                        detector_version=DETECTOR_VERSION)  # fmt: skip
        log.end_night("one", run(night, on_event=log.event_sink("one")))
        events = log.events("one")
        s = build_summary(log, "one")
        page = render_html(log, "one", s)
    assert events and {e["leg"] for e in events} == {"right"}
    assert s.legs == [] and "Legs" not in render_text(s)
    assert "<th>leg</th>" not in page and _png_heights(page)[0] == 720
