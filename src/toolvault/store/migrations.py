"""Numbered schema migrations, one list for every dialect.

Rules (a test enforces the first two): ids are 1, 2, 3… in order and names are
unique; a migration is never edited once it has landed, a new one is added. Each
is applied together with its row in ``schema_migrations`` in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Step:
    """One migration: its number, its name, its SQL per dialect, and an optional
    data step run after the SQL in the same transaction (given the store).

    ``postgres`` is None when the SQLite script translates mechanically
    (:func:`to_postgres`); a step that needs more writes its own.
    """

    id: int
    name: str
    sqlite: str
    data: Callable[[Any], None] | None = None
    postgres: str | None = None

    def postgres_sql(self) -> str:
        """This step's script for PostgreSQL."""
        return self.postgres if self.postgres is not None else to_postgres(self.sqlite)


TRIGGER = re.compile(
    r"CREATE TRIGGER (\w+) BEFORE (UPDATE|DELETE) ON (\w+)\s+"
    r"BEGIN SELECT RAISE\(ABORT, '([^']*)'\); END;"
)


def to_postgres(sqlite: str) -> str:
    """SQLite DDL to PostgreSQL: BYTEA for BLOB, no WITHOUT ROWID, and each refusing
    trigger as a row trigger calling ``toolvault_refuse`` (created by migration 1)."""
    sql = sqlite.replace(" BLOB ", " BYTEA ").replace(") WITHOUT ROWID;", ");")
    return TRIGGER.sub(
        r"CREATE TRIGGER \1 BEFORE \2 ON \3 FOR EACH ROW EXECUTE FUNCTION toolvault_refuse('\4');",
        sql,
    )


# PostgreSQL has no RAISE in plain SQL: one function serves every refusing trigger.
REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION toolvault_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;
"""


INITIAL_SQLITE = """
-- A tool's mutable governance state. Versions never change; this row does
-- (owner transfers, lifecycle), so it is kept apart from them.
CREATE TABLE tools (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    lifecycle  TEXT NOT NULL DEFAULT 'active'
               CHECK (lifecycle IN ('active', 'deprecated', 'retired')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Content, stored once per SHA-256 however many versions share it.
CREATE TABLE blobs (
    sha256  TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size    INTEGER NOT NULL CHECK (size >= 0),
    content BLOB NOT NULL
);

-- One immutable row per version. previous_sha256 chains each version to the
-- one before it so that verify can find a removed or swapped row; created_at is
-- when the content was authored (kept from the source on imports), recorded_at
-- when this vault stored it. refs and transforms are JSON arrays of strings.
CREATE TABLE versions (
    name             TEXT NOT NULL REFERENCES tools(name),
    version          INTEGER NOT NULL CHECK (version >= 1),
    sha256           TEXT NOT NULL REFERENCES blobs(sha256),
    size             INTEGER NOT NULL,
    executable       INTEGER NOT NULL CHECK (executable IN (0, 1)),
    previous_version INTEGER,
    previous_sha256  TEXT,
    created_at       TEXT NOT NULL,
    recorded_at      TEXT NOT NULL,
    created_by       TEXT,
    owner            TEXT,
    origin           TEXT,
    session_id       TEXT,
    prompt           TEXT,
    message          TEXT,
    refs             TEXT NOT NULL DEFAULT '[]',
    transforms       TEXT NOT NULL DEFAULT '[]',
    rollback_of      INTEGER,
    signature        TEXT,
    key_id           TEXT,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;

CREATE INDEX versions_by_sha ON versions (name, sha256);

-- The store itself refuses to change the past, not only the code.
CREATE TRIGGER versions_immutable_update BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'toolvault: versions are immutable'); END;
CREATE TRIGGER versions_immutable_delete BEFORE DELETE ON versions
BEGIN SELECT RAISE(ABORT, 'toolvault: versions are immutable'); END;
CREATE TRIGGER blobs_immutable_update BEFORE UPDATE ON blobs
BEGIN SELECT RAISE(ABORT, 'toolvault: blobs are immutable'); END;
CREATE TRIGGER blobs_immutable_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'toolvault: blobs are immutable'); END;
"""

STEPS: tuple[Step, ...] = (
    Step(
        1, "initial_schema", INITIAL_SQLITE, postgres=REFUSE_FUNCTION + to_postgres(INITIAL_SQLITE)
    ),
)


GOVERNANCE_SQLITE = """
-- Append-only, hash-chained record of every write. hash is the SHA-256 of the
-- canonical JSON of the other columns and prev_hash the hash of the entry
-- before, so an edited, removed or reordered entry breaks the chain right there.
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    tool      TEXT,
    version   INTEGER,
    details   TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_by_tool ON audit (tool, seq);
CREATE TRIGGER audit_immutable_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'toolvault: the audit log is append-only'); END;
CREATE TRIGGER audit_immutable_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'toolvault: the audit log is append-only'); END;

