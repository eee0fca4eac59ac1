"""The queries of webhooks (SPEC §15), mixed into :class:`~toolvault.store.base.SQLStore`:
endpoints, their leases, their deliveries and attempts, and the events read from the
audit log (with each version's sha256, for the pinned ref).

The delivery worker's bookkeeping runs in :meth:`HookQueries.hook_transaction`: on
PostgreSQL a plain transaction (rows are claimed with ``FOR UPDATE SKIP LOCKED``, so
daemons never wait on each other or on publishers' advisory lock); on SQLite a write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from toolvault.store.sql import Queries

HOOK_COLUMNS = (
    "id, url, events, tools, secret, sign_key, key_id, created_at, created_by, "
    "delivered_through, state, disabled_reason"
)
EVENT_SQL = (
    "SELECT a.seq, a.at, a.actor, a.action, a.tool, a.version, a.details, a.prev_hash, "
    "a.hash, v.sha256 FROM audit a LEFT JOIN versions v ON v.name = a.tool AND "
    "v.version = a.version"
)
DELIVERY_COLUMNS = "hook_id, seq, state, attempts, next_at, last_status, last_error, updated_at"
# An endpoint with work now: a pending delivery that is due, or (none pending at all)
# audit entries past where it stands.
DUE = (
    "h.state = 'active' AND (h.lease_until IS NULL OR h.lease_until < ?) AND ("
    "EXISTS (SELECT 1 FROM hook_deliveries d WHERE d.hook_id = h.id AND d.state = 'pending' "
    "AND d.next_at <= ?) OR (h.delivered_through < ? AND NOT EXISTS (SELECT 1 FROM "
    "hook_deliveries d WHERE d.hook_id = h.id AND d.state = 'pending')))"
)
# One delivery's outcome: (state, next_at, last_status, last_error, updated_at, tries).
UPSERT = (
    "INSERT INTO hook_deliveries (hook_id, seq, state, attempts, tries, next_at, last_status, "
    "last_error, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT (hook_id, seq) "
    "DO UPDATE SET state = excluded.state, attempts = hook_deliveries.attempts + 1, "
    "tries = excluded.tries, next_at = excluded.next_at, last_status = excluded.last_status, "
    "last_error = excluded.last_error, updated_at = excluded.updated_at"
)
ATTEMPT = (
    "INSERT INTO hook_attempts (hook_id, seq, attempt, at, status, latency_ms, error) "
    "SELECT hook_id, seq, attempts, ?, ?, ?, ? FROM hook_deliveries WHERE hook_id = ? AND seq = ?"
)


class HookQueries(Queries):
    """Reads and writes of ``hooks``, ``hook_deliveries`` and ``hook_attempts``."""

    dialect: str

    def write(self) -> AbstractContextManager[Any]:
        """A write transaction (the store's)."""
        raise NotImplementedError

    def _abandon(self) -> None:
        """Roll back after a failure (the store's)."""
        raise NotImplementedError

    @contextmanager
    def hook_transaction(self) -> Iterator[None]:
        """A transaction for the delivery worker's bookkeeping (see the module)."""
        if self.dialect != "postgres":
            # Bookkeeping only: a commit lost to a power cut means an event sent again (at
            # least once still holds), so it need not wait for fsync as publishes do.
            self._q("PRAGMA synchronous = NORMAL")
            try:
                with self.write():
                    yield
            finally:
                self._q("PRAGMA synchronous = FULL")
            return
        self._q("BEGIN")
        try:
            yield
        except BaseException:
            self._abandon()
            raise
        self._q("COMMIT")

    # -- endpoints ---------------------------------------------------------------------

    def insert_hook(self, row: Sequence[Any]) -> None:
        """Add an endpoint: the values of ``HOOK_COLUMNS`` in order."""
        marks = ", ".join("?" * len(row))
        self._q(f"INSERT INTO hooks ({HOOK_COLUMNS}) VALUES ({marks})", row)

    def hook_rows(self, hook_id: str | None = None) -> list[tuple[Any, ...]]:
        """Endpoints as stored (secret included: for the worker only), by id."""
        if hook_id is None:
            return list(self._q(f"SELECT {HOOK_COLUMNS} FROM hooks ORDER BY created_at, id"))
        return list(self._q(f"SELECT {HOOK_COLUMNS} FROM hooks WHERE id = ?", (hook_id,)))

    def delete_hook(self, hook_id: str) -> None:
        """Remove an endpoint with its deliveries and attempts."""
        self._q(
            "DELETE FROM hook_attempts WHERE hook_id = ?", (hook_id,)
        )  # before its deliveries: SQLite checks the reference per statement
        self._q("DELETE FROM hook_deliveries WHERE hook_id = ?", (hook_id,))
        self._q("DELETE FROM hooks WHERE id = ?", (hook_id,))

    def set_hook_state(self, hook_id: str, state: str, reason: str | None) -> None:
        """Enable or disable an endpoint (with why)."""
        self._q(
            "UPDATE hooks SET state = ?, disabled_reason = ? WHERE id = ?",
            (state, reason, hook_id),
        )

    # -- events --------------------------------------------------------------------------

    def audit_max(self) -> int:
        """The newest audit seq (0 for an empty log)."""
        row = self._q("SELECT MAX(seq) FROM audit").fetchone()
        return int(row[0] or 0)

    def event_rows(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` audit entries after ``after``, in order, with the sha256 of
        the version each names (None when it names none)."""
        return list(self._q(f"{EVENT_SQL} WHERE a.seq > ? ORDER BY a.seq LIMIT ?", (after, limit)))

    def event_row(self, seq: int) -> tuple[Any, ...] | None:
        """One audit entry as :meth:`event_rows` reads it."""
        row: tuple[Any, ...] | None = self._q(f"{EVENT_SQL} WHERE a.seq = ?", (seq,)).fetchone()
        return row

    # -- the worker: leases, due deliveries, outcomes -------------------------------------

    def lease_hooks(
        self, owner: str, now: float, until: float, limit: int
    ) -> list[tuple[Any, ...]]:
        """Claim up to ``limit`` endpoints that have work now and no live lease, for
        ``owner`` until ``until``; call inside :meth:`hook_transaction`. On PostgreSQL
        rows another daemon is claiming are skipped, not waited for."""
        head = self.audit_max()
        lock = " FOR UPDATE OF h SKIP LOCKED" if self.dialect == "postgres" else ""
        rows = list(
            self._q(
                f"SELECT {', '.join('h.' + c.strip() for c in HOOK_COLUMNS.split(','))} "
                f"FROM hooks h WHERE {DUE} ORDER BY h.id LIMIT ?{lock}",
                (now, now, head, limit),
            )
        )
        self._qmany(
            "UPDATE hooks SET lease_owner = ?, lease_until = ? WHERE id = ?",
            [(owner, until, r[0]) for r in rows],
        )
        return rows

    def release_hook(self, hook_id: str, owner: str) -> None:
        """Give up a lease (a worker that stops early)."""
        self._q(
            "UPDATE hooks SET lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (hook_id, owner),
        )

    def next_due(self) -> float | None:
        """When the earliest pending delivery of an active endpoint is due."""
        row = self._q(
            "SELECT MIN(d.next_at) FROM hook_deliveries d JOIN hooks h ON h.id = d.hook_id "
            "WHERE d.state = 'pending' AND h.state = 'active'"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def pending_delivery(self, hook_id: str) -> tuple[Any, ...] | None:
        """(seq, tries, next_at) of the endpoint's first pending delivery, or None."""
        row: tuple[Any, ...] | None = self._q(
            "SELECT seq, tries, next_at FROM hook_deliveries WHERE hook_id = ? AND "
            "state = 'pending' ORDER BY seq LIMIT 1",
            (hook_id,),
        ).fetchone()
        return row

    def record_outcomes(
        self, hook_id: str, outcomes: Sequence[tuple[Any, ...]], through: int, owner: str
    ) -> bool:
        """Record attempts and where the endpoint stands, and release its lease; call
        inside :meth:`hook_transaction`. Each outcome is (seq, state, tries, next_at,
        status, error, at, latency_ms). False (nothing written) when the endpoint is gone."""
        if not self._q("SELECT 1 FROM hooks WHERE id = ?", (hook_id,)).fetchone():
            return False
        self._qmany(UPSERT, [(hook_id, o[0], o[1], o[2], o[3], o[4], o[5], o[6]) for o in outcomes])
        self._qmany(ATTEMPT, [(o[6], o[4], o[7], o[5], hook_id, o[0]) for o in outcomes])
        self._q(
            "UPDATE hooks SET delivered_through = CASE WHEN delivered_through < ? THEN ? "
            "ELSE delivered_through END, lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND (lease_owner = ? OR lease_owner IS NULL)",
            (through, through, hook_id, owner),
        )
        return True

    # -- what 'hook deliveries' reads -----------------------------------------------------

    def delivery_rows(
        self, hook_id: str | None, failed: bool, limit: int, seq: int | None = None
    ) -> list[tuple[Any, ...]]:
        """Deliveries, newest first: of one endpoint or all, only failed ones (failed or
        pending after a failed attempt) when asked, or the one at ``seq``."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if hook_id is not None:
            where.append("hook_id = ?")
            params.append(hook_id)
        if seq is not None:
            where.append("seq = ?")
            params.append(seq)
        if failed:
            where.append("(state = 'failed' OR (state = 'pending' AND last_error IS NOT NULL))")
        sql = (
            f"SELECT {DELIVERY_COLUMNS} FROM hook_deliveries WHERE {' AND '.join(where)} "
            "ORDER BY updated_at DESC, seq DESC LIMIT ?"
        )
        return list(self._q(sql, [*params, limit]))

    def attempt_rows(self, hook_id: str, seq: int) -> list[tuple[Any, ...]]:
        """(attempt, at, status, latency_ms, error) of one delivery, in order."""
        return list(
            self._q(
                "SELECT attempt, at, status, latency_ms, error FROM hook_attempts "
                "WHERE hook_id = ? AND seq = ? ORDER BY attempt",
                (hook_id, seq),
            )
        )

    def requeue_delivery(self, hook_id: str, seq: int, now: float, at: str) -> None:
        """Make a delivery pending again, due now, from the schedule's first step."""
        self._q(
            "INSERT INTO hook_deliveries (hook_id, seq, state, attempts, tries, next_at, "
            "updated_at) VALUES (?, ?, 'pending', 0, 0, ?, ?) ON CONFLICT (hook_id, seq) DO "
            "UPDATE SET state = 'pending', tries = 0, next_at = excluded.next_at, "
            "updated_at = excluded.updated_at",
            (hook_id, seq, now, at),
        )
