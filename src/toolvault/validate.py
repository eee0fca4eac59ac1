"""What toolvault accepts as metadata and as arguments: one set of rules for every door.

Every new version passes :func:`new_version` (from ``Vault.check``), whatever brought it:
the CLI, the library, the daemon, a pack or a legacy store. Every other metadata write
(an owner transfer, a yank's reason, a lifecycle message, a token's principal, a
pack's records, a restored version) calls :func:`text` with its field's :class:`Rule`,
:func:`timestamp` for a time and :func:`flag` for a yes/no. A refusal is
:class:`InvalidInput` naming the field, where it was, and what would work; it never
echoes the offending text, which may be what would have drawn on the terminal.

Pure and light (``re``, ``datetime``): the hot read path may import it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from toolvault.errors import InvalidInput

T = TypeVar("T")


class Request(Protocol):
    """The fields of a publish request (:class:`toolvault.vault.NewVersion`) checked here,
    taken by their shape: this module sits below the service and never imports it."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def executable(self) -> bool | None: ...
    @property
    def allow_dangling(self) -> bool: ...
    @property
    def rollback_of(self) -> int | None: ...
    @property
    def references(self) -> Sequence[str]: ...
    @property
    def transforms(self) -> Sequence[str]: ...
    @property
    def created_at(self) -> str | None: ...


if TYPE_CHECKING:
    from toolvault.models import Label, Yank

# C0 (ESC included), DEL and C1: a terminal moves, clears or recolours on them, and a
# line break in a one-line field forges a row of 'ls'. Multi-line text keeps tab and line
# feed, and a carriage return just before a line feed: prompts pasted from Windows end
# their lines so (a Port42 prompt must import as written), while a lone one rewrites the
# terminal's line.
ONE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")
CHAR_NAMES = {
    "\x00": "NUL",
    "\t": "tab",
    "\n": "line feed",
    "\r": "carriage return",
    "\x1b": "ESC",
    "\x7f": "DEL",
}
RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
UNBOUNDED = 1 << 62
TIME_EXAMPLE = "2026-01-31T09:30:00Z or 2026-01-31T10:30:00+01:00"


@dataclass(frozen=True, slots=True)
class Rule:
    """What one metadata field may hold: one line or several, how much, whether blank."""

    field: str
    multiline: bool = False
    max_chars: int | None = None
    max_bytes: int | None = None
    required: bool = False  # empty or blank text is refused (None may still mean default)
    example: str = "some text"


OWNER = Rule("owner", max_chars=256, required=True, example="'alice'")
CREATED_BY = Rule("created_by", max_chars=256, required=True, example="'alice'")
ACTOR = Rule("actor", max_chars=256, required=True, example="'alice'")
SET_BY = Rule("set_by", max_chars=256, required=True, example="'alice'")
PRINCIPAL = Rule("principal", max_chars=256, required=True, example="'alice'")
CLAIMED_BY = Rule("claimed_by", max_chars=256, required=True, example="'alice'")
SESSION_ID = Rule("session_id", max_chars=256)
ORIGIN = Rule("origin", max_chars=8192)
REFERENCE = Rule("reference", max_chars=8192, example="'fmt:2'")
TRANSFORM = Rule("transform", max_chars=256, example="'minify'")
KEY_ID = Rule("key_id", max_chars=256)
SIGNATURE = Rule("signature", max_chars=1024)
REASON = Rule(
    "reason", multiline=True, max_bytes=64 * 1024, required=True, example="'leaks the token'"
)
PROMPT = Rule("prompt", multiline=True, max_bytes=1024 * 1024)
MESSAGE = Rule("message", multiline=True, max_bytes=64 * 1024)
# SPEC §10: a description is one paragraph (one line here), the usage any --help text.
DESCRIPTION = Rule("description", max_chars=1024, example="'Summarise the columns of a CSV'")
USAGE = Rule("usage", multiline=True, max_bytes=8 * 1024, example="'Usage: csvsum FILE'")
LIFECYCLE_MESSAGE = Rule("lifecycle_message", multiline=True, max_bytes=64 * 1024)
LIFECYCLES = ("active", "deprecated", "retired")

