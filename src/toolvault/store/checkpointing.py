"""The queries of signed checkpoints (migration 6), mixed into :class:`SQLStore`.

Rows cross as tuples in the column order of ``CHECKPOINT_COLUMNS``; the service's
:mod:`toolvault.checkpoints` turns them into checkpoints and checks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolvault.hashing import GENESIS

CHECKPOINT_COLUMNS = "seq, hash, at, key_id, public_key, signature, prev"


class CheckpointQueries:
    """Reads and the one write of the ``checkpoints`` table."""

    def _q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        raise NotImplementedError

    def insert_checkpoint(self, row: Sequence[Any]) -> None:
        """Record one checkpoint (a row in ``CHECKPOINT_COLUMNS`` order)."""
        self._q(
            f"INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            tuple(row),
        )

    def newest_checkpoint(self) -> tuple[Any, ...] | None:
        """The checkpoint of the highest sequence number, or None."""
        row = self._q(
            f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return tuple(row) if row else None

    def checkpoint_rows(self) -> list[tuple[Any, ...]]:
        """Every checkpoint, oldest first, each with the hash of the audit entry at its
        sequence number (None when the log has no such entry) last."""
        cols = ", ".join(f"c.{c.strip()}" for c in CHECKPOINT_COLUMNS.split(","))
        rows = self._q(
            f"SELECT {cols}, a.hash FROM checkpoints c LEFT JOIN audit a ON a.seq = c.seq "
            "ORDER BY c.seq"
        )
        # seq 0 is the empty log (a vault signed at init before any write): its head is GENESIS
        return [(*r[:7], GENESIS if r[0] == 0 else r[7]) for r in rows]

    def audit_hash(self, seq: int) -> str | None:
        """The hash of the audit entry at ``seq`` (None when there is none; seq 0 is the
        empty log, whose head is GENESIS)."""
        if seq == 0:
            return GENESIS
        row = self._q("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else None
