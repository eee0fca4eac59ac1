"""What every fast path needs first, and nothing more: :class:`Fallback`, the
connection to ``vault.db`` and the home as the full path prints it (stdlib ``os``,
``stat`` and, once it connects, sqlite3's C module: the fast paths that need no spec,
such as ``verify --lock``, do not pay for ``rows``' imports, nor the one that asks a
daemon for sqlite3's)."""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3


class Fallback(Exception):
    """The plain case does not hold: the full command line answers (or explains)."""


def connect(home: str) -> sqlite3.Connection:
    """A connection to ``home/vault.db`` at the current schema, in one read transaction."""
    db = os.path.join(home, "vault.db")
    try:  # an empty file is left to the full path, which refuses it and says why
        info = os.stat(db)
    except OSError:
        raise Fallback from None
    if not stat.S_ISREG(info.st_mode) or not info.st_size:
        raise Fallback
    # here: the remote fast path (fastcli.remote) reads no vault.db; fastread's sqlite3
    # is the C module alone where there is one (the package's datetime adapters cost)
    from toolvault.store.fastread import SCHEMA_VERSION, sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("BEGIN")  # every query of one command sees the same moment
        (schema,) = conn.execute("SELECT max(id) FROM schema_migrations").fetchone()
    except sqlite3.Error:
        conn.close()
        raise Fallback from None
    if schema != SCHEMA_VERSION:  # the full path migrates, or refuses a newer vault
        conn.close()
        raise Fallback
    return conn


def spelled(path: str) -> str:
    """``str(pathlib.Path(path))``, as the full path prints the home, without importing
    pathlib (a third of ``status``'s start-up): no empty or ``.`` parts, and a root of
    ``//`` kept (POSIX leaves its meaning to the system) where any other run of slashes
    is ``/``."""
    stripped = path.lstrip("/")
    root = "//" if len(path) - len(stripped) == 2 else "/" if stripped != path else ""
    parts = [p for p in stripped.split("/") if p and p != "."]
    return root + "/".join(parts) if root or parts else "."
