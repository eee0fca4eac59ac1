"""``toolvault backup FILE``: a consistent copy of a SQLite vault's database.

SQLite's online backup copies the database as one read transaction sees it, so the
copy is one state of the vault however many others write meanwhile (WAL readers do
not block writers, nor they them). The copy goes to a temporary name beside FILE,
is synced, checked, and only then renamed to FILE; an existing FILE is replaced only
when asked. Restoring is copying it back to ``HOME/vault.db`` with the writers
stopped (README, "Backups"). A PostgreSQL vault is backed up with ``pg_dump``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from toolvault.errors import Conflict, InvalidInput, StoreError
from toolvault.store.sqlite import SQLiteStore
from toolvault.vault import Vault

POSTGRES = (
    "backup copies a SQLite vault.db, and this vault is in PostgreSQL: back it up with "
    "pg_dump (pg_dump -Fc -f FILE URL) and restore it with pg_restore"
)


@dataclass(frozen=True, slots=True)
class Backup:
    """What a backup holds."""

    source: str
    file: str
    bytes: int
    tools: int
    versions: int
    audit_seq: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``backup --json``."""
        return asdict(self)


def backup(vault: Vault, dest: Path, *, force: bool = False) -> Backup:
    """Copy ``vault``'s database to ``dest`` (see the module); :class:`Conflict` when
    ``dest`` exists and ``force`` is not given."""
    store = vault.store
    if not isinstance(store, SQLiteStore):
        raise InvalidInput(POSTGRES)
    dest = _destination(store, dest.expanduser(), force)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    try:
        _create_empty(tmp)
        store.backup_to(tmp)
        _sync(tmp)
        done = _summary(store, tmp, dest)
        _place(tmp, dest, force)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{suffix}")
    _sync(dest.parent)
    return done


def _destination(store: SQLiteStore, dest: Path, force: bool) -> Path:
    """Refuse a destination that cannot or must not be written."""
    if dest.is_dir():
        raise InvalidInput(f"{dest} is a folder; give the backup's file name")
    if not dest.parent.is_dir():
        raise InvalidInput(f"{dest.parent} is not a folder; create it or choose another place")
    if dest.exists() and os.path.samefile(dest, store.path):
        raise InvalidInput(f"{dest} is the vault's own database; choose another file")
    if os.path.lexists(dest) and not force:
        raise Conflict(f"{dest} exists; choose another name, or --force to replace it")
    return dest


def _create_empty(tmp: Path) -> None:
    """The temporary file, new (a link or anything already there is not written
    through) and readable by its owner only: a vault's database holds token hashes."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left by a crashed backup of a process with this pid
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))


def _summary(store: SQLiteStore, tmp: Path, dest: Path) -> Backup:
    """Check the copy (SQLite's own check) and count what it holds."""
    conn = sqlite3.connect(f"file:{tmp}?mode=ro", uri=True)
    try:
        check = [r[0] for r in conn.execute("PRAGMA quick_check")]
        if check != ["ok"]:
            raise StoreError(f"the copy of {store.path} is not sound ({'; '.join(check[:3])})")
        (tools,) = conn.execute("SELECT count(*) FROM tools").fetchone()
        (versions,) = conn.execute("SELECT count(*) FROM versions").fetchone()
        (seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"the copy of {store.path} cannot be read back: {exc}") from exc
    finally:
        conn.close()
    return Backup(str(store.path), str(dest), os.path.getsize(tmp), tools, versions, seq)


def _place(tmp: Path, dest: Path, force: bool) -> None:
    """Rename the finished copy to its name; without ``force`` never over a file that
    appeared meanwhile (a hard link fails where the name is taken)."""
    if force:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest, follow_symlinks=False)
    except FileExistsError:
        raise Conflict(f"{dest} exists; choose another name, or --force to replace it") from None
    except OSError:  # a file system without hard links
        if os.path.lexists(dest):
            raise Conflict(f"{dest} exists; choose another name, or --force") from None
        os.rename(tmp, dest)


def _sync(path: Path) -> None:
    """fsync a file or a folder, so that the copy survives a crash once reported."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
