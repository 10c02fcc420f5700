"""Sans-I/O codec of the NightCramp sensor protocol (spec: ``PROTOCOL.md`` beside this file).

Bytes in, typed immutable frames out; frames to bytes.  No sockets, clocks or asyncio: the
BLE client, the emulator and replay all feed this module bytes.

* :func:`decode_frame` / :func:`encode_frame`: sensor -> host frames (:class:`DataFrame`,
  :class:`LossFrame`, :class:`StatusFrame`, :class:`ConfigFrame`, :class:`AckFrame`,
  :class:`SyncFrame`).
* :func:`decode_command` / :func:`encode_command`: host -> sensor commands
  (:class:`StartStreaming`, :class:`StopStreaming`, :class:`Configure`, :class:`ReadConfig`,
  :class:`TimeSync`, :class:`Resend`).
* :class:`StreamDecoder`: one per characteristic; feed it notifications (whole frames at
  MTU 247, 1-byte-header fragments at small MTUs); corrupt input is counted and skipped
  (``strict=False``, the default) or raised (``strict=True``).
* :func:`fragment` / :class:`Fragmenter`: split a frame for a small ATT MTU.
* :func:`decode_batch`: many DATA frames -> numpy arrays at once (vectorised CRC).

Only :class:`~firmware_protocol.ProtocolError` escapes the decoders, whatever the input.
Constructing a frame with invalid field values raises ``ValueError`` (``ProtocolError`` is a
``ValueError`` too).
"""

from __future__ import annotations

import math
import struct
from binascii import crc_hqx
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from firmware_protocol import ProtocolError

VERSION = 1
#: Largest frame: one notification at ATT MTU 247 (247 - 3 bytes of ATT header).
MAX_FRAME = 244

# Frame types, sensor -> host.
T_DATA = 0x01
T_LOSS = 0x02
T_STATUS = 0x03
T_CONFIG = 0x04
T_ACK = 0x05
T_SYNC = 0x06
# Command types, host -> sensor.
C_START = 0x81
C_STOP = 0x82
C_CONFIGURE = 0x83
C_READ_CONFIG = 0x84
C_TIME_SYNC = 0x85
C_RESEND = 0x86

EMG_RATES = (500, 1000, 2000)
"""Allowed EMG sampling rates, Hz."""
ACC_RATES = (0, 25, 50, 100, 200)
"""Allowed accelerometer rates, Hz (0 = accelerometer off)."""
EMG_BITS = (16, 24)
ACC_RANGES = (2, 4, 8, 16)
"""Accelerometer full-scale ranges, +-g."""
MAX_CHANNELS = 4

#: Default EMG scale per sample width, µV per count.  16 bit: 0.1 µV/count gives +-3.28 mV
#: full scale (surface EMG of a maximal calf contraction stays below ~2 mV); 24 bit:
#: 0.05 µV/count (about the LSB of an ADS1292-class front end at gain 6: 2.42 V/6/2^23).
DEFAULT_EMG_SCALE_UV = {16: 0.1, 24: 0.05}

U16 = 0xFFFF
U32 = 0xFFFFFFFF
U48 = (1 << 48) - 1
U64 = (1 << 64) - 1

_DATA_HDR = struct.Struct("<BBHIIHIIHBBBBBBf")  # 34 bytes
_LOSS = struct.Struct("<BBHIIIIIIIHB")  # 35 bytes
_STATUS = struct.Struct("<BBHBBHII")  # 16
_CONFIG = struct.Struct("<BBHBBBBBfH")  # 15
_ACK = struct.Struct("<BBBBBI")  # 9
_SYNC = struct.Struct("<BBHQIH")  # 18
_CMD = struct.Struct("<BBB")  # 3
_CONFIGURE = struct.Struct("<BBBHBBBBB")  # 10
_TIME_SYNC = struct.Struct("<BBBQ")  # 11
_RESEND = struct.Struct("<BBBI")  # 7
_CRC = struct.Struct("<H")

