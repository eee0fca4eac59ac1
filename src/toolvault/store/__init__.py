"""The database layer. SQLite (stdlib) is the embedded default."""

from __future__ import annotations

from toolvault.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore"]
