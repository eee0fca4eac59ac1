"""Shared fixtures: every test gets its own toolvault home."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolvault import Vault


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
