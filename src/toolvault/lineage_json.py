"""The JSON of a lineage graph, byte for byte as the standard library writes it, at a
fraction of its cost: indented as ``refs --depth N --json`` prints it (``json.dumps(
graph.to_dict(), indent=2, ensure_ascii=False)``), or compact as the daemon answers
``GET /v1/refs/SPEC?depth=N`` (``separators=(",", ":")``).

With ``indent``, the standard library encodes in Python, a generator step per token: the
8 MB of a 10,000-version graph took longer than walking it; compact, it first makes a
dictionary a node. Here the values of many nodes or edges go through the C encoder in
one call, one value a line (the encoder escapes every newline inside a string, so a raw
newline only ever separates two values), and the values are joined with the keys
between them.

:func:`pieces` gives the text a few hundred objects at a time, for a command to write
as it goes: building the whole text first, and copying it to write it, touched tens of
megabytes of fresh memory, and on a virtual machine each new page costs more than the
encoding of what it holds. ``tests/test_lineage_json.py`` holds the bytes equal.
"""

from __future__ import annotations

import json
from itertools import chain

from toolvault.lineage_graph import NODE_FIELDS, Lineage
from toolvault.lineage_shape import EDGE_KEYS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

VALUES = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=("\n", ":"))
CHUNK = 200  # objects a piece: its memory is used again by the next piece


class Layout:
    """Where a list of objects two levels deep puts its punctuation: the text that opens
    the list and its first object, that closes an object and opens the next, that
    separates two members, between a key and its value, and that closes the last object
    and the list."""

    def __init__(self, first: str, between: str, member: str, colon: str, last: str) -> None:
        self.first, self.between, self.member = first, between, member
        self.colon, self.last = colon, last

    def key(self, key: str) -> str:
        """A key and what follows it, up to its value."""
        return json.dumps(key, ensure_ascii=False) + self.colon


INDENTED = Layout("[\n    {\n      ", "\n    },\n    {\n      ", ",\n      ", ": ", "\n    }\n  ]")
COMPACT = Layout("[{", "},{", ",", ":", "}]")


def _array(
    items: Sequence[tuple[object, ...]], keys: Sequence[str], layout: Layout
) -> Iterator[str]:
    """Tuples of scalars (values in the keys' order) as a list of objects, :data:`CHUNK`
    objects a piece."""
    if not items:
        yield "[]"
        return
    # before each value its key: the first opens an object (closing the one before)
    before = [layout.between + layout.key(keys[0])]
    before += [layout.member + layout.key(k) for k in keys[1:]]
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        values = VALUES.encode(list(chain.from_iterable(chunk)))[1:-1].split("\n")
        parts: list[str] = [""] * (2 * len(values))
        parts[0::2] = before * len(chunk)
        parts[1::2] = values
        if not start:
            parts[0] = layout.first + layout.key(keys[0])
        yield "".join(parts)
    yield layout.last


def pieces(graph: Lineage) -> Iterator[str]:
    """``json.dumps(graph.to_dict(), indent=2, ensure_ascii=False)`` in pieces, fast."""
    head = {"root": graph.root, "direction": graph.direction}
    text = json.dumps(head, indent=2, ensure_ascii=False)[:-2]  # without "\n}"
    depth = json.dumps("all" if graph.depth is None else graph.depth)
    yield f'{text},\n  "depth": {depth},\n  "nodes": '
    yield from _array(graph.nodes, NODE_FIELDS, INDENTED)
    yield ',\n  "edges": '
    yield from _array(graph.edges, EDGE_KEYS, INDENTED)
    yield "\n}"


def dumps(graph: Lineage) -> str:
    """``json.dumps(graph.to_dict(), indent=2, ensure_ascii=False)``, fast."""
    return "".join(pieces(graph))


def compact(graph: Lineage) -> str:
    """``json.dumps(graph.to_dict(), ensure_ascii=False, separators=(",", ":"))``, fast:
    the daemon's answer."""
    head = {"root": graph.root, "direction": graph.direction}
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]  # without "}"
    depth = json.dumps("all" if graph.depth is None else graph.depth)
    nodes = "".join(_array(graph.nodes, NODE_FIELDS, COMPACT))
    edges = "".join(_array(graph.edges, EDGE_KEYS, COMPACT))
    return f'{text},"depth":{depth},"nodes":{nodes},"edges":{edges}}}'
