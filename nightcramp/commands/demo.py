"""``cramp demo``: an emulated night end to end, no hardware needed.

A synthetic night (cramps, a bathroom walk, a PLM series, a stretch, turning over, the
usual artefacts) is measured by the emulated sensor, carried over a real Bluetooth LE
stack in software (bumble) to the production recorder (bleak), detected live, logged in
the cramp log, and summarised -- the same path a real night takes.  Sensor time runs
``--speed`` times faster than real time; the recording and the night in the cramp log
land in the normal places (``--out`` / ``--db`` / the environment override them), so
``cramp summary`` and ``cramp log`` show the demo night afterwards.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click

from nightcramp.commands.live import MAX_SPEED, check_duration, in_range
from recordings.errors import UserError

#: The longest demo night (s): a long night at the demo's pace.
MAX_DEMO_S = 24 * 3600.0


@click.command("demo")
@click.option(
    "--duration", default="1h", show_default=True, help="Sensor time of the night (>= 10m)."
)
@click.option(
    "--speed",
    default=200.0,
    show_default=True,
    callback=in_range(0.0, MAX_SPEED, lo_open=True, hint="sensor time per wall time, e.g. 200"),
    help="Sensor time per wall time; the virtual link caps it (see the benchmark).",
)
@click.option(
    "--seed", default=7, show_default=True, callback=in_range(0, 2**32 - 1),
    help="Synthetic night seed.",
)  # fmt: skip
@click.option("--out", default=None, metavar="DIR", help="Recordings folder.")
@click.option("--db", default=None, metavar="PATH", help="Cramp log database.")
@click.option("--quiet", is_flag=True, help="No live status line.")
def demo(
    duration: str, speed: float, seed: int, out: str | None, db: str | None, quiet: bool
) -> None:
    """Run an emulated night end to end and print the morning summary.

    \b
    Examples:
      cramp demo
      cramp demo --duration 2h --seed 3
      cramp demo --out /tmp/demo --db /tmp/demo/cramplog.sqlite3
    """
    import io

    from emulator.night import make_night
    from emulator.virtual.sensor import Faults
    from nightcramp import paths
    from nightcramp.cramplog import CrampLog
    from nightcramp.emulated import run_emulated
    from nightcramp.summary import build_summary, render_text

    dur = check_duration(duration, lo_s=600.0, hi_s=MAX_DEMO_S)
    assert dur is not None
    out_dir = paths.recordings_dir(out)
    db_file = paths.db_path(db)
    click.echo(
        f"nightcramp demo: a synthetic {dur / 3600:.1f} h night (seed {seed}) measured by an "
        f"emulated sensor,\nstreamed over a software Bluetooth LE stack at up to {speed:g}x, "
        "recorded and analysed live.",
        err=True,
    )
    night = make_night(seed, dur, cramps=2, walks=1, plm_series=1, stretches=1)
    t0 = time.monotonic()
    status = io.StringIO() if quiet else None
    kwargs: dict[str, Any] = {"status_stream": status} if status is not None else {}
    run = asyncio.run(
        run_emulated(
            night,
            speed=speed,
            duration_s=dur,
            faults=Faults(),
            seed=seed,
            handle_signals=True,
            out_dir=out_dir,
            db=db,
            **kwargs,
        )
    )
    rec = run.recorder
    wall = time.monotonic() - t0
    if rec.night_id is None:
        raise UserError(
            "demo: the emulated sensor delivered nothing -- please report this as a bug"
        )
    truth = [t for t in night.truth if t.kind == "cramp"]
    click.echo(
        f"\n{rec._timeline_s / 3600:.2f} h of sensor time in {wall:.0f} s "
        f"({rec._timeline_s / max(wall, 1e-9) / 60:.1f} h per minute); "
        f"the night held {len(truth)} cramps (ground truth), the detector logged "
        f"{rec.stats.events.get('cramp', 0)}.",
        err=True,
    )
    click.echo(f"recording: {rec.recording_path}", err=True)
    click.echo(f"cramp log: {db_file} (night {rec.night_id})\n", err=True)
    with CrampLog.open(db) as lg:
        s = build_summary(lg, rec.night_id)
    click.echo(render_text(s), nl=False)
