"""Bonding and link security through bleak over bumble, with bumble's SMP pairing.

Real parts only: the emulated sensor (P's firmware behind a bumble peripheral), bleak's
public ``BleakClient`` with the bumble backend, the production recorder, the CLI.  A
second host is a second :class:`LocalAir` on the same radio link (its own controller,
address and key store), as a neighbour's phone would be.
"""

from __future__ import annotations

import asyncio
import io
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bleak import BleakClient
from bleak.exc import BleakGATTProtocolError
from click.testing import CliRunner

from emulator.night import make_night
from emulator.virtual import LocalAir
from emulator.virtual.backend import BondMismatchError, PairingRefusedError
from emulator.virtual.security import BondStore, SensorSecurity
from emulator.virtual.sensor import EmulatedSensor, Faults, make_firmware
from firmware_protocol import codec, gatt
from nightcramp.cli import cli
from nightcramp.emulated import run_emulated
from nightcramp.recorder import Recorder
from recordings.errors import UserError

REPO = Path(__file__).resolve().parents[1]
ADDR = "C2:00:00:00:5E:01"
NAME = "NightCramp-5E01"
START = codec.encode_command(codec.StartStreaming(token=9))


def _sensor(seed: int = 1, io_cap: str = "none", address: str = ADDR) -> EmulatedSensor:
    return EmulatedSensor(
        make_firmware(make_night(seed, 120.0), Faults()),
        name=NAME,
        address=address,
        speed=50.0,
        security=SensorSecurity(io=io_cap),
    )


def _neighbour(air: LocalAir, keystore: BondStore | None = None) -> LocalAir:
    """Another host on the same radio link: its own controller, address and keys."""
    other = LocalAir(keystore)
    other.link = air.link
    return other


async def _status(client: BleakClient) -> codec.StatusFrame:
    st = codec.decode_frame(bytes(await client.read_gatt_char(gatt.STATUS_CHAR_UUID)))
    assert isinstance(st, codec.StatusFrame)
    return st


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_numeric_comparison_bond_is_kept_owner_only_and_reused(tmp_path: Path) -> None:
    keys = tmp_path / "home" / "keys.json"

    async def main() -> tuple[list[int], list[int], str | None, int]:
        air = LocalAir(BondStore(keys))
        sensor = _sensor(io_cap="display")
        await sensor.start(air)
        seen: list[int] = []

        def compare(n: int) -> bool:
            seen.append(n)
            return True

        client = BleakClient(ADDR, **air.client_kwargs())
        await client.connect()
        with pytest.raises(BleakGATTProtocolError):
            await _status(client)  # before bonding: refused
        await client.pair(compare=compare)
        method = client._backend.pairing_method
        await _status(client)
        await client.disconnect()
        await air.close()
        # the next night: a new host process, the same key file
        air2 = LocalAir(BondStore(keys))
        air2.link = air.link
        again = BleakClient(ADDR, **air2.client_kwargs())
        await again.connect()
        await _status(again)
        await again.disconnect()
        await sensor.stop()
        await air2.close()
        return seen, sensor.security.shown, method, sensor.security.pairings

    host_saw, sensor_showed, method, pairings = asyncio.run(main())
    assert len(host_saw) == 1 and host_saw == sensor_showed  # both showed one number
    assert method == "numeric-comparison"
    assert pairings == 1  # the second night reused the keys
    store = BondStore(keys)
    k = store.keys(ADDR)
    assert k is not None and k.ltk is not None and k.ltk.authenticated
    assert _mode(keys) == 0o600 and _mode(keys.parent) == 0o700


def test_refusing_the_number_bonds_nothing() -> None:
    async def main() -> tuple[list[str], list[str]]:
        air = LocalAir()
        sensor = _sensor(io_cap="display")
        await sensor.start(air)
        client = BleakClient(ADDR, **air.client_kwargs())
        await client.connect()
        with pytest.raises(PairingRefusedError):
            await client.pair(compare=lambda _n: False)
        await sensor.stop()
        await air.close()
        return air.keystore.addresses(), sensor.security.store.addresses()

    assert asyncio.run(main()) == ([], [])


