"""Lineage graphs (SPEC §11): what a version references, transitively (its ancestors), or
what references it, transitively (its descendants), to a depth or all of it.

``refs SPEC --depth N`` and ``--reverse``, ``GET /v1/refs/SPEC?depth=N`` and
:meth:`Vault.lineage <toolvault.service.lineage.Lineages.lineage>` answer a
:class:`Lineage`: the versions reached (each once) and every reference between them,
``{"nodes": [...], "edges": [{"from", "to", "status"}]}`` in JSON. An edge always
points the way the reference does, from the version that holds it to the version it
names, whichever way the graph was walked. This module holds the shapes, the depth's
parsing and the text tree; :mod:`toolvault.lineage_walk` walks the store.
"""

from __future__ import annotations

from itertools import repeat
from operator import itemgetter

from toolvault.errors import InvalidInput

TYPE_CHECKING = False  # not typing's: importing typing costs the fast path's start-up
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from toolvault.records import NamedTuple

MAX_NODES = 100_000  # a graph beyond this is refused: ask for a smaller depth
MAX_DEPTH = 1_000_000  # any depth this deep is "all" in practice; a bigger number is a typo
INDENT_LEVELS = 32  # deeper lines keep this indent and say their depth instead
ANCESTORS, DESCENDANTS = "ancestors", "descendants"

# What an edge's status says in the text tree (as ``refs`` prints a reference).
MISSING_NOTE = {
    "changed": "CHANGED: that version is gone or has another hash now",
    "dangling": "dangling: stored as written, does not resolve",
}


def parse_depth(value: object) -> int | None:
    """A depth as given (``3``, ``"3"``, ``"all"``): the number of levels, None for all.
    Anything else is :class:`~toolvault.errors.InvalidInput`."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DEPTH:
        return value
    if isinstance(value, str):
        if value == "all":
            return None
        if value.isascii() and value.isdigit() and len(value) <= 7 and int(value) <= MAX_DEPTH:
            return int(value)
    shown = value if isinstance(value, int | str) else type(value).__name__
    raise InvalidInput(
        f"depth must be a number of levels from 0 to {MAX_DEPTH:,}, or 'all', not {shown!r}",
        details={"depth": str(shown)[:40]},
    )


def too_many(root: str, limit: int, depth: int | None) -> InvalidInput:
    """The error of a graph with more than ``limit`` versions."""
    asked = "all" if depth is None else str(depth)
    return InvalidInput(
        f"the lineage of {root} reaches more than {limit:,} versions at depth {asked}; "
        "ask for a smaller --depth",
        details={"root": root, "max_nodes": limit, "depth": asked},
    )


# Node, Edge and Lineage are named tuples, not dataclasses: a graph of 10,000 versions
# makes 20,000 of them (a frozen dataclass costs several times as much to make), they
# flatten to their values for lineage_json, and the fast path may not load dataclasses.


class Node(NamedTuple):
    """One version of a lineage graph, at its distance from the root."""

    ref: str
    name: str
    version: int
    sha256: str
    created_at: str
    created_by: str | None
    owner: str | None
    session_id: str | None
    prompt: str | None
    message: str | None
    yanked: str | None  # the yank's reason
    depth: int  # levels from the root (0: the root)
    truncated: bool  # the depth asked for stopped the walk here: it has more beyond

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of one node."""
        return dict(zip(NODE_FIELDS, self, strict=True))


NODE_FIELDS = Node._fields


