"""PLM series: leg movements -> periodic limb movements (AASM 2007 / WASM 2016).

Leg-movement candidates with onset-to-onset intervals of ``plm_min_interval_s`` ..
``plm_max_interval_s``, at least ``plm_min_count`` in a row, are PLMs: the first ones are
emitted when the series is reached, later ones at once; a break flushes the pending ones
as plain leg movements.  Movements led by the calf when a tibialis channel is recorded
are not series candidates (PLMS: mostly the tibialis anterior; DOMAIN.md).  A series
while the sleeper is taken to be awake is one all the same, periodic limb movements in
wake (PLMW, AASM): its PLMs have subtype ``wake`` and stay out of the PLMS index
(periodic leg movements per hour of sleep).

A short cramp (<= ``cramp_lm_context_s``, WASM's longest leg movement) that could itself
be a leg movement is *held*: a movement at a series interval after it makes it the first
long leg movement of a series; otherwise (or after ``plm_max_interval_s``) it is
released as a cramp.

Stage state: the pending candidates, whether they form a series, the last candidate's
onset, the held cramp and the candidates seen.  Events leave through ``emit`` (in
order); ``is_awake`` asks the sleep/wake stage; ``on_withdraw`` is told when a held
cramp turns into a leg movement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from detector.config import DetectorConfig
from detector.events import Event
from detector.stages.classify import BurstFeatures


class PlmSeries:
    def __init__(
        self,
        cfg: DetectorConfig,
        emit: Callable[[Event], None],
        is_awake: Callable[[float], bool],
        on_withdraw: Callable[[Event], None] = lambda ev: None,
    ) -> None:
        self.cfg = cfg
        self._emit = emit
        self._is_awake = is_awake
        self._on_withdraw = on_withdraw
        self.pending: list[Event] = []
        self.in_series = False
        self.last_lm_start: float | None = None
        self.held: tuple[Event, BurstFeatures] | None = None
        self._awake: set[tuple[float, float]] = set()
        """(start, end) of the pending candidates that came while awake."""
        self.candidates: list[Event] = []
        """Every series candidate as it came in (before it became a PLM): what the
        bilateral stage (:mod:`detector.stages.bilateral`) merges across the legs."""

    def in_lm_series(self, f: BurstFeatures) -> bool:
        """A burst no longer than the longest leg movement at a series interval after the
        last candidate."""
        cfg = self.cfg
        if f.duration_s > cfg.cramp_lm_context_s or self.last_lm_start is None:
            return False
        iv = f.start_s - self.last_lm_start
        return cfg.plm_min_interval_s <= iv <= cfg.plm_max_interval_s

    def hold(self, ev: Event, f: BurstFeatures) -> None:
        """Hold a short cramp until it is known not to start a series."""
        self.held = (ev, f)

    def release_held(self) -> None:
        """Emit the short cramp held back (no leg-movement series followed it)."""
        if self.held is not None:
            ev, _ = self.held
            self.held = None
            self.flush(final=True)
            self._emit(ev)

    def decide_held(self, t_start: float) -> None:
        """A movement starting at ``t_start`` decides the held short cramp: a leg
        movement of a series if at a series interval, else a cramp."""
        cfg = self.cfg
        if self.held is not None:
            h, hf = self.held
            iv = t_start - h.start_s
            if cfg.plm_min_interval_s <= iv <= cfg.plm_max_interval_s:
                # the held short "cramp" was the first, long leg movement of a series
                self.held = None
                self._on_withdraw(h)
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
                self.add(lm, hf)
            else:
                self.release_held()

    def add(self, ev: Event, f: BurstFeatures | None = None) -> None:
        """A leg-movement candidate (``f``: its features, None if unknown)."""
        cfg = self.cfg
        candidate = f is None or not (f.has_tibialis and f.calf_exc_uv > f.tib_exc_uv)
        candidate = candidate and not (self._is_awake(ev.start_s))
        if candidate:
            self.decide_held(ev.start_s)
        else:
            self.release_held()
        self.last_lm_start = ev.start_s
        # PLMs are leg movements mostly of the tibialis anterior (DOMAIN.md, AASM):
        # movements led by the calf when a tibialis channel is recorded are not series
        # candidates; those while the sleeper is taken to be awake are (PLMW).  Asked
        # again: a held cramp released just now wakes the sleeper from its end
        awake = self._is_awake(ev.start_s)
        calf_led = f is not None and f.has_tibialis and f.calf_exc_uv > f.tib_exc_uv
        if calf_led:
            self._emit(replace(ev, reason=ev.reason + "; calf-led, not tibialis"))
            return
        pend = self.pending
        if pend:
            iv = ev.start_s - pend[-1].start_s
            if not cfg.plm_min_interval_s <= iv <= cfg.plm_max_interval_s:
                self.flush(final=True)
        if awake:
            # a series while awake is one all the same (PLMW, AASM), kept apart from the
            # sleep index by its subtype
            self._awake.add((ev.start_s, ev.end_s))
        pend = self.pending
        pend.append(ev)
        self.candidates.append(ev)
        if self.in_series:
            self._emit(self._as_plm(ev, len(pend)))
        elif len(pend) >= cfg.plm_min_count:
            self.in_series = True
            for i, e in enumerate(pend):
                self._emit(self._as_plm(e, i + 1))

    def _as_plm(self, ev: Event, nth: int) -> Event:
        awake = (ev.start_s, ev.end_s) in self._awake
        return replace(
            ev,
            kind="plm",
            subtype="wake" if awake else "plm",
            reason=f"leg movement {ev.duration_s:.1f} s, #{nth} of a periodic series "
            f"(>= {self.cfg.plm_min_count}, intervals {self.cfg.plm_min_interval_s:.0f}-"
            f"{self.cfg.plm_max_interval_s:.0f} s, {self.cfg.interval_rule()})"
            + ("; while awake (PLMW, not in the sleep index)" if awake else ""),
            confidence=0.8,
        )

    def flush(self, final: bool = True) -> None:
        """End the pending run: not a series -> plain leg movements."""
        if not self.in_series:
            for e in self.pending:
                awake = (e.start_s, e.end_s) in self._awake
                self._emit(replace(e, reason=e.reason + "; while awake") if awake else e)
        self.pending = []
        self._awake.clear()
        self.in_series = False

    def timeout(self, t_now: float) -> None:
        """Nothing can join any more ``plm_max_interval_s`` after the last onset."""
        if self.held is not None:
            if t_now - self.held[0].start_s > self.cfg.plm_max_interval_s:
                self.release_held()
        if self.pending:
            if t_now - self.pending[-1].start_s > self.cfg.plm_max_interval_s:
                self.flush(final=False)
