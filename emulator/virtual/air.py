"""The virtual radio: bumble controllers on one :class:`bumble.link.LocalLink`.

An :class:`Air` is what an OS Bluetooth adapter is to bleak: the place where the central
(the recorder's side) lives.  Peripherals (emulated sensors) join the same air with
:meth:`Air.add_peripheral`.

* :class:`LocalAir` -- one process: central and peripherals share a ``LocalLink`` and the
  running asyncio loop.
* :class:`RemoteAir` -- two processes: the central's host talks HCI over TCP to a
  controller that the sensor process serves on 127.0.0.1 (see :func:`serve_controller`).

The virtual link has no radio timing (no connection interval, no PHY rate): whoever needs
a realistic rate must pace itself (the emulated sensor does).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from typing import Any

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device, DeviceConfiguration
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport
from bumble.transport.tcp_server import open_tcp_server_transport_with_socket

from emulator.virtual.security import BondStore

_serial = itertools.count(1)
_bumble_log = logging.getLogger("bumble")


def _tracing() -> bool:
    return _bumble_log.isEnabledFor(logging.DEBUG)


class VirtualHost(Host):
    """bumble's host without the per-packet debug f-strings.

    bumble formats every HCI packet into a coloured string for ``logger.debug`` whether or
    not debug logging is on: half the CPU of a streamed night went there.  With bumble's
    debug logging enabled the original methods run unchanged.
    """

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _tracing() or self.snooper:
            return super().send_hci_packet(packet)
        if self.hci_sink:
            self.hci_sink.on_packet(bytes(packet))

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _tracing() or self.snooper:
            return super().on_hci_packet(packet)
        if isinstance(packet, hci.HCI_Event):
            self.on_hci_event_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)


class VirtualController(Controller):
    """bumble's virtual controller, plus a working *LE Create Connection Cancel*.

    bumble 0.0.236 acknowledges the cancel but keeps the connection pending and never
    sends the completion, so a connect that timed out hangs the host.  Per the Core spec
    (Vol 4 Part E 7.8.13) the controller ends a cancelled attempt with an LE Connection
    Complete event of status 0x02 (Unknown Connection Identifier).

    Its LE ACL buffers are 251 bytes, as with LE Data Length Extension (Core spec 4.2+,
    Vol 6 Part B 4.5.10) that MTU 247 relies on (``firmware_protocol.gatt``): one
    notification = one ACL packet, instead of nine 27-byte pieces.
    """

    le_acl_data_packet_length = 251

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _tracing():
            return super().on_hci_packet(packet)
        if isinstance(packet, hci.HCI_AclDataPacket):
            if self.find_connection_by_handle(packet.connection_handle) is None:
                return  # data queued before a disconnection: the air drops it
            self.on_hci_acl_data_packet(packet)
        elif isinstance(packet, hci.HCI_Command):
            self.on_hci_command_packet(packet)
        else:
            super().on_hci_packet(packet)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _tracing():
            return super().send_hci_packet(packet)
        if self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))

    def on_hci_le_create_connection_cancel_command(self, _command: Any) -> Any:
        pending = self.pending_le_connection
        self.pending_le_connection = None
        if pending is not None:
            event = hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address.address_type,
                peer_address=pending.peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
            asyncio.get_running_loop().call_soon(self.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def _scan_response_of(self, address: Address) -> bytes:
        other = self.link.find_le_controller(address) if self.link else None
        if other is None:
            return b""
        adv = other.le_legacy_advertiser
        if adv.enabled and adv.address == address:
            return bytes(adv.scan_response_data)
        for aset in other.advertising_sets.values():
            if aset.enabled and aset.address == address:
                return bytes(aset.scan_response_data)
        return b""

    def on_advertising_pdu(self, pdu: Any) -> None:
        """Report the advertiser's real scan response (bumble echoes the advertising data).

        A sensor puts its name in the scan response (``firmware_protocol.gatt``), so an
        active scan must see both halves, as over the air.
        """
        scanning = self.le_scan_enable
        self.le_scan_enable = False  # super() then only handles connections and syncs
        try:
            super().on_advertising_pdu(pdu)
        finally:
            self.le_scan_enable = scanning
        if not scanning:
            return
        addr = pdu.advertiser_address
        rsp = self._scan_response_of(addr)
        if self.le_features & hci.LeFeatureMask.LE_EXTENDED_ADVERTISING:
            ext = hci.HCI_LE_Extended_Advertising_Report_Event
            for event_type, data in (
                (ext.EventType.CONNECTABLE_ADVERTISING, pdu.data),
                (ext.EventType.SCAN_RESPONSE, rsp),
            ):
                report = ext.Report(
                    event_type=event_type,
                    address_type=addr.address_type,
                    address=addr,
                    primary_phy=hci.Phy.LE_1M,
                    secondary_phy=hci.Phy.LE_1M,
                    advertising_sid=0,
                    tx_power=0,
                    rssi=-50,
                    periodic_advertising_interval=0,
                    direct_address_type=0,
                    direct_address=hci.Address.ANY,
                    data=data,
                )
                self.send_hci_packet(ext([report]))
        else:
            leg = hci.HCI_LE_Advertising_Report_Event
            for leg_type, data in (
                (leg.EventType.ADV_IND, pdu.data),
                (leg.EventType.SCAN_RSP, rsp),
            ):
                lrep = leg.Report(
                    event_type=leg_type,
                    address_type=addr.address_type,
                    address=addr,
                    data=data,
                    rssi=-50,
                )
                self.send_hci_packet(leg([lrep]))


#: Loopback only: the virtual controller is a test harness, never exposed to a network.
LOOPBACK = "127.0.0.1"


def random_static_address(n: int) -> str:
    """A random static address (two top bits set, Bluetooth Core Vol 6 Part B 1.3.2.1)."""
    b = (n & 0xFF_FFFF_FFFF).to_bytes(5, "big")
    return ":".join(f"{x:02X}" for x in (0xC0 | (n >> 40 & 0x3F), *b))


def address_str(address: Address) -> str:
    return address.to_string(with_type_qualifier=False).upper()


class Air:
    """Base class: owns the central device (created lazily inside the running loop).

    ``keystore``: the host's bonds (:class:`~emulator.virtual.security.BondStore`), as
    an OS adapter keeps them; None = a fresh one in memory.  A store with a file also
    keeps the host's static address, so a sensor bonded to this host knows it again.
    """

    def __init__(self, keystore: BondStore | None = None) -> None:
        self.keystore = keystore if keystore is not None else BondStore()
        self._central: Device | None = None
        self._central_lock: asyncio.Lock | None = None
        self._scanners = 0
        self.connect_lock: asyncio.Lock | None = None

    async def _make_central_host(self) -> Host:  # pragma: no cover - abstract
        raise NotImplementedError

    async def central(self) -> Device:
        """The central (host-side) device, powered on."""
        if self._central_lock is None:
            self._central_lock = asyncio.Lock()
            self.connect_lock = asyncio.Lock()
        async with self._central_lock:
            if self._central is None:
                host = await self._make_central_host()
                if self.keystore.host_address is None:
                    serial = 0xC0FFEE000000 + next(_serial)
                    if self.keystore.path is not None:  # a lasting host: its own address
                        serial = int.from_bytes(os.urandom(6), "big")
                    self.keystore.set_host_address(random_static_address(serial))
                addr = Address(str(self.keystore.host_address))
                dev = Device(name="nightcramp-host", address=addr, host=host)
                dev.keystore = self.keystore
                await dev.power_on()
                self._central = dev
        return self._central

    async def start_scanning(self) -> None:
        dev = await self.central()
        self._scanners += 1
        if not dev.scanning:
            await dev.start_scanning(filter_duplicates=False)

    async def stop_scanning(self) -> None:
        self._scanners = max(0, self._scanners - 1)
        dev = self._central
        if dev is not None and self._scanners == 0 and dev.scanning:
            await dev.stop_scanning()

    def scanner_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that make ``bleak.BleakScanner`` use this air."""
        from emulator.virtual.backend import BumbleScanner

        return {"backend": BumbleScanner, "air": self}

    def client_kwargs(self, pair: bool = False) -> dict[str, Any]:
        """Keyword arguments that make ``bleak.BleakClient`` use this air.

        ``pair``: bleak's ``BleakClient(pair=True)``: bond on connecting if no bond is
        stored yet (the emulated flow; a real night bonds once with ``cramp pair``).
        """
        from emulator.virtual.backend import BumbleClient

        kw: dict[str, Any] = {"backend": BumbleClient, "air": self}
        if pair:
            kw["pair"] = True
        return kw

    async def close(self) -> None:
        if self._central is not None:
            with contextlib.suppress(Exception):
                await self._central.host.reset()
            self._central = None


