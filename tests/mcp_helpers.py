"""What the MCP tests share: an in-process server over a vault, and calls that return
the structured content or the coded error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import Client

from toolvault import mcpserver
from toolvault.vault import Vault

SH = "#!/bin/sh\n# Say hello.\necho hello\n"
PY = (
    '#!/usr/bin/env python3\n"""Sum a column of a CSV file.\n\n'
    'Usage: csv-sum FILE COLUMN\n"""\nprint(1)\n'
)


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async test body."""
    return anyio.run(fn)


@asynccontextmanager
async def connected(vault: Vault, **kw: Any) -> AsyncIterator[Client]:
    """An SDK client connected in-process to the MCP server over ``vault``."""
    server, _ = mcpserver.build(mcpserver.LocalBackend(vault), interval=0.05)
    async with Client(server, **kw) as client:
        yield client


async def ok(client: Client, tool: str, **args: Any) -> Any:
    """A tool's structured content; the call must succeed."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, (tool, result.content)
    return result.structured_content


async def refused(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    """A tool's coded error: ``{"code", "message", "details"}``."""
    result = await client.call_tool(tool, args)
    assert result.is_error, (tool, result.structured_content)
    error: dict[str, Any] = result.structured_content["error"]
    assert set(error) == {"code", "message", "details"}
    return error
