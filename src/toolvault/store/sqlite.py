"""SQLite store: WAL, a busy timeout, ``BEGIN IMMEDIATE`` for every write.

All SQL of the embedded vault lives here; the service above it never sees a
cursor or an ``sqlite3.Error``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolvault.errors import SchemaTooNew, StoreError
from toolvault.models import ENTRY_COLUMNS, Entry, Migration, Tool, Version
from toolvault.store.migrations import STEPS, Step

BUSY_TIMEOUT_MS = 60_000
LOCK_RETRIES = 20
MAX_INTEGER = 2**63 - 1  # SQLite's largest INTEGER

VERSION_COLUMNS = (
    "name, version, sha256, size, executable, previous_version, previous_sha256, created_at, "
    "recorded_at, created_by, owner, origin, session_id, prompt, message, refs, transforms, "
    "rollback_of, signature, key_id"
)
V_COLS = ", ".join(f"v.{c.strip()}" for c in VERSION_COLUMNS.split(","))


def utcnow() -> str:
    """Current time as ISO 8601 UTC with microseconds, the one format stored."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def _json_list(text: str) -> tuple[str, ...]:
    return () if text == "[]" else tuple(json.loads(text))


def row_to_version(row: Sequence[Any], content: bytes | None = None) -> Version:
    """Build a :class:`Version` from a row in ``VERSION_COLUMNS`` order."""
    return Version(
        name=row[0],
        version=row[1],
        sha256=row[2],
        size=row[3],
        executable=bool(row[4]),
        previous_version=row[5],
        previous_sha256=row[6],
        created_at=row[7],
        recorded_at=row[8],
        created_by=row[9],
        owner=row[10],
        origin=row[11],
        session_id=row[12],
        prompt=row[13],
        message=row[14],
        references=_json_list(row[15]),
        transforms=_json_list(row[16]),
        rollback_of=row[17],
        signature=row[18],
        key_id=row[19],
        content=content,
    )


