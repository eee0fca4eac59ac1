"""Errors for programs (SPEC §11): every code the same from the CLI under --json, the
remote CLI and HTTP, with the same details; docs/errors.md in step with errors.py."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from test_server import Daemon, make_token
from toolvault import errors
from toolvault.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
LIMIT = 2000  # the daemon's max_tool_size, so that too_large is cheap to reach


@dataclass
class Vault:
    """The daemon every row is asked of, and what its tools hold."""

    daemon: Daemon
    home: Path
    tokens: dict[str, str]
    sha: dict[int, str] = field(default_factory=dict)

    def ref(self, n: int) -> str:
        return f"fmt:{n}@sha256:{self.sha[n]}"


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vault]:
    home = tmp_path_factory.mktemp("errors") / "home"
    tokens = {p: make_token(home, p) for p in ("alice", "bob")}
    tokens["reader"] = make_token(home, "reader", "--read-only")
    (home / "config.toml").write_text(f"max_tool_size = {LIMIT}\n")
    daemon = Daemon(home)
    running = Vault(daemon, home, tokens)
    for n in (1, 2):
        published = daemon.publish(tokens["alice"], "fmt", f"#!/bin/sh\necho {n}\n").json()
        running.sha[n] = published[0]["sha256"]
    label = {"spec": "fmt:2", "label": "beta"}
    assert daemon.call("POST", "/v1/labels", tokens["alice"], json=label).status_code == 200
    yank = {"spec": "fmt:1", "reason": "broken"}
    assert daemon.call("POST", "/v1/yank", tokens["alice"], json=yank).status_code == 200
    yield running
    daemon.stop()


def publish(name: str, content: str, **fields: Any) -> tuple[str, str, dict[str, Any]]:
    return "POST", "/v1/publish", {"items": [{"name": name, "content": content, **fields}]}


def write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    path.chmod(0o755)
    return str(path)


@dataclass(frozen=True)
class Row:
    """One error: the command line (given a folder for files), the same request over
    HTTP, the code and the details every front end must give."""

    code: str
    cli: Callable[[Path], list[str]]
    http: Callable[[], tuple[str, str, dict[str, Any] | None]]
    details: Callable[[Vault], dict[str, Any]]
    token: str | None = "alice"
    local: bool = True  # also the local CLI on the daemon's vault (no principal there)
    part: bool = False  # the details hold these (and may say more, e.g. a file's path)


ROWS: dict[str, Row] = {
    "no such tool": Row(
        "not_found",
        lambda d: ["show", "fmx"],
        lambda: ("GET", "/v1/versions/fmx", None),
        lambda v: {"spec": "fmx", "tool": "fmx", "similar": ["fmt"]},
    ),
    "no such version": Row(
        "not_found",
        lambda d: ["show", "fmt:7"],
        lambda: ("GET", "/v1/versions/fmt:7", None),
        lambda v: {"spec": "fmt:7", "tool": "fmt", "versions": 2, "latest": 2},
    ),
    "no such label": Row(
        "not_found",
        lambda d: ["show", "fmt:stable"],
        lambda: ("GET", "/v1/versions/fmt:stable", None),
        lambda v: (
            {"spec": "fmt:stable", "tool": "fmt", "versions": 2, "latest": 2} | {"labels": ["beta"]}
        ),
    ),
    "no listing of a tool": Row(
        "not_found",
        lambda d: ["versions", "fmx"],
        lambda: ("GET", "/v1/tools/fmx/versions", None),
        lambda v: {"spec": "fmx", "tool": "fmx", "similar": ["fmt"]},
    ),
    "a reference that does not resolve": Row(
        "not_found",
        lambda d: ["add", write(d, "other", b"#!/bin/sh\n"), "--ref", "fmt:9"],
        lambda: publish("other", "#!/bin/sh\n", references=["fmt:9"]),
        lambda v: (
            {"spec": "fmt:9", "tool": "fmt", "versions": 2, "latest": 2} | {"reference": "fmt:9"}
        ),
    ),
    "invalid spec": Row(
        "invalid_spec",
        lambda d: ["show", "fmt:01"],
        lambda: ("GET", "/v1/versions/fmt:01", None),
        lambda v: {"spec": "fmt:01"},
    ),
    "invalid name": Row(
        "invalid_spec",
        lambda d: ["add", write(d, "tool", b"#!/bin/sh\n"), "--name", "-bad"],
        lambda: publish("-bad", "#!/bin/sh\n"),
        lambda v: {"name": "-bad"},
    ),
    "binary content": Row(
        "invalid_input",
        lambda d: ["add", write(d, "bin", b"#!/bin/sh\n\0\n")],
        lambda: publish("bin", "#!/bin/sh\n\0\n"),
        lambda v: {},
    ),
    "too large": Row(
        "too_large",
        lambda d: ["add", write(d, "big", b"#" * 3000)],
        lambda: publish("big", "#" * 3000),
        lambda v: {"size": 3000, "limit": LIMIT},
        part=True,  # the daemon names the tool; the local CLI refuses the file it reads
    ),
    "yanked already": Row(
        "conflict",
        lambda d: ["yank", "fmt:1", "--reason", "again"],
        lambda: ("POST", "/v1/yank", {"spec": "fmt:1", "reason": "again"}),
        lambda v: {"ref": v.ref(1), "yanked": "broken"},
    ),
    "a stale base": Row(
        "stale_base",
        lambda d: ["add", write(d, "fmt", b"#!/bin/sh\necho 3\n"), "--expect-latest", "fmt:1"],
        lambda: publish("fmt", "#!/bin/sh\necho 3\n", expect_latest="fmt:1"),
        lambda v: {
            "tool": "fmt",
            "expected": "fmt:1",
            "expected_ref": v.ref(1),
            "expect_new": False,
            "current": {"ref": v.ref(2), "version": 2, "sha256": v.sha[2]},
        },
    ),
    "a tool expected to be new": Row(
        "stale_base",
        lambda d: ["add", write(d, "fmt", b"#!/bin/sh\necho 4\n"), "--expect-new"],
        lambda: publish("fmt", "#!/bin/sh\necho 4\n", expect_new=True),
        lambda v: {
            "tool": "fmt",
            "expected": None,
            "expected_ref": None,
            "expect_new": True,
            "current": {"ref": v.ref(2), "version": 2, "sha256": v.sha[2]},
        },
    ),
    "another owner's tool": Row(
        "forbidden",
        lambda d: ["yank", "fmt:2", "--reason", "mine now"],
        lambda: ("POST", "/v1/yank", {"spec": "fmt:2", "reason": "mine now"}),
        lambda v: {"principal": "bob", "tool": "fmt", "owner": "alice", "needs": "owner"},
        token="bob",
        local=False,
    ),
    "a read-only token": Row(
        "forbidden",
        lambda d: ["yank", "fmt:2", "--reason", "read only"],
        lambda: ("POST", "/v1/yank", {"spec": "fmt:2", "reason": "read only"}),
        lambda v: {"principal": "reader", "tool": "fmt", "read_only": True, "needs": "write"},
        token="reader",
        local=False,
    ),
    "an unknown token": Row(
        "unauthorized",
        lambda d: ["show", "fmt"],
        lambda: ("GET", "/v1/versions/fmt", None),
        lambda v: {"token": "unknown_or_revoked"},
        token="tv_not-a-token",
        local=False,
    ),
    "no token": Row(
        "unauthorized",
        lambda d: ["ls"],
        lambda: ("GET", "/v1/tools", None),
        lambda v: {"token": "missing"},
        token=None,
        local=False,
    ),
}


def test_a_pinned_ref_with_another_hash_says_which_hash_the_version_has(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hash-pinned row needs the vault's hashes, so it is built here."""
    pinned = f"fmt:1@sha256:{vault.sha[2]}"
    row = Row(
        "not_found",
        lambda d: ["show", pinned],
        lambda: ("GET", f"/v1/versions/{pinned}", None),
        lambda v: (
            {"spec": pinned, "tool": "fmt", "version": 1, "ref": v.ref(1)}
            | {"expected": v.sha[2], "found": v.sha[1]}
        ),
    )
    check_row(row, vault, tmp_path, monkeypatch)


