"""``cramp summary``: the morning summary of a night, as text, JSON or an HTML page.

One :class:`~nightcramp.summary.Summary` is built and rendered: the text report
(:func:`~nightcramp.summary.render_text`), ``--json`` (its fields, through the one JSON
encoder :mod:`recordings.jsonout`) and ``--html FILE`` (:mod:`nightcramp.report_html`).
"""

from __future__ import annotations

from pathlib import Path

import click

from nightcramp import heal
from nightcramp.commands.log import db_option, resolve_night
from nightcramp.cramplog import CrampLog
from nightcramp.summary import build_summary, render_text
from recordings.export import check_folder
from recordings.jsonout import dumps


@click.command("summary")
@click.argument("night", required=False)
@click.option("--json", "as_json", is_flag=True, help="Output the summary as JSON.")
@click.option(
    "--html",
    "html_file",
    metavar="FILE",
    help="Also write a self-contained HTML page (its folder must exist).",
)
@db_option
def summary(night: str | None, as_json: bool, html_file: str | None, db: str | None) -> None:
    """The morning summary of a night (default: the latest).

    NIGHT is latest, a night's id (a UUID, or its first 8 characters), its recording
    folder (night-20261125-231502-1a2b3c4d), night-20261125 or 2026-11-25 (the night
    that started that evening).

    \b
    Examples:
      cramp summary
      cramp summary night-20261124 --html night.html
      cramp summary 2026-11-24
      cramp summary --json | jq .cramps
    """
    page = Path(html_file) if html_file else None
    if page is not None:
        check_folder(page)
    with heal.finished(CrampLog.open(db)) as lg:
        nid = resolve_night(lg, night)
        s = build_summary(lg, nid)
        if page is not None:
            from nightcramp.report_html import write_html

            write_html(lg, page, nid, summary=s)
    if as_json:
        click.echo(dumps(s, indent=2))
    else:
        click.echo(render_text(s), nl=False)
    if page is not None:
        click.echo(f"HTML summary written to {page}", err=as_json)
