"""The sensor's firmware, emulated sans-I/O: bytes and times in, notifications out.

:class:`SensorFirmware` behaves as ``PROTOCOL.md`` says the sensor does.  It has no clock and
no I/O: the caller (the bumble peripheral, a test) passes time in and carries the returned
bytes to the right characteristic.

Time
----
The caller passes **true elapsed time** in µs since the firmware object was created
(``true_us``).  The sensor's oscillator runs at ``1 + drift_ppm * 1e-6`` times true time:
``osc_us = true_us * (1 + drift_ppm * 1e-6)``.  The sensor clock in frames (``t_us``, SYNC
``sensor_us``) is ``osc_us`` minus the oscillator time of the last boot.  Samples are taken on
the sensor's own clock: output EMG sample ``k`` of the provider timeline is taken at
``osc_us = k * 1e6 / emg_fs``, so in true time it happens at ``k / (emg_fs * (1 + ppm*1e-6))``
s.  Ground truth given in provider seconds ``t`` therefore happened at true time
``t / (1 + ppm * 1e-6)``.

Sample provider
---------------
Any :class:`detector.stream.Source`.  Its samples are re-chunked into frames; if its rates
differ from the configured ones they are resampled by linear interpolation (simple, no
anti-alias filter: fine for 2048 -> 2000 Hz or 512 -> 500 Hz, not a lab-grade resampler).
Equal rates pass through exactly.  The first ``n_ch`` provider channels are used.  Indices a
provider skips (``Gap`` items, or a chunk starting later than expected) are not invented:
frames lying wholly inside such a gap are not sent, a LOSS frame with reason 2 (fault)
declares them in the stream (and again on RESEND); a frame only partly inside one carries
zeros for the missing samples.
When the provider runs out, acquisition stops producing frames (status flag SOURCE_END).

Frames
------
:meth:`advance_to` returns whole frames for the DATA characteristic (queued backfill first,
then live frames while streaming); :meth:`on_control` returns whole frames for the CONTROL
characteristic; :meth:`pop_status` returns queued STATUS notifications.  The GATT layer
fragments them for small MTUs with :class:`firmware_protocol.codec.Fragmenter`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from detector.stream import Chunk, Source
from firmware_protocol import ProtocolError
from firmware_protocol.codec import (
    _DATA_HDR,
    ACC_RATES,
    ACK_BAD_STATE,
    ACK_BAD_VALUE,
    ACK_MALFORMED,
    ACK_NOT_PAIRED,
    ACK_OK,
    ACK_UNKNOWN,
    COMMAND_NAMES,
    DEFAULT_EMG_SCALE_UV,
    EMG_RATES,
    FLAG_ADC_ERROR,
    FLAG_ELECTRODE_OFF,
    FLAG_LOW_BATTERY,
    FLAG_RING_OVERFLOW,
    FLAG_SOURCE_END,
    LOSS_FAULT,
    LOSS_RING,
    LOW_BATTERY_PCT,
    MAX_FRAME,
    STATE_ACQUIRING,
    STATE_IDLE,
    STATE_STREAMING,
    U16,
    U32,
    U48,
    VERSION,
    AckFrame,
    ConfigFrame,
    Configure,
    LossFrame,
    ReadConfig,
    Resend,
    StartStreaming,
    StatusFrame,
    StopStreaming,
    SyncFrame,
    TimeSync,
    auto_emg_per_frame,
    decode_command,
    emg_frame_size,
    encode_frame,
    max_acc_in_window,
    quantize_acc,
    quantize_emg,
)
from firmware_protocol.codec import T_DATA as _T_DATA
from firmware_protocol.codec import crc16 as _crc16
from firmware_protocol.gatt import NAME_PREFIX

#: Default battery drain, % per hour of true time: a 150 mAh cell at ~5 mA streaming lasts
#: ~30 h, i.e. ~3.3 %/h (design assumption of the emulator, not a measurement).
DEFAULT_DRAIN_PCT_PER_H = 3.3


@dataclass
class _Held:
    seq: int
    data: bytes
    stop: int = -1
    """One past the last seq this entry covers (a LOSS(fault) entry covers several)."""

    def __post_init__(self) -> None:
        if self.stop < 0:
            self.stop = self.seq + 1


class _Resampler:
    """Streams provider samples (all its channels) at ``fs_in`` as output samples at
    ``fs_out`` (linear interpolation; identity when the rates are equal)."""

    def __init__(self, fs_in: float, fs_out: float) -> None:
        self.fs_in = float(fs_in)
        self.fs_out = float(fs_out)
        self._buf: np.ndarray | None = None
        self._parts: list[np.ndarray] = []  # appended, not yet concatenated (no O(n^2))
        self.buf0 = 0  # provider index of buf[0]
        self._end = 0  # provider index one past the last sample held
        self.gaps: list[tuple[int, int]] = []  # provider index ranges the provider skipped

    @property
    def have_until(self) -> int:
        """Provider index one past the last buffered sample."""
        return self._end

    @property
    def buf(self) -> np.ndarray | None:
        if self._parts:
            parts = ([self._buf] if self._buf is not None else []) + self._parts
            self._buf = np.concatenate(parts)
            self._parts = []
        return self._buf

    def append(self, start: int, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        if x.shape[0] == 0:
            return
        if self._buf is None and not self._parts:
            self._buf = np.zeros((0, x.shape[1]))
            self.buf0 = self._end = start
        end = self._end
        if start > end:  # provider gap -> zeros (and remembered, see in_gap)
            self._parts.append(np.zeros((start - end, x.shape[1])))
            self.gaps.append((end, start))
        elif start < end:  # overlap: keep what we have
            x = x[end - start :]
        if x.shape[0]:
            self._parts.append(x)
        self._end = max(start, end) + x.shape[0]

    def src_needed(self, k_stop: int) -> int:
        """Provider index one past the last one needed for output samples ``< k_stop``."""
        if k_stop <= 0:
            return 0
        x = (k_stop - 1) * self.fs_in / self.fs_out
        r = round(x)
        if abs(x - r) < 1e-9:
            return int(r) + 1
        return int(math.floor(x)) + 2

    def get(self, k0: int, k1: int, width: int) -> np.ndarray:
        """Output samples ``[k0, k1)`` of the first ``width`` channels (the buffer must
        cover :meth:`src_needed`)."""
        buf = self.buf
        if k1 <= k0 or buf is None:
            return np.zeros((max(0, k1 - k0), width))
        if self.fs_in == self.fs_out:
            return buf[k0 - self.buf0 : k1 - self.buf0, :width]
        x = np.arange(k0, k1) * (self.fs_in / self.fs_out) - self.buf0
        xp = np.arange(buf.shape[0])
        cols = [np.interp(x, xp, buf[:, c]) for c in range(width)]
        return np.stack(cols, axis=1).reshape(-1, width)

    def in_gap(self, k0: int, k1: int) -> bool:
        """True if every provider sample behind output samples ``[k0, k1)`` lies in a gap."""
        if not self.gaps or k1 <= k0:
            return False
        lo = int(math.floor(k0 * self.fs_in / self.fs_out + 1e-9))
        hi = self.src_needed(k1)
        return any(g0 <= lo and hi <= g1 for g0, g1 in self.gaps)

    def trim(self, k_keep: int) -> None:
        """Forget provider samples not needed for output samples ``>= k_keep``."""
        keep_from = int(math.floor(k_keep * self.fs_in / self.fs_out + 1e-9)) - 1
        if keep_from - self.buf0 <= 0:
            return
        buf = self.buf
        if buf is None:
            return
        drop = min(keep_from - self.buf0, buf.shape[0])
        self._buf = buf[drop:].copy() if drop > buf.shape[0] // 2 else buf[drop:]
        self.buf0 += drop
        self.gaps = [g for g in self.gaps if g[1] > self.buf0]


class SensorFirmware:
    """The emulated NightCramp sensor.  See the module docstring for time and provider rules.

    Parameters
    ----------
    provider:
        Sample source (µV, g), read once, in order.
    config:
        Initial configuration (a :class:`Configure`); default: 1000 Hz (or the provider's
        rate if allowed), up to 2 channels, 16 bit, accelerometer at the provider's rate (50 Hz
        if not an allowed rate; 0 if the provider has none), +-8 g, auto frame size.
    ring_s:
        Ring-buffer capacity in seconds of data (>= 120 s per the protocol).
    boot_id:
        First boot id (u16); default drawn from ``seed``.
    drift_ppm:
        Oscillator error, parts per million (+ runs fast).
    battery_pct / drain_pct_per_h:
        Start charge and drain per hour of true time; LOW_BATTERY below 15 %.
    corrupt_at / corrupt_every:
        Fault injection: live notifications of these seqs (or every N-th seq) get one bit
        flipped on the air (the ring keeps the good copy, so a Resend repairs them).
    """

    def __init__(
        self,
        provider: Source,
        *,
        config: Configure | None = None,
        ring_s: float = 120.0,
        boot_id: int | None = None,
        seed: int = 0,
        drift_ppm: float = 0.0,
        battery_pct: float = 100.0,
        drain_pct_per_h: float = DEFAULT_DRAIN_PCT_PER_H,
        corrupt_at: set[int] | frozenset[int] = frozenset(),
        corrupt_every: int = 0,
        serial: str | None = None,
    ) -> None:
        if ring_s < 120.0:
            raise ValueError(f"ring_s {ring_s} s is below the protocol's 120 s minimum")
        self.provider = provider
        self._rng = np.random.default_rng(seed)
        self.ring_s = float(ring_s)
        self.drift_ppm = float(drift_ppm)
        self.battery_start = float(battery_pct)
        self.drain_pct_per_h = float(drain_pct_per_h)
        self.corrupt_at = set(corrupt_at)
        self.corrupt_every = int(corrupt_every)
        self.electrode_off = False
        self.adc_error = False
        self.serial = serial or f"NC1-{int(self._rng.integers(0, 1 << 32)):08X}"
        self.device_info = {
            "manufacturer": "NightCramp",
            "model": "NC-1 (emulated)",
            "serial": self.serial,
            "hardware_rev": "emulator",
            "firmware_rev": f"1.0.0 (protocol {VERSION})",
        }
        lay = provider.layout
        self._chunks: Iterator = iter(provider.chunks())
        self._src_done = False
        self._src_emg_fs = float(lay.emg_fs)
        self._src_acc_fs = float(lay.acc_fs) if lay.acc_fs else 0.0
        self._src_nch = lay.n_emg
        if config is None:
            efs = int(lay.emg_fs) if int(lay.emg_fs) in EMG_RATES else 1000
            if lay.acc_fs:
                afs = int(lay.acc_fs) if int(lay.acc_fs) in ACC_RATES else 50
            else:
                afs = 0
            config = Configure(emg_fs=efs, n_ch=min(2, lay.n_emg, 4), acc_fs=afs)
        err = self._unsupported(config)
        if err:
            raise ValueError(err)
        self.true_us = 0.0
        self.n_boots = 0
        self.boot_id = int(boot_id) if boot_id is not None else int(self._rng.integers(0, 1 << 16))
        self._apply_config(config)
        self._boot_osc_us = 0.0
        self._reset_boot_state()
        self._status_out: list[bytes] = []
        self._last_status: tuple[int, int, int] | None = None
        self.stats = {"frames": 0, "dropped_from_ring": 0, "corrupted": 0, "resent": 0, "refused_unpaired": 0}

    # ---------------------------------------------------------------- configuration

    def _unsupported(self, c: Configure) -> str | None:
        if c.n_ch > self._src_nch:
            return f"{c.n_ch} channels asked, the provider has {self._src_nch}"
        if c.acc_fs and not self._src_acc_fs:
            return "accelerometer asked, the provider has none"
        epf = c.emg_per_frame or auto_emg_per_frame(c.emg_fs, c.acc_fs, c.n_ch, c.emg_bits)
        size = emg_frame_size(c.n_ch, c.emg_bits, epf, max_acc_in_window(epf, c.emg_fs, c.acc_fs))
        if size > MAX_FRAME:
            return f"{epf} samples per frame make {size}-byte frames (max {MAX_FRAME})"
        return None

    def _apply_config(self, c: Configure) -> None:
        self.config = c
        self.emg_fs = c.emg_fs
        self.acc_fs = c.acc_fs
        self.n_ch = c.n_ch
        self.emg_bits = c.emg_bits
        self.acc_range_g = c.acc_range_g
        self.per_frame = c.emg_per_frame or auto_emg_per_frame(
            c.emg_fs, c.acc_fs, c.n_ch, c.emg_bits
        )
        self.emg_scale = float(np.float32(DEFAULT_EMG_SCALE_UV[c.emg_bits]))
        self.ring_frames = int(math.ceil(self.ring_s * self.emg_fs / self.per_frame))
        # Provider buffers survive a reconfiguration (they hold provider samples).
        if not hasattr(self, "_emg_rs"):
            self._emg_rs = _Resampler(self._src_emg_fs, self.emg_fs)
            self._acc_rs = _Resampler(self._src_acc_fs or 1.0, self.acc_fs or 1.0)
        self._emg_rs.fs_out = float(self.emg_fs)
        self._acc_rs.fs_out = float(self.acc_fs or 1.0)
        self._step = self.emg_fs // math.gcd(self.emg_fs, self.acc_fs) if self.acc_fs else 1

    def config_frame(self) -> ConfigFrame:
        return ConfigFrame(
            emg_fs=self.emg_fs,
            n_ch=self.n_ch,
            emg_bits=self.emg_bits,
            acc_fs=self.acc_fs,
            acc_range_g=self.acc_range_g,
            emg_per_frame=self.per_frame,
            emg_scale=self.emg_scale,
            ring_s=min(U16, int(self.ring_s)),
        )

    # ---------------------------------------------------------------- clocks, state

    def _reset_boot_state(self) -> None:
        self.state = STATE_IDLE
        self.next_seq = 0
        self.ring: deque[_Held] = deque()
        self.ring_overflowed = False
        self._backfill: deque[bytes] = deque()
        self._outbox: list[tuple[int, bytes]] = []
        self._k0: int | None = None  # output EMG index of acquisition index 0
        self._j0 = 0

    @property
    def osc_us(self) -> float:
        """The sensor oscillator's time now (µs since the object was created)."""
        return self.true_us * (1.0 + self.drift_ppm * 1e-6)

    @property
    def sensor_us(self) -> int:
        """The sensor clock now: µs since the last boot, on the drifting oscillator."""
        return int(round(self.osc_us - self._boot_osc_us)) & U48

    @property
    def battery_pct(self) -> float:
        return max(0.0, self.battery_start - self.drain_pct_per_h * self.true_us / 3.6e9)

    @property
    def flags(self) -> int:
        f = 0
        if self.battery_pct < LOW_BATTERY_PCT:
            f |= FLAG_LOW_BATTERY
        if self.ring_overflowed:
            f |= FLAG_RING_OVERFLOW
        if self.electrode_off:
            f |= FLAG_ELECTRODE_OFF
        if self.adc_error:
            f |= FLAG_ADC_ERROR
        if self.exhausted:
            f |= FLAG_SOURCE_END
        return f

    @property
    def exhausted(self) -> bool:
        """The provider has no samples left for the next frame."""
        return self._src_done and self._k0 is not None and not self._can_make(1)

    @property
    def name(self) -> str:
        """Advertised local name, ``NightCramp-XXXX``."""
        return NAME_PREFIX + self.serial[-4:].upper()

    @property
    def oldest_seq(self) -> int:
        return self.ring[0].seq if self.ring else self.next_seq

    @property
    def pending_backfill(self) -> int:
        """Frames queued by a Resend, not yet returned by :meth:`advance_to`."""
        return len(self._backfill)

    def status_frame(self) -> StatusFrame:
        return StatusFrame(
            boot_id=self.boot_id,
            battery_pct=int(math.floor(self.battery_pct)),
            state=self.state,
            flags=self.flags,
            next_seq=self.next_seq,
            oldest_seq=self.oldest_seq,
        )

    def read_status(self) -> bytes:
        """Value of the STATUS characteristic."""
        return encode_frame(self.status_frame())

    def read_config(self) -> bytes:
        """Value of the CONFIG characteristic."""
        return encode_frame(self.config_frame())

    def pop_status(self) -> list[bytes]:
        """STATUS notifications due since the last call (state/flag change, 1 % battery)."""
        self._note_status()
        out, self._status_out = self._status_out, []
        return out

    def _note_status(self) -> None:
        key = (self.state, self.flags, int(math.floor(self.battery_pct)))
        if key != self._last_status:
            self._last_status = key
            self._status_out.append(self.read_status())

    # ---------------------------------------------------------------- time advance

    def advance_to(self, true_us: float) -> list[bytes]:
        """Move true time to ``true_us`` (µs since creation, never backwards) and return the
        DATA-characteristic notifications due: queued backfill (held frames and LOSS frames
        of a Resend) first, then live frames while streaming.  Frames are acquired into the
        ring buffer whether or not they are notified."""
        self._advance(true_us)
        out = list(self._backfill)
        self._backfill.clear()
        out += [d for _, d in self._outbox]
        self._outbox = []
        return out

    def _advance(self, true_us: float | None) -> None:
        if true_us is None:
            return
        true_us = float(true_us)
        if true_us < self.true_us:
            raise ValueError(f"time went backwards: {true_us} < {self.true_us} µs")
        self.true_us = true_us
        if self._k0 is None:
            # Not acquiring: samples pass unrecorded; keep the provider moving in time.
            k_now = int(math.floor(self.osc_us * self.emg_fs / 1e6 + 1e-9))
            self._pull(k_now, 0)
            self._emg_rs.trim(k_now)
            self._acc_rs.trim(self._acc_out_index(k_now))
            self._note_status()
            return
        limit = int(math.floor(self.osc_us * self.emg_fs / 1e6 + 1e-9))
        n_due = (limit - self._k0) // self.per_frame - self.next_seq
        if n_due > 0:
            self._make_frames(n_due)
        self._note_status()

    def _acc_out_index(self, k: int) -> int:
        """Accelerometer output index at or after EMG output index ``k``."""
        return -(-k * self.acc_fs // self.emg_fs) if self.acc_fs else 0

    def _pull(self, k_stop: int, j_stop: int) -> bool:
        """Read provider chunks until output EMG ``< k_stop`` and acc ``< j_stop`` are
        covered; False if the provider ran out first."""
        need_e = self._emg_rs.src_needed(k_stop)
        need_a = self._acc_rs.src_needed(j_stop) if self.acc_fs else 0
        while self._emg_rs.have_until < need_e or (
            self.acc_fs and self._acc_rs.have_until < need_a
        ):
            if self._src_done:
                return False
            try:
                item = next(self._chunks)
            except StopIteration:
                self._src_done = True
                return False
            if isinstance(item, Chunk):
                self._emg_rs.append(item.emg_start, item.emg)
                if self.acc_fs:
                    self._acc_rs.append(item.acc_start, item.acc)
        return True

    def _frame_ranges(self, seq: int) -> tuple[int, int, int, int]:
        """Acquisition-relative EMG and acc index ranges of frame ``seq``."""
        e0 = seq * self.per_frame
        e1 = e0 + self.per_frame
        return e0, e1, self._acc_out_index(e0), self._acc_out_index(e1)

    def _can_make(self, n: int) -> bool:
        assert self._k0 is not None
        _, e1, _, a1 = self._frame_ranges(self.next_seq + n - 1)
        return self._pull(self._k0 + e1, self._j0 + a1)

    def _make_frames(self, n: int) -> None:
        assert self._k0 is not None
        s0 = self.next_seq
        e_start, _, a_start, _ = self._frame_ranges(s0)
        _, e_stop, _, a_stop = self._frame_ranges(s0 + n - 1)
        if not self._pull(self._k0 + e_stop, self._j0 + a_stop):
            # Provider ran out: make only the frames it can fill.  ``_can_make`` is
            # monotonic in n, so bisect for the largest n (a linear walk down was
            # quadratic once sensor time ran far past the end of the provider).
            lo, hi = 0, n - 1  # _can_make(lo) holds (vacuously for 0); _can_make(n) does not
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if self._can_make(mid):
                    lo = mid
                else:
                    hi = mid - 1
            n = lo
            if n == 0:
                return
            _, e_stop, _, a_stop = self._frame_ranges(s0 + n - 1)
        emg = self._emg_rs.get(self._k0 + e_start, self._k0 + e_stop, self.n_ch)
        emg_q = quantize_emg(emg, self.emg_scale, self.emg_bits)
        if self.emg_bits == 16:
            emg_b = emg_q.astype("<i2").tobytes()
        else:
            u = (emg_q.astype(np.int64) & 0xFFFFFF).astype("<u4")
            emg_b = u.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        if self.acc_fs:
            acc = self._acc_rs.get(self._j0 + a_start, self._j0 + a_stop, 3)
            acc_b = quantize_acc(acc, self.acc_range_g).astype("<i2").tobytes()
        else:
            acc_b = b""
        bpe = self.n_ch * self.emg_bits // 8
        gap_run: int | None = None  # first seq of a run of frames the provider has no data for
        for i in range(n):
            seq = s0 + i
            e0, e1, a0, a1 = self._frame_ranges(seq)
            if self._emg_rs.gaps and self._emg_rs.in_gap(self._k0 + e0, self._k0 + e1):
                if gap_run is None:
                    gap_run = seq
                continue
            if gap_run is not None:
                self._emit_fault_loss(gap_run, seq)
                gap_run = None
            t_us = self._t_us(e0)
            hdr = _DATA_HDR.pack(
                VERSION,
                _T_DATA,
                self.boot_id,
                seq & U32,
                t_us & U32,
                t_us >> 32,
                e0 & U32,
                a0 & U32,
                self.emg_fs,
                self.acc_fs,
                self.n_ch,
                self.emg_bits,
                self.acc_range_g,
                e1 - e0,
                a1 - a0,
                self.emg_scale,
            )
            body = (
                hdr
                + emg_b[(e0 - e_start) * bpe : (e1 - e_start) * bpe]
                + acc_b[(a0 - a_start) * 6 : (a1 - a_start) * 6]
            )
            data = body + _crc16(body).to_bytes(2, "little")
            self._hold(seq, data)
            if self.state == STATE_STREAMING:
                self._outbox.append((seq, self._maybe_corrupt(seq, data)))
        if gap_run is not None:
            self._emit_fault_loss(gap_run, s0 + n)
        self.next_seq = s0 + n
        self.stats["frames"] += n
        self._emg_rs.trim(self._k0 + e_stop)
        if self.acc_fs:
            self._acc_rs.trim(self._j0 + a_stop)

    def _t_us(self, e0: int) -> int:
        """Sensor clock (µs since boot) at acquisition EMG index ``e0``."""
        assert self._k0 is not None
        t_us = int(round((self._k0 + e0) * 1e6 / self.emg_fs - self._boot_osc_us))
        return max(0, t_us) & U48

    def _loss_frame(self, s0: int, s1: int, reason: int) -> bytes:
        e0, _, a0, _ = self._frame_ranges(s0)
        e1, _, a1, _ = self._frame_ranges(s1)
        return encode_frame(LossFrame(self.boot_id, s0, s1, e0, e1, a0, a1, self._t_us(e0), reason))

    def _emit_fault_loss(self, s0: int, s1: int) -> None:
        """Frames ``[s0, s1)`` have no provider samples (a gap in a replayed recording):
        the sensor declares them lost (reason fault) in the stream, and keeps the LOSS in
        the ring so a RESEND repeats it."""
        data = self._loss_frame(s0, s1, LOSS_FAULT)
        self._hold(s0, data, stop=s1)
        if self.state == STATE_STREAMING:
            self._outbox.append((s0, data))

    def _hold(self, seq: int, data: bytes, stop: int = -1) -> None:
        self.ring.append(_Held(seq, data, stop))
        while len(self.ring) > self.ring_frames:
            self.ring.popleft()
            self.ring_overflowed = True
            self.stats["dropped_from_ring"] += 1

    def _maybe_corrupt(self, seq: int, data: bytes) -> bytes:
        if seq in self.corrupt_at or (self.corrupt_every and seq % self.corrupt_every == 0):
            self.stats["corrupted"] += 1
            b = bytearray(data)
            bit = int(self._rng.integers(0, 8 * len(b)))
            b[bit // 8] ^= 1 << (bit % 8)
            return bytes(b)
        return data

    # ---------------------------------------------------------------- control

    def on_control(
        self, data: bytes, true_us: float | None = None, *, secure: bool = True
    ) -> list[bytes]:
        """A write to CONTROL -> the CONTROL notifications it causes (ACK, CONFIG, SYNC).

        ``true_us`` (optional) first advances time, e.g. so a TimeSync reply carries the
        sensor clock at the moment of the write; frames made on the way wait in the outbox
        for the next :meth:`advance_to`.

        ``secure``: the write came over a link encrypted with a bond this sensor holds.
        Otherwise nothing is started, stopped, configured or resent: the answer is one
        ACK ``not-paired`` (PROTOCOL.md section 7).
        """
        self._advance(true_us)
        if not secure:
            self.stats["refused_unpaired"] += 1
            raw = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else b""
            ctype = raw[1] if len(raw) > 1 else 0
            token = raw[2] if len(raw) > 2 else 0
            return [encode_frame(AckFrame(token, ctype, ACK_NOT_PAIRED))]
        try:
            cmd = decode_command(data)
        except ProtocolError:
            raw = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else b""
            ctype = raw[1] if len(raw) > 1 else 0
            token = raw[2] if len(raw) > 2 else 0
            known = len(raw) > 1 and raw[0] == VERSION and ctype in COMMAND_NAMES
            result = ACK_MALFORMED if known or len(raw) < 2 or raw[0] != VERSION else ACK_UNKNOWN
            return [encode_frame(AckFrame(token, ctype, result))]
        out = self._handle(cmd)
        self._note_status()
        return out

    def _ack(self, cmd: object, result: int = ACK_OK, value: int = 0) -> bytes:
        return encode_frame(AckFrame(cmd.token, cmd.TYPE, result, value))  # type: ignore[attr-defined]

    def _handle(self, cmd: object) -> list[bytes]:
        if isinstance(cmd, StartStreaming):
            if self._k0 is None:
                self._start_acquisition()
            self.state = STATE_STREAMING
            return [self._ack(cmd)]
        if isinstance(cmd, StopStreaming):
            if self.state == STATE_STREAMING:
                self.state = STATE_ACQUIRING
            return [self._ack(cmd)]
        if isinstance(cmd, Configure):
            if self.state != STATE_IDLE:
                return [self._ack(cmd, ACK_BAD_STATE)]
            if self._unsupported(cmd):
                return [self._ack(cmd, ACK_BAD_VALUE)]
            self._apply_config(cmd)
            return [self._ack(cmd)]
        if isinstance(cmd, ReadConfig):
            return [self._ack(cmd), self.read_config()]
        if isinstance(cmd, TimeSync):
            return [encode_frame(SyncFrame(self.boot_id, cmd.host_us, self.sensor_us))]
        if isinstance(cmd, Resend):
            return self._resend(cmd)
        raise AssertionError(f"unhandled command {cmd!r}")  # pragma: no cover

    def _start_acquisition(self) -> None:
        # First EMG sample: the next one on the sensor's sampling grid, aligned so EMG and
        # accelerometer sample 0 coincide (k0 a multiple of emg_fs / gcd(emg_fs, acc_fs)).
        k_now = int(math.ceil(self.osc_us * self.emg_fs / 1e6 - 1e-9))
        k0 = -(-k_now // self._step) * self._step
        self._k0 = k0
        self._j0 = self._acc_out_index(k0)
        self.state = STATE_ACQUIRING

    def _resend(self, cmd: Resend) -> list[bytes]:
        if cmd.from_seq > self.next_seq:
            return [self._ack(cmd, ACK_BAD_VALUE)]
        first = max(cmd.from_seq, self.oldest_seq)
        queue: list[bytes] = []
        if cmd.from_seq < self.oldest_seq and self._k0 is not None:
            queue.append(self._loss_frame(cmd.from_seq, self.oldest_seq, LOSS_RING))
        held = [h.data for h in self.ring if h.stop > first]
        queue += held
        self.stats["resent"] += len(held)
        # Live frames made but not yet returned: those the resend covers would come twice;
        # the older ones go out first.  A Resend supersedes an earlier one still queued.
        early = [d for seq, d in self._outbox if seq < first]
        self._outbox = []
        self._backfill = deque(early + queue)
        # "then continues live": a Resend turns notifications on, as START does.
        if self.state == STATE_ACQUIRING:
            self.state = STATE_STREAMING
        return [self._ack(cmd, ACK_OK, first)]

    # ---------------------------------------------------------------- link, reboot

    def on_connect(self) -> None:
        """A host connected.  Nothing changes until it sends commands (kept for symmetry)."""

    def on_disconnect(self) -> None:
        """The BLE link dropped: stop notifying (acquisition goes on into the ring) and
        forget queued backfill; the host resumes with Resend + StartStreaming."""
        if self.state == STATE_STREAMING:
            self.state = STATE_ACQUIRING
        self._backfill.clear()
        self._outbox = []
        self._note_status()

    def reboot(self, true_us: float | None = None) -> None:
        """Reboot at ``true_us`` (default: now): new boot id, sequence and sensor clock
        restart from 0, ring cleared, state IDLE (the host must Start again; the
        configuration is kept, as if stored in flash).  The provider continues in time."""
        self._advance(true_us)
        old = self.boot_id
        while self.boot_id == old:
            self.boot_id = int(self._rng.integers(0, 1 << 16))
        self.n_boots += 1
        self._boot_osc_us = self.osc_us
        self._reset_boot_state()
        self._note_status()
