"""The audit log (SPEC §1, §6): every write appended, hash-chained, append-only, and any
edit, removal or reordering behind the triggers' back found at its sequence number."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_cli import js, ok, tv, write
from toolvault.hashing import audit_text, canonical, entry_hash

GENESIS = "0" * 64


def raw(home: Path, *statements: str) -> None:
    """Change the database behind toolvault's back, as someone with the file could."""
    with closing(sqlite3.connect(home / "vault.db", isolation_level=None)) as db:
        for statement in statements:
            db.execute(statement)


@pytest.fixture
def history(tmp_path: Path, home: Path) -> Path:
    """A vault where every kind of write has happened once; returns the home."""
    ok("init")
    (home / "config.toml").write_text('owner = "alice"\n')
    src = write(tmp_path / "fmt.sh", "#!/bin/sh\necho one\n")
    ok("add", str(src))
    write(src, "#!/bin/sh\necho two\n")
    ok("add", str(src))
    ok("add", str(write(tmp_path / "lint.sh", "echo lint\n")))
    ok("rollback", "fmt", "1")
    ok("label", "fmt:1", "stable")
    ok("label", "fmt:2", "stable")
    ok("label", "fmt", "stable", "--delete")
    ok("yank", "fmt:3", "--reason", "same as 1")
    ok("deprecate", "fmt", "-m", "use lint")
    ok("retire", "fmt")
    write(src, "#!/bin/sh\necho four\n")
    ok("add", str(src))
    ok("owner", "fmt", "bob")
    ok("keys", "generate", "laptop")
    ok("trust", "remove", "laptop")
    return home


EXPECTED = [
    ("publish", "fmt", 1),
    ("publish", "fmt", 2),
    ("publish", "lint", 1),
    ("publish", "fmt", 3),  # the rollback
    ("label", "fmt", 1),
    ("label", "fmt", 2),
    ("unlabel", "fmt", 2),
    ("yank", "fmt", 3),
    ("deprecate", "fmt", None),
    ("retire", "fmt", None),
    ("reactivate", "fmt", None),
    ("publish", "fmt", 4),
    ("owner", "fmt", None),
    ("trust-add", None, None),
    ("trust-remove", None, None),
]


def test_every_write_is_in_the_audit_log(history: Path) -> None:
    entries = js("audit")
    assert [(e["action"], e["tool"], e["version"]) for e in entries] == EXPECTED
    assert [e["seq"] for e in entries] == list(range(1, len(EXPECTED) + 1))
    assert {e["actor"] for e in entries} == {"alice"}
    details = {e["seq"]: e["details"] for e in entries}
    assert details[5] == {"label": "stable", "version": 1, "from": None}
    assert details[6]["from"] == 1
    assert details[8] == {"reason": "same as 1"}
    assert details[9] == {"message": "use lint"}
    assert details[13] == {"from": "alice", "to": "bob"}
    (key,) = js("keys", "list")
    assert details[14] == details[15] == {"name": "laptop", "key_id": key["key_id"]}
    v4 = js("show", "fmt:4")
    assert details[12]["sha256"] == v4["sha256"] and details[12]["owner"] == "alice"
    assert js("verify")["ok"] is True


def test_audit_of_one_tool_and_the_text_table(history: Path) -> None:
    lint = js("audit", "lint")
    assert [(e["seq"], e["action"], e["tool"], e["version"]) for e in lint] == [
        (3, "publish", "lint", 1)
    ]
    fmt = js("audit", "fmt")
    assert [(e["action"], e["version"]) for e in fmt] == [
        (a, v) for a, t, v in EXPECTED if t == "fmt"
    ]
    lines = ok("audit", "fmt").stdout.splitlines()
    assert lines[0].split() == ["SEQ", "AT", "ACTOR", "ACTION", "TOOL", "DETAILS"]
    assert len(lines) == 1 + len(fmt)
    owner = next(ln for ln in lines if " owner " in ln)
    assert owner.split()[0] == "13" and "alice" in owner and "from=alice to=bob" in owner
    assert "reason=same as 1" in next(ln for ln in lines if " yank " in ln)
    assert js("audit", "nothing") == []
    bad = tv("audit", "../x")
    assert bad.exit_code == 2


