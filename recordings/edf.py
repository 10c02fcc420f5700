"""EDF / EDF+ / BDF in and EDF+ out, streaming by data-record blocks.

Reading (:class:`EdfSource`)
----------------------------
The header is parsed here and the data records are read through a NumPy memory map,
block by block (``block_s`` seconds of records at a time), so an 8-hour or 24-hour file
never sits in memory.  (edfio 0.4 reads whole signals; its header model is what we
mirror.)  EDF (int16), EDF+C/EDF+D and BDF/BDF+ (int24) are understood.

* EMG channels are picked by ``emg=[labels]`` or by the default recogniser
  (:func:`pick_emg`): leg EMG labels used by sleep labs (AASM anterior tibialis leads
  ``LAT``/``RAT``, ``Leg L``, ``Leg/R``, ``EMG Tib``, ``PLM``, ``Gastroc``, ``Calf``,
  ``Soleus``, ...); chin/submental EMG, EEG, EOG, ECG, respiration etc. are ignored.
* Accelerometer: ``acc=[x, y, z]`` or the three channels whose labels look like
  ``Acc X``/``Accel Y``/``AccZ``.
* Units: µV/uV/mV/V (-> µV) and g/mg/m/s² (-> g); anything else is a ``UserError`` naming
  the channel and the fix.
* Per-channel rates: EMG channels with different rates are resampled to the highest of
  them (acc likewise) with :func:`scipy.signal.resample_poly` on blocks carrying
  ``RESAMPLE_CONTEXT_S`` of neighbouring samples on both sides, so the output does not
  depend on the block size (the FIR is far shorter than the context).
* EDF+D: the data-record onsets (first TAL of each record) are honoured; a jump between
  records is a :class:`~detector.stream.Gap` with reason ``edf-discontinuity``.
* EDF+ annotations are read into :attr:`EdfSource.annotations`.

Timeline: t = 0 is the onset of the first data record.  ``start_utc`` is the header's
start date/time taken as UTC (EDF stores local clock time without a zone).

Writing (:func:`write_edf`)
---------------------------
EDF+ (``EDF+C``, or ``EDF+D`` when the source has gaps), 16-bit, data records of
``record_s`` (default 1 s).  The last partial data record of each continuous segment is
never padded with samples that were not measured: those < ``record_s`` seconds are left
out and an annotation says so.  Gaps are kept as record-onset jumps (EDF+D) *and* an
explicit ``gap: <reason>`` annotation.  Events become annotations
``<kind>[/<subtype>] conf=<c>``.  Fixed physical ranges (streaming: the range must be in
the header before the first sample): EMG +-10 000 µV (resolution 0.31 µV; surface EMG
rarely exceeds 5 mV), acceleration +-16 g (the sensor's widest range).  Clipped samples
are counted and annotated.

Both legs, one sensor each (a source with ``leg_layouts``/``leg_items()``, e.g.
:class:`recordings.night.NightSource`): one file on the night's timeline, each leg's EMG
and accelerometer channels labelled ``L``/``R``; a record neither leg has a sample in is
left out (EDF+D), one leg's missing samples hold :data:`FILL_DIGITAL` (-32768, below the
declared digital minimum -32767) and are annotated ``gap: <reason> leg=<side>`` (or
``no samples leg=<side>`` outside that leg's gaps); see :func:`_write_edf_legs`.  Such
a file reads back as :attr:`EdfSource.leg_layouts` and :meth:`EdfSource.leg_items`:
each leg's own chunks (its accelerometer, its filled samples left out) and its own gaps.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from detector.events import Event
from detector.stream import Chunk, Gap, Source, StreamLayout, simple_wall_time
from recordings import files
from recordings.errors import UserError

#: Context (s) read on each side of a block before resampling; resample_poly's default
#: Kaiser FIR spans 10*max(up, down) input samples on each side of the output, which is
#: well under 1 s at the rates we see (128 Hz .. 4 kHz, ratios up to ~ 16).
RESAMPLE_CONTEXT_S = 1.0

UV_UNITS = {
    "uv": 1.0, "µv": 1.0, "μv": 1.0, "microv": 1.0, "microvolt": 1.0, "microvolts": 1.0,
    "mv": 1e3, "millivolt": 1e3, "v": 1e6, "volt": 1e6, "volts": 1e6, "nv": 1e-3,
}  # fmt: skip
G_UNITS = {
    "g": 1.0, "mg": 1e-3,
    "m/s2": 1 / 9.80665, "m/s^2": 1 / 9.80665, "m/s²": 1 / 9.80665, "ms-2": 1 / 9.80665,
    "m.s-2": 1 / 9.80665, "m*s^-2": 1 / 9.80665, "ms^-2": 1 / 9.80665,
}  # fmt: skip

_EXCLUDE = re.compile(
    r"chin|ment|submental|\beeg|\beog|\becg|\bekg|resp|spo2|sao2|flow|thor|abd|snor|"
    r"pleth|pulse|\bhr\b|position|\bpos\b|\bloc\b|\broc\b|\be[12]\b|^(c|f|o|p|t|a|m)[z0-9]|"
    r"light|audio|mic|temp|press|cpap|annot",
    re.IGNORECASE,
)
_LEG = re.compile(
    r"\b[lr]?at\b|\bleg|leg\b|tib|gastr|calf|sole|\bplm|\bl?r?\s*-?\s*leg|lleg|rleg|"
    r"emg\s*[lr]\b|\b[lr]\s*emg|\b[lr]?ta\b|\b[lr]?(gm|gl|gas|sol)\b|shank|lower.?limb",
    re.IGNORECASE,
)
#: An EMG channel that names no muscle ("EMG1", "EMG 2", "sEMG"): a leg sensor's own export.
#: Taken only when no channel names a leg muscle, so a PSG's chin EMG never is.
_GENERIC_EMG = re.compile(r"^\s*s?emg\s*[-_ ]?\s*\d*\s*$", re.IGNORECASE)
_ACC = re.compile(r"acc|accel|\bax\b|\bay\b|\baz\b", re.IGNORECASE)


def _unit_key(u: str) -> str:
    return u.strip().replace(" ", "").lower()


def _site_for(label: str) -> str:
    s = label.lower()
    if "gastr" in s or re.search(r"\b[lr]?(gm|gl|gas)\b", s):
        return "gastrocnemius"
    if "sole" in s or re.search(r"\b[lr]?sol\b", s):
        return "soleus"
    if "calf" in s:
        return "calf"
    if _GENERIC_EMG.match(label):
        return "unknown"  # the detector treats it as the cramping muscle (calf)
    # Sleep-lab leg EMG is the anterior tibialis (AASM scoring manual, PLM recording).
    return "tibialis"


def _side_for(label: str) -> str | None:
    s = label.strip()
    if re.search(r"(^|[^a-z])(l|left|lat)([^a-z]|$)", s, re.IGNORECASE) or re.match(
        r"^l[-_ ]", s, re.IGNORECASE
    ):
        return "left"
    if re.search(r"(^|[^a-z])(r|right|rat)([^a-z]|$)", s, re.IGNORECASE):
        return "right"
    return None


def is_leg_emg_label(label: str) -> bool:
    return bool(_LEG.search(label)) and not _EXCLUDE.search(label) and not _ACC.search(label)


def _acc_axis(label: str) -> str | None:
    if not _ACC.search(label):
        return None
    m = re.search(r"([xyz])\s*$|[\s_-]([xyz])\b|acc([xyz])", label, re.IGNORECASE)
    if not m:
        return None
    return next(g for g in m.groups() if g).lower()


# ====================================================================== header

#: What a leg recording can be: EMG sampled at 100 Hz .. 10 kHz, acceleration at 1 Hz .. 1 kHz.
EMG_FS_RANGE = (100.0, 10_000.0)
ACC_FS_RANGE = (1.0, 1_000.0)
#: Data-record durations accepted, s.  EDF stores the duration in 8 characters; EDF+
#: recommends whole seconds and records of at most 61 440 bytes; a record shorter than a
#: millisecond or longer than an hour is a corrupt field, not a recording.
RECORD_S_RANGE = (0.001, 3600.0)
#: The longest timeline a file may declare (first record onset to the end of the last
#: record, gaps included): two nights.  The detector keeps a few numbers per second of
#: timeline (about 30 MB a day), so a corrupt EDF+D timestamp must not declare months.
MAX_SPAN_S = 48 * 3600.0
#: Onset of the first data record after the header's start time (EDF+), at most, s.
MAX_FIRST_ONSET_S = 86400.0
#: Digital range each format can store.
DIGITAL_RANGE = {False: (-32768, 32767), True: (-(1 << 23), (1 << 23) - 1)}
#: EMG channels read at most: a leg recording has a few (the detector keeps ~4 MB of
#: recent frames per channel), a file with hundreds of "leg" labels is no such recording.
MAX_EMG_CHANNELS = 16
#: Physical ranges (after unit conversion) beyond which an amplitude only makes sense in
#: another unit: surface EMG stays well under 10 mV; accelerometers span 1..400 g.
EMG_RANGE_PLAUSIBLE_UV = (20.0, 100_000.0)
ACC_RANGE_PLAUSIBLE_G = (0.5, 1000.0)

#: The per-signal header fields: (name, width); the block of field k for all ``ns``
#: signals starts at file byte ``256 + ns * sum(widths before k)``.
SIGNAL_FIELDS = (
    ("label", 16), ("transducer type", 80), ("physical dimension", 8),
    ("physical minimum", 8), ("physical maximum", 8), ("digital minimum", 8),
    ("digital maximum", 8), ("prefiltering", 80), ("samples per data record", 8),
    ("reserved", 32),
)  # fmt: skip


def signal_field_offset(ns: int, name: str, i: int) -> int:
    """File byte offset of field ``name`` of signal ``i`` (0-based) in a header of ``ns``."""
    off = 256
    for fname, width in SIGNAL_FIELDS:
        if fname == name:
            return off + width * i
        off += width * ns
    raise KeyError(name)


_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")


@dataclass
class EdfSignal:
    index: int
    label: str
    transducer: str
    unit: str
    pmin: float
    pmax: float
    dmin: int
    dmax: int
    prefilter: str
    n_per_record: int
    byte_offset: int = 0  # within a data record
    n_signals: int = 0  # signals in the header (to place this signal's fields in the file)

    @property
    def is_annotation(self) -> bool:
        return self.label.strip() in ("EDF Annotations", "BDF Annotations")

    @property
    def gain(self) -> float:
        return (self.pmax - self.pmin) / (self.dmax - self.dmin)

    def offset(self, name: str) -> int:
        """File byte offset of this signal's header field ``name``."""
        return signal_field_offset(self.n_signals, name, self.index)


