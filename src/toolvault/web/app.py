"""The UI's Starlette app (mounted at ``/ui`` by :func:`toolvault.web.mount`): its routes,
its security headers, and its one way of answering a failure (an error page with the
status the API would answer).

Handlers are plain ``def`` functions: Starlette runs them in its thread pool, as FastAPI
runs the API's, and the store keeps one connection per thread.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from toolvault.errors import ToolvaultError, Unauthorized
from toolvault.web import audit, diffpage, forms, lineagepage, pages, params
from toolvault.web.render import HERE, SecurityHeaders, page
from toolvault.web.session import chrome

if TYPE_CHECKING:
    from toolvault.server.hot import Guard

log = logging.getLogger("toolvault.web")
Handler = Callable[["Guard", Request], Response]


def ui_app(guard: Guard) -> Starlette:
    """The UI's app over the daemon's guard."""
    get: list[tuple[str, Handler]] = [
        ("/", pages.tools),
        ("/tools/{name}", pages.tool),
        ("/tools/{name}/{number:int}", pages.version),
        ("/tools/{name}/{number:int}/raw", pages.raw),
        ("/tools/{name}/{number:int}/lineage", lineagepage.lineage),
        ("/diff", diffpage.diff),
        ("/audit", audit.audit),
        ("/signin", forms.signin_form),
    ]
    post: list[tuple[str, Handler]] = [
        ("/signin", forms.signin),
        ("/signout", forms.signout),
        ("/tools/{name}/label", forms.label),
        ("/tools/{name}/rollback", forms.rollback),
        ("/tools/{name}/deprecate", forms.deprecate),
        ("/tools/{name}/{number:int}/yank", forms.yank),
        ("/verify", audit.run_verify),
    ]
    routes: list[BaseRoute] = [Route(p, _bound(guard, h), methods=["GET", "HEAD"]) for p, h in get]
    routes += [Route(p, _bound(guard, h), methods=["POST"]) for p, h in post]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    app.add_middleware(SecurityHeaders)
    return app


def _bound(guard: Guard, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The handler with the guard, run in the thread pool (a form's fields read first,
    into ``request.state.form``), and a failure as the error page."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await request.body() if request.method == "POST" else b""
            request.state.form = params.form(body)
            return await run_in_threadpool(handler, guard, request)
        except Unauthorized as exc:
            if request.method == "GET" and not forms.signed_in(request):
                return forms.to_signin(request)  # a page to read: sign in first, then back
            return forms.signin_page(request, str(exc), status=401)
        except ToolvaultError as exc:
            return error_page(request, exc.http_status, str(exc))
        except Exception as exc:  # logged, and answered as a page with the UI's headers
            log.exception("the web UI failed on %s %s", request.method, request.url.path)
            name = type(exc).__name__
            return error_page(request, 500, f"internal error: {name}; the daemon's log has more")

    endpoint.__name__ = handler.__name__
    return endpoint


def error_page(request: Request, status: int, message: str) -> Response:
    """The error page: what went wrong, as the API would say it."""
    return page("error.html", status, status=status, message=message, **chrome(request))


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404, f"there is no page {request.url.path}")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return error_page(request, 405, f"{request.method} is not allowed on {request.url.path}")
