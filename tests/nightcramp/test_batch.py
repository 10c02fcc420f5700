"""cramp batch on a real Dask LocalCluster of 2 worker processes.

A folder of small EDF nights, a recording folder, a truncated EDF and a file that is not
EDF at all go through ``run_batch``; the Parquet tables are read back with pyarrow and
pandas; each night's events are compared with ``cramp detect --json`` on the same file; a
client killed mid-batch loses only the nights in flight; a worker killed mid-night is
retried once, and a night whose worker dies twice lands in errors/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

pytest.importorskip("distributed")

from distributed import Client  # noqa: E402

from emulator.night import make_night  # noqa: E402
from nightcramp import batch as nb  # noqa: E402
from nightcramp.cli import main  # noqa: E402
from recordings.edf import write_edf  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "recordings" / "sample-night"
CRAMP = str(Path(sys.executable).with_name("cramp"))


def _edf(path: Path, seed: int, duration_s: float, **kw: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_edf(make_night(seed, duration_s, **kw), path)
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three EDF nights (two of them in sub-folders), a recording folder, a truncated EDF,
    a text file named .edf, an EDF without a leg EMG channel, and a text file the folder
    search must leave alone."""
    root = tmp_path_factory.mktemp("cohort")
    n = {
        "a": _edf(root / "site-a" / "n2.edf", 2, 900.0, cramps=1, hard=True),
        "b": _edf(root / "site-a" / "deep" / "n3.edf", 3, 600.0, cramps=1, hard=True),
        "c": _edf(root / "n4.edf", 4, 300.0),
    }
    shutil.copytree(SAMPLE, root / "sample-night")
    n["rec"] = root / "sample-night"
    data = n["a"].read_bytes()
    n["trunc"] = root / "truncated.edf"
    # cut inside the header: unreadable (a cut inside the data records is read up to the
    # last whole record, with a warning, as cramp detect does)
    n["trunc"].write_bytes(data[:600])
    n["fake"] = root / "notes.edf"
    n["fake"].write_text("these are my notes about the night, not a recording\n" * 20)
    n["noleg"] = _edf(root / "eeg-only.edf", 9, 120.0, labels=("Fp1", "C3"), acc_fs=None)
    (root / "readme.txt").write_text("not a night\n")
    n["root"] = root
    return n


@pytest.fixture(scope="module")
def cluster():  # noqa: ANN201
    """Two single-threaded worker processes, 1 GiB each, retry-once policy of the CLI."""
    c = nb.local_cluster(2, "1GiB", dashboard=False)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def client(cluster):  # noqa: ANN001, ANN201
    with Client(cluster) as cl:
        cl.wait_for_workers(2, timeout=60)
        yield cl


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def first_run(cohort, cluster, tmp_path_factory):  # noqa: ANN001, ANN201
    out = tmp_path_factory.mktemp("out") / "cohort-out"
    jobs = nb.collect([cohort["root"]], out=out)
    with Client(cluster) as cl:
        rep = nb.run_batch(jobs, out, client=cl)
    return jobs, out, rep


def test_folder_search_finds_nights_and_leaves_other_files(cohort) -> None:  # noqa: ANN001
    jobs = nb.collect([cohort["root"]])
    found = sorted(Path(j.path).name for j in jobs)
    assert found == [
        "eeg-only.edf", "n2.edf", "n3.edf", "n4.edf", "notes.edf", "sample-night", "truncated.edf"
    ]  # fmt: skip
    # the recording folder is one night, not searched inside
    assert not any("frames-" in j.path for j in jobs)
    # a list of paths (relative to the list), a duplicate, and a folder, once each
    lst = cohort["root"] / "nights.txt"
    lst.write_text(f"# cohort\nsite-a/n2.edf\n\n{cohort['a']}\nsite-a\n")
    try:
        jobs2 = nb.collect([lst])
    finally:
        lst.unlink()
    assert [Path(j.path).name for j in jobs2] == ["n2.edf", "n3.edf"]


