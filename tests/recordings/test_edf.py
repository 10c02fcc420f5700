"""EDF/BDF in and EDF+ out, checked against independent readers (pyedflib, MNE, edfio)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import edfio
import mne
import numpy as np
import pyedflib
import pytest

from detector.events import Event
from detector.stream import ArraySource, Chunk, Gap, StreamLayout
from recordings.edf import EdfSource, is_leg_emg_label, read_header, write_edf
from recordings.errors import UserError

LAYOUT = StreamLayout(
    1000.0, ("EMG1", "EMG2"), ("calf", "tibialis"), 50.0, datetime(2026, 1, 2, 23, 4, 5, tzinfo=UTC)
)
EVENTS = [
    Event("cramp", 1.5, 3.25, subtype="calf", confidence=0.9),
    Event("plm", 8.0, 9.0, confidence=0.75),
]


def _signals(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 50, (n, 2)), rng.normal(0, 0.5, (n // 20, 3))


class _GapSource:
    """Samples 0..5 s, a 2-s link gap, then 7..12.5 s (a partial last record)."""

    layout = LAYOUT

    def __init__(self) -> None:
        self.emg, self.acc = _signals(10_500)

    def chunks(self):  # noqa: ANN201
        yield from ArraySource(LAYOUT, self.emg[:5000], self.acc[:250], chunk_s=0.7).chunks()
        yield Gap(5.0, 7.0, "link")
        for it in ArraySource(LAYOUT, self.emg[5000:], self.acc[250:], chunk_s=0.33).chunks():
            yield Chunk(it.emg_start + 7000, it.emg, it.acc_start + 350, it.acc)

    def wall_time(self, t: float) -> None:
        return None


RES_UV = 20_000 / 65535  # export resolution (µV per count)


def test_edf_plus_c_round_trip_with_pyedflib_and_mne(tmp_path: Path) -> None:
    emg, acc = _signals(12_000)
    src = ArraySource(LAYOUT, emg, acc, chunk_s=0.37)
    st = write_edf(src, tmp_path / "c.edf", EVENTS)
    assert st.records == 12 and st.dropped_tail_samples == 0
    r = pyedflib.EdfReader(str(tmp_path / "c.edf"))
    try:
        assert r.getSignalLabels() == ["EMG calf", "EMG tibialis", "Acc X", "Acc Y", "Acc Z"]
        assert r.getSampleFrequency(0) == 1000 and r.getSampleFrequency(2) == 50
        assert np.max(np.abs(r.readSignal(0) - emg[:, 0])) <= RES_UV / 2 + 1e-6
        assert np.max(np.abs(r.readSignal(4) - acc[:, 2])) <= 32 / 65535 / 2 + 1e-9
        on, du, tx = r.readAnnotations()
        assert list(on) == [1.5, 8.0] and list(du) == [1.75, 1.0]
        assert list(tx) == ["cramp/calf conf=0.90", "plm conf=0.75"]
        assert r.getStartdatetime() == datetime(2026, 1, 2, 23, 4, 5)
    finally:
        r.close()
    raw = mne.io.read_raw_edf(tmp_path / "c.edf", preload=True, verbose="error")
    data = raw.get_data(picks=["EMG calf"])[0] * 1e6  # MNE gives volts
    assert np.max(np.abs(data - emg[:, 0])) <= RES_UV / 2 + 1e-6
    assert list(raw.annotations.onset) == [1.5, 8.0]
    # and our own reader gives the same samples back
    back = EdfSource(tmp_path / "c.edf")
    got = np.concatenate([c.emg for c in back.chunks() if isinstance(c, Chunk)])
    assert np.max(np.abs(got - emg)) <= RES_UV / 2 + 1e-6


def test_gaps_survive_as_edf_plus_d_and_tail_is_not_padded(tmp_path: Path) -> None:
    src = _GapSource()
    st = write_edf(src, tmp_path / "d.edf", EVENTS)
    assert st.records == 10  # 5 + 5 whole records; the 0.5 s tail is not padded
    assert st.dropped_tail_samples == 500 and st.gaps == 1
    h = read_header(tmp_path / "d.edf")
    assert h.discontinuous and h.n_records == 10
    e = edfio.read_edf(tmp_path / "d.edf")  # independent reader
    assert e.signals[0].data.shape == (10_000,)  # no padded samples
    texts = {a.text: (a.onset, a.duration) for a in e.annotations}
    assert texts["gap: link"] == (5.0, 2.0)
    assert any(t.startswith("not exported: 0.500 s") for t in texts)
    assert texts["cramp/calf conf=0.90"] == (1.5, 1.75)
    # our reader keeps the gap and puts samples back at their true time
    back = EdfSource(tmp_path / "d.edf")
    items = list(back.chunks())
    gaps = [i for i in items if isinstance(i, Gap)]
    assert [(g.start_s, g.end_s, g.reason) for g in gaps] == [(5.0, 7.0, "edf-discontinuity")]
    chunks = [i for i in items if isinstance(i, Chunk)]
    assert chunks[0].emg_start == 0 and chunks[-1].emg_start + chunks[-1].emg.shape[0] == 12_000
    got = np.concatenate([c.emg for c in chunks])
    assert np.max(np.abs(got[5000:] - src.emg[5000:10_000])) <= RES_UV / 2 + 1e-6


def _write_edf(path: Path, sigs: list[dict], data: list[np.ndarray], bdf: bool = False) -> None:
    ft = pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    w = pyedflib.EdfWriter(str(path), len(sigs), file_type=ft)
    try:
        w.setSignalHeaders(sigs)
        w.writeSamples(data)
        w.writeAnnotation(2.0, 1.0, "Leg movement")
    finally:
        w.close()


def _hdr(label: str, fs: int, unit: str, lim: float) -> dict:
    return {
        "label": label,
        "dimension": unit,
        "sample_frequency": fs,
        "physical_max": lim,
        "physical_min": -lim,
        "digital_max": 32767,
        "digital_min": -32768,
        "transducer": "",
        "prefilter": "",
    }


def _sleep_lab_file(path: Path, bdf: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A PSG-like file: EEG, chin EMG, ECG, two leg EMGs at 256/512 Hz in mV and V, acc m/s²."""
    t256 = np.arange(256 * 20) / 256
    t512 = np.arange(512 * 20) / 512
    leg_l_uv = 40 * np.sin(2 * np.pi * 10 * t512)
    leg_r_uv = 30 * np.sin(2 * np.pi * 7 * t256)
    t32 = np.arange(32 * 20) / 32
    acc_g = np.stack([0.1 * np.sin(2 * np.pi * 0.5 * t32), 0 * t32, 1 + 0 * t32], axis=1)
    sigs = [
        _hdr("C3-M2", 256, "uV", 500),
        _hdr("Chin1-Chin2", 512, "uV", 500),
        _hdr("ECG", 256, "mV", 5),
        _hdr("Leg L", 512, "mV", 2),
        _hdr("Leg R", 256, "V", 0.002),
        _hdr("Acc X", 32, "m/s2", 40),
        _hdr("Acc Y", 32, "m/s2", 40),
        _hdr("Acc Z", 32, "m/s2", 40),
    ]
    data = [
        np.zeros(256 * 20),
        np.zeros(512 * 20),
        np.zeros(256 * 20),
        leg_l_uv / 1000,
        leg_r_uv / 1e6,
        acc_g[:, 0] * 9.80665,
        acc_g[:, 1] * 9.80665,
        acc_g[:, 2] * 9.80665,
    ]
    _write_edf(path, sigs, data, bdf)
    return np.stack([leg_l_uv, 30 * np.sin(2 * np.pi * 7 * t512)], axis=1), acc_g


