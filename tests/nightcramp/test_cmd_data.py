"""replay / detect / export: live-vs-replay equality, the --json contract, bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from detector.events import Event
from detector.pipeline import Pipeline
from detector.stream import Chunk
from nightcramp.cli import main
from recordings.store import RecordingSource, open_recording

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "recordings" / "sample-night"


def _load_maker():  # noqa: ANN202
    import emulator.make_sample_night as mod

    return mod


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A 5-min emulated night: drop-outs with backfill, a ring overflow (LOSS), a reboot,
    bit errors.  The live side: FrameAssembler.push per frame -> Pipeline, as recorded."""
    maker = _load_maker()
    root = tmp_path_factory.mktemp("live")
    state: dict = {"pipe": None}

    def on_item(item, layout) -> None:  # noqa: ANN001
        if state["pipe"] is None:
            state["pipe"] = Pipeline(layout)
        state["pipe"].feed(item)

    res = maker.record_emulated(
        root,
        seed=12,
        duration_s=300.0,
        drops=((40.0, 8.0), (100.0, 135.0)),
        reboot_at=265.0,
        corrupt_every=301,
        on_item=on_item,
        night_kw={"cramps": 1, "hard": True},
    )
    result = state["pipe"].finish()
    return res, result


def test_replay_gives_the_live_events(live_run) -> None:  # noqa: ANN001
    res, live = live_run
    st = res.assembler.stats
    assert st["corrupt"] > 0 and st["duplicates"] > 0 and st["loss_frames"] == 1
    assert st["reboots"] == 1
    reasons = sorted(g.reason for g in res.assembler.gaps)
    assert reasons == ["reboot", "sensor-loss"]
    src = RecordingSource(res.folder)
    replay = Pipeline(src.layout)
    for item in src.chunks():
        replay.feed(item)
    rep = replay.finish()
    assert src.layout == res.assembler.layout
    assert [e.to_dict() for e in rep.events] == [e.to_dict() for e in live.events]
    assert [(g.start_s, g.end_s, g.reason) for g in rep.gaps] == [
        (g.start_s, g.end_s, g.reason) for g in live.gaps
    ]
    # the same samples, too
    a = np.concatenate([c.emg for c in res.items if isinstance(c, Chunk)])
    b = np.concatenate(
        [c.emg for c in RecordingSource(res.folder).chunks() if isinstance(c, Chunk)]
    )
    np.testing.assert_array_equal(a, b)
    assert src.wall_time(0.0) is not None


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_detect_json_contract(live_run, capsys) -> None:  # noqa: ANN001
    res, live = live_run
    code, out, err = _cli(capsys, "detect", str(res.folder), "--json")
    assert code == 0, err
    obj = json.loads(out)  # exactly one JSON object
    assert out.strip().count("\n") == 0
    assert {"events", "source", "detector_version", "gaps", "duration_s"} <= obj.keys()
    assert obj["recording_id"] == res.recording_id
    assert [(e["kind"], e["start_s"], e["end_s"]) for e in obj["events"]] == [
        (e.kind, e.start_s, e.end_s) for e in live.events
    ]
    for e in obj["events"]:
        assert e["kind"] in ("cramp", "plm", "movement", "artifact")


def test_replay_into_the_cramp_log_is_idempotent(live_run, capsys, isolated_home) -> None:  # noqa: ANN001
    res, live = live_run
    db = isolated_home / "log.sqlite3"
    for _ in range(2):
        code, out, err = _cli(capsys, "replay", str(res.folder), "--db", str(db), "--no-progress")
        assert code == 0, err
        assert "replayed" in out
    from nightcramp.cramplog import CrampLog

    with CrampLog.open(db) as log:
        night = log.require_night(res.recording_id)
        assert night is not None


def test_replay_speed_paces_real_time(tmp_path: Path, capsys, isolated_home) -> None:  # noqa: ANN001
    maker = _load_maker()
    res = maker.record_emulated(tmp_path, seed=2, duration_s=30.0, drops=(), reboot_at=None)
    import time

    t0 = time.monotonic()
    code, out, err = _cli(capsys, "replay", str(res.folder), "--speed", "15", "--no-progress")
    assert code == 0, err
    assert time.monotonic() - t0 >= 1.8  # ~30 s of night at 15x = 2 s


