"""``toolvault cat``'s fast path answers exactly as the full command line does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli import ok, tv, write
from test_layering import HEAVY, loaded_modules, top
from toolvault.main import fast_cat
from toolvault.store.fastread import SCHEMA_VERSION
from toolvault.store.migrations import STEPS

SPECS = [
    "fmt",
    "fmt:latest",
    "fmt:1",
    "fmt:2",
    "fmt:previous",
    "fmt:-1",
    "fmt:-2",
    "/commands/fmt:2",
    "p42:/commands/fmt:1",
]


@pytest.fixture
def fmt(tmp_path: Path) -> Path:
    """fmt:1..4, with fmt:3 yanked."""
    src = tmp_path / "fmt.sh"
    for word in ("one", "two", "three", "four"):
        write(src, f"#!/bin/sh\necho {word}\n")
        ok("add", str(src))
    ok("yank", "fmt:3", "--reason", "broken")
    return src


def test_schema_version_is_the_number_of_migrations() -> None:
    assert len(STEPS) == SCHEMA_VERSION


def test_fast_path_prints_what_the_full_command_prints(
    fmt: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    for spec in SPECS:
        full = tv("cat", spec)
        assert full.exit_code == 0
        assert fast_cat(["cat", spec]) is True, spec
        assert capfdbinary.readouterr().out == full.stdout_bytes, spec


@pytest.mark.parametrize(
    "argv",
    [
        ["cat", "fmt:3"],  # yanked: the full path warns
        ["cat", "fmt:9"],  # missing: the full path explains
        ["cat", "nope"],
        ["cat", "fmt:0"],  # invalid: the full path says why
        ["cat", "fmt:versions"],
        ["cat", "fmt", "--json"],
        ["cat", "--json", "fmt"],
        ["show", "fmt"],
        ["cat", "fmt:stable"],
        ["--home", "/nonexistent", "cat", "fmt"],
    ],
)
def test_everything_else_falls_back_to_the_full_command(fmt: Path, argv: list[str]) -> None:
    assert fast_cat(argv) is False


def test_an_old_schema_falls_back_so_that_it_is_migrated(fmt: Path, home: Path) -> None:
    import sqlite3

    con = sqlite3.connect(home / "vault.db")
    con.execute("DELETE FROM schema_migrations WHERE id = ?", (SCHEMA_VERSION,))
    con.commit()
    con.close()
    assert fast_cat(["cat", "fmt"]) is False


def test_the_console_script_serves_cat_without_click(fmt: Path, tmp_path: Path, home: Path) -> None:
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    code = (
        "import sys; sys.argv = ['toolvault', 'cat', 'fmt:1']\n"
        "from toolvault.main import main\nmain()"
    )
    found, stdout = loaded_modules(code, tmp_path, env)
    assert stdout == b"#!/bin/sh\necho one\n"
    assert not top(found) & {"click", "dataclasses", *HEAVY}


def test_the_console_script_falls_back_with_the_same_errors(fmt: Path, home: Path) -> None:
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    run = [sys.executable, "-m", "toolvault"]
    yanked = subprocess.run([*run, "cat", "fmt:3"], capture_output=True, env=env, timeout=60)
    assert yanked.returncode == 0 and yanked.stdout == b"#!/bin/sh\necho three\n"
    assert b"yanked: broken" in yanked.stderr
    missing = subprocess.run([*run, "cat", "fmt:9"], capture_output=True, env=env, timeout=60)
    assert missing.returncode == 1
    assert (
        missing.stderr == b"toolvault: error: tool 'fmt' has versions 1..4; there is no version 9\n"
    )
