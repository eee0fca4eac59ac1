"""Search (SPEC §10) through Vault.search on SQLite and PostgreSQL: what is found, in
which order, what is left out unless asked, the index kept in step by every write,
verify and sync, the migration that indexes an existing vault, and bad queries on the
command line (exit 2) and over HTTP (400)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Raw
from toolvault import Vault
from toolvault.cli import cli
from toolvault.errors import InvalidInput, StoreError
from toolvault.service.publishing import NewVersion
from toolvault.sources import ingest
from toolvault.store.postgres import PostgresStore

CSV = (
    b"#!/usr/bin/env python3\n'''Summarise the columns of a CSV file.'''\n"
    b"def read_csv_rows(p):\n    pass\n"
)


def names(vault: Vault, query: str, **kw: object) -> list[str]:
    return [r.name for r in vault.search(query, **kw)]  # type: ignore[arg-type]


def index_problems(vault: Vault) -> list[str]:
    return [p.detail for p in vault.verify().problems if p.kind == "index"]


def test_found_by_name_prompt_message_and_content_inside_identifiers(vault: Vault) -> None:
    vault.publish("csv-summary", CSV)
    vault.publish("git-prune", b"#!/bin/sh\ngit branch --merged\n", prompt="delete old branches")
    vault.publish("jq-pretty", b"#!/bin/sh\njq .\n", message="pretty print JSON output")
    assert names(vault, "csv") == ["csv-summary"]
    assert names(vault, "branches") == ["git-prune"]
    assert names(vault, "pretty json") == ["jq-pretty"]
    hit = vault.search("csv_row")[0]
    assert (hit.name, hit.field) == ("csv-summary", "content")
    assert "read_**csv_row**s" in hit.snippet
    assert hit.ref == f"csv-summary:1@sha256:{vault.get('csv-summary').sha256}"
    assert names(vault, "json branches") == []  # every word must match
    assert names(vault, '"branches old"') == []  # a phrase keeps its order
    assert names(vault, '"delete old branches"') == ["git-prune"]
    assert names(vault, "prompt:branches") == ["git-prune"]
    assert names(vault, "content:branches") == []
    assert names(vault, "branches", fields=["content"]) == []


def test_field_weights_then_recency(vault: Vault) -> None:
    vault.publish("parquet-tool", b"#!/bin/sh\necho a\n")
    vault.publish("p-content", b'#!/bin/sh\nconvert_parquet_files "$1"\n')  # no header
    vault.publish("p-prompt", b"#!/bin/sh\necho c\n", prompt="write parquet files")
    vault.publish("p-usage", b"#!/bin/sh\necho d\n", description="Reads parquet into rows.")
    vault.publish("p-older", b"#!/bin/sh\necho e\n", prompt="parquet again")
    vault.publish("p-newer", b"#!/bin/sh\necho f\n", prompt="parquet once more")
    found = names(vault, "parquet")
    assert found[:2] == ["parquet-tool", "p-usage"]
    assert found[2:5] == ["p-newer", "p-older", "p-prompt"]  # same field: newest first
    assert found[5] == "p-content"
    assert vault.search("parquet")[1].field == "description"


def test_exact_name_comes_first(vault: Vault) -> None:
    vault.publish("fmt", b"#!/bin/sh\necho fmt\n")
    for other in ("fmt-json", "fmt-yaml", "json-fmt"):
        vault.publish(other, b"#!/bin/sh\n# calls fmt fmt fmt\n", prompt="fmt")
    assert names(vault, "fmt")[0] == "fmt"
    assert names(vault, "fmt-json")[0] == "fmt-json"
    assert names(vault, "name:json-fmt")[0] == "json-fmt"


def test_yanked_versions_only_when_asked(vault: Vault) -> None:
    vault.publish("zz", b"#!/bin/sh\n# zebra stripes\n")
    vault.publish("zz", b"#!/bin/sh\n# plain\n")
    assert names(vault, "zebra") == []  # only the latest version is searched
    assert [r.version for r in vault.search("zebra", all_versions=True)] == [1]
    vault.yank("zz:2", "broken")
    assert [(r.version, r.yanked) for r in vault.search("zebra")] == [(1, False)]
    vault.yank("zz:1", "broken too")
    assert names(vault, "zebra") == []
    assert [(r.version, r.yanked) for r in vault.search("name:zz", all_versions=True)] == [
        (2, True),
        (1, True),
    ]


def test_lifecycle_deprecated_after_active_retired_only_when_asked(vault: Vault) -> None:
    vault.publish("old-sorter", b"#!/bin/sh\nsort\n", prompt="sort lines")
    vault.publish("sorter", b"#!/bin/sh\nsort -u\n", message="sort lines uniquely")
    vault.set_lifecycle("old-sorter", "deprecated", "use sorter")
    assert names(vault, "old-sorter") == ["sorter", "old-sorter"] or names(vault, "old-sorter") == [
        "old-sorter"
    ]
    assert names(vault, "sort lines") == ["sorter", "old-sorter"]
    assert vault.search("sort lines")[1].lifecycle == "deprecated"
    vault.set_lifecycle("old-sorter", "retired")
    assert names(vault, "sort lines") == ["sorter"]
    assert names(vault, "sort lines", lifecycle="retired") == ["old-sorter"]
    assert names(vault, "sort lines", lifecycle="all") == ["sorter", "old-sorter"]


def test_labels_owners_authors_and_uses(vault: Vault) -> None:
    vault.publish("lint", b"#!/bin/sh\necho lint\n")
    lint = vault.get("lint")
    vault.publish("fmt", b"#!/bin/sh\necho fmt\n", references=[f"lint:1@sha256:{lint.sha256}"])
    vault.publish("fmt", b"#!/bin/sh\necho fmt 2\n")
    assert names(vault, "uses:lint") == []  # fmt:2 no longer references it
    assert [r.version for r in vault.search("uses:lint", all_versions=True)] == [1]
    vault.label("fmt:1", "stable")
    assert [r.ref.split("@")[0] for r in vault.search("label:stable", all_versions=True)] == [
        "fmt:1"
    ]
    vault.label("fmt:2", "stable")
    assert [r.version for r in vault.search("label:stable", all_versions=True)] == [2]
    vault.delete_label("fmt", "stable")
    assert names(vault, "label:stable", all_versions=True) == []
    vault.transfer("lint", "carol")
    assert names(vault, "owner:carol") == ["lint"]
    author = vault.get("lint").created_by or ""
    assert "lint" in names(vault, f"author:{author}")


def test_every_write_keeps_the_index_in_step(vault: Vault, tmp_path: Path) -> None:
    vault.publish("a1", b"#!/bin/sh\necho a\n")
    vault.publish("a1", b"#!/bin/sh\necho b\n")
    vault.rollback("a1", 1)
    vault.label("a1:2", "stable")
    vault.yank("a1:3", "oops")
    vault.set_lifecycle("a1", "deprecated")
    vault.transfer("a1", "dave")
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "imported-tool.sh").write_text("#!/bin/sh\n# imported walrus\n")
    ingest.ingest_path(vault, str(folder))
    assert index_problems(vault) == []
    assert names(vault, "walrus") == ["imported-tool"]
    assert [r.version for r in vault.search("name:a1")] == [2]  # 3 is yanked


def test_verify_reports_an_index_out_of_step_and_sync_rebuilds_it(vault: Vault) -> None:
    vault.publish("w1", b"#!/bin/sh\n# walrus\n")
    vault.publish("w2", b"#!/bin/sh\n# walrus\n")
    with Raw(vault) as run:
        run("DELETE FROM search_index WHERE name = 'w1'")
        run("UPDATE search_index SET lifecycle = 'retired' WHERE name = 'w2'")
    problems = [p for p in vault.verify().problems if p.kind == "index"]
    assert [(p.name, p.detail) for p in problems[:2]] == [
        ("w1", "not in the search index"),
        ("w2", "indexed with a stale lifecycle"),
    ]
    assert "run sync" in problems[-1].detail
    assert any("search index" in line for line in vault.sync())
    assert index_problems(vault) == []
    assert names(vault, "walrus") == ["w1", "w2"] or set(names(vault, "walrus")) == {"w1", "w2"}


def test_the_migration_indexes_an_existing_vault(vault: Vault, home: Path) -> None:
    vault.publish("legacy-tool", CSV)
    vault.publish("legacy-tool", b"#!/bin/sh\n# later\n")
    vault.yank("legacy-tool:2", "bad")
    postgres = isinstance(vault.store, PostgresStore)
    with Raw(vault) as run:  # back to schema 7, as a vault made before search was
        tables = (
            ["search_index"] if postgres else ["search_words", "search_trigram", "search_index"]
        )
        for table in tables:
            run(f"DROP TABLE {table}")
        run("DELETE FROM schema_migrations WHERE id = 8")
    url = vault.store.url if postgres else None  # type: ignore[attr-defined]
    vault.close()
    with Vault.open(home, db=url) as again:
        assert [(r.name, r.version) for r in again.search("csv")] == [("legacy-tool", 1)]
        assert index_problems(again) == []


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_rebuilding_the_index_shows_progress_on_a_terminal_only(vault: Vault) -> None:
    for i in range(3):
        vault.publish(f"prog-{i}", CSV)
    vault.publish("prog-0", b"#!/bin/sh\n# second\n")
    terminal, pipe = Terminal(), io.StringIO()
    with vault.store.write():
        vault.store.rebuild_search(terminal)  # type: ignore[attr-defined]
        vault.store.rebuild_search(pipe)  # type: ignore[attr-defined]
    drawn = terminal.getvalue()
    assert drawn.startswith("\rtoolvault: indexing versions for search: ")
    assert drawn.endswith("4/4 (100%)\n")
    assert pipe.getvalue() == ""
    assert index_problems(vault) == []


def test_a_write_in_another_process_is_found(vault: Vault, home: Path, tmp_path: Path) -> None:
    assert names(vault, "narwhal") == []
    script = tmp_path / "narwhal-tool.sh"
    script.write_text("#!/bin/sh\n# narwhal\n")
    env = {k: v for k, v in os.environ.items() if k != "TOOLVAULT_URL"}
    if isinstance(vault.store, PostgresStore):
        env["TOOLVAULT_DB"] = vault.store.url
    done = subprocess.run(
        [sys.executable, "-m", "toolvault", "--home", str(home), "add", str(script)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert names(vault, "narwhal") == ["narwhal-tool"]


@pytest.mark.parametrize(
    "kw",
    [
        {"fields": ["author"]},
        {"fields": "name"},
        {"lifecycle": "gone"},
        {"limit": 0},
        {"limit": 10_001},
        {"limit": True},
        {"all_versions": "yes"},
    ],
)
def test_bad_options_are_invalid_input(vault: Vault, kw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        vault.search("csv", **kw)  # type: ignore[arg-type]


BAD_QUERIES = {
    '"csv': "unbalanced quote",
    "foo:bar": "unknown qualifier 'foo:'",
    "ab": "shorter than 3 characters",
    "": "the query is empty",
    '""': "empty phrase",
    "---": "no letters or digits",
}


@pytest.mark.parametrize("query", list(BAD_QUERIES))
def test_bad_queries_exit_2_with_one_line(sqlite_vault: Vault, query: str) -> None:
    result = CliRunner().invoke(cli, ["search", "--", query])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("toolvault: error: ")
    assert BAD_QUERIES[query] in lines[0]
    assert "name:" in lines[0]  # it says what would work


def test_a_query_of_bytes_that_are_not_utf8_exits_2_with_one_line(
    sqlite_vault: Vault, home: Path
) -> None:
    """Through the command line's fast path, as a shell passes the bytes (no traceback)."""
    sqlite_vault.publish("csv-summary", CSV)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    argv = [sys.executable, "-m", "toolvault", "--home", str(home), "search"]
    for query in (b"csv\xff", b"\xffcsv --json"):
        done = subprocess.run(
            [*argv, *query.split()], env=env, capture_output=True, timeout=120, check=False
        )
        said = done.stderr.decode("utf-8", "replace")
        assert done.returncode == 2, said
        assert said.count("\n") == 1 and done.stdout == b"", said
        if b"--json" in query:
            said = json.loads(said)["error"]["code"] + ": " + said
            assert said.startswith("invalid_input: "), said
        else:
            assert said.startswith("toolvault: error: "), said
        assert "not UTF-8 text" in said