@pytest.mark.parametrize("bdf", [False, True])
def test_sleep_lab_file_units_rates_and_default_channels(tmp_path: Path, bdf: bool) -> None:
    p = tmp_path / ("psg.bdf" if bdf else "psg.edf")
    emg_ref, acc_ref = _sleep_lab_file(p, bdf)
    src = EdfSource(p, block_s=3.0)
    assert src.layout.emg_labels == ("Leg L", "Leg R")  # not chin, EEG or ECG
    assert src.layout.emg_fs == 512 and src.layout.acc_fs == 32
    assert src.layout.emg_sites == ("tibialis", "tibialis")
    emg = np.concatenate([c.emg for c in src.chunks() if isinstance(c, Chunk)])
    acc = np.concatenate([c.acc for c in src.chunks() if isinstance(c, Chunk)])
    assert emg.shape == (512 * 20, 2)
    assert np.max(np.abs(emg[:, 0] - emg_ref[:, 0])) < 0.07  # mV -> µV; 1 count = 0.061 µV
    core = slice(512, -512)  # the 256 Hz channel upsampled to 512 Hz (edges: filter ramp)
    assert np.max(np.abs(emg[core, 1] - emg_ref[core, 1])) < 0.5
    assert np.max(np.abs(acc - acc_ref)) < 0.002  # m/s² -> g
    # the result does not depend on the block size
    emg60 = np.concatenate([c.emg for c in EdfSource(p).chunks() if isinstance(c, Chunk)])
    np.testing.assert_allclose(emg, emg60, atol=1e-9)
    assert [(a.onset_s, a.text) for a in src.annotations] == [(2.0, "Leg movement")]


def test_explicit_channel_choice_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "psg.edf"
    _sleep_lab_file(p)
    src = EdfSource(p, emg=["leg r"], acc=["Acc X", "Acc Y", "Acc Z"])
    assert src.layout.emg_labels == ("Leg R",) and src.layout.emg_fs == 256
    with pytest.raises(UserError, match="no channel labelled 'Tib'.*--emg"):
        EdfSource(p, emg=["Tib"])
    with pytest.raises(UserError, match="'ECG'.*unit 'mV'|unit 'mV'.*ECG") as ei:
        EdfSource(p, emg=["Leg L"], acc=["ECG", "Acc Y", "Acc Z"])
    assert "--acc" in str(ei.value)
    with pytest.raises(UserError, match="unit 'uV' is not an accelerometer unit"):
        EdfSource(p, acc=["C3-M2", "Acc Y", "Acc Z"])


