"""A checkpoint: the signed head of the audit log, its signed bytes, and reading one
given by the user (``verify --since``) or kept in a file (``HOME/checkpoint``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolvault.errors import InvalidInput
from toolvault.hashing import canonical
from toolvault.signing import decode_public, key_id, verify_signature

FORMAT = "toolvault-checkpoint/1"
FILE = "checkpoint"
MAX_SEQ = 2**31 - 1  # PostgreSQL's INTEGER, the audit log's sequence numbers
HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed head of the audit log: entry ``seq`` has hash ``hash`` (seq 0, GENESIS:
    the empty log), signed at ``at`` by the vault key ``key_id`` (``public_key``), after
    the checkpoint whose :meth:`link` is ``prev`` (GENESIS: the first)."""

    seq: int
    hash: str
    at: str
    key_id: str
    public_key: str
    signature: str
    prev: str

    def payload(self) -> bytes:
        """The exact bytes the signature covers: canonical JSON of the head, the signer
        and the checkpoint before."""
        return signed_bytes(self.seq, self.hash, self.at, self.key_id, self.prev)

    def link(self) -> str:
        """What the next checkpoint's ``prev`` is: the hash of this one, signature too."""
        return link(self.seq, self.hash, self.at, self.key_id, self.prev, self.signature)

    def row(self) -> tuple[Any, ...]:
        """The database row (``CHECKPOINT_COLUMNS`` order)."""
        return (
            self.seq,
            self.hash,
            self.at,
            self.key_id,
            self.public_key,
            self.signature,
            self.prev,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``toolvault checkpoint`` and of ``HOME/checkpoint``."""
        return {
            "format": FORMAT,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
            "prev": self.prev,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "a checkpoint") -> Checkpoint:
        """A checkpoint from its JSON shape; :class:`InvalidInput` saying what is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InvalidInput(f"{where} is not a toolvault checkpoint: {SHAPE}")
        seq = data.get("seq")
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise InvalidInput(f"{where}: seq must be a whole number from 0 to {MAX_SEQ}")
        digest, prev = _hex(data, "hash", where), _hex(data, "prev", where)
        fields = [data.get(k) for k in ("at", "key_id", "public_key", "signature")]
        texts = [f for f in fields if isinstance(f, str) and f]
        if len(texts) != len(fields):
            raise InvalidInput(f"{where}: at, key_id, public_key and signature must be text")
        at, kid, public, signature = texts
        return cls(seq, digest, at, kid, public, signature, prev)

    def why_invalid(self) -> str | None:
        """Why the signature does not hold under the checkpoint's own public key, or None."""
        try:
            raw = decode_public(self.public_key)
        except InvalidInput as exc:
            return f"its public key is unusable ({exc})"
        if key_id(raw) != self.key_id:
            return f"it names key {self.key_id}, but its public key is key {key_id(raw)}"
        try:
            payload = self.payload()
        except TypeError:  # a field made a number or bytes in the database
            return "its fields are not text"
        if not verify_signature(_public_object(raw), self.signature, payload):
            return f"its signature does not verify under key {self.key_id}"
        return None


def _hex(data: dict[str, Any], name: str, where: str) -> str:
    found = data.get(name)
    if not isinstance(found, str) or len(found) != 64 or not HEX.issuperset(found):
        raise InvalidInput(f"{where}: {name} must be 64 lowercase hex digits")
    return found


SHAPE = (
    'give the JSON \'toolvault checkpoint\' prints: {"format": "toolvault-checkpoint/1", '
    '"seq", "hash", "at", "key_id", "public_key", "signature", "prev"}'
)


def signed_bytes(seq: int, digest: str, at: str, kid: str, prev: str) -> bytes:
    """The canonical JSON a checkpoint's signature covers."""
    return canonical(
        {"format": FORMAT, "seq": seq, "hash": digest, "at": at, "key_id": kid, "prev": prev}
    )


def link(seq: int, digest: str, at: str, kid: str, prev: str, signature: str) -> str:
    """The hash by which the next checkpoint commits to this one: SHA-256 of its signed
    bytes followed by its signature (the bytes end in ``}``, so the two cannot run
    into each other)."""
    return link_of(signed_bytes(seq, digest, at, kid, prev), signature)


def link_of(payload: bytes, signature: str) -> str:
    """:func:`link` of a checkpoint's signed bytes and signature."""
    return hashlib.sha256(payload + signature.encode()).hexdigest()


_PUBLIC: dict[bytes, Any] = {}


def _public_object(raw: bytes) -> Any:
    """The key object of a public key, built once per key (verify checks many)."""
    found = _PUBLIC.get(raw)
    if found is None:
        from toolvault.signing import public_key

        found = _PUBLIC[raw] = public_key(raw)
    return found


# -- reading a checkpoint given by the user ----------------------------------------------------


def load(text: str) -> Checkpoint:
    """A checkpoint given as its JSON (text starting with ``{``) or as a file holding it
    (``verify --since``)."""
    where = "the checkpoint given"
    if not text.lstrip().startswith("{"):
        where = text
        try:
            text = Path(text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the checkpoint file {where}: {exc}; {SHAPE}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{where} is not JSON; {SHAPE}") from None
    return Checkpoint.from_dict(data, where)


def read_file(path: Path) -> Checkpoint | None:
    """The checkpoint a file holds, None when there is no file; InvalidInput when it
    cannot be read or is no checkpoint."""
    from toolvault.checkpoints.headfile import read_locked

    try:
        text = read_locked(path).decode()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{path} is not JSON") from None
    found = data.get("checkpoint") if isinstance(data, dict) and "checkpoint" in data else data
    return Checkpoint.from_dict(found, str(path))
