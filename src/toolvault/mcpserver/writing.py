"""What the write tools do: publish with compare-and-set on the version the agent built
on, and labels; plain functions over a vault, run on a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolvault.errors import StaleBase
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
    from toolvault import validate
    from toolvault.vault import NewVersion

    where = f"the content of {r.name}"
    item = NewVersion(
        r.name,
        # JSON may carry a lone surrogate, which UTF-8 cannot: refused as the caller's input
        validate.content(r.content, where),
        source=where,
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
    try:
        (done,) = vault.publish_many([item])
    except StaleBase as exc:
        raise StaleBase(stale_message(str(exc), exc.details), exc.details) from None
    return o.PublishOut(**done.to_dict())


def stale_message(said: str, details: dict[str, Any]) -> str:
    """The service's ``stale_base`` message (which speaks of ``--expect-latest``) with
    what to do next said in this server's terms: get_context, merge, base_ref."""
    head, found, _ = said.partition("nothing was published")
    if not found:
        return said
    current = details.get("current")
    if current:
        ref = current["ref"]
        return (
            f"{head}nothing was published. The latest is {ref}: load it with get_context, "
            f'merge your change into it, and publish again with base_ref "{ref}"'
        )
    if details.get("expect_new"):  # every version is yanked
        return f"{head}nothing was published; list_versions shows them"
    return f"{head}nothing was published; publish without base_ref creates a new tool"


def label(vault: Any, spec: str, name: str) -> o.LabelOut:
    """Set or move a label and name the version it now points at."""
    done = vault.label(spec, name)
    version = vault.get(f"{done.name}:{done.version}")
    return o.LabelOut(name=done.name, label=done.label, ref=version.ref)
