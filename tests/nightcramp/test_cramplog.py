"""The cramp log: idempotent ingestion, restarts, supersession, migrations, permissions."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from hand_nights import HAND_VERSION, START, hand_night, ingest

from detector.events import Event
from nightcramp import cramplog, heal
from nightcramp.cramplog import SCHEMA_V1, SCHEMA_VERSION, CrampLog, parse_utc
from recordings.errors import UserError


def _count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as c:
        return int(c.execute(sql).fetchone()[0])


def test_schema_wal_and_foreign_keys(isolated_home: Path) -> None:
    with CrampLog.open() as log:
        assert log.path == isolated_home / "home" / "cramplog.sqlite3"
        assert log.schema_version == SCHEMA_VERSION
        c = log._conn
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError):
            c.execute(
                "INSERT INTO events (night_id, detector_version, kind, start_s, end_s, start_ms,"
                " created_utc) VALUES ('nope', 'v', 'cramp', 0, 1, 0, 'x')"
            )


def test_permissions_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "new" / "sub" / "log.sqlite3"
    old = os.umask(0o022)
    try:
        log = CrampLog.open(db)
        ingest(log, "n1", hand_night(with_trace=False))
        # while open, WAL companions exist; all owner-only
        for p in (db, Path(str(db) + "-wal"), Path(str(db) + "-shm")):
            assert p.exists(), p
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(db.parent.parent.stat().st_mode) == 0o700
        log.close()
    finally:
        os.umask(old)


def test_default_location_is_tightened(isolated_home: Path) -> None:
    home = isolated_home / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    CrampLog.open().close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_same_night_twice_never_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    r = hand_night(with_trace=True)
    with CrampLog.open(db) as log:
        ingest(log, "n1", r)
        first = log.events("n1")
        ingest(log, "n1", r)  # replay the same night again
        again = log.events("n1")
    assert len(first) == len(r.events)
    assert [e["event_id"] for e in again] == [e["event_id"] for e in first]
    assert _count(db, "SELECT COUNT(*) FROM events") == len(r.events)
    assert _count(db, "SELECT COUNT(*) FROM night_trace") == int(r.duration_s)
    assert _count(db, "SELECT COUNT(*) FROM gaps") == 1


def test_add_event_twice_returns_same_id_and_updates(tmp_path: Path) -> None:
    r = hand_night(with_trace=False)
    with CrampLog.open(tmp_path / "l.sqlite3") as log:
        log.begin_night("n", source="live", layout=r.layout, start_utc=START,
                        detector_version="v1")  # fmt: skip
        ev = next(e for e in r.events if e.kind == "cramp")
        a = log.add_event("n", ev)
        b = log.add_event("n", dataclasses.replace(ev, end_s=ev.end_s + 5, peak_uv=200.0))
        assert a == b
        row = log.event(a)
        assert row["end_s"] == ev.end_s + 5 and row["peak_uv"] == 200.0
        assert row["start_utc"] == cramplog.utc_iso(START + timedelta(seconds=ev.start_s))


def test_recorder_restart_mid_night(tmp_path: Path) -> None:
    """A recorder that dies and restarts re-sends events it already logged."""
    db = tmp_path / "l.sqlite3"
    r = hand_night(with_trace=False)
    half = len(r.events) // 2
    log = CrampLog.open(db)
    log.begin_night("n", source="live", layout=r.layout, start_utc=START,
                    detector_version=HAND_VERSION)  # fmt: skip
    sink = log.event_sink("n", lambda t: START + timedelta(seconds=t))
    for ev in r.events[: half + 3]:
        sink(ev)
    log.close()  # the crash: night never ended
    with CrampLog.open(db) as log2:
        assert log2.night("n")["status"] == "recording"
        log2.begin_night("n", source="live", layout=r.layout, start_utc=START,
                         detector_version=HAND_VERSION)  # fmt: skip
        sink2 = log2.event_sink("n", lambda t: START + timedelta(seconds=t))
        for ev in r.events[half:]:  # overlaps what was already sent
            sink2(ev)
        log2.end_night("n", r)
        assert log2.night("n")["status"] == "complete"
        assert len(log2.events("n")) == len(r.events)


def test_concurrent_writer_threads(tmp_path: Path) -> None:
    r = hand_night(with_trace=False)
    with CrampLog.open(tmp_path / "l.sqlite3") as log:
        log.begin_night("n", source="live", layout=r.layout, start_utc=START,
                        detector_version="v")  # fmt: skip
        sink = log.event_sink("n", lambda t: None)
        ts = [threading.Thread(target=lambda: [sink(e) for e in r.events]) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(log.events("n")) == len(r.events)


def test_newer_detector_supersedes_and_keeps_annotations(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    old = hand_night(with_trace=False, version="1.0")
    with CrampLog.open(db) as log:
        ingest(log, "n", old)
        cramps = log.events("n", "cramp")
        log.annotate(cramps[0]["event_id"], verdict="confirmed", pain=7, eased_by="walking")
        log.reject(cramps[1]["event_id"])
        # an annotation on an event the new version will not find at all
        arte = log.events("n", "artifact")[0]
        log.annotate(arte["event_id"], notes="I took the sensor off here")

        # version 2.0: onsets shift by 3 s, the artefact is gone, a new movement appears
        new_events = [
            dataclasses.replace(e, start_s=e.start_s + 3, end_s=e.end_s + 3)
            for e in old.events
            if e.kind != "artifact"
        ] + [Event("movement", 100.0, 104.0, subtype="turning")]
        new = dataclasses.replace(old, events=new_events, detector_version="2.0")
        log.begin_night("n", source="replay", layout=new.layout, start_utc=START,
                        detector_version="2.0")  # fmt: skip
        # while 2.0 is re-detecting, listings still show the 1.0 events
        sink = log.event_sink("n", lambda t: None)
        for ev in new.events[:5]:
            sink(ev)
        assert {e["detector_version"] for e in log.events("n")} == {"1.0"}
        log.end_night("n", new)

        cur = log.events("n")
        assert {e["detector_version"] for e in cur} == {"2.0"}
        assert len(cur) == len(new_events)
        c2 = log.events("n", "cramp")
        assert c2[0]["verdict"] == "confirmed" and c2[0]["pain"] == 7
        assert c2[0]["eased_by"] == "walking"
        assert c2[1]["verdict"] == "rejected"
        assert c2[0]["start_s"] == cramps[0]["start_s"] + 3
        # the old events are kept, flagged
        allv = log.events("n", include_superseded=True)
        assert sum(e["superseded"] for e in allv) == len(old.events)
        orphans = log.orphaned_annotations("n")
        assert [o["notes"] for o in orphans] == ["I took the sensor off here"]
        old_cramp = log.event(cramps[0]["event_id"])
        assert old_cramp["superseded"] and old_cramp["replaced_by"] == c2[0]["event_id"]
        assert log.night("n")["detector_version"] == "2.0"
        p = log.precision("n")
        assert (p["confirmed"], p["rejected"], p["precision"]) == (1, 1, 0.5)


def test_migrates_a_v1_file(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite3"
    with sqlite3.connect(db) as c:
        c.executescript(SCHEMA_V1)
        c.execute("PRAGMA user_version = 1")
        c.execute(
            "INSERT INTO nights (night_id, source, start_utc, detector_version, status,"
            " created_utc, updated_utc) VALUES ('old', 'live', '2026-01-01T22:00:00.000Z',"
            " '0.1', 'complete', 'x', 'x')"
        )
        c.execute(
            "INSERT INTO events (night_id, detector_version, kind, start_s, end_s, start_ms,"
            " created_utc) VALUES ('old', '0.1', 'cramp', 10, 70, 10000, 'x')"
        )
        c.execute(
            "INSERT INTO annotations (event_id, verdict, pain, created_utc, updated_utc)"
            " VALUES (1, 'confirmed', 6, 'x', 'x')"
        )
        c.execute("INSERT INTO evenings (date, water_l, updated_utc) VALUES ('2026-01-01', 2, 'x')")
    os.chmod(db, 0o644)
    with CrampLog.open(db) as log:
        assert log.schema_version == SCHEMA_VERSION
        assert log._conn.execute("PRAGMA application_id").fetchone()[0] == cramplog.APPLICATION_ID
        cols = [r[1] for r in log._conn.execute("PRAGMA table_info(evenings)")]
        assert {"crossed_legs", "hard_floor", "tired"} <= set(cols)
        ev = log.events("old")
        assert len(ev) == 1 and ev[0]["verdict"] == "confirmed" and ev[0]["pain"] == 6
        assert log.evening("2026-01-01")["water_l"] == 2
        row = log.set_evening("2026-01-01", crossed_legs=True, tired=7)
        assert row["crossed_legs"] == 1 and row["tired"] == 7
        assert log._conn.execute("SELECT COUNT(*) FROM current_events").fetchone()[0] == 1
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def _v3_file(db: Path) -> None:
    """A schema-3 log as the last release left it: a two-leg night whose events keep
    their leg in ``context_json`` and whose one-leg gap keeps it in the reason."""
    with sqlite3.connect(db) as c:
        for v in range(3):
            for stmt in cramplog._split_sql(cramplog.MIGRATIONS[v]):
                if stmt.strip():
                    c.execute(stmt)
        c.execute("PRAGMA user_version = 3")
        c.execute(
            "INSERT INTO nights (night_id, source, start_utc, detector_version, status,"
            " created_utc, updated_utc) VALUES ('two', 'ble', '2026-01-01T22:00:00.000Z',"
            " '0.9', 'complete', 'x', 'x')"
        )
        for side, t in (("left", 10.0), ("right", 300.0), (None, 500.0)):
            ctx = json.dumps({"side": side} if side else {})
            c.execute(
                "INSERT INTO events (night_id, detector_version, kind, start_s, end_s,"
                " start_ms, context_json, created_utc) VALUES ('two', '0.9', 'cramp', ?, ?,"
                " ?, ?, 'x')",
                (t, t + 60, int(t * 1000), ctx),
            )
        c.execute(
            "INSERT INTO annotations (event_id, verdict, pain, side, created_utc, updated_utc)"
            " VALUES (1, 'confirmed', 7, 'left', 'x', 'x')"
        )
        c.executemany(
            "INSERT INTO gaps VALUES ('two', ?, ?, ?)",
            [(100.0, 130.0, "sensor-loss (left leg only)"), (700.0, 710.0, "link")],
        )


def test_a_v3_file_gets_each_events_and_gaps_leg_and_keeps_its_annotations(
    tmp_path: Path,
) -> None:
    db = tmp_path / "v3.sqlite3"
    _v3_file(db)
    with CrampLog.open(db) as log:
        assert log.schema_version == SCHEMA_VERSION
        assert log._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # on again
        ev = log.events("two")
        assert [(e["event_id"], e["leg"]) for e in ev] == [(1, "left"), (2, "right"), (3, None)]
        # the rebuilt table kept the annotation on its event (foreign keys were off)
        assert (ev[0]["verdict"], ev[0]["pain"], ev[0]["side"]) == ("confirmed", 7, "left")
        assert [(g["start_s"], g["leg"]) for g in log.gaps("two")] == [
            (100.0, "left"),
            (700.0, None),
        ]
        cols = {r[1] for r in log._conn.execute("PRAGMA table_info(current_events)")}
        assert "leg" in cols
        assert log._conn.execute("SELECT COUNT(*) FROM current_events").fetchone()[0] == 3
        assert log._conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_two_legs_events_and_gaps_at_the_same_moment_are_two_rows(tmp_path: Path) -> None:
    """On a two-leg night both calves can move, or both links drop, in the same
    millisecond: one row per leg, and sending either again still updates its own row."""
    from detector.stream import Gap

    db = tmp_path / "log.sqlite3"
    night = hand_night()
    with CrampLog.open(db) as log:
        log.begin_night("n", source="ble", layout=night.layout, start_utc=START,
                        detector_version=HAND_VERSION)  # fmt: skip
        ids = {side: log.add_event("n", Event("movement", 42.0, 44.0, side=side))
               for side in ("left", "right")}  # fmt: skip
        assert ids["left"] != ids["right"]
        assert log.add_event("n", Event("movement", 42.0, 45.0, side="right")) == ids["right"]
        gaps = [Gap(100.0, 130.0, "link", "left"), Gap(100.0, 160.0, "link", "right")]
        result = dataclasses.replace(night, events=[], gaps=gaps)
        log.end_night("n", result)
        rows = [(e["leg"], e["end_s"]) for e in log.events("n") if e["start_s"] == 42.0]
        assert sorted(rows) == [("left", 44.0), ("right", 45.0)]
        assert [(g["leg"], g["end_s"]) for g in log.gaps("n")] == [
            ("left", 130.0),
            ("right", 160.0),
        ]


def test_an_annotation_never_moves_to_the_other_legs_event(tmp_path: Path) -> None:
    """A new detector version re-detects a two-leg night: the user's note on the left
    cramp goes to the new left cramp, even when a right one overlaps it more."""
    db = tmp_path / "log.sqlite3"
    night = hand_night()
    with CrampLog.open(db) as log:
        log.begin_night("n", source="ble", layout=night.layout, start_utc=START,
                        detector_version="1.0")  # fmt: skip
        old = log.add_event("n", Event("cramp", 100.0, 160.0, side="left"))
        log.end_night("n", dataclasses.replace(night, events=[], detector_version="1.0"))
        log.annotate(old, verdict="confirmed", pain=8)
        new = [Event("cramp", 95.0, 165.0, side="right"), Event("cramp", 140.0, 170.0, side="left")]
        log.begin_night("n", source="replay", layout=night.layout, start_utc=START,
                        detector_version="2.0")  # fmt: skip
        log.end_night("n", dataclasses.replace(night, events=new, detector_version="2.0"))
        (noted,) = [e for e in log.events("n") if e["verdict"] == "confirmed"]
        assert (noted["leg"], noted["start_s"], noted["pain"]) == ("left", 140.0, 8)


def test_failed_migration_leaves_old_version(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "v1.sqlite3"
    with sqlite3.connect(db) as c:
        c.executescript(SCHEMA_V1)
        c.execute("PRAGMA user_version = 1")
    monkeypatch.setitem(cramplog.MIGRATIONS, 1, cramplog.MIGRATION_V2 + "\nNOT SQL;")
    with pytest.raises(UserError, match="cannot upgrade the cramp log from schema version 1"):
        CrampLog.open(db)
    assert _count(db, "PRAGMA user_version") == 1
    with sqlite3.connect(db) as c:
        cols = [r[1] for r in c.execute("PRAGMA table_info(evenings)")]
    assert "crossed_legs" not in cols


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.sqlite3"
    with sqlite3.connect(db) as c:
        c.execute("PRAGMA user_version = 99")
    with pytest.raises(UserError, match="newer than this nightcramp"):
        CrampLog.open(db)


def test_not_a_database_is_a_user_error(tmp_path: Path) -> None:
    db = tmp_path / "junk.sqlite3"
    db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UserError, match="not a cramp log"):
        CrampLog.open(db)


def test_add_event_before_begin_is_a_clear_error(tmp_path: Path) -> None:
    with CrampLog.open(tmp_path / "l.sqlite3") as log:
        with pytest.raises(UserError, match="was not begun"):
            log.add_event("ghost", Event("cramp", 0.0, 10.0))


def test_bad_annotation_values(tmp_path: Path) -> None:
    with CrampLog.open(tmp_path / "l.sqlite3") as log:
        ingest(log, "n", hand_night(with_trace=False))
        eid = log.events("n", "cramp")[0]["event_id"]
        with pytest.raises(UserError, match="pain 11"):
            log.annotate(eid, pain=11)
        with pytest.raises(UserError, match="muscle 'neck'"):
            log.annotate(eid, muscle="neck")
        with pytest.raises(UserError, match="eased-by 'prayer'"):
            log.annotate(eid, eased_by="stretch,prayer")
        with pytest.raises(UserError, match="no event with id 424242"):
            log.confirm(424242)
        with pytest.raises(UserError, match="water 40"):
            log.set_evening("2026-11-24", water_l=40)
        with pytest.raises(UserError, match="YYYY-MM-DD"):
            log.set_evening("yesterday", water_l=1)


def test_manual_cramp_attaches_to_night_by_time(tmp_path: Path) -> None:
    with CrampLog.open(tmp_path / "l.sqlite3") as log:
        ingest(log, "n", hand_night(with_trace=False))
        cid = log.add_manual_cramp(START + timedelta(hours=2), duration_s=60, pain=5)
        other = log.add_manual_cramp(START + timedelta(days=3), pain=2)
        rows = {m["cramp_id"]: m for m in log.manual_cramps()}
        assert rows[cid]["night_id"] == "n"
        assert rows[other]["night_id"] is None
        assert log.precision("n")["felt_not_detected"] == 1


def test_delete_night_cascades(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    with CrampLog.open(db) as log:
        ingest(log, "n", hand_night(with_trace=False))
        log.confirm(log.events("n", "cramp")[0]["event_id"])
        log.delete_night("n")
    for t in ("events", "annotations", "night_epochs", "gaps", "nights"):
        assert _count(db, f"SELECT COUNT(*) FROM {t}") == 0


def test_two_openers_of_a_fresh_file(tmp_path: Path) -> None:
    """The recorder and a `cramp log` command may create the same log at once: none of
    them takes the half-made file for a foreign one, or gives up on a lock.  (Many fresh
    files, many openers: the race showed about once in 30 runs of one file and four.)"""
    for k in range(12):
        db = tmp_path / f"fresh-{k}.sqlite3"
        errors: list[BaseException] = []

        def opener(db: Path = db, errors: list[BaseException] = errors) -> None:
            try:
                CrampLog.open(db).close()
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=opener) for _ in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert errors == []
        assert _count(db, "PRAGMA user_version") == SCHEMA_VERSION


def _foreign_db(path: Path, mode: int = 0o644) -> bytes:
    """Another program's SQLite file that happens to have an ``events`` table."""
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)")
        c.execute("INSERT INTO events (what) VALUES ('birthday')")
    os.chmod(path, mode)
    return path.read_bytes()


