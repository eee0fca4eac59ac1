"""Errors as MCP tool errors: the one shape of SPEC §11 inside a ``CallToolResult``.

A :class:`~toolvault.errors.ToolvaultError` raised by a tool becomes a result with
``isError`` set, whose text and structured content are both
``{"error": {"code", "message", "details"}}`` (the HTTP API's body): a model reads
the message, a program acts on the code and details. The SDK's own refusals (an
argument that does not match the input schema, an unknown tool) are given the same
shape by :func:`coded_refusals`, a server middleware.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from mcp.types import CallToolResult, TextContent

from toolvault.errors import ToolvaultError

P = ParamSpec("P")
T = TypeVar("T")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape of SPEC §11."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def tool_error(code: str, message: str, details: dict[str, Any] | None = None) -> CallToolResult:
    """A tool result that is an error carrying ``code`` and ``details``."""
    body = error_body(code, message, details)
    text = json.dumps(body, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=body, is_error=True
    )


def coded(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T | CallToolResult]]:
    """Answer a :class:`ToolvaultError` raised by the tool ``fn`` as a coded tool error
    (the SDK would keep only its message). The signature is kept for the input schema."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T | CallToolResult:
        try:
            return await fn(*args, **kwargs)
        except ToolvaultError as exc:
            return tool_error(exc.code, str(exc), exc.details)

    return wrapper


async def coded_refusals(ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
    """Server middleware: a ``tools/call`` the SDK refused before the tool ran (arguments
    that do not match its input schema, a tool that does not exist) is an error of the
    same shape, code ``invalid_input``; a crash of a tool is code ``internal`` (its
    text stays in the server's log). The result is already the wire's dict here."""
    result = await call_next(ctx)
    if (
        ctx.method == "tools/call"
        and isinstance(result, dict)
        and result.get("isError")
        and result.get("structuredContent") is None
    ):
        text = " ".join(str(c.get("text", "")) for c in result.get("content", ()))
        crashed = ": " not in text  # the SDK says only "Error executing tool NAME" then
        code = "internal" if crashed else "invalid_input"
        coded = tool_error(code, text or "the tool call was refused")
        result = {**result, **coded.model_dump(by_alias=True, mode="json", exclude_none=True)}
    return result