def test_tables_rows_and_schema(first_run, cohort) -> None:  # noqa: ANN001
    jobs, out, rep = first_run
    assert (rep.total, rep.done, rep.failed, rep.skipped) == (7, 4, 3, 0)
    nights = pd.read_parquet(out / "nights")
    errors = pd.read_parquet(out / "errors")
    events = pd.read_parquet(out / "events")
    good = {str(cohort[k].resolve()) for k in ("a", "b", "c", "rec")}
    assert set(nights["file"]) == good and len(nights) == 4
    assert set(errors["file"]) == {str(cohort[k]) for k in ("trunc", "fake", "noleg")}
    assert set(errors["error_kind"]) == {"input"}
    # every table has its documented schema, part by part
    for table, schema in nb.TABLES.items():
        parts = sorted((out / table).glob("night-*.parquet"))
        assert parts
        for p in parts:
            assert pq.read_schema(p).remove_metadata() == schema.remove_metadata(), p
    # rows per night agree with the events table
    per_night = events.groupby("file").size()
    for r in nights.itertuples():
        assert r.n_events == per_night.get(r.file, 0)
        assert r.cramps == int(((events["file"] == r.file) & (events["kind"] == "cramp")).sum())
        assert r.file_hash.startswith("sha256:") and len(r.file_hash) == 71
        assert 0 <= r.coverage_pct <= 100 and r.duration_s > 0
        assert r.seconds > 0
    assert events["kind"].eq("cramp").sum() >= 2  # the two nights made with a cramp
    rec = nights[nights["source_kind"] == "recording"].iloc[0]
    assert rec["night"] != f"file:{rec['file']}"  # a recording keeps its recording id
    # another reader: a pyarrow dataset over the folder (temporary names are hidden)
    assert ds.dataset(out / "events", format="parquet").count_rows() == len(events)
    assert not [p for t in nb.TABLES for p in (out / t).iterdir() if p.name.startswith(".")]


def test_errors_carry_the_message_of_cramp_detect(first_run, cohort, capsys) -> None:  # noqa: ANN001
    _, out, _ = first_run
    errors = pd.read_parquet(out / "errors").set_index("file")
    for k in ("trunc", "fake", "noleg"):
        code, _, err = _cli(capsys, "detect", str(cohort[k]))
        assert code == 2
        assert err.strip() == f"cramp: error: {errors.loc[str(cohort[k]), 'error']}"
    assert "truncated" in errors.loc[str(cohort["trunc"]), "error"]
    assert "not an EDF/BDF file" in errors.loc[str(cohort["fake"]), "error"]
    assert "no leg EMG channel" in errors.loc[str(cohort["noleg"]), "error"]


def test_events_equal_cramp_detect_json(first_run, cohort, capsys) -> None:  # noqa: ANN001
    _, out, _ = first_run
    events = pd.read_parquet(out / "events")
    fields = ["kind", "subtype", "start_s", "end_s", "duration_s", "peak_uv", "mean_uv"]
    fields += ["peak_x_rest", "mean_x_rest", "confidence", "reason"]
    for k in ("a", "b", "c", "rec"):
        code, stdout, err = _cli(capsys, "detect", str(cohort[k]), "--json")
        assert code == 0, err
        want = json.loads(stdout)
        got = events[events["file"] == str(cohort[k].resolve())].sort_values("start_s")
        assert len(got) == len(want["events"])
        for row, ev in zip(got.to_dict("records"), want["events"], strict=True):
            assert {f: row[f] for f in fields} == {f: ev[f] for f in fields}
            assert list(row["channels"]) == ev["channels"]
            assert json.loads(row["context"]) == ev["context"]
            assert row["detector_version"] == want["detector_version"]
        night = pd.read_parquet(out / "nights").set_index("file").loc[str(cohort[k].resolve())]
        assert night["duration_s"] == want["duration_s"]
        assert night["n_gaps"] == len(want["gaps"])