-- Movable named pointers (fmt:stable). The row is the current state; every
-- set, move and delete is also an audit entry, which verify compares it with.
CREATE TABLE labels (
    name    TEXT NOT NULL,
    label   TEXT NOT NULL,
    version INTEGER NOT NULL,
    set_at  TEXT NOT NULL,
    set_by  TEXT NOT NULL,
    PRIMARY KEY (name, label),
    FOREIGN KEY (name, version) REFERENCES versions (name, version)
);

-- A yanked version stays readable by its number but latest, previous and -K
-- skip it. Yanks are permanent: the reason is part of the record.
CREATE TABLE yanks (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    PRIMARY KEY (name, version),
    FOREIGN KEY (name, version) REFERENCES versions (name, version)
);
CREATE TRIGGER yanks_immutable_update BEFORE UPDATE ON yanks
BEGIN SELECT RAISE(ABORT, 'toolvault: yanks are permanent'); END;
CREATE TRIGGER yanks_immutable_delete BEFORE DELETE ON yanks
BEGIN SELECT RAISE(ABORT, 'toolvault: yanks are permanent'); END;

-- Public keys whose signatures verify. Removing one is allowed (and audited):
-- the versions it signed then show up in verify.
CREATE TABLE trusted_keys (
    name       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    added_at   TEXT NOT NULL
);

-- Why a tool was deprecated or retired, shown by run and show.
ALTER TABLE tools ADD COLUMN lifecycle_message TEXT;
"""


def adopt_existing_versions(store: Any) -> None:
    """Versions stored before the audit log existed get an ``adopt`` entry each,
    so that verify can hold every version against the log."""
    from toolvault.signing import audit_record

    # plain SQL: the store's reads know the columns of the newest schema, not of this one
    owners = dict(store._q("SELECT name, owner FROM tools").fetchall())
    for v in list(store.all_versions(classic=True)):
        actor = v.created_by or v.owner or "unknown"
        details = {**audit_record(v), "owner": owners.get(v.name, v.owner)}
        store.append_audit(v.recorded_at, actor, "adopt", v.name, v.version, details)


STEPS = (*STEPS, Step(2, "governance", GOVERNANCE_SQLITE, adopt_existing_versions))


PACKS_SQLITE = """
-- Every pack imported, so that an older pack (or a different pack with the same
-- version) can never be imported over a newer one: anti-downgrade.
CREATE TABLE pack_imports (
    pack_name       TEXT NOT NULL,
    pack_version    INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    source          TEXT NOT NULL,
    imported_at     TEXT NOT NULL,
    PRIMARY KEY (pack_name, pack_version)
);

-- Every pack exported, so that a pack name's versions only go up.
CREATE TABLE pack_exports (
    pack_name    TEXT NOT NULL,
    pack_version INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (pack_name, pack_version)
);
"""

STEPS = (*STEPS, Step(3, "packs", PACKS_SQLITE))


TOKENS_SQLITE = """
-- Bearer tokens of the daemon. Only a SHA-256 of each token is kept (the token
-- itself is shown once, when created); id is a short public handle to list and
-- revoke it. A revoked token keeps its row, so that its history stays readable.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    read_only  INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""

STEPS = (*STEPS, Step(4, "tokens", TOKENS_SQLITE))


