"""migrate-legacy (SPEC §8, issue 6): a Tools-DB and a Port42 home become version chains,
read-only on the source, idempotent, with a dry run, a summary and one audit entry."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from test_cli import assert_one_line_error, dump, js, ok, tv
from toolvault import Vault

# -- helpers ----------------------------------------------------------------------------------


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every file, folder and symlink under ``root`` with its bytes or target and its mode."""
    found: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_file():
                found[key] = ("file", path.read_bytes(), st.st_mode, st.st_mtime_ns)
            else:
                found[key] = ("dir", st.st_mode)
    return found


def import_entries(home: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(home / "vault.db")) as db:
        rows = db.execute("SELECT details FROM audit WHERE action = 'import' ORDER BY seq")
        return [json.loads(r[0]) for r in rows]


def migrate(*args: str) -> Any:
    return js("migrate-legacy", *args)


def refused(result: Result, code: int, words: str) -> None:
    """Exit ``code`` and one ``toolvault: error:`` line naming ``words``."""
    assert result.exit_code == code, result.output
    assert_one_line_error(result, words)


# -- a Tools-DB -------------------------------------------------------------------------------

COLUMNS = "name, code, description, created_at, updated_at, owner, version, signature"


def code(i: int, v: int = 1) -> str:
    return f"#!/bin/sh\n# tool{i:02d} v{v}\necho {i}.{v}\n"


