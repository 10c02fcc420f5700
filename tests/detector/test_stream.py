"""The narrow source interface and the pipeline around it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from detector.stream import ArraySource, Chunk, Gap, Source, StreamLayout, simple_wall_time


def _layout(**kw: object) -> StreamLayout:
    base: dict[str, object] = dict(
        emg_fs=1000.0, emg_labels=("EMG1", "EMG2"), emg_sites=("calf", "tibialis"), acc_fs=50.0
    )
    base.update(kw)
    return StreamLayout(**base)  # type: ignore[arg-type]


def test_layout_validates_its_fields() -> None:
    with pytest.raises(ValueError, match="emg_fs"):
        _layout(emg_fs=0.0)
    with pytest.raises(ValueError, match="at least one"):
        _layout(emg_labels=(), emg_sites=())
    with pytest.raises(ValueError, match="muscle site"):
        _layout(emg_sites=("calf", "elbow"))
    with pytest.raises(ValueError, match="acc_fs"):
        _layout(acc_fs=-1.0)
    assert _layout().n_emg == 2


def test_chunk_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="2-D"):
        Chunk(0, np.zeros(10))
    with pytest.raises(ValueError, match=r"\(m, 3\)"):
        Chunk(0, np.zeros((10, 1)), 0, np.zeros((4, 2)))
    c = Chunk(100, np.zeros((10, 2)), 5, np.zeros((1, 3)))
    assert (c.emg_stop, c.acc_stop) == (110, 6)


@pytest.mark.parametrize("chunk_s", [0.013, 0.5, 1.0, 7.3, 100.0])
def test_array_source_covers_every_sample_once_whatever_the_chunking(chunk_s: float) -> None:
    rng = np.random.default_rng(1)
    emg = rng.normal(size=(10_007, 2))
    acc = rng.normal(size=(501, 3))
    src = ArraySource(_layout(), emg, acc, chunk_s=chunk_s)
    assert isinstance(src, Source)
    items = list(src.chunks())
    assert all(isinstance(c, Chunk) for c in items)
    chunks = [c for c in items if isinstance(c, Chunk)]
    # contiguous, in order, nothing lost or repeated
    assert [c.emg_start for c in chunks] == [0] + [c.emg_stop for c in chunks[:-1]]
    assert [c.acc_start for c in chunks] == [0] + [c.acc_stop for c in chunks[:-1]]
    np.testing.assert_array_equal(np.concatenate([c.emg for c in chunks]), emg)
    np.testing.assert_array_equal(np.concatenate([c.acc for c in chunks]), acc)


def test_wall_time_follows_start_utc() -> None:
    start = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    assert simple_wall_time(_layout(), 5.0) is None
    assert simple_wall_time(_layout(start_utc=start), 90.5) == datetime(
        2026, 11, 25, 22, 31, 30, 500000, tzinfo=UTC
    )


def test_gap_duration() -> None:
    assert Gap(10.0, 12.5, "link").duration_s == pytest.approx(2.5)


def test_coalesce_joins_contiguous_chunks_and_stops_at_gaps_and_jumps() -> None:
    from detector.stream import coalesce

    rng = np.random.default_rng(2)
    items: list[Chunk | Gap] = []
    for k in range(10):  # 10 contiguous 100-sample chunks
        items.append(Chunk(k * 100, rng.normal(size=(100, 2)), k * 5, rng.normal(size=(5, 3))))
    items.append(Gap(1.0, 2.0, "link"))
    items.append(Chunk(2000, rng.normal(size=(100, 2)), 100, rng.normal(size=(5, 3))))
    items.append(Chunk(2200, rng.normal(size=(100, 2)), 110, rng.normal(size=(5, 3))))  # jump
    out = list(coalesce(items, 350))
    kinds = [
        (o.emg_start, o.emg.shape[0]) if isinstance(o, Chunk) else ("gap", o.reason) for o in out
    ]
    assert kinds == [(0, 400), (400, 400), (800, 200), ("gap", "link"), (2000, 100), (2200, 100)]
    ins = [c for c in items if isinstance(c, Chunk)]
    outs = [c for c in out if isinstance(c, Chunk)]
    np.testing.assert_array_equal(
        np.concatenate([c.emg for c in outs]), np.concatenate([c.emg for c in ins])
    )
    np.testing.assert_array_equal(
        np.concatenate([c.acc for c in outs]), np.concatenate([c.acc for c in ins])
    )
    assert [c.acc_start for c in outs] == [0, 20, 40, 100, 110]
    with pytest.raises(ValueError):
        list(coalesce(items, 0))
