"""PLUX BITalino (r)evolution BLE: frames, CRC-4, commands, transfer functions, decoder.

Sources (every constant below names one):

* [API] PLUX's Python API, ``bitalino.py`` in BITalinoWorld/revolution-python-api at
  commit 185af219c68412cc682d210789dd509a109a9938 (the ``bitalino`` package on the index):
  ``start()`` (rate and start commands), ``stop()``, ``version()``, ``read()`` (frame
  size, bit layout, CRC-4).
* [BT121] The BLE module's firmware, BITalinoWorld/firmware-BT121 at commit
  521362d2d45c1a2c9bff179e40f6fb3529507467: ``GATT.xml`` (service and characteristic
  UUIDs, 20-byte values) and ``firmware-BT121.bgs`` (a transparent bridge: a write on
  *Commands* goes to the MCU's UART as is, UART bytes come back as *Frames*
  notifications wherever the UART cut them; on disconnect the module sends 0xFF, "go
  idle", to the MCU).
* [EMG] PLUX, *BITalino (r)evolution EMG sensor datasheet*
  (bitalino.com/datasheets/REVOLUTION_EMG_Sensor_Datasheet.pdf): EMG(V) =
  (ADC/2^n - 1/2) * VCC / G_EMG, VCC = 3.3 V, G_EMG = 1009, range +-1.64 mV.
* [ACC] PLUX, *BITalino (r)evolution ACC sensor datasheet*
  (bitalino.com/datasheets/REVOLUTION_ACC_Sensor_Datasheet.pdf): ACC(g) =
  ((ADC - C_min)/(C_max - C_min)) * 2 - 1, C_min/C_max from a slow 360° rotation of the
  sensor; range +-3 g.

Frames carry one sample of every acquired channel, most significant byte last: the last
byte is ``seq << 4 | crc4``, the one before holds the four digital lines and the top of
the first analog channel.  Channels are acquired in ascending order; the first four slots
are 10-bit, slots 5 and 6 are 6-bit [API read()].  This module always acquires A1..An
contiguously (the highest mapped channel decides n), so slot k is channel A(k+1).
"""

from __future__ import annotations

import math
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

KIND = "bitalino"

# --- GATT [BT121 GATT.xml] ------------------------------------------------------------
SERVICE_UUID = "c566488a-0882-4e1b-a6d0-0b717e652234"
"""*Exchange Data Service* (advertised)."""
COMMANDS_UUID = "4051eb11-bf0a-4c74-8730-a48f4193fcea"
"""*Commands*: write (with response; the script answers ``gatt_write_request``), read, indicate."""
FRAMES_UUID = "40fdba6b-672e-47c4-808a-e529adff3633"
"""*Frames*: read, notify; up to 20 bytes per value."""
FIRMWARE_REVISION_UUID = "00002a26-0000-1000-8000-00805f9b34fb"
"""Device Information *Firmware Revision* ("Firmware v1.0": the BLE module's, not the MCU's)."""
DEVICE_NAME = "BiTalino BLE"
"""GAP device name in GATT.xml (note the capital T)."""
NAME_PREFIXES = ("BITalino", "BiTalino")
#: Largest notification value [BT121 GATT.xml: ``length="20"``].
MAX_NOTIFY = 20
#: Command the BLE module sends the MCU when the link drops [BT121 le_connection_closed].
LINK_LOST_TO_MCU = 0xFF

# --- commands [API] -------------------------------------------------------------------
RATES = (1, 10, 100, 1000)
"""Sampling rates, Hz [API start()]."""
_RATE_CODE = {1: 0, 10: 1, 100: 2, 1000: 3}
CMD_STOP = 0x00
"""Leave live mode [API stop()]."""
CMD_VERSION = 0x07
"""Ask the version string, answered with ``...BITalino...\\n`` in idle mode [API version()]."""
CMD_IDLE_ALL = 0xFF
"""Go idle from any mode (BITalino 2, firmware >= 4.2) [API stop()]."""
N_ANALOG = 6
ANALOG_NAMES = tuple(f"A{i + 1}" for i in range(N_ANALOG))
SLOT_BITS = (10, 10, 10, 10, 6, 6)
"""Resolution of frame slot k [API read()]."""

