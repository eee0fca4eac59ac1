"""The command line against a real daemon through TOOLVAULT_URL, and pull."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from test_cli import dump
from test_server import Daemon, make_token
from toolvault.cli import cli

V1 = '#!/bin/sh\necho one "$@"\n'
V2 = '#!/bin/sh\necho two "$@"\n'


@pytest.fixture
def remote(daemon: Daemon, token: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """TOOLVAULT_URL and TOOLVAULT_TOKEN pointing at the daemon."""
    env = {"TOOLVAULT_URL": daemon.url, "TOOLVAULT_TOKEN": token}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def tv(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def ok(*args: str, input: str | None = None) -> Result:
    result = tv(*args, input=input)
    assert result.exit_code == 0, (args, result.output)
    return result


def js(*args: str) -> Any:
    return json.loads(ok(*args, "--json").stdout)


def test_the_core_scenario_through_the_daemon(
    remote: dict[str, str], tmp_path: Path, home: Path
) -> None:
    src = tmp_path / "greet.sh"
    src.write_text(V1)
    assert js("add", str(src))[0]["version"] == 1
    src.write_text(V2)
    assert js("add", str(src), "-m", "second")[0]["version"] == 2
    assert js("add", str(src))[0]["created"] is False
    assert not (home / "vault.db").exists()  # no vault was made locally
    v1 = hashlib.sha256(V1.encode()).hexdigest()
    expected = {
        "greet": V2,
        "greet:1": V1,
        "greet:latest": V2,
        "greet:previous": V1,
        "greet:-1": V1,
        "/commands/greet:2": V2,
        f"greet@sha256:{v1[:8]}": V1,
    }
    for spec, text in expected.items():
        assert ok("cat", spec).stdout == text, spec
    assert [v["version"] for v in js("cat", "greet:versions")] == [1, 2]
    (tool,) = [t for t in js("ls") if t["name"] == "greet"]
    assert (tool["latest_version"], tool["versions"], tool["owner"]) == (2, 2, "alice")
    shown = js("show", "greet:2")
    assert shown["created_by"] == "alice" and shown["message"] == "second"
    assert "-echo one" in ok("diff", "greet:2").stdout
    assert "+echo two" in ok("versions", "greet", "diff", "1", "2").stdout
    assert "message: second" in ok("versions", "greet", "history").stdout
    assert js("rollback", "greet", "1")["version"] == 3
    assert ok("cat", "greet").stdout == V1
    assert ok("cat", "greet:previous").stdout == V2
    ok("label", "greet:2", "stable")
    assert ok("cat", "greet:stable").stdout == V2
    ok("yank", "greet:3", "--reason", "back to two")
    assert ok("cat", "greet").stdout == V2
    yanked = tv("cat", "greet:3")
    assert yanked.stdout == V1 and "yanked: back to two" in yanked.stderr
    actions = [e["action"] for e in js("audit", "greet")]
    assert actions == ["publish", "publish", "publish", "label", "yank"]
    assert js("verify")["ok"] is True


def test_errors_come_back_as_one_line_with_the_cli_exit_codes(
    remote: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "errs.sh"
    src.write_text(V1)
    ok("add", str(src))
    bad = tv("cat", "errs:01")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("toolvault: error: invalid version selector in 'errs:01'")
    missing = tv("cat", "errs:7")
    assert missing.exit_code == 1
    expected = "toolvault: error: tool 'errs' has only version 1; there is no version 7\n"
    assert missing.stderr == expected


def test_a_wrong_token_or_no_daemon_is_one_line(
    remote: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLVAULT_TOKEN", "tv_wrong")
    denied = tv("ls")
    assert denied.exit_code == 1 and "TOOLVAULT_TOKEN" in denied.stderr
    monkeypatch.setenv("TOOLVAULT_URL", "http://127.0.0.1:9")
    down = tv("ls")
    assert down.exit_code == 1
    assert down.stderr.startswith("toolvault: error: cannot reach the toolvault daemon")


def test_run_of_an_old_version_through_the_daemon(remote: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "hello.sh"
    src.write_text(V1)
    ok("add", str(src))
    src.write_text(V2)
    ok("add", str(src))
    env = {**os.environ, **remote}
    run = subprocess.run(
        [sys.executable, "-m", "toolvault", "run", "hello:1", "x"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert (run.returncode, run.stdout) == (0, b"one x\n")


def test_pull_copies_tools_into_the_local_vault_and_path(
    remote: dict[str, str], tmp_path: Path, home: Path
) -> None:
    src = tmp_path / "pulled.sh"
    for text in (V1, V2):
        src.write_text(text)
        ok("add", str(src))
    summary = js("pull", "pulled")
    assert [(a["name"], a["version"]) for a in summary["added"]] == [("pulled", 1), ("pulled", 2)]
    assert os.readlink(home / "commands" / "pulled") == ".history/pulled/2"
    out = subprocess.run([str(home / "commands" / "pulled")], capture_output=True, timeout=60)
    assert out.stdout == b"two\n"
    os.environ.pop("TOOLVAULT_URL")  # now the local vault
    assert js("show", "pulled:2")["created_by"] == "alice"
    assert js("verify")["ok"] is True


def test_ingest_with_a_daemon_is_refused_and_pull_copies_instead(
    daemon: Daemon, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    src = tmp_path / "packed.sh"
    src.write_text(V1)
    ok("add", str(src))
    refused = tv("ingest", "--url", f"{daemon.url}/v1/packs?spec=packed")
    assert refused.exit_code == 2
    assert "TOOLVAULT_URL is set" in refused.stderr and "toolvault pull" in refused.stderr
    assert not (home / "vault.db").exists()  # home keeps only the daemon's last head seen
    monkeypatch.delenv("TOOLVAULT_URL")
    denied = tv("ingest", "--url", f"{daemon.url}/v1/packs?spec=packed")
    assert denied.exit_code == 1  # TOOLVAULT_TOKEN goes to TOOLVAULT_URL alone
    monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
    assert "packed:1  added" in ok("pull", "packed").stdout


def local_only_commands(tmp_path: Path) -> dict[str, list[str]]:
    """Every command that acts only on a local vault, with arguments that would write."""
    script = tmp_path / "fmt.sh"
    script.write_text(V1)
    legacy = tmp_path / "tools.db"
    with sqlite3.connect(legacy) as db:
        db.execute("CREATE TABLE IF NOT EXISTS tools (name TEXT, code TEXT)")
        db.execute("INSERT INTO tools VALUES ('old', 'echo old')")
    db.close()
    public = "ed25519:" + base64.b64encode(bytes(32)).decode()
    out = str(tmp_path / "out")
    return {
        "init": ["init"],
        "sync": ["sync"],
        "db status": ["db", "status"],
        "db migrate": ["db", "migrate"],
        "keys generate": ["keys", "generate", "k"],
        "keys list": ["keys", "list"],
        "trust add": ["trust", "add", "k", public],
        "trust list": ["trust", "list"],
        "trust remove": ["trust", "remove", "k"],
        "ingest PATH": ["ingest", str(script)],
        "ingest --url": ["ingest", "--url", script.as_uri()],
        "ingest --git": ["ingest", "--git", str(tmp_path / "repo")],
        "pack export": ["pack", "export", "fmt", "-o", out],
        "migrate-legacy": ["migrate-legacy", "--tools-db", str(legacy)],
        "migrate-legacy --dry-run": ["migrate-legacy", "--tools-db", str(legacy), "--dry-run"],
        "backup": ["backup", out],
        "recover": ["recover", "--from-tree"],
        "checkpoint --new-key": ["checkpoint", "--new-key"],
        "token create": ["token", "create", "--principal", "bob"],
        "token list": ["token", "list"],
        "token revoke": ["token", "revoke", "abc"],
        # a PostgreSQL that is not there: the old code failed there instead of serving on
        "serve": ["serve", "--port", "0", "--db", "postgresql://127.0.0.1:9/none"],
    }


def snapshot(home: Path) -> list[tuple[str, int, int]]:
    """Every file under home with its size and modification time."""
    return sorted(
        (str(p.relative_to(home)), p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in home.rglob("*")
    )


@pytest.mark.parametrize("existing", [False, True], ids=["no-vault", "a-vault"])
def test_every_local_only_command_refuses_while_toolvault_url_is_set(
    existing: bool, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = local_only_commands(tmp_path)
    if existing:
        ok("add", str(tmp_path / "fmt.sh"))
    before = (snapshot(home), dump(home)) if existing else None
    monkeypatch.setenv("TOOLVAULT_URL", "http://127.0.0.1:9")
    for what, args in commands.items():
        result = tv(*args)
        assert result.exit_code == 2, (what, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (what, result.stderr)
        assert lines[0].startswith("toolvault: error: TOOLVAULT_URL is set"), (what, lines)
        assert f"unset TOOLVAULT_URL to use the vault at {home}" in lines[0], (what, lines)
        if existing:
            assert (snapshot(home), dump(home)) == before, what
        else:
            assert not home.exists(), what
        assert not (tmp_path / "out").exists(), what
    assert (
        "'toolvault keys generate' acts only on a local vault"
        in tv(*commands["keys generate"]).stderr
    )


WORKER = """
import sys
from toolvault.client import RemoteVault
from toolvault.vault import NewVersion
url, token, worker = sys.argv[1], sys.argv[2], int(sys.argv[3])
with RemoteVault(url, token) as vault:
    for i in range(50):
        vault.publish_many([NewVersion("shared", f"{worker} {i}\\n".encode())])
