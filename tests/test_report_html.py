"""The HTML page for every state of the log (no browser needed; see test_report_browser)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest
from test_summary import HAND_VERSION, START, fill_history, hand_layout, hand_night, ingest

from detector.events import NightResult
from detector.stream import Gap
from nightcramp.cramplog import CrampLog
from nightcramp.report_html import render_html, write_html


def _pngs(page: str) -> list[bytes]:
    return [
        base64.b64decode(b) for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    ]


@pytest.fixture
def log(tmp_path: Path):
    with CrampLog.open(tmp_path / "log.sqlite3") as lg:
        yield lg


def test_full_night_page(log: CrampLog) -> None:
    fill_history(log, nights=8)
    ingest(log, "tonight", hand_night())
    page = render_html(log)
    assert page.count('<tr class="cramp"') == 2
    pngs = _pngs(page)
    assert len(pngs) == 2 and all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert 'id="timeline"' in page and 'id="trends"' in page
    assert "Other events" in page and 'id="other-events"' in page
    assert "<script>" in page and "naturalWidth" in page


def test_empty_log_page(log: CrampLog) -> None:
    page = render_html(log)
    assert "empty" in page and "<img" not in page


def test_no_events_page(log: CrampLog) -> None:
    r = hand_night(cramps=(), plm_series=False)
    r.events = []
    ingest(log, "quiet", r)
    page = render_html(log, "quiet")
    assert "No cramps detected" in page and '<table id="cramps">' in page
    assert len(_pngs(page)) == 1  # the timeline; one night is no trend yet
    assert "Trends appear here once" in page


def test_gaps_only_page(log: CrampLog) -> None:
    log.begin_night("lost", source="live", layout=hand_layout(), start_utc=START,
                    detector_version="v")  # fmt: skip
    empty = pd.DataFrame(columns=["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"])
    ep = pd.DataFrame(columns=["t_s", "state", "posture", "activity"])
    log.end_night("lost", NightResult(hand_layout(), [], [Gap(0, 7200, "sensor-loss")], empty,
                                      ep, 7200.0, "v"))  # fmt: skip
    page = render_html(log, "lost")
    assert "No usable data" in page and "0 %" in page
    assert len(_pngs(page)) >= 1


def test_in_progress_page_and_file_mode(log: CrampLog, tmp_path: Path) -> None:
    r = hand_night()
    log.begin_night("now", source="live", layout=r.layout, start_utc=START,
                    detector_version=HAND_VERSION)  # fmt: skip
    sink = log.event_sink("now", lambda t: None)
    for ev in r.events[:30]:
        sink(ev)
    out = write_html(log, tmp_path / "deep" / "er" / "now.html", "now")
    page = out.read_text(encoding="utf-8")
    assert "still recording" in page.lower()
    assert "no signal trace stored" not in page  # the note is inside the image, not text
    assert out.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "deep").stat().st_mode & 0o777 == 0o700


def test_text_is_escaped(log: CrampLog) -> None:
    ingest(log, "<b>x</b>", hand_night(with_trace=False))
    page = render_html(log, "<b>x</b>")
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
