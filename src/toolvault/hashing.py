"""Canonical JSON and the audit log's hash chain: pure functions, stdlib only."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from json import encoder as _json_encoder
from typing import Any

GENESIS = "0" * 64

# One encoder for every canonical form: json.dumps with options builds a new
# JSONEncoder per call, and verify encodes several objects per version.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _c_encoder() -> Callable[[Any], str] | None:
    """The C encoder behind ``_CANONICAL``, built once instead of on every call (json
    rebuilds it per ``encode``). Only when it gives the very same bytes; else None."""
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        basestring = _json_encoder.encode_basestring
        scan = make(None, _CANONICAL.default, basestring, None, ":", ",", True, False, True)
    except TypeError:  # another signature in another Python
        return None

    def encode(data: Any) -> str:
        return "".join(scan(data, 0))

    probe = {"b": [1, None, True, 'é\n"', 1.5], "a": {"z": (), "y": "x"}}
    return encode if encode(probe) == _CANONICAL.encode(probe) else None


_encode = _c_encoder() or _CANONICAL.encode
# JSON text of one string, as the canonical form writes it.
json_string: Callable[[str], str] = _json_encoder.encode_basestring


def canonical(data: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8 (tuples encode as lists)."""
    return _encode(data).encode()


def digest(data: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``data``."""
    return hashlib.sha256(_encode(data).encode()).hexdigest()


# json's scanner, called directly: verify decodes every audit entry's details, and
# json.loads adds two whitespace scans and a wrapper to each.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def details_of(text: str) -> dict[str, Any]:
    """Audit details as stored; text that is not a JSON object is kept for verify to see."""
    try:
        data, end = _scan_once(text, 0)
    except (StopIteration, ValueError):  # not at a value: leading space, or not JSON
        end = -1
    if end != len(text):
        try:
            data = json.loads(text)
        except ValueError:
            return {"unparsable": text}
    return data if isinstance(data, dict) else {"unparsable": text}


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
