"""Query parameters a route does not declare are refused (400), never ignored (SPEC §10).

A daemon that ignored ``GET /v1/tools?q=csv`` answered every tool, and the program that
sent it believed it had filtered. So every API route checks the names of the request's
query parameters against those it declares (the same list ``/openapi.json`` documents),
and answers 400 naming the unknown ones and the known ones.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from toolvault.errors import InvalidInput


def declared(route: APIRoute) -> frozenset[str]:
    """The query parameter names a route takes, its dependencies' included (by alias: the
    name on the wire). Not cached: routes are unhashable, the walk is a few attribute
    reads, and it runs only for a request that has a query string."""
    return frozenset(_names(route.dependant))


def _names(dependant: Dependant) -> set[str]:
    # Walked here: FastAPI's own flattening helper is private and has moved between versions.
    found = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        found |= _names(sub)
    return found


async def known_query(request: Request) -> None:
    """A dependency of every route: refuse a query parameter the route does not take."""
    if not request.scope.get("query_string"):
        return  # the usual request: nothing to look at
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = declared(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) if allowed else "no query parameters"
        shown = ", ".join(repr(u[:40]) for u in unknown[:5])
        raise InvalidInput(
            f"{request.method} {route.path} does not take the query parameter(s) {shown}; "
            f"it takes {takes} (see /openapi.json)"
        )