# --- transfer functions [EMG], [ACC] --------------------------------------------------
VCC = 3.3
G_EMG = 1009.0
#: Nominal accelerometer calibration for a 10-bit channel when the sensor was not
#: calibrated: the datasheet's +-3 g range spread over the ADC range puts 1 g at 1024/6
#: counts around mid-scale (C_min = 512 - 1024/6, C_max = 512 + 1024/6).  Calibrate with
#: the datasheet's 360° rotation for real figures.
ACC_CAL_10BIT = (512.0 - 1024.0 / 6.0, 512.0 + 1024.0 / 6.0)


def emg_uv(adc: np.ndarray, bits: int) -> np.ndarray:
    """[EMG] ADC counts -> µV: (ADC/2^n - 1/2) * VCC / G_EMG * 1e6."""
    return ((np.asarray(adc, dtype=np.float64) / float(1 << bits)) - 0.5) * (VCC / G_EMG * 1e6)


def emg_adc(uv: np.ndarray, bits: int) -> np.ndarray:
    """Inverse of :func:`emg_uv`, rounded and clipped to the ADC range (for the emulator)."""
    x = (np.asarray(uv, dtype=np.float64) / (VCC / G_EMG * 1e6) + 0.5) * float(1 << bits)
    return np.clip(np.rint(x), 0, (1 << bits) - 1).astype(np.int64)


def acc_cal(bits: int) -> tuple[float, float]:
    """Nominal (C_min, C_max) at ``bits`` resolution (see :data:`ACC_CAL_10BIT`)."""
    f = float(1 << bits) / 1024.0
    return ACC_CAL_10BIT[0] * f, ACC_CAL_10BIT[1] * f


def acc_g(adc: np.ndarray, c_min: float, c_max: float) -> np.ndarray:
    """[ACC] ADC counts -> g: ((ADC - C_min)/(C_max - C_min)) * 2 - 1."""
    return ((np.asarray(adc, dtype=np.float64) - c_min) / (c_max - c_min)) * 2.0 - 1.0


def acc_adc(g: np.ndarray, c_min: float, c_max: float, bits: int) -> np.ndarray:
    """Inverse of :func:`acc_g`, rounded and clipped (for the emulator)."""
    x = (np.asarray(g, dtype=np.float64) + 1.0) / 2.0 * (c_max - c_min) + c_min
    return np.clip(np.rint(x), 0, (1 << bits) - 1).astype(np.int64)


# --- commands -------------------------------------------------------------------------
def cmd_rate(fs: int) -> bytes:
    """Set the sampling rate: ``<Fs:2> 0 0 0 0 1 1`` [API start()]."""
    if fs not in _RATE_CODE:
        raise ValueError(f"BITalino rate {fs!r} Hz not one of {RATES}")
    return bytes([(_RATE_CODE[fs] << 6) | 0x03])


def cmd_start(n_channels: int) -> bytes:
    """Start live mode on A1..An: ``A6 A5 A4 A3 A2 A1 0 1`` [API start()]."""
    if not 1 <= n_channels <= N_ANALOG:
        raise ValueError(f"BITalino acquires 1..6 analog channels, not {n_channels}")
    b = 1
    for i in range(n_channels):
        b |= 1 << (2 + i)
    return bytes([b])


@dataclass(frozen=True)
class Command:
    """A decoded host -> device command byte (for the emulated device)."""

    what: str
    """``rate``, ``start``, ``stop``, ``version``, ``idle``, ``other``."""
    fs: int = 0
    channels: tuple[int, ...] = ()
    raw: int = 0


def decode_command(b: int) -> Command:
    """One command byte -> :class:`Command` (live-mode bytes: only 0x00 stops) [API]."""
    if not 0 <= b <= 0xFF:
        raise ProtocolError(f"command byte {b!r} out of range")
    if b == CMD_STOP:
        return Command("stop", raw=b)
    if b == CMD_IDLE_ALL:
        return Command("idle", raw=b)
    if b == CMD_VERSION:
        return Command("version", raw=b)
    if b & 0x3F == 0x03:
        code = b >> 6
        return Command("rate", fs=RATES[code], raw=b)
    if b & 0x03 == 0x01:
        chans = tuple(i for i in range(N_ANALOG) if b & (1 << (2 + i)))
        if chans:
            return Command("start", channels=chans, raw=b)
    return Command("other", raw=b)


