"""The one pipeline: a :class:`~detector.stream.Source` in, events and a night result out.

Live recording, replay of a saved recording, EDF import and the synthetic corpus all
run through :func:`run` (pull) or :class:`Pipeline` (push, for the live recorder's event
loop).  Both feed the same :class:`~detector.detect.Detector`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from detector.detect import Detector, DetectorConfig
from detector.events import Event, NightResult
from detector.legs import LegsDetector
from detector.stream import Chunk, Gap, Source, StreamLayout, bulk_chunks, leg_layouts_of

EventSink = Callable[[Event], None]


class Pipeline:
    """Push interface: call :meth:`feed` with each chunk or gap, then :meth:`finish`.

    ``on_event`` (and every sink added) is called once per final event, as soon as the
    detector closes it, and also with the detector's early cramp notices
    (:meth:`detector.detect.Detector.take_notices`): a provisional cramp
    (``notice == "provisional"``), then either its final cramp (carrying
    ``replaces_start_s``) or its retraction (``notice == "retracted"``).
    :attr:`events` and :meth:`finish` hold the final events only.

    Both legs: a layout whose channels name two legs (:meth:`StreamLayout.legs`), or a
    list of one-leg layouts (one sensor per leg, fed with ``feed(item, leg=side)``), runs
    one detector per leg merged by the bilateral rules (:mod:`detector.legs`); the sinks
    get each leg's cramps and notices at once, its leg movements and PLMs at the end.
    """

    def __init__(
        self,
        layout: StreamLayout | Sequence[StreamLayout],
        *,
        on_event: EventSink | None = None,
        config: DetectorConfig | None = None,
    ) -> None:
        self.detector: Detector | LegsDetector
        if isinstance(layout, StreamLayout) and len(layout.legs()) == 1:
            self.detector = Detector(layout, config)
        elif not isinstance(layout, StreamLayout) and len(layout) == 1:
            self.detector = Detector(layout[0], config)
        else:
            self.detector = LegsDetector(layout, config)
        self.layout = self.detector.layout
        self._sinks: list[EventSink] = [on_event] if on_event else []
        self.events: list[Event] = []

    @property
    def two_legs(self) -> bool:
        return isinstance(self.detector, LegsDetector)

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def _emit(self, events: Iterable[Event], final: list[Event] | None = None) -> None:
        """Send the detector's notices to the sinks; ``final`` (at finish) holds the
        night's events with their context filled in, which replace the final ones."""
        for ev in events:
            if not ev.is_notice:
                if final is not None and len(self.events) < len(final):
                    fin = final[len(self.events)]
                    if ev.replaces_start_s is not None:
                        fin = replace(fin, replaces_start_s=ev.replaces_start_s)
                    ev = fin
                self.events.append(ev)
            for sink in self._sinks:
                sink(ev)

    def feed(self, item: Chunk | Gap, leg: str | None = None) -> list[Event]:
        """One chunk or gap (of leg ``leg`` only, for one sensor per leg)."""
        if isinstance(self.detector, LegsDetector):
            evs = self.detector.push(item, leg)
        elif leg is not None and leg != self.layout.side:
            raise ValueError(f"a one-leg pipeline ({self.layout.side}) fed the {leg} leg")
        else:
            evs = self.detector.push(item)
        self._emit(self.detector.take_notices())
        return evs

    def finish(self) -> NightResult:
        result = self.detector.finish()
        if isinstance(self.detector, LegsDetector):
            self._emit(self.detector.take_notices())
            self._finish_legs(result)
        else:
            self._emit(self.detector.take_notices(), final=result.events)
        return result

    def _finish_legs(self, result: NightResult) -> None:
        """Two legs: the sinks get what they have not seen (leg movements, PLMs) and
        every cramp again with its context filled in (the log upserts it)."""
        seen = {(e.kind, e.start_s, e.side) for e in self.events}
        for ev in result.events:
            if (ev.kind, ev.start_s, ev.side) not in seen or ev.kind == "cramp":
                for sink in self._sinks:
                    sink(ev)
        self.events = list(result.events)


def run(
    source: Source,
    *,
    on_event: EventSink | None = None,
    config: DetectorConfig | None = None,
    on_item: Callable[[Chunk | Gap], None] | None = None,
) -> NightResult:
    """Pull every item from ``source`` through the detector and return the night.

    A source that gives each leg's items itself (``leg_layouts`` and ``leg_items()``:
    a night of one sensor per leg, or its EDF+ export) feeds each leg's detector."""
    legs = leg_layouts_of(source)
    if legs:
        pipe = Pipeline(legs, on_event=on_event, config=config)
        for side, it in source.leg_items():  # type: ignore[attr-defined]
            if on_item is not None:
                on_item(it)
            pipe.feed(it, leg=side)
        return pipe.finish()
    pipe = Pipeline(source.layout, on_event=on_event, config=config)
    for item in bulk_chunks(source):
        if on_item is not None:
            on_item(item)
        pipe.feed(item)
    return pipe.finish()


def _item_start_s(item: Chunk | Gap, fs: float) -> float:
    return item.start_s if isinstance(item, Gap) else item.emg_start / fs


def leg_items(sources: Sequence[Source]) -> Iterator[tuple[str, Chunk | Gap]]:
    """The items of one source per leg, as ``(side, item)`` in timeline order."""

    def tagged(k: int, src: Source) -> Iterator[tuple[float, int, str, Chunk | Gap]]:
        fs = src.layout.emg_fs
        for item in bulk_chunks(src):
            yield _item_start_s(item, fs), k, src.layout.side, item

    merged = heapq.merge(*(tagged(k, s) for k, s in enumerate(sources)), key=lambda x: x[:2])
    for _, _, side, item in merged:
        yield side, item


def run_legs(
    sources: Sequence[Source],
    *,
    on_event: EventSink | None = None,
    config: DetectorConfig | None = None,
) -> NightResult:
    """One source per leg (each layout's ``side`` says which) through one pipeline."""
    pipe = Pipeline([s.layout for s in sources], on_event=on_event, config=config)
    for side, item in leg_items(sources):
        pipe.feed(item, leg=side)
    return pipe.finish()
