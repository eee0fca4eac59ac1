"""Schema upgrades (SPEC §8, issue 6): a database of every released schema of toolvault —
made here from the migration list, filled with raw SQL the way that toolvault wrote it —
opens with the current toolvault, upgrades, and keeps every row and a clean verify."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from toolvault import Vault
from toolvault.hashing import GENESIS, canonical, entry_hash
from toolvault.models import Version
from toolvault.signing import Signer, audit_record, encode_public, payload, version_fields
from toolvault.store.migrations import STEPS
from toolvault.store.sqlite import SQLiteStore

T0 = "2025-01-0{}T10:00:00.000000Z"


class OldVault:
    """Writes rows with plain SQL into a database that has only the first ``k`` migrations."""

    def __init__(self, db: sqlite3.Connection, steps: set[str]) -> None:
        self.db = db
        self.steps = steps
        self.heads: dict[str, Version] = {}
        self.seq, self.prev = 0, GENESIS
        self.sealed: tuple[Signer, Any] | None = None  # the vault key and newest checkpoint

    def publish(self, name: str, text: str, signer: Signer | None = None, **fields: Any) -> Version:
        content = text.encode()
        sha = hashlib.sha256(content).hexdigest()
        head = self.heads.get(name)
        number = head.version + 1 if head else 1
        at = T0.format(number)
        owner = "alice" if name != "lint" else "bob"
        v = Version(
            name=name,
            version=number,
            sha256=sha,
            size=len(content),
            executable=text.startswith("#!"),
            previous_version=head.version if head else None,
            previous_sha256=head.sha256 if head else None,
            created_at=fields.pop("created_at", at),
            recorded_at=at,
            created_by=fields.pop("created_by", owner),
            owner=owner,
            origin=fields.pop("origin", f"/src/{name}.sh"),
            **fields,
        )
        if signer is not None:
            signature = signer.sign(payload(version_fields(v)))
            v = replace(v, signature=signature, key_id=signer.key_id)
        self._sql(
            "INSERT INTO tools (name, owner, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
            name, owner, at, at,
        )  # fmt: skip
        self._sql("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?)", sha, len(content), content)
        row = _fields(v)
        refs, transforms = row.pop("references"), row.pop("transforms")
        row.pop("content")
        row.update(refs=_json(refs), transforms=_json(transforms), executable=int(v.executable))
        self._sql(
            f"INSERT INTO versions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            *row.values(),
        )
        self.heads[name] = v
        self.audit("publish", name, number, {**audit_record(v)}, at)
        return v

    def audit(
        self, action: str, tool: str | None, version: int | None, details: Any, at: str
    ) -> None:
        """An audit entry, hash-chained, when the schema has the audit log."""
        if "governance" not in self.steps:
            return
        self.seq += 1
        body = {
            "seq": self.seq, "at": at, "actor": "alice", "action": action, "tool": tool,
            "version": version, "details": details, "prev_hash": self.prev,
        }  # fmt: skip
        digest = entry_hash(body)
        self._sql(
            "INSERT INTO audit (seq, at, actor, action, tool, version, details, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.seq, at, "alice", action, tool, version, canonical(details).decode(),
            self.prev, digest,
        )  # fmt: skip
        self.prev = digest

    def _sql(self, sql: str, *params: Any) -> None:
        self.db.execute(sql, params)


def _fields(v: Version) -> dict[str, Any]:
    # description and usage exist from migration 7 on, claimed_by from 9: a version without
    # them has no such columns
    optional = ("description", "usage", "claimed_by")
    return {
        f: getattr(v, f)
        for f in Version.__dataclass_fields__
        if f not in optional or getattr(v, f) is not None
    }


def _json(items: tuple[str, ...]) -> str:
    return json.dumps(list(items))


def initial_schema(old: OldVault) -> None:
    """Tools, versions and shared blobs: a chain, provenance, references, a rollback."""
    one = old.publish("fmt", "#!/bin/sh\necho fmt 1\n", message="first")
    lint = old.publish("lint", "echo lint\n", session_id="s-1", prompt="write a linter")
    old.publish(
        "fmt",
        "#!/bin/sh\necho fmt 2\n",
        references=(f"lint:1@sha256:{lint.sha256}",),
        transforms=("python", "format"),
        created_by="@ai-engineer",
    )
    old.publish("fmt", "#!/bin/sh\necho fmt 1\n", rollback_of=one.version, message="rollback")


def governance(old: OldVault) -> None:
    """A label, a yank, a deprecation with its message, a trusted key and a signed version."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    at = T0.format(8)
    old._sql("INSERT INTO labels VALUES ('fmt', 'stable', 2, ?, 'alice')", at)
    old.audit("label", "fmt", 2, {"label": "stable", "version": 2, "from": None}, at)
    old._sql("INSERT INTO yanks VALUES ('fmt', 3, 'breaks CI', ?, 'alice')", at)
    old.audit("yank", "fmt", 3, {"reason": "breaks CI"}, at)
    old._sql(
        "UPDATE tools SET lifecycle = 'deprecated', lifecycle_message = 'use ruff' "
        "WHERE name = 'lint'"
    )
    old.audit("deprecate", "lint", None, {"message": "use ruff"}, at)
    signer = Signer("release", Ed25519PrivateKey.generate())
    public = encode_public(signer.public_raw)
    old._sql("INSERT INTO trusted_keys VALUES ('release', ?, ?, ?)", signer.key_id, public, at)
    old.audit("trust-add", None, None, {"name": "release", "key_id": signer.key_id}, at)
    old.publish("signed", "echo signed\n", signer=signer)


