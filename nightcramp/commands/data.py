"""``cramp replay``, ``cramp detect``, ``cramp export``: saved data through the one pipeline.

Thin skins over :mod:`recordings.store`, :mod:`recordings.edf`, :mod:`recordings.export` and
:mod:`detector.pipeline`.  ``detect --json`` prints exactly one JSON object (a stable
contract, see ``recordings/README.md``)::

    {"events": [{"kind": "cramp", "start_s": 812.4, "end_s": 871.0, ...}, ...],
     "gaps": [{"start_s": ..., "end_s": ..., "reason": "link"}],
     "source": "recordings/sample-night", "source_kind": "recording" | "edf",
     "recording_id": "...", "detector_version": "...", "layout": {...},
     "duration_s": 1800.0, "start_utc": "...", "stats": {...}}

``start_s``/``end_s`` are seconds from the recording's start; ``kind`` is one of
``cramp``, ``plm``, ``movement``, ``artifact``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from detector.stream import Chunk, Gap, Source
from recordings.errors import UserError
from recordings.export import (
    check_target,
    event_dict,
    gap_dict,
    layout_dict,
    open_source,
)
from recordings.jsonout import dumps


def _split_acc(acc: str | None) -> list[str] | None:
    if not acc:
        return None
    parts = [p.strip() for p in acc.split(",") if p.strip()]
    if len(parts) != 3:
        raise UserError(f"--acc {acc!r}: give three labels X,Y,Z separated by commas")
    return parts


def _source_kind(src: Source) -> str:
    recording = type(src).__name__ in ("RecordingSource", "DeviceRecordingSource", "NightSource")
    return "recording" if recording else "edf"


def _night_id(src: Source, path: Path) -> str:
    rid = getattr(src, "recording_id", None)
    return str(rid) if rid else f"file:{path.resolve()}"


class _Progress:
    """tqdm bar on a terminal (seconds of timeline), nothing otherwise."""

    def __init__(self, total_s: float | None, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total_s, unit="s", unit_scale=True, desc="replay", leave=False)
        self.t = 0.0

    def update(self, t_s: float) -> None:
        if self.bar is not None and t_s > self.t:
            self.bar.update(t_s - self.t)
            self.t = t_s

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _item_end_s(item: Chunk | Gap, fs: float) -> float:
    return item.end_s if isinstance(item, Gap) else item.emg_stop / fs


def _estimate_total_s(src: Source) -> float | None:
    info = getattr(src, "info", None)
    if info is None:
        return None
    try:
        from recordings.store import iter_part_batches

        first = last = None
        for part in info.parts:
            for b in iter_part_batches(part):
                rx = b.column("rx_ns").to_numpy()
                if rx.size:
                    first = int(rx.min()) if first is None else first
                    last = int(rx.max())
        if first is None or last is None:
            return None
        return (last - first) / 1e9
    except Exception:  # noqa: BLE001 - only a progress estimate
        return None


def run_night(
    src: Source,
    *,
    on_event: Any = None,
    speed: float | None = None,
    progress: bool = False,
    bilateral: str = "wasm",
) -> Any:
    """Feed ``src`` through a Pipeline (optionally paced at ``speed`` x real time).

    A source with both legs runs one detector per leg, merged by the ``bilateral``
    rule (``wasm``: WASM 2016, ``aasm``: AASM 2007)."""
    from detector.config import DetectorConfig
    from detector.pipeline import Pipeline
    from detector.stream import bulk_chunks, leg_layouts_of

    cfg = DetectorConfig(bilateral_rule=bilateral)
    fs = src.layout.emg_fs
    # As fast as possible: bulk pieces (the events do not depend on the chunking).
    items: Any
    legs = leg_layouts_of(src)
    if legs:  # one sensor per leg (or its EDF+ export): each leg's items to its detector
        night: Any = src
        pipe = Pipeline(legs, on_event=on_event, config=cfg)
        items = night.leg_items(bulk=not speed)
    else:
        pipe = Pipeline(src.layout, on_event=on_event, config=cfg)
        items = ((None, it) for it in (src.chunks() if speed else bulk_chunks(src)))
    bar = _Progress(_estimate_total_s(src) if progress else None, progress)
    t_wall0 = time.monotonic()
    t_first: float | None = None
    try:
        for leg, item in items:
            end = _item_end_s(item, fs)
            if speed:
                if t_first is None:
                    t_first = item.start_s if isinstance(item, Gap) else item.emg_start / fs
                due = t_wall0 + (end - t_first) / speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            pipe.feed(item, leg=leg)
            bar.update(end)
    finally:
        bar.close()
    return pipe.finish()


_BILATERAL = click.option(
    "--bilateral",
    type=click.Choice(["wasm", "aasm"]),
    default="wasm",
    show_default=True,
    help="Both legs: merge leg movements by WASM 2016 (< 0.5 s apart, <= 15 s) or "
    "AASM 2007 (onsets < 5 s apart).",
)


@click.command(
    epilog="""\b
