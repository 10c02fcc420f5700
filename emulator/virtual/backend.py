"""A bleak backend over bumble: ``BleakScanner(backend=BumbleScanner, air=air)``.

Written against bleak 3.1 (``BaseBleakScanner`` / ``BaseBleakClient``; extra keyword
arguments of ``BleakScanner`` / ``BleakClient`` reach the backend's constructor) and
bumble 0.0.236 (``Device.start_scanning`` / ``connect``, ``Peer.request_mtu`` /
``discover_all`` / ``subscribe`` / ``read_value`` / ``write_value``).  Both are pinned in
``pyproject.toml`` because their backend/host APIs move between versions.

The application keeps calling bleak's public API; only the OS layer is swapped for a
software Bluetooth stack (bumble's host + a virtual controller), so scanning, connecting,
ATT MTU exchange, GATT discovery, notifications, write-with-response and the disconnected
callback are all real protocol exchanges.

Security, as an OS stack does it: on connecting to an address the host holds a bond for,
the link is encrypted with the stored key (a peer that cannot -- an impostor at that
address, or a sensor that was reset -- is refused: :class:`BondMismatchError`); ``pair()``
bonds through bumble's SMP (LE Secure Connections; numeric comparison when the sensor has
a display), ``unpair()`` forgets the bond; ATT errors reach bleak as
``BleakGATTProtocolError`` (e.g. 0x05 Insufficient Authentication from a sensor that
has not bonded with this host).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuidlib
from collections.abc import Callable, Iterator
from typing import Any

from bleak.args import SizedBuffer
from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble.att import ATT_Error
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData as AD
from bumble.device import Advertisement, Connection, Peer
from bumble.gatt import Characteristic
from bumble.hci import Address, HCI_Error
from bumble.pairing import PairingConfig

from emulator.virtual.air import Air, address_str
from emulator.virtual.security import Compare, HostPairingDelegate, is_lesc_bond

#: The ATT MTU we ask for: the protocol's frames fit one notification at 247 (PROTOCOL.md).
REQUESTED_MTU = 247

_PROP_NAMES: list[tuple[int, CharacteristicPropertyName]] = [
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
]


class BondMismatchError(BleakError):
    """The peer at a bonded address could not encrypt with the stored key."""

    bond_mismatch = True


class PairingRefusedError(BleakError):
    """The peer (or the user) refused to bond, or offered less than LE Secure Connections."""

    pairing_refused = True


def uuid_str(u: BumbleUUID) -> str:
    """bumble UUID -> bleak's normalised 128-bit lower-case string."""
    return str(uuidlib.UUID(bytes=bytes(reversed(u.to_bytes(force_128=True)))))


def _air(kwargs: dict[str, Any]) -> Air:
    air = kwargs.get("air")
    if not isinstance(air, Air):
        raise BleakError("the bumble backend needs air=<emulator.virtual.Air>")
    return air


