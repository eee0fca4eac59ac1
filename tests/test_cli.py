"""The command line as a user drives it: exit codes, one-line errors, --json shapes."""

from __future__ import annotations

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

from toolvault.cli import COMMANDS, cli

TOOLVAULT = [sys.executable, "-m", "toolvault.cli"]


def tv(*args: str, input: str | bytes | None = None) -> Result:
    """Run ``toolvault ARGS`` in-process."""
    return CliRunner().invoke(cli, list(args), input=input)


def ok(*args: str, input: str | bytes | None = None) -> Result:
    result = tv(*args, input=input)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result


def js(*args: str, input: str | None = None) -> Any:
    return json.loads(ok(*args, "--json", input=input).stdout)


def write(path: Path, text: str, mode: int = 0o755) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def dump(home: Path) -> list[tuple[object, ...]]:
    """Every row of every table, to prove that a refused command wrote nothing."""
    db = home / "vault.db"
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(t, *row) for t in sorted(tables) for row in con.execute(f"SELECT * FROM {t}")]
    finally:
        con.close()


@pytest.fixture
def greet(tmp_path: Path) -> Path:
    """greet:1, greet:2 published; returns the source file."""
    src = write(tmp_path / "greet.sh", "#!/bin/sh\necho one\n")
    ok("add", str(src))
    write(src, "#!/bin/sh\necho two\n")
    ok("add", str(src), "-m", "second")
    return src


def test_publish_update_republish_and_every_spec_form(greet: Path) -> None:
    again = js("add", str(greet))
    sha = again[0]["sha256"]
    assert again == [
        {
            "name": "greet",
            "version": 2,
            "sha256": sha,
            "created": False,
            "ref": f"greet:2@sha256:{sha}",
            "warnings": [],
        }
    ]
    assert "unchanged" in ok("add", str(greet)).stdout
    v1 = hashlib.sha256(b"#!/bin/sh\necho one\n").hexdigest()
    expected = {
        "greet": "two",
        "greet:1": "one",
        "greet:latest": "two",
        "greet:previous": "one",
        "greet:-1": "one",
        "/commands/greet:2": "two",
        "p42:/commands/greet:1": "one",
        f"greet@sha256:{v1[:8]}": "one",
        f"greet:1@sha256:{v1}": "one",
    }
    for spec, word in expected.items():
        assert ok("cat", spec).stdout == f"#!/bin/sh\necho {word}\n", spec
    listing = ok("cat", "greet:versions").stdout.splitlines()
    assert listing[0].split()[:3] == ["VERSION", "SHA256", "SIZE"]
    assert [ln.split()[0] for ln in listing[1:]] == ["1", "2"]
    versions = js("cat", "greet:versions")
    assert [v["version"] for v in versions] == [1, 2]


def test_json_shapes(greet: Path) -> None:
    (tool,) = js("ls")
    assert tool.keys() == {
        "name",
        "latest_version",
        "versions",
        "owner",
        "lifecycle",
        "updated_at",
        "description",
    }
    assert (tool["latest_version"], tool["versions"], tool["lifecycle"]) == (2, 2, "active")
    shown = js("show", "greet:2")
    fields = {
        "name",
        "version",
        "sha256",
        "size",
        "executable",
        "previous_version",
        "previous_sha256",
        "created_at",
        "recorded_at",
        "created_by",
        "owner",
        "origin",
        "session_id",
        "prompt",
        "message",
        "references",
        "transforms",
        "rollback_of",
        "signature",
        "key_id",
        "description",
        "usage",
        "claimed_by",
        "tool",
        "signature_status",
        "yanked",
        "labels",
        "ref",
    }
    assert set(shown) == fields
    assert shown["ref"] == f"greet:2@sha256:{shown['sha256']}"
    assert shown["message"] == "second" and shown["previous_version"] == 1
    assert shown["origin"] == str(greet.resolve())
    cat = js("cat", "greet:1")
    assert cat["content"] == "#!/bin/sh\necho one\n"
    every = js("ls", "--all")
    assert [(v["name"], v["version"]) for v in every] == [("greet", 1), ("greet", 2)]
    assert js("verify") == {
        "ok": True,
        "checked": {
            "tools": 1,
            "versions": 2,
            "blobs": 2,
            "signatures": 0,
            "audit_entries": 2,
            "files": 3,
            "checkpoints": 2,
            "index": 2,
        },
        "problems": [],
    }
    assert json.loads(ok("--json", "ls").stdout) == [tool]


