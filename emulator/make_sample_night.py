"""Make ``recordings/sample-night/``: a synthetic night recorded through the emulated sensor.

The night (``emulator.night.make_night``: a cramp and hard negatives) is fed to the
emulated firmware (``emulator.firmware.SensorFirmware``); its notifications are
"received" over an emulated link (latency, drop-outs with backfill, one drop longer than
the sensor's 120-s ring so a LOSS frame follows, a reboot, bit errors) and written by
``recordings.store.RecordingWriter`` exactly as the live recorder does.  The host side is
the live recorder's: :class:`firmware_protocol.session.HostSession` decides what to ask
the sensor for (start, resends of holes, resume after a reconnect), and the same
``FrameAssembler`` turns the frames into samples and gaps.

Run from the repository root::

    .venv/bin/python -m emulator.make_sample_night            # -> recordings/sample-night
    .venv/bin/python -m emulator.make_sample_night --minutes 5 --out /tmp/x   # a shorter one

:func:`record_emulated` is also used by the tests (live run vs replay).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from detector.stream import Chunk, Gap
from emulator.firmware import SensorFirmware
from emulator.night import make_night
from firmware_protocol import ProtocolError, codec, gatt
from firmware_protocol.session import HostSession, Reboot, Received, Send
from recordings.assemble import FrameAssembler, recording_config
from recordings.store import RecordingWriter

STEP_S = 0.1  # emulated link service interval (s)


@dataclass
class Emulated:
    folder: Path
    recording_id: str
    items: list[Chunk | Gap] = field(default_factory=list)
    assembler: FrameAssembler | None = None
    truth: list[Any] = field(default_factory=list)
    frames: int = 0


def record_emulated(
    root: Path,
    *,
    seed: int = 7,
    duration_s: float = 1800.0,
    drops: tuple[tuple[float, float], ...] = ((300.0, 20.0), (1080.0, 150.0)),
    reboot_at: float | None = 1500.0,
    corrupt_every: int = 997,
    start_utc: datetime | None = None,
    on_item: Callable[[Chunk | Gap, Any], None] | None = None,
    recording_id: str | None = None,
    night_kw: dict[str, Any] | None = None,
    folder_name: str | None = None,
) -> Emulated:
    """Record an emulated night into a new folder under ``root``; return what the live side saw.

    ``folder_name``: the folder's name (one sensor's folder of a night of several sensors,
    ``recordings.night``: the leg's side) instead of ``night-...``.
    """
    start_utc = start_utc or datetime(2026, 11, 25, 23, 10, 0, tzinfo=UTC)
    night = make_night(seed, duration_s, start_utc=start_utc, **(night_kw or {}))
    fw = SensorFirmware(night, seed=seed, corrupt_every=corrupt_every, drift_ppm=30.0)
    cfg = codec.decode_frame(fw.read_config())
    config = recording_config(cfg, emg_sites=night.layout.emg_sites, side=night.layout.side)
    device = {"name": fw.name, "address": "EM:UL:AT:ED:00:01", **fw.device_info}
    w = RecordingWriter.create(
        root,
        device=device,
        config=config,
        recording_id=recording_id,
        created=start_utc,
        folder_name=folder_name,
    )
    asm = FrameAssembler(config=config, device=device)
    out = Emulated(w.folder, w.recording_id, assembler=asm, truth=list(night.truth))
    rng = np.random.default_rng(seed)
    base_ns = int(start_utc.timestamp() * 1e9)
    link_up = True
    down_until = -1.0
    reboot_pending = reboot_at
    # the host side is the live recorder's: the same sans-I/O session decides what to ask
    # for; here its commands go straight to the emulated firmware (timers in sensor time)
    sess = HostSession()

    def act(outs: list[Any], t: float) -> None:
        for o in outs:
            if isinstance(o, Received):
                w.append_frame(o.raw, o.rx_ns, backfill=o.backfill)
                out.frames += 1
                for item in asm.push(o.frame if o.frame is not None else o.raw, o.rx_ns):
                    out.items.append(item)
                    if on_item is not None:
                        on_item(item, asm.layout)
            elif isinstance(o, Send) and link_up:
                # ACK / SYNC / CONFIG come back on the control characteristic
                rx = base_ns + int(t * 1e9)
                for raw in fw.on_control(o.data, t * 1e6):
                    act(sess.receive(gatt.CONTROL_CHAR_UUID, raw, rx, t), t)
            elif isinstance(o, Reboot):
                w.note("reboot-seen", old_boot=o.old_boot, new_boot=o.new_boot, t_s=t)

    def connect(t: float) -> None:
        reads = {gatt.STATUS_CHAR_UUID: fw.read_status(), gatt.CONFIG_CHAR_UUID: fw.read_config()}
        act(sess.connected(reads, t, base_ns + int(t * 1e9)), t)

    def receive(frames: list[bytes], t: float) -> None:
        for raw in frames:
            rx = base_ns + int((t + float(rng.uniform(0.005, 0.030))) * 1e9)
            act(sess.receive(gatt.DATA_CHAR_UUID, raw, rx, t), t)

    connect(0.0)
    w.note("connect", t_s=0.0)
    t = 0.0
    n_steps = int(round(duration_s / STEP_S)) + 20
    for k in range(1, n_steps + 1):
        t = k * STEP_S
        if reboot_pending is not None and t >= reboot_pending:
            fw.reboot(t * 1e6)
            w.note("reboot-suspected", t_s=t)
            link_up, down_until = False, t + 4.0
            act(sess.disconnected(t), t)
            reboot_pending = None
        for d0, dd in drops:
            if link_up and d0 <= t < d0 + STEP_S:
                fw.on_disconnect()
                link_up, down_until = False, d0 + dd
                act(sess.disconnected(t), t)
                w.note("disconnect", t_s=t)
        frames = fw.advance_to(t * 1e6)
        if not link_up:
            if t >= down_until:
                link_up = True
                w.note("reconnect", t_s=t)
                connect(t)
            continue
        receive(frames, t)
        act(sess.tick(t, base_ns + int(t * 1e9)), t)
        if k % max(1, int(round(1.0 / STEP_S))) == 0:
            w.flush()  # a real-time writer flushes each wall second: do it each sensor second
        if fw.exhausted and not frames and fw.pending_backfill == 0:
            break
    for item in asm.finish():
        out.items.append(item)
        if on_item is not None:
            on_item(item, asm.layout)
    for st in fw.pop_status():
        try:
            s = codec.decode_frame(st)
            w.note("status", battery_pct=s.battery_pct, flags=s.flags, boot_id=s.boot_id)
        except ProtocolError:
            pass
    w.note("stats", **{k: v for k, v in asm.stats.items()})
    w.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "recordings" / "sample-night")
    a = ap.parse_args()
    tmp = a.out.with_name(a.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dur = a.minutes * 60
    res = record_emulated(
        tmp,
        seed=a.seed,
        duration_s=dur,
        drops=((dur * 0.17, 20.0), (dur * 0.6, 150.0)),
        reboot_at=dur * 0.83,
        recording_id="5a3b1e00-0000-4000-8000-000000000001",
        night_kw={"cramps": 1, "hard": True, "walks": 1, "stretches": 1},
    )
    # one folder, fixed name: move the night folder's contents to --out
    shutil.rmtree(a.out, ignore_errors=True)
    shutil.move(str(res.folder), str(a.out))
    shutil.rmtree(tmp, ignore_errors=True)
    size = sum(p.stat().st_size for p in a.out.iterdir())
    print(f"{a.out}: {res.frames} frames, {size / 1e6:.1f} MB; truth:")
    for ev in res.truth:
        print(
            f"  {ev.kind:9s} {getattr(ev, 'subtype', ''):14s} {ev.start_s:8.1f}-{ev.end_s:8.1f} s"
        )
    print("assembler:", res.assembler.stats if res.assembler else {})
    _ = timedelta


if __name__ == "__main__":
    main()
