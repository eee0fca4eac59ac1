"""Signatures a lock relies on: its own (``lock --sign``) and those of the pinned versions.

Both are checked here, against a trust store's public keys (``toolvault trust``);
``cryptography`` is imported only when there is a signature to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from toolvault.errors import IntegrityError, InvalidInput
from toolvault.lockfile.format import Lock, Signature
from toolvault.models import TrustedKey, Version

if TYPE_CHECKING:
    from toolvault.signing import Signer


class Trust:
    """The trusted public keys of one trust store; ``where`` names it in messages."""

    def __init__(self, keys: Sequence[TrustedKey], where: str) -> None:
        self.keys = {k.key_id: k for k in keys}
        self.where = where

    def holds(self, key_id: str, data: bytes, signature: str) -> str | None:
        """None when ``signature`` of ``data`` verifies with the trusted key ``key_id``;
        else why not, in words."""
        from toolvault.signing import decode_public, verify_signature

        key = self.keys.get(key_id)
        if key is None:
            return f"signed by key {key_id}, which {self.where} does not trust"
        try:
            public = decode_public(key.public_key)
        except InvalidInput:
            return f"trusted key {key.name} of {self.where} is damaged"
        if not verify_signature(public, signature, data):
            return f"its signature does not verify with key {key.name} ({key_id})"
        return None

    def version(self, v: Version, signer: str) -> str | None:
        """None when version ``v`` carries a valid signature by ``signer``; else why not."""
        from toolvault.signing import payload, version_fields

        if not v.signature or not v.key_id:
            return f"the lock records signer {signer}, but {v.ref} is not signed"
        if v.key_id != signer:
            return f"the lock records signer {signer}, but {v.ref} is signed by {v.key_id}"
        return self.holds(v.key_id, payload(version_fields(v)), v.signature)

    def check_lock(self, lock: Lock, where: str) -> None:
        """Raise :class:`IntegrityError` unless a signed lock's signature holds."""
        sig = lock.signature
        if sig is None:
            return
        why = self.holds(sig.key_id, lock.content(), sig.value)
        if why is not None:
            raise IntegrityError(
                f"{where}: the lock's signature does not hold: {why}; "
                "make it again with 'toolvault lock --sign KEY', or trust the signer's key "
                "('toolvault trust add NAME ed25519:…')",
                {"lock": where, "key_id": sig.key_id},
            )


def sign(lock: Lock, signer: Signer) -> Lock:
    """The lock signed with ``signer`` (Ed25519 is deterministic: the same pins signed
    with the same key give the same bytes)."""
    return replace(lock, signature=Signature(signer.key_id, signer.sign(lock.content())))
