"""Real EMG textures spliced into quiet baselines (``shared/data/real``).

The sustained real contraction (openhdemg, vastus lateralis, held ~25 s) must come out as
one cramp-like burst with its start and end within 1 s of the force trace's; short real
activations (BioSPPy ``emg_1``) and real tibialis needle EMG (PhysioNet emgdb, a gentle
dorsiflexion) must not be cramps.  One of each by default; every electrode, rate and
record in the slow suite.
"""

from __future__ import annotations

import pytest

from benchmarks.robustness import REAL, check_real, detect_cramps, force_span, real_texture_nights

pytestmark = pytest.mark.skipif(not REAL.exists(), reason="shared real data not present")


def test_force_span_marks_the_held_contraction() -> None:
    import numpy as np

    fs = 100.0
    f = np.r_[np.zeros(100), np.linspace(0, 25, 300), np.full(1000, 25.0), np.linspace(25, 0, 200)]
    a, b = force_span(f, fs)
    assert 1.0 < a < 1.5 and 15.5 < b < 16.0


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_real_textures(full: bool) -> None:
    kinds: set[str] = set()
    bad = []
    for rn in real_texture_nights(full=full):
        kinds.add(rn.want)
        r = check_real(rn, detect_cramps(rn.night.source()))
        if not r.ok:
            bad.append(f"{r.name}: {r.why}")
    assert kinds == {"cramp", "none"}
    assert not bad, "; ".join(bad)
