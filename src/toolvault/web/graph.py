"""The lineage graph around a version drawn server-side: DOT built with the ``graphviz``
binding and laid out to SVG by Graphviz's ``dot``; where ``dot`` is missing (or the
graph is too big to draw) the page shows the same graph as an indented list.

Labels hold only a version's name, number, short hash and author, cut and stripped of
control characters; ``dot`` escapes them as XML text, and each node's link is a path of
this UI built here. The SVG is kept per DOT source: the same graph is drawn once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from toolvault.lineage_graph import Edge, Lineage, Node

MAX_DRAWN = 300  # more versions than this make a graph no one can read: the list instead
MAX_LEVEL_CLASS = 16  # the list's indent classes (lvl-0 … lvl-16) in the stylesheet
DOT_TIMEOUT = 10.0
_kept: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()
KEEP = 256


@dataclass(frozen=True, slots=True)
class Item:
    """A line of the indented list: its level, the version (None: a reference that
    reaches none), the stored reference text, and what to say about it."""

    level: int
    node: Node | None
    stored: str
    note: str

    @property
    def indent(self) -> int:
        """The indent class's level."""
        return min(self.level, MAX_LEVEL_CLASS)


def version_path(name: str, number: int) -> str:
    """The UI path of a version's page."""
    return f"/ui/tools/{quote(name)}/{number}"


def svg(graph: Lineage) -> str | None:
    """The graph as an SVG element, or None when ``dot`` is missing or fails, or the
    graph has too many versions to draw."""
    if len(graph.nodes) > MAX_DRAWN:
        return None
    source = _dot(graph)
    key = hashlib.sha256(source.encode()).hexdigest()
    with _lock:
        if key in _kept:
            return _kept[key]
    drawn = _render(source)
    if drawn is not None:
        with _lock:
            _kept[key] = drawn
            while len(_kept) > KEEP:
                _kept.popitem(last=False)
    return drawn


def _render(source: str) -> str | None:
    import subprocess

    import graphviz

    try:
        out = graphviz.Source(source).pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError, subprocess.SubprocessError):
        return None
    start = out.find("<svg")
    return out[start:] if start >= 0 else None


def _dot(graph: Lineage) -> str:
    import graphviz

    dot = graphviz.Digraph(
        graph_attr={"rankdir": "LR", "bgcolor": "transparent", "fontname": "sans-serif"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": "sans-serif",
                   "fontsize": "11", "fillcolor": "#f6f8fa", "color": "#8b949e"},
        edge_attr={"color": "#8b949e", "arrowsize": "0.7"},
    )  # fmt: skip
    ids: dict[str, str] = {}  # DOT ids of their own: a ref's colons would read as ports
    for node in graph.nodes:
        extra = {"fillcolor": "#dbeafe", "color": "#2563eb"} if node.ref == graph.root else {}
        if node.yanked:
            extra |= {"style": "rounded,filled,dashed", "fontcolor": "#b91c1c"}
        ids[node.ref] = f"v{len(ids)}"
        dot.node(
            ids[node.ref],
            _label(node),
            href=version_path(node.name, node.version) + "/lineage",
            tooltip=_clean(node.ref, 200),
            target="_top",
            **extra,
        )
    for edge in graph.edges:
        if edge.target not in ids:
            ids[edge.target] = f"v{len(ids)}"
            missing = {"shape": "note", "color": "#b91c1c", "fontcolor": "#b91c1c"}
            label = _clean(edge.stored, 60) + "\\n" + edge.status
            dot.node(ids[edge.target], label, style="dashed", **missing)
        dot.edge(
            ids[edge.source],
            ids[edge.target],
            style="solid" if edge.status == "exact" else "dashed",
        )
    source: str = dot.source
    return source


def _label(node: Node) -> str:
    author = _clean(node.created_by or "-", 32)
    yanked = "\\nYANKED" if node.yanked else ""
    return f"{node.name}:{node.version}\\n{node.sha256[:10]}\\n{author}{yanked}"


def _clean(text: str, limit: int) -> str:
    """Printable characters only, no backslash (DOT's escape), cut to ``limit``."""
    kept = "".join(c for c in text if c.isprintable() and c != "\\")
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def items(graph: Lineage) -> list[Item]:
    """The graph as an indented list from its root (as ``refs --depth`` prints it): a
    version reached again is listed once more, marked, and not expanded twice."""
    from toolvault.lineage_graph import children

    nodes = {n.ref: n for n in graph.nodes}
    below = children(graph)
    found: list[Item] = []
    shown: set[str] = set()
    stack: list[tuple[int, str, Edge | None]] = [(0, graph.root, None)]
    while stack:  # a stack, not recursion: a chain can be thousands of versions deep
        level, ref, edge = stack.pop()
        node = nodes.get(ref)
        stored = edge.stored if edge else ref
        if node is None:
            found.append(Item(level, None, stored, edge.status if edge else "missing"))
            continue
        again = ref in shown
        note = "shown above" if again else "more beyond this depth" if node.truncated else ""
        found.append(Item(level, node, stored, note))
        if not again:
            shown.add(ref)
            stack += [(level + 1, target, e) for target, e in reversed(below.get(ref, []))]
    return found