def test_audit_json_is_a_hash_chain(history: Path) -> None:
    entries = js("audit")
    fields = {"seq", "at", "actor", "action", "tool", "version", "details", "prev_hash", "hash"}
    assert all(set(e) == fields for e in entries)
    assert json.loads(ok("--json", "audit").stdout) == entries
    previous = GENESIS
    for e in entries:
        assert e["prev_hash"] == previous
        body = {k: v for k, v in e.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
        previous = e["hash"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit SET actor = 'mallory' WHERE seq = 2",
        "UPDATE audit SET details = '{}'",
        "DELETE FROM audit WHERE seq = 15",
        "DELETE FROM audit",
        "UPDATE yanks SET reason = 'fine'",
        "DELETE FROM yanks",
    ],
)
def test_the_database_refuses_to_rewrite_the_log_and_yanks(history: Path, statement: str) -> None:
    before = js("audit"), js("show", "fmt:3")["yanked"]
    with pytest.raises(sqlite3.IntegrityError, match=r"append-only|permanent"):
        raw(history, statement)
    assert (js("audit"), js("show", "fmt:3")["yanked"]) == before


def audit_problems(home: Path) -> list[str]:
    """``verify`` must fail; the details of its audit-chain problems, in order."""
    result = tv("verify", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    found: list[dict[str, Any]] = report["problems"]
    return [p["detail"] for p in found if p["kind"] == "audit" and p["name"] is None]


def test_an_edited_entry_is_found_at_its_number(history: Path) -> None:
    raw(
        history,
        "DROP TRIGGER audit_immutable_update",
        """UPDATE audit SET details = '{"reason":"harmless"}' WHERE seq = 8""",
    )
    assert audit_problems(history) == [
        "audit entry 8: its content does not match its hash (edited)"
    ]
    assert "yank fmt:3 is 'same as 1' in the database but 'harmless'" in tv("verify").stdout


def test_an_edited_and_rehashed_entry_breaks_the_link_after_it(history: Path) -> None:
    entry = js("audit")[5]
    assert entry["seq"] == 6
    body = {k: v for k, v in entry.items() if k != "hash"}
    body["actor"] = "mallory"
    rehashed = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    raw(
        history,
        "DROP TRIGGER audit_immutable_update",
        f"UPDATE audit SET actor = 'mallory', hash = '{rehashed}' WHERE seq = 6",
    )
    assert audit_problems(history) == ["audit entry 7: does not link to the entry before it"]


def test_a_deleted_entry_is_found_at_the_first_gap(history: Path) -> None:
    raw(history, "DROP TRIGGER audit_immutable_delete", "DELETE FROM audit WHERE seq = 9")
    found = audit_problems(history)
    assert found[0].startswith("audit entry 10: expected sequence number 9")
    assert found[1:] == ["audit entry 10: does not link to the entry before it"]


def test_a_deleted_publish_entry_also_leaves_its_version_unrecorded(history: Path) -> None:
    raw(history, "DROP TRIGGER audit_immutable_delete", "DELETE FROM audit WHERE seq = 3")
    found = json.loads(tv("verify", "--json").stdout)["problems"]
    assert found[0]["detail"].startswith("audit entry 4: expected sequence number 3")
    assert {
        "kind": "audit",
        "name": "lint",
        "version": 1,
        "detail": "no audit entry records it",
    } in found


def test_two_swapped_entries_are_found_at_the_first(history: Path) -> None:
    raw(
        history,
        "DROP TRIGGER audit_immutable_update",
        "UPDATE audit SET seq = -1 WHERE seq = 5",
        "UPDATE audit SET seq = 5 WHERE seq = 6",
        "UPDATE audit SET seq = 6 WHERE seq = -1",
    )
    found = audit_problems(history)
    assert found[0].startswith("audit entry 5: ")
    assert not any(d.startswith(("audit entry 1:", "audit entry 4:")) for d in found)
    text = tv("verify").stdout
    assert "PROBLEM  audit" in text and "audit entry 5" in text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


@given(
    seq=st.integers(1, 2**62),
    texts=st.tuples(st.text(), st.text(), st.text(), st.text()),
    tool=st.none() | st.text(),
    version=st.none() | st.integers(1, 2**62),
    details=st.dictionaries(st.text(), JSON, max_size=8),
)
def test_an_entry_hashed_with_its_details_encoded_once_hashes_the_same(
    seq: int,
    texts: tuple[str, str, str, str],
    tool: str | None,
    version: int | None,
    details: dict[str, Any],
) -> None:
    at, actor, action, prev_hash = texts
    body = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "tool": tool,
        "version": version,
        "details": details,
        "prev_hash": prev_hash,
    }
    encoded = canonical(details)
    text = audit_text(seq, at, actor, action, tool, version, encoded.decode(), prev_hash)
    assert text.encode() == canonical(body)
    assert entry_hash(body, encoded) == entry_hash(body)
