"""verify in parts (SPEC §6): a vault checked in several processes reports exactly what
one process reports, and the shortcuts verify takes give the very bytes they stand for."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolvault import NewVersion, Vault
from toolvault.hashing import GENESIS, canonical, entry_hash
from toolvault.materialize import ToolView, metadata_bytes
from toolvault.models import Entry
from toolvault.verify import audit, part_check, recorded, sharing

TOOLS = 40


def tamper(home: Path, *statements: str) -> None:
    """Change the database behind toolvault's back (triggers dropped first)."""
    with closing(sqlite3.connect(home / "vault.db", isolation_level=None)) as db:
        for table in ("versions", "blobs", "audit"):
            for trigger in (f"{table}_immutable_update", f"{table}_immutable_delete"):
                db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            db.execute(statement)


@pytest.fixture
def big(sqlite_vault: Vault, home: Path) -> Iterator[Vault]:
    """TOOLS tools of 1 to 4 versions, every fifth tool signed, with governance."""
    vault = sqlite_vault
    vault.generate_key("k")
    for i in range(TOOLS):
        items = [
            NewVersion(f"t{i:02d}", f"#!/bin/sh\necho {i} {n}\n".encode()) for n in range(1 + i % 4)
        ]
        vault.publish_many(items, sign_with="k" if i % 5 == 0 else None)
    vault.publish_many([NewVersion("zz", b"#!/bin/sh\necho 0 0\n")])  # t00:1's blob too
    vault.label("t03:2", "stable")
    vault.yank("t07:3", reason="broken")
    vault.set_lifecycle("t11", "retired")
    vault.transfer("t13", "bob")
    yield vault