def test_provenance_options_are_kept(tmp_path: Path, greet: Path) -> None:
    src = write(tmp_path / "analyzer.py", "print('a')\n", 0o644)
    ok(
        "add",
        str(src),
        "--owner",
        "team-a",
        "--origin",
        "https://example.test/a.py",
        "-m",
        "first",
        "--created-by",
        "@ai-engineer",
        "--session",
        "cli-1",
        "--prompt",
        "analyze things",
        "--ref",
        "p42:/commands/greet:1",
        "--transform",
        "python",
        "--transform",
        "parse",
    )
    shown = js("show", "analyzer")
    assert shown["owner"] == "team-a" and shown["tool"]["owner"] == "team-a"
    assert shown["origin"] == "https://example.test/a.py"
    assert shown["created_by"] == "@ai-engineer" and shown["session_id"] == "cli-1"
    assert shown["prompt"] == "analyze things"
    v1 = hashlib.sha256(b"#!/bin/sh\necho one\n").hexdigest()
    assert shown["references"] == [f"greet:1@sha256:{v1}"]
    assert shown["transforms"] == ["python", "parse"]
    assert shown["executable"] is False


def test_stdin_directory_and_executable_detection(tmp_path: Path) -> None:
    assert js("add", "-", "--name", "piped", input="#!/bin/sh\necho piped\n")[0]["version"] == 1
    assert js("show", "piped")["executable"] is True
    folder = tmp_path / "tools"
    folder.mkdir()
    write(folder / "a.py", "print(1)\n", 0o644)
    write(folder / "b.sh", "echo b\n", 0o755)
    write(folder / ".hidden", "secret\n")
    added = js("add", str(folder))
    assert [(r["name"], r["version"]) for r in added] == [("a", 1), ("b", 1)]
    assert js("show", "a")["executable"] is False
    assert js("show", "b")["executable"] is True


def test_rollback_and_versions_subcommands(greet: Path) -> None:
    assert "rollback of version 1" in ok("rollback", "greet", "1").stdout
    assert ok("cat", "greet").stdout == "#!/bin/sh\necho one\n"
    assert js("show", "greet:3")["rollback_of"] == 1
    assert ok("cat", "greet:previous").stdout == "#!/bin/sh\necho two\n"
    rolled = js("versions", "greet", "rollback", "previous")
    assert rolled["version"] == 4 and rolled["created"] is True
    history = ok("versions", "greet", "history").stdout
    assert "rollback of 1" in history and "message: second" in history
    diff = ok("versions", "greet", "diff", "1", "2").stdout
    assert "-echo one" in diff and "+echo two" in diff and "\x1b[" not in diff
    assert "--- greet:1" in ok("diff", "greet:2").stdout
    assert (
        "1 insertion(s)(+), 1 deletion(s)(-)" in ok("diff", "greet:1", "greet:2", "--stat").stdout
    )
    usage = tv("versions", "greet", "diff", "1")
    assert usage.exit_code == 2 and "toolvault versions NAME diff A B" in usage.stderr


