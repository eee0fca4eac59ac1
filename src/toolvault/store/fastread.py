"""The SQL of ``toolvault cat``'s fast path: stdlib ``sqlite3`` and nothing else.

It answers only the plain case — a current schema, a version that exists and is
not yanked — and returns None for anything else, so that the full command line
(which migrates, warns and explains) handles every other case.
"""

from __future__ import annotations

import os

try:  # sqlite3's C module alone: the package adds datetime's adapters (~1.5 ms of a
    # fast path's start), and no query of the fast paths binds a date
    import _sqlite3 as sqlite3
except ImportError:  # an interpreter without it (PyPy's is a package of its own)
    import sqlite3  # type: ignore[no-redef]

# sqlite3 too: the fast paths connect through the module chosen here (fastcli.base)
__all__ = [
    "NOT_YANKED",
    "SCHEMA_VERSION",
    "read_content",
    "sqlite3",
    "tool_names",
    "tool_selectors",
]

# The number of schema migrations this toolvault ships (tests keep it equal to
# len(migrations.STEPS)); an older or newer database goes through the full path.
SCHEMA_VERSION = 11

NOT_YANKED = "NOT EXISTS (SELECT 1 FROM yanks y WHERE y.name = v.name AND y.version = v.version)"
CONTENT = "SELECT b.content FROM versions v JOIN blobs b ON b.sha256 = v.sha256 WHERE v.name = ?"


def read_content(db_path: str, name: str, number: int | None, back: int) -> bytes | None:
    """Content of version ``number`` of ``name`` (or ``back`` before the latest), or None."""
    try:
        conn = sqlite3.connect(db_path, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        (schema,) = conn.execute("SELECT max(id) FROM schema_migrations").fetchone()
        if schema != SCHEMA_VERSION:
            return None
        if number is not None:
            sql, params = f"{CONTENT} AND v.version = ? AND {NOT_YANKED}", (name, number)
        else:
            sql = f"{CONTENT} AND {NOT_YANKED} ORDER BY v.version DESC LIMIT 1 OFFSET ?"
            params = (name, back)
        row = conn.execute(sql, params).fetchone()
        return bytes(row[0]) if row else None
    except (sqlite3.Error, OverflowError):
        return None
    finally:
        conn.close()


# -- shell completion ---------------------------------------------------------------------
# A shell asks on every TAB, so completion must never create or change anything in the
# home: a read-only connection to a WAL database that nobody has open would leave new
# -wal and -shm files behind. So with no -wal file (every connection closed, everything in
# the main file) the file is opened as immutable, which creates nothing; with both -wal
# and -shm present (a writer has it open) read-only, which adds nothing to what is there.
# Anything else — a missing, damaged or half-written vault — completes nothing. (A writer
# that opens the file just after the check writes into its own -wal; at worst a checkpoint
# racing the read makes it fail, and a TAB then completes nothing.)

# What a path must escape inside an SQLite URI (urllib.parse would cost cat's fast path).
URI_ESCAPES = str.maketrans({"%": "%25", "?": "%3f", "#": "%23"})
NAME_END = "\x7f"  # after every character a tool name may hold: the end of a prefix range


def _completion_connection(db_path: str) -> sqlite3.Connection | None:
    """A connection that cannot create or change a file, or None."""
    if not os.path.isfile(db_path) or not os.path.getsize(db_path):
        return None
    has_wal, has_shm = (os.path.exists(db_path + s) for s in ("-wal", "-shm"))
    if has_wal != has_shm:
        return None
    mode = "mode=ro" if has_wal else "immutable=1"
    try:
        uri = f"file:{db_path.translate(URI_ESCAPES)}?{mode}"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
    except sqlite3.Error:
        return None
    return conn


def tool_names(db_path: str, prefix: str) -> list[str]:
    """The names of the tools that start with ``prefix``, in order; [] when unreadable."""
    conn = _completion_connection(db_path)
    if conn is None:
        return []
    try:
        sql = "SELECT name FROM tools WHERE name >= ? AND name < ? ORDER BY name"
        return [row[0] for row in conn.execute(sql, (prefix, prefix + NAME_END))]
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def tool_selectors(db_path: str, name: str) -> tuple[list[int], list[str]]:
    """The version numbers (newest first) and labels of one tool; empty when unreadable."""
    conn = _completion_connection(db_path)
    if conn is None:
        return [], []
    try:
        by_version = "SELECT version FROM versions WHERE name = ? ORDER BY version DESC"
        numbers = [row[0] for row in conn.execute(by_version, (name,))]
        by_label = "SELECT label FROM labels WHERE name = ? ORDER BY label"
        return numbers, [row[0] for row in conn.execute(by_label, (name,))]
    except sqlite3.Error:
        return [], []
    finally:
        conn.close()