class LocalAir(Air):
    """Central and peripherals in this process, on one ``LocalLink``."""

    def __init__(self, keystore: BondStore | None = None) -> None:
        super().__init__(keystore)
        self.link = LocalLink()

    async def _make_central_host(self) -> Host:
        ctrl = VirtualController(f"central-{next(_serial)}", link=self.link)
        return VirtualHost(ctrl, AsyncPipeSink(ctrl))

    def add_peripheral(self, name: str, address: str) -> Device:
        """A bumble device attached to this air (the caller adds services, powers on)."""
        return peripheral_device(self.link, name, address)


def peripheral_device(link: LocalLink, name: str, address: str) -> Device:
    ctrl = VirtualController(f"periph-{next(_serial)}", link=link)
    cfg = DeviceConfiguration(name=name, address=Address(address))
    return Device(config=cfg, host=VirtualHost(ctrl, AsyncPipeSink(ctrl)))


class RemoteAir(Air):
    """The central's host in this process, its controller in another (HCI over TCP)."""

    def __init__(self, port: int, host: str = LOOPBACK, keystore: BondStore | None = None) -> None:
        super().__init__(keystore)
        if host not in (LOOPBACK, "localhost"):
            raise ValueError("the virtual controller is served on loopback only")
        self.spec = f"tcp-client:{LOOPBACK}:{int(port)}"
        self._transport: Transport | None = None

    async def _make_central_host(self) -> Host:
        self._transport = await open_transport(self.spec)
        return VirtualHost(self._transport.source, self._transport.sink)

    async def close(self) -> None:
        await super().close()
        if self._transport is not None:
            await self._transport.close()
            self._transport = None