DATA_HEADER = _DATA_HDR.size  # 34
DATA_OVERHEAD = DATA_HEADER + 2  # header + CRC = 36


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, xorout 0.

    Check value: ``crc16(b"123456789") == 0x29B1``.
    """
    return crc_hqx(data, 0xFFFF)


def _seal(body: bytes) -> bytes:
    return body + _CRC.pack(crc_hqx(body, 0xFFFF))


def _check_int(name: str, value: int, lo: int, hi: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} {value} out of range {lo}..{hi}")


def _check_in(name: str, value: int, allowed: tuple[int, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} not one of {allowed}")


def emg_frame_size(n_ch: int, emg_bits: int, n_emg: int, n_acc: int) -> int:
    """Bytes of a DATA frame: 36 + n_emg*n_ch*(bits/8) + 6*n_acc."""
    return DATA_OVERHEAD + n_emg * n_ch * (emg_bits // 8) + 6 * n_acc


def max_acc_in_window(n_emg: int, emg_fs: int, acc_fs: int) -> int:
    """Most accelerometer samples a window of ``n_emg`` EMG samples can hold."""
    return -(-n_emg * acc_fs // emg_fs) if acc_fs else 0


def auto_emg_per_frame(
    emg_fs: int, acc_fs: int, n_ch: int, emg_bits: int, max_frame: int = MAX_FRAME
) -> int:
    """EMG samples per channel per frame the firmware uses when asked for 'auto' (0).

    The largest multiple of ``emg_fs / gcd(emg_fs, acc_fs)`` that fits ``max_frame``, so
    every frame holds the same number of accelerometer samples (all frames equal length);
    if even one such step does not fit, the largest count that fits with the worst-case
    number of accelerometer samples.  Capped at 255 (u8 field).
    """
    step = emg_fs // math.gcd(emg_fs, acc_fs) if acc_fs else 1
    acc_per_step = acc_fs * step // emg_fs if acc_fs else 0
    per_step = step * n_ch * (emg_bits // 8) + 6 * acc_per_step
    k = (max_frame - DATA_OVERHEAD) // per_step
    if k >= 1:
        return min(255 // step * step if step <= 255 else 255, k * step)
    n = min(255, (max_frame - DATA_OVERHEAD) // (n_ch * (emg_bits // 8)))
    while n > 1 and emg_frame_size(n_ch, emg_bits, n, max_acc_in_window(n, emg_fs, acc_fs)) > (
        max_frame
    ):
        n -= 1
    return n


# --------------------------------------------------------------------------------------
# Frames (sensor -> host)


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class DataFrame:
    """A DATA frame: EMG (n, ch) and accelerometer (m, 3) samples with their place in time.

    ``t_us`` is the sensor clock (µs since boot) at the frame's first EMG sample.
    ``emg_index``/``acc_index`` count samples since acquisition started (first
    StartStreaming after boot or Configure).  Acc sample ``a`` lies at ``a / acc_fs`` s and
    EMG sample ``i`` at ``i / emg_fs`` s on that same acquisition timeline.
    """

    seq: int
    boot_id: int
    t_us: int
    emg_index: int
    acc_index: int
    emg_fs: int
    acc_fs: int
    emg_bits: int
    acc_range_g: int
    emg_scale: float
    """µV per count (stored as float32 on the wire; coerced to the float32 value)."""
    emg: np.ndarray
    """Raw EMG counts, int32, shape (n_emg, n_ch), sample-major."""
    acc: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int16))
    """Raw accelerometer counts, int16, shape (n_acc, 3) = x, y, z."""

    def __post_init__(self) -> None:
        _check_int("seq", self.seq, 0, U32)
        _check_int("boot_id", self.boot_id, 0, U16)
        _check_int("t_us", self.t_us, 0, U48)
        _check_int("emg_index", self.emg_index, 0, U32)
        _check_int("acc_index", self.acc_index, 0, U32)
        _check_in("emg_fs", self.emg_fs, EMG_RATES)
        _check_in("acc_fs", self.acc_fs, ACC_RATES)
        _check_in("emg_bits", self.emg_bits, EMG_BITS)
        _check_in("acc_range_g", self.acc_range_g, ACC_RANGES)
        scale = float(np.float32(self.emg_scale))
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"emg_scale must be a finite number > 0 µV/count, got {scale}")
        object.__setattr__(self, "emg_scale", scale)
        emg = np.asarray(self.emg)
        acc = np.asarray(self.acc)
        for name, arr in (("emg", emg), ("acc", acc)):
            if arr.size and not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(
                    f"{name} must hold integer counts, got {arr.dtype}; "
                    "use DataFrame.from_samples for µV / g"
                )
        if emg.ndim != 2:
            raise ValueError(f"impossible EMG shape {emg.shape}: need (n, n_ch)")
        if not 1 <= emg.shape[1] <= MAX_CHANNELS:
            raise ValueError(f"impossible channel count {emg.shape[1]} (1-{MAX_CHANNELS})")
        if not 1 <= emg.shape[0] <= 255:
            raise ValueError(f"EMG samples per frame {emg.shape[0]} out of range 1..255")
        lim = 1 << (self.emg_bits - 1)
        if emg.size and (int(emg.min()) < -lim or int(emg.max()) >= lim):
            raise ValueError(f"EMG counts outside the {self.emg_bits}-bit range")
        if acc.ndim != 2 or acc.shape[1] != 3 or acc.shape[0] > 255:
            raise ValueError(f"impossible accelerometer shape {acc.shape}: need (0..255, 3)")
        if self.acc_fs == 0 and acc.shape[0]:
            raise ValueError("accelerometer samples in a frame whose acc_fs is 0 (off)")
        if acc.size and (int(acc.min()) < -32768 or int(acc.max()) > 32767):
            raise ValueError("accelerometer counts outside the 16-bit range")
        object.__setattr__(self, "emg", _ro(emg.astype(np.int32, copy=True)))
        object.__setattr__(self, "acc", _ro(acc.astype(np.int16, copy=True)))
        size = emg_frame_size(emg.shape[1], self.emg_bits, emg.shape[0], acc.shape[0])
        if size > MAX_FRAME:
            raise ValueError(f"frame of {size} bytes exceeds the {MAX_FRAME}-byte maximum")

    @property
    def n_ch(self) -> int:
        return int(self.emg.shape[1])

    @property
    def n_emg(self) -> int:
        return int(self.emg.shape[0])

    @property
    def n_acc(self) -> int:
        return int(self.acc.shape[0])

    @property
    def acc_scale_g(self) -> float:
        """g per accelerometer count: range / 32768."""
        return self.acc_range_g / 32768.0

    def emg_uv(self) -> np.ndarray:
        """EMG in µV, float64 (n, ch)."""
        return self.emg * self.emg_scale

    def acc_g(self) -> np.ndarray:
        """Acceleration in g, float64 (m, 3)."""
        return self.acc * self.acc_scale_g

    def _key(self) -> tuple[Any, ...]:
        return (
            self.seq,
            self.boot_id,
            self.t_us,
            self.emg_index,
            self.acc_index,
            self.emg_fs,
            self.acc_fs,
            self.emg_bits,
            self.acc_range_g,
            self.emg_scale,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataFrame):
            return NotImplemented
        return (
            self._key() == other._key()
            and np.array_equal(self.emg, other.emg)
            and np.array_equal(self.acc, other.acc)
        )

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_samples(
        cls,
        emg_uv: np.ndarray,
        acc_g: np.ndarray | None = None,
        *,
        seq: int,
        boot_id: int,
        t_us: int,
        emg_index: int,
        acc_index: int,
        emg_fs: int,
        acc_fs: int = 0,
        emg_bits: int = 16,
        acc_range_g: int = 8,
        emg_scale: float | None = None,
    ) -> DataFrame:
        """Build a frame from physical samples (µV, g), quantizing with the scales.

        Values are rounded to the nearest count and clipped to the sample width
        (saturation, as an ADC does).
        """
        scale = DEFAULT_EMG_SCALE_UV[emg_bits] if emg_scale is None else emg_scale
        scale = float(np.float32(scale))
        acc = np.zeros((0, 3)) if acc_g is None else np.asarray(acc_g, np.float64).reshape(-1, 3)
        return cls(
            seq=seq,
            boot_id=boot_id,
            t_us=t_us,
            emg_index=emg_index,
            acc_index=acc_index,
            emg_fs=emg_fs,
            acc_fs=acc_fs,
            emg_bits=emg_bits,
            acc_range_g=acc_range_g,
            emg_scale=scale,
            emg=quantize_emg(emg_uv, scale, emg_bits),
            acc=quantize_acc(acc, acc_range_g),
        )


def quantize_emg(emg_uv: np.ndarray, scale_uv: float, bits: int) -> np.ndarray:
    """µV -> int32 counts: round(x / scale), clipped to the signed ``bits`` range."""
    x = np.asarray(emg_uv, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    lim = 1 << (bits - 1)
    q = np.rint(np.nan_to_num(x / scale_uv, nan=0.0))
    return np.clip(q, -lim, lim - 1).astype(np.int32)


def quantize_acc(acc_g: np.ndarray, range_g: int) -> np.ndarray:
    """g -> int16 counts at ``range_g / 32768`` g per count, clipped (saturating)."""
    x = np.asarray(acc_g, np.float64).reshape(-1, 3)
    q = np.rint(np.nan_to_num(x * (32768.0 / range_g), nan=0.0))
    return np.clip(q, -32768, 32767).astype(np.int16)


LOSS_RING = 1
"""LOSS reason: the frames are no longer held in the ring buffer (overwritten)."""
LOSS_FAULT = 2
"""LOSS reason: the sensor never acquired these samples (acquisition fault)."""
LOSS_REASONS = {LOSS_RING: "ring", LOSS_FAULT: "fault"}


@dataclass(frozen=True)
class LossFrame:
    """Explicit loss: frames ``seq_start <= seq < seq_stop`` will never be delivered; they
    held EMG samples ``[emg_start, emg_stop)`` and acc samples ``[acc_start, acc_stop)``.
    ``t_us`` is the sensor clock at EMG sample ``emg_start``."""

    boot_id: int
    seq_start: int
    seq_stop: int
    emg_start: int
    emg_stop: int
    acc_start: int
    acc_stop: int
    t_us: int
    reason: int = LOSS_RING

    def __post_init__(self) -> None:
        _check_int("boot_id", self.boot_id, 0, U16)
        for n in ("seq_start", "seq_stop", "emg_start", "emg_stop", "acc_start", "acc_stop"):
            _check_int(n, getattr(self, n), 0, U32)
        _check_int("t_us", self.t_us, 0, U48)
        if self.seq_stop < self.seq_start:
            raise ValueError(f"loss seq range {self.seq_start}..{self.seq_stop} is reversed")
        if self.emg_stop < self.emg_start or self.acc_stop < self.acc_start:
            raise ValueError("loss sample index range is reversed")
        _check_in("reason", self.reason, tuple(LOSS_REASONS))

    @property
    def reason_name(self) -> str:
        return LOSS_REASONS[self.reason]


# Sensor state codes (StatusFrame.state).
STATE_IDLE = 0
"""Not acquiring (after boot, before the first StartStreaming)."""
STATE_ACQUIRING = 1
"""Acquiring into the ring buffer, notifications off (stopped, or no host)."""
STATE_STREAMING = 2
"""Acquiring and notifying DATA frames."""
STATES = (STATE_IDLE, STATE_ACQUIRING, STATE_STREAMING)

# Status flag bits (StatusFrame.flags).
FLAG_LOW_BATTERY = 1 << 0
"""Battery below LOW_BATTERY_PCT (15 %)."""
FLAG_RING_OVERFLOW = 1 << 1
"""The ring buffer has dropped its oldest frames at least once since boot."""
FLAG_ELECTRODE_OFF = 1 << 2
"""Lead-off detected on at least one EMG channel."""
FLAG_ADC_ERROR = 1 << 3
"""Acquisition fault (ADC/accelerometer did not answer)."""
FLAG_SOURCE_END = 1 << 4
"""Emulator only: the sample provider has no more samples."""
#: Low-battery threshold, %: the level at which Android offers Battery Saver (15 %), a
#: familiar warning point; at the emulator's ~3.3 %/h drain it leaves ~4.5 h, half a night.
LOW_BATTERY_PCT = 15


@dataclass(frozen=True)
class StatusFrame:
    """Battery, state and error flags; also the ring-buffer window ``[oldest_seq, next_seq)``."""

    boot_id: int
    battery_pct: int
    state: int
    flags: int
    next_seq: int
    """Sequence number the next DATA frame will carry."""
    oldest_seq: int
    """Oldest sequence number still held in the ring (== next_seq when empty)."""

    def __post_init__(self) -> None:
        _check_int("boot_id", self.boot_id, 0, U16)
        _check_int("battery_pct", self.battery_pct, 0, 100)
        _check_in("state", self.state, STATES)
        _check_int("flags", self.flags, 0, U16)
        _check_int("next_seq", self.next_seq, 0, U32)
        _check_int("oldest_seq", self.oldest_seq, 0, U32)
        if self.oldest_seq > self.next_seq:
            raise ValueError(f"oldest_seq {self.oldest_seq} > next_seq {self.next_seq}")

    @property
    def low_battery(self) -> bool:
        return bool(self.flags & FLAG_LOW_BATTERY)


@dataclass(frozen=True)
class ConfigFrame:
    """The configuration in force (read on CONFIG, or notified after ReadConfig)."""

    emg_fs: int
    n_ch: int
    emg_bits: int
    acc_fs: int
    acc_range_g: int
    emg_per_frame: int
    """EMG samples per channel per DATA frame actually used (resolved, never 0)."""
    emg_scale: float
    """µV per count (float32 on the wire)."""
    ring_s: int
    """Ring-buffer capacity in seconds at this configuration."""

    def __post_init__(self) -> None:
        _check_in("emg_fs", self.emg_fs, EMG_RATES)
        _check_int("n_ch", self.n_ch, 1, MAX_CHANNELS)
        _check_in("emg_bits", self.emg_bits, EMG_BITS)
        _check_in("acc_fs", self.acc_fs, ACC_RATES)
        _check_in("acc_range_g", self.acc_range_g, ACC_RANGES)
        _check_int("emg_per_frame", self.emg_per_frame, 1, 255)
        _check_int("ring_s", self.ring_s, 0, U16)
        scale = float(np.float32(self.emg_scale))
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"emg_scale must be a finite number > 0 µV/count, got {scale}")
        object.__setattr__(self, "emg_scale", scale)

    @property
    def acc_scale_g(self) -> float:
        return self.acc_range_g / 32768.0


# ACK result codes.
ACK_OK = 0
ACK_MALFORMED = 1
"""Command bytes invalid (CRC, length, version)."""
ACK_UNKNOWN = 2
"""Unknown command type."""
ACK_BAD_VALUE = 3
"""Well-formed but not supported (e.g. a rate this sensor cannot do, seq in the future)."""
ACK_BAD_STATE = 4
"""Not allowed now (e.g. Configure while acquiring)."""
ACK_NOT_PAIRED = 5
"""The link is not encrypted with a bond this sensor holds: nothing was done (PROTOCOL.md 7)."""
ACK_RESULTS = {
    ACK_OK: "ok",
    ACK_MALFORMED: "malformed",
    ACK_UNKNOWN: "unknown-command",
    ACK_BAD_VALUE: "bad-value",
    ACK_BAD_STATE: "bad-state",
    ACK_NOT_PAIRED: "not-paired",
}


@dataclass(frozen=True)
class AckFrame:
    """Answer to a command (notified on CONTROL).  ``value``: Resend -> first seq that will
    be resent; otherwise 0."""

    token: int
    command: int
    result: int
    value: int = 0

    def __post_init__(self) -> None:
        _check_int("token", self.token, 0, 255)
        _check_int("command", self.command, 0, 255)
        _check_in("result", self.result, tuple(ACK_RESULTS))
        _check_int("value", self.value, 0, U32)

    @property
    def ok(self) -> bool:
        return self.result == ACK_OK


@dataclass(frozen=True)
class SyncFrame:
    """Reply to TimeSync (notified on CONTROL): the host's clock echoed and the sensor clock
    (µs since boot) when the command arrived."""

    boot_id: int
    host_us: int
    sensor_us: int

    def __post_init__(self) -> None:
        _check_int("boot_id", self.boot_id, 0, U16)
        _check_int("host_us", self.host_us, 0, U64)
        _check_int("sensor_us", self.sensor_us, 0, U48)


Frame = DataFrame | LossFrame | StatusFrame | ConfigFrame | AckFrame | SyncFrame


# --------------------------------------------------------------------------------------
# Commands (host -> sensor)


@dataclass(frozen=True)
class StartStreaming:
    """Start acquisition (if idle) and notifications of DATA frames."""

    token: int = 0
    TYPE: ClassVar[int] = C_START

    def __post_init__(self) -> None:
        _check_int("token", self.token, 0, 255)


@dataclass(frozen=True)
class StopStreaming:
    """Stop notifications; acquisition into the ring buffer continues."""

    token: int = 0
    TYPE: ClassVar[int] = C_STOP

    def __post_init__(self) -> None:
        _check_int("token", self.token, 0, 255)


@dataclass(frozen=True)
class ReadConfig:
    """Ask for the configuration (ACK, then a CONFIG frame, both on CONTROL)."""

    token: int = 0
    TYPE: ClassVar[int] = C_READ_CONFIG

    def __post_init__(self) -> None:
        _check_int("token", self.token, 0, 255)


@dataclass(frozen=True)
class Configure:
    """Set rates, widths, channels.  Accepted only when idle (before acquisition starts)."""

    emg_fs: int = 1000
    n_ch: int = 2
    emg_bits: int = 16
    acc_fs: int = 50
    acc_range_g: int = 8
    emg_per_frame: int = 0
    """EMG samples per channel per frame; 0 = auto (:func:`auto_emg_per_frame`)."""
    token: int = 0
    TYPE: ClassVar[int] = C_CONFIGURE

    def __post_init__(self) -> None:
        _check_in("emg_fs", self.emg_fs, EMG_RATES)
        _check_int("n_ch", self.n_ch, 1, MAX_CHANNELS)
        _check_in("emg_bits", self.emg_bits, EMG_BITS)
        _check_in("acc_fs", self.acc_fs, ACC_RATES)
        _check_in("acc_range_g", self.acc_range_g, ACC_RANGES)
        _check_int("emg_per_frame", self.emg_per_frame, 0, 255)
        _check_int("token", self.token, 0, 255)


@dataclass(frozen=True)
class TimeSync:
    """Host clock (µs, any epoch, e.g. Unix) in; the sensor answers with a SYNC frame."""

    host_us: int
    token: int = 0
    TYPE: ClassVar[int] = C_TIME_SYNC

    def __post_init__(self) -> None:
        _check_int("host_us", self.host_us, 0, U64)
        _check_int("token", self.token, 0, 255)


@dataclass(frozen=True)
class Resend:
    """Resend held DATA frames from ``from_seq`` on, then continue live (backfill)."""

    from_seq: int
    token: int = 0
    TYPE: ClassVar[int] = C_RESEND

    def __post_init__(self) -> None:
        _check_int("from_seq", self.from_seq, 0, U32)
        _check_int("token", self.token, 0, 255)


Command = StartStreaming | StopStreaming | Configure | ReadConfig | TimeSync | Resend

FRAME_NAMES = {
    T_DATA: "DATA",
    T_LOSS: "LOSS",
    T_STATUS: "STATUS",
    T_CONFIG: "CONFIG",
    T_ACK: "ACK",
    T_SYNC: "SYNC",
}
COMMAND_NAMES = {
    C_START: "START",
    C_STOP: "STOP",
    C_CONFIGURE: "CONFIGURE",
    C_READ_CONFIG: "READ_CONFIG",
    C_TIME_SYNC: "TIME_SYNC",
    C_RESEND: "RESEND",
}

# --------------------------------------------------------------------------------------
# Encoding


def _pack_i24(values: np.ndarray) -> bytes:
    u = (values.astype(np.int64) & 0xFFFFFF).astype("<u4")
    return u.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def encode_frame(frame: Frame) -> bytes:
    """Frame -> bytes (CRC appended)."""
    if isinstance(frame, DataFrame):
        hdr = _DATA_HDR.pack(
            VERSION,
            T_DATA,
            frame.boot_id,
            frame.seq,
            frame.t_us & U32,
            frame.t_us >> 32,
            frame.emg_index,
            frame.acc_index,
            frame.emg_fs,
            frame.acc_fs,
            frame.n_ch,
            frame.emg_bits,
            frame.acc_range_g,
            frame.n_emg,
            frame.n_acc,
            frame.emg_scale,
        )
        if frame.emg_bits == 16:
            emg = frame.emg.astype("<i2").tobytes()
        else:
            emg = _pack_i24(frame.emg)
        return _seal(hdr + emg + frame.acc.astype("<i2").tobytes())
    if isinstance(frame, LossFrame):
        return _seal(
            _LOSS.pack(
                VERSION,
                T_LOSS,
                frame.boot_id,
                frame.seq_start,
                frame.seq_stop,
                frame.emg_start,
                frame.emg_stop,
                frame.acc_start,
                frame.acc_stop,
                frame.t_us & U32,
                frame.t_us >> 32,
                frame.reason,
            )
        )
    if isinstance(frame, StatusFrame):
        return _seal(
            _STATUS.pack(
                VERSION,
                T_STATUS,
                frame.boot_id,
                frame.battery_pct,
                frame.state,
                frame.flags,
                frame.next_seq,
                frame.oldest_seq,
            )
        )
    if isinstance(frame, ConfigFrame):
        return _seal(
            _CONFIG.pack(
                VERSION,
                T_CONFIG,
                frame.emg_fs,
                frame.n_ch,
                frame.emg_bits,
                frame.acc_fs,
                frame.acc_range_g,
                frame.emg_per_frame,
                frame.emg_scale,
                frame.ring_s,
            )
        )
    if isinstance(frame, AckFrame):
        return _seal(
            _ACK.pack(VERSION, T_ACK, frame.token, frame.command, frame.result, frame.value)
        )
    if isinstance(frame, SyncFrame):
        return _seal(
            _SYNC.pack(
                VERSION,
                T_SYNC,
                frame.boot_id,
                frame.host_us,
                frame.sensor_us & U32,
                frame.sensor_us >> 32,
            )
        )
    raise TypeError(f"not a frame: {frame!r}")


def encode_command(cmd: Command) -> bytes:
    """Command -> bytes (CRC appended)."""
    if isinstance(cmd, Configure):
        body = _CONFIGURE.pack(
            VERSION,
            C_CONFIGURE,
            cmd.token,
            cmd.emg_fs,
            cmd.n_ch,
            cmd.emg_bits,
            cmd.acc_fs,
            cmd.acc_range_g,
            cmd.emg_per_frame,
        )
    elif isinstance(cmd, TimeSync):
        body = _TIME_SYNC.pack(VERSION, C_TIME_SYNC, cmd.token, cmd.host_us)
    elif isinstance(cmd, Resend):
        body = _RESEND.pack(VERSION, C_RESEND, cmd.token, cmd.from_seq)
    elif isinstance(cmd, StartStreaming | StopStreaming | ReadConfig):
        body = _CMD.pack(VERSION, cmd.TYPE, cmd.token)
    else:
        raise TypeError(f"not a command: {cmd!r}")
    return _seal(body)


# --------------------------------------------------------------------------------------
# Decoding

_FRAME_SIZES = {
    T_LOSS: _LOSS.size + 2,
    T_STATUS: _STATUS.size + 2,
    T_CONFIG: _CONFIG.size + 2,
    T_ACK: _ACK.size + 2,
    T_SYNC: _SYNC.size + 2,
}
_COMMAND_SIZES = {
    C_START: 5,
    C_STOP: 5,
    C_READ_CONFIG: 5,
    C_CONFIGURE: _CONFIGURE.size + 2,
    C_TIME_SYNC: _TIME_SYNC.size + 2,
    C_RESEND: _RESEND.size + 2,
}


def _envelope(data: Any, what: str) -> bytes:
    """Common checks: bytes-like, length 4..244, version.  Returns ``bytes``."""
    if not isinstance(data, bytes):
        if not isinstance(data, bytearray | memoryview):
            raise ProtocolError(f"{what} must be bytes, got {type(data).__name__}")
        try:
            data = bytes(data)
        except (ValueError, TypeError, BufferError) as e:
            raise ProtocolError(f"{what} is not a readable byte buffer: {e}") from None
    n = len(data)
    if n == 0:
        raise ProtocolError(f"empty {what}")
    if n > MAX_FRAME:
        raise ProtocolError(f"oversize {what}: {n} bytes, the maximum is {MAX_FRAME}")
    if data[0] != VERSION:
        raise ProtocolError(f"unknown version {data[0]} (this decoder speaks version {VERSION})")
    if n < 4:
        raise ProtocolError(f"{what} truncated at byte {n} (need at least 4)")
    return data


def _check_len(data: bytes, need: int, what: str) -> None:
    n = len(data)
    if n < need:
        raise ProtocolError(f"{what} truncated at byte {n} (need {need})")
    if n > need:
        raise ProtocolError(f"{what} too long: {n} bytes, its header says {need}")


def _check_crc(data: bytes, what: str) -> None:
    got = data[-2] | (data[-1] << 8)
    expected = crc_hqx(memoryview(data)[:-2], 0xFFFF)
    if got != expected:
        raise ProtocolError(f"bad CRC in {what}: expected 0x{expected:04X}, got 0x{got:04X}")


def _data_header_errors(
    emg_fs: int, acc_fs: int, n_ch: int, bits: int, rng: int, n_emg: int, n_acc: int, scale: float
) -> str | None:
    if not 1 <= n_ch <= MAX_CHANNELS:
        return f"impossible channel count {n_ch} (1-{MAX_CHANNELS})"
    if emg_fs not in EMG_RATES:
        return f"impossible EMG rate {emg_fs} Hz (one of {EMG_RATES})"
    if acc_fs not in ACC_RATES:
        return f"impossible accelerometer rate {acc_fs} Hz (one of {ACC_RATES})"
    if bits not in EMG_BITS:
        return f"impossible EMG sample width {bits} bits (16 or 24)"
    if rng not in ACC_RANGES:
        return f"impossible accelerometer range +-{rng} g (one of {ACC_RANGES})"
    if n_emg == 0:
        return "DATA frame with 0 EMG samples"
    if acc_fs == 0 and n_acc:
        return f"{n_acc} accelerometer samples in a frame whose acc_fs is 0"
    if not (math.isfinite(scale) and scale > 0):
        return f"impossible EMG scale {scale} µV/count (must be finite and > 0)"
    return None


def _decode_data(data: bytes) -> DataFrame:
    n = len(data)
    if n < DATA_OVERHEAD:
        raise ProtocolError(f"DATA frame truncated at byte {n} (need {DATA_OVERHEAD})")
    (
        _v,
        _t,
        boot_id,
        seq,
        t_lo,
        t_hi,
        emg_index,
        acc_index,
        emg_fs,
        acc_fs,
        n_ch,
        bits,
        rng,
        n_emg,
        n_acc,
        scale,
    ) = _DATA_HDR.unpack_from(data)
    err = _data_header_errors(emg_fs, acc_fs, n_ch, bits, rng, n_emg, n_acc, scale)
    if err:
        raise ProtocolError(err)
    need = emg_frame_size(n_ch, bits, n_emg, n_acc)
    _check_len(data, need, "DATA frame")
    _check_crc(data, "DATA frame")
    off = DATA_HEADER
    if bits == 16:
        emg = np.frombuffer(data, "<i2", n_emg * n_ch, off).reshape(n_emg, n_ch)
        off += 2 * n_emg * n_ch
    else:
        b = np.frombuffer(data, np.uint8, 3 * n_emg * n_ch, off).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        emg = ((v ^ 0x800000) - 0x800000).reshape(n_emg, n_ch)
        off += 3 * n_emg * n_ch
    acc = np.frombuffer(data, "<i2", 3 * n_acc, off).reshape(n_acc, 3)
    # Fields were validated above; bypass the constructor's re-validation for speed.
    f = object.__new__(DataFrame)
    s = object.__setattr__
    s(f, "seq", seq)
    s(f, "boot_id", boot_id)
    s(f, "t_us", t_lo | (t_hi << 32))
    s(f, "emg_index", emg_index)
    s(f, "acc_index", acc_index)
    s(f, "emg_fs", emg_fs)
    s(f, "acc_fs", acc_fs)
    s(f, "emg_bits", bits)
    s(f, "acc_range_g", rng)
    s(f, "emg_scale", float(scale))
    s(f, "emg", _ro(emg.astype(np.int32)))
    s(f, "acc", _ro(acc.astype(np.int16)))
    return f


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Bytes of one whole frame (sensor -> host) -> typed frame.  Raises ProtocolError."""
    data = _envelope(data, "frame")
    ftype = data[1]
    if ftype == T_DATA:
        return _decode_data(data)
    need = _FRAME_SIZES.get(ftype)
    if need is None:
        if ftype in COMMAND_NAMES:
            raise ProtocolError(
                f"got a {COMMAND_NAMES[ftype]} command (type 0x{ftype:02X}) where a frame was expected"
            )
        raise ProtocolError(f"unknown frame type 0x{ftype:02X}")
    name = FRAME_NAMES[ftype]
    _check_len(data, need, f"{name} frame")
    _check_crc(data, f"{name} frame")
    try:
        if ftype == T_LOSS:
            (_, _, boot, s0, s1, e0, e1, a0, a1, t_lo, t_hi, reason) = _LOSS.unpack_from(data)
            return LossFrame(boot, s0, s1, e0, e1, a0, a1, t_lo | (t_hi << 32), reason)
        if ftype == T_STATUS:
            (_, _, boot, batt, state, flags, nxt, old) = _STATUS.unpack_from(data)
            return StatusFrame(boot, batt, state, flags, nxt, old)
        if ftype == T_CONFIG:
            (_, _, efs, nch, bits, afs, rng, epf, scale, ring_s) = _CONFIG.unpack_from(data)
            return ConfigFrame(efs, nch, bits, afs, rng, epf, scale, ring_s)
        if ftype == T_ACK:
            (_, _, token, cmd, result, value) = _ACK.unpack_from(data)
            return AckFrame(token, cmd, result, value)
        (_, _, boot, host_us, t_lo, t_hi) = _SYNC.unpack_from(data)
        return SyncFrame(boot, host_us, t_lo | (t_hi << 32))
    except ValueError as e:  # field validation (ProtocolError is a ValueError too)
        raise ProtocolError(f"invalid {name} frame: {e}") from None