# PostgreSQL's TRUNCATE fires no row trigger: without these, TRUNCATE audit (or
# TRUNCATE blobs CASCADE) would empty what DELETE may not touch. SQLite has no
# TRUNCATE, so its step is empty: its DELETE triggers cover every way to remove rows.
REFUSE_TRUNCATE_POSTGRES = """
CREATE TRIGGER versions_no_truncate BEFORE TRUNCATE ON versions
FOR EACH STATEMENT EXECUTE FUNCTION toolvault_refuse('toolvault: versions are immutable');
CREATE TRIGGER blobs_no_truncate BEFORE TRUNCATE ON blobs
FOR EACH STATEMENT EXECUTE FUNCTION toolvault_refuse('toolvault: blobs are immutable');
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
FOR EACH STATEMENT EXECUTE FUNCTION toolvault_refuse('toolvault: the audit log is append-only');
CREATE TRIGGER yanks_no_truncate BEFORE TRUNCATE ON yanks
FOR EACH STATEMENT EXECUTE FUNCTION toolvault_refuse('toolvault: yanks are permanent');
"""

STEPS = (*STEPS, Step(5, "refuse_truncate", "", postgres=REFUSE_TRUNCATE_POSTGRES))


CHECKPOINTS_SQLITE = """
-- Signed checkpoints (as Certificate Transparency's signed tree heads): at the end of
-- every write transaction, the audit log's head (the sequence number and hash of its
-- newest entry) and the time, signed with the vault key, which lives outside the
-- database (HOME/keys/vault.pem, 0600). Whoever can write the database but does not
-- hold the key can neither sign a rewritten head nor remove the log's tail without
-- verify noticing. The public key is kept with each checkpoint so that a copy of the
-- database without keys/ can still be checked, and so that the keys of several
-- daemons can sign one vault. Empty until the first write (or init, or 'toolvault
-- checkpoint') after this migration: the migration runs in the store, which knows no
-- home and so no key, and the first checkpoint signs the head hash, which chains
-- every entry before it.
-- The checkpoints are chained too: prev is the SHA-256 of the previous checkpoint's
-- signed bytes and signature (GENESIS for the first), and each signature covers prev.
-- So verify recomputes the chain (a hash per row) and checks only the newest
-- signature and the last of each key's run, instead of one signature (~0.1 ms) per
-- write transaction ever made: an old checkpoint altered, removed or inserted breaks
-- the chain, and the newest signature covers the whole of it. Writers are serialized
-- (BEGIN IMMEDIATE, PostgreSQL's advisory lock), so each chains to the newest, as each
-- audit entry does to the one before. (No index on prev: it would cost every write
-- another page, and two checkpoints after the same one break the chain for verify.)
CREATE TABLE checkpoints (
    seq        INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL,
    at         TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL,
    prev       TEXT NOT NULL
);
CREATE TRIGGER checkpoints_immutable_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'toolvault: checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_immutable_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'toolvault: checkpoints are append-only'); END;
"""

CHECKPOINTS_POSTGRES = to_postgres(CHECKPOINTS_SQLITE) + (
    "CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT "
    "EXECUTE FUNCTION toolvault_refuse('toolvault: checkpoints are append-only');\n"
)

STEPS = (
    *STEPS,
    Step(6, "checkpoints", CHECKPOINTS_SQLITE, postgres=CHECKPOINTS_POSTGRES),
)


DESCRIPTIONS_SQLITE = """
-- What a version says it is and how to call it (SPEC §10): a one-paragraph
-- description (at most 1,024 characters) and the usage text a user would read for
-- --help (at most 8 KiB), given with 'add --description/--usage' or read from the
-- content's header (a docstring or the first comment block), never by running it.
-- Version fields like the rest of the provenance: set once, never changed. Versions
-- stored before this migration have neither (NULL).
ALTER TABLE versions ADD COLUMN description TEXT;
ALTER TABLE versions ADD COLUMN usage TEXT;
"""

STEPS = (*STEPS, Step(7, "descriptions", DESCRIPTIONS_SQLITE))


SEARCH_COLUMNS_SQL = """
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    lifecycle   TEXT NOT NULL DEFAULT 'active',
    yanked      INTEGER NOT NULL DEFAULT 0,
    latest      INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT NOT NULL,
    author      TEXT NOT NULL DEFAULT '',
    owner       TEXT NOT NULL DEFAULT '',
    session     TEXT NOT NULL DEFAULT '',
    label       TEXT NOT NULL DEFAULT '',
    uses        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    usage       TEXT NOT NULL DEFAULT '',
    prompt      TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    -- last: SQLite reads through a long value to reach the columns after it
    content     TEXT NOT NULL DEFAULT '',
    UNIQUE (name, version)"""

