"""``refs SPEC --depth N|all`` on a PostgreSQL vault (``TOOLVAULT_DB``) on the fast path:
the walk of :mod:`.graph` over a psycopg connection, without click or the service.

``import psycopg`` alone is a quarter of this command's time, and nothing here can take
it away; what the fast path takes away is the rest of the full command line's start-up
(click, the commands, the service and its store, a third of the remainder). The
connection is spoken to as :mod:`.rows` speaks to sqlite3's, with ``?`` placeholders
translated as :class:`~toolvault.store.postgres.PostgresStore` translates them
(:func:`~toolvault.store.placeholders.to_psycopg`); any
database error, a schema that is not the current one, or a home not made yet (the full
command line makes it) falls back, having printed nothing.
"""

from __future__ import annotations

from toolvault.fastcli.base import Fallback
from toolvault.store.placeholders import to_psycopg

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence
    from typing import Any


class Connection:
    """A psycopg connection with sqlite3's ``execute(sql, params)``, all the fast paths'
    queries use; a database error is :class:`Fallback`."""

    def __init__(self, psycopg: Any, conn: Any) -> None:
        self.psycopg, self.conn = psycopg, conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one query (autocommit, as the store reads); its cursor."""
        try:
            if not params:
                return self.conn.execute(sql)
            return self.conn.execute(to_psycopg(sql), tuple(params))
        except self.psycopg.Error:
            raise Fallback from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


def connect(url: str) -> sqlite3.Connection:
    """A connection to the vault at ``url``, at the current schema; typed as sqlite3's,
    whose ``execute`` is all that :mod:`.rows` and :mod:`.graph` call."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise Fallback  # the full command line says which URLs work
    try:
        import psycopg
    except ImportError:
        raise Fallback from None  # the full command line says which extra to install
    from toolvault.store.fastread import SCHEMA_VERSION

    try:  # as PostgresStore connects
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error:
        raise Fallback from None
    conn = Connection(psycopg, raw)
    try:
        (schema,) = conn.execute("SELECT max(id) FROM schema_migrations").fetchone()
    except BaseException:
        conn.close()
        raise
    if schema != SCHEMA_VERSION:  # the full path migrates, or refuses a newer vault
        conn.close()
        raise Fallback
    return conn  # type: ignore[return-value]
