"""The MCP tools: thin async functions over :mod:`toolvault.mcpserver.reading` and the
service, each with an input schema (its signature), a structured output (its return
type), annotations and a description written for a model choosing among them.

The work runs on a worker thread (the store keeps one connection per thread; a
daemon's store may wait on the network). Errors are coded tool errors
(:mod:`toolvault.mcpserver.errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from toolvault.context import MAX_DEPTH
from toolvault.mcpserver import answers, reading
from toolvault.mcpserver import outputs as o
from toolvault.mcpserver.backend import Backend
from toolvault.mcpserver.changes import Changes
from toolvault.mcpserver.errors import coded

T = TypeVar("T")

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# A new version never overwrites one (history only grows); the same content twice is
# "unchanged", so a retried publish is harmless.
WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

Spec = Annotated[
    str,
    Field(
        description="A version: NAME (its latest), NAME:N, NAME:previous, NAME:-K, NAME:LABEL, "
        "or the pinned NAME:N@sha256:HEX.",
        examples=["csv-summary", "csv-summary:3"],
    ),
]
Name = Annotated[str, Field(description="A tool's name.", examples=["csv-summary"])]


def headers(ctx: Context) -> Any:
    """The HTTP request's headers (None over stdio)."""
    return ctx.headers


async def off_loop(fn: Callable[[], T]) -> T:
    """Run blocking vault work on a worker thread."""
    return await anyio.to_thread.run_sync(fn)


def register(
    server: MCPServer, backend: Backend, changes: Changes, kept: answers.Answers | None = None
) -> None:
    """Add every tool to ``server``; ``kept``: where get_context keeps its answers (by
    default a cache of its own)."""
    _register_discovery(server, backend)
    _register_context(server, backend, kept or answers.Answers(backend.marker))
    _register_history(server, backend)
    _register_publish(server, backend, changes)
    _register_label(server, backend, changes)


def _register_discovery(server: MCPServer, backend: Backend) -> None:
    @server.tool(annotations=READ)
    @coded
    async def search_tools(
        query: Annotated[
            str,
            Field(
                description="Words describing what the tool should do (all must match), "
                '"quoted phrases", and qualifiers name:, description:, usage:, content:, '
                "author:, owner:, label:, uses:NAME.",
                examples=["csv summary", 'description:"pull request"'],
            ),
        ],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        lifecycle: Annotated[
            str | None, Field(description="active, deprecated, retired or all.")
        ] = None,
        all_versions: bool = False,
    ) -> o.SearchOut:
        """Find existing tools by what they do, before writing a new one. Returns the
        best matches with the pinned ref of the version that matched, its description
        and where the query matched."""
        vault = backend.reader(headers(ctx))
        return await off_loop(lambda: reading.search(vault, query, limit, lifecycle, all_versions))

    @server.tool(annotations=READ)
    @coded
    async def list_tools(ctx: Context) -> o.ToolsOut:
        """List every tool in the vault with its latest version's pinned ref, owner,
        lifecycle and description. Prefer search_tools when looking for a capability."""
        vault = backend.reader(headers(ctx))
        return await off_loop(lambda: reading.list_tools(vault))

    @server.tool(annotations=READ)
    @coded
    async def describe(spec: Spec, ctx: Context) -> o.Described:
        """Everything about one version except its content: pinned ref, description,
        usage, provenance (author, prompt, session, message, references), signature
        status, yank, labels, and its tool's owner and lifecycle."""
        vault = backend.reader(headers(ctx))
        return await off_loop(lambda: reading.describe(vault, spec))


def _register_context(server: MCPServer, backend: Backend, kept: answers.Answers) -> None:
    @server.tool(annotations=READ)
    @coded
    async def get_context(
        specs: Annotated[list[Spec], Field(min_length=1, max_length=50)],
        ctx: Context,
        max_bytes: Annotated[
            int | None,
            Field(
                ge=0,
                description="At most this many bytes of content in all, spent in the "
                "order asked; each cut version says so (truncated, omitted_bytes).",
            ),
        ] = None,
        with_refs: Annotated[
            int,
            Field(
                ge=0,
                le=MAX_DEPTH,
                description="Also the versions these reference, this many levels deep.",
            ),
        ] = 0,
    ) -> Annotated[CallToolResult, o.ContextOut]:
        """Load versions to read or build on: each with its pinned ref, provenance,
        usage and full content, as Markdown for your context and as data. A spec may be
        a range NAME:A..B. Use the ref as base_ref when you publish an improved version."""
        vault = backend.reader(headers(ctx))
        key = answers.key_of(vault, specs, max_bytes, with_refs)
        return await off_loop(
            lambda: kept.answer(key, lambda: reading.context(vault, specs, max_bytes, with_refs))
        )


