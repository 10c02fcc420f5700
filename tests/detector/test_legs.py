"""Both legs through the one pipeline: one detector per leg, merged by the bilateral rules.

Two-leg nights are built from two synthetic nights (different seeds: independent legs;
the same seed: legs that move together), written to EDF with both legs' labels and read
back through ``cramp detect``, or fed as one source per leg.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from click.testing import CliRunner

from detector.events import Event
from detector.pipeline import Pipeline, run, run_legs
from detector.stream import ArraySource, Chunk, Gap, StreamLayout
from emulator.night import SyntheticNight, make_night
from nightcramp.cli import cli
from recordings.edf import EdfSource, write_edf

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


def _leg(
    seed: int, side: str, seconds: float, labels: tuple[str, str], **kw: object
) -> SyntheticNight:
    return make_night(seed, seconds, side=side, labels=labels, start_utc=T0, **kw)  # type: ignore[arg-type]


def _edf(path: Path, legs: list[SyntheticNight], acc_of: SyntheticNight | None) -> Path:
    """The legs' EMG channels side by side (and one leg's accelerometer) as one EDF+."""
    emg = np.concatenate([n.to_arrays()[0] for n in legs], axis=1)
    lay = StreamLayout.of_legs([n.layout for n in legs]) if len(legs) > 1 else legs[0].layout
    acc = acc_of.to_arrays()[1] if acc_of is not None else None
    if acc is None:
        from dataclasses import replace

        lay = replace(lay, acc_fs=None)
    write_edf(ArraySource(lay, emg, acc, chunk_s=10.0), path)
    return path


def _detect(path: Path, *args: str) -> dict:
    res = CliRunner().invoke(cli, ["detect", str(path), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _key(ev: dict) -> tuple:
    return (ev["kind"], ev["subtype"], ev["start_s"], ev["end_s"], ev["peak_uv"])


NOT_LM = ("cramp", "artifact")


@pytest.fixture(scope="module")
def independent(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 20-min night, a cramp and a PLM series on each leg, at different times; no
    accelerometer (a sleep lab's EDF has none on the legs)."""
    d = tmp_path_factory.mktemp("legs")
    left = _leg(31, "left", 1200, ("EMG calf L", "EMG tib L"), cramps=1, plm_series=1)
    right = _leg(32, "right", 1200, ("EMG calf R", "EMG tib R"), cramps=1, plm_series=1)
    return {
        "both": _edf(d / "both.edf", [left, right], None),
        "left": _edf(d / "left.edf", [left], None),
        "right": _edf(d / "right.edf", [right], None),
    }


def test_a_two_leg_edf_runs_one_detector_per_leg(independent: dict[str, Path]) -> None:
    both = _detect(independent["both"])
    assert both["layout"]["side"] == "both"
    assert both["layout"]["emg_sides"] == ["left", "left", "right", "right"]
    assert both["bilateral"]["rule"] == "WASM 2016"
    assert all(e["side"] in ("left", "right", "both") for e in both["events"])
    for side in ("left", "right"):
        alone = _detect(independent[side])
        assert "side" not in alone["events"][0] and "bilateral" not in alone  # one leg: as ever
        mine = sorted(_key(e) for e in both["events"] if e["side"] == side and e["kind"] in NOT_LM)
        want = sorted(_key(e) for e in alone["events"] if e["kind"] in NOT_LM)
        assert mine == want
        assert any(e["kind"] == "cramp" for e in both["events"] if e["side"] == side)
        # every leg movement of the leg alone is there, on its own or in a bilateral one
        for e in alone["events"]:
            if e["subtype"] in ("leg-movement", "plm"):
                assert any(
                    b["start_s"] <= e["start_s"] and e["end_s"] <= b["end_s"]
                    for b in both["events"]
                    if b["side"] in (side, "both")
                ), e


def test_aasm_is_an_option_and_named(independent: dict[str, Path]) -> None:
    got = _detect(independent["both"], "--bilateral", "aasm")
    assert got["bilateral"]["rule"] == "AASM 2007"
    plm = [e for e in got["events"] if e["kind"] == "plm"]
    assert plm and all("legs merged by AASM 2007" in e["reason"] for e in plm)


def test_text_output_names_each_events_leg(independent: dict[str, Path]) -> None:
    res = CliRunner().invoke(cli, ["detect", str(independent["both"])])
    assert res.exit_code == 0, res.output
    assert "leg movements merged by WASM 2016" in res.output
    assert "cramp/calf (left)" in res.output and "cramp/calf (right)" in res.output


