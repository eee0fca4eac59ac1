"""The queries of the audit log (append-only, hash-chained), mixed into
:class:`~toolvault.store.base.SQLStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from toolvault.hashing import GENESIS, canonical, details_of, entry_hash
from toolvault.models import AuditEntry
from toolvault.store.sql import Queries, between, streamed


class Head(NamedTuple):
    """The audit log's head a write transaction leaves, and the head it found there
    (``before``; None when not known)."""

    seq: int
    hash: str
    before: tuple[int, str] | None = None


class AuditQueries(Queries):
    """Appending to the audit log and reading it, whole or one range at a time."""

    # -- audit log ---------------------------------------------------------------------

    def append_audit(
        self,
        at: str,
        actor: str,
        action: str,
        tool: str | None,
        version: int | None,
        details: dict[str, Any],
    ) -> AuditEntry:
        """Append one entry, chained to the last; call inside the write it records."""
        last, prev, _ = self.audit_head()
        seq = last + 1
        body = AuditEntry(seq, at, actor, action, tool, version, details, prev, "").body()
        text = canonical(details)  # once: an import's details list every version it added
        entry = AuditEntry(**body, hash=entry_hash(body, text))
        self._q(
            "INSERT INTO audit (seq, at, actor, action, tool, version, details, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, actor, action, tool, version, text.decode(), prev, entry.hash),
        )
        # the head the commit's checkpoint signs, and the one the transaction found
        found = getattr(self._local, "appended", None)
        self._local.appended = Head(seq, entry.hash, found.before if found else (last, prev))
        return entry

    def audit(self, tool: str | None = None) -> list[AuditEntry]:
        """The audit log in order, or one tool's entries."""
        sql = "SELECT seq, at, actor, action, tool, version, details, prev_hash, hash FROM audit"
        rows = (
            self._q(f"{sql} ORDER BY seq")
            if tool is None
            else self._q(f"{sql} WHERE tool = ? ORDER BY seq", (tool,))
        )
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], details_of(r[6]), r[7], r[8])
            for r in rows
        ]

    # -- what verify reads, one range at a time -------------------------------------------

    def audit_head(self) -> tuple[int, str, str | None]:
        """(seq, hash, at) of the newest audit entry; (0, GENESIS, None) when there is none."""
        row = self._q("SELECT seq, hash, at FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1], row[2]) if row else (0, GENESIS, None)

    def audit_before(self, seq: int) -> tuple[int, str]:
        """(seq, hash) of the entry just before ``seq``; (0, GENESIS) when there is none."""
        row = self._q(
            "SELECT seq, hash FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT 1", (seq,)
        ).fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)

    def audit_rows(self, seqs: tuple[int, int | None]) -> Iterator[tuple[Any, ...]]:
        """Audit rows as stored (details as text) with ``seqs[0] <= seq < seqs[1]``,
        read as they are used (see :meth:`version_rows`)."""
        params: list[Any] = []
        where = between("seq", seqs, frozenset(), params)
        sql = (
            "SELECT seq, at, actor, action, tool, version, details, prev_hash, hash FROM audit "
            f"WHERE {where} ORDER BY seq"
        )
        return streamed(self._q(sql, params))

    def audit_details(self, seq: int) -> tuple[str, str | None, int | None, dict[str, Any]]:
        """(action, tool, version, details) of one audit entry."""
        row = self._q(
            "SELECT action, tool, version, details FROM audit WHERE seq = ?", (seq,)
        ).fetchone()
        return (row[0], row[1], row[2], details_of(row[3])) if row else ("", None, None, {})