# The provenance fields of a version and their rules (references and transforms are lists).
VERSION_TEXTS = {
    "owner": OWNER,
    "created_by": CREATED_BY,
    "origin": ORIGIN,
    "session_id": SESSION_ID,
    "prompt": PROMPT,
    "message": MESSAGE,
    "description": DESCRIPTION,
    "usage": USAGE,
}


def text(rule: Rule, value: object, where: str = "") -> str | None:
    """``value`` when it is None or a text ``rule`` allows, else :class:`InvalidInput`
    naming the field (after ``where``, the item it belongs to, when given)."""
    if value is None:
        return None
    at = f"{where}: " if where else ""
    if not isinstance(value, str):
        raise InvalidInput(f"{at}{rule.field} must be a text (str), not {_kind(value)}")
    # The usual case, settled in C: printable ASCII (no control character), not too long.
    short = len(value) <= min(rule.max_chars or UNBOUNDED, rule.max_bytes or UNBOUNDED)
    if value.isascii() and value.isprintable() and short and (value.strip() or not rule.required):
        return value
    if rule.required and not value.strip():
        raise InvalidInput(f"{at}{rule.field} must not be empty; give one such as {rule.example}")
    bad = (MULTI_LINE_BAD if rule.multiline else ONE_LINE_BAD).search(value)
    if bad is not None:
        wanted = (
            "give printable text (tab, line feed and CR LF line ends are the only control "
            "characters allowed)"
            if rule.multiline
            else "give one line of printable text"
        )
        raise InvalidInput(
            f"{at}{rule.field} holds the control character {_char(bad.group())} at "
            f"position {bad.start()}; {wanted}"
        )
    _sized(rule, value, at)
    return value


def given(rule: Rule, value: object, where: str = "") -> str:
    """As :func:`text`, for a field that has no default: None is refused too."""
    found = text(rule, value, where)
    if found is None:
        at = f"{where}: " if where else ""
        raise InvalidInput(f"{at}{rule.field} must be a text such as {rule.example}, not None")
    return found


def _sized(rule: Rule, value: str, at: str) -> None:
    if rule.max_chars is not None and len(value) > rule.max_chars:
        raise InvalidInput(
            f"{at}{rule.field} is {len(value):,} characters long; the limit is {rule.max_chars:,}"
        )
    size = len(value) if value.isascii() else len(utf8(value, f"{at}{rule.field}"))
    if rule.max_bytes is not None and size > rule.max_bytes:
        raise InvalidInput(
            f"{at}{rule.field} is {size:,} bytes of UTF-8; the limit is {rule.max_bytes:,} "
            f"({rule.max_bytes // 1024:,} KiB)"
        )


def texts(rule: Rule, values: object, what: str, where: str = "") -> tuple[str, ...]:
    """A list of texts, each allowed by ``rule``; ``what`` names the list in messages.

    A single text is refused rather than walked letter by letter."""
    at = f"{where}: " if where else ""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidInput(
            f"{at}{what} must be a list of texts such as [{rule.example}], not {_kind(values)}"
        )
    return tuple(given(rule, value, where) for value in values)


def timestamp(value: object, what: str = "created_at", where: str = "") -> str:
    """An RFC 3339 time normalised to UTC in the stored format
    (``2026-01-31T09:30:00.000000Z``); :class:`InvalidInput` for anything else."""
    return format_time(_parse_time(value, what, where))


def check_timestamp(value: object, what: str, where: str = "") -> str:
    """``value`` unchanged if it is an RFC 3339 time: a restored record keeps the text
    it was signed and hashed with."""
    _parse_time(value, what, where)
    assert isinstance(value, str)
    return value


