"""OpenBCI Ganglion over BLE: packets (firmware 2 and 3), commands, scale, decoder.

Sources (every constant below names one):

* [LIB3] The board's firmware, OpenBCI/OpenBCI_Ganglion_Library at tag v3.0.2
  (commit 917c0c7e8046ffa4bf026f0ff63192e17b532576), ``OpenBCI_Ganglion_Library.cpp``:
  ``processData()`` (packet ids, the sample counter cycling 0..200), ``compressData18/19()``
  and ``sendCompressedPacket18/19()`` (17/18 MSBs of each 24-bit sample with the sign in
  the least significant bit; accelerometer high bytes in byte 19 of packets with
  ``id % 10`` = 1, 2, 3 for x, y, z), ``makeUniqueId()`` (software revision "3.0.2"),
  ``updateAccelerometerData()`` / ``config_LIS2DH()`` (LIS2DH at 10 Hz, +-2 g, high
  byte of the left-justified reading).
* [LIB2] The same repository at tag v2.0.1 (commit 4f53fdbc730020d6101ec730611fb9da3407f44b):
  ``processData()`` (id 0 = one raw sample, 24-bit big-endian per channel),
  ``compressData18/19()`` (deltas ``last - new`` with the sign in bit 0).
* [DEF] ``Definitions_Ganglion.h`` (commit 66f769a24e99fb76d9de9617bb082bc52f676c1e): packet
  ids (0 raw, 1-100 18-bit, 101-200 19-bit, 201-205 impedance, 206/207 multi-packet text)
  and the command characters.
* [PY] OpenBCI's Python library, ``pyOpenBCI/ganglion.py`` in openbci-archive/pyOpenBCI
  at commit 00988efe4bef89313190471700bbb8106ace13d7: service 0xFE84 and the receive /
  send / disconnect characteristics; ``GanglionDelegate.parse_raw`` (the firmware-2
  decoder used as the test oracle).
* [BF] BrainFlow, brainflow-dev/brainflow at commit 015427efc4f79ff8efd317fb8cd3ec9249f87734:
  ``src/board_controller/openbci/ganglion_native.cpp`` (characteristic UUIDs, software
  revision 0x2A28, name prefixes "Ganglion" / "Simblee", ``b``/``s`` and ``z``/``Z``,
  impedance packets as ASCII digits ending in 'Z'), ``ganglion_native_v2.cpp`` /
  ``ganglion_native_v3.cpp`` (firmware 2 deltas, firmware 3 ``value << 6`` / ``<< 5``),
  ``inc/ganglion_native.h`` (``eeg_scale = 1.2e6 / (8388607 * 1.5 * 51)`` µV per count,
  ``accel_scale = 0.016`` g per count), and ``src/utils/inc/custom_cast.h`` at commit
  0e2d0ce3e9b3bde6d4690818a20eec4b5754b1f8 (``cast_ganglion_bits_to_int32``: two's
  complement, minus one more for negatives, i.e. the sign LSB cleared).

Timing.  Each data packet carries two samples at 200 Hz.  Firmware 2 numbers a cycle of
201 samples: id 0 (one raw sample), then ids 1..100 (or 101..200 without accelerometer),
two samples each.  Firmware 3 sends ids 0..99 (or 100..199); its sample counter still
runs 0..200 and the sample at 200 is packed but never sent [LIB3 processData()], so one
sample period per cycle is a hole in the stream: the decoder reports it as a one-sample
:class:`SampleGap` (``reason="firmware-skip"``) so that sample times stay right.  The
first packet after a (re)start of firmware 3 carries id 255 (ring level 0xFF, [LIB3
startRunning()]) and mixes a 19-bit and an 18-bit half after the accelerometer was
switched on: its two samples are reported as undecodable, and the first cycle ends at
id 98.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware_protocol import ProtocolError
from firmware_protocol.devices.base import (
    ChannelMap,
    ChannelSpec,
    DeviceProfile,
    DeviceStatus,
    Event,
    SampleGap,
    Samples,
    check_strict,
)

KIND = "ganglion"

# --- GATT [PY], [BF] ------------------------------------------------------------------
SERVICE_UUID = "0000fe84-0000-1000-8000-00805f9b34fb"
"""The Simblee service [PY ``BLE_SERVICE = "fe84"``]."""
RECEIVE_UUID = "2d30c082-f39f-4ce6-923f-3484ea480596"
"""Data notifications [PY BLE_CHAR_RECEIVE, BF GANGLION_NOTIFY_CHAR]."""
SEND_UUID = "2d30c083-f39f-4ce6-923f-3484ea480596"
"""Commands, written without response [PY BLE_CHAR_SEND, BF GANGLION_WRITE_CHAR
(``simpleble_peripheral_write_command``)]."""
DISCONNECT_UUID = "2d30c084-f39f-4ce6-923f-3484ea480596"
"""Written before disconnecting [PY BLE_CHAR_DISCONNECT]."""
SOFTWARE_REVISION_UUID = "00002a28-0000-1000-8000-00805f9b34fb"
"""Device Information *Software Revision*, e.g. "3.0.2" [BF, LIB3 makeUniqueId()]."""
NAME_PREFIXES = ("Ganglion", "Simblee")
PACKET_SIZE = 20

# --- packet ids [DEF], [LIB3] ---------------------------------------------------------
ID_RAW = 0
ID_18_MAX_FW2 = 100
ID_19_MAX_FW2 = 200
ID_Z_FIRST, ID_Z_LAST = 201, 205
ID_MULTI, ID_MULTI_STOP = 206, 207
ID_RESTART_FW3 = 255
"""First packet after a restart on firmware 3 (ring level 0xFF) [LIB3]."""

# --- commands [DEF] -------------------------------------------------------------------
START = b"b"
STOP = b"s"
ACCEL_ON = b"n"
ACCEL_OFF = b"N"
IMPEDANCE_START = b"z"
IMPEDANCE_STOP = b"Z"
SOFT_RESET = b"v"

# --- scale [BF inc/ganglion_native.h] -------------------------------------------------
UV_PER_COUNT = 1.2e6 / (8388607.0 * 1.5 * 51.0)
G_PER_COUNT = 0.016
FS = 200.0
ACC_FS = 10.0
"""LIS2DH output rate [LIB3 config_LIS2DH(): 10 Hz]; one x/y/z triple per 10 packets."""
SAMPLES_PER_ACC = int(FS / ACC_FS)


def _field(bits_all: int, total_bits: int, k: int, n: int) -> int:
    shift = total_bits - (k + 1) * n
    return (bits_all >> shift) & ((1 << n) - 1)


def unpack_fields(payload: bytes, n: int) -> list[int]:
    """The eight n-bit fields (big-endian bit order) of a packet's bytes 1.. [LIB3]."""
    total = len(payload) * 8
    v = int.from_bytes(payload, "big")
    return [_field(v, total, k, n) for k in range(8)]


