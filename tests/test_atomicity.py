"""All or nothing (SPEC §3, §7, §8; issue 11 item 16): a fault in the middle of every
multi-write leaves the database and ``commands/`` exactly as they were.

The fault is injected into the real store, SQLite and PostgreSQL alike: its Nth row
written into one table raises, after the rows before it were written, as a full disk
or a lost connection would in the middle of a transaction. The whole database (schema
and every row of every table) and the whole ``commands/`` tree (every file's bytes,
mode and mtime, every link's target) are dumped before and after. A store that
committed on an error instead of rolling back fails every test here; so does a write
split over two transactions, or a tree updated before its commit.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import dump
from test_gitsource import ADA, BOB, commit, git, write
from test_legacy import build_port42, build_tools_db
from toolvault import Vault
from toolvault.errors import Conflict, StoreError
from toolvault.sources import ingest, legacy, packs
from toolvault.store.base import SQLStore
from toolvault.vault import NewVersion

# The table a statement writes to: an insert (an upsert too), an update or a delete.
WRITE = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)

Action = Callable[[], object]


class InjectedFault(StoreError):
    """What an armed store raises: a store error, as a full disk or a lost link is."""


@dataclass
class Fault:
    """The ``nth`` row written into ``table`` fails (once; later writes go through)."""

    table: str
    nth: int
    written: int = 0
    fired: bool = False

    def allow(self, sql: str, rows: int) -> int | None:
        """How many of a statement's ``rows`` are written before the fault strikes,
        or None when the statement is not hit (every row is written)."""
        found = WRITE.match(sql)
        if self.fired or found is None or found[1] != self.table:
            return None
        if self.written + rows < self.nth:
            self.written += rows
            return None
        self.fired = True
        return self.nth - 1 - self.written

    def error(self) -> InjectedFault:
        return InjectedFault(f"injected fault: row {self.nth} written into {self.table}")


def arm(store: SQLStore, table: str, nth: int, monkeypatch: pytest.MonkeyPatch) -> Fault:
    """Make the store's ``nth`` row written into ``table`` raise :class:`InjectedFault`;
    the rows before it, in the same statement too, are written for real first."""
    fault = Fault(table, nth)
    one, many = store._q, store._qmany

    def q(sql: str, params: Any = ()) -> Any:
        if fault.allow(sql, 1) is not None:
            raise fault.error()
        return one(sql, params)

    def qmany(sql: str, rows: Any) -> None:
        rows = list(rows)
        allowed = fault.allow(sql, len(rows))
        if allowed is None:
            many(sql, rows)
            return
        many(sql, rows[:allowed])
        raise fault.error()

    monkeypatch.setattr(store, "_q", q)
    monkeypatch.setattr(store, "_qmany", qmany)
    return fault


def tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every folder, file and link under ``root``: mode, mtime, content hash or target."""
    found: dict[str, tuple[Any, ...]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            key = os.path.relpath(path, root)
            if stat.S_ISLNK(st.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                found[key] = ("file", st.st_mode, st.st_mtime_ns, digest)
            else:
                found[key] = ("dir", st.st_mode)
    return found


def full_dump(vault: Vault) -> tuple[list[Any], dict[str, tuple[Any, ...]]]:
    """The whole database and the whole commands/ tree."""
    return dump(vault), tree(vault.home / "commands")


# -- the writes and what they start from ------------------------------------------------------


def sh(text: str) -> bytes:
    return f"#!/bin/sh\necho {text}\n".encode()


def _tools(vault: Vault) -> None:
    """fmt:1..3 (stable on 1), lint:1 retired, a trusted key, a token."""
    for n in (1, 2, 3):
        vault.publish("fmt", sh(f"fmt {n}"))
    vault.publish("lint", sh("lint 1"))
    vault.set_lifecycle("lint", "retired")
    vault.label("fmt:1", "stable")


def batch(vault: Vault, tmp_path: Path) -> Action:
    """publish_many of five: a new version, one that reactivates a retired tool, three new tools."""
    _tools(vault)
    items = [NewVersion("fmt", sh("fmt 4")), NewVersion("lint", sh("lint 2"))]
    items += [NewVersion(name, sh(name)) for name in ("cut", "dig", "eat")]
    return lambda: vault.publish_many(items)


def rollback(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.rollback("fmt", 1)


def label(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.label("fmt:3", "stable")  # moves it


def unlabel(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.delete_label("fmt", "stable")


def yank(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.yank("fmt:3", "broken")  # moves the symlink back, after commit


def retire(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.set_lifecycle("fmt", "retired")


def reactivate(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.set_lifecycle("lint", "active")


def transfer(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.transfer("fmt", "someone-else")


def trust(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    public = vault.generate_key("team", trust=False).public
    return lambda: vault.trust("team", public)


def untrust(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    vault.generate_key("team")
    return lambda: vault.untrust("team")


def token(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    return lambda: vault.create_token("alice")


def revoke(vault: Vault, tmp_path: Path) -> Action:
    _tools(vault)
    made, _ = vault.create_token("alice")
    return lambda: vault.revoke_token(made.id)


def pack(vault: Vault, tmp_path: Path) -> Action:
    """A pack of x:1..3 (labelled) and y:1..2 (one yanked), restored whole, and z:1..2,
    appended to the vault's own z."""
    with Vault.open(tmp_path / "source") as source:
        for name, count in (("x", 3), ("y", 2), ("z", 2)):
            for n in range(1, count + 1):
                source.publish(name, sh(f"{name} {n}"))
        source.label("x:2", "stable")
        source.yank("y:1", "leaks")
        data, _ = packs.export(source, [], pack_name="team")
    path = tmp_path / "team.tar.gz"
    path.write_bytes(data)
    vault.publish("z", sh("z local"))
    return lambda: ingest.ingest_path(vault, str(path))


def git_history(vault: Vault, tmp_path: Path) -> Action:
    """A repository whose history gives fmt three versions, lint two and ship one."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(repo, "fmt.sh", b"echo fmt 1\n", 0o755)
    write(repo, "lint.py", b"print('lint 1')\n")
    commit(repo, "fmt and lint", ADA, 1)
    write(repo, "fmt.sh", b"echo fmt 2\n", 0o755)
    commit(repo, "fmt 2", BOB, 2)
    write(repo, "lint.py", b"print('lint 2')\n")
    write(repo, "ship.sh", b"echo ship\n", 0o755)
    commit(repo, "lint 2 and ship", ADA, 3)
    write(repo, "fmt.sh", b"echo fmt 3\n", 0o755)
    commit(repo, "fmt 3", BOB, 4)
    vault.publish("other", sh("other"))
    return lambda: ingest.ingest_git(vault, str(repo), history=True)


def tools_db(vault: Vault, tmp_path: Path) -> Action:
    source = legacy.read_tools_db(build_tools_db(tmp_path / "tools.db"))
    vault.publish("tool03", sh("already here"))
    return lambda: legacy.migrate(vault, source)


def port42(vault: Vault, tmp_path: Path) -> Action:
    build_port42(tmp_path / ".port42")
    source = legacy.read_port42(tmp_path / ".port42")
    legacy.fold_names(source, ["enhanced"])
    vault.publish("other", sh("other"))
    return lambda: legacy.migrate(vault, source)


# (write, table, nth): each fault strikes after rows of the same transaction were written.
CASES = [
    (batch, "versions", 3),
    (batch, "blobs", 3),
    (batch, "audit", 3),
    (batch, "tools", 4),
    (rollback, "versions", 1),
    (rollback, "tools", 1),
    (label, "audit", 1),
    (unlabel, "audit", 1),
    (yank, "audit", 1),
    (retire, "audit", 1),
    (reactivate, "audit", 1),
    (transfer, "audit", 1),
    (trust, "audit", 1),
    (untrust, "audit", 1),
    (token, "audit", 1),
    (revoke, "audit", 1),
    (pack, "versions", 3),
    (pack, "blobs", 4),
    (pack, "tools", 3),
    (pack, "labels", 1),
    (pack, "yanks", 1),
    (pack, "pack_imports", 1),
    (pack, "audit", 1),
    (git_history, "versions", 3),
    (git_history, "blobs", 4),
    (git_history, "tools", 2),
    (git_history, "audit", 1),
    (tools_db, "versions", 3),
    (tools_db, "blobs", 3),
    (tools_db, "tools", 3),
    (tools_db, "audit", 1),
    (port42, "versions", 3),
    (port42, "blobs", 3),
    (port42, "audit", 1),
]


@pytest.mark.parametrize(
    ("make", "table", "nth"), CASES, ids=[f"{m.__name__}-{t}-{n}" for m, t, n in CASES]
)
def test_a_fault_mid_write_leaves_database_and_tree_unchanged(
    vault: Vault,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Vault, Path], Action],
    table: str,
    nth: int,
) -> None:
    action = make(vault, tmp_path)
    before = full_dump(vault)
    fault = arm(vault.store, table, nth, monkeypatch)
    with pytest.raises(InjectedFault):
        action()
    assert fault.fired
    assert full_dump(vault) == before
    # The vault stays usable: the same write now goes through, and all is consistent.
    action()
    assert full_dump(vault) != before
    report = vault.verify()
    assert report.ok, report.problems


# -- a daemon batch ----------------------------------------------------------------------------


@contextmanager
def serving(vault: Vault) -> Iterator[httpx.Client]:
    """The daemon's app over ``vault`` (with its armed store) on 127.0.0.1, in a thread;
    a client for it."""
    import uvicorn

    from toolvault.cli.serve import listen
    from toolvault.server import create_app

    sock = listen("127.0.0.1", 0)  # listening already: clients may connect at once
    config = uvicorn.Config(create_app(vault), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.mark.parametrize(("table", "nth"), [("versions", 3), ("blobs", 2), ("audit", 3)])
def test_a_fault_mid_daemon_batch_leaves_everything_unchanged(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, nth: int
) -> None:
    _tools(vault)
    _, secret = vault.create_token("root", admin=True)
    items = [{"name": "fmt", "content": "echo fmt 4\n"}, {"name": "lint", "content": "x\n"}]
    items += [{"name": name, "content": f"echo {name}\n"} for name in ("cut", "dig", "eat")]
    headers = {"Authorization": f"Bearer {secret}"}
    with serving(vault) as client:
        before = full_dump(vault)
        fault = arm(vault.store, table, nth, monkeypatch)
        failed = client.post("/v1/publish", json={"items": items}, headers=headers)
        assert failed.status_code == 503, failed.text
        assert failed.json()["error"]["code"] == "store"
        assert fault.fired
        assert full_dump(vault) == before
        done = client.post("/v1/publish", json={"items": items}, headers=headers)
        assert done.status_code == 200, done.text
        assert [r["version"] for r in done.json()] == [4, 2, 1, 1, 1]
    assert vault.verify().ok


# -- a key and its trust ------------------------------------------------------------------------


def test_a_key_whose_trust_fails_is_not_left_in_keys(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``keys generate`` writes the private key and trusts its public half: when the
    trust cannot be recorded, no key is left behind either (else the name is taken and
    the key is not trusted, and running the command again says the key exists)."""
    keys = vault.home / "keys"
    before = full_dump(vault), sorted(os.listdir(keys)) if keys.is_dir() else []
    fault = arm(vault.store, "audit", 1, monkeypatch)
    with pytest.raises(InjectedFault):
        vault.generate_key("team")
    assert fault.fired
    assert (full_dump(vault), sorted(os.listdir(keys)) if keys.is_dir() else []) == before
    info = vault.generate_key("team")  # the name is free
    assert [k.key_id for k in vault.trusted_keys()] == [info.key_id]


def test_a_key_named_like_a_trusted_one_is_refused_without_a_trace(vault: Vault) -> None:
    other = vault.generate_key("mate").public
    vault.untrust("mate")
    (vault.home / "keys" / "mate.key").unlink()
    vault.trust("team", other)  # a teammate's public key, trusted as "team"
    before = full_dump(vault), sorted(os.listdir(vault.home / "keys"))
    with pytest.raises(Conflict, match="team"):
        vault.generate_key("team")
    assert (full_dump(vault), sorted(os.listdir(vault.home / "keys"))) == before


# -- a schema migration with data -----------------------------------------------------------------


def test_a_fault_mid_data_migration_leaves_the_old_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 2 adds the audit log and adopts every existing version into it: a
    fault at the third adoption leaves the database at schema 1, data and all."""
    from test_schema_upgrades import build, rows, schema
    from toolvault.store.sqlite import SQLiteStore

    db = tmp_path / "vault.db"
    build(db, 1)
    before = schema(db), rows(db)
    store = SQLiteStore(db)  # connected, not migrated yet
    try:
        fault = arm(store, "audit", 3, monkeypatch)
        with pytest.raises(InjectedFault):
            store._open(migrate=True)
        assert fault.fired
    finally:
        store.close()
    assert (schema(db), rows(db)) == before
    with Vault.open(tmp_path) as vault:
        assert [e.action for e in vault.audit()] == ["adopt"] * 4
        vault.sync()  # the test built no commands/ tree
        assert vault.verify().ok
