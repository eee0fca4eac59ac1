"""The queries of the daemon's bearer tokens (hashes only), mixed into
:class:`~toolvault.store.base.SQLStore`.
"""

from __future__ import annotations

from toolvault.models import Token
from toolvault.store.sql import Queries


class TokenQueries(Queries):
    """Reads and writes of the ``tokens`` table."""

    # -- daemon tokens -------------------------------------------------------------------

    def insert_token(self, token: Token, token_hash: str) -> None:
        """Store a new token's hash."""
        self._q(
            "INSERT INTO tokens (id, principal, token_hash, admin, read_only, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.principal,
                token_hash,
                int(token.admin),
                int(token.read_only),
                token.created_at,
            ),
        )

    def tokens(self) -> list[Token]:
        """Every token, oldest first."""
        rows = self._q(
            "SELECT id, principal, admin, read_only, created_at, revoked_at FROM tokens "
            "ORDER BY created_at, id"
        )
        return [Token(r[0], r[1], bool(r[2]), bool(r[3]), r[4], r[5]) for r in rows]

    def token_by_hash(self, token_hash: str) -> Token | None:
        """The token with this hash, revoked or not."""
        row = self._q(
            "SELECT id, principal, admin, read_only, created_at, revoked_at FROM tokens "
            "WHERE token_hash = ?",
            (token_hash,),
        ).fetchone()
        return Token(row[0], row[1], bool(row[2]), bool(row[3]), row[4], row[5]) if row else None

    def revoke_token(self, token_id: str, now: str) -> None:
        """Mark a token revoked."""
        self._q("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
