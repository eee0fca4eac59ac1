"""The queries of lineage graphs (``refs --depth``), mixed into
:class:`~toolvault.store.base.SQLStore`.

A graph is walked a level at a time, each level one query for all of its versions (a few
hundred pairs an ``IN`` list), never one per version; a deep graph, or the versions that
reference one (which no index can find), is read from one pass over the references.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from toolvault.store.sql import IN_CHUNK, Queries

# (name, version, sha256, the stored references): what a walk needs of a version
Link = tuple[str, int, str, tuple[str, ...]]
# What a graph shows of a version (lineage_graph.Node), in this order
NODE_COLUMNS = (
    "v.name, v.version, v.sha256, v.created_at, v.created_by, v.owner, v.session_id, "
    "v.prompt, v.message"
)


def _pairs(keys: Iterable[tuple[str, int]]) -> Iterator[list[tuple[str, int]]]:
    wanted = sorted(set(keys))
    for i in range(0, len(wanted), IN_CHUNK):
        yield wanted[i : i + IN_CHUNK]


def _where(chunk: list[tuple[str, int]]) -> tuple[str, list[object]]:
    """``(name, version) IN (VALUES …)``: both SQLite and PostgreSQL compare row values,
    and both use the (name, version) key for it."""
    marks = ", ".join("(?, ?)" for _ in chunk)
    params: list[object] = [x for key in chunk for x in key]
    return f"(v.name, v.version) IN (VALUES {marks})", params


class LineageQueries(Queries):
    """Reads of the references between versions."""

    def links(self, keys: Iterable[tuple[str, int]]) -> list[Link]:
        """:data:`Link` of each (name, version) that exists."""
        found: list[Link] = []
        for chunk in _pairs(keys):
            where, params = _where(chunk)
            sql = f"SELECT v.name, v.version, v.sha256, v.refs FROM versions v WHERE {where}"
            found += _links(self._q(sql, params).fetchall())
        return found

    def all_links(self) -> list[Link]:
        """:data:`Link` of every version that references something (most reference
        nothing, and "[]" is what they store)."""
        sql = "SELECT v.name, v.version, v.sha256, v.refs FROM versions v WHERE v.refs <> '[]'"
        return _links(self._q(sql).fetchall())

    def node_rows(self, keys: Iterable[tuple[str, int]]) -> list[tuple[Any, ...]]:
        """:data:`NODE_COLUMNS` of each (name, version) that exists."""
        found: list[tuple[Any, ...]] = []
        for chunk in _pairs(keys):
            where, params = _where(chunk)
            found += self._q(f"SELECT {NODE_COLUMNS} FROM versions v WHERE {where}", params)
        return found


def _links(rows: list[Any]) -> list[Link]:
    """Rows of (name, version, sha256, refs) as links. Each refs text is a JSON list:
    joined, they are one JSON list of lists, parsed in one call (a call per row cost more
    than the query); a text altered by hand sends the rows back to one call each."""
    try:
        parsed = json.loads("[" + ",".join(r[3] for r in rows) + "]")
        if len(parsed) != len(rows):  # a text altered into two lists, or none
            raise ValueError
    except (ValueError, TypeError):
        parsed = [_one(r[3]) for r in rows]
    return [(r[0], r[1], r[2], _strings(p, r[3])) for r, p in zip(rows, parsed, strict=True)]


def _one(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _strings(value: Any, text: str) -> tuple[str, ...]:
    """A stored list of references; anything else kept visible, as ``json_list`` does
    (it resolves to nothing: an edge ``dangling``, and verify reports the row)."""
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return tuple(value)
    return (f"<unreadable: {text}>",)
