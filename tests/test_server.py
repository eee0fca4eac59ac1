"""The HTTP daemon as clients see it: a real ``toolvault serve`` on 127.0.0.1.

Each daemon is a subprocess started on port 0; the port comes from the line it
prints on stderr once it listens. Tokens are made with the ``token`` commands.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from toolvault import Vault
from toolvault.cli import cli
from toolvault.cli.served import ServerProcess
from toolvault.errors import InvalidSpec
from toolvault.spec import parse

TOOLVAULT = [sys.executable, "-m", "toolvault"]
STARTUP_TIMEOUT = 30.0
FMT1 = "#!/bin/sh\necho one\n"
FMT2 = "#!/bin/sh\necho two\n"


class Daemon(ServerProcess):
    """A ``toolvault serve --port 0`` subprocess and an HTTP client for it."""

    def __init__(self, home: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
        argv = [*TOOLVAULT, "--home", str(home), "serve", "--port", "0"]
        super().__init__([*argv, *args], env, STARTUP_TIMEOUT)
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> None:
        """Close the client, then terminate the daemon (SIGTERM, then SIGKILL after 10 s)."""
        if hasattr(self, "http"):
            self.http.close()
        super().stop()

    def call(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        """One request, with ``Authorization: Bearer token`` when a token is given."""
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, **kw)

    def publish(self, token: str | None, name: str, content: str, **fields: Any) -> httpx.Response:
        """POST /v1/publish of one item."""
        body = {"items": [{"name": name, "content": content, **fields}]}
        return self.call("POST", "/v1/publish", token, json=body)


def tv(home: Path, *args: str) -> Any:
    """``toolvault --home HOME ARGS --json`` in-process, parsed."""
    result = CliRunner().invoke(cli, ["--home", str(home), *args, "--json"])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return json.loads(result.stdout)


def make_token(home: Path, principal: str, *flags: str, db: str | None = None) -> str:
    """A new token's secret, made with ``toolvault token create``."""
    more = ["--db", db] if db else []
    secret: str = tv(home, "token", "create", "--principal", principal, *flags, *more)["secret"]
    return secret


def error(response: httpx.Response, status: int, code: str) -> str:
    """Assert the one error shape; return the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The vault home of the module's shared daemon."""
    return tmp_path_factory.mktemp("server") / "home"


@pytest.fixture(scope="module")
def tokens(shared_home: Path) -> dict[str, str]:
    """alice and bob (read-write), ro (read-only), root (admin)."""
    return {
        "alice": make_token(shared_home, "alice"),
        "bob": make_token(shared_home, "bob"),
        "ro": make_token(shared_home, "ro", "--read-only"),
        "root": make_token(shared_home, "root", "--admin"),
    }


@pytest.fixture(scope="module")
def daemon(shared_home: Path, tokens: dict[str, str]) -> Iterator[Daemon]:
    """The module's daemon; tests use their own tool names."""
    d = Daemon(shared_home)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def fmt(daemon: Daemon, tokens: dict[str, str]) -> str:
    """fmt:1 and fmt:2, published by alice."""
    for text in (FMT1, FMT2):
        assert daemon.publish(tokens["alice"], "fmt", text).status_code == 200
    return "fmt"


def test_healthz_and_openapi_need_no_token(daemon: Daemon) -> None:
    assert daemon.call("GET", "/healthz").json() == {"ok": True}
    spec = daemon.call("GET", "/openapi.json").json()
    for path in (
        "/v1/tools",
        "/v1/tools/{name}",
        "/v1/tools/{name}/versions",
        "/v1/versions/{spec}",
        "/v1/content/{spec}",
        "/v1/diff",
        "/v1/publish",
        "/v1/tools/{name}/rollback",
        "/v1/labels",
        "/v1/tools/{name}/labels/{label}",
        "/v1/yank",
        "/v1/tools/{name}/lifecycle",
        "/v1/tools/{name}/owner",
        "/v1/audit",
        "/v1/verify",
        "/v1/packs",
        "/commands/{spec}",
        "/healthz",
    ):
        assert path in spec["paths"], path
    operations = [op for item in spec["paths"].values() for op in item.values()]
    assert all(op.get("summary") for op in operations)
    assert not [op for op in operations if "422" in op["responses"]]  # validation errors are 400
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_no_token_or_a_wrong_one_is_401(daemon: Daemon, fmt: str) -> None:
    for token in (None, "tv_not-a-token"):
        message = error(daemon.call("GET", "/v1/tools", token), 401, "unauthorized")
        assert "token" in message
        error(daemon.publish(token, "anon", "x\n"), 401, "unauthorized")
        error(daemon.call("GET", "/commands/fmt", token), 401, "unauthorized")
    assert daemon.call("GET", "/v1/tools").headers["www-authenticate"] == "Bearer"
    basic = daemon.call("GET", "/v1/tools", headers={"Authorization": "Basic YTpi"})
    error(basic, 401, "unauthorized")