SEARCH_SQLITE = f"""
-- The search index (SPEC §10), derived from versions, tools, labels and yanks and
-- kept in the same transaction as every write that changes them; verify compares it
-- with them and sync rebuilds it. One row per version; latest marks each tool's
-- newest version that is not yanked (what a search looks at by default). Two FTS5
-- tables read their text from it: words (the unicode61 word tokenizer) over the
-- text fields, and a trigram one over the content, so that 'csv' finds read_csv_rows.
CREATE TABLE search_index (
    id          INTEGER PRIMARY KEY,{SEARCH_COLUMNS_SQL}
);
-- Covers what a search ranks by, so that it never reads the long rows to rank them.
CREATE INDEX search_index_rank ON search_index (latest, lifecycle, recorded_at, name, version);
CREATE VIRTUAL TABLE search_words USING fts5(
    name, description, usage, prompt, message, content='search_index', content_rowid='id',
    tokenize='unicode61 remove_diacritics 0'
);
-- detail=column: no positions, half the cost of indexing a version's content; a
-- substring is then sought as all of its trigrams (a superset, checked by the ranking).
CREATE VIRTUAL TABLE search_trigram USING fts5(
    content, content='search_index', content_rowid='id', tokenize='trigram', detail=column
);
-- The store writes the FTS tables itself, a batch of rows at a time: a trigger per
-- row made FTS5 flush its pending terms at every row, several times slower. The text
-- columns never change once a row is in; rows go only when sync rebuilds it all.
"""


def words(column: str) -> str:
    """SQL for a column's text as runs of letters and digits (as SQLite's tokenizer)."""
    return f"regexp_replace({column}, '[^[:alnum:]]+', ' ', 'g')"


# PostgreSQL: a weighted tsvector (A name, B description, C usage, D the rest) with GIN,
# over runs of letters and digits as the SQLite word tokenizer splits them,
# and pg_trgm for the content when the extension can be had (else ILIKE scans).
SEARCH_POSTGRES = f"""
CREATE TABLE search_index (
    id          BIGSERIAL PRIMARY KEY,{SEARCH_COLUMNS_SQL},
    words tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', {words("name")}), 'A')
        || setweight(to_tsvector('simple', {words("description")}), 'B')
        || setweight(to_tsvector('simple', {words("usage")}), 'C')
        || setweight(to_tsvector('simple', {words("prompt || ' ' || message")}), 'D')
    ) STORED
);
CREATE INDEX search_index_latest ON search_index (latest, name);
CREATE INDEX search_index_words ON search_index USING gin (words);
DO $$
DECLARE home text;
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
    SELECT n.nspname INTO home FROM pg_extension e
        JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    EXECUTE format(
        'CREATE INDEX search_index_trigram ON search_index USING gin (content %I.gin_trgm_ops)',
        home
    );
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'toolvault: no pg_trgm index on the search content (%)', SQLERRM;
END $$;
"""


def index_existing(store: Any) -> None:
    """Index every version stored before the search index existed."""
    store.rebuild_search()


STEPS = (*STEPS, Step(8, "search", SEARCH_SQLITE, index_existing, postgres=SEARCH_POSTGRES))


GRANTS_SQLITE = """
-- Maintainers (SPEC §11): principals a tool's owner (or an admin) lets publish, roll
-- back, label and deprecate the tool besides the owner; transfer, retire, yank and the
-- grants themselves stay with the owner and admins. One row per (tool, principal),
-- deleted when revoked (a revoked maintainer has no rights left). Every grant and
-- revoke is an audit entry, and verify replays them against this table, as it does
-- owners. A transfer keeps the tool's maintainers (the new owner may revoke them).
CREATE TABLE grants (
    name       TEXT NOT NULL REFERENCES tools (name),
    principal  TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    PRIMARY KEY (name, principal)
);

-- Through the daemon a version's created_by is the token's principal (who wrote it, as
-- far as the daemon can tell); the author a client named instead is kept here, so that
-- an agent's own account of itself is not lost. NULL when none was named or it was the
-- principal, and on every version from before this migration (and so signed and
-- digested only when set: existing signatures and audit entries still hold).
ALTER TABLE versions ADD COLUMN claimed_by TEXT;
"""

