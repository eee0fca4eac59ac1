"""The HTTP daemon (SPEC §9): a FastAPI app over the same :class:`Vault` service.

The app has no logic of its own. Each request authenticates its bearer token,
takes a view of the vault acting for that principal (whose writes the service
checks against ownership, read-only tokens and admin rights), calls one
service method and renders the dataclass it returns with its ``to_dict()``.
Errors are translated in one place (:mod:`.failures`), to
``{"error": {"code", "message", "details"}}``.

Endpoints are plain ``def`` functions: FastAPI runs them in its thread pool, and
the store keeps one database connection per thread, so one vault serves them all.
The hot reads (``/commands/…``, ``/v1/content/…``, ``/v1/tools/NAME/versions``) are
answered before FastAPI's middleware by :mod:`toolvault.server.hot`, through the
same guard and the same service calls; their routes here document them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolvault import __version__
from toolvault import spec as specs
from toolvault.server import failures, hot, mcp_mount
from toolvault.server import schemas as s
from toolvault.server.failures import STATUS_CODES, error_response
from toolvault.server.hot import Guard
from toolvault.server.preconditions import STALE, expectations
from toolvault.server.queryparams import known_query
from toolvault.vault import NewVersion, Vault

# The largest tool is 1 MiB by default (max_tool_size); JSON may escape it to
# about twice that, plus the provenance fields around it.
MAX_BODY = 2 * 1024 * 1024 + 64 * 1024
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": s.ErrorBody, "description": code.replace("_", " ")}
    for status, code in STATUS_CODES.items()
    if status != 405
}

CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": s.ErrorBody, "description": "conflict"}}

bearer = HTTPBearer(auto_error=False, description="A token from 'toolvault token create'.")


async def _secret(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str | None:
    return creds.credentials if creds else None


# The bearer token's secret, None without one (documented as the HTTPBearer scheme).
Credentials = Annotated[str | None, Depends(_secret)]


def create_app(
    vault: Vault, *, public_read: bool = False, max_body: int = MAX_BODY, hosts: Sequence[str] = ()
) -> FastAPI:
    """The daemon's app over ``vault``; reads need a token unless ``public_read``; MCP at
    /mcp (``hosts``: the names it listens on). Bodies over ``max_body`` bytes: 413."""
    vault.config  # noqa: B018 -- read config.toml once; every per-request view shares it
    app = DaemonAPI(
        title="toolvault",
        version=__version__,
        summary="A versioned, tamper-evident registry for command-line tools.",
        description="See docs/api.md for the auth model and curl examples. A query "
        "parameter an operation does not list is refused with 400, never ignored.",
        dependencies=[Depends(known_query)],
    )
    app.state.guard = guard = Guard(vault, public_read)
    failures.install(app)
    from toolvault.server import lineage  # its routes take this module's shared parts
    from toolvault.server.grants import router as grants  # imports this module: here
    from toolvault.server.hooks import router as hooks
    from toolvault.server.listings import router as listings

    for router in (meta, listings, reads, writes, grants, lineage.router, hooks):
        app.include_router(router)
    from toolvault.web import mount  # the pages for people (SPEC §14), in no OpenAPI document

    mount(app, guard)
    app.add_middleware(BodyLimit, max_body=max_body)
    app.mcp = mcp_mount.mount(app, guard, hosts)
    app.hot_reads = hot.HotReads(guard, _hot_routes())
    _document_no_422(app)
    return app


class DaemonAPI(FastAPI):
    """The FastAPI app, with the hot reads and /mcp answered before its middleware."""

    hot_reads: hot.HotReads | None = None
    mcp: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.mcp is not None and scope["type"] == "http" and scope["path"] == mcp_mount.PATH:
            await self.mcp(scope, receive, send)  # its own errors, limits and tokens
            return
        found = self.hot_reads.match(scope) if self.hot_reads else None
        if found is None:
            await super().__call__(scope, receive, send)
        else:
            assert self.hot_reads is not None
            await self.hot_reads.serve(scope, send, *found)


def _hot_routes() -> list[hot.Route]:
    """The hot reads' routes, matched by their own compiled patterns (the routers are
    included without a prefix, so these are the app's paths)."""
    names = {commands: "commands", content: "content", tool_versions: "versions"}
    found = []
    for route in reads.routes:
        if isinstance(route, APIRoute) and route.endpoint in names:
            (param,) = route.param_convertors
            found.append(hot.Route(names[route.endpoint], route.path_regex, param))
    assert len(found) == len(names), found
    return found


