"""``cramp log ...`` and ``cramp summary`` through the CLI (CliRunner on the real group,
plus one real ``cramp`` subprocess)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hand_nights import hand_night, ingest

from nightcramp.cli import cli
from nightcramp.cramplog import CrampLog
from recordings.errors import UserError


def run(*args: str, ok: bool = True) -> Result:
    r = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    if ok:
        assert r.exit_code == 0, (r.output, r.exception)
    return r


@pytest.fixture
def db(isolated_home: Path) -> Path:
    with CrampLog.open() as log:
        ingest(log, "n1", hand_night(with_trace=False))
        return log.path


def _cramp_ids(db: Path) -> list[int]:
    with CrampLog.open(db) as log:
        return [e["event_id"] for e in log.events("n1", "cramp")]


def test_list_text_json_csv(db: Path) -> None:
    out = run("log", "list", "--kind", "cramp").output
    assert out.splitlines()[0].split()[:4] == ["id", "night", "time", "kind"]
    assert len(out.splitlines()) == 3  # header + two cramps
    rows = json.loads(run("log", "list", "--night", "n1", "--json").output)
    assert {r["kind"] for r in rows} == {"cramp", "plm", "movement", "artifact"}
    assert all(r["night_id"] == "n1" for r in rows)
    c = list(csv.DictReader(io.StringIO(run("log", "list", "--kind", "cramp", "--csv").output)))
    assert [float(r["duration_s"]) for r in c] == [95.0, 38.0]
    assert json.loads(c[0]["channels"]) == ["EMG1"]


def test_list_empty_and_db_option(tmp_path: Path, isolated_home: Path) -> None:
    other = tmp_path / "elsewhere.sqlite3"
    assert "No events" in run("log", "list", "--db", str(other)).output
    assert "No events" in run("log", "--db", str(other), "list").output
    assert json.loads(run("log", "list", "--db", str(other), "--json").output) == []
    assert run("log", "list", "--db", str(other), "--csv").output.startswith("event_id,")
    assert other.exists()


def test_show_confirm_reject_annotate(db: Path) -> None:
    a, b = _cramp_ids(db)
    out = run("log", "show", str(a)).output
    assert f"Event {a}: cramp" in out and "not reviewed" in out
    assert "confirmed" in run("log", "confirm", str(a)).output
    assert "rejected" in run("log", "reject", str(b)).output
    out = run("log", "annotate", str(a), "--pain", "7", "--muscle", "calf", "--side", "left",
              "--eased-by", "stretch", "--eased-by", "walking", "--soreness", "3",
              "--note", "woke me").output  # fmt: skip
    assert "pain 7" in out and "stretch-foot-up,walking" in out
    shown = json.loads(run("log", "show", str(a), "--json").output)
    assert shown["verdict"] == "confirmed" and shown["pain"] == 7 and shown["soreness"] == 3
    assert shown["notes"] == "woke me" and shown["side"] == "left"
    rows = json.loads(run("log", "list", "--kind", "cramp", "--json").output)
    assert [r["verdict"] for r in rows] == ["confirmed", "rejected"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("log", "show", "999999"), "no event with id 999999"),
        (("log", "confirm", "999999"), "no event with id 999999"),
        (("log", "annotate", "{a}", "--pain", "12"), "pain 12 is out of range"),
        (("log", "annotate", "{a}", "--muscle", "neck"), "muscle 'neck' is not known"),
        (("log", "annotate", "{a}", "--side", "middle"), "side 'middle'"),
        (("log", "annotate", "{a}", "--eased-by", "prayer"), "eased-by 'prayer'"),
        (("log", "list", "--kind", "cramps"), "kind 'cramps' is not known"),
        (("log", "list", "--night", "nope"), "no night 'nope'"),
        (("log", "add", "--at", "soon"), "time 'soon' is not understood"),
        (("log", "add", "--at", "03:00", "--duration", "long"), "duration 'long'"),
        (("log", "evening", "yesterday", "--water", "1"), "not YYYY-MM-DD"),
        (("log", "evening", "--water", "1500"), "water 1500.0 L is out of range"),
        (("log", "list", "--json", "--csv"), "exclude each other"),
        (("summary", "nope"), "no night 'nope'"),
        (("log", "confirm", "abc"), "event id 'abc' is not a whole number"),
        (("log", "annotate", "{a}", "--pain", "lots"), "pain 'lots' is not a whole number"),
        (("log", "evening", "--water", "much"), "water 'much' is not a number"),
    ],
)
def test_friendly_errors(db: Path, args: tuple[str, ...], message: str) -> None:
    a = _cramp_ids(db)[0]
    r = run(*(x.format(a=a) for x in args), ok=False)
    assert isinstance(r.exception, UserError), (r.output, r.exception)
    assert message in str(r.exception)
    assert "\n" not in str(r.exception)


def test_add_felt_cramp(db: Path) -> None:
    out = run("log", "add", "--at", "02:10", "--duration", "1:30", "--pain", "6",
              "--muscle", "calf", "--eased-by", "walking").output  # fmt: skip
    assert "night n1" in out
    rows = json.loads(run("log", "felt", "--json").output)
    assert len(rows) == 1
    r = rows[0]
    assert r["duration_s"] == 90 and r["pain"] == 6 and r["eased_by"] == "walking"
    # 02:10 local during the night that started 22:50 local the evening before
    with CrampLog.open(db) as log:
        start = log.night("n1")["start_utc"]
    from nightcramp.cramplog import parse_utc

    at = parse_utc(r["at_utc"])
    t0 = parse_utc(start)
    assert at is not None and t0 is not None
    assert timedelta(0) < at - t0 < timedelta(hours=12)
    assert at.astimezone().strftime("%H:%M") == "02:10"
    run("log", "add", "--at", "2026-11-01T04:00", "--night", "n1")
    assert len(list(csv.DictReader(io.StringIO(run("log", "felt", "--csv").output)))) == 2
    assert "02:10" in run("log", "felt").output


def test_evening_set_show_list(db: Path) -> None:
    out = run("log", "evening", "2026-11-24", "--water", "1.5", "--stretch", "--no-exercise",
              "--long-sitting", "--supplement", "magnesium", "--tired", "6").output  # fmt: skip
    assert "water 1.5 L" in out and "stretch" in out and "no exercise" in out
    assert "took magnesium" in out and "tired 6/10" in out
    run("log", "evening", "2026-11-24", "--no-stretch")
    shown = json.loads(run("log", "evening", "2026-11-24", "--json").output)
    assert shown["stretch"] == 0 and shown["water_l"] == 1.5 and shown["exercise"] == 0
    assert "No evening record" in run("log", "evening", "2026-01-01").output
    rows = json.loads(run("log", "evenings", "--json").output)
    assert [r["date"] for r in rows] == ["2026-11-24"]
    assert "2026-11-24" in run("log", "evenings").output
    assert run("log", "evenings", "--csv").output.startswith("date,")
    run("log", "evening", "--water", "2")  # default date: this evening
    assert len(json.loads(run("log", "evenings", "--json").output)) == 2


def test_nights_listing(db: Path) -> None:
    out = run("log", "nights").output
    assert "n1" in out and "complete" in out
    rows = json.loads(run("log", "nights", "--json").output)
    assert rows[0]["cramps"] == 2
    assert run("log", "nights", "--csv").output.startswith("night_id,")


def test_summary_command(db: Path, tmp_path: Path) -> None:
    out = run("summary").output
    assert "n1" in out and "Cramps     2" in out
    s = json.loads(run("summary", "n1", "--json").output)
    assert s["night"]["night_id"] == "n1" and len(s["cramps"]) == 2
    page = tmp_path / "out" / "night.html"
    page.parent.mkdir()  # the folder must exist, as for `cramp export`
    r = run("summary", "--html", str(page))
    assert "HTML summary written" in r.output
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'id="timeline"' in text
    assert "http://" not in text and "https://" not in text  # self-contained
    assert oct(page.stat().st_mode & 0o777) == "0o600"


def test_summary_empty_log(isolated_home: Path, tmp_path: Path) -> None:
    out = run("summary").output
    assert "empty" in out
    assert json.loads(run("summary", "--json").output)["night"] is None
    page = tmp_path / "e.html"
    run("summary", "--html", str(page))
    assert "empty" in page.read_text(encoding="utf-8")


def test_every_command_has_help_with_example() -> None:
    for args in (["log"], ["summary"]):
        assert "Example" in run(*args, "--help").output
    for sub in ("list", "show", "confirm", "reject", "annotate", "add", "felt", "evening",
                "evenings", "nights"):  # fmt: skip
        assert "Example" in run("log", sub, "--help").output, sub


def test_real_cramp_subprocess(db: Path, tmp_path: Path) -> None:
    exe = shutil.which("cramp", path=str(Path(sys.executable).parent)) or shutil.which("cramp")
    if exe is None:
        pytest.skip("the cramp console script is not installed (pip install -e .)")
    env = {**os.environ, "NIGHTCRAMP_DB": str(db)}
    r = subprocess.run([exe, "log", "list", "--kind", "cramp", "--json"], env=env,
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 2
    r = subprocess.run([exe, "log", "show", "999999"], env=env, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no event with id 999999" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([exe, "summary"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "Cramps" in r.stdout


# ----------------------------------------------------------------------------- first nights

UUID_A = "5a3b1e00-0000-4000-8000-00000000000a"
UUID_B = "7c1d2e3f-0000-4000-8000-00000000000b"
UUID_C = "9e8f7a6b-0000-4000-8000-00000000000c"


@pytest.fixture
def named(isolated_home: Path) -> dict[str, str]:
    """Three nights with recorder-style ids: A and B started the same evening, C later."""
    from datetime import UTC, datetime

    from nightcramp.cramplog import night_date

    starts = {
        UUID_A: datetime(2026, 11, 25, 21, 30, tzinfo=UTC),
        UUID_B: datetime(2026, 11, 25, 22, 40, tzinfo=UTC),
        UUID_C: datetime(2026, 11, 27, 22, 0, tzinfo=UTC),
    }
    with CrampLog.open() as log:
        for nid, t0 in starts.items():
            ingest(log, nid, hand_night(t0, with_trace=False))
    days = {nid: night_date(t0) or "" for nid, t0 in starts.items()}
    assert days[UUID_A] == days[UUID_B] != days[UUID_C]
    return days


def _summary_of(*args: str) -> str:
    return run("summary", *args).output.splitlines()[0]


def test_nights_by_every_name(named: dict[str, str]) -> None:
    assert UUID_C in _summary_of("latest")
    assert UUID_A in _summary_of(UUID_A)
    assert UUID_B in _summary_of("7c1d2e3f")
    assert UUID_A in _summary_of("night-20261125-213000-5a3b1e00")
    assert UUID_A in _summary_of("/somewhere/recordings/night-20261125-213000-5a3b1e00")
    day_c = named[UUID_C]
    assert UUID_C in _summary_of(day_c)
    assert UUID_C in _summary_of("night-" + day_c.replace("-", ""))
    rows = json.loads(run("log", "list", "--night", "9e8f7a6b", "--kind", "cramp", "--json").output)
    assert len(rows) == 2 and {r["night_id"] for r in rows} == {UUID_C}


def test_an_ambiguous_name_lists_the_choices(named: dict[str, str]) -> None:
    day = named[UUID_A]
    for name in (day, "night-" + day.replace("-", "")):
        r = run("summary", name, ok=False)
        assert isinstance(r.exception, UserError), r.output
        msg = str(r.exception)
        assert "fits 2 nights" in msg and UUID_A in msg and UUID_B in msg and "\n" not in msg
    r = run("summary", "2026-10-01", ok=False)
    assert "no night started on the evening of 2026-10-01" in str(r.exception)


def test_felt_cramp_times_are_never_in_the_future(isolated_home: Path) -> None:
    from datetime import UTC, datetime

    from nightcramp.cramplog import parse_utc

    now = datetime.now(UTC)
    with CrampLog.open() as log:  # a night that started half an hour ago
        ingest(log, "tonight", hand_night(now - timedelta(minutes=30), 1200.0, cramps=(),
                                          with_trace=False))  # fmt: skip
    soon = (now + timedelta(hours=2)).astimezone()
    out = run("log", "add", "--at", soon.strftime("%H:%M")).output
    row = json.loads(run("log", "felt", "--json").output)[0]
    at = parse_utc(row["at_utc"])
    assert at is not None and now - timedelta(days=1) < at < now
    assert at.astimezone().strftime("%Y-%m-%d") in out  # the date is shown
    assert at.astimezone().strftime("%Y-%m-%d") in run("log", "felt").output
    tomorrow = (now + timedelta(days=1)).astimezone().strftime("%Y-%m-%dT%H:%M")
    r = run("log", "add", "--at", tomorrow, ok=False)
    assert isinstance(r.exception, UserError) and "in the future" in str(r.exception)
    r = run("log", "add", "--at", soon.strftime("%H:%M"), "--night", "tonight", ok=False)
    assert isinstance(r.exception, UserError) and "in the future" in str(r.exception)
    assert len(json.loads(run("log", "felt", "--json").output)) == 1


def test_empty_listings_name_their_filter(db: Path) -> None:
    with CrampLog.open(db) as log:
        ingest(log, "n2", hand_night(cramps=(), plm_series=False, with_trace=False))
    out = run("log", "list", "--night", "latest", "--kind", "cramp").output
    assert "No cramp events in night n2" in out and "the log holds" in out
    assert "No plm events in night n2" in run("log", "list", "--night", "n2", "--kind", "plm").output
    assert "No felt cramps logged for night n1" in run("log", "felt", "--night", "n1").output


def test_summary_of_a_log_without_nights_is_not_empty(isolated_home: Path) -> None:
    run("log", "add", "--at", "2026-11-25T03:10", "--duration", "2m")
    run("log", "evening", "2026-11-24", "--water", "1.5", "--stretch")
    out = run("summary").output
    assert "empty" not in out
    assert "1 felt cramp" in out and "2026-11-25" in out and "water 1.5 L" in out
    s = json.loads(run("summary", "--json").output)
    assert s["night"] is None and len(s["felt_cramps"]) == 1 and s["evening"]["water_l"] == 1.5


def test_eased_by_choices_are_documented_and_echoed(db: Path) -> None:
    a = _cramp_ids(db)[0]
    assert "stretch-foot-up" in run("log", "annotate", "--help").output
    out = run("log", "annotate", str(a), "--eased-by", "stretch").output
    assert "stretch-foot-up" in out and "'stretch' stored as stretch-foot-up" in out
    out = run("log", "annotate", str(a), "--eased-by", "massage").output
    assert "massage" in out and "stored as" not in out


def test_reject_checks_every_id_first(db: Path) -> None:
    a, b = _cramp_ids(db)
    r = run("log", "reject", str(a), "999999", ok=False)
    assert isinstance(r.exception, UserError) and "999999" in str(r.exception)
    assert "rejected" not in r.output
    assert json.loads(run("log", "show", str(a), "--json").output)["verdict"] is None
    r = run("log", "confirm", str(b), "999998", ok=False)
    assert json.loads(run("log", "show", str(b), "--json").output)["verdict"] is None
    assert "confirmed" in run("log", "confirm", str(a), str(b)).output


def test_summary_html_refuses_a_missing_folder_like_export(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.html"
    r = run("summary", "--html", str(target), ok=False)
    assert isinstance(r.exception, UserError)
    assert "no such folder" in str(r.exception) and "nonexistent" in str(r.exception)
    assert not (tmp_path / "nonexistent").exists()
    r2 = run("export", str(tmp_path), "--edf", str(target), ok=False)
    assert str(r2.exception).split(":")[-1] == str(r.exception).split(":")[-1]
    r3 = run("summary", "--html", str(tmp_path), ok=False)
    assert "is a folder" in str(r3.exception)


def _strict(text: str) -> object:
    def refuse(c: str) -> object:
        raise AssertionError(f"{c} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_json_output_is_strict_json(db: Path) -> None:
    """Every --json listing parses with a strict parser; one datetime format; ms times."""
    import re

    with CrampLog.open(db) as log:
        r = hand_night(with_trace=False)
        i = next(i for i, e in enumerate(r.events) if e.kind == "cramp")
        # a NaN that must not reach the output
        nan_ctx = {**r.events[i].context, "rest_uv": float("nan")}
        r.events[i] = dataclasses.replace(r.events[i], context=nan_ctx)
        ingest(log, "n3", r)
        a = log.events("n3", "cramp")[0]["event_id"]
    run("log", "add", "--at", "2026-11-25T02:10", "--duration", "1:30")
    run("log", "evening", "2026-11-24", "--water", "1.5")
    docs = [
        run(*args, "--json").output
        for args in (("log", "list"), ("log", "show", str(a)), ("log", "felt"),
                     ("log", "evening", "2026-11-24"), ("log", "evenings"), ("log", "nights"),
                     ("summary", "n3"), ("summary",))
    ]  # fmt: skip
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    for text in docs:
        doc = _strict(text)
        stack: list[tuple[str, object]] = [("", doc)]
        while stack:
            k, v = stack.pop()
            if isinstance(v, dict):
                stack += list(v.items())
            elif isinstance(v, list):
                stack += [(k, x) for x in v]
            elif k.endswith("_utc") and v is not None:
                assert stamp.fullmatch(str(v)), (k, v)
            elif k.endswith("_s") and isinstance(v, float):
                assert round(v, 3) == v, (k, v)
