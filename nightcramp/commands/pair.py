"""``cramp pair``: bond with a sensor once (LE Secure Connections), or forget one."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from recordings.errors import UserError


@click.command("pair")
@click.option("--device", metavar="ADDRESS_OR_NAME", help="The sensor to bond with.")
@click.option("--forget", metavar="ADDRESS_OR_NAME", help="Unpair this sensor.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to look for it.")
@click.option(
    "--yes",
    "assume_yes",
    is_flag=True,
    help="Accept the number without asking (only where you see both screens yourself).",
)
@click.option("--virtual-hci", "virtual_hci", type=int, default=None, hidden=True)
def pair(
    device: str | None,
    forget: str | None,
    timeout: float,
    assume_yes: bool,
    virtual_hci: int | None,
) -> None:
    """Bond this computer with a sensor, once; every night after reuses the keys.

    \b
    A sensor with a display shows 6 digits: say yes only if this computer shows the
    same ones (numeric comparison).  A sensor without one pairs by Just Works: pair at
    home, with no stranger's device near.  A sensor bonded with another computer
    refuses: hold its button to open pairing first.

    \b
    Examples:
      cramp pair --device NightCramp-1A2B
      cramp pair --forget NightCramp-1A2B
      cramp scan                      # the 'bonded' column
    """
    if (device is None) == (forget is None):
        raise UserError("cramp pair: give --device ADDRESS_OR_NAME, or --forget ADDRESS_OR_NAME")
    from nightcramp import paths
    from nightcramp.pairing import JUST_WORKS_NOTE, BondBook, forget_sensor, pair_sensor

    book = BondBook()
    air: Any = None
    kw: dict[str, Any] = {}
    if virtual_hci is not None:
        from emulator.virtual import RemoteAir
        from emulator.virtual.security import BondStore

        air = RemoteAir(virtual_hci, keystore=BondStore(paths.virtual_keys_path()))
        kw = {"scanner_kwargs": air.scanner_kwargs(), "client_kwargs": air.client_kwargs()}

    def ask(number: int) -> bool:
        click.echo(f"This computer shows {number // 1000:03d} {number % 1000:03d}.", err=True)
        if assume_yes:
            return True
        return click.confirm("Does the sensor show the same number?", default=False, err=True)

    async def compare(number: int) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, ask, number)

    async def main() -> Any:
        try:
            if forget is not None:
                return await forget_sensor(
                    forget, book=book, client_kwargs=kw.get("client_kwargs")
                )
            assert device is not None
            return await pair_sensor(
                device, compare=compare, book=book, timeout_s=timeout, **kw
            )
        finally:
            if air is not None:
                await air.close()

    try:
        result = asyncio.run(main())
    except UserError:
        raise
    except Exception as e:  # bleak: no adapter, Bluetooth off, the link
        from nightcramp.recorder import _explain

        raise UserError(_explain(f"cramp pair {device or forget}", e)) from e
    if forget is not None:
        click.echo(f"forgot {result.name} ({result.address}): `cramp pair --device` to bond again")
        return
    bond, already = result
    if already:
        click.echo(f"{bond.name} ({bond.address}) is already paired ({bond.method}, {bond.paired_utc})")
        return
    click.echo(f"paired with {bond.name} ({bond.address}) by {bond.method}; keys kept for every night")
    if bond.method == "just-works":
        click.echo(f"note: {JUST_WORKS_NOTE}", err=True)
