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


def entry_hash(body: dict[str, Any]) -> str:
    """The hash of an audit entry: SHA-256 over the canonical JSON of its other fields."""
    return hashlib.sha256(canonical(body)).hexdigest()
