"""Hostile EDF/BDF headers and bodies: a one-line error naming the file, the field, its
byte offset in the file and the fix; memory bounded by the file, not by its header;
warnings (not silence) for amplitudes that only make sense in another unit."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.bench_edf_fuzz import Sig, build
from detector.stream import Chunk, Gap
from nightcramp.cli import cli
from recordings.edf import EdfSource, read_header, signal_field_offset
from recordings.errors import UserError

N = 60  # records of 1 s


def _write(tmp_path: Path, name: str, data: bytes | bytearray) -> Path:
    p = tmp_path / name
    p.write_bytes(bytes(data))
    return p


def _edfd(onsets: list[float], sigs: list[Sig] | None = None) -> bytes:
    return build(sigs or [Sig("Leg L", 500)], len(onsets), kind="EDF+D", onsets=onsets)


def _detect_json(path: Path) -> dict:
    r = CliRunner().invoke(cli, ["detect", str(path), "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output

    def strict(c: str) -> None:
        raise ValueError(c)

    return json.loads(r.stdout, parse_constant=strict)


def _tal_offset(path: Path, record: int) -> int:
    h = read_header(path)
    ann = next(s for s in h.signals if s.is_annotation)
    return h.header_bytes + record * h.record_bytes + ann.byte_offset


@pytest.mark.parametrize("jump_s", [30 * 86400, 1e7, 1e9])
def test_a_huge_edf_plus_d_gap_is_an_error_costing_nothing(tmp_path: Path, jump_s: float) -> None:
    on = [float(r) if r < 30 else r + jump_s for r in range(N)]
    p = _write(tmp_path, "gap.edf", _edfd(on))
    tracemalloc.start()
    try:
        with pytest.raises(UserError) as ei:
            EdfSource(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(ei.value)
    assert peak < 5e6  # bytes: what the file costs, not what its timestamps claim
    assert str(p) in msg and f"byte {_tal_offset(p, 30)}: " in msg and "record 31" in msg
    assert "48 h" in msg and "\n" not in msg


def test_many_1e6_s_gaps_are_refused_too(tmp_path: Path) -> None:
    on = [float(r) if r < 10 else 1e6 * r for r in range(N)]
    with pytest.raises(UserError, match=r"record onsets span .* more than the 48 h"):
        EdfSource(_write(tmp_path, "gaps.edf", _edfd(on)))


def test_a_long_gap_within_bounds_is_a_gap_not_samples(tmp_path: Path) -> None:
    """40 h between two halves of a 60-s file: one Gap item; the reader holds a block."""
    on = [float(r) if r < 30 else r + 40 * 3600.0 for r in range(N)]
    p = _write(tmp_path, "gap40h.edf", _edfd(on))
    src = EdfSource(p)
    tracemalloc.start()
    try:
        items = list(src.chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    gaps = [i for i in items if isinstance(i, Gap)]
    n = sum(i.emg.shape[0] for i in items if isinstance(i, Chunk))
    assert [(g.start_s, g.end_s) for g in gaps] == [(30.0, 30.0 + 40 * 3600)]
    assert n == N * 500  # every sample, and not one more
    assert peak < 10 * p.stat().st_size  # float64 copies of one block, not 40 h of them


@pytest.mark.parametrize("dur", ["1e8", "3600000", "1e-9", "1e-300", "0", "-1"])
def test_impossible_record_durations_are_clear_errors(tmp_path: Path, dur: str) -> None:
    data = bytearray(build([Sig("Leg L", 500)], N))
    data[244:252] = dur.encode().ljust(8)
    p = _write(tmp_path, "dur.edf", data)
    t0 = time.perf_counter()
    with pytest.raises(UserError, match=r"header byte 244: data-record duration .* outside"):
        EdfSource(p)
    assert time.perf_counter() - t0 < 2


def test_a_record_duration_that_makes_emg_1_hz_names_the_rate(tmp_path: Path) -> None:
    data = bytearray(build([Sig("Leg L", 500)], N))
    data[244:252] = b"500     "  # 500 samples per 500-s record: 1 Hz
    p = _write(tmp_path, "slow.edf", data)
    with pytest.raises(UserError, match=r"1 Hz, leg EMG is sampled at 100-10000 Hz") as ei:
        EdfSource(p)
    assert f"header byte {signal_field_offset(2, 'samples per data record', 0)}:" in str(ei.value)


@pytest.mark.parametrize(("emg_n", "acc_n", "what"), [
    (1, 50, "leg EMG"), (1_000_000, 50, "leg EMG"), (500, 2000, "an accelerometer"),
])  # fmt: skip
def test_rates_a_leg_recording_cannot_have_are_refused(
    tmp_path: Path, emg_n: int, acc_n: int, what: str
) -> None:
    sigs = [Sig("Leg L", emg_n)] + [Sig(f"Acc {a}", acc_n, "g", -8, 8) for a in "XYZ"]
    p = _write(tmp_path, "rate.edf", build(sigs, 2))
    with pytest.raises(UserError, match="is sampled at") as ei:
        EdfSource(p)
    msg = str(ei.value)
    assert what in msg and "samples per record" in msg
    i = 0 if what == "leg EMG" else 1
    off = signal_field_offset(5, "samples per data record", i)
    assert f"header byte {off}:" in msg
    assert p.read_bytes()[off : off + 8].strip() == str(emg_n if i == 0 else acc_n).encode()


def test_edf_plus_d_timestamps_going_backwards_are_an_error(tmp_path: Path) -> None:
    on = [float(r) if r < 30 else r - 250.0 for r in range(N)]
    p = _write(tmp_path, "back.edf", _edfd(on))
    with pytest.raises(UserError, match=r"record 31 starts at -220 s, before the previous") as ei:
        EdfSource(p)
    off = _tal_offset(p, 30)
    assert f"byte {off}:" in str(ei.value)
    assert p.read_bytes()[off : off + 5] == b"-220\x14"  # the offset is the record's TAL
    overlap = [float(r) if r < 30 else r - 0.5 for r in range(N)]
    with pytest.raises(UserError, match=r"record 31 starts at 29.5 s, within the previous"):
        EdfSource(_write(tmp_path, "overlap.edf", _edfd(overlap)))


def test_an_edf_plus_d_record_without_its_onset_is_an_error(tmp_path: Path) -> None:
    data = bytearray(_edfd([float(r) for r in range(N)]))
    p = _write(tmp_path, "tmp.edf", data)
    off = _tal_offset(p, 7)
    data[off : off + 4] = b"\x00" * 4
    p.write_bytes(bytes(data))
    with pytest.raises(UserError, match=rf"byte {off}: data record 8 has no time-keeping"):
        EdfSource(p)


def test_volts_on_a_microvolt_signal_warn_in_the_output_and_the_json(tmp_path: Path) -> None:
    p = _write(tmp_path, "volt.edf", build([Sig("Leg L", 500, "V")], N))
    src = EdfSource(p)
    assert len(src.warnings) == 1 and "implausible for surface EMG" in src.warnings[0]
    assert "unit 'V'" in src.warnings[0] and "volt.edf" in src.warnings[0]
    out = _detect_json(p)
    assert out["warnings"] == src.warnings
    assert any(e["peak_uv"] > 1e6 for e in out["events"])  # absurd, so said so above
    r = CliRunner().invoke(cli, ["detect", str(p)])
    assert "warning: volt.edf: signal 1 ('Leg L'): physical range" in r.output
    clean = _write(tmp_path, "uv.edf", build([Sig("Leg L", 500, "uV")], N))
    assert _detect_json(clean)["warnings"] == []


def test_an_empty_physical_range_is_a_header_error(tmp_path: Path) -> None:
    p = _write(tmp_path, "flat.edf", build([Sig("Leg L", 500, "uV", 5, 5)], N))
    off = signal_field_offset(2, "physical minimum", 0)
    with pytest.raises(UserError, match=rf"header byte {off}: signal 1 \('Leg L'\): physical "
                       r"minimum = maximum = 5 \(an empty range"):  # fmt: skip
        EdfSource(p)


def test_digital_range_beyond_the_format(tmp_path: Path) -> None:
    data = bytearray(build([Sig("Leg L", 500), Sig("Leg R", 500)], N, kind=""))
    off = signal_field_offset(2, "digital maximum", 1)
    data[off : off + 8] = b"40000   "
    with pytest.raises(UserError, match=rf"header byte {off}: signal 2 \('Leg R'\): digital "
                       r"maximum 40000 is outside what EDF stores"):  # fmt: skip
        EdfSource(_write(tmp_path, "wide.edf", data))


def test_per_signal_errors_give_their_own_file_offset(tmp_path: Path) -> None:
    """Not "header byte 880" for every signal: the offset of that signal's field."""
    base = build([Sig("Leg L", 500), Sig("Leg R", 500), Sig("Calf", 500)], N, kind="")
    seen = set()
    for i in range(3):
        for name in ("physical maximum", "digital minimum", "samples per data record"):
            data = bytearray(base)
            off = signal_field_offset(3, name, i)
            data[off : off + 8] = b"x1      "
            with pytest.raises(UserError, match=rf"header byte {off}: signal {i + 1} .*{name}"):
                EdfSource(_write(tmp_path, "f.edf", data))
            seen.add(off)
    assert len(seen) == 9