def field_value(f: int, n: int) -> int:
    """One field -> signed count: two's complement, minus one when the LSB (where the
    firmware stores the sign) is set [PY decompress_signed()].  On fields the firmware
    writes (LSB = sign) this equals [BF custom_cast.h] ``cast_ganglion_bits_to_int32``."""
    v = f - (1 << n) if f & (1 << (n - 1)) else f
    return v - (f & 1)


def field_of(value: int, n: int) -> int:
    """Signed count -> field, the sign stored in bit 0 (what the firmware does)."""
    f = value & ((1 << n) - 1)
    return (f & ~1) | (1 if value < 0 else 0)


def pack_fields(values: list[int], n: int) -> bytes:
    """Eight fields -> the packet's bytes 1.. (18 bytes at n = 18, 19 at n = 19) [LIB3]."""
    v = 0
    for x in values:
        v = (v << n) | field_of(int(x), n)
    nbytes = (8 * n + 7) // 8
    return (v << (nbytes * 8 - 8 * n)).to_bytes(nbytes, "big")


def _i24(b: bytes) -> int:
    v = int.from_bytes(b, "big")
    return v - (1 << 24) if v & 0x800000 else v


# --- encoders (the emulated board) ----------------------------------------------------
def encode_raw(counts: tuple[int, int, int, int] | list[int]) -> bytes:
    """Firmware 2 id 0: one sample, 24-bit big-endian two's complement per channel [LIB2]."""
    body = b"".join((int(c) & 0xFFFFFF).to_bytes(3, "big") for c in counts)
    return bytes([ID_RAW]) + body + bytes(PACKET_SIZE - 13)


