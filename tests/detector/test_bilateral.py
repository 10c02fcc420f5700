"""The bilateral stage alone: the two legs' leg movements merged by WASM 2016 (default) or
AASM 2007, at each rule's edges, and the PLM series counted over the merged movements."""

from __future__ import annotations

from dataclasses import replace

import pytest

from detector.config import DetectorConfig
from detector.events import Event
from detector.stages.bilateral import LegEvents, group_movements, merge_legs, plm_series

WASM = DetectorConfig()
AASM = replace(WASM, bilateral_rule="aasm")


def lm(t0: float, t1: float, side: str = "") -> Event:
    return Event(kind="movement", start_s=t0, end_s=t1, subtype="leg-movement", side=side,
                 channels=(f"EMG tib {side[:1].upper()}",), peak_x_rest=5.0)  # fmt: skip


def legs(left: list[Event], right: list[Event], *others: tuple[str, Event]) -> list[LegEvents]:
    """Leg-movement candidates of each leg (as their own detector emits them), plus
    other events of a leg."""
    extra = {"left": [e for s, e in others if s == "left"],
             "right": [e for s, e in others if s == "right"]}  # fmt: skip
    return [
        LegEvents("left", [*left, *extra["left"]], left),
        LegEvents("right", [*right, *extra["right"]], right),
    ]


def _groups(moves: list[Event], cfg: DetectorConfig = WASM) -> list[int]:
    return [len(g) for g in group_movements(moves, cfg)]


# ------------------------------------------------------------------ WASM 2016 edges
@pytest.mark.parametrize(("apart", "groups"), [(0.4, [2]), (0.6, [1, 1]), (-1.0, [2])])
def test_wasm_merges_movements_less_than_half_a_second_apart(
    apart: float, groups: list[int]
) -> None:
    # left 100-102 s; right starts `apart` after the left one ends (negative: overlap)
    moves = [lm(100.0, 102.0, "left"), lm(102.0 + apart, 104.0 + apart, "right")]
    assert _groups(moves) == groups


@pytest.mark.parametrize(("right_end", "candidate"), [(114.0, True), (116.0, False)])
def test_wasm_bilateral_movement_lasts_at_most_15_s(right_end: float, candidate: bool) -> None:
    # left 100-108 s, right 107.8 s to right_end: combined 14 s or 16 s
    got, stats = merge_legs(legs([lm(100.0, 108.0, "left")], [lm(107.8, right_end, "right")]))
    assert len(got) == 1
    ev = got[0]
    assert (ev.start_s, ev.end_s, ev.side) == (100.0, right_end, "both")
    assert ev.reason.startswith("bilateral leg movement")
    assert ("not a candidate" in ev.reason) is (not candidate)
    assert stats["too_long"] == (0 if candidate else 1)


def test_wasm_joins_at_most_four_monolateral_movements() -> None:
    moves = [lm(100.0 + i, 100.8 + i, "left" if i % 2 == 0 else "right") for i in range(6)]
    assert _groups(moves) == [4, 2]


def test_two_movements_of_one_leg_do_not_make_a_bilateral_one() -> None:
    assert _groups([lm(100.0, 101.0, "left"), lm(101.2, 102.0, "left")]) == [1, 1]


# ------------------------------------------------------------------ AASM 2007 edges
@pytest.mark.parametrize(("onset_apart", "groups"), [(4.9, [2]), (5.1, [1, 1])])
def test_aasm_counts_onsets_less_than_5_s_apart_as_one(
    onset_apart: float, groups: list[int]
) -> None:
    moves = [lm(100.0, 101.0, "left"), lm(100.0 + onset_apart, 101.0 + onset_apart, "right")]
    assert _groups(moves, AASM) == groups
    # the same pair is two movements under WASM (4 s between them)
    assert _groups(moves, WASM) == [1, 1]


# ------------------------------------------------------------------ the series rule
def test_series_counts_a_bilateral_movement_once() -> None:
    # four times both legs, 0.3 s apart, every 20 s: four bilateral PLMs, not eight
    left = [lm(100.0 + 20 * i, 102.0 + 20 * i, "left") for i in range(4)]
    right = [lm(102.3 + 20 * i, 103.5 + 20 * i, "right") for i in range(4)]
    got, stats = merge_legs(legs(left, right))
    assert [(e.kind, e.side) for e in got] == [("plm", "both")] * 4
    assert all("counted once" in e.reason and "WASM 2016" in e.reason for e in got)
    assert stats["rule"] == "WASM 2016" and stats["plm"] == 4 and stats["bilateral_movements"] == 4


