"""``cramp export`` of a night recorded with one sensor per leg: EDF+ and Parquet.

The nights are real two-sensor night folders: each leg's sensor recorded through the
emulated firmware and the live host session into its own version-1 recording (its link
drops, ring overflows and all), under one version-2 ``meta.json``.  The exported files
are read by independent readers (pyedflib, edfio, pyarrow/pandas), and by our own EDF
reader through ``cramp detect``, against the night folder replayed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import edfio
import numpy as np
import pyarrow.parquet as pq
import pyedflib
import pytest
from click.testing import CliRunner

from detector.stream import Gap
from emulator.make_sample_night import record_emulated
from nightcramp.cli import cli
from nightcramp.commands.data import run_night
from recordings.edf import EMG_RANGE_UV, FILL_DIGITAL, LEGS_DIGITAL_MIN, EdfSource
from recordings.errors import UserError
from recordings.export import open_source
from recordings.night import ABSENT, create_night

T0 = datetime(2026, 11, 25, 23, 10, 0, tzinfo=UTC)
NIGHT_S = 600.0
#: seed 7's night holds a cramp at 217-263 s (right leg); seed 3's none (left leg)
SEEDS = {"left": 3, "right": 7}
#: quantisation step of an exported EMG sample (two-leg digital range), µV
STEP_UV = 2 * EMG_RANGE_UV / (32767 - LEGS_DIGITAL_MIN)


def _night(root: Path, drops: dict[str, tuple[tuple[float, float], ...]],
           sides: tuple[str, ...] = ("left", "right")) -> Path:  # fmt: skip
    """A two-sensor night folder; a leg not in ``sides`` never sent a frame."""
    folder, _ = create_night(
        root, ["left", "right"], start_ns=int(T0.timestamp() * 1e9), created=T0
    )
    for side in sides:
        record_emulated(
            folder,
            seed=SEEDS[side],
            duration_s=NIGHT_S,
            drops=drops.get(side, ()),
            reboot_at=None,
            start_utc=T0,
            folder_name=side,
            night_kw={"side": side, "cramps": 1 if side == "right" else 0},
        )
    return folder


def _cli(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, (res.output, res.exception)
    return res.output


def _per_leg(items: Any) -> dict[str, dict[str, Any]]:
    """Each leg's samples and gaps: EMG indices, EMG, acc indices, acc, gaps."""
    out: dict[str, dict[str, Any]] = {}
    for side, it in items:
        d = out.setdefault(side, {"ei": [], "emg": [], "ai": [], "acc": [], "gaps": []})
        if isinstance(it, Gap):
            d["gaps"].append((round(it.start_s, 6), round(it.end_s, 6), it.reason, it.side))
            continue
        d["ei"].append(np.arange(it.emg_start, it.emg_stop))
        d["emg"].append(it.emg)
        d["ai"].append(np.arange(it.acc_start, it.acc_stop))
        d["acc"].append(it.acc)
    for d in out.values():
        for k in ("ei", "ai"):
            d[k] = np.concatenate(d[k]) if d[k] else np.zeros(0, int)
        d["emg"] = np.concatenate(d["emg"]) if d["emg"] else np.zeros((0, 2))
        d["acc"] = np.concatenate(d["acc"]) if d["acc"] else np.zeros((0, 3))
    return out


