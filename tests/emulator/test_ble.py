"""The bleak backend over bumble, against a trivial GATT server (no firmware involved).

Everything goes through bleak's public API (``BleakScanner`` / ``BleakClient``) with
``backend=`` swapped for :mod:`emulator.virtual.backend`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bumble.att import Attribute
from bumble.core import UUID
from bumble.core import AdvertisingData as AD
from bumble.gatt import Characteristic, CharacteristicValue, Service

from emulator.virtual import LocalAir

SVC = "0badcafe-0000-4000-8000-00000000a001"
DATA = "0badcafe-0000-4000-8000-00000000a002"
CTRL = "0badcafe-0000-4000-8000-00000000a003"


async def _trivial_server(air: LocalAir, name: str, address: str):
    dev = air.add_peripheral(name, address)
    writes: list[bytes] = []
    data = Characteristic(
        DATA,
        Characteristic.Properties.NOTIFY | Characteristic.Properties.READ,
        Attribute.READABLE,
        b"hello",
    )
    ctrl = Characteristic(
        CTRL,
        Characteristic.Properties.WRITE,
        Attribute.WRITEABLE,
        CharacteristicValue(write=lambda _c, v: writes.append(bytes(v))),
    )
    dev.add_service(Service(SVC, [data, ctrl]))
    await dev.power_on()
    adv = AD(
        [
            (AD.Type.FLAGS, bytes([0x06])),
            (AD.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, UUID(SVC).to_bytes()),
        ]
    )
    rsp = AD([(AD.Type.COMPLETE_LOCAL_NAME, name.encode())])
    await dev.start_advertising(
        advertising_data=bytes(adv),
        scan_response_data=bytes(rsp),
        advertising_interval_min=20,
        advertising_interval_max=20,
    )
    return dev, data, writes


def test_scan_connect_mtu_discover_notify_write_read_disconnect() -> None:
    async def main() -> None:
        air = LocalAir()
        dev, data, writes = await _trivial_server(air, "Trivial-1", "C1:22:33:44:55:66")
        found = await BleakScanner.find_device_by_filter(
            lambda d, ad: ad.local_name == "Trivial-1" and SVC in ad.service_uuids,
            timeout=5,
            **air.scanner_kwargs(),
        )
        assert found is not None and found.address == "C1:22:33:44:55:66"
        lost = asyncio.Event()
        client = BleakClient(
            found, disconnected_callback=lambda _c: lost.set(), **air.client_kwargs()
        )
        await client.connect()
        assert client.is_connected and client.mtu_size == 247
        ch = client.services.get_characteristic(DATA)
        assert ch is not None and set(ch.properties) == {"read", "notify"}
        assert await client.read_gatt_char(DATA) == b"hello"
        got: list[bytes] = []
        await client.start_notify(DATA, lambda _c, v: got.append(bytes(v)))
        await client.write_gatt_char(CTRL, b"\x01\x02", response=True)
        assert writes == [b"\x01\x02"]
        conn = next(iter(dev.connections.values()))
        queue = dev.host.get_data_packet_queue(conn.handle)
        n = 500
        for i in range(n):
            await dev.notify_subscriber(conn, data, i.to_bytes(4, "little") + bytes(240))
            if i % 16 == 15:
                await queue.drain(conn.handle)
        await queue.drain(conn.handle)
        await asyncio.sleep(0.05)
        assert [int.from_bytes(g[:4], "little") for g in got] == list(range(n))
        assert all(len(g) == 244 for g in got)
        await conn.disconnect()  # the peripheral drops the link
        await asyncio.wait_for(lost.wait(), 2)
        assert not client.is_connected
        await air.close()

    asyncio.run(asyncio.wait_for(main(), 30))


def test_connect_to_absent_address_times_out() -> None:
    from bleak.exc import BleakError

    async def main() -> None:
        air = LocalAir()
        client = BleakClient("C1:00:00:00:00:01", timeout=0.3, **air.client_kwargs())
        with pytest.raises(BleakError):
            await client.connect()
        await air.close()

    asyncio.run(asyncio.wait_for(main(), 10))


def test_cramp_scan_emulate_lists_name_address_rssi_battery() -> None:
    import json

    from click.testing import CliRunner

    from nightcramp.cli import cli

    res = CliRunner().invoke(cli, ["scan", "--emulate", "--json", "--timeout", "1"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    # one emulated sensor of each supported kind (docs/devices/), each with its kind
    assert sorted(r["kind"] for r in rows) == ["bitalino", "ganglion", "nightcramp"]
    (row,) = [r for r in rows if r["kind"] == "nightcramp"]
    assert row["name"].startswith("NightCramp-") and row["address"] == "C2:00:00:00:0E:01"
    assert row["rssi_dbm"] < 0 and 0 <= row["battery_pct"] <= 100


def test_cramp_record_needs_a_device_or_emulate() -> None:
    from click.testing import CliRunner

    from nightcramp.cli import cli
    from recordings.errors import UserError

    res = CliRunner().invoke(cli, ["record"])
    assert isinstance(res.exception, UserError) and "--device" in str(res.exception)
    res = CliRunner().invoke(cli, ["record", "--emulate", "--duration", "soon"])
    assert isinstance(res.exception, UserError) and "--duration" in str(res.exception)


# ------------------------------------------------------------------ the live commands' options
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["demo", "--speed", "-3"], "--speed -3: must be more than 0"),
        (["demo", "--speed", "0"], "--speed 0: must be more than 0"),
        (["demo", "--seed", "-2"], "--seed -2: must be at least 0"),
        (["demo", "--duration", "5m"], "--duration 5m: must be between 10 min and 24 h"),
        (["demo", "--duration", "48h"], "--duration 48h: must be between 10 min and 24 h"),
        (["record", "--emulate", "--speed", "-1"], "--speed -1: must be more than 0"),
        (["record", "--emulate", "--speed", "nan"], "--speed nan: must be more than 0"),
        (["record", "--emulate", "--speed", "1e9"], "and at most 10000"),
        (["record", "--emulate", "--reboot", "-5"], "--reboot -5: must be at least 0"),
        (["record", "--emulate", "--drift-ppm", "1e9"], "--drift-ppm 1e+09: must be at least -100"),
        (["record", "--emulate", "--corrupt-every", "0"], "--corrupt-every 0: must be at least 2"),
        (["record", "--emulate", "--seed", "-1"], "--seed -1: must be at least 0"),
        (["record", "--emulate", "--drop", "600:-3"], "DURATION > 0"),
        (["record", "--emulate", "--drop", "-1:30"], "AT must be >= 0"),
        (["record", "--emulate", "--duration", "200h"], "between 0 s and 7 days"),
        (["record", "--emulate", "--device", "NOPE"], "--device and --emulate exclude each other"),
        (["record", "--device", "NOPE", "--speed", "5"], "--speed only apply to --emulate"),
        (["scan", "--timeout", "0"], "--timeout 0: must be more than 0"),
        (["scan", "--timeout", "-1"], "--timeout -1: must be more than 0"),
    ],
)
def test_every_numeric_option_is_range_checked_in_one_line(args: list[str], says: str) -> None:
    from click.testing import CliRunner

    from nightcramp.cli import cli
    from recordings.errors import UserError

    res = CliRunner().invoke(cli, args)
    assert isinstance(res.exception, UserError), res.output
    msg = str(res.exception)
    assert says in msg and "\n" not in msg


def test_a_refused_option_is_one_line_and_exit_2_at_once() -> None:
    """Before, `cramp demo --speed 0` streamed nothing and spun at full CPU forever."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "nightcramp.cli", "demo", "--speed", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "cramp: error: --speed 0: must be more than 0 and at most 10000 (sensor time per wall "
        "time, e.g. 200)"
    ]


