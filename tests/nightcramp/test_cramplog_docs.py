"""The SQL examples in docs/CRAMPLOG.md run against a filled log and give sane answers."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from hand_nights import fill_history, hand_night, ingest

from nightcramp.cramplog import CrampLog

DOC = Path(__file__).resolve().parents[2] / "docs" / "CRAMPLOG.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("doc") / "log.sqlite3"
    with CrampLog.open(path) as log:
        fill_history(log, nights=6)
        ingest(log, "tonight", hand_night(with_trace=False))
        c = log.events("tonight", "cramp")
        log.annotate(c[0]["event_id"], verdict="confirmed", eased_by="stretch")
        log.reject(c[1]["event_id"])
    return path


def test_doc_has_the_queries() -> None:
    assert len(QUERIES) >= 5


@pytest.mark.parametrize("i", range(len(QUERIES)))
def test_doc_query_runs(db: Path, i: int) -> None:
    # read-only, as the doc tells people to open it
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        rows = c.execute(QUERIES[i]).fetchall()
    assert rows, QUERIES[i]


def test_doc_precision_query_agrees_with_the_library(db: Path) -> None:
    q = next(q for q in QUERIES if "precision" in q)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        confirmed, rejected, precision = c.execute(q).fetchone()
    with CrampLog.open(db) as log:
        p = log.precision()
    assert (confirmed, rejected) == (p["confirmed"], p["rejected"]) == (1, 1)
    assert precision == pytest.approx(p["precision"])
