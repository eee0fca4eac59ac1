"""What the read tools compute, apart from the MCP layer: plain functions over a vault
(a local :class:`~toolvault.vault.Vault` or a :class:`~toolvault.client.RemoteVault`),
run on a worker thread, returning the tools' structured outputs."""

from __future__ import annotations

import difflib
from typing import Any

from toolvault import lineage as lineages
from toolvault.errors import InvalidInput
from toolvault.mcpserver import outputs as o


def pinned(name: str, version: int, sha256: str) -> str:
    """The pinned ref ``name:N@sha256:<hex>`` (SPEC §2)."""
    return f"{name}:{version}@sha256:{sha256}"


def latest_refs(vault: Any) -> dict[str, str]:
    """Each tool's latest version's pinned ref (one listing of every version)."""
    latest = {t.name: t.latest_version for t in vault.tools()}
    return {
        v["name"]: pinned(v["name"], v["version"], v["sha256"])
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
    data = vault.describe(spec)
    return o.Described(**{**data, "ref": pinned(data["name"], data["version"], data["sha256"])})


def context(vault: Any, specs: list[str], max_bytes: int | None) -> o.ContextOut:
    """The versions with content, as Markdown for a prompt and as data."""
    if not specs:
        raise InvalidInput("give at least one spec, such as fmt or fmt:2")
    found = lineages.context(vault, specs)
    markdown = lineages.render_context(found)
    if max_bytes is not None and len(markdown.encode()) > max_bytes:
        cut = markdown.encode()[:max_bytes].decode(errors="ignore")
        left = len(markdown.encode()) - len(cut.encode())
        markdown = f"{cut}\n[… {left:,} more bytes left out: ask with a larger max_bytes]\n"
    return o.ContextOut(markdown=markdown, versions=lineages.context_json(found))


def versions(vault: Any, name: str) -> o.VersionsOut:
    """A tool's versions, oldest first, each with its ref and yank."""
    listing = vault.version_listing(name)
    items = [o.Listed(**v, ref=pinned(v["name"], v["version"], v["sha256"])) for v in listing]
    latest = vault.tool(name).latest_version
    latest_ref = next((i.ref for i in items if i.version == latest), None)
    return o.VersionsOut(name=listing[0]["name"], latest_ref=latest_ref, versions=items)


def diff(vault: Any, old: str, new: str | None, content: str | None, context: int) -> o.DiffOut:
    """Two versions, a version and its previous, or a version and unpublished content."""
    if new is not None and content is not None:
        raise InvalidInput("give new (a spec) or content (unpublished text), not both")
    if content is None:
        d = vault.diff(old, new, context=context)
        text = "".join(d.lines)
        return o.DiffOut(
            old_ref=d.old.ref if d.old else None,
            new_ref=d.new.ref,
            diff=text,
            added=d.added,
            removed=d.removed,
        )
    base = vault.cat(old)
    lines = list(
        difflib.unified_diff(
            base.text.splitlines(keepends=True),
            content.splitlines(keepends=True),
            fromfile=f"{base.name}:{base.version}",
            tofile="unpublished",
            n=context,
        )
    )
    body = [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    ]
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return o.DiffOut(
        old_ref=base.ref, new_ref=None, diff="".join(body), added=added, removed=removed
    )


def verify(vault: Any, names: list[str]) -> o.VerifyOut:
    """The verify report."""
    return o.VerifyOut(**vault.verify(names).to_dict())


def lineage(vault: Any, spec: str, reverse: bool, depth: int | None) -> o.LineageOut:
    """The lineage graph around a version (``depth`` None: all of it)."""
    graph = vault.lineage(spec, "all" if depth is None else depth, reverse)
    return o.LineageOut(**graph.to_dict())
