"""``refs SPEC --depth N|all`` on a PostgreSQL vault (``TOOLVAULT_DB``) on the fast path
(issue 14): byte for byte what the full command line prints on the same vault, without
loading click; anything else falls back, having printed nothing."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import PG_URL
from test_fastcli_remote import FMT1, SERVED, publish_graphs
from test_layering import loaded_modules, top
from toolvault import Vault
from toolvault.cli import cli
from toolvault.fastcli import serve


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A home and a PostgreSQL vault (a fresh schema) with every shape of graph."""
    if not PG_URL:
        pytest.skip("no PostgreSQL: 'make test' starts one (or set TOOLVAULT_TEST_PG=URL)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    home = tmp_path_factory.mktemp("pg-refs") / "home"
    try:
        with Vault.open(home, db=url) as vault:
            publish_graphs(vault)
        yield home, url
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _use(home: Path | str, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLVAULT_HOME", str(home))
    monkeypatch.setenv("TOOLVAULT_DB", url)
    monkeypatch.delenv("TOOLVAULT_URL", raising=False)


def _click(argv: list[str]) -> str:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, (argv, result.output, result.exception)
    return result.stdout


@pytest.mark.parametrize("argv", SERVED, ids=" ".join)
def test_each_graph_is_what_the_full_command_line_prints(
    pg: tuple[Path, str],
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home, url = pg
    argv = [a.replace("{fmt1}", FMT1[:12]) for a in argv]
    _use(home, url, monkeypatch)
    full = _click(argv)
    capsys.readouterr()
    assert serve(argv) is True, "not served by the fast path"
    assert capsys.readouterr().out == full


def test_the_command_loads_no_click(pg: tuple[Path, str], tmp_path: Path) -> None:
    home, url = pg
    argv = ["refs", "top", "--depth", "all", "--json"]
    code = (
        f"import sys; sys.argv = ['toolvault', *{argv!r}]\nfrom toolvault.main import main\nmain()"
    )
    env = {**os.environ, "TOOLVAULT_HOME": str(home), "TOOLVAULT_DB": url}
    found, printed = loaded_modules(code, tmp_path, env)
    assert not top(found) & {"click", "toolvault.cli", "toolvault.vault", "toolvault.store"}
    assert not found & {"toolvault.cli", "toolvault.vault", "toolvault.store.postgres"}
    assert b'"root": "top:1@sha256:' in printed


@pytest.mark.parametrize(
    ("argv", "db", "home"),
    [
        (["refs", "nope", "--depth", "all"], None, None),  # the full path explains
        (["refs", "top:9", "--depth", "all", "--json"], None, None),
        (["refs", "top:0", "--depth", "all"], None, None),
        (["refs", "top", "--depth", "x"], None, None),
        (["refs", "top"], None, None),  # one level: not this path's
        (["show", "top"], None, None),
        (["refs", "top", "--depth", "all"], None, "{tmp}/new"),  # the full path makes it
        (["refs", "top", "--depth", "all"], "mysql://127.0.0.1/x", None),
        (["refs", "top", "--depth", "all"], "postgresql://127.0.0.1:{closed}/x", None),
        (["refs", "top", "--depth", "all"], "{base}{sep}options=-csearch_path%3Dnowhere", None),
    ],
    ids=lambda x: " ".join(x) if isinstance(x, list) else str(x),
)
def test_anything_else_falls_back_having_printed_nothing(
    pg: tuple[Path, str],
    argv: list[str],
    db: str | None,
    home: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vault_home, url = pg
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    sep = "&" if "?" in str(PG_URL) else "?"
    where = (db or url).format(base=PG_URL, sep=sep, closed=closed)
    _use((home or str(vault_home)).format(tmp=tmp_path), where, monkeypatch)
    capsys.readouterr()
    assert serve(argv) is False
    assert capsys.readouterr() == ("", "")
    _use(vault_home, url, monkeypatch)  # the same vault serves the plain case
    assert serve(["refs", "top", "--depth", "all"]) is True