def encode_v3(pid: int, s1: list[int], s2: list[int], accel_byte: int | None = None) -> bytes:
    """Firmware 3 data packet: 17/18 MSBs of two samples; ``pid`` 0..99 (18-bit, byte 19 =
    accelerometer byte) or 100..199 (19-bit) [LIB3 compressData18/19()]."""
    if 0 <= pid < 100:
        n, shift = 18, 6
    elif 100 <= pid < 200:
        n, shift = 19, 5
    else:
        raise ValueError(f"firmware 3 data packet id {pid} not in 0..199")
    vals = [int(c) >> shift for c in list(s1) + list(s2)]
    body = pack_fields(vals, n)
    if n == 18:
        body += bytes([(accel_byte or 0) & 0xFF])
    return bytes([pid]) + body


def encode_v2(
    pid: int, deltas1: list[int], deltas2: list[int], accel_byte: int | None = None
) -> bytes:
    """Firmware 2 delta packet (``delta = last - new``) with ``pid`` 1..100 (18-bit) or
    101..200 (19-bit) [LIB2 compressData18/19()]."""
    if 1 <= pid <= 100:
        n = 18
    elif 101 <= pid <= 200:
        n = 19
    else:
        raise ValueError(f"firmware 2 delta packet id {pid} not in 1..200")
    body = pack_fields(list(deltas1) + list(deltas2), n)
    if n == 18:
        body += bytes([(accel_byte or 0) & 0xFF])
    return bytes([pid]) + body


def encode_impedance(channel: int, value: int) -> bytes:
    """Impedance packet: id 200 + channel (5 = reference), ASCII digits, 'Z' [DEF, BF]."""
    if not 1 <= channel <= 5:
        raise ValueError(f"impedance channel {channel} not 1..5")
    return bytes([ID_Z_FIRST - 1 + channel]) + str(int(value)).encode() + b"Z"


# --- profile --------------------------------------------------------------------------
CHANNELS = tuple(ChannelSpec(str(i + 1), 24, FS, "µV") for i in range(4))
DEFAULT_MAP = ChannelMap(
    emg=(("1", "gastrocnemius"), ("2", "soleus"), ("3", "tibialis")), acc=("internal",)
)
PROFILE = DeviceProfile(
    kind=KIND,
    vendor="OpenBCI Ganglion",
    name_prefixes=NAME_PREFIXES,
    service_uuid=SERVICE_UUID,
    notify_uuid=RECEIVE_UUID,
    write_uuid=SEND_UUID,
    write_with_response=False,
    channels=CHANNELS,
    default_map=DEFAULT_MAP,
    emg_fs=FS,
    acc_fs=ACC_FS,
    firmware_uuid=SOFTWARE_REVISION_UUID,
    notes="4 channels at 200 Hz: EMG only below 100 Hz; LIS2DH accelerometer at 10 Hz.",
)


def firmware_major(revision: str | bytes | None) -> int:
    """Software Revision string ("3.0.2", "2.0.1") -> 2 or 3 (unknown -> 3, the current one)."""
    if isinstance(revision, bytes | bytearray):
        revision = bytes(revision).decode("ascii", "replace")
    s = (revision or "").strip()
    digits = "".join(ch for ch in s.split(".")[0] if ch.isdigit())
    major = int(digits) if digits else 3
    return 2 if major <= 2 else 3


@dataclass(frozen=True)
class _Pos:
    """Where a packet's samples sit in the firmware's cycle."""

    offset: int
    count: int


