"""The structured output of each MCP tool (their ``outputSchema``), as pydantic models.

Every version is named by its pinned ref ``name:N@sha256:<64 hex>`` (SPEC §2), the
form an agent passes back as ``base_ref`` or as a reference without it ever drifting.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    """A model that keeps fields it does not list (the service's JSON shapes grow)."""

    model_config = ConfigDict(extra="allow")


class Found(BaseModel):
    """One search result."""

    name: str
    ref: str = Field(description="The pinned ref of the version that matched.")
    version: int
    description: str | None
    lifecycle: str
    yanked: bool
    field: str = Field(description="The field that matched.")
    snippet: str = Field(description="Where it matched, the match marked **like this**.")
    score: float


class SearchOut(BaseModel):
    """Tools matching a query, best first."""

    results: list[Found]


class ToolSummary(BaseModel):
    """One tool and its latest version."""

    name: str
    latest_ref: str | None = Field(description="The pinned ref of the latest version.")
    latest_version: int | None
    versions: int
    owner: str
    lifecycle: str
    description: str | None
    updated_at: str


class ToolsOut(BaseModel):
    """Every tool of the vault, by name."""

    tools: list[ToolSummary]


class Described(Open):
    """Everything about one version (the shape of ``toolvault show --json``)."""

    ref: str
    name: str
    version: int
    sha256: str
    description: str | None = None
    usage: str | None = None
    yanked: str | None = Field(None, description="The yank reason, or null.")
    signature_status: str
    labels: list[str]
    tool: dict[str, Any]


class ContextOut(BaseModel):
    """Versions with their content, ready to read: ``markdown`` for the prompt,
    ``versions`` (each with its ref and content) for a program."""

    markdown: str
    versions: list[dict[str, Any]]
    warnings: list[str] = Field(
        [], description="What to know about them: a yanked version, a reference left out."
    )


class Listed(Open):
    """One version in a tool's listing."""

    ref: str
    version: int
    sha256: str
    created_at: str
    created_by: str | None = None
    message: str | None = None
    yanked: str | None = None


class VersionsOut(BaseModel):
    """A tool's versions, oldest first."""

    name: str
    latest_ref: str | None
    versions: list[Listed]


class DiffOut(BaseModel):
    """A unified diff from ``old_ref`` (null: nothing, a first version) to ``new_ref``
    (null: the unpublished content given)."""

    old_ref: str | None
    new_ref: str | None
    diff: str
    added: int
    removed: int


class PublishOut(Open):
    """What a publish made: the new version's ref, or the unchanged latest's."""

    ref: str
    name: str
    version: int
    sha256: str
    created: bool = Field(description="False: the content equals the latest; nothing new.")
    warnings: list[str] = []


class LabelOut(BaseModel):
    """A label now pointing at a version."""

    name: str
    label: str
    ref: str


class Problem(BaseModel):
    """One problem verify found, with its place."""

    kind: str
    name: str | None
    version: int | None
    detail: str


class VerifyOut(BaseModel):
    """Whether everything checked holds (hashes, chains, audit log, signatures)."""

    ok: bool
    checked: dict[str, int]
    problems: list[Problem]


class LineageOut(Open):
    """A lineage graph: ``nodes`` (versions, by pinned ref) and ``edges``
    (``{from, to, status}``: from the version holding a reference to the one it names)."""

    root: str = Field(description="The pinned ref of the version asked about.")
    direction: str = Field(description="ancestors (what it references) or descendants.")
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
