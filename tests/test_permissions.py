"""Who may write what (SPEC §9; issue 11 item 17): every write endpoint of the daemon,
over HTTP and through the remote CLI, by each kind of caller.

The callers: the tool's owner (alice), another principal (bob), an admin (root), a
read-only token and a revoked token (both alice's own: the token's rights count, not
its name), and no token. The owner and an admin change the tool (200, the audit log
names them); another principal gets 403, a read-only token 403, a revoked token and
no token 401 — and on every refusal the database and ``commands/`` stay exactly as
they were. One daemon serves the module; each test has a tool of its own.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from test_atomicity import full_dump
from test_server import Daemon, error, tv
from toolvault import Vault
from toolvault.cli import cli
from toolvault.errors import PermissionDenied
from toolvault.models import Principal

CALLERS = ("owner", "other", "admin", "read-only", "revoked", "none")
PRINCIPAL = {"owner": "alice", "other": "bob", "admin": "root"}
DENIED = {"other": 403, "read-only": 403, "revoked": 401, "none": 401}
# What each refusal says (the HTTP message, and the remote CLI's one line).
WHY = {
    "other": "is owned by alice, not bob",
    "read-only": "read-only",
    "revoked": "unknown or revoked",
    "none": "needs a bearer token",
}
NAMES = (f"perm{n}" for n in itertools.count(1))


@dataclass(frozen=True)
class Setup:
    """The module's daemon, a vault open on its home (for dumps) and every caller's token."""

    daemon: Daemon
    local: Vault
    tokens: dict[str, str | None]

    def call(self, caller: str, method: str, path: str, body: Any = None) -> Any:
        kw = {} if body is None else {"json": body}
        return self.daemon.call(method, path, self.tokens[caller], **kw)

    def tool(self, retired: bool = False) -> str:
        """A new tool of alice's: versions 1 and 2, label stable on 1."""
        name = next(NAMES)
        for n in (1, 2):
            published = self.daemon.publish(self.tokens["owner"], name, f"echo {name} {n}\n")
            assert published.status_code == 200, published.text
        labelled = self.call(
            "owner", "POST", "/v1/labels", {"spec": f"{name}:1", "label": "stable"}
        )
        assert labelled.status_code == 200, labelled.text
        if retired:
            body = {"lifecycle": "retired"}
            assert (
                self.call("owner", "POST", f"/v1/tools/{name}/lifecycle", body).status_code == 200
            )
        return name

    def last_actor(self) -> str:
        entries = self.call("admin", "GET", "/v1/audit").json()
        actor: str = entries[-1]["actor"]
        return actor


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("permissions") / "home"
    made = {
        "owner": tv(home, "token", "create", "--principal", "alice"),
        "other": tv(home, "token", "create", "--principal", "bob"),
        "admin": tv(home, "token", "create", "--principal", "root", "--admin"),
        "read-only": tv(home, "token", "create", "--principal", "alice", "--read-only"),
        "revoked": tv(home, "token", "create", "--principal", "alice"),
    }
    result = CliRunner().invoke(
        cli, ["--home", str(home), "token", "revoke", made["revoked"]["id"]]
    )
    assert result.exit_code == 0, result.output
    tv(home, "keys", "generate", "daemon-key")  # for the admin-only choice of a signing key
    tokens: dict[str, str | None] = {caller: m["secret"] for caller, m in made.items()}
    tokens["none"] = None
    daemon = Daemon(home)
    try:
        with Vault.open(home, create=False) as local:
            yield Setup(daemon, local, tokens)
    finally:
        daemon.stop()