def decode_command(data: bytes | bytearray | memoryview) -> Command:
    """Bytes written to CONTROL -> typed command.  Raises ProtocolError."""
    data = _envelope(data, "command")
    ctype = data[1]
    need = _COMMAND_SIZES.get(ctype)
    if need is None:
        if ctype in FRAME_NAMES:
            raise ProtocolError(
                f"got a {FRAME_NAMES[ctype]} frame (type 0x{ctype:02X}) where a command was expected"
            )
        raise ProtocolError(f"unknown command type 0x{ctype:02X}")
    name = COMMAND_NAMES[ctype]
    _check_len(data, need, f"{name} command")
    _check_crc(data, f"{name} command")
    try:
        if ctype == C_CONFIGURE:
            (_, _, token, efs, nch, bits, afs, rng, epf) = _CONFIGURE.unpack_from(data)
            return Configure(efs, nch, bits, afs, rng, epf, token)
        if ctype == C_TIME_SYNC:
            (_, _, token, host_us) = _TIME_SYNC.unpack_from(data)
            return TimeSync(host_us, token)
        if ctype == C_RESEND:
            (_, _, token, from_seq) = _RESEND.unpack_from(data)
            return Resend(from_seq, token)
        token = data[2]
        if ctype == C_START:
            return StartStreaming(token)
        if ctype == C_STOP:
            return StopStreaming(token)
        return ReadConfig(token)
    except ValueError as e:
        raise ProtocolError(f"invalid {name} command: {e}") from None


