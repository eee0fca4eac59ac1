"""Schema migrations (SPEC §8): numbered, applied once, atomic, newer schemas refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from conftest import raw, run_together
from conftest import schema as vault_schema
from toolvault import SchemaTooNew, Vault
from toolvault.errors import StoreError
from toolvault.store.migrations import STEPS, Step
from toolvault.store.sqlite import SQLiteStore

EXTRA = Step(len(STEPS) + 1, "add_extra", "CREATE TABLE extra (x TEXT);")


def schema(path: Path) -> set[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as db:
        found = db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        return set(found.fetchall())


def recorded(path: Path) -> list[tuple[int, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(
            "SELECT id, name, applied_at FROM schema_migrations ORDER BY id"
        ).fetchall()


@contextmanager
def store(path: Path, steps: tuple[Step, ...] = STEPS) -> Iterator[SQLiteStore]:
    """A store opened *without* migrating, closed afterwards."""
    opened = SQLiteStore(path, steps)
    try:
        yield opened
    finally:
        opened.close()


def test_ids_are_numbered_in_order_and_names_are_unique() -> None:
    assert [s.id for s in STEPS] == list(range(1, len(STEPS) + 1))
    names = [s.name for s in STEPS]
    assert len(set(names)) == len(names)
    assert all(name.isidentifier() for name in names)


def test_a_fresh_vault_has_the_whole_schema(vault: Vault) -> None:
    # Later migrations add more; these are the ones the core depends on.
    assert vault_schema(vault) >= {
        ("table", "schema_migrations"),
        ("table", "tools"),
        ("table", "blobs"),
        ("table", "versions"),
        ("index", "versions_by_sha"),
        ("trigger", "versions_immutable_update"),
        ("trigger", "versions_immutable_delete"),
        ("trigger", "blobs_immutable_update"),
        ("trigger", "blobs_immutable_delete"),
    }
    rows = raw(vault, "SELECT id, name, applied_at FROM schema_migrations ORDER BY id")
    assert [(i, n) for i, n, _ in rows] == [(s.id, s.name) for s in STEPS]
    assert all(at for _, _, at in rows)
    assert [(m.id, m.name) for m in vault.migrations()] == [(s.id, s.name) for s in STEPS]
    assert all(m.applied_at for m in vault.migrations())


def test_opening_again_applies_nothing_twice(home: Path) -> None:
    with Vault.open(home) as vault:
        vault.publish("tool", b"echo 1\n")
    first = recorded(home / "vault.db")
    for _ in range(3):
        with Vault.open(home) as vault:
            assert vault.store.migrate() == []
            assert vault.cat("tool").content == b"echo 1\n"
    assert recorded(home / "vault.db") == first
    assert len(first) == len(STEPS)


def test_pending_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    with store(path) as fresh:
        assert fresh.pending() == list(STEPS)
        assert [m.applied_at for m in fresh.migrations()] == [None] * len(STEPS)
        assert fresh.applied() == {}
    assert schema(path) == set()

    with store(path) as current:
        current.migrate()
    before = path.read_bytes(), schema(path), recorded(path)
    with store(path, (*STEPS, EXTRA)) as newer:
        assert newer.pending() == [EXTRA]
        assert newer.migrations()[-1].applied_at is None
    assert (path.read_bytes(), schema(path), recorded(path)) == before


def test_a_new_migration_is_applied_once_with_its_record(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    with store(path, (*STEPS, EXTRA)) as newer:
        assert newer.migrate() == [*STEPS, EXTRA]
        assert newer.migrate() == []
        assert newer.pending() == []
    assert ("table", "extra") in schema(path)
    assert [i for i, _, _ in recorded(path)] == [*range(1, len(STEPS) + 2)]


def test_a_failing_migration_leaves_neither_its_changes_nor_its_record(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    broken = Step(len(STEPS) + 1, "broken", "CREATE TABLE half (x); CREATE TABLE (syntax error;")
    with store(path, (*STEPS, broken)) as newer, pytest.raises(StoreError):
        newer.migrate()
    assert ("table", "half") not in schema(path)
    assert [i for i, _, _ in recorded(path)] == [s.id for s in STEPS]
    with Vault.open(path.parent) as vault:  # the earlier steps were kept and still work
        assert vault.publish("tool", b"ok\n").version == 1


OPEN_AT_ONCE = """
import sys
from toolvault import Vault
print("ready", flush=True)
sys.stdin.readline()
with Vault.open(sys.argv[1]) as vault:
    print(sum(1 for m in vault.migrations() if m.applied_at), flush=True)
"""


def test_processes_opening_a_new_vault_at_once_migrate_it_once(home: Path) -> None:
    results = run_together(OPEN_AT_ONCE, *([str(home)] for _ in range(4)), timeout=60)
    assert results == [(0, f"{len(STEPS)}\n", "")] * 4
    assert [(i, n) for i, n, _ in recorded(home / "vault.db")] == [(s.id, s.name) for s in STEPS]


def test_a_database_from_a_newer_toolvault_is_refused(home: Path) -> None:
    with Vault.open(home) as vault:
        vault.publish("tool", b"echo 1\n")
    with closing(sqlite3.connect(home / "vault.db", isolation_level=None)) as db:
        db.execute(
            "INSERT INTO schema_migrations (id, name, applied_at) "
            "VALUES (999, 'from_the_future', '2030-01-01T00:00:00Z')"
        )
    with pytest.raises(SchemaTooNew) as info:
        Vault.open(home)
    message = str(info.value)
    assert "999 'from_the_future'" in message
    assert "newer toolvault" in message and "upgrade toolvault" in message
    assert str(home / "vault.db") in message
    with store(home / "vault.db") as raw:
        with pytest.raises(SchemaTooNew):
            raw.pending()
        with pytest.raises(SchemaTooNew):
            raw.migrate()
    assert len(recorded(home / "vault.db")) == len(STEPS) + 1


def test_a_renamed_migration_is_refused_too(home: Path) -> None:
    Vault.open(home).close()
    with closing(sqlite3.connect(home / "vault.db", isolation_level=None)) as db:
        db.execute("UPDATE schema_migrations SET name = 'something_else' WHERE id = 1")
    with pytest.raises(SchemaTooNew, match="migration 1 'something_else'"):
        Vault.open(home)
