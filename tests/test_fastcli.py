"""The read commands' fast paths (``toolvault.fastcli``) answer byte for byte as the
full command line does, fall back for everything else, and load no heavy module."""

from __future__ import annotations

import importlib.metadata
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from test_cli import ok, tv, write
from test_layering import HEAVY, loaded_modules, top
from toolvault import __version__, lineage, models
from toolvault.cli import COMMANDS as CLICK_COMMANDS
from toolvault.cli import cli
from toolvault.cli import lineage as cli_lineage
from toolvault.fastcli import COMMANDS, rows, serve
from toolvault.fastcli import lineage as fast_lineage
from toolvault.fastcli.help import HELP
from toolvault.fastcli.status import _child, spelled
from toolvault.store.fastread import SCHEMA_VERSION

# What the read commands must not load: click and the service with everything it pulls in
# (verify's checks, signing and cryptography, packs, git, the server, PostgreSQL).
FORBIDDEN = {
    "click",
    "dataclasses",
    "toolvault.vault",
    "toolvault.integrity",
    "toolvault.verify",
    "toolvault.signing",
    "toolvault.checkpoints",
    "toolvault.packs",
    "toolvault.gitsource",
    "toolvault.sources",
    "toolvault.server",
    "toolvault.cli",
    "toolvault.models",
}

SERVED = [
    ["ls"],
    ["ls", "/commands"],
    ["ls", "--all"],
    ["ls", "--json"],
    ["--json", "ls", "--all"],
    ["show", "fmt"],
    ["show", "fmt:2", "--json"],
    ["show", "fmt:stable"],
    ["show", "fmt:3"],  # yanked: show says so, no warning
    ["show", "gone:1"],  # every version yanked: latest is -
    ["show", "uni"],
    ["show", "user", "--json"],
    ["versions", "fmt"],
    ["versions", "fmt", "list"],
    ["versions", "fmt", "--json"],
    ["versions", "/commands/uni"],
    ["diff", "fmt"],
    ["diff", "fmt:1"],  # a first version: against nothing
    ["diff", "fmt:1", "fmt:4"],
    ["diff", "fmt:2", "uni", "--stat"],
    ["diff", "--json", "fmt:2", "fmt:4"],
    ["diff", "noeol"],
    ["refs", "user"],
    ["refs", "user:1", "--json"],
    ["refs", "fmt:2", "--reverse"],
    ["refs", "fmt", "--reverse", "--json"],
    ["refs", "uni"],
    ["refs", "user", "--depth", "all"],  # the lineage graph (issue 14)
    ["refs", "user", "--depth", "all", "--json"],
    ["refs", "--json", "user", "--depth=1"],
    ["refs", "user", "--depth", "0", "--json"],
    ["refs", "fmt:2", "--depth", "all", "--reverse"],
    ["refs", "fmt:2", "--reverse", "--depth", "2", "--json"],
    ["refs", "loose", "--depth", "all"],  # references stored as written
    ["refs", "loose", "--depth", "9", "--json"],
    ["refs", "fmt:4", "--depth", "all", "--reverse", "--json"],  # nothing: the root alone
    ["context", "fmt", "uni", "fmt:4", "noeol"],
    ["context", "user", "fmt:1", "--json"],
    ["show", "csvsum"],
    ["show", "csvsum", "--json"],
    ["context", "csvsum", "fmt"],
    ["context", "csvsum", "--json"],
    ["context", "user", "fmt:2", "uni", "fmt:stable"],  # labels, a deprecation, once
    ["--json", "context", "uni", "user"],
    ["status"],
    ["status", "--json"],
    ["search", "echo"],
    ["search", "fmt", "--json"],
    ["search", "héllo"],  # deprecated uni, a non-ASCII match
    ["search", "écris", "un", "--json"],
    ["search", "fmt", "--all-versions"],
    ["--json", "search", "uses:fmt"],
]


