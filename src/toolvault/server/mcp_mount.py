"""The daemon's ``/mcp``: the MCP server of :mod:`toolvault.mcpserver` over streamable
HTTP, behind the daemon's bearer tokens (SPEC §12).

A request without a valid token is refused here with 401 and the one error body, as
the REST API refuses it (a read without a token passes with ``--public-read``). Each
tool call then acts through the REST API's :class:`~toolvault.server.hot.Guard` with
the token of its own request, so owner, maintainers, admin, read-only tokens and
``--public-read`` hold exactly as they do for ``/v1``. A session is bound to the
token that opened it (the SDK answers 404 to another). The SDK's DNS-rebinding
protection accepts the daemon's own host names: loopback, this machine's names, the
address it was told to listen on, and ``[mcp] allowed_hosts`` in config.toml. Its
session manager (and the change watcher) run in the daemon's lifespan. The ``run`` tool
is offered only with ``[mcp] run = true`` (see :mod:`toolvault.mcpserver.run_tool`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolvault.errors import InvalidInput, ToolvaultError
from toolvault.server.hot import Guard, bearer_secret, error_rendered, internal_error

PATH = "/mcp"


def mount(app: FastAPI, guard: Guard, hosts: Sequence[str] = ()) -> ASGIApp:
    """Serve MCP at ``/mcp`` of ``app`` and run its session manager in the app's lifespan;
    ``hosts`` are the names the daemon was asked to listen on. Returns the endpoint, which
    the app may call before its own middleware (the SDK has its own body limit, and
    answers its errors itself)."""
    from mcp.server.transport_security import TransportSecuritySettings

    from toolvault.mcpserver import DaemonBackend, build

    server, _ = build(DaemonBackend(guard, _run_place(guard)))
    names = host_names([*hosts, *_configured(guard)])
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in names] + names,
        allowed_origins=[
            f"{scheme}://{n}{port}"
            for n in names
            for scheme in ("http", "https")
            for port in (":*", "")
        ],
    )
    server.streamable_http_app(streamable_http_path=PATH, transport_security=security)
    manager = server.session_manager
    endpoint = Authenticated(manager.handle_request, guard)
    app.router.routes.append(Route(PATH, endpoint=endpoint))

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        async with manager.run():
            yield

    app.router.lifespan_context = lifespan
    return endpoint


def host_names(extra: Sequence[str]) -> list[str]:
    """The names a client may reach this daemon by (the Host header without its port)."""
    names = ["127.0.0.1", "localhost", "[::1]", socket.gethostname(), socket.getfqdn()]
    for host in extra:
        if host in ("0.0.0.0", "::", ""):  # every address: this machine's names above
            continue
        names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
    return list(dict.fromkeys(n.lower() for n in names if n))


def _run_place(guard: Guard) -> Any:
    """Where MCP's ``run`` runs tools, or None: not offered. A tool would execute on the
    daemon's machine, so only when ``[mcp] run = true`` says so; then each run in an
    empty temporary folder and without network (it could reach what only this machine
    can: other services, cloud metadata)."""
    from toolvault.mcpserver.backend import RunPlace

    section = guard.vault.config.raw_get("mcp") or {}
    wanted = section.get("run", False) if isinstance(section, dict) else None
    if not isinstance(wanted, bool):
        raise InvalidInput("config.toml: [mcp] run must be true or false, e.g. [mcp] run = true")
    return RunPlace(scratch=True, net_allowed=False) if wanted else None


def _configured(guard: Guard) -> list[str]:
    section = guard.vault.config.raw_get("mcp") or {}
    found = section.get("allowed_hosts", []) if isinstance(section, dict) else None
    if not isinstance(found, list) or not all(isinstance(h, str) for h in found):
        raise InvalidInput(
            "config.toml: [mcp] allowed_hosts must be a list of host names, such as "
            '["vault.example.com"]'
        )
    return found


class Authenticated:
    """The MCP endpoint behind the daemon's tokens: 401 without a valid one (unless reads
    are public), and the session bound to the token that opened it."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = dict(scope["headers"]).get(b"authorization")
        secret = bearer_secret(header.decode("latin-1") if header else None)
        try:
            self.guard.reader(secret)  # what the REST API's reads require
        except ToolvaultError as exc:
            await error_rendered(exc.http_status, exc.code, str(exc), exc.details).send(send)
            return
        if secret is not None:
            scope = {**scope, "user": _user(secret)}
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # a bug: the one error body if nothing was sent yet
            if started:
                raise
            logging.getLogger(__name__).exception("toolvault: /mcp failed")
            await internal_error(exc).send(send)


def _user(secret: str) -> Any:
    """The SDK's authenticated user for a token: the session manager refuses a session to
    any other token (identified by its hash, never the secret)."""
    return _user_of(hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest())


@functools.lru_cache(maxsize=256)
def _user_of(digest: str) -> Any:
    """Kept per token hash: only a name for it, given after the guard checked the token."""
    from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
    from mcp.server.auth.provider import AccessToken

    return AuthenticatedUser(AccessToken(token=digest, client_id=digest, scopes=[]))
