"""The streaming leg-cramp detector: chunks in, classified events out.

Chain (see ``docs/DETECTOR.md``)::

    raw EMG (µV, any block size)
      -> band-pass fitted to the rate + self-detected mains notches   (sosfilt with zi)
      -> fixed ~10 ms frames on the absolute timeline: mean square, mean TKEO, raw variance
      -> centred 100 ms RMS envelope per channel
      -> adaptive resting level (low percentile of 1-s RMS over the last minutes)
      -> double threshold (on / off relative to rest, Bonato 1998) with the AASM/WASM end
         rule (a burst ends at the start of >= 0.5 s within the off level), onset refined
         on the TKEO frames (Solnik 2008)
      -> segments -> episodes (segments < merge_gap_s apart) -> features -> rules
         (:mod:`detector.classify`) -> PLM series logic (AASM / WASM 2016)
    accelerometer (g) -> per-second gravity vector and activity -> posture, walking,
      turning, sleep/wake epochs (Cole-Kripke-like weighted activity).

Chunk invariance: every stage runs on a fixed grid of the absolute timeline (samples,
frames, seconds, 10-s baseline blocks) with explicit carried state, so the events are the
same whatever the chunk sizes.  Big chunks are split internally into pieces of at most
``max_piece_s`` seconds (bounded memory); that split is itself invisible in the output.

Gaps: a :class:`~detector.stream.Gap` closes any open burst at the last active frame
before it, classifies it at once (no event spans a gap), and restarts the filters,
envelope and frame grid after it.  The resting level carries over a gap.

Latency: a burst closes 0.5 s after its activity ends (end rule) and its episode
``merge_gap_s`` later (and once the accelerometer has caught up to 3 s after the end);
so a cramp is emitted about 2.5 s after it ends (at its end, not at its onset).  A cramp
no longer than the longest leg movement (15 s, WASM) that could itself be a leg movement
(no tibialis channel, or tibialis-led) is only known to be a cramp once no leg-movement
series follows it: it is held up to ``plm_max_interval_s`` (90 s).  Leg movements wait
for their PLM series to be decided (up to 90 s after the last one).
Context after a cramp (woke, moved, walked) is filled in by :meth:`Detector.finish`
(``Event.context`` does not take part in event equality).

Early cramp notice: while an episode is open, the cramp rules are applied to the data so
far (at feed-block ends, at most once per second of data); once they hold for
``cramp_min_s``, a provisional cramp (``context["provisional"]``) is queued for
:meth:`Detector.take_notices`, followed when the episode closes by its final cramp
(``context["provisional_start_s"]``) or a retraction (``context["retracted"]``).  Notices
never enter ``push()``'s result, :attr:`Detector.events` or :meth:`finish`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from detector.classify import BurstFeatures, Verdict, classify
from detector.dsp import (
    CenteredMean,
    Frames,
    FrontEnd,
    Growable,
    MainsTracker,
    autocorr_peak,
    emg_band,
    frame_hop,
)
from detector.events import Event, NightResult
from detector.stream import Chunk, Gap, StreamLayout

DETECTOR_VERSION = "nightcramp-detect 1.0"

CALF_SITES = ("calf", "gastrocnemius", "soleus", "unknown", "thigh", "foot")


@dataclass(frozen=True)
class DetectorConfig:
    """Every threshold of the detector, with its unit and where it comes from."""

    # --- band and mains -------------------------------------------------------------
    hp_hz: float = 20.0
    """High-pass corner, Hz.  Surface EMG lies in 20-450 Hz (DOMAIN.md, De Luca 2010)."""
    lp_hz: float = 450.0
    """Low-pass corner, Hz (same source); capped at ``lp_frac * fs``."""
    lp_frac: float = 0.45
    """Low-pass cap as a fraction of the sampling rate (below Nyquist), unitless."""
    notch_q: float = 30.0
    """Quality factor of each mains notch (-3 dB width ~1.7 Hz at 50 Hz), unitless."""
    mains_ratio_min: float = 10.0
    """Narrow-band power at 50/60 Hz over the EMG band median that counts as hum
    (power ratio, 10 dB); our choice."""
    mains_check_every_s: int = 120
    """Mains re-check period after the first 5 min (every 10 s until then), s."""
    mains_first_checks_s: int = 10
    """Every second is checked at the start of a recording, s."""
    mains_confirm: int = 3
    """Consecutive checks needed to switch fundamental (50 <-> 60 Hz), count."""

    # --- frames and envelope --------------------------------------------------------
    frame_s: float = 0.01
    """Frame length, s (10 ms: onsets to tens of ms, issue 5)."""
    env_window_s: float = 0.1
    """Centred RMS window of the detection envelope, s (short, so strides stay apart)."""
    settle_s: float = 0.3
    """Ignore this long after a start or gap while the filters settle, s."""
    max_piece_s: float = 60.0
    """Large chunks are processed in pieces of at most this, s (bounded memory)."""

    # --- adaptive rest --------------------------------------------------------------
    rest_window_s: int = 120
    """Resting level = low percentile of the per-second median 10-ms RMS over this
    trailing window, s (short enough to follow drift: a rising ramp lags ~100 s)."""
    rest_percentile: float = 20.0
    """... this percentile, %."""
    rest_gate_x: float = 3.0
    """Seconds whose median exceeds this multiple of the current rest do not feed it
    (gated update, so bursts and long cramps cannot lift the baseline), unitless."""
    rest_min_s: int = 10
    """Quiet seconds needed in the window to update the level, s."""
    rest_relock_s: int = 900
    """After this long with every second gated out the level restarts from all seconds,
    s (a lasting change of electrode contact; longer than the longest cramp)."""
    rest_update_s: int = 10
    """The resting level is recomputed every this many seconds, s."""
    rest_warmup_s: int = 30
    """... and every second during the first this many seconds, s."""

    # --- double threshold (Bonato 1998) with AASM/WASM amplitudes -------------------
    on_abs_uv: float = 8.0
    """Onset level = rest + this, µV (AASM 2007 leg movement onset: >= 8 µV above
    resting EMG) ..."""
    on_min_x_rest: float = 2.0
    """... but at least this multiple of rest (clear of the 100-ms RMS noise) ..."""
    on_x_rest: float = 4.0
    """... and at most this multiple (the same rule for a ~2.7 µV rest; keeps it
    meaningful when the data are not µV-scaled)."""
    off_abs_uv: float = 2.0
    """End level = rest + this, µV (AASM 2007 / WASM 2016: within 2 µV of rest) ..."""
    off_min_x_rest: float = 1.5
    """... but at least this multiple of rest ..."""
    off_x_rest: float = 2.0
    """... and at most this multiple (2 µV over a 2 µV rest)."""
    end_quiet_s: float = 0.5
    """A burst ends at the start of >= this long below the off level, s (AASM, WASM)."""
    onset_search_s: float = 0.3
    """Onset refinement window on the TKEO frames around the envelope onset, s."""
    tkeo_x_rest: float = 4.0
    """TKEO onset level as a multiple of resting TKEO (energy: 2x in amplitude);
    Solnik 2008 used a multiple of the baseline SD."""
    max_segment_s: float = 720.0
    """A burst longer than this is split, s (cramps last up to ~10 min, Hallegraeff
    2017)."""

    # --- episodes -------------------------------------------------------------------
    merge_gap_s: float = 2.0
    """Bursts closer than this belong to one episode, s (below the 5-10 s minimum PLM
    interval of AASM/WASM, above a stride's swing phase)."""
    acc_context_s: float = 3.0
    """Accelerometer seconds needed after an episode before classifying it, s."""

    # --- classification -------------------------------------------------------------
    lm_min_s: float = 0.5
    """Shortest leg movement, s (AASM 2007, WASM 2016); shorter -> twitch."""
    lm_max_s: float = 10.0
    """Longest leg movement, s (AASM 2007 / WASM 2016 monolateral)."""
    plm_min_count: int = 4
    """Movements in a PLM series, count (AASM, WASM)."""
    plm_min_interval_s: float = 10.0
    """Shortest onset-to-onset interval in a series, s (WASM 2016; AASM 2007 says 5)."""
    plm_max_interval_s: float = 90.0
    """Longest onset-to-onset interval in a series, s (AASM, WASM)."""
    cramp_min_s: float = 8.0
    """Shortest cramp, s: beyond the longest PLMs' median durations (0.5-5 s, DOMAIN) and
    the plain floor's 8 s; cramps last seconds to ~10 min (Hallegraeff 2017)."""
    cramp_lm_context_s: float = 15.0
    """A cramp candidate this short (the longest bilateral leg movement, WASM 2016, s)
    that starts plm_min_interval_s..plm_max_interval_s after the previous leg movement
    is a long leg movement of a series, not a cramp."""
    cramp_min_x_rest: float = 8.0
    """Median calf envelope over a cramp, multiple of rest ("many x rest", DOMAIN): above
    the highest pre-cramp rise (+500 % = 6x, Chaney & Sherman) and quiet-standing tonic
    soleus activity."""
    cramp_min_sustain: float = 0.8
    """Fraction of a cramp's frames above the off level (sustained, not strides)."""
    cramp_core_x_rest: float = 6.0
    """Core level of a cramp, multiple of rest: above the highest pre-cramp rise
    (+500 % = 6x, Chaney & Sherman)."""
    cramp_core_frac: float = 0.25
    """... and at least this fraction of the burst's 90th-percentile envelope (troughs of
    waxing and waning stay above it: depth <= 45 %, Minetto 2009), unitless."""
    cramp_hole_s: float = 0.3
    """Dips below the core level shorter than this are bridged, s (shorter than the gaps
    of ECG spikes at <= 100 bpm and of strides)."""
    cramp_onset_x_pre: float = 1.5
    """The onset is where the rise meets 1.5x the envelope level just before it."""
    cramp_rise_max_s: float = 3.0
    """Longest rise walked back from the core, s (cramps rise in 0.3-2 s)."""
    cramp_fall_max_s: float = 5.0
    """Longest fall walked forward from the core to the off level, s."""
    cramp_calf_vs_tib: float = 0.5
    """Calf median x rest must be at least this times the tibialis', unitless."""
    stretch_min_s: float = 10.0
    """A voluntary stretch holds the tibialis for tens of seconds (DOMAIN), s: longer
    than the longest leg movement (10 s, AASM)."""
    stretch_min_x_rest: float = 3.0
    """... at this multiple of rest at least."""
    stride_period_s: tuple[float, float] = (0.6, 1.8)
    """Stride (gait cycle) period range, s: about one calf burst per second (DOMAIN)."""
    walk_min_strides: int = 5
    """Bursts at a stride period that make walking, count."""
    stride_ac_min: float = 0.6
    """Envelope autocorrelation at the stride lag that counts as periodic, unitless."""
    stride_depth_max: float = 0.35
    """... with the envelope falling this close to rest between strides (P10/P90)."""
    walk_acc_g: float = 0.08
    """Acc activity (RMS of the 3 axes' variation in 1 s) of walking, g."""
    upright_deg: float = 40.0
    """Shank within this angle of vertical counts as upright, degrees."""
    acc_shank_axis: int = 0
    """Accelerometer axis along the shank (0=x, 1=y, 2=z) when it cannot be learnt from
    the night (see Detector._shank_axis); the sensor's x points along the shank towards
    the knee (emulator/night.py)."""
    turn_angle_deg: float = 30.0
    """Gravity vector change across a burst that makes turning over, degrees."""
    artifact_lf_ratio: float = 8.0
    """Raw in-frame variance over band-passed power above which a burst is a pop /
    electrode-off / mains spell (clean EMG ~1), unitless."""
    artifact_step_ratio: float = 3.0
    """Excursion of the raw 10-ms mean over the peak envelope above which a short burst
    (<= pop_max_s) is an electrode pop: a step that decays (DOMAIN.md); clean EMG < 1."""
    artifact_step_long: float = 1.5
    """Same ratio for a longer burst with the leg still (acc below walk_acc_g or no
    acc): a loose electrode's baseline swings; muscle EMG is zero-mean, < 0.5 here."""
    steady_depth_min: float = 0.9
    """P10/P90 of the calf envelope at or above which loud activity is steady noise
    (electrode off), not a contraction, which waxes and wanes (DOMAIN, Minetto 2009)."""
    pop_max_s: float = 3.0
    """A low-frequency burst shorter than this is an electrode pop, s."""
    artifact_min_f_hz: float = 0.0
    """Effective frequency (TKEO) below which a burst is not EMG, Hz (0 = off)."""
    flat_x_rest: float = 0.05
    """A second whose EMG-band median is below this fraction of rest carries no signal
    (electrode off / flat); such seconds never feed the resting level, unitless."""
    flat_min_s: int = 2
    """Shortest flat spell reported as an electrode-off artifact, s."""
    flat_rv_uv2: float = 1e-6
    """Raw in-frame variance below which a frame is flat (stuck/clipped), µV²."""
    spike_max_s: float = 0.35
    """ECG spikes are narrow: every burst of the train at most this long, s."""
    heart_period_s: tuple[float, float] = (0.4, 1.5)
    """Heart-beat period range (40-150 bpm), s."""
    ecg_min_spikes: int = 5
    """Spikes in a train to call ECG bleed, count."""
    wake_quiet_s: float = 180.0
    """The sleeper is taken to be awake from the start of the recording and after a
    cramp, walking, a stretch or a posture change, until the first this-long stretch
    without movement other than single leg-movement-like bursts, s: leg movements meanwhile are not PLMS (AASM scores
    PLMS in sleep; sleepers lie awake minutes after a cramp, Hallegraeff 2017) ..."""
    wake_max_s: float = 1200.0
    """... or for at most this long, s (a 20-min sleep latency)."""
    wake_subtypes: tuple[str, ...] = ("walking", "stretch", "posture")
    """Movement subtypes that mean the sleeper is awake."""
    asleep_quiet_s: float = 300.0
    """Quiet time before a cramp's onset that makes ``asleep_before``, s."""
    active_acc_g: float = 0.02
    """Acc activity above which a second counts as active, g (sleep/wake)."""


@dataclass
class _Segment:
    k0: int
    k1: int  # exclusive


@dataclass
class _Episode:
    segs: list[_Segment] = field(default_factory=list)

    @property
    def k0(self) -> int:
        return self.segs[0].k0

    @property
    def k1(self) -> int:
        return self.segs[-1].k1


def _covered_s(events: Iterable[Event]) -> float:
    """Seconds covered by the events' spans, overlaps counted once."""
    total, end = 0.0, -math.inf
    for e in sorted(events, key=lambda e: e.start_s):
        total += max(0.0, e.end_s - max(e.start_s, end))
        end = max(end, e.end_s)
    return float(total)


class Detector:
    """Streaming detector.  ``push`` chunks and gaps, then ``finish``."""

    def __init__(self, layout: StreamLayout, config: DetectorConfig | None = None) -> None:
        self.layout = layout
        self.cfg = cfg = config or DetectorConfig()
        self.fs = float(layout.emg_fs)
        self.n_ch = layout.n_emg
        self.hop = frame_hop(self.fs, cfg.frame_s)
        self.fps = self.fs / self.hop
        self._fs_int = int(round(self.fs)) if abs(self.fs - round(self.fs)) < 1e-9 else 0
        hp, lp = emg_band(self.fs, cfg.hp_hz, cfg.lp_hz, cfg.lp_frac)
        self.band = (hp, lp)
        self.mains = MainsTracker(
            self.fs,
            self.n_ch,
            cfg.mains_ratio_min,
            cfg.mains_check_every_s,
            cfg.mains_first_checks_s,
            cfg.mains_confirm,
        )
        self.front = FrontEnd(self.fs, self.n_ch, hp, lp, cfg.notch_q, self.hop, self.mains)
        half = max(1, int(round(cfg.env_window_s * self.fps / 2)))
        self.smooth = CenteredMean(self.n_ch, half)
        sites = layout.emg_sites
        calf = [i for i, s in enumerate(sites) if s in CALF_SITES]
        tib = [i for i, s in enumerate(sites) if s == "tibialis"]
        self.calf_idx = calf or list(range(self.n_ch))
        self.tib_idx = tib if calf else []
        # per-second stores (whole night; 28 800 rows for 8 h)
        c = self.n_ch
        self.sec_e2 = Growable(c)
        self.sec_tk = Growable(c)
        self.sec_rv = Growable(c)
        self.sec_flat = Growable(c)
        self.sec_n = Growable(1)
        self.sec_med = Growable(c, np.nan)  # median of the frames' mean square, µV²
        self.sec_med_tk = Growable(c, np.nan)
        self._mcarry = np.zeros((3 * c, 0))
        self._mcarry_sec = np.zeros(0, dtype=np.int64)
        self.sec_rest = Growable(c, np.nan)
        self.sec_rest_tk = Growable(c, np.nan)
        self._rest_next = 0
        self._rest_locked_since: int | None = None
        self.acc_fs = layout.acc_fs
        self.sec_acc = Growable(7)  # sx sy sz sxx syy szz n
        self._acc_next: int | None = None
        self._acc_sec_done = 0
        self._acc_carry = np.zeros((0, 3))
        self._acc_carry_j0 = 0
        self._flat_run: list[Any] | None = None
        self._axis_cache: dict[int, np.ndarray] = {}
        self._axis_scatter = np.zeros((3, 3))
        self._axis_n = 0
        self._axis_upto = 0
        # frame ring (recent frames: smoothed mean square, e2, tk, rv)
        self.ring_n = int(math.ceil((cfg.max_segment_s + 240.0) * self.fps))
        self.ring = np.zeros((self.ring_n, 5 * c))
        # burst state
        self.G = max(1, int(round(cfg.end_quiet_s * self.fps)))
        self.max_seg = int(round(cfg.max_segment_s * self.fps))
        self.settle = int(round(cfg.settle_s * self.fps))
        self.run_k0 = 0
        self.seg_open = False
        self.seg_k0 = 0
        self.seg_last = 0
        self.seg_high = False
        self.k_done = 0  # frames up to here have been through the burst logic
        self.episode: _Episode | None = None
        self.merge = int(round(cfg.merge_gap_s * self.fps))
        # PLM series
        self._lm_pending: list[Event] = []
        self._lm_in_series = False
        self._wake_t = 0.0  # last wake trigger (the recording start counts)
        self._sleep_t = self.cfg.wake_max_s  # estimated time of falling asleep after it
        self._last_active = 0.0  # end of the last burst >= 0.5 s
        self._last_lm_start: float | None = None
        self._held: tuple[Event, BurstFeatures] | None = None
        # output
        self.events: list[Event] = []
        self.gaps: list[Gap] = []
        self.n_samples = 0
        self.n_acc = 0
        self.n_twitches = 0
        self._first_i: int | None = None
        self._last_i = 0
        self._finished: NightResult | None = None
        # early cramp notice (provisional events for the sinks, not in ``events``)
        self._notices: list[Event] = []
        self._prov: Event | None = None  # provisional cramp awaiting its final outcome
        self._prov_armed = True  # no notice yet for the current episode
        self._prov_sec = -1  # last whole second at which the notice was evaluated

    # ------------------------------------------------------------------ public API
    def push(self, item: Chunk | Gap) -> list[Event]:
        """Feed one chunk or gap; return the events it closed, in order."""
        out: list[Event] = []
        if isinstance(item, Gap):
            self.gaps.append(item)
            self._gap(out)
            return out
        emg = np.asarray(item.emg, dtype=np.float64)
        if emg.shape[1] != self.n_ch:
            raise ValueError(f"chunk has {emg.shape[1]} EMG channels, layout has {self.n_ch}")
        if item.acc.shape[0] and self.acc_fs:
            self._push_acc(item.acc_start, np.asarray(item.acc, dtype=np.float64))
        n = emg.shape[0]
        if n == 0:
            self._flush_episode(out, final=False)
            return out
        if self._first_i is None:
            self._first_i = item.emg_start
            self._wake_t = self._last_active = item.emg_start / self.fs
            self._sleep_t = self._wake_t + self.cfg.wake_max_s
        if self.front.next_i is not None and self.front.next_i != item.emg_start:
            self._gap(out)  # discontiguous without a Gap item: treat as one
        self.n_samples += n
        self._last_i = item.emg_start + n
        piece = max(1, int(self.cfg.max_piece_s * self.fs))
        x = emg.T
        for p0 in range(0, n, piece):
            fr = self.front.process(
                np.ascontiguousarray(x[:, p0 : p0 + piece]), item.emg_start + p0
            )
            if fr is not None:
                self._frames(fr, out)
        self._flush_episode(out, final=False)
        self._provisional()
        return out

    def take_notices(self) -> list[Event]:
        """Everything a live sink should see since the last call, in order.

        The final events (as returned by :meth:`push`), plus the early cramp notices:
        a *provisional* cramp (``context["provisional"] = True``, ``end_s`` = the time it
        was noticed) as soon as an open episode has met the cramp rules for
        ``cramp_min_s``; and, when its episode closes, either the final cramp carrying
        ``context["provisional_start_s"]`` (the provisional's ``start_s``: it replaces
        that row) or, if the episode turned out not to be a cramp, the provisional again
        with ``context["retracted"] = True``.  Notices never enter :attr:`events` nor
        :meth:`finish`.  See ``docs/DETECTOR.md`` (Early cramp notice).
        """
        got, self._notices = self._notices, []
        return got

    def finish(self) -> NightResult:
        """Close everything and return the night (all events, emission order)."""
        if self._finished is not None:
            return self._finished
        out: list[Event] = []
        self._acc_flush()
        self._gap(out, final=True)
        self._flush_lm(out, final=True)
        events = self._with_context(self.events)
        trace, epochs = self._trace_epochs()
        dur = 0.0
        if self._first_i is not None:
            dur = (self._last_i - self._first_i) / self.fs
        stats: dict[str, Any] = {
            "samples": self.n_samples,
            "acc_samples": self.n_acc,
            "gap_s": float(sum(g.duration_s for g in self.gaps)),
            "gaps": len(self.gaps),
            "electrode_off_s": _covered_s(
                e
                for e in events
                if e.kind == "artifact" and e.subtype in ("electrode-off", "saturation")
            ),
            "artifact_s": _covered_s(e for e in events if e.kind == "artifact"),
            "twitches": self.n_twitches,
            "mains_hz": self.mains.fundamental,
            "mains_harmonics": list(self.mains.harmonics),
            "band_hz": [self.band[0], self.band[1]],
            "frame_hop": self.hop,
            "counts": {
                k: sum(1 for e in events if e.kind == k)
                for k in ("cramp", "plm", "movement", "artifact")
            },
        }
        self._finished = NightResult(
            layout=self.layout,
            events=events,
            gaps=list(self.gaps),
            trace=trace,
            epochs=epochs,
            duration_s=dur,
            detector_version=DETECTOR_VERSION,
            stats=stats,
        )
        return self._finished

    # ------------------------------------------------------------------ helpers
    def _sec_of(self, k: np.ndarray | int) -> Any:
        if self._fs_int:
            return (np.asarray(k) * self.hop) // self._fs_int
        return np.floor(np.asarray(k) * self.hop / self.fs).astype(np.int64)

    def _t(self, k: int) -> float:
        return k * self.hop / self.fs

    def _push_acc(self, j0: int, a: np.ndarray) -> None:
        """Per-second accelerometer sums; a second is summed once complete (carried until
        then), by the same operations whatever the chunking."""
        fs = float(self.acc_fs or 0)
        m = a.shape[0]
        self.n_acc += m
        if self._acc_carry.shape[0] and self._acc_next != j0:
            self._acc_flush()
        if self._acc_carry.shape[0] == 0:
            self._acc_carry_j0 = j0
            buf = a
        else:
            buf = np.concatenate([self._acc_carry, a])
        j = np.arange(self._acc_carry_j0, self._acc_carry_j0 + buf.shape[0])
        sec = (
            j // int(round(fs)) if abs(fs - round(fs)) < 1e-9 else np.floor(j / fs).astype(np.int64)
        )
        cut = int(np.searchsorted(sec, sec[-1]))
        # the last second is complete when its last sample is in
        if abs(fs - round(fs)) < 1e-9 and (j[-1] + 1) % int(round(fs)) == 0:
            cut = buf.shape[0]
        self._acc_sum(sec[:cut], buf[:cut])
        self._acc_carry = buf[cut:]
        self._acc_carry_j0 = int(j[cut]) if cut < buf.shape[0] else int(j[-1]) + 1
        self._acc_next = j0 + m
        self._acc_sec_done = max(self._acc_sec_done, int(math.floor((j0 + m) / fs)))

    def _acc_flush(self) -> None:
        if self._acc_carry.shape[0]:
            fs = float(self.acc_fs or 1)
            j = np.arange(self._acc_carry_j0, self._acc_carry_j0 + self._acc_carry.shape[0])
            self._acc_sum(np.floor(j / fs + 1e-9).astype(np.int64), self._acc_carry)
            self._acc_carry = np.zeros((0, 3))

    def _acc_sum(self, sec: np.ndarray, a: np.ndarray) -> None:
        if sec.size == 0:
            return
        starts = np.r_[0, np.flatnonzero(np.diff(sec)) + 1]
        secs = sec[starts]
        self.sec_acc.ensure(int(secs[-1]) + 1)
        cols = np.concatenate([a, a * a], axis=1)
        self.sec_acc.a[secs, :6] = np.add.reduceat(cols, starts, axis=0)
        self.sec_acc.a[secs, 6] = np.diff(np.r_[starts, sec.size])

    def _rest_upto(self, s_max: int) -> None:
        """Compute the resting level for seconds up to ``s_max`` (inclusive)."""
        cfg = self.cfg
        fpsec = self.fps
        self.sec_rest.ensure(s_max + 1)
        self.sec_rest_tk.ensure(s_max + 1)
        s = self._rest_next
        c = self.n_ch
        while s <= s_max:
            # the level is recomputed on "update" seconds and held until the next one
            if s < cfg.rest_warmup_s:
                nxt = s + 1
            else:
                nxt = (s // cfg.rest_update_s + 1) * cfg.rest_update_s
            update = s < cfg.rest_warmup_s or s % cfg.rest_update_s == 0 or s == self._rest_next
            hold_to = min(nxt, s_max + 1)
            val = self.sec_rest.a[s - 1] if s > 0 else np.full(c, np.nan)
            val_tk = self.sec_rest_tk.a[s - 1] if s > 0 else np.full(c, np.nan)
            if update and (s < cfg.rest_warmup_s or s % cfg.rest_update_s == 0):
                lo = max(0, s - cfg.rest_window_s)
                n = self.sec_n.a[lo:s, 0]
                med = self.sec_med.a[lo:s]
                ok = (n >= 0.5 * fpsec) & np.isfinite(med[:, 0])
                # gate: seconds clearly active (median > rest_gate x the current level)
                # do not feed the resting level, so a long cramp cannot lift it; if the
                # gate has shut everything out for rest_relock_s, start afresh
                if np.isfinite(val).all():
                    # ... nor do seconds without signal (electrode off, flat): both
                    # bounds in one pass
                    inside = (med <= (cfg.rest_gate_x * val) ** 2) & (
                        med >= (cfg.flat_x_rest * val) ** 2
                    )
                    quiet = ok & inside.all(axis=1)
                    if np.count_nonzero(quiet) >= cfg.rest_min_s:
                        ok = quiet
                        self._rest_locked_since = None
                    elif self._rest_locked_since is None:
                        self._rest_locked_since = s
                        ok = np.zeros_like(ok)
                    elif s - self._rest_locked_since < cfg.rest_relock_s:
                        ok = np.zeros_like(ok)
                    else:
                        self._rest_locked_since = None
                if ok.any():
                    # nearest-rank percentile of the per-second medians (np.partition:
                    # ~10x cheaper than np.percentile; rms and TKEO in one call)
                    v = np.concatenate([med[ok], self.sec_med_tk.a[lo:s][ok]], axis=1)
                    kq = int(cfg.rest_percentile / 100.0 * (v.shape[0] - 1) + 0.5)
                    q = np.partition(v, kq, axis=0)[kq]
                    val, val_tk = np.sqrt(q[:c]), q[c:]
            self.sec_rest.a[s:hold_to] = val
            self.sec_rest_tk.a[s:hold_to] = val_tk
            s = hold_to
        self._rest_next = max(self._rest_next, s_max + 1)

    def _ring_put(self, k0: int, cols: slice, v: np.ndarray) -> None:
        n = v.shape[1]
        if n > self.ring_n:
            k0, v, n = k0 + n - self.ring_n, v[:, n - self.ring_n :], self.ring_n
        p0 = k0 % self.ring_n
        first = min(n, self.ring_n - p0)
        self.ring[p0 : p0 + first, cols] = v[:, :first].T
        if first < n:
            self.ring[: n - first, cols] = v[:, first:].T

    def _ring_get(self, k0: int, k1: int) -> np.ndarray:
        pos = np.arange(k0, k1) % self.ring_n
        return self.ring[pos]

    # ------------------------------------------------------------------ frame stage
    def _frames(self, fr: Frames, out: list[Event]) -> None:
        c = self.n_ch
        sec = self._sec_of(np.arange(fr.k0, fr.k0 + fr.n))
        # e2, tk, rv, rm stacked once: the seconds take the first three, and the ring's
        # columns c .. 5 c take all four in one write (plain copies either way)
        feats = np.concatenate([fr.e2, fr.tk, fr.rv, fr.rm], axis=0)
        self._seconds(sec, feats[: 3 * c], False, out)
        self._ring_put(fr.k0, slice(c, 5 * c), feats)
        if self.smooth.carry.shape[1] == 0:
            self.run_k0 = fr.k0
        k_out, e2s = self.smooth.process(fr.k0, fr.e2)
        if e2s.shape[1] == 0:
            return
        self._ring_put(k_out, slice(0, c), e2s)
        self._bursts(k_out, e2s, out)

    def _seconds(
        self, sec: np.ndarray, feats: np.ndarray, final: bool, out: list[Event] | None = None
    ) -> None:
        """Per-second aggregates of the frames (e2, tk, rv stacked: (3 c, n)).

        Sums (for the trace and features) and the median of the 10-ms mean squares (the
        resting level's input: a median, so narrow spikes such as ECG R waves or twitches
        in a second do not lift it).  A second is aggregated only once all its frames are
        in (the rest is carried), always by the same operations: bit-exact whatever the
        chunking.
        """
        c = self.n_ch
        if self._mcarry_sec.size:
            sec = np.concatenate([self._mcarry_sec, sec])
            feats = np.concatenate([self._mcarry, feats], axis=1)
        if sec.size == 0:
            return
        cut = sec.size if final else int(np.searchsorted(sec, sec[-1]))
        self._mcarry_sec, self._mcarry = sec[cut:], feats[:, cut:]
        if cut == 0:
            return
        sec, feats = sec[:cut], feats[:, :cut]
        s1 = int(sec[-1])
        for g in (self.sec_e2, self.sec_tk, self.sec_rv, self.sec_flat, self.sec_n):
            g.ensure(s1 + 1)
        self.sec_med.ensure(s1 + 1)
        self.sec_med_tk.ensure(s1 + 1)
        starts = np.r_[0, np.flatnonzero(np.diff(sec)) + 1]
        secs = sec[starts]
        sums = np.add.reduceat(feats, starts, axis=1)
        flat = np.add.reduceat(
            (feats[2 * c :] < self.cfg.flat_rv_uv2).astype(float), starts, axis=1
        )
        self.sec_e2.a[secs] = sums[:c].T
        self.sec_tk.a[secs] = sums[c : 2 * c].T
        self.sec_rv.a[secs] = sums[2 * c :].T
        self.sec_flat.a[secs] = flat.T
        lens = np.diff(np.r_[starts, cut])
        self.sec_n.a[secs, 0] = lens
        nsec = secs.size
        if np.all(lens == lens[0]):
            L = int(lens[0])
            both = feats[: 2 * c].reshape(2 * c, nsec, L)
            med = np.partition(both, L // 2, axis=-1)[:, :, L // 2]  # upper median
            self.sec_med.a[secs] = med[:c].T
            self.sec_med_tk.a[secs] = med[c:].T
        else:
            for a, n_ in zip(starts, lens, strict=True):
                m = np.partition(feats[: 2 * c, a : a + n_], n_ // 2, axis=1)[:, n_ // 2]
                self.sec_med.a[sec[a]] = m[:c]
                self.sec_med_tk.a[sec[a]] = m[c:]
        self._flat_seconds(secs, lens, out)

    def _flat_seconds(self, secs: np.ndarray, lens: np.ndarray, out: list[Event] | None) -> None:
        """Electrode-off spells where a channel carries no signal: raw flat (stuck or
        pinned) in most frames, or EMG-band power < flat_x_rest of rest.  Runs of >=
        flat_min_s seconds become artifact events (emitted when the run ends)."""
        cfg = self.cfg
        self._rest_upto(int(secs[-1]))
        rest = self.sec_rest.a[secs]
        med = self.sec_med.a[secs]
        with np.errstate(invalid="ignore"):
            low = med < (cfg.flat_x_rest * rest) ** 2
        flat = (self.sec_flat.a[secs] >= 0.5 * lens[:, None]) | low
        any_flat = flat.any(axis=1)
        if not any_flat.any():
            if self._flat_run is not None:
                self._close_flat(out)
            return
        for i, sc in enumerate(secs):
            sc = int(sc)
            if any_flat[i]:
                if self._flat_run is None or sc != self._flat_run[1]:
                    self._close_flat(out)
                    self._flat_run = [sc, sc + 1, set()]
                else:
                    self._flat_run[1] = sc + 1
                self._flat_run[2].update(int(j) for j in np.flatnonzero(flat[i]))
            elif self._flat_run is not None:
                self._close_flat(out)

    def _close_flat(self, out: list[Event] | None) -> None:
        run = self._flat_run
        self._flat_run = None
        if run is None or out is None or run[1] - run[0] < self.cfg.flat_min_s:
            return
        labels = tuple(self.layout.emg_labels[j] for j in sorted(run[2]))
        ev = Event(
            kind="artifact",
            start_s=float(run[0]),
            end_s=float(run[1]),
            channels=labels,
            confidence=0.9,
            subtype="electrode-off",
            reason=f"no signal on {', '.join(labels)} for {run[1] - run[0]} s "
            "(flat, pinned or below the tissue noise): electrode off",
        )
        self._emit(ev, out)

    def _on(self, rest: np.ndarray) -> np.ndarray:
        """Onset level, µV: AASM's rest + 8 µV, kept within [on_min_x, on_max_x] x rest so
        it stays meaningful when the data are not µV-scaled or the rest is unusual."""
        c = self.cfg
        return np.clip(rest + c.on_abs_uv, c.on_min_x_rest * rest, c.on_x_rest * rest)

    def _off(self, rest: np.ndarray) -> np.ndarray:
        """End level, µV: AASM/WASM rest + 2 µV, within [off_min_x, off_x] x rest."""
        c = self.cfg
        return np.clip(rest + c.off_abs_uv, c.off_min_x_rest * rest, c.off_x_rest * rest)

    def _thresholds(self, k0: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sec = self._sec_of(np.arange(k0, k0 + n))
        s0, s1 = int(sec[0]), int(sec[-1])
        self._rest_upto(s1)
        rest = self.sec_rest.a[s0 : s1 + 1]  # per second, then spread over the frames
        on = self._on(rest) ** 2
        off = self._off(rest) ** 2
        # frames per second (sec is sorted): spreading by np.repeat copies the same values
        # as fancy indexing by ``sec - s0``, at a fraction of the cost
        cnt = np.bincount(sec - s0, minlength=s1 - s0 + 1)
        ok = np.isfinite(rest).all(axis=1)
        return np.repeat(on.T, cnt, axis=1), np.repeat(off.T, cnt, axis=1), np.repeat(ok, cnt)

    def _bursts(self, k0: int, e2s: np.ndarray, out: list[Event]) -> None:
        n = e2s.shape[1]
        on2, off2, valid = self._thresholds(k0, n)
        valid &= np.arange(k0, k0 + n) >= self.run_k0 + self.settle
        with np.errstate(invalid="ignore"):
            above = ((e2s > off2).any(axis=0)) & valid
            high = ((e2s > on2).any(axis=0)) & valid
        idx = np.flatnonzero(above)
        k_end = k0 + n  # frames < k_end have been seen
        G = self.G
        closed: list[tuple[int, int]] = []
        if idx.size:
            ka = idx + k0
            brk = np.flatnonzero(np.diff(ka) > G) + 1
            starts = np.concatenate([[0], brk])
            ends = np.concatenate([brk, [ka.size]])
            hi_cnt = np.add.reduceat(high[idx].astype(np.int64), starts)
            groups = [
                (int(ka[s]), int(ka[e - 1]), bool(h))
                for s, e, h in zip(starts, ends, hi_cnt, strict=True)
            ]
        else:
            groups = []
        # continue / close the open segment
        if self.seg_open:
            if groups and groups[0][0] - self.seg_last - 1 < G:
                g0 = groups[0]
                groups[0] = (self.seg_k0, g0[1], g0[2] or self.seg_high)
            else:
                if self.seg_high:
                    closed.append((self.seg_k0, self.seg_last + 1))
            self.seg_open = False
        # all groups but the last are closed; the last one too if G quiet frames follow
        for i, (a, b, h) in enumerate(groups):
            last = i == len(groups) - 1
            # split over-long segments at fixed absolute frame counts from their start
            while b - a + 1 > self.max_seg:
                if h:
                    closed.append((a, a + self.max_seg))
                a = a + self.max_seg
            if last and (k_end - 1) - b < G:
                self.seg_open, self.seg_k0, self.seg_last, self.seg_high = True, a, b, h
            elif h:
                closed.append((a, b + 1))
        for a, b in closed:
            self._segment(a, b, out)
        self.k_done = k_end
        self._flush_episode(out, final=False)

    # ------------------------------------------------------------------ segments
    def _refine_onset(self, k0: int) -> int:
        """First TKEO frame above its threshold near the envelope onset (Solnik 2008)."""
        w = max(1, int(round(self.cfg.onset_search_s * self.fps)))
        lo = max(self.run_k0, k0 - w)
        hi = k0 + w
        c = self.n_ch
        blk = self._ring_get(lo, hi)
        tk = blk[:, 2 * c : 3 * c]
        sec = int(self._sec_of(k0))
        self._rest_upto(sec)
        rtk = self.sec_rest_tk.a[sec]
        if not np.all(np.isfinite(rtk)):
            return k0
        thr = np.maximum(rtk, 1e-12) * self.cfg.tkeo_x_rest
        a = (tk > thr).any(axis=1)
        # Bonato-like persistence: 2 of the next 3 frames above
        if a.size < 3:
            return k0
        pers = a[:-2].astype(int) + a[1:-1] + a[2:]
        ok = np.flatnonzero(a[:-2] & (pers >= 2))
        if ok.size == 0:
            return k0
        return lo + int(ok[0])

    def _segment(self, k0: int, k1: int, out: list[Event]) -> None:
        k0r = self._refine_onset(k0)
        k0 = max(self.run_k0, min(k0r, k1 - 1))
        seg = _Segment(k0, k1)
        ep = self.episode
        if ep is not None:
            too_long = (k1 - ep.k0) > self.max_seg
            if seg.k0 - ep.k1 < self.merge and not too_long:
                ep.segs.append(seg)
                return
            self._close_episode(out)
        self.episode = _Episode([seg])

    def _flush_episode(self, out: list[Event], final: bool) -> None:
        ep = self.episode
        if ep is not None:
            if final:
                self._close_episode(out)
            else:
                quiet = self.k_done >= ep.k1 + self.merge and not (
                    self.seg_open and self.seg_k0 - ep.k1 < self.merge
                )
                acc_ok = True
                if self.acc_fs:
                    need = self._t(ep.k1) + self.cfg.acc_context_s
                    # wait for the accelerometer, but not for ever (a source may stop
                    # sending it): 30 s of EMG ahead is enough
                    acc_ok = self._acc_sec_done >= math.ceil(need) or (
                        self._t(self.k_done) > need + 30.0
                    )
                if quiet and acc_ok:
                    self._close_episode(out)
        if not final and self._held is not None:
            if self._t(self.k_done) - self._held[0].start_s > self.cfg.plm_max_interval_s:
                self._release_held(out)
        if not final and self._lm_pending:
            t_now = self._t(self.k_done)
            if t_now - self._lm_pending[-1].start_s > self.cfg.plm_max_interval_s:
                self._flush_lm(out, final=False)

    def _gap(self, out: list[Event], final: bool = False) -> None:
        if self.seg_open:
            if self.seg_high:
                self._segment(self.seg_k0, self.seg_last + 1, out)
            self.seg_open = False
        self._flush_episode(out, final=True)
        self._release_held(out)
        if not final:
            self._flush_lm(out, final=True)
        self._seconds(np.zeros(0, dtype=np.int64), np.zeros((3 * self.n_ch, 0)), True, out)
        self._close_flat(out)
        self.front.reset()
        self.smooth.reset()

    # ------------------------------------------------------------------ episodes
    def _features(self, segs: list[_Segment]) -> BurstFeatures:
        cfg = self.cfg
        c = self.n_ch
        k0, k1 = segs[0].k0, segs[-1].k1
        blk = self._ring_get(k0, k1)
        e2s = blk[:, :c]
        e2 = blk[:, c : 2 * c]
        tk = blk[:, 2 * c : 3 * c]
        rv = blk[:, 3 * c : 4 * c]
        sec = self._sec_of(np.arange(k0, k1))
        self._rest_upto(int(sec[-1]))
        rest = self.sec_rest.a[sec]
        env = np.sqrt(e2s)
        xr = env / np.maximum(rest, 1e-9)
        off = self._off(rest)
        calf = self.calf_idx
        # sustained = the calf stays above its off level (walking: it falls to rest in
        # every swing phase while the tibialis fires; a cramp holds)
        sustain = float((env[:, calf] > off[:, calf]).any(axis=1).mean())
        cx = xr[:, calf].max(axis=1)
        cramp_x = float(np.median(cx))
        cramp_peak = float(cx.max())
        if self.tib_idx:
            tib_x = float(np.median(xr[:, self.tib_idx].max(axis=1)))
            tib_uv = float(np.median(env[:, self.tib_idx].max(axis=1)))
        else:
            tib_x = tib_uv = 0.0
        calf_uv = float(np.median(env[:, calf].max(axis=1)))
        # which muscle leads: 90th percentile of the envelope's excess over rest, µV
        exc = env - np.nan_to_num(rest)
        calf_exc = float(np.percentile(exc[:, calf].max(axis=1), 90))
        tib_exc = (
            float(np.percentile(exc[:, self.tib_idx].max(axis=1), 90)) if self.tib_idx else 0.0
        )
        s_e2 = float(e2.sum())
        lf = float(rv.sum()) / max(s_e2, 1e-12)
        # steps: excursion of the raw signal's 100-ms mean (which cancels 50 and 60 Hz
        # hum and their harmonics) over the burst, against the peak of the band-passed
        # envelope, on the burst's main channel: a pop's step and decay dwarf it
        w = max(1, int(round(0.1 * self.fps)))
        rm = self._ring_get(max(self.run_k0, k0 - w), k1)[:, 4 * c : 5 * c]
        main = int(np.argmax(env.max(axis=0)))
        if rm.shape[0] > w:
            sm = np.convolve(rm[:, main], np.ones(w) / w, mode="valid")
            step = float(sm.max() - sm.min()) / max(float(env[:, main].max()), 1e-9)
        else:
            step = 0.0
        ratio = min(1.0, max(0.0, float(tk.sum()) / max(s_e2, 1e-12) / 2.0))
        f_eff = math.asin(math.sqrt(ratio)) * self.fs / (2 * math.pi)
        flat_frac = float((rv < cfg.flat_rv_uv2).all(axis=1).mean())
        # envelope periodicity on the joint calf envelope, decimated to ~20 Hz
        dec = max(1, int(round(self.fps / 20)))
        ej = cx[: (cx.size // dec) * dec].reshape(-1, dec).mean(axis=1) if cx.size >= dec else cx
        fps_d = self.fps / dec
        lo = int(cfg.stride_period_s[0] * fps_d)
        hi = int(cfg.stride_period_s[1] * fps_d)
        ac, lag = autocorr_peak(ej, lo, hi) if ej.size > 3 * hi else (0.0, 0)
        p10, p90 = np.percentile(cx, [10, 90])
        depth = float(p10 / max(p90, 1e-9))
        t0, t1 = self._t(k0), self._t(k1)
        acc_act, upright, turn = self._acc_features(t0, t1)
        return BurstFeatures(
            start_s=t0,
            end_s=t1,
            n_segments=len(segs),
            seg_durations=[self._t(s.k1) - self._t(s.k0) for s in segs],
            seg_onsets=[self._t(s.k0) for s in segs],
            sustain=sustain,
            cramp_x_rest=cramp_x,
            cramp_peak_x_rest=cramp_peak,
            tib_x_rest=tib_x,
            has_tibialis=bool(self.tib_idx),
            calf_uv=calf_uv,
            tib_uv=tib_uv,
            calf_exc_uv=calf_exc,
            tib_exc_uv=tib_exc,
            lf_ratio=lf,
            step_ratio=step,
            f_eff_hz=f_eff,
            flat_frac=flat_frac,
            stride_ac=ac,
            stride_period_s=lag / fps_d if lag else 0.0,
            depth=depth,
            acc_activity_g=acc_act,
            acc_upright=upright,
            turn_deg=turn,
        )

    def _acc_sec(self, s0: int, s1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-second gravity (k,3), activity (k,), valid (k,) for seconds s0..s1-1."""
        s0 = max(0, s0)
        s1 = max(s0, min(s1, self.sec_acc.n))
        a = self.sec_acc.a[s0:s1]
        n = a[:, 6]
        ok = n > 0
        nn = np.maximum(n, 1)[:, None]
        mean = a[:, 0:3] / nn
        var = np.maximum(a[:, 3:6] / nn - mean**2, 0.0)
        act = np.sqrt(var.sum(axis=1))
        return mean, act, ok

    def _shank_axis(self, s_max: int) -> np.ndarray:
        """Unit vector along the shank in sensor axes, from quiet seconds before s_max.

        Lying, gravity is across the shank whichever way the leg rolls, so the shank is
        the direction gravity visits least: the smallest-eigenvalue eigenvector of the
        scatter of unit gravity vectors.  When the leg did not roll enough to tell (the
        two smallest eigenvalues close), the configured axis is used.
        """
        default = np.zeros(3)
        default[self.cfg.acc_shank_axis] = 1.0
        s_max = (s_max // 300) * 300  # re-learnt every 5 min (cached; chunk-invariant)
        if s_max in self._axis_cache:
            return self._axis_cache[s_max]
        axis = self._learn_axis(s_max, default)
        self._axis_cache = {s_max: axis}
        return axis

    def _learn_axis(self, s_max: int, default: np.ndarray) -> np.ndarray:
        # scatter of unit gravity vectors over quiet seconds, accumulated in fixed 300-s
        # blocks in time order (the same sums whatever the chunking)
        while self._axis_upto + 300 <= s_max:
            a = self._axis_upto
            g, act, ok = self._acc_sec(a, a + 300)
            sel = ok & (act < self.cfg.active_acc_g)
            if sel.any():
                u = g[sel] / np.maximum(np.linalg.norm(g[sel], axis=1, keepdims=True), 1e-9)
                self._axis_scatter += u.T @ u
                self._axis_n += int(sel.sum())
            self._axis_upto += 300
        if self._axis_n < 60:
            return default
        w, v = np.linalg.eigh(self._axis_scatter / self._axis_n)
        if w[0] < 0.35 * w[1]:
            return v[:, 0]
        return default

    def _upright(self, g: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
        if axis is None:
            axis = self._shank_axis(self.sec_acc.n)
        norm = np.linalg.norm(g, axis=-1)
        cosang = np.abs(g @ axis) / np.maximum(norm, 1e-9)
        return cosang >= math.cos(math.radians(self.cfg.upright_deg))

    def _acc_features(self, t0: float, t1: float) -> tuple[float | None, bool | None, float | None]:
        if not self.acc_fs:
            return None, None, None
        s0, s1 = int(math.floor(t0)), int(math.ceil(t1))
        g, act, ok = self._acc_sec(s0, max(s1, s0 + 1))
        if not ok.any():
            return None, None, None
        activity = float(np.median(act[ok]))
        upright = bool(self._upright(g[ok], self._shank_axis(s0)).mean() >= 0.5)
        gb, _, okb = self._acc_sec(s0 - 3, s0 - 1)
        ga, _, oka = self._acc_sec(s1 + 1, s1 + 3)
        turn = None
        if okb.any() and oka.any():
            u = gb[okb].mean(axis=0)
            v = ga[oka].mean(axis=0)
            cosang = float(np.dot(u, v) / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-12))
            turn = math.degrees(math.acos(max(-1.0, min(1.0, cosang))))
        return activity, upright, turn

    def _make_event(self, segs: list[_Segment], f: BurstFeatures, v: Verdict) -> Event:
        c = self.n_ch
        k0, k1 = segs[0].k0, segs[-1].k1
        blk = self._ring_get(k0, k1)
        env = np.sqrt(blk[:, :c])
        sec0 = int(self._sec_of(k0))
        rest0 = self.sec_rest.a[sec0]
        if not np.isfinite(rest0).all():  # began before the resting level was known (NaN):
            later = self.sec_rest.a[sec0 : self._rest_next]  # take its first known level
            known = np.nonzero(np.isfinite(later).all(axis=1))[0]
            rest0 = later[known[0]] if known.size else rest0
        xr = env / np.maximum(rest0, 1e-9)
        main = int(np.argmax(np.median(xr, axis=0)))
        on = self._on(rest0)
        act = (env > on).mean(axis=0)
        chans = tuple(
            lab for i, lab in enumerate(self.layout.emg_labels) if i == main or act[i] >= 0.1
        )
        r = max(float(rest0[main]), 1e-9)
        peak = float(env[:, main].max())
        mean = float(env[:, main].mean())
        ctx: dict[str, Any] = {}
        if v.kind == "cramp":
            ctx = {"asleep_before": self._asleep_before(f.start_s)}
        return Event(
            kind=v.kind,  # type: ignore[arg-type]
            start_s=round(f.start_s, 4),
            end_s=round(f.end_s, 4),
            channels=chans,
            peak_uv=round(peak, 3),
            mean_uv=round(mean, 3),
            peak_x_rest=round(peak / r, 2),
            mean_x_rest=round(mean / r, 2),
            confidence=v.confidence,
            subtype=v.subtype,
            reason=v.reason,
            context=ctx,
        )

    def _close_episode(self, out: list[Event]) -> None:
        ep = self.episode
        self.episode = None
        if ep is None:
            return
        self._close_episode_inner(ep, out)
        self._prov_armed = True
        p, h = self._prov, self._held
        if p is not None and not (h is not None and h[0].start_s < p.end_s):
            # no final cramp took the provisional one's place (nor is one held back)
            self._retract()

    def _close_episode_inner(self, ep: _Episode, out: list[Event]) -> None:
        # sleep onset: the first quiet stretch after the last wake trigger; single
        # bursts of leg-movement length do not count as wakefulness (PLMS occur in sleep)
        t0, t1 = self._t(ep.k0), self._t(ep.k1)
        lm_like = len(ep.segs) <= 2 and t1 - t0 <= self.cfg.lm_max_s
        if t1 - t0 >= self.cfg.lm_min_s and not lm_like:
            if (
                t0 - self._last_active >= self.cfg.wake_quiet_s
                and self._last_active >= self._wake_t
            ):
                self._sleep_t = min(self._sleep_t, self._last_active + self.cfg.wake_quiet_s)
            self._last_active = max(self._last_active, t1)
        cramps: list[tuple[_Segment, BurstFeatures, Verdict, float]] = []
        for k0, k1, pre in self._cramp_runs(ep):
            seg = _Segment(k0, k1)
            f = self._features([seg])
            v = classify(f, self.cfg)
            if v.kind == "cramp" and f.duration_s <= self.cfg.cramp_lm_context_s:
                self._held_to_lm(f.start_s, out)
            if v.kind == "cramp" and self._in_lm_series(f):
                continue
            if v.kind == "cramp":
                cramps.append((seg, f, v, pre))
        if not cramps:
            self._classify_part(ep.segs, out, allow_cramp=False)
            return
        # the cramp(s) stand alone; what is left of the episode around them is classified
        # separately (the pre-cramp rise right before a cramp is context, not an event)
        rest: list[_Segment] = []
        for sg in ep.segs:
            pieces = [(sg.k0, sg.k1)]
            for c, _, _, pre in cramps:
                nxt = []
                for a, b in pieces:
                    lo = c.k0 - int(round(pre * self.fps))
                    if b <= lo or a >= c.k1:
                        nxt.append((a, b))
                        continue
                    if a < lo:
                        nxt.append((a, lo))
                    if b > c.k1:
                        nxt.append((c.k1, b))
                pieces = nxt
            rest += [_Segment(a, b) for a, b in pieces if b - a >= max(1, self.G // 5)]
        items: list[tuple[int, Any]] = [(c.k0, ("cramp", c, f, v, pre)) for c, f, v, pre in cramps]
        group: list[_Segment] = []
        for sg in rest:
            if group and sg.k0 - group[-1].k1 >= self.merge:
                items.append((group[0].k0, ("part", group)))
                group = []
            group.append(sg)
        if group:
            items.append((group[0].k0, ("part", group)))
        items.sort(key=lambda x: x[0])
        for _, it in items:
            if it[0] == "cramp":
                _, c, f, v, pre = it
                ev = self._make_event([c], f, v)
                ctx = dict(ev.context)
                ctx["prerise_s"] = round(pre, 1)
                ev = replace(ev, context=ctx)
                self._release_held(out)
                # calf-led with a tibialis channel it cannot be a PLM: emit at once
                could_be_lm = not f.has_tibialis or f.tib_exc_uv >= f.calf_exc_uv
                if ev.duration_s <= self.cfg.cramp_lm_context_s and could_be_lm:
                    # as short as the longest leg movement (WASM 15 s): a cramp only once
                    # no leg movement follows at a series interval (known <= 90 s later)
                    self._held = (ev, f)
                else:
                    self._flush_lm(out, final=True)
                    self._emit(ev, out)
            else:
                self._classify_part(it[1], out, allow_cramp=False)

    def _classify_part(self, segs: list[_Segment], out: list[Event], allow_cramp: bool) -> None:
        f = self._features(segs)
        f.in_lm_series = self._in_lm_series(f)
        v = classify(f, self.cfg, allow_cramp=allow_cramp)
        if v.subtype == "twitch" and len(segs) == 1:
            self.n_twitches += 1
            return
        ev = self._make_event(segs, f, v)
        if v.lm_candidate:
            self._lm(ev, out, f)
        else:
            if ev.kind != "artifact":
                self._release_held(out)
            if ev.kind != "artifact" and ev.duration_s > self.cfg.lm_max_s:
                self._flush_lm(out, final=True)
            self._emit(ev, out)

    def _cramp_runs(self, ep: _Episode) -> list[tuple[int, int, float]]:
        """Sustained high calf activity inside an episode: (k0, k1, pre-rise s).

        Core level: ``max(cramp_core_x_rest x rest, cramp_core_frac x P90)`` of the calf
        envelope: above the highest pre-cramp rise (+500 %, Chaney & Sherman) and below
        the troughs of a cramp's waxing and waning (depth <= 45 %, Minetto 2009).  Holes
        shorter than ``cramp_hole_s`` are bridged; runs of >= ``cramp_min_s`` are kept.
        The onset is then walked back down the contraction's rise to where the envelope
        meets the level just before it (a local baseline, as in Severini 2012's adaptive
        double threshold); the end is walked forward down the fall to the off level.
        """
        cfg = self.cfg
        k0, k1 = ep.k0, ep.k1
        if (k1 - k0) < cfg.cramp_min_s * self.fps:
            return []
        pad = int(round(10 * self.fps))
        lo = max(self.run_k0, k0 - pad, self.k_done - self.ring_n + 1)
        blk = self._ring_get(lo, k1)
        env = np.sqrt(blk[:, self.calf_idx]).max(axis=1)
        sec = self._sec_of(np.arange(lo, k1))
        self._rest_upto(int(sec[-1]))
        rest = self.sec_rest.a[sec][:, self.calf_idx].max(axis=1)  # NaN while unknown
        inner = env[k0 - lo :]
        p90 = float(np.percentile(inner, 90))
        level = np.maximum(rest * cfg.cramp_core_x_rest, cfg.cramp_core_frac * p90)
        hi = env > level
        hi[: k0 - lo] = False
        idx = np.flatnonzero(hi)
        if idx.size == 0:
            return []
        hole = int(round(cfg.cramp_hole_s * self.fps))
        brk = np.flatnonzero(np.diff(idx) > hole + 1) + 1
        starts = idx[np.r_[0, brk]]
        ends = idx[np.r_[brk - 1, idx.size - 1]] + 1
        runs = []
        min_len = int(round(cfg.cramp_min_s * self.fps))
        off = self._off(rest)
        for a, b in zip(starts, ends, strict=True):
            if b - a < min_len:
                continue
            a, b = int(a), int(b)
            # onset: walk back down the rise to the local pre-level
            w0 = max(0, a - int(round(6 * self.fps)))
            w1 = max(w0 + 1, a - int(round(1 * self.fps)))
            pre_level = float(np.median(env[w0:w1])) if w1 > w0 else float(rest[a])
            floor = max(pre_level * cfg.cramp_onset_x_pre, float(off[a]))
            back = int(round(cfg.cramp_rise_max_s * self.fps))
            j = a
            while j > max(k0 - lo, a - back) and env[j - 1] > floor:
                j -= 1
            # end: walk forward down the fall to the off level (or the post level)
            fwd = int(round(cfg.cramp_fall_max_s * self.fps))
            e = b
            lim = min(env.size, b + fwd)
            while e < lim and env[e] > off[e] and env[e] > 0.1 * float(np.median(env[a:b])):
                e += 1
            pre_s = 0.0
            seg_start = max(k0 - lo, 0)
            if j > seg_start:
                pre_s = (j - seg_start) / self.fps
            runs.append((lo + j, lo + e, pre_s))
        return runs

    # ------------------------------------------------------------------ PLM series
    def _in_lm_series(self, f: BurstFeatures) -> bool:
        cfg = self.cfg
        if f.duration_s > cfg.cramp_lm_context_s or self._last_lm_start is None:
            return False
        iv = f.start_s - self._last_lm_start
        return cfg.plm_min_interval_s <= iv <= cfg.plm_max_interval_s

    def _is_awake(self, t: float) -> bool:
        """Awake at ``t``: after a wake trigger and before the first quiet stretch."""
        if t - self._last_active >= self.cfg.wake_quiet_s and self._last_active >= self._wake_t:
            self._sleep_t = min(self._sleep_t, self._last_active + self.cfg.wake_quiet_s)
        return self._wake_t <= t < self._sleep_t

    def _release_held(self, out: list[Event]) -> None:
        """Emit the short cramp held back (no leg-movement series followed it)."""
        if self._held is not None:
            ev, _ = self._held
            self._held = None
            self._flush_lm(out, final=True)
            self._emit(ev, out)

    def _held_to_lm(self, t_start: float, out: list[Event]) -> None:
        """A movement starting at ``t_start`` decides the held short cramp: a leg
        movement of a series if at a series interval, else a cramp."""
        cfg = self.cfg
        if self._held is not None:
            h, hf = self._held
            iv = t_start - h.start_s
            if cfg.plm_min_interval_s <= iv <= cfg.plm_max_interval_s:
                # the held short "cramp" was the first, long leg movement of a series
                self._held = None
                if self._prov is not None and self._prov.start_s < h.end_s:
                    self._retract()
                hf.in_lm_series = True
                lm = replace(
                    h,
                    kind="movement",
                    subtype="leg-movement",
                    reason=f"{h.duration_s:.1f} s leg movement followed by another "
                    f"{iv:.0f} s later (WASM: up to 15 s)",
                    confidence=0.6,
                    context={},
                )
                self._lm(lm, out, hf)
            else:
                self._release_held(out)

    def _lm(self, ev: Event, out: list[Event], f: BurstFeatures | None = None) -> None:
        cfg = self.cfg
        candidate = f is None or not (f.has_tibialis and f.calf_exc_uv > f.tib_exc_uv)
        candidate = candidate and not (self._is_awake(ev.start_s))
        if candidate:
            self._held_to_lm(ev.start_s, out)
        else:
            self._release_held(out)
        self._last_lm_start = ev.start_s
        # PLMS are leg movements in sleep, mostly of the tibialis anterior (DOMAIN.md,
        # AASM): movements while the sleeper is known to be awake, or led by the calf
        # when a tibialis channel is recorded, are not series candidates.
        awake = self._is_awake(ev.start_s)
        calf_led = f is not None and f.has_tibialis and f.calf_exc_uv > f.tib_exc_uv
        if awake or calf_led:
            why = "while awake" if awake else "calf-led, not tibialis"
            self._emit(replace(ev, reason=ev.reason + f"; {why}"), out)
            return
        pend = self._lm_pending
        if pend:
            iv = ev.start_s - pend[-1].start_s
            if not cfg.plm_min_interval_s <= iv <= cfg.plm_max_interval_s:
                self._flush_lm(out, final=True)
        pend = self._lm_pending
        pend.append(ev)
        if self._lm_in_series:
            self._emit(self._as_plm(ev, len(pend)), out)
        elif len(pend) >= cfg.plm_min_count:
            self._lm_in_series = True
            for i, e in enumerate(pend):
                self._emit(self._as_plm(e, i + 1), out)

    def _as_plm(self, ev: Event, nth: int) -> Event:
        return replace(
            ev,
            kind="plm",
            subtype="plm",
            reason=f"leg movement {ev.duration_s:.1f} s, #{nth} of a periodic series "
            f"(>= {self.cfg.plm_min_count}, intervals {self.cfg.plm_min_interval_s:.0f}-"
            f"{self.cfg.plm_max_interval_s:.0f} s, WASM 2016)",
            confidence=0.8,
        )

    def _flush_lm(self, out: list[Event], final: bool) -> None:
        if not self._lm_in_series:
            for e in self._lm_pending:
                self._emit(e, out)
        self._lm_pending = []
        self._lm_in_series = False

    def _emit(self, ev: Event, out: list[Event]) -> None:
        if ev.kind == "cramp" or ev.subtype in self.cfg.wake_subtypes:
            if ev.end_s > self._wake_t:
                self._wake_t = ev.end_s
                self._sleep_t = ev.end_s + self.cfg.wake_max_s
                self._last_active = max(self._last_active, ev.end_s)
        out.append(ev)
        self.events.append(ev)
        p = self._prov
        if p is not None and ev.kind == "cramp" and ev.start_s < p.end_s and ev.end_s > p.start_s:
            # the final cramp of the provisional one: it replaces the provisional row
            self._prov = None
            ctx = dict(ev.context)
            ctx["provisional_start_s"] = p.start_s
            self._notices.append(replace(ev, context=ctx))
        else:
            self._notices.append(ev)

    def _retract(self) -> None:
        """The provisional cramp's episode closed without a cramp: withdraw it."""
        p = self._prov
        if p is not None:
            self._prov = None
            ctx = dict(p.context)
            ctx["retracted"] = True
            self._notices.append(
                replace(p, context=ctx, reason="retracted: " + p.reason.split(": ", 1)[-1])
            )

    def _provisional(self) -> None:
        """Early cramp notice: an open episode whose calf core has met the cramp rules
        (:func:`detector.classify.classify` on the data so far) for ``cramp_min_s``.

        Evaluated at most once per whole second of the timeline (k_done crossing it).
        Reads the detector's state only (no effect on the final events).
        """
        if not self._prov_armed or self._prov is not None:
            return
        ep = self.episode
        segs = list(ep.segs) if ep is not None else []
        if self.seg_open and self.seg_high:
            segs.append(_Segment(self.seg_k0, self.seg_last + 1))
        if not segs:
            return
        sec = int(self._t(self.k_done))
        if sec == self._prov_sec:
            return
        self._prov_sec = sec
        k0, k1 = segs[0].k0, segs[-1].k1
        if (k1 - k0) < self.cfg.cramp_min_s * self.fps:
            return
        for a, b, _ in self._cramp_runs(_Episode(segs)):
            seg = _Segment(a, b)
            f = self._features([seg])
            v = classify(f, self.cfg)
            if v.kind != "cramp" or self._in_lm_series(f):
                continue
            ev = self._make_event([seg], f, v)
            ctx = dict(ev.context)
            ctx["provisional"] = True
            now = round(self._t(self.k_done), 4)
            ev = replace(
                ev,
                end_s=max(ev.end_s, now),
                reason=f"ongoing, noticed at {now:.1f} s: {v.reason}",
                context=ctx,
            )
            self._prov = ev
            self._prov_armed = False
            self._notices.append(ev)
            return

    # ------------------------------------------------------------------ context, trace
    def _asleep_before(self, t0: float) -> bool:
        """No movement event and a quiet accelerometer for asleep_quiet_s before t0."""
        lo = t0 - self.cfg.asleep_quiet_s
        for e in self.events:
            if e.kind == "movement" and e.end_s > lo and e.start_s < t0:
                return False
        if self.acc_fs:
            _, act, ok = self._acc_sec(int(lo), int(t0))
            if ok.any() and float(np.mean(act[ok] > self.cfg.active_acc_g)) > 0.1:
                return False
        return t0 >= 60.0

    def _with_context(self, events: list[Event]) -> list[Event]:
        res = []
        for e in events:
            if e.kind != "cramp":
                res.append(e)
                continue
            after = [x for x in events if x.start_s >= e.end_s - 1 and x is not e]
            moved = [x for x in after if x.kind == "movement" and x.start_s - e.end_s <= 600]
            walked = [x for x in moved if x.subtype == "walking"]
            ctx = dict(e.context)
            ctx["moved_after_s"] = round(max(0.0, moved[0].start_s - e.end_s), 1) if moved else None
            ctx["walked_after_s"] = (
                round(max(0.0, walked[0].start_s - e.end_s), 1) if walked else None
            )
            awake = 0.0
            if self.acc_fs:
                _, act, ok = self._acc_sec(int(e.end_s), int(e.end_s) + 600)
                if ok.any():
                    a = act[ok] > self.cfg.active_acc_g
                    last = np.flatnonzero(a)
                    awake = float(last[-1] + 1) if last.size else 0.0
            if moved:
                awake = max(awake, moved[-1].end_s - e.end_s)
            ctx["woke_after"] = bool(moved) or awake > 0 or e.duration_s >= 30
            ctx["awake_after_s"] = round(awake, 1)
            res.append(replace(e, context=ctx))
        return res

    def _wake_periods(self, t_end: float) -> list[tuple[float, float]]:
        cfg = self.cfg
        evs = sorted(self.events, key=lambda e: e.start_s)
        t0 = (self._first_i or 0) / self.fs
        triggers = [t0] + [
            e.end_s for e in evs if e.kind == "cramp" or e.subtype in cfg.wake_subtypes
        ]
        busy = [
            (e.start_s, e.end_s)
            for e in evs
            if e.kind in ("movement", "cramp") and e.subtype not in ("leg-movement", "twitch")
        ]
        out = []
        for tr in triggers:
            last = tr
            end = min(tr + cfg.wake_max_s, t_end)
            for a, b in busy:
                if b <= tr:
                    continue
                if a >= end or a - last >= cfg.wake_quiet_s:
                    break
                last = max(last, b)
            end = min(end, last + cfg.wake_quiet_s)
            out.append((tr, end))
        return out

    def _trace_epochs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        n_sec = max(self.sec_n.n, self.sec_acc.n if self.acc_fs else 0)
        t = np.arange(n_sec, dtype=float)
        n = self.sec_n.a[:n_sec, 0] if self.sec_n.n else np.zeros(n_sec)
        if self.sec_e2.n < n_sec:
            for g in (self.sec_e2, self.sec_rest):
                g.ensure(n_sec)
        with np.errstate(invalid="ignore", divide="ignore"):
            rms = np.sqrt(self.sec_e2.a[:n_sec] / n[:, None]).max(axis=1)
        rms[n == 0] = np.nan
        if n_sec:
            self._rest_upto(n_sec - 1)
        r2 = self.sec_rest.a[:n_sec]
        rest = np.full(n_sec, np.nan)
        okr = np.isfinite(r2).any(axis=1) if n_sec else np.zeros(0, bool)
        rest[okr] = np.nanmax(r2[okr], axis=1)
        if self.acc_fs and n_sec:
            self.sec_acc.ensure(n_sec)
            gv, act, ok = self._acc_sec(0, n_sec)
            act = np.where(ok, act, np.nan)
            upright = self._upright(gv)
        else:
            act = np.full(n_sec, np.nan)
            ok = np.zeros(n_sec, bool)
            upright = np.zeros(n_sec, bool)
        # movement seconds from the events
        moving = np.zeros(n_sec, bool)
        walking = np.zeros(n_sec, bool)
        for e in self.events:
            if e.kind in ("movement", "cramp"):
                a, b = int(e.start_s), int(math.ceil(e.end_s))
                moving[a:b] = True
                if e.subtype == "walking":
                    walking[a:b] = True
        posture = np.full(n_sec, "unknown", dtype=object)
        if self.acc_fs:
            # sitting vs standing from the shank alone is ambiguous: standing when upright
            # and walking or calf active within 10 s, else sitting (our rule)
            # +-10 s dilation; "full" then centred slice (mode="same" returns the kernel's
            # length, 21, for recordings shorter than 21 s)
            mv = (walking | moving).astype(float)
            near = (
                np.convolve(mv, np.ones(21), mode="full")[10 : 10 + n_sec] > 0
                if n_sec
                else np.zeros(0, bool)
            )
            posture[ok] = "lying"
            posture[ok & upright] = "sitting"
            posture[ok & upright & near] = "standing"
        trace = pd.DataFrame(
            {"t_s": t, "emg_rms_uv": rms, "rest_uv": rest, "activity_g": act, "posture": posture}
        )
        # 30-s epochs: active seconds (acc or EMG movement), Cole-Kripke 1992-like weights
        n_ep = int(math.ceil(n_sec / 30)) if n_sec else 0
        active = moving.copy()
        if self.acc_fs:
            active |= np.nan_to_num(act, nan=0.0) > self.cfg.active_acc_g
        pad = n_ep * 30 - n_sec
        act_ep = np.concatenate([active, np.zeros(pad, bool)]).reshape(n_ep, 30).sum(axis=1)
        have = np.concatenate([(n > 0) | ok, np.zeros(pad, bool)]).reshape(n_ep, 30).sum(axis=1)
        up_ep = np.concatenate([upright & ok, np.zeros(pad, bool)]).reshape(n_ep, 30).sum(axis=1)
        w = np.array([106, 54, 58, 76, 230, 74, 67], float)  # Cole 1992, epochs -4..+2
        w = w / w.sum()
        padded = np.concatenate([np.zeros(4), act_ep.astype(float), np.zeros(2)])
        score = np.array([float(np.dot(w, padded[i : i + 7])) for i in range(n_ep)])
        state = np.where(score >= 3.0, "wake", "sleep").astype(object)
        state[up_ep >= 15] = "wake"
        # lying awake after waking up is mostly still (actigraphy misses it): the same
        # rule as for PLMS -- awake from the recording start and after a cramp, walking,
        # a stretch or a posture change until 3 min without movement other than single
        # leg movements (at most wake_max_s)
        for wa, wb in self._wake_periods(float(n_sec)):
            state[int(wa // 30) : int(math.ceil(wb / 30))] = "wake"
        state[have < 15] = "gap"
        post_ep = []
        for i in range(n_ep):
            p = posture[i * 30 : (i + 1) * 30]
            vals, cnt = np.unique(p.astype(str), return_counts=True)
            post_ep.append(str(vals[np.argmax(cnt)]) if vals.size else "unknown")
        epochs = pd.DataFrame(
            {
                "t_s": np.arange(n_ep) * 30.0,
                "state": state,
                "posture": post_ep,
                "activity": act_ep.astype(int),
            }
        )
        return trace, epochs
