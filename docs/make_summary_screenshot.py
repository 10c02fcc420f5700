"""Regenerate ``docs/summary-screenshot.png``: the HTML summary of a detected synthetic night.

Run from the repository root (needs Debian's ``chromium``)::

    .venv/bin/python docs/make_summary_screenshot.py

Tonight is real end to end: an 8-h synthetic night (``emulator.night.make_night``,
two cramps, a PLM series, a bathroom walk, an electrode-off spell) with a 5-min BLE link
loss cut out of it, run through the detector (``detector.pipeline.run``) and logged in a
fresh cramp log exactly as ``cramp replay`` logs it.  The earlier three weeks (for the
trends panel) are the generator's ground-truth events of shorter nights, stored without
running the detector (8 h of detection per night would take minutes); their evening
records are made up.  One cramp of tonight is confirmed and annotated, as a user would.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from detector.events import Event, NightResult
from detector.pipeline import run
from detector.stream import Chunk, Gap
from emulator.night import make_night
from nightcramp.cramplog import CrampLog
from nightcramp.report_html import write_html

OUT = Path(__file__).resolve().parent / "summary-screenshot.png"
TONIGHT = datetime(2026, 11, 24, 22, 47, tzinfo=UTC)
GAP = (3.3 * 3600, 3.3 * 3600 + 300.0)  # a 5-min link loss, timeline s


class WithGap:
    """A source that loses the samples of GAP (as a BLE link loss does)."""

    def __init__(self, src) -> None:  # noqa: ANN001
        self.src = src
        self.layout = src.layout
        self.truth = src.truth

    def wall_time(self, t_s: float) -> datetime | None:
        return self.src.wall_time(t_s)

    def chunks(self) -> Iterator[Chunk | Gap]:
        fs = self.layout.emg_fs
        in_gap = False
        for item in self.src.chunks():
            if isinstance(item, Chunk) and GAP[0] <= item.emg_start / fs < GAP[1]:
                in_gap = True
                continue
            if in_gap and isinstance(item, Chunk):
                yield Gap(GAP[0], item.emg_start / fs, "link")
                in_gap = False
            yield item


def history(log: CrampLog, nights: int = 21) -> None:
    rng = random.Random(5)
    empty_trace = pd.DataFrame(columns=["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"])
    for k in range(nights, 0, -1):
        start = TONIGHT - timedelta(days=k, minutes=rng.randint(-40, 40))
        stretch = rng.random() < 0.5
        n_cramps = min(3, int(rng.expovariate(1.6 if stretch else 0.8)))
        night = make_night(100 + k, 7.5 * 3600, cramps=n_cramps, start_utc=start)
        evs = [
            Event(t.kind, t.start_s, t.end_s, tuple(t.channels), subtype=t.subtype)  # type: ignore[arg-type]
            for t in night.truth
            if t.kind in ("cramp", "plm") or t.subtype in ("walking", "turning")
        ]
        epochs = pd.DataFrame(
            {"t_s": [i * 30.0 for i in range(900)], "state": ["sleep"] * 900,
             "posture": ["lying"] * 900, "activity": [0.0] * 900}
        )  # fmt: skip
        r = NightResult(night.layout, evs, [], empty_trace, epochs, 7.5 * 3600, "truth")
        nid = f"synthetic-{start:%Y%m%d}"
        log.begin_night(nid, source="synthetic (ground truth)", layout=night.layout,
                        start_utc=start, detector_version="truth")  # fmt: skip
        log.end_night(nid, r)
        day = (start - timedelta(hours=12)).astimezone().date().isoformat()
        if k % 6:
            log.set_evening(day, water_l=round(rng.uniform(0.8, 2.5), 1), stretch=stretch,
                            exercise=rng.random() < 0.5, long_sitting=rng.random() < 0.3)  # fmt: skip


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Debian's chromium: apt-get install -y chromium")
    tmp = Path(tempfile.mkdtemp(prefix="nightcramp-shot-"))
    with CrampLog.open(tmp / "cramplog.sqlite3") as log:
        history(log)
        src = WithGap(
            make_night(11, 7.5 * 3600, cramps=2, plm_series=1, walks=1, electrode_off=1,
                       cramp_relief=("stretch", "walk"), cramp_durations=(95.0, 40.0),
                       start_utc=TONIGHT)
        )  # fmt: skip
        nid = "synthetic-night-11"
        from detector.detect import DETECTOR_VERSION

        log.begin_night(nid, source="replay (synthetic night, seed 11)", layout=src.layout,
                        start_utc=TONIGHT, detector_version=DETECTOR_VERSION)  # fmt: skip
        result = run(src, on_event=log.event_sink(nid, src.wall_time))
        log.end_night(nid, result, wall_time=src.wall_time)
        log.set_evening((TONIGHT - timedelta(hours=12)).date().isoformat(), water_l=1.0,
                        stretch=False, exercise=False, long_sitting=True)  # fmt: skip
        cramps = log.events(nid, "cramp")
        if cramps:
            log.annotate(cramps[0]["event_id"], verdict="confirmed", pain=7, muscle="calf",
                         side="right", eased_by="stretch,walking", soreness=3)  # fmt: skip
        truth = [(round(t.start_s), round(t.duration_s)) for t in src.truth if t.kind == "cramp"]
        print(f"truth cramps (start s, s): {truth}")
        print(f"detected cramps: {[(round(c['start_s']), round(c['duration_s'])) for c in cramps]}")
        page = write_html(log, tmp / "night.html", nid)
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", f"--user-data-dir={tmp / 'profile'}",
         f"--screenshot={OUT}", "--window-size=1200,1600", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    print(f"wrote {OUT} (page: {page})")


if __name__ == "__main__":
    main()
