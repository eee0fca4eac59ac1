"""The daemon's hot reads, answered before FastAPI's middleware and routing.

``GET /commands/{spec}``, ``GET /v1/content/{spec}`` and ``GET /v1/tools/{name}/versions``
are what agents and the remote CLI fetch all the time. Going through FastAPI's
middleware, router, dependency solver and response classes cost several times
what the service call itself costs, so the app (``server.app.DaemonAPI``) asks
:class:`HotReads` first: it matches these paths with the routes' own compiled
patterns and answers them with raw ASGI messages. It has no logic of its own
either: the same guard authenticates the token, the same ``Vault`` methods
answer, errors become the same ``{"error": {...}}`` body, and the routes stay
declared in the app, where they document these reads in ``/openapi.json`` and
call the same :func:`answer`. (FastAPI's own OpenTelemetry instrumentation,
when configured, does not see these requests.)

What the hot reads compute is kept (:class:`Fresh`) only while the database is
unchanged: on SQLite the store's change marker (``PRAGMA data_version``) is
read on every request, so a publish, a yank or a token revocation by any
process is seen by the very next request. On PostgreSQL nothing is kept:
several daemons share the database and there is no cheap marker of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Scope, Send

from toolvault import spec as specs
from toolvault.errors import ToolvaultError, Unauthorized
from toolvault.spec import Kind

if TYPE_CHECKING:
    from toolvault.store.base import SQLStore
    from toolvault.vault import Vault


T = TypeVar("T")
TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"
# Starlette's JSONResponse encoding, with one encoder made once (the C encoder).
ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
# Header values are ASCII without controls: a yank reason is percent-encoded (UTF-8).
HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
KEEP_BYTES = 32 * 1024 * 1024  # what Fresh keeps at most, per thread
BODY_HEADERS = (b"content-length", b"transfer-encoding")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A whole response: status, headers (content type and length included), body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @classmethod
    def of(
        cls, status: int, body: bytes, media_type: bytes, extra: Sequence[tuple[bytes, bytes]] = ()
    ) -> Rendered:
        """Headers in Starlette's order: the extra ones, length, type."""
        length = (b"content-length", str(len(body)).encode())
        return cls(status, (*extra, length, (b"content-type", media_type)), body)

    def response(self) -> Response:
        """The same response for a FastAPI route."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in self.headers}
        return Response(self.body, status_code=self.status, headers=headers)

    async def send(self, send: Send) -> None:
        """Send it as ASGI messages."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def json_rendered(data: Any, status: int = 200) -> Rendered:
    """A JSON body, encoded once."""
    return Rendered.of(status, ENCODER.encode(data).encode("utf-8"), JSON)


