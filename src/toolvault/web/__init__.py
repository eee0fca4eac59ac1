"""The web UI for people (SPEC §14): pages under ``/ui/`` of ``toolvault serve``.

Server-rendered from Jinja2 templates (autoescaped) over the same :class:`Vault` calls as
the HTTP API, through the same guard: a page shows what the API would answer to the
same principal, and a form does what the API would let it do. Every page works without
JavaScript, nothing is loaded from another host, and the pages are in no OpenAPI
document. Jinja2, Pygments and the graphviz binding are imported here, never by the
command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from toolvault.server.hot import Guard


def mount(app: FastAPI, guard: Guard) -> None:
    """Serve the UI at ``/ui/`` of the daemon's ``app`` (``/`` redirects there)."""
    from starlette.responses import RedirectResponse
    from starlette.routing import Mount, Route

    from toolvault.web.app import ui_app

    async def home(request: object) -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    # Added as plain routes: no OpenAPI operation, and the API's query check skips them.
    app.router.routes.append(Route("/", home, include_in_schema=False))
    app.router.routes.append(Mount("/ui", app=ui_app(guard)))
