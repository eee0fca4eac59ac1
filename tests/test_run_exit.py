"""``run``'s exit codes (SPEC §11): the tool's own passed through; 127 (no such tool or
version), 126 (cannot execute) and 125 (any other failure) when toolvault fails before
the tool starts, as ``env`` and ``timeout`` do. Real processes: ``run`` execs the tool."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from test_cli import TOOLVAULT
from toolvault.cli import cli

TOOLS = {
    "one": "#!/bin/sh\necho one >&2\nexit 1\n",
    "two": "#!/bin/sh\nexit 2\n",
    "busy": "#!/bin/sh\nexit 125\n",
    "noexec": "echo not a program\n",  # no '#!', no execute bit
    "badinterp": "#!/nonexistent/interpreter\n",
    "args": '#!/bin/sh\necho "$@"\n',
}


@pytest.fixture
def tools(home: Path, tmp_path: Path) -> dict[str, str]:
    for name, text in TOOLS.items():
        path = tmp_path / name
        path.write_text(text)
        path.chmod(0o644 if name == "noexec" else 0o755)
        result = CliRunner().invoke(cli, ["add", str(path)])
        assert result.exit_code == 0, result.output
    return {**os.environ, "TOOLVAULT_HOME": str(home)}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOOLVAULT, *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize(("tool", "code"), [("one", 1), ("two", 2), ("busy", 125)])
def test_the_tools_own_exit_code_passes_through(
    tools: dict[str, str], tool: str, code: int
) -> None:
    done = run(tools, "run", tool)
    assert done.returncode == code
    assert "toolvault: error" not in done.stderr  # the tool's failure, not toolvault's
    missing = run(tools, "run", f"{tool}:9")  # toolvault's, told apart from the tool's
    assert missing.returncode == 127
    assert missing.stderr.startswith(f"toolvault: error: tool '{tool}' has only version 1")


@pytest.mark.parametrize(
    ("argv", "code", "error"),
    [
        (["run", "nosuch"], 127, "not_found"),
        (["run", "one:9"], 127, "not_found"),
        (["run", "one:stable"], 127, "not_found"),
        (["run", "one:0"], 127, "invalid_spec"),
        (["run", "noexec"], 126, "cannot_execute"),
        (["run", "badinterp"], 126, "cannot_execute"),
        (["run"], 125, "invalid_input"),
    ],
)
def test_toolvaults_own_failures_before_the_tool_starts(
    tools: dict[str, str], argv: list[str], code: int, error: str
) -> None:
    done = run(tools, *argv)
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolvault: error: "), done.stderr
    as_json = run(tools, "--json", *argv)
    assert as_json.returncode == code
    assert json.loads(as_json.stderr)["error"]["code"] == error
    assert as_json.stdout == ""


def test_a_copy_that_cannot_execute_is_126_too(tools: dict[str, str], home: Path) -> None:
    """A history file that no longer matches is not trusted: a fresh copy is run."""
    history = home / "commands" / ".history" / "badinterp" / "1"
    history.write_text("#!/bin/sh\necho altered\n")
    done = run(tools, "--json", "run", "badinterp")
    assert done.returncode == 126, done.stderr
    error = json.loads(done.stderr)["error"]
    assert error["code"] == "cannot_execute"
    assert error["details"]["errno"] == "ENOENT"
    assert error["details"]["ref"].startswith("badinterp:1@sha256:")


def test_an_unreachable_daemon_is_125(tools: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**tools, "TOOLVAULT_URL": f"http://127.0.0.1:{port}"}
    done = run(env, "--json", "run", "one")
    assert done.returncode == 125
    assert json.loads(done.stderr)["error"]["code"] == "unreachable"


def test_the_tools_arguments_are_its_own(tools: dict[str, str]) -> None:
    """``--json`` after SPEC belongs to the tool, not to toolvault."""
    done = run(tools, "run", "args", "--json", "x")
    assert (done.returncode, done.stdout) == (0, "--json x\n")
    missing = run(tools, "run", "nosuch", "--json")
    assert missing.returncode == 127
    assert missing.stderr.startswith("toolvault: error: no tool named 'nosuch'")
