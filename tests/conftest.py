"""Shared fixtures: every test gets its own toolvault home; vaults over both stores; raw
access to a vault's database, as someone with access to it (not through toolvault) has."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from toolvault import Vault
from toolvault.store.postgres import PostgresStore
from toolvault.store.sqlite import SQLiteStore


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The folder that ``TOOLVAULT_HOME`` points at during a test (not created)."""
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def _toolvault_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real ``~/.toolvault``."""
    monkeypatch.setenv("TOOLVAULT_HOME", str(home))
    monkeypatch.delenv("TOOLVAULT_URL", raising=False)
    monkeypatch.delenv("TOOLVAULT_OWNER", raising=False)
    monkeypatch.delenv("TOOLVAULT_DB", raising=False)


# Folders that pytest, hypothesis and the bytecode cache make where they run (ignored by git).
TOOLS_OWN = {".pytest_cache", ".hypothesis", "__pycache__"}


@pytest.fixture(autouse=True)
def _nothing_left_in_the_checkout() -> Iterator[None]:
    """Fail the very test that leaves a file or folder in the checkout (or the folder
    pytest runs in): scripts/test.sh would only see it after the whole run."""
    places = {Path(__file__).resolve().parents[1], Path.cwd()}
    before = {place: set(os.listdir(place)) for place in places}
    yield
    for place, names in before.items():
        left = set(os.listdir(place)) - names - TOOLS_OWN
        assert not left, f"the test left {sorted(left)} in {place}; write under tmp_path"


PG_URL = os.environ.get("TOOLVAULT_TEST_PG")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The store under test: every service test runs over SQLite and PostgreSQL."""
    if request.param == "postgres" and not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs PostgreSQL: run the tests through 'make test'")
        pytest.skip("no PostgreSQL: 'make test' starts one (or set TOOLVAULT_TEST_PG=URL)")
    return str(request.param)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh, empty schema, dropped afterwards."""
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs PostgreSQL: run the tests through 'make test'")
        pytest.skip("no PostgreSQL: 'make test' starts one (or set TOOLVAULT_TEST_PG=URL)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def vault(home: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Vault]:
    """A fresh vault in ``home`` over each backend, closed after the test.

    The PostgreSQL vault keeps a commands/ tree too (``commands_tree = true``), so
    that the same tests hold for both.
    """
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.toml").write_text("commands_tree = true\n")
        opened = Vault.open(home, db=url)
    else:
        opened = Vault.open(home)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_vault(home: Path) -> Iterator[Vault]:
    """A fresh SQLite vault, for what only SQLite has (WAL, PRAGMA checks, the file)."""
    with Vault.open(home) as opened:
        yield opened


class Raw:
    """A connection of its own to a vault's database (autocommit), as someone with
    access to the database has, behind the service's back.

    ``raw(sql, params)`` returns the rows, if any; placeholders are ``?`` for both
    stores. ``error`` is the base class of what the driver raises.
    """

    def __init__(self, vault: Vault) -> None:
        store = vault.store
        self.postgres = isinstance(store, PostgresStore)
        if isinstance(store, PostgresStore):
            import psycopg

            self.conn: Any = psycopg.connect(store.url, autocommit=True)
            self.error: type[Exception] = psycopg.Error
        else:
            assert isinstance(store, SQLiteStore)
            self.conn = sqlite3.connect(store.path, isolation_level=None)
            self.error = sqlite3.DatabaseError

    def __call__(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.postgres and params:
            sql = sql.replace("%", "%%").replace("?", "%s")
        cursor = self.conn.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def __enter__(self) -> Raw:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.conn.close()


def raw(vault: Vault, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a connection of its own (committed); its rows, if any."""
    with Raw(vault) as run:
        return run(sql, params)


def drop_triggers(vault: Vault, table: str) -> None:
    """Drop the triggers that keep ``table`` append-only, to tamper behind their back."""
    on = f" ON {table}" if isinstance(vault.store, PostgresStore) else ""
    with Raw(vault) as run:
        for trigger in (f"{table}_immutable_update", f"{table}_immutable_delete"):
            run(f"DROP TRIGGER IF EXISTS {trigger}{on}")


SCHEMA_SQLITE = "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
SCHEMA_POSTGRES = """
SELECT 'table', table_name::text FROM information_schema.tables
WHERE table_schema = current_schema()
UNION ALL
SELECT 'index', indexname::text FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL
SELECT 'trigger', t.tgname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal
"""


def schema(vault: Vault) -> set[tuple[str, str]]:
    """(type, name) of every table, index and trigger of the vault's database."""
    postgres = isinstance(vault.store, PostgresStore)
    return set(raw(vault, SCHEMA_POSTGRES if postgres else SCHEMA_SQLITE))


def dump(vault: Vault) -> list[Any]:
    """The schema and every row of every table, to prove that a refused write wrote nothing."""
    objects = schema(vault)
    tables = sorted(name for kind, name in objects if kind == "table")
    with Raw(vault) as run:
        rows = [(t, *row) for t in tables for row in run(f"SELECT * FROM {t}")]
    return [*sorted(objects), *sorted(rows, key=repr)]


def run_together(
    script: str, *argvs: list[str], timeout: float = 120
) -> list[tuple[int, str, str]]:
    """Start one process per argv, wait until every one has imported toolvault, then
    let them all go at once; (returncode, stdout, stderr) of each."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=timeout) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]


# -- one real daemon per module ------------------------------------------------------
# `toolvault serve` on a home of its own, with alice's token; a module lists the tools to
# publish first as DAEMON_TOOLS: (name, content, fields of Daemon.publish). A module
# that needs another daemon (tokens of several principals, a shared home) defines its own.


@pytest.fixture(scope="module")
def daemon_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("daemon") / "home"


@pytest.fixture(scope="module")
def token(daemon_home: Path) -> str:
    from test_server import make_token

    return make_token(daemon_home, "alice")


@pytest.fixture(scope="module")
def daemon(request: pytest.FixtureRequest, daemon_home: Path, token: str) -> Iterator[Any]:
    from test_server import Daemon

    running = Daemon(daemon_home)
    try:
        for name, content, fields in getattr(request.module, "DAEMON_TOOLS", ()):
            assert running.publish(token, name, content, **fields).status_code == 200
        yield running
    finally:
        running.stop()


@pytest.fixture
def current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder ``project`` made the current one: the one place a run (MCP's, the
    sandbox's) may write its mark."""
    here = tmp_path / "project"
    here.mkdir()
    monkeypatch.chdir(here)
    return here