def test_resume_skips_done_and_redoes_changed(first_run, cohort, client, tmp_path) -> None:  # noqa: ANN001
    jobs, out0, _ = first_run
    out = tmp_path / "resume"
    shutil.copytree(out0, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("night-*.parquet")}
    rep = nb.run_batch(jobs, out, client=client)
    assert (rep.done, rep.failed, rep.skipped, rep.kept_failed) == (0, 0, 7, 3)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("night-*.parquet")} == before

    # a night whose file changed is redone (and only that one); a touched file is checked
    # by its hash on the worker and kept
    work = tmp_path / "n4.edf"
    shutil.copy(cohort["c"], work)
    jobs2 = [*jobs, nb.NightJob(str(work))]
    rep = nb.run_batch(jobs2, out, client=client)
    assert rep.done == 1 and rep.skipped == 7
    h1 = pd.read_parquet(out / "nights").set_index("file").loc[str(work), "file_hash"]
    _edf(work, 5, 300.0)
    os.utime(cohort["b"])
    rep = nb.run_batch(jobs2, out, client=client)
    assert (rep.done, rep.unchanged, rep.skipped) == (1, 1, 6)
    nights = pd.read_parquet(out / "nights").set_index("file")
    assert nights.loc[str(work), "file_hash"] != h1
    assert nights.loc[str(cohort["b"]), "file_mtime_ns"] == cohort["b"].stat().st_mtime_ns
    assert len(nights) == 5  # still one row per night

    # another detector version or another channel choice: everything is redone
    done = nb.Output(out).done()
    assert len(nb.plan(jobs2, done, "nightcramp-detect 9.9").todo) == 8
    assert nb.plan(jobs2, done, nb.detector_version()).todo == []
    other = [nb.NightJob(j.path, emg=("EMG calf",)) for j in jobs2]
    assert len(nb.plan(other, done, nb.detector_version()).todo) == 8