def format_time(when: datetime) -> str:
    """A time in the one stored format (UTC, microseconds, ``Z``), years zero-padded."""
    utc = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_time(value: object, what: str, where: str) -> datetime:
    at = f"{where}: " if where else ""
    wanted = f"give an RFC 3339 time such as {TIME_EXAMPLE}"
    if not isinstance(value, str):
        raise InvalidInput(f"{at}{what} must be a text; {wanted}, not {_kind(value)}")
    found = RFC3339.fullmatch(value)
    if found is None:
        shown = repr(value) if len(value) <= 64 else f"a text of {len(value):,} characters"
        raise InvalidInput(f"{at}{what} {shown} is not a time; {wanted}")
    year, month, day, hour, minute, second, fraction, zulu, sign, zh, zm = found.groups()
    try:
        zone = UTC if zulu else _offset(sign, int(zh), int(zm))
        micro = int((fraction or ".0")[1:7].ljust(6, "0"))
        parts = (int(year), int(month), int(day), int(hour), int(minute), int(second))
        return datetime(*parts, micro, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(f"{at}{what} {value!r} is not a valid time ({exc}); {wanted}") from None


def _offset(sign: str, hours: int, minutes: int) -> timezone:
    if hours > 23 or minutes > 59:
        raise ValueError("the offset from UTC is out of range")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


def flag(value: object, what: str, where: str = "") -> bool | None:
    """None, True or False; a text such as 'no' is refused, never taken as true."""
    if value is None or isinstance(value, bool):
        return value
    at = f"{where}: " if where else ""
    raise InvalidInput(f"{at}{what} must be true or false (a bool), not {_kind(value)}")


def number(value: object, what: str, where: str = "") -> int | None:
    """None or a whole number >= 1 (a bool is no number)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    at = f"{where}: " if where else ""
    raise InvalidInput(f"{at}{what} must be a whole number >= 1, not {_kind(value)}")


def of_type(value: object, kinds: type | tuple[type, ...], what: str, example: str) -> None:
    """A library argument of the wrong type: :class:`InvalidInput` saying what works."""
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in _tuple(kinds)):
        raise InvalidInput(f"{what} must be {example}, not {_kind(value)}")


def _tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def names(values: object, what: str) -> tuple[str, ...]:
    """A list of tool names or specs (a single text is refused, not walked letter by letter)."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidInput(f"{what} must be a list of names such as ['fmt'], not {_kind(values)}")
    found = tuple(values)
    for value in found:
        of_type(value, str, f"each of {what}", "a tool name such as 'fmt'")
    return found


def requests(items: object, kind: type[T]) -> list[T]:
    """What ``publish_many`` was given, as a list: an iterable of ``kind`` (NewVersion;
    each is checked by ``Vault.check``), never one request or a text on its own."""
    if isinstance(items, kind | str | bytes) or not isinstance(items, Iterable):
        raise InvalidInput(
            f"publish_many takes a list of NewVersion(name, content, …), not {_kind(items)}"
        )
    return list(items)


def open_args(create: object, migrate: object, db: object, actor: object) -> None:
    """``Vault.open``'s options: two flags, a database URL and who the audit log names."""
    flag(create, "create")
    flag(migrate, "migrate")
    if db is not None:
        of_type(db, str, "db", "a URL such as 'postgresql://USER@HOST:PORT/DB'")
    text(ACTOR, actor)


def token_secret(secret: str) -> None:
    """A bearer token as ``TOOLVAULT_TOKEN`` holds it: one word of printable ASCII (a
    line break there, from a copied line, cannot go into an HTTP header)."""
    if not isinstance(secret, str) or not secret.isascii() or not secret.isprintable():
        bad = next((c for c in str(secret) if not (c.isascii() and c.isprintable())), "")
        what = f"the character {_char(bad)}" if bad else "a value that is no text"
        raise InvalidInput(
            f"TOOLVAULT_TOKEN holds {what}; set it to the token alone, as "
            "'toolvault token create' printed it (tv_…)"
        )
    if " " in secret:
        raise InvalidInput("TOOLVAULT_TOKEN holds a space; set it to the token alone (tv_…)")


def utf8(text: str, what: str, then: str = "give UTF-8 text") -> bytes:
    """``text`` as UTF-8; invalid input naming ``what`` when it holds an unpaired
    surrogate (JSON may carry one, and a command-line byte that is not UTF-8 arrives as
    one), with ``then``, what would work."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"{what} holds an unpaired surrogate (a character that is not UTF-8 text) at "
            f"position {exc.start}; {then}"
        ) from None


def content(value: object, where: str) -> bytes:
    """A tool's content: bytes as they are, a text encoded as UTF-8."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return utf8(value, f"{where}: the content", "tools are UTF-8 text")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise InvalidInput(
        f"{where}: content must be the tool's text, as str or UTF-8 bytes, not {_kind(value)}"
    )


