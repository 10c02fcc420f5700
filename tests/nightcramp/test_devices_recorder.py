"""The production recorder with each off-the-shelf kind, through bleak over bumble.

A night arrives complete and replays to the same events; a link drop and a lost packet
become gaps of their length; a reboot is survived; the recorder never connects to a
device of another kind or another address.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from detector.stream import Gap
from emulator.virtual import LocalAir
from emulator.virtual.devices import DeviceFaults, make_device, night_for
from firmware_protocol.devices.host import session_profile
from nightcramp.emulated import run_emulated_device
from nightcramp.recorder import Recorder
from recordings.errors import UserError
from recordings.export import open_source

KINDS = ["bitalino", "ganglion"]


def _record(
    tmp_path: Path,
    kind: str,
    seconds: float,
    faults: DeviceFaults | None = None,
    speed: float = 20.0,
    seed: int = 21,
    **night_kw,
):
    night = night_for(kind, seed, seconds, **night_kw)
    run = asyncio.run(
        asyncio.wait_for(
            run_emulated_device(
                kind,
                night,
                speed=speed,
                duration_s=seconds,
                faults=faults,
                out_dir=tmp_path / "rec",
                db=tmp_path / "log.sqlite3",
                status_stream=io.StringIO(),
            ),
            240,
        )
    )
    return run, night


@pytest.mark.parametrize("kind", KINDS)
def test_a_night_arrives_complete_and_replays_to_the_same_events(tmp_path: Path, kind: str) -> None:
    run, night = _record(tmp_path, kind, 60.0, seed=5)
    rec = run.recorder
    asm = rec.assembler.stats
    assert abs(rec._timeline_s - 60.0) < 0.05
    assert asm["link_gap_s"] == 0.0 and asm["segments"] == 1
    if kind == "ganglion":  # the restart packet only; the unsent samples are held, counted
        assert asm["gap_samples"] == 2 and asm["held"] == int(60 * 200 / 201)
    else:
        assert asm["gap_samples"] == 0
    meta = json.loads((rec.recording_path / "meta.json").read_text())
    assert meta["device"]["kind"] == kind and meta["config"]["kind"] == kind
    assert meta["device"]["firmware"] and meta["config"]["channel_map"]["emg"]
    live = [(e.kind, round(e.start_s, 3), round(e.end_s, 3)) for e in rec.result.events]
    src = open_source(rec.recording_path)
    from detector.detect import Detector

    det = Detector(src.layout)
    for item in src.chunks():
        det.push(item)
    replay = [(e.kind, round(e.start_s, 3), round(e.end_s, 3)) for e in det.finish().events]
    assert replay == live
    assert len(night.truth) == 0 or live  # the night's movements are seen


@pytest.mark.slow
def test_a_ganglion_night_with_a_cramp(tmp_path: Path) -> None:
    """Ten minutes at 200 Hz with a 40-s cramp (204-244 s): caught live, at its place."""
    run, night = _record(
        tmp_path,
        "ganglion",
        600.0,
        speed=60.0,
        seed=4,
        cramps=1,
        cramp_durations=(40.0,),
        walks=0,
        plm_series=0,
    )
    (truth,) = [t for t in night.truth if t.kind == "cramp"]
    cramps = [e for e in run.recorder.result.events if e.kind == "cramp"]
    assert len(cramps) == 1
    assert abs(cramps[0].start_s - truth.start_s) < 3.0 and abs(cramps[0].end_s - truth.end_s) < 5.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_drop_and_a_lost_packet_become_gaps_of_their_length(tmp_path: Path, kind: str) -> None:
    run, _ = _record(tmp_path, kind, 40.0, DeviceFaults(drops=[(10.0, 6.0)], lose=[25.0]))
    rec = run.recorder
    gaps = [g for g in rec.assembler.gaps if g.reason == "link"]
    fs = 1000.0 if kind == "bitalino" else 200.0
    drop = [g for g in gaps if g.duration_s > 1.0]
    lost = [g for g in gaps if g.duration_s <= 1.0]
    assert len(drop) == 1 and 5.95 <= drop[0].duration_s < 6.6
    assert abs(drop[0].start_s - 10.0) < 0.1
    assert [round(g.duration_s * fs) for g in lost] == [1 if kind == "bitalino" else 2]
    assert abs(lost[0].start_s - 25.0) < 0.2
    assert rec.stats.disconnects == 1 and rec.stats.connections == 2
    assert abs(rec._timeline_s - 40.0) < 0.1
    notes = (rec.recording_path / "notes.jsonl").read_text().splitlines()
    assert sum(json.loads(n)["kind"] == "segment" for n in notes) == 2
    # the replay puts the drop where the live run did
    replay_gaps = [g for g in open_source(rec.recording_path).chunks() if isinstance(g, Gap)]
    assert [
        (round(g.start_s, 3), round(g.end_s, 3)) for g in replay_gaps if g.reason == "link"
    ] == [(round(g.start_s, 3), round(g.end_s, 3)) for g in gaps]


@pytest.mark.parametrize("kind", KINDS)
def test_a_reboot_is_survived(tmp_path: Path, kind: str) -> None:
    run, _ = _record(tmp_path, kind, 30.0, DeviceFaults(reboots=[12.0]))
    rec = run.recorder
    assert rec.stats.connections == 2 and rec.assembler.stats["segments"] == 2
    (g,) = [g for g in rec.assembler.gaps if g.reason == "link" and g.duration_s > 0.5]
    assert 0.95 <= g.duration_s < 1.6 and abs(g.start_s - 12.0) < 0.1  # away 1 s + reconnect
    assert abs(rec._timeline_s - 30.0) < 0.1


def test_never_connects_to_another_kind_or_address(tmp_path: Path) -> None:
    async def main():
        air = LocalAir()
        bit = make_device("bitalino", night_for("bitalino", 1, 30.0))
        gang = make_device("ganglion", night_for("ganglion", 1, 30.0))
        for d in (bit, gang):
            await d.start(air)
        errors = []
        try:
            for target, kind in ((bit.address, "ganglion"), (gang.name, "bitalino")):
                rec = Recorder(
                    target,
                    out_dir=tmp_path / "rec",
                    db=tmp_path / "log.sqlite3",
                    scanner_kwargs=air.scanner_kwargs(),
                    client_kwargs=air.client_kwargs(),
                    connect_timeout_s=1.5,
                    status_stream=io.StringIO(),
                    profile=session_profile(kind),
                )
                with pytest.raises(UserError) as ei:
                    await rec.run()
                errors.append(str(ei.value))
        finally:
            for d in (bit, gang):
                await d.stop()
            await air.close()
        return bit, gang, errors

    bit, gang, errors = asyncio.run(asyncio.wait_for(main(), 60))
    assert bit.stats["connections"] == 0 and gang.stats["connections"] == 0
    assert "not a ganglion sensor" in errors[0]
    assert "not found" in errors[1] or "not a bitalino" in errors[1]