# -- over HTTP --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A write route: its method, path and body for a tool; who besides the owner and
    an admin may use it (``also``), and who of those may not (``admin_only``)."""

    method: str
    route: str  # as /openapi.json names it
    body: Callable[[str], Any]
    retired: bool = False  # the tool is retired first
    admin_only: bool = False
    new_tool: bool = False  # makes a tool: any principal with a read-write token may
    granted: bool = False  # dave is made a maintainer of the tool first

    def path(self, name: str) -> str:
        path = self.route.replace("{name}", name).replace("{label}", "stable")
        return path.replace("{principal}", "dave")


def _items(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"items": [{"name": n, "content": c} for n, c in pairs]}


ENDPOINTS = {
    "publish": Endpoint("POST", "/v1/publish", lambda t: _items((t, "echo 3\n"))),
    # bob may create the first tool, not add to alice's: all or nothing.
    "publish-batch": Endpoint(
        "POST", "/v1/publish", lambda t: _items((f"{t}-new", "echo new\n"), (t, "echo 3\n"))
    ),
    "publish-new-tool": Endpoint(
        "POST", "/v1/publish", lambda t: _items((f"{t}-new", "echo new\n")), new_tool=True
    ),
    "publish-signed": Endpoint(
        "POST",
        "/v1/publish",
        lambda t: {**_items((f"{t}-new", "echo new\n")), "sign_with": "daemon-key"},
        admin_only=True,
    ),
    "rollback": Endpoint("POST", "/v1/tools/{name}/rollback", lambda t: {"version": 1}),
    "label-set": Endpoint("POST", "/v1/labels", lambda t: {"spec": f"{t}:2", "label": "stable"}),
    "label-delete": Endpoint("DELETE", "/v1/tools/{name}/labels/{label}", lambda t: None),
    "yank": Endpoint("POST", "/v1/yank", lambda t: {"spec": f"{t}:2", "reason": "broken"}),
    "deprecate": Endpoint(
        "POST", "/v1/tools/{name}/lifecycle", lambda t: {"lifecycle": "deprecated"}
    ),
    "retire": Endpoint("POST", "/v1/tools/{name}/lifecycle", lambda t: {"lifecycle": "retired"}),
    "reactivate": Endpoint(
        "POST", "/v1/tools/{name}/lifecycle", lambda t: {"lifecycle": "active"}, retired=True
    ),
    "owner-transfer": Endpoint("POST", "/v1/tools/{name}/owner", lambda t: {"owner": "carol"}),
    # maintainers (SPEC §11; the whole matrix with maintainers is test_maintainers.py's)
    "grant": Endpoint("POST", "/v1/tools/{name}/grants", lambda t: {"principal": "dave"}),
    "revoke": Endpoint(
        "DELETE", "/v1/tools/{name}/grants/{principal}", lambda t: None, granted=True
    ),
}


def expected(endpoint: Endpoint, caller: str) -> int:
    """The status SPEC §9 gives ``caller`` on ``endpoint``."""
    if caller in ("revoked", "none", "read-only"):
        return DENIED[caller]
    if endpoint.admin_only:
        return 200 if caller == "admin" else 403
    if endpoint.new_tool:
        return 200
    return DENIED.get(caller, 200)


def test_the_matrix_names_every_write_route(setup: Setup) -> None:
    """A write route added to the daemon without a row here fails this test."""
    spec = setup.daemon.call("GET", "/openapi.json").json()
    writes = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("post", "put", "patch", "delete")
    }
    assert writes - READS_BY_POST == {(e.method, e.route) for e in ENDPOINTS.values()}


# Routes that take their input as a body but write nothing: a read's rules.
READS_BY_POST = {("POST", "/v1/diff")}
# Webhook routes are about no tool: admin only, held by tests/test_hook_daemon.py's matrix.
READS_BY_POST |= {
    ("POST", "/v1/hooks"),
    ("DELETE", "/v1/hooks/{hook_id}"),
    ("POST", "/v1/deliveries/{delivery}/redeliver"),
}


@pytest.mark.parametrize(
    ("caller", "status"),
    [("owner", 200), ("other", 200), ("read-only", 200), ("revoked", 401), ("none", 401)],
)
def test_a_diff_against_unpublished_content_is_a_read(
    setup: Setup, caller: str, status: int
) -> None:
    name = setup.tool()
    before = setup.call("owner", "GET", "/v1/audit").json()
    body = {"old": f"{name}:2", "content": "echo changed\n"}
    assert setup.call(caller, "POST", "/v1/diff", body).status_code == status
    assert setup.call("owner", "GET", "/v1/audit").json() == before  # nothing written


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_http_write_by_each_caller(setup: Setup, endpoint: str, caller: str) -> None:
    e = ENDPOINTS[endpoint]
    name = setup.tool(retired=e.retired)
    if e.granted:
        body = {"principal": "dave"}
        assert setup.call("owner", "POST", f"/v1/tools/{name}/grants", body).status_code == 200
    before = full_dump(setup.local)
    response = setup.call(caller, e.method, e.path(name), e.body(name))
    status = expected(e, caller)
    if status != 200:
        code = "unauthorized" if status == 401 else "forbidden"
        message = error(response, status, code)
        why = "only an admin" if e.admin_only and status == 403 else WHY[caller]
        assert why in message, message
        assert full_dump(setup.local) == before
        return
    assert response.status_code == 200, response.text
    assert full_dump(setup.local) != before
    assert setup.last_actor() == PRINCIPAL[caller]


# -- through the remote CLI -------------------------------------------------------------------


COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "add": lambda t, d: ["add", _file(d, t, "echo 3\n")],
    "add-two": lambda t, d: ["add", _file(d, f"{t}-new", "echo new\n"), _file(d, t, "echo 3\n")],
    "rollback": lambda t, d: ["rollback", t, "1"],
    "label": lambda t, d: ["label", f"{t}:2", "stable"],
    "label-delete": lambda t, d: ["label", t, "stable", "--delete"],
    "yank": lambda t, d: ["yank", f"{t}:2", "--reason", "broken"],
    "deprecate": lambda t, d: ["deprecate", t],
    "retire": lambda t, d: ["retire", t],
    "owner": lambda t, d: ["owner", t, "carol"],
}


def _file(folder: Path, name: str, text: str) -> str:
    path = folder / f"{name}.sh"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_remote_cli_write_by_each_caller(
    setup: Setup, command: str, caller: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = setup.tool()
    monkeypatch.setenv("TOOLVAULT_URL", setup.daemon.url)
    secret = setup.tokens[caller]
    if secret is None:
        monkeypatch.delenv("TOOLVAULT_TOKEN", raising=False)
    else:
        monkeypatch.setenv("TOOLVAULT_TOKEN", secret)
    before = full_dump(setup.local)
    result = CliRunner().invoke(cli, [*COMMANDS[command](name, tmp_path), "--json"])
    if caller in DENIED:
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        error = json.loads(lines[0])["error"]  # under --json the error is JSON too
        assert error["code"] == {401: "unauthorized", 403: "forbidden"}[DENIED[caller]]
        assert WHY[caller] in error["message"], lines[0]
        assert full_dump(setup.local) == before
        return
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert full_dump(setup.local) != before
    assert setup.last_actor() == PRINCIPAL[caller]


# -- a right lost between the check and the write ----------------------------------------------


CHANGES: dict[str, Callable[[Vault], object]] = {
    "label": lambda v: v.label("fmt:1", "stable"),
    "label-delete": lambda v: v.delete_label("fmt", "old"),
    "yank": lambda v: v.yank("fmt:1", "broken"),
    "deprecate": lambda v: v.set_lifecycle("fmt", "deprecated"),
    "owner-transfer": lambda v: v.transfer("fmt", "bob-friend"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_ownership_is_checked_in_the_writing_transaction(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """bob's change starts while he owns fmt; an admin gives fmt to alice before his
    transaction begins. His change is then refused: the check sees what the write
    would change, not an earlier state."""
    vault.publish("fmt", b"echo 1\n", owner="bob")
    vault.label("fmt:1", "old")
    bob = vault.as_principal(Principal("bob"))
    write = vault.store.write

    def transferred_first() -> Any:
        monkeypatch.setattr(vault.store, "write", write)  # once
        vault.transfer("fmt", "alice")  # the admin, on the same database, meanwhile
        return write()

    monkeypatch.setattr(vault.store, "write", transferred_first)
    with pytest.raises(PermissionDenied, match="owned by alice, not bob"):
        CHANGES[change](bob)
    assert [e.action for e in vault.audit("fmt")] == ["publish", "label", "owner"]
    tool = vault.tool("fmt")
    assert (tool.owner, tool.lifecycle) == ("alice", "active")
    assert [(lb.label, lb.version) for lb in vault.labels("fmt")] == [("old", 1)]
    assert vault.yanks("fmt") == []