def test_a_fixed_file_leaves_errors_for_nights(first_run, cohort, client, tmp_path) -> None:  # noqa: ANN001
    jobs, out0, _ = first_run
    out = tmp_path / "fixed"
    shutil.copytree(out0, out)
    shutil.copy(cohort["c"], cohort["trunc"])  # re-copied whole
    try:
        rep = nb.run_batch(jobs, out, client=client)
    finally:
        data = cohort["a"].read_bytes()
        cohort["trunc"].write_bytes(data[: len(data) * 3 // 5])
    assert (rep.done, rep.kept_failed) == (1, 2)
    assert str(cohort["trunc"]) not in set(pd.read_parquet(out / "errors")["file"])
    assert str(cohort["trunc"]) in set(pd.read_parquet(out / "nights")["file"])


def test_channels_csv_per_file(cohort, client, tmp_path) -> None:  # noqa: ANN001
    """A CSV names the EMG channels of the file without recognisable labels; dropping the
    CSV changes the channel choice, so the night is redone (and fails as without it)."""
    csv_path = tmp_path / "channels.csv"
    rel = os.path.relpath(cohort["noleg"], tmp_path)
    csv_path.write_text(f'file,emg,acc\n{rel},"Fp1,C3",\n')
    jobs = nb.collect([cohort["noleg"], cohort["c"]], channels_csv=csv_path)
    assert [(j.emg, j.acc) for j in jobs] == [(("Fp1", "C3"), ()), ((), ())]
    out = tmp_path / "out"
    rep = nb.run_batch(jobs, out, client=client)
    assert (rep.done, rep.failed) == (2, 0)
    night = pd.read_parquet(out / "nights").set_index("file").loc[str(cohort["noleg"])]
    assert list(night["emg_labels"]) == ["Fp1", "C3"]
    assert json.loads(night["channels_option"]) == {"emg": ["Fp1", "C3"], "acc": []}
    rep = nb.run_batch(nb.collect([cohort["noleg"], cohort["c"]]), out, client=client)
    assert (rep.done, rep.failed, rep.skipped) == (0, 1, 1)
    assert list(pd.read_parquet(out / "nights")["file"]) == [str(cohort["c"])]
    bad = tmp_path / "bad.csv"
    bad.write_text('file,emg,acc\nx.edf,,"X,Y"\n')
    with pytest.raises(nb.UserError, match=r"bad.csv: line 2: acc 'X,Y': give three labels"):
        nb.collect([cohort["c"]], channels_csv=bad)


def test_leftover_temporary_parts_are_removed(tmp_path: Path) -> None:
    out = nb.Output(tmp_path / "o")
    tmp = out.root / "nights" / ".night-abc.parquet.123.tmp"
    tmp.write_bytes(b"half a part")
    nb.Output(out.root)
    assert not tmp.exists()


def test_killed_batch_loses_only_nights_in_flight(cohort, cluster, tmp_path) -> None:  # noqa: ANN001
    """The client (a `cramp batch` process on the test's cluster) is SIGKILLed as soon as
    its first night is written; the rerun runs exactly the nights without a part."""
    src = tmp_path / "many"
    for i in range(8):
        _edf(src / f"m{i}.edf", 10 + i, 600.0)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [CRAMP, "batch", str(src), "--out", str(out), "--scheduler", cluster.scheduler_address,
         "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if list((out / "nights").glob("night-*.parquet")):
                break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    written = sorted((out / "nights").glob("night-*.parquet"))
    assert 1 <= len(written) < 8, proc.stderr.read() if proc.stderr else ""
    for p in written:  # whole parts only
        assert pq.read_table(p).num_rows == 1
        assert (out / "events" / p.name).exists()
    jobs = nb.collect([src])
    with Client(cluster) as cl:
        rep = nb.run_batch(jobs, out, client=cl)
    assert rep.skipped == len(written) and rep.done == 8 - len(written)
    nights = pd.read_parquet(out / "nights")
    assert sorted(nights["file"]) == sorted(j.path for j in jobs)


class _Killer(threading.Thread):
    """Kills the worker process running the night, ``times`` times, mid-night."""

    def __init__(self, address: str, times: int) -> None:
        super().__init__(daemon=True)
        self.address, self.times = address, times
        self.killed: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with Client(self.address) as cl:
            pids = cl.run(os.getpid)
            seen: dict[str, float] = {}
            while not self.stop.is_set() and len(self.killed) < self.times:
                for addr, keys in cl.processing().items():
                    if not any(str(k).startswith("night-") for k in keys):
                        continue
                    t = seen.setdefault(addr, time.monotonic())
                    if time.monotonic() - t < 0.1:  # it is well into the night
                        continue
                    if addr not in pids:
                        pids = cl.run(os.getpid)
                    pid = pids.get(addr)
                    if pid is not None and pid not in self.killed:
                        os.kill(pid, signal.SIGKILL)
                        self.killed.append(pid)
                time.sleep(0.01)


@pytest.fixture(scope="module")
def hour_night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _edf(tmp_path_factory.mktemp("hour") / "hour.edf", 7, 3600.0, cramps=1)


@pytest.mark.parametrize("kills", [1, 2])
def test_worker_killed_mid_night(kills: int, hour_night: Path, cluster, tmp_path) -> None:  # noqa: ANN001
    """Killed once: the night is retried on a live worker and lands in nights/.  Killed
    on its retry too: it lands in errors/ with a one-line message, and the rest goes on."""
    small = _edf(tmp_path / "small.edf", 8, 120.0)
    jobs = [nb.NightJob(str(hour_night)), nb.NightJob(str(small))]
    out = tmp_path / "out"
    with Client(cluster) as cl:
        cl.wait_for_workers(2, timeout=60)
        killer = _Killer(cluster.scheduler_address, kills)
        killer.start()
        try:
            rep = nb.run_batch(jobs[:1], out, client=cl)
        finally:
            killer.stop.set()
            killer.join(30)
        assert len(killer.killed) == kills
        errors = pd.read_parquet(out / "errors") if kills == 2 else None
        cl.wait_for_workers(2, timeout=60)
        rep2 = nb.run_batch(jobs, out, client=cl) if kills == 2 else None
    nights = pd.read_parquet(out / "nights") if list((out / "nights").iterdir()) else pd.DataFrame()
    if kills == 1:
        assert (rep.done, rep.failed) == (1, 0)
        (worker,) = nights["worker"]
        assert int(worker.rsplit(":", 1)[1]) not in killer.killed
    else:
        assert (rep.done, rep.failed) == (0, 1)
        assert errors is not None
        assert rep2 is not None and rep2.done == 2  # a lost worker is retried on a rerun
        assert list((out / "errors").iterdir()) == []
        (err,) = errors.itertuples()
        assert err.error_kind == "worker" and err.file == str(hour_night)
        assert "died twice" in err.error and "\n" not in err.error


def test_cli_batch_progress_dashboard_and_exit_status(cohort, tmp_path, capsys) -> None:  # noqa: ANN001
    """The command itself, with its own local cluster of 2 workers."""
    out = tmp_path / "cli-out"
    args = ["batch", str(cohort["c"]), str(cohort["fake"]), "--out", str(out)]
    code, stdout, err = _cli(capsys, *args, "--workers", "2", "--memory-limit", "700MiB",
                             "--progress")  # fmt: skip
    assert code == 1, err  # a night failed
    assert "Traceback" not in err
    assert "2 nights: 1 run, 0 already done, 1 failed" in stdout
    assert "2/2" in err and "failed=1" in err  # the bar: done/total, failures
    if nb.has_dashboard():
        assert "dashboard: http://127.0.0.1:" in err
    else:
        assert "dashboard: not available (bokeh is not installed" in err
    # a rerun with everything done starts no cluster, and still reports the failed night
    code, stdout, err = _cli(capsys, *args)
    assert code == 1 and "dashboard" not in err
    assert "2 nights: 0 run, 2 already done, 1 failed, 1 as in an earlier run" in stdout
    code, _, err = _cli(capsys, "batch", str(tmp_path / "nowhere"), "--out", str(out))
    assert code == 2 and err.startswith("cramp: error: ")
    assert "no such file or folder" in err and "Traceback" not in err
    out2 = tmp_path / "cli-out-2"
    for limit, says in (("lots", "not a size"), ("100MB", "less than a night needs")):
        code, _, err = _cli(capsys, "batch", str(cohort["c"]), "--out", str(out2),
                            "--memory-limit", limit)  # fmt: skip
        assert code == 2 and f"--memory-limit {limit}" in err and says in err, err
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, _, err = _cli(capsys, "batch", str(cohort["c"]), "--out", str(out2),
                            "--scheduler", "tcp://127.0.0.1:9")  # fmt: skip
    assert code == 2 and "cannot connect" in err and "Traceback" not in err, err


def test_replay_takes_an_edf_file_into_the_cramp_log(cohort, capsys, isolated_home) -> None:  # noqa: ANN001
    db = isolated_home / "log.sqlite3"
    path = cohort["a"]
    code, out, err = _cli(capsys, "replay", str(path), "--db", str(db), "--no-progress")
    assert code == 0, err
    assert "replayed n2.edf" in out and "cramp" in out
    code, stdout, err = _cli(capsys, "detect", str(path), "--json")
    want = json.loads(stdout)["events"]
    from nightcramp.cramplog import CrampLog

    log = CrampLog.open(db)
    try:
        nid = f"file:{path.resolve()}"
        assert log.require_night(nid)["status"] == "complete"
        got = log.events(nid)
    finally:
        log.close()
    assert [(e["kind"], e["start_s"], e["end_s"]) for e in got] == [
        (e["kind"], e["start_s"], e["end_s"]) for e in want
    ]
    code, _, err = _cli(capsys, "replay", str(cohort["fake"]), "--db", str(db))
    assert code == 2 and "not an EDF/BDF file" in err


@pytest.mark.slow
def test_bench_batch_runs_on_a_small_cohort() -> None:
    """The benchmark itself keeps working (its figures are for a quiet machine)."""
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_batch", "--nights", "2", "--hours", "0.05",
         "--long-hours", "0.1"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for what in ("sequential loop", "dask, 2 workers", "speedup", "overhead", "MB peak"):
        assert what in r.stdout


def test_docs_list_every_column_of_every_table() -> None:
    """docs/BATCH.md documents the stable schema: each table's columns, no more, no less."""
    import re

    text = (REPO / "docs" / "BATCH.md").read_text(encoding="utf-8")
    for table, schema in nb.TABLES.items():
        m = re.search(rf"### `{table}/` \(schema (\d+)\)\n(.*?)(?=\n### |\n## |\Z)", text, re.S)
        assert m, f"no section for {table}/"
        assert m.group(1) == schema.metadata[b"nightcramp.schema"].decode()
        named: set[str] = set()
        for line in m.group(2).splitlines():
            if line.startswith("| ") and not line.startswith("| column") and "---" not in line:
                named |= {c.strip() for c in line.split("|")[1].split(",")}
        assert named == set(schema.names), table
