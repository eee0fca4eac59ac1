"""Nothing outside the home is ever written or deleted (issue 11, items 1-3).

A home kept in a git checkout can ship a symbolic link anywhere in ``commands/``. A link
where one of the tree's folders or files should be is drift: ``verify`` reports it,
``sync`` and the next write replace the link itself, and what it points to is never
read, written or deleted. Version files carry no set-uid, set-gid or sticky bit.
Every case runs through the library (over SQLite and PostgreSQL) or the CLI, and checks
a folder outside the home byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from toolvault import Vault
from toolvault.cli import cli

# Where a planted link can stand in for a folder of the tree.
FOLDERS = ["commands", "commands/.history", "commands/.history/greet"]
V = [b"#!/bin/sh\necho one\n", b"#!/bin/sh\necho two\n", b"#!/bin/sh\necho three\n"]
EVIL = b"#!/bin/sh\necho evil\n"

Snapshot = dict[str, tuple[Any, ...]]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the home, holding what a planted link would expose: a victim
    file, a subfolder, and names the tree itself uses (versions, metadata.json, a tool
    folder, .history), so that any write or clean-up through a link would show."""
    where = tmp_path / "elsewhere"
    (where / "sub" / "deeper").mkdir(parents=True)
    (where / "victim").write_text("keep me\n")
    (where / "sub" / "file").write_text("keep me too\n")
    (where / "1").write_bytes(EVIL)
    (where / "metadata.json").write_text("{}\n")
    (where / "greet").mkdir()
    (where / "greet" / "1").write_bytes(EVIL)
    (where / ".history" / "greet").mkdir(parents=True)
    (where / "victim").chmod(0o600)
    return where


def snapshot(root: Path) -> Snapshot:
    """Every entry under ``root`` (links not followed): its kind, mode, and content or
    target."""
    found: Snapshot = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            info = path.lstat()
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("folder", info.st_mode)
            else:
                found[key] = ("file", info.st_mode, path.read_bytes())
    return found


def plant_link(home: Path, place: str, target: Path) -> Path:
    """Put a symbolic link to ``target`` where ``home/place`` is."""
    path = home / place
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.symlink_to(target)
    return path


def published(vault: Vault) -> Vault:
    for content in V[:2]:
        vault.publish("greet", content)
    return vault


def kinds(vault: Vault) -> set[tuple[str, str | None, int | None]]:
    return {(p.kind, p.name, p.version) for p in vault.verify().problems}


def assert_tree_is_whole(home: Path, vault: Vault) -> None:
    """No link left where a folder is, and nothing wrong."""
    for place in FOLDERS:
        assert not (home / place).is_symlink(), place
        assert (home / place).is_dir(), place
    report = vault.verify()
    assert report.ok, report.problems


# -- item 1: a link in a folder's place, through the library -------------------------


@pytest.mark.parametrize("place", FOLDERS)
def test_verify_reports_a_linked_folder_and_sync_replaces_only_the_link(
    vault: Vault, outside: Path, place: str
) -> None:
    published(vault)
    before = snapshot(outside)
    link = plant_link(vault.home, place, outside)

    report = vault.verify()

    assert not report.ok
    strays = [p.detail for p in report.problems if p.kind == "stray"]
    assert f"{link} is a symbolic link where a folder should be" in " ".join(strays)
    assert snapshot(outside) == before

    fixed = vault.sync()

    assert f"removed {link} (a symbolic link where a folder should be)" in fixed
    assert snapshot(outside) == before
    assert_tree_is_whole(vault.home, vault)
    assert (vault.home / "commands/greet").read_bytes() == V[1]


WRITES: dict[str, Callable[[Vault], object]] = {
    "publish": lambda v: v.publish("greet", V[2]),
    "rollback": lambda v: v.rollback("greet", 1),
    "retire": lambda v: v.set_lifecycle("greet", "retired"),
    "deprecate": lambda v: v.set_lifecycle("greet", "deprecated"),
    "yank": lambda v: v.yank("greet:2", "broken"),
}


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("place", FOLDERS)
def test_a_write_replaces_a_linked_folder_and_never_touches_its_target(
    vault: Vault, outside: Path, place: str, write: str
) -> None:
    published(vault)
    before = snapshot(outside)
    plant_link(vault.home, place, outside)

    WRITES[write](vault)

    assert snapshot(outside) == before
    assert_tree_is_whole(vault.home, vault)


@pytest.mark.parametrize("place", FOLDERS)
def test_a_file_where_a_folder_should_be_is_replaced(vault: Vault, place: str) -> None:
    published(vault)
    path = vault.home / place
    shutil.rmtree(path)
    path.write_text("in the way\n")

    assert ("stray", None if place != FOLDERS[2] else "greet", None) in kinds(vault)
    vault.publish("greet", V[2])

    assert_tree_is_whole(vault.home, vault)
    assert (vault.home / "commands/greet").read_bytes() == V[2]