class SQLiteStore:
    """One SQLite database file holding a whole vault."""

    dialect = "sqlite"

    def __init__(self, path: Path, steps: Sequence[Step] = STEPS) -> None:
        self.path = path
        self.steps = tuple(steps)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------

    @classmethod
    def open(cls, path: Path, steps: Sequence[Step] = STEPS, migrate: bool = True) -> SQLiteStore:
        """Open (creating if needed) and bring the schema up to date, exactly once."""
        store = cls(path, steps)
        try:
            store._ensure_wal()
            if migrate:
                store.migrate()
            else:
                store.pending()  # refuses a database from a newer toolvault
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

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
        try:
            yield self
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        try:
            self._retry(lambda: self.db.execute("COMMIT"))
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[SQLiteStore]:
        """A read transaction, so that several reads see one consistent state."""
        self.db.execute("BEGIN")
        try:
            yield self
        finally:
            self.db.execute("COMMIT")

    def _q(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"database {self.path} refused a write: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"database {self.path}: {exc}") from exc

    # -- migrations ------------------------------------------------------------

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
                f"database {self.path} has migration {i} {n!r}, which this toolvault does "
                f"not know: it was written by a newer toolvault; upgrade toolvault to open it"
            )
        return applied

    def migrate(self) -> list[Step]:
        """Apply pending migrations, each with its record in one transaction.

        ``BEGIN IMMEDIATE`` is the lock: a second process opening a new vault at the
        same moment waits, then finds the migration applied and skips it.
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
                for statement in split_sql(step.sqlite):
                    self._q(statement)
                self._q(
                    "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                    (step.id, step.name, utcnow()),
                )
                done.append(step)
        return done

    # -- reads -----------------------------------------------------------------

    def tool(self, name: str) -> Tool | None:
        """A tool's row with its version summary, or None."""
        row = self._q(
            "SELECT t.name, t.owner, t.lifecycle, max(v.version), count(v.version), "
            "t.created_at, t.updated_at FROM tools t JOIN versions v ON v.name = t.name "
            "WHERE t.name = ? GROUP BY t.name",
            (name,),
        ).fetchone()
        return Tool(*row) if row else None

    def tools(self) -> list[Tool]:
        """Every tool with at least one version, by name."""
        rows = self._q(
            "SELECT t.name, t.owner, t.lifecycle, max(v.version), count(v.version), "
            "t.created_at, t.updated_at FROM tools t JOIN versions v ON v.name = t.name "
            "GROUP BY t.name ORDER BY t.name"
        )
        return [Tool(*r) for r in rows]

    def version(self, name: str, number: int, content: bool = False) -> Version | None:
        """Version ``number`` of ``name``."""
        if number > MAX_INTEGER:  # SQLite cannot even compare it; no such version exists
            return None
        return self._one("v.name = ? AND v.version = ?", (name, number), content)

    def back(self, name: str, steps: int, content: bool = False) -> Version | None:
        """The version ``steps`` before the latest (0 = latest)."""
        if steps > MAX_INTEGER:
            return None
        return self._one(
            "v.name = ?", (name,), content, f"ORDER BY v.version DESC LIMIT 1 OFFSET {steps:d}"
        )

    def by_sha_prefix(self, name: str, prefix: str, content: bool = False) -> list[Version]:
        """Versions of ``name`` whose sha256 starts with ``prefix``, newest first."""
        hi = prefix + "g"  # every hex string with this prefix sorts below it
        return self._many(
            "v.name = ? AND v.sha256 >= ? AND v.sha256 < ?",
            (name, prefix, hi),
            content,
            "ORDER BY v.version DESC",
        )

    def versions(self, name: str) -> list[Version]:
        """All versions of ``name``, oldest first."""
        return self._many("v.name = ?", (name,), False, "ORDER BY v.version")

    def entries(self, name: str) -> list[Entry]:
        """The light per-version records the commands/ tree is built from."""
        rows = self._q(
            f"SELECT {ENTRY_COLUMNS} FROM versions WHERE name = ? ORDER BY version", (name,)
        )
        return [Entry._make(r) for r in rows]

    def all_versions(self) -> Iterator[Version]:
        """Every version of every tool, by name then number."""
        rows = self._q(f"SELECT {VERSION_COLUMNS} FROM versions ORDER BY name, version")
        return (row_to_version(r) for r in rows)

    def blob(self, sha256: str) -> bytes | None:
        """The content with this hash, or None."""
        row = self._q("SELECT content FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def blobs(self) -> Iterator[tuple[str, int, bytes]]:
        """Every blob as (sha256, size, content)."""
        rows = self._q("SELECT sha256, size, content FROM blobs ORDER BY sha256")
        return ((r[0], r[1], bytes(r[2])) for r in rows)

    def _one(
        self, where: str, params: Sequence[Any], content: bool, tail: str = ""
    ) -> Version | None:
        found = self._many(where, params, content, tail)
        return found[0] if found else None

    def _many(
        self, where: str, params: Sequence[Any], content: bool, tail: str = ""
    ) -> list[Version]:
        if content:
            sql = (
                f"SELECT {V_COLS}, b.content FROM versions v JOIN blobs b ON b.sha256 = v.sha256 "
                f"WHERE {where} {tail}"
            )
            return [row_to_version(r, bytes(r[20])) for r in self._q(sql, params)]
        sql = f"SELECT {V_COLS} FROM versions v WHERE {where} {tail}"
        return [row_to_version(r) for r in self._q(sql, params)]

    # -- writes (inside write()) -------------------------------------------------

    def ensure_tool(self, name: str, owner: str, now: str) -> None:
        """Create the tool's row if it is new; touch ``updated_at`` otherwise."""
        self._q(
            "INSERT INTO tools (name, owner, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
            (name, owner, now, now),
        )

    def tool_owner(self, name: str) -> str | None:
        """The tool's owner, or None for a new tool."""
        row = self._q("SELECT owner FROM tools WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def put_blob(self, sha256: str, content: bytes) -> None:
        """Store content once; a blob that exists already is left as it is."""
        self._q(
            "INSERT INTO blobs (sha256, size, content) VALUES (?, ?, ?) "
            "ON CONFLICT (sha256) DO NOTHING",
            (sha256, len(content), content),
        )

    def insert_version(self, v: Version) -> None:
        """Insert one version row (the UNIQUE key refuses a duplicate number)."""
        self._q(
            f"INSERT INTO versions ({VERSION_COLUMNS}) VALUES ({', '.join('?' * 20)})",
            (
                v.name,
                v.version,
                v.sha256,
                v.size,
                int(v.executable),
                v.previous_version,
                v.previous_sha256,
                v.created_at,
                v.recorded_at,
                v.created_by,
                v.owner,
                v.origin,
                v.session_id,
                v.prompt,
                v.message,
                json.dumps(list(v.references)),
                json.dumps(list(v.transforms)),
                v.rollback_of,
                v.signature,
                v.key_id,
            ),
        )

    def integrity_check(self) -> list[str]:
        """SQLite's own structural check; ``['ok']`` when sound."""
        return [r[0] for r in self._q("PRAGMA integrity_check")]
