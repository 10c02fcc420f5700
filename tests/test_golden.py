"""``cramp detect --json`` gives the recorded events, bit for bit, on the sample night and on
seven corpus cuts (256 Hz to 2 kHz, with and without accelerometer and tibialis).

The golden files were made before the layered redesign by the detector as it stood; a
deliberate change of the detector's behaviour rebuilds them with
``python -m tests.golden.make_golden`` and says why in its commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden.make_golden import HERE, build


@pytest.fixture(scope="module")
def got(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return build(tmp_path_factory.mktemp("golden"))


def test_every_golden_night_is_checked(got: dict[str, dict]) -> None:
    files = sorted(p.stem for p in HERE.glob("*.json"))
    assert files == sorted(got) and len(files) >= 7


@pytest.mark.parametrize("name", sorted(p.stem for p in Path(HERE).glob("*.json")))
def test_events_bit_identical(got: dict[str, dict], name: str) -> None:
    want = json.loads((HERE / f"{name}.json").read_text())
    # through JSON text, so float bits are compared as `detect --json` prints them
    have = json.loads(json.dumps(got[name]))
    assert have["events"] == want["events"]
    assert have["gaps"] == want["gaps"]
    assert have["layout"] == want["layout"]
    assert have["duration_s"] == want["duration_s"]
