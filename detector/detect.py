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
         (:mod:`detector.stages.classify`) -> PLM series logic (AASM / WASM 2016)
    accelerometer (g) -> per-second gravity vector and activity -> posture, walking,
      turning, sleep/wake epochs (Cole-Kripke-like weighted activity).


Each stage lives in :mod:`detector.stages` with its state made explicit (the way
``scipy.signal`` keeps ``zi``); :class:`Detector` only wires them and keeps the night's
output.  Every threshold is in :class:`detector.config.DetectorConfig`.

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
``cramp_min_s``, a provisional cramp (``Event.notice == "provisional"``) is queued for
:meth:`Detector.take_notices`, followed when the episode closes by its final cramp
(``Event.replaces_start_s``) or a retraction (``Event.notice == "retracted"``).  Notices
never enter ``push()``'s result, :attr:`Detector.events` or :meth:`finish`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from detector.config import DetectorConfig
from detector.events import Event, NightResult, lazy_table
from detector.stages.band_shape import BandShape
from detector.stages.classify import BurstFeatures, Verdict, classify, regular_train
from detector.stages.electrode_off import ElectrodeOff
from detector.stages.episodes import (
    Episode,
    Episodes,
    Segment,
    cramp_cores,
    hold_end,
    leftover_parts,
    let_go,
    strides_after,
    strides_before,
    tib_takeover,
)
from detector.stages.features import burst_features
from detector.stages.frames import (
    E2,
    ENV,
    RM,
    RV,
    TK,
    Envelope,
    FrameClock,
    FrameStore,
    SecondStats,
)
from detector.stages.front_end import Frames, FrontEnd, MainsTracker, emg_band, frame_hop
from detector.stages.notices import EarlyNotices
from detector.stages.plm import PlmSeries
from detector.stages.posture import (
    AccSeconds,
    ShankAxis,
    burst_acc,
    on_feet,
    posture_per_second,
    upright,
    walk_onset,
)
from detector.stages.rest import RestLevel, frame_levels, off_level, on_level
from detector.stages.segmenter import BurstSegmenter, refine_onset
from detector.stages.sleep import WakeState, after_cramp, asleep_before, epochs, wake_periods
from detector.stream import Chunk, Gap, StreamLayout

if TYPE_CHECKING:  # only the trace/epochs tables need pandas, made on first read
    import pandas as pd
__all__ = ["CALF_SITES", "DETECTOR_VERSION", "Detector", "DetectorConfig"]

DETECTOR_VERSION = "nightcramp-detect 1.7"
"""Names the rules: a change that moves events bumps it, so the cramp log supersedes the
old machine-made events and ``cramp batch`` redoes its nights (1.1: the walk-off split,
the onset at the foot of the rise, the spectral open-lead tests; 1.2: wander is no loose
lead, the onset past a loud pre-rise, a second line notched, steady hum and rubbing,
series while awake as PLMW; 1.3: a long cramp holds while the calf stays contracted;
1.4: a leg movement of one leg lasts at most 10 s, a core ends where the tibialis takes
over or starts at its step out of a plateau, steady hum is no part of the raw-over-band
ratio, standing still after a walk is standing, the calf leads a calf cramp; 1.5:
standing next to a walk, each calf head against its own rest, leg movements apart from
ECG spikes, PLM intervals from 5 s; 1.6: a cramp walked off is held to its own level,
not the strides'; 1.7: a calf burst beating at 3.5 Hz or faster is a shaken leg, and
without an accelerometer the strides in the calf EMG right before a core, or standing up
to them, make it standing; a core may hold 6 s)."""

