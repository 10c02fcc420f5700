"""Hostile EDF/BDF files through ``cramp detect --json``: counts of every outcome.

Valid seed files (EDF, EDF+C, EDF+D with a gap, BDF+, mixed rates, with and without an
accelerometer) are written byte by byte here, then mutated: header fields (numbers,
text, non-ASCII bytes, digital/physical ranges, units, labels), the record duration,
EDF+D record onsets (jumps of days to 1e9 s, backwards, duplicated, missing), the
annotation channel, the file size (cut, padded) and body bytes.  Each case runs
``cramp detect FILE --json`` (the click command, in-process) inside a worker
subprocess that has ``RLIMIT_AS`` set and a per-case alarm; a worker that dies (out of
memory, a crash) is restarted and the case counted.

Outcomes: ``ok`` (exit 0, output within the sanity bounds), ``error`` (a one-line
``UserError`` naming the file), and the failures ``traceback``, ``hang``, ``memory``,
``crash``, ``insane`` (exit 0 but the output breaks a bound: non-strict JSON, times
outside the file, rates outside what a leg recording can be, amplitudes beyond 1 V
without a warning), ``bad_error`` (a UserError not naming the file or of several lines).

    .venv/bin/python -m benchmarks.bench_edf_fuzz              # 3000 cases
    .venv/bin/python -m benchmarks.bench_edf_fuzz --cases 500 --seed 7

Prints the counts per outcome and per mutation kind, the cases per second, and the
worst case's peak memory; the baseline beside them is the unmutated seed files
through the same harness in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Address-space limit of a worker (imports take ~1 GB of address space, little RSS).
MEM_LIMIT = 2 * 1024**3
#: Wall time allowed per case, s (a 60-s seed file takes well under 1 s).
CASE_TIMEOUT_S = 20
#: Sanity bounds of an exit-0 output.
MAX_UV = 1e6  # 1 V of surface EMG: only with a warning about the unit

FAILURES = ("traceback", "hang", "memory", "crash", "insane", "bad_error")


# ============================================================================ seeds


@dataclass
class Sig:
    label: str
    n: int  # samples per record
    unit: str = "uV"
    pmin: float = -5000.0
    pmax: float = 5000.0
    dmin: int = -32768
    dmax: int = 32767


def build(
    sigs: list[Sig],
    n_rec: int,
    *,
    dur: float = 1.0,
    kind: str = "EDF+C",
    onsets: list[float] | None = None,
    bdf: bool = False,
    seed: int = 0,
    burst: tuple[float, float] = (20.0, 45.0),
) -> bytes:
    """A valid EDF/EDF+/BDF file: resting EMG with a cramp-like burst, gravity on acc."""
    rng = np.random.default_rng(seed)
    plus = kind.startswith("EDF+")
    ann_n = 30 if bdf else 40
    all_sigs = list(sigs) + (
        [Sig("BDF Annotations" if bdf else "EDF Annotations", ann_n, "", -1, 1)] if plus else []
    )
    if bdf:
        for s in all_sigs:
            s.dmin, s.dmax = -8388608, 8388607
    ns = len(all_sigs)

    def f(v: Any, w: int) -> bytes:
        return str(v).encode("latin-1")[:w].ljust(w)

    h = (b"\xffBIOSEMI" if bdf else f("0", 8)) + f("X X X X", 80)
    h += f("Startdate 01-JAN-2026 X X X", 80) + f("01.01.26", 8) + f("22.00.00", 8)
    h += f(256 * (ns + 1), 8) + f(kind.replace("EDF", "BDF") if bdf and plus else kind, 44)
    h += f(n_rec, 8) + f(f"{dur:g}", 8) + f(ns, 4)
    for get, w in (
        (lambda s: s.label, 16), (lambda s: "", 80), (lambda s: s.unit, 8),
        (lambda s: f"{s.pmin:g}", 8), (lambda s: f"{s.pmax:g}", 8), (lambda s: s.dmin, 8),
        (lambda s: s.dmax, 8), (lambda s: "", 80), (lambda s: s.n, 8), (lambda s: "", 32),
    ):  # fmt: skip
        for s in all_sigs:
            h += f(get(s), w)
    sb = 3 if bdf else 2
    body = bytearray()
    for r in range(n_rec):
        on = onsets[r] if onsets is not None else r * dur
        for s in all_sigs:
            if s.label.endswith("Annotations"):
                tal = f"{on:+.6f}".rstrip("0").rstrip(".") + "\x14\x14\x00"
                if r == 3:
                    tal += "+3.5\x150.5\x14Leg movement\x14\x00"
                body += tal.encode().ljust(s.n * sb, b"\x00")[: s.n * sb]
                continue
            if s.label.startswith("Acc"):
                g = 1.0 if s.label.endswith("Z") else 0.0
                x = g + rng.normal(0, 0.01, s.n)
            else:
                amp = 20.0 * (25 if burst[0] <= on < burst[1] else 1)
                x = rng.normal(0, amp, s.n)
            with np.errstate(divide="ignore", invalid="ignore"):  # an empty range on purpose
                d = (x - s.pmin) / (s.pmax - s.pmin) * (s.dmax - s.dmin) + s.dmin
            d = np.clip(np.nan_to_num(np.round(d)), s.dmin, s.dmax).astype(np.int64)
            if sb == 2:
                body += d.astype("<i2").tobytes()
            else:
                u = (d & 0xFFFFFF).astype(np.uint32)
                body += (
                    np.stack([u & 255, (u >> 8) & 255, (u >> 16) & 255], 1)
                    .astype(np.uint8)
                    .tobytes()
                )
    return h + bytes(body)


def _acc(n: int, unit: str = "g", lim: float = 8.0) -> list[Sig]:
    return [Sig(f"Acc {a}", n, unit, -lim, lim) for a in "XYZ"]


def seeds() -> dict[str, bytes]:
    """The valid files the mutations start from (60 s each)."""
    n = 60
    gap_on = [float(r) if r < 30 else float(r + 20) for r in range(n)]
    return {
        "edfc-2emg-acc": build([Sig("EMG1", 1000), Sig("EMG2", 1000), *_acc(50)], n),
        "edf-plain": build([Sig("Leg L", 500), Sig("Leg R", 500)], n, kind=""),
        "edfd-gap": build(
            [Sig("Leg L", 512), *_acc(32, "m/s2", 80)], n, kind="EDF+D", onsets=gap_on
        ),  # fmt: skip
        "bdf-plus": build([Sig("EMG Tib", 256), Sig("Calf", 256)], n, bdf=True),
        "mixed-rates": build([Sig("Gastroc", 2000, "mV", -5, 5), Sig("Tib L", 500)], n),
        "rec2s": build([Sig("EMG1", 2000), *_acc(100)], n // 2, dur=2.0),
    }


# ============================================================================ mutations

MAIN_FIELDS = {  # name: (offset, width)
    "version": (0, 8), "startdate": (168, 8), "starttime": (176, 8), "header_bytes": (184, 8),
    "reserved": (192, 44), "n_records": (236, 8), "duration": (244, 8), "n_signals": (252, 4),
}  # fmt: skip
SIG_FIELDS = [("label", 16), ("transducer", 80), ("unit", 8), ("pmin", 8), ("pmax", 8),
              ("dmin", 8), ("dmax", 8), ("prefilter", 80), ("n", 8), ("reserved", 32)]  # fmt: skip
VALUES = [b"0", b"-1", b"1", b"2.5", b"1e8", b"99999999", b"1e-9", b"1e-300", b"-32769",
          b"8388608", b"abc", b"", b"nan", b"inf", b"-inf", b"1_000", b"\xb5V\xff", b"  7  ",
          b"3600000", b"0.0001", b"-5000", b"5000", b"1e308", b"-0"]  # fmt: skip
UNITS = [b"V", b"mV", b"nV", b"", b"degC", b"uV", b"g", b"mg", b"\xb5V", b"m/s2"]
DURATIONS = [b"1e8", b"3600000", b"1e-9", b"1e-300", b"0", b"-1", b"0.5", b"2", b"3600",
             b"0.001", b"1e-3", b"86400", b"nan"]  # fmt: skip


def _ns(data: bytes) -> int:
    try:
        return min(max(1, int(data[252:256].decode("ascii").strip())), 64)
    except ValueError:
        return 1


def _put(data: bytearray, off: int, width: int, v: bytes) -> None:
    data[off : off + width] = v[:width].ljust(width)


def _sig_off(ns: int, k: int, i: int) -> tuple[int, int]:
    off = 256 + ns * sum(w for _, w in SIG_FIELDS[:k])
    w = SIG_FIELDS[k][1]
    return off + w * i, w


def _header_bytes(data: bytes) -> int:
    return 256 * (_ns(data) + 1)


def _record_layout(data: bytes) -> tuple[int, int, int]:
    """(header bytes, record bytes, annotation signal's offset in a record or -1)."""
    ns = _ns(data)
    sb = 3 if data[:1] == b"\xff" else 2
    off, ann, rb = 256 + ns * 216, -1, 0
    for i in range(ns):
        lab = data[256 + 16 * i : 256 + 16 * (i + 1)].strip()
        try:
            n = int(data[off + 8 * i : off + 8 * (i + 1)].strip() or 0)
        except ValueError:
            return 256 * (ns + 1), 0, -1  # an earlier mutation broke the layout
        if lab.endswith(b"Annotations"):
            ann = rb
        rb += n * sb
    return 256 * (ns + 1), rb, ann


def m_main_field(d: bytearray, rng: np.random.Generator) -> str:
    name = str(rng.choice(sorted(MAIN_FIELDS)))
    off, w = MAIN_FIELDS[name]
    _put(d, off, w, VALUES[rng.integers(len(VALUES))])
    return f"main:{name}"


def m_sig_field(d: bytearray, rng: np.random.Generator) -> str:
    ns = _ns(bytes(d))
    k = int(rng.integers(len(SIG_FIELDS)))
    i = int(rng.integers(ns))
    off, w = _sig_off(ns, k, i)
    name = SIG_FIELDS[k][0]
    v = UNITS[rng.integers(len(UNITS))] if name == "unit" else VALUES[rng.integers(len(VALUES))]
    _put(d, off, w, v)
    return f"signal:{name}"


def m_duration(d: bytearray, rng: np.random.Generator) -> str:
    _put(d, 244, 8, DURATIONS[rng.integers(len(DURATIONS))])
    return "duration"


def m_range(d: bytearray, rng: np.random.Generator) -> str:
    """Physical min == max, digital min/max swapped or beyond the format."""
    ns = _ns(bytes(d))
    i = int(rng.integers(ns))
    c = int(rng.integers(3))
    if c == 0:
        pmax, w = _sig_off(ns, 4, i)
        pmin, _ = _sig_off(ns, 3, i)
        d[pmax : pmax + w] = d[pmin : pmin + w]
        return "range:physical-empty"
    lo, w = _sig_off(ns, 5, i)
    hi, _ = _sig_off(ns, 6, i)
    if c == 1:
        a, b = bytes(d[lo : lo + w]), bytes(d[hi : hi + w])
        d[lo : lo + w], d[hi : hi + w] = b, a
        return "range:digital-swapped"
    _put(d, hi, w, b"99999999")
    return "range:digital-wide"


def m_onsets(d: bytearray, rng: np.random.Generator) -> str:
    """Rewrite one record's time-keeping TAL of an EDF+ seed, made EDF+D (where onsets
    count: an EDF+C file's records are contiguous whatever their TALs say)."""
    hb, rb, ann = _record_layout(bytes(d))
    if ann < 0 or rb <= 0:
        return m_sig_field(d, rng)
    if d[192:197] in (b"EDF+C", b"BDF+C"):
        d[196:197] = b"D"
    n = (len(d) - hb) // rb
    r = int(rng.integers(1, max(2, n)))
    pos = hb + r * rb + ann
    end = d.index(b"\x14", pos) if b"\x14" in d[pos : pos + 40] else pos
    try:
        on = float(d[pos:end].decode("ascii"))
    except ValueError:
        on = float(r)
    choice = ["jump", "back", "dup", "missing", "garbage", "many"][int(rng.integers(6))]
    if choice == "missing":
        d[pos : pos + 8] = b"\x00" * 8
        return "onset:missing"
    if choice == "garbage":
        d[pos : pos + 8] = bytes(rng.integers(0, 256, 8, dtype=np.uint8))
        return "onset:garbage"
    if choice == "many":  # 1e6 s between every record from r on
        for k in range(r, n):
            p = hb + k * rb + ann
            txt = f"+{k * 1_000_000:d}\x14\x14\x00".encode()
            d[p : p + len(txt)] = txt
        return "onset:many-1e6"
    jump = float(rng.choice([30 * 86400, 1e7, 1e9, 47 * 3600, 3600]))
    new = {"jump": on + jump, "back": on - 100.0, "dup": on - 1.0}[choice]
    txt = (f"{new:+.6f}".rstrip("0").rstrip(".") + "\x14\x14\x00").encode()
    old_len = d.index(b"\x00", pos) + 1 - pos
    d[pos : pos + max(len(txt), old_len)] = txt.ljust(max(len(txt), old_len), b"\x00")
    return f"onset:{choice}"


def m_annotation_channel(d: bytearray, rng: np.random.Generator) -> str:
    ns = _ns(bytes(d))
    i = int(rng.integers(ns))
    off, w = _sig_off(ns, 0, i)
    c = int(rng.integers(3))
    if c == 0:
        _put(d, off, w, b"EDF Annotations")
        return "annotation:label-on-data"
    if c == 1:
        _put(d, off, w, b"EDF Annotation")
        return "annotation:label-off"
    hb, rb, ann = _record_layout(bytes(d))
    if ann >= 0 and rb > 0:
        for r in range(0, (len(d) - hb) // rb, 3):
            p = hb + r * rb + ann
            d[p : p + 20] = bytes(rng.integers(0, 256, 20, dtype=np.uint8))
    return "annotation:bytes"


def m_size(d: bytearray, rng: np.random.Generator) -> str:
    hb = _header_bytes(bytes(d))
    c = int(rng.integers(3))
    if c == 0:
        cut = int(rng.integers(0, len(d)))
        del d[cut:]
        return "size:cut" if cut >= hb else "size:cut-header"
    if c == 1:
        d.extend(b"\x00" * int(rng.integers(1, 5000)))
        return "size:padded"
    del d[len(d) - int(rng.integers(1, 200)) :]
    return "size:tail"


def m_body(d: bytearray, rng: np.random.Generator) -> str:
    hb = _header_bytes(bytes(d))
    if len(d) > hb:
        idx = rng.integers(hb, len(d), 200)
        d[idx[0] : idx[0] + 1] = b"\x00"
        for k in idx:
            d[int(k)] = int(rng.integers(256))
    return "body:bytes"


def m_rate(d: bytearray, rng: np.random.Generator) -> str:
    """Samples per record of a signal changed (and the size left as it was)."""
    ns = _ns(bytes(d))
    i = int(rng.integers(ns))
    off, w = _sig_off(ns, 8, i)
    _put(d, off, w, str(int(rng.choice([1, 2, 99, 1000000, 20000, 3, 1009]))).encode())
    return "rate"


MUTATIONS: list[Callable[[bytearray, np.random.Generator], str]] = [
    m_main_field, m_sig_field, m_duration, m_range, m_onsets, m_onsets, m_annotation_channel,
    m_size, m_body, m_rate,
]  # fmt: skip


def _mutate(d: bytearray, rng: np.random.Generator) -> str:
    m = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
    try:
        return m(d, rng)
    except (ValueError, IndexError):  # an earlier mutation left nothing for this one
        return m_body(d, rng)


def make_cases(n: int, seed: int, folder: Path) -> list[tuple[Path, str]]:
    """``n`` mutated files (1-2 mutations each) under ``folder``: (path, mutation kinds)."""
    rng = np.random.default_rng(seed)
    base = seeds()
    names = sorted(base)
    out: list[tuple[Path, str]] = []
    for k in range(n):
        name = names[k % len(names)]
        d = bytearray(base[name])
        kinds = [_mutate(d, rng)]
        if rng.random() < 0.3:
            kinds.append(_mutate(d, rng))
        ext = ".bdf" if name.startswith("bdf") else ".edf"
        p = folder / f"case{k:05d}-{name}{ext}"
        p.write_bytes(bytes(d))
        out.append((p, "+".join(kinds)))
    return out


# ============================================================================ judging


def _strict(text: str) -> Any:
    def bad(c: str) -> Any:
        raise ValueError(f"non-finite number {c} in JSON")

    return json.loads(text, parse_constant=bad)


def judge(path: Path, out: str) -> str:
    """'' when an exit-0 output of ``cramp detect --json`` keeps the sanity bounds, else
    why not."""
    try:
        obj = _strict(out)
    except ValueError as e:
        return f"not strict JSON: {e}"
    dur = obj.get("duration_s")
    if not (isinstance(dur, int | float) and 0 <= dur <= 48 * 3600 + 1):
        return f"duration_s {dur!r}"
    lay = obj["layout"]
    if not 100 <= lay["emg_fs"] <= 10_000:
        return f"emg_fs {lay['emg_fs']}"
    if lay["acc_fs"] is not None and not 1 <= lay["acc_fs"] <= 1000:
        return f"acc_fs {lay['acc_fs']}"
    # the whole file holds at most this many seconds of samples
    held = (path.stat().st_size / 2) / lay["emg_fs"]
    if obj["stats"].get("detector_samples", 0) / lay["emg_fs"] > held + 1:
        return "more samples than the file holds"
    warned = " ".join(obj.get("warnings", []))
    end = max([dur] + [g["end_s"] for g in obj["gaps"]])
    for e in obj["events"]:
        if not (-1e-6 <= e["start_s"] <= e["end_s"] <= end + 1):
            return f"event {e['kind']} at {e['start_s']}-{e['end_s']} outside 0-{end}"
        for k in ("peak_uv", "mean_uv", "peak_x_rest", "confidence"):
            if not isinstance(e.get(k), int | float) or not math.isfinite(e[k]):
                return f"event {k} {e.get(k)!r}"
        if e["peak_uv"] > MAX_UV and "implausible" not in warned:
            return f"peak {e['peak_uv']} µV without a warning"
    eoff = obj["stats"].get("detector_electrode_off_s", 0.0)
    if eoff > end + 1:
        return f"electrode off {eoff} s in {end} s"
    return ""


# ============================================================================ worker


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def _run_one(path: Path) -> dict[str, Any]:
    """One case in this (limited) process: ``cramp detect PATH --json``."""
    import click

    from nightcramp.cli import cli
    from recordings.errors import UserError

    buf = io.StringIO()
    t0 = time.perf_counter()
    res: dict[str, Any] = {}
    signal.alarm(CASE_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            cli.main(args=["detect", str(path), "--json"], prog_name="cramp", standalone_mode=False)
        why = judge(path, buf.getvalue())
        res = {"outcome": "insane" if why else "ok", "detail": why}
    except UserError as e:
        msg = str(e)
        good = "\n" not in msg and path.name in msg
        res = {"outcome": "error" if good else "bad_error", "detail": msg[:300]}
    except TimeoutError:
        res = {"outcome": "hang", "detail": f"over {CASE_TIMEOUT_S} s"}
    except MemoryError:
        res = {"outcome": "memory", "detail": "MemoryError"}
    except click.ClickException as e:
        res = {"outcome": "bad_error", "detail": e.format_message()[:300]}
    except Exception as e:  # noqa: BLE001 - the point: count what escapes
        import traceback

        tb = traceback.format_exc().strip().splitlines()
        where = next((ln.strip() for ln in reversed(tb) if ln.strip().startswith("File")), "")
        res = {"outcome": "traceback", "detail": f"{type(e).__name__}: {e} [{where}]"[:400]}
    finally:
        signal.alarm(0)
    res["s"] = time.perf_counter() - t0
    res["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def _alarm(_sig: int, _frm: Any) -> None:
    raise TimeoutError


def worker_main() -> None:
    """Read case paths on stdin, one per line; write one JSON result per line."""
    _limit()
    signal.signal(signal.SIGALRM, _alarm)
    import nightcramp.cli  # noqa: F401 - imports before the first case's clock starts
    import nightcramp.commands.data  # noqa: F401
    import recordings.edf  # noqa: F401

    for line in sys.stdin:
        res = _run_one(Path(line.strip()))
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


def run_cases(cases: list[tuple[Path, str]], workers: int = 1) -> list[dict[str, Any]]:
    """Every case through worker subprocesses (restarted after a crash), in order."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}  # fmt: skip
    cmd = [sys.executable, "-c", "from benchmarks.bench_edf_fuzz import worker_main; worker_main()"]
    root = str(Path(__file__).resolve().parents[1])
    results: list[dict[str, Any] | None] = [None] * len(cases)
    shards = [list(range(w, len(cases), workers)) for w in range(workers)]
    procs: list[tuple[subprocess.Popen[str], list[int]]] = []

    def start(idx: list[int]) -> subprocess.Popen[str]:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True, env=env, cwd=root)  # fmt: skip
        assert p.stdin is not None
        p.stdin.write("".join(f"{cases[i][0]}\n" for i in idx))
        p.stdin.close()
        return p

    for idx in shards:
        if idx:
            procs.append((start(idx), idx))
    while procs:
        p, idx = procs.pop(0)
        assert p.stdout is not None
        done = 0
        for line in p.stdout:
            results[idx[done]] = json.loads(line)
            done += 1
        p.wait()
        if done < len(idx):  # the worker died on case idx[done]
            rc = p.returncode
            results[idx[done]] = {"outcome": "memory" if rc in (-9, 137) else "crash",
                                  "detail": f"worker exit {rc}", "s": 0.0, "maxrss_mb": 0.0}  # fmt: skip
            if idx[done + 1 :]:
                procs.append((start(idx[done + 1 :]), idx[done + 1 :]))
    out: list[dict[str, Any]] = []
    for (path, kinds), r in zip(cases, results, strict=True):
        assert r is not None
        out.append({**r, "case": path.name, "mutation": kinds})
    return out


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(r["outcome"] for r in results)
    return {
        "cases": len(results),
        "counts": {k: counts.get(k, 0) for k in ("ok", "error", *FAILURES)},
        "failures": [r for r in results if r["outcome"] in FAILURES],
        "max_rss_mb": max((r["maxrss_mb"] for r in results), default=0.0),
        "max_case_s": max((r["s"] for r in results), default=0.0),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edf-fuzz-") as tmp:
        folder = Path(tmp)
        base = []
        for name, data in sorted(seeds().items()):
            p = folder / f"seed-{name}{'.bdf' if name.startswith('bdf') else '.edf'}"
            p.write_bytes(data)
            base.append((p, "none"))
        t0 = time.perf_counter()
        b = summarise(run_cases(base, 1))
        tb = time.perf_counter() - t0
        cases = make_cases(a.cases, a.seed, folder)
        t0 = time.perf_counter()
        res = run_cases(cases, a.workers)
        t = time.perf_counter() - t0
    s = summarise(res)
    print(f"baseline: {len(base)} valid seed files: {b['counts']} in {tb:.1f} s")
    print(f"fuzz: {s['cases']} mutated files (seed {a.seed}, {a.workers} workers, "
          f"RLIMIT_AS {MEM_LIMIT / 1024**3:g} GiB, {CASE_TIMEOUT_S} s per case) in {t:.1f} s "
          f"({s['cases'] / t:.0f} cases/s)")  # fmt: skip
    for k, v in s["counts"].items():
        print(f"  {k:10s} {v:6d}")
    print(f"  worst case {s['max_case_s']:.2f} s; peak RSS of a worker {s['max_rss_mb']:.0f} MB")
    by: dict[str, Counter[str]] = {}
    for r in res:
        for kind in r["mutation"].split("+"):
            by.setdefault(kind, Counter())[r["outcome"]] += 1
    print("by mutation (ok / error / failures):")
    for kind in sorted(by):
        c = by[kind]
        print(f"  {kind:26s} {c['ok']:5d} {c['error']:5d} {sum(c[f] for f in FAILURES):5d}")
    for r in s["failures"][:30]:
        print(f"FAIL {r['outcome']}: {r['case']} ({r['mutation']}): {r['detail']}")
    if b["counts"]["ok"] != len(base) or s["failures"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
