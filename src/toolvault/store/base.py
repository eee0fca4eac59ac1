"""The SQL both stores share: every query of the vault, written once.

:class:`SQLStore` holds the queries; :class:`~toolvault.store.sqlite.SQLiteStore`
and :class:`~toolvault.store.postgres.PostgresStore` supply connections,
transactions and the dialect of the migrations. Placeholders are written ``?``
and translated by the PostgreSQL store. The service above never sees a cursor,
an ``sqlite3.Error`` or a ``psycopg.Error``.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from toolvault.errors import SchemaTooNew
from toolvault.hashing import GENESIS, canonical, details_of, entry_hash
from toolvault.models import (
    ENTRY_COLUMNS,
    VERSION_FIELDS,
    AuditEntry,
    Entry,
    Label,
    Migration,
    Token,
    Tool,
    TrustedKey,
    Version,
    Yank,
)
from toolvault.store.checkpointing import CheckpointQueries
from toolvault.store.fastread import NOT_YANKED
from toolvault.store.migrations import Step

MAX_INTEGER = 2**63 - 1  # SQLite's largest INTEGER
IN_CHUNK = 500  # names per "IN (…)" query: far below either database's parameter limit

# latest_version counts only versions that are not yanked; versions counts all.
TOOL_SELECT = (
    "SELECT t.name, t.owner, t.lifecycle, "
    "max(CASE WHEN y.version IS NULL THEN v.version END), count(v.version), "
    "t.created_at, t.updated_at, t.lifecycle_message FROM tools t "
    "JOIN versions v ON v.name = t.name "
    "LEFT JOIN yanks y ON y.name = v.name AND y.version = v.version"
)
VERSION_COLUMNS = (
    "name, version, sha256, size, executable, previous_version, previous_sha256, created_at, "
    "recorded_at, created_by, owner, origin, session_id, prompt, message, refs, transforms, "
    "rollback_of, signature, key_id"
)
V_COLS = ", ".join(f"v.{c.strip()}" for c in VERSION_COLUMNS.split(","))


# Connections a forked child inherited: kept referenced so that they are never
# closed (or finalized) in the child.
_INHERITED: list[Any] = []


def _between(
    column: str, bounds: tuple[Any, Any], wanted: frozenset[str], params: list[Any]
) -> str:
    """SQL for ``bounds[0] <= column < bounds[1]`` (None: unbounded) and, when some are
    wanted, ``column IN wanted``; appends the parameters."""
    clauses = []
    if bounds[0] is not None:
        clauses.append(f"{column} >= ?")
        params.append(bounds[0])
    if bounds[1] is not None:
        clauses.append(f"{column} < ?")
        params.append(bounds[1])
    if wanted:
        clauses.append(f"{column} IN ({', '.join('?' * len(wanted))})")
        params.extend(sorted(wanted))
    return " AND ".join(clauses) or "1 = 1"


def _streamed(cursor: Any) -> Iterator[tuple[Any, ...]]:
    """A query's rows a thousand at a time: a big vault's rows need not fit in memory."""
    while rows := cursor.fetchmany(1_000):
        yield from rows


def utcnow() -> str:
    """Current time as ISO 8601 UTC with microseconds, the one format stored."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_text(values: Sequence[str]) -> str:
    """A list of strings as stored (``json.dumps``); most are empty, and "[]" is free."""
    return json.dumps(list(values)) if values else "[]"


def _json_list(text: str) -> tuple[str, ...]:
    if text == "[]":
        return ()
    try:
        return tuple(json.loads(text))
    except (ValueError, TypeError):  # altered by hand: keep it visible (verify reports it)
        return (f"<unreadable: {text}>",)


def version_values(row: Sequence[Any]) -> list[Any]:
    """A row in ``VERSION_COLUMNS`` order as the values of ``VERSION_FIELDS``."""
    values = list(row[:20])
    values[4] = bool(values[4])
    values[15] = _json_list(values[15])
    values[16] = _json_list(values[16])
    return values


def _chunks(names: Iterable[str]) -> Iterator[list[str]]:
    """Distinct names, sorted, IN_CHUNK at a time (one ``IN (…)`` query each)."""
    wanted = sorted(set(names))
    for i in range(0, len(wanted), IN_CHUNK):
        yield wanted[i : i + IN_CHUNK]


def row_to_version(row: Sequence[Any], content: bytes | None = None) -> Version:
    """Build a :class:`Version` from a row in ``VERSION_COLUMNS`` order (positionally:
    this runs for every row of every listing, and keywords cost more than the query)."""
    return Version(*version_values(row), content)  # type: ignore[call-arg]


