"""Frames in, an ordered sample stream out: the ONE place where frames become samples.

:class:`FrameAssembler` is used identically by the live recorder and by replay
(:class:`recordings.store.RecordingSource` feeds it the saved frames in the order they
were received, with their receive times), so a replay yields exactly the chunks and
gaps -- and therefore the events -- of the live run.  Its output chunks are cut on a
fixed timeline grid (``CHUNK_S`` = 1 s, see :class:`AlignedChunker`), so how frames
were grouped on arrival (one by one live, thousands at a time in replay) cannot change
what the detector sees.

What it does with the frames, in arrival order:

* decodes bytes with :func:`firmware_protocol.codec.decode_frame`; a frame that does not
  decode (``ProtocolError``: bad CRC, truncated ...) is counted in ``stats["corrupt"]``
  and skipped -- the sequence hole it leaves is then backfilled or becomes a gap like
  any other hole;
* drops frames it has already seen (``stats["duplicates"]``): resends overlap;
* on a sequence hole, holds later frames back until the missing ones arrive (backfill
  after a reconnect), or a ``LossFrame`` declares them lost (gap reason
  ``sensor-loss``), or the held frames span more than ``hold_s`` seconds of sensor time
  (gap reason ``link``).  ``hold_s`` defaults to 130 s: the sensor's ring buffer holds
  >= 120 s (PROTOCOL.md, issue 2), so after 130 s a resend can no longer succeed;
* on a reboot (a new ``boot_id``: sample counters and sensor clock restart) it closes the
  old boot's stream, places the new boot on the timeline by the host receive times
  (``rx_ns``, aligned to the old boot by :func:`fit_clock`), and emits a ``reboot`` gap;
* keeps the clock alignment (sensor sample time vs host receive time) for
  :meth:`FrameAssembler.wall_time`.

Timeline: EMG sample 0 is the first EMG sample of the first data frame received; frames
of that boot with lower sequence numbers arriving later are dropped (``duplicates``), so a
recorder should start the recording with the frames it wants first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from detector.stream import SITES, Chunk, Gap, StreamLayout
from firmware_protocol import ProtocolError
from recordings.clock import ClockFit

#: How long (s of sensor time) frames after a sequence hole are held back waiting for a
#: resend.  The sensor keeps >= 120 s (issue 2 / PROTOCOL.md ring buffer); +10 s for the
#: resend round trip after a reconnect.
HOLD_S = 130.0

DEFAULT_SITES = ("calf", "tibialis")

#: Chunk length (s) of the assembler's output: chunks are cut at multiples of this on the
#: recording timeline, so the live recorder (frames arriving one by one) and replay
#: (frames decoded in batches) hand the detector the very same chunks -- and so the very
#: same early cramp notices, which are evaluated per chunk (docs/DETECTOR.md).  The
#: detector's final events do not depend on the chunking at all (bit-exact down to
#: 1-sample chunks, tests/detector/test_detector.py).  1 s: a chunk adds <= 1 s to the delay
#: before the detector sees a sample (it was 10 s when the detector was not yet
#: chunk-invariant); 8 h is 28 800 detector calls (~0.5 ms each on top of the data),
#: and bulk replay re-cuts into larger chunks anyway (detector.stream.bulk_chunks).
CHUNK_S = 1.0


# ------------------------------------------------------------------ clock alignment
def fit_clock() -> ClockFit:
    """A fresh clock fit (timeline s <-> host UTC ns): :class:`recordings.clock.ClockFit`,
    the one fit the live recorder and replay share."""
    return ClockFit()


# ------------------------------------------------------------------ frame adapter
@dataclass
class _DF:
    """A data frame reduced to what assembly needs."""

    seq: int
    boot: int
    t_us: int
    emg_index: int
    acc_index: int
    emg_fs: float
    acc_fs: float
    emg: np.ndarray
    acc: np.ndarray
    rx_ns: int

    @property
    def emg_end(self) -> int:
        return self.emg_index + self.emg.shape[0]


def _codec() -> Any:
    from firmware_protocol import codec

    return codec


def recording_config(
    cfg: Any, *, emg_sites: Sequence[str] | None = None, side: str | None = None
) -> dict[str, Any]:
    """The ``config`` of a recording's ``meta.json`` (recordings/README.md) from the
    sensor's CONFIG frame, plus what the host knows of the electrode sites and the leg.

    The one place that dict is made, so the live recorder and the emulated-recording
    tools write the documented keys alike.
    """
    config: dict[str, Any] = {
        "emg_fs": cfg.emg_fs,
        "n_ch": cfg.n_ch,
        "emg_bits": cfg.emg_bits,
        "acc_fs": cfg.acc_fs,
        "acc_range_g": cfg.acc_range_g,
        "emg_per_frame": cfg.emg_per_frame,
        "emg_scale_uv": cfg.emg_scale,
        "ring_s": cfg.ring_s,
    }
    if emg_sites is not None:
        config["emg_sites"] = list(emg_sites)[: cfg.n_ch]
    if side is not None:
        config["side"] = side
    return config


def sites_from_config(config: dict[str, Any] | None, n: int) -> tuple[str, ...]:
    """Channel sites from a config dict (``sites``/``emg_sites``), else calf, tibialis."""
    sites: Sequence[Any] | None = None
    if config:
        sites = config.get("emg_sites") or config.get("sites")
    out: list[str] = []
    for k in range(n):
        s = str(sites[k]) if sites is not None and k < len(sites) else None
        if s not in SITES:
            s = DEFAULT_SITES[k] if k < len(DEFAULT_SITES) else "unknown"
        out.append(s)
    return tuple(out)


@dataclass
class _Boot:
    boot: int
    emg_off: int  # timeline index = boot-relative index + offset
    acc_off: int
    next_seq: int
    emg_next: int  # boot-relative next EMG index expected
    acc_next: int
    held: dict[int, _DF]
    lost: list[tuple[int, int, str]]  # (first_seq, last_seq, reason) declared lost
    reason: str = "link"  # why the next hole in the EMG indices exists


class FrameAssembler:
    """Turn received frames (bytes or decoded) into ordered :class:`Chunk`/:class:`Gap`.

    Usage (live and replay alike)::

        asm = FrameAssembler(config=meta["config"])
        for raw, rx_ns in frames:
            for item in asm.push(raw, rx_ns):
                pipeline.feed(item)          # asm.layout is set once a data frame came
        for item in asm.finish():
            pipeline.feed(item)
    """

    def __init__(
        self,
        *,
        config: dict[str, Any] | None = None,
        device: dict[str, Any] | None = None,
        hold_s: float = HOLD_S,
        layout: StreamLayout | None = None,
        chunk_s: float | None = CHUNK_S,
    ) -> None:
        self.config = dict(config or {})
        self.device = dict(device or {})
        self.hold_s = float(hold_s)
        self.chunk_s = chunk_s
        self._chunker: AlignedChunker | None = None
        self.layout: StreamLayout | None = layout
        self._fixed_layout = layout is not None
        self._boot: _Boot | None = None
        self._seen_boots: set[int] = set()
        self._clock = fit_clock()
        self._first_rx: int | None = None
        self._emg_stop = 0  # timeline EMG index after the last emitted sample
        self.gaps: list[Gap] = []
        self.status: list[Any] = []
        self.stats: dict[str, Any] = {
            "frames": 0,
            "data_frames": 0,
            "corrupt": 0,
            "duplicates": 0,
            "stale": 0,
            "loss_frames": 0,
            "lost_samples": 0,
            "gaps": 0,
            "gap_s": 0.0,
            "reboots": 0,
            "held_max": 0,
            "rejected": 0,
        }

    # -------------------------------------------------------------- public API
    def push(self, frame: bytes | Any, rx_ns: int) -> list[Chunk | Gap]:
        """Feed one frame (bytes as received, or a decoded codec frame) in arrival order.

        Returns the chunks and gaps that became final, cut at multiples of ``chunk_s``.
        """
        return self._align(self._push(frame, rx_ns))

    def push_many(
        self, raws: Sequence[bytes], rx_ns: Sequence[int] | np.ndarray
    ) -> list[Chunk | Gap]:
        """Feed many received frames at once (replay's fast path); same result as
        :meth:`push` on each in turn."""
        return self._align(self._push_many(raws, rx_ns))

    def finish(self) -> list[Chunk | Gap]:
        """End of stream: give up on every open hole and release everything held."""
        out = self._align(self._finish())
        if self._chunker is not None:
            out.extend(self._chunker.finish())
        return out

    def _align(self, items: list[Chunk | Gap]) -> list[Chunk | Gap]:
        if self._chunker is None:
            return items
        out: list[Chunk | Gap] = []
        for it in items:
            out.extend(self._chunker.push(it))
        return out

    def _push(self, frame: bytes | Any, rx_ns: int) -> list[Chunk | Gap]:
        self.stats["frames"] += 1
        rx_ns = int(rx_ns)
        if isinstance(frame, bytes | bytearray | memoryview):
            try:
                frame = _codec().decode_frame(bytes(frame))
            except ProtocolError:
                self.stats["corrupt"] += 1
                return []
        codec = _codec()
        if isinstance(frame, codec.DataFrame):
            return self._on_data(self._reduce(frame, rx_ns))
        if isinstance(frame, codec.LossFrame):
            return self._on_loss(frame)
        if isinstance(frame, codec.ConfigFrame):
            self.status.append(frame)
            return []
        self.status.append(frame)
        return []

    def _push_many(
        self, raws: Sequence[bytes], rx_ns: Sequence[int] | np.ndarray
    ) -> list[Chunk | Gap]:
        """Many frames at once.

        Same result as calling :meth:`push` on each frame in order: frames are decoded
        with ``decode_batch``; runs of frames that :meth:`push` would emit immediately,
        one after the other (same boot, consecutive sequence numbers, contiguous sample
        indices, nothing held), become one chunk; everything else takes the per-frame path.
        """
        codec = _codec()
        rx = np.asarray(rx_ns, dtype=np.int64)
        try:
            batch = codec.decode_batch(raws, errors="skip")
        except ProtocolError:  # mixed configurations in one batch: frame by frame
            out: list[Chunk | Gap] = []
            for r, t in zip(raws, rx.tolist(), strict=True):
                out.extend(self._push(r, t))
            return out
        n_in = len(raws)
        kind = np.zeros(n_in, np.int8)  # 0 = bad, 1 = data, 2 = other
        kind[batch.pos] = 1
        other = dict(batch.others)
        for i in other:
            kind[i] = 2
        data_k = np.full(n_in, -1, np.int64)
        data_k[batch.pos] = np.arange(batch.pos.size)
        emg_all = batch.emg_uv()
        acc_all = batch.acc_g()
        eo = batch.emg_offsets
        ao = batch.acc_offsets
        seq, boot = batch.seq, batch.boot_id
        ei, ai = batch.emg_index, batch.acc_index
        n_emg, n_acc = batch.n_emg, batch.n_acc
        efs, afs = batch.emg_fs, batch.acc_fs
        # frames k and k+1 chain when the next continues the previous exactly
        if batch.n_frames > 1:
            chain = (
                (seq[1:] == seq[:-1] + 1)
                & (boot[1:] == boot[:-1])
                & (ei[1:] == ei[:-1] + n_emg[:-1])
                & (ai[1:] == ai[:-1] + n_acc[:-1])
                & (efs[1:] == efs[:-1])
                & (afs[1:] == afs[:-1])
                & (batch.pos[1:] == batch.pos[:-1] + 1)
            )
        else:
            chain = np.zeros(0, bool)
        out = []
        i = 0
        while i < n_in:
            kd = kind[i]
            if kd == 0:
                self.stats["frames"] += 1
                self.stats["corrupt"] += 1
                i += 1
                continue
            if kd == 2:
                out.extend(self._push(other[i], int(rx[i])))
                i += 1
                continue
            k = int(data_k[i])
            b = self._boot
            lay = self.layout
            if (
                b is not None
                and lay is not None
                and not b.held
                and int(boot[k]) == b.boot
                and int(seq[k]) == b.next_seq
                and int(ei[k]) == b.emg_next
                and int(ai[k]) == b.acc_next
                and float(efs[k]) == lay.emg_fs
                and (float(afs[k]) or None) == lay.acc_fs
                and batch.n_ch == lay.n_emg
            ):
                k1 = k
                while k1 < chain.size and chain[k1]:
                    k1 += 1
                # frames k..k1 (inclusive) form one run
                cnt = k1 - k + 1
                emg = emg_all[eo[k] : eo[k1 + 1]]
                acc = acc_all[ao[k] : ao[k1 + 1]] if lay.acc_fs else np.zeros((0, 3))
                ts = b.emg_off + int(ei[k])
                ta = b.acc_off + int(ai[k])
                if ta < 0:
                    acc, ta = acc[-ta:], 0
                out.append(Chunk(ts, emg, ta, acc))
                b.reason = "link"
                self.stats["frames"] += cnt
                self.stats["data_frames"] += cnt
                b.next_seq = int(seq[k1]) + 1
                b.emg_next = int(ei[k1] + n_emg[k1])
                b.acc_next = int(ai[k1] + n_acc[k1])
                self._emg_stop = b.emg_off + b.emg_next
                ends = (b.emg_off + ei[k : k1 + 1] + n_emg[k : k1 + 1]) / lay.emg_fs
                self._clock_many(ends, rx[i : i + cnt])
                i += cnt
                continue
            out.extend(self._push(self._batch_frame(batch, k, codec), int(rx[i])))
            i += 1
        return out

    def _clock_many(self, t_s: np.ndarray, rx: np.ndarray) -> None:
        """Feed the clock the least-delayed pair of each second (what the fit keeps)."""
        if t_s.size == 0:
            return
        delay = rx - np.round(t_s * 1e9).astype(np.int64)
        sec = np.floor(t_s).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, sec[1:] != sec[:-1]])
        mins = np.minimum.reduceat(delay, starts)
        for st, m in zip(starts.tolist(), mins.tolist(), strict=True):
            j = st + int(np.argmax(delay[st:] == m))
            self._clock.add(float(t_s[j]), int(rx[j]))

    @staticmethod
    def _batch_frame(batch: Any, k: int, codec: Any) -> Any:
        eo, ao = batch.emg_offsets, batch.acc_offsets
        return codec.DataFrame(
            seq=int(batch.seq[k]),
            boot_id=int(batch.boot_id[k]),
            t_us=int(batch.t_us[k]),
            emg_index=int(batch.emg_index[k]),
            acc_index=int(batch.acc_index[k]),
            emg_fs=int(batch.emg_fs[k]),
            acc_fs=int(batch.acc_fs[k]),
            emg_bits=16 if batch.emg_raw.dtype == np.int16 else 24,
            acc_range_g=int(batch.acc_range_g[k]),
            emg_scale=float(batch.emg_scale[k]),
            emg=batch.emg_raw[eo[k] : eo[k + 1]],
            acc=batch.acc_raw[ao[k] : ao[k + 1]],
        )

    def _finish(self) -> list[Chunk | Gap]:
        out: list[Chunk | Gap] = []
        if self._boot is not None:
            self._drain(self._boot, out)
        return out

    def wall_time(self, t_s: float) -> datetime | None:
        """UTC wall-clock time of timeline second ``t_s`` (host clock via the fit)."""
        r = self._clock.to_rx_ns(t_s)
        if r is None:
            return None
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=r / 1000.0)

    def waiting_for(self) -> tuple[int, int] | None:
        """``(boot_id, seq)`` of the first missing frame while later ones are held back
        (what a live recorder asks the sensor to resend from), else ``None``."""
        b = self._boot
        if b is None or not b.held:
            return None
        return b.boot, b.next_seq

    @property
    def held(self) -> int:
        return 0 if self._boot is None else len(self._boot.held)

    # -------------------------------------------------------------- internals
    def _reduce(self, f: Any, rx_ns: int) -> _DF:
        emg = np.asarray(f.emg_uv(), dtype=np.float64)
        if emg.ndim == 1:
            emg = emg[:, None]
        acc_fs = float(f.acc_fs or 0)
        acc = np.asarray(f.acc_g(), dtype=np.float64).reshape(-1, 3) if acc_fs else np.zeros((0, 3))
        return _DF(
            seq=int(f.seq),
            boot=int(f.boot_id),
            t_us=int(f.t_us),
            emg_index=int(f.emg_index),
            acc_index=int(f.acc_index),
            emg_fs=float(f.emg_fs),
            acc_fs=acc_fs,
            emg=emg,
            acc=acc,
            rx_ns=rx_ns,
        )

    def _make_layout(self, df: _DF) -> StreamLayout:
        n = df.emg.shape[1]
        labels = self.config.get("emg_labels")
        if not labels or len(labels) != n:
            labels = [f"EMG{k + 1}" for k in range(n)]
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
            microseconds=(df.rx_ns - df.emg.shape[0] / df.emg_fs * 1e9) / 1000.0
        )
        side = str(self.config.get("side", "unknown"))
        if side not in ("left", "right", "unknown"):
            side = "unknown"
        extra = {str(k): str(v) for k, v in self.device.items() if isinstance(v, str | int)}
        return StreamLayout(
            emg_fs=df.emg_fs,
            emg_labels=tuple(str(x) for x in labels),
            emg_sites=sites_from_config(self.config, n),
            acc_fs=df.acc_fs or None,
            start_utc=start,
            side=side,
            extra=extra,
        )

    def _acc_off_for(self, emg_off: int, df: _DF) -> int:
        if not df.acc_fs:
            return 0
        return int(round(emg_off * df.acc_fs / df.emg_fs))

    def _start_boot(self, df: _DF, emg_off: int) -> _Boot:
        b = _Boot(
            boot=df.boot,
            emg_off=emg_off,
            acc_off=self._acc_off_for(emg_off, df),
            next_seq=df.seq,
            emg_next=df.emg_index,
            acc_next=df.acc_index,
            held={},
            lost=[],
        )
        self._seen_boots.add(df.boot)
        self._boot = b
        return b

    def _on_data(self, df: _DF) -> list[Chunk | Gap]:
        self.stats["data_frames"] += 1
        out: list[Chunk | Gap] = []
        lay = self.layout
        if (
            lay is not None
            and self._boot is not None
            and (
                df.emg_fs != lay.emg_fs
                or df.emg.shape[1] != lay.n_emg
                or (df.acc_fs or None) != lay.acc_fs
            )
        ):
            self.stats["rejected"] += 1  # a configuration change mid-night: not this stream
            return out
        if self._boot is None:
            if self.layout is None:
                self.layout = self._make_layout(df)
            if self.chunk_s and self._chunker is None:
                self._chunker = AlignedChunker(self.layout, self.chunk_s)
            self._first_rx = df.rx_ns
            self._start_boot(df, -df.emg_index)
        b = self._boot
        assert b is not None
        if df.boot != b.boot:
            if df.boot in self._seen_boots:
                self.stats["stale"] += 1
                return out
            self._reboot(df, out)
            b = self._boot
            assert b is not None
        if df.seq < b.next_seq or df.seq in b.held:
            self.stats["duplicates"] += 1
            return out
        b.held[df.seq] = df
        if len(b.held) > self.stats["held_max"]:
            self.stats["held_max"] = len(b.held)
        self._release(b, out)
        return out

    def _on_loss(self, f: Any) -> list[Chunk | Gap]:
        self.stats["loss_frames"] += 1
        out: list[Chunk | Gap] = []
        b = self._boot
        if b is None or int(f.boot_id) != b.boot or f.seq_stop <= f.seq_start:
            return out
        b.lost.append((int(f.seq_start), int(f.seq_stop) - 1, "sensor-loss"))
        self._release(b, out)
        return out

    def _release(self, b: _Boot, out: list[Chunk | Gap]) -> None:
        while True:
            df = b.held.pop(b.next_seq, None)
            if df is not None:
                b.next_seq += 1
                self._emit(b, df, out)
                continue
            hit = next(((lo, hi, r) for lo, hi, r in b.lost if lo <= b.next_seq <= hi), None)
            if hit is not None:
                b.next_seq = hit[1] + 1
                b.reason = hit[2]
                b.lost = [x for x in b.lost if x[1] >= b.next_seq]
                continue
            if not b.held:
                return
            # A hole: hold on while the held frames reach <= hold_s past its start.
            newest = max(d.emg_end for d in b.held.values())
            fs = self.layout.emg_fs if self.layout else 1.0
            if (newest - b.emg_next) / fs <= self.hold_s:
                return
            b.next_seq = min(b.held)
            if b.reason != "sensor-loss":
                b.reason = "link"

    def _drain(self, b: _Boot, out: list[Chunk | Gap]) -> None:
        while b.held:
            b.next_seq = min(b.held)
            self._release(b, out)

    def _gap(self, start_i: int, end_i: int, reason: str, out: list[Chunk | Gap]) -> None:
        assert self.layout is not None
        fs = self.layout.emg_fs
        g = Gap(start_i / fs, end_i / fs, reason)
        self.gaps.append(g)
        self.stats["gaps"] += 1
        self.stats["gap_s"] += g.duration_s
        if reason != "reboot":
            self.stats["lost_samples"] += end_i - start_i
        out.append(g)

    def _emit(self, b: _Boot, df: _DF, out: list[Chunk | Gap]) -> None:
        emg, acc = df.emg, df.acc
        e0, a0 = df.emg_index, df.acc_index
        if e0 > b.emg_next:
            self._gap(b.emg_off + b.emg_next, b.emg_off + e0, b.reason, out)
            if df.acc_fs:
                b.acc_next = max(b.acc_next, a0)
        elif e0 < b.emg_next:  # overlap with what was already emitted: keep the new part
            cut = b.emg_next - e0
            if cut >= emg.shape[0]:
                self.stats["duplicates"] += 1
                return
            emg, e0 = emg[cut:], b.emg_next
        if a0 < b.acc_next:
            cut = min(b.acc_next - a0, acc.shape[0])
            acc, a0 = acc[cut:], a0 + cut
        b.reason = "link"
        ts = b.emg_off + e0
        ta = b.acc_off + a0
        if ta < 0:  # acc samples before the timeline origin (first frame only)
            acc, ta = acc[-ta:], 0
        out.append(Chunk(ts, emg, ta, acc))
        b.emg_next = e0 + emg.shape[0]
        b.acc_next = a0 + acc.shape[0]
        self._emg_stop = b.emg_off + b.emg_next
        self._clock.add(self._emg_stop / df.emg_fs, df.rx_ns)

    def _reboot(self, df: _DF, out: list[Chunk | Gap]) -> None:
        old = self._boot
        assert old is not None and self.layout is not None
        self._drain(old, out)
        self.stats["reboots"] += 1
        fs = self.layout.emg_fs
        t_end = self._clock.to_timeline(df.rx_ns)
        if t_end is None:
            t_end = self._emg_stop / fs
        start_i = int(round(t_end * fs)) - df.emg.shape[0]
        if df.acc_fs:  # start on an index where EMG and acc samples coincide
            step = fs / df.acc_fs
            if step == int(step):
                start_i = int(math.ceil(start_i / step) * step)
        start_i = max(start_i, self._emg_stop)
        if start_i > self._emg_stop:
            self._gap(self._emg_stop, start_i, "reboot", out)
        else:
            self._gap(self._emg_stop, self._emg_stop, "reboot", out)
        self._start_boot(df, start_i - df.emg_index)


# ------------------------------------------------------------------ helpers
class AlignedChunker:
    """Re-cut a chunk/gap stream into chunks ending on multiples of ``chunk_s`` seconds.

    The output depends only on the samples and gaps, not on how the input was cut: a
    chunk is released when the EMG reaches the next boundary (index multiple of
    ``chunk_s * emg_fs``) or a gap / the end of the stream closes it.  Accelerometer
    samples go with the EMG chunk whose time span holds them (index < boundary).
    """

    def __init__(self, layout: StreamLayout, chunk_s: float) -> None:
        self.n = max(1, int(round(chunk_s * layout.emg_fs)))
        self.ratio = (layout.acc_fs / layout.emg_fs) if layout.acc_fs else 0.0
        self._emg: list[np.ndarray] = []
        self._acc: list[np.ndarray] = []
        self._e0 = 0  # timeline index of the first buffered EMG sample
        self._a0 = 0
        self._ne = 0
        self._na = 0

    def _cut(self, stop: int) -> Chunk:
        """Release EMG [e0, stop) and the acc samples before ``stop``'s time."""
        k = stop - self._e0
        emg = np.concatenate(self._emg) if len(self._emg) > 1 else self._emg[0]
        c_emg, rest = emg[:k], emg[k:]
        self._emg = [rest] if rest.shape[0] else []
        if self._na:
            acc = np.concatenate(self._acc) if len(self._acc) > 1 else self._acc[0]
            ja = int(math.ceil(stop * self.ratio - 1e-9)) - self._a0
            ja = max(0, min(ja, acc.shape[0]))
            c_acc, arest = acc[:ja], acc[ja:]
            self._acc = [arest] if arest.shape[0] else []
        else:
            c_acc = np.zeros((0, 3))
            ja = 0
        c = Chunk(self._e0, c_emg, self._a0, c_acc)
        self._e0 = stop
        self._ne -= k
        self._a0 += ja
        self._na -= ja
        return c

    def _flush(self) -> list[Chunk | Gap]:
        """Release everything buffered (before a gap, a jump, or the end)."""
        if not self._ne:
            self._acc, self._na = [], 0  # acc after the last EMG sample: nothing to pair
            return []
        emg = np.concatenate(self._emg) if len(self._emg) > 1 else self._emg[0]
        if self._na:
            acc = np.concatenate(self._acc) if len(self._acc) > 1 else self._acc[0]
        else:
            acc = np.zeros((0, 3))
        c = Chunk(self._e0, emg, self._a0, acc)
        self._e0 += self._ne
        self._a0 += self._na
        self._emg, self._acc, self._ne, self._na = [], [], 0, 0
        return [c]

    def push(self, item: Chunk | Gap) -> list[Chunk | Gap]:
        out: list[Chunk | Gap] = []
        if isinstance(item, Gap):
            out.extend(self._flush())
            out.append(item)
            return out
        if item.emg.shape[0]:
            if self._ne and item.emg_start != self._e0 + self._ne:
                out.extend(self._flush())
            if not self._ne:
                self._e0 = item.emg_start
            self._emg.append(item.emg)
            self._ne += item.emg.shape[0]
        if item.acc.shape[0]:
            if not self._na:
                self._a0 = item.acc_start
            self._acc.append(item.acc)
            self._na += item.acc.shape[0]
        while self._ne:
            boundary = (self._e0 // self.n + 1) * self.n
            if self._e0 + self._ne < boundary:
                break
            out.append(self._cut(boundary))
        return out

    def finish(self) -> list[Chunk | Gap]:
        return self._flush()


Pusher = Callable[[bytes, int], list[Chunk | Gap]]