def test_non_ascii_bytes_are_placed_in_the_file(tmp_path: Path) -> None:
    data = bytearray(build([Sig("Leg L", 500), Sig("Leg R", 500)], N, kind=""))
    off = signal_field_offset(2, "label", 1) + 3
    data[off] = 0xE9
    with pytest.raises(UserError, match=rf"header byte {off}: signal 2 label is not ASCII"):
        EdfSource(_write(tmp_path, "latin.edf", data))


def test_a_file_only_with_annotations_says_so(tmp_path: Path) -> None:
    p = _write(tmp_path, "ann.edf", build([], N))
    with pytest.raises(UserError, match="only an annotation channel, no signal") as ei:
        EdfSource(p)
    assert "among:  --" not in str(ei.value)


def test_file_longer_than_its_header_is_an_error_and_shorter_a_truncated_tail(
    tmp_path: Path,
) -> None:
    data = build([Sig("Leg L", 500)], N)
    with pytest.raises(UserError, match=r"exceeds the .* its header declares"):
        EdfSource(_write(tmp_path, "long.edf", data + b"\x00" * 3))
    cut = EdfSource(_write(tmp_path, "cut.edf", data[: len(data) - 1500]))
    assert cut.header.n_records == N - 2 and cut.header.declared_records == N
    assert any("truncated tail" in w and "last 2 records (2 s)" in w for w in cut.warnings)
    got = sum(c.emg.shape[0] for c in cut.chunks() if isinstance(c, Chunk))
    assert got == (N - 2) * 500