# --- frames [API read()] --------------------------------------------------------------
def frame_size(n_channels: int) -> int:
    """Bytes per frame: ceil((12 + 10 n)/8) for n <= 4, ceil((52 + 6 (n-4))/8) above."""
    if not 1 <= n_channels <= N_ANALOG:
        raise ValueError(f"BITalino frames carry 1..6 analog channels, not {n_channels}")
    if n_channels <= 4:
        return int(math.ceil((12.0 + 10.0 * n_channels) / 8.0))
    return int(math.ceil((52.0 + 6.0 * (n_channels - 4)) / 8.0))


def _crc4_table() -> np.ndarray:
    # The API's bitwise loop is the remainder of the frame's bit string (CRC nibble
    # zeroed) modulo x^4 + x + 1; four bits at a time that is x' = T[x] ^ nibble with
    # T[x] = (x * x^4) mod (x^4 + x + 1).
    t = np.zeros(16, dtype=np.uint8)
    for x in range(16):
        v = x
        for _ in range(4):
            v <<= 1
            if v & 0x10:
                v ^= 0x13
        t[x] = v & 0x0F
    return t


_CRC4 = _crc4_table()


def crc4(frame: bytes | bytearray | memoryview) -> int:
    """CRC-4 of one frame (its own CRC nibble taken as zero) [API read()]."""
    t = _CRC4
    x = 0
    last = len(frame) - 1
    for i, b in enumerate(bytes(frame)):
        if i == last:
            b &= 0xF0
        x = int(t[x]) ^ (b >> 4)
        x = int(t[x]) ^ (b & 0x0F)
    return x


def crc4_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-4 of every row of a (k, size) uint8 array, vectorised."""
    t = _CRC4
    x = np.zeros(rows.shape[0], dtype=np.uint8)
    last = rows.shape[1] - 1
    for c in range(rows.shape[1]):
        col = rows[:, c]
        if c == last:
            col = col & 0xF0
        x = t[x] ^ (col >> 4)
        x = t[x] ^ (col & 0x0F)
    return x


def encode_frame(
    seq: int, analog: list[int] | tuple[int, ...] | np.ndarray, digital: int = 0
) -> bytes:
    """One frame: sequence number (0..15), analog slots (10/10/10/10/6/6 bits), digital
    lines I1 I2 O1 O2 as bits 3..0 of ``digital``.  The inverse of [API read()]."""
    a = [int(v) for v in analog]
    n = len(a)
    size = frame_size(n)
    if not 0 <= seq <= 15:
        raise ValueError(f"seq {seq} out of range 0..15")
    for k, v in enumerate(a):
        if not 0 <= v < (1 << SLOT_BITS[k]):
            raise ValueError(f"A{k + 1} = {v} does not fit {SLOT_BITS[k]} bits")
    a += [0] * (N_ANALOG - n)
    d = [0] * 8  # d[j] is byte -(j+1)
    d[1] = ((digital & 0x0F) << 4) | ((a[0] >> 6) & 0x0F)
    d[2] = ((a[0] & 0x3F) << 2) | ((a[1] >> 8) & 0x03)
    d[3] = a[1] & 0xFF
    d[4] = (a[2] >> 2) & 0xFF
    d[5] = ((a[2] & 0x03) << 6) | ((a[3] >> 4) & 0x3F)
    d[6] = ((a[3] & 0x0F) << 4) | ((a[4] >> 2) & 0x0F)
    d[7] = ((a[4] & 0x03) << 6) | (a[5] & 0x3F)
    body = bytearray(reversed(d[:size]))
    body[-1] = (seq & 0x0F) << 4
    body[-1] |= crc4(body)
    return bytes(body)


def decode_rows(rows: np.ndarray, n_channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fields of CRC-checked frames: (seq (k,), digital (k, 4), analog (k, n)) [API read()]."""
    r = rows.astype(np.int64)
    k = r.shape[0]

    def d(j: int) -> np.ndarray:  # byte -j
        return r[:, -j]

    seq = d(1) >> 4
    dig = np.stack([(d(2) >> s) & 1 for s in (7, 6, 5, 4)], axis=1)
    a = np.zeros((k, n_channels), dtype=np.int64)
    a[:, 0] = ((d(2) & 0x0F) << 6) | (d(3) >> 2)
    if n_channels > 1:
        a[:, 1] = ((d(3) & 0x03) << 8) | d(4)
    if n_channels > 2:
        a[:, 2] = (d(5) << 2) | (d(6) >> 6)
    if n_channels > 3:
        a[:, 3] = ((d(6) & 0x3F) << 4) | (d(7) >> 4)
    if n_channels > 4:
        a[:, 4] = ((d(7) & 0x0F) << 2) | (d(8) >> 6)
    if n_channels > 5:
        a[:, 5] = d(8) & 0x3F
    return seq, dig, a


