"""A Bluetooth LE stack in software for tests and the demo: no radio, no kernel Bluetooth.

* :mod:`emulator.virtual.air` -- the virtual radio (bumble controllers on a link),
  in one process or across two over HCI/TCP on 127.0.0.1.
* :mod:`emulator.virtual.backend` -- a bleak backend over it.
* :mod:`emulator.virtual.sensor` -- the emulated leg sensor (a bumble peripheral
  driving :class:`emulator.firmware.SensorFirmware`).
"""

from emulator.virtual.air import Air, LocalAir, RemoteAir, serve_controller
from emulator.virtual.backend import BumbleClient, BumbleScanner

__all__ = ["Air", "LocalAir", "RemoteAir", "serve_controller", "BumbleClient", "BumbleScanner"]