@dataclass
class EdfHeader:
    path: Path
    bdf: bool
    plus: bool
    discontinuous: bool
    start: datetime
    header_bytes: int
    n_records: int
    record_s: float
    signals: list[EdfSignal]
    record_bytes: int
    sample_bytes: int
    patient: str = ""
    recording: str = ""
    warnings: list[str] = field(default_factory=list)
    declared_records: int = 0
    """The header's data-record count (-1: not closed); ``n_records`` is what the file holds."""


def _field(raw: bytes, pos: int, width: int, path: Path, what: str, base: int = 0) -> str:
    """An ASCII header field of ``raw`` at ``pos`` (``base`` + ``pos`` is its file offset)."""
    b = raw[pos : pos + width]
    try:
        s = b.decode("ascii")
    except UnicodeDecodeError:
        bad = next(k for k, c in enumerate(b) if c > 127)
        raise UserError(
            f"{path}: header byte {base + pos + bad}: {what} is not ASCII -- the file is "
            "corrupt or not EDF/BDF; re-export it from the recording software"
        ) from None
    return s.strip()


def _num(txt: str, pos: int, path: Path, what: str, kind: type = float) -> Any:
    ok = _INT_RE.match(txt) if kind is int else _FLOAT_RE.match(txt)
    v = float(txt) if ok else math.nan
    if not math.isfinite(v):
        want = "a whole number" if kind is int else "a number"
        raise UserError(
            f"{path}: header byte {pos}: {what} {txt!r} is not {want} -- the file is "
            "truncated or not EDF/BDF; re-export it from the recording software"
        )
    return int(txt) if kind is int else v


def read_header(path: str | os.PathLike[str]) -> EdfHeader:
    """Parse and validate an EDF/EDF+/BDF header (``UserError`` on anything wrong).

    Every field is checked against what the format allows; the size of the file against
    what the header declares (a shortfall is a truncated tail: the whole records present
    are used and a warning says what is missing; extra bytes are an error).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(256)
            if len(head) == 0:
                raise UserError(f"{p}: the file is empty -- pass an EDF/BDF recording")
            if len(head) < 256:
                raise UserError(
                    f"{p}: only {len(head)} bytes, an EDF header needs 256 -- the file is "
                    "truncated; re-export it"
                )
            ver = head[:8]
            bdf = ver == b"\xffBIOSEMI"
            if not bdf and ver.strip() != b"0":
                raise UserError(
                    f"{p}: header byte 0: version {ver!r} is neither EDF ('0') nor BDF -- "
                    "not an EDF/BDF file"
                )
            ns = _num(_field(head, 252, 4, p, "signal count"), 252, p, "signal count", int)
            if not 1 <= ns <= 4096:
                raise UserError(
                    f"{p}: header byte 252: impossible signal count {ns} (1..4096) -- the "
                    "file is corrupt; re-export it"
                )
            rest = f.read(256 * ns)
    except OSError as e:
        raise UserError(f"{p}: cannot read ({e.strerror}) -- check the path") from None
    if len(rest) < 256 * ns:
        raise UserError(
            f"{p}: header truncated at byte {256 + len(rest)} (needs {256 * (ns + 1)}) -- "
            "re-export the file"
        )
    patient = _field(head, 8, 80, p, "patient")
    recording = _field(head, 88, 80, p, "recording")
    d = _field(head, 168, 8, p, "start date")
    t = _field(head, 176, 8, p, "start time")
    hb = _num(_field(head, 184, 8, p, "header size"), 184, p, "header size", int)
    reserved = _field(head, 192, 44, p, "reserved")
    nrec = _num(_field(head, 236, 8, p, "data-record count"), 236, p, "data-record count", int)
    dur = _num(_field(head, 244, 8, p, "data-record duration"), 244, p, "data-record duration")
    if hb != 256 * (ns + 1):
        raise UserError(
            f"{p}: header byte 184: header size {hb} != 256*(1+{ns}) -- the file is corrupt"
        )
    try:
        if not (re.fullmatch(r"\d\d\.\d\d\.\d\d", d) and re.fullmatch(r"\d\d\.\d\d\.\d\d", t)):
            raise ValueError
        dd, mm, yy = (int(x) for x in d.split("."))
        hh, mi, ss = (int(x) for x in t.split("."))
        year = 1900 + yy if yy >= 85 else 2000 + yy
        m = re.match(r"Startdate (\d\d)-([A-Z]{3})-(\d{4})", recording)
        if m:
            year = int(m.group(3))
        start = datetime(year, mm, dd, hh, mi, ss, tzinfo=UTC)
    except ValueError:
        raise UserError(
            f"{p}: header byte 168: start date/time {d!r} {t!r} is not dd.mm.yy hh.mm.ss -- "
            "the file is corrupt"
        ) from None
    plus = reserved.startswith("EDF+") or reserved.startswith("BDF+")
    if plus and reserved[4:5] not in ("C", "D"):
        raise UserError(
            f"{p}: header byte 196: reserved field {reserved[:8]!r} is neither EDF+C nor "
            "EDF+D -- the file is corrupt; re-export it"
        )
    lo, hi = DIGITAL_RANGE[bdf]
    fmt = "BDF" if bdf else "EDF"

    def col(name: str, i: int, *, ascii_only: bool = True) -> str:
        pos = signal_field_offset(ns, name, i) - 256
        width = dict(SIGNAL_FIELDS)[name]
        if ascii_only:
            return _field(rest, pos, width, p, f"signal {i + 1} {name}", base=256)
        return rest[pos : pos + width].decode("latin-1").strip()

    def num(name: str, i: int, label: str, kind: type = float) -> Any:
        pos = signal_field_offset(ns, name, i)
        return _num(col(name, i), pos, p, f"signal {i + 1} ({label!r}) {name}", kind)

    sigs: list[EdfSignal] = []
    base = 0
    for i in range(ns):
        label = col("label", i)
        s = EdfSignal(
            index=i,
            label=label,
            transducer=col("transducer type", i, ascii_only=False),
            unit=col("physical dimension", i, ascii_only=False),
            pmin=num("physical minimum", i, label),
            pmax=num("physical maximum", i, label),
            dmin=num("digital minimum", i, label, int),
            dmax=num("digital maximum", i, label, int),
            prefilter=col("prefiltering", i, ascii_only=False),
            n_per_record=num("samples per data record", i, label, int),
            n_signals=ns,
        )
        where = f"{p}: header byte {{}}: signal {i + 1} ({s.label!r})"
        if s.n_per_record <= 0:
            raise UserError(
                where.format(s.offset("samples per data record"))
                + f": {s.n_per_record} samples per data record -- the file is corrupt; "
                "re-export it"
            )
        if not s.is_annotation:
            if s.dmax <= s.dmin:
                raise UserError(
                    where.format(s.offset("digital minimum"))
                    + f": digital maximum {s.dmax} <= minimum {s.dmin} -- the file is corrupt; "
                    "re-export it"
                )
            for name, v in (("digital minimum", s.dmin), ("digital maximum", s.dmax)):
                if not lo <= v <= hi:
                    raise UserError(
                        where.format(s.offset(name))
                        + f": {name} {v} is outside what {fmt} stores ({lo}..{hi}) -- the "
                        "file is corrupt; re-export it"
                    )
            if s.pmin == s.pmax:
                raise UserError(
                    where.format(s.offset("physical minimum"))
                    + f": physical minimum = maximum = {s.pmin:g} (an empty range: every "
                    "sample would read the same) -- fix the physical range in the file"
                )
        s.byte_offset = base
        base += s.n_per_record * (3 if bdf else 2)
        sigs.append(s)
    record_bytes = base
    warnings: list[str] = []
    avail = (size - hb) // record_bytes
    extra = (size - hb) - avail * record_bytes
    declared = nrec
    if nrec == -1:
        nrec = avail
        warnings.append(
            f"{p.name}: data-record count -1 (recording not closed): {avail} records "
            "counted from the file size"
        )
        if extra:
            warnings.append(
                f"{p.name}: truncated tail: {extra} bytes after the last whole data record "
                "are not used"
            )
    elif nrec < -1:
        raise UserError(f"{p}: header byte 236: data-record count {nrec} is negative")
    elif size > hb + nrec * record_bytes:
        raise UserError(
            f"{p}: file size {size} bytes exceeds the {hb + nrec * record_bytes} its header "
            f"declares ({nrec} data records of {record_bytes} bytes) -- the data-record count "
            "(header byte 236) or a signal's samples per record is wrong; re-export the file"
        )
    elif nrec > avail:
        if avail >= 1:
            warnings.append(
                f"{p.name}: truncated tail: the header declares {nrec} data records, the file "
                f"holds {avail} (+{extra} bytes): the last {nrec - avail} records "
                f"({(nrec - avail) * dur:g} s) are missing and left out"
            )
        nrec = avail
    if nrec <= 0:
        raise UserError(
            f"{p}: no complete data record ({size - hb} bytes after the header, a record "
            f"needs {record_bytes}) -- the file holds a header only or is truncated; "
            "re-export it"
        )
    only_ann = all(s.is_annotation for s in sigs)
    if not (RECORD_S_RANGE[0] <= dur <= RECORD_S_RANGE[1]) and not (dur == 0 and only_ann):
        raise UserError(
            f"{p}: header byte 244: data-record duration {dur:g} s is outside "
            f"{RECORD_S_RANGE[0]:g}..{RECORD_S_RANGE[1]:g} s -- the field is corrupt; "
            "re-export the file"
        )
    if plus and not any(s.is_annotation for s in sigs):
        if reserved[4:5] == "D":
            raise UserError(
                f"{p}: header byte 192: EDF+D without an 'EDF Annotations' signal (the "
                "record onsets are unknown) -- the file is corrupt; re-export it"
            )
        warnings.append(f"{p.name}: EDF+C without an 'EDF Annotations' signal: read as EDF")
        plus = False
    if nrec * dur > MAX_SPAN_S:
        raise UserError(
            f"{p}: header byte 236: {nrec} data records of {dur:g} s span "
            f"{nrec * dur / 3600:.1f} h, more than the {MAX_SPAN_S / 3600:g} h a "
            "leg recording is read for -- the count or duration is corrupt, or split the file"
        )
    return EdfHeader(
        path=p,
        bdf=bdf,
        plus=plus,
        discontinuous=plus and reserved[4:5] == "D",
        start=start,
        header_bytes=hb,
        n_records=nrec,
        record_s=dur,
        signals=sigs,
        record_bytes=record_bytes,
        sample_bytes=3 if bdf else 2,
        patient=patient,
        recording=recording,
        warnings=warnings,
        declared_records=declared,
    )


# ====================================================================== TALs

#: A two-leg export's annotation of one leg's gap.
_LEG_GAP = re.compile(r"^gap: (\S+) leg=(left|right)$")

_TAL = re.compile(rb"([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?\x14(.*?)\x00", re.DOTALL)


def parse_tals(data: bytes) -> list[tuple[float, float | None, list[str]]]:
    """Time-stamped annotation lists of one annotation-signal record."""
    out = []
    for m in _TAL.finditer(data):
        texts = [t.decode("utf-8", "replace") for t in m.group(3).split(b"\x14") if t]
        dur = float(m.group(2)) if m.group(2) else None
        out.append((float(m.group(1)), dur, texts))
    return out


@dataclass(frozen=True)
class Annotation:
    onset_s: float
    """Seconds from the file's start (= timeline seconds when the first record is at 0)."""
    duration_s: float | None
    text: str


