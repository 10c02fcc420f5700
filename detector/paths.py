"""Where data lives, and owner-only creation of files that hold health data.

Precedence for each location: the command-line option, then the environment variable,
then the default.

* recordings: ``--out`` / ``NIGHTCRAMP_RECORDINGS`` / ``./recordings`` when run from a
  checkout of this repository (a folder with ``pyproject.toml`` naming nightcramp), else
  ``<user data dir>/recordings``.
* cramp log: ``--db`` / ``NIGHTCRAMP_DB`` / ``<user data dir>/cramplog.sqlite3``.
* user data dir: ``NIGHTCRAMP_HOME`` / platformdirs' ``user_data_dir("nightcramp")``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "NIGHTCRAMP_HOME"
ENV_RECORDINGS = "NIGHTCRAMP_RECORDINGS"
ENV_DB = "NIGHTCRAMP_DB"

#: Permission bits for folders and files holding health data: owner only.
DIR_MODE = 0o700
FILE_MODE = 0o600


def data_home() -> Path:
    env = os.environ.get(ENV_HOME)
    return Path(env) if env else Path(platformdirs.user_data_dir("nightcramp", appauthor=False))


def _repo_root(start: Path) -> Path | None:
    for d in (start, *start.parents):
        pp = d / "pyproject.toml"
        if pp.is_file() and (d / "detector").is_dir():
            try:
                if 'name = "nightcramp"' in pp.read_text(encoding="utf-8"):
                    return d
            except OSError:
                return None
    return None


def recordings_dir(option: str | os.PathLike[str] | None = None) -> Path:
    if option:
        return Path(option)
    env = os.environ.get(ENV_RECORDINGS)
    if env:
        return Path(env)
    root = _repo_root(Path.cwd().resolve())
    if root is not None:
        return root / "recordings"
    return data_home() / "recordings"


def db_path(option: str | os.PathLike[str] | None = None) -> Path:
    if option:
        return Path(option)
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    return data_home() / "cramplog.sqlite3"


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by the owner only; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path, mode: str = "ab"):  # noqa: ANN201 - returns a file object
    """Open ``path`` for writing, creating it with owner-only permissions."""
    flags = os.O_WRONLY | os.O_CREAT
    if "a" in mode:
        flags |= os.O_APPEND
    if "w" in mode:
        flags |= os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    return os.fdopen(fd, mode)
