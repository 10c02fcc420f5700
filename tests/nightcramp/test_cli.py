"""The command line's front door: every subcommand is listed and explains itself."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from nightcramp.cli import COMMANDS, cli


def test_help_lists_every_subcommand() -> None:
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0, res.output
    for name in COMMANDS:
        assert f"  {name} " in res.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_has_help_with_an_example(name: str) -> None:
    res = CliRunner().invoke(cli, [name, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.output
    assert f"cramp {name}" in res.output


def test_console_script_reports_bad_usage_in_one_line_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nightcramp.cli", "detect", "/nonexistent/night.edf"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "night.edf" in proc.stderr