def test_a_read_only_token_reads_but_cannot_write(
    daemon: Daemon, tokens: dict[str, str], fmt: str
) -> None:
    ro = tokens["ro"]
    assert daemon.call("GET", "/commands/fmt", ro).text == FMT2
    message = error(daemon.publish(ro, "fresh-tool", "x\n"), 403, "forbidden")
    assert "read-only" in message
    error(
        daemon.call("POST", "/v1/labels", ro, json={"spec": "fmt:1", "label": "x"}),
        403,
        "forbidden",
    )
    error(
        daemon.call("POST", "/v1/yank", ro, json={"spec": "fmt:1", "reason": "r"}), 403, "forbidden"
    )
    assert daemon.call("GET", "/v1/tools/fresh-tool", ro).status_code == 404


def test_only_the_owner_or_an_admin_changes_a_tool(daemon: Daemon, tokens: dict[str, str]) -> None:
    alice, bob, root = tokens["alice"], tokens["bob"], tokens["root"]
    assert daemon.publish(alice, "mine", "v1\n").json()[0]["version"] == 1
    message = error(daemon.publish(bob, "mine", "bob's\n"), 403, "forbidden")
    assert "owned by alice, not bob" in message
    error(
        daemon.call("POST", "/v1/tools/mine/rollback", bob, json={"version": 1}), 403, "forbidden"
    )
    error(daemon.call("DELETE", "/v1/tools/mine/labels/x", bob), 403, "forbidden")
    bob_owner = daemon.call("POST", "/v1/tools/mine/owner", bob, json={"owner": "bob"})
    error(bob_owner, 403, "forbidden")
    published = daemon.publish(root, "mine", "fixed by root\n")
    assert published.status_code == 200 and published.json()[0]["version"] == 2
    v2 = daemon.call("GET", "/v1/versions/mine:2", bob).json()
    assert (v2["created_by"], v2["owner"], v2["tool"]["owner"]) == ("root", "alice", "alice")
    versions = daemon.call("GET", "/v1/tools/mine/versions", bob).json()
    assert [v["version"] for v in versions] == [1, 2]


def test_a_new_tool_belongs_to_its_publisher_whatever_the_body_says(
    daemon: Daemon, tokens: dict[str, str]
) -> None:
    fields = {"created_by": "mallory", "owner": "mallory", "message": "claims"}
    published = daemon.publish(tokens["bob"], "bobs", "#!/bin/sh\n", **fields)
    assert published.status_code == 200, published.text
    shown = daemon.call("GET", "/v1/versions/bobs:1", tokens["bob"]).json()
    assert (shown["created_by"], shown["owner"], shown["message"]) == ("bob", "bob", "claims")
    entries = daemon.call("GET", "/v1/audit", tokens["bob"], params={"tool": "bobs"}).json()
    assert [(e["actor"], e["action"]) for e in entries] == [("bob", "publish")]


def test_an_admin_may_name_the_owner_of_a_new_tool(daemon: Daemon, tokens: dict[str, str]) -> None:
    assert daemon.publish(tokens["root"], "given", "x\n", owner="alice").status_code == 200
    assert daemon.call("GET", "/v1/tools/given", tokens["bob"]).json()["owner"] == "alice"


def test_a_revoked_token_is_401_at_once(daemon: Daemon, shared_home: Path) -> None:
    home = shared_home
    made = tv(home, "token", "create", "--principal", "carol")
    assert daemon.call("GET", "/v1/tools", made["secret"]).status_code == 200
    listed = tv(home, "token", "list")
    assert made["id"] in [t["id"] for t in listed]
    assert all("secret" not in t for t in listed)
    assert tv(home, "token", "revoke", made["id"])["revoked_at"]
    message = error(daemon.call("GET", "/v1/tools", made["secret"]), 401, "unauthorized")
    assert "revoked" in message


