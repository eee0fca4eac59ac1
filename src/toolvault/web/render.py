"""Rendering pages: the Jinja2 environment (autoescaping on), the security headers of
every response of the UI, and the filters the templates share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).parent
# Nothing from another host, no inline script or style, no framing, forms to this site.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Add the UI's security headers to every response (pages, files, redirects, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0] not in dict(HEADERS)]
                message["headers"] = [*kept, *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template: a user-supplied string is always escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        short=lambda sha: sha[:12] if sha else "",
        when=when,
        excerpt=excerpt,
        q=lambda value: quote(str(value), safe=":@"),
        plural=lambda n, word: f"{n:,} {word}{'' if n == 1 else 's'}",
        detail=detail,
    )
    env.globals.update(url=url)
    return env


def when(stamp: str | None) -> str:
    """An ISO time as people read it: ``2025-03-01 14:02 UTC`` (the full stamp is in a
    title attribute where the template wants it)."""
    if not stamp:
        return ""
    found = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)", stamp)
    return f"{found[1]} {found[2]} UTC" if found else stamp


def excerpt(text: str | None, limit: int = 140) -> str:
    """The first ``limit`` characters of a text on one line, with … when cut."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def detail(value: Any) -> str:
    """An audit entry's detail as a cell shows it: a hash cut to 12 digits, text cut."""
    text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text[:12]
    return excerpt(text, 80)


def url(path: str, **query: Any) -> str:
    """A UI path with a query string of the parameters that have a value."""
    kept = {k: v for k, v in query.items() if v not in (None, "", False)}
    return f"/ui{path}" + (f"?{urlencode(kept)}" if kept else "")


ENV = _environment()


def page(template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    """A rendered page."""
    html = ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=http_status, headers={"cache-control": "no-store"})


def markup(html: str) -> Markup:
    """HTML that toolvault made itself (highlighted code, a diff, an SVG), marked safe
    for the templates: everything in it that came from a user was escaped on the way."""
    return Markup(html)