def packs(old: OldVault) -> None:
    """An imported pack and an exported one (anti-downgrade records)."""
    old._sql(
        "INSERT INTO pack_imports VALUES ('team-tools', 3, ?, 'file:///packs/t.tar.gz', ?)",
        "ab" * 32,
        T0.format(9),
    )
    details = {
        "pack": "team-tools", "pack_version": 3, "source": "file:///packs/t.tar.gz",
        "manifest_sha256": "ab" * 32, "signed_by": None, "added": [], "tools": {},
        "labels": [], "yanks": [],
    }  # fmt: skip
    old.audit("import", None, None, details, T0.format(9))  # with its record, as ever
    old._sql("INSERT INTO pack_exports VALUES ('mine', 1, ?)", T0.format(9))


def tokens(old: OldVault) -> None:
    """A daemon token (only its hash) and a revoked one."""
    old._sql("INSERT INTO tokens VALUES ('t1', 'ci', ?, 0, 1, ?, NULL)", "cd" * 32, T0.format(9))
    old._sql(
        "INSERT INTO tokens VALUES ('t2', 'alice', ?, 1, 0, ?, ?)",
        "ef" * 32,
        T0.format(9),
        T0.format(9),
    )


def refuse_truncate(old: OldVault) -> None:
    """PostgreSQL-only triggers (SQLite's step is empty): no new table, nothing to hold."""


def checkpoints(old: OldVault) -> None:
    """The audit log's head signed by a vault key, in the database and in HOME/checkpoint
    (the key itself is not in this home: a copy of a vault without its keys/)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from toolvault.checkpoints import Checkpoint, signed_bytes
    from toolvault.hashing import GENESIS

    signer = Signer("vault", Ed25519PrivateKey.generate())
    at = T0.format(9)
    signature = signer.sign(signed_bytes(old.seq, old.prev, at, signer.key_id, GENESIS))
    public = encode_public(signer.public_raw)
    head = Checkpoint(old.seq, old.prev, at, signer.key_id, public, signature, GENESIS)
    old._sql("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)", *head.row())
    db_file = Path(old.db.execute("PRAGMA database_list").fetchone()[2])
    (db_file.parent / "checkpoint").write_text(json.dumps(head.to_dict()))
    old.sealed = (signer, head)


def seal_again(old: OldVault, at: str) -> None:
    """A checkpoint after the one of :func:`checkpoints`, by the same vault key, over the
    entries written since."""
    from toolvault.checkpoints import Checkpoint, signed_bytes

    assert old.sealed is not None
    signer, last = old.sealed
    prev = last.link()
    signature = signer.sign(signed_bytes(old.seq, old.prev, at, signer.key_id, prev))
    public = encode_public(signer.public_raw)
    head = Checkpoint(old.seq, old.prev, at, signer.key_id, public, signature, prev)
    old._sql("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)", *head.row())
    db_file = Path(old.db.execute("PRAGMA database_list").fetchone()[2])
    (db_file.parent / "checkpoint").write_text(json.dumps(head.to_dict()))
    old.sealed = (signer, head)


def descriptions(old: OldVault) -> None:
    """Two new nullable version columns: the rows written before keep NULL there; a
    version that has them, signed over them (they are signed only when set), verifies."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = Signer("described", Ed25519PrivateKey.generate())
    at = T0.format(10 - 1)
    public = encode_public(signer.public_raw)
    old._sql("INSERT INTO trusted_keys VALUES ('described', ?, ?, ?)", signer.key_id, public, at)
    old.audit("trust-add", None, None, {"name": "described", "key_id": signer.key_id}, at)
    old.publish(
        "csvsum",
        "#!/bin/sh\necho sum\n",
        signer=signer,
        description="Summarise the columns of a CSV file: count, nulls, min, max. Ünïcode.",
        usage="Usage: csvsum FILE\n  -h  this help",
    )
    seal_again(old, at)


