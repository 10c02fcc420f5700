"""The cramp log: one SQLite file that holds every night, event and user annotation.

The log is a plain SQLite database (schema documented in ``docs/CRAMPLOG.md``) that
anyone can open with the ``sqlite3`` shell.  It lives at :func:`nightcramp.paths.db_path`
(``--db`` / ``NIGHTCRAMP_DB`` / ``<user data dir>/cramplog.sqlite3``).

Properties
----------
* Owner-only: the database file (and its ``-wal`` / ``-shm`` companions) is created
  ``0600``; a folder created for it is ``0700`` (the default data folder is tightened to
  ``0700`` even if it exists; a folder the user named with ``--db`` is left as it is).
* Write-ahead logging (``PRAGMA journal_mode=WAL``): the recorder writes while the user
  reads the log from another process.  ``busy_timeout`` 5 s.
* Versioned schema: ``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS`
  upgrades any older file step by step, each step in one transaction.
* Foreign keys on (``PRAGMA foreign_keys=ON``).

Ingestion contract (used by the recorder, ``cramp replay`` and ``cramp detect``)
-------------------------------------------------------------------------------
``begin_night`` -> ``add_event`` (once per event, as soon as the detector closes it,
each in its own transaction) -> ``end_night``.  Idempotent: an event is keyed by
``(night_id, detector_version, kind, leg, start_ms)``; sending it again (a replay of the same
night, a recorder restarting mid-night and re-sending) updates the row, never
duplicates it.

Early cramp notices (``docs/DETECTOR.md``): a provisional cramp
(``Event.notice == "provisional"``) is stored as a row like any other, flagged
``provisional`` in its ``context_json`` (``Event.record_context``); the final cramp that
carries ``Event.replaces_start_s`` replaces that row (its annotations move to the final
row); a retraction (``Event.notice == "retracted"``) deletes it (:meth:`retract_event`).
``end_night`` drops any provisional row of the night still left.

Detector versions: the version of a night is the one most recently *completed*
(``end_night``).  While a different version re-detects a night its events are written
under that version but hidden (``nights.pending_version``); at ``end_night`` the older
versions' machine-made events are marked ``superseded`` (kept, never deleted) and each
user annotation moves to the new event that overlaps its old event most in time.  An
annotation that overlaps nothing stays on its old event and is flagged ``orphaned``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from detector.events import KINDS, Event, NightResult
from detector.stream import Gap, StreamLayout
from nightcramp import paths
from recordings import files, jsonout
from recordings.errors import UserError
from recordings.jsonout import utc_iso

#: Current schema version (``PRAGMA user_version``).
SCHEMA_VERSION = 4

#: ``PRAGMA application_id`` of a cramp log ("NCRL"): a file with another non-zero id is
#: another program's and is never touched.
APPLICATION_ID = 0x4E43524C

#: Values accepted for annotation fields (from the seed text: where cramps strike and
#: what eases them).
MUSCLES = ("calf", "thigh", "foot")
SIDES = ("left", "right", "both")
EASED_BY = ("stretch-foot-up", "walking", "shaking", "massage", "nothing", "other")
VERDICTS = ("confirmed", "rejected")
NIGHT_STATUS = ("recording", "complete")
#: Pain and next-day soreness are 0 (none) to 10 (worst imaginable), the numeric rating
#: scale used for pain in clinical practice.
SCALE_MIN, SCALE_MAX = 0, 10

#: Schema v1: the first released schema.  Kept verbatim: migrations start from it and
#: the tests build a v1 file from exactly this text.
SCHEMA_V1 = """
CREATE TABLE nights (
    night_id          TEXT PRIMARY KEY,           -- the recording id
    source            TEXT NOT NULL DEFAULT '',   -- live | replay | edf | synthetic | ...
    device            TEXT NOT NULL DEFAULT '',
    start_utc         TEXT,                       -- wall clock of timeline t = 0 (ISO, UTC)
    end_utc           TEXT,
    duration_s        REAL,                       -- timeline span covered, s
    detector_version  TEXT NOT NULL DEFAULT '',   -- version whose events are current
    pending_version   TEXT,                       -- a different version re-detecting now
    layout_json       TEXT NOT NULL DEFAULT '{}',
    stats_json        TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL DEFAULT 'recording'
                      CHECK (status IN ('recording', 'complete')),
    created_utc       TEXT NOT NULL,
    updated_utc       TEXT NOT NULL
);
CREATE TABLE events (
    event_id          INTEGER PRIMARY KEY,
    night_id          TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    detector_version  TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('cramp', 'plm', 'movement', 'artifact')),
    subtype           TEXT NOT NULL DEFAULT '',
    start_s           REAL NOT NULL,              -- recording timeline, s
    end_s             REAL NOT NULL,
    start_ms          INTEGER NOT NULL,           -- round(start_s * 1000): the idempotency key
    start_utc         TEXT,
    end_utc           TEXT,
    peak_uv           REAL,                       -- EMG RMS envelope peak, µV
    mean_uv           REAL,                       -- EMG RMS envelope mean, µV
    peak_x_rest       REAL,                       -- peak as a multiple of the resting level
    mean_x_rest       REAL,
    confidence        REAL,                       -- 0..1
    channels          TEXT NOT NULL DEFAULT '[]', -- JSON list of channel labels
    reason            TEXT NOT NULL DEFAULT '',
    context_json      TEXT NOT NULL DEFAULT '{}',
    superseded        INTEGER NOT NULL DEFAULT 0, -- 1: replaced by a newer detector version
    created_utc       TEXT NOT NULL,
    UNIQUE (night_id, detector_version, kind, start_ms)
);
CREATE INDEX events_by_night ON events(night_id, superseded, start_s);
CREATE TABLE annotations (
    annotation_id     INTEGER PRIMARY KEY,
    event_id          INTEGER NOT NULL REFERENCES events(event_id) ON DELETE CASCADE,
    verdict           TEXT CHECK (verdict IN ('confirmed', 'rejected')),
    pain              INTEGER CHECK (pain BETWEEN 0 AND 10),
    muscle            TEXT CHECK (muscle IN ('calf', 'thigh', 'foot')),
    side              TEXT CHECK (side IN ('left', 'right', 'both')),
    eased_by          TEXT,                       -- comma list from EASED_BY
    soreness          INTEGER CHECK (soreness BETWEEN 0 AND 10),
    notes             TEXT NOT NULL DEFAULT '',
    orphaned          INTEGER NOT NULL DEFAULT 0, -- 1: no new event overlapped its event
    created_utc       TEXT NOT NULL,
    updated_utc       TEXT NOT NULL
);
CREATE INDEX annotations_by_event ON annotations(event_id);
CREATE TABLE manual_cramps (
    cramp_id          INTEGER PRIMARY KEY,
    night_id          TEXT REFERENCES nights(night_id) ON DELETE SET NULL,
    at_utc            TEXT NOT NULL,
    duration_s        REAL,
    pain              INTEGER CHECK (pain BETWEEN 0 AND 10),
    muscle            TEXT CHECK (muscle IN ('calf', 'thigh', 'foot')),
    side              TEXT CHECK (side IN ('left', 'right', 'both')),
    eased_by          TEXT,
    soreness          INTEGER CHECK (soreness BETWEEN 0 AND 10),
    notes             TEXT NOT NULL DEFAULT '',
    created_utc       TEXT NOT NULL
);
CREATE TABLE evenings (
    date              TEXT PRIMARY KEY,           -- YYYY-MM-DD, the evening before a night
    water_l           REAL CHECK (water_l >= 0),  -- litres drunk over the day
    stretch           INTEGER,                    -- 1/0: calf stretch before bed
    exercise          INTEGER,                    -- 1/0: light exercise in the evening
    long_sitting      INTEGER,                    -- 1/0
    long_standing     INTEGER,                    -- 1/0
    supplement        TEXT NOT NULL DEFAULT '',   -- supplement or medicine taken
    notes             TEXT NOT NULL DEFAULT '',
    updated_utc       TEXT NOT NULL
);
CREATE TABLE night_trace (
    night_id          TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    t_s               REAL NOT NULL,              -- timeline s, one row per second
    emg_rms_uv        REAL,                       -- EMG RMS envelope, µV
    rest_uv           REAL,                       -- adaptive resting level, µV
    activity_g        REAL,                       -- acceleration variability, g
    posture           TEXT,
    PRIMARY KEY (night_id, t_s)
) WITHOUT ROWID;
CREATE TABLE night_epochs (
    night_id          TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    t_s               REAL NOT NULL,              -- epoch start, timeline s (30-s epochs)
    state             TEXT,                       -- sleep | wake | gap
    posture           TEXT,
    activity          REAL,
    PRIMARY KEY (night_id, t_s)
) WITHOUT ROWID;
CREATE TABLE gaps (
    night_id          TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    start_s           REAL NOT NULL,
    end_s             REAL NOT NULL,
    reason            TEXT NOT NULL DEFAULT 'unknown',
    PRIMARY KEY (night_id, start_s)
) WITHOUT ROWID;
"""

#: v1 -> v2: the seed names more suspected triggers than v1 recorded (crossed legs,
#: standing on hard floors, tiredness), and a view of the current events for people
#: reading the file with the ``sqlite3`` shell.
MIGRATION_V2 = """
ALTER TABLE evenings ADD COLUMN crossed_legs INTEGER;
ALTER TABLE evenings ADD COLUMN hard_floor INTEGER;
ALTER TABLE evenings ADD COLUMN tired INTEGER CHECK (tired BETWEEN 0 AND 10);
CREATE VIEW current_events AS
    SELECT e.* FROM events e JOIN nights n USING (night_id)
    WHERE e.superseded = 0 AND e.detector_version = n.detector_version;
