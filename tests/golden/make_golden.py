"""Rebuild the golden ``cramp detect --json`` outputs that ``tests/test_golden.py`` checks.

Run ``python -m tests.golden.make_golden`` only when a change to the detector's
behaviour is deliberate; say in the commit why the events moved.  The inputs are the
sample night and short cuts of corpus nights, written to EDF in a temporary folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

#: (name, corpus split, recipe name, seconds): short cuts of corpus recipes, 256 Hz to 2 kHz,
#: with and without accelerometer and tibialis, 50 and 60 Hz mains.
NIGHTS: tuple[tuple[str, str, str, float], ...] = (
    ("typical", "heldout", "typical-8h", 1200.0),
    ("sleeplab-256", "tune", "plm-heavy-sleeplab-4h", 1500.0),
    ("calf-only-500", "tune", "calf-only-500hz-4h", 1200.0),
    ("walk-it-off", "tune", "walk-it-off-hard-3h", 1200.0),
    ("no-acc-stretch", "heldout", "no-acc-stretches-2h", 1200.0),
    ("electrode-off", "tune", "electrode-off-2h", 1200.0),
    ("three-channel-2k", "heldout", "three-channel-3h", 900.0),
)


def write_night_edf(split: str, recipe: str, seconds: float, path: Path) -> None:
    from dataclasses import replace

    from benchmarks.corpus import corpus

    spec = next(s for s in corpus(split) if s.name == f"{split}/{recipe}")  # type: ignore[arg-type]
    spec = replace(spec, duration_s=seconds)
    try:
        from recordings.edf import write_edf
    except ImportError:  # before the layered layout
        from recordings.edf import write_edf  # type: ignore[no-redef]
    write_edf(spec.make(), path)


def detect_json(path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", "from nightcramp.cli import main; main()"
         if (REPO / "nightcramp").is_dir() else "from nightcramp.cli import main; main()",
         "detect", str(path), "--json"],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    return json.loads(out.stdout)


def stable(doc: dict) -> dict:
    """The parts of the output that must not move: events, gaps, layout, duration."""
    return {k: doc[k] for k in ("events", "gaps", "layout", "duration_s")}


def build(tmp: Path) -> dict[str, dict]:
    got = {"sample-night": stable(detect_json(REPO / "recordings" / "sample-night"))}
    for name, split, recipe, seconds in NIGHTS:
        p = tmp / f"{name}.edf"
        write_night_edf(split, recipe, seconds, p)
        got[name] = stable(detect_json(p))
    return got


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        got = build(Path(d))
    for name, doc in got.items():
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {len(doc['events'])} events")


if __name__ == "__main__":
    main()
