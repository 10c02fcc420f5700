"""The one pipeline: a :class:`~detector.stream.Source` in, events and a night result out.

Live recording, replay of a saved recording, EDF import and the synthetic corpus all
run through :func:`run` (pull) or :class:`Pipeline` (push, for the live recorder's event
loop).  Both feed the same :class:`~detector.detect.Detector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from detector.detect import Detector, DetectorConfig
from detector.events import Event, NightResult
from detector.stream import Chunk, Gap, Source, StreamLayout

EventSink = Callable[[Event], None]


class Pipeline:
    """Push interface: call :meth:`feed` with each chunk or gap, then :meth:`finish`.

    ``on_event`` is called once per event, as soon as the detector closes it.
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

    def _emit(self, events: Iterable[Event]) -> None:
        for ev in events:
            self.events.append(ev)
            for sink in self._sinks:
                sink(ev)

    def feed(self, item: Chunk | Gap) -> list[Event]:
        evs = self.detector.push(item)
        self._emit(evs)
        return evs

    def finish(self) -> NightResult:
        result = self.detector.finish()
        already = len(self.events)
        self._emit(result.events[already:])
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
    for item in source.chunks():
        if on_item is not None:
            on_item(item)
        pipe.feed(item)
    return pipe.finish()
