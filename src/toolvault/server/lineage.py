"""The daemon's lineage routes (SPEC §11): ``GET /v1/refs/{spec}`` with ``depth`` for the
lineage graph, and ``POST /v1/diff`` for a version against content not yet published.

Included by :func:`toolvault.server.app.create_app`; imported there when the app is
made, as this module takes the app's shared parts (the guard, the bearer dependency).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from toolvault import lineage_json
from toolvault.server import schemas as s
from toolvault.server.app import ERRORS, Credentials, SpecPath, as_json, guard

router = APIRouter(responses=ERRORS)


class NodeOut(BaseModel):
    """A version of a lineage graph."""

    ref: str
    name: str
    version: int
    sha256: str
    created_at: str
    created_by: str | None
    owner: str | None
    session_id: str | None
    prompt: str | None
    message: str | None
    yanked: str | None = Field(description="The yank's reason, null when not yanked.")
    depth: int = Field(description="Levels from the root (0: the root).")
    truncated: bool = Field(description="The depth asked for stopped the walk here.")


class EdgeOut(BaseModel):
    """A stored reference, from the version holding it to the version it names."""

    from_: str = Field(alias="from")
    to: str = Field(description="The pinned ref reached, or the stored text if none is.")
    status: Literal["exact", "changed", "dangling", "resolves"]
    ref: str = Field(description="The reference as stored.")


class LineageOut(BaseModel):
    """A lineage graph: each version once, root first, then by depth."""

    root: str
    direction: Literal["ancestors", "descendants"]
    depth: int | Literal["all"]
    nodes: list[NodeOut]
    edges: list[EdgeOut]


class ContentDiffOut(BaseModel):
    """A version diff whose new side is not published (``new`` is null)."""

    old: str
    new: None
    file: str
    sha256: str = Field(description="The unpublished content's hash.")
    size: int
    added: int
    removed: int
    diff: str
    old_version: s.VersionOut
    new_version: None


class ContentDiffRequest(s.Body):
    """A version and the content to compare it with."""

    old: str = Field(description="A spec: the published side.", examples=["fmt:2"])
    content: str = Field(description="The unpublished text (UTF-8, no NUL byte).")
    file: str = Field("unpublished", description="Where the content came from, to show.")
    # strict: JSON true is not 1 line, nor "3" (as GET /v1/diff's context is a query's text)
    context: int = Field(3, ge=0, le=100_000, strict=True, description="Lines of context.")


Depth = Annotated[
    str | None,
    Query(
        description="Follow references this many levels (a number, or all): the lineage "
        "graph. Without it, one level in the shape of refs --json.",
        examples=["3", "all"],
    ),
]


@router.get(
    "/v1/refs/{spec:path}",
    summary="What a version references, or what references it; with depth, the graph",
    response_model=LineageOut | dict[str, Any],
)
def refs(
    request: Request,
    creds: Credentials,
    spec: SpecPath,
    reverse: bool = False,
    depth: Depth = None,
) -> Response:
    """The shape of ``refs [--reverse] --json``; with ``depth``, of ``refs --depth N --json``
    (``{"nodes", "edges"}``, see LineageOut)."""
    vault = guard(request).reader(creds)
    if depth is None:
        return as_json(vault.refs_report(spec, reverse))
    graph = vault.lineage(spec, depth, reverse)
    if indented(request.headers.get("accept", "")):  # the remote refs --depth --json
        return Response(lineage_json.dumps(graph).encode(), media_type="application/json")
    # what as_json(graph.to_dict()) sends, in half the time (10,000 nodes: 6.6 MB)
    return Response(lineage_json.compact(graph).encode(), media_type="application/json")


def indented(accept: str) -> bool:
    """Whether ``Accept`` asks for JSON indented by 2 (``application/json; indent=2``, as
    Django REST framework reads it): the graph's answer is then the very text ``refs
    --depth N --json`` prints, which the remote command line checks and prints as it came
    (encoding it again cost it more than the walk's query). Other answers are compact."""
    for media in accept.split(","):
        kind, *params = (p.strip().replace(" ", "") for p in media.split(";"))
        if kind.lower() == "application/json" and "indent=2" in params:
            return True
    return False


@router.post(
    "/v1/diff",
    summary="Unified diff of a version against unpublished content",
    response_model=ContentDiffOut,
)
def diff_content(request: Request, creds: Credentials, body: ContentDiffRequest) -> JSONResponse:
    """What ``diff SPEC FILE --json`` prints: a read, sent as a POST for its body."""
    vault = guard(request).reader(creds)
    found = vault.diff_content(body.old, body.content, file=body.file, context=body.context)
    return as_json(found.to_dict())
