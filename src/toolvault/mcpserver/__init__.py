"""toolvault over the Model Context Protocol (SPEC §12), on the official MCP Python SDK.

:func:`build` makes the server over a :class:`~toolvault.mcpserver.backend.Backend`:
``toolvault mcp`` serves it on stdio over the local vault or the daemon at
``TOOLVAULT_URL``; the daemon mounts it at ``/mcp`` (streamable HTTP, see
:mod:`toolvault.server.mcp_mount`). The package is named ``mcpserver`` because ``mcp``
is the SDK's own import name. Importing it imports the SDK (the ``mcp`` extra): only
``toolvault mcp``, the daemon and tests do.
"""

from __future__ import annotations

import functools

from mcp.server import MCPServer
from mcp.server.lowlevel.server import NotificationOptions

from toolvault import __version__
from toolvault.mcpserver.answers import Answers
from toolvault.mcpserver.backend import Backend, DaemonBackend, LocalBackend, RemoteBackend
from toolvault.mcpserver.changes import INTERVAL, Changes

__all__ = ["Backend", "DaemonBackend", "LocalBackend", "RemoteBackend", "build"]

INSTRUCTIONS = """\
toolvault is a versioned registry of command-line tools (scripts). Before writing a tool,
search_tools for one that exists. Versions are immutable and named by pinned refs
NAME:N@sha256:HEX. To change a tool: get_context (its content and provenance), then
publish the whole new content with base_ref set to the ref you built on; the error
stale_base means someone published meanwhile: load the newer version and merge.
"""


def build(
    backend: Backend, *, interval: float = INTERVAL, answers: Answers | None = None
) -> tuple[MCPServer, Changes]:
    """The MCP server over ``backend``, and its change watcher (which runs in the
    server's lifespan and looks for changes every ``interval`` seconds); ``answers``
    keeps get_context's answers (by default a cache of the server's own)."""
    from toolvault.mcpserver import errors, resources, tools

    changes = Changes(backend, interval)
    server = MCPServer(
        "toolvault",
        title="toolvault",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=changes.running,
        subscriptions=changes.bus,
        middleware=[changes.track, resources.remember_headers, errors.coded_refusals],
        warn_on_duplicate_tools=False,
        log_level="WARNING",  # stdio: stderr is the client's log; only what matters
    )
    # Handshake-era clients learn from the capabilities that the resource list changes.
    low = server._lowlevel_server
    low.create_initialization_options = functools.partial(  # type: ignore[method-assign]
        low.create_initialization_options, NotificationOptions(resources_changed=True)
    )
    tools.register(server, backend, changes, answers)
    if backend.run_place is not None:
        from toolvault.mcpserver import run_tool

        run_tool.register(server, backend, backend.run_place)
    resources.register(server, backend)
    return server, changes