def _document_no_422(app: FastAPI) -> None:
    """Validation errors are 400 here: drop the 422 FastAPI documents on every route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for item in schema["paths"].values():
                for operation in item.values():
                    operation["responses"].pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def guard(request: Request) -> Guard:
    """The app's guard (set by :func:`create_app`)."""
    found: Guard = request.app.state.guard
    return found


class BodyLimit:
    """Refuse request bodies over ``max_body`` bytes with 413, declared or as sent.

    A body is read whole (it is small by contract) and replayed to the app, so a
    client that sends more than it declares, or sends chunks, is counted too. The
    413 goes out as soon as the limit is known to be passed: before reading a body
    whose Content-Length is over it, at the chunk that passes it otherwise. What the
    client still sends is the HTTP server's to discard (uvicorn reads and drops the
    rest of a request answered early, so a client still sending reads the 413).
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: a GET, most of the time
            return
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            declared = int(length) if length.isdigit() else None  # without waiting for a byte
            await self._refuse(scope, receive, send, declared)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body:
                await self._refuse(scope, receive, send, size)
                return
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int | None) -> None:
        message = (
            f"the request body is over the daemon's limit of {self.max_body:,} bytes; "
            "publish large batches in several requests"
        )
        details = {"limit": self.max_body, "size": size}  # size: as declared, or so far
        await error_response(413, "too_large", message, details=details)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


# -- rendering ---------------------------------------------------------------------------


def as_json(data: Any) -> JSONResponse:
    """A ``to_dict()`` shape, sent as it is (the response models only document it)."""
    return JSONResponse(data)


CONTENT = {
    200: {
        "content": {"text/plain": {"schema": {"type": "string"}}},
        "description": "The version's content. Headers: X-Toolvault-Version (name:N@sha256:HEX), "
        "X-Toolvault-Executable (true|false), X-Toolvault-Yanked (the percent-encoded "
        "reason, when the version is yanked).",
    },
    **ERRORS,
}

# -- meta --------------------------------------------------------------------------------

meta = APIRouter()


@meta.get("/healthz", summary="Liveness (no token needed)", response_model=s.Health)
async def healthz() -> JSONResponse:
    """Answers ``{"ok": true}`` while the daemon runs."""
    return as_json({"ok": True})


# -- reads -------------------------------------------------------------------------------

reads = APIRouter(responses=ERRORS)
All = Annotated[bool, Query(alias="all", description="Every version of every tool.")]
Name = Annotated[str, Path(description="A tool name.", examples=["fmt"])]
SpecText = (
    "A spec: NAME, NAME:N, NAME:latest, NAME:previous, NAME:-K, NAME:LABEL or "
    "NAME@sha256:HEX (SPEC §2)."
)
SpecPath = Annotated[str, Path(description=SpecText, examples=["fmt:1"])]


@reads.get(
    "/v1/tools/{name}", summary="One tool: owner, lifecycle, labels", response_model=s.ToolDetail
)
def get_tool(request: Request, creds: Credentials, name: Name) -> JSONResponse:
    """The tool's summary with its lifecycle message and current labels."""
    vault = guard(request).reader(creds)
    tool = vault.tool(name)
    labels = [lab.to_dict() for lab in vault.labels(tool.name)]
    return as_json(
        {**tool.to_dict(), "lifecycle_message": tool.lifecycle_message, "labels": labels}
    )


@reads.get(
    "/v1/tools/{name}/versions",
    summary="Every version of a tool, oldest first",
    response_model=list[s.ListedVersion],
)
async def tool_versions(request: Request, creds: Credentials, name: Name) -> Response:
    """The version listing (``versions NAME --json``)."""
    return (await hot.answer(guard(request), "versions", name, creds)).response()


@reads.get(
    "/v1/versions/{spec:path}",
    summary="A version's metadata by any spec",
    response_model=s.Described,
)
def describe(request: Request, creds: Credentials, spec: SpecPath) -> JSONResponse:
    """What ``show --json`` prints: fields, signature status, yank, labels and tool."""
    return as_json(guard(request).reader(creds).describe(spec))


@reads.get("/v1/content/{spec:path}", summary="A version's raw content", responses=CONTENT)
async def content(request: Request, creds: Credentials, spec: SpecPath) -> Response:
    """The bytes of the version a spec names, as ``toolvault cat`` prints them."""
    return (await hot.answer(guard(request), "content", spec, creds)).response()