def test_two_emg_rates_give_no_nan_even_for_an_event_at_the_start(tmp_path: Path) -> None:
    """4000 and 1000 Hz EMG with activity from the first second (before a resting level
    exists): every number in the JSON is finite."""
    sigs = [Sig("Leg L", 4000), Sig("Leg R", 1000)]
    p = _write(tmp_path, "mixed.edf", build(sigs, N, burst=(0.0, 6.0)))
    out = _detect_json(p)  # a strict parser: NaN would raise
    assert out["layout"]["emg_fs"] == 4000 and out["events"]
    assert all(e["peak_x_rest"] > 1 for e in out["events"] if e["start_s"] < 2)


def test_a_slow_but_legal_emg_rate_is_not_read_as_electrode_off(tmp_path: Path) -> None:
    """128 Hz EMG: frames of one sample had no variance, so the night read as flat."""
    p = _write(tmp_path, "slow.edf", build([Sig("Leg L", 128)], 120, burst=(40.0, 90.0)))
    out = _detect_json(p)
    assert out["stats"]["detector_electrode_off_s"] == 0.0
    cramps = [e for e in out["events"] if e["kind"] == "cramp"]
    assert len(cramps) == 1 and 38 <= cramps[0]["start_s"] <= 42


DATA = Path(__file__).resolve().parents[1] / "data"


def test_real_files_from_other_projects_give_the_right_one_line_errors() -> None:
    """A Sleep-EDF PSG cut (via edfio's test data): no leg channel; its 1-Hz chin EMG
    envelope named with --emg is refused by rate; its hypnogram holds annotations only."""
    psg = DATA / "short_psg.edf"
    with pytest.raises(UserError, match=r"no leg EMG channel recognised among: EEG Fpz-Cz"):
        EdfSource(psg)
    with pytest.raises(UserError) as ei:
        EdfSource(psg, emg=["EMG submental"])
    off = signal_field_offset(read_header(psg).signals[0].n_signals, "samples per data record", 4)
    assert str(ei.value) == (
        f"{psg}: header byte {off}: signal 5 ('EMG submental'): 30 samples per 30-s data "
        "record is 1 Hz, leg EMG is sampled at 100-10000 Hz -- pick the right channel with "
        "--emg LABEL, or fix its samples per record or the record duration (header byte 244)"
    )
    assert psg.read_bytes()[off : off + 8].strip() == b"30"
    with pytest.raises(UserError, match="only an annotation channel, no signal"):
        EdfSource(DATA / "SC4001EC-Hypnogram.edf")


def test_hundreds_of_leg_channels_are_refused_not_allocated(tmp_path: Path) -> None:
    p = _write(tmp_path, "many.edf", build([Sig(f"Leg L{i}", 200) for i in range(300)], 2))
    with pytest.raises(UserError, match="300 channels taken as leg EMG, at most 16"):
        EdfSource(p)
    assert EdfSource(p, emg=["Leg L7", "Leg L9"]).layout.n_emg == 2