def test_export_edf_and_parquet(live_run, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    res, live = live_run
    edf = tmp_path / "night.edf"
    code, out, err = _cli(capsys, "export", str(res.folder), "--edf", str(edf))
    assert code == 0, err
    import edfio

    e = edfio.read_edf(edf)
    texts = [a.text for a in e.annotations]
    assert sum(t.startswith("gap: ") for t in texts) == 2
    anns = sorted((a.onset, a.text.split()[0]) for a in e.annotations if "conf=" in a.text)
    want = sorted(
        (round(ev.start_s, 6), ev.kind + (f"/{ev.subtype}" if ev.subtype else ""))
        for ev in live.events
    )
    assert [(round(o, 6), k) for o, k in anns] == want
    code, out, err = _cli(capsys, "detect", str(edf), "--json")  # the export reads back
    assert code == 0, err
    obj = json.loads(out)
    assert obj["source_kind"] == "edf" and obj["layout"]["emg_fs"] == 1000
    assert [g["reason"] for g in obj["gaps"]] == ["edf-discontinuity"] * 2
    before = edf.read_bytes()
    code, out, err = _cli(capsys, "export", str(res.folder), "--edf", str(edf))
    assert code == 2 and "already exists" in err and "--force" in err
    assert edf.read_bytes() == before  # nothing written over
    pqf = tmp_path / "night.parquet"
    code, out, err = _cli(capsys, "export", str(res.folder), "--parquet", str(pqf))
    assert code == 0, err
    t = pq.read_table(pqf)
    df = t.to_pandas()
    n_emg = int((df["stream"] == "emg").sum())
    got = np.concatenate([c.emg for c in res.items if isinstance(c, Chunk)])
    assert n_emg == got.size
    meta = pq.read_schema(pqf).metadata
    assert len(json.loads(meta[b"nightcramp.events"])) == len(live.events)


def _one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    assert code != 0
    assert "Traceback" not in err and "Traceback" not in out
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_bad_inputs_give_one_line_errors(tmp_path: Path, capsys, live_run) -> None:  # noqa: ANN001
    res, _ = live_run
    empty = tmp_path / "empty.edf"
    empty.write_bytes(b"")
    _one_line_error(*_cli(capsys, "detect", str(empty)), "empty.edf", "empty")
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"0       " + b"x" * 300)
    _one_line_error(*_cli(capsys, "detect", str(junk)), "junk.edf")
    nonrec = tmp_path / "folder"
    nonrec.mkdir()
    _one_line_error(*_cli(capsys, "detect", str(nonrec)), "not a nightcramp recording")
    _one_line_error(*_cli(capsys, "replay", str(nonrec)), "not a nightcramp recording")
    _one_line_error(*_cli(capsys, "detect", str(tmp_path / "nope")), "no such file")
    newer = tmp_path / "newer"
    shutil.copytree(res.folder, newer)
    meta = json.loads((newer / "meta.json").read_text())
    meta["format_version"] = 99
    (newer / "meta.json").write_text(json.dumps(meta))
    _one_line_error(*_cli(capsys, "replay", str(newer)), "newer", "upgrade")
    _one_line_error(*_cli(capsys, "export", str(newer), "--edf", str(tmp_path / "x.edf")), "newer")
    assert not (tmp_path / "x.edf").exists()
    _one_line_error(*_cli(capsys, "detect", str(res.folder), "--emg", "Leg"), "--emg")
    _one_line_error(*_cli(capsys, "export", str(res.folder)), "--edf", "--parquet")
    # a recording with no data frame at all
    norec = tmp_path / "nodata"
    shutil.copytree(res.folder, norec)
    for p in norec.glob("frames-*.arrow"):
        p.write_bytes(b"")
    _one_line_error(*_cli(capsys, "detect", str(norec)), "no readable data frame")
    # a truncated part is recovered, never fatal
    torn = tmp_path / "torn"
    shutil.copytree(res.folder, torn)
    part = sorted(torn.glob("frames-*.arrow"))[-1]
    part.write_bytes(part.read_bytes()[:-5000])
    code, out, err = _cli(capsys, "detect", str(torn), "--json")
    assert code == 0, err
    assert any(n["kind"] == "recovered" for n in open_recording(torn).notes)