def search(old: OldVault) -> None:
    """The search index as toolvault 8 kept it: a row per version with its text, and the
    tool's lifecycle and owner, the version's labels, yanked and latest."""
    from toolvault.store.search import content_text, ref_name

    tools = dict(old.db.execute("SELECT name, lifecycle || '|' || owner FROM tools"))
    labels: dict[tuple[str, int], list[str]] = {}
    for name, label, number in old.db.execute("SELECT name, label, version FROM labels"):
        labels.setdefault((name, number), []).append(label)
    yanked = set(old.db.execute("SELECT name, version FROM yanks"))
    rows = list(
        old.db.execute(
            "SELECT v.name, v.version, v.sha256, v.prompt, v.message, b.content, v.created_by, "
            "v.session_id, v.refs, v.recorded_at FROM versions v JOIN blobs b USING (sha256) "
            "ORDER BY v.name, v.version"
        )
    )
    latest = {r[0]: r[1] for r in rows if (r[0], r[1]) not in yanked}
    for r in rows:
        lifecycle, owner = tools[r[0]].split("|")
        uses = " ".join(sorted({ref_name(x) for x in json.loads(r[8])}))
        old._sql(
            "INSERT INTO search_index (name, version, sha256, prompt, message, content, author, "
            "owner, session, label, uses, lifecycle, yanked, latest, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *r[:3], r[3] or "", r[4] or "", content_text(r[5]), r[6] or "", owner,
            r[7] or "", " ".join(sorted(labels.get((r[0], r[1]), []))), uses, lifecycle,
            int((r[0], r[1]) in yanked), int(latest.get(r[0]) == r[1]), r[9],
        )  # fmt: skip
    for table in ("search_words", "search_trigram"):  # the FTS tables over those rows
        old._sql(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")


def grants(old: OldVault) -> None:
    """A maintainer of lint with its audit entry, and a version published through the
    daemon whose client named another author (claimed_by), signed over it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    at = T0.format(9)
    old._sql("INSERT INTO grants VALUES ('lint', 'carol', ?, 'bob')", at)
    details = {"principal": "carol", "granted_at": at, "granted_by": "bob"}
    old.audit("grant", "lint", None, details, at)
    signer = Signer("claimed", Ed25519PrivateKey.generate())
    public = encode_public(signer.public_raw)
    old._sql("INSERT INTO trusted_keys VALUES ('claimed', ?, ?, ?)", signer.key_id, public, at)
    old.audit("trust-add", None, None, {"name": "claimed", "key_id": signer.key_id}, at)
    old.publish("agent", "echo agent\n", signer=signer, claimed_by="@ai-engineer")
    old._sql("DELETE FROM search_index")  # toolvault 9 indexed it as it published it
    search(old)
    seal_again(old, at)


def hooks(old: OldVault) -> None:
    """A webhook endpoint with its hook-add entry, one delivered event and its attempt."""
    at = T0.format(10)
    details = {"id": "0a1b2c3d4e5f", "url": "https://chat.example.com/hooks/tv", "events": []}
    details |= {"tools": ["fmt"], "signing": "v1", "key_id": None}
    old.audit("hook-add", None, None, details, at)
    (seq,) = old.db.execute("SELECT MAX(seq) FROM audit").fetchone()
    old._sql(
        "INSERT INTO hooks VALUES ('0a1b2c3d4e5f', 'https://chat.example.com/hooks/tv', '[]', "
        "'[\"fmt\"]', ?, NULL, NULL, ?, 'alice', ?, 'active', NULL, NULL, NULL)",
        "whsec_" + "A" * 32, at, seq,
    )  # fmt: skip
    old._sql(
        "INSERT INTO hook_deliveries VALUES ('0a1b2c3d4e5f', ?, 'delivered', 1, 1, NULL, 200, "
        "NULL, ?)",
        seq, at,
    )  # fmt: skip
    old._sql("INSERT INTO hook_attempts VALUES ('0a1b2c3d4e5f', ?, 1, ?, 200, 3.5, NULL)", seq, at)
    seal_again(old, at)


def search_text(old: OldVault) -> None:
    """Nothing new to hold: migration 11 remade the full-text tables over the same rows
    (their shadow tables are derived, compared below through the tables themselves)."""


# FTS5's own tables under the full-text ones: derived, and remade by migration 11
FTS_SHADOW = ("search_words_", "search_trigram_")


# Representative data per migration, by name. A new migration needs an entry here.
DATA: dict[str, Callable[[OldVault], None]] = {
    "initial_schema": initial_schema,
    "governance": governance,
    "packs": packs,
    "tokens": tokens,
    "refuse_truncate": refuse_truncate,
    "checkpoints": checkpoints,
    "descriptions": descriptions,
    "search": search,
    "grants": grants,
    "hooks": hooks,
    "search_text": search_text,
}


def test_every_migration_has_representative_data() -> None:
    missing = [s.name for s in STEPS if s.name not in DATA]
    assert not missing, f"add representative data for migration(s) {missing} to DATA"


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, columns in declared order, sorted."""
    with closing(sqlite3.connect(path)) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}


