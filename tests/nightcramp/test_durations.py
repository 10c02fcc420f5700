"""One reading of ``--duration`` for ``cramp record``, ``cramp demo`` and ``cramp log add``."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nightcramp.cli import cli
from nightcramp.durations import parse_duration
from recordings.errors import UserError


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("8h", 8 * 3600.0),
        ("90m", 5400.0),
        ("1h30m", 5400.0),
        ("1h 30m 10s", 5410.0),
        ("1:30", 90.0),
        ("1:30:00", 5400.0),
        ("3600", 3600.0),
        ("45s", 45.0),
        ("2 min", 120.0),
        ("1.5h", 5400.0),
        ("1m30s", 90.0),
    ],
)
def test_every_spelling(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["long", "1:75", "30m1h", "1h1h", "h", "", "-5", "1e9999"])
def test_nonsense_is_one_line_error(text: str) -> None:
    with pytest.raises(UserError, match="duration") as e:
        parse_duration(text, what="--duration")
    assert "\n" not in str(e.value)


def test_zero_is_refused_unless_allowed() -> None:
    with pytest.raises(UserError, match="more than 0 s"):
        parse_duration("0")
    assert parse_duration("0", allow_zero=True) == 0.0
    assert parse_duration(None) is None


def test_the_commands_share_it(isolated_home: object) -> None:
    """`cramp log add` takes 1m30s and `cramp demo` refuses what `log add` refuses."""
    r = CliRunner().invoke(cli, ["log", "add", "--at", "2026-11-01T03:00", "--duration", "1m30s"])
    assert r.exit_code == 0, (r.output, r.exception)
    r = CliRunner().invoke(cli, ["log", "felt", "--json"])
    assert '"duration_s": 90' in r.output
    r = CliRunner().invoke(cli, ["demo", "--duration", "1:75"])
    assert isinstance(r.exception, UserError) and "--duration '1:75'" in str(r.exception)