@reads.get(
    "/commands/{spec:path}",
    summary="The design's path form: NAME, NAME:SELECTOR, NAME:versions",
    responses={
        **CONTENT,
        200: {
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
            "description": "Raw content, or for NAME:versions the version listing as JSON "
            "(the items of /v1/tools/{name}/versions). Same headers as /v1/content.",
        },
    },
)
async def commands(request: Request, creds: Credentials, spec: SpecPath) -> Response:
    """``/commands/fmt``, ``/commands/fmt:2``, ``/commands/fmt:stable``: raw content."""
    return (await hot.answer(guard(request), "commands", spec, creds)).response()


@reads.get("/v1/diff", summary="Unified diff between two versions", response_model=s.DiffOut)
def diff(
    request: Request,
    creds: Credentials,
    old: Annotated[
        str, Query(description="A spec; alone, it is diffed with its previous.", examples=["fmt:1"])
    ],
    new: Annotated[str | None, Query(description="A spec.", examples=["fmt:2"])] = None,
    context: Annotated[int, Query(ge=0, le=100_000)] = 3,
) -> JSONResponse:
    """From ``old`` to ``new``, or from ``old``'s previous version to ``old``."""
    vault = guard(request).reader(creds)
    return as_json(vault.diff(old, new, context=context).to_dict())


@reads.get(
    "/v1/checkpoint",
    summary="The audit log's signed head, and the entries since a head seen before",
    response_model=s.CheckpointServed,
)
def checkpoint(
    request: Request,
    creds: Credentials,
    since: Annotated[
        int | None,
        Query(ge=0, le=2**31 - 1, description="The seq of the last head this client saw."),
    ] = None,
) -> JSONResponse:
    """Clients remember the last head they saw and refuse a daemon whose log no longer
    extends it (a rollback or a fork): the entries from ``since`` let them check."""
    from toolvault.checkpoints import served

    return as_json(served(guard(request).reader(creds), since))


@reads.get(
    "/v1/verify", summary="Check hashes, chains, audit log, signatures", response_model=s.ReportOut
)
def verify(
    request: Request,
    creds: Credentials,
    name: Annotated[list[str] | None, Query(description="Tools to check (default all).")] = None,
) -> JSONResponse:
    """Always 200: ``ok`` says whether problems were found, ``problems`` lists them."""
    # kept as the last report, for the web UI's audit page (toolvault.lastverify)
    return as_json(guard(request).reader(creds).verify_kept(name or ()).to_dict())


@reads.get(
    "/v1/search", summary="Ranked full-text search (SPEC §10)", response_model=list[s.SearchOut]
)
def search(
    request: Request,
    creds: Credentials,
    q: Annotated[str, Query(description="A query (SPEC §10).", examples=["csv summary"])],
    field: Annotated[list[str] | None, Query(description="Fields unqualified words match.")] = None,
    all_versions: bool = False,
    lifecycle: Annotated[str | None, Query(description="active, deprecated, retired, all")] = None,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 20,
) -> JSONResponse:
    """Tools matching ``q``, best first; a malformed query is 400."""
    vault = guard(request).reader(creds)
    found = vault.search(
        q, fields=field or (), all_versions=all_versions, lifecycle=lifecycle, limit=limit
    )
    return as_json([r.to_dict() for r in found])


@reads.get(
    "/v1/packs",
    summary="Export a tool pack (for 'toolvault ingest --url')",
    responses={
        200: {"content": {"application/gzip": {}}, "description": "A toolvault-pack/1 archive."},
    },
)
def export_pack(
    request: Request,
    creds: Credentials,
    spec: Annotated[
        list[str] | None, Query(description="NAME (every version) or NAME:SEL.")
    ] = None,
    every: All = False,
    pack_name: Annotated[
        str | None,
        Query(description="Default: toolvault-export for all=true, else one name per selection."),
    ] = None,
    pack_version: Annotated[
        int | None, Query(ge=1, description="Not accepted: the version is the vault's.")
    ] = None,
) -> Response:
    """The vault as it stands, packed and recorded nowhere (a read writes nothing): the
    pack version is the vault's newest audit sequence number, so the same selection of
    the same state is the same pack, and any change makes a newer one."""
    from toolvault.errors import InvalidInput
    from toolvault.sources import packs

    if every == bool(spec):
        raise InvalidInput("give spec=NAME or spec=NAME:SEL (repeatable) or all=true, not both")
    if pack_version is not None:
        raise InvalidInput(
            "pack_version cannot be chosen here: a daemon's pack takes the vault's newest "
            "audit sequence number; 'toolvault pack export --pack-version N' on the vault "
            "itself chooses one"
        )
    vault = guard(request).reader(creds)
    selection = spec or ()
    name = pack_name or packs.default_pack_name(selection)
    data, number = packs.snapshot_export(vault, selection, name)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}-{number}.tar.gz"',
        "X-Toolvault-Pack-Version": str(number),
    }
    return Response(data, media_type="application/gzip", headers=headers)


