"""The daemon's bearer tokens (SPEC §9): created, listed, revoked, and who one stands for."""

from __future__ import annotations

import hashlib

from toolvault import validate
from toolvault.errors import InvalidInput, NotFound
from toolvault.models import Principal, Token
from toolvault.service.base import ServiceBase
from toolvault.store.sql import utcnow


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Tokens(ServiceBase):
    """Bearer tokens for the daemon; only their hashes are stored."""

    # -- daemon tokens and rights --------------------------------------------------------------

    def create_token(
        self, principal: str, *, admin: bool = False, read_only: bool = False
    ) -> tuple[Token, str]:
        """A new bearer token for ``principal``; the secret is returned once, never stored."""
        import secrets

        self._require_admin("create tokens")
        if any(c.isspace() for c in validate.given(validate.PRINCIPAL, principal)):
            raise InvalidInput(f"invalid principal {principal!r}: give a name without spaces")
        secret = "tv_" + secrets.token_urlsafe(32)
        token = Token(secrets.token_hex(6), principal, admin, read_only, utcnow(), None)
        with self.store.write():
            self.store.insert_token(token, _token_hash(secret))
            details = {
                "id": token.id,
                "principal": principal,
                "admin": admin,
                "read_only": read_only,
            }
            self.record("token-create", None, None, details)
        return token, secret

    def tokens(self) -> list[Token]:
        """Every daemon token (without secrets)."""
        self._require_admin("list tokens")
        return self.store.tokens()

    def revoke_token(self, token_id: str) -> Token:
        """Revoke a token: requests that present it get 401 from then on."""
        self._require_admin("revoke tokens")
        validate.of_type(token_id, str, "token_id", "an id from 'toolvault token list'")
        with self.store.write():
            token = next((t for t in self.store.tokens() if t.id == token_id), None)
            if token is None:
                raise NotFound(
                    f"no token with id {token_id!r}; 'toolvault token list' shows them",
                    {"token": token_id},
                )
            if token.revoked_at is None:
                self.store.revoke_token(token_id, utcnow())
                self.record("token-revoke", None, None, {"id": token_id})
        return next(t for t in self.store.tokens() if t.id == token_id)

    def authenticate(self, secret: str) -> Principal | None:
        """The principal a bearer token stands for, or None (unknown or revoked)."""
        token = self.store.token_by_hash(_token_hash(secret))
        if token is None or token.revoked_at is not None:
            return None
        return Principal(token.principal, token.admin, token.read_only)