def new_version(item: Request) -> dict[str, Any]:
    """Check every metadata field of a publish request; returns the fields to replace:
    ``created_at`` normalised to UTC, ``references`` and ``transforms`` as tuples. The
    content and name rules that need the vault's settings are ``Vault.check``'s."""
    from toolvault import spec as specs

    of_type(item.name, str, "a tool name", "a text such as 'fmt'")
    where = item.source if isinstance(item.source, str) else item.name
    specs.validate_name(item.name)
    for key, rule in VERSION_TEXTS.items():
        text(rule, getattr(item, key), where)
    flag(item.executable, "executable", where)
    flag(item.allow_dangling, "allow_dangling", where)
    number(item.rollback_of, "rollback_of", where)
    checked: dict[str, Any] = {
        "references": texts(REFERENCE, item.references, "references", where),
        "transforms": texts(TRANSFORM, item.transforms, "transforms", where),
    }
    if item.created_at is not None:
        checked["created_at"] = timestamp(item.created_at, "created_at", where)
    return checked


def stored_version(data: Mapping[str, Any], where: str) -> None:
    """A version restored as it was (from a pack): its texts obey the rules and its times
    are RFC 3339, kept as written, since its signature and the audit log cover them."""
    for key, rule in VERSION_TEXTS.items():
        text(rule, data.get(key), where)
    texts(REFERENCE, data.get("references") or (), "references", where)
    texts(TRANSFORM, data.get("transforms") or (), "transforms", where)
    for key in ("created_at", "recorded_at"):
        if data.get(key) is not None:
            check_timestamp(data[key], key, where)
    text(CLAIMED_BY, data.get("claimed_by"), where)
    text(KEY_ID, data.get("key_id"), where)
    text(SIGNATURE, data.get("signature"), where)


def tool_state(state: Mapping[str, Any], where: str) -> None:
    """A tool's owner, lifecycle (one of LIFECYCLES: the store's CHECK holds the same),
    lifecycle message and times, as a pack restores them."""
    text(OWNER, state.get("owner"), where)
    lifecycle = state.get("lifecycle")
    if lifecycle is not None and lifecycle not in LIFECYCLES:
        shown = repr(lifecycle) if len(str(lifecycle)) <= 40 else "a long text"
        raise InvalidInput(
            f"{where}: lifecycle must be one of {', '.join(LIFECYCLES)}, not {shown}"
        )
    text(LIFECYCLE_MESSAGE, state.get("lifecycle_message"), where)
    for key in ("created_at", "updated_at"):
        if state.get(key) is not None:
            check_timestamp(state[key], key, where)


def label_record(label: Label, where: str) -> None:
    """A label as a pack restores it: a valid name and label, a time, who set it."""
    from toolvault import spec as specs

    specs.validate_name(label.name)
    specs.validate_label(label.label)
    check_timestamp(label.set_at, "set_at", where)
    given(SET_BY, label.set_by, where)


def yank_record(yank: Yank, where: str) -> None:
    """A yank as a pack restores it: a reason on one line, a time, who yanked."""
    from toolvault import spec as specs

    specs.validate_name(yank.name)
    given(REASON, yank.reason, where)
    check_timestamp(yank.at, "at", where)
    given(ACTOR, yank.actor, where)


def publish_fields(given: Iterable[str], known: Sequence[str]) -> None:
    """``Vault.publish(name, content, **fields)``: every field must be one of ``known``
    (NewVersion's)."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidInput(
            f"publish() has no field {', '.join(map(repr, unknown))}; "
            f"the fields are {', '.join(known)}"
        )


def _char(ch: str) -> str:
    name = CHAR_NAMES.get(ch)
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def _kind(value: object) -> str:
    """How a message names a value of the wrong type, without printing a big one."""
    if value is None:
        return "None"
    kind = type(value).__name__
    if isinstance(value, str | bytes) and len(value) <= 40:
        return f"{kind} {value!r}"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
