"""The labelled benchmark corpus: synthetic nights with ground truth, in two disjoint splits.

``corpus("tune")`` is what the detector may be tuned on; ``corpus("heldout")`` is never
looked at while tuning and is reported separately.  Both splits follow the same recipes
(every hard negative of ``shared/brief/DOMAIN.md``, cramp-free nights, 256/500/1000/2000 Hz,
with and without accelerometer and tibialis channel, 50/60 Hz mains, 1-h to 8-h nights)
plus the variants a different simulator might bring (a flat band-pass EMG spectrum, an
accelerometer worn in another axis convention, strong rest drift, strong mains),
but with disjoint seeds (tune: 1000+, heldout: 2000+) and, in the held-out split, the
sampling rates and mains frequencies rotated between recipes, so that tuning cannot learn
a recipe's exact signal chain.

Each :class:`NightSpec` is a frozen set of :func:`emulator.night.make_night`
arguments plus a name and ``edf_units``: the physical units a benchmark should use when
it writes the night to an EDF file, to exercise unit handling:

* ``("uV", "g")``: EMG written in µV, acceleration in g (the native units);
* ``("mV", "m/s2")``: EMG written in mV (samples x 1e-3), acceleration in m/s²
  (samples x 9.80665).

Run ``python -m benchmarks.corpus [tune|heldout] [--quick] [--render]`` to print the
list (and, with ``--render``, the rendering time of each night).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from emulator.night import Scenario, SyntheticNight, make_night

EdfUnits = tuple[str, str]
UV_G: EdfUnits = ("uV", "g")
MV_MS2: EdfUnits = ("mV", "m/s2")


@dataclass(frozen=True)
class NightSpec:
    """One corpus night: ``make_night`` arguments, a name and the EDF units to write."""

    name: str
    seed: int
    duration_s: float
    emg_fs: float = 1000.0
    acc_fs: float | None = 50.0
    sites: tuple[str, ...] = ("calf", "tibialis")
    mains_hz: float = 50.0
    scenario: Scenario = field(default_factory=Scenario)
    edf_units: EdfUnits = UV_G
    """Units for EDF export: ``("uV", "g")`` or ``("mV", "m/s2")`` (see module doc)."""

    def make(self, **kw: Any) -> SyntheticNight:
        """Build the night (cheap: rendering happens when it is streamed)."""
        return make_night(
            self.seed,
            self.duration_s,
            emg_fs=self.emg_fs,
            acc_fs=self.acc_fs,
            sites=self.sites,
            mains_hz=self.mains_hz,
            scenario=self.scenario,
            **kw,
        )

    @property
    def hours(self) -> float:
        return self.duration_s / 3600.0

    @property
    def cramp_free(self) -> bool:
        return self.scenario.cramps == 0


H = 3600.0

# (name, duration_s, emg_fs, acc_fs, sites, mains_hz, scenario, edf_units)
_RECIPES: list[
    tuple[str, float, float, float | None, tuple[str, ...], float, Scenario, EdfUnits]
] = [
    # realistic full nights
    ("typical-8h", 8 * H, 1000.0, 50.0, ("calf", "tibialis"), 50.0, Scenario(cramps=3), UV_G),
    (
        "typical-8h-b",
        8 * H,
        500.0,
        50.0,
        ("calf", "tibialis"),
        60.0,
        Scenario(cramps=2, plm_series=2, rest_drift=2.5),
        MV_MS2,
    ),
    # cramp-free nights full of hard negatives: the false-cramps-per-8-h figure
    (
        "cramp-free-hard-8h",
        8 * H,
        1000.0,
        50.0,
        ("calf", "tibialis"),
        50.0,
        Scenario(cramps=0, hard=True, walks=2, stretches=3, electrode_off=2, plm_series=2),
        UV_G,
    ),
    (
        "cramp-free-sleeplab-8h",
        8 * H,
        256.0,
        None,
        ("calf", "tibialis"),
        60.0,
        Scenario(cramps=0, plm_series=3, walks=1, stretches=2),
        MV_MS2,
    ),
    (
        "cramp-free-calf-only-6h",
        6 * H,
        500.0,
        50.0,
        ("calf",),
        50.0,
        Scenario(cramps=0, hard=True, walks=1, stretches=2, electrode_off=1),
        UV_G,
    ),
    # cramps in every setting
    (
        "2khz-4h",
        4 * H,
        2000.0,
        50.0,
        ("calf", "tibialis"),
        60.0,
        Scenario(cramps=2, plm_series=1, walks=1),
        UV_G,
    ),
    (
        "calf-only-500hz-4h",
        4 * H,
        500.0,
        50.0,
        ("calf",),
        50.0,
        Scenario(cramps=2, plm_series=1),
        MV_MS2,
    ),
    (
        "three-channel-3h",
        3 * H,
        1000.0,
        50.0,
        ("gastrocnemius", "soleus", "tibialis"),
        50.0,
        Scenario(cramps=3, plm_series=1, spectrum="bandpass"),
        UV_G,
    ),
    (
        "walk-it-off-hard-3h",
        3 * H,
        1000.0,
        50.0,
        ("calf", "tibialis"),
        50.0,
        Scenario(cramps=2, cramp_relief=("walk",), hard=True, walks=1, acc_axes="random"),
        UV_G,
    ),
    (
        "plm-heavy-sleeplab-4h",
        4 * H,
        256.0,
        None,
        ("calf", "tibialis"),
        50.0,
        Scenario(cramps=2, plm_series=3, leg_movements_per_hour=4.0),
        MV_MS2,
    ),
    (
        "no-acc-stretches-2h",
        2 * H,
        1000.0,
        None,
        ("calf", "tibialis"),
        60.0,
        Scenario(cramps=2, cramp_relief=("stretch",), stretches=2, hard=True),
        UV_G,
    ),
    (
        "electrode-off-2h",
        2 * H,
        500.0,
        50.0,
        ("calf", "tibialis"),
        50.0,
        Scenario(cramps=2, electrode_off=3, artifact_rate=3.0, ecg="spells", mains_uv=(10.0, 30.0)),
        UV_G,
    ),
    (
        "short-and-long-cramps-2h",
        2 * H,
        1000.0,
        50.0,
        ("calf", "tibialis"),
        50.0,
        Scenario(cramps=2, cramp_durations=(12.0, 480.0), cramp_relief=("massage", "stretch")),
        UV_G,
    ),
    (
        "restless-1h",
        1 * H,
        1000.0,
        50.0,
        ("calf", "tibialis"),
        60.0,
        Scenario(
            cramps=1,
            turns_per_hour=10.0,
            twitches_per_hour=40.0,
            sleep_onset_s=120.0,
            acc_axes="random",
        ),
        MV_MS2,
    ),
]

# Held-out split: the same recipes with the rates and mains rotated (still covering all).
_HELDOUT_SWAP: dict[str, tuple[float, float]] = {
    "typical-8h": (2000.0, 60.0),
    "typical-8h-b": (1000.0, 50.0),
    "cramp-free-hard-8h": (500.0, 60.0),
    "cramp-free-sleeplab-8h": (256.0, 50.0),
    "2khz-4h": (256.0, 50.0),
    "calf-only-500hz-4h": (1000.0, 60.0),
    "three-channel-3h": (2000.0, 60.0),
    "plm-heavy-sleeplab-4h": (500.0, 60.0),
    "electrode-off-2h": (1000.0, 60.0),
}

_QUICK = (
    "typical-8h",
    "cramp-free-hard-8h",
    "calf-only-500hz-4h",
    "plm-heavy-sleeplab-4h",
    "walk-it-off-hard-3h",
)
"""Recipes of the quick corpus, shortened to <= 1.5 h each."""


def corpus(split: Literal["tune", "heldout"], *, quick: bool = False) -> list[NightSpec]:
    """The nights of one split.  ``quick``: 5 short nights for smoke runs."""
    if split not in ("tune", "heldout"):
        raise ValueError(f"split must be 'tune' or 'heldout', got {split!r}")
    base = 1000 if split == "tune" else 2000
    out: list[NightSpec] = []
    for i, (name, dur, fs, afs, sites, mains, sc, units) in enumerate(_RECIPES):
        if split == "heldout" and name in _HELDOUT_SWAP:
            fs, mains = _HELDOUT_SWAP[name]
        if quick:
            if name not in _QUICK:
                continue
            dur = min(dur, 1.5 * H)
        out.append(
            NightSpec(
                name=f"{split}/{name}",
                seed=base + i,
                duration_s=dur,
                emg_fs=fs,
                acc_fs=afs,
                sites=sites,
                mains_hz=mains,
                scenario=sc,
                edf_units=units,
            )
        )
    return out


def _main(argv: list[str]) -> None:
    split = "tune"
    for a in argv:
        if a in ("tune", "heldout"):
            split = a
    quick = "--quick" in argv
    render = "--render" in argv
    specs = corpus(split, quick=quick)  # type: ignore[arg-type]
    total_h = 0.0
    total_t = 0.0
    print(
        f"{'night':42s} {'h':>4s} {'fs':>5s} {'ch':>2s} {'acc':>4s} {'mains':>5s} "
        f"{'cramp':>5s} {'plm':>4s} {'mov':>4s} {'art':>4s} {'render_s':>8s}"
    )
    for s in specs:
        n = s.make()
        k = {kind: len(n.truth_of(kind)) for kind in ("cramp", "plm", "movement", "artifact")}
        dt = float("nan")
        if render:
            t0 = time.perf_counter()
            for _ in n.chunks(10.0):
                pass
            dt = time.perf_counter() - t0
            total_t += dt
        total_h += s.hours
        print(
            f"{s.name:42s} {s.hours:4.1f} {s.emg_fs:5.0f} {len(s.sites):2d} "
            f"{'yes' if s.acc_fs else 'no':>4s} {s.mains_hz:5.0f} {k['cramp']:5d} {k['plm']:4d} "
            f"{k['movement']:4d} {k['artifact']:4d} {dt:8.1f}"
        )
    print(
        f"{len(specs)} nights, {total_h:.1f} h"
        + (f", rendered in {total_t:.1f} s" if render else "")
    )


if __name__ == "__main__":
    _main(sys.argv[1:])