def test_listings_show_yanked_versions(greet: Path) -> None:
    ok("yank", "greet:1", "--reason", "prints the wrong greeting")
    for args in (["versions", "greet"], ["cat", "greet:versions"]):
        listed = js(*args)
        assert [(v["version"], v["yanked"]) for v in listed] == [
            (1, "prints the wrong greeting"),
            (2, None),
        ], args
        rows = ok(*args).stdout.splitlines()
        assert rows[1].startswith("1 ") and rows[1].endswith("YANKED: prints the wrong greeting")
        assert rows[2].startswith("2 ") and rows[2].endswith("second")
    every = js("ls", "--all")
    assert [(v["name"], v["version"], v["yanked"]) for v in every] == [
        ("greet", 1, "prints the wrong greeting"),
        ("greet", 2, None),
    ]
    rows = ok("ls", "--all").stdout.splitlines()
    assert rows[1].startswith("greet:1 ") and "YANKED: prints the wrong greeting" in rows[1]
    assert "YANKED" not in rows[2]


def test_the_diff_of_a_first_version_is_against_nothing(greet: Path) -> None:
    shown = js("diff", "greet:1")
    assert (shown["old"], shown["old_version"]) == (None, None)
    assert (shown["added"], shown["removed"]) == (2, 0)
    assert shown["diff"].startswith("--- /dev/null\n+++ greet:1\n@@ -0,0 +1,2 @@\n+#!/bin/sh")
    stat = ok("diff", "greet:1", "--stat").stdout
    assert stat == "nothing -> greet:1: 2 insertion(s)(+), 0 deletion(s)(-)\n"


def test_diff_is_coloured_only_on_a_terminal(greet: Path, home: Path) -> None:
    import pty

    main, sub = pty.openpty()
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    proc = subprocess.run([*TOOLVAULT, "diff", "greet:2"], stdout=sub, env=env, timeout=60)
    os.close(sub)
    coloured = os.read(main, 65536).decode()
    os.close(main)
    assert proc.returncode == 0
    assert "\x1b[31m-echo one" in coloured and "\x1b[32m+echo two" in coloured
    piped = subprocess.run(
        [*TOOLVAULT, "diff", "greet:2"], capture_output=True, env=env, timeout=60, check=True
    )
    assert b"\x1b[" not in piped.stdout


BAD_NAMES = ["../x", "a/b", "-rf", "", "x" * 129, "x:y"]
BAD_SPECS = ["tool:0", "tool:01", "tool:-0", "tool:@", "tool@sha256:zz", ""]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_and_nothing_is_written(
    name: str, tmp_path: Path, greet: Path, home: Path
) -> None:
    before = dump(home)
    result = tv("add", str(greet), f"--name={name}")
    assert result.exit_code == 2
    assert_one_line_error(result, "name")
    assert dump(home) == before


@pytest.mark.parametrize("spec", BAD_SPECS)
def test_bad_specs_are_refused_with_the_accepted_forms(spec: str, greet: Path) -> None:
    for command in ("cat", "show", "diff"):
        result = tv(command, spec)
        assert result.exit_code == 2, (command, spec)
        assert_one_line_error(result, "accepted forms")


def test_bad_content_and_paths_are_refused(tmp_path: Path, greet: Path, home: Path) -> None:
    before = dump(home)
    binary = tmp_path / "tool.bin"
    binary.write_bytes(b"\x7fELF\x00\x01")
    latin = tmp_path / "latin.sh"
    latin.write_bytes(b"echo caf\xe9\n")
    (home / "config.toml").write_text("max_tool_size = 100\n")
    big = write(tmp_path / "big.sh", "#" * 101)
    cases = {
        (str(binary),): "NUL byte",
        (str(latin),): "not UTF-8",
        (str(big),): "the limit is 100",
        (str(tmp_path / "missing.sh"),): "no such file",
        ("-",): "needs --name",
        (str(greet), str(binary)): "NUL byte",  # one bad file: the good one is not written
    }
    for args, words in cases.items():
        result = tv("add", *args, input="echo hi\n")
        assert result.exit_code == 2, (args, result.output)
        assert_one_line_error(result, words)
    assert dump(home) == before


