"""``context``: the versions an agent asked for, from a local vault or a daemon, with the
versions they reference and ranges expanded, each version once (SPEC §11).

The document itself (Markdown or JSON items) is :mod:`toolvault.contextdoc`'s, which the
fast path shares; this module only decides which versions go in, in which order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from toolvault import contextdoc
from toolvault import spec as specs
from toolvault.errors import InvalidSpec, NotFound
from toolvault.spec import Kind

if TYPE_CHECKING:
    from toolvault.models import Version
    from toolvault.spec import Spec

MAX_DEPTH = 16  # --with-refs: deeper than any lineage a prompt can use, and bounded


class Catalog(Protocol):
    """What context reads: a local :class:`~toolvault.vault.Vault` or a daemon's
    :class:`~toolvault.client.RemoteVault`."""

    def describe(self, spec: str | Spec) -> dict[str, Any]: ...

    def cat(self, spec: str | Spec) -> Version: ...

    def version_listing(self, name: str) -> list[dict[str, Any]]: ...


@dataclass
class Context:
    """The items of the document in order, and what the user should be told on stderr."""

    items: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def add(self, vault: Catalog, spec: str, depth: int = 0, via: str | None = None) -> bool:
        """Add the version ``spec`` names unless it is in already; True if added."""
        info = vault.describe(spec)
        ref = specs.format_ref(info["name"], info["version"], info["sha256"])
        if ref in self._seen:
            return False
        self._seen.add(ref)
        self.items.append(contextdoc.item(info, vault.cat(ref).text, depth, via))
        if info["yanked"]:
            self.warnings.append(f"{info['name']}:{info['version']} is yanked: {info['yanked']}")
        return True


def gather(
    vault: Catalog, wanted: list[str], *, with_refs: int = 0, max_bytes: int | None = None
) -> Context:
    """The versions ``wanted`` names (specs or ranges ``NAME:A..B``) in the order given,
    then, ``with_refs`` levels deep, the versions they reference; each once. Their content
    is cut to ``max_bytes`` in all, the versions asked for first."""
    if not 0 <= with_refs <= MAX_DEPTH:
        raise InvalidSpec(f"--with-refs takes a depth from 1 to {MAX_DEPTH}, not {with_refs}")
    found = Context()
    for text in wanted:
        for one in expand(vault, text):
            found.add(vault, one)
    frontier = list(found.items)
    for depth in range(1, with_refs + 1):
        frontier = _follow(vault, found, frontier, depth)
    contextdoc.fit(found.items, max_bytes)
    return found


def _follow(
    vault: Catalog, found: Context, parents: list[dict[str, Any]], depth: int
) -> list[dict[str, Any]]:
    """Add what ``parents`` reference (one level); the items added."""
    before = len(found.items)
    for parent in parents:
        for stored in parent["references"]:
            try:
                found.add(vault, stored, depth, parent["ref"])
            except (NotFound, InvalidSpec):  # dangling, or pinned to content now gone
                found.warnings.append(
                    f"{parent['name']}:{parent['version']} references {stored}, which does "
                    "not resolve; left out ('toolvault refs' shows each reference's state)"
                )
    return found.items[before:]


def expand(vault: Catalog, text: str) -> list[str]:
    """A spec as itself; a range ``NAME:A..B`` as each version from A to B, oldest first."""
    parsed = specs.parse(text)
    if parsed.kind is not Kind.RANGE:
        return [text]
    low, high = parsed.bounds
    first, last = vault.describe(low)["version"], vault.describe(high)["version"]
    if first > last:
        raise InvalidSpec(
            f"range '{text}' runs backwards: {low} is version {first} and {high} is version "
            f"{last}; give the older end first ({parsed.name}:{last}..{first})"
        )
    numbers = [v["version"] for v in vault.version_listing(parsed.name)]
    return [f"{parsed.name}:{n}" for n in numbers if first <= n <= last]
