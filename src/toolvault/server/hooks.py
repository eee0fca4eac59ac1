"""The daemon's webhook endpoints (admin) and the live event stream (SPEC §15).

``GET /v1/events`` is Server-Sent Events: each event's ``id`` is its audit seq, so a
client that reconnects with ``Last-Event-ID`` resumes just after the last event it saw
(nothing missed, nothing twice). It wakes on this daemon's own commits at once and
looks at the database every ``[hooks] poll`` seconds for other daemons' writes.
Included by :func:`toolvault.server.app.create_app`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from toolvault.errors import InvalidInput
from toolvault.events.bell import BELL
from toolvault.events.model import EVENT_TYPES, EventFilter
from toolvault.server.app import ERRORS, Credentials, as_json, guard
from toolvault.server.schemas import Body
from toolvault.vault import Vault

router = APIRouter(responses=ERRORS)
KEEPALIVE = 15.0  # seconds between comments on an idle stream (proxies close silent ones)
TICK = 0.02  # how often an idle stream looks at this process's bell


class HookRequest(Body):
    """A new webhook endpoint."""

    url: str = Field(description="http(s) URL under [hooks] allow.")
    events: list[str] = Field(default_factory=list, description="Event types; empty: all.")
    tools: list[str] = Field(default_factory=list, description="Tool names; empty: all.")
    secret: str | None = Field(default=None, description="whsec_… (v1); made when absent.")
    sign: str | None = Field(default=None, description="A vault key's name (v1a) instead.")


class HookOut(BaseModel):
    """A webhook endpoint (never its secret)."""

    id: str
    url: str
    events: list[str]
    tools: list[str]
    signing: str
    key: str | None
    key_id: str | None
    public_key: str | None
    created_at: str
    created_by: str
    delivered_through: int
    state: str
    disabled_reason: str | None


class HookMade(HookOut):
    """A new endpoint with its secret, shown this once (null for a v1a hook)."""

    secret: str | None


class DeliveryOut(BaseModel):
    """A delivery with every attempt."""

    id: str
    hook: str
    seq: int
    state: str
    attempts: int
    next_at: str | None
    last_status: int | None
    last_error: str | None
    updated_at: str
    tried: list[dict[str, Any]]


@router.get("/v1/hooks", summary="Webhook endpoints (admin)", response_model=list[HookOut])
def list_hooks(request: Request, creds: Credentials) -> JSONResponse:
    """The shape of ``hook list --json``."""
    return as_json([h.to_dict() for h in guard(request).writer(creds).hooks()])


@router.post(
    "/v1/hooks", summary="Add a webhook endpoint (admin)", response_model=HookMade, status_code=201
)
def add_hook(request: Request, creds: Credentials, body: HookRequest) -> JSONResponse:
    """The secret is in this answer only; no later request returns it."""
    vault = guard(request).writer(creds)
    made, secret = vault.add_hook(
        body.url, body.events, body.tools, secret=body.secret, sign=body.sign
    )
    return JSONResponse({**made.to_dict(), "secret": secret}, status_code=201)


@router.get("/v1/hooks/{hook_id}", summary="One webhook endpoint (admin)", response_model=HookOut)
def show_hook(request: Request, creds: Credentials, hook_id: str) -> JSONResponse:
    """One endpoint, where its delivery stands."""
    return as_json(guard(request).writer(creds).hook(hook_id).to_dict())


@router.delete("/v1/hooks/{hook_id}", summary="Remove a webhook endpoint (admin)")
def remove_hook(request: Request, creds: Credentials, hook_id: str) -> JSONResponse:
    """The endpoint and its delivery records are gone; the audit log says who removed it."""
    gone = guard(request).writer(creds).remove_hook(hook_id)
    return as_json({**gone.to_dict(), "removed": True})


@router.get(
    "/v1/deliveries", summary="Webhook deliveries (admin)", response_model=list[DeliveryOut]
)
def deliveries(
    request: Request,
    creds: Credentials,
    hook: Annotated[str | None, Query(description="Only this endpoint's.")] = None,
    failed: Annotated[bool, Query(description="Only those whose last attempt failed.")] = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> JSONResponse:
    """Newest first, each with every attempt."""
    found = guard(request).writer(creds).hook_deliveries(hook, failed=failed, limit=limit)
    return as_json([d.to_dict() for d in found])


@router.post(
    "/v1/deliveries/{delivery}/redeliver",
    summary="Send a delivery again (admin)",
    response_model=DeliveryOut,
)
def redeliver(request: Request, creds: Credentials, delivery: str) -> JSONResponse:
    """Queued, due now; a webhook a failure disabled is enabled again."""
    return as_json(guard(request).writer(creds).redeliver(delivery).to_dict())


@router.get(
    "/v1/events",
    summary="The live event stream (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The events."}},
)
async def events(
    request: Request,
    creds: Credentials,
    after: Annotated[int | None, Query(ge=0, description="Start after this seq.")] = None,
    event: Annotated[list[str], Query(description=f"Types: {', '.join(EVENT_TYPES)}.")] = [],  # noqa: B006
    tool: Annotated[list[str], Query(description="Tool names.")] = [],  # noqa: B006
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Every audit entry after ``after`` (default: from now on) as it happens; a
    ``Last-Event-ID`` (the last ``id:`` seen) takes precedence, for resuming."""
    vault = await run_in_threadpool(guard(request).reader, creds)
    chosen = EventFilter.make(event, tool)
    start = _start(last_event_id, after)
    if start is None:
        start = await run_in_threadpool(vault.event_head)
    poll = await run_in_threadpool(_poll, vault)
    return StreamingResponse(
        _stream(vault, start, chosen, poll),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _start(last_event_id: str | None, after: int | None) -> int | None:
    if last_event_id is None:
        return after
    if not last_event_id.strip().isdigit():
        raise InvalidInput(
            f"Last-Event-ID must be an event's seq (a whole number), not {last_event_id[:40]!r}"
        )
    return int(last_event_id.strip())


def _poll(vault: Vault) -> float:
    from toolvault.events.settings import HookSettings

    return HookSettings.load(vault.config.raw_get("hooks")).poll


async def _stream(
    vault: Vault, cursor: int, chosen: EventFilter, poll: float
) -> AsyncIterator[bytes]:
    """The stream's bytes: events, and a comment when idle; ends when the client goes."""
    yield b"retry: 1000\n\n"
    quiet = time.monotonic()
    while True:
        seen = BELL.count
        found, through = await run_in_threadpool(vault.events_after, cursor, chosen)
        for e in found:
            data = json.dumps(e.to_dict(), separators=(",", ":"), ensure_ascii=False)
            yield f"id: {e.seq}\nevent: {e.type}\ndata: {data}\n\n".encode()
            quiet = time.monotonic()
        if through != cursor:
            cursor = through
            continue
        if time.monotonic() - quiet > KEEPALIVE:
            yield b": keep-alive\n\n"
            quiet = time.monotonic()
        deadline = time.monotonic() + poll
        while BELL.count == seen and time.monotonic() < deadline:
            await asyncio.sleep(TICK)
