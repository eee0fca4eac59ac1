"""Signed checkpoints (issue 11, item 7): the audit log anchored outside itself.

Each attack is made as someone with write access to the database makes it — with a
connection of its own, triggers dropped first — and ``verify`` must report it. The
attacks that whoever also holds the vault key can make are caught by a head kept
elsewhere (``verify --since``) and by the clients of a daemon.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import Raw, drop_triggers, raw, run_together
from test_concurrency import PUBLISH_AT_ONCE
from test_postgres import PUBLISH_AT_ONCE as PUBLISH_TO_POSTGRES
from test_server import Daemon, make_token
from toolvault import Vault
from toolvault.checkpoints import (
    FILE,
    KEY_FILE,
    Checkpoint,
    load_key,
    make_key,
    signed_bytes,
    write_newest,
)
from toolvault.cli import cli
from toolvault.errors import InvalidInput, NotFound
from toolvault.hashing import GENESIS, entry_hash
from toolvault.signing import Signer, audit_record, encode_public
from toolvault.store.checkpointing import CHECKPOINT_COLUMNS
from toolvault.vault import NewVersion


def tv(home: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], input=input)


def verify_json(home: Path, *args: str) -> Any:
    result = tv(home, "verify", "--json", *args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def checkpoint_problems(vault: Vault, **kw: Any) -> list[str]:
    report = vault.verify(**kw)
    return [p.detail for p in report.problems if p.kind == "checkpoint"]


def publish_three(vault: Vault) -> None:
    """Three writes: greet 1 (with a prompt), greet 2, a label — three checkpoints."""
    vault.publish("greet", b"#!/bin/sh\necho one\n", prompt="say one", created_by="ada")
    vault.publish("greet", b"#!/bin/sh\necho two\n")
    vault.label("greet:2", "stable")


def head(vault: Vault) -> tuple[int, str]:
    seq, digest, _ = vault.store.audit_head()
    return seq, digest


# -- the two attacks of the issue, by someone without the vault key ----------------------------


@pytest.mark.parametrize("checkpoints_too", [False, True], ids=["log", "log+checkpoints"])
def test_a_truncated_tail_is_reported(vault: Vault, home: Path, checkpoints_too: bool) -> None:
    publish_three(vault)
    assert vault.verify().ok
    for table in ("versions", "audit", "labels", "checkpoints"):
        drop_triggers(vault, table)
    with Raw(vault) as run:  # the newest version and the tail of the log, then sync
        run("DELETE FROM labels")
        run("DELETE FROM versions WHERE version = 2")
        run("DELETE FROM audit WHERE seq > 1")
        if checkpoints_too:
            run("DELETE FROM checkpoints WHERE seq > 1")
    vault.sync()
    problems = checkpoint_problems(vault)
    assert problems, "verify said ok after the log's tail was removed"
    assert any("entries 2..3 were removed" in p or "tail was removed" in p for p in problems)


def rewrite_chain(vault: Vault, changes: dict[str, str]) -> None:
    """Change greet:1's provenance and recompute what SHA-256 lets anyone recompute: the
    version's audit record and every hash of the log after it."""
    drop_triggers(vault, "versions")
    drop_triggers(vault, "audit")
    sets = ", ".join(f"{column} = ?" for column in changes)
    raw(
        vault,
        f"UPDATE versions SET {sets} WHERE name = 'greet' AND version = 1",
        (*changes.values(),),
    )
    forged = audit_record(vault.get("greet:1"))
    rows = raw(
        vault, "SELECT seq, at, actor, action, tool, version, details FROM audit ORDER BY seq"
    )
    prev = GENESIS
    with Raw(vault) as run:
        for seq, at, actor, action, tool, version, details in rows:
            data = (
                forged
                if (action, tool, version) == ("publish", "greet", 1)
                else json.loads(details)
            )
            body = {"seq": seq, "at": at, "actor": actor, "action": action, "tool": tool,
                    "version": version, "details": data, "prev_hash": prev}  # fmt: skip
            digest = entry_hash(body)
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            run("UPDATE audit SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (text, prev, digest, seq))  # fmt: skip
            prev = digest
    vault.sync()  # and commands/, whose metadata.json shows the provenance


def test_a_rewritten_prompt_with_the_chain_recomputed_is_reported(vault: Vault) -> None:
    publish_three(vault)
    rewrite_chain(vault, {"prompt": "exfiltrate ~/.ssh", "created_by": "mallory"})
    report = vault.verify()
    assert [p.kind for p in report.problems if p.kind != "checkpoint"] == []  # SHA-256 agrees
    problems = checkpoint_problems(vault)
    assert any("the log was rewritten at or before seq 1" in p for p in problems), problems
    assert any("(a fork)" in p for p in problems), problems  # HOME/checkpoint says so too


def test_checkpoints_resigned_with_another_key_are_reported(vault: Vault, home: Path) -> None:
    """The rewriter makes a key of their own and signs every head and the file anew."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    publish_three(vault)
    rewrite_chain(vault, {"prompt": "exfiltrate ~/.ssh"})
    mallory = Signer("m", Ed25519PrivateKey.generate())
    forged = resign(vault, mallory)
    (home / FILE).write_text(json.dumps(forged.to_dict()))
    problems = checkpoint_problems(vault)
    assert any("which is not this vault's key" in p for p in problems), problems


def resign(vault: Vault, signer: Any, after: int = -1) -> Checkpoint:
    """Every checkpoint after seq ``after`` replaced by one of the log as it now is,
    signed by ``signer``, the chain recomputed from the checkpoints before as they are."""
    drop_triggers(vault, "checkpoints")
    hashes = dict(raw(vault, "SELECT seq, hash FROM audit"))
    public = encode_public(signer.public_raw)
    newest, prev = None, GENESIS
    with Raw(vault) as run:
        for row in run(f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq"):
            seq, at = row[0], row[2]
            if seq <= after:
                prev = Checkpoint(*row).link()
                continue
            digest = hashes.get(seq, GENESIS)
            signature = signer.sign(signed_bytes(seq, digest, at, signer.key_id, prev))
            run("UPDATE checkpoints SET hash = ?, key_id = ?, public_key = ?, signature = ?, "
                "prev = ? WHERE seq = ?",
                (digest, signer.key_id, public, signature, prev, seq))  # fmt: skip
            newest = Checkpoint(seq, digest, at, signer.key_id, public, signature, prev)
            prev = newest.link()
    assert newest is not None
    return newest


def test_a_database_rolled_back_to_an_older_copy_is_reported(
    sqlite_vault: Vault, home: Path
) -> None:
    vault = sqlite_vault
    vault.publish("greet", b"echo one\n")
    old = home.parent / "old.db"
    with closing(sqlite3.connect(home / "vault.db")) as live, closing(sqlite3.connect(old)) as copy:
        live.backup(copy)
    vault.publish("greet", b"echo two\n")
    assert vault.verify().ok
    with closing(sqlite3.connect(old)) as copy, closing(sqlite3.connect(home / "vault.db")) as live:
        copy.backup(live)  # the whole database, as an older backup put back
    vault.sync()
    problems = checkpoint_problems(vault)
    assert any("rolled back to an older copy" in p for p in problems), problems


def publish_with_a_gap(vault: Vault) -> None:
    """Checkpoints at seq 1, 3 and 4: greet 1; a batch of two (entries 2 and 3, one
    transaction, one checkpoint); greet 2."""
    vault.publish("greet", b"echo one\n")
    vault.publish_many([NewVersion("a", b"echo a\n"), NewVersion("b", b"echo b\n")])
    vault.publish("greet", b"echo two\n")
    assert [r[0] for r in raw(vault, "SELECT seq FROM checkpoints ORDER BY seq")] == [1, 3, 4]


def breaks(before: int, after: int) -> str:
    return (
        f"the chain of checkpoints breaks between seq {before} and seq {after}: the checkpoint "
        f"at seq {after} does not commit to the one at seq {before} (one of them, or one "
        "between them, was altered, removed or inserted)"
    )


OLD_ROW_ATTACKS = {
    # (what is done to the old checkpoint at seq 3, what verify must say)
    "signature": ("UPDATE checkpoints SET signature = (SELECT signature FROM checkpoints "
                  "WHERE seq = 4) WHERE seq = 3", [breaks(3, 4)]),
    "time": ("UPDATE checkpoints SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 3",
             [breaks(3, 4)]),
    "prev": ("UPDATE checkpoints SET prev = '" + "cd" * 32 + "' WHERE seq = 3",
             [breaks(1, 3) + " (and 1 more like it)"]),
    "removed": ("DELETE FROM checkpoints WHERE seq = 3", [breaks(1, 4)]),
    "inserted": ("INSERT INTO checkpoints SELECT 2, (SELECT hash FROM audit WHERE seq = 2), "
                 "at, key_id, public_key, signature, '" + "ab" * 32 + "' "
                 "FROM checkpoints WHERE seq = 1",
                 [breaks(1, 2) + " (and 1 more like it)"]),
    "first removed": ("DELETE FROM checkpoints WHERE seq = 1",
                      ["the first checkpoint (seq 3) does not begin the chain of checkpoints: "
                       "checkpoints before it were removed, or it was altered"]),
}  # fmt: skip


@pytest.mark.parametrize("attack", OLD_ROW_ATTACKS)
def test_an_old_checkpoint_altered_removed_or_inserted_breaks_the_chain(
    vault: Vault, attack: str
) -> None:
    """Only the newest signature is checked (and each key's last): the chain carries it
    back to every older checkpoint, which is named by its seq when it no longer holds."""
    publish_with_a_gap(vault)
    assert checkpoint_problems(vault) == []
    drop_triggers(vault, "checkpoints")
    sql, says = OLD_ROW_ATTACKS[attack]
    raw(vault, sql)
    assert checkpoint_problems(vault) == says


NEWEST_ROW_ATTACKS = {
    "signature": "signature = (SELECT signature FROM checkpoints WHERE seq = 3)",
    "time": "at = '2020-01-01T00:00:00.000000Z'",
    "prev": "prev = '" + "cd" * 32 + "'",
}


@pytest.mark.parametrize("attack", NEWEST_ROW_ATTACKS)
def test_the_newest_checkpoint_altered_is_reported(vault: Vault, attack: str) -> None:
    publish_with_a_gap(vault)
    drop_triggers(vault, "checkpoints")
    kid = vault.sealer.signer(vault.store).key_id
    raw(vault, f"UPDATE checkpoints SET {NEWEST_ROW_ATTACKS[attack]} WHERE seq = 4")
    bad = f"the checkpoint at seq 4 is not valid: its signature does not verify under key {kid}"
    assert checkpoint_problems(vault) == ([breaks(3, 4)] if attack == "prev" else []) + [bad]


def switch_key(vault: Vault, home: Path, tmp_path: Path) -> tuple[Vault, Signer]:
    """A second writer (another daemon, or after a lost key) signing with a key of its
    own, the first key listed under checkpoint_keys; the writer and its key."""
    first = vault.sealer.signer(vault.store)
    second = make_key(tmp_path / "second.pem")
    (home / "config.toml").write_text(
        f'checkpoint_key = "{tmp_path / "second.pem"}"\n'
        f'checkpoint_keys = ["{encode_public(first.public_raw)}"]\n'
        + ("commands_tree = true\n" if vault.store.dialect == "postgres" else "")
    )
    return Vault.open(home, db=getattr(vault.store, "url", None)), second


@pytest.mark.parametrize("altered", [1, 2], ids=["first of a key's run", "last of a key's run"])
def test_a_key_holder_cannot_rewrite_another_keys_checkpoints(
    vault: Vault, home: Path, tmp_path: Path, altered: int
) -> None:
    """The last checkpoint of each key's run is checked too: whoever holds one listed
    key (a daemon's) cannot alter the checkpoints another key signed and sign the chain
    anew with theirs."""
    vault.publish("greet", b"echo one\n")
    vault.publish("greet", b"echo two\n")
    second, key = switch_key(vault, home, tmp_path)
    with second:
        second.publish("greet", b"echo three\n")
        second.publish("greet", b"echo four\n")
        kids = [r[0] for r in raw(second, "SELECT key_id FROM checkpoints ORDER BY seq")]
        assert kids == [vault.sealer.signer(vault.store).key_id] * 2 + [key.key_id] * 2
        assert second.verify().ok
        drop_triggers(second, "checkpoints")
        raw(
            second, "UPDATE checkpoints SET at = ? WHERE seq = ?", ("2020-01-01T00:00:00Z", altered)
        )
        (home / FILE).write_text(json.dumps(resign(second, key, after=altered).to_dict()))
        problems = checkpoint_problems(second)
    (problem,) = problems
    # the altered checkpoint is now the last of the first key's run: its signature is checked
    assert problem.startswith(f"the checkpoint at seq {altered} is not valid: its signature ")


def test_a_checkpoint_with_another_public_key_is_reported(vault: Vault) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    publish_with_a_gap(vault)
    drop_triggers(vault, "checkpoints")
    other = encode_public(Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    raw(vault, "UPDATE checkpoints SET public_key = ? WHERE seq = 3", (other,))
    assert checkpoint_problems(vault) == [
        "the checkpoint at seq 3 records a public key that is not its key's"
    ]


def test_checkpoints_are_append_only(vault: Vault) -> None:
    publish_three(vault)
    for sql in ("UPDATE checkpoints SET hash = ?", "DELETE FROM checkpoints WHERE hash <> ?"):
        with Raw(vault) as run, pytest.raises(run.error, match="checkpoints are append-only"):
            run(sql, ("0" * 64,))
    if vault.store.dialect == "postgres":
        with Raw(vault) as run, pytest.raises(run.error, match="checkpoints are append-only"):
            run("TRUNCATE checkpoints")
    assert vault.verify().ok


# -- the file outside the database -------------------------------------------------------------


def test_the_file_holds_the_newest_head_and_an_older_one_never_replaces_it(
    vault: Vault, home: Path
) -> None:
    vault.publish("greet", b"echo one\n")
    first = Checkpoint.from_dict(json.loads((home / FILE).read_text()))
    vault.publish("greet", b"echo two\n")
    second = Checkpoint.from_dict(json.loads((home / FILE).read_text()))
    assert (first.seq, second.seq) == (1, 2) and second.hash == head(vault)[1]
    assert write_newest(home / FILE, first) is False  # a slower writer of an older head
    assert Checkpoint.from_dict(json.loads((home / FILE).read_text())) == second


def test_a_file_that_disagrees_with_the_database_is_reported(vault: Vault, home: Path) -> None:
    publish_three(vault)
    signer = vault.sealer.signer(vault.store)
    seq, _ = head(vault)
    at, other = "2030-01-01T00:00:00.000000Z", "ab" * 32
    prev = GENESIS
    fork = Checkpoint(seq, other, at, signer.key_id, encode_public(signer.public_raw),
                      signer.sign(signed_bytes(seq, other, at, signer.key_id, prev)),
                      prev)  # fmt: skip
    (home / FILE).write_text(json.dumps(fork.to_dict()))
    assert any("(a fork)" in p for p in checkpoint_problems(vault))
    (home / FILE).write_text("{not json")
    assert any("is not JSON" in p for p in checkpoint_problems(vault))


def test_checkpoint_rows_removed_under_the_file_are_reported(vault: Vault, home: Path) -> None:
    publish_three(vault)
    drop_triggers(vault, "checkpoints")
    raw(vault, "DELETE FROM checkpoints")
    problems = checkpoint_problems(vault)
    assert any("no signed checkpoint covers the log's 3 entries" in p for p in problems), problems
    assert any("the database has no checkpoint at seq 3" in p for p in problems), problems


def test_a_missing_file_is_reported_on_sqlite(sqlite_vault: Vault, home: Path) -> None:
    sqlite_vault.publish("greet", b"echo one\n")
    (home / FILE).unlink()
    (problem,) = checkpoint_problems(sqlite_vault)
    assert problem.startswith(f"{home / FILE} is missing")


def test_unsigned_entries_after_the_newest_checkpoint_are_reported(vault: Vault) -> None:
    vault.publish("greet", b"echo one\n")
    with vault.store.write():  # a writer that bypasses the sealer (an older toolvault, a script)
        sealer, vault.store.sealer = vault.store.sealer, None
        vault.record("label", "greet", 1, {"label": "x", "version": 1, "from": None})
    vault.store.sealer = sealer
    (problem,) = checkpoint_problems(vault)
    assert "audit entries 2..2 come after the newest signed checkpoint (seq 1)" in problem


# -- the vault key -----------------------------------------------------------------------------


def test_init_makes_a_private_vault_key_and_signs_the_empty_log(home: Path) -> None:
    assert tv(home, "init").exit_code == 0
    key = home / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    shown = json.loads(tv(home, "checkpoint").stdout)
    assert (shown["seq"], shown["hash"]) == (0, GENESIS)
    assert shown["key_id"] == load_key(key).key_id
    assert json.loads((home / FILE).read_text()) == shown
    # the empty log's head (GENESIS at seq 0) is what the first checkpoint signs
    assert verify_json(home)["ok"]
    assert tv(home, "add", "-", "--name", "t", input="echo hi\n").exit_code == 0
    assert verify_json(home)["ok"]


def test_a_copy_without_its_key_verifies_and_refuses_writes(vault: Vault, home: Path) -> None:
    publish_three(vault)
    key = home / KEY_FILE
    kept = key.read_bytes()
    key.unlink()
    with Vault.open(home, db=getattr(vault.store, "url", None)) as copy:
        assert copy.verify().ok  # the public key the checkpoints record still checks them
        before = raw(copy, "SELECT count(*) FROM audit")
        with pytest.raises(NotFound, match=r"vault key .* is missing.*Restore the file"):
            copy.publish("greet", b"echo three\n")
        assert raw(copy, "SELECT count(*) FROM audit") == before  # nothing was written
    key.write_bytes(kept)
    os.chmod(key, 0o644)
    with (
        Vault.open(home, db=getattr(vault.store, "url", None)) as again,
        pytest.raises(InvalidInput, match=r"can be read by others.*chmod 600"),
    ):
        again.publish("greet", b"echo three\n")


def test_several_writers_share_one_key_file_named_in_config(
    vault: Vault, home: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared" / "vault.pem"
    (home / "config.toml").write_text(
        f'commands_tree = true\ncheckpoint_key = "{shared}"\n'
        if vault.store.dialect == "postgres"
        else f'checkpoint_key = "{shared}"\n'
    )
    with Vault.open(home, db=getattr(vault.store, "url", None)) as writer:
        writer.publish("greet", b"echo one\n")
        assert not (home / KEY_FILE).exists() and stat.S_IMODE(shared.stat().st_mode) == 0o600
        assert writer.verify().ok


# -- toolvault checkpoint and verify --since ---------------------------------------------------


def test_checkpoint_prints_the_signed_head(sqlite_vault: Vault, home: Path) -> None:
    publish_three(sqlite_vault)
    result = tv(home, "checkpoint")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown) == {
        *("format", "seq", "hash", "at", "key_id", "public_key", "signature", "prev")
    }
    assert (shown["seq"], shown["hash"]) == head(sqlite_vault)
    assert Checkpoint.from_dict(shown).why_invalid() is None


def test_verify_since_a_witness_passes_while_the_log_extends_it(
    sqlite_vault: Vault, home: Path, tmp_path: Path
) -> None:
    publish_three(sqlite_vault)
    witness = tv(home, "checkpoint").stdout
    kept = tmp_path / "witness.json"
    kept.write_text(witness)
    sqlite_vault.publish("greet", b"echo three\n")
    for given in (str(kept), witness):
        report = verify_json(home, "--since", given)
        assert report["ok"] is True, report


def test_verify_since_catches_a_rewrite_by_the_key_holder(
    vault: Vault, home: Path, tmp_path: Path
) -> None:
    """Whoever holds the vault key can rewrite the log and sign every head anew: verify
    alone then says ok, but not against a head kept elsewhere."""
    publish_three(vault)
    witness = Checkpoint.from_dict(json.loads((home / FILE).read_text()))
    rewrite_chain(vault, {"prompt": "exfiltrate ~/.ssh"})
    signer = vault.sealer.signer(vault.store)
    (home / FILE).write_text(json.dumps(resign(vault, signer).to_dict()))
    assert vault.verify().ok
    problems = checkpoint_problems(vault, since=witness)
    assert problems == [
        f"the witness signs hash {witness.hash[:16]}… for seq 3, but the log's entry 3 has hash "
        f"{head(vault)[1][:16]}…: the log was rewritten or replaced (a fork)"
    ]


def test_verify_since_refuses_a_witness_of_another_vault_and_bad_input(
    sqlite_vault: Vault, home: Path, tmp_path: Path
) -> None:
    sqlite_vault.publish("greet", b"echo one\n")
    other = tmp_path / "other"
    assert tv(other, "init").exit_code == 0
    foreign = tv(other, "checkpoint").stdout
    report = verify_json(home, "--since", foreign)
    assert report["ok"] is False
    assert "never signed a checkpoint of this vault" in report["problems"][0]["detail"]
    for bad, says in [
        ("{", "is not JSON"),
        ('{"format": "toolvault-checkpoint/1", "seq": -1}', "seq must be a whole number"),
        ('{"format": "x"}', "is not a toolvault checkpoint"),
        (
            json.dumps({"format": "toolvault-checkpoint/1", "seq": 1, "hash": "a" * 64}),
            "prev must be 64 lowercase hex digits",
        ),
        (str(tmp_path / "nowhere.json"), "cannot read the checkpoint file"),
    ]:
        result = tv(home, "verify", "--since", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert result.stderr.startswith("toolvault: error: ") and says in result.stderr
        assert result.stderr.count("\n") == 1


# -- a daemon and its clients ------------------------------------------------------------------


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, Path, str]]:
    served = tmp_path / "daemon"
    token = make_token(served, "alice")
    running = Daemon(served)
    yield running, served, token
    running.stop()


def test_a_client_refuses_a_daemon_rolled_back(
    daemon: tuple[Daemon, Path, str], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, served, token = daemon
    monkeypatch.setenv("TOOLVAULT_URL", running.url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)
    tool = tmp_path / "greet.sh"
    tool.write_text("echo one\n")
    assert tv(home, "add", str(tool)).exit_code == 0
    old = tmp_path / "old.db"
    with (
        closing(sqlite3.connect(served / "vault.db")) as live,
        closing(sqlite3.connect(old)) as copy,
    ):
        live.backup(copy)
    tool.write_text("echo two\n")
    assert tv(home, "add", str(tool)).exit_code == 0  # the client saw the head after it
    assert json.loads(tv(home, "verify", "--json").stdout)["ok"] is True
    with (
        closing(sqlite3.connect(old)) as copy,
        closing(sqlite3.connect(served / "vault.db")) as live,
    ):
        copy.backup(live)  # the daemon's database put back to before greet:2
    tool.write_text("echo three\n")
    refused = tv(home, "add", str(tool))
    assert refused.exit_code == 1
    assert "no longer extends the signed head this client saw" in refused.stderr
    assert "rolled back" in refused.stderr and refused.stderr.count("\n") == 1
    assert running.call("GET", "/v1/tools/greet", token).json()["versions"] == 1  # not written
    pulled = tv(home, "pull", "greet")
    assert pulled.exit_code == 1 and "no longer extends" in pulled.stderr
    report = json.loads(tv(home, "verify", "--json").stdout)
    assert report["ok"] is False and report["problems"][-1]["kind"] == "checkpoint"


def test_the_daemon_serves_its_head_and_the_entries_since(daemon: tuple[Daemon, Path, str]) -> None:
    running, _, token = daemon
    assert running.publish(token, "greet", "echo one\n").status_code == 200
    assert running.publish(token, "greet", "echo two\n").status_code == 200
    served = running.call("GET", "/v1/checkpoint?since=1", token).json()
    newest = Checkpoint.from_dict(served["checkpoint"])
    assert newest.seq == 3 and newest.why_invalid() is None  # token create, two publishes
    assert [e[0] for e in served["entries"]] == [1, 2, 3]
    assert served["entries"][-1][8] == newest.hash
    assert running.call("GET", "/v1/checkpoint?since=-1", token).status_code == 400
    assert running.call("GET", "/v1/checkpoint").status_code == 401


# -- concurrent writers: one chain -------------------------------------------------------------


def assert_one_chain(vault: Vault, writes: int) -> None:
    """One checkpoint per write transaction, each committing to the one before it
    (recomputed here from the rows as stored), no two after the same one, and verify
    clean."""
    rows = raw(vault, f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq")
    assert len(rows) == writes
    prev = GENESIS
    for seq, digest, at, kid, _, signature, after in rows:
        assert after == prev, f"the checkpoint at seq {seq} does not follow the one before"
        body = {"format": "toolvault-checkpoint/1", "seq": seq, "hash": digest, "at": at,
                "key_id": kid, "prev": after}  # fmt: skip
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = hashlib.sha256(text.encode() + signature.encode()).hexdigest()
    assert len({row[6] for row in rows}) == len(rows)
    report = vault.verify()
    assert report.ok, report.problems


def test_threads_writing_at_once_make_one_chain(vault: Vault, home: Path) -> None:
    workers, each = 4, 15
    url = getattr(vault.store, "url", None)
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def publish(worker: int) -> None:
        try:
            with Vault.open(home, db=url) as mine:
                start.wait(timeout=30)
                for i in range(each):
                    mine.publish("threaded", f"echo {worker} {i}\n".encode())
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert_one_chain(vault, workers * each)


def test_processes_writing_at_once_make_one_chain(sqlite_vault: Vault, home: Path) -> None:
    workers, each = 4, 25
    argvs = [[str(home), str(w), str(each)] for w in range(workers)]
    assert [r[0] for r in run_together(PUBLISH_AT_ONCE, *argvs)] == [0] * workers
    assert_one_chain(sqlite_vault, workers * each)


def test_daemons_with_keys_of_their_own_make_one_chain(pg_url: str, tmp_path: Path) -> None:
    """Several daemons on one PostgreSQL, each signing with its own key, all listed."""
    workers, each = 3, 20
    homes = [tmp_path / f"daemon{w}" for w in range(workers)]
    keys = [make_key(h / KEY_FILE) for h in homes]
    listed = ", ".join(f'"{encode_public(k.public_raw)}"' for k in keys)
    for h in homes:
        (h / "config.toml").write_text(f"checkpoint_keys = [{listed}]\n")
    Vault.open(tmp_path / "setup", db=pg_url).close()  # migrated before the race
    argvs = [[str(h), pg_url, str(w), str(each)] for w, h in enumerate(homes)]
    assert run_together(PUBLISH_TO_POSTGRES, *argvs) == [(0, "", "")] * workers
    with Vault.open(homes[0], db=pg_url) as daemon:
        assert_one_chain(daemon, workers * each)
        kids = [r[0] for r in raw(daemon, "SELECT key_id FROM checkpoints ORDER BY seq")]
    assert {k.key_id for k in keys} == set(kids)


def test_one_vault_shared_by_threads_makes_one_chain(vault: Vault) -> None:
    """A daemon's threads share one vault, and so one sealer and what it keeps."""
    workers, each = 4, 15
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def publish(worker: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(each):
                vault.publish(f"t{worker}", f"echo {worker} {i}\n".encode())
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert_one_chain(vault, workers * each)


def test_vaults_in_turn_chain_to_each_others_checkpoints(vault: Vault, home: Path) -> None:
    """Each sealer keeps the link of its own last checkpoint: it must not chain to it
    once another writer's checkpoint came after it."""
    with Vault.open(home, db=getattr(vault.store, "url", None)) as other:
        for i, writer in enumerate([vault, vault, other, vault, other, other, vault]):
            writer.publish("greet", f"echo {i}\n".encode())
        with other.store.write():  # a write that appends two entries
            other.record("note", None, None, {"n": 1})
            other.record("note", None, None, {"n": 2})
        vault.publish("greet", b"echo last\n")
    assert_one_chain(vault, 9)
