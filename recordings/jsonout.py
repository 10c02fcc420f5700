"""One JSON encoder for everything nightcramp prints or stores as JSON.

Every ``--json`` output (``cramp detect``, ``cramp log ...``, ``cramp summary``) and the
Parquet export's metadata go through :func:`dumps`, so they share one set of rules:

* **one datetime format**: ISO 8601 in UTC to the millisecond, ``2026-11-25T22:30:00.000Z``
  (:func:`utc_iso`); a naive datetime is taken as UTC; a date is ``YYYY-MM-DD``;
* **times to the millisecond**: a float under a key ending in ``_s`` (seconds:
  ``start_s``, ``duration_s``, ``awake_after_s``, ...) is rounded to 3 decimals, so
  ``51.64999999999998`` prints as ``51.65``;
* **no NaN or infinity**: a non-finite float becomes ``null`` (strict JSON parsers reject
  ``NaN``), and the final ``json.dumps`` runs with ``allow_nan=False`` to guarantee it;
* numpy scalars and arrays, tuples, sets, paths and dataclasses become plain JSON values.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any

#: Decimals kept for seconds (1 ms).
TIME_DECIMALS = 3


def utc_iso(t: datetime | None) -> str | None:
    """``2026-11-25T22:30:00.000Z`` (UTC, ms); naive datetimes are taken as UTC."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _float(x: float, seconds: bool) -> float | None:
    if not math.isfinite(x):
        return None
    return round(x, TIME_DECIMALS) + 0.0 if seconds else x  # + 0.0: no "-0.0"


def jsonable(o: Any, *, key: str = "") -> Any:
    """``o`` as plain JSON values under the rules above (``key``: the key holding ``o``)."""
    seconds = key.endswith("_s")
    if o is None or isinstance(o, (bool, str)):
        return o
    if isinstance(o, int):
        return o
    if isinstance(o, float):
        return _float(o, seconds)
    if isinstance(o, dict):
        return {str(k): jsonable(v, key=str(k)) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        items = sorted(o, key=str) if isinstance(o, (set, frozenset)) else o
        return [jsonable(v, key=key) for v in items]
    if isinstance(o, datetime):
        return utc_iso(o)
    if isinstance(o, date):
        return o.isoformat()
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return jsonable({f.name: getattr(o, f.name) for f in dataclasses.fields(o)}, key=key)
    if isinstance(o, PurePath):
        return str(o)
    if hasattr(o, "tolist"):  # numpy arrays and scalars
        return jsonable(o.tolist(), key=key)
    if hasattr(o, "item"):
        return jsonable(o.item(), key=key)
    return str(o)


def dumps(o: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """``o`` as strict JSON text (see the module doc); non-ASCII kept as is."""
    return json.dumps(
        jsonable(o), indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False
    )