def _record(tmp: Any, *extra: str) -> Any:
    from click.testing import CliRunner

    from nightcramp.cli import cli

    return CliRunner().invoke(
        cli,
        ["record", "--emulate", "--speed", "200", "--duration", "2m", "--seed", "3",
         "--out", str(tmp / "rec"), "--db", str(tmp / "db.sqlite3"), *extra],
    )  # fmt: skip


def test_emulated_record_ends_now_and_a_clean_run_counts_no_disconnect(tmp_path: Any) -> None:
    """One rule for emulated nights (record --emulate and demo alike): the night ends now,
    so nothing is stamped in the future; the recorder's own final disconnect is no loss."""
    import time
    from datetime import datetime

    from nightcramp.cramplog import CrampLog

    t0 = time.time()
    res = _record(tmp_path)
    t1 = time.time()
    assert res.exit_code == 0, res.output
    assert "0 disconnects" in res.output and "WARNING" not in res.output
    with CrampLog.open(tmp_path / "db.sqlite3") as lg:
        (night,) = lg.nights(limit=5)
        start = datetime.fromisoformat(night["start_utc"]).timestamp()
        end = datetime.fromisoformat(night["end_utc"]).timestamp()
    assert end <= t1 + 1.0 and end >= t0 - 5.0  # it ended at the start of the run
    assert start == pytest.approx(end - 120.0, abs=2.0)


def test_emulated_reboot_at_the_start_is_no_traceback(tmp_path: Any) -> None:
    """`--reboot 0` drops the link while the host is still starting the sensor: the write
    in flight is cancelled by the stack; that is a lost link, not a crash."""
    res = _record(tmp_path, "--reboot", "0")
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and "CancelledError" not in res.output
    assert "sensor rebooted" in res.output and "1 disconnects" in res.output
    assert "WARNING" not in res.output  # the virtual stack's chatter stays out


def test_cramp_scan_without_a_sensor_offers_the_emulated_one() -> None:
    """Without Bluetooth (these machines) the one-line error, with Bluetooth but no sensor
    the "No sensors found" line: either way `cramp scan --emulate` is offered."""
    from click.testing import CliRunner

    from nightcramp.cli import cli

    res = CliRunner().invoke(cli, ["scan", "--timeout", "1"])
    said = str(res.exception) if res.exception is not None else res.output
    assert "`cramp scan --emulate`" in said and "\n" not in said.strip()
