"""Ed25519 signing of versions: keys on disk, canonical payloads, checks.

``cryptography`` is imported only inside the functions that sign or verify, so
reading tools never pays for it.
"""

from __future__ import annotations

import base64
import hashlib
import operator
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolvault.errors import InvalidInput, NotFound
from toolvault.hashing import canonical, digest
from toolvault.models import VERSION_FIELDS
from toolvault.spec import LABEL_RE

PREFIX = "ed25519:"
SIGNED_FIELDS = (
    "name",
    "version",
    "sha256",
    "previous_sha256",
    "created_at",
    "created_by",
    "owner",
    "origin",
    "prompt",
    "references",
)
# Signed too, but only when set (SPEC §10, §11): a version without them signs exactly the
# bytes it signed before they existed, so every existing signature verifies. claimed_by
# (the author a client named through the daemon, when not the token's principal) is
# provenance like created_by: who says they wrote it must not change unseen either.
OPTIONAL_SIGNED = ("description", "usage", "claimed_by")
# Every stored field of a version, in order, as a tuple (which encodes as a JSON list).
_ALL_FIELDS = operator.attrgetter(*VERSION_FIELDS)
# Which group a signed field belongs to, so that verify can say what was changed.
GROUPS = {
    "content": ("sha256",),
    "chain": ("name", "version", "previous_sha256"),
    "provenance": ("created_at", "created_by", "owner", "origin", "prompt", "references"),
    "description": ("description", "usage"),
    "claim": ("claimed_by",),
}
# Groups an audit entry records only when the version has one of their fields set.
_OPTIONAL_GROUPS = ("description", "claim")
# How many of VERSION_FIELDS a version had before descriptions, and before claimed_by:
# the digests of a version without the later fields cover only the earlier ones, so
# that audit entries written before them still match.
_CLASSIC = VERSION_FIELDS.index("description")
_DESCRIBED = VERSION_FIELDS.index("claimed_by")


def payload(fields: dict[str, Any]) -> bytes:
    """The exact bytes a version signature covers (SPEC §6)."""
    signed = {k: fields[k] for k in SIGNED_FIELDS}
    signed.update((k, fields[k]) for k in OPTIONAL_SIGNED if fields.get(k) is not None)
    return canonical(signed)


def version_fields(v: Any) -> dict[str, Any]:
    """The signed fields of a :class:`~toolvault.models.Version` (the optional ones too)."""
    return {k: getattr(v, k) for k in (*SIGNED_FIELDS, *OPTIONAL_SIGNED)}


def version_digests(v: Any) -> dict[str, str]:
    """What the audit log records of a version, to find later which group changed. The
    description and claim groups only when the version has them: entries from before
    them have none, and one set later is then named by its absence from the entry."""
    return {
        group: digest({f: getattr(v, f) for f in fields})
        for group, fields in GROUPS.items()
        if group not in _OPTIONAL_GROUPS or any(getattr(v, f) is not None for f in fields)
    }


def fields_digest(v: Any) -> str:
    """One SHA-256 over every stored field of a version: verify compares this first,
    and works out which group changed only when it differs."""
    return values_digest(list(_ALL_FIELDS(v)))


def values_digest(values: list[Any]) -> str:
    """:func:`fields_digest` of a version given as its values in ``VERSION_FIELDS`` order
    (without the trailing fields that are unset, as before they existed)."""
    if values[_DESCRIBED] is None:
        values = values[:_DESCRIBED]
        if all(x is None for x in values[_CLASSIC:]):
            return digest(values[:_CLASSIC])
    return digest(values)


def audit_record(v: Any) -> dict[str, Any]:
    """The details of the audit entry that records a stored version."""
    record = {
        **version_digests(v),
        "fields": fields_digest(v),
        "sha256": v.sha256,
        "owner": v.owner,
        "signed_by": v.key_id,
    }
    if v.rollback_of is not None:
        record["rollback_of"] = v.rollback_of
    return record