def schema(path: Path) -> list[tuple[str, str, str | None]]:
    with closing(sqlite3.connect(path)) as db:
        found = db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name != 'schema_migrations'"
        )
        return sorted(found.fetchall(), key=repr)


def build(path: Path, k: int) -> None:
    """A database at schema ``k`` holding the data every migration up to ``k`` allows."""
    SQLiteStore.open(path, steps=STEPS[:k]).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("BEGIN")
        old = OldVault(db, {s.name for s in STEPS[:k]})
        for step in STEPS[:k]:
            DATA[step.name](old)
        db.execute("COMMIT")


@pytest.mark.parametrize("k", range(1, len(STEPS) + 1), ids=[s.name for s in STEPS])
def test_an_old_database_upgrades_with_its_data_intact(tmp_path: Path, k: int) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = home / "vault.db"
    build(db, k)
    before = rows(db)
    with Vault.open(home) as vault:
        assert [m.id for m in vault.migrations() if m.applied_at is None] == []
        vault.sync()  # commands/ is derived: the old toolvault kept it, here it is rebuilt
        report = vault.verify()
        assert report.ok, [p.detail for p in report.problems]
        assert vault.cat("fmt:2").text == "#!/bin/sh\necho fmt 2\n"
        assert vault.get("fmt:3").rollback_of == 1
        assert vault.get("fmt:2").references[0].startswith("lint:1@sha256:")
        assert vault.get("fmt:2").transforms == ("python", "format")
        assert vault.get("lint").prompt == "write a linter"
        if k >= 2:
            assert vault.get("fmt:stable").version == 2
            assert vault.get("fmt").version == 2  # fmt:3 is yanked
            assert vault.get("fmt:previous").version == 1
            assert vault.signature_status(vault.get("signed")) == "valid (key release)"
            assert vault.tool("lint").lifecycle_message == "use ruff"
        if k >= 7:
            described = vault.get("csvsum")
            assert described.description is not None
            assert described.description.endswith("Ünïcode.")
            assert described.usage == "Usage: csvsum FILE\n  -h  this help"
            assert vault.signature_status(described) == "valid (key described)"
        if k >= 9:
            agent = vault.get("agent")
            assert (agent.created_by, agent.claimed_by) == ("alice", "@ai-engineer")
            assert vault.signature_status(agent) == "valid (key claimed)"
            assert [(g.name, g.principal) for g in vault.grants("lint")] == [("lint", "carol")]
        else:
            assert vault.grants("lint") == []
            assert {v.claimed_by for v in vault.all_versions()} == {None}
        if k >= 10:
            (hook,) = vault.hooks()
            assert (hook.url, hook.tools, hook.signing) == (
                "https://chat.example.com/hooks/tv", ("fmt",), "v1",
            )  # fmt: skip
            assert [d.state for d in vault.hook_deliveries(hook.id)] == ["delivered"]
        else:
            assert vault.hooks() == []
    after = rows(db)
    for table, old_rows in before.items():  # later migrations may add columns, never drop
        if table.startswith(FTS_SHADOW):
            continue
        width = len(old_rows[0]) if old_rows else 0
        kept = [r[:width] for r in after[table]]
        if table == "schema_migrations":
            assert set(old_rows) <= set(kept)
        else:
            assert kept == old_rows, table
    if k == 1:  # versions older than the audit log are adopted by it, one entry each
        assert [r[3] for r in after["audit"]] == ["adopt"] * 4
    fresh = tmp_path / "fresh"
    Vault.open(fresh).close()
    assert schema(db) == schema(fresh / "vault.db")
    with Vault.open(home) as vault:  # opening again applies nothing
        assert vault.store.migrate() == []