"""

#: v2 -> v3: a night whose recorder was killed is finished from its recording by the next
#: command (``nightcramp.heal``); ``interrupted_utc`` is the time of its last data, so
#: the summary can say the night was cut short.  The file gets the log's application id.
MIGRATION_V3 = f"""
ALTER TABLE nights ADD COLUMN interrupted_utc TEXT;  -- last data of a killed recording
PRAGMA application_id = {APPLICATION_ID};
"""

#: v3 -> v4: the leg of each detected event and gap gets a column of its own (``leg``:
#: ``left``/``right``/``both``, ``''`` when the night's one sensor is on no declared
#: leg), read from where v3 kept it (an event's ``context_json`` ``side``, a gap's reason
#: ``... (left leg only)``).  The leg joins the keys: on a two-leg night the two legs'
#: events or gaps starting in the same millisecond are two rows, not one overwriting the
#: other.  SQLite cannot change a table's keys in place, so both tables are rebuilt (the
#: documented twelve-step way: foreign keys off around the transaction, see ``_migrate``;
#: the annotations keep their ``event_id``).
MIGRATION_V4 = """
DROP VIEW current_events;
CREATE TABLE events_v4 (
    event_id          INTEGER PRIMARY KEY,
    night_id          TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    detector_version  TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('cramp', 'plm', 'movement', 'artifact')),
    subtype           TEXT NOT NULL DEFAULT '',
    leg               TEXT NOT NULL DEFAULT ''    -- the detected leg; '' not known
                      CHECK (leg IN ('', 'left', 'right', 'both')),
    start_s           REAL NOT NULL,              -- recording timeline, s
    end_s             REAL NOT NULL,
    start_ms          INTEGER NOT NULL,           -- round(start_s * 1000): the idempotency key
    start_utc         TEXT,
    end_utc           TEXT,
    peak_uv           REAL,                       -- EMG RMS envelope peak, µV
    mean_uv           REAL,                       -- EMG RMS envelope mean, µV
    peak_x_rest       REAL,                       -- peak as a multiple of the resting level
    mean_x_rest       REAL,
    confidence        REAL,                       -- 0..1
    channels          TEXT NOT NULL DEFAULT '[]', -- JSON list of channel labels
    reason            TEXT NOT NULL DEFAULT '',
    context_json      TEXT NOT NULL DEFAULT '{}',
    superseded        INTEGER NOT NULL DEFAULT 0, -- 1: replaced by a newer detector version
    created_utc       TEXT NOT NULL,
    UNIQUE (night_id, detector_version, kind, leg, start_ms)
);
INSERT INTO events_v4 (event_id, night_id, detector_version, kind, subtype, leg, start_s,
    end_s, start_ms, start_utc, end_utc, peak_uv, mean_uv, peak_x_rest, mean_x_rest,
    confidence, channels, reason, context_json, superseded, created_utc)
SELECT event_id, night_id, detector_version, kind, subtype,
    CASE WHEN json_valid(context_json)
          AND json_extract(context_json, '$.side') IN ('left', 'right', 'both')
         THEN json_extract(context_json, '$.side') ELSE '' END,
    start_s, end_s, start_ms, start_utc, end_utc, peak_uv, mean_uv, peak_x_rest,
    mean_x_rest, confidence, channels, reason, context_json, superseded, created_utc
FROM events;
DROP TABLE events;
ALTER TABLE events_v4 RENAME TO events;
CREATE INDEX events_by_night ON events(night_id, superseded, start_s);
CREATE VIEW current_events AS
    SELECT e.* FROM events e JOIN nights n USING (night_id)
    WHERE e.superseded = 0 AND e.detector_version = n.detector_version;
CREATE TABLE gaps_v4 (
    night_id          TEXT NOT NULL REFERENCES nights(night_id) ON DELETE CASCADE,
    leg               TEXT NOT NULL DEFAULT ''    -- one leg's sensor only; '' every channel
                      CHECK (leg IN ('', 'left', 'right')),
    start_s           REAL NOT NULL,
    end_s             REAL NOT NULL,
    reason            TEXT NOT NULL DEFAULT 'unknown',
    PRIMARY KEY (night_id, leg, start_s)
) WITHOUT ROWID;
INSERT INTO gaps_v4 (night_id, leg, start_s, end_s, reason)
SELECT night_id,
    CASE WHEN reason LIKE '% (left leg only)' THEN 'left'
         WHEN reason LIKE '% (right leg only)' THEN 'right' ELSE '' END,
    start_s, end_s, reason