def token_of(vault: Vault, row: Row) -> str | None:
    return None if row.token is None else vault.tokens.get(row.token, row.token)


def cli_error(args: list[str]) -> tuple[Result, dict[str, Any]]:
    """Run the CLI with --json; the one JSON object it printed on stderr."""
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    body = json.loads(lines[0])
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    error: dict[str, Any] = body["error"]
    return result, error


def check_row(row: Row, vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = row.details(vault)
    method, path, body = row.http()
    response = vault.daemon.call(method, path, token_of(vault, row), json=body)
    status, exit_code = errors.codes()[row.code]
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == row.code
    assert holds(response.json()["error"]["details"], expected, row.part)
    with monkeypatch.context() as env:  # the remote CLI
        env.setenv("TOOLVAULT_URL", vault.daemon.url)
        token = token_of(vault, row)
        if token is None:
            env.delenv("TOOLVAULT_TOKEN", raising=False)
        else:
            env.setenv("TOOLVAULT_TOKEN", token)
        result, error = cli_error(row.cli(tmp_path))
    assert (result.exit_code, error["code"]) == (exit_code, row.code)
    assert holds(error["details"], expected, row.part)
    if row.local:  # the local CLI on the same vault
        result, error = cli_error(["--home", str(vault.home), *row.cli(tmp_path)])
        assert (result.exit_code, error["code"]) == (exit_code, row.code)
        assert holds(error["details"], expected, row.part)


def holds(details: dict[str, Any], expected: dict[str, Any], part: bool) -> bool:
    return details.items() >= expected.items() if part else details == expected


@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_each_error_is_the_same_from_http_the_remote_cli_and_the_cli(
    row: str, vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_row(ROWS[row], vault, tmp_path, monkeypatch)


def test_every_http_answered_code_has_a_row() -> None:
    """A code the daemon answers for a ToolvaultError and no row reaches is a gap."""
    reached = {row.code for row in ROWS.values()}
    cli_only = {"integrity", "unreachable", "cannot_execute", "error", "internal", "aborted"}
    cli_only |= {"sandbox_unavailable"}  # run --sandbox and MCP's run, no REST route
    daemon_side = {"source", "store", "database_damaged", "schema_too_new", "os_error"}
    untested = set(errors.codes()) - reached - cli_only - daemon_side
    untested -= {"method_not_allowed"}  # test_server's
    assert not untested


# -- what --json means ----------------------------------------------------------------------


def test_a_command_line_click_refuses_is_json_under_json(home: Path) -> None:
    result, error = cli_error(["show"])  # a missing argument
    assert result.exit_code == 2
    assert error["code"] == "invalid_input"
    assert error["details"]["parameter"] == "spec"
    assert error["details"]["usage"].endswith(" show")  # CliRunner's program name
    result, error = cli_error(["show", "x", "--no-such-option"])
    assert (result.exit_code, error["code"]) == (2, "invalid_input")
    plain = CliRunner().invoke(cli, ["show"])  # without --json: the line for people
    assert plain.stderr.startswith("toolvault: error: Missing argument 'SPEC'")
    missing = str(home / "missing.sh")  # a value that reads --json is not the flag
    plain = CliRunner().invoke(cli, ["add", missing, "-m", "--json"])
    assert plain.exit_code == 2 and plain.stderr.startswith("toolvault: error: ")
    result = CliRunner().invoke(cli, ["--json", "show", "fmt"])  # toolvault's own --json
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["details"] == {"home": str(home)}  # no vault


def test_a_daemon_that_cannot_be_reached_is_unreachable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("TOOLVAULT_URL", url)
    result, error = cli_error(["show", "fmt"])
    assert (result.exit_code, error["code"], error["details"]) == (1, "unreachable", {"url": url})


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_remote_cli_keeps_a_code_it_does_not_know(vault: Vault) -> None:
    from toolvault.client import RemoteVault

    remote = RemoteVault(vault.daemon.url, vault.tokens["alice"], home=vault.home.parent)
    with pytest.raises(errors.ToolvaultError) as caught:
        remote._json("DELETE", "/v1/tools")  # a path that exists, with another method
    remote.close()
    assert caught.value.code == "method_not_allowed"


# -- the documented table -------------------------------------------------------------------


def documented() -> dict[str, tuple[int | None, int | None]]:
    text = DOC.read_text().split("## Codes", 1)[1].split("\n## ", 1)[0]
    table: dict[str, tuple[int | None, int | None]] = {}
    for match in re.finditer(r"^\| `(\w+)` \| (\d+|—) \| (\d+|—) \|", text, re.M):
        code, status, exit_code = match.groups()
        table[code] = (
            None if status == "—" else int(status),
            None if exit_code == "—" else int(exit_code),
        )
    return table


def test_docs_errors_md_lists_every_code_as_errors_py_has_it() -> None:
    assert documented() == errors.codes()


def test_the_readme_and_the_api_doc_point_at_the_table() -> None:
    root = DOC.parents[1]
    assert "docs/errors.md" in (root / "README.md").read_text()
    assert "docs/errors.md" in (root / "docs" / "api.md").read_text()


def test_content_a_daemon_serves_against_its_hash_is_integrity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon whose blob was swapped behind its back: the remote CLI refuses the
    content (``integrity``, the expected and found hash) instead of printing or running it."""
    home = tmp_path / "daemon"
    token = make_token(home, "alice")
    src = tmp_path / "t.sh"
    src.write_text("#!/bin/sh\necho good\n")
    added = CliRunner().invoke(cli, ["--home", str(home), "add", str(src), "--json"])
    sha = json.loads(added.stdout)[0]["sha256"]
    with sqlite3.connect(home / "vault.db", isolation_level=None) as db:
        db.execute("DROP TRIGGER blobs_immutable_update")
        db.execute("UPDATE blobs SET content = ? WHERE sha256 = ?", (b"#!/bin/sh\nevil\n", sha))
    db.close()
    daemon = Daemon(home)
    try:
        monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
        monkeypatch.setenv("TOOLVAULT_TOKEN", token)
        result, error = cli_error(["cat", "t"])
        found = hashlib.sha256(b"#!/bin/sh\nevil\n").hexdigest()
        assert (result.exit_code, error["code"]) == (1, "integrity")
        assert error["details"] == {"ref": f"t:1@sha256:{sha}", "expected": sha, "found": found}
        run = CliRunner().invoke(cli, ["--json", "run", "t"])  # never run: 125
        assert run.exit_code == 125 and "evil" not in run.stdout
        assert json.loads(run.stderr)["error"]["code"] == "integrity"
    finally:
        daemon.stop()