def build_tools_db(path: Path) -> Path:
    """50 tools; tools 0-19 fill the upgrade's extra columns, tool07 has three version
    rows, tool13's signature is not the SHA-256 of its code, the rest are bare rows."""
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE tools (id INTEGER PRIMARY KEY, name TEXT, code TEXT, description TEXT,"
            " created_at TEXT, updated_at TEXT, owner TEXT, version INTEGER, signature TEXT,"
            " category TEXT)"
        )
        rows: list[tuple[Any, ...]] = []
        for i in range(50):
            text = code(i)
            if i < 20:
                when = f"2024-03-{i + 1:02d} 12:00:00"
                sig = "0" * 64 if i == 13 else sha(text)
                rows.append((f"tool{i:02d}", text, f"tool {i}", when, when, f"team{i % 3}", 1, sig))
            else:
                rows.append((f"tool{i:02d}", text, None, None, None, None, None, None))
        # tool07 was updated twice by the half-applied upgrade: rows out of order on purpose.
        rows.append(("tool07", code(7, 3), "third", "2024-05-01T08:00:00Z", None, None, 3, None))
        rows.append(("tool07", code(7, 2), "second", "2024-04-01T08:00:00Z", None, None, 2, None))
        db.executemany(f"INSERT INTO tools ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.commit()
    return path


@pytest.fixture
def tools_db(tmp_path: Path) -> Path:
    folder = tmp_path / "legacy"
    folder.mkdir()
    return build_tools_db(folder / "tools.db")


def test_tools_db_migrates_as_described(tools_db: Path, home: Path) -> None:
    before = snapshot(tools_db.parent)
    result = ok("migrate-legacy", "--tools-db", str(tools_db))
    assert snapshot(tools_db.parent) == before  # read-only: no byte, no journal file
    assert "tools row 14 (tool13): signature 0000000000000000… does not match" in result.stderr
    assert "migrated tools-db:" in result.stdout
    assert "49 tool(s), 51 version(s) added, 0 already imported, 0 unchanged, 1 skipped" in (
        result.stdout
    )
    tools = {t["name"]: t for t in js("ls")}
    assert len(tools) == 49 and "tool13" not in tools
    assert tools["tool05"]["owner"] == "team2" and tools["tool30"]["owner"] == "core"
    # the Tools-DB description column is the description now (SPEC §8, §10), not the message
    found = js("versions", "tool07")
    assert [v["description"] for v in found] == ["tool 7", "second", "third"]
    assert [v["message"] for v in found] == [None, None, None]
    assert ok("cat", "tool07:3").stdout == code(7, 3)
    one = js("show", "tool04:1")
    assert one["origin"] == f"tools-db:{tools_db.resolve()}#5"
    assert one["created_at"] == "2024-03-05T12:00:00.000000Z"
    assert one["executable"] is True and one["sha256"] == sha(code(4))
    bare = js("show", "tool42")
    assert bare["created_at"] == bare["recorded_at"]  # the row did not know
    assert bare["origin"].endswith("#43") and bare["message"] is None
    assert js("verify")["ok"] is True
    (entry,) = import_entries(home)
    assert entry["source"] == f"tools-db:{tools_db.resolve()}"
    assert len(entry["added"]) == 51 and entry["skipped"] == 1


def test_tools_db_second_run_adds_nothing_and_says_so(tools_db: Path, home: Path) -> None:
    ok("migrate-legacy", "--tools-db", str(tools_db))
    first = dump(home)
    again = ok("migrate-legacy", "--tools-db", str(tools_db))
    assert "nothing new in tools-db:" in again.stdout
    assert "51 already imported" in again.stdout
    assert dump(home) == first  # not even an audit entry
    summary = migrate("--tools-db", str(tools_db))
    assert summary["added"] == [] and summary["already_imported"] == 51


def test_tools_db_dry_run_writes_nothing(tools_db: Path, home: Path) -> None:
    plan = migrate("--tools-db", str(tools_db), "--dry-run")
    assert not home.exists()  # not even an empty vault
    assert plan["dry_run"] is True and len(plan["added"]) == 51
    assert [p["version"] for p in plan["added"] if p["name"] == "tool07"] == [1, 2, 3]
    assert any("tool13" in s for s in plan["skipped"])
    ok("init")
    before = dump(home)
    text = ok("migrate-legacy", "--tools-db", str(tools_db), "--dry-run").stdout
    assert "tool07:3  new  sha256:" in text and "nothing was written" in text
    assert dump(home) == before


def test_mismatched_signature_imports_only_when_accepted(tools_db: Path) -> None:
    ok("migrate-legacy", "--tools-db", str(tools_db))
    summary = migrate("--tools-db", str(tools_db), "--accept-mismatch")
    assert [(a["name"], a["version"]) for a in summary["added"]] == [("tool13", 1)]
    assert summary["already_imported"] == 51 and summary["skipped"] == []
    assert any("imported anyway (--accept-mismatch)" in n for n in summary["notes"])


def test_a_wal_mode_tools_db_gets_no_side_files(tmp_path: Path) -> None:
    folder = tmp_path / "wal"
    folder.mkdir()
    with closing(sqlite3.connect(folder / "tools.db")) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE tools (name TEXT, code TEXT)")
        db.execute("INSERT INTO tools VALUES ('fmt', 'echo fmt')")
        db.commit()
    before = snapshot(folder)
    assert [a["name"] for a in migrate("--tools-db", str(folder / "tools.db"))["added"]] == ["fmt"]
    assert snapshot(folder) == before  # no tools.db-shm, no tools.db-wal


def test_a_minimal_tools_table_gets_owner_core(tmp_path: Path) -> None:
    db_path = tmp_path / "old.db"
    with closing(sqlite3.connect(db_path)) as db:
        db.execute("CREATE TABLE tools (name TEXT PRIMARY KEY, code TEXT)")
        db.executemany(
            "INSERT INTO tools VALUES (?, ?)",
            [("fmt", "echo fmt\n"), ("bad name", "x"), ("bin", "a\0b"), ("nul", None)],
        )
        db.commit()
    summary = migrate("--tools-db", str(db_path))
    assert [a["name"] for a in summary["added"]] == ["fmt"]
    assert len(summary["skipped"]) == 3  # an invalid name, a NUL byte, NULL code
    assert js("show", "fmt")["owner"] == "core"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such file"),
        ("text", "is not a SQLite database"),
        ("no-table", "has no 'tools' table (tables: other)"),
        ("no-code", "has no 'code' column"),
    ],
)
def test_bad_tools_db_is_invalid_input(
    tmp_path: Path, home: Path, setup: str, message: str
) -> None:
    path = tmp_path / "t.db"
    if setup == "text":
        path.write_text("name,code\n")
    elif setup != "missing":
        with closing(sqlite3.connect(path)) as db:
            table = "other" if setup == "no-table" else "tools"
            db.execute(f"CREATE TABLE {table} (name TEXT, source TEXT)")
    result = tv("migrate-legacy", "--tools-db", str(path))
    refused(result, 2, message)
    assert not home.exists()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--tools-db", "a.db", "--port42-home", "p"],
        ["--port42-home", "p", "--accept-mismatch"],
        ["--port42-home", "p", "--fold", "bad/suffix"],
    ],
)
def test_usage_errors_exit_2(args: list[str], home: Path) -> None:
    result = tv("migrate-legacy", *args)
    assert result.exit_code == 2, result.output
    assert not home.exists()


