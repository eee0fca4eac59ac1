"""``search`` on the fast path: the same output as ``cli/search.py`` for its plain case
(words, ``--json``, ``--all-versions``; no colour), from the index with the standard
library's sqlite3 and the ranking every store shares."""

from __future__ import annotations

import sqlite3
import sys

from toolvault.fastcli.render import Out
from toolvault.fastcli.rows import Fallback
from toolvault.store.search import SearchQueries

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


class _Index(SearchQueries):
    """The search queries over the fast path's connection (in its read transaction)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, params)


def search(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``search WORDS… [--all-versions] [--json]``."""
    from toolvault.errors import InvalidInput
    from toolvault.search import query as queries
    from toolvault.search.run import DEFAULT_LIMIT, LIFECYCLES
    from toolvault.search.run import search as run

    if "--json" not in flags and sys.stdout.isatty():
        raise Fallback  # colour: click's
    try:
        parsed = queries.parse(" ".join(args))
        found = run(_Index(conn), parsed, queries.TEXT_FIELDS, "--all-versions" in flags,
                    LIFECYCLES[None], DEFAULT_LIMIT)  # fmt: skip
    except (InvalidInput, sqlite3.Error):
        raise Fallback from None  # the full path says what is wrong
    if "--json" in flags:
        out.json([r.to_dict() for r in found])
        return
    if not found:
        raise Fallback  # a note on stderr: click's
    import shutil

    from toolvault.search.text import render

    width = max(40, shutil.get_terminal_size().columns)
    for result in found:
        for line in render(result, width):
            out.echo(line)
