"""``GET /v1/tools`` and ``GET /v1/audit`` a page at a time (the service calls the web UI's
pages make), the remote client's pages, and the audit page's log, chain state and last
verify report over HTTP: a real ``toolvault serve`` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from test_server import Daemon
from toolvault import Vault
from toolvault.client import RemoteVault
from toolvault.lastverify import FILENAME


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve tools (three owners, a label, lifecycles), some audit entries; tokens."""
    where = tmp_path_factory.mktemp("listings") / "home"
    with Vault.open(where) as vault:
        for i in range(12):
            vault.publish(
                f"t{i:02d}", f"#!/bin/sh\necho {i}\n", owner=("alice", "bob", "carol")[i % 3]
            )
        vault.label("t03:1", "stable")
        vault.label("t07:1", "stable")
        vault.set_lifecycle("t05", "retired")
        vault.set_lifecycle("t06", "deprecated")
        vault.create_token("alice", admin=True)
    return where


@pytest.fixture(scope="module")
def token(home: Path) -> str:
    with Vault.open(home) as vault:
        return vault.create_token("reader", read_only=True)[1]


@pytest.fixture(scope="module")
def daemon(home: Path, token: str) -> Iterator[Daemon]:
    running = Daemon(home)
    yield running
    running.stop()


def get(daemon: Daemon, token: str, path: str, status: int = 200) -> httpx.Response:
    answer = daemon.call("GET", path, token)
    assert answer.status_code == status, (path, answer.text)
    return answer


def names(answer: httpx.Response) -> list[str]:
    return [t["name"] for t in answer.json()]


def test_tools_paged_filtered_and_sorted_in_the_api(daemon: Daemon, token: str) -> None:
    whole = get(daemon, token, "/v1/tools")
    assert "x-total-count" not in whole.headers and len(whole.json()) == 12  # as before
    first = get(daemon, token, "/v1/tools?limit=4")
    assert names(first) == ["t00", "t01", "t02", "t03"]
    assert first.headers["x-total-count"] == "11"  # retired t05 only when asked, as a search
    assert first.headers["link"].endswith('offset=4>; rel="next"')
    assert first.json() == [t for t in whole.json() if t["name"] in names(first)]  # same items
    last = get(daemon, token, "/v1/tools?limit=4&offset=8")
    assert names(last) == ["t09", "t10", "t11"] and "link" not in last.headers
    assert names(get(daemon, token, "/v1/tools?owner=bob&lifecycle=all")) == [
        "t01", "t04", "t07", "t10"]  # fmt: skip
    assert names(get(daemon, token, "/v1/tools?label=stable")) == ["t03", "t07"]
    assert names(get(daemon, token, "/v1/tools?lifecycle=retired")) == ["t05"]
    assert names(get(daemon, token, "/v1/tools?lifecycle=deprecated")) == ["t06"]
    by_owner = names(get(daemon, token, "/v1/tools?sort=owner&limit=5"))
    assert by_owner == ["t00", "t03", "t06", "t09", "t01"]
    assert names(get(daemon, token, "/v1/tools?offset=10")) == ["t11"]


TAKES = "it takes all, label, lifecycle, limit, offset, owner, sort"


@pytest.mark.parametrize(
    ("query", "says"),
    [("limit=0", "query.limit: Input should be greater than or equal to 1"),
     ("limit=1001", "query.limit: Input should be less than or equal to 1000"),
     ("limit=x", "query.limit: Input should be a valid integer"),
     ("offset=-1", "query.offset: Input should be greater than or equal to 0"),
     ("sort=size", "query.sort: Input should be 'name', 'updated', 'created' or 'owner'"),
     ("lifecycle=gone", "query.lifecycle: Input should be 'active'"),
     ("all=true&limit=3", "all=true lists every version and takes no page parameters"),
     ("page=2", TAKES), ("cursor=abc", TAKES),
     ("owner=" + "o" * 201, "query.owner: String should have at most 200 characters")],
)  # fmt: skip
def test_a_bad_page_of_tools_is_400(daemon: Daemon, token: str, query: str, says: str) -> None:
    error = get(daemon, token, f"/v1/tools?{query}", 400).json()["error"]
    assert error["code"] == "invalid_input" and says in error["message"]


def test_the_audit_log_paged_and_filtered_in_the_api(daemon: Daemon, token: str) -> None:
    whole = get(daemon, token, "/v1/audit").json()
    assert [e["seq"] for e in whole] == list(range(1, len(whole) + 1))  # as before
    newest = get(daemon, token, "/v1/audit?limit=3&newest_first=true")
    assert newest.json() == whole[::-1][:3] and newest.headers["x-total-count"] == str(len(whole))
    labels = get(daemon, token, "/v1/audit?action=label")
    assert [e["tool"] for e in labels.json()] == ["t03", "t07"]
    assert get(daemon, token, "/v1/audit?tool=t03&action=publish").json() == [whole[3]]
    assert get(daemon, token, "/v1/audit?actor=nobody").json() == []
    for bad in ("limit=0", "offset=-2", "newest_first=maybe", "order=desc", "action=" + "a" * 41):
        assert (
            get(daemon, token, f"/v1/audit?{bad}", 400).json()["error"]["code"] == "invalid_input"
        )


