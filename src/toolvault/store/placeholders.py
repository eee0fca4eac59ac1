"""Statements written with sqlite3's ``?`` placeholders, for psycopg (``%s``). One
translation for the PostgreSQL store and the command line's PostgreSQL fast path (this
module imports nothing, so the fast path stays light)."""

from __future__ import annotations


def to_psycopg(sql: str) -> str:
    """``sql`` with each ``?`` as ``%s`` and a literal ``%`` doubled (the statements are
    toolvault's own: no ``?`` stands inside a string literal)."""
    return sql.replace("%", "%%").replace("?", "%s")
