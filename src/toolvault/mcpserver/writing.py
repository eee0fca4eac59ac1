"""What the write tools do: publish with compare-and-set on the version the agent built
on, and labels; plain functions over a vault, run on a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolvault.mcpserver import outputs as o


@dataclass(frozen=True, slots=True)
class Request:
    """A publish as the ``publish`` tool receives it."""

    name: str
    content: str
    base_ref: str | None
    message: str | None
    prompt: str | None
    session: str | None
    references: tuple[str, ...]
    description: str | None
    usage: str | None


def publish(vault: Any, r: Request) -> o.PublishOut:
    """Publish ``r`` as the next version of its tool: only while ``base_ref`` is still its
    latest (compare-and-set, ``stale_base`` otherwise), or, without a base_ref, only
    while the tool does not exist: an agent never replaces a version it has not seen."""
    from toolvault.vault import NewVersion

    item = NewVersion(
        r.name,
        r.content.encode("utf-8"),
        source=f"the content of {r.name}",
        origin="mcp",
        session_id=r.session,
        prompt=r.prompt,
        message=r.message,
        description=r.description,
        usage=r.usage,
        references=r.references,
        expect_latest=r.base_ref,
        expect_new=r.base_ref is None,
    )
    (done,) = vault.publish_many([item])
    return o.PublishOut(**done.to_dict())


def label(vault: Any, spec: str, name: str) -> o.LabelOut:
    """Set or move a label and name the version it now points at."""
    done = vault.label(spec, name)
    version = vault.get(f"{done.name}:{done.version}")
    return o.LabelOut(name=done.name, label=done.label, ref=version.ref)