TOOL_PAGES: list[dict[str, Any]] = [
    {}, {"limit": 3, "offset": 2}, {"owner": "carol", "sort": "updated"},
    {"lifecycle": "all", "label": "stable"}, {"limit": None, "lifecycle": "retired"},
]  # fmt: skip


def test_the_remote_client_pages_as_the_vault_does(daemon: Daemon, token: str, home: Path) -> None:
    with Vault.open(home) as local, RemoteVault(daemon.url, token, home=home.parent) as remote:
        for kw in TOOL_PAGES:
            (found, total), (want, count) = remote.tool_page(**kw), local.tool_page(**kw)
            assert [t.to_dict() for t in found] == [t.to_dict() for t in want] and total == count
        for kw in ({}, {"limit": 2, "offset": 1}, {"action": "lifecycle", "newest_first": False},
                   {"tool": "t03"}):  # fmt: skip
            assert remote.audit_page(**kw) == local.audit_page(**kw), kw  # type: ignore[arg-type]


def test_the_openapi_document_lists_the_page_parameters(daemon: Daemon) -> None:
    paths = daemon.call("GET", "/openapi.json").json()["paths"]
    tools = {p["name"] for p in paths["/v1/tools"]["get"]["parameters"]}
    assert {"all", "limit", "offset", "sort", "owner", "label", "lifecycle"} <= tools
    audit = {p["name"] for p in paths["/v1/audit"]["get"]["parameters"]}
    assert {"tool", "actor", "action", "limit", "offset", "newest_first"} <= audit
    assert "X-Total-Count" in paths["/v1/tools"]["get"]["responses"]["200"]["headers"]


@contextlib.contextmanager
def signed_in(daemon: Daemon, token: str) -> Iterator[httpx.Client]:
    """A client signed in to the UI with ``token``."""
    with httpx.Client(base_url=daemon.url, timeout=30) as http:
        assert http.post("/ui/signin", data={"token": token}).status_code == 303
        yield http


def test_the_audit_page_is_paged_and_filtered(daemon: Daemon, token: str, home: Path) -> None:
    with Vault.open(home) as vault:
        for i in range(110):
            vault.publish("busy", f"#!/bin/sh\necho {i}\n", created_by="robot")
        count = len(vault.audit())
    with signed_in(daemon, token) as http:
        first = http.get("/ui/audit").text
        seqs = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', first)]
        assert seqs == list(range(count, count - 100, -1)) and f"{count} entries" in first
        second = http.get("/ui/audit?page=2").text
        assert re.findall(r'<td class="num">(\d+)</td>', second)[0] == str(count - 100)
        robot = http.get("/ui/audit?action=publish&tool=busy&page=2").text
        assert "110 entries" in robot and len(re.findall(r'<td class="num">', robot)) == 10
        assert 'rel="prev"' in robot and 'rel="next"' not in robot
        assert "The chain holds through entry" in first


def test_the_last_verify_survives_a_restart_and_shows_a_broken_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import drop_triggers, raw

    home = tmp_path / "home"
    with Vault.open(home) as vault:
        for i in range(3):
            vault.publish("fmt", f"#!/bin/sh\necho {i}\n")
        secret = vault.create_token("auditor", read_only=True)[1]
    running = Daemon(home)
    try:
        with signed_in(running, secret) as http:
            assert "has not run verify" in http.get("/ui/audit").text
            assert get(running, secret, "/v1/verify").json()["ok"] is True
            page = http.get("/ui/audit").text
            assert "No problems." in page and "by auditor" in page
            with Vault.open(home) as vault:
                drop_triggers(vault, "audit")
                raw(vault, "UPDATE audit SET actor = 'mallory' WHERE seq = 2")
            assert get(running, secret, "/v1/verify?name=fmt").json()["ok"] is False
            page = http.get("/ui/audit").text
            assert "The chain is broken" in page and "audit entry 2: its content" in page
            assert "over fmt" in page
    finally:
        running.stop()
    assert (home / FILENAME).exists()
    again = Daemon(home)  # a restart: the report is still there, the chain checked whole
    try:
        with signed_in(again, secret) as http:
            page = http.get("/ui/audit").text
            assert "by auditor over fmt" in page and "The chain is broken" in page
    finally:
        again.stop()