def error_rendered(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Rendered:
    """The one error shape ``{"error": {"code", "message", "details"}}``, with
    ``WWW-Authenticate`` on 401."""
    error = {"code": code, "message": message, "details": details or {}}
    body = ENCODER.encode({"error": error}).encode("utf-8")
    extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
    return Rendered.of(status, body, JSON, extra)


def internal_error(exc: BaseException) -> Rendered:
    """What a client sees of an unexpected error (the daemon's log has the rest)."""
    message = f"internal error: {type(exc).__name__}; the daemon's log has the details"
    return error_rendered(500, "internal", message)


def bearer_secret(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, parsed as FastAPI's
    ``HTTPBearer(auto_error=False)`` parses it; None when there is none."""
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if not (scheme and secret) or scheme.lower() != "bearer":
        return None
    return secret


def _authorization(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return None


# -- what the hot reads answer -------------------------------------------------------------


def content(vault: Vault, spec: str, *, listing: bool = False) -> Rendered:
    """A version's raw bytes with its identity in headers; ``NAME:versions`` lists
    the versions when ``listing`` (the path form ``/commands/NAME:versions``)."""
    parsed = specs.parse(spec)
    if listing and parsed.kind is Kind.VERSIONS:
        return json_rendered(vault.version_listing(parsed.name))
    version = vault.cat(parsed)
    headers = [
        (b"x-toolvault-version", version.ref.encode("latin-1")),
        (b"x-toolvault-executable", b"true" if version.executable else b"false"),
    ]
    if parsed.pinned:  # relative specs skip yanks: only a pinned one can name a yanked version
        yanked = vault.yank_of(version)
        if yanked is not None:
            reason = quote(yanked.reason, safe=HEADER_SAFE)
            headers.append((b"x-toolvault-yanked", reason.encode("latin-1")))
    assert version.content is not None
    return Rendered.of(200, version.content, TEXT, headers)


def commands(vault: Vault, spec: str) -> Rendered:
    """``/commands/NAME:SEL``: content, or the listing for ``NAME:versions``."""
    return content(vault, spec, listing=True)


def versions(vault: Vault, name: str) -> Rendered:
    """``/v1/tools/NAME/versions``: the version listing."""
    return json_rendered(vault.version_listing(name))


ANSWERS: dict[str, Callable[[Vault, str], Rendered]] = {
    "commands": commands,
    "content": content,
    "versions": versions,
}


# -- keeping what was read -------------------------------------------------------------------


class Fresh:
    """Results read from the database, kept while it stays unchanged.

    Every lookup first reads the store's change marker; when it differs from the
    one the kept results were read under, they are all dropped. Results are kept
    per thread, because the marker is per connection and a store has one
    connection per thread. A store without a marker (PostgreSQL) keeps nothing.
    """

    def __init__(self, store: SQLStore, max_bytes: int = KEEP_BYTES) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.local = threading.local()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The kept result for ``key``, or ``compute()`` (kept unless it is None)."""
        marker = self.store.change_marker()
        if marker is None:
            return compute()
        local = self.local
        if getattr(local, "marker", None) != marker:
            local.marker, local.kept, local.size = marker, {}, 0
        kept: dict[Hashable, Any] = local.kept
        found = kept.get(key)
        if found is None:
            found = compute()
            size = _size_of(found)
            if found is not None and size <= self.max_bytes:
                kept[key] = found
                local.size += size
                while local.size > self.max_bytes:  # oldest first
                    oldest = next(iter(kept))
                    local.size -= _size_of(kept.pop(oldest))
        return found


def _size_of(value: object) -> int:
    return len(value.body) + 256 if isinstance(value, Rendered) else 64


# -- who asks ------------------------------------------------------------------------------


class Guard:
    """Who a request acts for: its bearer token, checked against the vault's tokens.

    The principal of a token is kept (under the token's hash, not the token) while
    the database is unchanged, so a revocation is seen by the next request."""

    def __init__(self, vault: Vault, public_read: bool) -> None:
        self.vault = vault
        self.public_read = public_read
        self.fresh = Fresh(vault.store)

    def reader(self, secret: str | None) -> Vault:
        """The vault for a read: the token's principal, or anyone with ``--public-read``."""
        if secret is None and self.public_read:
            return self.vault
        return self.writer(secret)

    def writer(self, secret: str | None) -> Vault:
        """The vault acting for the token's principal; 401 without a valid token."""
        if secret is None:
            raise Unauthorized(
                "this request needs a bearer token (Authorization: Bearer <token>); "
                "'toolvault token create --principal NAME' makes one",
                {"token": "missing"},
            )
        key = ("token", hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest())
        view = self.fresh.get(key, lambda: self._view(secret))
        if view is None:
            raise Unauthorized(
                "the bearer token is unknown or revoked", {"token": "unknown_or_revoked"}
            )
        return view

    def _view(self, secret: str) -> Vault | None:
        principal = self.vault.authenticate(secret)
        return None if principal is None else self.vault.as_principal(principal)


# -- the middleware --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """A hot route: its name in ANSWERS, the route's compiled pattern, its parameter."""

    name: str
    pattern: re.Pattern[str]
    param: str


class HotReads:
    """Which requests are hot reads, and how they are answered.

    A hot read is a GET without a body (a body goes through the app, whose size
    limit refuses it as before) on one of the hot routes.
    """

    def __init__(self, guard: Guard, routes: Sequence[Route]) -> None:
        self.guard = guard
        self.routes = tuple(routes)

    def match(self, scope: Scope) -> tuple[str, str] | None:
        """The hot route's name and parameter for a request, or None."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            return None
        if scope.get("query_string"):  # none of these takes one: the app refuses it (400)
            return None
        path = scope["path"]
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if any(k in BODY_HEADERS and v != b"0" for k, v in scope["headers"]):
                    return None
                return route.name, found[route.param]
        return None

    async def serve(self, scope: Scope, send: Send, name: str, value: str) -> None:
        """Answer a matched request. An unexpected error is answered with the one error
        shape too, then raised for the server to log (as Starlette's own handler does)."""
        try:
            rendered = await answer(self.guard, name, value, bearer_secret(_authorization(scope)))
        except Exception as exc:
            await internal_error(exc).send(send)
            raise
        await rendered.send(send)


async def answer(guard: Guard, name: str, value: str, secret: str | None) -> Rendered:
    """The response of hot route ``name`` (in ANSWERS) for its parameter and a token.

    On SQLite a read takes tens of microseconds: it runs right on the event loop,
    which is cheaper than the hop to a worker thread. On PostgreSQL a read waits on
    the network, so it goes to a worker thread as sync endpoints do."""
    if guard.vault.store.dialect == "sqlite":
        return _answer(guard, name, value, secret)
    return await run_in_threadpool(_answer, guard, name, value, secret)


def _answer(guard: Guard, name: str, value: str, secret: str | None) -> Rendered:
    try:
        vault = guard.reader(secret)
        read = ANSWERS[name]
        return guard.fresh.get((name, value), lambda: read(vault, value))
    except ToolvaultError as exc:
        return error_rendered(exc.http_status, exc.code, str(exc), exc.details)
