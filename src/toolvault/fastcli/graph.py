"""``refs SPEC --depth N|all [--reverse]`` on the fast path: the lineage graph of a local
SQLite vault, walked by :mod:`toolvault.lineage_walk` over the raw connection, printed as
``cli/lineage.py`` prints it. Anything the walk refuses (a bad depth, too many versions)
falls back for the full command to explain."""

from __future__ import annotations

import sqlite3

from toolvault import lineage_sql as q
from toolvault import spec as specs
from toolvault.errors import ToolvaultError
from toolvault.fastcli import rows
from toolvault.fastcli.commands import parse
from toolvault.fastcli.render import Out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

# The root's row as lineage_walk.Row: the version's fields in the store's column order
ROOT_FIELDS = (
    *("name", "version", "sha256", "created_at", "created_by", "owner", "session_id"),
    *("prompt", "message", "references"),
)


class Source:
    """:class:`toolvault.lineage_walk.Source` over the fast path's connection."""

    def __init__(self, conn: sqlite3.Connection, dialect: str = "sqlite") -> None:
        self.conn, self.dialect = conn, dialect  # dialect: of the recursive query

    def lineage_rows(self, keys: Iterable[tuple[str, int]]) -> list[tuple[Any, ...]]:
        """As the store's."""
        found: list[tuple[Any, ...]] = []
        for marks, params in q.chunks(keys):
            found += self.conn.execute(q.ROWS.replace("{start}", marks), params).fetchall()
        return found

    def lineage_closure(self, keys: Iterable[tuple[str, int]], cap: int) -> list[tuple[Any, ...]]:
        """As the store's."""
        found: list[tuple[Any, ...]] = []
        for marks, params in q.chunks(keys):
            sql = q.CLOSURE[self.dialect].replace("{start}", marks)
            found += self.conn.execute(sql, [*params, cap]).fetchall()
        return found

    def lineage_referrers(self) -> list[tuple[Any, ...]]:
        """As the store's."""
        return self.conn.execute(q.REFERRERS).fetchall()

    def yank_reasons(self) -> dict[tuple[str, int], str]:
        """As the store's."""
        return {(n, v): reason for n, v, reason in self.conn.execute(q.YANKS)}

    def find(self, stored: str) -> tuple[str, int] | None:
        """What a reference stored as written resolves to, as ``Vault.get`` finds it."""
        try:
            spec = specs.parse(stored)
        except ToolvaultError:
            return None
        if spec.kind is specs.Kind.VERSIONS:
            return None
        row = rows.lookup(self.conn, spec)
        return None if row is None else (row[0], row[1])


def refs(
    conn: sqlite3.Connection,
    spec: str,
    depth: str,
    flags: set[str],
    out: Out,
    dialect: str = "sqlite",
) -> None:
    """``refs SPEC --depth DEPTH [--reverse] [--json]`` (``dialect``: the database's, for
    its recursive query). The cyclic garbage collector is off meanwhile: a deep graph
    makes hundreds of thousands of tuples and strings, none in a cycle, and the
    collector's passes over them cost more than the walk's levels."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        _refs(conn, spec, depth, flags, out, dialect)
    finally:
        if enabled:
            gc.enable()


def _refs(
    conn: sqlite3.Connection, spec: str, depth: str, flags: set[str], out: Out, dialect: str
) -> None:
    from toolvault import lineage_json
    from toolvault.lineage_graph import MAX_NODES, parse_depth, render_tree
    from toolvault.lineage_walk import walk

    version, _ = rows.find(conn, parse(spec))
    root = (*(version[f] for f in ROOT_FIELDS[:-1]), tuple(version["references"]))
    source = Source(conn, dialect)
    try:
        limit = parse_depth(depth)
        graph = walk(source, source.find, root, limit, "--reverse" in flags, MAX_NODES)
    except ToolvaultError:
        raise rows.Fallback from None
    if "--json" in flags:
        out.stream(lineage_json.pieces(graph))
    else:
        out.echo(render_tree(graph), nl=False)
