"""The HTML summary in a real browser (headless Chromium, Debian's ``chromium`` package).

What a person would see: the events table lists the night's cramps, the timeline image
decoded with a real size, and a screenshot shows a non-blank page.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hand_nights import START, fill_history, hand_night, ingest

from nightcramp.cramplog import CrampLog
from nightcramp.report_html import write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install -y chromium); "
    ".ci/run installs it",
)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


class _Dom(HTMLParser):
    """Collects the attributes of images and the cells of the cramps table."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: dict[str, dict[str, str | None]] = {}
        self.body: dict[str, str | None] = {}
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._in_table = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img":
            self.imgs[a.get("id") or f"img{len(self.imgs)}"] = a
        elif tag == "body":
            self.body = a
        elif tag == "table":
            self._in_table = a.get("id") == "cramps"
        elif tag == "tr" and self._in_table and "cramp" in (a.get("class") or ""):
            self.rows.append([])
        elif tag == "td" and self._in_table and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    tmp = tmp_path_factory.mktemp("report")
    with CrampLog.open(tmp / "log.sqlite3") as log:
        fill_history(log, nights=10)
        ingest(log, "tonight", hand_night())
        day = (START - timedelta(hours=12)).astimezone().date().isoformat()
        log.set_evening(day, water_l=1.2, stretch=False, exercise=True)
        clocks = [
            (START + timedelta(seconds=e["start_s"])).astimezone().strftime("%H:%M")
            for e in log.events("tonight", "cramp")
        ]
        out = write_html(log, tmp / "night.html")
    return out, clocks


def test_dom_after_rendering(page: tuple[Path, list[str]], tmp_path: Path) -> None:
    html_file, clocks = page
    r = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", html_file.as_uri())
    assert r.returncode == 0, r.stderr[-2000:]
    dom = _Dom()
    dom.feed(r.stdout)
    assert dom.body.get("data-loaded") == "yes", "the page's load script did not run"
    tl = dom.imgs["timeline"]
    assert int(tl["data-natural-width"] or 0) >= 1000
    assert int(tl["data-natural-height"] or 0) >= 500
    assert int(dom.imgs["trends"]["data-natural-width"] or 0) >= 1000
    # the events table lists the night's cramps, in time order, with their clock times
    assert [row[1] for row in dom.rows] == clocks
    assert len(dom.rows) == 2
    assert dom.rows[0][2] == "1 min 35 s" and dom.rows[1][2] == "38 s"
    assert "stretched" in dom.rows[0][6] and "walked" in dom.rows[0][6]
    # each cramp up close, decoded at full width
    zooms = [a for a in dom.imgs.values() if (a.get("alt") or "").startswith("Cramp ")]
    assert len(zooms) == 2
    assert all(int(z["data-natural-width"] or 0) >= 1000 for z in zooms)
    assert all(int(z["data-natural-height"] or 0) >= 250 for z in zooms)
    # the evening record the text summary shows
    text = " ".join(" ".join(dom.text).split())
    assert "water 1.2 L, no stretch, exercise" in text


def _png_size(p: Path) -> tuple[int, int]:
    head = p.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", head[16:24])
    return w, h


def test_screenshot(page: tuple[Path, list[str]], tmp_path: Path) -> None:
    html_file, _ = page
    shot = tmp_path / "shot.png"
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600",
                 html_file.as_uri())  # fmt: skip
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert _png_size(shot) == (1200, 1600)
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[:, :, :3]
    assert img.std() > 0.05, "the screenshot is blank"
    # the cramp colour (#d62728) is on screen: the card number and the timeline spans
    red = (np.abs(img[:, :, 0] - 0xD6 / 255) < 0.08) & (img[:, :, 1] < 0.3) & (img[:, :, 2] < 0.3)
    assert red.sum() > 50


def test_a_night_without_cramps_shows_no_cramp_red(tmp_path: Path) -> None:
    """The "0" of "cramps detected" is not drawn in the alarm colour."""
    with CrampLog.open(tmp_path / "log.sqlite3") as log:
        ingest(log, "quiet", hand_night(cramps=()))
        html_file = write_html(log, tmp_path / "quiet.html")
    shot = tmp_path / "quiet.png"
    r = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900",
                 html_file.as_uri())  # fmt: skip
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[:, :, :3]
    assert img.std() > 0.05, "the screenshot is blank"
    red = (np.abs(img[:, :, 0] - 0xD6 / 255) < 0.08) & (img[:, :, 1] < 0.3) & (img[:, :, 2] < 0.3)
    assert red.sum() == 0


def test_page_needs_no_network(page: tuple[Path, list[str]]) -> None:
    text = page[0].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", text)
    assert "<link" not in text and "@import" not in text