def key_id(public_raw: bytes) -> str:
    """A short, stable id derived from the public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def encode_public(public_raw: bytes) -> str:
    """``ed25519:<base64>``, the printable form of a public key."""
    return PREFIX + base64.b64encode(public_raw).decode()


def decode_public(text: str) -> bytes:
    """Parse ``ed25519:<base64>`` into the 32 raw bytes of a public key."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise InvalidInput(f"a public key looks like 'ed25519:<base64>', not {text[:40]!r}")
    try:
        raw = base64.b64decode(text[len(PREFIX) :], validate=True)
    except ValueError:
        raise InvalidInput("the public key after 'ed25519:' is not valid base64") from None
    if len(raw) != 32:
        raise InvalidInput(f"an Ed25519 public key has 32 bytes, this one has {len(raw)}")
    return raw


def check_key_name(name: str) -> str:
    """Key and trust names follow the label rule: a letter, then letters, digits, _ and -."""
    if not isinstance(name, str):
        raise InvalidInput(f"a key name must be a text such as 'laptop', not {type(name).__name__}")
    if not LABEL_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid key name {name!r}: start with a letter; use letters, digits, '_' and '-'"
        )
    return name


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A signing key on disk (the private part never leaves ``keys/``)."""

    name: str
    key_id: str
    public: str

    def to_dict(self) -> dict[str, str]:
        """JSON shape of ``keys list``."""
        return {"name": self.name, "key_id": self.key_id, "public": self.public}


class Signer:
    """A loaded private key that signs payloads."""

    def __init__(self, name: str, private: Any) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.name = name
        self._private = private
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_raw: bytes = raw
        self.key_id = key_id(raw)

    def sign(self, data: bytes) -> str:
        """Base64 Ed25519 signature of ``data``."""
        return base64.b64encode(self._private.sign(data)).decode()


class KeyRing:
    """Private keys under ``<home>/keys`` (folder 0700, files 0600)."""

    def __init__(self, home: Path) -> None:
        self.folder = home / "keys"
        self._loaded: dict[str, Signer] = {}

    def generate(self, name: str) -> KeyInfo:
        """Create a new key pair named ``name``; refuse to overwrite one."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        path = self._path(check_key_name(name))
        if path.exists():
            raise InvalidInput(f"key {name!r} exists already ({path}); choose another name")
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return self._info(name, Signer(name, private))

    def load(self, name: str) -> Signer:
        """Load the private key ``name`` (kept after the first load)."""
        if name in self._loaded:
            return self._loaded[name]
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        path = self._path(check_key_name(name))
        if not path.exists():
            have = ", ".join(k.name for k in self.list()) or "none"
            raise NotFound(
                f"no signing key named {name!r} (keys: {have}); "
                f"create one with 'toolvault keys generate {name}'"
            )
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            private = load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm, OSError) as exc:
            raise InvalidInput(f"{path} is not a usable private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise InvalidInput(f"{path} is not an Ed25519 key; make one with 'keys generate'")
        self._loaded[name] = Signer(name, private)
        return self._loaded[name]

    def list(self) -> list[KeyInfo]:
        """Every key in the folder, by name."""
        if not self.folder.is_dir():
            return []
        names = sorted(p.stem for p in self.folder.glob("*.key"))
        return [self._info(n, self.load(n)) for n in names]

    def discard(self, name: str) -> None:
        """Remove a key just generated whose trust could not be recorded."""
        self._loaded.pop(name, None)
        self._path(check_key_name(name)).unlink(missing_ok=True)

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.key"

    @staticmethod
    def _info(name: str, signer: Signer) -> KeyInfo:
        return KeyInfo(name, signer.key_id, encode_public(signer.public_raw))


def public_key(public_raw: bytes) -> Any:
    """The key object that checks signatures; build it once per key, not per signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(public_raw)


def verify_signature(public: bytes | Any, signature: str, data: bytes) -> bool:
    """True when ``signature`` (base64) is a valid Ed25519 signature of ``data``;
    ``public`` is the raw public key or a :func:`public_key` object."""
    from cryptography.exceptions import InvalidSignature

    key = public_key(public) if isinstance(public, bytes) else public
    try:
        key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True
