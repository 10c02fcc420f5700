"""The hand-built realistic night (:func:`hand_night`) that the cramp-log, summary and
report tests share: a 7.5-h night with two cramps (the first followed by a
stretch and a walk), a PLM series, turnings, an electrode-off spell and a link gap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from detector.events import Event, NightResult
from detector.stream import Gap, StreamLayout
from nightcramp.cramplog import CrampLog

HAND_VERSION = "hand-1"
START = datetime(2026, 11, 24, 22, 50, tzinfo=UTC)


def hand_layout(start: datetime = START) -> StreamLayout:
    return StreamLayout(
        emg_fs=1000.0,
        emg_labels=("EMG1", "EMG2"),
        emg_sites=("calf", "tibialis"),
        acc_fs=50.0,
        start_utc=start,
        side="left",
        extra={"device": "NightCramp-1A2B"},
    )


def hand_night(
    start: datetime = START,
    duration_s: float = 7.5 * 3600,
    *,
    cramps: tuple[tuple[float, float, float], ...] = ((4.35 * 3600, 95.0, 180.0),
                                                      (6.8 * 3600, 38.0, 95.0)),
    plm_series: bool = True,
    with_trace: bool = True,
    version: str = HAND_VERSION,
    seed: int = 7,
) -> NightResult:  # fmt: skip
    """A realistic night built by hand (no detector needed): events, trace, epochs, gaps.

    ``cramps`` holds (start s, duration s, peak µV) tuples.
    """
    rng = np.random.default_rng(seed)
    layout = hand_layout(start)
    events: list[Event] = []
    # Turning over every ~40 min: a few seconds in both muscles.
    for k, t in enumerate(np.arange(1500.0, duration_s - 600, 2400.0)):
        t = float(t + rng.uniform(-300, 300))
        events.append(
            Event("movement", t, t + 4.0, ("EMG1", "EMG2"), 40.0, 18.0, 13.0, 6.0, 0.9,
                  "turning", "both muscles briefly active and the shank rolled over")
        )  # fmt: skip
        _ = k
    if plm_series:
        t = 2.1 * 3600
        while t < 2.6 * 3600:
            events.append(
                Event("plm", t, t + 1.6, ("EMG2",), 22.0, 12.0, 7.0, 4.0, 0.8, "leg-movement",
                      "0.5-10 s burst in tibialis, part of a series with 5-90 s intervals")
            )  # fmt: skip
            t += float(rng.uniform(18, 32))
    followers: list[Event] = []
    for i, (t, d, peak) in enumerate(cramps):
        awake = 540.0 if i == 0 else 150.0
        events.append(
            Event("cramp", t, t + d, ("EMG1",), peak, peak * 0.6, peak / 3.0, peak / 5.0,
                  0.93 - 0.1 * i, "", "sustained calf activity far above rest while lying still",
                  {"asleep_before": True, "woke_after": True, "moved_after_s": 4.0,
                   "walked_after_s": 40.0 if i == 0 else None, "awake_after_s": awake})
        )  # fmt: skip
        followers.append(
            Event("movement", t + d + 4, t + d + 24, ("EMG2",), 35.0, 20.0, 11.0, 6.0, 0.8,
                  "stretch", "tibialis held while the calf stayed passive")
        )  # fmt: skip
        if i == 0:
            followers.append(
                Event("movement", t + d + 40, t + d + 160, ("EMG1",), 60.0, 25.0, 20.0, 8.0,
                      0.85, "walking", "a calf burst at every stride, about 1 per second")
            )  # fmt: skip
    events += followers
    eoff = (5.4 * 3600, 5.4 * 3600 + 90.0)
    events.append(
        Event("artifact", eoff[0], eoff[1], ("EMG1",), 900.0, 400.0, 300.0, 130.0, 0.95,
              "electrode-off", "mains hum and saturation: the electrode lost contact")
    )  # fmt: skip
    events.sort(key=lambda e: e.start_s)
    gaps = [Gap(3.3 * 3600, 3.3 * 3600 + 360.0, "link")]

    n = int(duration_s)
    t = np.arange(n, dtype=float)
    if with_trace:
        rest = 3.0 + 0.6 * np.sin(t / 5000.0)
        env = rest * rng.lognormal(0.0, 0.25, n)
        act = np.abs(rng.normal(0.0, 0.004, n))
        posture = np.array(["lying"] * n, dtype=object)
        posture[:420] = "sitting"
        posture[-300:] = "standing"
        for e in events:
            a, b = int(e.start_s), max(int(e.start_s) + 1, int(e.end_s))
            if e.kind == "artifact":
                env[a:b] = e.peak_uv * rng.uniform(0.7, 1.0, b - a)
                continue
            shape = np.sin(np.linspace(0, np.pi, b - a)) ** 0.5
            env[a:b] = np.maximum(env[a:b], e.peak_uv * (0.4 + 0.6 * shape))
            if e.kind == "movement":
                act[a:b] += 0.08 if e.subtype != "walking" else 0.25
                if e.subtype == "walking":
                    posture[a:b] = "standing"
        for g in gaps:
            a, b = int(g.start_s), int(g.end_s)
            env[a:b] = np.nan
            act[a:b] = np.nan
            rest[a:b] = np.nan
            posture[a:b] = "unknown"
        trace = pd.DataFrame(
            {"t_s": t, "emg_rms_uv": env, "rest_uv": rest, "activity_g": act, "posture": posture}
        )
    else:
        trace = pd.DataFrame(columns=["t_s", "emg_rms_uv", "rest_uv", "activity_g", "posture"])
    et = np.arange(0.0, duration_s, 30.0)
    state = np.array(["sleep"] * len(et), dtype=object)
    state[et < 1200] = "wake"  # falling asleep
    state[et >= duration_s - 900] = "wake"  # getting up
    for e in events:
        if e.kind == "cramp":
            awake = float(e.context.get("awake_after_s") or 0)
            state[(et + 30 > e.start_s) & (et < e.end_s + awake)] = "wake"
    for g in gaps:
        state[(et + 30 > g.start_s) & (et < g.end_s)] = "gap"
    epost = np.where(et < 420, "sitting", np.where(et >= duration_s - 300, "standing", "lying"))
    epochs = pd.DataFrame({"t_s": et, "state": state, "posture": epost, "activity": 0.01})
    return NightResult(
        layout=layout,
        events=events,
        gaps=gaps,
        trace=trace,
        epochs=epochs,
        duration_s=duration_s,
        detector_version=version,
        stats={"samples": int(duration_s * 1000), "gap_s": 360.0, "electrode_off_s": 90.0},
    )


def ingest(log: CrampLog, night_id: str, result: NightResult, source: str = "replay") -> None:
    """begin_night -> every event through the sink -> end_night, as the recorder does."""
    log.begin_night(
        night_id,
        source=source,
        layout=result.layout,
        start_utc=result.layout.start_utc,
        detector_version=result.detector_version,
    )
    sink = log.event_sink(night_id, lambda t: result.layout.start_utc + timedelta(seconds=t))
    for ev in result.events:
        sink(ev)
    log.end_night(night_id, result)


def fill_history(log: CrampLog, nights: int = 21, seed: int = 3) -> None:
    """Earlier nights (no trace, to stay fast) and evening records, for trends."""
    rng = np.random.default_rng(seed)
    for k in range(nights, 0, -1):
        start = START - timedelta(days=k)
        stretch = bool(rng.random() < 0.5)
        water = round(float(rng.uniform(0.8, 2.6)), 1)
        n_cramps = int(rng.poisson(0.4 if stretch else 1.3))
        cramps = tuple((3600.0 * (1.5 + 1.3 * i), 40.0 + 20 * i, 120.0) for i in range(n_cramps))
        r = hand_night(start, cramps=cramps, plm_series=bool(k % 3), with_trace=False, seed=k)
        ingest(log, f"night-{start:%Y%m%d}", r)
        day = (start - timedelta(hours=12)).astimezone().date().isoformat()
        if k % 5 != 0:  # some evenings unrecorded
            log.set_evening(day, water_l=water, stretch=stretch, exercise=bool(k % 2),
                            long_sitting=bool(rng.random() < 0.3))  # fmt: skip