def decode_frame(
    frame: bytes | bytearray | memoryview, n_channels: int
) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    """One frame -> (seq, digital lines, analog values); bad length or CRC -> ProtocolError."""
    size = frame_size(n_channels)
    b = bytes(frame)
    if len(b) != size:
        raise ProtocolError(f"BITalino frame of {len(b)} bytes; {n_channels} channels make {size}")
    if crc4(b) != b[-1] & 0x0F:
        raise ProtocolError(f"BITalino frame CRC-4 mismatch (frame {b.hex()})")
    seq, dig, a = decode_rows(np.frombuffer(b, dtype=np.uint8).reshape(1, size), n_channels)
    return int(seq[0]), tuple(int(v) for v in dig[0]), tuple(int(v) for v in a[0])


# --- profile --------------------------------------------------------------------------
CHANNELS = tuple(ChannelSpec(n, SLOT_BITS[i], 1000.0, "adc") for i, n in enumerate(ANALOG_NAMES))
DEFAULT_MAP = ChannelMap(emg=(("A1", "gastrocnemius"), ("A2", "tibialis")), acc=("A3", "A4", "A5"))
PROFILE = DeviceProfile(
    kind=KIND,
    vendor="PLUX BITalino (r)evolution BLE",
    name_prefixes=NAME_PREFIXES,
    service_uuid=SERVICE_UUID,
    notify_uuid=FRAMES_UUID,
    write_uuid=COMMANDS_UUID,
    write_with_response=True,
    channels=CHANNELS,
    default_map=DEFAULT_MAP,
    emg_fs=1000.0,
    acc_fs=1000.0,
    firmware_uuid=None,
    notes="EMG sensor modules on A1/A2 (µV, [EMG]); ACC sensor module on A3/A4/A5 (g, [ACC]).",
)


def acquired_channels(cmap: ChannelMap) -> int:
    """How many analog channels (A1..An) a channel map needs acquired."""
    used = [c for c in cmap.emg_channels + tuple(cmap.acc) if c in ANALOG_NAMES]
    if not used:
        raise ValueError("the channel map names no BITalino analog channel (A1..A6)")
    return max(ANALOG_NAMES.index(c) for c in used) + 1


