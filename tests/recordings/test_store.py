"""Native recording: permissions, round trip, rotation, torn tails, full disk, kill -9."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recordings.errors import UserError
from recordings.store import (
    FORMAT_VERSION,
    RecordingWriter,
    iter_frames,
    list_parts,
    open_recording,
)

REPO = Path(__file__).resolve().parents[2]


def _payload(i: int) -> bytes:
    return i.to_bytes(4, "little") + bytes([i % 251]) * (40 + i % 60)


def _read_all(folder: Path) -> list[tuple[int, bytes, bool]]:
    info = open_recording(folder)
    out = []
    for b in iter_frames(info):
        out.extend(
            zip(
                b.column("rx_ns").to_pylist(),
                b.column("raw").to_pylist(),
                b.column("backfill").to_pylist(),
                strict=True,
            )
        )
    return out


def _write(root: Path, n: int, flush_every: int = 50, **kw) -> Path:  # noqa: ANN003
    w = RecordingWriter.create(
        root, device={"name": "NightCramp-TEST"}, config={"emg_fs": 1000}, **kw
    )
    for i in range(n):
        w.append_frame(_payload(i), 1_000 + i, backfill=(i % 7 == 0))
        if (i + 1) % flush_every == 0:
            w.flush()
    w.note("status", battery_pct=80)
    w.close()
    return w.folder


def test_round_trip_permissions_and_meta(tmp_path: Path) -> None:
    folder = _write(tmp_path / "rec", 300, background_flush=False)
    assert folder.name.startswith("night-")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "rec").stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["device"]["name"] == "NightCramp-TEST"
    assert len(meta["recording_id"]) == 36
    got = _read_all(folder)
    assert got == [(1_000 + i, _payload(i), i % 7 == 0) for i in range(300)]
    info = open_recording(folder)
    assert info.closed_cleanly and not info.recovered
    assert [n["kind"] for n in info.notes] == ["start", "status", "close"]
    assert all(p.complete and not p.torn for p in info.parts)


def test_parts_rotate_and_read_in_order(tmp_path: Path) -> None:
    w = RecordingWriter.create(tmp_path, device={}, config={}, part_s=0.0, background_flush=False)
    for i in range(200):
        w.append_frame(_payload(i), i)
        if i % 20 == 19:
            w.flush()
    w.close()
    assert len(list_parts(w.folder)) == 10
    assert [r for r, _, _ in _read_all(w.folder)] == list(range(200))


def test_torn_tail_at_random_offsets_is_recovered(tmp_path: Path) -> None:
    folder = _write(tmp_path, 400, flush_every=40, background_flush=False)
    part = list_parts(folder)[0]
    data = part.read_bytes()
    notes = (folder / "notes.jsonl").read_bytes()
    full = _read_all(folder)
    rng = random.Random(4)
    for cut in sorted(rng.sample(range(1, len(data)), 40)):
        part.write_bytes(data[:cut])
        (folder / "notes.jsonl").write_bytes(notes)
        got = _read_all(folder)  # never raises
        assert got == full[: len(got)], cut  # a prefix, identical
        assert len(got) % 40 == 0  # whole batches only
        info = open_recording(folder)
        if cut < len(data) - 8:
            assert info.recovered, cut
            assert any(n["kind"] == "recovered" for n in info.notes)


def test_torn_notes_line_is_skipped(tmp_path: Path) -> None:
    folder = _write(tmp_path, 10, background_flush=False)
    with open(folder / "notes.jsonl", "ab") as f:
        f.write(b'{"kind": "reconn')
    info = open_recording(folder)
    assert [n["kind"] for n in info.notes][:3] == ["start", "status", "close"]
    assert any("unreadable" in r for r in info.recovered)


class _DiskFull:
    """A real write path (os.write) that fails with ENOSPC once ``budget`` bytes are used."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def __call__(self, fd: int, data: bytes) -> int:
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        chunk = data[: self.budget]
        n = os.write(fd, chunk)
        self.budget -= n
        return n


