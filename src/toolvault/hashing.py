"""Canonical JSON and the audit log's hash chain: pure functions, stdlib only."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical(data: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(body: dict[str, Any]) -> str:
    """The hash of an audit entry: SHA-256 over the canonical JSON of its other fields."""
    return hashlib.sha256(canonical(body)).hexdigest()
