"""The host session (firmware_protocol.session) with plain frames: no BLE stack, no asyncio.

Two kinds of peer: hand-made frames (exact cases: a hole, a duplicate, a refusal) and the
emulated firmware (``emulator.firmware.SensorFirmware``, itself sans-I/O) for whole
stretches of night with faults, assembled by the same ``FrameAssembler`` the recorder
uses, so the session's decisions are checked by what becomes samples and gaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from emulator.firmware import SensorFirmware
from emulator.night import make_night
from firmware_protocol import codec, gatt
from firmware_protocol.session import (
    NIGHTCRAMP,
    ClockPair,
    Configured,
    Duplicate,
    Hole,
    HostSession,
    Linked,
    Loss,
    LowBattery,
    Reboot,
    Received,
    Refused,
    Send,
    SourceEnded,
    Unlinked,
)
from recordings.assemble import FrameAssembler, recording_config

DATA, CONTROL, STATUS, CONFIG = (
    gatt.DATA_CHAR_UUID,
    gatt.CONTROL_CHAR_UUID,
    gatt.STATUS_CHAR_UUID,
    gatt.CONFIG_CHAR_UUID,
)
BOOT = 0xBEEF
CFG = codec.ConfigFrame(
    emg_fs=1000, n_ch=2, emg_bits=16, acc_fs=50, acc_range_g=8, emg_per_frame=40,
    emg_scale=0.1, ring_s=120,
)  # fmt: skip


# ------------------------------------------------------------------ hand-made frames
def frame(seq: int, boot: int = BOOT) -> bytes:
    return codec.encode_frame(
        codec.DataFrame(
            seq=seq, boot_id=boot, t_us=seq * 40_000, emg_index=seq * 40, acc_index=seq * 2,
            emg_fs=1000, acc_fs=50, emg_bits=16, acc_range_g=8, emg_scale=0.1,
            emg=np.full((40, 2), seq % 1000, np.int16), acc=np.zeros((2, 3), np.int16),
        )
    )  # fmt: skip


def status(next_seq: int, boot: int = BOOT, state: int = codec.STATE_ACQUIRING, **kw: Any) -> bytes:
    fields: dict[str, Any] = {
        "boot_id": boot, "battery_pct": 80, "state": state, "flags": 0,
        "next_seq": next_seq, "oldest_seq": max(0, next_seq - 3000),
    }  # fmt: skip
    fields.update(kw)
    return codec.encode_frame(codec.StatusFrame(**fields))


def ack(cmd: Send, result: int) -> bytes:
    return codec.encode_frame(
        codec.AckFrame(cmd.command.token, cmd.command.TYPE, result, 0)  # type: ignore[union-attr]
    )


def connect(
    s: HostSession, next_seq: int = 0, boot: int = BOOT, now: float = 0.0, **kw: Any
) -> list[Any]:
    reads = {STATUS: status(next_seq, boot, **kw), CONFIG: codec.encode_frame(CFG)}
    return s.connected(reads, now, 1_700_000_000_000_000_000 + int(now * 1e9))


def feed(s: HostSession, seqs: Iterable[int], now: float = 0.0, boot: int = BOOT) -> list[Any]:
    out: list[Any] = []
    for q in seqs:
        out += s.receive(DATA, frame(q, boot), 10**18 + q, now)
    return out


def sends(outs: list[Any]) -> list[codec.Command]:
    return [o.command for o in outs if isinstance(o, Send)]


def resends(outs: list[Any]) -> list[int]:
    return [c.from_seq for c in sends(outs) if isinstance(c, codec.Resend)]


def test_first_connection_starts_the_sensor_and_syncs_its_clock() -> None:
    s = HostSession()
    out = connect(s, 0, state=codec.STATE_IDLE)
    kinds = [type(c).__name__ for c in sends(out)]
    assert kinds == ["StartStreaming", "TimeSync"]
    assert any(isinstance(o, Linked) and o.resumed_from is None for o in out)
    assert [o.config for o in out if isinstance(o, Configured)] == [CFG]
    # every Send carries its wire bytes
    assert all(codec.decode_command(o.data) == o.command for o in out if isinstance(o, Send))


def test_in_order_frames_only_come_out_to_be_recorded() -> None:
    s = HostSession()
    connect(s)
    out = feed(s, range(200))
    assert all(isinstance(o, Received) and not o.backfill for o in out) and len(out) == 200
    assert [o.frame.seq for o in out] == list(range(200))  # decoded once, for the assembler
    assert s.max_seq == 199 and s.holes == []


def test_a_hole_is_asked_for_at_once_and_once_and_filled_by_the_resend() -> None:
    s = HostSession()
    connect(s)
    out = feed(s, [*range(10), *range(11, 15)])
    assert [o for o in out if isinstance(o, Hole)] == [Hole(BOOT, 10, 11)]
    assert resends(out) == [10]  # not again for every later frame
    # the sensor resends from 10 on: 10 fills the hole (backfill), 11-14 are duplicates
    out = feed(s, range(10, 15), now=0.1)
    rec = [o for o in out if isinstance(o, Received)]
    assert all(o.backfill for o in rec)
    assert [o.seq for o in out if isinstance(o, Duplicate)] == [11, 12, 13, 14]
    assert s.holes == [] and resends(out) == []
    assert s.stats.holes == 1 and s.stats.hole_resends == 1 and s.stats.duplicates == 4


def test_a_corrupt_notification_is_passed_on_raw_and_counted() -> None:
    s = HostSession()
    connect(s)
    bad = bytearray(frame(3))
    bad[40] ^= 0x10
    out = s.receive(DATA, bytes(bad), 5, 0.0)
    assert isinstance(out[0], Received) and out[0].frame is None and out[0].raw == bytes(bad)
    assert s.stats.corrupt == 1


def test_a_resend_storm_keeps_one_request_outstanding() -> None:
    """Corrupt notifications every few frames: one RESEND at a time, each covering every
    hole below the highest seq seen when it was sent."""
    s = HostSession()
    connect(s)
    seqs = [q for q in range(100) if q % 7 != 3]  # 14 holes, in quick succession
    out = feed(s, seqs, now=0.0)
    assert resends(out) == [3]
    # the answer: everything from 3 to 99 again -- every hole below 100 fills
    out = feed(s, range(3, 100), now=0.2)
    assert s.holes == [] and resends(out) == []
    # holes opened after the request was sent wait for it, then get one request
    s2 = HostSession()
    connect(s2)
    out = feed(s2, [0, 1, 3, 4, 6, 7], now=0.0)  # holes 2 and 5: asked from 2 at 2
    assert resends(out) == [2]
    out = feed(s2, [2, 3, 4, 5, 6, 7], now=0.1) + feed(s2, [9, 10], now=0.1)  # 8 lost later
    assert resends(out) == [8]
    assert s2.stats.hole_resends == 2


def test_an_unanswered_resend_is_repeated_after_the_timeout_only() -> None:
    s = HostSession(resend_timeout_s=2.0)
    out = connect(s) + feed(s, [0, 1, 3], now=0.0)
    assert resends(out) == [2]
    assert resends(s.tick(1.5, 0)) == []
    assert resends(feed(s, [4, 5], now=1.9)) == []
    assert resends(s.tick(2.1, 0)) == [2]


def test_a_resend_the_sensor_refuses_is_given_up_not_repeated() -> None:
    s = HostSession()
    connect(s)
    out = feed(s, [0, 1, 2, 5, 6])
    req = next(o for o in out if isinstance(o, Send))
    out = s.receive(CONTROL, ack(req, codec.ACK_BAD_VALUE), 0, 0.1)
    ref = [o for o in out if isinstance(o, Refused)]
    assert len(ref) == 1 and ref[0].command_name == "RESEND" and ref[0].result_name == "bad-value"
    assert ref[0].gave_up == ((3, 5),) and s.holes == []
    assert resends(out + s.tick(5.0, 0) + s.tick(10.0, 0) + feed(s, [7, 8], now=10.0)) == []
    # a refusal of some other command leaves the holes alone
    out = feed(s, [10], now=11.0)
    assert resends(out) == [9]
    start = Send(codec.StartStreaming(token=200), "start")
    s.receive(CONTROL, ack(start, codec.ACK_BAD_STATE), 0, 11.1)
    assert s.holes == [(9, 10)]


def test_reconnect_to_the_same_boot_resumes_from_the_first_missing_frame() -> None:
    s = HostSession()
    connect(s)
    feed(s, range(50))
    assert s.disconnected(1.0) == [Unlinked(BOOT, 49)]
    out = connect(s, next_seq=80, now=2.0)
    assert [type(c).__name__ for c in sends(out)] == ["Resend", "StartStreaming", "TimeSync"]
    assert resends(out) == [50]
    assert next(o for o in out if isinstance(o, Linked)).resumed_from == 50
    # an open hole (its request lost with the link) is resumed from instead
    out = feed(s, [*range(50, 60), 62], now=2.1)
    s.disconnected(2.2)
    out = connect(s, next_seq=90, now=3.0)
    assert resends(out) == [60]
    out = feed(s, range(60, 90), now=3.1)
    assert s.holes == [] and resends(out) == []


def test_a_reboot_forgets_the_old_boots_holes() -> None:
    """The README's combined faults: a corrupt notification just before a reboot left its
    hole to the new boot, whose sensor refused every RESEND for it (seq in its future)
    and so never got asked for its own holes: 6 refusals and 6 extra gaps."""
    s = HostSession()
    connect(s)
    out = feed(s, [*range(44_990, 45_000), 45_001])  # 45000 corrupt
    assert resends(out) == [45_000]
    s.disconnected(1.0)  # the sensor rebooted before answering
    out = connect(s, next_seq=0, boot=0x1234, now=2.0, state=codec.STATE_IDLE)
    reboot = [o for o in out if isinstance(o, Reboot)]
    assert reboot == [Reboot(BOOT, 0x1234, 45_001, 1)]
    assert resends(out) == [] and s.holes == [] and s.boot_id == 0x1234
    out = feed(s, [1, 2, 3, 5], now=2.5, boot=0x1234)  # the new boot's own hole
    assert resends(out) == [4]
    assert resends(s.tick(10.0, 0)) == [4]  # never a seq of the old boot
    # a late frame of the old boot is not a reboot back
    out = s.receive(DATA, frame(45_002), 0, 10.0)
    assert not any(isinstance(o, Reboot) for o in out) and s.stats.stale == 1


def test_a_reboot_seen_in_the_data_resets_the_sequence() -> None:
    s = HostSession()
    connect(s)
    feed(s, range(10))
    out = feed(s, [0, 1, 2], boot=0x42)
    assert [o for o in out if isinstance(o, Reboot)] == [Reboot(BOOT, 0x42, 9, 0)]
    assert s.max_seq == 2 and resends(out) == []


def test_a_loss_frame_closes_the_holes_it_covers() -> None:
    s = HostSession()
    connect(s)
    feed(s, range(10))
    s.disconnected(1.0)
    out = connect(s, next_seq=5000, now=200.0)
    assert resends(out) == [10]
    loss = codec.encode_frame(codec.LossFrame(BOOT, 10, 2000, 400, 80000, 20, 4000, 400_000))
    out = s.receive(DATA, loss, 0, 200.1)
    assert out[0] == Received(loss, 0, codec.decode_frame(loss))
    assert [o for o in out if isinstance(o, Loss)] == [Loss(BOOT, 10, 2000, "ring")]
    out = feed(s, range(2000, 2010), now=200.2)
    assert s.holes == [] and not any(isinstance(o, Hole) for o in out)


def test_source_end_is_reported_once_everything_has_arrived() -> None:
    s = HostSession()
    connect(s)
    feed(s, [0, 1, 2, 4])
    end = status(6, flags=codec.FLAG_SOURCE_END)
    assert not any(isinstance(o, SourceEnded) for o in s.receive(STATUS, end, 0, 0.0))
    assert not any(isinstance(o, SourceEnded) for o in feed(s, [5]))  # 3 still missing
    out = feed(s, [3])
    assert [o for o in out if isinstance(o, SourceEnded)] == [SourceEnded()]
    assert not any(isinstance(o, SourceEnded) for o in feed(s, [3]))
    assert not any(
        isinstance(o, SourceEnded)
        for o in HostSession(stop_at_source_end=False).receive(STATUS, end, 0, 0.0)
    )


def test_status_time_sync_and_low_battery_are_plain_values() -> None:
    s = HostSession(time_sync_every_s=60.0)
    out = connect(s, now=0.0)
    assert len([c for c in sends(out) if isinstance(c, codec.TimeSync)]) == 1
    assert sends(s.tick(30.0, 0)) == []
    sync = [c for c in sends(s.tick(60.0, 123_456_789_000)) if isinstance(c, codec.TimeSync)]
    assert [c.host_us for c in sync] == [123_456_789]
    reply = codec.encode_frame(codec.SyncFrame(BOOT, 123_456_789, 555))
    assert s.receive(CONTROL, reply, 123_456_800_000, 60.01) == [
        ClockPair(BOOT, 123_456_789_000, 123_456_800_000, 555)
    ]
    low = status(10, battery_pct=14, flags=codec.FLAG_LOW_BATTERY)
    out = s.receive(STATUS, low, 7, 61.0)
    assert out[0] == Received(low, 7, codec.decode_frame(low))  # kept in the recording
    assert [o for o in out if isinstance(o, LowBattery)] == [LowBattery(14)]
    assert not any(isinstance(o, LowBattery) for o in s.receive(STATUS, low, 0, 62.0))
    assert s.stop() and s.disconnected(63.0) and s.stop() == [] and s.tick(200.0, 0) == []


def test_configure_is_sent_only_to_an_idle_sensor() -> None:
    want = codec.Configure(emg_fs=2000, n_ch=1, acc_fs=100)
    s = HostSession(configure=want)
    out = connect(s, state=codec.STATE_IDLE)
    names = [type(c).__name__ for c in sends(out)]
    assert names[:3] == ["Configure", "ReadConfig", "StartStreaming"]
    assert not any(isinstance(o, Configured) for o in out)  # the reply to READ_CONFIG is
    s2 = HostSession(configure=want)
    assert "Configure" not in [type(c).__name__ for c in sends(connect(s2))]  # acquiring


def test_the_profile_recognises_our_sensor_only() -> None:
    assert NIGHTCRAMP.recognises("NightCramp-1A2B", [])
    assert NIGHTCRAMP.recognises(None, [gatt.SERVICE_UUID.upper()])
    assert not NIGHTCRAMP.recognises("BITalino-12-34", ["0000180a-0000-1000-8000-00805f9b34fb"])
    assert isinstance(NIGHTCRAMP.new_session(), HostSession)
    assert set(NIGHTCRAMP.read_on_connect) == {STATUS, CONFIG}


# ------------------------------------------------------------------ against the firmware
@dataclass
class Night:
    """A stretch of night between the emulated firmware and a session, assembled."""

    items: list[Any] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)
    commands: list[codec.Command] = field(default_factory=list)
    asm: FrameAssembler | None = None


def run_night(
    fw: SensorFirmware,
    dur_s: float,
    *,
    drops: tuple[tuple[float, float], ...] = (),
    reboots: tuple[float, ...] = (),
    step_s: float = 0.1,
) -> Night:
    """Step the firmware in sensor time; its notifications go to the session at once,
    the session's commands to the firmware at once (a link without latency)."""
    s = HostSession()
    night = Night(asm=FrameAssembler(config=recording_config(codec.decode_frame(fw.read_config()))))
    assert night.asm is not None
    base = 1_700_000_000_000_000_000
    link = [True]

    def act(outs: list[Any], t: float) -> None:
        for o in outs:
            if isinstance(o, Received):
                night.items += night.asm.push(o.frame if o.frame is not None else o.raw, o.rx_ns)
            elif isinstance(o, Send):
                if link[0]:
                    night.commands.append(o.command)
                    for raw in fw.on_control(o.data, t * 1e6):
                        act(s.receive(CONTROL, raw, base + int(t * 1e9), t), t)
            else:
                night.outputs.append(o)

    def up(t: float) -> None:
        link[0] = True
        reads = {STATUS: fw.read_status(), CONFIG: fw.read_config()}
        act(s.connected(reads, t, base + int(t * 1e9)), t)

    up(0.0)
    down_until = -1.0
    pending_drops, pending_reboots = sorted(drops), sorted(reboots)
    k = 0
    while True:
        k += 1
        t = k * step_s
        if t > dur_s + 1e-9 and not s.holes:  # past the end: once the last holes are filled
            break
        if pending_reboots and t >= pending_reboots[0]:
            pending_reboots.pop(0)
            fw.reboot(t * 1e6)
            link[0], down_until = False, t + 1.0
            act(s.disconnected(t), t)
        if link[0] and pending_drops and t >= pending_drops[0][0]:
            fw.on_disconnect()
            link[0], down_until = False, t + pending_drops.pop(0)[1]
            act(s.disconnected(t), t)
        frames = fw.advance_to(t * 1e6)
        if not link[0]:
            if t >= down_until:
                up(t)
            continue
        for i, raw in enumerate(frames):
            act(s.receive(DATA, raw, base + int(t * 1e9) + i * 1000, t), t)
        for raw in fw.pop_status():
            act(s.receive(STATUS, raw, base + int(t * 1e9), t), t)
        act(s.tick(t, base + int(t * 1e9)), t)
    night.items += night.asm.finish()
    return night


