"""Fitting a listing's last column to the terminal (``ls``'s descriptions, SPEC §10).

Standard library only: the click commands and the fast paths (:mod:`toolvault.fastcli`)
both cut with it, so that their output stays byte-identical.
"""

from __future__ import annotations

import os
import sys

ELLIPSIS = "…"


def terminal_width() -> int | None:
    """The width to fit: ``$COLUMNS`` when set, else the terminal's when standard output
    is one; None (cut nothing) when it goes to a pipe or a file, for programs to read whole."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError, AttributeError):  # a replaced stdout has no descriptor
        pass
    return None


def fit_last(rows: list[list[str]], header: list[str], width: int | None) -> list[list[str]]:
    """``rows`` with the last cell of each cut (ending in an ellipsis) so that every line
    of the table, columns two spaces apart, is at most ``width`` characters."""
    if width is None or not rows:
        return rows
    lead = sum(max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header) - 1))
    room = max(width - lead, len(ELLIPSIS))
    return [[*r[:-1], cut(r[-1], room)] for r in rows]


def cut(text: str, room: int) -> str:
    """``text`` on one line, at most ``room`` characters, ending in an ellipsis when cut."""
    line = " ".join(text.split())
    if len(line) <= room:
        return line
    return line[: room - len(ELLIPSIS)].rstrip() + ELLIPSIS
