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
# JSON text of one string, as the canonical form writes it.
json_string: Callable[[str], str] = _json_encoder.encode_basestring


def c_encoder(
    ascii_only: bool, key_separator: str, item_separator: str, sort_keys: bool
) -> Callable[[Any], str] | None:
    """json's C encoder with these settings, built once (``JSONEncoder.encode`` builds
    it anew on every call); None where this Python has none or another signature.
    Callers compare its output with json's on a probe before trusting it."""
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:
        return None
    strings = _json_encoder.encode_basestring_ascii if ascii_only else json_string
    try:
        scan = make(
            None,
            _CANONICAL.default,
            strings,
            None,
            key_separator,
            item_separator,
            sort_keys,
            False,
            True,
        )
    except TypeError:
        return None

    def encode(data: Any) -> str:
        return "".join(scan(data, 0))

    return encode


def _c_canonical() -> Callable[[Any], str] | None:
    """The C encoder behind ``_CANONICAL``, when it gives the very same text."""
    encode = c_encoder(False, ":", ",", True)
    probe = {"b": [1, None, True, 'é\n"', 1.5], "a": {"z": (), "y": "x"}}
    return encode if encode and encode(probe) == _CANONICAL.encode(probe) else None


_encode = _c_canonical() or _CANONICAL.encode


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


def audit_text(
    seq: int,
    at: str,
    actor: str,
    action: str,
    tool: str | None,
    version: int | None,
    details: str,
    prev_hash: str,
) -> str:
    """The canonical JSON of an audit entry's body put together around ``details``,
    the canonical JSON of its details (which the log stores as such): a large details
    object is not encoded again, and verify hashes entries straight from their rows.
    Fields of other types than these raise TypeError."""
    if type(seq) is not int or not isinstance(details, str):
        raise TypeError("an audit entry's seq is an int and its details a JSON text")
    if version is not None and type(version) is not int:
        raise TypeError("an audit entry's version is an int or None")
    return (
        f'{{"action":{json_string(action)},"actor":{json_string(actor)},'
        f'"at":{json_string(at)},"details":{details},"prev_hash":{json_string(prev_hash)},'
        f'"seq":{seq},"tool":{"null" if tool is None else json_string(tool)},'
        f'"version":{"null" if version is None else version}}}'
    )


def entry_hash(body: dict[str, Any], details: bytes | None = None) -> str:
    """The hash of an audit entry: SHA-256 over the canonical JSON of its other fields
    (``details``: the canonical JSON of ``body["details"]``, when the caller has it)."""
    if details is None:
        return digest(body)
    text = audit_text(
        body["seq"],
        body["at"],
        body["actor"],
        body["action"],
        body["tool"],
        body["version"],
        details.decode(),
        body["prev_hash"],
    )
    return hashlib.sha256(text.encode()).hexdigest()
