"""A few hundred mutated EDF/BDF files through ``cramp detect --json`` in worker
subprocesses under ``RLIMIT_AS`` and a per-case timeout (``benchmarks/bench_edf_fuzz.py``
does thousands and prints the counts): no traceback, hang, memory blow-up or crash, and
no exit 0 whose output breaks the sanity bounds."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.bench_edf_fuzz import (
    FAILURES,
    MEM_LIMIT,
    Sig,
    build,
    judge,
    make_cases,
    run_cases,
    seeds,
    summarise,
)

CASES = 300


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("fuzz")
    return summarise(run_cases(make_cases(CASES, 13, folder), workers=2))


def test_no_mutated_file_escapes_the_rules(fuzz: dict) -> None:
    shown = [f"{r['outcome']}: {r['case']} ({r['mutation']}): {r['detail']}"
             for r in fuzz["failures"]]  # fmt: skip
    assert shown == []
    assert all(fuzz["counts"][k] == 0 for k in FAILURES)


def test_the_harness_exercises_both_outcomes(fuzz: dict) -> None:
    """Most mutations are caught, but not all are errors: a flipped body byte or a
    prefilter text is still a readable night (else the bounds would test nothing)."""
    c = fuzz["counts"]
    assert c["ok"] + c["error"] == CASES
    assert c["error"] >= CASES // 3 and c["ok"] >= CASES // 5


def test_the_valid_seeds_pass_the_sanity_bounds(tmp_path: Path) -> None:
    cases = []
    for name, data in seeds().items():
        p = tmp_path / f"{name}.edf"
        p.write_bytes(data)
        cases.append((p, "none"))
    res = run_cases(cases)
    assert [r["outcome"] for r in res] == ["ok"] * len(cases), res


def test_the_judge_rejects_what_it_should(tmp_path: Path) -> None:
    p = tmp_path / "x.edf"
    p.write_bytes(b"\0" * 100_000)
    good = ('{"duration_s": 60.0, "layout": {"emg_fs": 1000.0, "acc_fs": null}, "gaps": [],'
            ' "stats": {}, "warnings": [], "events": [%s]}')  # fmt: skip
    ev = '{"kind": "cramp", "start_s": 1, "end_s": 30, "peak_uv": %s, "mean_uv": 1,' \
         ' "peak_x_rest": %s, "confidence": 0.9}'  # fmt: skip
    assert judge(p, good % (ev % ("500", "20"))) == ""
    assert "strict" in judge(p, good % (ev % ("500", "NaN")))
    assert "without a warning" in judge(p, good % (ev % ("2e8", "20")))
    assert "outside" in judge(p, good % ev.replace('"end_s": 30', '"end_s": 300') % ("5", "2"))
    assert "emg_fs" in judge(p, (good % "").replace('"emg_fs": 1000.0', '"emg_fs": 1.0'))


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


@pytest.mark.parametrize("case", ["gap-1e9", "backwards", "duration-1e-300"])
def test_the_console_command_under_a_memory_limit(tmp_path: Path, case: str) -> None:
    """The real ``cramp`` entry point in a subprocess with RLIMIT_AS: exit 2, one line."""
    on = [float(r) for r in range(60)]
    if case == "gap-1e9":
        on = [r if r < 30 else r + 1e9 for r in on]
    if case == "backwards":
        on = [r if r < 30 else r - 100 for r in on]
    data = bytearray(build([Sig("Leg L", 500)], 60, kind="EDF+D", onsets=on))
    if case == "duration-1e-300":
        data[244:252] = b"1e-300  "
    p = tmp_path / f"{case}.edf"
    p.write_bytes(bytes(data))
    r = subprocess.run(
        [sys.executable, "-c", "from nightcramp.cli import main; main()", "detect", str(p),
         "--json"],
        capture_output=True, text=True, timeout=60, preexec_fn=_limited,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cramp: error: {p}: ")
