"""Walking a lineage graph through the store, a level at a time (SPEC §11).

Ancestors: each level's references are read in one query for the whole level (a few
hundred versions an ``IN`` list), never one per version. A graph deeper than
:data:`LEVEL_QUERIES` levels (a chain of a thousand versions is a thousand levels) is
then finished from one pass over every stored reference, read once. Descendants: no
index finds the versions whose references name a version, so that pass comes first.
Either way the versions reached are then read in a few batched queries, and a graph
over ``max_nodes`` versions is refused as soon as the walk passes that many.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolvault import spec as specs
from toolvault.errors import ToolvaultError
from toolvault.lineage_graph import ANCESTORS, DESCENDANTS, Edge, Lineage, Node, too_many
from toolvault.models import Version, Yank
from toolvault.spec import NAME_RE, NUMBER_RE, Kind

LEVEL_QUERIES = 8  # levels read one query each before one pass reads every reference

PINNED = re.compile(
    rf"(?P<name>{NAME_RE.pattern}):(?P<version>{NUMBER_RE.pattern})@sha256:(?P<sha>[0-9a-f]{{64}})"
)

Key = tuple[str, int]
Link = tuple[str, int, str, tuple[str, ...]]  # name, version, sha256, stored references


class Source(Protocol):
    """The store's queries a walk needs (:mod:`toolvault.store.lineage`)."""

    def links(self, keys: Iterable[Key]) -> list[Link]: ...

    def all_links(self) -> list[Link]: ...

    def node_rows(self, keys: Iterable[Key]) -> list[tuple[Any, ...]]: ...

    def yanks(self, name: str | None = None) -> list[Yank]: ...


class Resolver(Protocol):
    """What a walk reads of the vault: its store, and ``get`` for references stored as
    written (which only the spec resolver can follow)."""

    @property
    def store(self) -> Source: ...

    def get(self, spec: str) -> Version: ...


def ref_of(key: Key, sha256: str) -> str:
    """The pinned form ``name:N@sha256:HEX``."""
    return f"{key[0]}:{key[1]}@sha256:{sha256}"