FROM gaps;
DROP TABLE gaps;
ALTER TABLE gaps_v4 RENAME TO gaps;
"""

#: ``MIGRATIONS[v]`` upgrades a version-``v`` file to ``v + 1``.
MIGRATIONS: dict[int, str] = {0: SCHEMA_V1, 1: MIGRATION_V2, 2: MIGRATION_V3, 3: MIGRATION_V4}

EVENING_FIELDS = (
    "water_l",
    "stretch",
    "exercise",
    "long_sitting",
    "long_standing",
    "crossed_legs",
    "hard_floor",
    "tired",
    "supplement",
    "notes",
)


# ----------------------------------------------------------------------------- helpers


def parse_utc(s: str | None) -> datetime | None:
    if not s:
        return None
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _now() -> str:
    return utc_iso(datetime.now(UTC)) or ""


def _num(x: Any) -> float | None:
    """A float for SQLite, NaN/inf/None -> NULL."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _dumps(o: Any) -> str:
    return jsonout.dumps(o, sort_keys=True)


def _loads(text: str | None, path: Path, where: str, default: str = "{}") -> Any:
    """JSON of one stored cell; a damaged cell is a one-line error naming its row."""
    try:
        return json.loads(text or default)
    except (TypeError, ValueError) as e:
        raise UserError(
            f"{path}: {where} is not valid JSON ({e}) -- the row is damaged; fix or delete "
            "it with the sqlite3 shell (see docs/CRAMPLOG.md)"
        ) from None


_SQLITE_MAGIC = b"SQLite format 3\x00"


def expected_schema(version: int = SCHEMA_VERSION) -> dict[str, set[str]]:
    """Tables and views (name -> column names) a log of schema ``version`` holds."""
    mem = sqlite3.connect(":memory:")
    try:
        for v in range(version):
            for stmt in _split_sql(MIGRATIONS[v]):
                if stmt.strip():
                    mem.execute(stmt)
        return _schema_of(mem)
    finally:
        mem.close()


