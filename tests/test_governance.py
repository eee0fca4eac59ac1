"""Governance (SPEC §6): signatures and the trust store, labels, yank, lifecycle,
ownership, the signature policy, a shared vault under threads, and migration 2."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from test_cli import TOOLVAULT, assert_one_line_error, dump, js, ok, tv, write
from toolvault import Vault, Version
from toolvault.models import VERSION_FIELDS
from toolvault.store.base import utcnow
from toolvault.store.migrations import STEPS
from toolvault.store.sql import VERSION_COLUMNS
from toolvault.store.sqlite import SQLiteStore

V = ["#!/bin/sh\necho one\n", "#!/bin/sh\necho two\n", "#!/bin/sh\necho three\n"]


def raw(home: Path, *statements: str) -> None:
    """Change the database behind toolvault's back, as someone with the file could."""
    with closing(sqlite3.connect(home / "vault.db", isolation_level=None)) as db:
        for statement in statements:
            db.execute(statement)


def problems(*names: str) -> list[dict[str, Any]]:
    """``verify --json`` must fail; its problems."""
    result = tv("verify", "--json", *names)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    found: list[dict[str, Any]] = report["problems"]
    return found


def places(found: list[dict[str, Any]]) -> set[tuple[str, str | None, int | None]]:
    return {(p["kind"], p["name"], p["version"]) for p in found}


def publish(tmp_path: Path, name: str, text: str, *args: str) -> dict[str, Any]:
    src = write(tmp_path / f"{name}.sh", text)
    (result,) = js("add", str(src), "--name", name, *args)
    return result  # type: ignore[no-any-return]


@pytest.fixture
def fmt(tmp_path: Path, home: Path) -> Path:
    """fmt:1..3, unsigned, owner alice; returns the home."""
    ok("init")
    (home / "config.toml").write_text('owner = "alice"\n')
    for text in V:
        publish(tmp_path, "fmt", text)
    return home


def link(home: Path, name: str = "fmt") -> str | None:
    path = home / "commands" / name
    return os.readlink(path) if path.is_symlink() else None


# -- signing and the trust store ----------------------------------------------------------


@pytest.fixture
def signed(tmp_path: Path, home: Path) -> Path:
    """Key 'laptop' (trusted); fmt:1 signed with --sign, fmt:2 signed through sign_with."""
    public = ok("keys", "generate", "laptop").stdout.strip()
    assert public.startswith("ed25519:")
    publish(tmp_path, "fmt", V[0], "--sign", "laptop", "--prompt", "make a formatter")
    (home / "config.toml").write_text('sign_with = "laptop"\n')
    provenance = {"--prompt": "faster", "--ref": "fmt:1", "--created-by": "@agent"}
    publish(tmp_path, "fmt", V[1], *(arg for pair in provenance.items() for arg in pair))
    return home


def test_keys_generate_writes_a_private_key_only_its_owner_can_read(signed: Path) -> None:
    key = signed / "keys" / "laptop.key"
    assert key.stat().st_mode & 0o777 == 0o600
    (listed,) = js("keys", "list")
    (trusted,) = js("trust", "list")
    assert listed["name"] == trusted["name"] == "laptop"
    assert listed["key_id"] == trusted["key_id"]
    assert listed["public"] == trusted["public_key"]
    again = tv("keys", "generate", "laptop")
    assert again.exit_code == 2
    assert_one_line_error(again, "exists already")


def test_signed_versions_verify_and_show_says_so(signed: Path) -> None:
    (key,) = js("keys", "list")
    for spec in ("fmt:1", "fmt:2"):
        shown = js("show", spec)
        assert shown["key_id"] == key["key_id"] and shown["signature"]
        assert shown["signature_status"] == "valid (key laptop)"
    assert "signed:           valid (key laptop)" in ok("show", "fmt:1").stdout
    report = js("verify")
    assert report["ok"] is True and report["checked"]["signatures"] == 2


SIGNED_COLUMNS = {
    "sha256": "content",
    "previous_sha256": "chain",
    "created_at": "provenance",
    "created_by": "provenance",
    "owner": "provenance",
    "origin": "provenance",
    "prompt": "provenance",
    "refs": "provenance",
}


