"""Event matching and metrics (benchmarks.scoring)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks.scoring import MatchRule, is_match, match, score_night, summarize


@dataclass
class S:
    kind: str
    start_s: float
    end_s: float


def test_match_needs_same_kind_overlap_and_iou() -> None:
    t = S("cramp", 100, 160)
    assert is_match(S("cramp", 101, 158), t)
    assert not is_match(S("plm", 101, 158), t)  # kind
    assert not is_match(S("cramp", 159.5, 200), t)  # overlap 0.5 s < 1 s
    assert not is_match(S("cramp", 40, 400), t)  # IoU 60/360 < 0.2
    assert is_match(S("cramp", 80, 180), t)  # IoU 0.6


def test_short_plm_overlap_rule() -> None:
    # a 0.6-s PLM can never overlap 1 s: the overlap needed is capped at half the shorter
    t = S("plm", 10.0, 10.6)
    assert is_match(S("plm", 10.05, 10.7), t)
    assert not is_match(S("plm", 10.5, 11.5), t)  # overlap 0.1 s < 0.3 s
    strict = MatchRule(overlap_frac=10.0)
    assert not is_match(S("plm", 10.05, 10.7), t, strict)


def test_match_is_one_to_one_best_iou_first() -> None:
    truth = [S("plm", 0, 2), S("plm", 3, 5)]
    det = [S("plm", 0, 5)]  # overlaps both, IoU 0.4 each -> matches only one
    m = match(det, truth, "plm")
    assert len(m) == 1
    det2 = [S("plm", 0.1, 2), S("plm", 0, 1.8)]
    m2 = match(det2, truth[:1], "plm")
    assert m2 == [(0, 0)]  # the better IoU wins


def test_score_and_summary() -> None:
    truth = [S("cramp", 100, 160), S("plm", 10, 12), S("plm", 40, 42)]
    det = [S("cramp", 100.3, 158), S("plm", 10.1, 12.0), S("cramp", 500, 520)]
    ns = score_night(det, truth, 3600)
    c = ns.per_kind["cramp"]
    p = ns.per_kind["plm"]
    assert (c.tp, c.fp, c.fn) == (1, 1, 0)
    assert (p.tp, p.fp, p.fn) == (1, 0, 1)
    assert abs(ns.onset_errors_s[0] - 0.3) < 1e-9 and abs(ns.end_errors_s[0] - 2.0) < 1e-9
    assert math.isclose(c.f1, 2 / 3)
    free = score_night([S("cramp", 1, 20)], [], 4 * 3600)
    s = summarize([ns, free])
    assert s.false_cramps_per_8h == 2.0  # 1 false cramp in 4 cramp-free hours
    assert s.per_kind["cramp"].fp == 2
    assert s.nights == 2 and s.cramp_free_hours == 4.0
    assert math.isnan(summarize([ns]).false_cramps_per_8h)