# --------------------------------------------------------------------------------------
# Fragmentation (small ATT MTU)

FRAG_MARK = 0x80
FRAG_START = 0x40
FRAG_END = 0x20
FRAG_COUNTER = 0x1F


def fragment(frame: bytes, mtu: int, counter: int = 0) -> list[bytes]:
    """Split ``frame`` into notifications for ATT MTU ``mtu``.

    A frame that fits ``mtu - 3`` bytes is returned whole (no header).  Otherwise each
    piece gets a 1-byte header: bit 7 = 1 (fragment), bit 6 = START, bit 5 = END, bits
    0-4 = fragment counter (``counter``, ``counter + 1``, ... mod 32).  Use
    :class:`Fragmenter` to carry the counter across frames.
    """
    room = mtu - 3
    if room < 2:
        raise ValueError(f"ATT MTU {mtu} too small (minimum 23 in BLE; need >= 5 here)")
    if len(frame) <= room:
        return [bytes(frame)]
    step = room - 1
    out = []
    n = len(frame)
    for i, off in enumerate(range(0, n, step)):
        flags = FRAG_MARK | ((counter + i) & FRAG_COUNTER)
        if off == 0:
            flags |= FRAG_START
        if off + step >= n:
            flags |= FRAG_END
        out.append(bytes((flags,)) + frame[off : off + step])
    return out


