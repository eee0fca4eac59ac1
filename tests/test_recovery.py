"""Nothing is lost when the database is damaged: a lost, empty, foreign or damaged
vault.db is refused (never taken for a new vault), read commands never change it,
``recover --from-tree`` rebuilds it from commands/, and ``backup`` copies it whole."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from test_cli import js, ok, tv, write

# Read commands and write commands a user would try on a vault; {f} is a file to add.
READS = [
    ["ls"],
    ["ls", "--all"],
    ["cat", "greet"],
    ["show", "greet:1"],
    ["versions", "greet"],
    ["versions", "greet", "history"],
    ["diff", "greet"],
    ["audit"],
    ["verify"],
    ["db", "status"],
    ["db", "migrate", "--list"],
    ["refs", "greet"],
    ["context", "greet"],
    ["keys", "list"],
    ["trust", "list"],
]
WRITES = [
    ["sync"],
    ["init"],
    ["db", "migrate"],
    ["add", "{f}"],
    ["add", "{f}", "--name", "brandnew"],
    ["rollback", "greet", "1"],
    ["label", "greet:1", "stable"],
    ["yank", "greet:1", "--reason", "x"],
    ["deprecate", "greet"],
    ["retire", "greet"],
    ["owner", "greet", "bob"],
    ["pack", "export", "greet", "-o", "{f}.pack"],
]


def snapshot(root: Path) -> dict[str, Any]:
    """Every entry under ``root`` (links as links, files with content and mode)."""
    found: dict[str, Any] = {}
    if not os.path.lexists(root):
        return found
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            info = path.lstat()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir",)
            else:
                found[rel] = ("file", path.read_bytes(), info.st_mode & 0o7777)
    return found


@pytest.fixture
def vault_home(tmp_path: Path, home: Path) -> Path:
    """A vault of several tools: greet 1..3 (3 a rollback of 1), fmt 1..3 with 3
    yanked and the tool deprecated, old (retired), alice's tool; returns the home."""
    src = tmp_path / "src"
    src.mkdir()
    ok("add", str(write(src / "greet", "#!/bin/sh\necho one\n")))
    ok("add", str(write(src / "greet", "#!/bin/sh\necho two\n")), "-m", "second")
    ok("rollback", "greet", "1")
    for word in ("a", "b", "c"):
        ok("add", str(write(src / "fmt.txt", f"{word}\n", 0o644)), "--name", "fmt")
    ok("yank", "fmt:3", "--reason", "broken")
    ok("deprecate", "fmt")
    ok("add", str(write(src / "old", "#!/bin/sh\necho old\n")))
    ok("retire", "old")
    ok(
        "add",
        str(write(src / "al", "print(1)\n", 0o644)),
        "--owner",
        "alice",
        "--created-by",
        "bot",
    )
    return home


def record(home: Path) -> dict[str, Any]:
    """What recover must bring back: each tool's summary, each version's metadata
    fields and content, and the commands/ tree."""
    tools = {t["name"]: {k: v for k, v in t.items() if k != "updated_at"} for t in js("ls")}
    versions = {}
    for name in tools:
        for v in js("versions", name):
            keep = ("sha256", "size", "executable", "previous_version", "previous_sha256")
            keep += ("created_at", "created_by", "rollback_of", "owner")
            content = ok("cat", f"{name}:{v['version']}").stdout_bytes
            versions[(name, v["version"])] = ({k: v[k] for k in keep}, content)
    return {"tools": tools, "versions": versions, "tree": snapshot(home / "commands")}


def refused(result: Any) -> None:
    """One error line that says how to restore or recover, and no traceback."""
    assert result.exit_code == 1, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolvault: error: "), result.stderr
    assert "recover --from-tree" in lines[0] and "backup" in lines[0], lines[0]
    assert "nothing was changed" in lines[0]


def args_for(command: list[str], tmp_path: Path) -> list[str]:
    f = write(tmp_path / "new.sh", "#!/bin/sh\necho new\n")
    return [a.replace("{f}", str(f)) for a in command]


# -- item 4: a damaged database is refused ---------------------------------------------


def damage_empty(db: Path) -> None:
    db.write_bytes(b"")


def damage_text(db: Path) -> None:
    db.write_bytes(b"name,code\ngreet,echo hi\n" * 50)


def damage_foreign(db: Path) -> None:
    db.unlink()
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    con.execute("INSERT INTO moz_places (url) VALUES ('https://example.org')")
    con.commit()
    con.close()