def test_label_recogniser() -> None:
    for lbl in ["LAT", "RAT", "Leg L", "Leg/R", "EMG Tib", "Tib L", "Gastroc", "Calf", "PLM r",
                "EMG LEG", "L-Leg", "Soleus R", "EMG calf"]:  # fmt: skip
        assert is_leg_emg_label(lbl), lbl
    for lbl in ["Chin1", "Chin EMG", "EMG submental", "C3-M2", "EOG L", "ECG", "EKG",
                "Thor", "Abdomen", "SpO2", "Acc X", "Position", "EEG Fpz-Cz"]:  # fmt: skip
        assert not is_leg_emg_label(lbl), lbl


def test_bad_files_give_one_line_user_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.edf"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        EdfSource(empty)
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"hello world" * 100)
    with pytest.raises(UserError, match="not an EDF/BDF file"):
        EdfSource(junk)
    p = tmp_path / "psg.edf"
    _sleep_lab_file(p)
    data = p.read_bytes()
    trunc = tmp_path / "trunc.edf"
    trunc.write_bytes(data[: len(data) - 1000])
    whole = read_header(p)
    cut = EdfSource(trunc)  # a truncated tail: the whole records are read, and said so
    assert cut.header.n_records == whole.n_records - 1
    assert any("truncated tail" in w and f"declares {whole.n_records}" in w for w in cut.warnings)
    longer = tmp_path / "longer.edf"
    longer.write_bytes(data + b"\0" * 10)
    with pytest.raises(UserError, match="exceeds.*header byte 236"):
        EdfSource(longer)
    short = tmp_path / "short.edf"
    short.write_bytes(data[:600])
    with pytest.raises(UserError, match="header truncated"):
        EdfSource(short)
    bad = bytearray(data)
    bad[236:244] = b"abc     "
    (tmp_path / "bad.edf").write_bytes(bytes(bad))
    with pytest.raises(UserError, match="header byte 236"):
        EdfSource(tmp_path / "bad.edf")
    # no usable channel: only EEG/chin
    nolegs = tmp_path / "nolegs.edf"
    _write_edf(nolegs, [_hdr("C3-M2", 256, "uV", 500)], [np.zeros(256 * 4)])
    with pytest.raises(UserError, match="no leg EMG channel recognised.*--emg"):
        EdfSource(nolegs)
    # missing unit
    nounit = tmp_path / "nounit.edf"
    _write_edf(nounit, [_hdr("Leg L", 256, "", 500)], [np.zeros(256 * 4)])
    with pytest.raises(UserError, match=r"unit '\(empty\)'"):
        EdfSource(nounit)


@pytest.mark.parametrize(
    ("label", "site"),
    [
        ("EMG TA", "tibialis"),
        ("L-TA", "tibialis"),
        ("Tibialis anterior R", "tibialis"),
        ("EMG GM", "gastrocnemius"),
        ("Gastrocnemius med", "gastrocnemius"),
        ("R Sol", "soleus"),
        ("EMG calf", "calf"),
    ],
)
def test_muscle_names_sleep_labs_use_are_leg_emg(label: str, site: str) -> None:
    from recordings.edf import _site_for, is_leg_emg_label

    assert is_leg_emg_label(label)
    assert _site_for(label) == site


@pytest.mark.parametrize("label", ["EMG Chin", "Chin1-Chin2", "EEG C3-A2", "ECG", "EMG1"])
def test_chin_eeg_ecg_and_unnamed_emg_are_not_leg_labels(label: str) -> None:
    from recordings.edf import is_leg_emg_label

    assert not is_leg_emg_label(label)


def test_unnamed_emg_channels_are_taken_when_no_channel_names_a_leg(tmp_path: Path) -> None:
    """A leg sensor's own export may call its channels EMG1, EMG2: use them, never chin."""
    from recordings.edf import EdfSource

    fs = 500
    sig = np.random.default_rng(0).normal(0, 5, 60 * fs)
    signals = [
        edfio.EdfSignal(sig, fs, label=lab, physical_dimension="uV", physical_range=(-3000, 3000))
        for lab in ("EMG1", "EMG2")
    ]
    path = tmp_path / "unnamed.edf"
    edfio.Edf(signals).write(path)
    src = EdfSource(path)
    assert src.layout.emg_labels == ("EMG1", "EMG2")
    assert src.layout.emg_sites == ("unknown", "unknown")
    chin = tmp_path / "psg.edf"
    edfio.Edf(
        [
            edfio.EdfSignal(
                sig, fs, label=lab, physical_dimension="uV", physical_range=(-3000, 3000)
            )
            for lab in ("EMG1", "EMG Chin", "Leg L")
        ]
    ).write(chin)
    assert EdfSource(chin).layout.emg_labels == ("Leg L",)
