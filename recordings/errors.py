"""The one exception type the CLI turns into a one-line message (never a traceback)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a condition the user can fix.

    The message names the file (or device), the place, the problem and the fix, e.g.
    ``night.edf: header byte 236: data-record count '-1' is not a number; the file is
    truncated or not EDF -- re-export it from the sleep-lab software``.
    """

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
