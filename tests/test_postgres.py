"""What only the PostgreSQL store has to show (issue 5, item 4): the database itself
refuses to change the past, daemons opening one database at once migrate it once, a
newer schema is refused, publishers in several processes get consecutive versions,
and a bad URL is one line that never shows its password.

The behaviour both stores share runs over both through the ``vault`` fixture; these
need a real PostgreSQL (``make test`` starts one, or set TOOLVAULT_TEST_PG=URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import dump, raw, run_together
from test_cli import assert_one_line_error, tv
from toolvault import SchemaTooNew, Vault
from toolvault.store.migrations import STEPS
from toolvault.store.postgres import PostgresStore, redact

SECRET = "s3cret-pw"
PROGRAM = [sys.executable, "-m", "toolvault"]  # what the console script runs


@pytest.fixture
def history(home: Path, pg_url: str) -> Iterator[Vault]:
    """A PostgreSQL vault where 'tool' has versions 1..3, a label, and 3 yanked."""
    with Vault.open(home, db=pg_url) as vault:
        for n in (1, 2, 3):
            vault.publish("tool", f"echo {n}\n".encode())
        vault.label("tool:2", "stable")
        vault.yank("tool:3", "broken")
        yield vault


@pytest.mark.parametrize(
    ("statement", "params", "refusal"),
    [
        ("UPDATE versions SET message = 'rewritten' WHERE version = 1", (), "immutable"),
        ("UPDATE versions SET version = 9 WHERE version = 1", (), "immutable"),
        ("DELETE FROM versions WHERE version = 1", (), "immutable"),
        ("TRUNCATE versions CASCADE", (), "immutable"),
        ("UPDATE blobs SET content = ?", (b"evil",), "immutable"),
        ("DELETE FROM blobs", (), "immutable"),
        ("TRUNCATE blobs CASCADE", (), "immutable"),
        ("UPDATE audit SET actor = 'mallory' WHERE seq = 2", (), "append-only"),
        ("DELETE FROM audit WHERE seq = 1", (), "append-only"),
        ("TRUNCATE audit", (), "append-only"),
        ("UPDATE yanks SET reason = 'fine'", (), "permanent"),
        ("DELETE FROM yanks", (), "permanent"),
        ("TRUNCATE yanks", (), "permanent"),
    ],
)
def test_the_database_refuses_to_change_the_past(
    history: Vault, statement: str, params: tuple[object, ...], refusal: str
) -> None:
    import psycopg

    before = dump(history)
    with pytest.raises(psycopg.Error, match=refusal):
        raw(history, statement, params)
    assert dump(history) == before
    assert history.verify().ok


OPEN_AT_ONCE = """
import sys
from toolvault import Vault
print("ready", flush=True)
sys.stdin.readline()
with Vault.open(sys.argv[1], db=sys.argv[2]) as vault:
    print(sum(1 for m in vault.migrations() if m.applied_at), flush=True)
"""


def test_daemons_opening_a_new_database_at_once_migrate_it_once(
    tmp_path: Path, pg_url: str
) -> None:
    homes = [str(tmp_path / f"daemon{i}") for i in range(4)]  # one machine each
    results = run_together(OPEN_AT_ONCE, *([home, pg_url] for home in homes))
    assert results == [(0, f"{len(STEPS)}\n", "")] * 4
    with Vault.open(homes[0], db=pg_url) as vault:
        rows = raw(vault, "SELECT id, name FROM schema_migrations ORDER BY id")
        assert rows == [(s.id, s.name) for s in STEPS]
        assert vault.publish("tool", b"echo 1\n").version == 1


def test_a_database_from_a_newer_toolvault_is_refused(
    home: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Vault.open(home, db=pg_url) as vault:
        vault.publish("tool", b"echo 1\n")
        raw(
            vault,
            "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)",
            (999, "from_the_future", "2030-01-01T00:00:00Z"),
        )
    with pytest.raises(SchemaTooNew) as info:
        Vault.open(home, db=pg_url)
    message = str(info.value)
    assert "999 'from_the_future'" in message and "upgrade toolvault" in message
    assert redact(pg_url) in message
    with pytest.raises(SchemaTooNew):
        PostgresStore.open(pg_url, migrate=False)

    monkeypatch.setenv("TOOLVAULT_DB", pg_url)
    result = tv("ls")
    assert result.exit_code == 1
    assert_one_line_error(result, "newer toolvault")


PUBLISH_AT_ONCE = """
import sys
from toolvault import Vault
home, url, worker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
print("ready", flush=True)
sys.stdin.readline()
with Vault.open(home, db=url) as vault:
    for i in range(count):
        vault.publish("shared", f"echo {worker} {i}\\n".encode())
