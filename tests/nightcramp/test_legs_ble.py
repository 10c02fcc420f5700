"""Two sensors, one night, through bleak over bumble: one recorder per leg in one loop.

Each leg keeps its own link, reconnect and backfill; a drop on one leg costs the other
nothing; a sensor absent all night leaves the other leg's night intact, the gap on its
own leg only; the saved night (one folder, a recording per sensor) replays to the
events the live run logged.
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from emulator.night import make_night
from emulator.virtual.sensor import Faults
from nightcramp.commands.data import run_night
from nightcramp.emulated import run_emulated_legs
from recordings.export import open_source
from recordings.night import ABSENT
from recordings.store import RecordingSource, open_recording

NIGHT_S = 600.0
SPEED = 200.0
# seeds whose 600-s nights hold one cramp each: left 253-340 s, right 217-263 s
SEEDS = {"left": 3, "right": 7}


def _night(tmp: Path, faults: dict[str, Faults] | None = None, absent: tuple[str, ...] = ()) -> Any:
    sources = {s: make_night(SEEDS[s], NIGHT_S, cramps=1, side=s) for s in ("left", "right")}
    live: list[Any] = []
    run = asyncio.run(
        asyncio.wait_for(
            run_emulated_legs(
                sources,
                speed=SPEED,
                duration_s=NIGHT_S,
                faults=faults,
                absent=absent,
                out_dir=tmp / "rec",
                db=tmp / "db.sqlite3",
                status_stream=io.StringIO(),
                on_event=live.append,
            ),
            240.0,
        )
    )
    return run, sources, live


def _key(ev: Any) -> tuple[Any, ...]:
    return (ev.kind, ev.side, round(ev.start_s, 3), round(ev.end_s, 3))


def _alone(folder: Path, side: str) -> list[Any]:
    """That sensor's folder replayed alone, as a one-sensor night."""
    from detector.pipeline import run

    return run(RecordingSource(folder / side)).events


def _same_as_alone(run: Any, side: str, events: list[Any]) -> None:
    """A leg's cramps and artifacts in the two-sensor night are those of its sensor's
    recording replayed alone, placed by the leg's offset on the night's timeline (the
    detector's analysis grid moves with it: a few tens of ms)."""
    fs = run.night._layouts[side].emg_fs
    off = run.night._offsets[side][0] / fs
    kinds = ("cramp", "artifact")
    both = [e for e in events if e.kind in kinds]
    alone = [e for e in _alone(run.night.folder, side) if e.kind in kinds]
    assert [e.kind for e in both] == [e.kind for e in alone], (side, both, alone)
    for a, b in zip(both, alone, strict=True):
        assert a.start_s - off == pytest.approx(b.start_s, abs=0.1)
        assert a.duration_s == pytest.approx(b.duration_s, abs=0.1)


def test_a_drop_on_one_leg_is_backfilled_and_costs_the_other_leg_nothing(tmp_path: Path) -> None:
    run, sources, live = _night(tmp_path, faults={"left": Faults(drops=[(280.0, 30.0)])})
    left, right = run.recorders["left"], run.recorders["right"]
    result = run.result
    # the left link dropped and came back; the right one never did
    assert left.stats.disconnects == 1 and left.stats.resends >= 1
    assert right.stats.disconnects == 0 and right.stats.resends == 0
    # nothing lost on either leg: the drop was backfilled from the sensor's ring
    assert result.gaps == []
    folder = run.night.folder
    # each sensor's folder says which leg it is on and how its link went
    for side in ("left", "right"):
        info = open_recording(folder / side)
        assert info.meta["config"]["side"] == side
        kinds = [n["kind"] for n in info.notes]
        assert ("resend" in kinds) == (side == "left"), (side, kinds)  # the backfill asked
    # both legs whole: each timeline reached the night's end without a gap
    assert left._timeline_s == pytest.approx(NIGHT_S, abs=0.1), left.stats
    assert right._timeline_s == pytest.approx(NIGHT_S, abs=0.1), right.stats
    # each leg's cramp is the one its sensor's night holds, on its leg
    for side in ("left", "right"):
        (truth,) = [t for t in sources[side].truth if t.kind == "cramp"]
        cramps = [e for e in result.events if e.kind == "cramp" and e.side == side]
        assert len(cramps) == 1, (side, cramps)
        assert abs(cramps[0].start_s - truth.start_s) < 5.0
    # each leg's cramps and artifacts are those of its sensor's recording alone
    for side in ("left", "right"):
        _same_as_alone(run, side, [e for e in result.events if e.side == side])
    # the night folder: one meta.json listing the sensors with their side
    meta = json.loads((folder / "meta.json").read_text())
    assert [s["side"] for s in meta["sensors"]] == ["left", "right"]
    assert meta["format_version"] == 2
    # replay of the saved night gives the live events and the log has each event's leg
    replay = run_night(open_source(folder))
    assert [_key(e) for e in replay.events] == [_key(e) for e in result.events]
    assert {e.side for e in live if e.kind == "cramp"} == {"left", "right"}
    con = sqlite3.connect(tmp_path / "db.sqlite3")
    rows = con.execute("SELECT kind, leg FROM events WHERE kind = 'cramp'").fetchall()
    con.close()
    assert sorted(rows) == [("cramp", "left"), ("cramp", "right")]