@pytest.mark.parametrize(("column", "group"), SIGNED_COLUMNS.items())
def test_changing_a_signed_field_fails_verify_naming_the_version_and_group(
    signed: Path, column: str, group: str
) -> None:
    values = {
        "sha256": hashlib.sha256(V[0].encode()).hexdigest(),  # another existing blob
        "previous_sha256": "0" * 64,
        "created_at": "2001-01-01T00:00:00.000000Z",
        "refs": "[]",
    }
    value = values.get(column, "mallory")
    raw(
        signed,
        "DROP TRIGGER versions_immutable_update",
        f"UPDATE versions SET {column} = '{value}' WHERE name = 'fmt' AND version = 2",
    )
    found = problems()
    on_v2 = {p["kind"]: p["detail"] for p in found if (p["name"], p["version"]) == ("fmt", 2)}
    assert on_v2["signature"].startswith("signature by key laptop does not verify")
    assert on_v2["signature"].endswith(f": {group} changed")
    assert on_v2["tampered"].startswith(f"{group} (")
    assert all(p["version"] != 1 for p in found)  # version 1 is untouched
    text = tv("verify")
    assert text.exit_code == 1
    assert any("fmt:2" in line and group in line for line in text.stdout.splitlines())


@pytest.mark.parametrize(
    ("column", "value"),
    [("message", "'rewritten'"), ("session_id", "'forged'"), ("executable", "0")],
)
def test_changing_an_unsigned_field_is_found_too(signed: Path, column: str, value: str) -> None:
    raw(
        signed,
        "DROP TRIGGER versions_immutable_update",
        f"UPDATE versions SET {column} = {value} WHERE name = 'fmt' AND version = 2",
    )
    found = [p for p in problems() if (p["name"], p["version"]) == ("fmt", 2)]
    assert [p["kind"] for p in found if p["kind"] != "mode"] == ["tampered"]
    assert "outside the signed groups" in found[0]["detail"]


def test_a_signature_by_an_untrusted_key_is_reported(tmp_path: Path, signed: Path) -> None:
    public = ok("keys", "generate", "stranger", "--no-trust").stdout.strip()
    stranger = next(k for k in js("keys", "list") if k["name"] == "stranger")
    publish(tmp_path, "fmt", V[2], "--sign", "stranger")
    assert js("show", "fmt:3")["signature_status"] == f"untrusted key {stranger['key_id']}"
    found = problems()
    assert [(p["kind"], p["name"], p["version"]) for p in found] == [("untrusted", "fmt", 3)]
    assert stranger["key_id"] in found[0]["detail"]
    assert ok("trust", "add", "stranger", public).stdout.startswith("trusted stranger (")
    assert js("show", "fmt:3")["signature_status"] == "valid (key stranger)"
    assert js("verify")["ok"] is True


def test_removing_a_trusted_key_turns_its_versions_into_problems(
    tmp_path: Path, signed: Path
) -> None:
    publish(tmp_path, "other", "echo other\n", "--sign", "laptop")
    ok("trust", "remove", "laptop")
    assert js("trust", "list") == []
    assert places(problems()) == {
        ("untrusted", "fmt", 1),
        ("untrusted", "fmt", 2),
        ("untrusted", "other", 1),
    }
    assert js("show", "fmt:1")["signature_status"].startswith("untrusted key ")
    (key,) = js("keys", "list")
    pub = tmp_path / "laptop.pub"
    pub.write_text(key["public"] + "\n")
    ok("trust", "add", "laptop", str(pub))  # from a file
    assert js("verify")["ok"] is True
    removed = tv("trust", "remove", "nobody")
    assert removed.exit_code == 1
    assert_one_line_error(removed, "no trusted key named 'nobody'")


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("ed25519:not*base64", "not valid base64"),
        ("ed25519:AAAA", "32 bytes"),
        ("rsa:AAAA", "neither 'ed25519:<base64>' nor a readable file"),
        ("/no/such/file.pub", "neither 'ed25519:<base64>' nor a readable file"),
    ],
)
def test_a_malformed_key_is_invalid_input(signed: Path, key: str, words: str) -> None:
    before = dump(signed)
    result = tv("trust", "add", "bad", key)
    assert result.exit_code == 2
    assert_one_line_error(result, words)
    assert dump(signed) == before


