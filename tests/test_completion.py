"""Shell completion: click's own, with tool names and NAME: selectors from the vault,
a fast path that answers as click does, and never a write to the home."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.shell_completion import shell_complete

from test_cli import ok, tv, write
from test_layering import HEAVY, loaded_modules, top
from toolvault import fastcomplete
from toolvault.cli import COMMANDS, cli
from toolvault.cli.completion import LineBashComplete, complete_name, complete_spec
from toolvault.fastcomplete import NAME, POSITIONS, REPEATING, SPEC

BIN = Path(sys.executable).parent
CALLBACKS = {SPEC: complete_spec, NAME: complete_name}


@pytest.fixture
def tools(tmp_path: Path) -> None:
    """fmt:1..4 (fmt:3 yanked, fmt:2 labelled stable), fmt-extra:1, lint:1."""
    src = tmp_path / "fmt.sh"
    for word in ("one", "two", "three", "four"):
        write(src, f"#!/bin/sh\necho {word}\n")
        ok("add", str(src))
    ok("yank", "fmt:3", "--reason", "broken")
    ok("label", "fmt:2", "stable")
    ok("add", str(write(tmp_path / "fmt-extra.sh", "#!/bin/sh\necho extra\n")))
    ok("add", str(write(tmp_path / "lint.py", "print('lint')\n")))


def bash_env(line: str) -> dict[str, str]:
    return {"COMP_LINE": line}


def words_env(shell: str, line: str) -> dict[str, str]:
    """What click's zsh and fish scripts set for the cursor at the end of ``line``."""
    words = line.split(" ")
    if shell == "fish":
        return {"COMP_WORDS": line, "COMP_CWORD": words[-1]}
    return {"COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}


def click_answer(
    shell: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """What click's own completion prints (the slow path, every command module loaded)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    click.shell_completion.add_completion_class(LineBashComplete, "bash")
    assert shell_complete(cli, {}, "toolvault", "_TOOLVAULT_COMPLETE", f"{shell}_complete") == 0
    return capsys.readouterr().out


def fast_answer(
    shell: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str | None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if not fastcomplete.answer(f"{shell}_complete"):
        return None
    return capsys.readouterr().out


def values(answer: str) -> list[str]:
    """The values of a bash answer."""
    return [line.partition(",")[2] for line in answer.splitlines() if line]


LINES = [
    "toolvault cat ",
    "toolvault cat f",
    "toolvault cat fmt:",
    "toolvault cat fmt:s",
    "toolvault cat fmt:1",
    "toolvault cat fmt-extra:",
    "toolvault cat nope:",
    "toolvault cat /commands/fm",
    "toolvault cat p42:/commands/fmt:l",
    "toolvault cat fmt@sha256:",
    "toolvault --json show l",
    "toolvault versions fmt",
    "toolvault versions fmt:",
    "toolvault rollback f",
    "toolvault diff fmt:1 fmt:",
    "toolvault context fmt fmt-extra lin",
    "toolvault verify fmt l",
    "toolvault pack export fmt:l",
    "toolvault yank fmt:",
    "toolvault audit ",
]


@pytest.mark.parametrize("line", LINES)
def test_the_fast_path_answers_as_click_does(
    tools: None, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shells = [("bash", bash_env(line)), *((s, words_env(s, line)) for s in ("zsh", "fish"))]
    for shell, env in shells:
        if shell != "bash" and line.endswith(" "):
            continue  # a trailing empty word: covered by bash
        fast = fast_answer(shell, env, monkeypatch, capsys)
        assert fast is not None, (shell, line)  # the plain case never falls back
        assert fast == click_answer(shell, env, monkeypatch, capsys), (shell, line)


def test_home_on_the_command_line(
    tools: None,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOOLVAULT_HOME", str(tmp_path / "elsewhere"))
    for line in (f"toolvault --home {home} cat fmt:s", f"toolvault --home={home} cat fmt:s"):
        fast = fast_answer("bash", bash_env(line), monkeypatch, capsys)
        assert (
            fast
            == click_answer("bash", bash_env(line), monkeypatch, capsys)
            == "plain,fmt:stable\n"
        )
    assert fast_answer("bash", bash_env("toolvault cat fmt:s"), monkeypatch, capsys) == "\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("toolvault cat ", ["fmt", "fmt-extra", "lint"]),
        ("toolvault cat fmt", ["fmt", "fmt-extra"]),
        (
            "toolvault cat fmt:",
            [
                "fmt:latest",
                "fmt:previous",
                "fmt:versions",
                "fmt:stable",
                "fmt:4",
                "fmt:3",
                "fmt:2",
                "fmt:1",
            ],
        ),
        ("toolvault cat fmt:s", ["fmt:stable"]),
        ("toolvault cat fmt:v", ["fmt:versions"]),
        ("toolvault cat nope:", []),
        ("toolvault cat fmt@sha256:", []),
        ("toolvault cat /commands/li", ["/commands/lint"]),
        ("toolvault versions fmt:", []),  # a NAME argument takes no selector
        ("toolvault versions f", ["fmt", "fmt-extra"]),
        (
            "toolvault diff fmt:1 fmt-extra:",
            ["fmt-extra:latest", "fmt-extra:previous", "fmt-extra:versions", "fmt-extra:1"],
        ),
    ],
)
def test_what_a_tab_completes_to(
    tools: None,
    line: str,
    expected: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert values(click_answer("bash", bash_env(line), monkeypatch, capsys)) == expected


@pytest.mark.parametrize(
    "line",
    [
        "toolvault ",  # a command name: click (with each command's help)
        "toolvault ca",
        "toolvault cat --",  # an option
        "toolvault cat --json fm",  # an option among the arguments
        "toolvault versions fmt ",  # the action: a click.Choice
        "toolvault label fmt:1 ",  # LABEL is not a tool
        "toolvault run fmt ",  # the tool's own arguments
        "toolvault -h cat f",
    ],
)
def test_everything_else_is_left_to_click(
    tools: None, line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fast_answer("bash", bash_env(line), monkeypatch, capsys) is None


def test_click_completes_commands_options_and_choices(
    tools: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "completion" in values(
        click_answer("bash", bash_env("toolvault co"), monkeypatch, capsys)
    )
    assert values(click_answer("bash", bash_env("toolvault cat --j"), monkeypatch, capsys)) == [
        "--json"
    ]
    got = values(click_answer("bash", bash_env("toolvault versions fmt h"), monkeypatch, capsys))
    assert got == ["history"]


def _arguments(path: tuple[str, ...]) -> list[click.Argument]:
    ctx = click.Context(cli)
    command: click.Command | None = cli
    for word in path:
        assert isinstance(command, click.Group)
        command = command.get_command(ctx, word)
    assert command is not None, path
    return [p for p in command.params if isinstance(p, click.Argument)]


@pytest.mark.parametrize("path", sorted(POSITIONS))
def test_positions_are_what_the_commands_declare(path: tuple[str, ...]) -> None:
    arguments = _arguments(path)
    kinds = POSITIONS[path]
    for argument, kind in zip(arguments, kinds, strict=False):
        assert argument._custom_shell_complete is CALLBACKS[kind], (path, argument.name)
    assert len(arguments) >= len(kinds)
    assert (arguments[len(kinds) - 1].nargs == -1) == (path in REPEATING), path


def _every_command() -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        yield (name,), command
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                found = command.get_command(ctx, sub)
                assert found is not None
                yield (name, sub), found


def test_every_argument_that_completes_tools_is_in_positions() -> None:
    for path, command in _every_command():
        arguments = [p for p in command.params if isinstance(p, click.Argument)]
        completing = [a for a in arguments if a._custom_shell_complete in CALLBACKS.values()]
        if not completing:
            assert path not in POSITIONS, path
            continue
        kinds = tuple(
            SPEC if a._custom_shell_complete is complete_spec else NAME for a in completing
        )
        assert POSITIONS.get(path) == kinds, path
        assert arguments[: len(kinds)] == completing, path  # the leading positional ones


# -- nothing is ever written ---------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    """Every entry under ``folder``: its mode and content hash (or link target)."""
    found: dict[str, tuple[int, bytes | str]] = {}
    if not folder.exists():
        return found
    for path in [folder, *folder.rglob("*")]:
        info = path.lstat()
        if path.is_symlink():
            what: bytes | str = os.readlink(path)
        elif path.is_file():
            what = hashlib.sha256(path.read_bytes()).digest()
        else:
            what = ""
        found[str(path.relative_to(folder))] = (info.st_mode, what)
    return found


def run_tab(line: str, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """One TAB through the real console script, as the bash script runs it."""
    env = {**os.environ, "TOOLVAULT_HOME": str(home), "COMP_LINE": line, **extra}
    env["_TOOLVAULT_COMPLETE"] = "bash_complete"
    return subprocess.run(
        [str(BIN / "toolvault")], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_tab_writes_nothing_to_a_closed_vault(tools: None, home: Path) -> None:
    before = snapshot(home)
    assert not (home / "vault.db-wal").exists()  # every connection closed
    for line in ("toolvault cat f", "toolvault cat fmt:", "toolvault versions "):
        done = run_tab(line, home)
        assert done.returncode == 0 and done.stderr == "" and done.stdout, line
    assert snapshot(home) == before  # no -wal, no -shm, nothing changed


def test_a_tab_writes_nothing_while_a_writer_has_the_vault_open(
    tools: None, home: Path, tmp_path: Path
) -> None:
    writer = sqlite3.connect(home / "vault.db")
    try:
        writer.execute("SELECT count(*) FROM tools").fetchone()
        before = snapshot(home)
        done = run_tab("toolvault cat fmt:", home)
        assert "plain,fmt:stable" in done.stdout.splitlines()
        assert snapshot(home) == before
    finally:
        writer.close()


@pytest.mark.parametrize(
    "damage", ["missing", "garbage", "empty", "folder", "no-tables", "wal-only"]
)
def test_a_missing_or_damaged_vault_completes_nothing_silently(
    tools: None, home: Path, tmp_path: Path, damage: str
) -> None:
    target = home if damage != "missing" else tmp_path / "nowhere"
    db = target / "vault.db"
    if damage == "garbage":
        db.write_bytes(b"not a database at all" * 100)
    elif damage == "empty":
        db.write_bytes(b"")
    elif damage == "folder":
        db.unlink()
        db.mkdir()
    elif damage == "no-tables":
        db.unlink()
        sqlite3.connect(db).close()
    elif damage == "wal-only":
        (target / "vault.db-wal").write_bytes(b"")
    before = snapshot(target)
    for line in ("toolvault cat f", "toolvault cat fmt:"):
        done = run_tab(line, target)
        assert (done.returncode, done.stdout, done.stderr) == (0, "\n", ""), (damage, line)
    assert snapshot(target) == before
    assert damage != "missing" or not target.exists()  # the home was not created


def test_a_daemon_or_postgresql_vault_completes_no_tool_names(
    tools: None, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in ({"TOOLVAULT_URL": "http://127.0.0.1:9"}, {"TOOLVAULT_DB": "postgresql://x/y"}):
        done = run_tab("toolvault cat f", home, **extra)
        assert (done.returncode, done.stdout, done.stderr) == (0, "\n", ""), extra
        with monkeypatch.context() as patch:
            for key, value in extra.items():
                patch.setenv(key, value)
            assert click_answer("bash", bash_env("toolvault cat f"), patch, capsys) == "\n"
            commands = values(click_answer("bash", bash_env("toolvault ca"), patch, capsys))
            assert commands == ["cat"]  # commands are still completed


def test_the_fast_path_loads_neither_click_nor_the_service(
    tools: None, tmp_path: Path, home: Path
) -> None:
    code = "import sys; sys.argv = ['toolvault']\nfrom toolvault.main import main\nmain()"
    env = {**os.environ, "COMP_LINE": "toolvault cat fmt:s", "_TOOLVAULT_COMPLETE": "bash_complete"}
    found, stdout = loaded_modules(code, tmp_path, env)
    assert stdout == b"plain,fmt:stable\n"
    assert not top(found) & {"click", *HEAVY}
    assert "toolvault.vault" not in found


# -- the scripts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _toolvault_completion toolvault"),
        ("zsh", "#compdef toolvault"),
        ("fish", "complete --no-files --command toolvault"),
    ],
)
def test_completion_prints_the_script(shell: str, marker: str) -> None:
    script = ok("completion", shell).stdout
    assert marker in script
    assert f"_TOOLVAULT_COMPLETE={shell}_complete" in script


def test_completion_of_an_unknown_shell_is_a_usage_error() -> None:
    result = tv("completion", "tcsh")
    assert result.exit_code == 2
    assert "'tcsh' is not one of 'bash', 'fish', 'zsh'" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


BASH_TRY = """
source <(toolvault completion bash)
try() {
    COMP_LINE="$1"; COMP_POINT=${#1}; COMPREPLY=()
    _toolvault_completion toolvault
    local IFS='|'; echo "${COMPREPLY[*]}"
}
try 'toolvault cat fmt:'
try 'toolvault cat fmt:s'
try 'toolvault cat p42:/commands/fmt:l'
try 'toolvault cat fm'
try 'toolvault cat "fm'
COMP_WORDBREAKS=' '
try 'toolvault cat fmt:s'
"""


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="no bash")
def test_the_bash_script_in_bash(tools: None, home: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "--norc", "-c", BASH_TRY], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "latest|previous|versions|stable|4|3|2|1",  # bash replaces only what follows ':'
        "stable",
        "latest",
        "fmt|fmt-extra",
        "fmt|fmt-extra",
        "fmt:stable",  # ':' not a word break: the whole word
    ]
