"""``cramp``: a thin command-line skin over the library.

Each subcommand lives in its own module and is imported only when used, so
``cramp --help`` stays instant.  Every :class:`~recordings.errors.UserError` (and the wire
protocol's :class:`~firmware_protocol.ProtocolError`) becomes one line on stderr and a
non-zero exit status -- never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from nightcramp import __version__
from recordings.errors import UserError

#: subcommand -> "module:attribute" of its click command, and its one-line help.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("nightcramp.commands.demo:demo", "Run an emulated night end to end and print the summary."),
    "scan": ("nightcramp.commands.live:scan", "List nearby leg sensors."),
    "pair": ("nightcramp.commands.pair:pair", "Bond with a sensor (once), or forget one."),
    "record": ("nightcramp.commands.live:record", "Record a night from the sensor (or the emulator)."),
    "replay": ("nightcramp.commands.data:replay", "Feed a saved recording through the live pipeline."),
    "detect": ("nightcramp.commands.data:detect", "Detect events in a recording or EDF/BDF file."),
    "export": ("nightcramp.commands.data:export", "Export a recording to EDF+ or Parquet."),
    "batch": ("nightcramp.commands.batch:batch", "Run a cohort of nights on Dask into Parquet."),
    "log": ("nightcramp.commands.log:log", "List, confirm, reject and annotate cramps."),
    "summary": ("nightcramp.commands.summary:summary", "The morning summary of a night."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        target, _ = COMMANDS[cmd_name]
        mod_name, attr = target.split(":")
        mod = importlib.import_module(mod_name)
        cmd = getattr(mod, attr)
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cramp")
def cli() -> None:
    """nightcramp: catch night leg cramps from a calf EMG + accelerometer sensor.

    \b
    Typical night:
      cramp record --device NightCramp-1A2B      # before sleep
      cramp summary                              # in the morning
    Try it without hardware:
      cramp demo
    """


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from firmware_protocol import ProtocolError

    try:
        cli.main(args=argv, prog_name="cramp", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("cramp: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except UserError as e:
        click.echo(f"cramp: error: {e}", err=True)
        sys.exit(e.exit_code)
    except ProtocolError as e:
        click.echo(f"cramp: error: sensor data: {e}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("cramp: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
