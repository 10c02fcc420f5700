"""Atomic replacement of files (recordings.files): small ones at once, streamed ones
(EDF, Parquet, the HTML page) through a temporary sibling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recordings import files


def test_write_atomic_replaces_owner_only(tmp_path: Path) -> None:
    p = tmp_path / "meta.json"
    p.write_text("old")
    files.write_atomic(p, b"new")
    assert p.read_bytes() == b"new"
    assert p.stat().st_mode & 0o777 == 0o600
    assert [q.name for q in tmp_path.iterdir()] == ["meta.json"]


def test_atomic_target_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    p = tmp_path / "night.edf"
    p.write_bytes(b"the old export")
    with pytest.raises(RuntimeError), files.atomic_target(p) as tmp:
        tmp.write_bytes(b"half of the new one")
        assert not p.read_bytes().startswith(b"half")
        raise RuntimeError("disk full")
    assert p.read_bytes() == b"the old export"
    assert [q.name for q in tmp_path.iterdir()] == ["night.edf"]


def test_atomic_target_publishes_only_at_the_end(tmp_path: Path) -> None:
    p = tmp_path / "x.parquet"
    with files.atomic_target(p) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"1234")
        assert not p.exists()
    assert p.read_bytes() == b"1234" and p.stat().st_mode & 0o777 == 0o600


def test_every_writer_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The EDF and Parquet exports and the HTML page leave no half file when they fail."""
    from recordings.edf import write_edf
    from recordings.export import write_parquet
    from recordings.store import RecordingSource

    sample = Path(__file__).resolve().parents[2] / "recordings" / "sample-night"
    real_replace = os.replace
    calls: list[str] = []

    def spy(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
        calls.append(Path(b).name)
        real_replace(a, b)

    monkeypatch.setattr(files.os, "replace", spy)
    write_edf(RecordingSource(sample), tmp_path / "s.edf")
    write_parquet(RecordingSource(sample), tmp_path / "s.parquet")
    assert calls == ["s.edf", "s.parquet"]
    assert sorted(q.name for q in tmp_path.iterdir()) == ["s.edf", "s.parquet"]