def test_a_malformed_key_in_a_file_is_invalid_input(tmp_path: Path, signed: Path) -> None:
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-ed25519 AAAAC3Nza me@host\n")
    result = tv("trust", "add", "bad", str(bad))
    assert result.exit_code == 2
    assert_one_line_error(result, "ed25519:<base64>")


def test_trusting_the_same_key_twice_is_a_conflict(signed: Path) -> None:
    (key,) = js("keys", "list")
    result = tv("trust", "add", "again", key["public"])
    assert result.exit_code == 1
    assert_one_line_error(result, "already")


def test_trusting_a_generated_key_again_says_so_and_writes_nothing(signed: Path) -> None:
    (key,) = js("keys", "list")
    before = dump(signed)
    again = ok("trust", "add", "laptop", key["public"])
    assert again.stdout == f"already trusted: laptop ({key['key_id']}); nothing changed\n"
    shown = js("trust", "add", "laptop", key["public"])
    assert (shown["name"], shown["key_id"], shown["created"]) == ("laptop", key["key_id"], False)
    assert dump(signed) == before  # no row, no audit entry
    assert [k["name"] for k in js("trust", "list")] == ["laptop"]


def test_another_key_under_a_trusted_name_is_a_conflict_naming_it(signed: Path) -> None:
    (laptop,) = js("keys", "list")
    other = ok("keys", "generate", "desk", "--no-trust").stdout.strip()
    before = dump(signed)
    result = tv("trust", "add", "laptop", other)
    assert result.exit_code == 1
    assert_one_line_error(result, f"another key named 'laptop' already ({laptop['key_id']})")
    renamed = tv("trust", "add", "desk", laptop["public"])
    assert renamed.exit_code == 1
    assert_one_line_error(renamed, f"this key already, as 'laptop' ({laptop['key_id']})")
    assert dump(signed) == before


def test_the_service_trusts_an_identical_pair_once(vault: Vault) -> None:
    info = vault.generate_key("ci")
    entries = len(vault.audit())
    again = vault.trust("ci", info.public)
    assert again.created is False and again.key_id == info.key_id
    assert len(vault.audit()) == entries
    assert [(k.name, k.key_id) for k in vault.trusted_keys()] == [("ci", info.key_id)]


# -- signature policy ---------------------------------------------------------------------


def test_required_signatures_refuse_unsigned_publishes_and_flag_old_ones(
    tmp_path: Path, home: Path
) -> None:
    publish(tmp_path, "fmt", V[0])  # before the policy
    ok("keys", "generate", "laptop")
    (home / "config.toml").write_text("require_signatures = true\n")
    before, tree = dump(home), sorted((home / "commands").rglob("*"))
    src = write(tmp_path / "fmt.sh", V[1])
    refused = tv("add", str(src))
    assert refused.exit_code == 1
    assert_one_line_error(refused, "requires signatures")
    assert dump(home) == before
    assert sorted((home / "commands").rglob("*")) == tree
    assert js("add", str(src), "--sign", "laptop")[0]["version"] == 2
    found = problems()
    assert [(p["kind"], p["name"], p["version"]) for p in found] == [("unsigned", "fmt", 1)]


# -- labels -------------------------------------------------------------------------------


def test_labels_resolve_move_and_are_deleted(fmt: Path) -> None:
    assert ok("label", "fmt:1", "stable").stdout.strip() == "fmt:stable -> fmt:1"
    assert ok("cat", "fmt:stable").stdout == V[0]
    assert js("show", "fmt:1")["labels"] == ["stable"]
    ok("label", "fmt:previous", "stable")
    assert ok("cat", "fmt:stable").stdout == V[1]
    assert js("show", "fmt:1")["labels"] == []
    assert js("show", "fmt:stable")["version"] == 2
    assert "deleted label fmt:stable" in ok("label", "fmt", "stable", "--delete").stdout
    gone = tv("cat", "fmt:stable")
    assert gone.exit_code == 1
    assert_one_line_error(gone, "tool 'fmt' has no label 'stable' (labels: none)")
    again = tv("label", "fmt", "stable", "--delete")
    assert again.exit_code == 1
    steps = [(e["action"], e["version"], e["details"]) for e in js("audit", "fmt")[3:]]
    assert steps == [
        ("label", 1, {"label": "stable", "version": 1, "from": None}),
        ("label", 2, {"label": "stable", "version": 2, "from": 1}),
        ("unlabel", 2, {"label": "stable"}),
    ]
    assert js("verify")["ok"] is True