def test_legs_that_move_together_count_each_movement_once(tmp_path: Path) -> None:
    # a sleep-lab-like night (256 Hz, no accelerometer, PLM series): the same movements
    # on both legs; labels as sleep labs write them
    kw = dict(emg_fs=256.0, acc_fs=None, cramps=0, plm_series=2, leg_movements_per_hour=4.0)
    left = _leg(7, "left", 1500, ("Calf L", "LAT"), **kw)
    right = _leg(7, "right", 1500, ("Calf R", "RAT"), **kw)
    both = _detect(_edf(tmp_path / "both.edf", [left, right], None))
    alone = _detect(_edf(tmp_path / "left.edf", [left], None))
    n_alone = sum(e["kind"] == "plm" for e in alone["events"])
    plm = [e for e in both["events"] if e["kind"] == "plm"]
    assert n_alone >= 4
    assert len(plm) == n_alone and all(e["side"] == "both" for e in plm)
    assert both["bilateral"]["bilateral_movements"] >= n_alone


def _with_gap(src: SyntheticNight, a: float, b: float) -> Iterator[Chunk | Gap]:
    fs = src.layout.emg_fs
    gap_done = False
    for item in src.chunks(10.0):
        assert isinstance(item, Chunk)
        t0, t1 = item.emg_start / fs, item.emg_stop / fs
        if t1 <= a or t0 >= b:
            yield item
        elif not gap_done:
            gap_done = True
            yield Gap(a, b, "link")


class _Gappy:
    def __init__(self, night: SyntheticNight, a: float, b: float) -> None:
        self.layout, self._n, self._ab = night.layout, night, (a, b)

    def chunks(self) -> Iterator[Chunk | Gap]:
        return _with_gap(self._n, *self._ab)

    def wall_time(self, t_s: float) -> datetime | None:
        return self._n.wall_time(t_s)


def test_one_sensor_lost_leaves_the_other_legs_night_intact() -> None:
    left = _leg(41, "left", 1200, ("EMG calf L", "EMG tib L"), cramps=1, plm_series=1)
    right = _leg(42, "right", 1200, ("EMG calf R", "EMG tib R"), cramps=1, plm_series=1)
    whole = run_legs([left, right])
    lost = run_legs([left, _Gappy(right, 300.0, 1100.0)])

    def of(res: object, side: str) -> list[Event]:
        return [e for e in res.events if e.side == side and e.kind in NOT_LM]  # type: ignore[attr-defined]

    assert of(lost, "left") == of(whole, "left") and of(whole, "left")
    assert [(g.start_s, g.end_s, g.side) for g in lost.gaps] == [(300.0, 1100.0, "right")]
    assert lost.legs["left"].gaps == [] and lost.legs["right"].gaps
    # the lost right leg has nothing inside its gap
    assert not [e for e in lost.events if e.side == "right" and 300.0 < e.start_s < 1100.0]
    # and it is what the left sensor alone gives
    alone = [(e.kind, e.start_s, e.end_s, e.peak_uv) for e in run(left).events if e.kind in NOT_LM]
    assert alone == [(e.kind, e.start_s, e.end_s, e.peak_uv) for e in of(whole, "left")]


def test_live_sinks_get_cramps_with_their_side_and_the_rest_at_the_end() -> None:
    left = _leg(53, "left", 900, ("EMG calf L", "EMG tib L"), cramps=1, plm_series=1)
    right = _leg(52, "right", 900, ("EMG calf R", "EMG tib R"), cramps=0, plm_series=1)
    seen: list[tuple[str, Event]] = []
    pipe = Pipeline([left.layout, right.layout])
    pipe.add_sink(lambda ev: seen.append(("live", ev)))
    items = {"left": left.chunks(1.0), "right": right.chunks(1.0)}
    for a, b in zip(items["left"], items["right"], strict=True):
        pipe.feed(a, leg="left")
        pipe.feed(b, leg="right")
    n_live = len(seen)
    result = pipe.finish()
    live = [ev for _, ev in seen[:n_live]]
    assert any(ev.kind == "cramp" and ev.side == "left" for ev in live)
    assert not any(ev.kind == "plm" for ev in live)  # decided over both legs at the end
    final = {(e.kind, e.start_s, e.side) for e in result.events}
    got = {(ev.kind, ev.start_s, ev.side) for _, ev in seen if not _notice(ev)}
    assert final <= got
    assert pipe.events == result.events


def _notice(ev: Event) -> bool:
    return ev.is_notice


