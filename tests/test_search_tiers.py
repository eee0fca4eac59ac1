"""A search read tier by tier (toolvault.search.tiers) returns exactly what ranking
every row of the index returns (toolvault.search.rank.rank): the same results, scores,
fields and snippets, in the same order — for generated vaults and queries (words,
phrases, qualifiers, content substrings, several terms, deprecated, retired and yanked
versions, every version, fields, limits), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolvault import Vault
from toolvault.errors import InvalidInput
from toolvault.search import cells, tiers, tiersql
from toolvault.search import query as queries
from toolvault.search.rank import Row, rank
from toolvault.search.result import SearchResult
from toolvault.search.run import LIFECYCLES, result
from toolvault.search.sql import TEXT_COLUMNS
from toolvault.service.publishing import NewVersion

# few words, so that they meet in every field; identifiers and case for the content
WORDS = ["csv", "rows", "read", "parse", "git", "sync", "Data", "json", "éclair", "x", "ab"]
NAMES = ["csv", "read-csv", "csv.rows", "git-sync", "Data", "parse", "json-x", "rows", "ab"]
IDENTIFIERS = ["read_csv_rows", "parseJSON", "git_sync", "csvRows", "DATA_rows", "x_ab"]
# a character Python folds to an ASCII one (U+212A Kelvin), and é (U+0130, dotted I,
# folds to two characters in Python and is left out: the tokenizers differ there)
IDENTIFIERS += ["read_\u212asv", "ÉCLAIR_x"]
FIELDS = ["name", "description", "usage", "prompt", "message", "content", "author", "label"]


def reference(vault: Vault, text: str, **kw: Any) -> list[SearchResult]:
    """What ranking every row of the index gives."""
    parsed = queries.parse(text)
    within = tuple(kw.get("fields") or queries.TEXT_FIELDS)
    lifecycles = LIFECYCLES[kw.get("lifecycle")]
    every = vault.store._q(f"SELECT {TEXT_COLUMNS}, latest FROM search_index")
    rows = [
        Row(*r[:14], bool(r[14]), r[15])  # type: ignore[call-arg]
        for r in every
        if r[13] in lifecycles and (kw.get("all_versions") or r[16])
    ]
    return [result(hit) for hit in rank(parsed, rows, kw.get("limit", 20), within)]


def same(vault: Vault, text: str, **kw: Any) -> None:
    try:
        expected = reference(vault, text, **kw)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            vault.search(text, **kw)
        return
    assert vault.search(text, **kw) == expected, (text, kw)


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS + IDENTIFIERS) for _ in range(rng.randint(0, n)))


def populate(vault: Vault, rng: random.Random, tools: int) -> None:
    """Tools of 1-4 versions with words in every field, some deprecated, retired,
    yanked or labelled; published a few at a time, so that many share a timestamp."""
    names = [f"{rng.choice(NAMES)}-{i}" if i >= len(NAMES) else NAMES[i] for i in range(tools)]
    for round_ in range(4):
        batch = [
            NewVersion(
                name,
                f"#!/bin/sh\n{sentence(rng, 8)}\n{round_}\n".encode(),
                description=sentence(rng, 5),
                usage=sentence(rng, 3),
                prompt=sentence(rng, 4),
                message=sentence(rng, 3),
                created_by=rng.choice(["alice", "bob", "Data-x"]),
            )
            for name in names
            if round_ == 0 or rng.random() < 0.5
        ]
        for start in range(0, len(batch), 7):
            vault.publish_many(batch[start : start + 7])
    for name in names:
        roll = rng.random()
        if roll < 0.15:
            vault.set_lifecycle(name, "deprecated")
        elif roll < 0.25:
            vault.set_lifecycle(name, "retired")
        elif roll < 0.4:
            vault.yank(f"{name}:1", "broken")
        elif roll < 0.5:
            vault.label(f"{name}:1", rng.choice(["stable", "csv"]))


TERMS = st.one_of(
    st.sampled_from(WORDS + NAMES + [n.upper() for n in NAMES]),
    st.sampled_from([*IDENTIFIERS, "csv_r", "ars", "SV_", "sync\n"]),  # inside identifiers
    st.sampled_from(["x.", "ab,", "author:alice.Data", "author:data-X"]),  # words, not text
    st.sampled_from(["ksv", "content:_ksv", "KSV", "éclair_x", "ÉCLAIR", "content:ir_X"]),
    st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map(lambda t: f'"{t[0]} {t[1]}"'),
    st.tuples(st.sampled_from(FIELDS), st.sampled_from(WORDS + IDENTIFIERS)).map(
        lambda t: f"{t[0]}:{t[1]}"
    ),
)
QUERIES = st.lists(TERMS, min_size=1, max_size=4).map(" ".join)
MANY = st.lists(TERMS, min_size=3, max_size=4).map(" ".join)  # cells cover their tiers
OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "limit": st.integers(1, 25),
        "all_versions": st.booleans(),
        "lifecycle": st.sampled_from([None, "all", "deprecated", "retired", "active"]),
        "fields": st.lists(st.sampled_from(queries.TEXT_FIELDS), max_size=3, unique=True),
    },
)


@pytest.fixture(params=["as-is", "tight"])
def corpus(vault: Vault, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Vault:
    """The vault, and searched either as it is or reading a row at a time past what is
    asked and walking the rows instead of looking up a few (every bound then counts)."""
    if request.param == "tight":
        tight(monkeypatch)
    populate(vault, random.Random(21), 40)
    return vault


def tight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiers, "SLACK", 0)
    monkeypatch.setattr(tiersql, "LOOKUP_MAX", dict.fromkeys(tiersql.LOOKUP_MAX, 2))
    monkeypatch.setattr(cells, "RESOLVE_MAX", 3)  # most cells split down to their tiers


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=QUERIES, options=OPTIONS)
def test_the_search_is_ranking_every_row(corpus: Vault, text: str, options: dict[str, Any]) -> None:
    same(corpus, text, **options)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=MANY, options=OPTIONS)
def test_many_terms_are_ranking_every_row(
    corpus: Vault, text: str, options: dict[str, Any]
) -> None:
    same(corpus, text, **options)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), tools=st.integers(1, 25), queries_=st.lists(QUERIES, max_size=6))
def test_generated_vaults(
    tmp_path_factory: pytest.TempPathFactory, seed: int, tools: int, queries_: list[str]
) -> None:
    home: Path = tmp_path_factory.mktemp("tiers") / "home"
    with Vault.open(home) as vault, pytest.MonkeyPatch.context() as monkeypatch:
        populate(vault, random.Random(seed), tools)
        for _ in range(2):
            for text in [*queries_, "csv", "rows", "csv rows", "content:csv_r", "read",
                         "csv rows read", "read csv_r parse Data"]:  # fmt: skip
                for limit in (1, 3, 20):
                    same(vault, text, limit=limit)
                    same(vault, text, limit=limit, all_versions=True, lifecycle="all")
            tight(monkeypatch)


def test_a_word_that_is_also_a_trigram(corpus: Vault) -> None:
    # a three-letter word over every word field and its content trigram read alike
    # ('"csv"'): the cells must not take one's rows for the other's
    for text in ["csv csv csv", "csv rows csv", "csv read csv parse", "json git csv"]:
        for limit in (3, 20, 25):
            same(corpus, text, limit=limit)
            same(corpus, text, limit=limit, all_versions=True, lifecycle="all")


def test_an_exact_name_in_any_case_ranks_first(corpus: Vault) -> None:
    corpus.publish("CSV.Rows", b"#!/bin/sh\ntrue\n")  # the newest tool, named as no other
    for text in ["csv.rows", "CSV.ROWS", "Csv.Rows"]:
        assert corpus.search(text, limit=2)[0].name == "CSV.Rows"
    for text in ["csv", "CSV", "Csv", "data", "DATA", "csv.rows", "read-csv", "read-csv-1"]:
        for lifecycle in (None, "all"):
            same(corpus, text, limit=3, lifecycle=lifecycle, all_versions=lifecycle == "all")


def test_a_row_its_tier_overrates_does_not_outrank_a_better_one(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL keeps prompt and message in one weight of its tsvector, so the phrase
    # "alpha beta" reaches across them: the newer tool's tier says prompt, the ranking
    # content. Read a row at a time, the older tool (a real prompt match) must still win.
    tight(monkeypatch)
    vault.publish("older", b"#!/bin/sh\ntrue\n", prompt="alpha beta", description="x")
    vault.publish("newer", b"echo alpha beta\n", prompt="alpha", message="beta", description="y")
    assert [r.name for r in vault.search('"alpha beta"', limit=1)] == ["older"]
    same(vault, '"alpha beta"', limit=1)


def test_cells_trimmed_by_the_page_are_ranking_every_row(
    corpus: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a cell's lower levels whose rows all rank below the limit-th known row are left
    # out before it is listed: the page must not lose a row that ties or beats it
    narrowed: list[Any] = []
    real = cells.trim

    def spy(levels: Any, cell: Any, worst: Any) -> Any:
        out = real(levels, cell, worst)
        narrowed.extend([cell] if out != cell else [])
        return out

    monkeypatch.setattr(cells, "trim", spy)
    for words in itertools.combinations(["csv", "rows", "read", "parse", "git", "Data"], 3):
        for limit in (1, 2, 4, 9):
            same(corpus, " ".join(words), limit=limit)
            same(corpus, " ".join(words), limit=limit, all_versions=True, lifecycle="all")
    for text in ["read csv_r parse Data", "json git sync Data", "csv x ab rows"]:
        same(corpus, text, limit=3)
    assert narrowed  # the path was taken


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # its prepared statements
def test_postgres_cells_are_planned_for_their_words(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    # psycopg prepares a statement run five times, and PostgreSQL may then plan it once
    # for any words: the cells' listings are never prepared, each planned for its own
    populate(vault, random.Random(5), 12)
    store: Any = vault.store
    sql = "SELECT count(*) FROM search_index s WHERE s.content ILIKE ? AND s.latest = ?"
    for _ in range(8):
        store.search_select_planned(sql, ["%csv%", 1])
    prepared = "SELECT statement FROM pg_prepared_statements WHERE statement LIKE ?"
    assert not store._q(prepared, ["%ILIKE%"]).fetchall()
    for _ in range(8):  # the default, which the tiers keep
        store.search_select(sql, ["%csv%", 1])
    assert store._q(prepared, ["%ILIKE%"]).fetchall()
    listed: list[str] = []
    real = store.search_select_planned
    monkeypatch.setattr(store, "search_select_planned", lambda q, p: listed.append(q) or real(q, p))
    for _ in range(6):
        for text in ["csv rows read", "read csv_r parse Data"]:
            same(vault, text, limit=3)
    assert listed


def test_sqlite_reads_the_file_through_a_map(sqlite_vault: Vault) -> None:
    # a search reaches rows scattered over the file: through the map, not a small cache
    (size,) = sqlite_vault.store._q("PRAGMA mmap_size").fetchone()
    assert size > 1 << 30


def test_the_word_table_holds_exactly_the_word_fields(sqlite_vault: Vault) -> None:
    # a term over every word field is matched with no column filter (tiersql._words):
    # right only while the FTS5 table's columns are exactly WORD_WEIGHTS' fields
    from toolvault.search.sql import WORD_WEIGHTS
    from toolvault.store.search import FTS_TABLES

    store: Any = sqlite_vault.store
    columns = [r[1] for r in store._q("PRAGMA table_info(search_words)").fetchall()]
    assert columns == list(WORD_WEIGHTS) == FTS_TABLES["search_words"].split(", ")