@pytest.mark.parametrize("label", ["latest", "Latest", "previous", "VERSIONS", "3", "-1", "a:b"])
def test_a_label_named_like_a_selector_is_refused(fmt: Path, label: str) -> None:
    before = dump(fmt)
    result = tv("label", "fmt:1", "--", label)
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, repr(label))
    assert dump(fmt) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE labels SET version = 1",
        "DELETE FROM labels",
        "INSERT INTO labels VALUES ('fmt', 'beta', 3, '2001-01-01T00:00:00Z', 'mallory')",
    ],
)
def test_a_label_changed_behind_the_audit_log_is_a_verify_problem(
    fmt: Path, statement: str
) -> None:
    ok("label", "fmt:2", "stable")
    raw(fmt, statement)
    found = [p for p in problems() if p["kind"] == "label"]
    assert len(found) == 1 and found[0]["name"] == "fmt"
    assert "according to the audit log" in found[0]["detail"]


# -- yank ---------------------------------------------------------------------------------


def test_a_yanked_latest_moves_the_symlink_back_and_is_skipped(fmt: Path) -> None:
    assert link(fmt) == ".history/fmt/3"
    out = ok("yank", "fmt:3", "--reason", "eats input").stdout
    assert out.strip() == "yanked fmt:3 (eats input); latest is now fmt:2"
    assert link(fmt) == ".history/fmt/2"
    assert (fmt / "commands" / "fmt").read_text() == V[1]
    assert ok("cat", "fmt").stdout == V[1]
    assert ok("cat", "fmt:latest").stdout == V[1]
    for spec in ("fmt:previous", "fmt:-1"):
        assert ok("cat", spec).stdout == V[0], spec
    assert tv("cat", "fmt:-2").exit_code == 1
    pinned = ok("cat", "fmt:3")
    assert pinned.stdout == V[2]
    assert pinned.stderr == "toolvault: warning: fmt:3 is yanked: eats input\n"
    assert ok("cat", "fmt:2").stderr == ""
    assert js("show", "fmt:3")["yanked"] == "eats input"
    (tool,) = js("ls")
    assert (tool["latest_version"], tool["versions"]) == (2, 3)
    assert js("verify")["ok"] is True


def test_publishing_after_a_yank_continues_the_chain(tmp_path: Path, fmt: Path) -> None:
    ok("yank", "fmt:3", "--reason", "broken")
    assert publish(tmp_path, "fmt", "#!/bin/sh\necho four\n")["version"] == 4
    assert js("show", "fmt")["previous_version"] == 3
    assert link(fmt) == ".history/fmt/4"
    # the yanked version's content is a change again, not "unchanged"
    assert publish(tmp_path, "fmt", V[2])["version"] == 5


def test_yank_twice_or_without_a_reason_is_refused(fmt: Path) -> None:
    ok("yank", "fmt:2", "--reason", "bad")
    before = dump(fmt)
    twice = tv("yank", "fmt:2", "--reason", "worse")
    assert twice.exit_code == 1
    assert_one_line_error(twice, "fmt:2 is yanked already")
    for args in (("yank", "fmt:3"), ("yank", "fmt:3", "--reason", "  ")):
        result = tv(*args)
        assert result.exit_code == 2, args
        assert_one_line_error(result, "reason")
    assert dump(fmt) == before


def test_yanking_every_version_leaves_nothing_to_run(fmt: Path) -> None:
    for n in (3, 1, 2):
        ok("yank", f"fmt:{n}", "--reason", "recalled")
    assert not (fmt / "commands" / "fmt").exists() and link(fmt) is None
    for spec in ("fmt", "fmt:previous"):
        result = tv("cat", spec)
        assert result.exit_code == 1
        assert_one_line_error(result, "every version of 'fmt' is yanked")
    assert ok("cat", "fmt:1").stdout == V[0]
    assert js("ls")[0]["latest_version"] is None
    assert js("verify")["ok"] is True


