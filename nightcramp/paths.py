"""Where data lives.  (Owner-only file creation is :mod:`recordings.files`.)

Precedence for each location: the command-line option, then the environment variable,
then the default.

* recordings: ``--out`` / ``NIGHTCRAMP_RECORDINGS`` / ``<user data dir>/recordings`` (never
  inside the package or a checkout of it).
* cramp log: ``--db`` / ``NIGHTCRAMP_DB`` / ``<user data dir>/cramplog.sqlite3``.
* bonded sensors: ``<user data dir>/bonds.json``; the software Bluetooth stack's bond
  keys: ``<user data dir>/virtual-ble-keys.json`` (both owner-only).
* user data dir: ``NIGHTCRAMP_HOME`` / platformdirs' ``user_data_dir("nightcramp")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "NIGHTCRAMP_HOME"
ENV_RECORDINGS = "NIGHTCRAMP_RECORDINGS"
ENV_DB = "NIGHTCRAMP_DB"

def data_home() -> Path:
    env = os.environ.get(ENV_HOME)
    return Path(env) if env else Path(platformdirs.user_data_dir("nightcramp", appauthor=False))


def recordings_dir(option: str | os.PathLike[str] | None = None) -> Path:
    if option:
        return Path(option)
    env = os.environ.get(ENV_RECORDINGS)
    if env:
        return Path(env)
    return data_home() / "recordings"


def db_path(option: str | os.PathLike[str] | None = None) -> Path:
    if option:
        return Path(option)
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    return data_home() / "cramplog.sqlite3"


def bonds_path() -> Path:
    """The host's list of bonded sensors (name, method, when): ``<user data dir>/bonds.json``."""
    return data_home() / "bonds.json"


def virtual_keys_path() -> Path:
    """Bond keys of the software Bluetooth stack (``--virtual-hci``), as an OS keeps its own."""
    return data_home() / "virtual-ble-keys.json"