Examples:
  cramp replay recordings/sample-night
  cramp replay recordings/night-20261126-231502-1a2b3c4d --speed 60
  cramp replay night.edf --emg "Leg L"
  cramp replay psg-both-legs.edf --bilateral aasm
"""
)
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--emg", "emg", multiple=True, help="EDF/BDF EMG channel label (repeatable).")
@click.option("--acc", default=None, help="EDF/BDF accelerometer labels 'X,Y,Z'.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Replay at N times real time (default: as fast as possible).",
)
@click.option("--db", type=click.Path(path_type=Path), default=None, help="Cramp log file.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a TTY).")
@_BILATERAL
def replay(
    recording: Path,
    emg: tuple[str, ...],
    acc: str | None,
    speed: float | None,
    db: Path | None,
    progress: bool | None,
    bilateral: str,
) -> None:
    """Feed a saved recording (or an EDF/EDF+/BDF file) through the live pipeline into
    the cramp log.

    Deterministic: the same frames, in the same order, through the same frame assembler
    and detector give the events the live run produced.  An EDF file's night is logged
    as ``file:<its absolute path>``; one with both legs' channels runs a detector per leg.
    """
    from detector.detect import DETECTOR_VERSION
    from nightcramp.cramplog import CrampLog

    p = Path(recording)
    # a recording folder, or an EDF/BDF file (a night recorded with another system)
    src: Any = open_source(p, list(emg) or None, _split_acc(acc))
    log = CrampLog.open(db)
    night_id = _night_id(src, p)
    info = getattr(src, "info", None)
    device = (info.meta.get("device") if info is not None else None) or {}
    log.begin_night(
        night_id,
        source=f"replay:{p}",
        layout=src.layout,
        start_utc=src.layout.start_utc,
        detector_version=DETECTOR_VERSION,
        device=str(device.get("name") or device.get("address") or ""),
    )
    sink = log.event_sink(night_id, src.wall_time)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        result = run_night(src, on_event=sink, speed=speed, progress=show, bilateral=bilateral)
        log.end_night(night_id, result, wall_time=src.wall_time)
    finally:
        log.close()
    kinds: dict[str, int] = {}
    for ev in result.events:
        kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
    st = getattr(src, "stats", {})
    counts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no events"
    legs = f", legs merged by {result.stats['bilateral']['rule']}" if result.legs else ""
    click.echo(
        f"replayed {p.name} ({night_id}): {result.duration_s / 3600:.2f} h, {counts}{legs}; "
        f"{st.get('gaps', len(result.gaps))} gaps"
        + (f", {st['corrupt']} corrupt frames" if "corrupt" in st else "")
        + f"; logged to {log.path}"
    )


@click.command(
    epilog="""\b
Examples:
  cramp detect recordings/sample-night
  cramp detect night.edf --emg "Leg L" --emg "Leg R" --json
  cramp detect wearable.bdf --emg EMG1 --acc "Acc X,Acc Y,Acc Z"