# ------------------------------------------------------------------ layouts and labels
def test_layout_legs() -> None:
    one = StreamLayout(1000.0, ("EMG1", "EMG2"), ("calf", "tibialis"), side="right")
    assert [(s, i) for s, i, _ in one.legs()] == [("right", (0, 1))]
    two = StreamLayout(
        1000.0, ("LAT", "Calf R", "RAT"), ("tibialis", "calf", "tibialis"),
        side="both", emg_sides=("left", "right", "right"),
    )  # fmt: skip
    legs = two.legs()
    assert [(s, i) for s, i, _ in legs] == [("left", (0,)), ("right", (1, 2))]
    assert legs[1][2].emg_labels == ("Calf R", "RAT") and legs[1][2].side == "right"
    joined = StreamLayout.of_legs([legs[0][2], legs[1][2]])
    assert joined.emg_sides == two.emg_sides and joined.emg_labels == two.emg_labels
    with pytest.raises(ValueError, match="emg_sides"):
        StreamLayout(1000.0, ("a", "b"), ("calf", "calf"), emg_sides=("left",))
    with pytest.raises(ValueError, match="unknown leg"):
        StreamLayout(1000.0, ("a",), ("calf",), emg_sides=("middle",))
    with pytest.raises(ValueError, match="one layout per leg"):
        StreamLayout.of_legs([legs[0][2], legs[0][2]])


def _pyedf(path: Path, labels: list[str], fs: int = 256, seconds: int = 30) -> None:
    w = pyedflib.EdfWriter(str(path), len(labels), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        w.setSignalHeaders([
            {"label": lb, "dimension": "uV", "sample_frequency": fs, "physical_max": 500.0,
             "physical_min": -500.0, "digital_max": 32767, "digital_min": -32768,
             "transducer": "", "prefilter": ""} for lb in labels
        ])  # fmt: skip
        rng = np.random.default_rng(0)
        w.writeSamples([rng.normal(0, 3, fs * seconds) for _ in labels])
    finally:
        w.close()


@pytest.mark.parametrize(
    ("labels", "sides"),
    [
        (["LAT", "RAT"], ["left", "right"]),
        (["Leg L", "Leg R"], ["left", "right"]),
        (["EMG Tib L", "EMG Gastr L", "EMG Tib R"], ["left", "left", "right"]),
        (["L-Leg", "R-Leg"], ["left", "right"]),
    ],
)
def test_sleep_lab_labels_of_both_legs(tmp_path: Path, labels: list[str], sides: list[str]) -> None:
    p = tmp_path / "psg.edf"
    _pyedf(p, ["EEG C3-A2", *labels, "ECG"])
    lay = EdfSource(p).layout
    assert list(lay.emg_sides) == sides and lay.side == "both"


@pytest.mark.parametrize("labels", [["LAT"], ["Leg L", "Leg"], ["Tib"]])
def test_one_leg_or_unsure_labels_stay_one_leg(tmp_path: Path, labels: list[str]) -> None:
    p = tmp_path / "psg.edf"
    _pyedf(p, labels)
    lay = EdfSource(p).layout
    assert lay.emg_sides == () and len(lay.legs()) == 1


def test_edf_export_writes_both_legs_with_their_labels(tmp_path: Path) -> None:
    # two sensors' generic channels (EMG1, EMG2 on each leg)
    lay = StreamLayout(
        500.0, ("EMG1", "EMG2", "EMG1", "EMG2"), ("calf", "tibialis", "calf", "tibialis"),
        side="both", emg_sides=("left", "left", "right", "right"), start_utc=T0,
    )  # fmt: skip
    x = np.random.default_rng(1).normal(0, 5, (500 * 20, 4))
    p = tmp_path / "out.edf"
    cramp = Event(kind="cramp", start_s=5.0, end_s=15.0, subtype="calf", side="right")
    write_edf(ArraySource(lay, x), p, [cramp])
    with pyedflib.EdfReader(str(p)) as r:
        got = [r.getLabel(i) for i in range(r.signals_in_file)]
        notes = list(r.readAnnotations()[2])
    assert got == ["EMG calf L", "EMG tibialis L", "EMG calf R", "EMG tibialis R"]
    assert any("cramp/calf" in n and "leg=right" in n for n in notes)
    back = EdfSource(p).layout
    assert back.emg_sides == lay.emg_sides


def test_replay_of_a_two_leg_edf_logs_each_leg(
    independent: dict[str, Path], tmp_path: Path
) -> None:
    from nightcramp.cramplog import CrampLog

    db = tmp_path / "log.sqlite3"
    res = CliRunner().invoke(cli, ["replay", str(independent["both"]), "--db", str(db),
                                   "--bilateral", "aasm", "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "legs merged by AASM 2007" in res.output
    want = _detect(independent["both"], "--bilateral", "aasm")
    with CrampLog.open(db) as log:
        nid = log.latest_night_id()
        assert nid is not None and nid.startswith("file:")
        rows = log.events(nid)
    assert sorted((r["kind"], r["start_s"], r["leg"]) for r in rows) == sorted(
        (e["kind"], e["start_s"], e["side"]) for e in want["events"]
    )
