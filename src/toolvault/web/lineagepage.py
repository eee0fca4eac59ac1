"""The lineage around a version (``/ui/tools/NAME/N/lineage``): its ancestors (what it
references, transitively) and its descendants (what references it), each drawn as an
SVG graph by ``dot``, or listed, indented, where ``dot`` is missing. It reads what
``GET /v1/refs/SPEC?depth=`` serves (:meth:`Vault.lineage`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from toolvault.web import graph, params
from toolvault.web.render import markup, page
from toolvault.web.session import chrome, who

if TYPE_CHECKING:
    from toolvault.server.hot import Guard

DEPTHS = ("1", "2", "3", "5", "10", "all")
MAX_NODES = 2_000  # a page lists at most this many versions: ask for a smaller depth


def lineage(guard: Guard, request: Request) -> Response:
    """Ancestors and descendants of a version, to a depth (default 3)."""
    reader = who(guard, request)
    vault = reader.vault
    spec = f"{request.path_params['name']}:{request.path_params['number']}"
    depth = params.choice(request, "depth", DEPTHS, "3")
    shown = vault.get(spec)
    sides = []
    for reverse in (False, True):
        found = vault.lineage(spec, depth, reverse, max_nodes=MAX_NODES)
        drawn = graph.svg(found)
        sides.append({
            "title": "Descendants: what references it" if reverse
            else "Ancestors: what it references",
            "graph": found, "svg": markup(drawn) if drawn else None,
            "listed": graph.items(found),
        })  # fmt: skip
    return page(
        "lineage.html", v=shown, sides=sides, depth=depth, depths=DEPTHS,
        **chrome(request, reader),
    )  # fmt: skip