@dataclass
class Walk:
    """One walk's state: the versions reached, in order, with their depth and hash."""

    vault: Resolver
    limit: int | None
    max_nodes: int
    root: Version
    depth: dict[Key, int] = field(default_factory=dict)  # insertion order: breadth first
    sha: dict[Key, str] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    truncated: set[Key] = field(default_factory=set)
    resolved: dict[str, Version | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reach((self.root.name, self.root.version), self.root.sha256, 0)

    def reach(self, key: Key, sha256: str, level: int) -> bool:
        """Add a version at ``level``; False if it was reached already."""
        if key in self.depth:
            return False
        if len(self.depth) >= self.max_nodes:
            raise too_many(self.root.ref, self.max_nodes, self.limit)
        self.depth[key] = level
        self.sha[key] = sha256
        return True

    def stops_at(self, level: int) -> bool:
        """Whether the depth asked for ends the walk before ``level``."""
        return self.limit is not None and level > self.limit

    def resolve(self, stored: str) -> Version | None:
        """What a reference stored as written resolves to today (once per text)."""
        if stored not in self.resolved:
            try:
                parsed = specs.parse(stored)
                found = None if parsed.kind is Kind.VERSIONS else self.vault.get(stored)
            except ToolvaultError:
                found = None
            self.resolved[stored] = found
        return self.resolved[stored]


def walk(
    vault: Resolver, root: Version, limit: int | None, reverse: bool, max_nodes: int
) -> Lineage:
    """The lineage graph of ``root`` (see :mod:`toolvault.lineage_graph`)."""
    state = Walk(vault, limit, max_nodes, root)
    if reverse:
        _descendants(state)
    else:
        _ancestors(state)
    return _finish(state, DESCENDANTS if reverse else ANCESTORS)


# -- ancestors -----------------------------------------------------------------------------


def _ancestors(w: Walk) -> None:
    root = (w.root.name, w.root.version)
    links: dict[Key, tuple[str, tuple[str, ...]]] = {root: (w.root.sha256, w.root.references)}
    everything = False  # True once every stored reference has been read
    frontier, level = [root], 1
    while frontier:
        held = [(k, stored) for k in frontier for stored in links.get(k, ("", ()))[1]]
        if w.stops_at(level):
            w.truncated.update(k for k, _ in held)
            return
        if not everything and level > LEVEL_QUERIES:
            everything = True
            links.update(((n, v), (sha, refs)) for n, v, sha, refs in w.vault.store.all_links())
        if not everything:
            wanted = {_pinned_key(stored) for _, stored in held} - {None} - links.keys()
            found = w.vault.store.links(k for k in wanted if k is not None)
            links.update(((n, v), (sha, refs)) for n, v, sha, refs in found)
        frontier = []
        for k, stored in held:
            reached = _follow(w, links, everything, (k, stored), level)
            if reached is not None:
                frontier.append(reached)
        level += 1


def _pinned_key(stored: str) -> Key | None:
    m = PINNED.fullmatch(stored)
    return (m["name"], int(m["version"])) if m else None


def _follow(
    w: Walk,
    links: dict[Key, tuple[str, tuple[str, ...]]],
    everything: bool,
    held: tuple[Key, str],
    level: int,
) -> Key | None:
    """Record the edge of one stored reference; the version it reaches if it is new."""
    source, stored = held
    frm = ref_of(source, w.sha[source])
    m = PINNED.fullmatch(stored)
    if m is None:
        target = w.resolve(stored)
        if target is None:
            w.edges.append(Edge(frm, stored, "dangling", stored))
            return None
        key, sha, status = (target.name, target.version), target.sha256, "resolves"
        links.setdefault(key, (sha, target.references))
    else:
        key, sha, status = (m["name"], int(m["version"])), m["sha"], "exact"
        known = links.get(key)
        # after the pass over every reference, a version absent from it references nothing
        # (or does not exist): _finish reads it, and says "changed" if it is not there
        if (known is None and not everything) or (known is not None and known[0] != sha):
            w.edges.append(Edge(frm, stored, "changed", stored))
            return None
    w.edges.append(Edge(frm, ref_of(key, sha), status, stored))
    return key if w.reach(key, sha, level) else None


# -- descendants ---------------------------------------------------------------------------


def _descendants(w: Walk) -> None:
    pinned, loose = _referrers(w.vault.store.all_links())
    frontier, level = [(w.root.name, w.root.version)], 1
    while frontier:
        found: list[tuple[Key, str, Key, str, str]] = []
        for k in frontier:
            sha = w.sha[k]
            found += [(k, sha, *held) for held in pinned.get((*k, sha), [])]
            for child, child_sha, stored in loose.get(k[0], []):
                target = w.resolve(stored)
                if target is not None and (target.name, target.version) == k:
                    found.append((k, sha, child, child_sha, stored))
        if w.stops_at(level):
            w.truncated.update(k for k, *_ in found)
            return
        frontier = []
        for k, sha, child, child_sha, stored in sorted(found, key=lambda f: (f[2], f[0])):
            status = "exact" if PINNED.fullmatch(stored) else "resolves"
            w.edges.append(Edge(ref_of(child, child_sha), ref_of(k, sha), status, stored))
            if w.reach(child, child_sha, level):
                frontier.append(child)
        level += 1


def _referrers(
    links: list[Link],
) -> tuple[
    dict[tuple[str, int, str], list[tuple[Key, str, str]]], dict[str, list[tuple[Key, str, str]]]
]:
    """Who holds each pinned reference (by name, version and hash), and who holds a
    reference stored as written (by the tool it names: resolved only when reached)."""
    pinned: dict[tuple[str, int, str], list[tuple[Key, str, str]]] = {}
    loose: dict[str, list[tuple[Key, str, str]]] = {}
    for name, version, sha, refs in links:
        for stored in refs:
            m = PINNED.fullmatch(stored)
            held = ((name, version), sha, stored)
            if m:
                pinned.setdefault((m["name"], int(m["version"]), m["sha"]), []).append(held)
            else:
                try:
                    loose.setdefault(specs.parse(stored).name, []).append(held)
                except ToolvaultError:
                    continue  # unreadable: it resolves to nothing, so it names no version
    return pinned, loose


# -- the versions reached ------------------------------------------------------------------


def _finish(w: Walk, direction: str) -> Lineage:
    """Read the versions reached; a reference to a version that is not there as it was
    referenced becomes ``changed`` (only a walk that read every reference at once
    meets those here: it took a version that references nothing on trust)."""
    found = {(r[0], r[1]): r for r in w.vault.store.node_rows(w.depth)}
    actual = {ref_of(k, r[2]) for k, r in found.items()}
    edges = tuple(
        e if not e.reaches or e.target in actual else Edge(e.source, e.stored, "changed", e.stored)
        for e in w.edges
    )
    # the versions that hold a reference were read as they are; a target only as named
    reached = {w.root.ref} | {e.source for e in edges} | {e.target for e in edges if e.reaches}
    yanks = {(y.name, y.version): y.reason for y in w.vault.store.yanks()}
    nodes = []
    for k, level in w.depth.items():
        row = found.get(k)
        ref = ref_of(k, row[2]) if row else ""
        if ref in reached:
            assert row is not None
            name, number, sha, at, by, owner, session, prompt, message = row
            yanked, cut = yanks.get(k), k in w.truncated
            nodes.append(
                Node(
                    ref,
                    name,
                    number,
                    sha,
                    at,
                    by,
                    owner,
                    session,
                    prompt,
                    message,
                    yanked,
                    level,
                    cut,
                )
            )
    return Lineage(w.root.ref, direction, w.limit, tuple(nodes), edges)
