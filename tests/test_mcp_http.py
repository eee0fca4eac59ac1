"""The daemon's /mcp over streamable HTTP with real tokens (SPEC §12): the REST API's
permission rules exactly, DNS-rebinding protection, and a list-changed notification
after another process publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_helpers import SH, ok, refused, run
from test_server import Daemon, make_token
from toolvault.vault import Vault


@pytest.fixture(scope="module")
def daemon_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp-daemon") / "home"


@pytest.fixture(scope="module")
def tokens(daemon_home: Path) -> dict[str, str]:
    return {
        "alice": make_token(daemon_home, "alice"),
        "bob": make_token(daemon_home, "bob"),
        "reader": make_token(daemon_home, "reader", "--read-only"),
    }


@pytest.fixture(scope="module")
def daemon(daemon_home: Path, tokens: dict[str, str]) -> Iterator[Daemon]:
    running = Daemon(daemon_home)
    yield running
    running.stop()


@asynccontextmanager
async def mcp_client(daemon: Daemon, token: str | None, **kw: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(f"{daemon.url}/mcp", http_client=http)
        async with Client(transport, **kw) as client:
            yield client


def test_no_token_or_a_wrong_one_is_401_with_the_one_error_body(daemon: Daemon) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    for headers in ({}, {"Authorization": "Bearer tv_nope"}):
        answer = daemon.http.post("/mcp", json=ping, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "unauthorized"


def test_a_foreign_host_header_is_refused(daemon: Daemon, tokens: dict[str, str]) -> None:
    headers = {
        "Authorization": f"Bearer {tokens['alice']}",
        "Host": "attacker.example:80",
        "Accept": "application/json, text/event-stream",
    }
    init = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    answer = httpx.post(f"{daemon.url}/mcp", json=init, headers=headers)
    assert answer.status_code == 421


def test_owners_maintainers_admin_and_read_only_tokens_as_the_rest_api(
    daemon: Daemon, daemon_home: Path, tokens: dict[str, str]
) -> None:
    async def body() -> dict[str, Any]:
        async with mcp_client(daemon, tokens["alice"]) as alice:
            made = await ok(alice, "publish", name="alices", content=SH)
        async with mcp_client(daemon, tokens["bob"]) as bob:
            seen = await ok(bob, "describe", spec="alices")
            assert seen["ref"] == made["ref"]
            foreign = await refused(
                bob, "publish", name="alices", content=SH + "#\n", base_ref=made["ref"]
            )
            label = await refused(bob, "label", spec="alices:1", label="stable")
        async with mcp_client(daemon, tokens["reader"]) as reader:
            assert (await ok(reader, "list_versions", name="alices"))["latest_ref"] == made["ref"]
            read_only = await refused(reader, "publish", name="readers", content=SH)
        return {"foreign": foreign, "label": label, "read_only": read_only}

    found = run(body)
    assert {k: v["code"] for k, v in found.items()} == dict.fromkeys(found, "forbidden")
    assert "alice" in found["foreign"]["message"]
    with Vault.open(daemon_home) as vault:
        assert [v.version for v in vault.versions("alices")] == [1]
        assert vault.get("alices").created_by == "alice"
        assert vault.labels("alices") == []


def test_a_session_is_bound_to_the_token_that_opened_it(
    daemon: Daemon, tokens: dict[str, str]
) -> None:
    headers = {
        "Authorization": f"Bearer {tokens['alice']}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    opened = daemon.http.post("/mcp", json=init, headers=headers)
    assert opened.status_code == 200
    session = opened.headers["mcp-session-id"]
    bobs = {**headers, "Authorization": f"Bearer {tokens['bob']}", "mcp-session-id": session}
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert daemon.http.post("/mcp", json=ping, headers=bobs).status_code == 404


def test_another_process_publishing_is_announced(
    daemon: Daemon, daemon_home: Path, tokens: dict[str, str]
) -> None:
    async def body() -> list[str]:
        async with (
            mcp_client(daemon, tokens["alice"]) as client,
            client.listen(resources_list_changed=True) as sub,
        ):
            with anyio.fail_after(20):
                answer = daemon.publish(tokens["bob"], "bobs-tool", SH)  # the REST API
                assert answer.status_code == 200, answer.text
                event = await sub.__anext__()
            listed = await ok(client, "list_tools")
        assert type(event).__name__ == "ResourcesListChanged"
        return [t["name"] for t in listed["tools"]]

    assert "bobs-tool" in run(body)


def test_public_read_serves_reads_without_a_token_and_refuses_writes(tmp_path: Path) -> None:
    home = tmp_path / "public"
    token = make_token(home, "alice")
    daemon = Daemon(home, "--public-read")
    try:

        async def body() -> dict[str, Any]:
            async with mcp_client(daemon, token) as alice:
                await ok(alice, "publish", name="shared", content=SH)
            async with mcp_client(daemon, None) as anyone:
                listed = await ok(anyone, "list_tools")
                assert [t["name"] for t in listed["tools"]] == ["shared"]
                return await refused(anyone, "publish", name="anon", content=SH)

        assert run(body)["code"] == "unauthorized"
    finally:
        daemon.stop()


def test_a_maintainer_publishes_to_another_owners_tool_and_labels_it(
    daemon: Daemon, daemon_home: Path, tokens: dict[str, str]
) -> None:
    carol = make_token(daemon_home, "carol")

    async def body() -> dict[str, Any]:
        async with mcp_client(daemon, tokens["alice"]) as alice:
            made = await ok(alice, "publish", name="shared-fmt", content=SH)
        granted = daemon.call(
            "POST", "/v1/tools/shared-fmt/grants", tokens["alice"], json={"principal": "bob"}
        )
        assert granted.status_code == 200, granted.text
        async with mcp_client(daemon, tokens["bob"]) as bob:
            two = await ok(
                bob, "publish", name="shared-fmt", content=SH + "# bob\n", base_ref=made["ref"]
            )
            await ok(bob, "label", spec="shared-fmt:2", label="stable")
        async with mcp_client(daemon, carol) as stranger:
            refusal = await refused(
                stranger, "publish", name="shared-fmt", content=SH + "# c\n", base_ref=two["ref"]
            )
        return {"two": two, "refusal": refusal}

    got = run(body)
    assert got["two"]["version"] == 2
    assert (got["refusal"]["code"], got["refusal"]["details"]["needs"]) == (
        "forbidden",
        "maintainer",
    )
    with Vault.open(daemon_home) as vault:
        assert vault.get("shared-fmt").ref == got["two"]["ref"]
        assert vault.get("shared-fmt").created_by == "bob"
        assert vault.get("shared-fmt:stable").version == 2
        assert vault.tool("shared-fmt").owner == "alice"


def test_with_mcp_run_the_daemon_runs_in_an_empty_folder_without_network_for_writers(
    daemon: Daemon, tokens: dict[str, str], tmp_path: Path
) -> None:
    async def listed() -> set[str]:
        async with mcp_client(daemon, tokens["alice"]) as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert "run" not in run(listed)  # not without [mcp] run = true: it runs on this machine
    home = tmp_path / "runs"
    alice = make_token(home, "alice")
    reader = make_token(home, "reader", "--read-only")
    (home / "config.toml").write_text("[mcp]\nrun = true\n")
    runs = Daemon(home, "--public-read")  # with run = true
    probe = '#!/bin/sh\npwd; ls -A; ls -A "$1" 2>/dev/null; echo done\n'
    try:

        async def body() -> dict[str, Any]:
            async with mcp_client(runs, alice) as client:
                await ok(client, "publish", name="probe", content=probe)
                ran = await ok(client, "run", spec="probe", args=[str(home)])
                net = await refused(client, "run", spec="probe", net=True)
            async with mcp_client(runs, reader) as client:
                read_only = await refused(client, "run", spec="probe")
            async with mcp_client(runs, None) as client:
                anyone = await refused(client, "run", spec="probe")
            return {"ran": ran, "net": net, "read_only": read_only, "anyone": anyone}

        got = run(body)
    finally:
        runs.stop()
    folder, *rest = got["ran"]["stdout"].splitlines()
    assert folder.startswith("/") and "toolvault-mcp-run-" in folder
    assert rest == ["done"], got["ran"]  # an empty folder; the vault's home shows nothing
    assert not Path(folder).exists()  # removed after the run
    assert got["ran"]["exit_code"] == 0 and got["ran"]["ref"].startswith("probe:1@sha256:")
    assert (got["net"]["code"], got["net"]["details"]) == ("forbidden", {"net": True})
    assert got["read_only"]["code"] == "forbidden"
    assert got["read_only"]["details"]["read_only"] is True
    assert got["anyone"]["code"] == "unauthorized"


def test_a_bad_mcp_run_setting_stops_the_daemon_from_starting(home: Path) -> None:
    from toolvault.errors import InvalidInput
    from toolvault.server.app import create_app

    home.mkdir(parents=True)
    (home / "config.toml").write_text('[mcp]\nrun = "yes"\n')
    with (
        Vault.open(home, create=True) as vault,
        pytest.raises(InvalidInput, match=r"\[mcp\] run must be true or false"),
    ):
        create_app(vault)