class BitalinoDecoder:
    """Sans-I/O BITalino session: commands out, notification bytes in, events out.

    The Frames characteristic carries the MCU's UART byte stream cut anywhere, so frames
    are reassembled here.  A frame whose CRC-4 fails drops the stream out of sync; it
    comes back at the first place where two consecutive frames pass the CRC with
    consecutive sequence numbers.  Sequence numbers are 4 bits: a jump of ``d`` means
    ``(d - 1) mod 16`` frames lost (more when the dropped byte count says so).

    ``strict=True`` raises :class:`~firmware_protocol.ProtocolError` at the first bad
    frame; the default counts it (``stats``) and reports the lost samples as a gap.
    """

    profile = PROFILE

    def __init__(
        self,
        cmap: ChannelMap | None = None,
        *,
        fs: int = 1000,
        acc_calibration: dict[str, tuple[float, float]] | None = None,
        strict: bool = False,
        batch: int = 50,
    ) -> None:
        self.cmap = cmap or DEFAULT_MAP
        if fs not in RATES:
            raise ValueError(f"BITalino rate {fs!r} Hz not one of {RATES}")
        self.fs = fs
        self.n_channels = acquired_channels(self.cmap)
        self.size = frame_size(self.n_channels)
        self.strict = strict
        self.batch = max(1, int(batch))
        """Frames gathered before decoding (50 = 50 ms at 1 kHz): the work is vectorised
        per batch, a notification holds only two or three frames; :meth:`flush` decodes
        what is left."""
        self._emg_cols = [ANALOG_NAMES.index(c) for c in self.cmap.emg_channels]
        self._emg_bits = [SLOT_BITS[i] for i in self._emg_cols]
        if self.cmap.acc and tuple(self.cmap.acc) != ("internal",):
            self._acc_cols = [ANALOG_NAMES.index(c) for c in self.cmap.acc]
        elif self.cmap.acc:
            raise ValueError(
                "BITalino has no internal accelerometer: map the ACC module's A-channels"
            )
        else:
            self._acc_cols = []
        cal = acc_calibration or {}
        self._acc_cal = [cal.get(ANALOG_NAMES[i], acc_cal(SLOT_BITS[i])) for i in self._acc_cols]
        self.mode = "idle"
        self._buf = bytearray()
        self._text = bytearray()
        self._synced = True
        self._dropped = 0  # bytes dropped while out of sync
        self._last_seq: int | None = None
        self.index = 0
        """Sample periods since acquisition started (lost ones included)."""
        self.errors: list[str] = []
        self.stats = {"frames": 0, "lost": 0, "corrupt": 0, "bytes_dropped": 0}

    # -------------------------------------------------------------- commands
    def version_command(self) -> list[bytes]:
        self.mode = "version"
        self._text.clear()
        return [bytes([CMD_VERSION])]

    def start_commands(self) -> list[bytes]:
        """Rate, then start on A1..An [API start()]; resets the sample count."""
        self.mode = "live"
        self._buf.clear()
        self._synced, self._dropped, self._last_seq, self.index = True, 0, None, 0
        return [cmd_rate(self.fs), cmd_start(self.n_channels)]

    def stop_commands(self) -> list[bytes]:
        self.mode = "idle"
        return [bytes([CMD_STOP])]

    def stop(self) -> tuple[list[bytes], list[Event]]:
        """Stop commands and the events of the frames still gathered."""
        ev = self.flush()
        return self.stop_commands(), ev

    def link_lost(self) -> list[Event]:
        """The link dropped: the BLE module put the MCU in idle [BT121]; a reconnect must
        start again (new sample count).  Returns the events of the whole frames gathered."""
        ev = self.flush()
        self.mode = "idle"
        self._buf.clear()
        return ev

    # -------------------------------------------------------------- bytes in
    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        try:
            chunk = bytes(data)
        except (TypeError, ValueError) as e:
            raise ProtocolError(f"notification is not bytes: {e}") from None
        if self.mode == "version":
            return self._feed_text(chunk)
        if self.mode != "live":
            if chunk:
                check_strict(self.strict, f"{len(chunk)} bytes from an idle BITalino", self.errors)
            return []
        self._buf += chunk
        if len(self._buf) < self.batch * self.size:
            return []
        return self._decode()

    def flush(self) -> list[Event]:
        """Decode the frames still gathered (at the end of a session)."""
        return self._decode() if self.mode == "live" else []

    def _decode(self) -> list[Event]:
        out: list[Event] = []
        while True:
            if self._synced:
                if not self._take_synced(out):
                    break
            elif not self._resync():
                break
        return out

    def _feed_text(self, chunk: bytes) -> list[Event]:
        self._text += chunk
        if len(self._text) > 256:
            self._text = self._text[-256:]
        if b"\n" not in self._text:
            return []
        line, _, rest = bytes(self._text).partition(b"\n")
        self._text = bytearray(rest)
        s = line.decode("ascii", "replace")
        if "BITalino" not in s:
            check_strict(
                self.strict, f"BITalino version reply without 'BITalino': {s!r}", self.errors
            )
            return []
        self.mode = "idle"
        return [DeviceStatus("version", s[s.index("BITalino") :].strip())]

    def _take_synced(self, out: list[Event]) -> bool:
        k = len(self._buf) // self.size
        if k == 0:
            return False
        rows = np.frombuffer(bytes(self._buf[: k * self.size]), dtype=np.uint8).reshape(
            k, self.size
        )
        ok = crc4_rows(rows) == (rows[:, -1] & 0x0F)
        j = k if bool(ok.all()) else int(np.argmin(ok))
        if j:
            self._emit(rows[:j], out)
            del self._buf[: j * self.size]
        if j < k:
            self.stats["corrupt"] += 1
            check_strict(
                self.strict,
                f"BITalino frame failed its CRC-4 after sample {self.index}",
                self.errors,
            )
            self._synced = False
            self._dropped = 0
        return j < k or len(self._buf) >= self.size

    def _resync(self) -> bool:
        size = self.size
        buf = bytes(self._buf)
        n = len(buf) - 2 * size + 1
        if n <= 0:
            return False
        arr = np.frombuffer(buf, dtype=np.uint8)
        idx = np.arange(n)[:, None] + np.arange(size)[None, :]
        a, b = arr[idx], arr[idx + size]
        good = (crc4_rows(a) == (a[:, -1] & 0x0F)) & (crc4_rows(b) == (b[:, -1] & 0x0F))
        good &= ((b[:, -1] >> 4) - (a[:, -1] >> 4)) % 16 == 1
        if not bool(good.any()):
            self._dropped += n
            self.stats["bytes_dropped"] += n
            del self._buf[:n]
            return False
        o = int(np.argmax(good))
        self._dropped += o
        self.stats["bytes_dropped"] += o
        del self._buf[:o]
        self._synced = True
        return True

    def _emit(self, rows: np.ndarray, out: list[Event]) -> None:
        seq, _dig, a = decode_rows(rows, self.n_channels)
        # lost frames before each row
        prev = np.empty_like(seq)
        prev[1:] = seq[:-1]
        if self._last_seq is None:
            prev[0] = (seq[0] - 1) % 16
        else:
            prev[0] = self._last_seq
        lost = (seq - prev - 1) % 16
        if self._dropped:
            # bytes went missing while out of sync: the sequence number only says the
            # count modulo 16; the dropped bytes say roughly how many frames
            est = self._dropped / self.size
            d0 = int(lost[0])
            lost[0] = d0 + 16 * max(0, int(round((est - d0) / 16.0)))
        bounds = sorted({0, len(seq), *np.flatnonzero(lost).tolist()})
        reason = "corrupt" if self._dropped else "link"
        for s0, s1 in zip(bounds[:-1], bounds[1:], strict=True):
            if lost[s0]:
                n = int(lost[s0])
                out.append(SampleGap(self.index, n, reason if s0 == 0 else "link"))
                self.index += n
                self.stats["lost"] += n
            self._samples(a[s0:s1], out)
        self._dropped = 0
        self._last_seq = int(seq[-1])
        self.stats["frames"] += len(seq)

    def _samples(self, a: np.ndarray, out: list[Event]) -> None:
        n = a.shape[0]
        emg = np.empty((n, len(self._emg_cols)), dtype=np.float32)
        for j, (c, bits) in enumerate(zip(self._emg_cols, self._emg_bits, strict=True)):
            emg[:, j] = emg_uv(a[:, c], bits)
        if self._acc_cols:
            acc = np.empty((n, 3), dtype=np.float64)
            for j, (c, (lo, hi)) in enumerate(zip(self._acc_cols, self._acc_cal, strict=True)):
                acc[:, j] = acc_g(a[:, c], lo, hi)
        else:
            acc = np.zeros((0, 3))
        out.append(Samples(self.index, emg, self.index if self._acc_cols else 0, acc))
        self.index += n