# -- writes ------------------------------------------------------------------------------

writes = APIRouter(responses={**ERRORS, **CONFLICT})


@writes.post(
    "/v1/publish",
    summary="Publish versions (all or none)",
    response_model=list[s.PublishedOut],
    responses=STALE,
)
def publish(request: Request, creds: Credentials, body: s.PublishRequest) -> JSONResponse:
    """Each item becomes the next version of its tool, by the token's principal."""
    vault = guard(request).writer(creds)
    items = expectations(request.headers, body.items, [_new_version(i) for i in body.items])
    results = vault.publish_many(items, sign_with=body.sign_with)
    return as_json([r.to_dict() for r in results])


def _new_version(item: s.PublishItem) -> NewVersion:
    return NewVersion(
        item.name,
        item.content.encode("utf-8"),
        executable=item.executable,
        owner=item.owner,
        origin=item.origin,
        created_at=item.created_at,
        session_id=item.session_id,
        prompt=item.prompt,
        message=item.message,
        description=item.description,
        usage=item.usage,
        created_by=item.created_by,  # kept as claimed_by when not the principal
        references=tuple(item.references or ()),
        transforms=tuple(item.transforms or ()),
        allow_dangling=item.allow_dangling,
    )


@writes.post(
    "/v1/tools/{name}/rollback",
    summary="Publish an earlier version's content again",
    response_model=s.PublishedOut,
)
def rollback(
    request: Request, creds: Credentials, name: Name, body: s.RollbackRequest
) -> JSONResponse:
    """``version`` is a number or any selector of the tool (previous, -2, a label…)."""
    result = guard(request).writer(creds).rollback(name, body.version, message=body.message)
    return as_json(result.to_dict())


@writes.post("/v1/labels", summary="Set or move a label", response_model=s.LabelOut)
def set_label(request: Request, creds: Credentials, body: s.LabelRequest) -> JSONResponse:
    """Point the label of the spec's tool at the spec's version."""
    return as_json(guard(request).writer(creds).label(body.spec, body.label).to_dict())


@writes.delete(
    "/v1/tools/{name}/labels/{label}", summary="Delete a label", response_model=s.LabelDeleted
)
def delete_label(
    request: Request,
    creds: Credentials,
    name: Name,
    label: Annotated[str, Path(examples=["stable"])],
) -> JSONResponse:
    """Remove a label of a tool."""
    guard(request).writer(creds).delete_label(name, label)
    return as_json({"name": specs.parse_name(name), "label": label, "deleted": True})


@writes.post("/v1/yank", summary="Yank a version", response_model=s.YankOut)
def yank(request: Request, creds: Credentials, body: s.YankRequest) -> JSONResponse:
    """latest, previous and -K skip a yanked version from now on; it stays readable."""
    return as_json(guard(request).writer(creds).yank(body.spec, body.reason).to_dict())


@writes.post(
    "/v1/tools/{name}/lifecycle",
    summary="Deprecate, retire or reactivate a tool",
    response_model=s.ToolOut,
)
def lifecycle(
    request: Request, creds: Credentials, name: Name, body: s.LifecycleRequest
) -> JSONResponse:
    """Set the tool's lifecycle, with an optional message."""
    vault = guard(request).writer(creds)
    return as_json(vault.set_lifecycle(name, body.lifecycle, body.message).to_dict())


@writes.post("/v1/tools/{name}/owner", summary="Transfer a tool", response_model=s.ToolOut)
def owner(request: Request, creds: Credentials, name: Name, body: s.OwnerRequest) -> JSONResponse:
    """Make ``owner`` the owner (the current owner or an admin may)."""
    return as_json(guard(request).writer(creds).transfer(name, body.owner).to_dict())