# -- a Port42 home ----------------------------------------------------------------------------


class Port42:
    """Writes a Port42 home the way its daemon lays it out."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for folder in ("objects", "metadata", "relations", "commands"):
            (root / folder).mkdir(parents=True, exist_ok=True)

    def obj(self, text: str, created: str | None = None, **meta: Any) -> str:
        data = text.encode()
        ident = sha(data)
        path = self.root / "objects" / ident[:2] / ident[2:4] / ident[4:]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755)
        if created is not None:
            doc = {"id": ident, "type": "command", "created": created, "modified": created, **meta}
            (self.root / "metadata" / f"{ident}.json").write_text(json.dumps(doc, indent=2))
        return ident

    def relation(self, rid: str, created: str, executable_id: str, **props: Any) -> None:
        doc = {
            "id": rid,
            "type": "Tool",
            "properties": {"executable_id": executable_id, **props},
            "created_at": created,
            "updated_at": created,
        }
        (self.root / "relations" / f"relation-{rid}.json").write_text(json.dumps(doc, indent=2))

    def link(self, name: str, ident: str, absolute: bool = False) -> None:
        target = self.root / "objects" / ident[:2] / ident[2:4] / ident[4:]
        rel = os.path.relpath(target, self.root / "commands")
        (self.root / "commands" / name).symlink_to(target if absolute else rel)


ANALYZER = [f"#!/usr/bin/env python3\nprint('analyzer {i}')\n" for i in range(1, 6)]
ENHANCED = "#!/usr/bin/env python3\nprint('analyzer, enhanced')\n"
REPORTER = "#!/bin/bash\necho report\n"


def build_port42(root: Path) -> Port42:
    """analyzer declared three times, an update only its symlink reaches, an -enhanced
    variant, a reporter that references analyzer, a tie, and every kind of damage."""
    p = Port42(root)
    a = [p.obj(text, f"2025-09-1{i}T09:00:00Z") for i, text in enumerate(ANALYZER, 1)]
    p.relation(
        "tool-analyzer-01",
        "2025-09-17T10:00:00.123456789-07:00",  # Go's format: 17:00:00Z
        a[0],
        name="analyzer",
        agent="@ai-engineer",
        memory_session="cli-1758179769287",
        user_prompt="analyze log files",
        transforms=["python", "parse"],
        description="first analyzer",
    )
    p.relation("tool-analyzer-02", "2025-09-18T10:00:00Z", a[1], name="analyzer", agent="@ai-x")
    p.relation("tool-analyzer-03", "2025-09-19T10:00:00Z", a[2], name="analyzer")
    # The latest analyzer: reachable only through commands/analyzer, known from its metadata.
    a4 = p.obj(ANALYZER[3], "2025-09-20T10:00:00Z", agent="@ai-growth", session="s-4")
    p.link("analyzer", a4)
    enhanced = p.obj(ENHANCED, "2025-09-17T20:00:00Z")
    p.relation(
        "tool-analyzer-enhanced-01", "2025-09-17T20:00:00Z", enhanced, name="analyzer-enhanced"
    )
    p.link("analyzer-enhanced", enhanced, absolute=True)
    report = p.obj(REPORTER, "2025-09-18T12:00:00Z")
    p.relation(
        "tool-reporter-01",
        "2025-09-18T12:00:00Z",
        report,
        name="reporter",
        references=[
            {"type": "p42", "target": "/commands/analyzer"},
            {"type": "url", "target": "https://example.com/spec"},
            "p42:/commands/nowhere:4",
        ],
    )
    p.link("reporter", report)
    ties = [p.obj(f"echo tie {i}\n") for i in range(2)]
    for i, ident in enumerate(ties):
        p.relation(f"tool-tie-{i}", "2025-09-18T00:00:00Z", ident, name="tie")
    # Damage: a missing object, a corrupt relation file, a dangling symlink.
    p.relation("tool-ghost-01", "2025-09-18T00:00:00Z", "ab" * 32, name="ghost")
    (root / "relations" / "relation-tool-broken.json").write_text('{"id": "tool-broken", "type":')
    (root / "commands" / "lost").symlink_to("../objects/00/00/" + "0" * 60)
    # Noise that is not a tool.
    (root / "relations" / "relation-memory-1.json").write_text(
        json.dumps({"id": "memory-1", "type": "Memory", "properties": {"name": "x"}})
    )
    (root / "relations" / "materialized-tool-analyzer-01.json").write_text("{}")
    return p


@pytest.fixture
def port42(tmp_path: Path) -> Path:
    root = tmp_path / ".port42"
    build_port42(root)
    return root


def test_port42_home_migrates_into_the_expected_chains(port42: Path, home: Path) -> None:
    before = snapshot(port42)
    result = ok("migrate-legacy", "--port42-home", str(port42), "--fold", "enhanced")
    assert snapshot(port42) == before  # byte-identical, same links, same times
    chain = js("versions", "analyzer")
    assert [v["sha256"] for v in chain] == [
        sha(ANALYZER[0]),  # 09-17 17:00Z
        sha(ENHANCED),  # 09-17 20:00Z, folded in
        sha(ANALYZER[1]),  # 09-18
        sha(ANALYZER[2]),  # 09-19
        sha(ANALYZER[3]),  # 09-20, only through commands/analyzer
    ]
    assert "analyzer-enhanced" not in {t["name"] for t in js("ls")}
    assert "analyzer:2  added" in result.stdout and "(from analyzer-enhanced)" in result.stdout
    first = chain[0]
    assert first["created_by"] == "@ai-engineer"
    assert first["session_id"] == "cli-1758179769287"
    assert first["prompt"] == "analyze log files"
    assert first["transforms"] == ["python", "parse"]
    assert first["description"] == "first analyzer" and first["message"] is None
    assert first["created_at"] == "2025-09-17T17:00:00.123456Z"
    assert first["origin"] == f"port42:{port42.resolve()}/relations/relation-tool-analyzer-01.json"
    assert chain[1]["message"] == "folded from analyzer-enhanced"
    assert chain[3]["created_by"] == "port42"  # the relation names no agent
    last = chain[4]
    assert (last["created_by"], last["session_id"]) == ("@ai-growth", "s-4")
    assert last["origin"] == f"port42:{port42.resolve()}/commands/analyzer"
    assert ok("cat", "analyzer").stdout == ANALYZER[3]  # the symlink's content is the latest
    ties = sorted(sha(f"echo tie {i}\n") for i in range(2))
    assert [v["sha256"] for v in js("versions", "tie")] == ties  # same time: by hash
    assert js("verify")["ok"] is True


def test_port42_references_are_resolved_where_possible(port42: Path) -> None:
    ok("migrate-legacy", "--port42-home", str(port42), "--fold", "enhanced")
    # p42:/commands/analyzer meant the analyzer current when reporter was declared (09-18
    # 12:00): analyzer:3, declared 09-18 10:00; the folded variant does not count as it.
    assert js("show", "reporter")["references"] == [
        f"analyzer:3@sha256:{sha(ANALYZER[1])}",
        "url:https://example.com/spec",
        "p42:/commands/nowhere:4",
    ]


def test_port42_problems_are_reported_and_skipped(port42: Path) -> None:
    result = tv("migrate-legacy", "--port42-home", str(port42), "--fold", "enhanced", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    skipped = "\n".join(summary["skipped"])
    assert len(summary["skipped"]) == 3, skipped
    assert "relations/relation-tool-ghost-01.json: object abababababab… is missing" in skipped
    assert "relations/relation-tool-broken.json: unreadable JSON" in skipped
    assert "commands/lost: dangling symlink to ../objects/00/00/" in skipped
    assert result.stderr.count("toolvault: warning: skipped") == 3
    assert {a["name"] for a in summary["added"]} == {"analyzer", "reporter", "tie"}
    assert len(summary["added"]) == 8
    assert any("1 relation(s) of other types" in n for n in summary["notes"])


def test_port42_second_run_adds_nothing(port42: Path, home: Path) -> None:
    ok("migrate-legacy", "--port42-home", str(port42), "--fold", "enhanced")
    before = dump(home)
    again = ok("migrate-legacy", "--port42-home", str(port42), "--fold", "enhanced")
    assert "nothing new in port42:" in again.stdout and "8 already imported" in again.stdout
    assert dump(home) == before
    (entry,) = import_entries(home)
    assert entry["legacy"] == "port42" and len(entry["added"]) == 8


def test_port42_new_declarations_extend_the_chains(tmp_path: Path, home: Path) -> None:
    p = build_port42(tmp_path / ".port42")
    ok("migrate-legacy", "--port42-home", str(p.root), "--fold", "enhanced")
    later = p.obj("#!/usr/bin/env python3\nprint('analyzer 6')\n", "2025-10-01T00:00:00Z")
    p.relation("tool-analyzer-06", "2025-10-01T00:00:00Z", later, name="analyzer")
    summary = migrate("--port42-home", str(p.root), "--fold", "enhanced")
    assert [(a["name"], a["version"]) for a in summary["added"]] == [("analyzer", 6)]
    assert summary["already_imported"] == 8
    assert len(import_entries(home)) == 2


def test_port42_repeats_and_plain_command_files(tmp_path: Path) -> None:
    p = Port42(tmp_path / ".port42")
    same = p.obj("echo same\n", "2025-09-01T00:00:00Z")
    p.relation("tool-dup-1", "2025-09-01T00:00:00Z", same, name="dup")
    p.relation("tool-dup-2", "2025-09-02T00:00:00Z", same, name="dup")  # declared again
    other = p.obj("echo other\n", "2025-09-03T00:00:00Z")
    p.relation("tool-dup-3", "2025-09-03T00:00:00Z", other, name="dup")
    (p.root / "metadata" / f"{other}.json").write_text("{oops")  # noted, not fatal
    plain = p.root / "commands" / "old"  # before symlinks, commands were plain files
    plain.write_text("#!/bin/sh\necho old\n")
    summary = migrate("--port42-home", str(p.root))
    assert [(a["name"], a["version"]) for a in summary["added"]] == [
        ("dup", 1),
        ("dup", 2),
        ("old", 1),
    ]
    (unchanged,) = summary["unchanged"]
    assert unchanged["origin"].endswith("relation-tool-dup-2.json")
    assert unchanged["same_as"] == "relations/relation-tool-dup-1.json"
    assert any("commands/old: no metadata time" in n for n in summary["notes"])
    assert any(f"metadata/{other}.json: unreadable JSON" in n for n in summary["notes"])
    again = migrate("--port42-home", str(p.root))
    assert again["added"] == [] and again["already_imported"] == 3


def test_port42_without_fold_keeps_the_variant_apart(port42: Path) -> None:
    summary = migrate("--port42-home", str(port42))
    names = [(a["name"], a["version"]) for a in summary["added"]]
    assert ("analyzer-enhanced", 1) in names and ("analyzer", 4) in names
    assert ("analyzer", 5) not in names


def test_port42_dry_run_writes_nothing(port42: Path, home: Path) -> None:
    text = ok("migrate-legacy", "--port42-home", str(port42), "--fold", "enhanced", "--dry-run")
    assert "analyzer:5  new" in text.stdout and "nothing was written" in text.stdout
    assert "dangling symlink" in text.stderr
    assert not home.exists()


def test_not_a_port42_home_is_invalid_input(tmp_path: Path, home: Path) -> None:
    refused(tv("migrate-legacy", "--port42-home", str(tmp_path)), 2, "is not a Port42 home")
    refused(tv("migrate-legacy", "--port42-home", str(tmp_path / "nope")), 2, "no such folder")
    assert not home.exists()


def test_library_migration_over_each_store(vault: Vault, port42: Path) -> None:
    from toolvault.sources import legacy

    source = legacy.read_port42(port42)
    legacy.fold_names(source, ["enhanced"])
    summary = legacy.migrate(vault, source)
    assert len(summary.plan.new) == 8
    again = legacy.read_port42(port42)
    legacy.fold_names(again, ["enhanced"])
    assert legacy.migrate(vault, again).plan.new == []
    assert [v.version for v in vault.versions("analyzer")] == [1, 2, 3, 4, 5]
    assert vault.verify().ok


# -- the commands/ tree after a migration -----------------------------------------------------


def tree(home: Path) -> dict[str, tuple[Any, ...]]:
    """commands/ as a user sees it: each file's bytes and mode, each link's target."""
    found: dict[str, tuple[Any, ...]] = {}
    root = home / "commands"
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_file():
                found[key] = ("file", path.read_bytes(), path.stat().st_mode & 0o7777)
            else:
                found[key] = ("dir",)
    return found


def verify_report() -> Any:
    result = tv("verify", "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_the_tree_after_a_migration_is_what_sync_writes(
    port42: Path, tools_db: Path, home: Path
) -> None:
    ok("migrate-legacy", "--port42-home", str(port42), "--fold", "enhanced")
    ok("migrate-legacy", "--tools-db", str(tools_db))
    migrated = tree(home)
    assert migrated["analyzer"] == ("link", ".history/analyzer/5")
    assert migrated[".history/tool42/1"] == ("file", code(42).encode(), 0o755)
    assert not [k for k in migrated if ".tmp-" in k]
    with Vault.open(home) as vault:
        assert vault.sync() == []  # nothing to fix
        shutil.rmtree(home / "commands")
        assert vault.sync()  # from scratch
    assert tree(home) == migrated  # the same files, modes and links
    assert js("verify")["ok"] is True


def test_a_migration_into_a_vault_that_has_some_of_the_tools(tools_db: Path, home: Path) -> None:
    with Vault.open(home) as vault:
        vault.publish("tool05", b"echo mine\n")  # the Tools-DB's row becomes version 2
        vault.publish("tool06", code(6).encode())  # the same content: nothing new
        vault.publish("tool08", b"echo old\n")
        vault.set_lifecycle("tool08", "retired")  # importing a version reactivates it
    (home / "commands" / "tool09").write_text("a stray file where tool09's link goes\n")
    (home / "commands" / ".history" / "tool10").mkdir()  # an empty stray folder
    summary = migrate("--tools-db", str(tools_db))
    added = {(a["name"], a["version"]) for a in summary["added"]}
    assert {("tool05", 2), ("tool08", 2), ("tool09", 1), ("tool10", 1)} <= added
    assert [u["name"] for u in summary["unchanged"]] == ["tool06"]
    assert len(added) == 50
    assert [v["sha256"] for v in js("versions", "tool05")] == [sha("echo mine\n"), sha(code(5))]
    assert js("show", "tool08")["tool"]["lifecycle"] == "active"
    files = tree(home)
    for name, latest in (("tool05", 2), ("tool06", 1), ("tool08", 2), ("tool09", 1)):
        assert files[name] == ("link", f".history/{name}/{latest}")
    assert files[".history/tool10/1"] == ("file", code(10).encode(), 0o755)
    assert js("verify")["ok"] is True
    with Vault.open(home) as vault:
        assert vault.sync() == []


def test_a_tree_write_that_fails_midway_leaves_the_vault_consistent(
    tools_db: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolvault import safefs

    put, calls = safefs.write_new, []

    def disk_full(name: str, parent: int, data: bytes, mode: int) -> None:
        calls.append(name)
        if len(calls) == 40:
            raise OSError(errno.ENOSPC, "No space left on device", name)
        put(name, parent, data, mode)

    monkeypatch.setattr(safefs, "write_new", disk_full)
    result = tv("migrate-legacy", "--tools-db", str(tools_db))
    monkeypatch.setattr(safefs, "write_new", put)
    refused(result, 1, "No space left on device")
    assert "run 'toolvault sync'" in result.stderr
    history = home / "commands" / ".history"
    assert not [p.name for p in history.iterdir() if p.name.startswith(".tmp-")]
    assert migrate("--tools-db", str(tools_db))["already_imported"] == 51  # it is all there
    problems = verify_report()["problems"]
    assert problems and {p["kind"] for p in problems} <= {"missing", "metadata", "symlink"}
    ok("sync")
    assert js("verify")["ok"] is True