"""


def test_processes_publishing_at_once_get_consecutive_versions(tmp_path: Path, pg_url: str) -> None:
    workers, each = 4, 50
    Vault.open(tmp_path / "setup", db=pg_url).close()  # migrated before the race
    argvs = [[str(tmp_path / f"w{w}"), pg_url, str(w), str(each)] for w in range(workers)]
    for w in range(workers):  # several writers to one PostgreSQL sign with one vault key
        (tmp_path / f"w{w}").mkdir()
        (tmp_path / f"w{w}" / "config.toml").write_text(f'checkpoint_key = "{tmp_path}/vault.pem"')
    assert run_together(PUBLISH_AT_ONCE, *argvs) == [(0, "", "")] * workers

    with Vault.open(tmp_path / "check", db=pg_url) as vault:
        versions = vault.versions("shared")
        assert [v.version for v in versions] == list(range(1, workers * each + 1))
        texts = [vault.cat(f"shared:{v.version}").text for v in versions]
        assert vault.verify().ok
        assert [e.version for e in vault.audit("shared")] == list(range(1, workers * each + 1))
    for w in range(workers):  # each worker's publishes landed in the order it made them
        mine = [t for t in texts if t.startswith(f"echo {w} ")]
        assert mine == [f"echo {w} {i}\n" for i in range(each)]


def test_cat_reads_the_database_that_toolvault_db_names(home: Path, pg_url: str) -> None:
    with Vault.open(home) as local:  # an older local vault in the same home
        local.publish("tool", b"echo local\n")
    with Vault.open(home, db=pg_url) as shared:
        shared.publish("tool", b"echo shared\n")
    env = {**os.environ, "TOOLVAULT_DB": pg_url}
    cat = subprocess.run([*PROGRAM, "cat", "tool"], env=env, capture_output=True)
    assert (cat.returncode, cat.stdout, cat.stderr) == (0, b"echo shared\n", b"")


def test_a_database_that_cannot_be_reached_is_one_line() -> None:
    env = {**os.environ, "TOOLVAULT_DB": "postgresql://127.0.0.1:1/x"}
    result = subprocess.run([*PROGRAM, "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("toolvault: error: cannot connect to database ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "postgresql://127.0.0.1:1/x" in result.stderr


def test_a_url_that_is_not_postgresql_is_a_usage_error() -> None:
    env = {**os.environ, "TOOLVAULT_DB": f"mysql://admin:{SECRET}@db.example/tools"}
    result = subprocess.run([*PROGRAM, "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("toolvault: error: unsupported database URL mysql://")
    assert result.stderr.count("\n") == 1 and SECRET not in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://admin:{SECRET}@127.0.0.1:1/tools",
        f"postgresql://:{SECRET}@127.0.0.1:1/tools",
        f"postgresql://admin@127.0.0.1:1/tools?password={SECRET}",
        f"postgresql://admin:{SECRET}%zz@127.0.0.1:1/tools",  # libpq quotes the bad token
        f"postgresql://admin:{SECRET}@[::1/tools",  # libpq quotes the whole URL
        f"postgresql://admin:{SECRET}@127.0.0.1:port/tools",
    ],
)
def test_the_password_in_a_url_never_appears(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLVAULT_DB", url)
    result = tv("ls")
    assert result.exit_code == 1
    assert_one_line_error(result, "cannot connect to database postgresql://")
    assert SECRET not in result.output
    assert "***" in result.stderr
