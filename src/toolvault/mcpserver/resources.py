"""The MCP resources and the ``improve_tool`` prompt.

- ``toolvault://tools``: the index (every tool with its latest version's ref), JSON;
- ``toolvault://tools/{name}``: one tool and its versions, JSON;
- ``toolvault://versions/{name}/{version}``: one version's content, immutable (a
  version never changes), with a MIME type from its shebang.

A failure is a JSON-RPC error whose ``data`` is the one error shape of SPEC §11.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.prompts.base import Message, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, Annotations

from toolvault import contextdoc
from toolvault.errors import InvalidInput, ToolvaultError
from toolvault.mcpserver import reading
from toolvault.mcpserver.backend import Backend
from toolvault.mcpserver.errors import error_body

RESOURCE_NOT_FOUND = -32002  # the protocol's code for a resource that does not exist
HEADERS: contextvars.ContextVar[Any] = contextvars.ContextVar("toolvault_mcp_headers", default=None)
VERSION_URI = re.compile(r"toolvault://versions/[^/]+/[^/]+")
MIME = {
    "python": "text/x-python",
    "bash": "text/x-shellscript",
    "sh": "text/x-shellscript",
    "zsh": "text/x-shellscript",
    "javascript": "text/javascript",
    "typescript": "text/x-typescript",
    "ruby": "text/x-ruby",
    "perl": "text/x-perl",
}


def mime_type(text: str) -> str:
    """The MIME type a version's shebang says (``text/plain`` without one)."""
    return MIME.get(contextdoc._language(text), "text/plain")


def protocol_error(exc: ToolvaultError) -> MCPError:
    """A ToolvaultError as a JSON-RPC error carrying its code and details."""
    number = (
        RESOURCE_NOT_FOUND
        if exc.code == "not_found"
        else INVALID_PARAMS
        if isinstance(exc, InvalidInput)
        else INTERNAL_ERROR
    )
    return MCPError(number, str(exc), error_body(exc.code, str(exc), exc.details)["error"])


async def answer(fn: Callable[[], Any]) -> Any:
    """Run blocking vault work on a worker thread; errors as coded protocol errors."""
    try:
        return await anyio.to_thread.run_sync(fn)
    except ToolvaultError as exc:
        raise protocol_error(exc) from None


async def remember_headers(ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
    """Server middleware: this request's HTTP headers, for the static resource (which the
    SDK calls without a Context) to authenticate with as the tools do."""
    token = HEADERS.set(getattr(ctx.request, "headers", None))
    try:
        result = await call_next(ctx)
    except MCPError as exc:  # the SDK's own refusals (a URI with "..") get the shape too
        if ctx.method != "resources/read" or (isinstance(exc.data, dict) and "code" in exc.data):
            raise
        code = "not_found" if exc.code == RESOURCE_NOT_FOUND else "invalid_input"
        raise MCPError(exc.code, exc.message, error_body(code, exc.message)["error"]) from None
    finally:
        HEADERS.reset(token)
    if ctx.method == "resources/read" and result is not None:
        _typed(result)
    return result


def _typed(result: Any) -> None:
    """A version's content gets the MIME type of its shebang (a template has one type).
    The result is already the wire's dict here."""
    for item in result.get("contents", ()) if isinstance(result, dict) else ():
        text = item.get("text")
        if VERSION_URI.fullmatch(str(item.get("uri"))) and isinstance(text, str):
            item["mimeType"] = mime_type(text)


def register(server: MCPServer, backend: Backend) -> None:
    """Add the resources, templates and prompt to ``server``."""

    @server.resource(
        "toolvault://tools",
        name="tools",
        description="Every tool with its latest version's pinned ref (JSON).",
        mime_type="application/json",
    )
    async def tools_index() -> str:
        vault = backend.reader(HEADERS.get())
        found = await answer(lambda: reading.list_tools(vault))
        return json.dumps(found.model_dump(), ensure_ascii=False)

    @server.resource(
        "toolvault://tools/{name}",
        name="tool",
        description="One tool: owner, lifecycle, and its versions by pinned ref (JSON).",
        mime_type="application/json",
    )
    async def tool(name: str, ctx: Context) -> str:
        vault = backend.reader(ctx.headers)
        found = await answer(lambda: _tool(vault, name))
        return json.dumps(found, ensure_ascii=False)

    @server.resource(
        "toolvault://versions/{name}/{version}",
        name="version",
        description="The content of version N of a tool; immutable (a version never "
        "changes). Its MIME type follows its shebang.",
        mime_type="text/plain",
        annotations=Annotations(priority=0.5),
    )
    async def version(name: str, version: str, ctx: Context) -> str:
        vault = backend.reader(ctx.headers)
        return str(await answer(lambda: _content(vault, name, version)))

    _register_prompt(server, backend)


def _tool(vault: Any, name: str) -> dict[str, Any]:
    tool = vault.tool(name)
    return {**tool.to_dict(), **reading.versions(vault, name).model_dump()}


def _content(vault: Any, name: str, number: str) -> str:
    if not number.isdigit() or number.startswith("0"):
        raise InvalidInput(
            f"a version in toolvault://versions/{name}/VERSION is a number such as 1, "
            f"not {number!r} (versions by number are immutable; labels move)"
        )
    text: str = vault.cat(f"{name}:{number}").text
    return text


def _register_prompt(server: MCPServer, backend: Backend) -> None:
    @server.prompt(
        name="improve_tool",
        description="Improve an existing tool: its context (content, provenance, usage) "
        "and the instruction to publish the result with its base_ref.",
    )
    async def improve_tool(spec: str, goal: str, ctx: Context) -> list[Message]:
        vault = backend.reader(ctx.headers)
        found = await answer(lambda: reading.context(vault, [spec], None, 0))
        (version,) = found["versions"]
        return [UserMessage(_instruction(found["markdown"], version["ref"], goal))]


def _instruction(context: str, ref: str, goal: str) -> str:
    return (
        f"{context}\n"
        f"## Your task\n\n{goal}\n\n"
        f"Improve the tool above ({ref}) to reach that goal. When the new content is ready, "
        f'call the publish tool with name, the whole new content, base_ref="{ref}", a '
        "message saying what changed and why, and your prompt. If publish answers "
        "stale_base, someone published a newer version meanwhile: load it with "
        "get_context, merge your change into it, and publish again with its ref as base_ref."
    )
