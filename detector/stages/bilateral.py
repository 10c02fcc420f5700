"""Both legs: the two legs' events -> one night, by the bilateral leg-movement rules.

Each leg runs its own :class:`~detector.detect.Detector`; this stage takes what they
found and applies the rules that look at both legs at once.

* **WASM 2016** (Ferri et al., Sleep Med 2016; the default, ``bilateral_rule="wasm"``):
  leg movements of the two legs that overlap or are less than ``bilateral_gap_s`` (0.5 s)
  apart, end of one to onset of the next, are one *bilateral* leg movement, joining at
  most ``bilateral_max_members`` (4) monolateral ones and lasting at most
  ``bilateral_max_s`` (15 s) from the first onset to the last end.  A longer
  combination is not a candidate leg movement (and, like any long movement, it ends a
  PLM series).
* **AASM 2007** (scoring manual, option ``bilateral_rule="aasm"``): leg movements of the
  two legs whose onsets are less than ``bilateral_onset_s`` (5 s) apart count as one.

Then the PLM series rule (at least ``plm_min_count`` candidates, onset-to-onset
``plm_min_interval_s`` .. ``plm_max_interval_s``) runs over the merged candidates, so a
bilateral movement counts once.  A leg movement of one leg that coincides with a cramp
of the other (overlapping it, or as near as the rule's distance) is part of the cramp's
commotion, not a PLM candidate; a cramp on either leg, or a movement longer than the
longest leg movement, ends a series.

Cramps, artifacts and other movements pass through with their leg's ``side``.  The
candidates each leg's series stage saw (:attr:`detector.stages.plm.PlmSeries.candidates`)
are what is merged: the legs' own one-leg series verdicts are decided again here.

Pure: :func:`merge_legs` takes whole lists and returns a whole list; it holds no state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from detector.config import DetectorConfig
from detector.events import Event

RULE_NAMES = {"wasm": "WASM 2016", "aasm": "AASM 2007"}


def rule_name(cfg: DetectorConfig) -> str:
    """``WASM 2016`` or ``AASM 2007``: the bilateral rule ``cfg`` asks for."""
    try:
        return RULE_NAMES[cfg.bilateral_rule]
    except KeyError:
        raise ValueError(
            f"bilateral_rule={cfg.bilateral_rule!r}: use one of {sorted(RULE_NAMES)}"
        ) from None


@dataclass(frozen=True)
class LegEvents:
    """What one leg's detector found: its final events and its series candidates."""

    side: str
    events: Sequence[Event]
    candidates: Sequence[Event] = ()


@dataclass
class _Group:
    members: list[Event]

    @property
    def start_s(self) -> float:
        return min(e.start_s for e in self.members)

    @property
    def end_s(self) -> float:
        return max(e.end_s for e in self.members)

    @property
    def sides(self) -> set[str]:
        return {e.side for e in self.members}


def _joins(g: _Group, ev: Event, cfg: DetectorConfig) -> bool:
    """Does movement ``ev`` (in onset order) join group ``g`` as one bilateral movement?

    Only through the other leg: a group of one leg's movements takes another of the same
    leg only once it holds a movement of the other leg too."""
    if ev.side in g.sides and len(g.sides) == 1:
        return False
    if cfg.bilateral_rule == "aasm":
        other = [m.start_s for m in g.members if m.side != ev.side]
        return bool(other) and ev.start_s - max(other) < cfg.bilateral_onset_s
    if len(g.members) >= cfg.bilateral_max_members:
        return False
    return ev.start_s - g.end_s < cfg.bilateral_gap_s


def group_movements(moves: Sequence[Event], cfg: DetectorConfig) -> list[list[Event]]:
    """Leg movements (each with its ``side``) in groups of one bilateral movement each
    (or a single monolateral one), in onset order."""
    rule_name(cfg)
    groups: list[_Group] = []
    for ev in sorted(moves, key=lambda e: (e.start_s, e.side)):
        if groups and _joins(groups[-1], ev, cfg):
            groups[-1].members.append(ev)
        else:
            groups.append(_Group([ev]))
    return [g.members for g in groups]