def test_sample_night_is_present_and_replays(capsys) -> None:  # noqa: ANN001
    if not SAMPLE.exists():
        pytest.skip("recordings/sample-night not generated yet")
    info = open_recording(SAMPLE, record_recovery=False)
    assert info.closed_cleanly and info.frames > 10_000
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 8_000_000
    code, out, err = _cli(capsys, "detect", str(SAMPLE), "--json")
    assert code == 0, err
    obj = json.loads(out)
    assert obj["duration_s"] > 600
    assert any(e["kind"] == "cramp" for e in obj["events"]) or isinstance(obj["events"], list)


def test_event_fields_survive_json(live_run) -> None:  # noqa: ANN001
    ev = Event("cramp", 1.0, 2.0, channels=("EMG1",), context={"x": np.float64(1.5)})
    from recordings.export import event_dict

    d = event_dict(ev)
    assert d["context"] == {"x": 1.5} and d["channels"] == ["EMG1"]


def _strict(text: str) -> object:
    def refuse(c: str) -> object:
        raise AssertionError(f"{c} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _walk(o: object, key: str = "") -> list[tuple[str, object]]:
    if isinstance(o, dict):
        return [kv for k, v in o.items() for kv in _walk(v, k)]
    if isinstance(o, list):
        return [kv for v in o for kv in _walk(v, key)]
    return [(key, o)]


def test_detect_json_is_strict_json_with_ms_times(capsys) -> None:  # noqa: ANN001
    code, out, err = _cli(capsys, "detect", str(SAMPLE), "--json")
    assert code == 0, err
    obj = _strict(out)
    leaves = _walk(obj)
    secs = [v for k, v in leaves if k.endswith("_s") and isinstance(v, float)]
    assert len(secs) > 20 and all(round(v, 3) == v for v in secs)
    assert isinstance(obj, dict)
    assert obj["start_utc"] == obj["layout"]["start_utc"]
    import re

    stamps = [v for k, v in leaves if k.endswith("_utc") and v is not None]
    assert stamps and all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(v)) for v in stamps
    )


def test_one_open_source_for_every_path(tmp_path: Path) -> None:
    """The emulator's night_source opens files the way `cramp detect` does."""
    from emulator.virtual.sensor import night_source
    from recordings.edf import EdfSource, write_edf
    from recordings.errors import UserError
    from recordings.export import open_source

    assert type(night_source(str(SAMPLE), None)) is type(open_source(SAMPLE)) is RecordingSource
    edf = tmp_path / "NIGHT.EDF"
    write_edf(RecordingSource(SAMPLE), edf)
    assert isinstance(night_source(str(edf), None), EdfSource)
    with pytest.raises(UserError, match="no such file or folder"):
        night_source(str(tmp_path / "missing.edf"), None)


#: Modules ``cramp detect FILE.edf --json`` leaves out: only other commands (or readers
#: of the trace tables) need them, and each costs tenths of a second to import.
DETECT_SKIPS = ("pandas", "pyarrow", "scipy.signal")


def test_detect_json_of_an_edf_imports_no_heavy_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    from recordings.edf import write_edf

    edf = tmp_path / "night.edf"
    write_edf(RecordingSource(SAMPLE), edf)
    code = (
        "import sys\n"
        "from nightcramp.cli import main\n"
        f"main(['detect', {str(edf)!r}, '--json'])\n"
        f"print([m for m in {DETECT_SKIPS!r} if m in sys.modules], file=sys.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip().splitlines()[-1] == "[]"
    got = json.loads(p.stdout)
    assert got["events"] and got["source_kind"] == "edf"
    # the same night through the library, reading its tables: pandas comes when asked
    from detector.pipeline import run
    from recordings.edf import EdfSource

    res = run(EdfSource(edf))
    assert [e.start_s for e in res.events] == [e["start_s"] for e in got["events"]]
    assert list(res.trace.columns) == ["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"]
    assert res.trace is res.trace and len(res.epochs) == int(np.ceil(res.duration_s / 30.0))