@pytest.fixture
def vault(tmp_path: Path) -> None:
    """fmt:1..4 (3 yanked, 2 labelled stable, 4 a rollback to 1), uni (non-ASCII, backticks,
    a prompt), user (references), gone (its only version yanked), noeol."""
    src = tmp_path / "src"
    src.mkdir()
    for word in ("one", "two", "three"):
        ok("add", str(write(src / "fmt.sh", f"#!/bin/sh\necho {word}\n")), "-m", f"say {word}")
    ok("yank", "fmt:3", "--reason", "broken")
    ok("label", "fmt:2", "stable")
    ok("rollback", "fmt", "1", "-m", "back")
    text = "#!/usr/bin/env python3\nprint('héllo ```')\n"
    ok("add", str(write(src / "uni.py", text)), "--prompt", "écris\n  un outil", "--owner", "zoé")
    user = write(src / "user.sh", "#!/bin/bash\nfmt\n")
    ok("add", str(user), "--ref", "fmt:2", "--ref", "uni", "-m", "uses fmt")
    ok("add", str(write(src / "gone.sh", "echo gone\n")))
    ok("yank", "gone:1", "--reason", "leaks")
    ok("add", str(write(src / "noeol.txt", "a\nb")))
    ok("add", str(write(src / "noeol.txt", "a\nc")))
    ok("deprecate", "uni", "-m", "use fmt")
    # a description and usage read from the header (SPEC §10)
    header = '#!/usr/bin/env python3\n"""Summarise the columns of a CSV — per column.\n\n'
    ok("add", str(write(src / "csvsum.py", header + 'Usage: csvsum FILE\n  -n  rows\n"""\n')))
    # references stored as written (dangling when published): one resolves now, to a
    # version with references of its own, the other to nothing
    refs = ("--ref", "later", "--ref", "ghost", "--allow-dangling")
    ok("add", str(write(src / "loose.sh", "#!/bin/sh\nlater\n")), *refs)
    ok("add", str(write(src / "later.sh", "#!/bin/sh\nuser\n")), "--ref", "user")