class GanglionDecoder:
    """Sans-I/O Ganglion session: commands out, 20-byte notifications in, events out.

    ``firmware`` 2 or 3 (read it from :data:`SOFTWARE_REVISION_UUID`).  Lost packets show
    in the ids; a loss longer than one cycle (about a second) is indistinguishable from a
    shorter one in the ids alone, so the host should also mind receive times (a link drop
    ends the session: :meth:`link_lost`).
    """

    profile = PROFILE

    def __init__(
        self,
        cmap: ChannelMap | None = None,
        *,
        firmware: int = 3,
        strict: bool = False,
    ) -> None:
        if firmware not in (2, 3):
            raise ValueError(f"Ganglion firmware {firmware!r}: 2 or 3")
        self.cmap = cmap or DEFAULT_MAP
        names = [c.name for c in CHANNELS]
        for c in self.cmap.emg_channels:
            if c not in names:
                raise ValueError(f"Ganglion has no channel {c!r}; its channels are 1, 2, 3, 4")
        if self.cmap.acc and tuple(self.cmap.acc) != ("internal",):
            raise ValueError("the Ganglion's accelerometer is built in: use --acc internal")
        self._cols = [names.index(c) for c in self.cmap.emg_channels]
        self.use_acc = bool(self.cmap.acc)
        self.firmware = firmware
        self.strict = strict
        self.errors: list[str] = []
        self.stats = {"packets": 0, "lost_packets": 0, "lost_samples": 0, "skipped": 0, "bad": 0}
        self._multi = bytearray()
        self._reset()

    def _reset(self) -> None:
        self.index = 0
        """Sample periods (5 ms) since the stream started, lost and unsent ones included."""
        self._cycle_base = 0  # tick of the current cycle's offset 0
        self._started = False
        self._first_cycle = False  # firmware 3, after the restart packet: ids shifted by 2
        self._prev = np.zeros(4, dtype=np.int64)  # firmware 2: last reconstructed sample
        self._have_ref = False
        self._axes: dict[int, int] = {}
        self._acc_last = -1

    # -------------------------------------------------------------- commands
    def start_commands(self) -> list[bytes]:
        self._reset()
        return ([ACCEL_ON] if self.use_acc else []) + [START]

    def stop_commands(self) -> list[bytes]:
        return [STOP]

    def impedance_commands(self, on: bool) -> list[bytes]:
        return [STOP, IMPEDANCE_START] if on else [IMPEDANCE_STOP]

    def link_lost(self) -> None:
        """The board stops streaming when the link drops [LIB3 SimbleeBLE_onDisconnect()]."""
        self._reset()

    # -------------------------------------------------------------- cycle arithmetic
    CYCLE = 201
    """Sample counter values per cycle, 0..200 [LIB2/LIB3 processData()]."""
    UNSENT = 200
    """Firmware 3: the counter value whose sample is packed but never sent [LIB3]."""

    def _pos(self, pid: int) -> _Pos | None:
        if self.firmware == 2:
            if pid == ID_RAW:
                return _Pos(0, 1)
            if 1 <= pid <= 200:
                k = pid if pid <= 100 else pid - 100
                return _Pos(2 * k - 1, 2)
            return None
        if pid < 200:
            return _Pos(2 * (pid % 100) + (2 if self._first_cycle else 0), 2)
        return None

    # -------------------------------------------------------------- bytes in
    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        try:
            pkt = bytes(data)
        except (TypeError, ValueError) as e:
            raise ProtocolError(f"notification is not bytes: {e}") from None
        if not pkt:
            check_strict(self.strict, "empty Ganglion notification", self.errors)
            return []
        pid = pkt[0]
        if ID_Z_FIRST <= pid <= ID_Z_LAST:
            return self._impedance(pkt)
        if pid in (ID_MULTI, ID_MULTI_STOP):
            return self._message(pkt)
        if len(pkt) != PACKET_SIZE:
            self.stats["bad"] += 1
            check_strict(
                self.strict, f"Ganglion packet id {pid} of {len(pkt)} bytes (need 20)", self.errors
            )
            return []
        if self.firmware == 3 and (pid == ID_RESTART_FW3 or (pid == 99 and not self._started)):
            # ring level 0xFF: id 255, or 99 (= 0xFF + 100, as a byte) without accelerometer
            # the first packet after a start: two samples, undecodable [LIB3]
            self._reset()
            self._started = True
            self._first_cycle = True
            self.stats["packets"] += 1
            self.index = 2
            return [SampleGap(0, 2, "undecodable")]
        pos = self._pos(pid)
        if pos is None:
            self.stats["bad"] += 1
            check_strict(self.strict, f"Ganglion packet id {pid} is not a data id", self.errors)
            return []
        out: list[Event] = []
        self.stats["packets"] += 1
        if not self._started:
            # joined mid-stream (or firmware 2 lost its first packet): the timeline starts here
            self._started = True
            self._cycle_base = -pos.offset
        start = self._cycle_base + pos.offset
        if start < self.index:  # the ids wrapped: next cycle
            old_base = self._cycle_base
            self._cycle_base += self.CYCLE
            self._first_cycle = False
            pos = self._pos(pid)
            assert pos is not None
            start = self._cycle_base + pos.offset
            if self.firmware == 3:
                hole = old_base + self.UNSENT
                if hole >= self.index:
                    self._gap(hole - self.index, "link", out)
                    self._gap(1, "firmware-skip", out)
        if start > self.index:
            self._gap(start - self.index, "link", out)
        if self.firmware == 2:
            self._decode_v2(pid, pkt, out)
        else:
            self._decode_v3(pid, pkt, out)
        return out

    def _gap(self, n: int, reason: str, out: list[Event]) -> None:
        if n <= 0:
            return
        out.append(SampleGap(self.index, n, reason))
        self.index += n
        if reason == "firmware-skip":
            self.stats["skipped"] += n
        else:
            self.stats["lost_samples"] += n
            self.stats["lost_packets"] += (n + 1) // 2
            self._have_ref = False

    def _decode_v3(self, pid: int, pkt: bytes, out: list[Event]) -> None:
        n, shift = (18, 6) if pid < 100 else (19, 5)
        f = unpack_fields(pkt[1 : 1 + (8 * n + 7) // 8], n)
        counts = np.array([field_value(x, n) << shift for x in f], dtype=np.int64).reshape(2, 4)
        self._emit(counts, out)
        if n == 18:
            self._accel(pid, pkt[19], out)

    def _decode_v2(self, pid: int, pkt: bytes, out: list[Event]) -> None:
        if pid == ID_RAW:
            c = np.array([_i24(pkt[1 + 3 * k : 4 + 3 * k]) for k in range(4)], dtype=np.int64)
            self._prev = c
            self._have_ref = True
            self._emit(c.reshape(1, 4), out)
            return
        n = 18 if pid <= 100 else 19
        if not self._have_ref:
            out.append(SampleGap(self.index, 2, "undecodable"))
            self.index += 2
            self.stats["lost_samples"] += 2
            return
        f = unpack_fields(pkt[1 : 1 + (8 * n + 7) // 8], n)
        d = np.array([field_value(x, n) for x in f], dtype=np.int64).reshape(2, 4)
        s1 = self._prev - d[0]
        s2 = s1 - d[1]
        self._prev = s2
        self._emit(np.stack([s1, s2]), out)
        if n == 18:
            self._accel(pid, pkt[19], out)

    def _emit(self, counts: np.ndarray, out: list[Event]) -> None:
        emg = (counts[:, self._cols] * UV_PER_COUNT).astype(np.float32)
        out.append(Samples(self.index, emg))
        self.index += counts.shape[0]

    def _accel(self, pid: int, b: int, out: list[Event]) -> None:
        if not self.use_acc:
            return
        axis = pid % 10
        if axis not in (1, 2, 3):
            return
        if axis == 1:
            self._axes = {}
        self._axes[axis] = b - 256 if b & 0x80 else b
        if axis == 3 and len(self._axes) == 3:
            # this packet's first sample (index - 2) is when z was sent
            j = int(round((self.index - 2) / SAMPLES_PER_ACC))
            if j <= self._acc_last:
                j = self._acc_last + 1
            self._acc_last = j
            g = np.array([[self._axes[1], self._axes[2], self._axes[3]]], dtype=np.float64)
            out.append(
                Samples(self.index, np.zeros((0, len(self._cols)), np.float32), j, g * G_PER_COUNT)
            )
            self._axes = {}

    def _impedance(self, pkt: bytes) -> list[Event]:
        body = pkt[1:6]
        digits = body.split(b"Z", 1)[0]
        if not digits.isdigit():
            check_strict(
                self.strict,
                f"Ganglion impedance packet without digits: {pkt[:8].hex()}",
                self.errors,
            )
            return []
        ch = pkt[0] - ID_Z_FIRST + 1
        return [
            DeviceStatus(
                "impedance",
                f"channel {ch if ch < 5 else 'ref'}",
                {"channel": float(ch), "value": float(int(digits))},
            )
        ]

    def _message(self, pkt: bytes) -> list[Event]:
        self._multi += pkt[1:]
        if len(self._multi) > 4096:
            self._multi = self._multi[-4096:]
        if pkt[0] == ID_MULTI:
            return []
        text = bytes(self._multi).decode("ascii", "replace").strip("\x00").strip()
        self._multi.clear()
        return [DeviceStatus("message", text)]
