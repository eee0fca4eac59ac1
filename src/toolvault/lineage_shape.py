"""Whether a daemon's answer to ``GET /v1/refs/SPEC?depth=`` is a lineage graph.

The remote client (:class:`~toolvault.client.RemoteVault`) and the remote fast path
(:mod:`toolvault.fastcli.remote`) print what a daemon answers. An answer that parses as
JSON may still be no graph (a broken or hostile daemon, a proxy's page): a value that is
a list where a string belongs would end the printing of 10,000 nodes half way with a
traceback, and a root or an edge that names no node would stop the text tree. So every
answer is held to the shape :meth:`Lineage.to_dict <toolvault.lineage_graph.Lineage.
to_dict>` gives, column by column in C (10,000 nodes: a few milliseconds), before
anything is printed. Standard library only: the fast path loads it.
"""

from __future__ import annotations

from itertools import chain

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOP_KEYS = ("root", "direction", "depth", "nodes", "edges")
EDGE_KEYS = ("from", "to", "status", "ref")  # Edge.to_dict's keys, in its fields' order
STR: type = str
INT: type = int
BOOL: type = bool
NONE: type = type(None)
# the types each field of a node may hold, in lineage_graph.NODE_FIELDS' order
NODE_TYPES: tuple[set[type], ...] = (
    *({STR}, {STR}, {INT}, {STR}, {STR}),  # ref, name, version, sha256, created_at
    *({STR, NONE},) * 6,  # created_by, owner, session_id, prompt, message, yanked
    *({INT}, {BOOL}),  # depth, truncated
)
STATUSES = frozenset({"exact", "changed", "dangling", "resolves"})
REACHES = frozenset({"exact", "resolves"})


class NotAGraph(ValueError):
    """An answer that is not a lineage graph's JSON shape; the message says where."""


def check_top(data: Any) -> None:
    """The graph's own fields; :class:`NotAGraph` if they are not a graph's."""
    if type(data) is not dict or not data.keys() >= set(TOP_KEYS):
        raise NotAGraph(f"not an object with {', '.join(TOP_KEYS)}")
    if type(data["root"]) is not STR:
        raise NotAGraph("its root is not a text")
    if data["direction"] not in ("ancestors", "descendants"):
        raise NotAGraph("its direction is neither ancestors nor descendants")
    if data["depth"] != "all" and type(data["depth"]) is not INT:
        raise NotAGraph("its depth is neither a number nor all")
    for key in ("nodes", "edges"):
        if type(data[key]) is not list or not set(map(type, data[key])) <= {dict}:
            raise NotAGraph(f"its {key} are not a list of objects")


def check_columns(root: str, nodes: list[tuple[Any, ...]], edges: list[tuple[Any, ...]]) -> None:
    """The values of nodes and edges, a column a field in their fields' order: each of
    the type its field holds, the root the first node, every edge from a node and one
    that reaches a version to a node; :class:`NotAGraph` otherwise."""
    if not nodes or nodes[0][0] != root:
        raise NotAGraph("its root is not its first node")
    for types, column in zip(NODE_TYPES, nodes, strict=True):
        if not set(map(type, column)) <= types:
            raise NotAGraph("a node has a value of the wrong type")
    if not edges:
        return
    sources, targets, statuses, stored = edges
    if not set(map(type, chain(sources, targets, stored))) <= {STR}:
        raise NotAGraph("an edge has a value that is not a text")
    if not set(statuses) <= STATUSES:
        raise NotAGraph("an edge has a status that is none of exact, changed, dangling, resolves")
    reached = {to for to, status in zip(targets, statuses, strict=True) if status in REACHES}
    if not set(sources) | reached <= set(nodes[0]):
        raise NotAGraph("an edge that reaches a version names no node")


def printable(data: dict[str, Any], node_fields: tuple[str, ...]) -> bool:
    """Whether a graph (its own fields checked) may be printed as its JSON text came:
    each of its nodes and edges holds exactly the keys :meth:`~toolvault.lineage_graph.
    Lineage.to_dict` writes, in its order (else the text carries what the graph's own
    encoding leaves out), and its values are a graph's (:func:`check_columns`, else
    :class:`NotAGraph`). Read a column at a time from the objects: no node is rebuilt."""
    nodes, edges = data["nodes"], data["edges"]
    if tuple(data) != TOP_KEYS or not set(map(tuple, nodes)) <= {node_fields}:
        return False
    if not set(map(tuple, edges)) <= {EDGE_KEYS}:
        return False
    columns = list(zip(*map(dict.values, nodes), strict=True)) if nodes else []
    edge_columns = list(zip(*map(dict.values, edges), strict=True)) if edges else []
    check_columns(data["root"], columns, edge_columns)
    return True
