"""The independent night model's truth describes what is in its signal."""

from __future__ import annotations

import numpy as np

from benchmarks.wildnight import WildNight


def test_a_cramp_cut_off_by_the_night_end_is_labelled_up_to_the_end() -> None:
    night = WildNight(7, 240.0, script=[(200.0, "none", 120.0, 0.0, False)])
    cr = night.truth_of("cramp")
    assert [(c.start_s, c.end_s) for c in cr] == [(200.0, 240.0)]
    assert cr[0].extra["cut_at_end"] is True
    # and the signal does hold it: the calf is loud to the last second
    fs = night.layout.emg_fs
    calf = night.emg[:, 0].astype(float)
    late = np.std(calf[int(230 * fs) :])
    quiet = np.std(calf[int(100 * fs) : int(150 * fs)])
    assert late > 5 * quiet
