"""One page of the tool listing, filtered and sorted in the database (the web UI's tools
page holds at tens of thousands of tools), mixed into :class:`~toolvault.store.base.SQLStore`.

The page's names are chosen from the ``tools`` table alone (its columns, and ``labels``
for the label filter); only the names of that page are then summed up over their
versions, so a page costs the same whatever the number of tools.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolvault.columns import MAX_INTEGER, TOOL_SELECT, described
from toolvault.models import Tool
from toolvault.store.sql import Queries

# The orders a page may take, as SQL over the tools table (name last: a stable order).
TOOL_ORDERS = {
    "name": "t.name",
    "updated": "t.updated_at DESC, t.name",
    "created": "t.created_at DESC, t.name",
    "owner": "t.owner, t.name",
}


class ToolPageQueries(Queries):
    """Tools a page at a time, and tools by name."""

    def tool_page(
        self,
        lifecycles: Sequence[str],
        owner: str | None,
        label: str | None,
        order: str,
        offset: int,
        limit: int | None,
    ) -> tuple[list[Tool], int]:
        """The tools of one page (``order`` a key of TOOL_ORDERS) and how many match in
        all: those with one of ``lifecycles``, of ``owner``, with a label ``label``."""
        where, params = _filters(lifecycles, owner, label)
        total = self._q(f"SELECT count(*) FROM tools t WHERE {where}", params).fetchone()[0]
        rows = self._q(
            f"SELECT t.name FROM tools t WHERE {where} ORDER BY {TOOL_ORDERS[order]}"
            " LIMIT ? OFFSET ?",
            (*params, MAX_INTEGER if limit is None else limit, offset),  # one form for both
        )
        names = [r[0] for r in rows]
        found = {t.name: t for t in self.tools_named(names)}
        return [found[n] for n in names if n in found], int(total)

    def tools_named(self, names: Sequence[str]) -> list[Tool]:
        """The summaries of the tools named (those that exist), by name."""
        if not names:
            return []
        marks = ", ".join("?" for _ in names)
        sql = described(f"{TOOL_SELECT} WHERE t.name IN ({marks}) GROUP BY t.name")
        return [Tool(*r) for r in self._q(sql, tuple(names))]


def _filters(
    lifecycles: Sequence[str], owner: str | None, label: str | None
) -> tuple[str, tuple[Any, ...]]:
    clauses = [f"t.lifecycle IN ({', '.join('?' for _ in lifecycles)})"]
    params: list[Any] = list(lifecycles)
    if owner is not None:
        clauses.append("t.owner = ?")
        params.append(owner)
    if label is not None:
        clauses.append("EXISTS (SELECT 1 FROM labels l WHERE l.name = t.name AND l.label = ?)")
        params.append(label)
    return " AND ".join(clauses), tuple(params)