# ====================================================================== reading


class EdfSource:
    """A :class:`~detector.stream.Source` over an EDF/EDF+/BDF file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        emg: Sequence[str] | None = None,
        acc: Sequence[str] | None = None,
        *,
        block_s: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self.header = h = read_header(self.path)
        self.block_s = float(block_s)
        by_label = {s.label.strip().lower(): s for s in h.signals}
        data_sigs = [s for s in h.signals if not s.is_annotation]
        ann = [s for s in h.signals if s.is_annotation]
        self._ann_sig = ann[0] if ann else None
        labels = ", ".join(s.label for s in data_sigs)

        def lookup(lbl: str, opt: str) -> EdfSignal:
            s = by_label.get(lbl.strip().lower())
            if s is None or s.is_annotation:
                raise UserError(
                    f"{self.path}: no channel labelled {lbl!r} -- pick one of: {labels} "
                    f"(with {opt})"
                )
            return s

        if not data_sigs:
            raise UserError(
                f"{self.path}: the file holds only an annotation channel, no signal -- pass "
                "the EDF/BDF file that holds the leg EMG"
            )
        if emg:
            self.emg_sigs = [lookup(x, "--emg LABEL") for x in emg]
        else:
            self.emg_sigs = [s for s in data_sigs if is_leg_emg_label(s.label)]
            if not self.emg_sigs:
                self.emg_sigs = [s for s in data_sigs if _GENERIC_EMG.match(s.label)]
            if not self.emg_sigs:
                raise UserError(
                    f"{self.path}: no leg EMG channel recognised among: {labels} -- name it "
                    "with --emg LABEL (repeat for more channels)"
                )
        if len(self.emg_sigs) > MAX_EMG_CHANNELS:
            raise UserError(
                f"{self.path}: {len(self.emg_sigs)} channels taken as leg EMG, at most "
                f"{MAX_EMG_CHANNELS} are read -- name the ones you want with --emg LABEL"
            )
        if acc:
            if len(acc) != 3:
                raise UserError(
                    f"{self.path}: --acc needs three labels X,Y,Z, got {len(acc)} -- "
                    "e.g. --acc 'Acc X,Acc Y,Acc Z'"
                )
            self.acc_sigs = [lookup(x, "--acc X,Y,Z") for x in acc]
        else:
            axes: dict[str, EdfSignal] = {}
            for s in data_sigs:
                ax = _acc_axis(s.label)
                if ax and ax not in axes and s not in self.emg_sigs:
                    axes[ax] = s
            self.acc_sigs = [axes[a] for a in "xyz"] if len(axes) == 3 else []
        # each leg's own accelerometer ("Acc X L" .. "Acc Z R": one sensor per leg)
        by_leg: dict[str, dict[str, EdfSignal]] = {}
        if not acc:
            for s in data_sigs:
                ax, sd = _acc_axis(s.label), _side_for(s.label)
                if ax and sd and s not in self.emg_sigs:
                    by_leg.setdefault(sd, {}).setdefault(ax, s)
        self.leg_acc_sigs: dict[str, list[EdfSignal]] = {
            sd: [axes_[a] for a in "xyz"] for sd, axes_ in by_leg.items() if len(axes_) == 3
        }
        if len(self.leg_acc_sigs) < 2:
            self.leg_acc_sigs = {}
        self.leg_acc_scale = {
            sd: [self._scale(s, G_UNITS, "g, mg or m/s²", "--acc") for s in sigs_]
            for sd, sigs_ in self.leg_acc_sigs.items()
        }
        self.emg_scale = [
            self._scale(s, UV_UNITS, "µV/uV, mV or V", "--emg") for s in self.emg_sigs
        ]
        self.acc_scale = [self._scale(s, G_UNITS, "g, mg or m/s²", "--acc") for s in self.acc_sigs]
        for s in self.emg_sigs + self.acc_sigs:
            if s in self.acc_sigs and s in self.emg_sigs:
                raise UserError(f"{self.path}: channel {s.label!r} chosen as both EMG and acc")
        rec = h.record_s
        self.warnings: list[str] = list(h.warnings)
        self._check_rates(self.emg_sigs, EMG_FS_RANGE, "leg EMG", "--emg LABEL")
        self._check_rates(self.acc_sigs, ACC_FS_RANGE, "an accelerometer", "--acc X,Y,Z")
        for sigs_ in self.leg_acc_sigs.values():
            self._check_rates(sigs_, ACC_FS_RANGE, "an accelerometer", "--acc X,Y,Z")
        self._check_amplitudes()
        self.emg_fs = max(s.n_per_record for s in self.emg_sigs) / rec
        self.acc_fs = (max(s.n_per_record for s in self.acc_sigs) / rec) if self.acc_sigs else None
        per_ch = [_side_for(s.label) for s in self.emg_sigs]
        sides = set(per_ch) - {None}
        side = str(next(iter(sides))) if len(sides) == 1 else "unknown"
        # both legs (LAT/RAT, Leg L/Leg R, EMG Tib L/R, ...): every channel names its leg
        emg_sides: tuple[str, ...] = ()
        if len(sides) == 2 and None not in per_ch:
            emg_sides, side = tuple(str(x) for x in per_ch), "both"
        self.layout = StreamLayout(
            emg_fs=self.emg_fs,
            emg_labels=tuple(s.label for s in self.emg_sigs),
            emg_sites=tuple(_site_for(s.label) for s in self.emg_sigs),
            acc_fs=self.acc_fs,
            start_utc=h.start + timedelta(seconds=self._first_onset()),
            side=side,
            emg_sides=emg_sides,
            extra={"file": self.path.name, "format": "BDF" if h.bdf else "EDF"},
        )
        self._blk: tuple[tuple[int, int], np.ndarray] | None = None
        self._onsets: np.ndarray | None = None
        self._annotations: list[Annotation] | None = None
        # Both legs, each with its own accelerometer, or written by our two-leg exporter
        # (its filled samples sit below the digital minimum): each leg's items apart.
        self._fill = (
            "nightcramp" in h.recording
            and not h.bdf
            and all(s.dmin == LEGS_DIGITAL_MIN for s in self.emg_sigs)
        )
        self.leg_layouts: list[StreamLayout] = []
        if len(self.layout.legs()) == 2 and (self.leg_acc_sigs or self._fill):
            for side, _, sub in self.layout.legs():
                a_sigs = self.leg_acc_sigs.get(side, self.acc_sigs)
                a_fs = max(s.n_per_record for s in a_sigs) / rec if a_sigs else None
                self.leg_layouts.append(replace(sub, acc_fs=a_fs))
        if h.discontinuous:
            self._read_annotations()  # the onsets are checked before the first sample

    def _check_rates(
        self, sigs: list[EdfSignal], bounds: tuple[float, float], what: str, opt: str
    ) -> None:
        """Each chosen channel's rate is one ``what`` can have, and the rates of a group
        are simple ratios of the highest (resampled exactly, in bounded memory)."""
        h = self.header
        lo, hi = bounds
        for s in sigs:
            fs = s.n_per_record / h.record_s
            if not lo <= fs <= hi:
                raise UserError(
                    f"{self.path}: header byte {s.offset('samples per data record')}: signal "
                    f"{s.index + 1} ({s.label!r}): {s.n_per_record} samples per "
                    f"{h.record_s:g}-s data record is {fs:.6g} Hz, {what} is sampled at "
                    f"{lo:g}-{hi:g} Hz -- pick the right channel with {opt}, or fix its "
                    "samples per record or the record duration (header byte 244)"
                )
        if not sigs:
            return
        n_max = max(s.n_per_record for s in sigs)
        for s in sigs:
            ratio = Fraction(n_max, s.n_per_record)
            if max(ratio.numerator, ratio.denominator) > 1000:
                raise UserError(
                    f"{self.path}: header byte {s.offset('samples per data record')}: signal "
                    f"{s.index + 1} ({s.label!r}): {s.n_per_record} samples per record "
                    f"against {n_max} of the fastest channel is no simple ratio "
                    f"({ratio.numerator}/{ratio.denominator}) to resample -- pick channels "
                    f"of one rate with {opt}"
                )

    def _check_amplitudes(self) -> None:
        """Warn (not fail) when a channel's range only makes sense in another unit."""
        groups = (
            (self.emg_sigs, self.emg_scale, EMG_RANGE_PLAUSIBLE_UV, "µV", "surface EMG"),
            (self.acc_sigs, self.acc_scale, ACC_RANGE_PLAUSIBLE_G, "g", "an accelerometer"),
        )
        for sigs, scales, (lo, hi), unit, what in groups:
            for s, sc in zip(sigs, scales, strict=True):
                rng = max(abs(s.pmin), abs(s.pmax)) * sc
                if not lo <= rng <= hi:
                    self.warnings.append(
                        f"{self.path.name}: signal {s.index + 1} ({s.label!r}): physical range "
                        f"+-{rng:.4g} {unit} (unit {s.unit!r}, header byte "
                        f"{s.offset('physical minimum')}) is implausible for {what} "
                        f"({lo:g}..{hi:g} {unit}): the unit is likely wrong, so amplitudes "
                        "are suspect"
                    )

    def _first_onset(self) -> float:
        """Onset (s after the header's start time) of the first data record (EDF+ TAL)."""
        s = self._ann_sig
        if s is None:
            return 0.0
        nb = self.header.sample_bytes * s.n_per_record
        with open(self.path, "rb") as f:
            f.seek(self.header.header_bytes + s.byte_offset)
            tals = parse_tals(f.read(nb))
        on = tals[0][0] if tals and not tals[0][2] else 0.0
        if not abs(on) <= MAX_FIRST_ONSET_S:
            raise UserError(
                f"{self.path}: byte {self.header.header_bytes + s.byte_offset}: data record 1 "
                f"starts {on:g} s after the header's start time (at most "
                f"{MAX_FIRST_ONSET_S:g} s) -- the time-keeping annotation is corrupt; "
                "re-export the file"
            )
        return on

    def _scale(self, s: EdfSignal, table: dict[str, float], want: str, opt: str) -> float:
        f = table.get(_unit_key(s.unit))
        if f is None:
            kind = "EMG" if opt == "--emg" else "accelerometer"
            shown = s.unit or "(empty)"
            raise UserError(
                f"{self.path}: header byte {s.offset('physical dimension')}: signal "
                f"{s.index + 1} channel {s.label!r}: unit {shown!r} is not an {kind} unit "
                f"({want}) -- pick the right channel with {opt}, or fix the unit in the file"
            )
        return f

    # ------------------------------------------------------------------ raw access
    def _records(self, r0: int, r1: int) -> np.ndarray:
        """Raw bytes of data records [r0, r1), shape (r1 - r0, record_bytes).

        Plain reads (no memory map, whose pages would count as this process's memory and
        grow with the file); the last block is cached, as every signal reads it.
        """
        if self._blk is not None and self._blk[0] == (r0, r1):
            return self._blk[1]
        h = self.header
        with open(h.path, "rb") as f:
            f.seek(h.header_bytes + r0 * h.record_bytes)
            a = np.fromfile(f, dtype=np.uint8, count=(r1 - r0) * h.record_bytes)
        a = a.reshape(r1 - r0, h.record_bytes)
        self._blk = ((r0, r1), a)
        return a

    def _digital(self, s: EdfSignal, r0: int, r1: int) -> np.ndarray:
        recs = self._records(r0, r1)
        nb = self.header.sample_bytes
        raw = recs[:, s.byte_offset : s.byte_offset + nb * s.n_per_record]
        if nb == 2:  # each record's samples are contiguous: decode them in place, one copy
            return raw.view("<i2").astype(np.float64).reshape(-1)
        b = np.ascontiguousarray(raw).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return v.astype(np.float64)

    def _physical(self, s: EdfSignal, r0: int, r1: int, scale: float) -> np.ndarray:
        # ((d - dmin) * gain + pmin) * scale, in place on the fresh decoded array (the
        # same operations in the same order, so the same bits, without four temporaries)
        d = self._digital(s, r0, r1)
        d -= s.dmin
        d *= s.gain
        d += s.pmin
        if scale != 1.0:  # x * 1.0 is x
            d *= scale
        return d

    def _read_annotations(self) -> None:
        h = self.header
        n = h.n_records
        onsets = np.arange(n, dtype=np.float64) * h.record_s
        anns: list[Annotation] = []
        missing: list[int] = []  # records without a time-keeping TAL
        if self._ann_sig is not None:
            s = self._ann_sig
            nb = h.sample_bytes * s.n_per_record
            step = 1024
            for r0 in range(0, n, step):
                recs = self._records(r0, min(n, r0 + step))
                blk = recs[:, s.byte_offset : s.byte_offset + nb]
                for k in range(blk.shape[0]):
                    tals = parse_tals(blk[k].tobytes())
                    if not tals or tals[0][2]:
                        missing.append(r0 + k)
                    first = True
                    for onset, dur, texts in tals:
                        if first and not texts:
                            onsets[r0 + k] = onset
                            first = False
                            continue
                        first = False
                        for t in texts:
                            anns.append(Annotation(onset, dur, t))
        if not h.discontinuous:
            onsets = onsets[0] + np.arange(n, dtype=np.float64) * h.record_s
        else:
            self._check_onsets(onsets, missing)
        self._onsets = onsets
        self._annotations = anns

    def _check_onsets(self, onsets: np.ndarray, missing: list[int]) -> None:
        """EDF+D record onsets: present, strictly increasing by at least a record, and
        spanning at most :data:`MAX_SPAN_S` (a gap costs nothing, a corrupt one no days)."""
        h = self.header
        s = self._ann_sig
        assert s is not None

        def at(r: int) -> int:
            return h.header_bytes + r * h.record_bytes + s.byte_offset

        if missing:
            r = missing[0]
            raise UserError(
                f"{self.path}: byte {at(r)}: data record {r + 1} has no time-keeping "
                f"annotation (its onset) in signal {s.index + 1} ({s.label!r}); "
                f"{len(missing)} records lack one -- an EDF+D file needs one per record; "
                "re-export the file"
            )
        if onsets.size > 1:
            tol = 0.5 / max(self.emg_fs, 1.0)
            step = np.diff(onsets)
            bad = np.nonzero(step < h.record_s - tol)[0]
            if bad.size:
                r = int(bad[0]) + 1
                raise UserError(
                    f"{self.path}: byte {at(r)}: data record {r + 1} starts at "
                    f"{onsets[r]:g} s, {'before' if step[r - 1] < 0 else 'within'} the "
                    f"previous one ({onsets[r - 1]:g} s + {h.record_s:g} s): EDF+D record "
                    f"onsets must increase ({bad.size} records break this) -- the "
                    "time-keeping annotations are corrupt; re-export the file"
                )
        span = float(onsets[-1] - onsets[0]) + h.record_s
        if not span <= MAX_SPAN_S:
            big = int(np.argmax(np.diff(onsets))) + 1 if onsets.size > 1 else 0
            raise UserError(
                f"{self.path}: byte {at(big)}: the record onsets span {span / 3600:.1f} h "
                f"(data record {big + 1} starts at {onsets[big]:g} s), more than the "
                f"{MAX_SPAN_S / 3600:g} h a leg recording is read for -- the "
                "time-keeping annotation is corrupt; re-export the file"
            )

    @property
    def annotations(self) -> list[Annotation]:
        if self._annotations is None:
            self._read_annotations()
        assert self._annotations is not None
        return self._annotations

    @property
    def record_onsets(self) -> np.ndarray:
        if self._onsets is None and not self.header.discontinuous:
            h = self.header  # EDF+C / EDF: onsets follow from the first one
            self._onsets = self._first_onset() + np.arange(h.n_records) * h.record_s
        if self._onsets is None:
            self._read_annotations()
        assert self._onsets is not None
        return self._onsets

    def segments(self) -> list[tuple[int, int]]:
        """Runs of contiguous data records ``[r0, r1)`` (one run unless EDF+D)."""
        on = self.record_onsets
        dur = self.header.record_s
        tol = 0.5 / max(self.emg_fs, 1.0)
        breaks = np.nonzero(np.abs(np.diff(on) - dur) > tol)[0] + 1
        edges = [0, *breaks.tolist(), len(on)]
        return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]

    # ------------------------------------------------------------------ Source
    def wall_time(self, t_s: float) -> datetime | None:
        return simple_wall_time(self.layout, t_s)

    def _group(
        self,
        sigs: list[EdfSignal],
        scales: list[float],
        fs: float,
        r0: int,
        r1: int,
        s0: int,
        s1: int,
    ) -> np.ndarray:
        """Samples of records [r0, r1) of segment [s0, s1), all resampled to ``fs``."""
        rec = self.header.record_s
        cols = []
        for s, sc in zip(sigs, scales, strict=True):
            if s.n_per_record / rec == fs:
                cols.append(self._physical(s, r0, r1, sc))
                continue
            ratio = Fraction(fs * rec / s.n_per_record).limit_denominator(1000)
            up, down = ratio.numerator, ratio.denominator
            ctx = max(1, int(math.ceil(RESAMPLE_CONTEXT_S / rec)))
            c0, c1 = max(s0, r0 - ctx), min(s1, r1 + ctx)
            x = self._physical(s, c0, c1, sc)
            from scipy.signal import resample_poly  # ~0.5 s to import: only when resampling

            y = resample_poly(x, up, down)
            n_out = int(round(fs * rec))
            a = (r0 - c0) * n_out
            cols.append(y[a : a + (r1 - r0) * n_out])
        return np.column_stack(cols)

    def chunks(self) -> Iterator[Chunk | Gap]:
        if self.leg_layouts:
            raise UserError(
                f"{self.path}: both legs, each with its own accelerometer or gaps, are not "
                "one stream -- read it with cramp detect/replay/export, which take each "
                "leg apart"
            )
        h = self.header
        on = self.record_onsets
        t0 = float(on[0])
        step = max(1, int(round(self.block_s / h.record_s))) if h.record_s > 0 else 1
        prev_end: float | None = None
        for s0, s1 in self.segments():
            seg_t = float(on[s0]) - t0
            if prev_end is not None and seg_t > prev_end:
                yield Gap(prev_end, seg_t, "edf-discontinuity")
            e_base = int(round(seg_t * self.emg_fs))
            a_base = int(round(seg_t * self.acc_fs)) if self.acc_fs else 0
            ne = int(round(self.emg_fs * h.record_s))
            na = int(round(self.acc_fs * h.record_s)) if self.acc_fs else 0
            for r0 in range(s0, s1, step):
                r1 = min(s1, r0 + step)
                emg = self._group(self.emg_sigs, self.emg_scale, self.emg_fs, r0, r1, s0, s1)
                if self.acc_sigs:
                    assert self.acc_fs is not None
                    acc = self._group(self.acc_sigs, self.acc_scale, self.acc_fs, r0, r1, s0, s1)
                else:
                    acc = np.zeros((0, 3))
                yield Chunk(e_base + (r0 - s0) * ne, emg, a_base + (r0 - s0) * na, acc)
            prev_end = seg_t + (s1 - s0) * h.record_s

    # ------------------------------------------------------------------ both legs
    def _leg_gap_marks(self) -> dict[str, list[tuple[float, float, str]]]:
        """Each leg's ``gap: <reason> leg=<side>`` annotations, on the timeline."""
        t0 = float(self.record_onsets[0])
        out: dict[str, list[tuple[float, float, str]]] = {}
        for a in self.annotations:
            m = _LEG_GAP.match(a.text.strip())
            if m:
                on = a.onset_s - t0
                out.setdefault(m.group(2), []).append((on, on + (a.duration_s or 0.0), m.group(1)))
        return out

    def _valid(self, sigs: list[EdfSignal], n_rec: int, r0: int, r1: int) -> np.ndarray | None:
        """Per sample of ``sigs`` (one leg's), whether it was measured: the filled ones of
        a two-leg export lie below the digital minimum.  ``None``: all were."""
        if not self._fill:
            return None
        for s in sigs:
            if s.n_per_record == n_rec:
                d = self._digital(s, r0, r1)
                return np.asarray(d >= s.dmin)
        return None

    def leg_items(self, bulk: bool = True) -> Iterator[tuple[str, Chunk | Gap]]:
        """Both legs' items, ``(side, item)``, in timeline order (:attr:`leg_layouts`).

        Each leg's chunks hold its EMG channels and its accelerometer; samples its leg
        did not measure (a two-leg export's filled ones) are left out, and where they
        lie between its chunks that leg gets a :class:`~detector.stream.Gap` (``side``
        set; reason from the file's ``gap: <reason> leg=<side>`` annotation, else
        ``edf-discontinuity``).  ``bulk`` is accepted for the interface
        (:class:`recordings.night.NightSource`); blocks are ``block_s`` long.
        """
        del bulk
        h = self.header
        on = self.record_onsets
        t0 = float(on[0])
        fs = self.emg_fs
        marks = self._leg_gap_marks()
        step = max(1, int(round(self.block_s / h.record_s)))
        ne = int(round(fs * h.record_s))
        legs = self.layout.legs()
        last: dict[str, int | None] = {side: None for side, _, _ in legs}
        last_acc: dict[str, int | None] = {side: None for side, _, _ in legs}

        def reason(side: str, a: float, b: float) -> str | None:
            best, why = 0.0, None
            for m0, m1, r in marks.get(side, []):
                ov = min(b, m1) - max(a, m0)
                if ov > best:
                    best, why = ov, r
            return why

        end_s = 0.0
        for s0, s1 in self.segments():
            seg_t = float(on[s0]) - t0
            e_base = int(round(seg_t * fs))
            for r0 in range(s0, s1, step):
                r1 = min(s1, r0 + step)
                emg = self._group(self.emg_sigs, self.emg_scale, fs, r0, r1, s0, s1)
                i_base = e_base + (r0 - s0) * ne
                out: list[tuple[int, int, str, Chunk | Gap]] = []
                for k, (side, idx, sub) in enumerate(legs):
                    a_sigs = self.leg_acc_sigs.get(side, self.acc_sigs)
                    a_scale = self.leg_acc_scale.get(side, self.acc_scale)
                    afs = sub.acc_fs
                    if a_sigs and afs:
                        acc = self._group(a_sigs, a_scale, afs, r0, r1, s0, s1)
                        na = int(round(afs * h.record_s))
                        j_base = int(round(seg_t * afs)) + (r0 - s0) * na
                        a_ok = self._valid(a_sigs, na, r0, r1)
                    else:
                        acc, j_base, a_ok = np.zeros((0, 3)), 0, None
                    ok = self._valid([self.emg_sigs[i] for i in idx], ne, r0, r1)
                    if ok is None:
                        ok = np.ones(emg.shape[0], bool)
                    edges = np.flatnonzero(np.diff(np.r_[False, ok, False].astype(np.int8)))
                    for a, b in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
                        i0, i1 = i_base + a, i_base + b
                        prev = last[side]
                        if prev is not None and i0 != prev:
                            why = reason(side, prev / fs, i0 / fs) or "edf-discontinuity"
                            out.append((prev, k, side, Gap(prev / fs, i0 / fs, why, side)))
                        elif prev is None and i0 > 0:
                            head = reason(side, 0.0, i0 / fs)  # before the leg's first sample
                            if head is not None:
                                out.append((0, k, side, Gap(0.0, i0 / fs, head, side)))
                        ja = jb = 0
                        if afs and acc.shape[0]:
                            # the leg's measured acc samples after its previous chunk's, up
                            # to this run's end (a sensor may sample its accelerometer just
                            # before its first EMG sample); filled ones at either end left out
                            prev_j = last_acc[side]
                            ja = min(acc.shape[0], max(0, (prev_j or 0) - j_base))
                            jb = min(acc.shape[0], max(0, math.ceil(i1 * afs / fs - 1e-9) - j_base))
                            while a_ok is not None and ja < jb and not a_ok[ja]:
                                ja += 1
                            while a_ok is not None and jb > ja and not a_ok[jb - 1]:
                                jb -= 1
                            if jb > ja:
                                last_acc[side] = j_base + jb
                        ch = Chunk(i0, emg[a:b][:, list(idx)], j_base + ja, acc[ja:jb])
                        out.append((i0, k, side, ch))
                        last[side] = i1
                out.sort(key=lambda x: (x[0], x[1]))
                for _, _, side, it in out:
                    yield side, it
            end_s = seg_t + (s1 - s0) * h.record_s
        for side, _, _ in legs:  # a leg without samples to the end
            prev = last[side]
            a = 0.0 if prev is None else prev / fs
            tail = reason(side, a, end_s)
            if prev is None:
                yield side, Gap(0.0, end_s, tail or "unknown", side)
            elif tail is not None and a < end_s:
                yield side, Gap(a, end_s, tail, side)