class Head(NamedTuple):
    """The audit log's head a write transaction leaves, and the head it found there
    (``before``; None when not known)."""

    seq: int
    hash: str
    before: tuple[int, str] | None = None


class Sealer(Protocol):
    """What a Vault installs on its store (:mod:`toolvault.checkpoints`): ``seal`` runs in
    each write transaction that appended audit entries, just before its COMMIT, with the
    new head; what it returns goes to ``sealed`` after the COMMIT."""

    def seal(self, store: Any, head: Head) -> Any: ...

    def sealed(self, result: Any) -> None: ...


class SQLStore(CheckpointQueries):
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
        return None if head is None or self.sealer is None else self.sealer.seal(self, head)

    def _sealed(self, result: Any) -> None:
        """After COMMIT: hand the sealer's record back to it (it writes HOME/checkpoint)."""
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

    # -- reads -----------------------------------------------------------------

    def tool(self, name: str) -> Tool | None:
        """A tool's row with its version summary, or None."""
        row = self._q(f"{TOOL_SELECT} WHERE t.name = ? GROUP BY t.name", (name,)).fetchone()
        return Tool(*row) if row else None

    def tools(self) -> list[Tool]:
        """Every tool with at least one version, by name."""
        rows = self._q(f"{TOOL_SELECT} GROUP BY t.name ORDER BY t.name")
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
        tail = f"ORDER BY v.version DESC LIMIT 1 OFFSET {steps:d}"
        return self._one(f"v.name = ? AND {NOT_YANKED}", (name,), content, tail)

    def newest(self, name: str) -> Version | None:
        """The highest-numbered version, yanked or not: the head of the chain."""
        return self._one("v.name = ?", (name,), False, "ORDER BY v.version DESC LIMIT 1")

    def by_sha_prefix(self, name: str, prefix: str, content: bool = False) -> list[Version]:
        """Versions of ``name`` whose sha256 starts with ``prefix``, newest first."""
        return self._many(
            "v.name = ? AND substr(v.sha256, 1, ?) = ?",
            (name, len(prefix), prefix),
            content,
            "ORDER BY v.version DESC",
        )

    def versions(self, name: str) -> list[Version]:
        """All versions of ``name``, oldest first."""
        return self._many("v.name = ?", (name,), False, "ORDER BY v.version")

    def version_dicts(self, name: str) -> list[dict[str, Any]]:
        """All versions of ``name`` in their JSON shape, oldest first, built straight from
        the rows: the daemon serves this listing often, and a Version object per row
        cost more than the query."""
        rows = self._q(
            f"SELECT {V_COLS} FROM versions v WHERE v.name = ? ORDER BY v.version", (name,)
        )
        listing = []
        for row in rows:
            item = dict(zip(VERSION_FIELDS, row, strict=True))
            item["executable"] = bool(item["executable"])
            item["references"] = list(_json_list(item["references"]))
            item["transforms"] = list(_json_list(item["transforms"]))
            listing.append(item)
        return listing

    def referencing(self, text: str) -> list[Version]:
        """Versions whose stored references contain ``text``: candidates for a reverse
        lookup, which the caller narrows to exact matches (LIKE ignores case in SQLite)."""
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._many(
            "v.refs LIKE ? ESCAPE '\\'", (f"%{escaped}%",), False, "ORDER BY v.name, v.version"
        )

    def origins(self, prefix: str) -> list[tuple[str, int, str, str]]:
        """(name, version, sha256, origin) of every version whose origin starts with
        ``prefix``: what an earlier import from that source stored."""
        rows = self._q(
            "SELECT name, version, sha256, origin FROM versions "
            "WHERE substr(origin, 1, ?) = ? ORDER BY name, version",
            (len(prefix), prefix),
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def tools_named(self, names: Iterable[str]) -> list[Tool]:
        """:meth:`tool` of each name that is a tool, by name, a few hundred a query."""
        found: list[Tool] = []
        for chunk in _chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = self._q(f"{TOOL_SELECT} WHERE t.name IN ({marks}) GROUP BY t.name", chunk)
            found += [Tool(*r) for r in rows]
        return sorted(found, key=lambda t: t.name)

    def entries_of(self, names: Iterable[str]) -> dict[str, list[Entry]]:
        """:meth:`entries` of each name, a few hundred names a query."""
        found: dict[str, list[Entry]] = {}
        for chunk in _chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = self._q(
                f"SELECT name, {ENTRY_COLUMNS} FROM versions WHERE name IN ({marks}) "
                "ORDER BY name, version",
                chunk,
            )
            for row in rows:
                found.setdefault(row[0], []).append(Entry._make(row[1:]))
        return found

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
        self.ensure_tools([(name, owner)], now)

    def ensure_tools(self, tools: Iterable[tuple[str, str]], now: str) -> None:
        """:meth:`ensure_tool` for each (name, owner), in one batched statement."""
        self._qmany(
            "INSERT INTO tools (name, owner, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
            [(name, owner, now, now) for name, owner in tools],
        )

    def tool_state(self, name: str) -> tuple[str, str] | None:
        """A tool's (owner, lifecycle) from its own row: what a publish needs, without
        the per-version summary :meth:`tool` computes."""
        return self.tool_states([name]).get(name)

    def tool_records(self, names: Iterable[str]) -> dict[str, tuple[str, str, str | None, str]]:
        """(owner, lifecycle, lifecycle_message, created_at) of each name that has a row:
        what an import's audit entry states of the tools it touched."""
        found: dict[str, tuple[str, str, str | None, str]] = {}
        for chunk in _chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = self._q(
                "SELECT name, owner, lifecycle, lifecycle_message, created_at FROM tools "
                f"WHERE name IN ({marks})",
                chunk,
            )
            found.update((r[0], (r[1], r[2], r[3], r[4])) for r in rows)
        return found

    def tool_states(self, names: Iterable[str]) -> dict[str, tuple[str, str]]:
        """:meth:`tool_state` of each name that has a row, a few hundred names a query."""
        found: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = self._q(
                f"SELECT name, owner, lifecycle FROM tools WHERE name IN ({marks})", chunk
            )
            found.update((r[0], (r[1], r[2])) for r in rows)
        return found

    def put_blob(self, sha256: str, content: bytes) -> None:
        """Store content once; a blob that exists already is left as it is."""
        self.put_blobs([(sha256, content)])

    def put_blobs(self, blobs: Iterable[tuple[str, bytes]]) -> None:
        """:meth:`put_blob` for each (sha256, content), in one batched statement."""
        self._qmany(
            "INSERT INTO blobs (sha256, size, content) VALUES (?, ?, ?) "
            "ON CONFLICT (sha256) DO NOTHING",
            [(sha, len(content), content) for sha, content in blobs],
        )

    def insert_version(self, v: Version) -> None:
        """Insert one version row (the UNIQUE key refuses a duplicate number)."""
        self.insert_versions([v])

    def insert_versions(self, versions: Iterable[Version]) -> None:
        """:meth:`insert_version` for each, in one batched statement."""
        self._qmany(
            f"INSERT INTO versions ({VERSION_COLUMNS}) VALUES ({', '.join('?' * 20)})",
            [
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
                    _json_text(v.references),
                    _json_text(v.transforms),
                    v.rollback_of,
                    v.signature,
                    v.key_id,
                )
                for v in versions
            ],
        )

    # -- governance ----------------------------------------------------------------

    def set_lifecycle(self, name: str, lifecycle: str, message: str | None, now: str) -> None:
        """Change a tool's lifecycle (active, deprecated, retired)."""
        self._q(
            "UPDATE tools SET lifecycle = ?, lifecycle_message = ?, updated_at = ? WHERE name = ?",
            (lifecycle, message, now, name),
        )

    def set_owner(self, name: str, owner: str, now: str) -> None:
        """Transfer a tool to a new owner."""
        self._q("UPDATE tools SET owner = ?, updated_at = ? WHERE name = ?", (owner, now, name))

    def labels(self, name: str | None = None) -> list[Label]:
        """Current labels, of one tool or of all."""
        sql = "SELECT name, label, version, set_at, set_by FROM labels"
        if name is None:
            return [Label(*r) for r in self._q(f"{sql} ORDER BY name, label")]
        return [Label(*r) for r in self._q(f"{sql} WHERE name = ? ORDER BY label", (name,))]

    def label(self, name: str, label: str) -> Label | None:
        """One label, or None."""
        row = self._q(
            "SELECT name, label, version, set_at, set_by FROM labels WHERE name = ? AND label = ?",
            (name, label),
        ).fetchone()
        return Label(*row) if row else None

    def set_label(self, lab: Label) -> None:
        """Create or move a label."""
        self._q(
            "INSERT INTO labels (name, label, version, set_at, set_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name, label) DO UPDATE SET version = excluded.version, "
            "set_at = excluded.set_at, set_by = excluded.set_by",
            (lab.name, lab.label, lab.version, lab.set_at, lab.set_by),
        )

    def delete_label(self, name: str, label: str) -> None:
        """Remove a label."""
        self._q("DELETE FROM labels WHERE name = ? AND label = ?", (name, label))

    def yanks(self, name: str | None = None) -> list[Yank]:
        """Yanked versions, of one tool or of all."""
        sql = "SELECT name, version, reason, at, actor FROM yanks"
        if name is None:
            return [Yank(*r) for r in self._q(f"{sql} ORDER BY name, version")]
        return [Yank(*r) for r in self._q(f"{sql} WHERE name = ? ORDER BY version", (name,))]

    def yank(self, y: Yank) -> None:
        """Mark a version as yanked."""
        self._q(
            "INSERT INTO yanks (name, version, reason, at, actor) VALUES (?, ?, ?, ?, ?)",
            (y.name, y.version, y.reason, y.at, y.actor),
        )

    def trusted_keys(self) -> list[TrustedKey]:
        """Every trusted public key, by name."""
        rows = self._q("SELECT name, key_id, public_key, added_at FROM trusted_keys ORDER BY name")
        return [TrustedKey(*r) for r in rows]

    def add_trusted_key(self, key: TrustedKey) -> None:
        """Trust a public key under a name."""
        self._q(
            "INSERT INTO trusted_keys (name, key_id, public_key, added_at) VALUES (?, ?, ?, ?)",
            (key.name, key.key_id, key.public_key, key.added_at),
        )

    def remove_trusted_key(self, name: str) -> None:
        """Stop trusting a key."""
        self._q("DELETE FROM trusted_keys WHERE name = ?", (name,))

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
        where = _between("seq", seqs, frozenset(), params)
        sql = (
            "SELECT seq, at, actor, action, tool, version, details, prev_hash, hash FROM audit "
            f"WHERE {where} ORDER BY seq"
        )
        return _streamed(self._q(sql, params))

    def audit_details(self, seq: int) -> tuple[str, str | None, int | None, dict[str, Any]]:
        """(action, tool, version, details) of one audit entry."""
        row = self._q(
            "SELECT action, tool, version, details FROM audit WHERE seq = ?", (seq,)
        ).fetchone()
        return (row[0], row[1], row[2], details_of(row[3])) if row else ("", None, None, {})

    def version_counts(self, wanted: frozenset[str] = frozenset()) -> list[tuple[str, int, int]]:
        """(name, versions, signed versions) of every tool with versions, by name."""
        params: list[Any] = []
        where = _between("name", (None, None), wanted, params)
        sql = (
            "SELECT name, count(*), count(signature) FROM versions "
            f"WHERE {where} GROUP BY name ORDER BY name"
        )
        return [(r[0], r[1], r[2]) for r in self._q(sql, params)]

    def version_rows(
        self,
        names: tuple[str | None, str | None],
        wanted: frozenset[str] = frozenset(),
        content: bool = False,
    ) -> Iterator[tuple[Any, ...]]:
        """Rows in ``VERSION_COLUMNS`` order plus the size the version's blob records
        (None when it has none) and, with ``content``, the blob's content, for names in
        [names[0], names[1]), by name and number; read as they are used, in one
        statement (call within a snapshot, and finish it before the next query)."""
        params: list[Any] = []
        where = _between("v.name", names, wanted, params)
        sql = (
            f"SELECT {V_COLS}, b.size{', b.content' if content else ''} FROM versions v "
            f"LEFT JOIN blobs b ON b.sha256 = v.sha256 WHERE {where} ORDER BY v.name, v.version"
        )
        return _streamed(self._q(sql, params))

    def unused_blobs(self) -> Iterator[tuple[str, int, bytes]]:
        """(sha256, size, content) of the blobs no version uses, by hash."""
        rows = self._q(
            "SELECT sha256, size, content FROM blobs "
            "WHERE sha256 NOT IN (SELECT sha256 FROM versions) ORDER BY sha256"
        )
        return ((r[0], r[1], bytes(r[2])) for r in rows)

    def blob_count(self) -> int:
        """How many blobs there are."""
        return int(self._q("SELECT count(*) FROM blobs").fetchone()[0])

    def row_counts(self) -> dict[str, int]:
        """How many tools, versions, blobs and audit entries there are (for ``status``)."""
        tables = ("tools", "versions", "blobs", "audit")
        sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        return dict(zip(tables, map(int, self._q(sql).fetchone()), strict=True))

    def tool_rows(
        self, names: tuple[str | None, str | None], wanted: frozenset[str] = frozenset()
    ) -> list[tuple[str, str, str]]:
        """(name, owner, lifecycle) of the tools whose names lie in [names[0], names[1]),
        by name: their own rows, without the version summary :meth:`tools` computes."""
        params: list[Any] = []
        where = _between("name", names, wanted, params)
        sql = f"SELECT name, owner, lifecycle FROM tools WHERE {where} ORDER BY name"
        return [(r[0], r[1], r[2]) for r in self._q(sql, params)]

    def tool_history_rows(self) -> list[tuple[str, str, str | None]]:
        """(name, created_at, lifecycle_message) of every tool, by name (verify replays them)."""
        rows = self._q("SELECT name, created_at, lifecycle_message FROM tools ORDER BY name")
        return [(r[0], r[1], r[2]) for r in rows]

    def pack_import_rows(self) -> list[tuple[str, int, str, str]]:
        """(pack name, version, manifest sha256, source) of every pack import, in order."""
        rows = self._q(
            "SELECT pack_name, pack_version, manifest_sha256, source FROM pack_imports "
            "ORDER BY pack_name, pack_version"
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def after_fork(self) -> None:
        """In a forked child: let go of the parent's connections without touching them
        (closing one could end the parent's transaction or checkpoint its WAL under it)
        and open this process's own on first use."""
        _INHERITED.append((self._local, self._connections))
        self._local = threading.local()
        self._connections = []
        self._lock = threading.Lock()

    # -- packs -------------------------------------------------------------------------

    def pack_imports(self, pack_name: str) -> list[tuple[int, str]]:
        """(pack version, manifest sha256) of every import of a pack name."""
        rows = self._q(
            "SELECT pack_version, manifest_sha256 FROM pack_imports WHERE pack_name = ? "
            "ORDER BY pack_version",
            (pack_name,),
        )
        return [(r[0], r[1]) for r in rows]

    def record_pack_import(
        self, pack_name: str, pack_version: int, manifest_sha256: str, source: str, now: str
    ) -> None:
        """Remember an imported pack (anti-downgrade)."""
        self._q(
            "INSERT INTO pack_imports (pack_name, pack_version, manifest_sha256, source, "
            "imported_at) VALUES (?, ?, ?, ?, ?)",
            (pack_name, pack_version, manifest_sha256, source, now),
        )

    def last_pack_export(self, pack_name: str) -> int:
        """The highest version exported under a pack name (0 when none)."""
        row = self._q(
            "SELECT max(pack_version) FROM pack_exports WHERE pack_name = ?", (pack_name,)
        ).fetchone()
        return int(row[0] or 0)

    def record_pack_export(self, pack_name: str, pack_version: int, now: str) -> None:
        """Remember an exported pack version."""
        self._q(
            "INSERT INTO pack_exports (pack_name, pack_version, created_at) VALUES (?, ?, ?)",
            (pack_name, pack_version, now),
        )

    def restore_tool(self, tool: Tool) -> None:
        """Insert a tool row exactly as a pack describes it (restore of a new tool)."""
        self._q(
            "INSERT INTO tools (name, owner, lifecycle, lifecycle_message, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                tool.name,
                tool.owner,
                tool.lifecycle,
                tool.lifecycle_message,
                tool.created_at,
                tool.updated_at,
            ),
        )

    # -- daemon tokens -------------------------------------------------------------------

    def insert_token(self, token: Token, token_hash: str) -> None:
        """Store a new token's hash."""
        self._q(
            "INSERT INTO tokens (id, principal, token_hash, admin, read_only, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.principal,
                token_hash,
                int(token.admin),
                int(token.read_only),
                token.created_at,
            ),
        )

    def tokens(self) -> list[Token]:
        """Every token, oldest first."""
        rows = self._q(
            "SELECT id, principal, admin, read_only, created_at, revoked_at FROM tokens "
            "ORDER BY created_at, id"
        )
        return [Token(r[0], r[1], bool(r[2]), bool(r[3]), r[4], r[5]) for r in rows]

    def token_by_hash(self, token_hash: str) -> Token | None:
        """The token with this hash, revoked or not."""
        row = self._q(
            "SELECT id, principal, admin, read_only, created_at, revoked_at FROM tokens "
            "WHERE token_hash = ?",
            (token_hash,),
        ).fetchone()
        return Token(row[0], row[1], bool(row[2]), bool(row[3]), row[4], row[5]) if row else None

    def revoke_token(self, token_id: str, now: str) -> None:
        """Mark a token revoked."""
        self._q("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
