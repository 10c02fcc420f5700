"""The HTML page for every state of the log (no browser needed; see test_report_browser)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest
from hand_nights import HAND_VERSION, START, fill_history, hand_layout, hand_night, ingest

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


def _page_via_cli(tmp_path: Path, db: Path, *args: str) -> str:
    from click.testing import CliRunner

    from nightcramp.cli import cli

    out = tmp_path / "page.html"
    r = CliRunner().invoke(cli, ["summary", *args, "--db", str(db), "--html", str(out)])
    assert r.exit_code == 0, (r.output, r.exception)
    return out.read_text(encoding="utf-8")


def test_page_shows_the_evening_record(log: CrampLog, tmp_path: Path) -> None:
    from datetime import timedelta

    ingest(log, "tonight", hand_night(with_trace=False))
    day = (START - timedelta(hours=12)).astimezone().date().isoformat()
    page = _page_via_cli(tmp_path, log.path)
    assert 'id="evening"' in page and "No evening record" in page
    log.set_evening(day, water_l=1.2, stretch=True, exercise=False, supplement="magnesium")
    page = _page_via_cli(tmp_path, log.path)
    assert f"Evening of {day}" in page and "water 1.2 L, stretch, no exercise" in page
    assert "<dd>magnesium</dd>" in page


def test_cramp_card_is_red_only_with_cramps(log: CrampLog, tmp_path: Path) -> None:
    r = hand_night(cramps=(), plm_series=False, with_trace=False)
    ingest(log, "quiet", r)
    page = _page_via_cli(tmp_path, log.path, "quiet")
    assert '<div class="card none"><div class="v">0</div>' in page
    assert 'class="card cramp"' not in page
    ingest(log, "busy", hand_night(with_trace=False))
    page = _page_via_cli(tmp_path, log.path, "busy")
    assert '<div class="card cramp"><div class="v">2</div>' in page


def test_one_trend_bar_per_night(log: CrampLog) -> None:
    """Two nights of one evening (one with a cramp, one without) are two bars."""
    from datetime import timedelta

    from nightcramp.report_html import trend_labels
    from nightcramp.summary import build_summary

    fill_history(log, nights=3)
    ingest(log, "early", hand_night(START, 3 * 3600, cramps=((3000.0, 60.0, 150.0),),
                                    with_trace=False))  # fmt: skip
    ingest(log, "late", hand_night(START + timedelta(hours=3, minutes=30), 3 * 3600, cramps=(),
                                   with_trace=False))  # fmt: skip
    s = build_summary(log, "late")
    last2 = s.trends[-2:]
    assert [t.night_id for t in last2] == ["early", "late"] and last2[0].date == last2[1].date
    assert [t.cramps for t in last2] == [1, 0]
    labels = trend_labels(s.trends)
    assert len(labels) == len(s.trends) == 5
    clock = lambda t: t.astimezone().strftime("%H:%M")  # noqa: E731
    assert labels[-2].endswith(clock(START)) and labels[-1].endswith(
        clock(START + timedelta(hours=3, minutes=30))
    )
    assert ":" not in labels[0]  # a lone night of its evening: the date alone


def test_a_zoomed_panel_per_cramp(log: CrampLog, tmp_path: Path) -> None:
    """Each cramp up close: an image per cramp, and the early notice when one went out."""
    from dataclasses import replace
    from datetime import timedelta

    r = hand_night()
    log.begin_night("z", source="live", layout=r.layout, start_utc=START,
                    detector_version=HAND_VERSION)  # fmt: skip
    sink = log.event_sink("z", lambda t: START + timedelta(seconds=t))
    first = next(e for e in r.events if e.kind == "cramp")
    # the early notice went out 20 s after the onset, then the final cramp replaced it
    sink(replace(first, end_s=first.start_s + 20.0, context={"provisional": True}))
    final = replace(first, context={**first.context, "provisional_start_s": first.start_s})
    for ev in r.events:
        sink(final if ev is first else ev)
    log.end_night("z", r)
    page = _page_via_cli(tmp_path, log.path, "z")
    zooms = re.findall(r'<div class="zoom" id="cramp-(\d+)"><img class="plot" alt="([^"]*)" '
                       r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)  # fmt: skip
    assert len(zooms) == 2
    for _, alt, b64 in zooms:
        svg = base64.b64decode(b64)
        assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
        assert "30 s before" in alt and "60 s after" in alt
    assert page.count("early notice 20 s after the onset") == 1
    assert page.count("no early notice recorded") == 1