# ====================================================================== writing


def _fmt(v: float | int, width: int) -> bytes:
    if isinstance(v, int):
        s = str(v)
    else:
        s = f"{v:.{width}g}"
        for prec in range(width, 0, -1):
            s = f"{v:.{prec}g}"
            if len(s) <= width:
                break
    if len(s) > width:
        raise ValueError(f"{v} does not fit {width} characters")
    return s.encode("ascii").ljust(width)


def _txt(s: str, width: int) -> bytes:
    return s.encode("ascii", "replace")[:width].ljust(width)


def _onset_txt(t: float) -> str:
    s = f"{t:+.6f}".rstrip("0").rstrip(".")
    return s


def _export_label(label: str, site: str, side: str = "") -> str:
    """``EMG calf`` for generic sensor labels (``EMG1``), else the source's own label; a
    two-leg night's channels end in ``L`` / ``R`` unless their labels already say which."""
    tag = {"left": "L", "right": "R"}.get(side, "")
    if re.fullmatch(r"(?i)emg\s*\d*", label.strip()) or not label.strip():
        return (f"EMG {site} {tag}" if tag else f"EMG {site}")[:16]
    if tag and _side_for(label) != side:
        return f"{label.strip()[:14]} {tag}"
    return label.strip()[:16]


#: Physical ranges of exported signals (see module docstring).
EMG_RANGE_UV = 10_000.0
ACC_RANGE_G = 16.0
ANN_BYTES = 160  # annotation-channel bytes per data record (timekeeping TAL + 1-2 TALs)
#: Both legs in one file: the data signals' digital minimum, and the value one leg's
#: channels hold where that leg has no sample (below the minimum: no measured value).
LEGS_DIGITAL_MIN = -32767
FILL_DIGITAL = -32768


