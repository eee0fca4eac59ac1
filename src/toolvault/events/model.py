"""What events and webhooks are made of: an event (an audit entry as announced), the
filter hooks and the live stream share, an endpoint, its deliveries and their attempts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from toolvault.errors import InvalidInput

# The event types one may filter on (SPEC §15), and the audit actions each covers. A
# publish with rollback_of is a rollback; an action not listed is its own type.
EVENT_TYPES = (
    "publish",
    "rollback",
    "label",
    "yank",
    "deprecate",
    "retire",
    "reactivate",
    "owner",
    "grant",
    "import",
    "trust",
    "token",
    "hook",
)
ACTION_TYPES = {
    "unlabel": "label",
    "revoke": "grant",
    "adopt": "import",
    "trust-add": "trust",
    "trust-remove": "trust",
    "token-create": "token",
    "token-revoke": "token",
    "hook-add": "hook",
    "hook-remove": "hook",
}


def event_type(action: str, details: Any) -> str:
    """The type of an audit action (``rollback`` for a publish that rolled back)."""
    if action == "publish" and isinstance(details, dict) and "rollback_of" in details:
        return "rollback"
    return ACTION_TYPES.get(action, action)


@dataclass(frozen=True, slots=True)
class Event:
    """An audit entry as announced: what happened, to which pinned version, and the
    entry's hash (a receiver can hold it against the chain)."""

    seq: int
    at: str
    actor: str
    action: str
    type: str
    tool: str | None
    version: int | None
    ref: str | None
    details: dict[str, Any]
    hash: str
    prev_hash: str

    def to_dict(self) -> dict[str, Any]:
        """The event's JSON shape (a webhook's body, a stream's data, ``watch --json``)."""
        return {
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "tool": self.tool,
            "version": self.version,
            "ref": self.ref,
            "details": self.details,
            "hash": self.hash,
            "prev_hash": self.prev_hash,
        }

    def body(self) -> bytes:
        """The bytes a webhook carries (and its signature covers): compact JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    def tools(self) -> set[str]:
        """The tools the event is about: its tool, or every tool an import touched."""
        if self.tool is not None:
            return {self.tool}
        touched = self.details.get("tools")
        return set(touched) if isinstance(touched, dict) else set()


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events an endpoint or a stream wants: by type and by tool (empty: all)."""

    types: frozenset[str] = frozenset()
    tools: frozenset[str] = frozenset()

    @classmethod
    def make(cls, types: Iterable[str] = (), tools: Iterable[str] = ()) -> EventFilter:
        """A filter from user input: unknown types and bad tool names are refused."""
        from toolvault import spec as specs

        wanted = frozenset(types)
        unknown = sorted(wanted - set(EVENT_TYPES))
        if unknown:
            raise InvalidInput(
                f"unknown event {unknown[0]!r}; events are: {', '.join(EVENT_TYPES)}",
                {"event": unknown[0], "events": list(EVENT_TYPES)},
            )
        return cls(wanted, frozenset(specs.parse_name(t) for t in tools))

    def matches(self, event: Event) -> bool:
        """Whether ``event`` passes."""
        if self.types and event.type not in self.types:
            return False
        return not self.tools or bool(self.tools & event.tools())


def iso(epoch: float | None) -> str | None:
    """Seconds since the epoch as the stored time format, or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Hook:
    """A webhook endpoint, as the API shows it: never its secret."""

    id: str
    url: str
    events: tuple[str, ...]
    tools: tuple[str, ...]
    signing: str  # "v1" (HMAC with a whsec_ secret) or "v1a" (Ed25519, a vault key)
    key: str | None
    key_id: str | None
    created_at: str
    created_by: str
    delivered_through: int
    state: str
    disabled_reason: str | None
    public_key: str | None = None  # whpk_…: what a receiver checks v1a signatures with

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of ``hook list``."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "tools": list(self.tools),
            "signing": self.signing,
            "key": self.key,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "delivered_through": self.delivered_through,
            "state": self.state,
            "disabled_reason": self.disabled_reason,
        }

    @property
    def filter(self) -> EventFilter:
        """The endpoint's filter."""
        return EventFilter(frozenset(self.events), frozenset(self.tools))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt at a delivery."""

    attempt: int
    at: str
    status: int | None
    latency_ms: float | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of an attempt."""
        return {
            "attempt": self.attempt,
            "at": self.at,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "error": self.error,
        }


def delivery_id(hook_id: str, seq: int) -> str:
    """The delivery's id and its ``webhook-id``: the same for every attempt of one event
    to one endpoint, so that a receiver can drop a duplicate."""
    return f"msg_{hook_id}_{seq}"


def parse_delivery_id(text: str) -> tuple[str, int]:
    """(hook id, seq) of a delivery id, or :class:`InvalidInput` saying its form."""
    parts = text.split("_")
    if len(parts) == 3 and parts[0] == "msg" and parts[2].isdigit() and parts[1]:
        return parts[1], int(parts[2])
    raise InvalidInput(
        f"invalid delivery id {text!r}: it looks like msg_HOOKID_SEQ "
        "('toolvault hook deliveries' lists them)",
        {"delivery": text},
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event to one endpoint: where it stands, and every attempt."""

    hook_id: str
    seq: int
    state: str  # pending, delivered, failed
    attempts: int
    next_at: float | None
    last_status: int | None
    last_error: str | None
    updated_at: str
    tried: Sequence[Attempt] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        """The delivery's id (its ``webhook-id``)."""
        return delivery_id(self.hook_id, self.seq)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of ``hook deliveries``."""
        return {
            "id": self.id,
            "hook": self.hook_id,
            "seq": self.seq,
            "state": self.state,
            "attempts": self.attempts,
            "next_at": iso(self.next_at) if self.state == "pending" else None,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "updated_at": self.updated_at,
            "tried": [a.to_dict() for a in self.tried],
        }


def event_from_row(row: Sequence[Any]) -> Event:
    """An event from an audit row as :meth:`~toolvault.store.hooks.HookQueries.event_rows`
    reads it (the version's sha256 last, for the pinned ref)."""
    from toolvault.hashing import details_of

    seq, at, actor, action, tool, version, text, prev, digest, sha = row[:10]
    details = details_of(text)
    ref = f"{tool}:{version}@sha256:{sha}" if tool and version and sha else None
    kind = event_type(action, details)
    return Event(seq, at, actor, action, kind, tool, version, ref, details, digest, prev)