"""


def test_eight_clients_through_two_daemons_on_one_postgresql(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "pg"
    token = make_token(home, "alice", db=pg_url)
    daemons = [Daemon(home, "--db", pg_url), Daemon(home, "--db", pg_url)]
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, daemons[n % 2].url, token, str(n)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for n in range(8)
        ]
        outputs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0] * 8, outputs
        assert all(err == b"" for _, err in outputs)
        versions = daemons[1].call("GET", "/v1/tools/shared/versions", token).json()
        assert [v["version"] for v in versions] == list(range(1, 401))
        position = {v["sha256"]: v["version"] for v in versions}
        for worker in range(8):  # all of each client's publishes, in the order it made them
            shas = [hashlib.sha256(f"{worker} {i}\n".encode()).hexdigest() for i in range(50)]
            order = [position[sha] for sha in shas]
            assert order == sorted(order)
        assert daemons[0].call("GET", "/v1/verify", token).json()["ok"] is True
        assert all("500" not in line for d in daemons for line in d.lines)
    finally:
        for d in daemons:
            d.stop()


def test_a_remote_cat_is_one_request_without_click(
    remote: dict[str, str], tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    from test_layering import HEAVY, loaded_modules, top
    from toolvault.main import fast_cat

    src = tmp_path / "quick.sh"
    for text in (V1, V2):
        src.write_text(text)
        ok("add", str(src))
    ok("yank", "quick:2", "--reason", "not yet")
    capfdbinary.readouterr()
    assert fast_cat(["cat", "quick"]) is True
    assert capfdbinary.readouterr().out == V1.encode()
    assert fast_cat(["cat", "quick:2"]) is False  # yanked: the full command warns
    assert fast_cat(["cat", "quick:9"]) is False  # missing: the full command explains
    env = {**os.environ, **remote}
    code = (
        "import sys; sys.argv = ['toolvault', 'cat', 'quick:1']\n"
        "from toolvault.main import main\nmain()"
    )
    found, stdout = loaded_modules(code, tmp_path, env)
    assert stdout == V1.encode()
    assert not top(found) & {"click", "dataclasses", *HEAVY}


def test_a_dangling_reference_through_the_daemon(remote: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "dangle.sh"
    src.write_text(V1)
    refused = tv("add", str(src), "--ref", "ghost:3")
    assert refused.exit_code == 1 and "reference 'ghost:3' does not resolve" in refused.stderr
    stored = tv("add", str(src), "--ref", "ghost:3", "--allow-dangling", "--json")
    assert stored.exit_code == 0, stored.output
    assert "stored as written" in stored.stderr
    assert js("show", "dangle")["references"] == ["ghost:3"]


def test_agent_context_comes_from_the_daemon(remote: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "analyzer.sh"
    for text in (V1, V2):
        src.write_text(text)
        ok("add", str(src), "--prompt", "analyze things")
    (first,) = js("context", "analyzer:1")
    assert first["content"] == V1 and first["version"] == 1
    assert first["prompt"] == "analyze things" and first["created_by"] == "alice"
    text = ok("context", "analyzer:1", "analyzer").stdout
    assert "analyzer:1" in text and "analyzer:2" in text and "echo two" in text


def test_refs_both_ways_through_the_daemon(remote: dict[str, str], tmp_path: Path) -> None:
    base = tmp_path / "base.sh"
    base.write_text(V1)
    ok("add", str(base))
    user = tmp_path / "user.sh"
    user.write_text(V2)
    ok("add", str(user), "--ref", "p42:/commands/base:1")
    forward = js("refs", "user")
    assert [(r["name"], r["version"], r["status"]) for r in forward["references"]] == [
        ("base", 1, "exact")
    ]
    back = js("refs", "base:1", "--reverse")
    assert [(r["name"], r["version"]) for r in back["referenced_by"]] == [("user", 1)]
    assert "user:1  via base:1@sha256:" in ok("refs", "base:1", "--reverse").stdout


def test_binary_content_through_the_daemon_is_refused_like_locally(
    remote: dict[str, str], tmp_path: Path
) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    result = tv("add", str(binary))
    assert result.exit_code == 2
    assert result.stderr.startswith("toolvault: error: ") and "not UTF-8 text" in result.stderr


def test_the_diff_of_a_first_version_is_against_nothing_through_the_daemon(
    remote: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "first.sh"
    src.write_text(V1)
    ok("add", str(src))
    shown = js("diff", "first:1")
    assert (shown["old"], shown["old_version"], shown["removed"]) == (None, None, 0)
    assert shown["added"] == 2 and shown["new"].startswith("first:1@sha256:")
    assert ok("diff", "first", "--stat").stdout == (
        "nothing -> first:1: 2 insertion(s)(+), 0 deletion(s)(-)\n"
    )


def test_provenance_with_unchanged_content_is_said_not_recorded_through_the_daemon(
    remote: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "same.sh"
    src.write_text(V1)
    ok("add", str(src))
    again = tv("add", str(src), "--prompt-file", "-", input="a prompt\n")
    assert again.exit_code == 0, again.output
    assert "same:1 unchanged" in again.stderr and "--prompt-file not recorded" in again.stderr
    assert js("show", "same")["prompt"] is None


def test_listings_show_yanked_versions_through_the_daemon(
    remote: dict[str, str], tmp_path: Path
) -> None:
    src = tmp_path / "listed.sh"
    for text in (V1, V2):
        src.write_text(text)
        ok("add", str(src))
    ok("yank", "listed:2", "--reason", "too loud")
    assert [(v["version"], v["yanked"]) for v in js("versions", "listed")] == [
        (1, None),
        (2, "too loud"),
    ]
    mine = [v for v in js("ls", "--all") if v["name"] == "listed"]
    assert [v["yanked"] for v in mine] == [None, "too loud"]
    assert "YANKED: too loud" in ok("versions", "listed").stdout.splitlines()[2]