def test_a_new_vault_in_a_home_whose_commands_is_a_link_makes_nothing_there(
    home: Path, outside: Path
) -> None:
    home.mkdir()
    before = snapshot(outside)
    (home / "commands").symlink_to(outside)

    with Vault.open(home) as vault:
        vault.publish("greet", V[0])
        assert snapshot(outside) == before
        assert_tree_is_whole(home, vault)


def test_a_planted_lock_link_is_replaced_not_followed(vault: Vault, outside: Path) -> None:
    published(vault)
    lock = vault.home / ".commands.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(outside / "made-through-the-lock")
    before = snapshot(outside)

    vault.publish("greet", V[2])
    vault.sync()

    assert snapshot(outside) == before
    assert not lock.is_symlink() and lock.is_file()


# -- item 2: a link or something else planted where a file of ours goes -----------


def test_a_link_planted_at_the_next_version_is_replaced_by_the_version(
    vault: Vault, outside: Path
) -> None:
    published(vault)
    before = snapshot(outside)
    planted = vault.home / "commands/.history/greet/3"
    planted.symlink_to(outside / "1")

    vault.publish("greet", V[2])

    assert not planted.is_symlink()
    assert planted.read_bytes() == V[2]
    assert (vault.home / "commands/greet").read_bytes() == V[2]
    assert snapshot(outside) == before
    assert vault.verify().ok


def test_a_file_planted_at_the_next_version_is_overwritten(vault: Vault) -> None:
    published(vault)
    planted = vault.home / "commands/.history/greet/3"
    planted.write_bytes(EVIL)
    planted.chmod(0o755)

    vault.publish("greet", V[2])

    assert (vault.home / "commands/greet").read_bytes() == V[2]
    assert vault.verify().ok


def test_a_linked_metadata_json_is_reported_and_replaced(vault: Vault, outside: Path) -> None:
    published(vault)
    meta = vault.home / "commands/.history/greet/metadata.json"
    # the link points at the very bytes the file should hold: it is still not ours
    (outside / "metadata.json").write_bytes(meta.read_bytes())
    before = snapshot(outside)
    plant_link(vault.home, str(meta.relative_to(vault.home)), outside / "metadata.json")

    assert ("metadata", "greet", None) in kinds(vault)
    assert f"wrote {meta}" in vault.sync()

    assert not meta.is_symlink()
    assert snapshot(outside) == before
    assert vault.verify().ok


def test_a_linked_older_version_is_replaced_by_the_next_publish(
    vault: Vault, outside: Path
) -> None:
    published(vault)
    version = vault.home / "commands/.history/greet/1"
    (outside / "1").write_bytes(V[0])  # the right content, but not a file of ours
    before = snapshot(outside)
    plant_link(vault.home, str(version.relative_to(vault.home)), outside / "1")
    assert ("missing", "greet", 1) in kinds(vault)

    vault.publish("greet", V[2])

    assert not version.is_symlink() and version.read_bytes() == V[0]
    assert snapshot(outside) == before
    assert vault.verify().ok


@pytest.mark.parametrize("name", ["1", "metadata.json"])
def test_a_folder_where_a_file_should_be_is_replaced(vault: Vault, name: str) -> None:
    published(vault)
    path = vault.home / "commands/.history/greet" / name
    path.unlink()
    (path / "inside").mkdir(parents=True)

    assert not vault.verify().ok
    vault.sync()

    assert path.is_file()
    assert vault.verify().ok


def test_a_folder_where_a_retired_tools_link_was_is_removed(vault: Vault) -> None:
    published(vault)
    link = vault.home / "commands/greet"
    link.unlink()
    (link / "inside").mkdir(parents=True)

    vault.set_lifecycle("greet", "retired")

    assert not link.exists()
    assert vault.verify().ok


# -- item 3: set-uid, set-gid and sticky bits -------------------------------------


@pytest.mark.parametrize("bit", [stat.S_ISUID, stat.S_ISGID, stat.S_ISVTX])
def test_verify_reports_set_id_and_sticky_bits_and_sync_clears_them(vault: Vault, bit: int) -> None:
    published(vault)
    version = vault.home / "commands/.history/greet/1"
    version.chmod(0o755 | bit)
    assert stat.S_IMODE(version.stat().st_mode) == 0o755 | bit  # the bit held

    problems = [p for p in vault.verify().problems if p.kind == "mode"]

    assert [(p.name, p.version) for p in problems] == [("greet", 1)]
    assert f"has mode {0o755 | bit:o}, expected 755" in problems[0].detail
    assert f"wrote {version}" in vault.sync()
    assert stat.S_IMODE(version.stat().st_mode) == 0o755
    assert vault.verify().ok


