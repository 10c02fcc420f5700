"""The bleak backend over bumble, against a trivial GATT server (no firmware involved).

Everything goes through bleak's public API (``BleakScanner`` / ``BleakClient``) with
``backend=`` swapped for :mod:`emulator.virtual.backend`.
"""

from __future__ import annotations

import asyncio

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
