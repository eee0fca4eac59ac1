"""The delivery worker: reads the audit log past where each endpoint stands and delivers
in order, at least once, recording every attempt (SPEC §15).

An endpoint is worked on by one worker at a time, across processes and daemons: the
worker claims it with a lease (a row update; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL)
and records outcomes and where the endpoint now stands when it is done, in one
transaction. Deliveries happen before they are recorded, so a worker killed in between
sends those events again when the lease has run out (at least once; ``webhook-id``
lets a receiver drop the repeat) and never skips one.

A failed attempt leaves a pending delivery due after the next step of the schedule
(or the receiver's ``Retry-After``); nothing later goes to that endpoint before it.
A 410, or the schedule run out, disables the endpoint; ``hook redeliver`` resumes it.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolvault.errors import ToolvaultError
from toolvault.events import policy
from toolvault.events.bell import BELL
from toolvault.events.model import Event, EventFilter, delivery_id, event_from_row
from toolvault.events.send import Outcome, Sender, hmac_signer, key_signer
from toolvault.events.settings import HookSettings
from toolvault.store.sql import json_list, utcnow

if TYPE_CHECKING:
    from toolvault.vault import Vault

log = logging.getLogger("toolvault.hooks")
# (seq, state, tries, next_at, status, error, at, latency_ms): one recorded attempt
Row = tuple[int, str, int, float | None, int | None, str | None, str, float]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A leased endpoint as the worker needs it (its secret included)."""

    id: str
    url: str
    filter: EventFilter
    secret: str | None
    key: str | None
    through: int

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> Endpoint:
        """From a row in ``HOOK_COLUMNS`` order."""
        types, tools = frozenset(json_list(row[2])), frozenset(json_list(row[3]))
        return cls(row[0], row[1], EventFilter(types, tools), row[4], row[5], int(row[9]))


