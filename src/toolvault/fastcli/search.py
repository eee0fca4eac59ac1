"""``search`` on the fast path: the same output as ``cli/search.py`` for its plain case
(words, ``--json``, ``--all-versions``; no colour), from the index with the standard
library's sqlite3 and the ranking every store shares."""

from __future__ import annotations

import sqlite3
import sys

from toolvault.fastcli.render import Out
from toolvault.fastcli.rows import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from toolvault.search.query import Query
    from toolvault.search.rank import Row
    from toolvault.search.sql import Page


class _Index:
    """The search over the fast path's connection (in its read transaction), as
    :meth:`toolvault.store.search.SearchQueries.search_page` runs it."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def search_select(self, sql: str, params: list[Any]) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def search_page(self, query: Query, page: Page) -> list[Row]:
        from toolvault.search.rank import Row
        from toolvault.search.sql import page_query

        sql, params = page_query("sqlite", query, page)
        rows = self.conn.execute(sql, params)
        return [Row(*r[:14], bool(r[14]), r[15]) for r in rows]  # type: ignore[call-arg]


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