"""
)
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--emg", "emg", multiple=True, help="EDF/BDF EMG channel label (repeatable).")
@click.option("--acc", default=None, help="EDF/BDF accelerometer labels 'X,Y,Z'.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (stable contract).")
@_BILATERAL
def detect(
    source: Path, emg: tuple[str, ...], acc: str | None, as_json: bool, bilateral: str
) -> None:
    """Detect cramps (and PLM, movements, artifacts) in a recording or EDF/EDF+/BDF file.

    Prints the events; nothing is written to the cramp log (use `cramp replay` for that).
    """
    from detector.detect import DETECTOR_VERSION

    src = open_source(source, list(emg) or None, _split_acc(acc))
    result = run_night(src, bilateral=bilateral)
    stats = {**getattr(src, "stats", {}), **{f"detector_{k}": v for k, v in result.stats.items()}}
    if as_json:
        obj = {
            "events": [event_dict(e) for e in result.events],
            "gaps": [gap_dict(g) for g in result.gaps],
            "source": str(source),
            "source_kind": _source_kind(src),
            "recording_id": getattr(src, "recording_id", None),
            "detector_version": result.detector_version or DETECTOR_VERSION,
            "layout": layout_dict(src.layout),
            "duration_s": result.duration_s,
            "start_utc": src.layout.start_utc,
            "stats": stats,
            "warnings": list(getattr(src, "warnings", [])),
        }
        if result.legs:  # both legs: which rule merged their leg movements
            obj["bilateral"] = result.stats["bilateral"]
        click.echo(dumps(obj))
        return
    lay = src.layout
    for w in getattr(src, "warnings", []):
        click.echo(f"warning: {w}", err=True)
    click.echo(
        f"{source}: {result.duration_s / 3600:.2f} h, EMG {', '.join(lay.emg_labels)} @ "
        f"{lay.emg_fs:g} Hz" + (f", acc @ {lay.acc_fs:g} Hz" if lay.acc_fs else ", no acc")
    )
    if result.legs:
        b = result.stats["bilateral"]
        click.echo(
            f"both legs ({', '.join(result.legs)}): leg movements merged by {b['rule']} "
            f"({b['bilateral_movements']} bilateral)"
        )
    if not result.events:
        click.echo("no events")
    for ev in result.events:
        wt = src.wall_time(ev.start_s)
        when = f" ({wt:%H:%M:%S} UTC)" if wt else ""
        sub = f"/{ev.subtype}" if ev.subtype else ""
        click.echo(
            f"{ev.start_s:10.1f} s{when}  {ev.duration_s:6.1f} s  {ev.kind}{sub}"
            + (f" ({ev.side})" if ev.side else "")
            + f"  peak {ev.peak_uv:.0f} µV ({ev.peak_x_rest:.1f}x rest)  conf {ev.confidence:.2f}"
        )
    for g in result.gaps:
        leg = f", {g.side} leg" if g.side else ""
        click.echo(f"gap {g.start_s:.1f}-{g.end_s:.1f} s ({g.reason}{leg})")


@click.command(
    epilog="""\b
Examples:
  cramp export recordings/sample-night --edf sample.edf
  cramp export recordings/sample-night --parquet sample.parquet --force
"""
)
@click.argument("recording", type=click.Path(path_type=Path))
@click.option("--edf", "edf_path", type=click.Path(path_type=Path), help="Write EDF+ here.")
@click.option("--parquet", "pq_path", type=click.Path(path_type=Path), help="Write Parquet.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--emg", "emg", multiple=True, help="EDF/BDF input: EMG channel label.")
@click.option("--acc", default=None, help="EDF/BDF input: accelerometer labels 'X,Y,Z'.")
def export(
    recording: Path,
    edf_path: Path | None,
    pq_path: Path | None,
    force: bool,
    emg: tuple[str, ...],
    acc: str | None,
) -> None:
    """Export a recording (or EDF file) to EDF+ with events as annotations, or Parquet.

    Gaps are kept (EDF+D record onsets plus 'gap: <reason>' annotations); EDF records are
    never padded with samples that were not measured.  A night of two sensors (one per
    leg) goes into one file: both legs labelled L/R, a gap of one leg filled with a value
    below the digital minimum and annotated 'gap: <reason> leg=<side>'; in Parquet each
    row's leg is in the 'side' column.
    """
    if (edf_path is None) == (pq_path is None):
        raise UserError("cramp export: give exactly one of --edf FILE or --parquet FILE")
    target = Path(edf_path or pq_path)  # type: ignore[arg-type]
    check_target(target, force)
    emg_l, acc_l = list(emg) or None, _split_acc(acc)
    src = open_source(recording, emg_l, acc_l)
    result = run_night(src)  # pass 1: events (streaming)
    src = open_source(recording, emg_l, acc_l)  # pass 2: samples (streaming)
    if edf_path is not None:
        from recordings.edf import write_edf

        st = write_edf(src, target, result.events)
        extra = f"{st.records} records, {st.segments} segment(s), {st.annotations} annotations" + (
            f", {st.dropped_tail_samples} tail samples not exported"
            if st.dropped_tail_samples
            else ""
        )
    else:
        from recordings.export import write_parquet

        st2 = write_parquet(src, target, result.events, result.gaps)
        extra = f"{st2['rows']} rows"
    click.echo(f"wrote {target} ({extra}; {len(result.events)} events)")