def advertisement_data(adv: Advertisement) -> AdvertisementData:
    data = adv.data
    name = data.get(AD.Type.COMPLETE_LOCAL_NAME) or data.get(AD.Type.SHORTENED_LOCAL_NAME)
    uuids: list[str] = []
    service_data: dict[str, bytes] = {}
    manufacturer: dict[int, bytes] = {}
    for ad_type, raw in data.ad_structures:
        obj: Any = AD.ad_data_to_object(ad_type, raw)
        if ad_type in (
            AD.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AD.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AD.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
            AD.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
            AD.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            AD.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            uuids.extend(uuid_str(u) for u in obj)
        elif ad_type in (
            AD.Type.SERVICE_DATA_16_BIT_UUID,
            AD.Type.SERVICE_DATA_32_BIT_UUID,
            AD.Type.SERVICE_DATA_128_BIT_UUID,
        ):
            u, payload = obj
            service_data[uuid_str(u)] = bytes(payload)
        elif ad_type == AD.Type.MANUFACTURER_SPECIFIC_DATA:
            cid, payload = obj
            manufacturer[int(cid)] = bytes(payload)
    tx = None if adv.tx_power == Advertisement.TX_POWER_NOT_AVAILABLE else adv.tx_power
    return AdvertisementData(
        local_name=name if isinstance(name, str) else None,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx,
        rssi=int(adv.rssi),
        platform_data=(adv,),
    )


class BumbleScanner(BaseBleakScanner):
    """Scans the virtual air; devices are keyed by address (``details`` = bumble Address)."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._air = _air(kwargs)
        self._listening = False

    def _on_advertisement(self, adv: Advertisement) -> None:
        ad = advertisement_data(adv)
        if not self.is_allowed_uuid(ad.service_uuids):
            return
        addr = address_str(adv.address)
        dev = self.create_or_update_device(addr, addr, ad.local_name, adv.address, ad)
        self.call_detection_callbacks(dev, ad)

    async def start(self) -> None:
        self.seen_devices = {}
        central = await self._air.central()
        if not self._listening:
            central.on(central.EVENT_ADVERTISEMENT, self._on_advertisement)
            self._listening = True
        await self._air.start_scanning()

    async def stop(self) -> None:
        if self._listening and self._air._central is not None:
            self._air._central.remove_listener("advertisement", self._on_advertisement)
            self._listening = False
        await self._air.stop_scanning()


class BumbleClient(BaseBleakClient):
    """A GATT client over a bumble connection on the virtual air."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._air = _air(kwargs)
        self._conn: Connection | None = None
        self._peer: Peer | None = None
        self._name = ""
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name or ""

    @property
    def name(self) -> str:
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return int(self._conn.att_mtu) if self._conn is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._conn is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = await self._air.central()
        timeout = float(kwargs.get("timeout", self._timeout))
        assert self._air.connect_lock is not None
        async with self._air.connect_lock:  # bumble allows one pending LE connection
            try:
                conn = await central.connect(Address(self.address), timeout=timeout)
            except TimeoutError as e:
                raise BleakDeviceNotFoundError(
                    self.address, f"device {self.address} not connectable within {timeout} s"
                ) from e
            except Exception as e:  # bumble's HCI errors -> bleak's
                raise BleakError(f"connect to {self.address} failed: {e}") from e
        self._conn = conn
        conn.on(conn.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            if self._air.keystore.keys(self.address) is not None:
                await self._encrypt(conn)
            elif pair:
                await self.pair()
            self._peer = Peer(conn)
            await self._peer.request_mtu(REQUESTED_MTU)
            await self._peer.discover_all()
            self.services = self._build_services(self._peer)
        except Exception:
            await self.disconnect()
            raise

    def _on_disconnection(self, *_: Any) -> None:
        was = self._conn is not None
        self._conn = None
        self._peer = None
        self.services = None
        if was and self._disconnected_callback is not None:
            self._disconnected_callback()

    def _build_services(self, peer: Peer) -> BleakGATTServiceCollection:
        coll = BleakGATTServiceCollection()

        def max_wwr() -> int:
            return self.mtu_size - 3

        for sp in peer.services:
            svc = BleakGATTService(sp, sp.handle, uuid_str(sp.uuid))
            coll.add_service(svc)
            for cp in sp.characteristics:
                props = [n for bit, n in _PROP_NAMES if cp.properties & bit]
                ch = BleakGATTCharacteristic(cp, cp.handle, uuid_str(cp.uuid), props, max_wwr, svc)
                coll.add_characteristic(ch)
                for dp in cp.descriptors:
                    coll.add_descriptor(BleakGATTDescriptor(dp, dp.handle, uuid_str(dp.type), ch))
        return coll

    def _need_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"not connected to {self.address}")
        return self._peer

    async def disconnect(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await conn.disconnect()
        except Exception:  # already gone: the disconnection event clears the state
            pass
        self._on_disconnection()

    async def _encrypt(self, conn: Connection) -> None:
        why: str
        try:
            await conn.encrypt()
            return
        except HCI_Error as e:  # the peer has no key for us (LTK negative reply)
            why = str(e)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being cancelled, not refused
            why = "the link dropped: the keys differ"  # MIC failure ends the link
        raise BondMismatchError(
            f"{self.address}: the link could not be encrypted with the key bonded for "
            f"this address ({why}): not the sensor this host bonded with, "
            "or a sensor that was reset"
        )

    async def pair(self, *args: Any, compare: Compare | None = None, **kwargs: Any) -> None:
        """Bond with the connected peer (LE Secure Connections, bumble's SMP).

        ``compare(number)``: asked whether the sensor shows the same 6-digit number
        (numeric comparison); None accepts it.  A sensor without a display gets Just
        Works.  Legacy (pre-4.2) pairing is refused.
        """
        conn = self._conn
        if conn is None:
            raise BleakError(f"not connected to {self.address}")
        central = await self._air.central()
        delegate = HostPairingDelegate(compare)
        central.pairing_config_factory = lambda _c: PairingConfig(
            sc=True, mitm=True, bonding=True, delegate=delegate
        )
        try:
            await conn.pair()
        except Exception as e:  # bumble's SMP failure, or the link going down
            raise PairingRefusedError(f"{self.address}: pairing failed: {e}") from e
        keys = self._air.keystore.keys(self.address)
        if not is_lesc_bond(keys):
            self._air.keystore.forget(self.address)
            raise PairingRefusedError(
                f"{self.address}: no LE Secure Connections bond resulted (legacy pairing?)"
            )
        self.pairing_method = (
            "numeric-comparison" if delegate.compared is not None else "just-works"
        )
        self._air.keystore.annotate(self.address, method=self.pairing_method)

    pairing_method: str | None = None
    """How the last :meth:`pair` went: ``numeric-comparison`` or ``just-works``."""

    async def unpair(self) -> None:
        """Forget the bond (and disconnect, as bleak's other backends do)."""
        self._air.keystore.forget(self.address)
        await self.disconnect()

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kw: Any
    ) -> bytearray:
        with _att_errors():
            return bytearray(await self._need_peer().read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kw: Any
    ) -> bytearray:
        return bytearray(await self._need_peer().read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._need_peer()
        with _att_errors():
            await peer.write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        await self._need_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kw: Any
    ) -> None:
        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        await self._need_peer().subscribe(characteristic.obj, on_value, prefer_notify=True)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._need_peer().unsubscribe(characteristic.obj)



@contextlib.contextmanager
def _att_errors() -> Iterator[None]:
    """bumble's ``ATT_Error`` -> bleak's ``BleakGATTProtocolError`` (same code)."""
    try:
        yield
    except ATT_Error as e:
        raise BleakGATTProtocolError(int(e.error_code)) from e
