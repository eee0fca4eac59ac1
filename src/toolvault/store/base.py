"""The SQL both stores share: every query of the vault, written once.

:class:`SQLStore` holds the queries, mixed in from one module per area —
:mod:`.versions` (tools, versions, blobs), :mod:`.governance` (lifecycles, owners,
labels, yanks, trusted keys), :mod:`.audit` (the audit log), :mod:`.verifying` (what
``verify`` reads by range), :mod:`.packs`, :mod:`.tokens`, :mod:`.checkpointing`, :mod:`.search` —
over the SQL fragments of :mod:`.sql`; this module holds the connections, the
transactions' sealing and the migrations. :class:`~toolvault.store.sqlite.SQLiteStore`
and :class:`~toolvault.store.postgres.PostgresStore` supply connections,
transactions and the dialect of the migrations. Placeholders are written ``?``
and translated by the PostgreSQL store. The service above never sees a cursor,
an ``sqlite3.Error`` or a ``psycopg.Error``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from toolvault.errors import SchemaTooNew
from toolvault.events.bell import BELL
from toolvault.models import Migration
from toolvault.store.audit import AuditQueries, Head
from toolvault.store.auditpages import AuditPageQueries
from toolvault.store.checkpointing import CheckpointQueries
from toolvault.store.governance import GovernanceQueries
from toolvault.store.grants import GrantQueries
from toolvault.store.hooks import HookQueries
from toolvault.store.lineage import LineageQueries
from toolvault.store.migrations import Step
from toolvault.store.packs import PackQueries
from toolvault.store.search import SearchQueries
from toolvault.store.sql import row_to_version, utcnow, version_values
from toolvault.store.tokens import TokenQueries
from toolvault.store.toolpages import ToolPageQueries
from toolvault.store.verifying import VerifyQueries
from toolvault.store.versions import VersionQueries

# what importers have always taken from here
__all__ = ["Head", "SQLStore", "Sealer", "row_to_version", "utcnow", "version_values"]

# Connections a forked child inherited: kept referenced so that they are never
# closed (or finalized) in the child.
_INHERITED: list[Any] = []


class Sealer(Protocol):
    """What a Vault installs on its store (:mod:`toolvault.checkpoints`): ``seal`` runs in
    each write transaction that appended audit entries, just before its COMMIT, with the
    new head; what it returns goes to ``sealed`` after the COMMIT."""

    def seal(self, store: Any, head: Head) -> Any: ...

    def sealed(self, result: Any) -> None: ...


class SQLStore(
    VersionQueries,
    GovernanceQueries,
    GrantQueries,
    HookQueries,
    AuditQueries,
    VerifyQueries,
    PackQueries,
    TokenQueries,
    CheckpointQueries,
    SearchQueries,
    LineageQueries,
    ToolPageQueries,
    AuditPageQueries,
):
    """Every query of the vault over a DB-API connection; subclasses connect."""

    dialect = "sql"
    where = "database"  # names the database in messages
    steps: tuple[Step, ...] = ()
    sealer: Sealer | None = None

    # -- what a subclass provides -------------------------------------------------

    def _q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (``?`` placeholders) and return its cursor."""
        raise NotImplementedError

    def _qmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters, batched by the driver."""
        raise NotImplementedError

    def write(self) -> AbstractContextManager[Any]:
        """A write transaction, serialized with every other writer."""
        raise NotImplementedError

    def snapshot(self) -> AbstractContextManager[Any]:
        """A read transaction: several reads that see one state."""
        raise NotImplementedError

    def applied(self) -> dict[int, tuple[str, str]]:
        """Applied migrations: id -> (name, applied_at). Writes nothing."""
        raise NotImplementedError

    def _statements(self, step: Step) -> list[str]:
        """The statements of a migration in this store's dialect."""
        raise NotImplementedError

    def _connect(self) -> Any:
        """A new connection (a ToolvaultError when the database cannot be reached)."""
        raise NotImplementedError

    def _prepare(self) -> None:
        """What opening does before the migrations (SQLite: switch to WAL)."""

    def change_marker(self) -> object | None:
        """A value that stays equal while the database stays unchanged, as seen from this
        thread's connection, or None when the store cannot tell (then nothing read may
        be kept). Readers that keep results compare it before trusting them."""
        return None

    # -- connections: one per thread ------------------------------------------------

    def _start(self, where: str, steps: Sequence[Step]) -> None:
        """Set up the per-thread connections and connect once, so that a bad path or
        URL fails at open. A connection holds one transaction at a time, so threads
        sharing a store (the daemon) must not share one."""
        self.where = where
        self.steps = tuple(steps)
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self.db  # noqa: B018

    def _open(self, migrate: bool) -> None:
        """Bring the schema up to date (or, with ``migrate=False``, only refuse a
        database from a newer toolvault); close again on any failure."""
        try:
            self._prepare()
            if migrate:
                self.migrate()
            else:
                self.pending()
        except BaseException:
            self.close()
            raise

    @property
    def db(self) -> Any:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(conn, "closed", False):
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _seal(self) -> Any:
        """Just before COMMIT: the sealer's record of the head this transaction appended
        (None when it appended nothing, or no sealer is installed). Writes begin with
        ``self._local.appended = None``; :meth:`append_audit` sets it."""
        head = getattr(self._local, "appended", None)
        self._local.appended = None
        self._local.ring = head is not None  # after the COMMIT: wake this process's listeners
        return None if head is None or self.sealer is None else self.sealer.seal(self, head)

    def _sealed(self, result: Any) -> None:
        """After COMMIT: hand the sealer's record back to it (it writes HOME/checkpoint),
        and ring the events bell when the transaction appended audit entries."""
        if getattr(self._local, "ring", False):
            self._local.ring = False
            BELL.ring()
        if result is not None and self.sealer is not None:
            self.sealer.sealed(result)

    def _abandon(self) -> None:
        """Roll back after a failure. The failure is what the caller reports: a
        rollback that fails too (a lost connection) must not replace it."""
        with contextlib.suppress(Exception):
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- migrations ------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        """Every known migration with when it was applied (None when pending)."""
        applied = self._check_not_newer()
        return [Migration(s.id, s.name, applied.get(s.id, ("", None))[1]) for s in self.steps]

    def pending(self) -> list[Step]:
        """Migrations not yet applied. Writes nothing."""
        applied = self._check_not_newer()
        return [s for s in self.steps if s.id not in applied]

    def _check_not_newer(self) -> dict[int, tuple[str, str]]:
        applied = self.applied()
        known = {s.id: s.name for s in self.steps}
        unknown = sorted((i, n) for i, (n, _) in applied.items() if known.get(i) != n)
        if unknown:
            i, n = unknown[0]
            raise SchemaTooNew(
                f"{self.where} has migration {i} {n!r}, which this toolvault does "
                f"not know: it was written by a newer toolvault; upgrade toolvault to open it"
            )
        return applied

    def migrate(self) -> list[Step]:
        """Apply pending migrations, each with its record in one transaction.

        The write transaction is the lock: a second process opening a new vault at
        the same moment waits, then finds the migration applied and skips it.
        """
        done: list[Step] = []
        if not self.pending():
            return done
        for step in self.steps:
            with self.write():
                self._q(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
                )
                if step.id in self._check_not_newer():
                    continue
                for statement in self._statements(step):
                    self._q(statement)
                if step.data is not None:
                    step.data(self)
                self._q(
                    "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                    (step.id, step.name, utcnow()),
                )
                done.append(step)
        return done

    def after_fork(self) -> None:
        """In a forked child: let go of the parent's connections without touching them
        (closing one could end the parent's transaction or checkpoint its WAL under it)
        and open this process's own on first use."""
        _INHERITED.append((self._local, self._connections))
        self._local = threading.local()
        self._connections = []
        self._lock = threading.Lock()