def test_the_command_line(sqlite_vault: Vault) -> None:
    sqlite_vault.publish("csv-summary", CSV, prompt="summarise a csv " + "long " * 60)
    result = CliRunner().invoke(cli, ["search", "csv", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["name"], r["field"]) for r in data] == [("csv-summary", "name")]
    assert set(data[0]) == {"name", "version", "ref", "description", "lifecycle", "yanked",
                            "field", "snippet", "score"}  # fmt: skip
    text = CliRunner(env={"COLUMNS": "50"}).invoke(
        cli, ["search", "summarise", "--field", "prompt"]
    )
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("csv-summary:1@sha256:")
    assert lines[1].strip() == "Summarise the columns of a CSV file."  # its description
    assert "**summarise**" in lines[2] and "\x1b[" not in text.output  # no colour off a terminal
    assert all(len(line) <= 50 for line in lines), lines
    none = CliRunner().invoke(cli, ["search", "nothing-like-it"])
    assert none.exit_code == 0 and "no tool matches" in none.output
    bad = CliRunner().invoke(cli, ["search", "csv", "--field", "author"])
    assert bad.exit_code == 2


def test_a_failed_write_leaves_the_index_as_it_was(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.publish("okapi-tool", b"#!/bin/sh\n# okapi\n")

    def fail(last: object) -> None:  # after the new row is in the index: a lost link
        raise StoreError("injected: the connection was lost")

    monkeypatch.setattr(vault.store, "_insert_text", fail)
    with pytest.raises(StoreError, match="injected"):
        vault.publish("okapi-tool", b"#!/bin/sh\n# okapi 2\n")
    monkeypatch.undo()
    with Raw(vault) as run:
        assert run("SELECT name, version, latest FROM search_index") == [("okapi-tool", 1, 1)]
    assert [r.version for r in vault.search("okapi")] == [1]
    assert index_problems(vault) == []


def test_a_rebuilt_index_is_one_segment_per_full_text_table(sqlite_vault: Vault) -> None:
    """sync's rebuild (as the migration's) leaves each FTS5 table merged into one segment:
    a later publish's small segment is then merged with the few that publishes made
    since, not with the large ones a bulk insert leaves (several times its own cost)."""
    batch = [NewVersion(f"seg-{i}", b"#!/bin/sh\n# segment %d\n" % i) for i in range(600)]
    sqlite_vault.publish_many(batch)  # more tools than one IN list: two bulk statements
    for i in range(3):
        sqlite_vault.publish(f"seg-{i}", b"#!/bin/sh\n# again %d\n" % i)  # a segment each
    with sqlite_vault.store.write():
        sqlite_vault.store.rebuild_search()  # type: ignore[attr-defined]
    with Raw(sqlite_vault) as run:
        for table in ("search_words", "search_trigram"):
            assert run(f"SELECT count(DISTINCT segid) FROM {table}_idx") == [(1,)], table
    assert index_problems(sqlite_vault) == []
    assert sorted(names(sqlite_vault, "again")) == ["seg-0", "seg-1", "seg-2"]
    assert names(sqlite_vault, "seg-599")[:1] == ["seg-599"]


NAMES = st.lists(
    st.from_regex(r"[a-z][a-z0-9]{2,8}(-[a-z0-9]{1,5}){0,2}", fullmatch=True),
    min_size=1, max_size=6, unique=True,
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES)
def test_every_tool_is_found_by_its_exact_name_first(
    tmp_path_factory: pytest.TempPathFactory, tools: list[str]
) -> None:
    with Vault.open(tmp_path_factory.mktemp("names") / "home") as vault:
        for name in tools:
            others = " ".join(t for t in tools if t != name)
            vault.publish(name, f"#!/bin/sh\n# {name} calls {others}\n".encode(), prompt=others)
        for name in tools:
            assert names(vault, name)[0] == name
