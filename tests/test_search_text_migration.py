"""Migration 11 (issue 13's publish budget): SQLite's full-text tables remade lighter to
write (no token counts per row, no columns in the trigram table), an
existing vault moved over in one transaction with every search finding what it did."""

from __future__ import annotations

import io
from pathlib import Path

from conftest import Raw
from toolvault import Vault
from toolvault.store.migrations import SEARCH_SQLITE
from toolvault.store.postgres import PostgresStore
from toolvault.store.sqlite import split_sql

TOOLS = {
    "csv-summary": b"#!/usr/bin/env python3\n'''Summarise the columns of a CSV file.'''\n"
    b"def read_csv_rows(p):\n    pass\n",
    "git-prune": b"#!/bin/sh\n# Delete merged branches.\n"
    b"git branch --merged | xargs git branch -d\n",
    "jq-pretty": b'#!/bin/sh\njq . "$@" # pretty print\n',
    "cafe-menu": b"#!/bin/sh\n# Le caf\xc3\xa9 du coin: menu_du_jour.\n",
}
QUERIES = [
    "csv", "summarise columns", "csv_row", "branch", '"merged branches"', "content:xargs",
    "prompt:tidy", "pretty json", "name:git", "menu_du", "café", "message:second",
    "label:stable", "name:jq", "ead_cs", "jq pretty",
]  # fmt: skip


def found(vault: Vault, all_versions: bool = False) -> dict[str, list[tuple[str, int, str]]]:
    return {
        q: [(h.name, h.version, h.snippet) for h in vault.search(q, all_versions=all_versions)]
        for q in QUERIES
    }


def fill(vault: Vault) -> None:
    for name, content in TOOLS.items():
        vault.publish(name, content, prompt="tidy up things", message="first")
    vault.publish("git-prune", TOOLS["git-prune"] + b"# again\n", message="second")
    vault.publish("jq-pretty", TOOLS["jq-pretty"] + b"# 2\n", message="second")
    vault.yank("jq-pretty:2", "broken")
    vault.label("csv-summary:1", "stable")


def fts_sql(run: Raw) -> dict[str, str]:
    rows = run("SELECT name, sql FROM sqlite_master WHERE name LIKE 'search_%'")
    return {name: sql or "" for name, sql in rows}


def back_to_schema_10(run: Raw) -> None:
    """The full-text tables as migration 8 made them, filled, and no migration 11."""
    run("DROP TABLE search_words")
    run("DROP TABLE search_trigram")
    for statement in split_sql(SEARCH_SQLITE):
        if "CREATE VIRTUAL TABLE" in statement:
            run(statement)
    for table in ("search_words", "search_trigram"):
        run(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
    run("DELETE FROM schema_migrations WHERE id = 11")


def test_an_existing_vault_moves_to_the_lean_tables_finding_the_same(
    vault: Vault, home: Path
) -> None:
    fill(vault)
    before, before_all = found(vault), found(vault, all_versions=True)
    assert before["csv_row"][0][0] == "csv-summary" and before["café"][0][0] == "cafe-menu"
    postgres = isinstance(vault.store, PostgresStore)
    with Raw(vault) as run:
        if postgres:  # nothing changes there: only the migration's record goes
            run("DELETE FROM schema_migrations WHERE id = 11")
        else:
            back_to_schema_10(run)
            assert "search_words_docsize" in fts_sql(run)
    url = vault.store.url if postgres else None  # type: ignore[attr-defined]
    vault.close()
    with Vault.open(home, db=url) as again:
        assert [m.id for m in again.migrations()][-1] == 11
        if not postgres:
            with Raw(again) as run:
                tables = fts_sql(run)
                assert "columnsize=0" in tables["search_words"]
                assert "detail=none" in tables["search_trigram"]
                assert "columnsize=0" in tables["search_trigram"]
                assert not {"search_words_docsize", "search_trigram_docsize"} & tables.keys()
                for table in ("search_words", "search_trigram"):
                    assert run(f"SELECT count(DISTINCT segid) FROM {table}_idx") == [(1,)]
        assert found(again) == before
        assert found(again, all_versions=True) == before_all
        assert [p.detail for p in again.verify().problems if p.kind == "index"] == []
        again.publish("csv-summary", TOOLS["csv-summary"] + b"# read_csv_header\n")
        assert [h.version for h in again.search("csv_header")] == [2]
        with Raw(again) as run:  # out of step: sync rebuilds it, text tables and all
            run("DELETE FROM search_index WHERE name = 'git-prune'")
        assert again.search('"merged branches"') == []
        assert any("search index" in line for line in again.sync())
        assert [h.version for h in again.search("csv_header")] == [2]
        assert found(again)['"merged branches"'] == before['"merged branches"']
        assert [p.detail for p in again.verify().problems if p.kind == "index"] == []


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_reindexing_the_text_shows_progress_on_a_terminal_only(sqlite_vault: Vault) -> None:
    fill(sqlite_vault)
    before = found(sqlite_vault)
    terminal, pipe = Terminal(), io.StringIO()
    with Raw(sqlite_vault) as run:
        for table in ("search_words", "search_trigram"):
            run(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
    assert found(sqlite_vault)["csv"] == []
    with sqlite_vault.store.write():
        sqlite_vault.store.reindex_search_text(terminal)  # type: ignore[attr-defined]
    assert terminal.getvalue().startswith("\rtoolvault: indexing versions for search: ")
    assert terminal.getvalue().endswith("6/6 (100%)\n")
    with Raw(sqlite_vault) as run:
        for table in ("search_words", "search_trigram"):
            run(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
    with sqlite_vault.store.write():
        sqlite_vault.store.reindex_search_text(pipe)  # type: ignore[attr-defined]
    assert pipe.getvalue() == ""
    assert found(sqlite_vault) == before
    assert [p.detail for p in sqlite_vault.verify().problems if p.kind == "index"] == []