class Edge(NamedTuple):
    """A stored reference: ``source`` holds ``stored``, which names ``target``.

    ``status`` is as ``refs`` says it: ``exact`` (pinned, present), ``changed`` (pinned,
    that version is gone or has another hash: ``target`` is the stored text and no node),
    ``dangling`` (stored as written, resolves to nothing: likewise) or ``resolves``
    (stored as written, resolves to ``target`` today).
    """

    source: str
    target: str
    status: str
    stored: str

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of one edge."""
        return {"from": self.source, "to": self.target, "status": self.status, "ref": self.stored}

    @property
    def reaches(self) -> bool:
        """Whether ``target`` is a version of the graph."""
        return self.status in ("exact", "resolves")


class Lineage(NamedTuple):
    """A lineage graph: the root first, then the versions by depth, each once."""

    root: str
    direction: str  # ANCESTORS or DESCENDANTS
    depth: int | None  # None: all
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of ``refs --depth N --json`` and ``GET /v1/refs/SPEC?depth=N``."""
        return {
            "root": self.root,
            "direction": self.direction,
            "depth": "all" if self.depth is None else self.depth,
            "nodes": [n.to_dict() for n in self.nodes],
            "edges": [e.to_dict() for e in self.edges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lineage:
        """Rebuild a graph from its JSON shape (the remote client). Each node and edge
        is made in C, its values taken by key (a daemon's added keys are left out): a
        call per node cost a tenth of printing 10,000 of them. An answer that is not a
        graph is :class:`~toolvault.lineage_shape.NotAGraph` (a ValueError), before
        anything is printed from it."""
        from toolvault.lineage_shape import EDGE_KEYS, NotAGraph, check_columns, check_top

        check_top(data)
        new = tuple.__new__
        try:
            nodes = tuple(map(itemgetter(*NODE_FIELDS), data["nodes"]))
            edges = tuple(map(itemgetter(*EDGE_KEYS), data["edges"]))
        except KeyError as exc:
            raise NotAGraph(f"a node or an edge has no {exc}") from None
        # a column a field (none when there are no nodes or edges)
        check_columns(data["root"], list(zip(*nodes, strict=True)), list(zip(*edges, strict=True)))
        return cls(
            data["root"],
            data["direction"],
            None if data["depth"] == "all" else data["depth"],
            tuple(map(new, repeat(Node), nodes)),
            tuple(map(new, repeat(Edge), edges)),
        )


# -- the text tree ------------------------------------------------------------------------


def render_tree(graph: Lineage) -> str:
    """The graph as an indented tree from its root: a version reached a second time is
    shown once more by name with ``(shown above)``, never expanded twice; a reference that
    reaches no version is shown as stored, with what is wrong with it."""
    nodes = {n.ref: n for n in graph.nodes}
    below = children(graph)
    lines: list[str] = []
    shown: set[str] = set()
    # a stack, not recursion: a chain of thousands of versions is a tree that deep
    stack: list[tuple[int, str, Edge | None]] = [(0, graph.root, None)]
    while stack:
        level, ref, edge = stack.pop()
        node = nodes.get(ref)
        if node is None:
            assert edge is not None
            lines.append(f"{_indent(level)}{edge.stored}  {MISSING_NOTE[edge.status]}")
            continue
        again = ref in shown
        lines.append(_indent(level) + _line(node, edge, again))
        if not again:
            shown.add(ref)
            stack += [(level + 1, target, e) for target, e in reversed(below.get(ref, []))]
    refs = sum(1 for e in graph.edges if e.reaches)
    lines.append(f"{len(graph.nodes)} version(s), {refs} reference(s) between them")
    return "\n".join(lines) + "\n"


def children(graph: Lineage) -> dict[str, list[tuple[str, Edge]]]:
    """Each version's lines below it: what it references (ancestors), or what references
    it (descendants), in the order of the edges."""
    below: dict[str, list[tuple[str, Edge]]] = {}
    for e in graph.edges:
        if graph.direction == ANCESTORS:
            below.setdefault(e.source, []).append((e.target, e))
        elif e.reaches:
            below.setdefault(e.target, []).append((e.source, e))
    return below


def _indent(level: int) -> str:
    if level <= INDENT_LEVELS:
        return "  " * level
    return "  " * INDENT_LEVELS + f"[depth {level}] "


def _line(node: Node, edge: Edge | None, again: bool) -> str:
    text = f"{node.name}:{node.version}  {node.sha256[:12]}  {node.created_by or '-'}"
    text += f"  {node.created_at}"
    if edge is not None and edge.status == "resolves":
        text += f"  (via {edge.stored}, stored as written; resolves to it now)"
    if node.yanked:
        text += f"  YANKED: {node.yanked}"
    if again:
        return text + "  (shown above)"
    if node.truncated:
        text += "  (more beyond this depth)"
    return text
