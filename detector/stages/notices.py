"""Early notices: a provisional cramp while its episode is still open, then its outcome.

While an episode is open the cramp rules are applied to the data so far (at feed-block
ends, at most once per second of data); once they hold for ``cramp_min_s`` a
*provisional* cramp is queued, followed when the episode closes by its final cramp or a
retraction.  Every final event passes through here too, so :meth:`EarlyNotices.take`
gives a live sink everything in order.  Notices never change the final events.

The notice is typed on the event (:attr:`detector.events.Event.notice`,
:attr:`~detector.events.Event.replaces_start_s`), never a key of its ``context``.

Stage state: the queue, the provisional cramp awaiting its outcome, whether the open
episode may still raise one, the last second evaluated.
"""

from __future__ import annotations

from dataclasses import replace

from detector.events import Event


class EarlyNotices:
    def __init__(self) -> None:
        self._queue: list[Event] = []
        self.prov: Event | None = None  # provisional cramp awaiting its final outcome
        self._armed = True  # no notice yet for the current episode
        self._sec = -1  # last whole second at which the notice was evaluated

    def take(self) -> list[Event]:
        got, self._queue = self._queue, []
        return got

    def final(self, ev: Event) -> None:
        """A final event, in emission order."""
        p = self.prov
        if p is not None and ev.kind == "cramp" and ev.start_s < p.end_s and ev.end_s > p.start_s:
            # the final cramp of the provisional one: it replaces the provisional row
            self.prov = None
            self._queue.append(replace(ev, replaces_start_s=p.start_s))
        else:
            self._queue.append(ev)

    def retract(self) -> None:
        """The provisional cramp's episode closed without a cramp: withdraw it."""
        p = self.prov
        if p is not None:
            self.prov = None
            self._queue.append(
                replace(p, notice="retracted", reason="retracted: " + p.reason.split(": ", 1)[-1])
            )

    def episode_closed(self, held: Event | None) -> None:
        """The episode closed: retract the provisional cramp unless a final cramp took
        its place (or one is held back that may still)."""
        self._armed = True
        p = self.prov
        if p is not None and not (held is not None and held.start_s < p.end_s):
            self.retract()

    def held_withdrawn(self, held: Event) -> None:
        """A held short cramp became a leg movement: no cramp for a provisional on it."""
        if self.prov is not None and self.prov.start_s < held.end_s:
            self.retract()

    @property
    def armed(self) -> bool:
        """The open episode may still raise a notice."""
        return self._armed and self.prov is None

    def new_second(self, sec: int) -> bool:
        """True once per whole second ``sec`` of the timeline."""
        if sec == self._sec:
            return False
        self._sec = sec
        return True

    def raise_(self, ev: Event, now: float) -> None:
        """Queue the provisional cramp ``ev`` noticed at data time ``now`` (s)."""
        ev = replace(
            ev,
            end_s=max(ev.end_s, now),
            reason=f"ongoing, noticed at {now:.1f} s: {ev.reason}",
            notice="provisional",
        )
        self.prov = ev
        self._armed = False
        self._queue.append(ev)