def _same_events(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    """Per side: the same kinds in order, onsets within 0.5 s, ends within 3 s."""
    for side in ("left", "right", "both"):
        ea = [e for e in a if e["side"] == side]
        eb = [e for e in b if e["side"] == side]
        assert [e["kind"] for e in ea] == [e["kind"] for e in eb], (side, ea, eb)
        for x, y in zip(ea, eb, strict=True):
            assert abs(x["start_s"] - y["start_s"]) < 0.5, (x, y)
            assert abs(x["end_s"] - y["end_s"]) < 3.0, (x, y)


@pytest.fixture(scope="module")
def one_leg_gap(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Left link down 150-310 s: the ring (120 s) backfills the end, the first ~40 s
    are lost on the left leg only; the right leg cramps at 217-263 s.  Exported."""
    d = tmp_path_factory.mktemp("legs")
    folder = _night(d / "rec", {"left": ((150.0, 160.0),)})
    edf, parquet = d / "night.edf", d / "night.parquet"
    _cli("export", str(folder), "--edf", str(edf))
    _cli("export", str(folder), "--parquet", str(parquet))
    replay = run_night(open_source(folder))
    return {"folder": folder, "edf": edf, "parquet": parquet, "replay": replay}


def test_edf_holds_both_legs_labelled_on_one_timeline(one_leg_gap: dict[str, Any]) -> None:
    night = _per_leg(open_source(one_leg_gap["folder"]).leg_items())  # type: ignore[attr-defined]
    (gap,) = one_leg_gap["replay"].gaps
    assert (gap.side, gap.reason) == ("left", "sensor-loss") and gap.duration_s > 30.0
    last = max(int(d["ei"][-1]) for d in night.values()) + 1  # the night's span, samples
    with pyedflib.EdfReader(str(one_leg_gap["edf"])) as r:
        labels = [r.getLabel(i) for i in range(r.signals_in_file)]
        assert labels == [
            "EMG calf L", "EMG tibialis L", "EMG calf R", "EMG tibialis R",
            "Acc X L", "Acc Y L", "Acc Z L", "Acc X R", "Acc Y R", "Acc Z R",
        ]  # fmt: skip
        n = r.getNSamples()
        # whole 1-s records from the night's t = 0 to its last sample, both legs alike
        assert set(n[:4]) == {int(np.ceil(last / 1000.0)) * 1000}
        assert set(n[4:]) == {n[0] // 20}
        assert r.getDigitalMinimum(0) == LEGS_DIGITAL_MIN
        onsets, durs, texts = r.readAnnotations()
        marks = [(o, du) for o, du, t in zip(onsets, durs, texts, strict=True)
                 if t == "gap: sensor-loss leg=left"]  # fmt: skip
        assert marks == [(pytest.approx(gap.start_s, abs=1e-6), pytest.approx(gap.duration_s))]
        assert any("cramp/calf" in t and "leg=right" in t for t in texts)
        i0, i1 = round(gap.start_s * 1000), round(gap.end_s * 1000)
        # the left leg holds the fill value in its gap, and only there (after its first sample)
        left_d = r.readSignal(0, digital=True)
        first = int(night["left"]["ei"][0])
        filled = np.flatnonzero(left_d[first : night["left"]["ei"][-1] + 1] == FILL_DIGITAL)
        assert filled[0] + first == i0 and filled[-1] + first == i1 - 1
        assert filled.size == i1 - i0
        assert r.readSignal(0)[i0] < -EMG_RANGE_UV  # below the physical minimum
        # the right leg's samples in the left leg's gap are the night's own
        right = night["right"]
        sel = (right["ei"] >= i0) & (right["ei"] < i1)
        assert sel.sum() == i1 - i0
        for c in (0, 1):
            got = r.readSignal(2 + c)[right["ei"][sel]]
            np.testing.assert_allclose(got, right["emg"][sel, c], atol=STEP_UV / 2 + 1e-9)
    # edfio reads the same file: the same one-leg gap annotation
    e = edfio.read_edf(one_leg_gap["edf"])
    assert [a.text for a in e.annotations].count("gap: sensor-loss leg=left") == 1


def test_edf_reads_back_leg_by_leg_as_the_night(one_leg_gap: dict[str, Any]) -> None:
    src = EdfSource(one_leg_gap["edf"])
    assert src.layout.emg_sides == ("left", "left", "right", "right")
    assert [lay.side for lay in src.leg_layouts] == ["left", "right"]
    back = _per_leg(src.leg_items())
    night = _per_leg(open_source(one_leg_gap["folder"]).leg_items())  # type: ignore[attr-defined]
    for side in ("left", "right"):
        a, b = back[side], night[side]
        # every sample the leg measured, at its own index, and nothing filled
        np.testing.assert_array_equal(a["ei"], b["ei"])
        np.testing.assert_allclose(a["emg"], b["emg"], atol=STEP_UV / 2 + 1e-9)
        np.testing.assert_array_equal(a["ai"], b["ai"])
        np.testing.assert_allclose(a["acc"], b["acc"], atol=16.0 / 32767)
        assert a["gaps"] == b["gaps"]
    assert [g[2:] for g in back["left"]["gaps"]] == [("sensor-loss", "left")]
    assert back["right"]["gaps"] == []
    with pytest.raises(UserError, match="not one stream"):
        next(iter(src.chunks()))


def test_detect_on_the_export_gives_the_nights_events(one_leg_gap: dict[str, Any]) -> None:
    got = json.loads(_cli("detect", str(one_leg_gap["edf"]), "--json"))
    want = json.loads(_cli("detect", str(one_leg_gap["folder"]), "--json"))
    assert any(e["kind"] == "cramp" and e["side"] == "right" for e in want["events"])
    _same_events(got["events"], want["events"])
    assert [(g["side"], g["reason"]) for g in got["gaps"]] == [("left", "sensor-loss")]
    (gap,) = got["gaps"]
    assert gap["start_s"] == pytest.approx(want["gaps"][0]["start_s"], abs=1e-3)
    # nothing on the left leg inside its filled gap
    inside = [
        e for e in got["events"]
        if e["side"] in ("left", "both") and e["end_s"] > gap["start_s"]
        and e["start_s"] < gap["end_s"]
    ]  # fmt: skip
    assert inside == []


def test_parquet_tells_the_legs_apart(one_leg_gap: dict[str, Any]) -> None:
    night = _per_leg(open_source(one_leg_gap["folder"]).leg_items())  # type: ignore[attr-defined]
    t = pq.read_table(one_leg_gap["parquet"])
    assert t.schema.names == ["stream", "channel", "site", "index", "t_s", "value", "side"]
    df = t.to_pandas()
    received = sum(d["emg"].size + d["acc"].size for d in night.values())
    assert len(df) == received  # gaps are absent rows
    for side, d in night.items():
        emg = df[(df["side"] == side) & (df["stream"] == "emg") & (df["channel"] == "EMG1")]
        np.testing.assert_array_equal(emg["index"].to_numpy(), d["ei"])
        np.testing.assert_array_equal(emg["value"].to_numpy(), d["emg"][:, 0])
        acc = df[(df["side"] == side) & (df["stream"] == "acc") & (df["channel"] == "z")]
        np.testing.assert_array_equal(acc["index"].to_numpy(), d["ai"])
    meta = t.schema.metadata
    gaps = json.loads(meta[b"nightcramp.gaps"])
    assert [(g["side"], g["reason"]) for g in gaps] == [("left", "sensor-loss")]
    assert json.loads(meta[b"nightcramp.layout"])["emg_sides"] == ["left"] * 2 + ["right"] * 2


def test_a_gap_on_both_legs_is_an_edf_discontinuity(tmp_path: Path) -> None:
    """Both links down 150-310 s (both lose ~40 s), the left one again 400-550 s."""
    folder = _night(tmp_path / "rec", {"left": ((150.0, 160.0), (400.0, 150.0)),
                                       "right": ((150.0, 160.0),)})  # fmt: skip
    edf = tmp_path / "night.edf"
    _cli("export", str(folder), "--edf", str(edf))
    replay = run_night(open_source(folder))
    assert [(g.side, g.reason) for g in replay.gaps] == [
        ("left", "sensor-loss"), ("right", "sensor-loss"), ("left", "sensor-loss"),
    ]  # fmt: skip
    e = edfio.read_edf(edf)
    texts = [a.text for a in e.annotations]
    assert texts.count("gap: sensor-loss leg=left") == 2
    assert texts.count("gap: sensor-loss leg=right") == 1
    # the records neither leg has a sample in are left out: EDF+D, ~39 s shorter
    with open(edf, "rb") as f:
        head = f.read(256)
    assert head[192:197] == b"EDF+D"
    both0 = max(g.start_s for g in replay.gaps[:2])
    both1 = min(g.end_s for g in replay.gaps[:2])
    n_rec = int(head[236:244])
    assert n_rec == 601 - (int(np.floor(both1)) - int(np.ceil(both0)))
    got = json.loads(_cli("detect", str(edf), "--json"))
    assert [(g["side"], g["reason"]) for g in got["gaps"]] == [
        (g.side, g.reason) for g in replay.gaps
    ]
    for g, w in zip(got["gaps"], replay.gaps, strict=True):
        assert g["start_s"] == pytest.approx(w.start_s, abs=1e-3)
        assert g["end_s"] == pytest.approx(w.end_s, abs=1e-3)
    _same_events(got["events"], [{**ev.to_dict(), "side": ev.side} for ev in replay.events])


def test_a_sensor_absent_all_night_is_one_filled_leg(tmp_path: Path) -> None:
    folder = _night(tmp_path / "rec", {}, sides=("left",))
    edf, parquet = tmp_path / "night.edf", tmp_path / "night.parquet"
    _cli("export", str(folder), "--edf", str(edf))
    _cli("export", str(folder), "--parquet", str(parquet))
    with pyedflib.EdfReader(str(edf)) as r:
        assert r.getLabel(2) == "EMG calf R"
        right = r.readSignal(2, digital=True)
        assert np.all(right == FILL_DIGITAL)
        onsets, durs, texts = r.readAnnotations()
        (k,) = [i for i, t in enumerate(texts) if t == f"gap: {ABSENT} leg=right"]
        assert onsets[k] == 0.0 and durs[k] == pytest.approx(right.size / 1000.0, abs=1.0)
    got = json.loads(_cli("detect", str(edf), "--json"))
    want = json.loads(_cli("detect", str(folder), "--json"))
    assert [(g["side"], g["reason"]) for g in got["gaps"]] == [("right", ABSENT)]
    assert {e["side"] for e in got["events"]} <= {"left"}
    _same_events(got["events"], want["events"])
    df = pq.read_table(parquet).to_pandas()
    assert set(df["side"]) == {"left"}


def test_a_one_sensor_export_keeps_its_layout_and_reads_as_before(tmp_path: Path) -> None:
    """One sensor's folder of the night exports as a one-leg recording, as always."""
    folder = _night(tmp_path / "rec", {}, sides=("left",))
    edf, parquet = tmp_path / "left.edf", tmp_path / "left.parquet"
    _cli("export", str(folder / "left"), "--edf", str(edf))
    _cli("export", str(folder / "left"), "--parquet", str(parquet))
    with pyedflib.EdfReader(str(edf)) as r:
        assert [r.getLabel(i) for i in range(r.signals_in_file)] == [
            "EMG calf", "EMG tibialis", "Acc X", "Acc Y", "Acc Z",
        ]  # fmt: skip
        assert r.getDigitalMinimum(0) == -32768
    assert EdfSource(edf).leg_layouts == []
    df = pq.read_table(parquet).to_pandas()
    assert set(df["side"]) == {"left"}  # the sensor's configured leg


def test_re_export_of_the_edf_is_the_same_file(one_leg_gap: dict[str, Any], tmp_path: Path) -> None:
    again = tmp_path / "again.edf"
    _cli("export", str(one_leg_gap["edf"]), "--edf", str(again))
    a, b = edfio.read_edf(one_leg_gap["edf"]), edfio.read_edf(again)
    for x, y in zip(a.signals, b.signals, strict=True):
        assert x.label == y.label
        np.testing.assert_array_equal(x.digital, y.digital)


def test_a_night_of_one_listed_sensor_exports_as_one_leg(tmp_path: Path) -> None:
    folder, _ = create_night(tmp_path / "rec", ["left"], start_ns=int(T0.timestamp() * 1e9))
    record_emulated(folder, seed=SEEDS["left"], duration_s=120.0, drops=(), reboot_at=None,
                    start_utc=T0, folder_name="left", night_kw={"side": "left"})  # fmt: skip
    edf = tmp_path / "night.edf"
    _cli("export", str(folder), "--edf", str(edf))
    with pyedflib.EdfReader(str(edf)) as r:
        assert r.getLabel(0) == "EMG calf" and r.getDigitalMinimum(0) == -32768
        emg = r.readSignal(0)
    src = EdfSource(edf)
    assert src.leg_layouts == [] and src.layout.emg_sides == ()
    night = _per_leg(open_source(folder).leg_items())  # type: ignore[attr-defined]
    # the leg's own samples from the first record's onset on, nothing filled
    k0 = int(np.searchsorted(night["left"]["ei"], round(src.record_onsets[0] * 1000)))
    want = night["left"]["emg"][k0 : k0 + emg.size, 0]
    assert emg.size > 118_000 and want.size == emg.size
    np.testing.assert_allclose(emg, want, atol=EMG_RANGE_UV / 65535 + 1e-9)
