"""Webhooks and the event stream (SPEC §15): adding, listing and removing endpoints,
their deliveries, redelivery, and the events themselves read from the audit log.

Every endpoint operation is for admins (locally, whoever opens the vault is one).
Adding and removing an endpoint are audited (``hook-add``, ``hook-remove``: where the
vault's events go is a change worth a record) without the secret; ``verify`` replays
them against the ``hooks`` table. Deliveries are not audited: they are not changes to
the vault, and each attempt is kept in ``hook_attempts``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from toolvault.errors import InvalidInput, NotFound
from toolvault.service.base import ServiceBase
from toolvault.store.sql import json_list, json_text, utcnow

if TYPE_CHECKING:  # the events' model is loaded by the methods that use it: opening a
    # vault (every command) must not pay for it (tests/test_layering.py holds that)
    from toolvault.events.model import Delivery, Event, EventFilter, Hook


class Hooks(ServiceBase):
    """Webhook endpoints, deliveries and events."""

    # -- endpoints ---------------------------------------------------------------------

    def add_hook(
        self,
        url: str,
        events: Sequence[str] = (),
        tools: Sequence[str] = (),
        *,
        secret: str | None = None,
        sign: str | None = None,
    ) -> tuple[Hook, str | None]:
        """Add an endpoint; returns it and its secret (made when neither ``secret``
        nor ``sign`` is given), which is shown this once and never again."""
        import base64
        import secrets

        from toolvault.events import policy
        from toolvault.events.model import EventFilter
        from toolvault.events.send import secret_bytes

        self._require_admin("add webhooks")
        target = policy.parse_target(url)
        chosen = EventFilter.make(events, tools)
        policy.allowed_entry(target, policy.parse_allow(self._hook_settings().allow))
        if secret is not None and sign is not None:
            raise InvalidInput("give --secret or --sign, not both: a hook signs one way")
        key_id = None
        if sign is not None:
            key_id = self.keys.load(sign).key_id
        elif secret is None:
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        else:
            secret_bytes(secret)
        hook_id = secrets.token_hex(6)
        with self.store.write():
            details = _hook_details(hook_id, url, chosen, sign, key_id)
            entry = self.store.append_audit(utcnow(), self.actor, "hook-add", None, None, details)
            row = (hook_id, url, json_text(sorted(chosen.types)), json_text(sorted(chosen.tools)))
            self.store.insert_hook(
                (*row, secret, sign, key_id, entry.at, self.actor, entry.seq, "active", None)
            )
        return self.hook(hook_id), (secret if sign is None else None)

    def hooks(self) -> list[Hook]:
        """Every endpoint (never a secret)."""
        self._require_admin("list webhooks")
        return [self._hook(r) for r in self.store.hook_rows()]

    def hook(self, hook_id: str) -> Hook:
        """One endpoint, or :class:`NotFound` naming the ones there are."""
        self._require_admin("read webhooks")
        rows = self.store.hook_rows(_check_id(hook_id))
        if not rows:
            have = ", ".join(r[0] for r in self.store.hook_rows()) or "none"
            raise NotFound(
                f"no webhook {hook_id!r} (webhooks: {have}); 'toolvault hook list' lists them",
                {"hook": hook_id},
            )
        return self._hook(rows[0])

    def remove_hook(self, hook_id: str) -> Hook:
        """Remove an endpoint, its deliveries and their attempts (audited)."""
        hook = self.hook(hook_id)
        with self.store.write():
            self.store.delete_hook(hook.id)
            self.record("hook-remove", None, None, {"id": hook.id, "url": hook.url})
        return hook

    # -- deliveries ----------------------------------------------------------------------

    def hook_deliveries(
        self, hook_id: str | None = None, *, failed: bool = False, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries, newest first, each with its attempts: of one endpoint or all;
        ``failed``: only those whose last attempt failed."""
        if hook_id is not None:
            hook_id = self.hook(hook_id).id
        self._require_admin("read webhook deliveries")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be a whole number from 1 to 10000, not {limit!r}")
        with self.store.snapshot():
            rows = self.store.delivery_rows(hook_id, failed, limit)
            return [self._delivery(r) for r in rows]

    def redeliver(self, delivery: str) -> Delivery:
        """Queue a delivery again, due now (and enable its endpoint if it was disabled):
        a failed one resumes the endpoint from there, a delivered one is sent once more."""
        from toolvault.events.model import parse_delivery_id

        hook_id, seq = parse_delivery_id(delivery)
        hook = self.hook(hook_id)
        if not self.store.event_row(seq) or not hook.filter.matches(self._event(seq)):
            raise NotFound(
                f"no delivery {delivery}: audit entry {seq} is not an event webhook "
                f"{hook.id} receives; 'toolvault hook deliveries {hook.id}' lists them",
                {"delivery": delivery},
            )
        with self.store.write():
            self.store.requeue_delivery(hook.id, seq, time.time(), utcnow())
            self.store.set_hook_state(hook.id, "active", None)
        from toolvault.events.bell import BELL

        BELL.ring()  # the worker of this process looks at once
        return self._delivery(self.store.delivery_rows(hook.id, False, 1, seq)[0])

    # -- events --------------------------------------------------------------------------

    def events_after(
        self, after: int, chosen: EventFilter | None = None, limit: int = 500
    ) -> tuple[list[Event], int]:
        """Events past ``after`` that pass ``chosen``, at most ``limit`` entries read;
        and the seq read up to (where the next call starts)."""
        from toolvault.events.model import event_from_row

        rows = self.store.event_rows(after, limit)
        events = [event_from_row(r) for r in rows]
        through = events[-1].seq if events else after
        return [e for e in events if chosen is None or chosen.matches(e)], through

    def event_head(self) -> int:
        """The newest event's seq (0 when there is none)."""
        return self.store.audit_max()

    # -- internals ----------------------------------------------------------------------

    def _hook_settings(self) -> Any:
        from toolvault.events.settings import HookSettings

        return HookSettings.load(self.config.raw_get("hooks"))

    def _event(self, seq: int) -> Event:
        from toolvault.events.model import event_from_row

        row = self.store.event_row(seq)
        assert row is not None
        return event_from_row(row)

    def _hook(self, row: tuple[Any, ...]) -> Hook:
        import base64

        from toolvault.events.model import Hook

        signing = "v1a" if row[5] else "v1"
        public = None
        if row[5]:
            try:
                raw = self.keys.load(row[5]).public_raw
                public = "whpk_" + base64.b64encode(raw).decode()
            except NotFound:  # the key is not in this home: the hook still lists
                public = None
        return Hook(
            row[0], row[1], json_list(row[2]), json_list(row[3]), signing, row[5], row[6],
            row[7], row[8], int(row[9]), row[10], row[11], public,
        )  # fmt: skip

    def _delivery(self, row: tuple[Any, ...]) -> Delivery:
        from toolvault.events.model import Attempt, Delivery

        tried = [Attempt(*a) for a in self.store.attempt_rows(row[0], row[1])]
        hook_id, seq, state, attempts, next_at, status, error, at = row[:8]
        return Delivery(hook_id, seq, state, attempts, next_at, status, error, at, tuple(tried))


def _check_id(hook_id: object) -> str:
    if not isinstance(hook_id, str) or not hook_id or len(hook_id) > 64 or not hook_id.isalnum():
        raise InvalidInput(
            f"invalid webhook id {hook_id!r}: ids are letters and digits, such as 3fa9c2d1e0b7 "
            "('toolvault hook list' shows them)",
            {"hook": hook_id},
        )
    return hook_id


def _hook_details(
    hook_id: str, url: str, chosen: EventFilter, key: str | None, key_id: str | None
) -> dict[str, Any]:
    """What a hook-add entry states (never the secret): what verify holds the row to."""
    return {
        "id": hook_id,
        "url": url,
        "events": sorted(chosen.types),
        "tools": sorted(chosen.tools),
        "signing": "v1a" if key else "v1",
        "key_id": key_id,
    }
