"""Signing keys and the trust store (SPEC §6)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from toolvault import validate
from toolvault.errors import Conflict, NotFound
from toolvault.models import TrustedKey
from toolvault.service.base import ServiceBase
from toolvault.store.sql import utcnow

if TYPE_CHECKING:
    from toolvault.signing import KeyInfo


def _trust_conflict(there: TrustedKey, name: str) -> str:
    """Why a (name, key) pair cannot be trusted: what the trust store holds instead."""
    if there.name == name:
        return (
            f"the trust store has another key named {name!r} already ({there.key_id}); "
            f"'toolvault trust remove {name}' first, or choose another name"
        )
    return (
        f"the trust store has this key already, as {there.name!r} ({there.key_id}); "
        f"'toolvault trust remove {there.name}' first to trust it as {name!r}"
    )


class KeysAndTrust(ServiceBase):
    """Signing keys in ``keys/`` and the trusted public keys in the database."""

    def trusted_keys(self) -> list[TrustedKey]:
        """The trust store."""
        return self.store.trusted_keys()

    def generate_key(self, name: str, *, trust: bool = True) -> KeyInfo:
        """Create a signing key in ``keys/``; by default also trust its public half."""
        info = self.keys.generate(name)
        if trust:
            try:
                self.trust(name, info.public)
            except BaseException:
                # All or nothing: a key left untrusted would take the name for good.
                self.keys.discard(name)
                raise
        return info

    def trust(self, name: str, public: str) -> TrustedKey:
        """Trust a public key (``ed25519:<base64>``) under a name."""
        from toolvault.signing import check_key_name, decode_public, key_id

        self._require_admin("change the trust store")
        check_key_name(name)
        validate.of_type(public, str, "the public key", "'ed25519:<base64>'")
        kid = key_id(decode_public(public))
        with self.store.write():
            for k in self.store.trusted_keys():
                if (k.name, k.key_id) == (name, kid):
                    # Trusting what is trusted already is a no-op, not a conflict.
                    return replace(k, created=False)
                if k.name == name or k.key_id == kid:
                    raise Conflict(_trust_conflict(k, name))
            key = TrustedKey(name, kid, public.strip(), utcnow())
            self.store.add_trusted_key(key)
            self.record("trust-add", None, None, {"name": name, "key_id": kid})
        return key

    def untrust(self, name: str) -> None:
        """Remove a key from the trust store: versions it signed no longer verify."""
        self._require_admin("change the trust store")
        validate.of_type(name, str, "the key name", "a name from 'toolvault trust list'")
        with self.store.write():
            key = next((k for k in self.store.trusted_keys() if k.name == name), None)
            if key is None:
                have = ", ".join(k.name for k in self.store.trusted_keys()) or "none"
                raise NotFound(f"no trusted key named {name!r} (trusted: {have})")
            self.store.remove_trusted_key(name)
            self.record("trust-remove", None, None, {"name": name, "key_id": key.key_id})
