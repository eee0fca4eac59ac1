"""verify replays more of the audit log (issue 11, item 8): a tool's created_at, its
lifecycle message and the pack-import records are what the log says, and a sound blob
no version uses is reported. Each is changed behind toolvault's back, as someone with
raw access to the database would, over SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import raw
from toolvault import Vault
from toolvault.errors import Conflict
from toolvault.models import Problem
from toolvault.sources import packs
from toolvault.sources.ingest import import_pack_bytes

V1, V2 = b"#!/bin/sh\necho one\n", b"#!/bin/sh\necho two\n"


def problems(vault: Vault) -> list[Problem]:
    report = vault.verify()
    assert not report.ok
    return list(report.problems)


def kinds(found: list[Problem]) -> list[tuple[str, str | None]]:
    return [(p.kind, p.name) for p in found]


@pytest.fixture
def team_pack(tmp_path: Path) -> Iterator[tuple[bytes, bytes]]:
    """Versions 1 and 2 of pack 'team' (tool 'lib', deprecated with a message), made
    in a vault of their own; the tool's created_at there is 2020's."""
    with Vault.open(tmp_path / "source") as source:
        source.publish("lib", V1, created_at="2020-01-01T00:00:00.000000Z")
        source.set_lifecycle("lib", "deprecated", "use lib2")
        raw(source, "UPDATE tools SET created_at = '2020-01-01T00:00:00.000000Z'")
        first, _ = packs.export(source, ["lib"], pack_name="team")
        source.publish("lib", V2)
        second, _ = packs.export(source, ["lib"], pack_name="team")
    yield first, second


def test_a_changed_created_at_is_reported(vault: Vault, team_pack: tuple[bytes, bytes]) -> None:
    vault.publish("fmt", V1)
    import_pack_bytes(vault, team_pack[0], "file:///packs/team-1.tar.gz")
    assert vault.verify().ok
    assert vault.tool("lib").created_at == "2020-01-01T00:00:00.000000Z"  # as the pack says
    created = vault.tool("fmt").created_at
    raw(vault, "UPDATE tools SET created_at = '2019-06-01T00:00:00.000000Z'")
    found = problems(vault)
    assert kinds(found) == [("created_at", "fmt"), ("created_at", "lib")]
    assert f"but its version 1 was recorded {created!r}" in found[0].detail
    assert "but the audit log says '2020-01-01T00:00:00.000000Z'" in found[1].detail


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("UPDATE tools SET lifecycle_message = 'use nothing' WHERE name = 'fmt'", "'use fmt2'"),
        ("UPDATE tools SET lifecycle_message = NULL WHERE name = 'fmt'", "'use fmt2'"),
        ("UPDATE tools SET lifecycle_message = 'retired?' WHERE name = 'lint'", "None"),
        ("UPDATE tools SET lifecycle_message = 'use lib3' WHERE name = 'lib'", "'use lib2'"),
    ],
    ids=["changed", "removed", "added-to-active", "restored-by-pack"],
)
def test_a_changed_lifecycle_message_is_reported(
    vault: Vault, team_pack: tuple[bytes, bytes], sql: str, said: str
) -> None:
    vault.publish("fmt", V1)
    vault.set_lifecycle("fmt", "deprecated", "use fmt2")
    vault.publish("lint", V1)
    vault.set_lifecycle("lint", "retired", "gone")
    vault.publish("lint", V2)  # reactivated, with no message
    import_pack_bytes(vault, team_pack[0], "file:///packs/team-1.tar.gz")
    assert vault.verify().ok  # every kind of entry replays as it was written
    raw(vault, sql)
    (found,) = problems(vault)
    assert found.kind == "lifecycle" and found.detail.endswith(
        f"but {said} according to the audit log"
    )


def test_a_deleted_pack_import_record_is_reported(
    vault: Vault, team_pack: tuple[bytes, bytes]
) -> None:
    """Deleting it would let the older pack in again: verify says so first."""
    first, second = team_pack
    import_pack_bytes(vault, first, "file:///packs/team-1.tar.gz")
    import_pack_bytes(vault, second, "file:///packs/team-2.tar.gz")
    with pytest.raises(Conflict, match="downgrade refused"):
        import_pack_bytes(vault, first, "file:///packs/team-1.tar.gz")
    assert vault.verify().ok
    raw(vault, "DELETE FROM pack_imports WHERE pack_version = 2")
    (found,) = problems(vault)
    assert found.kind == "pack"
    assert "pack team@2 was imported (audit log) but its record is gone" in found.detail


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("UPDATE pack_imports SET source = 'https://elsewhere/t.tar.gz'", "differs from"),
        ("UPDATE pack_imports SET manifest_sha256 = '" + "0" * 64 + "'", "differs from"),
        (
            "INSERT INTO pack_imports VALUES ('team', 9, '" + "1" * 64 + "', 'x', 'y')",
            "pack team@9 is recorded as imported, but no audit entry says so",
        ),
    ],
    ids=["source", "manifest", "invented"],
)
def test_an_altered_or_invented_pack_import_record_is_reported(
    vault: Vault, team_pack: tuple[bytes, bytes], sql: str, words: str
) -> None:
    import_pack_bytes(vault, team_pack[0], "file:///packs/team-1.tar.gz")
    raw(vault, sql)
    (found,) = problems(vault)
    assert found.kind == "pack" and words in found.detail


def test_a_sound_blob_no_version_uses_is_reported(vault: Vault) -> None:
    vault.publish("fmt", V1)
    extra = b"#!/bin/sh\necho planted\n"
    sha = hashlib.sha256(extra).hexdigest()
    raw(
        vault,
        "INSERT INTO blobs (sha256, size, content) VALUES (?, ?, ?)",
        (sha, len(extra), extra),
    )
    (found,) = problems(vault)
    assert found.kind == "unused" and found.name is None
    assert found.detail.startswith(f"blob {sha} ({len(extra)} bytes) is used by no version")


def test_old_reactivation_entries_admit_the_message_they_left_empty() -> None:
    """Before this check a publish that reactivated a tool wrote the message
    "published again" and stored none: either is what the log says."""
    from toolvault.verify.history import ToolHistory

    tools = [("fmt", "2026-01-01T00:00:00.000000Z", None)]
    history = ToolHistory()
    history.apply("publish", "fmt", {"owner": "alice"})
    history.apply("retire", "fmt", {"message": "gone"})
    history.apply("reactivate", "fmt", {"message": "published again"})
    firsts = {"fmt": "2026-01-01T00:00:00.000000Z"}
    assert history.problems(tools, [], firsts) == []
    assert history.problems([("fmt", tools[0][1], "published again")], [], firsts) == []
    (found,) = history.problems([("fmt", tools[0][1], "gone")], [], firsts)
    assert found.kind == "lifecycle"


def test_the_new_checks_report_the_same_in_parts(sqlite_vault: Vault) -> None:
    """Tools spread over the parts of a verify in several processes: each part sends
    its tools' first versions, and the merge finds the same problems as one process."""
    vault = sqlite_vault
    for i in range(30):
        vault.publish(f"t{i:02d}", f"#!/bin/sh\necho {i}\n".encode())
    vault.set_lifecycle("t07", "deprecated", "use t08")
    raw(vault, "UPDATE tools SET created_at = 'then' WHERE name IN ('t03', 't27')")
    raw(vault, "UPDATE tools SET lifecycle_message = 'other' WHERE name = 't07'")
    raw(vault, "INSERT INTO blobs VALUES (?, 2, ?)", (hashlib.sha256(b"x\n").hexdigest(), b"x\n"))
    serial, split = vault.verify(workers=1), vault.verify(workers=3)
    assert split.problems == serial.problems
    assert kinds(list(serial.problems)) == [
        ("unused", None),
        ("created_at", "t03"),
        ("lifecycle", "t07"),
        ("created_at", "t27"),
    ]
