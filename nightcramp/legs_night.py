"""Two sensors, one night: one recorder per leg in one asyncio loop, one pipeline.

Each leg's :class:`~nightcramp.recorder.Recorder` keeps its own connection, reconnects,
backfill (its own host session) and clock alignment (its own frame assembler), and
writes its sensor's frames into its own folder of the night (``recordings.night``).
Their chunks go, placed on the night's timeline, into one two-leg
:class:`~detector.pipeline.Pipeline` (a detector per leg, merged by the bilateral
rules); events reach the cramp log with their ``side``.  A sensor that never connects
leaves its leg one ``absent`` gap; the other leg's night is unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from detector.config import DetectorConfig
from detector.events import Event, NightResult
from detector.pipeline import Pipeline
from detector.stream import Chunk, Gap, StreamLayout
from nightcramp import heal, paths
from recordings.errors import UserError
from recordings.night import ABSENT, create_night, leg_offset, shift, utc_of_ns


class LegsNight:
    """The shared part of a two-sensor night: its folder, cramp log night, pipeline."""

    def __init__(
        self,
        sides: list[str],
        *,
        start_ns: int,
        out_dir: str | Path | None = None,
        db: str | Path | None = None,
        devices: list[dict[str, Any]] | None = None,
        source_label: str = "ble",
        on_event: Any = None,
        config: DetectorConfig | None = None,
    ) -> None:
        from nightcramp.cramplog import CrampLog

        self.sides = list(sides)
        self.folder, self.meta = create_night(
            paths.recordings_dir(out_dir), self.sides, start_ns=start_ns, devices=devices
        )
        self.night_id: str = self.meta["recording_id"]
        self.start_utc = utc_of_ns(start_ns)
        self.source_label = source_label
        self.on_event = on_event
        self.config = config
        self.cramplog = CrampLog.open(db)
        # a later command finishes the night from its folder if this process is killed
        heal.hold(self.folder, db, owner=self)
        self.pipeline: Pipeline | None = None
        self.result: NightResult | None = None
        self.recorders: dict[str, Any] = {}
        self._layouts: dict[str, StreamLayout] = {}
        self._offsets: dict[str, tuple[int, int]] = {}
        self._sink: Any = None
        self._end_s = 0.0

    def wall_time(self, t_s: float) -> datetime:
        return self.start_utc + timedelta(seconds=float(t_s))

    def pipeline_for(self, rec: Any) -> Pipeline:
        """The shared pipeline, made when the first leg's layout is known (a leg whose
        sensor has not shown up yet gets the same sensor layout, on its side)."""
        from detector.detect import DETECTOR_VERSION

        lay: StreamLayout = rec.assembler.layout
        side = rec.side
        if self.pipeline is None:
            layouts = [replace(lay, side=s, start_utc=self.start_utc) for s in self.sides]
            self.pipeline = Pipeline(layouts, on_event=self._event, config=self.config)
            self._sink = self.cramplog.event_sink(self.night_id, self.wall_time)
            self.cramplog.begin_night(
                self.night_id,
                source=self.source_label,
                layout=self.pipeline.layout,
                start_utc=self.start_utc,
                detector_version=DETECTOR_VERSION,
                device=", ".join(str(r.address or r.target) for r in self.recorders.values()),
            )
        else:
            first = next(iter(self._layouts.values()))
            if (lay.emg_fs, lay.n_emg, lay.acc_fs) != (first.emg_fs, first.n_emg, first.acc_fs):
                raise UserError(
                    f"{rec.target}: this sensor streams {lay.n_emg} EMG channels at "
                    f"{lay.emg_fs:g} Hz, the other leg's {first.n_emg} at {first.emg_fs:g} Hz "
                    "-- configure both sensors alike"
                )
        self._layouts[side] = lay
        self._offsets[side] = leg_offset(lay, self.start_utc)
        return self.pipeline

    def feed(self, rec: Any, item: Chunk | Gap) -> None:
        assert self.pipeline is not None
        fs = self._layouts[rec.side].emg_fs
        it = shift(item, self._offsets[rec.side], fs, rec.side)
        self._end_s = max(self._end_s, it.end_s if isinstance(it, Gap) else it.emg_stop / fs)
        self.pipeline.feed(it, leg=rec.side)

    def _event(self, ev: Event) -> None:
        rec = self.recorders.get(ev.side)
        for r in [rec] if rec is not None else list(self.recorders.values()):
            if not ev.is_notice:
                r.stats.events[ev.kind] = r.stats.events.get(ev.kind, 0) + 1
        if self._sink is not None:
            self._sink(ev)
        if self.on_event is not None:
            self.on_event(ev)

    def finish(self) -> NightResult | None:
        """After every recorder ended: a leg that never sent data becomes one gap, the
        legs are merged, the night is closed in the cramp log."""
        try:
            if self.pipeline is None:
                return None
            for side in self.sides:
                if side not in self._layouts:
                    self.pipeline.feed(Gap(0.0, self._end_s, ABSENT, side), leg=side)
            self.result = self.pipeline.finish()
            self.cramplog.end_night(self.night_id, self.result, wall_time=self.wall_time)
            for r in self.recorders.values():  # each leg's final events, counted once
                r.result = self.result
                r.stats.events = {}
                for ev in self.result.events:
                    if ev.side in (r.side, "both"):
                        r.stats.events[ev.kind] = r.stats.events.get(ev.kind, 0) + 1
            return self.result
        finally:
            self.cramplog.close()


async def record_legs(
    night: LegsNight, recorders: list[Any], grace_s: float = 30.0
) -> NightResult | None:
    """Run every leg's recorder in this loop until each ends.  When one ends (its
    duration), a leg whose sensor never came is stopped at once, the others ``grace_s``
    wall seconds later if they have not reached their own end by then (a stop by the
    user is given to every recorder).  A leg whose sensor is never found says so
    and leaves its leg a gap; only when no leg recorded anything is that an error."""
    for r in recorders:
        night.recorders[r.side] = r
    errors: list[UserError] = []

    loop = asyncio.get_running_loop()

    async def one(rec: Any) -> None:
        try:
            await rec.run()
        except UserError as e:
            errors.append(e)
            rec._say(f"{rec.side} leg: {e}")
            return
        for other in recorders:
            if other is rec:
                continue
            if other.stats.connections == 0:
                other.stop()  # a sensor that never came (a stop by the user stops all)
            else:  # the other leg gets a moment to reach its own end
                loop.call_later(grace_s, other.stop)

    try:
        await asyncio.gather(*(one(r) for r in recorders))
    finally:
        result = night.finish()
    if night.pipeline is None and errors:
        raise errors[0]
    return result
