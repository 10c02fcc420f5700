"""Shared test configuration.  Area-specific fixtures live beside their tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_DATA = SHARED / "data" / "real"


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every nightcramp location (data dir, recordings, cramp log) into tmp_path."""
    monkeypatch.setenv("NIGHTCRAMP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NIGHTCRAMP_RECORDINGS", str(tmp_path / "recordings"))
    monkeypatch.setenv("NIGHTCRAMP_DB", str(tmp_path / "home" / "cramplog.sqlite3"))
    return tmp_path