def _fw(dur_s: float, **kw: Any) -> SensorFirmware:
    return SensorFirmware(make_night(3, dur_s + 30.0), seed=3, **kw)


def _gaps(n: Night) -> list[Any]:
    return [g for g in n.items if not hasattr(g, "emg")]


def test_firmware_night_with_corruption_is_repaired_completely() -> None:
    n = run_night(_fw(120.0, corrupt_every=37), 120.0)
    assert n.asm is not None and n.asm.stats["corrupt"] >= 70
    assert _gaps(n) == [] and not any(isinstance(o, Refused) for o in n.outputs)
    assert n.asm.stats["held_max"] < 30  # holes were filled at once, not after the hold


def test_firmware_drop_within_the_ring_is_backfilled() -> None:
    n = run_night(_fw(200.0), 200.0, drops=((50.0, 40.0),))
    assert _gaps(n) == []
    # resumed after the last frame received: 1247 frames of 40 ms by the step before 50 s
    assert [c.from_seq for c in n.commands if isinstance(c, codec.Resend)] == [1247]


def test_firmware_drop_longer_than_the_ring_is_one_loss_of_the_right_length() -> None:
    n = run_night(_fw(400.0), 400.0, drops=((50.0, 200.0),))
    gaps = _gaps(n)
    assert len(gaps) == 1 and gaps[0].reason == "sensor-loss"
    # lost: from the drop to what the 120-s ring still held at the reconnect
    assert gaps[0].start_s == pytest.approx(50.0 - 0.1, abs=0.05)  # the step before the drop
    assert gaps[0].end_s == pytest.approx(250.0 - 120.0, abs=0.1)
    assert len([o for o in n.outputs if isinstance(o, Loss)]) == 1


def test_firmware_combined_faults_give_the_reboot_gap_only() -> None:
    """--drop, --reboot and --corrupt-every together: the frame corrupted just before
    the reboot (its RESEND still unanswered) must not leak into the new boot."""
    fw = _fw(300.0, corrupt_every=500, drift_ppm=80.0, corrupt_at={2995})
    n = run_night(fw, 300.0, drops=((30.0, 10.0),), reboots=(120.0,))
    assert not any(isinstance(o, Refused) for o in n.outputs)
    assert [o.open_holes for o in n.outputs if isinstance(o, Reboot)] == [1]
    # the one corrupt frame the reboot took with it is lost (a 40-ms gap), then the reboot
    gaps = _gaps(n)
    assert [g.reason for g in gaps] == ["link", "reboot"], gaps
    assert gaps[0].duration_s == pytest.approx(0.04)
    assert n.asm is not None and n.asm.stats["corrupt"] >= 3