CALF_SITES = ("calf", "gastrocnemius", "soleus", "unknown", "thigh", "foot")


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
        self.n_ch = c = layout.n_emg
        self.hop = frame_hop(self.fs, cfg.frame_s)
        self.clock = FrameClock(self.fs, self.hop)
        self.fps = self.clock.fps
        hp, lp = emg_band(self.fs, cfg.hp_hz, cfg.lp_hz, cfg.lp_frac)
        self.band = (hp, lp)
        sites = layout.emg_sites
        calf = [i for i, s in enumerate(sites) if s in CALF_SITES]
        tib = [i for i, s in enumerate(sites) if s == "tibialis"]
        self.calf_idx = calf or list(range(c))
        self.tib_idx = tib if calf else []
        self.acc_fs = layout.acc_fs
        # the stages, in pipeline order
        self.mains = MainsTracker(
            self.fs,
            c,
            cfg.mains_ratio_min,
            cfg.mains_check_every_s,
            cfg.mains_first_checks_s,
            cfg.mains_confirm,
            cfg.mains_early_s,
            cfg.mains_early_every_s,
            cfg.mains_max_hz,
        )
        self.front = FrontEnd(self.fs, c, hp, lp, cfg.notch_q, self.hop, self.mains)
        # the band shape is only asked of the calf channels (the open-lead tests)
        self.shape = BandShape(self.fs, len(self.calf_idx), cfg.shape_hi_hz, cfg.shape_mid_hz)
        self._shape_rows = None if self.calf_idx == list(range(c)) else self.calf_idx
        self.envelope = Envelope(c, max(1, int(round(cfg.env_window_s * self.fps / 2))))
        self.frames = FrameStore(
            int(math.ceil((cfg.max_segment_s + cfg.ring_extra_s) * self.fps)), c
        )
        self.seconds = SecondStats(c, cfg.flat_rv_uv2)
        self.rest = RestLevel(cfg, c, self.fps)
        self.flat = ElectrodeOff(cfg, layout.emg_labels)
        self.bursts = BurstSegmenter(cfg, self.fps)
        self.episodes = Episodes(cfg, self.fps)
        self.acc = AccSeconds(layout.acc_fs)
        self.axis = ShankAxis(cfg)
        self.wake = WakeState(cfg)
        self.notices = EarlyNotices()
        self.plm = PlmSeries(cfg, self._emit, self.wake.is_awake, self.notices.held_withdrawn)
        # output
        self.events: list[Event] = []
        self.gaps: list[Gap] = []
        self.n_samples = 0
        self.n_twitches = 0
        self._first_i: int | None = None
        self._last_i = 0
        self._finished: NightResult | None = None

    # ------------------------------------------------------------------ public API
    def push(self, item: Chunk | Gap) -> list[Event]:
        """Feed one chunk or gap; return the events it closed, in order."""
        n0 = len(self.events)
        if isinstance(item, Gap):
            self.gaps.append(item)
            self._gap()
            return self.events[n0:]
        emg = np.asarray(item.emg, dtype=np.float64)
        if emg.shape[1] != self.n_ch:
            raise ValueError(f"chunk has {emg.shape[1]} EMG channels, layout has {self.n_ch}")
        if item.acc.shape[0] and self.acc_fs:
            self.acc.push(item.acc_start, np.asarray(item.acc, dtype=np.float64))
        n = emg.shape[0]
        if n == 0:
            self._flush_episode(final=False)
            return self.events[n0:]
        if self._first_i is None:
            self._first_i = item.emg_start
            self.wake.start(item.emg_start / self.fs)
        if self.front.next_i is not None and self.front.next_i != item.emg_start:
            self._gap()  # discontiguous without a Gap item: treat as one
        self.n_samples += n
        self._last_i = item.emg_start + n
        piece = max(1, int(self.cfg.max_piece_s * self.fs))
        x = emg.T
        for p0 in range(0, n, piece):
            xp = np.ascontiguousarray(x[:, p0 : p0 + piece])
            rows = self._shape_rows
            self.shape.feed(xp if rows is None else xp[rows], item.emg_start + p0)
            fr = self.front.process(xp, item.emg_start + p0)
            if fr is not None:
                self._frames(fr)
        self._flush_episode(final=False)
        self._provisional()
        return self.events[n0:]

    def take_notices(self) -> list[Event]:
        """Everything a live sink should see since the last call, in order.

        The final events (as returned by :meth:`push`), plus the early cramp notices:
        a *provisional* cramp (``notice == "provisional"``, ``end_s`` = the time it was
        noticed) as soon as an open episode has met the cramp rules for
        ``cramp_min_s``; and, when its episode closes, either the final cramp carrying
        ``replaces_start_s`` (the provisional's ``start_s``: it replaces that row) or, if
        the episode turned out not to be a cramp, the provisional again with
        ``notice == "retracted"``.  Notices never enter :attr:`events` nor
        :meth:`finish`.  See ``docs/DETECTOR.md`` (Early cramp notice).
        """
        return self.notices.take()

    @property
    def n_acc(self) -> int:
        return self.acc.n_samples

    def finish(self) -> NightResult:
        """Close everything and return the night (all events, in time order: leg
        movements wait for their series to be decided, so they are emitted late)."""
        if self._finished is not None:
            return self._finished
        self.acc.flush()
        self._gap(final=True)
        self.plm.flush(final=True)
        acc = self.acc if self.acc_fs else None
        events = [
            replace(e, context={**e.context, **after_cramp(e, self.events, acc, self.cfg)})
            if e.kind == "cramp"
            else e
            for e in sorted(self.events, key=lambda e: (e.start_s, e.end_s))
        ]
        trace, epochs_ = self._trace_epochs()
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
            epochs=epochs_,
            duration_s=dur,
            detector_version=DETECTOR_VERSION,
            stats=stats,
        )
        return self._finished

    # ------------------------------------------------------------------ wiring
    def _rest_upto(self, s_max: int) -> None:
        st = self.seconds
        self.rest.update_to(s_max, st.n.a[:, 0], st.med.a, st.med_tk.a)

    def _emit(self, ev: Event) -> None:
        """A final event: to the sleep/wake stage, the night, and the notices."""
        self.wake.emitted(ev)
        self.events.append(ev)
        self.notices.final(ev)

    def _frames(self, fr: Frames) -> None:
        c = self.n_ch
        sec = self.clock.sec_of(np.arange(fr.k0, fr.k0 + fr.n))
        # e2, tk, rv, rm stacked once: the seconds take the first three, and the store
        # takes all four in one write (plain copies either way)
        feats = np.concatenate([fr.e2, fr.tk, fr.rv, fr.rm], axis=0)
        self._seconds(sec, feats[: 3 * c], False)
        self.frames.put_frames(fr, feats)
        if self.envelope.carry.shape[1] == 0:
            self.bursts.start_run(fr.k0)
        k_out, e2s = self.envelope.process(fr.k0, fr.e2)
        if e2s.shape[1] == 0:
            return
        self.frames.put_envelope(k_out, e2s)
        self._bursts(k_out, e2s)

    def _seconds(self, sec: np.ndarray, feats: np.ndarray, final: bool) -> None:
        got = self.seconds.push(sec, feats, final)
        if got is None:
            return
        secs, lens = got
        self._rest_upto(int(secs[-1]))
        st = self.seconds
        for ev in self.flat.push(
            secs, lens, st.flat.a[secs], st.med.a[secs], self.rest.rest.a[secs]
        ):
            self._emit(ev)

    def _bursts(self, k0: int, e2s: np.ndarray) -> None:
        n = e2s.shape[1]
        sec = self.clock.sec_of(np.arange(k0, k0 + n))
        s0, s1 = int(sec[0]), int(sec[-1])
        self._rest_upto(s1)
        on2, off2, valid = frame_levels(self.rest.rest.a[s0 : s1 + 1], sec, self.cfg)
        closed, k_end = self.bursts.push(k0, e2s, on2, off2, valid)
        for a, b in closed:
            self._segment(a, b)
        self.bursts.k_done = k_end
        self._flush_episode(final=False)

    def _segment(self, k0: int, k1: int) -> None:
        k0 = max(self.bursts.run_k0, min(self._refine_onset(k0), k1 - 1))
        seg = Segment(k0, k1)
        if self.episodes.joins(seg):
            return
        if self.episodes.episode is not None:
            self._close_episode()
        self.episodes.open(seg)

    def _refine_onset(self, k0: int) -> int:
        w = max(1, int(round(self.cfg.onset_search_s * self.fps)))
        lo = max(self.bursts.run_k0, k0 - w)
        tk = self.frames.get(lo, k0 + w)[:, self.frames.cols(TK)]
        sec = int(self.clock.sec_of(k0))
        self._rest_upto(sec)
        return refine_onset(k0, lo, tk, self.rest.rest_tk.a[sec], self.cfg.tkeo_x_rest)

    def _flush_episode(self, final: bool) -> None:
        ep = self.episodes.episode
        t = self.clock.t
        k_done = self.bursts.k_done
        if ep is not None:
            if final:
                self._close_episode()
            else:
                ob = self.bursts
                quiet = self.episodes.quiet(k_done, ob.seg_k0 if ob.seg_open else None)
                acc_ok = True
                if self.acc_fs:
                    need = t(ep.k1) + self.cfg.acc_context_s
                    # wait for the accelerometer, but not for ever (a source may stop
                    # sending it)
                    acc_ok = self.acc.sec_done >= math.ceil(need) or (
                        t(k_done) > need + self.cfg.acc_wait_max_s
                    )
                if quiet and acc_ok:
                    self._close_episode()
        if not final:
            self.plm.timeout(t(k_done))

    def _gap(self, final: bool = False) -> None:
        got = self.bursts.close()
        if got is not None:
            self._segment(*got)
        self._flush_episode(final=True)
        self.plm.release_held()
        if not final:
            self.plm.flush(final=True)
        self._seconds(np.zeros(0, dtype=np.int64), np.zeros((3 * self.n_ch, 0)), True)
        for ev in self.flat.close():
            self._emit(ev)
        self.front.reset()
        self.shape.reset()
        self.envelope.reset()

    # ------------------------------------------------------------------ episodes
    def _features(self, segs: list[Segment], ref_k0: int | None = None) -> BurstFeatures:
        """The features of the bursts ``segs``; what they compare with the time before
        (the band shape's resting reference, the baseline's swing) is taken before frame
        ``ref_k0`` instead when given (a cramp's hold is judged against the rest before
        the cramp, not against the cramp)."""
        cfg, fr, t = self.cfg, self.frames, self.clock.t
        k0, k1 = segs[0].k0, segs[-1].k1
        ref = k0 if ref_k0 is None else min(ref_k0, k0)
        blk = fr.get(k0, k1)
        sec = self.clock.sec_of(np.arange(k0, k1))
        self._rest_upto(int(sec[-1]))
        pre = int(round(cfg.swing_pre_s * self.fps))
        r0 = min(ref, max(self.bursts.run_k0, ref - pre, self.bursts.k_done - fr.n + 1))
        prev = fr.get(r0, ref)  # the frames before: the baseline's swing, the hum level
        rm = np.concatenate([prev[:, fr.cols(RM)], blk[:, fr.cols(RM)]])
        levels = None
        if prev.shape[0] >= self.fps:
            # the level before: steady hum (an earlier movement or R waves are in few
            # frames and leave the median alone)
            q = self.cfg.lf_ref_pct
            levels = (
                np.percentile(prev[:, fr.cols(RV)], q, axis=0),
                np.percentile(prev[:, fr.cols(E2)], q, axis=0),
            )
        t0, t1 = t(k0), t(k1)
        shape = self._shape_of(int(sec[0]), int(sec[-1]) + 1)
        if shape is not None and ref < k0:
            s_ref = int(self.clock.sec_of(ref))
            before, n_pre = self._shape_of(s_ref, s_ref)  # type: ignore[misc]
            shape = (np.concatenate([before, shape[0][:, shape[1] :]], axis=1), n_pre)
        return burst_features(
            e2s=blk[:, fr.cols(ENV)],
            e2=blk[:, fr.cols(E2)],
            tk=blk[:, fr.cols(TK)],
            rv=blk[:, fr.cols(RV)],
            rm=rm,
            rm_pre=ref - r0,
            rest=self.rest.rest.a[sec],
            ref=levels,
            shape=shape,
            calf=self.calf_idx,
            tib=self.tib_idx,
            cfg=cfg,
            fs=self.fs,
            fps=self.fps,
            t0=t0,
            t1=t1,
            seg_times=[(t(s.k0), t(s.k1)) for s in segs],
            acc=burst_acc(self.acc, self.axis, cfg, t0, t1),
        )

    def _shape_of(self, s0: int, s1: int) -> tuple[np.ndarray, int] | None:
        """The band shape of seconds ``s0 - shape_rest_s .. s1 - 1`` and how many of them
        come before the burst (its resting reference); None at rates too low for it."""
        if not self.shape.enabled:
            return None
        pre = min(s0, int(self.cfg.shape_rest_s))
        return self.shape.of_seconds(s0 - pre, s1), pre

    def _make_event(self, segs: list[Segment], f: BurstFeatures, v: Verdict) -> Event:
        c = self.n_ch
        k0, k1 = segs[0].k0, segs[-1].k1
        env = np.sqrt(self.frames.get(k0, k1)[:, :c])
        rest0 = self.rest.level_at(int(self.clock.sec_of(k0)))
        xr = env / np.maximum(rest0, 1e-9)
        main = int(np.argmax(np.median(xr, axis=0)))
        act = (env > on_level(rest0, self.cfg)).mean(axis=0)
        chans = tuple(
            lab
            for i, lab in enumerate(self.layout.emg_labels)
            if i == main or act[i] >= self.cfg.channel_active_frac
        )
        r = max(float(rest0[main]), 1e-9)
        peak = float(env[:, main].max())
        mean = float(env[:, main].mean())
        ctx: dict[str, Any] = {}
        if v.kind == "cramp":
            acc = self.acc if self.acc_fs else None
            ctx = {"asleep_before": asleep_before(f.start_s, self.events, acc, self.cfg)}
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

    def _close_episode(self) -> None:
        ep = self.episodes.take()
        if ep is None:
            return
        self._classify_episode(ep)
        held = self.plm.held
        self.notices.episode_closed(held[0] if held is not None else None)

    def _classify_episode(self, ep: Episode, wake: bool = True) -> None:
        cfg = self.cfg
        if wake:
            self.wake.episode(self.clock.t(ep.k0), self.clock.t(ep.k1), len(ep.segs))
        cramps: list[tuple[Segment, BurstFeatures, Verdict, float]] = []
        stood = -1  # end frame of the last core judged standing
        for k0, k1, pre in self._cramp_runs(ep):
            seg = Segment(k0, k1)
            f = self._features([seg])
            if self.acc_fs:
                t0 = self.clock.t(k0)
                act, up, _ = burst_acc(self.acc, self.axis, cfg, t0 - cfg.standing_before_s, t0)
                # walking up to it (the upright reading alone rests on a learnt axis),
                # standing since a walk or up to one, or still standing from the core
                # before
                walked = act is not None and bool(up and act >= cfg.walk_acc_g)
                if on_feet(self.acc, self.axis, cfg, t0, self.clock.t(k1)):
                    walked = f.acc_upright = True  # on the feet all along
                f.upright_before = walked or k0 <= stood + self.episodes.merge
            else:
                # strides in the EMG right up to it, still standing from the core
                # before (the calf never let go of its tone in between: one burst), or
                # standing up to walk
                one_burst = stood > 0 and any(
                    sg.k0 <= min(k0, stood - 1) and max(k0, stood - 1) < sg.k1 for sg in ep.segs
                )
                f.upright_before = (
                    one_burst or self._strides_before(k0, k1) or self._got_up(k0, k1, ep)
                )
            v = classify(f, cfg)
            if v.subtype == "standing":
                stood = k1
            if v.kind == "cramp" and f.duration_s <= cfg.cramp_lm_context_s:
                self.plm.decide_held(f.start_s)
            if self._is_cramp(f, v):
                cramps.append((seg, f, v, pre))
        cramps = self._hold_cramps(self._join_cramps(cramps), ep)
        if not cramps:
            if not self._split_at_strides(ep):
                self._classify_part(ep.segs, allow_cramp=False)
            return
        # the cramp(s) stand alone; what is left of the episode around them is classified
        # separately (the pre-cramp rise right before a cramp is context, not an event)
        parts = leftover_parts(
            ep.segs,
            [(sg, pre) for sg, _, _, pre in cramps],
            self.fps,
            max(1, self.bursts.G // cfg.leftover_min_div),
            self.episodes.merge,
        )
        items: list[tuple[int, Any]] = [
            (sg.k0, ("cramp", sg, f, v, pre)) for sg, f, v, pre in cramps
        ]
        items += [(g[0].k0, ("part", g)) for g in parts]
        items.sort(key=lambda x: x[0])
        for _, it in items:
            if it[0] == "cramp":
                _, sg, f, v, pre = it
                ev = self._make_event([sg], f, v)
                ev = replace(ev, context={**ev.context, "prerise_s": round(pre, 1)})
                self.plm.release_held()
                # calf-led with a tibialis channel it cannot be a PLM: emit at once
                could_be_lm = not f.has_tibialis or f.tib_exc_uv >= f.calf_exc_uv
                if ev.duration_s <= cfg.cramp_lm_context_s and could_be_lm:
                    # as short as the longest leg movement (WASM 15 s): a cramp only once
                    # no leg movement follows at a series interval (known <= 90 s later)
                    self.plm.hold(ev, f)
                else:
                    self.plm.flush(final=True)
                    self._emit(ev)
            else:
                self._classify_part(it[1], allow_cramp=False)

    def _join_cramps(
        self, cramps: list[tuple[Segment, BurstFeatures, Verdict, float]]
    ) -> list[tuple[Segment, BurstFeatures, Verdict, float]]:
        """Cramp cores that meet or overlap (within ``merge_gap_s``) once walked out to
        their rise and fall are one cramp: its waning dipped below the core level for
        longer than a hole.  Joined only where the whole is still judged a cramp."""
        gap = self.clock.frames(self.cfg.merge_gap_s)
        out: list[tuple[Segment, BurstFeatures, Verdict, float]] = []
        for item in cramps:
            if out and item[0].k0 <= out[-1][0].k1 + gap:
                prev = out[-1]
                seg = Segment(prev[0].k0, max(prev[0].k1, item[0].k1))
                judged = self._judged_cramp(seg)
                if judged is not None:
                    out[-1] = (seg, *judged, prev[3])
                    continue
                # not joinable: the later core starts where the earlier one ends (two
                # events never overlap), judged again on what is left of it
                seg = Segment(max(item[0].k0, prev[0].k1), item[0].k1)
                if seg.k1 - seg.k0 < self.clock.frames(self.cfg.cramp_min_s):
                    continue
                judged = self._judged_cramp(seg)
                if judged is None:
                    continue
                item = (seg, *judged, 0.0)
            out.append(item)
        return out

    def _judged_cramp(self, seg: Segment) -> tuple[BurstFeatures, Verdict] | None:
        """The features and verdict of ``seg`` if it stands as a cramp, else None."""
        f = self._features([seg])
        v = classify(f, self.cfg)
        return (f, v) if self._is_cramp(f, v) else None

    def _is_cramp(self, f: BurstFeatures, v: Verdict) -> bool:
        """A cramp core's verdict stands: a short one at a series interval after a leg
        movement is a long leg movement of the series instead, unless it is calf-led with
        a tibialis channel (PLMs are tibialis-led, DOMAIN)."""
        could_be_lm = not f.has_tibialis or f.tib_exc_uv >= f.calf_exc_uv
        return v.kind == "cramp" and not (could_be_lm and self.plm.in_lm_series(f))

    def _split_at_strides(self, ep: Episode) -> bool:
        """An episode with no cramp core that turns into walking: the part before the
        strides start is judged on its own (a cramp walked off while the calf is still
        contracted ends where the strides start; their high bursts hid its core), the
        walking after it is an event of its own.  True when it found a cramp so."""
        cfg, t = self.cfg, self.clock.t
        t0, t1 = t(ep.k0), t(ep.k1)
        if not self.acc_fs or t1 - t0 < cfg.cramp_min_s:
            return False
        tw = walk_onset(self.acc, self.axis, cfg, t0, t1)
        if tw is None or tw - t0 < cfg.cramp_min_s:
            return False
        kw = ep.k0 + self.clock.frames(tw - t0)
        before = [Segment(s.k0, min(s.k1, kw)) for s in ep.segs if s.k0 < kw]
        after = [Segment(max(s.k0, kw), s.k1) for s in ep.segs if s.k1 > kw]
        runs = self._cramp_runs(Episode(before))
        feats = [self._features([Segment(k0, k1)]) for k0, k1, _ in runs]
        if not any(self._is_cramp(f, classify(f, cfg)) for f in feats):
            return False
        self._classify_episode(Episode(before), wake=False)
        if after:
            self._classify_part(after, allow_cramp=False)
        return True

    def _classify_part(self, segs: list[Segment], allow_cramp: bool) -> None:
        parts = self._ecg_parts(segs)
        if parts is not None:
            for part, spikes in parts:
                if not spikes:
                    self._classify_part(part, allow_cramp)
                    continue
                f = self._features(part)
                why = f"{len(part)} narrow spike(s) of an ECG train at a heart-rate period"
                self._emit(self._make_event(part, f, Verdict("artifact", "ecg", why, 0.7)))
            return
        f = self._features(segs)
        f.in_lm_series = self.plm.in_lm_series(f)
        v = classify(f, self.cfg, allow_cramp=allow_cramp)
        if v.subtype == "twitch" and len(segs) == 1:
            self.n_twitches += 1
            return
        ev = self._make_event(segs, f, v)
        if v.lm_candidate:
            self.plm.add(ev, f)
        else:
            if ev.kind != "artifact":
                self.plm.release_held()
            if ev.kind != "artifact" and ev.duration_s > self.cfg.lm_max_s:
                self.plm.flush(final=True)
            self._emit(ev)

    def _ecg_parts(self, segs: list[Segment]) -> list[tuple[list[Segment], bool]] | None:
        """ECG bleed around other bursts: when the narrow bursts (<= ``spike_max_s``) of
        ``segs`` form a train at a heart-rate period and wider bursts sit among them
        (leg movements during a spell of ECG bleed), the runs of spikes and the runs of
        wider bursts in order, each with whether it is spikes; else None.  Judged as one,
        the spell swallowed every leg movement in it (a long intermittent "fidget")."""
        cfg, t = self.cfg, self.clock.t
        spike = [t(s.k1) - t(s.k0) <= cfg.spike_max_s for s in segs]
        if all(spike) or sum(spike) < cfg.ecg_min_spikes:
            return None
        onsets = [t(s.k0) for s, sp in zip(segs, spike, strict=True) if sp]
        lo, hi = cfg.heart_period_s
        if not regular_train(onsets, lo, hi, cfg.ecg_min_spikes, cfg):
            return None
        out: list[tuple[list[Segment], bool]] = []
        for s, sp in zip(segs, spike, strict=True):
            if out and out[-1][1] == sp:
                out[-1][0].append(s)
            else:
                out.append(([s], sp))
        return out

    def _cramp_runs(self, ep: Episode) -> list[tuple[int, int, float]]:
        """Cramp cores inside an episode (:func:`~detector.stages.episodes.cramp_cores`)
        as (k0, k1, pre-rise s)."""
        cfg = self.cfg
        k0, k1 = ep.k0, ep.k1
        if (k1 - k0) < cfg.cramp_min_s * self.fps:
            return []
        pad = int(round(cfg.cramp_look_back_s * self.fps))
        lo = max(self.bursts.run_k0, k0 - pad, self.bursts.k_done - self.frames.n + 1)
        env_c, rest_c = self._channel_levels(lo, k1)
        env, rest, off = self._calf_joint(env_c, rest_c)
        cores = cramp_cores(env, rest, off, k0 - lo, cfg, self.fps)
        if cores and self.tib_idx:
            with np.errstate(invalid="ignore", divide="ignore"):
                x = env_c / rest_c  # each channel against its own rest
            calf_x, tib_x = x[:, self.calf_idx].max(axis=1), x[:, self.tib_idx].max(axis=1)
            cores = [
                (j, tib_takeover(calf_x, tib_x, j, e, cfg, self.fps), pre) for j, e, pre in cores
            ]
        return [(lo + j, lo + e, pre) for j, e, pre in cores]

    def _strides_before(self, k0: int, k1: int) -> bool:
        """Whether the calf EMG shows strides right up to the core ``k0 .. k1 - 1``
        (:func:`~detector.stages.episodes.strides_before`; no accelerometer needed)."""
        w = self.clock.frames(self.cfg.strides_before_s)
        lo = max(self.bursts.run_k0, k0 - w, self.bursts.k_done - self.frames.n + 1)
        env, _, _ = self._calf_levels(lo, k1)
        return strides_before(env, k0 - lo, k1 - lo, self.cfg, self.fps)

    def _got_up(self, k0: int, k1: int, ep: Episode) -> bool:
        """Whether the core ``k0 .. k1 - 1`` is the tone of standing up to walk, read from
        the EMG alone: it begins with both muscles working (the tibialis, against its own
        rest, at least ``got_up_tib_frac`` as busy as the calf over its first
        ``got_up_onset_s``: rising from a bed or a chair; a cramp bites in the calf
        alone) and strides follow it
        (:func:`~detector.stages.episodes.strides_after`).  Unknown without a tibialis
        channel: no."""
        cfg = self.cfg
        n = self.clock.frames(cfg.got_up_onset_s)
        if not self.tib_idx or k1 - k0 <= n:
            return False
        w = self.clock.frames(cfg.strides_before_s)
        if min(ep.k1, self.bursts.k_done) < k1 + w:
            return False  # the episode (or the data) ends before strides could fill it
        env_c, rest_c = self._channel_levels(k0, k1 + w)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.nan_to_num(env_c[:n] / rest_c[:n])
        calf, tib = x[:, self.calf_idx].max(axis=1), x[:, self.tib_idx].max(axis=1)
        if float(tib.mean()) < cfg.got_up_tib_frac * float(calf.mean()):
            return False
        env, _, _ = self._calf_joint(env_c, rest_c)
        return strides_after(env, 0, k1 - k0, cfg, self.fps)

    def _channel_levels(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Every channel's envelope (µV RMS) and rest (NaN while unknown) on frames
        ``k0 .. k1 - 1``."""
        env = np.sqrt(self.frames.get(k0, k1)[:, self.frames.cols(ENV)])
        sec = self.clock.sec_of(np.arange(k0, k1))
        self._rest_upto(int(sec[-1]))
        return env, self.rest.rest.a[sec]

    def _calf_joint(
        self, env: np.ndarray, rest: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The joint calf envelope, its rest and off levels, from every channel's
        (:meth:`_channel_levels`): per frame the calf channel loudest against its own
        rest, that multiple of rest times the highest calf rest (µV RMS), so a cramp of
        one head (Khan & Burne 2007: the other may stay silent) is measured against that
        head's rest, not the louder head's; the loudest channel in µV while a rest is
        unknown."""
        r = rest[:, self.calf_idx].max(axis=1)
        e = env[:, self.calf_idx]
        if len(self.calf_idx) == 1:
            return e[:, 0], r, off_level(r, self.cfg)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = (e / rest[:, self.calf_idx]).max(axis=1) * r
        return np.where(np.isfinite(x), x, e.max(axis=1)), r, off_level(r, self.cfg)

    def _calf_levels(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The joint calf envelope of frames ``k0 .. k1 - 1``, its rest and off levels."""
        return self._calf_joint(*self._channel_levels(k0, k1))

    def _hold_cramps(
        self, cramps: list[tuple[Segment, BurstFeatures, Verdict, float]], ep: Episode
    ) -> list[tuple[Segment, BurstFeatures, Verdict, float]]:
        """Each cramp held on past its core while the calf stays contracted
        (:func:`~detector.stages.episodes.hold_end`), and a cramp whose hold reaches the
        next one joined to it.  What it holds must be sustained calf activity with no
        other explanation (:meth:`_holds`), and it stops where strides start.  The
        verdict is the core's; its reason says how long the calf held."""
        cfg = self.cfg
        if not cramps:
            return cramps
        env, rest, off = self._calf_levels(ep.k0, ep.k1)
        merge = self.clock.frames(cfg.merge_gap_s)
        out: list[tuple[Segment, BurstFeatures, Verdict, float]] = []
        i = 0
        while i < len(cramps):
            sg, f, v, pre = cramps[i]
            held = 0.0
            while True:
                nxt = cramps[i + 1][0].k0 if i + 1 < len(cramps) else ep.k1
                lim = ep.k0 + let_go(env, sg.k1 - ep.k0, nxt - ep.k0, cfg, self.fps)
                if self.acc_fs:
                    tw = walk_onset(
                        self.acc, self.axis, cfg, self.clock.t(sg.k1), self.clock.t(nxt)
                    )
                    if tw is not None:
                        lim = min(lim, sg.k1 + self.clock.frames(tw - self.clock.t(sg.k1)))
                j = sg.k1 - ep.k0
                floor = cfg.cramp_hold_frac * float(np.median(env[max(0, sg.k0 - ep.k0) : j]))
                h = ep.k0 + hold_end(env, rest, off, j, lim - ep.k0, cfg, self.fps, floor)
                if h <= sg.k1 or not self._holds(Segment(sg.k1, h), sg.k0, f):
                    break
                held += self.clock.t(h) - self.clock.t(sg.k1)
                if i + 1 < len(cramps) and h >= nxt - merge:
                    i += 1
                    sg = Segment(sg.k0, cramps[i][0].k1)
                    continue
                sg = Segment(sg.k0, h)
                break
            if held > 0.0:
                f = self._features([sg])
                v = replace(
                    v,
                    reason=f"{v.reason}; the calf held on {held:.0f} s more as it waned "
                    f"(whole {f.duration_s:.0f} s at {f.cramp_x_rest:.0f}x rest)",
                )
            out.append((sg, f, v, pre))
            i += 1
        return out

    def _holds(self, seg: Segment, ref_k0: int, core: BurstFeatures) -> bool:
        """``seg``, right after the cramp ``core`` (from frame ``ref_k0``), is the calf
        still contracted: judged on its own (no cramp allowed, against the rest before
        the cramp), sustained calf activity that is neither an artifact, strides, a
        stretch, a turn nor shaking, with a tibialis no busier than in the cramp (a
        waning cramp is the calf's alone; turning over or a stretch recruits the
        tibialis too)."""
        cfg = self.cfg
        f = self._features([seg], ref_k0=ref_k0)
        v = classify(f, cfg, allow_cramp=False)
        tib_quiet = not f.has_tibialis or f.tib_x_rest <= max(
            cfg.cramp_hold_tib_x * core.tib_x_rest, cfg.off_x_rest
        )
        return (
            v.kind == "movement"
            and v.subtype in ("fidget", "leg-movement")
            and f.sustain >= cfg.cramp_min_sustain
            and f.depth >= cfg.cramp_min_depth
            and tib_quiet
        )

    def _provisional(self) -> None:
        """Early cramp notice: an open episode whose calf core has met the cramp rules
        (:func:`detector.stages.classify.classify` on the data so far) for
        ``cramp_min_s``.

        Evaluated at most once per whole second of the timeline (k_done crossing it).
        Reads the detector's state only (no effect on the final events).
        """
        if not self.notices.armed:
            return
        ep = self.episodes.episode
        segs = list(ep.segs) if ep is not None else []
        ob = self.bursts.open_burst()
        if ob is not None:
            segs.append(Segment(*ob))
        if not segs:
            return
        if not self.notices.new_second(int(self.clock.t(self.bursts.k_done))):
            return
        k0, k1 = segs[0].k0, segs[-1].k1
        if (k1 - k0) < self.cfg.cramp_min_s * self.fps:
            return
        for a, b, _ in self._cramp_runs(Episode(segs)):
            seg = Segment(a, b)
            f = self._features([seg])
            v = classify(f, self.cfg)
            if v.kind != "cramp" or self.plm.in_lm_series(f):
                continue
            ev = self._make_event([seg], f, v)
            self.notices.raise_(ev, round(self.clock.t(self.bursts.k_done), 4))
            return

    # ------------------------------------------------------------------ trace, epochs
    def _trace_epochs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The trace and epoch columns, computed now; the tables themselves are made on
        first read (:func:`detector.events.lazy_table`), so pandas is imported only
        by a caller that reads them."""
        cfg = self.cfg
        st = self.seconds
        n_sec = max(st.n.n, self.acc.n if self.acc_fs else 0)
        t = np.arange(n_sec, dtype=float)
        n = st.n.a[:n_sec, 0] if st.n.n else np.zeros(n_sec)
        if st.e2.n < n_sec:
            for g in (st.e2, self.rest.rest):
                g.ensure(n_sec)
        with np.errstate(invalid="ignore", divide="ignore"):
            rms = np.sqrt(st.e2.a[:n_sec] / n[:, None]).max(axis=1)
        rms[n == 0] = np.nan
        if n_sec:
            self._rest_upto(n_sec - 1)
        r2 = self.rest.rest.a[:n_sec]
        rest = np.full(n_sec, np.nan)
        okr = np.isfinite(r2).any(axis=1) if n_sec else np.zeros(0, bool)
        rest[okr] = np.nanmax(r2[okr], axis=1)
        if self.acc_fs and n_sec:
            self.acc.sums.ensure(n_sec)
            gv, act, ok = self.acc.seconds(0, n_sec)
            act = np.where(ok, act, np.nan)
            up = upright(gv, self.axis.at(self.acc.n, self.acc), cfg.upright_deg)
        else:
            act = np.full(n_sec, np.nan)
            ok = np.zeros(n_sec, bool)
            up = np.zeros(n_sec, bool)
        # movement seconds from the events
        moving = np.zeros(n_sec, bool)
        walking = np.zeros(n_sec, bool)
        for e in self.events:
            if e.kind in ("movement", "cramp"):
                a, b = int(e.start_s), int(math.ceil(e.end_s))
                moving[a:b] = True
                if e.subtype == "walking":
                    walking[a:b] = True
        if self.acc_fs:
            posture = posture_per_second(ok, up, moving, walking, cfg.standing_near_s)
        else:
            posture = np.full(n_sec, "unknown", dtype=object)
        trace_cols = {
            "t_s": t, "emg_rms_uv": rms, "rest_uv": rest, "activity_g": act, "posture": posture
        }  # fmt: skip
        # active seconds: acc or EMG movement
        active = moving.copy()
        if self.acc_fs:
            active |= np.nan_to_num(act, nan=0.0) > cfg.active_acc_g
        wake = wake_periods(self.events, (self._first_i or 0) / self.fs, float(n_sec), cfg)
        ep = epochs(active, (n > 0) | ok, up & ok, posture, wake, cfg)
        return _table(trace_cols), _table(ep)


def _table(cols: Any) -> pd.DataFrame:
    """The DataFrame of ``cols``, made (and pandas imported) on first read."""

    def make() -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(cols)

    return lazy_table(make)
