"""``toolvault status``: the home, database, schema, counts, last write, PATH and daemon,
in text and JSON, over both stores — and nothing written."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from test_cli import ok, tv
from test_completion import snapshot
from test_server import Daemon
from toolvault import Vault
from toolvault.store.migrations import STEPS


def status_json(*args: str) -> Any:
    return json.loads(ok(*args, "status", "--json").stdout)


def fill(vault: Vault) -> None:
    """Three tools, four versions, three distinct contents, a label."""
    vault.publish("fmt", "#!/bin/sh\necho one\n")
    vault.publish("fmt", "#!/bin/sh\necho two\n")
    vault.publish("lint", "#!/bin/sh\necho one\n")  # the same content as fmt:1: one blob
    vault.publish("tidy", "#!/bin/sh\necho tidy\n")
    vault.label("fmt:1", "stable")


def test_status_reports_the_vault(
    vault: Vault, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(vault)
    if backend == "postgres":
        monkeypatch.setenv("TOOLVAULT_DB", request.getfixturevalue("pg_url"))
    seq, _, at = vault.store.audit_head()
    data = status_json()
    assert data["home"] == str(vault.home)
    assert data["dialect"] == backend
    assert data["schema"] == {"version": len(STEPS), "pending": []}
    assert data["counts"] == {"tools": 3, "versions": 4, "blobs": 3, "audit": 5}
    assert data["last_write"] == {"seq": seq, "at": at}
    assert seq == 5
    assert data["checkpoint"] == {"seq": seq}  # each write signs the new head
    assert data["commands"] == {"path": str(vault.home / "commands"), "on_path": False}
    assert data["daemon"] is None
    if backend == "postgres":
        assert "password" not in data["database"] and data["database"].startswith("postgres")
    else:
        assert data["database"] == str(vault.home / "vault.db")


def test_status_in_text(sqlite_vault: Vault) -> None:
    fill(sqlite_vault)
    lines = ok("status").stdout.splitlines()
    fields = {line[:11].strip(): line[12:] for line in lines}
    assert fields["database"] == f"{sqlite_vault.home / 'vault.db'} (sqlite)"
    assert fields["schema"] == f"version {len(STEPS)}, up to date"
    assert (fields["tools"], fields["versions"], fields["blobs"]) == ("3", "4", "3")
    assert fields["audit"] == "5 entries"
    assert fields["last write"].startswith("audit #5 at ")
    assert fields["last write"].endswith("; newest signed checkpoint #5")
    commands = sqlite_vault.home / "commands"
    assert fields["commands"] == f'{commands} (not on PATH: export PATH="{commands}:$PATH")'
    assert fields["daemon"] == "none (TOOLVAULT_URL is not set)"


def test_status_writes_nothing(sqlite_vault: Vault, home: Path) -> None:
    fill(sqlite_vault)
    sqlite_vault.close()
    before = snapshot(home)
    ok("status")
    ok("status", "--json")
    assert snapshot(home) == before


def test_a_new_vault_has_no_last_write(home: Path) -> None:
    with Vault.open(home):
        pass
    data = status_json()
    assert data["counts"] == {"tools": 0, "versions": 0, "blobs": 0, "audit": 0}
    assert data["last_write"] is None
    assert "last write  none yet" in ok("status").stdout


def test_status_reports_pending_migrations_and_applies_none(
    sqlite_vault: Vault, home: Path
) -> None:
    fill(sqlite_vault)
    sqlite_vault.close()
    last = STEPS[-1]
    with sqlite3.connect(home / "vault.db") as con:
        con.execute("DELETE FROM schema_migrations WHERE id = ?", (last.id,))
    data = status_json()
    assert data["schema"] == {"version": last.id - 1, "pending": [last.name]}
    assert f"1 pending ({last.name}; 'toolvault db migrate' applies them)" in ok("status").stdout
    with sqlite3.connect(home / "vault.db") as con:
        ids = [r[0] for r in con.execute("SELECT id FROM schema_migrations")]
    assert last.id not in ids  # still pending


def test_commands_on_path(
    sqlite_vault: Vault, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = home / "commands"
    monkeypatch.setenv("PATH", f"/usr/bin:{commands}:/bin")
    assert status_json()["commands"]["on_path"] is True
    link = tmp_path / "bin-link"
    link.symlink_to(commands)
    monkeypatch.setenv("PATH", f"/usr/bin:{link}")  # the same folder through a link
    assert status_json()["commands"]["on_path"] is True
    assert "(on PATH)" in ok("status").stdout
    monkeypatch.setenv("PATH", f"/usr/bin:{commands}/.history")
    assert status_json()["commands"]["on_path"] is False


def test_no_vault_is_an_error_and_creates_nothing(home: Path) -> None:
    result = tv("status")
    assert result.exit_code == 1
    assert result.stderr.startswith("toolvault: error: no vault at ")
    assert "toolvault init" in result.stderr and result.stderr.count("\n") == 1
    assert not home.exists()


def test_a_damaged_vault_is_one_line(home: Path) -> None:
    home.mkdir()
    (home / "vault.db").write_bytes(b"not a database" * 200)
    result = tv("status")
    assert result.exit_code != 0 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("toolvault: error: ") and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Any:
    running = Daemon(tmp_path_factory.mktemp("daemon") / "home")
    yield running
    running.stop()


def test_status_names_the_daemon_and_reads_no_local_vault(
    daemon: Daemon, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    data = status_json()
    assert data["daemon"] == {"url": daemon.url, "reachable": True, "problem": None}
    assert data["database"] is None and data["counts"] is None
    assert f"daemon      {daemon.url} (TOOLVAULT_URL; answers)" in ok("status").stdout
    assert not home.exists()  # no local vault made or read


def test_status_says_when_the_daemon_does_not_answer(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("TOOLVAULT_URL", url)
        data = status_json()
    assert data["daemon"]["reachable"] is False
    assert data["daemon"]["problem"].startswith("not reachable: ")
    assert not home.exists()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:4242", "http://"])
def test_a_malformed_daemon_url_is_invalid_input(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLVAULT_URL", url)
    result = tv("status")
    assert result.exit_code == 2
    assert "TOOLVAULT_URL" in result.stderr and result.stderr.count("\n") == 1


def test_status_in_help() -> None:
    assert "status" in ok("--help").stdout
