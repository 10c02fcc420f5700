"""``cramp batch``: a cohort of nights through the detector on Dask, into Parquet.

A thin skin over :mod:`nightcramp.batch` (see ``docs/BATCH.md``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from recordings.errors import UserError


@click.command(
    epilog="""\b
Examples:
  cramp batch /data/sleeplab --out cohort/
  cramp batch nights.txt --out cohort/ --workers 8 --memory-limit 3GiB
  cramp batch /data/psg --channels channels.csv --out cohort/
  cramp batch /data/psg --out cohort/ --scheduler tcp://10.0.0.5:8786
"""
)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="Dataset folder (events/, nights/, errors/); reruns resume.",
)
@click.option("--emg", "emg", multiple=True, help="EDF/BDF EMG channel label (repeatable).")
@click.option("--acc", default=None, help="EDF/BDF accelerometer labels 'X,Y,Z'.")
@click.option(
    "--channels",
    "channels_csv",
    type=click.Path(path_type=Path),
    default=None,
    help="CSV 'file,emg,acc' giving the channels per file.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes (default: the cores).",
)
@click.option(
    "--memory-limit",
    default="2GiB",
    show_default=True,
    help="Memory limit per local worker (e.g. 1500MB, 3GiB).",
)
@click.option(
    "--scheduler",
    default=None,
    help="Use a running Dask cluster (tcp://HOST:PORT) instead of a local one.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a TTY).")
def batch(
    inputs: tuple[Path, ...],
    out: Path,
    emg: tuple[str, ...],
    acc: str | None,
    channels_csv: Path | None,
    workers: int | None,
    memory_limit: str,
    scheduler: str | None,
    progress: bool | None,
) -> None:
    """Run many nights (EDF/BDF files, recording folders, or lists of them) through the
    detector on a Dask cluster; write every event and one row per night as Parquet.

    INPUT is a file, a folder (searched for EDF/BDF files and recordings) or a text file
    (.txt/.lst) listing paths.  A rerun skips the nights already done with the same file,
    detector and channels.  Bad files land in errors/ and the batch goes on; the exit
    status is 1 if any night failed.
    """
    from nightcramp import batch as nb
    from nightcramp.commands.data import _split_acc

    acc_l = tuple(_split_acc(acc) or ())
    jobs = nb.collect(inputs, emg=emg, acc=acc_l, channels_csv=channels_csv, out=out)
    if not jobs:
        raise UserError(
            f"{', '.join(map(str, inputs))}: no EDF/BDF file or recording found -- check the paths"
        )
    show = sys.stderr.isatty() if progress is None else progress
    if not nb.pending(jobs, out):  # all done already: no cluster to start
        rep = nb.run_batch(jobs, out, client=None)
    else:
        rep = _run_on_cluster(jobs, out, scheduler, workers, memory_limit, show)
    failed = rep.failed + rep.kept_failed
    kept = f", {rep.kept_failed} as in an earlier run" if rep.kept_failed else ""
    see = f" (see {out / 'errors'})" if failed else ""
    click.echo(
        f"batch: {rep.total} nights: {rep.done} run, {rep.skipped + rep.unchanged} already "
        f"done, {failed} failed{kept}{see}; {rep.events} events; {rep.seconds:.1f} s; "
        f"wrote {out}"
    )
    if failed:
        sys.exit(1)


def _run_on_cluster(
    jobs: list[Any],
    out: Path,
    scheduler: str | None,
    workers: int | None,
    memory_limit: str,
    progress: bool,
) -> Any:
    from nightcramp import batch as nb

    nb._require_dask()
    from distributed import Client

    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler)  # waits distributed.comm.timeouts.connect
            except (OSError, ValueError, TypeError) as e:
                raise UserError(
                    f"--scheduler {scheduler}: cannot connect ({e}) -- is the scheduler running?"
                ) from None
        else:
            cluster = nb.local_cluster(workers or os.cpu_count() or 1, memory_limit)
            client = Client(cluster)
        with client:
            if nb.has_dashboard():
                click.echo(f"dashboard: {client.dashboard_link}", err=True)
            else:
                click.echo(
                    "dashboard: not available (bokeh is not installed: pip install bokeh)",
                    err=True,
                )
            return nb.run_batch(jobs, out, client=client, progress=progress)
    finally:
        if cluster is not None:
            cluster.close()