def test_missing_versions_and_tools_say_what_exists(greet: Path) -> None:
    result = tv("cat", "greet:7")
    assert result.exit_code == 1
    assert_one_line_error(result, "tool 'greet' has versions 1..2; there is no version 7")
    result = tv("show", "gret")
    assert result.exit_code == 1
    assert_one_line_error(result, "did you mean greet")
    assert tv("cat", "greet:-5").exit_code == 1
    assert tv("cat", "greet@sha256:00000000").exit_code == 1


def test_reads_on_a_missing_vault_fail_clearly(home: Path) -> None:
    result = tv("ls")
    assert result.exit_code == 1
    assert_one_line_error(result, "no vault at")
    assert not home.exists()
    assert "initialized" in ok("init").stdout
    assert "already initialized" in ok("init").stdout
    assert js("ls") == []


def test_verify_names_every_drift_and_sync_repairs(greet: Path, home: Path) -> None:
    history = home / "commands" / ".history" / "greet"
    (history / "1").write_text("#!/bin/sh\necho tampered\n")
    (home / "commands" / "greet").unlink()
    (home / "commands" / "stray").write_text("x")
    result = tv("verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    found = {(p["kind"], p["name"], p["version"]) for p in report["problems"]}
    assert ("altered", "greet", 1) in found
    assert ("symlink", "greet", 2) in found
    assert any(p["kind"] == "stray" and "stray" in p["detail"] for p in report["problems"])
    text = tv("verify")
    assert text.exit_code == 1 and "FAILED: 3 problem(s)" in text.stdout
    ok("sync")
    assert js("verify")["ok"] is True
    assert os.readlink(home / "commands" / "greet") == ".history/greet/2"


def test_run_passes_stdin_stdout_and_exit_code(tmp_path: Path, home: Path) -> None:
    src = write(tmp_path / "t.sh", '#!/bin/sh\nread line\necho "v1 $1 $line"\nexit 3\n')
    ok("add", str(src))
    write(src, "#!/bin/sh\necho v2\n")
    ok("add", str(src))
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    old = subprocess.run(
        [*TOOLVAULT, "run", "t:1", "--flag"],
        input=b"hello\n",
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert (old.returncode, old.stdout) == (3, b"v1 --flag hello\n")
    latest = subprocess.run(
        [str(home / "commands" / "t")], capture_output=True, timeout=60, check=True
    )
    assert latest.stdout == b"v2\n"
    # an edited history file is not trusted: run uses the content from the database
    (home / "commands" / ".history" / "t" / "1").write_text("#!/bin/sh\necho evil\n")
    again = subprocess.run(
        [*TOOLVAULT, "run", "t:1"], input=b"x\n", capture_output=True, env=env, timeout=60
    )
    assert (again.returncode, again.stdout) == (3, b"v1  x\n")


def test_run_refuses_a_tool_that_is_not_executable(tmp_path: Path) -> None:
    ok("add", str(write(tmp_path / "notes.txt", "just text\n", 0o644)))
    result = tv("run", "notes")
    assert result.exit_code == 126  # cannot execute, as env says (SPEC §11)
    assert_one_line_error(result, "not executable")


def test_db_status_and_migrate_list_write_nothing(home: Path) -> None:
    ok("init")
    digest = hashlib.sha256((home / "vault.db").read_bytes()).hexdigest()
    status = js("db", "status")
    assert status[0]["name"] == "initial_schema"
    assert all(m["applied_at"] for m in status)
    assert js("db", "migrate", "--list") == {"pending": []}
    assert "no pending migrations" in ok("db", "migrate").stdout
    assert hashlib.sha256((home / "vault.db").read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("command", [*COMMANDS, "db status", "db migrate"])
def test_every_command_has_help(command: str) -> None:
    result = ok(*command.split(), "--help")
    assert result.stdout.startswith("Usage: ")


def assert_one_line_error(result: Result, words: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("toolvault: error: "), lines[0]
    assert words in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [[], ["db"], ["keys"]])
def test_a_group_alone_prints_its_help(args: list[str]) -> None:
    result = tv(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ") and "Commands:" in result.stdout
