"""Bonding with a sensor: ``cramp pair``, ``cramp pair --forget``, and what the host knows.

The link's keys belong to the Bluetooth stack (the OS; for the software stack,
:class:`emulator.virtual.security.BondStore`).  The host keeps its own list of the
sensors it bonded with -- :class:`BondBook`, ``<user data dir>/bonds.json``, owner-only --
so ``cramp scan`` can say which are bonded and ``cramp pair --forget`` which to unpair.

Pairing is LE Secure Connections (PROTOCOL.md section 7): numeric comparison when the
sensor has a display (the user checks both show the same 6 digits), otherwise Just Works.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bleak import BleakClient
from bleak.exc import BleakGATTProtocolError

from firmware_protocol import codec, gatt
from nightcramp import paths
from nightcramp.recorder import ATT_SECURITY_ERRORS, find_sensor, looks_like_address
from recordings.errors import UserError
from recordings.files import make_private_dir, write_atomic

BOOK_VERSION = 1

#: The user's answer to "does the sensor show this number?" (may be awaited).
Compare = Callable[[int], "bool | Awaitable[bool]"]

JUST_WORKS_NOTE = (
    "paired by Just Works (the sensor has no display to compare a number): the link is "
    "encrypted, but this one pairing could not tell an attacker in the middle from the "
    "sensor -- pair at home with no stranger's device near"
)


@dataclass(frozen=True)
class Bond:
    address: str
    name: str
    method: str
    paired_utc: str


class BondBook:
    """The sensors this host bonded with, by address (one owner-only JSON file)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.bonds_path()
        self._bonds: dict[str, Bond] = {}
        if self.path.exists():
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                if doc.get("version") != BOOK_VERSION:
                    raise ValueError(f"version {doc.get('version')!r}, expected {BOOK_VERSION}")
                for addr, b in doc["sensors"].items():
                    self._bonds[addr.upper()] = Bond(
                        addr.upper(), str(b["name"]), str(b["method"]), str(b["paired_utc"])
                    )
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                raise UserError(
                    f"{self.path}: the list of paired sensors cannot be read ({e}) -- move it "
                    "away and pair again with `cramp pair --device NAME`"
                ) from None

    def _save(self) -> None:
        make_private_dir(self.path.parent)
        doc = {
            "version": BOOK_VERSION,
            "sensors": {
                a: {"name": b.name, "method": b.method, "paired_utc": b.paired_utc}
                for a, b in sorted(self._bonds.items())
            },
        }
        write_atomic(self.path, (json.dumps(doc, indent=2) + "\n").encode())

    def get(self, address: str) -> Bond | None:
        return self._bonds.get(address.upper())

    def all(self) -> list[Bond]:
        return [self._bonds[a] for a in sorted(self._bonds)]

    def find(self, target: str) -> Bond | None:
        """By address, else by name (a name bonded at two addresses is an error)."""
        if looks_like_address(target):
            return self.get(target)
        hits = [b for b in self._bonds.values() if b.name == target]
        if len(hits) > 1:
            addrs = ", ".join(b.address for b in hits)
            raise UserError(
                f"sensor {target!r}: bonded at {len(hits)} addresses ({addrs}) -- "
                "give the address"
            )
        return hits[0] if hits else None

    def add(self, address: str, name: str, method: str) -> Bond:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        b = Bond(address.upper(), name, method, now)
        self._bonds[b.address] = b
        self._save()
        return b

    def remove(self, address: str) -> bool:
        if self._bonds.pop(address.upper(), None) is None:
            return False
        self._save()
        return True


def not_paired_hint(target: str) -> str:
    return f"run `cramp pair --device {target}` once (the sensor must be near), then try again"


async def pair_sensor(
    target: str,
    *,
    compare: Compare | None = None,
    book: BondBook | None = None,
    scanner_kwargs: dict[str, Any] | None = None,
    client_kwargs: dict[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> tuple[Bond, bool]:
    """Find ``target`` (a name or an address), bond with it, prove the bond by reading
    STATUS over the encrypted link, and note it in ``book`` (None: not noted).

    Returns the bond and whether it was there already (the link was trusted without
    pairing; a bond the list had lost is noted again).
    """
    found = await find_sensor(target, timeout_s, **(scanner_kwargs or {}))
    compared: list[int] = []
    answers: list[bool] = []

    async def ask(number: int) -> bool:
        compared.append(number)
        answer = True if compare is None else compare(number)
        if not isinstance(answer, bool):
            answer = await answer
        answers.append(bool(answer))
        return bool(answer)

    who = f"sensor {target!r} ({found.address})"
    client = BleakClient(found.device, timeout=timeout_s, **(client_kwargs or {}))
    already = False
    try:
        try:
            await client.connect()  # with stored keys, the stack encrypts here
        except Exception as e:
            if getattr(e, "bond_mismatch", False):
                raise UserError(
                    f"{who}: refused: it cannot prove the keys bonded with it (an impostor, "
                    f"or it was reset) -- if you reset it: `cramp pair --forget {target}`, "
                    "then pair again"
                ) from e
            raise
        try:
            await _read_status(client)
            already = True  # the link is trusted already: a bond exists
        except BleakGATTProtocolError as e:
            if int(e.code) not in ATT_SECURITY_ERRORS:
                raise
            try:
                await client.pair(compare=ask)
            except Exception as pe:
                if answers and not answers[-1]:
                    why = (
                        "you said the numbers differ -- not paired; if the sensor showed "
                        "another number, another device may be pairing: try again later"
                    )
                else:
                    why = (
                        f"pairing refused ({pe}) -- it holds a bond with another host "
                        "already: hold its button to open pairing, then run "
                        f"`cramp pair --device {target}` again"
                    )
                raise UserError(f"{who}: {why}") from pe
            await _read_status(client)  # the bond works: the sensor serves this host
    finally:
        if client.is_connected:
            await client.disconnect()
    if book is not None and (old := book.get(found.address)) is not None and already:
        return old, True
    method = "numeric-comparison" if compared else ("bonded" if already else "just-works")
    if book is None:
        return Bond(found.address.upper(), found.name, method, ""), already
    return book.add(found.address, found.name, method), already


async def _read_status(client: BleakClient) -> None:
    st = codec.decode_frame(bytes(await client.read_gatt_char(gatt.STATUS_CHAR_UUID)))
    if not isinstance(st, codec.StatusFrame):
        raise UserError(f"sensor {client.address}: STATUS returned {type(st).__name__}")


async def forget_sensor(
    target: str, *, book: BondBook, client_kwargs: dict[str, Any] | None = None
) -> Bond:
    """Unpair ``target`` (name or address) in the Bluetooth stack and drop it from ``book``."""
    bond = book.find(target)
    if bond is None:
        known = ", ".join(f"{b.name} ({b.address})" for b in book.all()) or "none"
        raise UserError(
            f"sensor {target!r}: not paired with this computer (paired: {known}) -- "
            "`cramp scan` lists sensors nearby"
        )
    client = BleakClient(bond.address, **(client_kwargs or {}))
    try:
        await client.unpair()
    except Exception:  # the stack may not know it (already removed, other OS user)
        pass
    book.remove(bond.address)
    return bond
