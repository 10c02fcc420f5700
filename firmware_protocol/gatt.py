"""GATT layout of the NightCramp leg sensor: UUIDs, names, MTU figures, advertisement.

Everything a BLE peripheral (the emulator) or central (the recorder) needs to find the
sensor and its characteristics.  The byte formats carried by these characteristics are in
:mod:`firmware_protocol.codec` and ``PROTOCOL.md``.

Advertisement (legacy advertising, 31 bytes per packet):

* advertising data: Flags (LE General Discoverable, BR/EDR not supported), the complete
  list of 128-bit service UUIDs = ``[SERVICE_UUID]``, and manufacturer-specific data with
  company id :data:`COMPANY_ID` (0xFFFF, the Bluetooth SIG id reserved for tests) whose
  payload is :func:`encode_adv_payload` (protocol version, battery %, state flags);
* scan response: Complete Local Name ``NAME_PREFIX + XXXX`` (4 upper-case hex digits of
  the serial number), e.g. ``NightCramp-1A2B``.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_protocol import ProtocolError

#: Local name prefix; the full name is ``NightCramp-XXXX`` (XXXX: hex serial suffix).
NAME_PREFIX = "NightCramp-"

#: The NightCramp primary service (128-bit, random base; byte 2-3 = 0x0001 service).
SERVICE_UUID = "b1c70001-6d2a-4f3e-8e51-3a9c2f0d7e41"
#: Data frames (DATA / LOSS), sensor -> host.  Properties: notify.
DATA_CHAR_UUID = "b1c70002-6d2a-4f3e-8e51-3a9c2f0d7e41"
#: Commands, host -> sensor.  Properties: write (with response), notify (ACK frames and
#: the TIME_SYNC reply come back as notifications on this characteristic).
CONTROL_CHAR_UUID = "b1c70003-6d2a-4f3e-8e51-3a9c2f0d7e41"
#: Status (battery %, state, error flags) as a STATUS frame.  Properties: read, notify
#: (notified on every change of state/flags and on every 1 % battery step).
STATUS_CHAR_UUID = "b1c70004-6d2a-4f3e-8e51-3a9c2f0d7e41"
#: Current configuration as a CONFIG frame.  Properties: read.
CONFIG_CHAR_UUID = "b1c70005-6d2a-4f3e-8e51-3a9c2f0d7e41"

#: Characteristic UUID -> short name (for logs and the emulator's service table).
CHARACTERISTICS: dict[str, str] = {
    DATA_CHAR_UUID: "data",
    CONTROL_CHAR_UUID: "control",
    STATUS_CHAR_UUID: "status",
    CONFIG_CHAR_UUID: "config",
}

#: Bluetooth SIG Device Information Service and the characteristics we fill (UTF-8 strings).
DEVICE_INFO_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
MANUFACTURER_NAME_UUID = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL_NUMBER_UUID = "00002a24-0000-1000-8000-00805f9b34fb"
SERIAL_NUMBER_UUID = "00002a25-0000-1000-8000-00805f9b34fb"
HARDWARE_REVISION_UUID = "00002a27-0000-1000-8000-00805f9b34fb"
FIRMWARE_REVISION_UUID = "00002a26-0000-1000-8000-00805f9b34fb"
#: Device-info key (as in ``SensorFirmware.device_info``) -> characteristic UUID.
DEVICE_INFO_CHARS: dict[str, str] = {
    "manufacturer": MANUFACTURER_NAME_UUID,
    "model": MODEL_NUMBER_UUID,
    "serial": SERIAL_NUMBER_UUID,
    "hardware_rev": HARDWARE_REVISION_UUID,
    "firmware_rev": FIRMWARE_REVISION_UUID,
}

#: ATT MTU every LE link starts with (Core spec Vol 3 Part F 3.2.8): 23 bytes.
MTU_DEFAULT = 23
#: ATT MTU the host requests (fits one data frame per notification): 247 bytes
#: (251-byte LL data length minus the 4-byte L2CAP header).
MTU_PREFERRED = 247
#: ATT header of a notification (opcode + handle): 3 bytes.
ATT_NOTIFY_OVERHEAD = 3
#: Largest frame in bytes; equals the notification payload at MTU 247.
MAX_FRAME = MTU_PREFERRED - ATT_NOTIFY_OVERHEAD  # 244


def notify_payload_max(mtu: int) -> int:
    """Bytes one notification can carry at ATT MTU ``mtu`` (``mtu - 3``)."""
    return mtu - ATT_NOTIFY_OVERHEAD


#: Manufacturer-data company id: 0xFFFF, reserved by the Bluetooth SIG for tests/internal use.
COMPANY_ID = 0xFFFF
#: Version byte of the advertisement payload.
ADV_VERSION = 1


@dataclass(frozen=True)
class AdvInfo:
    """What the sensor puts in its manufacturer data (company :data:`COMPANY_ID`)."""

    version: int
    battery_pct: int
    """Battery charge, 0-100 %."""
    flags: int
    """Status error/state flags, same bits as ``StatusFrame.flags`` (low byte)."""


def encode_adv_payload(battery_pct: int, flags: int = 0) -> bytes:
    """Manufacturer-data payload (after the company id): version u8, battery % u8, flags u8."""
    if not 0 <= battery_pct <= 100:
        raise ValueError(f"battery_pct must be 0-100 %, got {battery_pct}")
    return bytes((ADV_VERSION, battery_pct, flags & 0xFF))


def decode_adv_payload(data: bytes) -> AdvInfo:
    """Parse :func:`encode_adv_payload` output; anything else -> ``ProtocolError``."""
    if len(data) < 3:
        raise ProtocolError(f"advertisement payload truncated at byte {len(data)} (need 3)")
    if data[0] != ADV_VERSION:
        raise ProtocolError(f"unknown advertisement version {data[0]} (expected {ADV_VERSION})")
    if data[1] > 100:
        raise ProtocolError(f"impossible battery level {data[1]} % in advertisement")
    return AdvInfo(version=data[0], battery_pct=data[1], flags=data[2])
