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