@pytest.mark.parametrize("app_id", [0, 0x12345678])
def test_a_foreign_database_is_refused_and_left_exactly_as_it_was(
    tmp_path: Path, app_id: int
) -> None:
    db = tmp_path / "other.db"
    _foreign_db(db)
    if app_id:
        with sqlite3.connect(db) as c:
            c.execute(f"PRAGMA application_id = {app_id}")
    before = db.read_bytes()
    with pytest.raises(UserError, match=r"not a cramp log .*events.*untouched.*--db"):
        CrampLog.open(db)
    assert db.read_bytes() == before
    assert stat.S_IMODE(db.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal / -shm
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_the_log_cli_refuses_a_foreign_database_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    before = _foreign_db(db)
    code = "from nightcramp.cli import main; main()"
    r = subprocess.run([sys.executable, "-c", code, "log", "list", "--db", str(db)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "not a cramp log" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == before and stat.S_IMODE(db.stat().st_mode) == 0o644


def test_a_folder_given_as_the_log_is_left_alone(tmp_path: Path) -> None:
    d = tmp_path / "folder"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    with pytest.raises(UserError, match="not a regular file"):
        CrampLog.open(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o755 and list(d.iterdir()) == []


def test_an_empty_sqlite_file_becomes_a_log(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()  # an SQLite file of 0 bytes
    with CrampLog.open(db) as log:
        assert log.schema_version == SCHEMA_VERSION
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA application_id").fetchone()[0] == cramplog.APPLICATION_ID


def test_a_damaged_schema_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "l.sqlite3"
    with CrampLog.open(db) as log:
        ingest(log, "n", hand_night(with_trace=False))
    with sqlite3.connect(db) as c:
        c.execute("DROP VIEW current_events")
        c.execute("DROP TABLE events")
    with pytest.raises(UserError, match=r"damaged: 'events' is missing -- restore") as ei:
        CrampLog.open(db)
    assert "\n" not in str(ei.value)


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("UPDATE events SET context_json = '{broken' WHERE event_id = {eid}",
         r"events row event_id={eid}: context_json is not valid JSON"),
        ("UPDATE events SET channels = '[\"EMG1\"' WHERE event_id = {eid}",
         r"events row event_id={eid}: channels is not valid JSON"),
        ("UPDATE nights SET stats_json = 'nan nan' WHERE night_id = 'n'",
         r"nights row 'n': stats_json is not valid JSON"),
    ],
)  # fmt: skip
def test_a_row_with_bad_json_is_an_error_naming_the_row(
    tmp_path: Path, sql: str, where: str
) -> None:
    db = tmp_path / "l.sqlite3"
    with CrampLog.open(db) as log:
        ingest(log, "n", hand_night(with_trace=False))
        eid = log.events("n", "cramp")[0]["event_id"]
    with sqlite3.connect(db) as c:
        c.execute(sql.replace("{eid}", str(eid)))
    with CrampLog.open(db) as log, pytest.raises(UserError, match=where.replace("{eid}", str(eid))):
        log.events("n") if "events" in where else log.night("n")


# ----------------------------------------------------------------- killed nights (heal)

SAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "sample-night"


def _half_logged_night(tmp_path: Path) -> tuple[Path, Path, str]:
    """A copy of the sample recording whose night the log holds as a killed recorder
    leaves it: begun, an early cramp notice, never ended."""
    import shutil

    from detector.detect import DETECTOR_VERSION
    from recordings.store import RecordingSource

    rec = tmp_path / "rec"
    rid = json.loads((SAMPLE / "meta.json").read_text())["recording_id"]
    folder = rec / f"night-20261126-231502-{rid.replace('-', '')[:8]}"
    shutil.copytree(SAMPLE, folder)
    (folder / heal.LOCK_NAME).write_text("4242\n")  # its recorder's lock, long released
    src = RecordingSource(folder)
    db = tmp_path / "log.sqlite3"
    with CrampLog.open(db) as log:
        log.begin_night(src.recording_id, source="ble", layout=src.layout,
                        start_utc=src.layout.start_utc, detector_version=DETECTOR_VERSION)  # fmt: skip
        # killed while a cramp was going on: only its early notice reached the log
        notice = Event("cramp", 254.0, 270.0, context={"provisional": True})
        log.add_event(src.recording_id, notice)
    return folder, db, src.recording_id


def test_a_killed_night_is_finished_from_its_recording(tmp_path: Path) -> None:
    from nightcramp.commands.data import run_night
    from recordings.store import RecordingSource

    folder, db, nid = _half_logged_night(tmp_path)
    rec = folder.parent
    err = io.StringIO()
    with CrampLog.open(db) as log:
        assert log.unfinished_nights() == [nid]
        msgs = heal.finish_killed_nights(log, rec, err=err)
        assert len(msgs) == 1 and nid in err.getvalue() and "stopped without finishing" in msgs[0]
        night = log.night(nid)
        logged = [(e["kind"], e["start_s"], e["end_s"]) for e in log.events(nid)]
        assert log.unfinished_nights() == []
        assert heal.finish_killed_nights(log, rec, err=err) == []  # once only
    want = run_night(RecordingSource(folder))
    assert night["status"] == "complete"
    # every event the recording holds, as a replay finds them; the notice is gone
    assert sorted(logged) == sorted((e.kind, e.start_s, e.end_s) for e in want.events)
    assert any(k == "cramp" for k, _, _ in logged)
    last = parse_utc(night["interrupted_utc"])
    start = parse_utc(night["start_utc"])
    assert last is not None and start is not None
    assert abs((last - start).total_seconds() - want.duration_s) < 60  # the last data


def test_a_live_or_unfound_night_is_left_alone(tmp_path: Path) -> None:
    folder, db, nid = _half_logged_night(tmp_path)
    rec = folder.parent
    owner = type("Recorder", (), {})()  # stands for the recorder that holds the lock
    heal.hold(folder, db, owner=owner)
    with CrampLog.open(db) as log:
        assert heal.finish_killed_nights(log, rec) == []
        assert heal.finish_killed_nights(log, tmp_path / "elsewhere") == []
        assert log.night(nid)["status"] == "recording"
    del owner  # the recorder is gone: the lock is released
    import gc

    gc.collect()
    with CrampLog.open(db) as log:  # found through the pointer beside the log, not --out
        assert len(heal.finish_killed_nights(log, tmp_path / "elsewhere")) == 1
        assert log.night(nid)["interrupted_utc"]


def test_a_night_killed_before_its_first_frame_is_closed_once(tmp_path: Path) -> None:
    folder, db, nid = _half_logged_night(tmp_path)
    (folder / "frames-00000.arrow").unlink()  # killed right after the folder was made
    with CrampLog.open(db) as log:
        msgs = heal.finish_killed_nights(log, folder.parent, err=io.StringIO())
        assert len(msgs) == 1 and "closed empty" in msgs[0] and "no readable data" in msgs[0]
        night = log.night(nid)
        assert night["status"] == "complete" and night["interrupted_utc"]
        assert heal.finish_killed_nights(log, folder.parent) == []  # said once, not forever


@pytest.mark.slow
def test_kill_9_then_summary_finishes_the_night(tmp_path: Path) -> None:
    """A real recorder process killed with SIGKILL mid-night; `cramp summary` heals it."""
    import signal
    import time

    env = {**os.environ, "NIGHTCRAMP_HOME": str(tmp_path / "home"),
           "NIGHTCRAMP_RECORDINGS": str(tmp_path / "rec"),
           "NIGHTCRAMP_DB": str(tmp_path / "home" / "log.sqlite3")}  # fmt: skip
    code = "from nightcramp.cli import main; main()"
    p = subprocess.Popen(
        [sys.executable, "-c", code, "record", "--emulate", str(SAMPLE), "--speed", "40"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    db = tmp_path / "home" / "log.sqlite3"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                if _count(db, "SELECT COUNT(*) FROM events WHERE kind = 'cramp'") >= 1:
                    break
            except sqlite3.Error:
                continue
        else:
            pytest.fail("the recorder logged no cramp in 90 s")
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT status FROM nights").fetchone()[0] == "recording"
    r = subprocess.run([sys.executable, "-c", code, "summary"], env=env,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "stopped without finishing" in r.stderr
    assert "Interrupted: the recorder stopped at" in r.stdout and "Cramps     1" in r.stdout
    with sqlite3.connect(db) as c:
        status, interrupted = c.execute("SELECT status, interrupted_utc FROM nights").fetchone()
    assert status == "complete" and interrupted
