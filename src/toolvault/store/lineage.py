"""The queries of lineage graphs (``refs --depth``), mixed into
:class:`~toolvault.store.base.SQLStore`; their SQL is :mod:`toolvault.lineage_sql`.

A few levels are read a level at a time, one query for all of a level's versions; deeper,
one recursive query follows the pinned references inside the database; the versions
that reference one (which no index can find) are read in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from toolvault import lineage_sql as q
from toolvault.store.sql import Queries


class LineageQueries(Queries):
    """Reads of the references between versions (:class:`toolvault.lineage_walk.Source`)."""

    dialect: str  # "sqlite" or "postgres": the recursive query is written for each

    def lineage_rows(self, keys: Iterable[tuple[str, int]]) -> list[tuple[Any, ...]]:
        """The row of each (name, version) that exists."""
        found: list[tuple[Any, ...]] = []
        for marks, params in q.chunks(keys):
            found += self._q(q.ROWS.replace("{start}", marks), params).fetchall()
        return found

    def lineage_closure(self, keys: Iterable[tuple[str, int]], cap: int) -> list[tuple[Any, ...]]:
        """The rows of these versions and of every version they reach through pinned
        references, in one query (at most ``cap`` of them)."""
        found: list[tuple[Any, ...]] = []
        for marks, params in q.chunks(keys):
            sql = q.CLOSURE[self.dialect].replace("{start}", marks)
            found += self._q(sql, [*params, cap]).fetchall()
        return found

    def lineage_referrers(self) -> list[tuple[Any, ...]]:
        """The row of every version that references something."""
        return list(self._q(q.REFERRERS).fetchall())

    def yank_reasons(self) -> dict[tuple[str, int], str]:
        """Each yanked version's reason."""
        return {(n, v): reason for n, v, reason in self._q(q.YANKS)}
