"""The JSON of a lineage graph, byte for byte as ``json.dumps(graph.to_dict(), indent=2,
ensure_ascii=False)`` writes it, at a fraction of its cost.

With ``indent``, the standard library encodes in Python, a generator step per token: the
8 MB of a 10,000-version graph took longer than walking it. Here every value of every
node and edge goes through the C encoder in one call, one value a line (the encoder
escapes every newline inside a string, so a raw newline only ever separates two values),
and the values are joined with the indented keys between them.
``tests/test_lineage_json.py`` holds the bytes equal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain

from toolvault.lineage_graph import NODE_FIELDS, Lineage

EDGE_KEYS = ("from", "to", "status", "ref")  # Edge.to_dict's keys, in its fields' order
VALUES = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=("\n", ":"))


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False) + ": "


def _array(items: Sequence[tuple[object, ...]], keys: Sequence[str]) -> str:
    """Tuples of scalars (values in the keys' order) as ``indent=2`` writes a list of
    objects two levels deep."""
    if not items:
        return "[]"
    values = VALUES.encode(list(chain.from_iterable(items)))[1:-1].split("\n")
    # before each value its key: the first opens an object (closing the one before)
    before = ["\n    },\n    {\n      " + _key(keys[0])]
    before += [",\n      " + _key(k) for k in keys[1:]]
    parts: list[str] = [""] * (2 * len(values))
    parts[0::2] = before * len(items)
    parts[1::2] = values
    parts[0] = "[\n    {\n      " + _key(keys[0])
    return "".join(parts) + "\n    }\n  ]"


def dumps(graph: Lineage) -> str:
    """``json.dumps(graph.to_dict(), indent=2, ensure_ascii=False)``, fast."""
    head = {"root": graph.root, "direction": graph.direction}
    text = json.dumps(head, indent=2, ensure_ascii=False)[:-2]  # without "\n}"
    depth = json.dumps("all" if graph.depth is None else graph.depth)
    nodes, edges = _array(graph.nodes, NODE_FIELDS), _array(graph.edges, EDGE_KEYS)
    return f'{text},\n  "depth": {depth},\n  "nodes": {nodes},\n  "edges": {edges}\n}}'