def test_a_sensor_absent_all_night_leaves_the_other_leg_intact(tmp_path: Path) -> None:
    run, sources, _ = _night(tmp_path, absent=("right",))
    result = run.result
    assert run.recorders["right"].stats.connections == 0
    assert run.recorders["left"].stats.disconnects == 0
    folder = run.night.folder
    assert not (folder / "right").exists()  # nothing was ever received from it
    # one gap, on the absent leg only, for the whole night
    assert [(g.side, g.reason) for g in result.gaps] == [("right", ABSENT)]
    assert result.gaps[0].start_s == 0.0 and result.gaps[0].end_s >= NIGHT_S - 1.0
    # the left leg's events are those of its recording alone
    assert {e.side for e in result.events} == {"left"}
    _same_as_alone(run, "left", result.events)
    assert any(e.kind == "cramp" for e in result.events)
    # and the saved night replays to the same events and the same one-leg gap
    replay = run_night(open_source(folder))
    assert [_key(e) for e in replay.events] == [_key(e) for e in result.events]
    assert [(g.side, g.reason, g.start_s) for g in replay.gaps] == [("right", ABSENT, 0.0)]
    assert abs(replay.gaps[0].end_s - result.gaps[0].end_s) < 1e-6


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["record", "--left", "A"], "give both --left and --right"),
        (["record", "--left", "A", "--right", "a"], "are the same sensor"),
        (["record", "--device", "A", "--device", "B", "--device", "C"], "one sensor per leg"),
        (["record", "--left", "A", "--right", "B", "--device", "C"], "replace --device"),
        (["record", "--device", "A", "--device", "B", "--emulate"], "exclude each other"),
        (["record", "--device", "A", "--legs", "2"], "only apply to --emulate"),
        (["record", "--emulate", "--drop-right", "5:5"], "need --legs 2"),
        (["record", "--emulate", "--legs", "2", "--kind", "ganglion"], "two nightcramp sensors"),
        (["record", "--emulate", "--legs", "2", "--drop-right", "5:-1"], "DURATION > 0"),
    ],
)
def test_two_leg_options_are_checked_in_one_line(args: list[str], says: str) -> None:
    from click.testing import CliRunner

    from nightcramp.cli import cli
    from recordings.errors import UserError

    res = CliRunner().invoke(cli, args)
    assert isinstance(res.exception, UserError), res.output
    msg = str(res.exception)
    assert says in msg and "\n" not in msg


def test_cramp_record_emulate_two_legs_with_one_absent(isolated_home: Path) -> None:
    from click.testing import CliRunner

    from nightcramp.cli import cli

    out, db = isolated_home / "rec", isolated_home / "db.sqlite3"
    args = ["record", "--emulate", "--legs", "2", "--speed", "200", "--duration", "5m",
            "--absent", "left", "--drop-right", "100:10", "--out", str(out), "--db", str(db)]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, (res.output, res.exception)
    assert "left leg (C2:00:00:00:0E:0A) never found" in res.output
    assert "right leg (C2:00:00:00:0E:0B) 0.08 h" in res.output
    assert "1 disconnects" in res.output
    (folder,) = out.glob("night-*")
    replay = run_night(open_source(folder))
    assert [(g.side, g.reason) for g in replay.gaps] == [("left", ABSENT)]
    assert {e.side for e in replay.events} <= {"right"}
    con = sqlite3.connect(db)
    (reason,) = con.execute("SELECT reason FROM gaps").fetchone()
    con.close()
    assert "left" in reason, reason


def test_a_killed_two_sensor_night_is_finished_from_both_legs(tmp_path: Path) -> None:
    """`cramp record --legs 2` killed with SIGKILL mid-night: the next command finds the
    night's folder (its recorder's lock is gone) and finishes it from both sensors'
    recordings, each leg's events on its own side, as a replay of the folder finds them."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from nightcramp.cramplog import CrampLog

    env = {**os.environ, "NIGHTCRAMP_HOME": str(tmp_path / "home"),
           "NIGHTCRAMP_RECORDINGS": str(tmp_path / "rec"),
           "NIGHTCRAMP_DB": str(tmp_path / "home" / "log.sqlite3")}  # fmt: skip
    db = tmp_path / "home" / "log.sqlite3"
    code = "from nightcramp.cli import main; main()"
    p = subprocess.Popen(
        [sys.executable, "-c", code, "record", "--emulate", "--legs", "2", "--speed", "100",
         "--duration", "20m"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until a few minutes of the night are logged
            time.sleep(0.3)
            assert p.poll() is None, p.stderr.read() if p.stderr else ""
            try:
                with sqlite3.connect(db) as c:
                    t = c.execute("SELECT MAX(end_s) FROM events").fetchone()[0]
            except sqlite3.Error:
                continue
            if t is not None and t > 240:
                break
        else:
            pytest.fail("the recorder logged nothing in 90 s")
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    (folder,) = (tmp_path / "rec").glob("night-*")
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT status FROM nights").fetchone()[0] == "recording"
    r = subprocess.run([sys.executable, "-c", code, "summary"], env=env,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "stopped without finishing" in r.stderr and str(folder) in r.stderr, r.stderr
    assert "closed empty" not in r.stderr
    want = run_night(open_source(folder))  # what the two sensors' recordings hold
    with CrampLog.open(db) as log:
        (nid,) = [n["night_id"] for n in log.nights()]
        night = log.night(nid)
        logged = sorted((e["kind"], e["leg"], round(e["start_s"], 3)) for e in log.events(nid))
    assert night["status"] == "complete" and night["interrupted_utc"]
    replayed = sorted((e.kind, e.side, round(e.start_s, 3)) for e in want.events)
    assert set(replayed) <= set(logged), set(replayed) - set(logged)
    # what the log holds beyond the replay: events the live run closed from the last
    # second of data, which the kill kept from reaching the disk
    last = max(e.end_s for e in want.events)
    assert all(t > last - 5 for k, s, t in set(logged) - set(replayed)), (logged, replayed)
    assert {s for _, s, _ in logged} >= {"left", "right"}, logged  # both legs' events
    assert want.duration_s > 180  # the killed night's data, not an empty one
