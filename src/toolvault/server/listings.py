"""The daemon's listings a page at a time: ``GET /v1/tools`` and ``GET /v1/audit``.

Without any of their page parameters they answer as they always have (every tool by name;
the whole log, or one tool's entries, oldest first). With one, they call the service
call the web UI's pages call (``Vault.tool_page``, ``Vault.audit_page``): filters and the
page are applied in the database, the body is the same list of items, and the number of
items matching in all is in the ``X-Total-Count`` header (a ``Link: <…>; rel="next"``
header names the next page while there is one).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from toolvault.server import schemas as s
from toolvault.server.app import ERRORS, All, Credentials, as_json, guard

router = APIRouter(responses=ERRORS)

Limit = Annotated[
    int | None,
    Query(ge=1, le=1_000, description="Items in the page (a page parameter; default: all)."),
]
Offset = Annotated[
    int | None, Query(ge=0, le=2**62, description="Items skipped first (a page parameter).")
]
Sort = Literal["name", "updated", "created", "owner"]
SORT = "A page parameter: name (default), updated or created (newest first), owner."
TOTAL = {
    "X-Total-Count": {"description": "With a page parameter: the items matching in all.",
                      "schema": {"type": "integer"}},
    "Link": {"description": 'With a page parameter, while more follow: <URL>; rel="next".',
             "schema": {"type": "string"}},
}  # fmt: skip


@router.get(
    "/v1/tools",
    summary="List tools (a page of them with filters), or every version with all=true",
    response_model=list[s.ToolOut] | list[s.ListedVersion],
    responses={200: {"headers": TOTAL}},
)
def list_tools(
    request: Request,
    creds: Credentials,
    every: All = False,
    limit: Limit = None,
    offset: Offset = None,
    sort: Annotated[Sort | None, Query(description=SORT)] = None,
    owner: Annotated[str | None, Query(max_length=200, description="A page parameter.")] = None,
    label: Annotated[
        str | None, Query(max_length=64, description="A page parameter: tools with this label.")
    ] = None,
    lifecycle: Annotated[
        Literal["active", "deprecated", "retired", "all"] | None,
        Query(description="A page parameter; default active and deprecated (as /v1/search)."),
    ] = None,
) -> JSONResponse:
    """The shape of ``ls --json``; with ``all=true`` that of ``ls --all --json``. Any page
    parameter (limit, offset, sort, owner, label, lifecycle) makes it the web UI's tools
    page as JSON: the same items, filtered and paged in the database (retired tools only
    with lifecycle=retired or all, as in a search)."""
    from toolvault.errors import InvalidInput

    vault = guard(request).reader(creds)
    paged = (limit, offset, sort, owner, label, lifecycle) != (None,) * 6
    if every:
        if paged:
            raise InvalidInput("all=true lists every version and takes no page parameters")
        return as_json(vault.all_version_listing())
    if not paged:
        return as_json([t.to_dict() for t in vault.tools()])
    found, total = vault.tool_page(
        lifecycle=lifecycle, owner=owner, label=label, sort=sort or "name",
        offset=offset or 0, limit=limit,
    )  # fmt: skip
    return _page(request, [t.to_dict() for t in found], total, offset or 0)


@router.get(
    "/v1/audit",
    summary="The audit log (a page of it with filters)",
    response_model=list[s.AuditOut],
    responses={200: {"headers": TOTAL}},
)
def audit(
    request: Request,
    creds: Credentials,
    tool: Annotated[str | None, Query(description="A tool name.", examples=["fmt"])] = None,
    actor: Annotated[
        str | None, Query(max_length=200, description="A page parameter: entries by this actor.")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=40, description="A page parameter: e.g. publish, label.")
    ] = None,
    limit: Limit = None,
    offset: Offset = None,
    newest_first: Annotated[
        bool | None, Query(description="A page parameter: newest entries first.")
    ] = None,
) -> JSONResponse:
    """Every entry, or the entries about one tool, oldest first. Any page parameter
    (actor, action, limit, offset, newest_first) makes it the web UI's audit page as
    JSON: filtered and paged in the database."""
    vault = guard(request).reader(creds)
    if (actor, action, limit, offset, newest_first) == (None,) * 5:
        return as_json([e.to_dict() for e in vault.audit(tool)])
    found = vault.audit_page(
        tool=tool, actor=actor, action=action, offset=offset or 0, limit=limit,
        newest_first=bool(newest_first),
    )  # fmt: skip
    return _page(request, [e.to_dict() for e in found.entries], found.total, offset or 0)


def _page(request: Request, items: list[dict[str, Any]], total: int, offset: int) -> JSONResponse:
    """A page of items with its total, and the next page's link while more follow."""
    response = as_json(items)
    response.headers["X-Total-Count"] = str(total)
    if items and offset + len(items) < total:
        following = request.url.include_query_params(offset=offset + len(items))
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response
