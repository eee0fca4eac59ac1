"""The ancestors' walk knows an exact edge by one look-up: a stored reference equal to the
pinned ref of a version read (:func:`toolvault.lineage_walk.pinned_refs`). A version whose
row was altered by hand into a form no pinned ref has must not become an exact target."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import drop_triggers, raw
from test_lineage_graph import chain
from toolvault import Vault
from toolvault.errors import InvalidInput
from toolvault.lineage_walk import pinned_refs as pinned


def _upper_hash(vault: Vault, name: str, version: int) -> str:
    """Alter a version's hash to its upper-case spelling (a blob row for it too, for the
    foreign key); the pinned text a reference to it would then hold."""
    sha = vault.get(f"{name}:{version}").sha256
    drop_triggers(vault, "versions")
    raw(
        vault,
        "INSERT INTO blobs (sha256, size, content) "
        "SELECT upper(sha256), size, content FROM blobs WHERE sha256 = ?",
        (sha,),
    )
    raw(
        vault,
        "UPDATE versions SET sha256 = upper(sha256) WHERE name = ? AND version = ?",
        (name, version),
    )
    return f"{name}:{version}@sha256:{sha.upper()}"


@pytest.mark.parametrize("depth", [4, "all"])  # a query a level, and the recursive query
def test_a_hash_altered_out_of_pinned_form_is_not_an_exact_target(
    vault: Vault, depth: int | str
) -> None:
    refs = chain(vault, 6, 2)  # t0:1 <- t1:1 <- t0:2 <- t1:2 <- t0:3 <- t1:3
    altered = _upper_hash(vault, "t1", 1)
    # t0:2 holds t0:1, and t1:1 as it was (so its row is read) and as it is now stored
    held = json.dumps([refs[0], refs[1], altered])
    raw(vault, "UPDATE versions SET refs = ? WHERE name = 't0' AND version = 2", (held,))
    graph = vault.lineage(refs[-1], depth)
    statuses = {(e.source.split("@")[0], e.stored): e.status for e in graph.edges}
    # upper-case hex is no pinned ref: as written it resolves to nothing
    assert statuses[("t0:2", altered)] == "dangling"
    assert statuses[("t0:2", refs[1])] == "changed"
    assert statuses[("t0:2", refs[0])] == "exact"  # the rows beside it keep their edges
    assert statuses[("t1:2", refs[2])] == "exact"
    assert "t1:1" not in {f"{n.name}:{n.version}" for n in graph.nodes}
    assert [n.ref for n in graph.nodes] == [refs[5], refs[4], refs[3], refs[2], refs[0]]


def test_pinned_refs_keeps_only_the_rows_whose_ref_is_a_pinned_ref() -> None:
    good = ("tool", 3, "a" * 64)

    def pinned_refs(rows: list[tuple[Any, ...]]) -> dict[str, tuple[str, int]]:
        return pinned(rows, [(r[0], r[1]) for r in rows])

    assert pinned_refs([good]) == {f"tool:3@sha256:{'a' * 64}": ("tool", 3)}
    altered = [
        ("tool", 4, "A" * 64),  # upper case
        ("tool", 5, "a" * 63),  # too short
        ("tool", 6, "g" * 64),  # not hex
        ("tool", 7, "é" * 64),  # not ASCII
        ("bad name", 8, "a" * 64),  # not a name
        ("tool", "9", "a" * 64),  # a number held as text
        ("tool", 0, "a" * 64),  # no version is 0
        ("tool", 10, None),  # no hash
    ]
    for row in altered:  # alone, and among good rows: the good ones are kept
        assert pinned_refs([row]) == {}, row
        found = pinned_refs([good, row, ("other", 1, "b" * 64)])
        assert set(found.values()) == {("tool", 3), ("other", 1)}, row
    assert pinned_refs([]) == {}


@pytest.mark.parametrize("cap", [3, 5, 8, 11])
def test_a_graph_over_a_small_cap_is_refused_not_cut(vault: Vault, cap: int) -> None:
    """The recursive query stops at the cap; PostgreSQL's may then leave out the very
    versions it was asked about: they are read, never taken for gone (which made the
    root's reference "changed" and the graph one version, not the refusal)."""
    refs = chain(vault, 12, 2)
    with pytest.raises(InvalidInput, match=f"more than {cap} versions at depth all"):
        vault.lineage(refs[-1], "all", max_nodes=cap)
    assert len(vault.lineage(refs[-1], "all", max_nodes=12).nodes) == 12
