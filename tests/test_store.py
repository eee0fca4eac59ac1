"""The SQLite store itself refuses to change the past (SPEC §1) and stays sound."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from toolvault import Vault
from toolvault.errors import StoreError


@pytest.fixture
def db(vault: Vault) -> Iterator[sqlite3.Connection]:
    """A raw connection to a vault holding two versions of 'tool'."""
    vault.publish("tool", b"echo 1\n")
    vault.publish("tool", b"echo 2\n")
    with closing(sqlite3.connect(vault.home / "vault.db", isolation_level=None)) as conn:
        yield conn


def rows(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    versions = conn.execute("SELECT * FROM versions ORDER BY name, version").fetchall()
    return versions + conn.execute("SELECT * FROM blobs ORDER BY sha256").fetchall()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE versions SET message = 'rewritten' WHERE version = 1",
        "UPDATE versions SET sha256 = (SELECT sha256 FROM versions WHERE version = 2)",
        "DELETE FROM versions WHERE version = 2",
        "DELETE FROM versions",
        "UPDATE blobs SET content = CAST('evil' AS BLOB)",
        "UPDATE blobs SET size = 0",
        "DELETE FROM blobs",
    ],
)
def test_the_database_refuses_to_change_versions_and_blobs(
    db: sqlite3.Connection, statement: str
) -> None:
    before = rows(db)
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        db.execute(statement)
    assert rows(db) == before


def test_a_refused_change_inside_a_transaction_does_not_stick(db: sqlite3.Connection) -> None:
    before = rows(db)
    db.execute("BEGIN")
    with pytest.raises(sqlite3.DatabaseError, match="versions are immutable"):
        db.execute("DELETE FROM versions WHERE version = 1")
    db.execute("COMMIT")
    assert rows(db) == before


def test_version_numbers_are_unique_per_tool(db: sqlite3.Connection) -> None:
    copy = "INSERT INTO versions SELECT * FROM versions WHERE name = 'tool' AND version = 2"
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute(copy)
    count = db.execute("SELECT count(*) FROM versions WHERE name = 'tool' AND version = 2")
    assert count.fetchone() == (1,)


def test_the_store_turns_a_duplicate_into_its_own_error(vault: Vault) -> None:
    vault.publish("tool", b"echo 1\n")
    duplicate = vault.get("tool:1")
    with pytest.raises(StoreError, match="refused a write"), vault.store.write():
        vault.store.insert_version(duplicate)
    assert [v.version for v in vault.versions("tool")] == [1]


def test_versions_need_a_known_blob_and_tool(vault: Vault) -> None:
    vault.publish("tool", b"echo 1\n")
    orphan = vault.get("tool:1")
    with pytest.raises(StoreError, match="FOREIGN KEY"), vault.store.write():
        vault.store.insert_version(replace(orphan, version=2, sha256="0" * 64))
    with pytest.raises(StoreError, match="FOREIGN KEY"), vault.store.write():
        vault.store.insert_version(replace(orphan, name="ghost"))
    assert [v.version for v in vault.all_versions()] == [1]


def test_wal_mode_is_on(vault: Vault) -> None:
    with closing(sqlite3.connect(vault.home / "vault.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_integrity_check_is_ok(db: sqlite3.Connection, vault: Vault) -> None:
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert vault.store.integrity_check() == ["ok"]


def test_a_file_that_is_not_a_database_is_a_store_error(home: Path) -> None:
    home.mkdir()
    (home / "vault.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a database"):
        Vault.open(home)
