"""Numbered schema migrations, one list for every dialect.

Rules (a test enforces the first two): ids are 1, 2, 3… in order and names are
unique; a migration is never edited once it has landed, a new one is added. Each
is applied together with its row in ``schema_migrations`` in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Step:
    """One migration: its number, its name and its SQL per dialect."""

    id: int
    name: str
    sqlite: str


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

STEPS: tuple[Step, ...] = (Step(1, "initial_schema", INITIAL_SQLITE),)
