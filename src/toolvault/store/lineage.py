"""The queries of lineage graphs (``refs --depth``), mixed into
:class:`~toolvault.store.base.SQLStore`.

A graph is walked a level at a time, each level one query for all of its versions (a few
hundred pairs an ``IN`` list), never one per version; a deep graph, or the versions that
reference one (which no index can find), is read from one pass over the references.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from toolvault.models import Version
from toolvault.store.sql import IN_CHUNK, V_COLS, Queries, json_list, row_to_version

# (name, version, sha256, the stored references): what a walk needs of a version
Link = tuple[str, int, str, tuple[str, ...]]


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
            rows = self._q(
                f"SELECT v.name, v.version, v.sha256, v.refs FROM versions v WHERE {where}", params
            )
            found += [(r[0], r[1], r[2], json_list(r[3])) for r in rows]
        return found

    def all_links(self) -> list[Link]:
        """:data:`Link` of every version that references something (most reference
        nothing, and "[]" is what they store)."""
        rows = self._q(
            "SELECT v.name, v.version, v.sha256, v.refs FROM versions v WHERE v.refs <> '[]'"
        )
        return [(r[0], r[1], r[2], json_list(r[3])) for r in rows]

    def versions_at(self, keys: Iterable[tuple[str, int]]) -> list[Version]:
        """The versions (without content) of each (name, version) that exists."""
        found: list[Version] = []
        for chunk in _pairs(keys):
            where, params = _where(chunk)
            rows = self._q(f"SELECT {V_COLS} FROM versions v WHERE {where}", params)
            found += [row_to_version(r) for r in rows]
        return found