def test_the_same_movements_unmerged_break_the_series() -> None:
    # 0.6 s apart: two movements each time, 2.6 s onset to onset (< 10 s): no series
    left = [lm(100.0 + 20 * i, 102.0 + 20 * i, "left") for i in range(4)]
    right = [lm(102.6 + 20 * i, 103.5 + 20 * i, "right") for i in range(4)]
    got, stats = merge_legs(legs(left, right))
    assert [e.kind for e in got] == ["movement"] * 8 and stats["plm"] == 0


def test_a_series_alternating_between_the_legs_is_found() -> None:
    # neither leg alone has four; together they do
    left = [lm(100.0, 101.0, "left"), lm(140.0, 141.0, "left")]
    right = [lm(120.0, 121.0, "right"), lm(160.0, 161.0, "right")]
    got, _ = merge_legs(legs(left, right))
    assert [(e.kind, e.side) for e in got] == [
        ("plm", "left"), ("plm", "right"), ("plm", "left"), ("plm", "right")
    ]  # fmt: skip


def test_one_legs_own_series_verdict_is_decided_again() -> None:
    # the left detector called these four PLMs; a right movement 3 s after the second
    # one (not bilateral: 2 s between them) breaks the series once both legs are seen
    left = [lm(100.0 + 20 * i, 101.0 + 20 * i, "left") for i in range(4)]
    shown = [replace(e, kind="plm", subtype="plm") for e in left]
    right = [lm(123.0, 124.0, "right")]
    got, _ = merge_legs([LegEvents("left", shown, left), LegEvents("right", right, right)])
    assert [e.kind for e in got] == ["movement"] * 5


@pytest.mark.parametrize("rule", [WASM, AASM])
def test_a_cramp_on_one_leg_with_a_movement_of_the_other_is_not_a_plm(
    rule: DetectorConfig,
) -> None:
    # a right series every 20 s; the third right movement comes with a left cramp
    right = [lm(100.0 + 20 * i, 101.5 + 20 * i, "right") for i in range(6)]
    cramp = Event(kind="cramp", start_s=139.8, end_s=150.0, side="left", channels=("EMG calf L",))
    got, stats = merge_legs(legs([], right, ("left", cramp)), rule)
    by_t = {(e.start_s, e.kind): e for e in got}
    assert by_t[(139.8, "cramp")].side == "left"
    with_cramp = by_t[(140.0, "movement")]
    assert "with a cramp of the left leg" in with_cramp.reason
    assert stats["with_cramp"] == 1
    # the cramp ends the series: 100, 120 before it, 160, 180, 200 after it: too few
    assert [e.kind for e in got if e.side == "right"] == ["movement"] * 6


def test_cramps_and_other_events_pass_through_with_their_side() -> None:
    turn = Event(kind="movement", start_s=50.0, end_s=54.0, subtype="turning")
    off = Event(kind="artifact", start_s=60.0, end_s=90.0, subtype="electrode-off")
    got, _ = merge_legs(legs([], [], ("left", turn), ("right", off)))
    assert [(e.subtype, e.side) for e in got] == [("turning", "left"), ("electrode-off", "right")]


def test_plm_series_rule_alone() -> None:
    # breakers end a run; an interval out of range starts a new one
    items = [(0.0, True), (20.0, True), (40.0, True), (60.0, True), (70.0, False),
             (80.0, True), (100.0, True), (105.0, True)]  # fmt: skip
    assert plm_series(items, WASM) == {0: 1, 1: 2, 2: 3, 3: 4}


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="bilateral_rule"):
        merge_legs([], replace(WASM, bilateral_rule="rls"))


def test_one_kind_on_both_legs_at_the_same_millisecond_is_one_event_of_both() -> None:
    # turning over moves both legs at once: the cramp log knows an event by its kind and
    # onset to the ms, so two would silently be one row
    tl = Event(kind="movement", start_s=50.0, end_s=54.0, subtype="turning", peak_x_rest=9.0)
    tr = Event(kind="movement", start_s=50.0004, end_s=55.0, subtype="turning", peak_x_rest=4.0)
    got, _ = merge_legs(legs([], [], ("left", tl), ("right", tr)))
    assert [(e.subtype, e.side, e.end_s, e.peak_x_rest) for e in got] == [
        ("turning", "both", 55.0, 9.0)
    ]
    assert "left and right legs at once" in got[0].reason
    # a millisecond apart they stay two
    tr2 = Event(kind="movement", start_s=50.002, end_s=55.0, subtype="turning")
    got2, _ = merge_legs(legs([], [], ("left", tl), ("right", tr2)))
    assert [e.side for e in got2] == ["left", "right"]