def test_hot_reads_see_writes_by_other_processes_at_once(tmp_path: Path) -> None:
    """The daemon keeps what its hot reads computed while the database is unchanged:
    a publish, a yank or a revocation by another process shows on the next request."""
    home = tmp_path / "home"
    token, other = make_token(home, "alice"), make_token(home, "bob")
    daemon = Daemon(home)
    try:
        assert daemon.publish(token, "hot", "one\n").status_code == 200

        def reads() -> tuple[str, list[int], str]:
            latest = daemon.call("GET", "/commands/hot", token).text
            listing = daemon.call("GET", "/v1/tools/hot/versions", token).json()
            content = daemon.call("GET", "/v1/content/hot", other).text
            return latest, [v["version"] for v in listing], content

        assert reads() == reads() == ("one\n", [1], "one\n")
        with Vault.open(home) as vault:  # this test's process, not the daemon's
            vault.publish("hot", b"two\n")
        assert reads() == ("two\n", [1, 2], "two\n")
        with Vault.open(home) as vault:
            vault.yank("hot:2", "broken")
        assert reads() == ("one\n", [1, 2], "one\n")
        pinned = daemon.call("GET", "/commands/hot:2", token)
        assert pinned.text == "two\n" and pinned.headers["x-toolvault-yanked"] == "broken"
        bob = next(t for t in tv(home, "token", "list") if t["principal"] == "bob")
        tv(home, "token", "revoke", bob["id"])
        error(daemon.call("GET", "/v1/content/hot", other), 401, "unauthorized")
        error(daemon.call("GET", "/commands/hot", other), 401, "unauthorized")
        assert daemon.call("GET", "/commands/hot", token).text == "one\n"
    finally:
        daemon.stop()


