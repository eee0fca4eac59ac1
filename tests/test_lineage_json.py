"""``toolvault.lineage_json``: a lineage graph's JSON, written fast, is byte for byte what
``json.dumps(graph.to_dict(), indent=2, ensure_ascii=False)`` writes (issue 14: a graph
of 10,000 versions is 8 MB of JSON, which the standard library's indenting encoder took
longer to write than the walk took to find)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from toolvault import Vault
from toolvault.lineage_graph import Edge, Lineage, Node
from toolvault.lineage_json import CHUNK, compact, dumps, pieces

TRICKY = [
    "",
    "line\nbreak",
    'a "quote"',
    "back\\slash",
    "%s %d %% {0} {}",  # formatting characters
    "héllo wörld ✓ 🙂",
    "\u2028\u2029 separators",
    "\x00\x1b[31m\x7f control",
    "\t\r\n",
    "    },\n    {",  # what the encoder joins objects with, inside a value
]


def stdlib(graph: Lineage) -> str:
    return json.dumps(graph.to_dict(), indent=2, ensure_ascii=False)


def starlette(graph: Lineage) -> str:
    """What the daemon's JSONResponse wrote of ``to_dict()`` (its render, before bytes)."""
    return json.dumps(
        graph.to_dict(), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    )


def same(graph: Lineage) -> None:
    """Both forms, byte for byte as the standard library writes them."""
    assert dumps(graph) == stdlib(graph)
    assert compact(graph) == starlette(graph)


def node(i: int, text: str | None) -> Node:
    return Node(
        f"t:{i}@sha256:{'a' * 64}", f"t{i}", i, "a" * 64, text or "-", text, None, text,
        text, text, text, i, bool(i % 2),
    )  # fmt: skip


def test_tricky_values_empty_lists_and_every_depth() -> None:
    nodes = tuple(node(i, t) for i, t in enumerate([*TRICKY, None]))
    edges = tuple(Edge(t, t[::-1], "exact", t) for t in TRICKY)
    for graph in (
        Lineage("root", "ancestors", None, nodes, edges),
        Lineage("root\n", "descendants", 3, nodes[:1], ()),
        Lineage("", "ancestors", 0, (), ()),
        Lineage(TRICKY[5], "ancestors", 1_000_000, (), edges[:1]),
    ):
        same(graph)


def test_graphs_longer_than_a_piece() -> None:
    """Objects across pieces (CHUNK a piece): a piece ends and the next begins with an
    object, each form as the standard library writes it."""
    for count in (CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3):
        texts = [TRICKY[i % len(TRICKY)] for i in range(count)]
        nodes = tuple(node(i, t) for i, t in enumerate(texts))
        edges = tuple(Edge(t, str(i), "exact", t[::-1]) for i, t in enumerate(texts))
        graph = Lineage("root", "ancestors", None, nodes, edges)
        same(graph)
        assert len(list(pieces(graph))) > count // CHUNK  # written as it is made


@given(
    st.lists(st.tuples(st.text(), st.one_of(st.none(), st.text()), st.integers(0, 10**9))),
    st.lists(st.tuples(st.text(), st.text(), st.text())),
    st.one_of(st.none(), st.integers(0, 1_000_000)),
)
def test_any_text_is_written_as_the_standard_library_writes_it(
    values: list[tuple[str, str | None, int]], links: list[tuple[str, str, str]], depth: int | None
) -> None:
    nodes = tuple(Node(a, a, n, a, a, b, b, None, b, a, b, n, n % 3 == 0) for a, b, n in values)
    edges = tuple(Edge(a, b, c, a + c) for a, b, c in links)
    graph = Lineage(values[0][0] if values else "r", "ancestors", depth, nodes, edges)
    same(graph)


def test_a_graph_from_the_vault(vault: Vault) -> None:
    held: list[str] = []
    printable = [t for t in TRICKY if "\x00" not in t]  # a publish refuses control characters
    for i, text in enumerate(printable):
        published = vault.publish(
            f"t{i % 3}", f"echo {i}\n", references=held[-1:], prompt=text or None, message=text
        )
        held.append(vault.get(f"{published.name}:{published.version}").ref)
    for reverse in (False, True):
        graph = vault.lineage(held[0] if reverse else held[-1], "all", reverse)
        assert len(graph.nodes) == len(printable)
        same(graph)