STEPS = (*STEPS, Step(9, "grants", GRANTS_SQLITE))


HOOKS_SQLITE = """
-- Webhook endpoints (SPEC §15). What happened is the audit log's: an endpoint keeps only
-- where its delivery stands (delivered_through, the last audit seq it is done with) and
-- how to reach and sign for it. The secret signs v1 (HMAC) and is never returned by the
-- API; sign_key names a vault key (keys/) that signs v1a (Ed25519) instead. Adding and
-- removing an endpoint are audited (hook-add, hook-remove) and verify replays them.
-- lease_owner / lease_until: the delivery worker that holds the endpoint (one at a time,
-- across every daemon on a shared PostgreSQL), until when (seconds since the epoch).
CREATE TABLE hooks (
    id                TEXT PRIMARY KEY,
    url               TEXT NOT NULL,
    events            TEXT NOT NULL,
    tools             TEXT NOT NULL,
    secret            TEXT,
    sign_key          TEXT,
    key_id            TEXT,
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    delivered_through INTEGER NOT NULL,
    state             TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    disabled_reason   TEXT,
    lease_owner       TEXT,
    lease_until       DOUBLE PRECISION
);

-- One row per (endpoint, audit entry) that was attempted: delivered, pending (a retry
-- due at next_at, or a redelivery asked for) or failed (the endpoint is then disabled
-- and waits for 'hook redeliver'). attempts counts every attempt; tries those since it
-- was last queued, the step of the retry schedule.
CREATE TABLE hook_deliveries (
    hook_id     TEXT NOT NULL REFERENCES hooks (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts    INTEGER NOT NULL,
    tries       INTEGER NOT NULL,
    next_at     DOUBLE PRECISION,
    last_status INTEGER,
    last_error  TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (hook_id, seq)
);
CREATE INDEX hook_deliveries_state ON hook_deliveries (hook_id, state, seq);

-- Every attempt: when, the HTTP status (NULL when none came back), how long, what failed.
CREATE TABLE hook_attempts (
    hook_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    at         TEXT NOT NULL,
    status     INTEGER,
    latency_ms DOUBLE PRECISION,
    error      TEXT,
    PRIMARY KEY (hook_id, seq, attempt),
    FOREIGN KEY (hook_id, seq) REFERENCES hook_deliveries (hook_id, seq) ON DELETE CASCADE
);
"""

STEPS = (*STEPS, Step(10, "hooks", HOOKS_SQLITE))


# Issue 13's publish budget: the full-text tables again, lighter for every write to keep.
# The search never asks FTS5 to rank (toolvault.search.rank does), so neither keeps the
# token counts of each row that FTS5's bm25 reads (columnsize=0: a table and a page less
# to write per publish). The trigram table keeps which rows hold each trigram and no
# more (detail=none: it has one column, and a substring is sought as all of its
# trigrams anyway, a superset that the ranking checks). (Automerge 8 rather than 4 would
# save a publish a little more, but a search then reads twice the small segments.)
# PostgreSQL's index needs no change. The text is indexed again from search_index.
SEARCH_TEXT_SQLITE = """
DROP TABLE search_words;
DROP TABLE search_trigram;
CREATE VIRTUAL TABLE search_words USING fts5(
    name, description, usage, prompt, message, content='search_index', content_rowid='id',
    tokenize='unicode61 remove_diacritics 0', columnsize=0
);
CREATE VIRTUAL TABLE search_trigram USING fts5(
    content, content='search_index', content_rowid='id', tokenize='trigram', detail=none,
    columnsize=0
);
"""


def reindex_text(store: Any) -> None:
    """Fill the remade full-text tables from the index's rows (SQLite)."""
    store.reindex_search_text()


STEPS = (*STEPS, Step(11, "search_text", SEARCH_TEXT_SQLITE, reindex_text, postgres=""))
