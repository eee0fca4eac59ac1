"""Lineage graphs (SPEC §11, issue 14): ``refs SPEC --depth N|all`` and ``--reverse``,
``Vault.lineage``, ``GET /v1/refs/SPEC?depth=``: each version once, depth bounded, the
same answer locally and through the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import drop_triggers, raw
from test_cli import assert_one_line_error, js, ok, tv
from test_server import Daemon, make_token
from toolvault import Vault
from toolvault.errors import InvalidInput
from toolvault.lineage_graph import render_tree

TOOLS = 5
CHAIN = 50


def chain(vault: Vault, length: int = CHAIN, tools: int = TOOLS) -> list[str]:
    """``length`` versions round robin over ``tools`` tools, each referencing the one
    before; their pinned refs, oldest first."""
    refs: list[str] = []
    for i in range(length):
        published = vault.publish(
            f"t{i % tools}",
            f"echo {i}\n",
            references=refs[-1:],
            created_by=f"agent-{i}",
            session_id=f"s-{i}",
            prompt=f"make step {i}",
            message=f"step {i}",
        )
        refs.append(vault.get(f"{published.name}:{published.version}").ref)
    return refs


def diamond(vault: Vault) -> dict[str, str]:
    """d references b and c, both of which reference a; c references b too."""
    found = {}
    for name, content, references in (
        ("a", "echo a\n", []),
        ("b", "echo b\n", ["a"]),
        ("c", "echo c\n", ["a", "b"]),
        ("d", "echo d\n", ["b", "c"]),
    ):
        vault.publish(name, content, references=references)
        found[name] = vault.get(name).ref
    return found


class Counted:
    """Counts the statements a store runs."""

    def __init__(self, vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        real = vault.store._q

        def counting(sql: str, params: Any = ()) -> Any:
            self.n += 1
            return real(sql, params)

        monkeypatch.setattr(vault.store, "_q", counting)


# -- the library, over SQLite and PostgreSQL ------------------------------------------------


def test_a_chain_of_50_versions_across_5_tools_in_one_call(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = chain(vault)
    counted = Counted(vault, monkeypatch)
    graph = vault.lineage("t4:10", depth="all")
    assert counted.n <= 12  # batched: never a query per version (50 here)
    assert graph.root == refs[-1] and graph.direction == "ancestors" and graph.depth is None
    assert [n.ref for n in graph.nodes] == refs[::-1]
    assert [n.depth for n in graph.nodes] == list(range(CHAIN))
    assert [(e.source, e.target, e.status) for e in graph.edges] == [
        (refs[i], refs[i - 1], "exact") for i in range(CHAIN - 1, 0, -1)
    ]
    first = graph.to_dict()["nodes"][-1]
    assert {k: first[k] for k in ("name", "version", "created_by", "session_id")} == {
        "name": "t0",
        "version": 1,
        "created_by": "agent-0",
        "session_id": "s-0",
    }
    assert (first["prompt"], first["message"], first["yanked"]) == ("make step 0", "step 0", None)
    assert first["created_at"] == vault.get("t0:1").created_at
    assert not any(n.truncated for n in graph.nodes)

    counted.n = 0
    down = vault.lineage("t0:1", depth="all", reverse=True)
    assert counted.n <= 12
    assert down.direction == "descendants"
    assert [n.ref for n in down.nodes] == refs
    assert [(e.source, e.target) for e in down.edges] == [
        (refs[i], refs[i - 1]) for i in range(1, CHAIN)
    ]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(("depth", "count"), [(0, 1), (1, 2), ("1", 2), (7, 8), (9, 10), (49, 50)])
def test_depth_limits_the_levels_and_marks_where_it_stopped(
    vault: Vault, reverse: bool, depth: int | str, count: int
) -> None:
    refs = chain(vault)
    graph = vault.lineage(refs[0] if reverse else refs[-1], depth, reverse)
    assert len(graph.nodes) == count and len(graph.edges) == count - 1
    assert graph.depth == int(depth)
    # the last version shown has more beyond it, except at the end of the chain
    assert [n.truncated for n in graph.nodes] == [False] * (count - 1) + [count < CHAIN]


def test_a_diamond_has_each_version_once(vault: Vault) -> None:
    refs = diamond(vault)
    graph = vault.lineage("d", "all")
    assert [(n.name, n.depth) for n in graph.nodes] == [("d", 0), ("b", 1), ("c", 1), ("a", 2)]
    edges = {(e.source, e.target) for e in graph.edges}
    r = refs
    assert edges == {(r["d"], r["b"]), (r["d"], r["c"]), (r["b"], r["a"])} | {
        (r["c"], r["a"]),
        (r["c"], r["b"]),
    }
    assert len(graph.edges) == 5
    text = render_tree(graph)
    assert text.count("a:1 ") == 2 and text.count("(shown above)") == 2, text
    assert text.endswith("4 version(s), 5 reference(s) between them\n")
    down = vault.lineage("a", "all", reverse=True)
    assert [(n.name, n.depth) for n in down.nodes] == [("a", 0), ("b", 1), ("c", 1), ("d", 2)]
    assert len(down.edges) == 5


@pytest.mark.parametrize(
    "bad", [-1, "-1", "x", "1.5", "", " 3", "+3", "٣", "ALL", "10000000", 10**7, True, None, 2.0]
)
def test_a_bad_depth_is_invalid_input(vault: Vault, bad: Any) -> None:
    vault.publish("a", "echo a\n")
    with pytest.raises(InvalidInput, match="depth must be a number of levels"):
        vault.lineage("a", bad)


def test_a_graph_over_the_cap_is_refused_with_what_to_do(vault: Vault) -> None:
    chain(vault, 20, 2)
    assert len(vault.lineage("t1:10", "all", max_nodes=20).nodes) == 20  # at the cap
    with pytest.raises(InvalidInput, match="more than 19 versions at depth all") as caught:
        vault.lineage("t1:10", "all", max_nodes=19)
    assert caught.value.details["max_nodes"] == 19
    assert "smaller --depth" in str(caught.value)
    with pytest.raises(InvalidInput, match="more than 5 versions at depth 9"):
        vault.lineage("t0:1", 9, reverse=True, max_nodes=5)


def test_yanked_dangling_and_as_written_references(vault: Vault) -> None:
    vault.publish("lib", "echo lib\n")
    vault.yank("lib:1", reason="leaks memory")
    vault.publish(
        "app", "echo app\n", references=["lib:1", "later", "later:1"], allow_dangling=True
    )
    vault.publish("later", "echo later\n")  # "later" and "later:1" resolve now
    graph = vault.lineage("app", 1)
    lib, later = vault.get("lib:1").ref, vault.get("later:1").ref
    assert [(e.target, e.status, e.stored) for e in graph.edges] == [
        (lib, "exact", lib),
        (later, "resolves", "later"),
        (later, "resolves", "later:1"),
    ]
    assert [(n.name, n.yanked) for n in graph.nodes] == [
        ("app", None),
        ("lib", "leaks memory"),
        ("later", None),
    ]
    text = render_tree(graph)
    assert "YANKED: leaks memory" in text and "(via later, stored as written" in text
    down = vault.lineage("later:1", "all", reverse=True)
    assert [(e.status, e.stored) for e in down.edges] == [
        ("resolves", "later"),
        ("resolves", "later:1"),
    ]
    vault.publish("later", "echo later 2\n")  # "later" now resolves to later:2
    down = vault.lineage("later:1", "all", reverse=True)
    assert [e.stored for e in down.edges] == ["later:1"]


@pytest.mark.parametrize("depth", [3, "all"])
def test_a_reference_whose_version_is_gone_or_changed_is_an_edge_without_a_node(
    vault: Vault, depth: int | str
) -> None:
    refs = chain(vault, 12, 3)
    vault.publish("leaf", "echo leaf\n")
    leaf = vault.get("leaf:1")
    wrong = f"leaf:1@sha256:{'0' * 64}"
    ghost = f"ghost:1@sha256:{'1' * 64}"
    drop_triggers(vault, "versions")
    # t2:1 (depth 9 of t2:4: reached after the walk read every reference at once) and
    # t1:4 (depth 1) hold, besides their own, references to versions not there as named
    for name, version in (("t2", 1), ("t1", 4)):
        held = json.dumps([*vault.get(f"{name}:{version}").references, wrong, ghost, leaf.ref])
        raw(
            vault,
            "UPDATE versions SET refs = ? WHERE name = ? AND version = ?",
            (held, name, version),
        )
    graph = vault.lineage(refs[-1], depth)
    statuses = {(e.source.split("@")[0], e.stored): e.status for e in graph.edges}
    assert statuses[("t1:4", wrong)] == "changed"
    assert statuses[("t1:4", ghost)] == "changed"
    assert statuses[("t1:4", leaf.ref)] == "exact"
    if depth == "all":
        assert statuses[("t2:1", wrong)] == statuses[("t2:1", ghost)] == "changed"
    names = [n.name for n in graph.nodes]
    assert names.count("leaf") == 1 and "ghost" not in names
    assert all(e.target in {n.ref for n in graph.nodes} for e in graph.edges if e.reaches)
    text = render_tree(graph)
    assert f"{ghost}  CHANGED: that version is gone or has another hash now" in text


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def local(home: Path) -> Iterator[Vault]:
    with Vault.open(home) as opened:
        yield opened


def test_refs_depth_json_and_text_on_the_command_line(local: Vault) -> None:
    refs = chain(local)
    assert js("refs", "t4:10", "--depth", "all") == local.lineage("t4:10", "all").to_dict()
    down = js("refs", "t0:1", "--reverse", "--depth", "3")
    assert [n["ref"] for n in down["nodes"]] == refs[:4]
    assert set(down) == {"root", "direction", "depth", "nodes", "edges"}
    assert down["edges"][0] == {"from": refs[1], "to": refs[0], "status": "exact", "ref": refs[0]}
    text = ok("refs", "t4:10", "--depth", "2").stdout
    lines = text.splitlines()
    assert lines[0].startswith("t4:10  ") and lines[1].startswith("  t3:10  ")
    assert lines[2].startswith("    t2:10  ") and lines[2].endswith("(more beyond this depth)")
    assert lines[3] == "3 version(s), 2 reference(s) between them"
    # without --depth, refs is one level in its old shape
    assert js("refs", "t4:10")["references"][0]["ref"] == refs[-2]


def test_a_deep_chain_keeps_its_text_tree_bounded(local: Vault) -> None:
    chain(local, 40, 1)
    lines = ok("refs", "t0:40", "--depth", "all").stdout.splitlines()
    assert len(lines) == 41
    assert lines[39].startswith("  " * 32 + "[depth 39] t0:1  ")


@pytest.mark.parametrize("bad", ["-1", "x", "", "1e3", "all,1"])
def test_a_bad_depth_is_one_line_and_exit_2(local: Vault, bad: str) -> None:
    local.publish("a", "echo a\n")
    result = tv("refs", "a", "--depth", bad)
    assert result.exit_code == 2
    assert_one_line_error(result, "depth must be a number of levels from 0 to 1,000,000, or 'all'")


def test_the_fast_path_hands_depth_to_the_full_command(local: Vault, home: Path) -> None:
    chain(local, 6, 2)
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "toolvault", "refs", "t1:3", "--depth", "all", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == local.lineage("t1:3", "all").to_dict()


# -- through the daemon ------------------------------------------------------------------


def served(home: Path, *args: str) -> tuple[Daemon, str]:
    token = make_token(home, "alice", "--admin", *args)
    return Daemon(home, *args), token


def test_local_and_remote_graphs_are_equal(
    vault: Vault, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = chain(vault)
    diamond(vault)
    db = [] if vault.store.dialect == "sqlite" else ["--db", vault.store.url]  # type: ignore[attr-defined]
    daemon, token = served(home, *db)
    try:
        monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
        monkeypatch.setenv("TOOLVAULT_TOKEN", token)
        for spec, flags in (
            ("t4:10", []),
            ("t0:1", ["--reverse"]),
            ("d", []),
            ("a", ["--reverse"]),
        ):
            for depth in ("0", "2", "all"):
                want = vault.lineage(spec, depth, bool(flags))
                assert js("refs", spec, "--depth", depth, *flags) == want.to_dict()
                assert ok("refs", spec, "--depth", depth, *flags).stdout == render_tree(want)
        response = daemon.call("GET", f"/v1/refs/{refs[0]}?depth=all&reverse=true", token)
        assert response.status_code == 200
        assert [n["ref"] for n in response.json()["nodes"]] == refs
        for bad in ("-1", "x", "", "1.5"):
            response = daemon.call("GET", f"/v1/refs/t0:1?depth={bad}", token)
            assert response.status_code == 400, bad
            assert response.json()["error"]["code"] == "invalid_input"
        result = tv("refs", "t0:1", "--depth", "nope")
        assert result.exit_code == 2
        assert_one_line_error(result, "depth must be a number of levels")
        response = daemon.call("GET", "/v1/refs/t0:1?depth=1&deep=1", token)
        assert response.status_code == 400 and "'deep'" in response.json()["error"]["message"]
    finally:
        daemon.stop()


# -- deep graphs: one recursive query ----------------------------------------------------


def test_a_deep_graph_is_read_in_one_recursive_query(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    refs = chain(vault)
    vault.get("t4:10")  # the walk's own get, below, then costs what any get costs
    counted = Counted(vault, monkeypatch)
    vault.get("t4:10")
    get = counted.n
    counted.n = 0
    graph = vault.lineage("t4:10", "all")
    # the root, one recursive query for the 49 versions behind it, the yanks: not a
    # query a level (8 of them), then one over every reference, then the nodes
    assert counted.n <= get + 2, counted.n
    assert [n.ref for n in graph.nodes] == refs[::-1]
    counted.n = 0
    assert [n.ref for n in vault.lineage("t4:10", 20).nodes] == refs[::-1][:21]
    assert counted.n <= get + 2, counted.n


def test_a_deep_reference_stored_as_written_is_followed_with_what_it_reaches(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = chain(vault, 3, 1)  # t0:1 <- t0:2 <- t0:3
    vault.publish("mid", "echo mid\n", references=[base[-1], "later"], allow_dangling=True)
    refs = [vault.get("mid").ref]
    for i in range(11):  # mid is 11 levels below the root: past the levels read one by one
        vault.publish("top", f"echo {i}\n", references=refs[-1:])
        refs.append(vault.get("top").ref)
    vault.publish("lib", "echo lib\n")
    vault.publish("later", "echo later\n", references=["lib"])  # pinned: lib:1
    counted = Counted(vault, monkeypatch)
    graph = vault.lineage("top", "all")
    assert counted.n <= 12  # the walk reads what "later" reaches in one more query
    later, lib = vault.get("later:1").ref, vault.get("lib:1").ref
    depth = {n.ref: n.depth for n in graph.nodes}
    assert depth[refs[0]] == 11 and depth[base[-1]] == depth[later] == 12
    assert depth[lib] == 13 and depth[base[0]] == 14 and len(graph.nodes) == 12 + 5
    mid = [(e.target, e.status, e.stored) for e in graph.edges if e.source == refs[0]]
    assert mid == [(base[-1], "exact", base[-1]), (later, "resolves", "later")]


@pytest.mark.parametrize(
    "altered", ['["t0:1@sha256:', '{"a": "b"}', '"t0:1"', "[1, 2]", "[[]]", "null", "[]x"]
)
def test_a_reference_text_altered_by_hand_deep_in_a_graph_is_shown_not_fatal(
    vault: Vault, altered: str
) -> None:
    refs = chain(vault, 12, 2)
    drop_triggers(vault, "versions")
    raw(vault, "UPDATE versions SET refs = ? WHERE name = 't1' AND version = 1", (altered,))
    graph = vault.lineage(refs[-1], "all")  # t1:1 is 10 levels down: the recursive query's
    assert [n.ref for n in graph.nodes] == refs[::-1][:11]
    last = [e for e in graph.edges if e.source == refs[1]]
    assert [(e.status, e.stored) for e in last] == [("dangling", f"<unreadable: {altered}>")]
