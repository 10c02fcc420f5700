"""The one JSON encoder (recordings.jsonout): one datetime format, times to the
millisecond, never NaN or infinity."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest

from recordings.jsonout import dumps, utc_iso


def strict_loads(text: str) -> object:
    def refuse(c: str) -> object:
        raise ValueError(f"not JSON: {c}")

    return json.loads(text, parse_constant=refuse)


@dataclass
class _Row:
    start_s: float
    at: datetime


def test_times_rounded_to_the_millisecond_and_only_seconds() -> None:
    doc = strict_loads(dumps({"duration_s": 51.64999999999998, "peak_uv": 117.04999999999998,
                              "nested": [{"end_s": np.float64(3.00049)}], "t_s": -0.0001}))  # fmt: skip
    assert doc == {"duration_s": 51.65, "peak_uv": 117.04999999999998,
                   "nested": [{"end_s": 3.0}], "t_s": 0.0}  # fmt: skip
    assert "-0.0" not in dumps({"t_s": -0.0001})


def test_never_nan_or_infinity() -> None:
    text = dumps({"a_s": float("nan"), "b": [float("inf"), np.float32("-inf")], "c": np.nan})
    assert strict_loads(text) == {"a_s": None, "b": [None, None], "c": None}


def test_one_datetime_format() -> None:
    cet = timezone(timedelta(hours=1))
    got = strict_loads(dumps({
        "aware": datetime(2026, 11, 25, 23, 30, 0, 123456, tzinfo=cet),
        "naive": datetime(2026, 11, 25, 22, 30),
        "utc": datetime(2026, 11, 25, 22, 30, tzinfo=UTC),
        "day": date(2026, 11, 25),
        "row": _Row(1.23456, datetime(2026, 1, 1, tzinfo=UTC)),
    }))  # fmt: skip
    assert got == {
        "aware": "2026-11-25T22:30:00.123Z",
        "naive": "2026-11-25T22:30:00.000Z",
        "utc": "2026-11-25T22:30:00.000Z",
        "day": "2026-11-25",
        "row": {"start_s": 1.235, "at": "2026-01-01T00:00:00.000Z"},
    }
    assert utc_iso(None) is None


def test_numpy_and_containers() -> None:
    got = strict_loads(dumps({"n": np.int64(3), "arr": np.array([1.5, np.nan]), "t": (1, 2),
                              "s": {"b", "a"}, "flag": np.bool_(True)}))  # fmt: skip
    assert got == {"n": 3, "arr": [1.5, None], "t": [1, 2], "s": ["a", "b"], "flag": True}


def test_allow_nan_is_the_last_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    import recordings.jsonout as jo

    monkeypatch.setattr(jo, "jsonable", lambda o, key="": o)
    with pytest.raises(ValueError):
        jo.dumps({"x": float("nan")})
