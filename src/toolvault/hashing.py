"""Canonical JSON and the audit log's hash chain: pure functions, stdlib only."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64

# One encoder for every canonical form: json.dumps with options builds a new
# JSONEncoder per call, and verify encodes several objects per version.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(data: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 (tuples encode as lists)."""
    return _CANONICAL.encode(data).encode()


def canonical_with(data: dict[str, Any], key: str, encoded: bytes) -> bytes:
    """``canonical(data)``, given ``encoded`` = ``canonical(data[key])`` already: a large
    value (an import's audit details) is then encoded once, not once per use."""
    parts = [
        canonical(k) + b":" + (encoded if k == key else canonical(data[k])) for k in sorted(data)
    ]
    return b"{" + b",".join(parts) + b"}"


def entry_hash(body: dict[str, Any], details: bytes | None = None) -> str:
    """The hash of an audit entry: SHA-256 over the canonical JSON of its other fields
    (``details``: the canonical JSON of ``body["details"]``, when the caller has it)."""
    data = canonical(body) if details is None else canonical_with(body, "details", details)
    return hashlib.sha256(data).hexdigest()