def test_disk_full_stops_with_user_error_and_keeps_data(tmp_path: Path) -> None:
    w = RecordingWriter.create(
        tmp_path, device={}, config={}, write_fn=_DiskFull(20_000), background_flush=False
    )
    written = 0
    with pytest.raises(UserError) as ei:
        for i in range(10_000):
            w.append_frame(_payload(i), i)
            if i % 25 == 24:
                w.flush()
                written = i + 1
    msg = str(ei.value)
    assert str(w.folder) in msg and "disk is full" in msg and "free some disk space" in msg
    assert "\n" not in msg
    with pytest.raises(UserError):  # stays stopped
        w.append_frame(b"x", 1)
    with pytest.raises(UserError):
        w.close()
    got = _read_all(w.folder)
    assert len(got) >= written - 25 and len(got) > 0
    assert got == [(i, _payload(i), False) for i in range(len(got))]


def test_not_a_recording_and_newer_format(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a nightcramp recording"):
        open_recording(tmp_path / "empty")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(UserError, match="not a recording folder"):
        open_recording(tmp_path / "f.txt")
    with pytest.raises(UserError, match="no such file"):
        open_recording(tmp_path / "missing")
    folder = _write(tmp_path / "r", 5, background_flush=False)
    meta = json.loads((folder / "meta.json").read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="newer than this nightcramp"):
        open_recording(folder)
    (folder / "meta.json").write_text("{not json")
    with pytest.raises(UserError, match="unreadable metadata"):
        open_recording(folder)


WRITER_SCRIPT = r"""
import sys, time
from recordings.store import RecordingWriter
w = RecordingWriter.create(sys.argv[1], device={"name": "kill-test"}, config={})
print(w.folder, flush=True)
i = 0
while True:
    w.append_frame(i.to_bytes(4, "little") + b"\x55" * 100, time.time_ns())
    i += 1
    time.sleep(0.002)
"""


def test_kill_9_loses_at_most_the_last_second(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        folder = Path(proc.stdout.readline().strip())  # type: ignore[union-attr]
        time.sleep(2.5)
        t_kill = time.time_ns()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    got = _read_all(folder)
    assert len(got) > 100
    idx = [int.from_bytes(raw[:4], "little") for _, raw, _ in got]
    assert idx == list(range(len(got)))  # the rest is identical, in order
    assert all(raw[4:] == b"\x55" * 100 for _, raw, _ in got)
    lost_s = (t_kill - got[-1][0]) / 1e9
    assert lost_s <= 1.0, f"{lost_s:.3f} s of frames lost"
    info = open_recording(folder)
    assert not info.closed_cleanly


def test_disk_full_on_a_real_tiny_filesystem(tmp_path: Path) -> None:
    """The same, on a real 256 kB tmpfs (needs mount rights: root in a container)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        w = RecordingWriter.create(mnt, device={}, config={}, background_flush=False)
        with pytest.raises(UserError, match="disk is full") as ei:
            for i in range(100_000):
                w.append_frame(_payload(i), i)
                if i % 25 == 24:
                    w.flush()
        assert str(w.folder) in str(ei.value)
        with pytest.raises(UserError):
            w.close()  # files released, so the filesystem can be unmounted
        got = _read_all(w.folder)
        assert len(got) > 500
        assert got == [(i, _payload(i), False) for i in range(len(got))]
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_background_flush_writes_idle_frames_within_a_second(tmp_path: Path) -> None:
    w = RecordingWriter.create(tmp_path, device={}, config={})
    try:
        for i in range(10):
            w.append_frame(_payload(i), i)
        time.sleep(1.3)  # no more appends: the timer must flush on its own
        got = _read_all(w.folder)
        assert [r for r, _, _ in got] == list(range(10))
    finally:
        w.close()
