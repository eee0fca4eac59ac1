"""Maintainers (SPEC §11; issue 14 item 7): ``grant``, ``revoke`` and ``grants``, who may
do what, the audit log and verify, and ``claimed_by`` through the daemon.

The callers of the matrix: the tool's owner (alice), a maintainer (mia), another
principal (bob), a read-only token of the maintainer (her rights are not its rights), an
admin (root) and a revoked maintainer (rex: granted, then revoked). The owner and an
admin do everything; a maintainer publishes, rolls back, labels and deprecates, and is
refused yank, retire, transfer and grants; the others are refused everything. Every
refusal leaves the database and ``commands/`` exactly as they were. One daemon on
127.0.0.1 serves the module; each test has a tool of its own.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import drop_triggers, raw
from test_atomicity import full_dump
from test_server import Daemon, error, tv
from toolvault import NewVersion, Vault
from toolvault.cli import cli
from toolvault.errors import InvalidInput, NotFound, PermissionDenied
from toolvault.models import Principal

CALLERS = ("owner", "maintainer", "other", "read-only", "admin", "revoked")
PRINCIPAL = {"owner": "alice", "maintainer": "mia", "admin": "root"}
ACTIONS = (
    "publish",
    "rollback",
    "label",
    "deprecate",
    "yank",
    "retire",
    "transfer",
    "grant",
    "revoke",
)
MAINTAINER_MAY = {"publish", "rollback", "label", "deprecate"}
NAMES = (f"kept{n}" for n in itertools.count(1))


def allowed(caller: str, action: str) -> bool:
    """SPEC §11: what each caller may do."""
    if caller in ("owner", "admin"):
        return True
    return caller == "maintainer" and action in MAINTAINER_MAY


def why(caller: str, action: str) -> str:
    """What the refusal says: the remedy for what a maintainer may do, else who may."""
    if caller == "read-only":
        return "read-only"
    if action in MAINTAINER_MAY:
        return "ask the owner to make you a maintainer"
    return "only its owner or an admin may"


@dataclass(frozen=True)
class Setup:
    """The module's daemon, a vault open on its home (for dumps) and every caller's token."""

    daemon: Daemon
    local: Vault
    tokens: dict[str, str]

    def call(self, caller: str, method: str, path: str, body: Any = None) -> Any:
        kw = {} if body is None else {"json": body}
        return self.daemon.call(method, path, self.tokens[caller], **kw)

    def ok(self, caller: str, method: str, path: str, body: Any = None) -> Any:
        response = self.call(caller, method, path, body)
        assert response.status_code == 200, response.text
        return response.json()

    def tool(self) -> str:
        """A new tool of alice's (versions 1 and 2, stable on 1), maintained by mia and
        by rex until his rights were revoked."""
        name = next(NAMES)
        for n in (1, 2):
            published = self.daemon.publish(self.tokens["owner"], name, f"echo {name} {n}\n")
            assert published.status_code == 200, published.text
        self.ok("owner", "POST", "/v1/labels", {"spec": f"{name}:1", "label": "stable"})
        for who in ("mia", "rex"):
            self.ok("owner", "POST", f"/v1/tools/{name}/grants", {"principal": who})
        self.ok("owner", "DELETE", f"/v1/tools/{name}/grants/rex")
        return name

    def last_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = self.ok("admin", "GET", "/v1/audit")[-1]
        return entry


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    home = tmp_path_factory.mktemp("maintainers") / "home"
    made = {
        "owner": ("alice",),
        "maintainer": ("mia",),
        "other": ("bob",),
        "read-only": ("mia", "--read-only"),
        "admin": ("root", "--admin"),
        "revoked": ("rex",),
    }
    tokens = {
        caller: tv(home, "token", "create", "--principal", who, *flags)["secret"]
        for caller, (who, *flags) in made.items()
    }
    daemon = Daemon(home)
    try:
        with Vault.open(home, create=False) as local:
            yield Setup(daemon, local, tokens)
    finally:
        daemon.stop()


# -- the matrix over HTTP -----------------------------------------------------------------------

REQUESTS: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "publish": (
        "POST",
        "/v1/publish",
        lambda t: {"items": [{"name": t, "content": "echo 3\n"}]},
    ),
    "rollback": ("POST", "/v1/tools/{name}/rollback", lambda t: {"version": 1}),
    "label": ("POST", "/v1/labels", lambda t: {"spec": f"{t}:2", "label": "stable"}),
    "deprecate": ("POST", "/v1/tools/{name}/lifecycle", lambda t: {"lifecycle": "deprecated"}),
    "yank": ("POST", "/v1/yank", lambda t: {"spec": f"{t}:2", "reason": "broken"}),
    "retire": ("POST", "/v1/tools/{name}/lifecycle", lambda t: {"lifecycle": "retired"}),
    "transfer": ("POST", "/v1/tools/{name}/owner", lambda t: {"owner": "carol"}),
    "grant": ("POST", "/v1/tools/{name}/grants", lambda t: {"principal": "gus"}),
    "revoke": ("DELETE", "/v1/tools/{name}/grants/mia", lambda t: None),
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("action", ACTIONS)
def test_http_by_each_caller(setup: Setup, action: str, caller: str) -> None:
    name = setup.tool()
    method, route, body = REQUESTS[action]
    before = full_dump(setup.local)
    response = setup.call(caller, method, route.replace("{name}", name), body(name))
    if not allowed(caller, action):
        message = error(response, 403, "forbidden")
        assert why(caller, action) in message, message
        if caller != "read-only":
            assert response.json()["error"]["details"]["owner"] == "alice"
        assert full_dump(setup.local) == before
        return
    assert response.status_code == 200, response.text
    assert full_dump(setup.local) != before
    assert setup.last_entry()["actor"] == PRINCIPAL[caller]


# -- the matrix through the remote CLI ----------------------------------------------------------

COMMANDS: dict[str, Callable[[str, Path], list[str]]] = {
    "publish": lambda t, d: ["add", _file(d, t, "echo 3\n")],
    "rollback": lambda t, d: ["rollback", t, "1"],
    "label": lambda t, d: ["label", f"{t}:2", "stable"],
    "deprecate": lambda t, d: ["deprecate", t],
    "yank": lambda t, d: ["yank", f"{t}:2", "--reason", "broken"],
    "retire": lambda t, d: ["retire", t],
    "transfer": lambda t, d: ["owner", t, "carol"],
    "grant": lambda t, d: ["grant", t, "gus"],
    "revoke": lambda t, d: ["revoke", t, "mia"],
}


def _file(folder: Path, name: str, text: str) -> str:
    path = folder / f"{name}.sh"
    path.write_text(text)
    return str(path)


def remote(setup: Setup, monkeypatch: pytest.MonkeyPatch, caller: str, *args: str) -> Result:
    """``toolvault ARGS`` through TOOLVAULT_URL with the caller's token."""
    monkeypatch.setenv("TOOLVAULT_URL", setup.daemon.url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", setup.tokens[caller])
    return CliRunner().invoke(cli, list(args))


def cli_error(result: Result, code: str) -> str:
    """The one error the CLI printed on stderr: a line ``toolvault: error: …``, or under
    --json the error object of SPEC §11 with ``code``; its message."""
    (line,) = result.stderr.strip().splitlines()
    if line.startswith("{"):
        body = json.loads(line)
        assert body["error"]["code"] == code, body
        message: str = body["error"]["message"]
        return message
    assert line.startswith("toolvault: error: "), line
    return line


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("action", ACTIONS)
def test_remote_cli_by_each_caller(
    setup: Setup, action: str, caller: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = setup.tool()
    before = full_dump(setup.local)
    result = remote(setup, monkeypatch, caller, *COMMANDS[action](name, tmp_path), "--json")
    if not allowed(caller, action):
        assert result.exit_code == 1, result.output
        assert why(caller, action) in cli_error(result, "forbidden")
        assert full_dump(setup.local) == before
        return
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert full_dump(setup.local) != before
    assert setup.last_entry()["actor"] == PRINCIPAL[caller]


# -- grants, revokes and what they leave -------------------------------------------------------


def test_grants_are_listed_audited_and_revoking_leaves_no_right(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = setup.tool()
    listed = setup.ok("other", "GET", f"/v1/tools/{name}/grants")  # anyone who may read
    assert [(g["name"], g["principal"], g["granted_by"]) for g in listed] == [
        (name, "mia", "alice")
    ]
    shown = json.loads(remote(setup, monkeypatch, "admin", "grants", name, "--json").stdout)
    assert shown == listed
    actions = [(e["action"], e["details"].get("principal")) for e in setup.ok(
        "admin", "GET", f"/v1/audit?tool={name}"
    ) if e["action"] in ("grant", "revoke")]  # fmt: skip
    assert actions == [("grant", "mia"), ("grant", "rex"), ("revoke", "rex")]
    # granting again changes nothing and records nothing
    entries = len(setup.ok("admin", "GET", "/v1/audit"))
    again = setup.ok("owner", "POST", f"/v1/tools/{name}/grants", {"principal": "mia"})
    assert again["created"] is False and len(setup.ok("admin", "GET", "/v1/audit")) == entries
    # mia publishes; revoked, she is back to no rights
    assert setup.daemon.publish(setup.tokens["maintainer"], name, "echo mia\n").status_code == 200
    revoked = remote(setup, monkeypatch, "owner", "revoke", name, "mia")
    assert revoked.exit_code == 0 and "no longer a maintainer" in revoked.stdout
    refused = setup.daemon.publish(setup.tokens["maintainer"], name, "echo mia 2\n")
    assert "ask the owner to make you a maintainer" in error(refused, 403, "forbidden")
    assert setup.ok("owner", "GET", f"/v1/tools/{name}/grants") == []
    assert setup.ok("admin", "GET", "/v1/verify")["ok"] is True


def test_a_maintainer_brings_back_a_deprecated_tool_but_not_a_retired_one(setup: Setup) -> None:
    name = setup.tool()
    lifecycle = f"/v1/tools/{name}/lifecycle"
    setup.ok("maintainer", "POST", lifecycle, {"lifecycle": "deprecated"})
    setup.ok("maintainer", "POST", lifecycle, {"lifecycle": "active"})  # undoes her own
    setup.ok("owner", "POST", lifecycle, {"lifecycle": "retired"})
    before = full_dump(setup.local)
    message = error(setup.call("maintainer", "POST", lifecycle, {"lifecycle": "active"}), 403,
                    "forbidden")  # fmt: skip
    assert "may reactivate a retired tool (a maintainer may not)" in message
    published = setup.daemon.publish(setup.tokens["maintainer"], name, "echo back\n")
    assert "is retired; only its owner (alice) or an admin" in error(published, 403, "forbidden")
    assert full_dump(setup.local) == before


def test_a_transfer_keeps_the_maintainers(setup: Setup) -> None:
    name = setup.tool()
    setup.ok("owner", "POST", f"/v1/tools/{name}/owner", {"owner": "carol"})
    assert setup.daemon.publish(setup.tokens["maintainer"], name, "echo still\n").status_code == 200
    refused = setup.call("owner", "POST", f"/v1/tools/{name}/grants", {"principal": "gus"})
    assert "is owned by carol, not alice" in error(refused, 403, "forbidden")


# -- bad input ------------------------------------------------------------------------------------

G = "/v1/tools/{name}/grants"
BAD_HTTP = {
    "unknown tool": ("POST", "/v1/tools/nosuch/grants", {"principal": "gus"}, 404, "no tool named"),
    "empty principal": ("POST", G, {"principal": ""}, 400, "must not be empty"),
    "blank principal": ("POST", G, {"principal": "  "}, 400, "must not be empty"),
    "spaced principal": ("POST", G, {"principal": "a b"}, 400, "without spaces"),
    "control character": ("POST", G, {"principal": "a\x1bb"}, 400, "control character"),
    "long principal": ("POST", G, {"principal": "p" * 257}, 400, "principal is 257"),
    "not a text": ("POST", G, {"principal": 7}, 400, "principal"),
    "no principal": ("POST", G, {}, 400, "principal"),
    "the owner": ("POST", G, {"principal": "alice"}, 400, "alice owns"),
    "revoke a non-grant": ("DELETE", f"{G}/gus", None, 404, "gus is not a maintainer"),
    "revoke a revoked": ("DELETE", f"{G}/rex", None, 404, "(maintainers: mia)"),
    "list an unknown tool": ("GET", "/v1/tools/nosuch/grants", None, 404, "no tool named"),
    "invalid tool name": ("POST", "/v1/tools/..bad/grants", {"principal": "gus"}, 400, "name"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_HTTP))
def test_bad_input_over_http_is_refused_and_writes_nothing(setup: Setup, case: str) -> None:
    name = setup.tool()
    method, route, body, status, words = BAD_HTTP[case]
    before = full_dump(setup.local)
    response = setup.call("owner", method, route.replace("{name}", name), body)
    code = {400: "invalid_input", 404: "not_found"}[status]
    code = "invalid_spec" if case == "invalid tool name" else code  # a name is part of a spec
    assert words in error(response, status, code)
    assert full_dump(setup.local) == before


BAD_CLI = {
    "unknown tool": (["grant", "nosuch", "gus"], 1, "no tool named 'nosuch'"),
    "empty principal": (["grant", "{name}", ""], 2, "principal must not be empty"),
    "spaced principal": (["grant", "{name}", "a b"], 2, "without spaces"),
    "the owner": (["grant", "{name}", "alice"], 2, "alice owns"),
    "revoke a non-grant": (["revoke", "{name}", "gus"], 1, "gus is not a maintainer"),
    "revoke empty": (["revoke", "{name}", ""], 2, "principal must not be empty"),
    "list an unknown tool": (["grants", "nosuch"], 1, "no tool named 'nosuch'"),
}


@pytest.mark.parametrize("where", ["local", "remote"])
@pytest.mark.parametrize("case", list(BAD_CLI))
def test_bad_input_in_the_cli_is_one_line(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, where: str
) -> None:
    args, code, words = BAD_CLI[case]
    if where == "remote":
        name = setup.tool()
        before: Any = full_dump(setup.local)
        result = remote(setup, monkeypatch, "owner", *[a.replace("{name}", name) for a in args])
        after: Any = full_dump(setup.local)
    else:
        home = tmp_path / "home"
        tv(home, "add", _file(tmp_path, "fmt", "echo fmt\n"), "--owner", "alice")
        tv(home, "grant", "fmt", "mia")
        before = sorted(p.name for p in home.rglob("*")), tv(home, "audit")
        result = CliRunner().invoke(
            cli, ["--home", str(home), *[a.replace("{name}", "fmt") for a in args]]
        )
        after = sorted(p.name for p in home.rglob("*")), tv(home, "audit")
    assert result.exit_code == code, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("toolvault: error: ") and words in line, line
    assert after == before


# -- locally: the library and the CLI, on SQLite and PostgreSQL --------------------------------


def test_local_cli_grants_revokes_and_lists(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tv(home, "add", _file(tmp_path, "fmt", "echo fmt\n"), "--owner", "alice")
    made = tv(home, "grant", "fmt", "mia")
    assert (made["name"], made["principal"], made["created"]) == ("fmt", "mia", True)
    assert tv(home, "grant", "fmt", "mia")["created"] is False
    assert [g["principal"] for g in tv(home, "grants", "fmt")] == ["mia"]
    text = CliRunner().invoke(cli, ["--home", str(home), "grants", "fmt"])
    assert text.exit_code == 0 and text.stdout.splitlines()[1].startswith("mia ")
    assert tv(home, "revoke", "fmt", "mia")["revoked"] is True
    assert tv(home, "grants", "fmt") == []
    assert [e["action"] for e in tv(home, "audit", "fmt")] == ["publish", "grant", "revoke"]
    assert tv(home, "verify")["ok"] is True


def test_the_library_checks_rights_in_the_writing_transaction(vault: Vault) -> None:
    vault.publish("fmt", b"echo 1\n", owner="alice")
    vault.grant("fmt", "mia")
    mia = vault.as_principal(Principal("mia"))
    assert mia.publish("fmt", b"echo 2\n").version == 2
    assert mia.label("fmt:1", "stable").version == 1
    with pytest.raises(PermissionDenied, match="only its owner or an admin may yank"):
        mia.yank("fmt:2", "broken")
    with pytest.raises(PermissionDenied, match="may grant maintainer rights"):
        mia.grant("fmt", "gus")
    vault.revoke("fmt", "mia")
    with pytest.raises(PermissionDenied, match="make you a maintainer"):
        mia.publish("fmt", b"echo 3\n")
    with pytest.raises(InvalidInput, match="alice owns 'fmt' already"):
        vault.grant("fmt", "alice")
    with pytest.raises(NotFound, match="mia is not a maintainer of 'fmt' \\(maintainers: none\\)"):
        vault.revoke("fmt", "mia")
    assert vault.verify().ok


# -- verify replays grants --------------------------------------------------------------------

TAMPER = {
    "added": (
        "INSERT INTO grants VALUES ('fmt', 'mallory', '2026-01-01T00:00:00.000000Z', 'alice')",
        "grant fmt:mallory is 'granted by alice at 2026-01-01T00:00:00.000000Z' in the "
        "database but 'absent' according to the audit log",
    ),
    "removed": ("DELETE FROM grants WHERE principal = 'mia'", "grant fmt:mia is 'absent' in the"),
    "changed principal": (
        "UPDATE grants SET principal = 'mallory' WHERE principal = 'mia'",
        "grant fmt:mallory is 'granted by",
    ),
    "changed granter": (
        "UPDATE grants SET granted_by = 'mallory' WHERE principal = 'mia'",
        "grant fmt:mia is 'granted by mallory at",
    ),
    "revoked one back": (
        "INSERT INTO grants VALUES ('fmt', 'rex', '2026-01-01T00:00:00.000000Z', 'alice')",
        "grant fmt:rex is 'granted by alice",
    ),
}


@pytest.mark.parametrize("tamper", list(TAMPER))
def test_verify_finds_a_grant_row_the_log_does_not_explain(vault: Vault, tamper: str) -> None:
    vault.publish("fmt", b"echo 1\n", owner="alice")
    vault.grant("fmt", "mia")
    vault.grant("fmt", "rex")
    vault.revoke("fmt", "rex")
    assert vault.verify().ok
    sql, words = TAMPER[tamper]
    raw(vault, sql)
    report = vault.verify()
    assert not report.ok
    found = [p for p in report.problems if p.kind == "grant"]
    assert found and all(p.name == "fmt" for p in found), report.problems
    assert any(words in p.detail for p in found), [p.detail for p in found]


# -- claimed_by -------------------------------------------------------------------------------


def test_through_the_daemon_another_author_is_kept_as_claimed_by(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = setup.tool()
    said = setup.daemon.publish(setup.tokens["maintainer"], name, "echo 3\n", created_by="@agent")
    assert said.json()[0]["claimed_by"] == "@agent"
    v = setup.ok("owner", "GET", f"/v1/versions/{name}:3")
    assert (v["created_by"], v["claimed_by"]) == ("mia", "@agent")
    same = setup.daemon.publish(setup.tokens["maintainer"], name, "echo 4\n", created_by="mia")
    assert "claimed_by" not in same.json()[0]  # said only when there is something to say
    result = remote(
        setup, monkeypatch, "maintainer", "add", _file(tmp_path, name, "echo 5\n"),
        "--created-by", "@ai-engineer", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["claimed_by"] == "@ai-engineer"
    assert "--created-by @ai-engineer is kept as claimed_by" in result.stderr
    shown = json.loads(remote(setup, monkeypatch, "owner", "show", f"{name}:5", "--json").stdout)
    assert (shown["created_by"], shown["claimed_by"]) == ("mia", "@ai-engineer")
    assert setup.ok("admin", "GET", "/v1/verify")["ok"] is True


def test_locally_created_by_is_kept_as_today(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(
        cli, ["--home", str(home), "add", _file(tmp_path, "fmt", "echo 1\n"),
              "--created-by", "@agent", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0 and "claimed_by" not in result.stderr
    assert "claimed_by" not in json.loads(result.stdout)[0]
    shown = tv(home, "show", "fmt")
    assert (shown["created_by"], shown["claimed_by"]) == ("@agent", None)


def test_claimed_by_is_signed_and_its_change_is_found(vault: Vault) -> None:
    vault.generate_key("daemon")
    vault.publish("fmt", b"echo 1\n", owner="mia")
    mia = vault.as_principal(Principal("mia", admin=True))  # an admin may choose the key
    mia.publish_many([NewVersion("fmt", b"echo 2\n", created_by="@agent")], sign_with="daemon")
    v = vault.get("fmt:2")
    assert (v.created_by, v.claimed_by) == ("mia", "@agent")
    assert vault.signature_status(v) == "valid (key daemon)"
    assert vault.verify().ok
    drop_triggers(vault, "versions")
    raw(vault, "UPDATE versions SET claimed_by = '@someone-else' WHERE version = 2")
    problems = {(p.kind, p.detail.split(" (")[0]) for p in vault.verify().problems}
    assert ("tampered", "claim") in problems, problems
    assert any(k == "signature" and "claim changed" in d for k, d in problems), problems


# -- migration 9 from a vault made before it ----------------------------------------------------

BEFORE = Path(__file__).parent / "data" / "before-descriptions"


def test_a_vault_from_before_grants_upgrades_and_takes_maintainers(home: Path) -> None:
    """vault.sql: a vault made by the toolvault of 8878aa3 (schema 6), signed versions
    and a signed checkpoint; migration 9 adds the grants table and claimed_by, and
    every signature and audit entry still holds."""
    home.mkdir(exist_ok=True)
    with closing(sqlite3.connect(home / "vault.db")) as db:
        db.executescript((BEFORE / "vault.sql").read_text())
    (home / "checkpoint").write_bytes((BEFORE / "checkpoint").read_bytes())
    # its vault key is not in this copy: the key of its checkpoints is listed instead
    public = json.loads((BEFORE / "checkpoint").read_text())["public_key"]
    (home / "config.toml").write_text(f'checkpoint_keys = ["{public}"]\n')
    assert CliRunner().invoke(cli, ["--home", str(home), "sync"]).exit_code == 0
    with Vault.open(home) as vault:
        applied = [(m.id, m.name) for m in vault.migrations() if m.applied_at is not None]
        assert (9, "grants") in applied and applied[-1][0] == len(applied)  # and every later one
    assert tv(home, "verify")["ok"] is True
    assert tv(home, "show", "prune:1")["claimed_by"] is None
    assert tv(home, "show", "prune:1")["signature_status"] == "valid (key release)"
    # the copy has no vault key: a new one signs from here on (checkpoint --new-key)
    made = CliRunner().invoke(cli, ["--home", str(home), "checkpoint", "--new-key"])
    assert made.exit_code == 0, made.output
    tv(home, "grant", "prune", "mia")
    with Vault.open(home) as vault:
        mia = vault.as_principal(Principal("mia"))
        assert mia.publish("prune", b"echo mia\n", created_by="@agent").claimed_by == "@agent"
    assert tv(home, "verify")["ok"] is True