def test_an_unbonded_central_can_neither_command_nor_listen() -> None:
    async def main() -> dict[str, Any]:
        air = LocalAir()
        sensor = _sensor()
        await sensor.start(air)
        owner = BleakClient(ADDR, **air.client_kwargs(pair=True))
        await owner.connect()  # bonds on first use (Just Works: no display)
        await owner.disconnect()

        stranger_air = _neighbour(air)
        stranger = BleakClient(ADDR, **stranger_air.client_kwargs())
        await stranger.connect()
        got: list[bytes] = []
        await stranger.start_notify(gatt.DATA_CHAR_UUID, lambda _c, d: got.append(bytes(d)))
        errors = []
        for attempt in (
            lambda: stranger.write_gatt_char(gatt.CONTROL_CHAR_UUID, START, response=True),
            lambda: stranger.read_gatt_char(gatt.CONFIG_CHAR_UUID),
            lambda: stranger.read_gatt_char(gatt.STATUS_CHAR_UUID),
        ):
            with pytest.raises(BleakGATTProtocolError) as e:
                await attempt()
            errors.append(int(e.value.code))
        with pytest.raises(PairingRefusedError):
            await stranger.pair()  # the sensor holds its bond: no second one
        await asyncio.sleep(0.3)
        state = sensor.fw.state
        await stranger.disconnect()

        owner2 = BleakClient(ADDR, **air.client_kwargs())
        await owner2.connect()
        await owner2.write_gatt_char(gatt.CONTROL_CHAR_UUID, START, response=True)
        mine: list[bytes] = []
        await owner2.start_notify(gatt.DATA_CHAR_UUID, lambda _c, d: mine.append(bytes(d)))
        for _ in range(200):
            if mine:
                break
            await asyncio.sleep(0.02)
        await owner2.disconnect()
        await sensor.stop()
        await stranger_air.close()
        await air.close()
        return {
            "errors": errors,
            "state": state,
            "stranger_got": got,
            "owner_got": len(mine),
            "refused": sensor.security.refused,
            "stranger_keys": stranger_air.keystore.addresses(),
        }

    r = asyncio.run(main())
    assert r["errors"] == [0x05, 0x05, 0x05]  # ATT Insufficient Authentication
    assert r["state"] == codec.STATE_IDLE  # nothing was started
    assert r["stranger_got"] == []
    assert r["owner_got"] > 0  # the bonded host streams
    assert len(r["refused"]) == 1 and r["stranger_keys"] == []


def test_the_button_opens_pairing_for_one_more_bond_only() -> None:
    async def main() -> list[bool]:
        air = LocalAir()
        sensor = _sensor()
        await sensor.start(air)
        results = []
        for k, button in enumerate((False, False, True, False)):  # owner, stranger, ...
            if button:
                sensor.security.open_pairing()
            other = air if k == 0 else _neighbour(air)
            c = BleakClient(ADDR, **other.client_kwargs())
            await c.connect()
            try:
                await c.pair()
                results.append(True)
            except PairingRefusedError:
                results.append(False)
            await c.disconnect()
            if other is not air:
                await other.close()
        await sensor.stop()
        await air.close()
        return results

    assert asyncio.run(main()) == [True, False, True, False]


def test_firmware_answers_not_paired_and_does_nothing() -> None:
    fw = make_firmware(make_night(1, 30.0), Faults())
    out = fw.on_control(START, 0.0, secure=False)
    acks = [codec.decode_frame(b) for b in out]
    assert acks == [codec.AckFrame(9, codec.C_START, codec.ACK_NOT_PAIRED)]
    assert fw.state == codec.STATE_IDLE and fw.advance_to(2e6) == []
    ok = codec.decode_frame(fw.on_control(START, 2e6)[0])
    assert isinstance(ok, codec.AckFrame) and ok.ok and fw.state == codec.STATE_STREAMING


def test_a_bonded_address_with_other_keys_is_refused_both_ways() -> None:
    async def main() -> dict[str, Any]:
        air = LocalAir()
        real = _sensor(seed=1)
        await real.start(air)
        host = BleakClient(ADDR, **air.client_kwargs(pair=True))
        await host.connect()
        await host.disconnect()

        # an impostor host: the owner's address, but keys it made up
        fake = BondStore()
        fake.host_address = air.keystore.host_address
        owner_keys = air.keystore.keys(ADDR)
        assert owner_keys is not None and owner_keys.ltk is not None
        owner_keys.ltk.value = bytes(16)
        await fake.update(ADDR, owner_keys)
        spoof_air = _neighbour(air, fake)
        spoof = BleakClient(ADDR, **spoof_air.client_kwargs())
        with pytest.raises(BondMismatchError):
            await spoof.connect()
        # ...and the same address with no keys at all gets nothing and cannot re-bond
        bare = BondStore()
        bare.host_address = air.keystore.host_address
        bare_air = _neighbour(air, bare)
        bare_client = BleakClient(ADDR, **bare_air.client_kwargs())
        await bare_client.connect()
        with pytest.raises(BleakGATTProtocolError):
            await _status(bare_client)
        with pytest.raises(PairingRefusedError):
            await bare_client.pair()
        await bare_client.disconnect()
        await spoof_air.close()
        await bare_air.close()

        # an impostor sensor at the bonded address (or the sensor reset): refused
        await real.stop()
        impostor = _sensor(seed=2)
        await impostor.start(air)
        rec = Recorder(
            ADDR,
            scanner_kwargs=air.scanner_kwargs(),
            client_kwargs=air.client_kwargs(pair=True),  # even when allowed to bond
            connect_timeout_s=3.0,
            status_stream=io.StringIO(),
        )
        with pytest.raises(UserError) as e:
            await rec.run()
        await impostor.stop()
        await air.close()
        return {"msg": str(e.value), "impostor": impostor, "real": real}

    r = asyncio.run(main())
    assert "could not prove the keys" in r["msg"] and f"cramp pair --forget {ADDR}" in r["msg"]
    assert r["impostor"].security.pairings == 0  # the host did not bond with it
    assert r["real"].security.pairings == 1
    assert r["real"].security.store.addresses() != []  # the real bond is untouched


