"""What ``verify`` reads, one range of tools at a time (:mod:`toolvault.verify`), and the
counts ``status`` shows; mixed into :class:`~toolvault.store.base.SQLStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from toolvault.store.sql import V_COLS, Queries, between, streamed


class VerifyQueries(Queries):
    """Whole-vault reads by range of names, as rows (no objects per row)."""

    def version_counts(self, wanted: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
        """(name, versions, signed versions) of every tool with versions, by name."""
        params: list[Any] = []
        where = between("name", (None, None), wanted, params)
        sql = (
            "SELECT name, count(*), count(signature) FROM versions "
            f"WHERE {where} GROUP BY name ORDER BY name"
        )
        return [(r[0], r[1], r[2]) for r in self._q(sql, params)]

    def version_rows(
        self,
        names: tuple[str | None, str | None],
        wanted: frozenset[str] = frozenset(),
        content: bool = False,
    ) -> Iterator[tuple[Any, ...]]:
        """Rows in ``VERSION_COLUMNS`` order plus the size the version's blob records
        (None when it has none) and, with ``content``, the blob's content, for names in
        [names[0], names[1]), by name and number; read as they are used, in one
        statement (call within a snapshot, and finish it before the next query)."""
        params: list[Any] = []
        where = between("v.name", names, wanted, params)
        sql = (
            f"SELECT {V_COLS}, b.size{', b.content' if content else ''} FROM versions v "
            f"LEFT JOIN blobs b ON b.sha256 = v.sha256 WHERE {where} ORDER BY v.name, v.version"
        )
        return streamed(self._q(sql, params))

    def unused_blobs(self) -> Iterator[tuple[str, int, bytes]]:
        """(sha256, size, content) of the blobs no version uses, by hash."""
        rows = self._q(
            "SELECT sha256, size, content FROM blobs "
            "WHERE sha256 NOT IN (SELECT sha256 FROM versions) ORDER BY sha256"
        )
        return ((r[0], r[1], bytes(r[2])) for r in rows)

    def blob_count(self) -> int:
        """How many blobs there are."""
        return int(self._q("SELECT count(*) FROM blobs").fetchone()[0])

    def row_counts(self) -> dict[str, int]:
        """How many tools, versions, blobs and audit entries there are (for ``status``)."""
        tables = ("tools", "versions", "blobs", "audit")
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        return dict(zip(tables, map(int, self._q(sql).fetchone()), strict=True))

    def tool_rows(
        self, names: tuple[str | None, str | None], wanted: frozenset[str] = frozenset()
    ) -> list[tuple[str, str, str]]:
        """(name, owner, lifecycle) of the tools whose names lie in [names[0], names[1]),
        by name: their own rows, without the version summary :meth:`tools` computes."""
        params: list[Any] = []
        where = between("name", names, wanted, params)
        sql = f"SELECT name, owner, lifecycle FROM tools WHERE {where} ORDER BY name"
        return [(r[0], r[1], r[2]) for r in self._q(sql, params)]

    def tool_history_rows(self) -> list[tuple[str, str, str | None]]:
        """(name, created_at, lifecycle_message) of every tool, by name (verify replays them)."""
        rows = self._q("SELECT name, created_at, lifecycle_message FROM tools ORDER BY name")
        return [(r[0], r[1], r[2]) for r in rows]

    def pack_import_rows(self) -> list[tuple[str, int, str, str]]:
        """(pack name, version, manifest sha256, source) of every pack import, in order."""
        rows = self._q(
            "SELECT pack_name, pack_version, manifest_sha256, source FROM pack_imports "
            "ORDER BY pack_name, pack_version"
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]