def same_reports(vault: Vault, workers: int) -> Any:
    serial = vault.verify(workers=1)
    split = vault.verify(workers=workers)
    assert split.checked == serial.checked
    assert split.problems == serial.problems
    return serial


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the children verify forks."""
    born: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            born.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return born


def test_a_sound_vault_checks_the_same_in_parts(big: Vault, forks: list[int]) -> None:
    report = same_reports(big, 3)
    assert report.ok and report.checked["versions"] == sum(1 + i % 4 for i in range(TOOLS)) + 1
    assert len(forks) == 2  # two children, the third part in the parent


def test_asking_for_more_processes_than_verify_runs_gets_its_most(
    big: Vault, forks: list[int]
) -> None:
    from toolvault.service.verifying import MAX_WORKERS

    same_reports(big, 64)
    assert len(forks) == MAX_WORKERS - 1


def test_every_kind_of_damage_is_reported_the_same_in_parts(
    big: Vault, home: Path, forks: list[int]
) -> None:
    history = home / "commands" / ".history"
    tamper(
        home,
        "UPDATE versions SET prompt = 'forged' WHERE name = 't05' AND version = 1",  # signed
        "UPDATE versions SET message = 'm' WHERE name = 't21' AND version = 2",
        "UPDATE versions SET created_by = 'eve' WHERE name = 't34' AND version = 1",
        "DELETE FROM versions WHERE name = 't30' AND version = 2",
        "UPDATE blobs SET content = X'00' WHERE sha256 = "
        "(SELECT sha256 FROM versions WHERE name = 't38' AND version = 1)",
        "UPDATE audit SET actor = 'eve' WHERE seq = 3",
        'UPDATE audit SET details = \'{"owner":"eve"}\' WHERE seq = 60',
        "UPDATE labels SET version = 1 WHERE name = 't03'",
        # a blob no version uses, and one that versions in the first and the last part share
        f"INSERT INTO blobs (sha256, size, content) VALUES ('{'ab' * 32}', 1, X'00')",
        "UPDATE blobs SET content = X'01' WHERE sha256 = "
        "(SELECT sha256 FROM versions WHERE name = 'zz')",
    )
    (history / "t22" / "1").write_text("altered\n")
    (history / "t25" / "stray").write_text("x")
    (home / "commands" / "nobody").write_text("x")
    os.chmod(history / "t27" / "1", 0o600)
    report = same_reports(big, 2)
    blobs = [p.detail for p in report.problems if p.kind == "blob" and p.name is None]
    assert len(blobs) == 3 and blobs == sorted(blobs)  # t38's, the unused one, the shared one
    assert any(f"blob {'ab' * 32} hashes to" in b for b in blobs)
    kinds = {p.kind for p in report.problems}
    assert {"tampered", "signature", "chain", "blob", "audit", "label", "altered"} <= kinds
    assert {"stray", "mode", "missing"} <= kinds
    assert forks


def test_a_hash_with_a_line_break_does_not_hide_a_blob_no_version_uses(
    big: Vault, home: Path
) -> None:
    odd = "'x' || char(10) || substr(sha256, 3)"  # still 64 characters, as the table checks
    which = "(SELECT sha256 FROM versions WHERE name = 't24' AND version = 1)"
    tamper(
        home,
        f"UPDATE blobs SET sha256 = {odd} WHERE sha256 = {which}",
        f"UPDATE versions SET sha256 = {odd} WHERE name = 't24' AND version = 1",
        f"INSERT INTO blobs (sha256, size, content) VALUES ('{'cd' * 32}', 1, X'00')",
    )
    report = same_reports(big, 2)
    assert any(f"blob {'cd' * 32} hashes to" in p.detail for p in report.problems)


def test_one_tool_checks_the_same_in_parts(big: Vault, home: Path) -> None:
    tamper(home, "UPDATE versions SET message = 'm' WHERE name = 't21' AND version = 2")
    serial = big.verify(["t21"], workers=1)
    assert serial.problems == big.verify(["t21"], workers=2).problems
    assert [p.kind for p in serial.problems] == ["tampered"]


def test_a_child_that_fails_is_redone_here(
    big: Vault, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tamper(home, "UPDATE versions SET message = 'm' WHERE name = 't33' AND version = 2")
    expected = big.verify(workers=1)

    def broken() -> None:
        raise RuntimeError("the child cannot read")

    monkeypatch.setattr(big.store, "after_fork", broken)
    assert big.verify(workers=2) == expected


def test_a_part_that_fails_in_a_child_is_redone_here_with_the_parts_it_did_not_take(
    big: Vault, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tamper(home, "UPDATE versions SET prompt = 'forged' WHERE name = 't10' AND version = 1")
    expected = big.verify(workers=1)
    parent, real = os.getpid(), part_check.check_part

    def flaky(reader: Any, tree: Any, part: sharing.Part, *args: Any) -> sharing.Share:
        if os.getpid() != parent and part.index % 2:  # the child stops at its first odd part
            raise RuntimeError("lost")
        return real(reader, tree, part, *args)

    monkeypatch.setattr(part_check, "check_part", flaky)
    assert big.verify(workers=2) == expected


def test_the_processes_take_each_part_once_from_their_queue(
    big: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, real = tmp_path / "taken", part_check.check_part
    # Each process holds its first part until the other has taken one too: so neither
    # can take every part first, however the two are scheduled (no timing involved).
    both = multiprocessing.get_context("fork").Barrier(2)
    waited: set[int] = set()

    def logged(reader: Any, tree: Any, part: sharing.Part, *args: Any) -> sharing.Share:
        with open(log, "a") as out:  # one short append: whole lines from either process
            out.write(f"{os.getpid()} {part.index}\n")
        if os.getpid() not in waited:
            waited.add(os.getpid())
            both.wait(timeout=120)  # a bound for a child that never came: then it fails
        return real(reader, tree, part, *args)

    monkeypatch.setattr(part_check, "check_part", logged)
    assert big.verify(workers=2).ok
    taken = [line.split() for line in log.read_text().splitlines()]
    assert sorted(int(index) for _, index in taken) == list(range(len(sharing.part_sizes(2))))
    assert len({pid for pid, _ in taken}) == 2


def test_parts_that_saw_different_states_are_checked_again_at_once(
    big: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sharing.run_parts

    def racing(*args: Any) -> list[sharing.Share]:
        shares = real(*args)
        big.publish_many([NewVersion("late", b"echo late\n")])  # lands after the parts' reads
        shares[-1].head = (shares[-1].head[0] + 1, "newer", None)
        return shares

    monkeypatch.setattr(sharing, "run_parts", racing)
    report = big.verify(workers=2)
    assert report.ok and report.checked["tools"] == TOOLS + 2


# -- the shortcuts hold to what they stand for --------------------------------------------

texts = st.one_of(st.none(), st.text(max_size=12))
entries = st.builds(
    Entry,
    st.integers(1, 10**6),
    st.text(max_size=64),
    st.integers(0, 10**9),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 10**6)),
    texts,
    st.text(max_size=30),
    texts,
    st.one_of(st.none(), st.integers(1, 10**6)),
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(min_size=1, max_size=20),
    owner=st.text(max_size=10),
    lifecycle=st.sampled_from(["active", "deprecated", "retired"]),
    latest=st.one_of(st.none(), st.integers(1, 10**6)),
    versions=st.lists(entries, max_size=4).map(tuple),
)
def test_metadata_bytes_are_json_dumps_with_sorted_keys(
    name: str, owner: str, lifecycle: str, latest: int | None, versions: tuple[Entry, ...]
) -> None:
    view = ToolView(name, owner, lifecycle, latest, versions)
    doc = {
        "format": 1,
        "tool": name,
        "owner": owner,
        "lifecycle": lifecycle,
        "latest": latest,
        "versions": [
            {
                "version": e.version,
                "hash": e.sha256,
                "size": e.size,
                "executable": bool(e.executable),
                "previous_version": e.previous_version,
                "previous_hash": e.previous_sha256,
                "created_at": e.created_at,
                "created_by": e.created_by,
                "rollback_of": e.rollback_of,
            }
            for e in versions
        ],
    }
    assert metadata_bytes(view) == (json.dumps(doc, sort_keys=True) + "\n").encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_is_sorted_compact_utf8_json(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical(value) == expected.encode()


def audit_row(details: dict[str, Any], text: str | None = None) -> tuple[Any, ...]:
    body = {
        "seq": 7,
        "at": "2026-11-22T00:00:00.000000Z",
        "actor": 'åsa "q"',
        "action": "publish",
        "tool": "fmt",
        "version": None,
        "details": details,
        "prev_hash": GENESIS,
    }
    stored = text if text is not None else canonical(details).decode()
    return (7, body["at"], body["actor"], "publish", "fmt", None, stored, GENESIS, entry_hash(body))


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=4))
def test_an_audit_hash_is_checked_from_the_stored_text(details: dict[str, Any]) -> None:
    assert audit.check_audit_chain([audit_row(details)], (6, GENESIS)) == []


def test_details_stored_other_than_canonically_still_check_by_their_content() -> None:
    spaced = json.dumps({"b": 1, "a": [1, 2]}, indent=1)  # as another database may return it
    assert audit.check_audit_chain([audit_row({"a": [1, 2], "b": 1}, spaced)], (6, GENESIS)) == []
    edited = audit_row({"a": [1, 2], "b": 1}, '{"a":[1,2],"b":2}')
    [problem] = audit.check_audit_chain([edited], (6, GENESIS))
    assert "audit entry 7: its content does not match its hash" in problem.detail


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(), st.none()), max_size=5))
def test_a_publish_entrys_fields_digest_is_read_as_decoding_would(extra: dict[str, Any]) -> None:
    details = {**extra, "fields": "f" * 64}
    text = canonical(details).decode()
    found = audit.fields_in(text)
    assert found is None or found == json.loads(text)["fields"]
    if "fields" not in extra and not any('"fields":"' in k for k in extra):
        assert found == "f" * 64


triples = st.lists(
    st.tuples(
        st.one_of(st.text(), st.none()),
        st.one_of(st.integers(), st.text(max_size=3)),
        st.one_of(st.text(), st.none()),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(triples)
def test_packed_versions_and_records_come_back_as_they_were(items: list[Any]) -> None:
    packed = sharing.pack(items)
    assert sharing.unpack(packed) == items
    regular = all(
        type(n) is str and type(k) is int and type(t) is str and "\n" not in n + t and "\t" not in t
        for n, k, t in items
    )
    assert isinstance(packed, str) == regular


def test_versions_that_match_their_records_in_another_order_need_no_second_look() -> None:
    versions = [("a", 1, "d1"), ("a", 2, "d2"), ("b\tc", 1, "d3")]
    share = sharing.Share(0, (0, GENESIS, None), versions=sharing.pack(versions))
    share.records = sharing.pack(versions[::-1])
    share.record_seqs = [3, 2, 1]
    assert recorded.Recorded([share], lookup=None).check() == []  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 500), st.integers(0, 3)), min_size=1, max_size=60),
    st.integers(0, 10_000),
    st.integers(1, 9),
)
def test_the_parts_cover_every_tool_and_audit_entry_once(
    sizes: list[tuple[int, int]], head: int, workers: int
) -> None:
    counts = [(f"t{i:03d}", n, min(signed, n)) for i, (n, signed) in enumerate(sizes)]
    parts = sharing.plan(counts, head, workers)
    assert [p.index for p in parts] == list(range(len(parts))) and len(parts) <= sharing.MAX_PARTS
    assert parts[0].names[0] is None and parts[-1].names[1] is None
    assert parts[0].seqs[0] == 1 and parts[-1].seqs[1] is None
    for before, after in itertools.pairwise(parts):
        assert before.names[1] == after.names[0] and before.seqs[1] == after.seqs[0]
        assert before.seqs[0] <= after.seqs[0]
    for name, _, _ in counts:
        assert sum(part_check.within(name, p.names, frozenset()) for p in parts) == 1