class Worker:
    """Delivers the webhooks of one vault (a store shared with the daemon's requests:
    each thread uses its own connection)."""

    def __init__(self, vault: Vault, settings: HookSettings | None = None) -> None:
        self.vault = vault
        self.store = vault.store
        self.settings = settings or HookSettings.load(vault.config.raw_get("hooks"))
        self.allow = policy.parse_allow(self.settings.allow)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.stop = threading.Event()

    # -- claiming work -------------------------------------------------------------------

    def lease(self, limit: int) -> list[Endpoint]:
        """Claim up to ``limit`` endpoints with work now."""
        now = time.time()
        with self.store.hook_transaction():
            rows = self.store.lease_hooks(self.owner, now, now + self.settings.lease, limit)
        return [Endpoint.of(r) for r in rows]

    def deliver_once(self) -> int:
        """Deliver everything due now, one endpoint after another, and return how many
        endpoint turns it took (``hook deliver --once``: what is not due yet waits for
        the next run)."""
        turns = 0
        while not self.stop.is_set():
            found = self.lease(self.settings.workers)
            if not found:
                return turns
            for endpoint in found:
                self.serve(endpoint)
            turns += len(found)
        return turns

    def run(self) -> None:
        """Deliver until :attr:`stop` is set: endpoints in parallel (``workers``), each
        in order; woken by this process's commits, else every ``poll`` seconds."""
        pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="toolvault-hooks")
        busy: set[Future[None]] = set()
        try:
            while not self.stop.is_set():
                seen = BELL.count
                found = self._claim(self.settings.workers - len(busy))
                for endpoint in found:
                    future = pool.submit(self.serve, endpoint)
                    busy.add(future)
                    future.add_done_callback(lambda f: _done(busy, f))
                if not found and BELL.wait(seen, self._idle()) and self.settings.coalesce:
                    # woken by a commit: let the writes that come with it land first, so
                    # that one turn (and one bookkeeping write) carries them all
                    self.stop.wait(self.settings.coalesce)
        finally:
            self.stop.set()
            pool.shutdown(wait=True)

    def _claim(self, free: int) -> list[Endpoint]:
        if free <= 0:
            return []
        try:
            return self.lease(free)
        except ToolvaultError as exc:  # the database is away: say so, try again later
            log.warning("webhook delivery: %s", exc)
            self.stop.wait(self.settings.poll)
            return []

    def _idle(self) -> float:
        """How long to sleep: until the next retry is due, at most ``poll``."""
        try:
            due = self.store.next_due()
        except ToolvaultError:
            return self.settings.poll
        if due is None:
            return self.settings.poll
        return min(self.settings.poll, max(due - time.time(), 0.0) + 0.001)

    # -- one endpoint's turn -------------------------------------------------------------

    def serve(self, endpoint: Endpoint) -> None:
        """Deliver what is due to one leased endpoint, then record it all at once."""
        sender = Sender(self.settings, self.allow)
        rows: list[Row] = []
        through, disable = endpoint.through, None
        try:
            pending = self.store.pending_delivery(endpoint.id)
            if pending is not None:
                through, disable = self._retry(endpoint, pending, sender, rows)
            else:
                through, disable = self._advance(endpoint, sender, rows)
        except ToolvaultError as exc:
            log.warning("webhook %s: %s", endpoint.id, exc)
        finally:
            sender.close()
        self._record(endpoint, rows, through, disable)

    def _record(
        self, endpoint: Endpoint, rows: list[Row], through: int, disable: str | None
    ) -> None:
        try:
            with self.store.hook_transaction():
                kept = self.store.record_outcomes(endpoint.id, rows, through, self.owner)
                if kept and disable is not None:
                    self.store.set_hook_state(endpoint.id, "disabled", disable)
        except ToolvaultError as exc:  # not recorded: the lease runs out, they go again
            log.warning("webhook %s: cannot record deliveries: %s", endpoint.id, exc)

    def _retry(
        self, endpoint: Endpoint, pending: tuple[Any, ...], sender: Sender, rows: list[Row]
    ) -> tuple[int, str | None]:
        seq, tries, next_at = int(pending[0]), int(pending[1]), pending[2]
        if next_at is not None and next_at > time.time():
            return endpoint.through, None
        found = self.store.event_row(seq)
        if found is None:  # an entry the log no longer has: nothing to send
            return endpoint.through, None
        row, disable = self._attempt(endpoint, event_from_row(found), tries, sender)
        rows.append(row)
        delivered = row[1] == "delivered"
        return (max(seq, endpoint.through) if delivered else endpoint.through), disable

    def _advance(
        self, endpoint: Endpoint, sender: Sender, rows: list[Row]
    ) -> tuple[int, str | None]:
        """Deliver the entries past ``through`` in order until one fails, the batch
        ends, or half the lease is spent."""
        through = endpoint.through
        deadline = time.monotonic() + self.settings.lease / 2
        for found in self.store.event_rows(through, self.settings.batch):
            event = event_from_row(found)
            if endpoint.filter.matches(event):
                row, disable = self._attempt(endpoint, event, 0, sender)
                rows.append(row)
                if row[1] != "delivered":
                    return through, disable
            through = event.seq
            if time.monotonic() > deadline or self.stop.is_set():
                break
        return through, None

    def _attempt(
        self, endpoint: Endpoint, event: Event, tries: int, sender: Sender
    ) -> tuple[Row, str | None]:
        """One attempt and what it makes of the delivery."""
        at = utcnow()
        msg_id = delivery_id(endpoint.id, event.seq)
        try:
            sign = self._signer(endpoint)
        except ToolvaultError as exc:
            outcome = Outcome(None, f"cannot sign: {exc}", 0.0)
        else:
            outcome = sender.post(endpoint.url, msg_id, event.body(), sign)
        state, next_at, disable = self._judge(msg_id, outcome, tries + 1)
        row: Row = (
            event.seq,
            state,
            tries + 1,
            next_at,
            outcome.status,
            outcome.error,
            at,
            outcome.latency_ms,
        )
        return row, disable

    def _judge(
        self, msg_id: str, outcome: Outcome, tries: int
    ) -> tuple[str, float | None, str | None]:
        """(state, next_at, why the endpoint is disabled) after attempt number ``tries``."""
        if outcome.ok:
            return "delivered", None, None
        if outcome.status == 410:
            return "failed", None, f"the receiver answered 410 Gone to {msg_id}"
        schedule = self.settings.schedule
        if tries > len(schedule):
            return "failed", None, f"gave up on {msg_id} after {tries} attempts ({outcome.error})"
        wait = schedule[tries - 1] * (1 + random.uniform(-1, 1) * self.settings.jitter)
        if outcome.retry_after is not None:
            wait = outcome.retry_after  # the receiver said when
        return "pending", time.time() + wait, None

    def _signer(self, endpoint: Endpoint) -> Callable[[bytes], str]:
        if endpoint.secret is not None:
            return hmac_signer(endpoint.secret)
        assert endpoint.key is not None
        return key_signer(self.vault.keys.load(endpoint.key).sign)


def _done(busy: set[Future[None]], future: Future[None]) -> None:
    """An endpoint's turn ended: free its place and let the loop look again."""
    busy.discard(future)
    BELL.ring()


def start(vault: Vault) -> Worker | None:
    """The daemon's worker, running in a thread (None when ``[hooks] worker = false``)."""
    settings = HookSettings.load(vault.config.raw_get("hooks"))
    if not settings.worker:
        return None
    worker = Worker(vault, settings)
    threading.Thread(target=worker.run, name="toolvault-hooks", daemon=True).start()
    return worker