def _schema_of(conn: sqlite3.Connection) -> dict[str, set[str]]:
    names = [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return {n: {str(r[1]) for r in conn.execute(f'PRAGMA table_info("{n}")')} for n in names}


def _recognise(p: Path, conn: sqlite3.Connection) -> bool:
    """Whether ``conn`` (just opened, nothing changed) is a cramp log (``True``) or an
    empty file to make one in (``False``); ``UserError`` for anything else.

    A log is a file with the log's ``application_id``, or (files from before it was set)
    application id 0, a ``user_version`` 1..SCHEMA_VERSION and the log's ``nights``
    table.  Only reads: a foreign file is left exactly as it was.
    """
    app = int(conn.execute("PRAGMA application_id").fetchone()[0])
    ver = int(conn.execute("PRAGMA user_version").fetchone()[0])
    have = _schema_of(conn)
    nights_cols = {"night_id", "detector_version", "layout_json", "stats_json", "status"}
    if app == APPLICATION_ID:
        return True
    refuse = (
        f"{p}: not a cramp log (application_id {app:#x}, user_version {ver}, tables: "
        f"{', '.join(sorted(have)) or 'none'}); nightcramp leaves it untouched -- choose "
        "another file with --db"
    )
    if app != 0:
        raise UserError(refuse)
    if ver > SCHEMA_VERSION and (not have or "nights" in have):
        return True  # refused by the version check with an "upgrade" message
    if ver == 0 and not have:
        return False
    if 1 <= ver <= SCHEMA_VERSION and nights_cols <= have.get("nights", set()):
        return True
    raise UserError(refuse)


def layout_json(layout: StreamLayout) -> str:
    return _dumps(asdict(layout))


def gap_reason(g: Gap) -> str:
    """The stored reason of a gap: ``link (right leg only)`` for one leg's sensor."""
    return f"{g.reason} ({g.side} leg only)" if g.side else g.reason


def _leg(side: str | None) -> str:
    """The ``leg`` column's value of a detected event's side (``''``: not known)."""
    return side if side in ("left", "right", "both") else ""


def night_date(start_utc: datetime | None) -> str | None:
    """The evening a night belongs to: local start time minus 12 h, as YYYY-MM-DD.

    A night starting 23:10 on the 25th and one starting 00:40 on the 26th both belong to
    the evening of the 25th.
    """
    if start_utc is None:
        return None
    return (start_utc.astimezone() - timedelta(hours=12)).date().isoformat()


def _check_scale(name: str, v: int | None) -> None:
    if v is not None and not (SCALE_MIN <= v <= SCALE_MAX):
        raise UserError(
            f"{name} {v} is out of range; give a whole number from {SCALE_MIN} (none) "
            f"to {SCALE_MAX} (worst)"
        )


def _check_choice(name: str, v: str | None, choices: tuple[str, ...]) -> None:
    if v is not None and v not in choices:
        raise UserError(f"{name} {v!r} is not known; use one of: {', '.join(choices)}")


def normalise_eased_by(v: str | list[str] | tuple[str, ...] | None) -> str | None:
    """``"stretch, walking"`` -> ``"stretch-foot-up,walking"``; ``stretch`` is short for
    ``stretch-foot-up`` (pulling the foot up, the stretch the seed text recommends)."""
    if v is None:
        return None
    items = v.split(",") if isinstance(v, str) else list(v)
    out: list[str] = []
    for raw in items:
        s = raw.strip().lower()
        if not s:
            continue
        if s in ("stretch", "stretching", "foot-up"):
            s = "stretch-foot-up"
        elif s in ("walk",):
            s = "walking"
        elif s in ("shake",):
            s = "shaking"
        _check_choice("eased-by", s, EASED_BY)
        if s not in out:
            out.append(s)
    return ",".join(out) if out else None


def _best_match(
    start_s: float, end_s: float, kind: str, candidates: list[sqlite3.Row], leg: str = ""
) -> sqlite3.Row | None:
    """The candidate event overlapping [start_s, end_s] longest (ties: same kind, then
    nearest onset).  Zero-length events count as overlapping when they fall inside.  An
    event of one leg never matches one of the other leg (``''``, unknown, and ``both``
    match either)."""
    best: tuple[float, int, float] | None = None
    best_row = None
    for c in candidates:
        other = c["leg"]
        if leg in ("left", "right") and other in ("left", "right") and other != leg:
            continue
        ov = min(end_s, c["end_s"]) - max(start_s, c["start_s"])
        if ov < 0 or (ov == 0 and not (start_s <= c["start_s"] <= end_s)):
            continue
        key = (ov, 1 if c["kind"] == kind else 0, -abs(c["start_s"] - start_s))
        if best is None or key > best:
            best, best_row = key, c
    return best_row


# ----------------------------------------------------------------------------- the log


BUSY_WAIT_S = 10.0
"""How long opening the cramp log waits for other openers holding it locked, s."""


class _Busy(Exception):
    """The file was locked by another connection: try the open again."""


def _is_busy(e: BaseException) -> bool:
    msg = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


class CrampLog:
    """The cramp log over one SQLite file.  Thread-safe (one connection, one lock)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()
        self.journal_mode = ""

    # -- opening --------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> CrampLog:
        """Open (creating and migrating as needed) the log at ``paths.db_path(path)``.

        Several openers at once (the recorder and a ``cramp log`` command on a fresh
        file) wait for each other: SQLite answers "locked" at once, without its busy
        handler, when a reader would have to upgrade past a writer, so the whole open
        is retried for up to :data:`BUSY_WAIT_S`."""
        p = paths.db_path(path)
        deadline = time.monotonic() + BUSY_WAIT_S
        while True:
            try:
                return cls._open_once(p)
            except _Busy:
                if time.monotonic() > deadline:
                    raise UserError(
                        f"{p}: the cramp log is busy: another program has held it locked "
                        f"for over {BUSY_WAIT_S:.0f} s -- close it (another cramp command?) "
                        "and try again"
                    ) from None
                time.sleep(0.05)

    @classmethod
    def _open_once(cls, p: Path) -> CrampLog:
        parent = p.parent
        if p.exists() and not p.is_file():
            raise UserError(
                f"{p}: not a cramp log (not a regular file); nightcramp leaves it untouched "
                "-- give the path of a file with --db"
            )
        if p.exists() and p.stat().st_size > 0:
            try:
                with open(p, "rb") as f:
                    magic = f.read(16)
            except OSError as e:
                raise UserError(f"{p}: cannot read the cramp log ({e.strerror})") from None
            if magic != _SQLITE_MAGIC:
                raise UserError(
                    f"{p}: not a cramp log (not an SQLite file); nightcramp leaves it "
                    "untouched -- move the file away or choose another with --db"
                )
            try:
                probe = sqlite3.connect(p, timeout=5.0, isolation_level=None)
                try:
                    probe.execute("PRAGMA busy_timeout = 5000")
                    # one read transaction: the id, the version and the tables from one
                    # snapshot, not from either side of another opener's migration step
                    probe.execute("BEGIN")
                    try:
                        _recognise(p, probe)
                    finally:
                        probe.execute("ROLLBACK")
                finally:
                    probe.close()
            except sqlite3.DatabaseError as e:
                if _is_busy(e):
                    raise _Busy from e
                raise UserError(
                    f"{p}: not a cramp log ({e}); move the file away or choose another with --db"
                ) from None
        try:
            if not parent.exists():
                files.make_private_dir(parent)
            elif parent.resolve() == paths.data_home().resolve():
                os.chmod(parent, files.DIR_MODE)
            if not p.exists():
                fd = os.open(p, os.O_WRONLY | os.O_CREAT, files.FILE_MODE)
                os.close(fd)
            os.chmod(p, files.FILE_MODE)
        except OSError as e:
            raise UserError(
                f"{p}: cannot create the cramp log ({e.strerror}); pick a writable place "
                f"with --db or the {paths.ENV_DB} environment variable"
            ) from e
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(p, isolation_level=None, check_same_thread=False, timeout=5.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as e:
            if conn is not None:
                conn.close()
            if _is_busy(e):
                raise _Busy from e
            raise UserError(
                f"{p}: not a cramp log ({e}); move the file away or choose another with --db"
            ) from e
        log = cls(conn, p)
        try:
            log._migrate()
            log._check_schema()
        except BaseException as e:
            conn.close()
            if _is_busy(e):
                raise _Busy from e
            raise
        log._tighten_companions()
        log.journal_mode = str(mode).lower()
        return log

    def _check_schema(self) -> None:
        """Every table, view and column of the current schema is there (else: damaged)."""
        have = _schema_of(self._conn)
        for name, cols in expected_schema().items():
            if name not in have:
                raise UserError(
                    f"{self.path}: the cramp log is damaged: {name!r} is missing -- restore "
                    "the file from a backup, or move it away and start a new log with --db"
                )
            missing = sorted(cols - have[name])
            if missing:
                raise UserError(
                    f"{self.path}: the cramp log is damaged: {name!r} lacks column(s) "
                    f"{', '.join(missing)} -- restore the file from a backup, or move it "
                    "away and start a new log with --db"
                )

    def _tighten_companions(self) -> None:
        for suffix in ("-wal", "-shm", "-journal"):
            c = Path(str(self.path) + suffix)
            if c.exists():
                try:
                    os.chmod(c, files.FILE_MODE)
                except OSError:
                    pass

    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version
            if version > SCHEMA_VERSION:
                raise UserError(
                    f"{self.path}: schema version {version} is newer than this nightcramp "
                    f"understands ({SCHEMA_VERSION}); upgrade nightcramp"
                )
            if version == SCHEMA_VERSION:
                return
            # A step that rebuilds a table drops the old one: with foreign keys on, that
            # would delete the annotations hanging off its rows.  Off for the upgrade
            # (it cannot change inside a transaction), checked before each commit.
            self._conn.execute("PRAGMA foreign_keys = OFF")
            try:
                self._upgrade(version)
            finally:
                self._conn.execute("PRAGMA foreign_keys = ON")

    def _upgrade(self, version: int) -> None:
        while version < SCHEMA_VERSION:
            # executescript would commit first; run the statements in one explicit
            # transaction so a failed step leaves the file at the old version.  The
            # version is read again under the write lock: another process opening
            # the same fresh file may have migrated it meanwhile.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                version = self.schema_version
                if version < SCHEMA_VERSION:
                    before = len(self._conn.execute("PRAGMA foreign_key_check").fetchall())
                    for stmt in _split_sql(MIGRATIONS[version]):
                        if stmt.strip():
                            self._conn.execute(stmt)
                    bad = self._conn.execute("PRAGMA foreign_key_check").fetchall()
                    if len(bad) > before:  # the step itself broke a reference
                        raise sqlite3.DatabaseError(
                            f"a {bad[0][0]} row would refer to a missing {bad[0][2]} row"
                        )
                    self._conn.execute(f"PRAGMA user_version = {version + 1}")
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as e:
                self._conn.execute("ROLLBACK")
                raise UserError(
                    f"{self.path}: cannot upgrade the cramp log from schema version "
                    f"{version} ({e}); the file is left at version {version} -- it may "
                    "be damaged: restore it from a backup or start a new log with --db"
                ) from None
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            version = self.schema_version

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> CrampLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _q(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, params).fetchall()]

    # -- ingestion ------------------------------------------------------------------

    def begin_night(
        self,
        night_id: str,
        *,
        source: str,
        layout: StreamLayout,
        start_utc: datetime | None,
        detector_version: str,
        device: str = "",
    ) -> None:
        """Create the night (status ``recording``) or reopen it (a restart, a replay).

        A different ``detector_version`` from the night's current one starts a
        re-detection: its events stay hidden until :meth:`end_night` supersedes the old.
        """
        if not night_id:
            raise UserError("a night needs a non-empty id (the recording id)")
        now = _now()
        device = device or layout.extra.get("device", "") or layout.extra.get("address", "")
        start = utc_iso(start_utc or layout.start_utc)
        with self._tx() as c:
            row = c.execute(
                "SELECT detector_version FROM nights WHERE night_id = ?", (night_id,)
            ).fetchone()
            if row is None:
                c.execute(
                    "INSERT INTO nights (night_id, source, device, start_utc, detector_version,"
                    " layout_json, status, created_utc, updated_utc)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'recording', ?, ?)",
                    (
                        night_id,
                        source,
                        device,
                        start,
                        detector_version,
                        layout_json(layout),
                        now,
                        now,
                    ),
                )
            elif row["detector_version"] in ("", detector_version):
                c.execute(
                    "UPDATE nights SET source = ?, device = COALESCE(NULLIF(?, ''), device),"
                    " start_utc = COALESCE(start_utc, ?), detector_version = ?,"
                    " pending_version = NULL, layout_json = ?, status = 'recording',"
                    " updated_utc = ? WHERE night_id = ?",
                    (source, device, start, detector_version, layout_json(layout), now, night_id),
                )
            else:
                c.execute(
                    "UPDATE nights SET pending_version = ?, start_utc = COALESCE(start_utc, ?),"
                    " updated_utc = ? WHERE night_id = ?",
                    (detector_version, start, now, night_id),
                )

    def _ingest_version(self, c: sqlite3.Connection, night_id: str) -> str:
        row = c.execute(
            "SELECT detector_version, pending_version FROM nights WHERE night_id = ?",
            (night_id,),
        ).fetchone()
        if row is None:
            raise UserError(
                f"cramp log {self.path}: night {night_id!r} was not begun; call "
                "begin_night() before add_event()"
            )
        return str(row["pending_version"] or row["detector_version"])

    def _upsert_event(
        self,
        c: sqlite3.Connection,
        night_id: str,
        version: str,
        ev: Event,
        start_utc: datetime | None,
        end_utc: datetime | None,
    ) -> int:
        now = _now()
        # the leg: the event's own (a two-leg night), else the night's one sensor's
        leg = ev.side or self._night_leg(c, night_id)
        context = ev.record_context()
        if leg:
            context["side"] = leg
        params = (
            night_id, version, ev.kind, ev.subtype, _leg(leg), float(ev.start_s), float(ev.end_s),
            int(round(ev.start_s * 1000)), utc_iso(start_utc), utc_iso(end_utc),
            _num(ev.peak_uv), _num(ev.mean_uv), _num(ev.peak_x_rest), _num(ev.mean_x_rest),
            _num(ev.confidence), _dumps(list(ev.channels)), ev.reason, _dumps(context),
            now,
        )  # fmt: skip
        row = c.execute(
            "INSERT INTO events (night_id, detector_version, kind, subtype, leg, start_s,"
            " end_s, start_ms, start_utc, end_utc, peak_uv, mean_uv, peak_x_rest, mean_x_rest,"
            " confidence, channels, reason, context_json, created_utc)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (night_id, detector_version, kind, leg, start_ms) DO UPDATE SET"
            " subtype = excluded.subtype, end_s = excluded.end_s,"
            " start_utc = COALESCE(excluded.start_utc, start_utc),"
            " end_utc = COALESCE(excluded.end_utc, end_utc),"
            " peak_uv = excluded.peak_uv, mean_uv = excluded.mean_uv,"
            " peak_x_rest = excluded.peak_x_rest, mean_x_rest = excluded.mean_x_rest,"
            " confidence = excluded.confidence, channels = excluded.channels,"
            " reason = excluded.reason, context_json = CASE"  # keep when the notice went out
            "  WHEN json_extract(context_json, '$.provisional') = 1"
            "   AND json_extract(excluded.context_json, '$.provisional') IS NULL"
            "   THEN json_set(excluded.context_json, '$.noticed_s', ROUND(end_s, 3))"
            "  WHEN json_extract(context_json, '$.noticed_s') IS NULL THEN excluded.context_json"
            "  ELSE json_set(excluded.context_json, '$.noticed_s',"
            "   json_extract(context_json, '$.noticed_s')) END"
            " RETURNING event_id",
            params,
        ).fetchone()
        return int(row[0])

    def add_event(
        self,
        night_id: str,
        event: Event,
        start_utc: datetime | None = None,
        end_utc: datetime | None = None,
    ) -> int:
        """Store one detected event in its own transaction; returns its ``event_id``.

        Idempotent: the same event again (same night, version, kind and onset to the
        millisecond) updates the stored row and returns the same id.  Wall-clock times
        default to the night's start + timeline seconds.
        """
        if event.notice == "retracted":
            return self.retract_event(night_id, event)
        with self._tx() as c:
            version = self._ingest_version(c, night_id)
            if start_utc is None or end_utc is None:
                t0 = self._night_start(c, night_id)
                if t0 is not None:
                    start_utc = start_utc or t0 + timedelta(seconds=event.start_s)
                    end_utc = end_utc or t0 + timedelta(seconds=event.end_s)
            new_id = self._upsert_event(c, night_id, version, event, start_utc, end_utc)
            prov = event.replaces_start_s
            if prov is not None:
                leg = _leg(event.side or self._night_leg(c, night_id))
                self._drop_provisional(c, night_id, version, leg, float(prov), move_to=new_id)
            return new_id

    def retract_event(self, night_id: str, event: Event) -> int:
        """Delete the provisional cramp row of ``event`` (same night, version and onset);
        returns the deleted row's ``event_id``, or -1 if there was none.  A final
        (non-provisional) row at that onset is never deleted."""
        with self._tx() as c:
            version = self._ingest_version(c, night_id)
            leg = _leg(event.side or self._night_leg(c, night_id))
            return self._drop_provisional(c, night_id, version, leg, float(event.start_s))

    @staticmethod
    def _drop_provisional(
        c: sqlite3.Connection,
        night_id: str,
        version: str,
        leg: str,
        start_s: float,
        move_to: int | None = None,
    ) -> int:
        row = c.execute(
            "SELECT event_id, end_s FROM events WHERE night_id = ? AND detector_version = ?"
            " AND kind = 'cramp' AND leg = ? AND start_ms = ?"
            " AND json_extract(context_json, '$.provisional') = 1",
            (night_id, version, leg, int(round(start_s * 1000))),
        ).fetchone()
        if row is None:
            return -1
        old = int(row[0])
        if move_to is not None and move_to != old:
            c.execute(
                "UPDATE annotations SET event_id = ? WHERE event_id = ? AND NOT EXISTS"
                " (SELECT 1 FROM annotations WHERE event_id = ?)",
                (move_to, old, move_to),
            )
            # keep when the early notice went out (the provisional's end: noticed at)
            c.execute(
                "UPDATE events SET context_json = json_set(context_json, '$.noticed_s', ?)"
                " WHERE event_id = ?",
                (round(float(row[1]), 3), move_to),
            )
        c.execute("DELETE FROM events WHERE event_id = ?", (old,))
        return old

    @staticmethod
    def _night_leg(c: sqlite3.Connection, night_id: str) -> str | None:
        """``left`` / ``right`` when the night's layout is one sensor on a known leg."""
        row = c.execute(
            "SELECT json_extract(layout_json, '$.side') FROM nights WHERE night_id = ?",
            (night_id,),
        ).fetchone()
        side = row[0] if row else None
        return side if side in ("left", "right") else None

    def _night_start(self, c: sqlite3.Connection, night_id: str) -> datetime | None:
        row = c.execute("SELECT start_utc FROM nights WHERE night_id = ?", (night_id,)).fetchone()
        return parse_utc(row["start_utc"]) if row else None

    def event_sink(
        self, night_id: str, wall_time: Callable[[float], datetime | None] | None = None
    ) -> Callable[[Event], None]:
        """A callback for :class:`detector.pipeline.Pipeline`: logs each event as it closes
        (provisional cramps, their final events and retractions too: see :meth:`add_event`)."""

        def sink(ev: Event) -> None:
            s = wall_time(ev.start_s) if wall_time else None
            e = wall_time(ev.end_s) if wall_time else None
            self.add_event(night_id, ev, s, e)

        return sink

    def end_night(
        self,
        night_id: str,
        result: NightResult,
        wall_time: Callable[[float], datetime | None] | None = None,
    ) -> None:
        """Store everything the summary needs and mark the night ``complete``.

        Upserts every event of ``result`` (so events the sink never saw are logged too),
        stores the trace, epochs, gaps and stats.  If ``result.detector_version`` differs
        from the night's current version, the old machine-made events are superseded and
        the user's annotations move to the best-overlapping new events.
        """
        with self._tx() as c:
            row = c.execute(
                "SELECT detector_version, pending_version, start_utc FROM nights"
                " WHERE night_id = ?",
                (night_id,),
            ).fetchone()
            if row is None:
                raise UserError(
                    f"cramp log {self.path}: night {night_id!r} was not begun; call "
                    "begin_night() before end_night()"
                )
            version = result.detector_version or row["pending_version"] or row["detector_version"]
            t0 = parse_utc(row["start_utc"]) or result.layout.start_utc

            def wt(t: float) -> datetime | None:
                if wall_time is not None:
                    return wall_time(t)
                return t0 + timedelta(seconds=t) if t0 is not None else None

            new_ids = [
                self._upsert_event(c, night_id, version, ev, wt(ev.start_s), wt(ev.end_s))
                for ev in result.events
            ]
            # provisional cramp notices whose final event never reached the log (the
            # final events above replaced the others): the finished night has no use
            c.execute(
                "DELETE FROM events WHERE night_id = ? AND detector_version = ?"
                " AND json_extract(context_json, '$.provisional') = 1",
                (night_id, version),
            )
            replacing = bool(row["detector_version"]) and version != row["detector_version"]
            if replacing:
                self._supersede(c, night_id, version, new_ids)
            self._store_series(c, night_id, result, replace=replacing)
            end = wt(result.duration_s)
            old_stats = (
                {}
                if replacing
                else _loads(
                    c.execute(
                        "SELECT stats_json FROM nights WHERE night_id = ?", (night_id,)
                    ).fetchone()[0],
                    self.path,
                    f"nights row {night_id!r}: stats_json",
                )
            )
            stats = {**old_stats, **result.stats}
            c.execute(
                "UPDATE nights SET detector_version = ?, pending_version = NULL,"
                " status = 'complete', end_utc = COALESCE(?, end_utc),"
                " duration_s = MAX(COALESCE(duration_s, 0), ?), stats_json = ?,"
                " start_utc = COALESCE(start_utc, ?), updated_utc = ? WHERE night_id = ?",
                (
                    version,
                    utc_iso(end),
                    float(result.duration_s),
                    _dumps(stats),
                    utc_iso(t0),
                    _now(),
                    night_id,
                ),
            )

    def unfinished_nights(self) -> list[str]:
        """Nights still ``recording`` that a recorder began (not a replay), oldest first."""
        rows = self._q(
            "SELECT night_id FROM nights WHERE status = 'recording'"
            " AND source NOT LIKE 'replay:%' ORDER BY created_utc"
        )
        return [str(r["night_id"]) for r in rows]

    def mark_interrupted(
        self, night_id: str, last_data_utc: datetime | None, *, close: bool = False
    ) -> None:
        """Record that ``night_id``'s recorder stopped without finishing it (see
        :mod:`nightcramp.heal`): ``interrupted_utc`` is the time of its last data.
        ``close``: also mark it ``complete`` (a recording with nothing to detect in)."""
        with self._tx() as c:
            c.execute(
                "UPDATE nights SET interrupted_utc = COALESCE(?, end_utc, start_utc),"
                " status = CASE WHEN ? THEN 'complete' ELSE status END,"
                " updated_utc = ? WHERE night_id = ?",
                (utc_iso(last_data_utc), int(close), _now(), night_id),
            )

    def _supersede(
        self, c: sqlite3.Connection, night_id: str, version: str, new_ids: list[int]
    ) -> None:
        new_rows = c.execute(
            "SELECT event_id, kind, leg, start_s, end_s FROM events"
            " WHERE night_id = ? AND detector_version = ?",
            (night_id, version),
        ).fetchall()
        anns = c.execute(
            "SELECT a.annotation_id, e.kind, e.leg, e.start_s, e.end_s FROM annotations a"
            " JOIN events e USING (event_id)"
            " WHERE e.night_id = ? AND e.detector_version != ?",
            (night_id, version),
        ).fetchall()
        now = _now()
        for a in anns:
            m = _best_match(a["start_s"], a["end_s"], a["kind"], new_rows, a["leg"])
            if m is None:
                c.execute(
                    "UPDATE annotations SET orphaned = 1, updated_utc = ? WHERE annotation_id = ?",
                    (now, a["annotation_id"]),
                )
            else:
                c.execute(
                    "UPDATE annotations SET event_id = ?, orphaned = 0, updated_utc = ?"
                    " WHERE annotation_id = ?",
                    (m["event_id"], now, a["annotation_id"]),
                )
        c.execute(
            "UPDATE events SET superseded = 1 WHERE night_id = ? AND detector_version != ?",
            (night_id, version),
        )
        c.execute(
            "UPDATE events SET superseded = 0 WHERE night_id = ? AND detector_version = ?",
            (night_id, version),
        )

    def _store_series(
        self, c: sqlite3.Connection, night_id: str, result: NightResult, *, replace: bool
    ) -> None:
        if replace:
            for table in ("night_trace", "night_epochs", "gaps"):
                c.execute(f"DELETE FROM {table} WHERE night_id = ?", (night_id,))
        tr = result.trace
        if tr is not None and len(tr):
            cols = {k: (tr[k] if k in tr else None) for k in
                    ("t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture")}  # fmt: skip
            n = len(tr)

            def col(k: str) -> list[Any]:
                v = cols[k]
                return [None] * n if v is None else v.tolist()

            rows = zip(
                col("t_s"), col("emg_rms_uv"), col("rest_uv"), col("activity_g"),
                col("posture"), strict=True,
            )  # fmt: skip
            c.executemany(
                "INSERT OR REPLACE INTO night_trace VALUES (?, ?, ?, ?, ?, ?)",
                [(night_id, float(t), _num(e), _num(r), _num(a),
                  p if isinstance(p, str) else None) for t, e, r, a, p in rows],
            )  # fmt: skip
        ep = result.epochs
        if ep is not None and len(ep):
            n = len(ep)
            states = ep["state"].tolist() if "state" in ep else [None] * n
            postures = ep["posture"].tolist() if "posture" in ep else [None] * n
            acts = ep["activity"].tolist() if "activity" in ep else [None] * n
            c.executemany(
                "INSERT OR REPLACE INTO night_epochs VALUES (?, ?, ?, ?, ?)",
                [(night_id, float(t), s if isinstance(s, str) else None,
                  p if isinstance(p, str) else None, _num(a))
                 for t, s, p, a in zip(ep["t_s"].tolist(), states, postures, acts,
                                       strict=True)],
            )  # fmt: skip
        c.executemany(
            "INSERT OR REPLACE INTO gaps (night_id, leg, start_s, end_s, reason)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (night_id, _leg(g.side), float(g.start_s), float(g.end_s), gap_reason(g))
                for g in result.gaps
            ],  # fmt: skip
        )

    def delete_night(self, night_id: str) -> None:
        """Remove a night and everything hanging off it (events, annotations, trace)."""
        with self._tx() as c:
            c.execute("DELETE FROM nights WHERE night_id = ?", (night_id,))

    # -- reading --------------------------------------------------------------------

    def nights(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Nights, newest first, with counts of current cramps / PLMs / events."""
        sql = (
            "SELECT n.night_id, n.source, n.device, n.start_utc, n.end_utc, n.duration_s,"
            " n.detector_version, n.status,"
            " (SELECT COUNT(*) FROM events e WHERE e.night_id = n.night_id AND"
            "  e.detector_version = n.detector_version AND e.superseded = 0"
            "  AND e.kind = 'cramp') AS cramps,"
            " (SELECT COUNT(*) FROM events e WHERE e.night_id = n.night_id AND"
            "  e.detector_version = n.detector_version AND e.superseded = 0"
            "  AND e.kind = 'plm' AND COALESCE(e.subtype, '') <> 'wake') AS plms,"
            " (SELECT COUNT(*) FROM events e WHERE e.night_id = n.night_id AND"
            "  e.detector_version = n.detector_version AND e.superseded = 0) AS events"
            " FROM nights n ORDER BY COALESCE(n.start_utc, n.created_utc) DESC, n.night_id DESC"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._q(sql)

    def night(self, night_id: str) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM nights WHERE night_id = ?", (night_id,))
        if not rows:
            return None
        r = rows[0]
        where = f"nights row {r.get('night_id')!r}"
        r["layout"] = _loads(r.pop("layout_json"), self.path, f"{where}: layout_json")
        r["stats"] = _loads(r.pop("stats_json"), self.path, f"{where}: stats_json")
        return r

    def require_night(self, night_id: str) -> dict[str, Any]:
        n = self.night(night_id)
        if n is None:
            known = [r["night_id"] for r in self.nights(limit=5)]
            hint = f"known nights: {', '.join(known)}" if known else "the log has no nights yet"
            raise UserError(
                f"cramp log {self.path}: no night {night_id!r}; {hint} (see `cramp log nights`)"
            )
        return n

    def latest_night_id(self) -> str | None:
        rows = self.nights(limit=1)
        return rows[0]["night_id"] if rows else None

    _EVENT_SELECT = (
        "SELECT e.*, a.annotation_id, a.verdict, a.pain, a.muscle, a.side, a.eased_by,"
        " a.soreness, a.notes, a.orphaned FROM events e"
        " JOIN nights n ON n.night_id = e.night_id"
        " LEFT JOIN annotations a ON a.annotation_id = ("
        "   SELECT MAX(annotation_id) FROM annotations x WHERE x.event_id = e.event_id)"
    )

    def _event_row(self, r: dict[str, Any]) -> dict[str, Any]:
        where = f"events row event_id={r.get('event_id')}"
        r["channels"] = _loads(r.get("channels"), self.path, f"{where}: channels", "[]")
        r["context"] = _loads(r.pop("context_json", None), self.path, f"{where}: context_json")
        # the detected leg (``side`` is the user's annotation: the leg they felt)
        r["leg"] = r.get("leg") or None
        r["duration_s"] = round(r["end_s"] - r["start_s"], 3)
        r["superseded"] = bool(r["superseded"])
        r["orphaned"] = bool(r.get("orphaned") or 0)
        return r

    def events(
        self,
        night_id: str | None = None,
        kind: str | None = None,
        *,
        include_superseded: bool = False,
    ) -> list[dict[str, Any]]:
        """Events (with their latest annotation's fields), in time order.

        By default only each night's current detector version, not superseded.
        """
        where, params = [], []
        if not include_superseded:
            where.append("e.superseded = 0 AND e.detector_version = n.detector_version")
        if night_id is not None:
            where.append("e.night_id = ?")
            params.append(night_id)
        if kind is not None:
            _check_choice("kind", kind, KINDS)
            where.append("e.kind = ?")
            params.append(kind)
        sql = self._EVENT_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY COALESCE(n.start_utc, n.created_utc), e.night_id, e.start_s, e.event_id"
        return [self._event_row(r) for r in self._q(sql, tuple(params))]

    def event(self, event_id: int) -> dict[str, Any]:
        rows = self._q(self._EVENT_SELECT + " WHERE e.event_id = ?", (int(event_id),))
        if not rows:
            raise UserError(
                f"cramp log {self.path}: no event with id {event_id}; "
                "list the ids with `cramp log list`"
            )
        r = self._event_row(rows[0])
        r["annotations"] = self._q(
            "SELECT * FROM annotations WHERE event_id = ? ORDER BY annotation_id", (event_id,)
        )
        if r["superseded"] or r["detector_version"] != self._current_version(r["night_id"]):
            with self._lock:
                cands = self._conn.execute(
                    "SELECT e.event_id, e.kind, e.leg, e.start_s, e.end_s FROM events e"
                    " JOIN nights n USING (night_id) WHERE e.night_id = ?"
                    " AND e.superseded = 0 AND e.detector_version = n.detector_version",
                    (r["night_id"],),
                ).fetchall()
            m = _best_match(r["start_s"], r["end_s"], r["kind"], cands, r["leg"] or "")
            r["replaced_by"] = int(m["event_id"]) if m is not None else None
        return r

    def _current_version(self, night_id: str) -> str:
        rows = self._q("SELECT detector_version FROM nights WHERE night_id = ?", (night_id,))
        return str(rows[0]["detector_version"]) if rows else ""

    def orphaned_annotations(self, night_id: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT a.*, e.night_id, e.kind, e.start_s, e.end_s, e.start_utc FROM annotations a"
            " JOIN events e USING (event_id) WHERE a.orphaned = 1"
        )
        params: tuple[Any, ...] = ()
        if night_id is not None:
            sql += " AND e.night_id = ?"
            params = (night_id,)
        return self._q(sql, params)

    def trace(self, night_id: str) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query(
                "SELECT t_s, emg_rms_uv, rest_uv, activity_g, posture FROM night_trace"
                " WHERE night_id = ? ORDER BY t_s",
                self._conn,
                params=(night_id,),
            )

    def epochs(self, night_id: str) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query(
                "SELECT t_s, state, posture, activity FROM night_epochs"
                " WHERE night_id = ? ORDER BY t_s",
                self._conn,
                params=(night_id,),
            )

    def gaps(self, night_id: str) -> list[dict[str, Any]]:
        """The night's gaps; ``leg`` names the one leg a gap is of (None: every channel)."""
        rows = self._q(
            "SELECT start_s, end_s, reason, leg, end_s - start_s AS duration_s FROM gaps"
            " WHERE night_id = ? ORDER BY start_s, leg",
            (night_id,),
        )
        for r in rows:
            r["leg"] = r["leg"] or None
        return rows

    # -- user annotations -----------------------------------------------------------

    def annotate(
        self,
        event_id: int,
        *,
        verdict: str | None = None,
        pain: int | None = None,
        muscle: str | None = None,
        side: str | None = None,
        eased_by: str | list[str] | None = None,
        soreness: int | None = None,
        notes: str | None = None,
    ) -> dict[str, Any]:
        """Set fields of the event's annotation (created on first use); ``None`` keeps."""
        _check_choice("verdict", verdict, VERDICTS)
        _check_scale("pain", pain)
        _check_scale("soreness", soreness)
        _check_choice("muscle", muscle, MUSCLES)
        _check_choice("side", side, SIDES)
        eased = normalise_eased_by(eased_by)
        self.event(event_id)  # raises UserError for an unknown id
        now = _now()
        fields = {
            "verdict": verdict, "pain": pain, "muscle": muscle, "side": side,
            "eased_by": eased, "soreness": soreness, "notes": notes,
        }  # fmt: skip
        given = {k: v for k, v in fields.items() if v is not None}
        with self._tx() as c:
            row = c.execute(
                "SELECT MAX(annotation_id) FROM annotations WHERE event_id = ?", (event_id,)
            ).fetchone()
            if row[0] is None:
                c.execute(
                    "INSERT INTO annotations (event_id, created_utc, updated_utc) VALUES (?, ?, ?)",
                    (event_id, now, now),
                )
                ann_id = c.execute("SELECT last_insert_rowid()").fetchone()[0]
            else:
                ann_id = row[0]
            if given:
                sets = ", ".join(f"{k} = ?" for k in given)
                c.execute(
                    f"UPDATE annotations SET {sets}, updated_utc = ? WHERE annotation_id = ?",
                    (*given.values(), now, ann_id),
                )
        return self.event(event_id)

    def confirm(self, event_id: int) -> dict[str, Any]:
        return self.annotate(event_id, verdict="confirmed")

    def reject(self, event_id: int) -> dict[str, Any]:
        return self.annotate(event_id, verdict="rejected")

    def add_manual_cramp(
        self,
        at_utc: datetime,
        *,
        duration_s: float | None = None,
        night_id: str | None = None,
        pain: int | None = None,
        muscle: str | None = None,
        side: str | None = None,
        eased_by: str | list[str] | None = None,
        soreness: int | None = None,
        notes: str = "",
    ) -> int:
        """Log a cramp the user felt but the sensor did not record; returns its id.

        Without ``night_id`` it is attached to the night whose span contains ``at_utc``.
        """
        _check_scale("pain", pain)
        _check_scale("soreness", soreness)
        _check_choice("muscle", muscle, MUSCLES)
        _check_choice("side", side, SIDES)
        if duration_s is not None and not (0 <= duration_s <= 3600):
            raise UserError(
                f"duration {duration_s} s is out of range; give 0 to 3600 s (e.g. --duration 90)"
            )
        eased = normalise_eased_by(eased_by)
        if night_id is not None:
            self.require_night(night_id)
        else:
            night_id = self.night_at(at_utc)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO manual_cramps (night_id, at_utc, duration_s, pain, muscle, side,"
                " eased_by, soreness, notes, created_utc) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (night_id, utc_iso(at_utc), duration_s, pain, muscle, side, eased, soreness,
                 notes or "", _now()),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def night_at(self, t: datetime) -> str | None:
        """The night whose recorded span (or, while recording, its start + 16 h) holds t."""
        iso = utc_iso(t)
        rows = self._q(
            "SELECT night_id FROM nights WHERE start_utc IS NOT NULL AND start_utc <= ?"
            " AND COALESCE(end_utc, strftime('%Y-%m-%dT%H:%M:%fZ', start_utc, '+16 hours'))"
            " >= ? ORDER BY start_utc DESC LIMIT 1",
            (iso, iso),
        )
        return rows[0]["night_id"] if rows else None

    def manual_cramps(self, night_id: str | None = None) -> list[dict[str, Any]]:
        if night_id is None:
            return self._q("SELECT * FROM manual_cramps ORDER BY at_utc")
        return self._q(
            "SELECT * FROM manual_cramps WHERE night_id = ? ORDER BY at_utc", (night_id,)
        )

    def set_evening(self, day: str | date, **fields: Any) -> dict[str, Any]:
        """Create or update the evening record of ``day`` (YYYY-MM-DD).

        Fields: water_l (litres, 0-10), stretch, exercise, long_sitting, long_standing,
        crossed_legs, hard_floor (bools), tired (0-10), supplement, notes (text).
        ``None`` keeps the stored value.
        """
        d = _parse_day(day)
        unknown = set(fields) - set(EVENING_FIELDS)
        if unknown:
            raise UserError(f"unknown evening field(s) {sorted(unknown)}; use {EVENING_FIELDS}")
        water = fields.get("water_l")
        # 10 L/day: far above any plausible intake (adult needs ~2-3 L/day, EFSA 2010);
        # a larger number is a typo (millilitres?).
        if water is not None and not (0 <= float(water) <= 10):
            raise UserError(
                f"water {water} L is out of range; give litres from 0 to 10 (e.g. --water 1.5)"
            )
        _check_scale("tired", fields.get("tired"))
        given = {}
        for k, v in fields.items():
            if v is None:
                continue
            given[k] = int(v) if isinstance(v, bool) else v
        now = _now()
        with self._tx() as c:
            c.execute(
                "INSERT INTO evenings (date, updated_utc) VALUES (?, ?)"
                " ON CONFLICT(date) DO NOTHING",
                (d, now),
            )
            if given:
                sets = ", ".join(f"{k} = ?" for k in given)
                c.execute(
                    f"UPDATE evenings SET {sets}, updated_utc = ? WHERE date = ?",
                    (*given.values(), now, d),
                )
        ev = self.evening(d)
        assert ev is not None
        return ev

    def evening(self, day: str | date) -> dict[str, Any] | None:
        rows = self._q("SELECT * FROM evenings WHERE date = ?", (_parse_day(day),))
        return rows[0] if rows else None

    def evenings(self, since: str | date | None = None) -> list[dict[str, Any]]:
        if since is None:
            return self._q("SELECT * FROM evenings ORDER BY date")
        return self._q("SELECT * FROM evenings WHERE date >= ? ORDER BY date", (_parse_day(since),))

    def precision(self, night_id: str | None = None, kind: str = "cramp") -> dict[str, Any]:
        """Detector precision against the user's verdicts on current ``kind`` events.

        precision = confirmed / (confirmed + rejected); ``None`` without verdicts.
        Felt-but-unrecorded cramps are the misses the user knows of.
        """
        evs = self.events(night_id, kind)
        conf = sum(1 for e in evs if e["verdict"] == "confirmed")
        rej = sum(1 for e in evs if e["verdict"] == "rejected")
        missed = len(self.manual_cramps(night_id)) if kind == "cramp" else 0
        return {
            "kind": kind,
            "detected": len(evs),
            "confirmed": conf,
            "rejected": rej,
            "unreviewed": len(evs) - conf - rej,
            "felt_not_detected": missed,
            "precision": (conf / (conf + rej)) if conf + rej else None,
        }


def _parse_day(day: str | date) -> str:
    if isinstance(day, date):
        return day.isoformat()
    try:
        return date.fromisoformat(str(day).strip()).isoformat()
    except ValueError as e:
        raise UserError(f"date {day!r} is not YYYY-MM-DD; give e.g. 2026-11-25") from e


def _split_sql(script: str) -> list[str]:
    """Split a DDL script on ``;`` at line ends (our scripts have no ``;`` inside text)."""
    out, cur = [], []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        cur.append(line)
        if stripped.endswith(";"):
            out.append("\n".join(cur).rstrip().rstrip(";"))
            cur = []
    if "".join(cur).strip():
        out.append("\n".join(cur))
    return out
