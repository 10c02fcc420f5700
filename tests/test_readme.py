"""The README's example output is what the commands really print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_block_after(marker: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    at = text.index(marker)
    m = re.search(r"```\n(.*?)```\n", text[at:], flags=re.S)
    assert m, f"no code block after {marker!r} in README.md"
    return m.group(1)


def _cramp(*args: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "nightcramp.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_readme_summary_of_the_sample_night_is_what_the_commands_print(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        NIGHTCRAMP_HOME=str(tmp_path / "home"),
        NIGHTCRAMP_DB=str(tmp_path / "log.sqlite3"),
        NIGHTCRAMP_RECORDINGS=str(tmp_path / "rec"),
        TZ="UTC",
        COLUMNS="120",
    )
    _cramp("replay", "recordings/sample-night", env=env)
    got = _cramp("summary", env=env)
    want = _readme_block_after("The morning summary of the sample night")
    assert got.rstrip() == want.rstrip()


def _command(block: str, number: int) -> str:
    """README command ``number`` of the "Two commands" block, continuation lines joined."""
    text = re.sub(r"\\\n\s*", "", block)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return lines[number - 1].strip()


def test_ci_runs_the_readmes_test_command() -> None:
    """CI runs command 2 as the README gives it, so the two cannot drift apart."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    at = text.index("## Two commands")
    m = re.search(r"```bash\n(.*?)```\n", text[at:], flags=re.S)
    assert m, "no bash block under '## Two commands' in README.md"
    block = m.group(1)
    test_cmd = _command(block, 2)
    assert "pytest" in test_cmd and "pip install" in test_cmd
    ci = re.sub(r"\\\n\s*", "", (REPO / ".ci" / "run").read_text(encoding="utf-8"))
    assert test_cmd in ci
    assert "cramp demo" in _command(block, 1)