def _register_history(server: MCPServer, backend: Backend) -> None:
    @server.tool(annotations=READ)
    @coded
    async def list_versions(name: Name, ctx: Context) -> o.VersionsOut:
        """A tool's versions, oldest first, each with its pinned ref, author, date,
        message and yank reason (a yanked version must not be used)."""
        vault = backend.reader(headers(ctx))
        return await off_loop(lambda: reading.versions(vault, name))

    @server.tool(annotations=READ)
    @coded
    async def diff(
        old: Spec,
        ctx: Context,
        new: Annotated[
            str | None,
            Field(
                description="A second version; with neither new nor content, old is "
                "compared with its previous version."
            ),
        ] = None,
        content: Annotated[
            str | None, Field(description="Unpublished content to compare old with.")
        ] = None,
        context_lines: Annotated[int, Field(ge=0, le=1000)] = 3,
    ) -> o.DiffOut:
        """A unified diff: between two versions, from a version's previous to it, or from
        a version to content you have not published yet (to review a change first)."""
        vault = backend.reader(headers(ctx))
        return await off_loop(lambda: reading.diff(vault, old, new, content, context_lines))

    @server.tool(annotations=READ)
    @coded
    async def lineage(
        spec: Spec,
        ctx: Context,
        reverse: Annotated[
            bool, Field(description="False: what it references; true: what references it.")
        ] = False,
        depth: Annotated[int | None, Field(ge=1, description="Levels; null: all.")] = 1,
    ) -> o.LineageOut:
        """The lineage graph of a version: the versions it was built from (references,
        transitively to depth) or, with reverse, the versions built on it; nodes are
        pinned refs, edges say whether each reference still resolves."""
        vault = backend.reader(headers(ctx))
        return await off_loop(lambda: reading.lineage(vault, spec, reverse, depth))

    @server.tool(annotations=READ)
    @coded
    async def verify(
        ctx: Context,
        names: Annotated[list[Name], Field(description="Tools to check; empty: all.")] = [],  # noqa: B006
    ) -> o.VerifyOut:
        """Check the vault's integrity: every content hash, version chain, signature and
        the audit log's hash chain. ok is false and problems lists each one if anything
        does not hold."""
        vault = backend.reader(headers(ctx))
        return await off_loop(lambda: reading.verify(vault, names))


def _register_publish(server: MCPServer, backend: Backend, changes: Changes) -> None:
    @server.tool(annotations=WRITE)
    @coded
    async def publish(
        name: Name,
        content: Annotated[str, Field(description="The whole new content of the tool.")],
        ctx: Context,
        base_ref: Annotated[
            str | None,
            Field(
                description="The pinned ref of the version you built on (from get_context "
                "or list_versions). The publish happens only while that is still the "
                "latest, else the error stale_base names the current latest. Omit it only "
                "to create a new tool."
            ),
        ] = None,
        message: Annotated[str | None, Field(description="What changed and why.")] = None,
        prompt: Annotated[str | None, Field(description="The request that led to it.")] = None,
        session: Annotated[str | None, Field(description="Your session's id.")] = None,
        references: Annotated[
            list[Spec], Field(description="Other versions it uses or was built from.")
        ] = [],  # noqa: B006
        description: Annotated[str | None, Field(description="One paragraph.")] = None,
        usage: Annotated[str | None, Field(description="The tool's --help text.")] = None,
    ) -> o.PublishOut:
        """Publish new content as the next version of a tool (a new tool without
        base_ref). Nothing is ever overwritten: every version stays readable. Give
        base_ref when improving an existing tool, so a concurrent change is not lost."""
        from toolvault.mcpserver import writing

        vault = backend.writer(headers(ctx))
        request = writing.Request(
            name,
            content,
            base_ref,
            message,
            prompt,
            session,
            tuple(references),
            description,
            usage,
        )
        result = await off_loop(lambda: writing.publish(vault, request))
        changes.poke()
        return result


def _register_label(server: MCPServer, backend: Backend, changes: Changes) -> None:
    @server.tool(annotations=WRITE)
    @coded
    async def label(
        spec: Spec,
        label: Annotated[
            str, Field(description="A name such as stable or reviewed.", examples=["stable"])
        ],
        ctx: Context,
    ) -> o.LabelOut:
        """Point a label (a movable name such as stable) at a version; NAME:LABEL then
        names that version. Moving a label is recorded in the audit log."""
        from toolvault.mcpserver import writing

        vault = backend.writer(headers(ctx))
        result = await off_loop(lambda: writing.label(vault, spec, label))
        changes.poke()
        return result
