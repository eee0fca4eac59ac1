"""A real ``toolvault mcp`` subprocess driven by the SDK's stdio client: search, context,
publish on a base_ref, lineage; the vault checked afterwards with the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from mcp import Client, StdioServerParameters

from mcp_helpers import PY, ok, refused, run
from toolvault.cli import cli
from toolvault.vault import Vault


def tv(home: Path, *args: str, input: str | None = None) -> Any:
    result = CliRunner().invoke(cli, ["--home", str(home), *args, "--json"], input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_agent_over_stdio_searches_reads_improves_and_the_vault_holds(home: Path) -> None:
    source = home.parent / "csv-sum"
    source.write_text(PY)
    tv(home, "add", str(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "toolvault", "--home", str(home), "mcp"],
        env=env,
    )

    async def body() -> dict[str, Any]:
        async with Client(params) as client:
            (found,) = (await ok(client, "search_tools", query="csv column"))["results"]
            context = await ok(client, "get_context", specs=[found["name"]])
            base = context["versions"][0]["ref"]
            assert base == found["ref"] and "Sum a column" in context["markdown"]
            improved = context["versions"][0]["content"] + "print('blank rows skipped')\n"
            made = await ok(
                client,
                "publish",
                name="csv-sum",
                content=improved,
                base_ref=base,
                references=[base],
                message="skip blank rows",
                prompt="make csv-sum skip blank rows",
            )
            stale = await refused(
                client, "publish", name="csv-sum", content="#!/bin/sh\n", base_ref=base
            )
            graph = await ok(client, "lineage", spec="csv-sum")
        return {"base": base, "made": made, "stale": stale, "graph": graph}

    got = run(body)
    assert got["stale"]["code"] == "stale_base"
    assert got["made"]["version"] == 2
    assert [e["to"] for e in got["graph"]["edges"]] == [got["base"]]
    shown = tv(home, "show", "csv-sum")
    assert shown["ref"] == got["made"]["ref"]
    assert (shown["message"], shown["references"]) == ("skip blank rows", [got["base"]])
    assert [v["version"] for v in tv(home, "versions", "csv-sum")] == [1, 2]
    assert tv(home, "verify")["ok"] is True


def test_over_a_daemon_through_toolvault_url_with_the_daemons_rules(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from test_server import Daemon, make_token

    daemon_home, client_home = tmp_path / "daemon", tmp_path / "client"
    alice, bob = make_token(daemon_home, "alice"), make_token(daemon_home, "bob")
    daemon = Daemon(daemon_home)
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)  # the server's folder: where a run may write

    def server(token: str) -> StdioServerParameters:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
        env |= {"TOOLVAULT_URL": daemon.url, "TOOLVAULT_TOKEN": token}
        argv = ["-m", "toolvault", "--home", str(client_home), "mcp"]
        return StdioServerParameters(command=sys.executable, args=argv, env=env, cwd=folder)

    async def body() -> dict[str, Any]:
        got: dict[str, Any] = {}
        async with Client(server(alice)) as client:
            made = await ok(client, "publish", name="csv-sum", content=PY)
            context = await ok(client, "get_context", specs=["csv-sum"], max_bytes=20)
            got["context"] = context["versions"][0]
            got["two"] = await ok(
                client, "publish", name="csv-sum", content=PY + "print(2)\n", base_ref=made["ref"]
            )
            got["stale"] = await refused(
                client, "publish", name="csv-sum", content=PY + "#\n", base_ref=made["ref"]
            )
            got["ran"] = await ok(client, "run", spec="csv-sum")
        async with Client(server(bob)) as client:
            got["foreign"] = await refused(
                client, "publish", name="csv-sum", content=PY, base_ref=got["two"]["ref"]
            )
            daemon.stop()
            got["away"] = await refused(client, "list_tools")
        return got

    try:
        got = run(body)
    finally:
        daemon.stop()
    assert (got["context"]["truncated"], got["context"]["omitted_bytes"]) == (True, len(PY) - 20)
    assert got["two"]["version"] == 2 and got["stale"]["code"] == "stale_base"
    assert got["stale"]["details"]["current"]["ref"] == got["two"]["ref"]
    assert (got["ran"]["stdout"], got["ran"]["ref"]) == ("1\n2\n", got["two"]["ref"])
    assert got["foreign"]["code"] == "forbidden"
    assert got["away"]["code"] == "unreachable"
    with Vault.open(daemon_home) as vault:
        assert [v.created_by for v in vault.versions("csv-sum")] == ["alice", "alice"]
    assert not client_home.exists() or not (client_home / "vault.db").exists()


def test_content_a_daemon_serves_against_its_hash_is_integrity_and_never_runs(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import hashlib
    import sqlite3

    from test_server import Daemon, make_token

    home = tmp_path / "daemon"
    token = make_token(home, "alice")
    sha = tv(home, "add", "-", "--name", "t", input="#!/bin/sh\necho good\n")[0]["sha256"]
    evil = b"#!/bin/sh\necho evil > evil-was-here\n"
    with sqlite3.connect(home / "vault.db", isolation_level=None) as db:
        db.execute("DROP TRIGGER blobs_immutable_update")
        db.execute("UPDATE blobs SET content = ? WHERE sha256 = ?", (evil, sha))
    db.close()
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    daemon = Daemon(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    env |= {"TOOLVAULT_URL": daemon.url, "TOOLVAULT_TOKEN": token}
    argv = ["-m", "toolvault", "--home", str(tmp_path / "client"), "mcp"]
    params = StdioServerParameters(command=sys.executable, args=argv, env=env, cwd=folder)

    async def body() -> list[dict[str, Any]]:
        async with Client(params) as client:
            return [
                await refused(client, "get_context", specs=["t"]),
                await refused(client, "run", spec="t"),
            ]

    try:
        context, ran = run(body)
    finally:
        daemon.stop()
    found = hashlib.sha256(evil).hexdigest()
    for error in (context, ran):
        assert error["code"] == "integrity"
        assert error["details"] == {"ref": f"t:1@sha256:{sha}", "expected": sha, "found": found}
    assert not (folder / "evil-was-here").exists()
