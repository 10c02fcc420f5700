"""The one pipeline: a :class:`~detector.stream.Source` in, events and a night result out.

Live recording, replay of a saved recording, EDF import and the synthetic corpus all
run through :func:`run` (pull) or :class:`Pipeline` (push, for the live recorder's event
loop).  Both feed the same :class:`~detector.detect.Detector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from detector.detect import Detector, DetectorConfig
from detector.events import Event, NightResult
from detector.stream import Chunk, Gap, Source, StreamLayout, bulk_chunks

EventSink = Callable[[Event], None]


class Pipeline:
    """Push interface: call :meth:`feed` with each chunk or gap, then :meth:`finish`.

    ``on_event`` (and every sink added) is called once per final event, as soon as the
    detector closes it, and also with the detector's early cramp notices
    (:meth:`detector.detect.Detector.take_notices`): a provisional cramp
    (``notice == "provisional"``), then either its final cramp (carrying
    ``replaces_start_s``) or its retraction (``notice == "retracted"``).
    :attr:`events` and :meth:`finish` hold the final events only.
    """

    def __init__(
        self,
        layout: StreamLayout,
        *,
        on_event: EventSink | None = None,
        config: DetectorConfig | None = None,
    ) -> None:
        self.layout = layout
        self.detector = Detector(layout, config)
        self._sinks: list[EventSink] = [on_event] if on_event else []
        self.events: list[Event] = []

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

    def feed(self, item: Chunk | Gap) -> list[Event]:
        evs = self.detector.push(item)
        self._emit(self.detector.take_notices())
        return evs

    def finish(self) -> NightResult:
        result = self.detector.finish()
        self._emit(self.detector.take_notices(), final=result.events)
        return result


def run(
    source: Source,
    *,
    on_event: EventSink | None = None,
    config: DetectorConfig | None = None,
    on_item: Callable[[Chunk | Gap], None] | None = None,
) -> NightResult:
    """Pull every item from ``source`` through the detector and return the night."""
    pipe = Pipeline(source.layout, on_event=on_event, config=config)
    for item in bulk_chunks(source):
        if on_item is not None:
            on_item(item)
        pipe.feed(item)
    return pipe.finish()
