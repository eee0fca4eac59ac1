"""The audit log a page at a time, filtered in the database, mixed into
:class:`~toolvault.store.base.SQLStore`.

The web UI's audit page and ``GET /v1/audit?limit=…`` read one page of a log that may
hold hundreds of thousands of entries: the filters (tool, actor, action) are SQL, the
page is newest first, and only its rows are decoded.
"""

from __future__ import annotations

from typing import Any

from toolvault.columns import MAX_INTEGER
from toolvault.hashing import details_of
from toolvault.models import AuditEntry
from toolvault.store.sql import Queries

AUDIT_COLUMNS = "seq, at, actor, action, tool, version, details, prev_hash, hash"


class AuditPageQueries(Queries):
    """One page of the audit log, and how many entries match in all."""

    def audit_page(
        self,
        tool: str | None,
        actor: str | None,
        action: str | None,
        offset: int,
        limit: int | None,
        newest_first: bool = True,
    ) -> tuple[list[AuditEntry], int]:
        """The entries matching every filter given, ``offset`` and ``limit`` (None: all)
        in the order asked, and how many match in all."""
        where, params = _filters(tool, actor, action)
        total = self._q(f"SELECT count(*) FROM audit WHERE {where}", params).fetchone()[0]
        order = "DESC" if newest_first else "ASC"
        rows = self._q(
            f"SELECT {AUDIT_COLUMNS} FROM audit WHERE {where} ORDER BY seq {order}"
            " LIMIT ? OFFSET ?",
            (*params, MAX_INTEGER if limit is None else limit, offset),  # one form for both
        )
        entries = [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], details_of(r[6]), r[7], r[8])
            for r in rows
        ]
        return entries, int(total)


def _filters(
    tool: str | None, actor: str | None, action: str | None
) -> tuple[str, tuple[Any, ...]]:
    clauses, params = [], []
    for column, value in (("tool", tool), ("actor", actor), ("action", action)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return " AND ".join(clauses) or "1 = 1", tuple(params)
