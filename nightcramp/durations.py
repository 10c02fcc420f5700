"""One reading of a duration typed on the command line, for every command that takes one.

``cramp record --duration``, ``cramp demo --duration`` and ``cramp log add --duration``
all accept the same spellings::

    3600  90s  45 sec  90m  2 min  8h  1h30m  1h 30m 10s  1:30 (min:s)  1:30:00 (h:min:s)

A bare number is seconds.  ``m`` is minutes (there is no month or metre here).
"""

from __future__ import annotations

import math
import re

from recordings.errors import UserError

_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}
_PART = re.compile(
    r"(\d+(?:\.\d+)?)(hours?|hrs|hr|h|minutes?|mins|min|m|seconds?|secs|sec|s)"
)
_CLOCK = re.compile(r"(\d+):([0-5]?\d)(?::([0-5]?\d(?:\.\d+)?))?")


def parse_duration(
    text: str | None, *, what: str = "--duration", allow_zero: bool = False
) -> float | None:
    """``8h``, ``90m``, ``1h30m``, ``1:30``, ``3600`` -> seconds; ``None`` stays ``None``.

    A text that is not one of the spellings above, or a duration of 0 s (unless
    ``allow_zero``), is a one-line :class:`UserError` naming ``what``.
    """
    if text is None:
        return None
    t = str(text).strip().lower().replace(" ", "")
    seconds: float | None = None
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        seconds = float(t)
    elif m := _CLOCK.fullmatch(t):
        if m[3] is None:  # min:s
            seconds = int(m[1]) * 60.0 + int(m[2])
        else:  # h:min:s
            seconds = int(m[1]) * 3600.0 + int(m[2]) * 60.0 + float(m[3])
    elif t and _PART.sub("", t) == "":
        units = [u[0] for _, u in _PART.findall(t)]
        if len(set(units)) == len(units) and units == sorted(units, key="hms".index):
            seconds = sum(float(v) * _UNIT_S[u[0]] for v, u in _PART.findall(t))
    if seconds is None or not math.isfinite(seconds):
        raise UserError(
            f"{what} {text!r}: duration is not understood; write e.g. 8h, 90m, 1h30m, "
            "1:30 (min:s) or 3600 (seconds)"
        )
    if seconds <= 0 and not (allow_zero and seconds == 0):
        raise UserError(f"{what} {text!r}: must be more than 0 s")
    return seconds