def encode_stream(analog: np.ndarray, *, seq0: int = 0, digital: int = 0) -> bytes:
    """Frames for consecutive samples (rows of ``analog``, one column per slot), vectorised.

    Byte-identical to ``b"".join(encode_frame(...))`` with seq counting up from ``seq0``.
    """
    a = np.asarray(analog, dtype=np.int64)
    k, n = a.shape
    size = frame_size(n)
    for j in range(n):
        if a.size and (a[:, j].min() < 0 or a[:, j].max() >= (1 << SLOT_BITS[j])):
            raise ValueError(f"A{j + 1} out of its {SLOT_BITS[j]}-bit range")
    full = np.zeros((k, N_ANALOG), dtype=np.int64)
    full[:, :n] = a
    d = np.zeros((k, 8), dtype=np.int64)
    d[:, 1] = ((digital & 0x0F) << 4) | ((full[:, 0] >> 6) & 0x0F)
    d[:, 2] = ((full[:, 0] & 0x3F) << 2) | ((full[:, 1] >> 8) & 0x03)
    d[:, 3] = full[:, 1] & 0xFF
    d[:, 4] = (full[:, 2] >> 2) & 0xFF
    d[:, 5] = ((full[:, 2] & 0x03) << 6) | ((full[:, 3] >> 4) & 0x3F)
    d[:, 6] = ((full[:, 3] & 0x0F) << 4) | ((full[:, 4] >> 2) & 0x0F)
    d[:, 7] = ((full[:, 4] & 0x03) << 6) | (full[:, 5] & 0x3F)
    rows = d[:, :size][:, ::-1].astype(np.uint8).copy()
    seq = (seq0 + np.arange(k)) % 16
    rows[:, -1] = (seq << 4).astype(np.uint8)
    rows[:, -1] |= crc4_rows(rows)
    return rows.tobytes()
