"""LE Secure Connections bonding on the virtual Bluetooth stack (bumble's SMP).

* :class:`BondStore` -- a bumble key store (``bumble.keys.KeyStore``) held in memory or
  in one owner-only JSON file (:mod:`recordings.files`): the host's bonds, as an OS keeps
  them, or the sensor's.  With a file it also keeps the host's own static address, so a
  bond made tonight still names this host tomorrow.
* :class:`SensorSecurity` -- what the emulated sensor accepts: bonding on first use
  (pairing is open while it holds no bond, or after :meth:`SensorSecurity.open_pairing`,
  the sensor's button), LE Secure Connections only, numeric comparison when the sensor
  has a display (``io="display"``), otherwise Just Works; and which links it trusts.
* :class:`HostPairingDelegate` -- the host's side of a pairing: it can show a number and
  take a yes/no, so with a sensor that has a display the pairing is numeric comparison.

The limits of each method are written down in ``firmware_protocol/PROTOCOL.md`` section 7.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bumble import hci
from bumble.device import Connection
from bumble.keys import KeyStore, PairingKeys
from bumble.pairing import PairingConfig, PairingDelegate

from recordings.errors import UserError
from recordings.files import make_private_dir, write_atomic

log = logging.getLogger(__name__)

#: What a numeric-comparison prompt returns: the user's yes/no (may be awaited).
Compare = Callable[[int], "bool | Awaitable[bool]"]

STORE_VERSION = 1


def addr_key(address: hci.Address | str) -> str:
    """The store's key for a peer: its address, upper case, without bumble's type suffix."""
    if isinstance(address, hci.Address):
        return address.to_string(with_type_qualifier=False).upper()
    return str(address).split("/")[0].upper()


class BondStore(KeyStore):
    """Bonds by peer address: bumble's :class:`PairingKeys` plus a little metadata.

    ``path`` None keeps them in memory (an emulated night: sensor and host are both new
    each run); otherwise one JSON file, created owner-only (0600 in a 0700 folder) and
    replaced atomically on every change.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._bonds: dict[str, dict[str, Any]] = {}
        self.host_address: str | None = None
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def _load(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("version") != STORE_VERSION:
                raise ValueError(f"not a version-{STORE_VERSION} bond store")
            bonds = doc.get("bonds", {})
            for entry in bonds.values():
                PairingKeys.from_dict(entry["keys"])  # validates
            self._bonds = {addr_key(a): dict(e) for a, e in bonds.items()}
            host = doc.get("host_address")
            self.host_address = str(host) if host else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise UserError(
                f"{path}: the Bluetooth bond store cannot be read ({e}) -- move it away and "
                "pair the sensor again with `cramp pair --device NAME`"
            ) from None

    def _save(self) -> None:
        if self.path is None:
            return
        make_private_dir(self.path.parent)
        doc = {"version": STORE_VERSION, "host_address": self.host_address, "bonds": self._bonds}
        write_atomic(self.path, json.dumps(doc, indent=2, sort_keys=True).encode())

    def set_host_address(self, address: str) -> None:
        self.host_address = address
        self._save()

    # -------------------------------------------------------------- sync views
    def keys(self, address: hci.Address | str) -> PairingKeys | None:
        entry = self._bonds.get(addr_key(address))
        return PairingKeys.from_dict(entry["keys"]) if entry else None

    def info(self, address: hci.Address | str) -> dict[str, Any] | None:
        entry = self._bonds.get(addr_key(address))
        return {k: v for k, v in entry.items() if k != "keys"} if entry else None

    def addresses(self) -> list[str]:
        return sorted(self._bonds)

    def annotate(self, address: hci.Address | str, **info: Any) -> None:
        entry = self._bonds.get(addr_key(address))
        if entry is not None:
            entry.update(info)
            self._save()

    def forget(self, address: hci.Address | str) -> bool:
        found = self._bonds.pop(addr_key(address), None) is not None
        if found:
            self._save()
        return found

    # -------------------------------------------------------------- bumble's KeyStore
    async def update(self, name: str, keys: PairingKeys) -> None:
        entry = self._bonds.setdefault(addr_key(name), {})
        merged = dict(entry.get("keys", {}))
        merged.update(keys.to_dict())
        entry["keys"] = merged
        self._save()

    async def get(self, _name: str) -> PairingKeys | None:
        return self.keys(_name)

    async def delete(self, name: str) -> None:
        self.forget(name)

    async def get_all(self) -> list[tuple[str, PairingKeys]]:
        return [(a, PairingKeys.from_dict(e["keys"])) for a, e in sorted(self._bonds.items())]


def is_lesc_bond(keys: PairingKeys | None, *, need_mitm: bool = False) -> bool:
    """Keys from an LE Secure Connections pairing (one ``ltk``; legacy pairing leaves
    ``ltk_central`` / ``ltk_peripheral``), MITM-authenticated if ``need_mitm``."""
    if keys is None or keys.ltk is None:
        return False
    return keys.ltk.authenticated or not need_mitm


class _SensorDelegate(PairingDelegate):
    def __init__(self, security: SensorSecurity, conn: Connection) -> None:
        io = (
            PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT
            if security.io == "display"
            else PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT
        )
        super().__init__(io_capability=io)
        self.security = security
        self.conn = conn

    async def accept(self) -> bool:
        ok = self.security.pairing_open
        if not ok:
            log.info("sensor: pairing refused for %s: already bonded", addr_key(self.conn.peer_address))
            self.security.refused.append(addr_key(self.conn.peer_address))
        return ok

    async def compare_numbers(self, number: int, digits: int) -> bool:
        self.security.shown.append(number)
        return bool(self.security.confirm(number))

    async def confirm(self, auto: bool = False) -> bool:
        # Just Works: fine for a sensor without a display (nothing better is possible);
        # a sensor that can compare numbers refuses to settle for less
        if self.security.need_mitm:
            self.security.refused.append(addr_key(self.conn.peer_address))
            return False
        return True


class SensorSecurity:
    """The emulated sensor's pairing policy and its bonds (in memory, as in its flash).

    ``io``: ``"none"`` (no display: Just Works, unauthenticated) or ``"display"`` (a
    6-digit display and a button: numeric comparison, and then only MITM-authenticated
    bonds are trusted).  ``confirm(number)``: the user's button press on the sensor
    after comparing the number with the host's (emulated: yes).
    """

    def __init__(self, io: str = "none", confirm: Callable[[int], bool] | None = None) -> None:
        if io not in ("none", "display"):
            raise ValueError(f"io must be 'none' or 'display', not {io!r}")
        self.io = io
        self.confirm: Callable[[int], bool] = confirm or (lambda _n: True)
        self.store = BondStore()
        self._window = False
        self.shown: list[int] = []
        """Numbers the sensor showed for numeric comparison (tests)."""
        self.refused: list[str] = []
        """Addresses whose pairing request was refused (tests)."""
        self.pairings = 0
        """Pairings completed (a reconnect with stored keys is not one)."""

    @property
    def need_mitm(self) -> bool:
        return self.io == "display"

    @property
    def pairing_open(self) -> bool:
        """Bonding on first use: open while no bond is held, or after the button."""
        return self._window or not self.store.addresses()

    def open_pairing(self) -> None:
        """The sensor's button held: the next pairing is accepted (and closes it)."""
        self._window = True

    def on_bonded(self, conn: Connection) -> None:
        self._window = False
        self.pairings += 1
        keys = self.store.keys(conn.peer_address)
        if not is_lesc_bond(keys, need_mitm=self.need_mitm):
            # legacy pairing, or Just Works where this sensor can do better: not a bond
            self.store.forget(conn.peer_address)

    def pairing_config(self, conn: Connection) -> PairingConfig:
        return PairingConfig(
            sc=True, mitm=self.need_mitm, bonding=True, delegate=_SensorDelegate(self, conn)
        )

    def trusted(self, conn: Connection | None) -> bool:
        """An encrypted link whose key is a bond this sensor holds for that address.

        (The controller only encrypts when both sides hold the same LTK, so an address
        with the wrong keys never gets here.)
        """
        if conn is None or not conn.is_encrypted:
            return False
        return is_lesc_bond(self.store.keys(conn.peer_address), need_mitm=self.need_mitm)


class HostPairingDelegate(PairingDelegate):
    """The host: it shows a number and takes yes/no (DisplayYesNo).

    ``compare(number)`` is asked whether the sensor shows the same number (numeric
    comparison); None accepts (the emulated flow, where both sides are ours).  Whether
    the pairing was numeric comparison is left in :attr:`compared`.
    """

    def __init__(self, compare: Compare | None = None) -> None:
        super().__init__(
            io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT
        )
        self.compare = compare
        self.compared: int | None = None

    async def compare_numbers(self, number: int, digits: int) -> bool:
        self.compared = number
        if self.compare is None:
            return True
        answer = self.compare(number)
        if not isinstance(answer, bool):
            answer = await answer
        return bool(answer)

    async def confirm(self, auto: bool = False) -> bool:
        return True  # Just Works: nothing to compare (PROTOCOL.md section 7)
