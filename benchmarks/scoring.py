"""Event-by-event scoring of detected events against ground truth.

Matching rule (issue 5): a detected event matches a true event of the same kind when
their intersection over union is at least ``min_iou`` (0.2) and they overlap by at least
``min(min_overlap_s, overlap_frac x the shorter event)`` (1 s, 0.5).  The issue asks for
an overlap of 1 s; a leg movement lasts 0.5-10 s (AASM), so a PLM of 0.5-1 s could never
overlap a true one by 1 s: the overlap needed is capped at half the shorter event.  For
cramps (>= 10 s) the rule is exactly "overlap >= 1 s and IoU >= 0.2".  Matching is
one-to-one, greedy by IoU (highest first).

Reported: precision, recall, F1 per kind; for matched cramps the median absolute onset
and end errors (s); false cramps per 8 h over cramp-free nights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Span(Protocol):
    """Anything with a kind and a time span (Event, TruthEvent, ...); read-only."""

    @property
    def kind(self) -> str: ...

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...


@dataclass(frozen=True)
class MatchRule:
    min_iou: float = 0.2
    """Intersection over union, unitless (issue 5)."""
    min_overlap_s: float = 1.0
    """Overlap needed, s (issue 5) ..."""
    overlap_frac: float = 0.5
    """... capped at this fraction of the shorter event (for sub-second PLMs)."""


def overlap(a: Span, b: Span) -> float:
    return max(0.0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s))


def iou(a: Span, b: Span) -> float:
    inter = overlap(a, b)
    union = max(a.end_s, b.end_s) - min(a.start_s, b.start_s)
    return inter / union if union > 0 else 0.0


def is_match(det: Span, true: Span, rule: MatchRule = MatchRule()) -> bool:
    if det.kind != true.kind:
        return False
    shorter = min(det.end_s - det.start_s, true.end_s - true.start_s)
    need = min(rule.min_overlap_s, rule.overlap_frac * shorter)
    ov = overlap(det, true)
    return ov > 0 and ov >= need and iou(det, true) >= rule.min_iou


def match(
    detected: Sequence[Span], truth: Sequence[Span], kind: str, rule: MatchRule = MatchRule()
) -> list[tuple[int, int]]:
    """One-to-one matches (index in detected, index in truth) of ``kind``, greedy by IoU."""
    d_idx = [i for i, e in enumerate(detected) if e.kind == kind]
    t_idx = [j for j, e in enumerate(truth) if e.kind == kind]
    cands: list[tuple[float, int, int]] = []
    ts = sorted(t_idx, key=lambda j: truth[j].start_s)
    for i in d_idx:
        d = detected[i]
        for j in ts:
            t = truth[j]
            if t.start_s >= d.end_s:
                break
            if is_match(d, t, rule):
                cands.append((iou(d, t), i, j))
    cands.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_d: set[int] = set()
    used_t: set[int] = set()
    out = []
    for _, i, j in cands:
        if i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
        out.append((i, j))
    return sorted(out)


@dataclass
class KindScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else float("nan")

    def add(self, other: KindScore) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn


@dataclass
class NightScore:
    duration_s: float
    per_kind: dict[str, KindScore]
    onset_errors_s: list[float] = field(default_factory=list)
    end_errors_s: list[float] = field(default_factory=list)
    true_cramps: int = 0
    false_cramps: int = 0
    missed: list[Span] = field(default_factory=list)
    false: list[Span] = field(default_factory=list)


def score_night(
    detected: Sequence[Span],
    truth: Sequence[Span],
    duration_s: float,
    kinds: Iterable[str] = ("cramp", "plm"),
    rule: MatchRule = MatchRule(),
) -> NightScore:
    ns = NightScore(duration_s=duration_s, per_kind={})
    for kind in kinds:
        m = match(detected, truth, kind, rule)
        nd = sum(1 for e in detected if e.kind == kind)
        nt = sum(1 for e in truth if e.kind == kind)
        ks = KindScore(tp=len(m), fp=nd - len(m), fn=nt - len(m))
        ns.per_kind[kind] = ks
        md = {i for i, _ in m}
        mt = {j for _, j in m}
        ns.false += [e for i, e in enumerate(detected) if e.kind == kind and i not in md]
        ns.missed += [e for j, e in enumerate(truth) if e.kind == kind and j not in mt]
        if kind == "cramp":
            ns.true_cramps = nt
            ns.false_cramps = ks.fp
            for i, j in m:
                ns.onset_errors_s.append(abs(detected[i].start_s - truth[j].start_s))
                ns.end_errors_s.append(abs(detected[i].end_s - truth[j].end_s))
    return ns


def _median(v: list[float]) -> float:
    if not v:
        return float("nan")
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


@dataclass
class Summary:
    per_kind: dict[str, KindScore]
    onset_median_s: float
    end_median_s: float
    false_cramps_per_8h: float
    """False cramps per 8 h over the cramp-free nights (NaN without such nights)."""
    cramp_free_hours: float
    nights: int


def summarize(scores: Sequence[NightScore]) -> Summary:
    per: dict[str, KindScore] = {}
    on: list[float] = []
    end: list[float] = []
    free_s = 0.0
    free_fp = 0
    for s in scores:
        for k, v in s.per_kind.items():
            per.setdefault(k, KindScore()).add(v)
        on += s.onset_errors_s
        end += s.end_errors_s
        if s.true_cramps == 0:
            free_s += s.duration_s
            free_fp += s.false_cramps
    rate = free_fp / (free_s / 28800.0) if free_s > 0 else float("nan")
    return Summary(per, _median(on), _median(end), rate, free_s / 3600.0, len(scores))
