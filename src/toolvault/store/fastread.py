"""The SQL of ``toolvault cat``'s fast path: stdlib ``sqlite3`` and nothing else.

It answers only the plain case — a current schema, a version that exists and is
not yanked — and returns None for anything else, so that the full command line
(which migrates, warns and explains) handles every other case.
"""

from __future__ import annotations

import sqlite3

# The number of schema migrations this toolvault ships (tests keep it equal to
# len(migrations.STEPS)); an older or newer database goes through the full path.
SCHEMA_VERSION = 6

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
