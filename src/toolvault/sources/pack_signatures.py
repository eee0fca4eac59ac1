"""The version signatures a pack carries, checked before an import writes anything.

A pack that restores a tool keeps each version's ``signature`` and ``key_id``; they
are checked here as ``verify`` checks them afterwards (SPEC §6), so that an import
never stores what the next ``verify`` would report: a signature that does not hold
under the trusted key it names is refused; one by a key the trust store lacks is
refused where signatures are required for the source, and a warning otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from toolvault.errors import PermissionDenied

if TYPE_CHECKING:
    from toolvault.models import Version
    from toolvault.vault import Vault


def check_version_signatures(
    vault: Vault, versions: Iterable[Version], source: str, required: bool
) -> list[str]:
    """Refuse a pack version whose signature does not verify (or, when ``required``,
    is by an untrusted key); returns one warning per untrusted signer otherwise."""
    signed = [v for v in versions if v.signature]
    if not signed:
        return []
    from toolvault.signing import decode_public, payload, public_key, version_fields

    keys = {k.key_id: (k.name, public_key(decode_public(k.public_key))) for k in _usable(vault)}
    untrusted: dict[str, list[str]] = {}
    for v in signed:
        key = keys.get(v.key_id or "")
        if key is None:
            untrusted.setdefault(v.key_id or "(none)", []).append(f"{v.name}:{v.version}")
        elif not _holds(key[1], v.signature or "", payload(version_fields(v))):
            raise PermissionDenied(
                f"{source}: the signature of {v.name}:{v.version} does not verify with "
                f"trusted key {key[0]}; the pack was altered"
            )
    return [_untrusted(source, key_id, which, required) for key_id, which in untrusted.items()]


def _usable(vault: Vault) -> list[Any]:
    """The trusted keys that decode (a damaged trust store row is verify's to report)."""
    from toolvault.errors import InvalidInput
    from toolvault.signing import decode_public

    usable = []
    for key in vault.trusted_keys():
        try:
            decode_public(key.public_key)
        except InvalidInput:
            continue
        usable.append(key)
    return usable


def _holds(key: Any, signature: str, data: bytes) -> bool:
    from toolvault.signing import verify_signature

    return verify_signature(key, signature, data)


def _untrusted(source: str, key_id: str, which: list[str], required: bool) -> str:
    """The warning for versions signed by a key the trust store lacks, or the refusal
    where signatures are required."""
    shown = ", ".join(which[:3]) + (f" and {len(which) - 3} more" if len(which) > 3 else "")
    if required:
        raise PermissionDenied(
            f"{source}: {shown} signed by key {key_id}, which is not trusted, and signatures "
            "are required for this source; add it with 'toolvault trust add NAME KEY' "
            "if you trust it"
        )
    return (
        f"{shown} from {source} signed by key {key_id}, which is not trusted: "
        "verify reports them until you add it with 'toolvault trust add NAME KEY'"
    )