def _near(a0: float, a1: float, b: Event, cfg: DetectorConfig) -> bool:
    """A movement a0..a1 as near a cramp ``b`` as the rule's bilateral distance."""
    if cfg.bilateral_rule == "aasm":
        overlap = a0 <= b.end_s and a1 >= b.start_s
        return overlap or abs(a0 - b.start_s) < cfg.bilateral_onset_s
    return a0 - b.end_s < cfg.bilateral_gap_s and b.start_s - a1 < cfg.bilateral_gap_s


def _combined(members: list[Event], cfg: DetectorConfig) -> Event:
    """One event for a group of leg movements (the movement itself when alone)."""
    if len(members) == 1:
        return members[0]
    first = min(members, key=lambda e: e.start_s)
    loud = max(members, key=lambda e: e.peak_x_rest)
    t0 = first.start_s
    t1 = max(e.end_s for e in members)
    sides = sorted({e.side for e in members})
    parts = ", ".join(f"{e.side} {e.start_s - t0:+.1f} s ({e.duration_s:.1f} s)" for e in members)
    if cfg.bilateral_rule == "aasm":
        why = f"onsets < {cfg.bilateral_onset_s:g} s apart, AASM 2007"
    else:
        why = (
            f"overlapping or < {cfg.bilateral_gap_s:g} s apart, <= {cfg.bilateral_max_s:g} s, "
            "WASM 2016"
        )
    chans: list[str] = []
    for e in members:
        chans += [c for c in e.channels if c not in chans]
    return Event(
        kind="movement",
        start_s=t0,
        end_s=t1,
        channels=tuple(chans),
        peak_uv=loud.peak_uv,
        mean_uv=loud.mean_uv,
        peak_x_rest=loud.peak_x_rest,
        mean_x_rest=loud.mean_x_rest,
        confidence=max(e.confidence for e in members),
        subtype="leg-movement",
        reason=f"bilateral leg movement {t1 - t0:.1f} s: {parts} ({why})",
        side="both" if len(sides) > 1 else sides[0],
        context={
            "bilateral": [{"side": e.side, "start_s": e.start_s, "end_s": e.end_s} for e in members]
        },
    )


def _as_plm(ev: Event, nth: int, cfg: DetectorConfig) -> Event:
    once = ", a bilateral movement counted once" if ev.side == "both" else ""
    return replace(
        ev,
        kind="plm",
        subtype="plm",
        reason=f"leg movement {ev.duration_s:.1f} s, #{nth} of a periodic series "
        f"(>= {cfg.plm_min_count}, intervals {cfg.plm_min_interval_s:.0f}-"
        f"{cfg.plm_max_interval_s:.0f} s, {cfg.interval_rule()}; legs merged by "
        f"{rule_name(cfg)}{once})",
        confidence=0.8,
    )


def plm_series(items: Sequence[tuple[float, bool]], cfg: DetectorConfig) -> dict[int, int]:
    """The PLM series rule over ``(onset s, is_candidate)`` in onset order.

    Returns ``{index: n-th in its series}`` for the candidates that are PLMs.  A
    non-candidate (a breaker: a cramp, a too-long movement) ends the run; a candidate at
    an interval outside ``plm_min_interval_s .. plm_max_interval_s`` from the previous
    one starts a new run.
    """
    out: dict[int, int] = {}
    run: list[int] = []

    def close() -> None:
        if len(run) >= cfg.plm_min_count:
            for n, i in enumerate(run):
                out[i] = n + 1
        run.clear()

    for i, (t, cand) in enumerate(items):
        if not cand:
            close()
            continue
        if run:
            iv = t - items[run[-1]][0]
            if not cfg.plm_min_interval_s <= iv <= cfg.plm_max_interval_s:
                close()
        run.append(i)
    close()
    return out