# -- the same over the command line -------------------------------------------------


def tv(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def js(*args: str, code: int = 0) -> Any:
    result = tv(*args, "--json")
    assert result.exit_code == code, (args, result.output, result.exception)
    return json.loads(result.stdout)


@pytest.fixture
def greet(tmp_path: Path) -> Path:
    """greet:1 and greet:2 added through the CLI; returns the source file."""
    src = tmp_path / "greet.sh"
    for content in V[:2]:
        src.write_bytes(content)
        src.chmod(0o755)
        js("add", str(src))
    return src


@pytest.mark.parametrize("place", FOLDERS)
def test_cli_add_sync_verify_rollback_retire_never_touch_a_linked_folders_target(
    greet: Path, home: Path, outside: Path, place: str
) -> None:
    before = snapshot(outside)
    link = plant_link(home, place, outside)

    report = js("verify", code=1)
    assert any("symbolic link" in p["detail"] for p in report["problems"])
    fixed = js("sync")["fixed"]
    assert f"removed {link} (a symbolic link where a folder should be)" in fixed
    assert js("verify")["ok"] is True
    for args in (["add", str(greet)], ["rollback", "greet", "1"], ["retire", "greet"]):
        plant_link(home, place, outside)
        greet.write_bytes(V[2])
        js(*args)
        assert snapshot(outside) == before, args
        assert js("verify")["ok"] is True, args
    assert snapshot(outside) == before


def test_cli_a_planted_version_link_does_not_become_the_command(
    greet: Path, home: Path, outside: Path
) -> None:
    (home / "commands/.history/greet/3").symlink_to(outside / "1")
    greet.write_bytes(V[2])

    assert js("add", str(greet))[0]["version"] == 3

    ran = subprocess.run(
        [str(home / "commands/greet")], capture_output=True, check=True, timeout=60
    )
    assert ran.stdout == b"three\n"
    assert js("verify")["ok"] is True


def test_cli_verify_and_sync_do_not_block_on_a_fifo_in_a_files_place(
    greet: Path, home: Path
) -> None:
    meta = home / "commands/.history/greet/metadata.json"
    meta.unlink()
    os.mkfifo(meta)
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    run = [sys.executable, "-m", "toolvault.cli"]

    # a timeout, not a sleep: reading a FIFO would wait for a writer for ever
    checked = subprocess.run([*run, "verify", "--json"], env=env, capture_output=True, timeout=60)
    assert checked.returncode == 1
    problems = json.loads(checked.stdout)["problems"]
    assert [p["kind"] for p in problems] == ["metadata"]
    synced = subprocess.run([*run, "sync"], env=env, capture_output=True, timeout=60)
    assert synced.returncode == 0, synced.stderr
    assert meta.is_file() and js("verify")["ok"] is True


def test_cli_a_mode_with_the_set_uid_bit_fails_verify(greet: Path, home: Path) -> None:
    (home / "commands/.history/greet/2").chmod(0o4755)

    problems = js("verify", code=1)["problems"]

    assert [(p["kind"], p["version"]) for p in problems] == [("mode", 2)]
    js("sync")
    assert js("verify")["ok"] is True


WHERE = b'#!/bin/sh\necho "$0"\n'  # prints the path it was run from


def run_where(home: Path) -> bytes:
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    argv = [sys.executable, "-m", "toolvault.cli", "run", "where"]
    return subprocess.run(argv, env=env, capture_output=True, check=True, timeout=60).stdout


@pytest.mark.parametrize("attack", ["linked .history", "set-uid bit"])
def test_run_never_executes_a_file_reached_through_a_link_or_with_a_set_id_bit(
    tmp_path: Path, home: Path, outside: Path, attack: str
) -> None:
    src = tmp_path / "where"
    src.write_bytes(WHERE)
    js("add", str(src))
    history = home / "commands/.history"
    assert run_where(home).strip() == str(history / "where/1").encode()  # intact: run as is
    if attack == "linked .history":  # a copy elsewhere, with the very same content
        shutil.copytree(history, outside / "copy", symlinks=True)
        plant_link(home, "commands/.history", outside / "copy")
    else:
        (history / "where/1").chmod(0o4755)
    before = snapshot(outside)

    ran = run_where(home)

    assert ran.strip() != str(history / "where/1").encode()
    assert ran.endswith(b"/where\n")  # the private copy run falls back to
    assert snapshot(outside) == before
