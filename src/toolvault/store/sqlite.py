"""SQLite store: WAL, a busy timeout, ``BEGIN IMMEDIATE`` for every write.

The queries live in :mod:`toolvault.store.base`; this module connects (one
connection per thread), runs transactions and splits migration scripts.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolvault.errors import DatabaseDamaged, StoreError
from toolvault.store.base import SQLStore
from toolvault.store.migrations import STEPS, Step

BUSY_TIMEOUT_MS = 60_000
# Reads through a memory map of the file (SQLite's own ceiling, 2 GB by default) instead
# of a pread into a 2 MB page cache per connection: a search reaches a few hundred rows
# scattered over the file, and their pages, evicted at once by the full-text indexes'
# long doclists, cost a system call each (a 3-4 word search on the issue 13 bench
# vault: 4-5 ms of its 25). The map shares the system's page cache: no memory per
# connection. Writes still go through write() (SQLite maps read-only by default).
MMAP_SIZE = 2_147_418_112
# The busy timeout already waits for other writers; these retries are for the
# "locked" that SQLite returns at once without calling it (e.g. while a WAL is
# being recovered), so a few short ones are enough.
LOCK_RETRIES = 5
MAGIC = b"SQLite format 3\x00"  # the first bytes of every SQLite database file
TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"


def split_sql(script: str) -> list[str]:
    """Split a script into complete statements (triggers keep their inner ';')."""
    statements, buf = [], ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;") and not _only_comments(buf):
                statements.append(buf.strip())
            buf = ""
    return statements


def _only_comments(sql: str) -> bool:
    lines = [ln.strip() for ln in sql.strip(" \n;").splitlines()]
    return all(not ln or ln.startswith("--") for ln in lines)


def _file_problem(path: Path) -> DatabaseDamaged | None:
    """An empty file, or one that is not SQLite, told from its first bytes before SQLite
    opens it: SQLite would delete the write-ahead log beside an empty file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC))
    except OSError:  # absent (a new database), or unreadable: connecting says why
        return None
    if not head:
        return DatabaseDamaged(f"{path} is empty (0 bytes)", empty=True)
    if head != MAGIC:
        return DatabaseDamaged(f"{path} is not a toolvault database: it is not an SQLite file")
    return None


class SQLiteStore(SQLStore):
    """One SQLite database file holding a whole vault."""

    dialect = "sqlite"

    def __init__(self, path: Path, steps: Sequence[Step] = STEPS) -> None:
        self.path = path
        self._commits = itertools.count()
        self._committed = 0
        self._start(f"database {path}", steps)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
        except sqlite3.OperationalError as exc:  # cannot open or read the file at all
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database", a damaged header
            raise DatabaseDamaged(f"{self.path} is not a toolvault database ({exc})") from None
        return conn

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path, steps: Sequence[Step] = STEPS, migrate: bool = True, *, init: bool = True
    ) -> SQLiteStore:
        """Open (creating if needed) and bring the schema up to date, exactly once.

        A file that is not a toolvault database is refused (:class:`DatabaseDamaged`)
        before anything is written to it; an empty one is made a new vault only with
        ``init`` (the caller knows whether that could hide a lost vault)."""
        problem = _file_problem(path)
        if problem is not None and not (problem.empty and init):
            raise problem
        store = cls(path, steps)
        try:
            store._refuse_foreign(init)
        except BaseException:
            store.close()
            raise
        store._open(migrate)
        return store

    def _refuse_foreign(self, init: bool) -> None:
        """Only reads: SQLite itself would take an empty file, or any database, for one
        it may add its tables to."""
        try:
            # One query, so one state of the file: another process creating this vault
            # commits its first migration at any moment, between two reads.
            tables = [r[0] for r in self.db.execute(TABLES)]
        except sqlite3.DatabaseError as exc:  # "file is not a database", a damaged header
            raise DatabaseDamaged(f"{self.path} is not a toolvault database ({exc})") from None
        if "schema_migrations" in tables:
            return
        if tables:
            raise DatabaseDamaged(
                f"{self.path} is not a toolvault database: it is an SQLite database "
                f"without toolvault's tables (it has {', '.join(tables[:5])})"
            )
        if not init:
            size = os.path.getsize(self.path)
            raise DatabaseDamaged(f"{self.path} is empty ({size:,} bytes, no tables)", empty=True)

    def _prepare(self) -> None:
        self._ensure_wal()

    def _ensure_wal(self) -> None:
        mode = self.db.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            self._retry(lambda: self.db.execute("PRAGMA journal_mode = WAL").fetchone())

    def _retry(self, action: Any) -> Any:
        for attempt in range(LOCK_RETRIES):
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StoreError(f"database {self.path}: {exc}") from exc
                if attempt == LOCK_RETRIES - 1:
                    raise StoreError(
                        f"database {self.path} stayed locked by another writer; try again"
                    ) from exc
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[SQLiteStore]:
        """A write transaction: ``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on any error)."""
        self._retry(lambda: self.db.execute("BEGIN IMMEDIATE"))
        self._local.appended = None
        try:
            yield self
            sealed = self._seal()  # the checkpoint: inside, so that its failure rolls back
        except BaseException:
            self._abandon()
            raise
        try:
            self._retry(lambda: self.db.execute("COMMIT"))
        except BaseException:
            if self.db.in_transaction:
                self._abandon()
            raise
        finally:
            self._committed = next(self._commits)  # a failed COMMIT may have written too
        self._sealed(sealed)

    def change_marker(self) -> tuple[sqlite3.Connection, int, int]:
        """This thread's connection with its ``PRAGMA data_version``, which changes when
        any other connection (another thread, another process) commits, and the number
        of this store's own write transactions, which data_version does not count when
        they ran on this same connection. (The connection itself is part of it because
        data_version counts per connection.)"""
        conn = self.db
        (version,) = self._q("PRAGMA data_version").fetchone()
        return conn, version, self._committed

    @contextmanager
    def snapshot(self) -> Iterator[SQLiteStore]:
        """A read transaction, so that several reads see one consistent state."""
        self._q("BEGIN")
        try:
            yield self
        finally:
            self._q("COMMIT")

    def _q(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            cursor: sqlite3.Cursor = self.db.execute(sql, params)
            return cursor
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _qmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            self.db.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _error(self, exc: sqlite3.Error) -> StoreError:
        if isinstance(exc, sqlite3.IntegrityError):
            return StoreError(f"database {self.path} refused a write: {exc}")
        return StoreError(f"database {self.path}: {exc}")

    def backup_to(self, target: Path) -> None:
        """Copy the whole database into ``target`` with SQLite's online backup, in one
        step: the copy is the state one read transaction sees, whatever others write."""
        try:
            dest = sqlite3.connect(target, isolation_level=None)
            try:
                self.db.backup(dest)
            finally:
                dest.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot back up {self.path} to {target}: {exc}") from exc

    def integrity_check(self) -> list[str]:
        """SQLite's own structural check; ``['ok']`` when sound."""
        return [r[0] for r in self._q("PRAGMA integrity_check")]

    def applied(self) -> dict[int, tuple[str, str]]:
        """Applied migrations: id -> (name, applied_at). Writes nothing."""
        try:
            rows = self.db.execute("SELECT id, name, applied_at FROM schema_migrations")
            return {r[0]: (r[1], r[2]) for r in rows}
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}
            raise StoreError(f"database {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a toolvault database: {exc}") from exc

    def _statements(self, step: Step) -> list[str]:
        return split_sql(step.sqlite)
