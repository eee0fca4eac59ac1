"""List-changed notifications: when a tool's latest version moves (a publish, a
rollback, a yank, a lifecycle change), by this server or by any other process.

A watcher polls the backend's change marker (the audit log's head:
one indexed query) every ``interval`` seconds, and at once after this server's own
writes; when it moved, it compares every tool's (latest, lifecycle) with what it saw
before. A change is announced both ways the protocol has: on the subscription bus
(``subscriptions/listen`` streams, protocol 2026-07-28) and as
``notifications/resources/list_changed`` to each session that connected with the
``initialize`` handshake (earlier protocol versions).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourcesListChanged, ResourceUpdated
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS

from toolvault.errors import ToolvaultError
from toolvault.mcpserver.backend import Backend, Snapshot

log = logging.getLogger(__name__)
INTERVAL = 0.5  # seconds between two looks at the change marker
INDEX_URI = "toolvault://tools"


class Changes:
    """The watcher, the bus it publishes on, and the handshake-era sessions it tells."""

    def __init__(self, backend: Backend, interval: float = INTERVAL) -> None:
        self.backend = backend
        self.interval = interval
        self.bus = InMemorySubscriptionBus()
        self.sessions: weakref.WeakSet[Any] = weakref.WeakSet()
        self.seen: Snapshot | None = None
        self.marker: object | None = None
        self.wake: anyio.Event | None = None

    async def track(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        """Server middleware: remember each session that speaks a handshake-era version
        (those get change notifications on their own channel)."""
        if getattr(ctx, "protocol_version", None) in HANDSHAKE_PROTOCOL_VERSIONS:
            # ctx.session lives for one request; its connection for the client's session
            # (the SDK offers no public way to it from a middleware).
            connection = getattr(ctx.session, "_connection", None)
            if connection is not None:
                self.sessions.add(connection)
        return await call_next(ctx)

    def poke(self) -> None:
        """Look for changes now (after a write of this server)."""
        if self.wake is not None:
            self.wake.set()

    @asynccontextmanager
    async def running(self, _server: object = None) -> AsyncIterator[dict[str, Any]]:
        """The server's lifespan: the watcher runs while the server does."""
        self.seen = await anyio.to_thread.run_sync(self.backend.snapshot)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self.watch)
            try:
                yield {}
            finally:
                tasks.cancel_scope.cancel()

    async def watch(self) -> None:
        """Look every ``interval`` seconds, or when poked, until cancelled."""
        while True:
            self.wake = anyio.Event()
            with anyio.move_on_after(self.interval):
                await self.wake.wait()
            try:
                moved = await anyio.to_thread.run_sync(self.moved)
            except ToolvaultError as exc:  # a daemon away for a while: try again later
                log.warning("toolvault mcp: cannot look for changes: %s", exc)
                continue
            if moved:
                await self.announce(moved)

    def moved(self) -> list[str]:
        """The tools whose latest or lifecycle changed since the last look."""
        marker = self.backend.marker()
        if marker is not None and marker == self.marker:
            return []
        now = self.backend.snapshot()
        before, self.seen, self.marker = self.seen or {}, now, marker
        return sorted(n for n in before.keys() | now.keys() if before.get(n) != now.get(n))

    async def announce(self, names: list[str]) -> None:
        """Tell every listener that the tool list (and these tools) changed."""
        await self.bus.publish(ResourcesListChanged())
        for uri in [INDEX_URI, *(f"{INDEX_URI}/{n}" for n in names)]:
            await self.bus.publish(ResourceUpdated(uri=uri))
        for session in list(self.sessions):
            try:
                await session.send_resource_list_changed()
            except Exception:  # a session that went away: it is forgotten with it
                self.sessions.discard(session)