# -- lifecycle and ownership --------------------------------------------------------------


def test_retire_keeps_history_and_publishing_again_reactivates(tmp_path: Path, fmt: Path) -> None:
    assert ok("retire", "fmt").stdout.strip() == "fmt is retired"
    assert link(fmt) is None and not (fmt / "commands" / "fmt").exists()
    assert ok("cat", "fmt:1").stdout == V[0]
    assert (fmt / "commands" / ".history" / "fmt" / "3").read_text() == V[2]
    assert js("ls")[0]["lifecycle"] == "retired"
    assert js("verify")["ok"] is True
    assert publish(tmp_path, "fmt", "#!/bin/sh\necho back\n")["version"] == 4
    assert js("ls")[0]["lifecycle"] == "active"
    assert link(fmt) == ".history/fmt/4"
    assert [e["action"] for e in js("audit", "fmt")][-3:] == ["retire", "reactivate", "publish"]
    assert js("verify")["ok"] is True


def test_a_deprecated_tool_still_runs_with_a_warning(fmt: Path) -> None:
    ok("deprecate", "fmt", "-m", "use prettyfmt instead")
    shown = ok("show", "fmt").stdout
    assert "lifecycle:        deprecated (use prettyfmt instead)" in shown
    assert link(fmt) == ".history/fmt/3"
    env = {**os.environ, "TOOLVAULT_HOME": str(fmt)}
    run = subprocess.run([*TOOLVAULT, "run", "fmt"], capture_output=True, env=env, timeout=60)
    assert (run.returncode, run.stdout) == (0, b"three\n")
    assert b"fmt is deprecated: use prettyfmt instead" in run.stderr
    assert js("verify")["ok"] is True


def test_ownership_transfer_shows_in_audit_and_show_and_sticks(tmp_path: Path, fmt: Path) -> None:
    assert ok("owner", "fmt", "bob").stdout.strip() == "fmt is now owned by bob"
    assert "tool owner:       bob" in ok("show", "fmt").stdout
    last = js("audit", "fmt")[-1]
    assert (last["actor"], last["action"], last["details"]) == (
        "alice",
        "owner",
        {"from": "alice", "to": "bob"},
    )
    assert "from=alice to=bob" in ok("audit", "fmt").stdout
    publish(tmp_path, "fmt", "#!/bin/sh\necho four\n", "--owner", "carol")
    shown = js("show", "fmt:4")
    assert (shown["owner"], shown["tool"]["owner"]) == ("bob", "bob")
    assert js("show", "fmt:1")["owner"] == "alice"  # history keeps who owned it then
    assert js("verify")["ok"] is True


@pytest.mark.parametrize(
    ("statement", "kind", "words"),
    [
        ("UPDATE tools SET owner = 'mallory'", "owner", "'mallory' in the database but 'alice'"),
        ("UPDATE tools SET lifecycle = 'retired'", "lifecycle", "'retired' in the database"),
        ("INSERT INTO yanks VALUES ('fmt', 1, 'x', 'now', 'mallory')", "yank", "yank fmt:1"),
        (
            "INSERT INTO trusted_keys VALUES ('evil', 'abcd', 'ed25519:" + "A" * 43 + "=', 'now')",
            "trust",
            "trust evil",
        ),
    ],
)
def test_governance_changed_behind_the_audit_log_is_a_verify_problem(
    fmt: Path, statement: str, kind: str, words: str
) -> None:
    raw(fmt, statement)
    (found,) = [p for p in problems() if p["kind"] == kind]
    assert found["name"] == (None if kind == "trust" else "fmt")
    assert words in found["detail"] and "according to the audit log" in found["detail"]


# -- one vault, many threads ---------------------------------------------------------------