#: Advertising interval of the emulated peripherals while waiting for the host, in ms
#: (20 ms: the minimum for connectable legacy advertising, Core spec Vol 6 Part B 4.4.2.2).
ADV_INTERVAL_MS = 20


async def advertise(device: Device, adv: bytes, rsp: bytes) -> None:
    """(Re)start advertising ``adv`` with scan response ``rsp`` at :data:`ADV_INTERVAL_MS`."""
    with contextlib.suppress(Exception):
        await device.stop_advertising()
    await device.start_advertising(
        advertising_data=adv,
        scan_response_data=rsp,
        advertising_interval_min=ADV_INTERVAL_MS,
        advertising_interval_max=ADV_INTERVAL_MS,
    )


async def stop_peripheral(
    device: Device | None, conn: Any, tasks: tuple[asyncio.Task[Any] | None, ...]
) -> None:
    """Shut an emulated peripheral down: cancel its tasks, stop advertising, drop the link,
    power the controller off (each step best effort: the air may already be gone)."""
    for t in tasks:
        if t is not None:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    if device is not None:
        with contextlib.suppress(Exception):
            await device.stop_advertising()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect()
        with contextlib.suppress(Exception):
            await device.power_off()


async def serve_controller(link: LocalLink, port: int = 0) -> tuple[Transport, int]:
    """Serve one controller on ``link`` over HCI/TCP on 127.0.0.1; return (transport, port).

    A :class:`RemoteAir` in another process connects to it and becomes the central.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, port))
    real_port = sock.getsockname()[1]
    transport = await open_tcp_server_transport_with_socket(sock)
    VirtualController(
        f"tcp-{real_port}",
        host_source=transport.source,
        host_sink=transport.sink,
        link=link,
    )
    return transport, real_port
