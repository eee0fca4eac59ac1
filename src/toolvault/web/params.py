"""Reading a page's query parameters and a form's fields: what a person typed in a
search box or a URL. A value out of range is invalid input (400), naming what works."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from starlette.requests import Request

from toolvault.errors import InvalidInput

MAX_TEXT = 1_000
MAX_FORM = 64 * 1024  # a form's fields are short; the daemon's body limit is far higher


def text(request: Request, key: str, limit: int = MAX_TEXT) -> str:
    """A text parameter, stripped ('' when absent)."""
    value = request.query_params.get(key, "").strip()
    if len(value) > limit or "\x00" in value:
        raise InvalidInput(f"'{key}' must be text of at most {limit:,} characters")
    return value


def choice(request: Request, key: str, allowed: Sequence[str], default: str = "") -> str:
    """A parameter that is one of ``allowed`` (``default`` when absent)."""
    value = request.query_params.get(key, default) or default
    if value not in allowed:
        shown = ", ".join(a for a in allowed if a)
        raise InvalidInput(f"'{key}' must be one of {shown}, not {value[:40]!r}")
    return value


def number(request: Request, key: str, default: int, low: int, high: int) -> int:
    """A whole-number parameter within ``low``..``high``."""
    value = request.query_params.get(key, "")
    if value == "":
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value[:12]) <= high:
        raise InvalidInput(f"'{key}' must be a whole number from {low:,} to {high:,}")
    return int(value)


def form(body: bytes) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body (the last of a repeated
    one); a body that is not one is invalid input."""
    if len(body) > MAX_FORM:
        raise InvalidInput(f"a form of the UI is at most {MAX_FORM:,} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("the form's body is not URL-encoded UTF-8 text") from exc
    return dict(pairs)