class Fragmenter:
    """Stateful :func:`fragment`: keeps the fragment counter of one characteristic."""

    def __init__(self, mtu: int) -> None:
        self.mtu = mtu
        self.counter = 0

    def split(self, frame: bytes) -> list[bytes]:
        parts = fragment(frame, self.mtu, self.counter)
        if len(parts) > 1:
            self.counter = (self.counter + len(parts)) & FRAG_COUNTER
        return parts


class StreamDecoder:
    """Notifications in (whole frames or fragments), frames out.  One per characteristic.

    Corrupt input policy: with ``strict=False`` (default) a notification or reassembled
    frame that does not decode is skipped and counted in :attr:`n_errors` (the last 100
    messages in :attr:`errors`); with ``strict=True`` it raises :class:`ProtocolError`.
    A lost fragment (counter jump), a fragment without START, or a new frame while one is
    half-assembled discard the partial frame and count one error.
    ``kind="frame"`` decodes sensor->host frames, ``kind="command"`` host->sensor commands.
    """

    def __init__(self, *, strict: bool = False, kind: Literal["frame", "command"] = "frame"):
        self.strict = strict
        self._decode = decode_command if kind == "command" else decode_frame
        self._partial: bytearray | None = None
        self._counter = 0
        self._skipping = False
        self.n_frames = 0
        self.n_errors = 0
        self.errors: deque[str] = deque(maxlen=100)

    def _error(self, msg: str) -> None:
        self.n_errors += 1
        self.errors.append(msg)
        if self.strict:
            raise ProtocolError(msg)

    def reassemble(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """One notification -> the whole frames it completes (0 or 1), not yet decoded."""
        if not isinstance(data, bytes | bytearray | memoryview):
            self._error(f"notification must be bytes, got {type(data).__name__}")
            return []
        if len(data) == 0:
            self._error("empty notification")
            return []
        head = data[0]
        if not head & FRAG_MARK:
            if self._partial is not None:
                self._partial = None
                self._error("incomplete fragmented frame discarded (a whole frame followed)")
            self._skipping = False
            return [bytes(data)]
        c = head & FRAG_COUNTER
        if head & FRAG_START:
            self._skipping = False
            if self._partial is not None:
                self._partial = None
                self._error("incomplete fragmented frame discarded (a new START followed)")
            self._partial = bytearray(data[1:])
        else:
            if self._partial is None:
                if not self._skipping:  # one error per broken frame, not per fragment
                    self._skipping = True
                    self._error(f"fragment {c} without a START fragment; frame dropped")
                return []
            expected = (self._counter + 1) & FRAG_COUNTER
            if c != expected:
                self._partial = None
                self._skipping = True
                self._error(f"lost fragment: counter {c}, expected {expected}; frame dropped")
                return []
            self._partial += data[1:]
        self._counter = c
        if len(self._partial) > MAX_FRAME:
            self._partial = None
            self._skipping = True
            self._error(f"fragmented frame exceeds the {MAX_FRAME}-byte maximum")
            return []
        if head & FRAG_END:
            whole = bytes(self._partial)
            self._partial = None
            return [whole]
        return []

    def feed_raw(self, data: bytes | bytearray | memoryview) -> list[tuple[bytes, Any]]:
        """Like :meth:`feed` but returns ``(frame_bytes, frame)`` pairs (for recording)."""
        out = []
        for whole in self.reassemble(data):
            try:
                frame = self._decode(whole)
            except ProtocolError as e:
                self._error(str(e))
                continue
            self.n_frames += 1
            out.append((whole, frame))
        return out

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """One notification -> the frames (or commands) it completes."""
        return [f for _, f in self.feed_raw(data)]


# --------------------------------------------------------------------------------------
# Batch decoding


def _crc_tables() -> tuple[np.ndarray, np.ndarray]:
    t8 = np.zeros(256, np.uint32)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t8[i] = c & 0xFFFF
    x = np.arange(65536, dtype=np.uint32)
    for _ in range(2):  # feed two zero bytes: T16[x] = x * X^16 mod P
        x = ((x << 8) & 0xFFFF) ^ t8[x >> 8]
    return t8.astype(np.uint16), x.astype(np.uint16)


_T8, _T16 = _crc_tables()


def crc16_rows(rows: np.ndarray, block: int = 4096) -> np.ndarray:
    """CRC-16/CCITT-FALSE of every row of a 2-D uint8 array, vectorised.

    16 bits per step through a 65536-entry table (``T16[x] = x * X^16 mod P``), over blocks
    of ``block`` rows transposed so that each step reads contiguous memory that stays in
    cache.
    """
    g, n = rows.shape
    out = np.empty(g, np.uint16)
    n2 = n // 2 * 2
    for b0 in range(0, g, block):
        blk = rows[b0 : b0 + block]
        crc = np.full(blk.shape[0], 0xFFFF, np.uint16)
        if n2:
            w = blk[:, :n2].view(">u2").T.copy()  # (n/2, rows), one transposing copy
            for k in range(w.shape[0]):
                np.bitwise_xor(crc, w[k], out=crc)
                crc = _T16.take(crc)
        if n % 2:
            last = blk[:, n - 1].astype(np.uint16)
            crc = ((crc << 8) & 0xFFFF).astype(np.uint16) ^ _T8.take((crc >> 8) ^ last)
        out[b0 : b0 + block] = crc
    return out


@dataclass(frozen=True, eq=False)
class Batch:
    """Many DATA frames decoded at once.  Per-frame arrays have length ``n_frames`` (input
    order of the data frames); sample arrays are all frames' samples concatenated."""

    pos: np.ndarray
    """Index of each data frame in the input list."""
    seq: np.ndarray
    boot_id: np.ndarray
    t_us: np.ndarray
    emg_index: np.ndarray
    acc_index: np.ndarray
    emg_fs: np.ndarray
    acc_fs: np.ndarray
    n_emg: np.ndarray
    n_acc: np.ndarray
    emg_scale: np.ndarray
    """µV per count, per frame (float64)."""
    acc_range_g: np.ndarray
    n_ch: int
    emg_raw: np.ndarray
    """(sum n_emg, n_ch) int16 (16-bit frames) or int32 (24-bit)."""
    acc_raw: np.ndarray
    """(sum n_acc, 3) int16."""
    others: list[tuple[int, Frame]]
    """Non-DATA frames (LOSS, STATUS, ...) with their input position."""
    bad: list[tuple[int, str]]
    """With ``errors="skip"``: input positions that did not decode, with the reason."""

    @property
    def n_frames(self) -> int:
        return int(self.seq.shape[0])

    @property
    def emg_offsets(self) -> np.ndarray:
        """(n_frames + 1,) start of each frame's samples in ``emg_raw``."""
        return np.concatenate(([0], np.cumsum(self.n_emg)))

    @property
    def acc_offsets(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.n_acc)))

    def emg_uv(self) -> np.ndarray:
        """(sum n_emg, n_ch) float64 µV."""
        if self.n_frames == 0:
            return np.zeros((0, self.n_ch))
        s = self.emg_scale
        if np.all(s == s[0]):
            return self.emg_raw * s[0]
        return self.emg_raw * np.repeat(s, self.n_emg)[:, None]

    def acc_g(self) -> np.ndarray:
        """(sum n_acc, 3) float64 g."""
        if self.acc_raw.shape[0] == 0:
            return np.zeros((0, 3))
        r = self.acc_range_g
        if np.all(r == r[0]):
            return self.acc_raw * (r[0] / 32768.0)
        return self.acc_raw * (np.repeat(r, self.n_acc) / 32768.0)[:, None]

    def emg_sample_index(self) -> np.ndarray:
        """(sum n_emg,) acquisition-timeline index of each EMG sample."""
        return np.repeat(self.emg_index - self.emg_offsets[:-1], self.n_emg) + np.arange(
            int(self.n_emg.sum())
        )


