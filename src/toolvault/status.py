"""What ``toolvault status`` reports: the home, the database, its schema, counts, the last
write, whether ``commands/`` is on PATH, and the daemon in use. Everything here reads;
nothing writes (no migration, no key, no checkpoint, no file under the home).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolvault.vault import Vault

HEALTH_TIMEOUT = 3.0  # seconds: status must answer even when the daemon does not


@dataclass(frozen=True, slots=True)
class VaultStatus:
    """A local vault's state, as read at one moment."""

    home: str
    database: str  # the SQLite file, or the PostgreSQL URL without its password
    dialect: str
    schema_version: int  # the highest migration applied
    pending: tuple[str, ...]  # names of the migrations not applied yet
    counts: dict[str, int]  # tools, versions, blobs, audit
    last_write: tuple[int, str] | None  # audit seq and time of the newest entry
    checkpoint: int | None  # seq of the newest signed checkpoint
    commands: str | None  # the commands/ tree, None when this vault keeps none
    on_path: bool

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``status --json`` (without the daemon)."""
        seq, at = self.last_write or (None, None)
        return {
            "home": self.home,
            "database": self.database,
            "dialect": self.dialect,
            "schema": {"version": self.schema_version, "pending": list(self.pending)},
            "counts": self.counts,
            "last_write": None if seq is None else {"seq": seq, "at": at},
            "checkpoint": None if self.checkpoint is None else {"seq": self.checkpoint},
            "commands": None
            if self.commands is None
            else {"path": self.commands, "on_path": self.on_path},
        }


def vault_status(vault: Vault) -> VaultStatus:
    """Read the state of an open vault (open it with ``migrate=False``: status migrates
    nothing), all in one read transaction."""
    store = vault.store
    migrations = vault.migrations()
    applied = [m for m in migrations if m.applied_at is not None]
    with store.snapshot():
        counts = store.row_counts()
        seq, _, at = store.audit_head()
        newest = store.newest_checkpoint() if _has(applied, "checkpoints") else None
    commands = str(vault.tree.root) if vault.materialize else None
    return VaultStatus(
        home=str(vault.home),
        database=_database(store.where, store.dialect),
        dialect=store.dialect,
        schema_version=max((m.id for m in applied), default=0),
        pending=tuple(m.name for m in migrations if m.applied_at is None),
        counts=counts,
        last_write=(seq, at) if at is not None else None,
        checkpoint=None if newest is None else int(newest[0]),
        commands=commands,
        on_path=commands is not None and on_path(commands),
    )


def _has(applied: list[Any], name: str) -> bool:
    return any(m.name == name for m in applied)


def _database(where: str, dialect: str) -> str:
    """The store's own description ("database PATH" / "database URL") without the word."""
    return where.removeprefix("database ")


def on_path(folder: str, path: str | None = None) -> bool:
    """Whether ``folder`` is one of the entries of ``PATH`` (links resolved)."""
    target = os.path.realpath(folder)
    entries = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    return any(e and os.path.realpath(os.path.expanduser(e)) == target for e in entries)


def daemon_health(url: str) -> str | None:
    """None when the daemon at ``url`` answers its health check, else why not."""
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=HEALTH_TIMEOUT) as r:
            ok = json.loads(r.read(4096)).get("ok") is True
    # urllib.error.URLError is an OSError; RecursionError: "[[[[…" nested too deep
    except (OSError, ValueError, AttributeError, RecursionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return f"not reachable: {reason}"
    return None if ok else "answered, but not as a toolvault daemon"