def test_recorder_without_a_bond_says_run_cramp_pair(isolated_home: Path) -> None:
    async def main() -> str:
        air = LocalAir()
        sensor = _sensor()
        await sensor.start(air)
        rec = Recorder(
            NAME,
            out_dir=isolated_home / "rec",
            db=isolated_home / "db.sqlite3",
            scanner_kwargs=air.scanner_kwargs(),
            client_kwargs=air.client_kwargs(),
            connect_timeout_s=3.0,
            status_stream=io.StringIO(),
        )
        try:
            with pytest.raises(UserError) as e:
                await rec.run()
        finally:
            await sensor.stop()
            await air.close()
        assert rec.recording_path is None  # nothing was opened
        return str(e.value)

    msg = asyncio.run(main())
    assert "\n" not in msg and f"cramp pair --device {NAME}" in msg


def test_bond_on_first_use_to_a_sensor_bonded_elsewhere_says_press_its_button() -> None:
    async def main() -> str:
        air = LocalAir()
        sensor = _sensor()
        await sensor.start(air)
        first = _neighbour(air)
        c = BleakClient(ADDR, **first.client_kwargs(pair=True))
        await c.connect()  # someone else's host bonded first
        await c.disconnect()
        rec = Recorder(
            ADDR,
            scanner_kwargs=air.scanner_kwargs(),
            client_kwargs=air.client_kwargs(pair=True),
            connect_timeout_s=3.0,
            status_stream=io.StringIO(),
        )
        try:
            with pytest.raises(UserError) as e:
                await rec.run()
        finally:
            await sensor.stop()
            await first.close()
            await air.close()
        return str(e.value)

    msg = asyncio.run(main())
    assert "refused to pair" in msg and "hold its button" in msg


def test_emulated_night_bonds_once_and_reconnects_with_its_keys(tmp_path: Path) -> None:
    run = asyncio.run(
        asyncio.wait_for(
            run_emulated(
                make_night(3, 90.0),
                speed=100.0,
                duration_s=90.0,
                faults=Faults(drops=[(30.0, 5.0), (60.0, 5.0)]),
                out_dir=tmp_path / "rec",
                db=tmp_path / "db.sqlite3",
                status_stream=io.StringIO(),
            ),
            120,
        )
    )
    assert run.sensor.security.pairings == 1
    assert run.sensor.stats["connections"] >= 3 and run.sensor.stats["untrusted_withheld"] == 0
    assert run.recorder.assembler is not None and run.recorder.assembler.gaps == []
    assert run.recorder._timeline_s == pytest.approx(90.0, abs=0.1)


def test_scan_shows_which_sensors_are_bonded(isolated_home: Path) -> None:
    import json

    from nightcramp.pairing import BondBook

    def bonded() -> list[bool]:
        res = CliRunner().invoke(cli, ["scan", "--emulate", "--json", "--timeout", "1"])
        assert res.exit_code == 0, res.output
        rows = json.loads(res.output)
        assert {r["bonded"] for r in rows if r["kind"] != "nightcramp"} == {None}
        return [r["bonded"] for r in rows if r["kind"] == "nightcramp"]

    assert bonded() == [False]
    BondBook().add("C2:00:00:00:0E:01", "NightCramp-0E01", "just-works")  # scan's emulated one
    assert bonded() == [True]


def test_cli_pair_record_forget_over_two_processes(isolated_home: Path) -> None:
    sensor = subprocess.Popen(
        [sys.executable, "-m", "emulator.virtual.sensor", "--port", "0", "--io", "display",
         "--duration", "20", "--speed", "20", "--address", ADDR, "--name", NAME],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sensor.stdout is not None
        port = sensor.stdout.readline().split()[1]
        hci = ["--virtual-hci", port]
        runner = CliRunner()
        res = runner.invoke(cli, ["pair", "--device", NAME, "--yes", *hci])
        assert res.exit_code == 0, res.output
        assert "by numeric-comparison" in res.output and "This computer shows" in res.output
        res = runner.invoke(cli, ["pair", "--device", NAME, "--yes", *hci])
        assert res.exit_code == 0 and "already paired" in res.output, res.output
        home = isolated_home / "home"
        for f in ("bonds.json", "virtual-ble-keys.json"):
            assert _mode(home / f) == 0o600, f
        res = runner.invoke(cli, ["record", "--device", ADDR, "--duration", "5", *hci])
        assert res.exit_code == 0, res.output  # the stored keys, reused
        res = runner.invoke(cli, ["pair", "--forget", NAME, *hci])
        assert res.exit_code == 0 and "forgot" in res.output
        assert BondStore(home / "virtual-ble-keys.json").addresses() == []
        res = runner.invoke(cli, ["record", "--device", ADDR, "--duration", "5", *hci])
        assert isinstance(res.exception, UserError)
        assert f"cramp pair --device {ADDR}" in str(res.exception)
        res = runner.invoke(cli, ["pair", "--device", ADDR, "--yes", *hci])
        assert isinstance(res.exception, UserError) and "hold its button" in str(res.exception)
    finally:
        sensor.terminate()
        sensor.wait(10)