def damage_header(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[:16] = b"\x00" * 16  # the first page's header zeroed: not SQLite any more
    db.write_bytes(bytes(data))


DAMAGES = [damage_empty, damage_text, damage_foreign, damage_header]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__)
def test_every_command_refuses_a_damaged_database_and_changes_nothing(
    damage: Any, vault_home: Path, tmp_path: Path
) -> None:
    db = vault_home / "vault.db"
    damage(db)
    before, tree = db.read_bytes(), snapshot(vault_home / "commands")
    for command in READS + WRITES:
        refused(tv(*args_for(command, tmp_path)))
        assert db.read_bytes() == before, command
        assert snapshot(vault_home / "commands") == tree, command  # sync removed nothing
    assert not (tmp_path / "new.sh.pack").exists()


def test_cat_fast_path_refuses_a_zero_byte_database(vault_home: Path) -> None:
    db, log = vault_home / "vault.db", vault_home / "vault.db-wal"
    damage_empty(db)
    log.write_bytes(b"what is left of the log")  # SQLite deletes it beside an empty file
    for argv in (["cat", "greet"], ["--home", str(vault_home), "cat", "greet:1"]):
        done = subprocess.run(
            [sys.executable, "-c", "from toolvault.main import main; main()", *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1 and done.stdout == "", done
        assert "recover --from-tree" in done.stderr
        assert db.read_bytes() == b"" and log.read_bytes() == b"what is left of the log"


def test_a_missing_database_next_to_a_tree_is_a_lost_vault_not_a_new_one(
    vault_home: Path, tmp_path: Path
) -> None:
    (vault_home / "vault.db").unlink()
    tree = snapshot(vault_home / "commands")
    for command in READS + WRITES:
        refused(tv(*args_for(command, tmp_path)))
        assert not os.path.lexists(vault_home / "vault.db"), command
    assert snapshot(vault_home / "commands") == tree


@pytest.mark.parametrize("damage", [damage_text, damage_foreign], ids=lambda d: d.__name__)
def test_a_foreign_file_is_never_made_a_vault_even_over_an_empty_tree(
    damage: Any, home: Path
) -> None:
    home.mkdir()
    db = home / "vault.db"
    db.write_bytes(b"x")
    damage(db)
    before = db.read_bytes()
    for command in (["init"], ["ls"], ["db", "status"]):
        result = tv(*command)
        assert result.exit_code == 1, result.output
        assert "not a toolvault database" in result.stderr and "Traceback" not in result.output
        assert db.read_bytes() == before


def test_an_empty_file_over_an_empty_tree_is_a_vault_only_once_initialized(home: Path) -> None:
    home.mkdir()
    (home / "vault.db").write_bytes(b"")
    for command in (["ls"], ["db", "status"], ["verify"]):
        result = tv(*command)
        assert result.exit_code == 1 and "toolvault init" in result.stderr, result.output
        assert (home / "vault.db").read_bytes() == b""
    ok("init")
    assert js("ls") == [] and js("verify")["ok"]


def test_read_commands_leave_a_sound_database_and_a_missing_home_as_they_are(
    vault_home: Path, tmp_path: Path
) -> None:
    db = vault_home / "vault.db"
    before = db.read_bytes()
    for command in READS:
        tv(*command)
        assert db.read_bytes() == before, command
    elsewhere = tmp_path / "nowhere" / "home"
    for command in READS:
        result = tv("--home", str(elsewhere), *command)
        assert result.exit_code == 1, (command, result.output)
        assert not elsewhere.parent.exists(), command
    damage_empty(db)
    assert tv("db", "status").exit_code == 1
    assert db.read_bytes() == b""  # (it used to become 4,096 bytes)


# -- item 5: recover --from-tree ------------------------------------------------------------


@pytest.mark.parametrize("damage", [*DAMAGES, Path.unlink], ids=lambda d: d.__name__)
def test_recover_rebuilds_every_version_number_hash_and_metadata_field(
    damage: Any, vault_home: Path
) -> None:
    want = record(vault_home)
    db = vault_home / "vault.db"
    damage(db)
    old = db.read_bytes() if db.exists() else None
    report = json.loads(tv("recover", "--from-tree", "--json").stdout)
    assert report["ok"] and report["skipped"] == []
    assert report["recovered"] == {"tools": 4, "versions": 8, "yanked": 1}
    assert record(vault_home) == want
    assert js("verify")["ok"]
    entries = js("audit")
    assert len(entries) == 1 and entries[0]["action"] == "recover"
    assert entries[0]["details"]["from"] == "tree"
    assert entries[0]["details"]["database"] == report["database"]
    kept = Path(report["kept"])
    assert kept.parent == vault_home and snapshot(kept / "commands") == want["tree"]
    if old is not None:  # the damaged database is kept, byte for byte
        assert (kept / "vault.db").read_bytes() == old
    ok("add", str(write(vault_home.parent / "greet", "#!/bin/sh\necho four\n")))
    assert js("show", "greet")["version"] == 4 and js("verify")["ok"]


def test_recover_reports_and_skips_what_the_tree_contradicts(
    vault_home: Path, tmp_path: Path
) -> None:
    history = vault_home / "commands" / ".history"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("#!/bin/sh\necho secret\n")
    (history / "greet" / "2").write_text("#!/bin/sh\necho tampered\n")  # hash differs
    (history / "fmt" / "2").unlink()  # a missing version file
    os.replace(history / "al" / "1", history / "al" / "moved")
    os.symlink(outside / "secret", history / "al" / "1")  # a link is never followed
    (history / "old" / "1").unlink()
    os.mkfifo(history / "old" / "1")  # would hang a reader that waits for a writer
    shutil.copytree(history / "greet", outside / "evil")
    os.symlink(outside / "evil", history / "evil")  # a linked tool folder
    damage_empty(vault_home / "vault.db")
    result = tv("recover", "--from-tree", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    skipped = {(p["name"], p["version"], p["kind"]) for p in report["skipped"]}
    assert {
        ("greet", 2, "altered"),
        ("greet", 3, "chain"),
        ("fmt", 2, "missing"),
        ("fmt", 3, "chain"),
        ("al", 1, "missing"),
        ("al", None, "stray"),
        ("old", 1, "missing"),
        ("evil", None, "tool"),
    } == skipped
    assert report["recovered"] == {"tools": 2, "versions": 2, "yanked": 0}
    assert [(t["name"], t["latest_version"]) for t in js("ls")] == [("fmt", 1), ("greet", 1)]
    assert js("verify")["ok"]
    assert (outside / "secret").read_text() == "#!/bin/sh\necho secret\n"
    kept = Path(report["kept"]) / "commands" / ".history"
    assert (kept / "greet" / "2").read_text() == "#!/bin/sh\necho tampered\n"  # kept, not lost
    assert (kept / "al" / "moved").exists() and (outside / "evil" / "1").exists()


@pytest.mark.parametrize("edit", ["chain", "json", "type", "owner"])
def test_recover_skips_a_tool_whose_metadata_disagrees(edit: str, vault_home: Path) -> None:
    meta = vault_home / "commands" / ".history" / "greet" / "metadata.json"
    doc = json.loads(meta.read_text())
    if edit == "chain":
        doc["versions"][1]["previous_hash"] = "0" * 64
    elif edit == "type":
        doc["versions"][0]["executable"] = "yes"
    elif edit == "owner":
        doc["owner"] = ""
    meta.write_text("{" if edit == "json" else json.dumps(doc))
    damage_empty(vault_home / "vault.db")
    result = tv("recover", "--from-tree", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    if edit == "chain":
        assert [(p["name"], p["version"]) for p in report["skipped"]] == [
            ("greet", 2),
            ("greet", 3),
        ]
        assert js("show", "greet")["version"] == 1
    else:
        assert [(p["name"], p["kind"]) for p in report["skipped"]] == [("greet", "metadata")]
        assert tv("show", "greet").exit_code == 1
    assert js("verify")["ok"]


def test_recover_never_follows_a_link_and_reports_odd_entries(
    vault_home: Path, tmp_path: Path
) -> None:
    history = vault_home / "commands" / ".history"
    outside = tmp_path / "outside"
    shutil.copytree(history, outside)
    untouched = snapshot(outside)
    meta = history / "greet" / "metadata.json"
    meta.unlink()
    os.symlink(outside / "greet" / "metadata.json", meta)
    (history / ".tmp-fmt.123").mkdir()  # left by a crashed write
    (history / "bad name!").mkdir()
    damage_empty(vault_home / "vault.db")
    report = json.loads(tv("recover", "--from-tree", "--json").stdout)
    skipped = [(p["name"], p["kind"]) for p in report["skipped"]]
    assert skipped == [(None, "stray"), ("bad name!", "tool"), ("greet", "missing")]
    assert "not followed" in report["skipped"][2]["detail"]
    assert sorted(t["name"] for t in js("ls")) == ["al", "fmt", "old"] and js("verify")["ok"]
    # .history itself a link: nothing is read through it, nothing changes
    home2 = tmp_path / "home2"
    (home2 / "commands").mkdir(parents=True)
    os.symlink(outside, home2 / "commands" / ".history")
    (home2 / "vault.db").write_bytes(b"")
    result = tv("--home", str(home2), "recover", "--from-tree")
    assert result.exit_code == 1 and "not followed" in result.stderr
    assert sorted(p.name for p in home2.iterdir()) == ["commands", "vault.db"]
    assert snapshot(outside) == untouched


def test_recover_refuses_a_sound_database_and_a_missing_tree(
    vault_home: Path, tmp_path: Path
) -> None:
    db = vault_home / "vault.db"
    before, tree = db.read_bytes(), snapshot(vault_home / "commands")
    result = tv("recover", "--from-tree")
    assert result.exit_code == 1 and "sound toolvault database" in result.stderr
    assert db.read_bytes() == before and snapshot(vault_home / "commands") == tree
    assert [p.name for p in vault_home.iterdir() if p.name.startswith("recover-")] == []
    assert tv("recover").exit_code == 2  # from what?
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "vault.db").write_bytes(b"")
    result = tv("--home", str(bare), "recover", "--from-tree")
    assert result.exit_code == 1 and "no tree to recover from" in result.stderr
    assert sorted(p.name for p in bare.iterdir()) == ["vault.db"]


def test_recover_changes_nothing_when_nothing_can_be_recovered(vault_home: Path) -> None:
    history = vault_home / "commands" / ".history"
    for folder in history.iterdir():
        (folder / "1").write_text("garbage\n")
    damage_empty(vault_home / "vault.db")
    tree = snapshot(vault_home / "commands")
    result = tv("recover", "--from-tree")
    assert result.exit_code == 1 and "nothing in the tree could be recovered" in result.stderr
    assert (vault_home / "vault.db").read_bytes() == b""
    assert snapshot(vault_home / "commands") == tree
    assert [p.name for p in vault_home.iterdir() if p.name.startswith("recover-")] == []


def test_recover_moves_a_stale_write_ahead_log_aside(vault_home: Path) -> None:
    """A -wal left beside the new database would be applied to it: it is moved too."""
    from toolvault.recovery import DERIVED

    assert "vault.db-wal" in DERIVED
    db = vault_home / "vault.db"
    damage_empty(db)
    (vault_home / "vault.db-wal").write_bytes(b"stale log")
    report = json.loads(tv("recover", "--from-tree", "--json").stdout)
    assert (Path(report["kept"]) / "vault.db-wal").read_bytes() == b"stale log"
    assert js("verify")["ok"]


def test_recover_and_backup_say_what_to_do_on_postgresql(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOOLVAULT_DB", "postgresql://nobody@127.0.0.1:1/none")
    result = tv("recover", "--from-tree")
    assert result.exit_code == 2 and "pg_dump" in result.stderr
    result = tv("backup", str(tmp_path / "b.db"))
    assert result.exit_code == 2 and "pg_dump" in result.stderr
    assert not (tmp_path / "b.db").exists()


# -- item 6: backup ---------------------------------------------------------------------------

WRITER = """
import sys
from toolvault import Vault
with Vault.open(sys.argv[1]) as vault:
    for i in range(int(sys.argv[2])):
        vault.publish(f"w{i % 7}", f"echo {i}\\n".encode())
        if i == 0:
            print("started", flush=True)
"""


def test_backup_while_another_process_writes_is_consistent(
    vault_home: Path, tmp_path: Path
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(vault_home), "400"],
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline() == "started\n"
        copies = [tmp_path / f"backup{i}.db" for i in range(3)]
        done = [js("backup", str(copy)) for copy in copies]
        assert writer.wait(timeout=120) == 0
    for copy, summary in zip(copies, done, strict=True):
        assert summary["versions"] >= 9 and summary["file"] == str(copy)
        assert copy.stat().st_mode & 0o777 == 0o600
        restored = tmp_path / f"restored-{copy.stem}"
        restored.mkdir()
        shutil.copyfile(copy, restored / "vault.db")
        # the restored head becomes the anchor (HOME/checkpoint) before verify holds the log to it
        ok("--home", str(restored), "checkpoint")
        ok("--home", str(restored), "sync")
        report = json.loads(ok("--home", str(restored), "verify", "--json").stdout)
        assert report["ok"], report["problems"]
        assert report["checked"]["versions"] == summary["versions"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_backup_refuses_to_overwrite_and_restores(vault_home: Path, tmp_path: Path) -> None:
    copy = tmp_path / "vault-backup.db"
    copy.write_bytes(b"precious")
    result = tv("backup", str(copy))
    assert result.exit_code == 1 and "--force" in result.stderr
    assert copy.read_bytes() == b"precious"
    assert js("backup", str(copy), "--force")["versions"] == 8
    for bad in (str(tmp_path), str(vault_home / "vault.db"), str(tmp_path / "no" / "b.db")):
        result = tv("backup", bad, "--force")
        assert result.exit_code == 2, (bad, result.output)
    want = record(vault_home)
    damage_empty(vault_home / "vault.db")
    shutil.copyfile(copy, vault_home / "vault.db")  # README: the restore
    assert js("verify")["ok"] and record(vault_home) == want