def test_an_oversized_body_is_413(daemon: Daemon, tokens: dict[str, str]) -> None:
    big = "x" * (3 * 1024 * 1024)
    declared = daemon.publish(tokens["alice"], "big", big)
    assert "limit" in error(declared, 413, "too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(48):
            yield b" " * 65536

    streamed = daemon.call(
        "POST",
        "/v1/publish",
        tokens["alice"],
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    error(streamed, 413, "too_large")
    assert daemon.call("GET", "/v1/tools/big", tokens["alice"]).status_code == 404


def test_a_tool_over_max_tool_size_is_413_from_the_service(
    tmp_path: Path,
) -> None:
    home = tmp_path / "small"
    home.mkdir()
    (home / "config.toml").write_text("max_tool_size = 1000\n")
    token = make_token(home, "alice")
    d = Daemon(home)
    try:
        message = error(d.publish(token, "wide", "y" * 2000), 413, "too_large")
        assert "the limit is 1,000" in message
    finally:
        d.stop()


def test_a_malformed_spec_is_400_with_the_parser_message(
    daemon: Daemon, tokens: dict[str, str], fmt: str
) -> None:
    with pytest.raises(InvalidSpec) as expected:
        parse("fmt:0")
    for path in ("/commands/fmt:0", "/v1/versions/fmt:0", "/v1/content/fmt:0"):
        message = error(daemon.call("GET", path, tokens["alice"]), 400, "invalid_spec")
        assert message == str(expected.value)
    bad_label = {"spec": "fmt:1", "label": "latest"}
    error(daemon.call("POST", "/v1/labels", tokens["alice"], json=bad_label), 400, "invalid_spec")


def test_bad_requests_are_400_in_the_error_shape(daemon: Daemon, tokens: dict[str, str]) -> None:
    alice = tokens["alice"]
    headers = {"Content-Type": "application/json"}
    broken = daemon.call("POST", "/v1/publish", alice, content=b"{nope", headers=headers)
    assert "not valid JSON" in error(broken, 400, "invalid_input")
    missing = daemon.call("POST", "/v1/publish", alice, json={"items": [{"content": "x"}]})
    assert "items.0.name" in error(missing, 400, "invalid_input")
    wrong = daemon.call("GET", "/v1/diff", alice, params={"old": "fmt", "context": "-1"})
    assert "context" in error(wrong, 400, "invalid_input")
    binary = daemon.publish(alice, "nul", "a\u0000b")
    assert "NUL byte" in error(binary, 400, "invalid_input")
    lifecycle = daemon.call("POST", "/v1/tools/fmt/lifecycle", alice, json={"lifecycle": "x"})
    error(lifecycle, 400, "invalid_input")
    surrogate = b'{"items": [{"name": "s", "content": "\\ud800"}]}'  # valid JSON, not UTF-8
    lone = daemon.call("POST", "/v1/publish", alice, content=surrogate, headers=headers)
    assert "unpaired surrogate" in error(lone, 400, "invalid_input")
    plain = {"Content-Type": "text/plain"}
    text = daemon.call("POST", "/v1/publish", alice, content=b'{"items": []}', headers=plain)
    assert "Content-Type: application/json" in error(text, 400, "invalid_input")


def test_unknown_things_are_404_and_wrong_methods_405(
    daemon: Daemon, tokens: dict[str, str], fmt: str
) -> None:
    alice = tokens["alice"]
    assert "no such endpoint" in error(daemon.call("GET", "/v2/nothing", alice), 404, "not_found")
    error(daemon.call("GET", "/v1/tools/nosuch", alice), 404, "not_found")
    message = error(daemon.call("GET", "/commands/fmt:9", alice), 404, "not_found")
    assert message == "tool 'fmt' has versions 1..2; there is no version 9"
    wrong = daemon.call("PUT", "/v1/publish", alice)
    error(wrong, 405, "method_not_allowed")
    assert "POST" in wrong.headers["allow"]


def test_the_path_form_serves_raw_content_and_the_listing(
    daemon: Daemon, tokens: dict[str, str], fmt: str
) -> None:
    alice = tokens["alice"]
    raw = daemon.call("GET", "/commands/fmt:1", alice)
    assert raw.status_code == 200 and raw.content == FMT1.encode()
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"
    assert raw.headers["x-toolvault-version"].startswith("fmt:1@sha256:")
    assert raw.headers["x-toolvault-executable"] == "true"
    assert "x-toolvault-yanked" not in raw.headers
    assert daemon.call("GET", "/commands/fmt", alice).text == FMT2
    assert daemon.call("GET", "/commands/fmt:previous", alice).text == FMT1
    assert daemon.call("GET", "/v1/content/fmt%3A2", alice).text == FMT2
    listing = daemon.call("GET", "/commands/fmt:versions", alice)
    assert listing.headers["content-type"] == "application/json"
    assert [(v["version"], v["created_by"]) for v in listing.json()] == [(1, "alice"), (2, "alice")]
    error(daemon.call("GET", "/v1/content/fmt:versions", alice), 400, "invalid_spec")


def test_governance_over_http(daemon: Daemon, tokens: dict[str, str]) -> None:
    alice = tokens["alice"]
    for text in ("a\n", "b\n", "c\n"):
        daemon.publish(alice, "gov", text)
    label = daemon.call("POST", "/v1/labels", alice, json={"spec": "gov:2", "label": "stable"})
    assert label.json()["set_by"] == "alice"
    assert daemon.call("GET", "/commands/gov:stable", alice).text == "b\n"
    reason = "broken: ü\nsecond line"
    yank = daemon.call("POST", "/v1/yank", alice, json={"spec": "gov:3", "reason": reason})
    assert yank.json()["reason"] == reason
    assert daemon.call("GET", "/commands/gov", alice).text == "b\n"  # latest skips the yank
    pinned = daemon.call("GET", "/v1/content/gov:3", alice)
    assert pinned.text == "c\n"
    assert httpx.QueryParams(f"r={pinned.headers['x-toolvault-yanked']}")["r"] == reason
    again = daemon.call("POST", "/v1/yank", alice, json={"spec": "gov:3", "reason": "x"})
    error(again, 409, "conflict")
    rollback = daemon.call("POST", "/v1/tools/gov/rollback", alice, json={"version": "1"})
    assert rollback.json() == {**rollback.json(), "name": "gov", "version": 4, "created": True}
    tool = daemon.call("GET", "/v1/tools/gov", alice).json()
    assert [lab["label"] for lab in tool["labels"]] == ["stable"]
    deleted = daemon.call("DELETE", "/v1/tools/gov/labels/stable", alice)
    assert deleted.json() == {"name": "gov", "label": "stable", "deleted": True}
    life = {"lifecycle": "deprecated", "message": "use fmt"}
    assert daemon.call("POST", "/v1/tools/gov/lifecycle", alice, json=life).json()["lifecycle"] == (
        "deprecated"
    )
    assert daemon.call("GET", "/v1/tools/gov", alice).json()["lifecycle_message"] == "use fmt"
    moved = daemon.call("POST", "/v1/tools/gov/owner", alice, json={"owner": "bob"})
    assert moved.json()["owner"] == "bob"
    actions = [e["action"] for e in daemon.call("GET", "/v1/audit?tool=gov", alice).json()]
    assert actions == ["publish"] * 3 + [
        "label",
        "yank",
        "publish",
        "unlabel",
        "deprecate",
        "owner",
    ]
    diff = daemon.call("GET", "/v1/diff", alice, params={"old": "gov:1", "new": "gov:2"}).json()
    assert (diff["old"].split("@")[0], diff["added"], diff["removed"]) == ("gov:1", 1, 1)
    report = daemon.call("GET", "/v1/verify", alice, params={"name": ["gov", "fmt"]}).json()
    assert report["ok"] is True and report["problems"] == [], report


def test_signing_with_a_named_key_is_for_admins(daemon: Daemon, tokens: dict[str, str]) -> None:
    body = {"items": [{"name": "signed", "content": "x\n"}], "sign_with": "release"}
    message = error(
        daemon.call("POST", "/v1/publish", tokens["alice"], json=body), 403, "forbidden"
    )
    assert "admin" in message


def test_responses_have_the_documented_shapes(
    daemon: Daemon, tokens: dict[str, str], fmt: str
) -> None:
    from toolvault.server import schemas

    alice = tokens["alice"]
    cases: list[tuple[Any, type[Any], bool]] = [
        (daemon.call("GET", "/v1/tools", alice).json(), schemas.ToolOut, True),
        (daemon.call("GET", "/v1/tools?all=true", alice).json(), schemas.ListedVersion, True),
        (daemon.call("GET", "/v1/tools/fmt/versions", alice).json(), schemas.ListedVersion, True),
        (daemon.call("GET", "/v1/tools/fmt", alice).json(), schemas.ToolDetail, False),
        (daemon.call("GET", "/v1/versions/fmt:1", alice).json(), schemas.Described, False),
        (daemon.call("GET", "/v1/diff?old=fmt:2", alice).json(), schemas.DiffOut, False),
        (daemon.call("GET", "/v1/audit", alice).json(), schemas.AuditOut, True),
        (daemon.call("GET", "/v1/verify", alice).json(), schemas.ReportOut, False),
        (daemon.publish(alice, "fmt", FMT2).json(), schemas.PublishedOut, True),
    ]
    claimed = daemon.publish(alice, "fmt", FMT2 + "#\n", created_by="@agent").json()
    cases.append((claimed, schemas.PublishedOut, True))
    sometimes = {schemas.PublishedOut: {"claimed_by"}}  # only when the daemon kept one
    for data, model, many in cases:
        for item in data if many else [data]:
            missing = set(model.model_fields) - set(item)
            assert set(item) <= set(model.model_fields), model.__name__
            assert missing <= sometimes.get(model, set()), model.__name__
            model.model_validate(item)
    assert claimed[0]["claimed_by"] == "@agent"


def test_the_json_shape_of_a_version_names_every_field_but_content() -> None:
    import dataclasses

    from toolvault.models import Version

    version = Version("fmt", 1, "ab" * 32, 3, True, None, None, "t", "t", content=b"hi\n")
    names = [f.name for f in dataclasses.fields(Version) if f.name != "content"]
    assert list(version.to_dict()) == names
    assert version.to_dict(content=True)["content"] == "hi\n"


def test_public_read_serves_reads_without_a_token_but_not_writes(tmp_path: Path) -> None:
    home = tmp_path / "open"
    token = make_token(home, "alice")
    d = Daemon(home, "--public-read")
    try:
        assert d.publish(token, "pub", FMT1).status_code == 200
        assert d.call("GET", "/commands/pub").text == FMT1
        assert d.call("GET", "/v1/tools").json()[0]["name"] == "pub"
        error(d.publish(None, "pub", FMT2), 401, "unauthorized")
        error(d.call("GET", "/v1/tools", "tv_wrong"), 401, "unauthorized")
    finally:
        d.stop()


def test_a_pack_from_the_daemon_imports_with_ingest_url(tmp_path: Path) -> None:
    home, other = tmp_path / "source", tmp_path / "other"
    token = make_token(home, "alice")
    d = Daemon(home, "--public-read")
    try:
        for text in (FMT1, FMT2):
            d.publish(token, "fmt", text)
        d.publish(token, "lint", "#!/bin/sh\necho lint\n")
        packed = d.call("GET", "/v1/packs?all=true", token)
        assert packed.headers["content-type"] == "application/gzip"
        assert packed.content[:2] == b"\x1f\x8b"
        url = f"{d.url}/v1/packs?all=true&pack_name=team"
        summary = tv(other, "ingest", "--url", url)
        assert (summary["pack"], len(summary["added"])) == ("team", 3)
        error(d.call("GET", "/v1/packs", token), 400, "invalid_input")
    finally:
        d.stop()
    assert CliRunner().invoke(cli, ["--home", str(other), "cat", "fmt:1"]).stdout == FMT1
    shown = tv(other, "show", "fmt:2")
    assert (shown["created_by"], shown["tool"]["owner"]) == ("alice", "alice")


def test_serve_says_which_extra_is_missing(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "sys.argv = ['toolvault', '--home', sys.argv[1], 'serve']\n"
        "from toolvault.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "h")], capture_output=True, timeout=60
    )
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "toolvault[server]" in lines[0], lines


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        done = subprocess.run(
            [*TOOLVAULT, "--home", str(tmp_path / "h"), "serve", "--port", port],
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolvault: error: cannot listen on"), lines


def test_token_create_prints_the_secret_once(tmp_path: Path) -> None:
    home = tmp_path / "t"
    result = CliRunner().invoke(cli, ["--home", str(home), "token", "create", "--principal", "al"])
    assert result.exit_code == 0, result.output
    token_id, secret = result.stdout.split()[1], result.stdout.splitlines()[1]
    assert secret.startswith("tv_")
    listed = CliRunner().invoke(cli, ["--home", str(home), "token", "list"])
    assert token_id in listed.stdout and secret not in listed.stdout
    both = CliRunner().invoke(
        cli,
        ["--home", str(home), "token", "create", "--principal", "x", "--admin", "--read-only"],
    )
    assert both.exit_code == 2


def test_two_daemons_on_one_postgresql_act_as_one(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "pg"
    token = make_token(home, "alice", db=pg_url)
    first, second = Daemon(home, "--db", pg_url), Daemon(home, "--db", pg_url)
    try:
        assert first.publish(token, "shared", "0\n").json()[0]["version"] == 1

        def publish(i: int) -> int:
            d = first if i % 2 else second
            return d.publish(token, "shared", f"{i}\n").status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(publish, range(1, 41)))
        assert statuses == [200] * 40
        versions = second.call("GET", "/v1/tools/shared/versions", token).json()
        assert [v["version"] for v in versions] == list(range(1, 42))
        assert {v["created_by"] for v in versions} == {"alice"}
        chain = [(v["previous_version"], v["previous_sha256"]) for v in versions[1:]]
        assert chain == [(v["version"], v["sha256"]) for v in versions[:-1]]
        assert first.call("GET", "/commands/shared:1", token).text == "0\n"
        assert second.call("GET", "/v1/verify", token).json()["ok"] is True
        # What one daemon writes, the other serves on its next request.
        for writer, reader, text in ((first, second, "a\n"), (second, first, "b\n")):
            before = reader.call("GET", "/commands/shared", token).text
            assert writer.publish(token, "shared", text).status_code == 200
            assert (before, reader.call("GET", "/commands/shared", token).text) != (text, text)
            assert reader.call("GET", "/commands/shared", token).text == text
        assert len(second.call("GET", "/v1/tools/shared/versions", token).json()) == 43
        made = next(
            t for t in tv(home, "token", "list", "--db", pg_url) if t["principal"] == "alice"
        )
        tv(home, "token", "revoke", made["id"], "--db", pg_url)
        for daemon in (first, second):
            error(daemon.call("GET", "/commands/shared", token), 401, "unauthorized")
    finally:
        first.stop()
        second.stop()


def burst_then_kill(
    daemon: Daemon, token: str, name: str, kill_after: int
) -> list[tuple[int, str]]:
    """Publish from four threads until the daemon is killed, mid-burst, once
    ``kill_after`` publishes were acknowledged; return what was acknowledged."""
    acknowledged: list[tuple[int, str]] = []
    refused: list[str] = []  # answers other than 200 before the kill: none expected
    lock = threading.Lock()
    killed = threading.Event()

    def client(c: int) -> None:
        with httpx.Client(base_url=daemon.url, timeout=30) as http:
            for i in range(500):  # bounded: the kill comes long before
                body = {"items": [{"name": name, "content": f"echo {c} {i}\n"}]}
                try:
                    response = http.post(
                        "/v1/publish", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                except httpx.HTTPError:  # the daemon is gone
                    return
                if response.status_code != 200:
                    if not killed.is_set():
                        refused.append(response.text)
                    return
                [published] = response.json()
                with lock:
                    acknowledged.append((published["version"], published["sha256"]))
                    if len(acknowledged) == kill_after:
                        daemon.proc.kill()  # SIGKILL, in the middle of the others' requests
                        killed.set()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert killed.is_set(), "the burst ended before the daemon was killed"
    assert refused == []
    daemon.stop()
    return acknowledged


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killing_a_daemon_mid_burst_loses_no_acknowledged_version(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    db = ["--db", request.getfixturevalue("pg_url")] if backend == "postgres" else []
    home = tmp_path / "home"
    token = make_token(home, "alice", db=db[1] if db else None)
    acknowledged = burst_then_kill(Daemon(home, *db), token, "burst", kill_after=40)
    assert len(acknowledged) >= 40
    with Vault.open(home, db=db[1] if db else None) as vault:
        stored = {(v.version, v.sha256) for v in vault.versions("burst")}
        assert set(acknowledged) <= stored  # every acknowledged version is there, as sent
        numbers = sorted(n for n, _ in stored)
        assert numbers == list(range(1, len(numbers) + 1))
        vault.sync()  # the commands/ tree may lag a commit the kill interrupted
        assert vault.verify().ok
    restarted = Daemon(home, *db)  # and a new daemon serves on from there
    try:
        assert restarted.publish(token, "burst", "echo after\n").status_code == 200
    finally:
        restarted.stop()


def database_rows(home: Path) -> list[tuple[Any, ...]]:
    """Every row of every table of a vault's SQLite database."""
    with sqlite3.connect(f"file:{home / 'vault.db'}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(t, *row) for t in sorted(tables) for row in db.execute(f"SELECT * FROM {t}")]


def test_reading_a_pack_writes_nothing_and_each_change_makes_a_newer_one(tmp_path: Path) -> None:
    home, other = tmp_path / "source", tmp_path / "other"
    token = make_token(home, "alice")
    d = Daemon(home, "--public-read")
    try:
        d.publish(token, "fmt", FMT1)
        before = database_rows(home)
        first = d.call("GET", "/v1/packs?spec=fmt")  # anonymous: --public-read
        again = d.call("GET", "/v1/packs?spec=fmt")
        assert first.status_code == again.status_code == 200
        assert database_rows(home) == before
        number = int(first.headers["x-toolvault-pack-version"])
        assert int(again.headers["x-toolvault-pack-version"]) == number
        url = f"{d.url}/v1/packs?spec=fmt"
        assert len(tv(other, "ingest", "--url", url)["added"]) == 1
        assert tv(other, "ingest", "--url", url)["added"] == []  # the same pack: harmless
        d.publish(token, "fmt", FMT2)
        newer = d.call("GET", "/v1/packs?spec=fmt")
        assert int(newer.headers["x-toolvault-pack-version"]) > number
        assert [a["version"] for a in tv(other, "ingest", "--url", url)["added"]] == [2]
        lint = tv(other, "ingest", "--url", f"{d.url}/v1/packs?spec=fmt:1")  # another selection
        assert lint["pack"] != tv(other, "ingest", "--url", url)["pack"]
        refused = d.call("GET", "/v1/packs?spec=fmt&pack_version=99")
        assert "pack_version cannot be chosen here" in error(refused, 400, "invalid_input")
    finally:
        d.stop()
