"""PostgreSQL store (psycopg 3, the ``postgres`` extra), for daemons that share one database.

Every write transaction takes one transaction-scoped advisory lock first. The
audit log is a single hash chain, so writes to different tools must be ordered
too; the lock gives concurrent publishers — threads, processes, daemons on other
machines — the same one-at-a-time order SQLite's ``BEGIN IMMEDIATE`` gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from toolvault.errors import StoreError
from toolvault.store.base import SQLStore
from toolvault.store.migrations import STEPS, Step
from toolvault.store.placeholders import to_psycopg

WRITE_LOCK = 0x746F6F6C7661  # "toolva": the advisory lock every writer takes
INSTALL_HINT = "PostgreSQL support needs the postgres extra: pip install 'toolvault[postgres]'"


# Where a URL can carry a password: postgresql://user:PASSWORD@… and ?password=PASSWORD.
PASSWORDS = (re.compile(r"(://[^:/@?#]*:)([^@/?#]*)(?=@)"), re.compile(r"([?&]password=)([^&#]*)"))


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    for pattern in PASSWORDS:
        url = pattern.sub(r"\1***", url)
    return url


def hide_password(message: str, url: str) -> str:
    """``message`` without the URL's password: libpq quotes parts of a bad URL in its
    errors, the password (as written or decoded) among them."""
    found = [m[2] for pattern in PASSWORDS for m in pattern.finditer(url) if m[2]]
    message = message.replace(url, redact(url))
    for secret in sorted({*found, *map(unquote, found)}, key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


class PostgresStore(SQLStore):
    """A vault in a PostgreSQL database (blobs included)."""

    dialect = "postgres"

    def __init__(self, url: str, steps: Sequence[Step] = STEPS) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError(INSTALL_HINT) from None
        self.psycopg = psycopg
        self.url = url
        self._sql: dict[str, str] = {}
        self._start(f"database {redact(url)}", steps)

    @classmethod
    def open(cls, url: str, steps: Sequence[Step] = STEPS, migrate: bool = True) -> PostgresStore:
        """Connect and bring the schema up to date, exactly once across every daemon."""
        store = cls(url, steps)
        store._open(migrate)
        return store

    def _connect(self) -> Any:
        """A new autocommit connection (transactions are explicit)."""
        try:
            return self.psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self.psycopg.Error as exc:
            reason = hide_password(_first_line(exc), self.url)
            raise StoreError(f"cannot connect to {self.where}: {reason}") from exc

    def _q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            if params:
                return self.db.execute(self._placeholders(sql), tuple(params))
            return self.db.execute(sql)
        except self.psycopg.Error as exc:
            raise self._error(exc) from exc

    def search_select_planned(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of a search's cell (:func:`toolvault.search.cells.listing`), planned
        for its own words: psycopg prepares a statement run five times, and PostgreSQL
        may then plan it once for any parameters; with two content substrings that plan
        walked the index (a 4-word bench search went from 75 ms to 480 ms by its sixth
        run). The tiers' reads keep the default: one of them, a content substring, is
        three times faster planned once (the planner misjudges how many rows hold it)."""
        try:
            return list(self.db.execute(self._placeholders(sql), tuple(params), prepare=False))
        except self.psycopg.Error as exc:
            raise self._error(exc) from exc

    def _qmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            with self.db.cursor() as cursor:
                cursor.executemany(self._placeholders(sql), rows)
        except self.psycopg.Error as exc:
            raise self._error(exc) from exc

    def _placeholders(self, sql: str) -> str:
        """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
        translated = self._sql.get(sql)
        if translated is None:
            translated = self._sql[sql] = to_psycopg(sql)
        return translated

    def _error(self, exc: Exception) -> StoreError:
        if isinstance(exc, (self.psycopg.IntegrityError, self.psycopg.errors.RaiseException)):
            # A constraint or a refusing trigger: said as the SQLite store says it.
            return StoreError(f"{self.where} refused a write: {_first_line(exc)}")
        return StoreError(f"{self.where}: {_first_line(exc)}")

    @contextmanager
    def write(self) -> Iterator[PostgresStore]:
        """A write transaction behind the one advisory lock (rollback on any error)."""
        self._q("BEGIN")
        self._local.appended = None
        try:
            self._q("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
            yield self
            sealed = self._seal()  # the checkpoint: inside, so that its failure rolls back
        except BaseException:
            self._abandon()
            raise
        self._q("COMMIT")
        self._sealed(sealed)

    @contextmanager
    def snapshot(self) -> Iterator[PostgresStore]:
        """A repeatable-read transaction: several reads that see one state."""
        self._q("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield self
        finally:
            self._q("COMMIT")

    def applied(self) -> dict[int, tuple[str, str]]:
        """Applied migrations: id -> (name, applied_at). Writes nothing."""
        (exists,) = self._q("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if not exists:
            return {}
        rows = self._q("SELECT id, name, applied_at FROM schema_migrations")
        return {r[0]: (r[1], r[2]) for r in rows}

    def _statements(self, step: Step) -> list[str]:
        return [step.postgres_sql()]  # one script: psycopg runs several statements at once


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
