"""What the read tools compute, apart from the MCP layer: plain functions over a vault
(a local :class:`~toolvault.vault.Vault` or a :class:`~toolvault.client.RemoteVault`),
run on a worker thread, returning the tools' structured outputs."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult, TextContent

from toolvault import contextdoc
from toolvault.errors import InvalidInput
from toolvault.mcpserver import outputs as o

# The context document's opening, for an agent that publishes through the publish tool.
INTRO = (
    "Each section is one exact, immutable version. To build on one, call the publish "
    "tool with the whole new content and base_ref set to its ref, so that a concurrent "
    "change is not lost and the lineage is kept.\n"
)


def latest_refs(vault: Any) -> dict[str, str]:
    """Each tool's latest version's pinned ref (one listing of every version)."""
    latest = {t.name: t.latest_version for t in vault.tools()}
    return {
        v["name"]: v["ref"]
        for v in vault.all_version_listing()
        if latest.get(v["name"]) == v["version"]
    }


def list_tools(vault: Any) -> o.ToolsOut:
    """Every tool with its latest version's ref."""
    refs = latest_refs(vault)
    return o.ToolsOut(
        tools=[o.ToolSummary(**t.to_dict(), latest_ref=refs.get(t.name)) for t in vault.tools()]
    )


def search(
    vault: Any, query: str, limit: int, lifecycle: str | None, all_versions: bool
) -> o.SearchOut:
    """Ranked search results, each naming the version that matched by its ref."""
    found = vault.search(query, limit=limit, lifecycle=lifecycle, all_versions=all_versions)
    return o.SearchOut(results=[o.Found(**r.to_dict()) for r in found])


def describe(vault: Any, spec: str) -> o.Described:
    """Everything ``show --json`` says about a version, with its ref."""
    return o.Described(**vault.describe(spec))


def context(vault: Any, specs: list[str], max_bytes: int | None, with_refs: int) -> dict[str, Any]:
    """The versions ``specs`` name (and, ``with_refs`` levels deep, what they reference),
    their content cut to ``max_bytes`` in all: ``markdown`` for a prompt, ``versions``
    as data, ``warnings`` (the shape of :class:`~toolvault.mcpserver.outputs.ContextOut`,
    built as a dict: the SDK validates the answer once). The shared
    :mod:`toolvault.context`, so the same document as ``toolvault context``."""
    from toolvault.context import gather

    if not specs:
        raise InvalidInput("give at least one spec, such as fmt or fmt:2")
    found = gather(vault, specs, with_refs=with_refs, max_bytes=max_bytes)
    markdown = contextdoc.render(found.items, INTRO)
    return {"markdown": markdown, "versions": found.items, "warnings": found.warnings}


def context_result(data: dict[str, Any]) -> CallToolResult:
    """``get_context``'s answer: the data as structured content, and as its text the
    Markdown document a model reads (rather than the data again as JSON: the content
    would be on the wire twice more, and a model reads the Markdown better)."""
    text = TextContent(type="text", text=data["markdown"])
    return CallToolResult(content=[text], structured_content=data)


def versions(vault: Any, name: str) -> o.VersionsOut:
    """A tool's versions, oldest first, each with its ref and yank."""
    listing = vault.version_listing(name)
    latest = vault.tool(name).latest_version
    latest_ref = next((v["ref"] for v in listing if v["version"] == latest), None)
    return o.VersionsOut(
        name=listing[0]["name"], latest_ref=latest_ref, versions=[o.Listed(**v) for v in listing]
    )


def diff(vault: Any, old: str, new: str | None, content: str | None, context: int) -> o.DiffOut:
    """Two versions, a version and its previous, or a version and unpublished content."""
    if new is not None and content is not None:
        raise InvalidInput(
            "give new (a spec) or content (unpublished text), not both",
            details={"fields": ["new", "content"]},
        )
    if content is None:
        d = vault.diff(old, new, context=context)
        old_ref, new_ref = (d.old.ref if d.old else None), d.new.ref
    else:
        d = vault.diff_content(old, content, file="unpublished", context=context)
        old_ref, new_ref = d.old.ref, None
    return o.DiffOut(
        old_ref=old_ref, new_ref=new_ref, diff="".join(d.lines), added=d.added, removed=d.removed
    )


def verify(vault: Any, names: list[str]) -> o.VerifyOut:
    """The verify report."""
    return o.VerifyOut(**vault.verify(names).to_dict())


def lineage(vault: Any, spec: str, reverse: bool, depth: int | None) -> o.LineageOut:
    """The lineage graph around a version (``depth`` None: all of it)."""
    graph = vault.lineage(spec, "all" if depth is None else depth, reverse)
    return o.LineageOut(**graph.to_dict())
