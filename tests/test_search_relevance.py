"""The relevance set (issue 13): 200 real-looking tools and their expected top results,
on SQLite and on the real PostgreSQL, which must agree; every tool found by its exact
name first. A change that makes the ranking worse fails here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import search_corpus
from conftest import PG_URL
from toolvault import Vault

RESULTS: dict[str, dict[str, list[str]]] = {}  # backend -> query -> names, to compare


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Vault]:  # fmt: skip
    home = tmp_path_factory.mktemp("relevance") / "home"
    url = None
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("no PostgreSQL (set TOOLVAULT_TEST_PG=URL)")
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    vault = Vault.open(home, db=url)
    try:
        build(vault)
        vault.backend = request.param  # type: ignore[attr-defined]
        yield vault
    finally:
        vault.close()
        if url:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def build(vault: Vault) -> None:
    items, deprecated = search_corpus.tools()
    for start in range(0, len(items), 50):
        vault.publish_many(items[start : start + 50])
    for name in deprecated:
        vault.set_lifecycle(name, "deprecated", "use the new one")


QUERIES = search_corpus.queries()


def test_the_expected_results_come_first(corpus: Vault) -> None:
    misses = []
    found: dict[str, list[str]] = {}
    for query, expected in QUERIES:
        names = [r.name for r in corpus.search(query, limit=10)]
        found[query] = names
        if names[: len(expected)] != expected[:3]:
            misses.append((query, expected, names[:5]))
    RESULTS[corpus.backend] = found  # type: ignore[attr-defined]
    assert len(QUERIES) >= 30
    assert not misses, misses


def test_both_stores_return_the_same_results() -> None:
    if len(RESULTS) < 2:
        pytest.skip("needs the relevance run on both stores first")
    assert RESULTS["sqlite"] == RESULTS["postgres"]


def test_every_tool_is_found_by_its_exact_name_first(corpus: Vault) -> None:
    wrong = []
    for tool in corpus.tools():
        if tool.lifecycle == "deprecated":
            continue  # deprecated tools come after active ones, whatever matched
        first = corpus.search(tool.name, limit=1)
        if [r.name for r in first] != [tool.name]:
            wrong.append((tool.name, [r.name for r in first]))
    assert not wrong, wrong


def test_a_yanked_version_is_never_a_result_unless_asked(corpus: Vault) -> None:
    corpus.yank("csv-summarise:2", "relevance test")
    try:
        for query in ("csv", "csv-summarise", "description:csv", "usage"):
            for r in corpus.search(query, limit=100):
                assert not r.yanked and r.ref.split("@")[0] != "csv-summarise:2", (query, r)
        every = corpus.search("csv-summarise", all_versions=True)
        assert ("csv-summarise", 2, True) in [(r.name, r.version, r.yanked) for r in every]
    finally:
        pass  # yanks are permanent: this is the module's last test
