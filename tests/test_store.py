"""The database itself refuses to change the past (SPEC §1) and stays sound, in SQLite
and in PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import Raw
from toolvault import Vault
from toolvault.errors import StoreError
from toolvault.store.sqlite import SQLiteStore


@pytest.fixture
def db(vault: Vault) -> Iterator[Raw]:
    """A connection of its own to a vault holding two versions of 'tool'."""
    vault.publish("tool", b"echo 1\n")
    vault.publish("tool", b"echo 2\n")
    with Raw(vault) as conn:
        yield conn


def rows(db: Raw) -> list[tuple[object, ...]]:
    versions = db("SELECT * FROM versions ORDER BY name, version")
    return versions + db("SELECT * FROM blobs ORDER BY sha256")


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        ("UPDATE versions SET message = 'rewritten' WHERE version = 1", ()),
        ("UPDATE versions SET sha256 = (SELECT sha256 FROM versions WHERE version = 2)", ()),
        ("DELETE FROM versions WHERE version = 2", ()),
        ("DELETE FROM versions", ()),
        ("UPDATE blobs SET content = ?", (b"evil",)),
        ("UPDATE blobs SET size = 0", ()),
        ("DELETE FROM blobs", ()),
    ],
)
def test_the_database_refuses_to_change_versions_and_blobs(
    db: Raw, statement: str, params: tuple[object, ...]
) -> None:
    before = rows(db)
    with pytest.raises(db.error, match="immutable"):
        db(statement, params)
    assert rows(db) == before


def test_a_refused_change_inside_a_transaction_does_not_stick(db: Raw) -> None:
    before = rows(db)
    db("BEGIN")
    with pytest.raises(db.error, match="versions are immutable"):
        db("DELETE FROM versions WHERE version = 1")
    db("COMMIT")
    assert rows(db) == before


def test_version_numbers_are_unique_per_tool(db: Raw) -> None:
    copy = "INSERT INTO versions SELECT * FROM versions WHERE name = 'tool' AND version = 2"
    with pytest.raises(db.error, match=r"(?i)unique"):
        db(copy)
    count = db("SELECT count(*) FROM versions WHERE name = 'tool' AND version = 2")
    assert count == [(1,)]


def test_the_store_turns_a_duplicate_into_its_own_error(vault: Vault) -> None:
    vault.publish("tool", b"echo 1\n")
    duplicate = vault.get("tool:1")
    with pytest.raises(StoreError, match="refused a write"), vault.store.write():
        vault.store.insert_version(duplicate)
    assert [v.version for v in vault.versions("tool")] == [1]


def test_versions_need_a_known_blob_and_tool(vault: Vault) -> None:
    vault.publish("tool", b"echo 1\n")
    orphan = vault.get("tool:1")
    with pytest.raises(StoreError, match=r"(?i)foreign key"), vault.store.write():
        vault.store.insert_version(replace(orphan, version=2, sha256="0" * 64))
    with pytest.raises(StoreError, match=r"(?i)foreign key"), vault.store.write():
        vault.store.insert_version(replace(orphan, name="ghost"))
    assert [v.version for v in vault.all_versions()] == [1]


def test_wal_mode_is_on(sqlite_vault: Vault) -> None:
    with closing(sqlite3.connect(sqlite_vault.home / "vault.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_integrity_check_is_ok(sqlite_vault: Vault) -> None:
    sqlite_vault.publish("tool", b"echo 1\n")
    sqlite_vault.publish("tool", b"echo 2\n")
    with closing(sqlite3.connect(sqlite_vault.home / "vault.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert isinstance(sqlite_vault.store, SQLiteStore)
    assert sqlite_vault.store.integrity_check() == ["ok"]


def test_a_file_that_is_not_a_database_is_a_store_error(home: Path) -> None:
    home.mkdir()
    (home / "vault.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a toolvault database: it is not an SQLite file"):
        Vault.open(home)