def _same_onset_once(events: list[Event]) -> list[Event]:
    """Events of one kind on both legs starting in the same millisecond (turning over
    moves both legs at once; frames are 10 ms) are one event of both legs: an event is
    known by its kind and onset to the ms (the cramp log's key), so two would be one."""
    by_key: dict[tuple[str, int], list[Event]] = {}
    for e in events:
        by_key.setdefault((e.kind, int(round(e.start_s * 1000))), []).append(e)
    out: list[Event] = []
    for group in by_key.values():
        if len(group) == 1 or len({e.side for e in group}) == 1:
            out += group
            continue
        loud = max(group, key=lambda e: e.peak_x_rest)
        chans: list[str] = []
        for e in group:
            chans += [c for c in e.channels if c not in chans]
        legs = " and ".join(sorted({e.side for e in group}))
        out.append(
            replace(
                loud,
                end_s=max(e.end_s for e in group),
                channels=tuple(chans),
                side="both",
                reason=f"{loud.reason} (on the {legs} legs at once)",
            )
        )
    return out


def merge_legs(
    legs: Sequence[LegEvents], cfg: DetectorConfig | None = None
) -> tuple[list[Event], dict[str, Any]]:
    """The night's events from both legs' (see the module docstring), in onset order,
    every one with its ``side``; and counts of what the merge did (``rule`` names it)."""
    cfg = cfg or DetectorConfig()
    name = rule_name(cfg)
    moves: list[Event] = []
    others: list[Event] = []
    for leg in legs:
        keys = {(c.start_s, c.end_s): c for c in leg.candidates}
        for ev in leg.events:
            orig = keys.get((ev.start_s, ev.end_s))
            if orig is not None and ev.kind in ("plm", "movement"):
                moves.append(replace(orig, side=leg.side))
            else:
                others.append(ev if ev.side else replace(ev, side=leg.side))
    cramps = [e for e in others if e.kind == "cramp"]
    groups = group_movements(moves, cfg)
    merged: list[tuple[Event, bool]] = []
    n_bi = n_long = n_cramp = 0
    for g in groups:
        ev = _combined(g, cfg)
        cand = True
        if len(g) > 1:
            n_bi += 1
            if cfg.bilateral_rule == "wasm" and ev.duration_s > cfg.bilateral_max_s:
                cand = False
                n_long += 1
                ev = replace(
                    ev,
                    reason=ev.reason + f"; longer than {cfg.bilateral_max_s:g} s: "
                    "not a candidate leg movement",
                )
        sides = {m.side for m in g}
        with_cramp = [
            c for c in cramps if c.side not in sides and _near(ev.start_s, ev.end_s, c, cfg)
        ]
        if cand and with_cramp:
            cand = False
            n_cramp += 1
            ev = replace(
                ev,
                reason=ev.reason + f"; with a cramp of the {with_cramp[0].side} leg: "
                "not a PLM candidate",
            )
        merged.append((ev, cand))
    # the series: candidates, and what ends a series (cramps, long movements)
    seq: list[tuple[Event, bool, bool]] = [(e, c, False) for e, c in merged]
    seq += [
        (e, False, True)
        for e in others
        if e.kind == "cramp" or (e.kind == "movement" and e.duration_s > cfg.lm_max_s)
    ]
    seq.sort(key=lambda x: (x[0].start_s, not x[1]))
    plm = plm_series([(e.start_s, c) for e, c, _ in seq], cfg)
    out = list(others)
    n_plm = 0
    for i, (e, _, breaker) in enumerate(seq):
        if breaker:
            continue  # already among the others
        if i in plm:
            n_plm += 1
            out.append(_as_plm(e, plm[i], cfg))
        else:
            out.append(e)
    out = _same_onset_once(out)
    out.sort(key=lambda e: (e.start_s, e.side, e.kind))
    stats = {
        "rule": name,
        "leg_movements": len(moves),
        "bilateral_movements": n_bi,
        "too_long": n_long,
        "with_cramp": n_cramp,
        "plm": n_plm,
    }
    return out, stats