_HDR_DTYPE = np.dtype(
    {
        "names": [
            "ver",
            "type",
            "boot",
            "seq",
            "t_lo",
            "t_hi",
            "ei",
            "ai",
            "efs",
            "afs",
            "nch",
            "bits",
            "rng",
            "nemg",
            "nacc",
            "scale",
        ],
        "formats": [
            "u1",
            "u1",
            "<u2",
            "<u4",
            "<u4",
            "<u2",
            "<u4",
            "<u4",
            "<u2",
            "u1",
            "u1",
            "u1",
            "u1",
            "u1",
            "u1",
            "<f4",
        ],
        "offsets": [0, 1, 2, 4, 8, 12, 14, 18, 22, 24, 25, 26, 27, 28, 29, 30],
        "itemsize": DATA_HEADER,
    }
)


def _group_ok(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised validation of equal-length DATA rows.  Returns (header records, ok mask)."""
    g, length = rows.shape
    hdr = np.ascontiguousarray(rows[:, :DATA_HEADER]).view(_HDR_DTYPE).reshape(g)
    nch = hdr["nch"].astype(np.int64)
    bits = hdr["bits"].astype(np.int64)
    nemg = hdr["nemg"].astype(np.int64)
    nacc = hdr["nacc"].astype(np.int64)
    afs = hdr["afs"]
    with np.errstate(invalid="ignore", over="ignore"):
        scale = hdr["scale"].astype(np.float64)
        ok = (
            (hdr["ver"] == VERSION)
            & (hdr["type"] == T_DATA)
            & (nch >= 1)
            & (nch <= MAX_CHANNELS)
            & np.isin(hdr["efs"], EMG_RATES)
            & np.isin(afs, ACC_RATES)
            & ((bits == 16) | (bits == 24))
            & np.isin(hdr["rng"], ACC_RANGES)
            & (nemg >= 1)
            & ((afs != 0) | (nacc == 0))
            & np.isfinite(scale)
            & (scale > 0)
            & (DATA_OVERHEAD + nemg * nch * (bits // 8) + 6 * nacc == length)
        )
    crc = crc16_rows(rows[:, : length - 2])
    stored = rows[:, length - 2].astype(np.uint16) | (rows[:, length - 1].astype(np.uint16) << 8)
    ok &= crc == stored
    return hdr, ok


def decode_batch(frames: Sequence[bytes], *, errors: Literal["raise", "skip"] = "raise") -> Batch:
    """Decode many frames into numpy arrays at once (the replay/backfill fast path).

    DATA frames are validated (header fields, length, CRC) in vectorised form, grouped by
    length.  Anything else goes through :func:`decode_frame`: valid non-DATA frames land in
    ``Batch.others``; invalid input raises :class:`ProtocolError` (``errors="raise"``) or
    is listed in ``Batch.bad`` (``errors="skip"``).  All DATA frames of one batch must share
    channel count and sample width (split batches at configuration changes).
    Result equals per-frame :func:`decode_frame` on every frame.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    try:
        frames = list(frames)
        joined = b"".join(frames)  # TypeError unless every item is bytes-like
        n = len(frames)
        lengths = np.fromiter(map(len, frames), np.int64, n)
    except TypeError as e:
        raise ProtocolError(f"decode_batch needs a sequence of bytes: {e}") from None
    if int(lengths.sum()) != len(joined):
        raise ProtocolError("decode_batch needs byte buffers (memoryviews of 1-byte items)")
    buf = np.frombuffer(joined, np.uint8)
    starts = np.zeros(n, np.int64)
    if n:
        np.cumsum(lengths[:-1], out=starts[1:])
    cand = (lengths >= DATA_OVERHEAD) & (lengths <= MAX_FRAME)
    idx_c = np.flatnonzero(cand)
    if idx_c.size:
        sc = starts[idx_c]
        is_data = (buf[sc] == VERSION) & (buf[sc + 1] == T_DATA)
        idx_c = idx_c[is_data]
    good = np.zeros(n, bool)
    hdr_all: dict[str, np.ndarray] = {}
    lens_c = lengths[idx_c]
    uniq = np.unique(lens_c)
    group_results = []
    for length in uniq.tolist():
        if idx_c.size == n and uniq.size == 1:
            gidx = idx_c
            rows = buf.reshape(n, length)
        else:
            gidx = idx_c[lens_c == length]
            rows = np.frombuffer(b"".join([frames[i] for i in gidx.tolist()]), np.uint8)
            rows = rows.reshape(gidx.size, length)
        hdr, ok = _group_ok(rows)
        good[gidx[ok]] = True
        group_results.append((gidx, hdr, ok, rows))
    names: tuple[str, ...] = ("boot", "seq", "t_lo", "t_hi", "ei", "ai", "efs", "afs", "nch")
    names += ("bits", "rng", "nemg", "nacc", "scale")
    fld: dict[str, np.ndarray] = {}
    if (
        len(group_results) == 1
        and group_results[0][0].size == n
        and bool(group_results[0][2].all())
    ):
        # Common case (a clean recording): every frame is a valid DATA frame of one length.
        hdr = group_results[0][1]
        for name in names:
            fld[name] = hdr[name].astype(np.float64 if name == "scale" else np.int64)
        pos = np.arange(n)
    else:
        # Header fields scattered into input order, then gathered for the good frames.
        for name in names:
            hdr_all[name] = np.zeros(n, np.float64 if name == "scale" else np.int64)
        for gidx, hdr, ok, _rows in group_results:
            sel = gidx[ok]
            for name in names:
                hdr_all[name][sel] = hdr[name][ok]
        pos = np.flatnonzero(good)
        for name in names:
            fld[name] = hdr_all[name][pos]
    others: list[tuple[int, Frame]] = []
    bad: list[tuple[int, str]] = []
    for i in np.flatnonzero(~good).tolist():
        try:
            fr = decode_frame(frames[i])
        except ProtocolError as e:
            if errors == "raise":
                raise ProtocolError(f"frame {i} of batch: {e}") from None
            bad.append((i, str(e)))
            continue
        if isinstance(fr, DataFrame):  # cannot happen: vector and scalar checks agree
            raise ProtocolError(f"frame {i} of batch: internal validator disagreement")
        others.append((i, fr))
    nch_v = fld["nch"]
    bits_v = fld["bits"]
    if pos.size and (np.any(nch_v != nch_v[0]) or np.any(bits_v != bits_v[0])):
        raise ProtocolError(
            "mixed channel counts or sample widths in one batch; split it at the configuration change"
        )
    n_ch = int(nch_v[0]) if pos.size else 1
    bits = int(bits_v[0]) if pos.size else 16
    bw = bits // 8
    nemg = fld["nemg"]
    nacc = fld["nacc"]
    uniform = (
        pos.size == n
        and len(group_results) == 1
        and bool(np.all(nemg == nemg[0]))
        and bool(np.all(nacc == nacc[0]))
    )
    if uniform:
        rows = group_results[0][3]
        e_bytes = int(nemg[0]) * n_ch * bw
        emg_b = rows[:, DATA_HEADER : DATA_HEADER + e_bytes]
        acc_b = rows[:, DATA_HEADER + e_bytes : DATA_HEADER + e_bytes + 6 * int(nacc[0])]
        emg_u8 = np.ascontiguousarray(emg_b).reshape(-1)
        acc_u8 = np.ascontiguousarray(acc_b).reshape(-1)
    else:
        eb = (DATA_HEADER + nemg * n_ch * bw).tolist()
        ab = (DATA_HEADER + nemg * n_ch * bw + 6 * nacc).tolist()
        fl = [frames[i] for i in pos.tolist()]
        emg_u8 = np.frombuffer(
            b"".join([f[DATA_HEADER:e] for f, e in zip(fl, eb, strict=True)]), np.uint8
        )
        acc_u8 = np.frombuffer(
            b"".join([f[e:a] for f, e, a in zip(fl, eb, ab, strict=True)]), np.uint8
        )
    if bits == 16:
        emg_raw = emg_u8.view("<i2").reshape(-1, n_ch)
    else:
        b3 = emg_u8.reshape(-1, 3).astype(np.int32)
        v = b3[:, 0] | (b3[:, 1] << 8) | (b3[:, 2] << 16)
        emg_raw = ((v ^ 0x800000) - 0x800000).reshape(-1, n_ch)
    acc_raw = acc_u8.view("<i2").reshape(-1, 3)
    return Batch(
        pos=pos,
        seq=fld["seq"],
        boot_id=fld["boot"],
        t_us=fld["t_lo"] | (fld["t_hi"] << 32),
        emg_index=fld["ei"],
        acc_index=fld["ai"],
        emg_fs=fld["efs"],
        acc_fs=fld["afs"],
        n_emg=nemg,
        n_acc=nacc,
        emg_scale=fld["scale"],
        acc_range_g=fld["rng"],
        n_ch=n_ch,
        emg_raw=emg_raw,
        acc_raw=acc_raw,
        others=others,
        bad=bad,
    )
