"""``toolvault mcp``: the vault over the Model Context Protocol, on stdio (SPEC §12).

The MCP SDK (the ``mcp`` extra) is imported when the command runs, never by the rest
of the command line.
"""

from __future__ import annotations

import os

import click

from toolvault.cli._common import obj
from toolvault.errors import ToolvaultError


@click.command()
def mcp() -> None:
    """Serve the vault to an agent over MCP on stdin/stdout.

    Tools, resources and a prompt for searching, reading, diffing, publishing
    (with compare-and-set on base_ref) and verifying. With TOOLVAULT_URL set it
    serves the daemon there (TOOLVAULT_TOKEN authenticates), else the local
    vault. An MCP client launches it as: toolvault mcp (see the README).
    """
    try:
        import anyio

        from toolvault import mcpserver
    except ImportError as exc:
        raise ToolvaultError(
            f"'toolvault mcp' needs the MCP SDK ({exc.name} is missing): "
            "pip install 'toolvault[mcp]'"
        ) from None
    url = os.environ.get("TOOLVAULT_URL")
    if url:
        from toolvault.config import resolve_home

        home = resolve_home(obj().home)
        backend: mcpserver.Backend = mcpserver.RemoteBackend(
            url, os.environ.get("TOOLVAULT_TOKEN"), home
        )
    else:
        backend = mcpserver.LocalBackend(obj().open(create=True))
    server, _ = mcpserver.build(backend)
    anyio.run(server.run_stdio_async)