def test_threads_sharing_one_vault_get_consecutive_versions(vault: Vault) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def publisher(t: int) -> None:
        start.wait()
        try:
            for i in range(25):
                vault.publish("tool", f"echo {t} {i}\n".encode())
        except BaseException as exc:  # a thread's exception would vanish otherwise
            errors.append(exc)

    threads = [threading.Thread(target=publisher, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = vault.versions("tool")
    assert [v.version for v in versions] == list(range(1, 101))
    assert len({v.sha256 for v in versions}) == 100
    assert link(vault.home, "tool") == ".history/tool/100"
    assert vault.verify().ok


# -- migration 2 on an existing vault -----------------------------------------------------


def test_migration_2_adopts_every_existing_version(home: Path) -> None:
    home.mkdir()
    store = SQLiteStore.open(home / "vault.db", STEPS[:1])
    try:
        with store.write():
            for name, texts in (("fmt", V), ("lint", V[:1])):
                previous = None
                for n, text in enumerate(texts, 1):
                    previous = schema1_publish(store, name, n, text.encode(), previous)
    finally:
        store.close()
    with Vault.open(home) as vault:
        vault.sync()  # a schema-1 toolvault kept commands/ too
        entries = vault.audit()
        assert [(e.action, e.tool, e.version, e.actor) for e in entries] == [
            ("adopt", "fmt", 1, "@agent"),
            ("adopt", "fmt", 2, "@agent"),
            ("adopt", "fmt", 3, "@agent"),
            ("adopt", "lint", 1, "@agent"),
        ]
        assert entries[0].at == vault.get("fmt:1").recorded_at
        report = vault.verify()
        assert report.ok, report.problems
        assert report.checked["audit_entries"] == 4
        vault.publish("fmt", b"echo four\n")
        assert vault.get("fmt").previous_version == 3
        assert all(m.applied_at is not None for m in vault.migrations())
        assert vault.verify().ok


def schema1_publish(
    store: SQLiteStore, name: str, n: int, data: bytes, previous: Version | None
) -> Version:
    """Store one version the way a toolvault before migration 2 did (no audit log)."""
    now = utcnow()
    sha = hashlib.sha256(data).hexdigest()
    store.ensure_tool(name, "alice", now)
    store.put_blob(sha, data)
    version = Version(
        name=name,
        version=n,
        sha256=sha,
        size=len(data),
        executable=True,
        previous_version=previous and previous.version,
        previous_sha256=previous and previous.sha256,
        created_at=now,
        recorded_at=now,
        created_by="@agent",
        owner="alice",
    )
    # the columns a schema-1 database has (description and usage came with migration 7,
    # claimed_by with 9)
    columns = VERSION_COLUMNS.removesuffix(", description, usage, claimed_by")
    values = [getattr(version, f) for f in VERSION_FIELDS[:20]]
    values[4], values[15], values[16] = 1, "[]", "[]"  # executable, refs, transforms
    store._q(f"INSERT INTO versions ({columns}) VALUES ({', '.join('?' * 20)})", values)
    return version


def test_publishing_a_retired_tools_latest_content_again_reactivates_it(
    tmp_path: Path, home: Path
) -> None:
    src = write(tmp_path / "old.sh", "#!/bin/sh\necho old\n")
    ok("add", str(src))
    ok("retire", "old")
    assert not (home / "commands" / "old").is_symlink()
    assert "unchanged" in ok("add", str(src)).stdout
    assert js("show", "old")["tool"]["lifecycle"] == "active"
    assert (home / "commands" / "old").is_symlink()
    assert js("verify")["ok"] is True


def test_a_damaged_trust_store_row_is_a_problem_not_a_crash(signed: Path) -> None:
    raw(signed, "UPDATE trusted_keys SET public_key = 'ed25519:not-base64!'")
    found = problems()
    assert any(p["kind"] == "trust" and "laptop" in p["detail"] for p in found)
    assert js("show", "fmt:1")["signature_status"].startswith("INVALID: trusted key laptop")


def test_a_key_file_that_is_not_ed25519_is_refused_in_one_line(signed: Path, home: Path) -> None:
    (home / "keys" / "laptop.key").write_text("-----BEGIN PRIVATE KEY-----\nnope\n")
    result = tv("add", "-", "--name", "x", "--sign", "laptop", input="echo x\n")
    assert result.exit_code == 2
    assert_one_line_error(result, "is not a usable private key")