def _digital(
    x: np.ndarray, rng: float, dmin: int, fill: int | None = None
) -> tuple[np.ndarray, int]:
    """Physical values in [-rng, rng] as 16-bit digital values in [dmin, 32767], and how
    many were clipped; with ``fill``, NaN (no sample) becomes ``fill`` and is not counted."""
    d = np.round((x + rng) / (2 * rng) * float(32767 - dmin) + dmin)
    out = (d < dmin) | (d > 32767)
    if fill is None:
        return np.clip(d, dmin, 32767).astype("<i2"), int(np.count_nonzero(out))
    nan = np.isnan(x)
    d = np.clip(d, dmin, 32767)
    d[nan] = fill
    return d.astype("<i2"), int(np.count_nonzero(out & ~nan))


@dataclass
class EdfExportStats:
    records: int = 0
    segments: int = 0
    dropped_tail_samples: int = 0
    dropped_head_samples: int = 0
    clipped: int = 0
    gaps: int = 0
    annotations: int = 0
    unplaced_annotations: int = 0


@dataclass(frozen=True)
class _SigHead:
    """One exported data signal's header fields (16-bit, a symmetric physical range)."""

    label: str
    transducer: str
    unit: str
    prange: float
    n_per_record: int


def _header(
    start: datetime, patient: str, record_s: float, nrec: int, discontinuous: bool,
    sigs: Sequence[_SigHead], dmin: int,
) -> bytes:  # fmt: skip
    """The EDF+ header of ``sigs`` and one annotation signal (digital range ``dmin``..32767
    for the data signals)."""
    n_sig = len(sigs) + 1
    hdr = bytearray()
    hdr += _txt("0", 8)
    hdr += _txt(patient, 80)
    hdr += _txt(f"Startdate {start.strftime('%d-%b-%Y').upper()} X nightcramp X", 80)
    hdr += _txt(start.strftime("%d.%m.%y"), 8) + _txt(start.strftime("%H.%M.%S"), 8)
    hdr += _fmt(256 * (n_sig + 1), 8)
    hdr += _txt("EDF+D" if discontinuous else "EDF+C", 44)
    hdr += _fmt(nrec, 8) + _fmt(
        float(record_s) if not float(record_s).is_integer() else int(record_s), 8
    )
    hdr += _fmt(n_sig, 4)
    for x in [g.label for g in sigs] + ["EDF Annotations"]:
        hdr += _txt(x, 16)
    for x in [g.transducer for g in sigs] + [""]:
        hdr += _txt(x, 80)
    for x in [g.unit for g in sigs] + [""]:
        hdr += _txt(x, 8)
    for v in [-g.prange for g in sigs] + [-1]:
        hdr += _fmt(int(v), 8)
    for v in [g.prange for g in sigs] + [1]:
        hdr += _fmt(int(v), 8)
    for v in [dmin] * len(sigs) + [-32768]:
        hdr += _fmt(v, 8)
    for _ in range(n_sig):
        hdr += _fmt(32767, 8)
    for _ in range(n_sig):
        hdr += _txt("", 80)
    for k in [g.n_per_record for g in sigs] + [ANN_BYTES // 2]:
        hdr += _fmt(k, 8)
    for _ in range(n_sig):
        hdr += _txt("", 32)
    assert len(hdr) == 256 * (n_sig + 1)
    return bytes(hdr)


def _tal(on: float, du: float | None, tx: str) -> bytes:
    tal = _onset_txt(on).encode()
    if du is not None:
        tal += b"\x15" + f"{du:.6f}".rstrip("0").rstrip(".").encode()
    return tal + b"\x14" + tx.encode("utf-8")[:100] + b"\x14\x00"


class _Tals:
    """The annotation field of each data record: its time-keeping TAL, then pending notes
    and the annotations whose onset is before the record's end, as many as fit."""

    def __init__(
        self,
        anns: list[tuple[float, float | None, str]],
        notes: list[tuple[float, float | None, str]],
        record_s: float,
        st: EdfExportStats,
    ) -> None:
        self.anns, self.notes, self.record_s, self.st = anns, notes, record_s, st
        self.i = 0

    def block(self, onset: float) -> bytes:
        b = bytearray(f"{_onset_txt(onset)}\x14\x14\x00".encode())
        queue: list[tuple[float, float | None, str]] = []
        while self.notes:
            queue.append(self.notes.pop(0))
        while self.i < len(self.anns) and self.anns[self.i][0] < onset + self.record_s:
            queue.append(self.anns[self.i])
            self.i += 1
        left: list[tuple[float, float | None, str]] = []
        for on, du, tx in queue:
            tal = _tal(on, du, tx)
            if len(b) + len(tal) <= ANN_BYTES:
                b += tal
                self.st.annotations += 1
            else:
                left.append((on, du, tx))
        self.notes.extend(left)
        return bytes(b.ljust(ANN_BYTES, b"\x00"))

    def rest(self) -> list[tuple[float, float | None, str]]:
        """Annotations not yet queued (their onset is after the last record)."""
        return self.anns[self.i :]


def write_edf(
    source: Source,
    path: str | os.PathLike[str],
    events: Iterable[Event] = (),
    *,
    record_s: float = 1.0,
    extra_annotations: Iterable[tuple[float, float | None, str]] = (),
    patient: str = "X X X X",
) -> EdfExportStats:
    """Stream ``source`` into an EDF+ file at ``path`` (written to a temp file, renamed).

    Returns counters; see the module docstring for the rules (no padding, gaps kept).
    A source of one sensor per leg (:func:`detector.stream.leg_layouts_of`) is written
    by :func:`_write_edf_legs`.
    """
    from detector.stream import leg_layouts_of

    out = Path(path)
    legs = leg_layouts_of(source)
    if len(legs) > 1:
        return _write_edf_legs(source, legs, out, events, record_s, extra_annotations, patient)
    if legs:  # a night of one sensor: that leg's items are the stream
        source = _OneLeg(source, legs[0])
    lay = source.layout
    ne_f = lay.emg_fs * record_s
    na_f = (lay.acc_fs or 0) * record_s
    if abs(ne_f - round(ne_f)) > 1e-9 or abs(na_f - round(na_f)) > 1e-9:
        raise UserError(
            f"{out}: {record_s} s data records do not hold whole samples at {lay.emg_fs} Hz / "
            f"{lay.acc_fs} Hz -- choose another record duration"
        )
    ne, na = int(round(ne_f)), int(round(na_f))
    has_acc = lay.acc_fs is not None and na > 0
    if has_acc:
        assert lay.acc_fs is not None
        g = math.gcd(int(round(lay.emg_fs)), int(round(lay.acc_fs)))
        align = int(round(lay.emg_fs)) // g if float(lay.emg_fs).is_integer() else 1
    else:
        align = 1
    n_sig = lay.n_emg + (3 if has_acc else 0) + 1

    anns = _event_anns(events, extra_annotations)
    st = EdfExportStats()

    start = lay.start_utc or datetime(1985, 1, 1, tzinfo=UTC)
    start = start.replace(microsecond=0)

    sides = lay.emg_sides or ("",) * lay.n_emg
    sigs = [
        _SigHead(_export_label(lbl, site, sd), "surface EMG " + site, "uV", EMG_RANGE_UV, ne)
        for lbl, site, sd in zip(lay.emg_labels, lay.emg_sites, sides, strict=True)
    ]
    if has_acc:
        sigs += [_SigHead(f"Acc {a}", "accelerometer", "g", ACC_RANGE_G, na) for a in "XYZ"]

    def header(nrec: int, discontinuous: bool) -> bytes:
        return _header(start, patient, record_s, nrec, discontinuous, sigs, -32768)

    def dig(x: np.ndarray, rng: float) -> np.ndarray:
        d, clipped = _digital(x, rng, -32768)
        st.clipped += clipped
        return d

    discontinuous = False
    last_onset_end: float | None = None
    notes: list[tuple[float, float | None, str]] = []

    tals = _Tals(anns, notes, record_s, st)
    ann_block = tals.block

    with files.atomic_target(out) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, files.FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(header(-1, False))
            emg_buf: list[np.ndarray] = []
            acc_buf: list[np.ndarray] = []
            e_start = a_start = 0  # timeline index of emg_buf[0][0] / acc_buf[0][0]
            e_have = a_have = 0
            rec_start: int | None = None  # next record's EMG timeline index
            ratio = (lay.acc_fs / lay.emg_fs) if has_acc and lay.acc_fs else 0.0

            def take(buf: list[np.ndarray], n: int) -> np.ndarray:
                parts, got = [], 0
                while got < n:
                    a = buf[0]
                    k = min(n - got, a.shape[0])
                    parts.append(a[:k])
                    if k == a.shape[0]:
                        buf.pop(0)
                    else:
                        buf[0] = a[k:]
                    got += k
                return parts[0] if len(parts) == 1 else np.concatenate(parts)

            def drop(buf: list[np.ndarray], n: int) -> None:
                if n > 0:
                    take(buf, n)

            def end_segment() -> None:
                nonlocal e_have, a_have, rec_start
                if e_have or a_have:
                    st.dropped_tail_samples += e_have
                    if e_have and rec_start is not None:
                        t = rec_start / lay.emg_fs
                        notes.append(
                            (t, e_have / lay.emg_fs,
                             f"not exported: {e_have / lay.emg_fs:.3f} s at segment end "
                             "(EDF records are whole; no padding)")
                        )  # fmt: skip
                emg_buf.clear()
                acc_buf.clear()
                e_have = a_have = 0
                rec_start = None

            def write_ready() -> None:
                nonlocal e_have, a_have, rec_start, e_start, a_start, discontinuous
                nonlocal last_onset_end
                while True:
                    if rec_start is None:
                        if not e_have or (has_acc and not a_have):
                            return
                        i0 = max(e_start, int(math.ceil(a_start / ratio)) if has_acc else e_start)
                        i0 = int(math.ceil(i0 / align) * align)
                        if i0 > e_start:
                            k = min(e_have, i0 - e_start)
                            drop(emg_buf, k)
                            e_have -= k
                            e_start += k
                            st.dropped_head_samples += k
                            if e_start < i0:
                                return
                        if has_acc:
                            j0 = int(round(i0 * ratio))
                            k = min(a_have, max(0, j0 - a_start))
                            drop(acc_buf, k)
                            a_have -= k
                            a_start += k
                            if a_start < j0:
                                return
                        rec_start = i0
                        st.segments += 1
                    if e_have < ne or (has_acc and a_have < na):
                        return
                    onset = rec_start / lay.emg_fs
                    if (
                        last_onset_end is not None
                        and abs(onset - last_onset_end) > 0.5 / lay.emg_fs
                    ):
                        discontinuous = True
                    emg = take(emg_buf, ne)
                    e_have -= ne
                    e_start += ne
                    parts = [dig(emg[:, c], EMG_RANGE_UV).tobytes() for c in range(lay.n_emg)]
                    if has_acc:
                        acc = take(acc_buf, na)
                        a_have -= na
                        a_start += na
                        parts += [dig(acc[:, c], ACC_RANGE_G).tobytes() for c in range(3)]
                    parts.append(ann_block(onset))
                    f.write(b"".join(parts))
                    st.records += 1
                    rec_start += ne
                    last_onset_end = onset + record_s

            for item in source.chunks():
                if isinstance(item, Gap):
                    end_segment()
                    st.gaps += 1
                    notes.append((item.start_s, item.duration_s, f"gap: {item.reason}"))
                    continue
                if item.emg.shape[0]:
                    if not e_have:
                        e_start = item.emg_start
                    elif item.emg_start != e_start + e_have:
                        end_segment()
                        e_start = item.emg_start
                    emg_buf.append(item.emg)
                    e_have += item.emg.shape[0]
                if has_acc and item.acc.shape[0]:
                    if not a_have:
                        a_start = item.acc_start
                    elif item.acc_start != a_start + a_have:
                        acc_buf.clear()
                        a_have = 0
                        a_start = item.acc_start
                    acc_buf.append(item.acc)
                    a_have += item.acc.shape[0]
                write_ready()
            end_segment()
            if st.records == 0:
                raise UserError(
                    f"{out}: nothing to export -- the source holds less than one "
                    f"{record_s} s data record of samples"
                )
            if st.clipped:
                notes.append((0.0, None, f"{st.clipped} samples clipped to the export range"))
            # Annotations not yet placed go into records that still have room: rewrite
            # annotation fields of the last records is not possible streaming, so append
            # one annotation-only pass: EDF+ allows TALs in any record.
            leftovers = notes + tals.rest()
            st.unplaced_annotations = 0
            f.flush()
            nrec = st.records
            if leftovers:
                data_bytes = 2 * (lay.n_emg * ne + (3 * na if has_acc else 0))
                st.unplaced_annotations = _place_leftovers(
                    tmp, 256 * (n_sig + 1), data_bytes, nrec, leftovers, st
                )
            f.seek(0)
            f.write(header(nrec, discontinuous))
            f.flush()
            os.fsync(f.fileno())
    return st


class _OneLeg:
    """The one leg of a night of one sensor, as a one-stream source."""

    def __init__(self, night: Any, layout: StreamLayout) -> None:
        self.night, self.layout = night, layout

    def chunks(self) -> Iterator[Chunk | Gap]:
        return (item for _, item in self.night.leg_items())

    def wall_time(self, t_s: float) -> datetime | None:
        return simple_wall_time(self.layout, t_s)


def _event_anns(
    events: Iterable[Event], extra: Iterable[tuple[float, float | None, str]]
) -> list[tuple[float, float | None, str]]:
    """(onset, duration, text) of the events and the extra annotations, in time order."""
    anns: list[tuple[float, float | None, str]] = []
    for ev in events:
        txt = ev.kind + (f"/{ev.subtype}" if ev.subtype else "") + f" conf={ev.confidence:.2f}"
        if ev.side:  # a two-leg night: which leg
            txt += f" leg={ev.side}"
        anns.append((ev.start_s, ev.duration_s, txt))
    anns.extend(extra)
    anns.sort(key=lambda a: a[0])
    return anns


def _write_edf_legs(
    source: Any,
    legs: list[StreamLayout],
    out: Path,
    events: Iterable[Event],
    record_s: float,
    extra_annotations: Iterable[tuple[float, float | None, str]],
    patient: str,
) -> EdfExportStats:
    """Both legs of a night of one sensor per leg in one EDF+ file, on one timeline.

    Data records lie on the night's grid (record ``k`` holds EMG samples ``k * ne`` ..
    ``(k + 1) * ne - 1`` of the night's timeline).  A record is written when either leg
    has a sample in it; a record neither leg has a sample in is left out (EDF+D).  Where a
    written record lacks one leg's samples, that leg's channels hold
    :data:`FILL_DIGITAL`, below the declared digital minimum :data:`LEGS_DIGITAL_MIN`
    (physical: the physical minimum less one step), so no reader takes it for a measured
    sample; each leg's gap is annotated ``gap: <reason> leg=<side>``, and filled samples
    outside that leg's gaps (before its sensor's first sample, after its last)
    ``no samples leg=<side>``.
    """
    first = legs[0]
    for lay in legs[1:]:
        if (lay.emg_fs, lay.acc_fs, lay.n_emg) != (first.emg_fs, first.acc_fs, first.n_emg):
            raise UserError(
                f"{out}: the {first.side} leg streams {first.n_emg} EMG channels at "
                f"{first.emg_fs:g} Hz (acc {first.acc_fs} Hz), the {lay.side} leg "
                f"{lay.n_emg} at {lay.emg_fs:g} Hz (acc {lay.acc_fs} Hz) -- one file needs "
                "one configuration; export each leg's folder alone"
            )
    fs, afs = first.emg_fs, first.acc_fs
    ne_f, na_f = fs * record_s, (afs or 0) * record_s
    if abs(ne_f - round(ne_f)) > 1e-9 or abs(na_f - round(na_f)) > 1e-9:
        raise UserError(
            f"{out}: {record_s} s data records do not hold whole samples at {fs} Hz / "
            f"{afs} Hz -- choose another record duration"
        )
    ne, na = int(round(ne_f)), int(round(na_f))
    has_acc = afs is not None and na > 0
    sides = [lay.side for lay in legs]
    emg_cols: dict[str, tuple[int, int]] = {}
    sigs: list[_SigHead] = []
    for lay in legs:
        emg_cols[lay.side] = (len(sigs), len(sigs) + lay.n_emg)
        for lbl, site in zip(lay.emg_labels, lay.emg_sites, strict=True):
            sigs.append(
                _SigHead(_export_label(lbl, site, lay.side), "surface EMG " + site, "uV",
                         EMG_RANGE_UV, ne)
            )  # fmt: skip
    n_emg = len(sigs)
    acc_cols = {side: (3 * k, 3 * k + 3) for k, side in enumerate(sides)}
    if has_acc:
        for side in sides:
            tag = {"left": "L", "right": "R"}[side]
            sigs += [
                _SigHead(f"Acc {a} {tag}", "accelerometer", "g", ACC_RANGE_G, na) for a in "XYZ"
            ]
    n_sig = len(sigs) + 1
    anns = _event_anns(events, extra_annotations)
    st = EdfExportStats()
    start = (first.start_utc or datetime(1985, 1, 1, tzinfo=UTC)).replace(microsecond=0)
    notes: list[tuple[float, float | None, str]] = []
    tals = _Tals(anns, notes, record_s, st)
    emg_buf: dict[str, list[tuple[int, np.ndarray]]] = {s: [] for s in sides}
    acc_buf: dict[str, list[tuple[int, np.ndarray]]] = {s: [] for s in sides}
    gaps: dict[str, list[Gap]] = {s: [] for s in sides}
    fill_open: dict[str, int | None] = {s: None for s in sides}
    fill_runs: list[tuple[str, int, int]] = []  # (side, first, stop) EMG index, filled
    discontinuous = False
    last_written: int | None = None

    def dig(x: np.ndarray, rng: float) -> np.ndarray:
        d, clipped = _digital(x, rng, LEGS_DIGITAL_MIN, fill=FILL_DIGITAL)
        st.clipped += clipped
        return d

    def take(buf: list[tuple[int, np.ndarray]], i0: int, i1: int, dst: np.ndarray,
             cols: tuple[int, int]) -> None:  # fmt: skip
        """Copy the buffered samples within [i0, i1) into ``dst`` (row 0 = i0); forget
        those before i1."""
        keep = []
        for s0, a in buf:
            s1 = s0 + a.shape[0]
            lo, hi = max(s0, i0), min(s1, i1)
            if lo < hi:
                dst[lo - i0 : hi - i0, cols[0] : cols[1]] = a[lo - s0 : hi - s0]
            if s1 > i1:
                keep.append((s0, a))
            elif s1 <= i0:
                st.dropped_head_samples += a.shape[0]  # arrived after its records were out
        buf[:] = keep

    def close_fill(side: str, stop: int) -> None:
        s0 = fill_open[side]
        if s0 is not None and stop > s0:
            fill_runs.append((side, s0, stop))
        fill_open[side] = None

    def write_records(f: Any, k0: int, k1: int) -> None:
        nonlocal discontinuous, last_written
        for kb in range(k0, k1, 60):  # at most a minute of records in memory
            kc = min(k1, kb + 60)
            emg = np.full(((kc - kb) * ne, n_emg), np.nan)
            acc = np.full(((kc - kb) * na, 3 * len(sides)), np.nan)
            for side in sides:
                take(emg_buf[side], kb * ne, kc * ne, emg, emg_cols[side])
                if has_acc:
                    take(acc_buf[side], kb * na, kc * na, acc, acc_cols[side])
            have = {s: ~np.isnan(emg[:, emg_cols[s][0]]) for s in sides}
            any_rec = np.zeros(kc - kb, bool)
            for h in have.values():
                any_rec |= h.reshape(-1, ne).any(axis=1)
            demg = dig(emg, EMG_RANGE_UV)
            dacc = dig(acc, ACC_RANGE_G) if has_acc else acc
            for r in range(kc - kb):
                k = kb + r
                if not any_rec[r]:
                    for side in sides:
                        close_fill(side, k * ne)
                    continue
                if last_written is not None and k != last_written + 1:
                    discontinuous = True
                if last_written is None or k != last_written + 1:
                    st.segments += 1
                for side in sides:  # the runs of this leg's filled samples
                    h = have[side][r * ne : (r + 1) * ne]
                    if h.all():
                        close_fill(side, k * ne)
                        continue
                    edges = np.flatnonzero(np.diff(h.astype(np.int8))) + 1
                    prev = bool(h[0])
                    if not prev and fill_open[side] is None:
                        fill_open[side] = k * ne
                    for e in edges.tolist():
                        if prev:  # a fill run starts
                            fill_open[side] = k * ne + e
                        else:
                            close_fill(side, k * ne + e)
                        prev = not prev
                parts = [np.ascontiguousarray(demg[r * ne : (r + 1) * ne].T).tobytes()]
                if has_acc:
                    parts.append(np.ascontiguousarray(dacc[r * na : (r + 1) * na].T).tobytes())
                parts.append(tals.block(k * record_s))
                f.write(b"".join(parts))
                st.records += 1
                last_written = k

    with files.atomic_target(out) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, files.FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(_header(start, patient, record_s, -1, False, sigs, LEGS_DIGITAL_MIN))
            done = 0  # records before this one are written (or left out)
            end = 0  # records holding samples end before this one
            for side, item in source.leg_items():
                if isinstance(item, Gap):
                    gaps[side].append(item)
                    st.gaps += 1
                    txt = f"gap: {item.reason} leg={side}"
                    notes.append((item.start_s, item.duration_s, txt))
                    continue
                # items come in timeline order: no later one has a sample before this
                # one's first (its acc may start a little before its EMG)
                first_i = item.emg_start
                if has_acc and item.acc.shape[0] and afs:
                    first_i = min(first_i, math.floor(item.acc_start * fs / afs))
                k = max(0, first_i) // ne
                if k > done:
                    write_records(f, done, k)
                    done = k
                if item.emg.shape[0]:
                    emg_buf[side].append((item.emg_start, item.emg))
                    end = max(end, -(-item.emg_stop // ne))
                if has_acc and item.acc.shape[0]:
                    acc_buf[side].append((item.acc_start, item.acc))
            write_records(f, done, max(done, end))
            for side in sides:
                close_fill(side, (last_written + 1) * ne if last_written is not None else 0)
            if st.records == 0:
                raise UserError(f"{out}: nothing to export -- neither leg holds a sample to write")
            for side, s0, s1 in fill_runs:  # filled samples outside the leg's gaps
                inside = any(
                    g.start_s * fs - 1 <= s0 and s1 <= g.end_s * fs + 1 for g in gaps[side]
                )
                if not inside:
                    notes.append((s0 / fs, (s1 - s0) / fs, f"no samples leg={side}"))
            if st.clipped:
                notes.append((0.0, None, f"{st.clipped} samples clipped to the export range"))
            leftovers = notes + tals.rest()
            f.flush()
            if leftovers:
                data_bytes = 2 * (n_emg * ne + (3 * len(sides) * na if has_acc else 0))
                st.unplaced_annotations = _place_leftovers(
                    tmp, 256 * (n_sig + 1), data_bytes, st.records, leftovers, st
                )
            f.seek(0)
            f.write(_header(start, patient, record_s, st.records, discontinuous, sigs,
                            LEGS_DIGITAL_MIN))  # fmt: skip
            f.flush()
            os.fsync(f.fileno())
    return st


def _place_leftovers(
    tmp: Path, hb: int, data_bytes: int, nrec: int,
    leftovers: list[tuple[float, float | None, str]], st: EdfExportStats,
) -> int:  # fmt: skip
    """Write annotations that did not fit their record into free room of earlier records
    (``data_bytes``: a record's bytes before its annotation field)."""
    rec_bytes = data_bytes + ANN_BYTES
    ann_off = data_bytes
    pending = list(leftovers)
    r = nrec - 1
    with open(tmp, "r+b") as g:
        while pending and r >= 0:
            g.seek(hb + r * rec_bytes + ann_off)
            blk = bytearray(g.read(ANN_BYTES))
            used = len(blk.rstrip(b"\x00")) + 1
            changed = False
            while pending:
                tal = _tal(*pending[0])
                if used + len(tal) > ANN_BYTES:
                    break
                blk[used : used + len(tal)] = tal
                used += len(tal)
                pending.pop(0)
                st.annotations += 1
                changed = True
            if changed:
                g.seek(hb + r * rec_bytes + ann_off)
                g.write(bytes(blk))
            r -= 1
    return len(pending)


def edf_start_offset(layout: StreamLayout) -> timedelta:
    """Sub-second part of the start time dropped by EDF's 1-s header resolution."""
    if layout.start_utc is None:
        return timedelta(0)
    return timedelta(microseconds=layout.start_utc.microsecond)


def export_edf(
    source_or_recording: Source | str | os.PathLike[str],
    path: str | os.PathLike[str],
    events: Iterable[Event] = (),
    **kw: Any,
) -> EdfExportStats:
    """:func:`write_edf` for a Source or a recording folder / EDF file path."""
    src: Source
    if isinstance(source_or_recording, str | os.PathLike):
        from recordings.export import open_source

        src = open_source(source_or_recording)
    else:
        src = source_or_recording
    return write_edf(src, path, events, **kw)