@pytest.mark.parametrize("argv", SERVED, ids=" ".join)
def test_each_read_prints_what_click_prints(
    vault: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    full = tv(*argv)
    assert full.exit_code == 0, full.output
    capsys.readouterr()
    assert serve(argv) is True, "not served by the fast path"
    assert capsys.readouterr().out == full.stdout


def test_home_given_on_the_command_line(
    vault: None, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOOLVAULT_HOME", "/nonexistent")
    for argv in (["--home", f"{home}//", "status"], ["--home", str(home), "ls", "--json"]):
        full = tv(*argv)
        assert full.exit_code == 0, full.output
        capsys.readouterr()
        assert serve(argv) is True
        assert capsys.readouterr().out == full.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "fmt:9"],  # missing: click explains
        ["show", "nope"],
        ["show", "fmt:0"],  # invalid
        ["show", "fmt:versions"],
        ["show", "fmt:nolabel"],
        ["show", "fmt@sha256:00000000"],
        ["show", "fmt", "-h"],
        ["show", "fmt", "--help"],
        ["show"],
        ["show", "fmt", "uni"],
        ["ls", "/elsewhere"],
        ["ls", "--bogus"],
        ["versions", "fmt", "history"],
        ["versions", "fmt", "diff", "1", "2"],
        ["versions", "nope"],
        ["versions", "fmt:2"],
        ["diff", "fmt", "-U", "1"],
        ["diff", "fmt:1", "nope"],
        ["refs", "nope"],
        ["refs", "user", "--depth"],  # no value: click explains
        ["refs", "user", "--depth", "-1"],
        ["refs", "user", "--depth=-1"],
        ["refs", "user", "--depth="],
        ["refs", "user", "--depth", "x"],  # a bad depth: click explains
        ["refs", "user", "--depth", "1", "--depth", "2"],
        ["refs", "user", "--depth", "1", "--help"],
        ["refs", "nope", "--depth", "all"],
        ["ls", "--depth", "1"],  # only refs takes a depth
        ["context", "fmt", "nope"],
        ["context"],
        ["context", "fmt:3"],  # yanked: the full command warns on stderr
        ["context", "fmt", "--max-bytes", "3"],
        ["context", "fmt", "--with-refs"],
        ["context", "fmt:1..2"],  # a range
        ["status", "extra"],
        ["cat", "fmt"],  # cat has its own fast path
        ["rollback", "fmt", "1"],
        ["--home"],
        ["--home", "", "ls"],
        ["--home=x", "ls"],
        ["--home", "/nonexistent", "ls"],
        ["--version", "ls"],
        ["ls", "--", "/commands"],
    ],
    ids=" ".join,
)
def test_everything_else_falls_back_having_printed_nothing(
    vault: None, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve(argv) is False
    assert capsys.readouterr().out == ""


def test_a_signed_version_falls_back_for_its_signature_to_be_checked(
    vault: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok("keys", "generate", "alice")
    ok("add", str(write(tmp_path / "s.sh", "echo signed\n")), "--sign", "alice")
    assert serve(["show", "s"]) is False
    assert serve(["context", "s"]) is False
    assert serve(["ls"]) is True  # listings show no signature status


def test_a_daemon_or_postgres_falls_back(
    vault: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOOLVAULT_URL", "http://127.0.0.1:9")
    assert serve(["ls"]) is False
    monkeypatch.delenv("TOOLVAULT_URL")
    monkeypatch.setenv("TOOLVAULT_DB", "postgresql://nobody@127.0.0.1:9/x")
    assert serve(["status"]) is False
    assert capsys.readouterr().out == ""


def test_an_old_schema_falls_back_so_that_it_is_migrated(vault: None, home: Path) -> None:
    con = sqlite3.connect(home / "vault.db")
    con.execute("DELETE FROM schema_migrations WHERE id = ?", (SCHEMA_VERSION,))
    con.commit()
    con.close()
    assert serve(["ls"]) is False


def test_no_vault_or_an_empty_file_falls_back(home: Path) -> None:
    assert serve(["ls"]) is False
    home.mkdir()
    (home / "vault.db").touch()
    assert serve(["status"]) is False
    assert (home / "vault.db").stat().st_size == 0  # nothing written to it


def test_text_with_an_escape_is_left_to_click(
    vault: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # click strips ANSI escapes on a pipe and keeps them on a terminal
    ok("add", str(write(tmp_path / "esc.sh", "printf '\x1b[31mred\x1b[0m'\n")))
    assert serve(["context", "esc"]) is False
    assert capsys.readouterr().out == ""


def test_diff_on_a_terminal_is_coloured_by_click(vault: None) -> None:
    import pty

    primary, secondary = pty.openpty()
    code = (
        "import sys; from toolvault.fastcli import serve; sys.exit(0 if serve(sys.argv[1:]) else 3)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, "diff", "fmt"], stdout=secondary, timeout=60
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert done.returncode == 3  # fell back: click colours it


def test_help_and_version_are_clicks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    # a real process: CliRunner makes click wrap at 80 columns, a terminal at 78
    run = [sys.executable, "-m", "toolvault.cli", "--help"]
    full = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert full.stdout == HELP, (
        "toolvault/fastcli/help.py's HELP differs from click's help: paste in what "
        "'COLUMNS=80 python -m toolvault.cli --help' prints"
    )
    assert serve(["--help"]) is True and capsys.readouterr().out == full.stdout
    assert serve(["-h"]) is True and capsys.readouterr().out == full.stdout
    version = CliRunner().invoke(cli, ["--version"], prog_name="toolvault")
    assert serve(["--version"]) is True and capsys.readouterr().out == version.stdout
    assert importlib.metadata.version("toolvault") == __version__


@pytest.mark.parametrize("columns", ["200", "70", "52", "1"])
def test_ls_cuts_descriptions_to_the_terminal_as_click_does(
    vault: None, columns: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    full = tv("ls")
    assert full.exit_code == 0, full.output
    capsys.readouterr()
    assert serve(["ls"]) is True
    assert capsys.readouterr().out == full.stdout
    line = next(x for x in full.stdout.splitlines() if x.startswith("csvsum"))
    if columns == "200":
        assert line.endswith("Summarise the columns of a CSV — per column.")
    else:
        assert line.endswith("…")
        assert len(line) <= max(int(columns), len(line.split("…")[0]) + 1)


def test_a_narrow_terminal_gets_clicks_wrapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert serve(["--help"]) is False


def test_the_copies_match_what_they_copy() -> None:
    assert rows.VERSION_FIELDS == models.VERSION_FIELDS
    assert fast_lineage.STATUS == cli_lineage.STATUS
    assert fast_lineage.PINNED.pattern == lineage.PINNED.pattern
    assert set(COMMANDS) <= set(CLICK_COMMANDS)


@pytest.mark.parametrize(
    "path", ["/a//b/./c/", "//x/y", "///x", "a/../b", ".", "./", "rel/x", "/", "//", "~/x"]
)
def test_status_spells_the_home_as_pathlib_does(path: str) -> None:
    assert spelled(path) == str(Path(path))
    assert _child(spelled(path), "vault.db") == str(Path(path) / "vault.db")


@pytest.mark.parametrize(
    "argv",
    [
        ["ls"],
        ["ls", "--all", "--json"],
        ["show", "fmt"],
        ["versions", "fmt"],
        ["diff", "fmt"],
        ["refs", "user"],
        ["refs", "user", "--depth", "all", "--json"],
        ["refs", "fmt:2", "--reverse", "--depth", "3"],
        ["context", "fmt"],
        ["status"],
        ["--version"],
        ["--help"],
    ],
    ids=" ".join,
)
def test_the_read_commands_load_nothing_heavy(
    vault: None, home: Path, tmp_path: Path, argv: list[str]
) -> None:
    env = {**os.environ, "TOOLVAULT_HOME": str(home), "COLUMNS": "80"}
    code = (
        f"import sys; sys.argv = ['toolvault', *{argv!r}]\nfrom toolvault.main import main\nmain()"
    )
    found, stdout = loaded_modules(code, tmp_path, env)
    assert stdout
    loaded = found & FORBIDDEN | top(found) & {*FORBIDDEN, *HEAVY}
    assert not loaded, f"toolvault {' '.join(argv)} loaded {sorted(loaded)}"
