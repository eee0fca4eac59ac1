"""Search pages found without the content's substring index (toolvault.search.run
.page_rows) are the pages the full search finds: a one-word search tries the word
fields alone first, and must fall back to the content whenever a content-only match
could rank within the page, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from toolvault import Vault
from toolvault.service.publishing import NewVersion

DESCRIBED = [f"described-{i:02}" for i in range(15)]  # active, 'csv' in the description
RETIRING = [f"retiring-{i:02}" for i in range(14)]  # deprecated, 'csv' in the description
CODE_ONLY = [f"code-only-{i}" for i in range(5)]  # active, 'csv' in the content only


@pytest.fixture
def csv_vault(vault: Vault) -> Vault:
    def item(name: str, description: str, body: str) -> NewVersion:
        return NewVersion(name, f"#!/bin/sh\n{body}\n".encode(), description=description)

    vault.publish_many(
        [item(n, "Deprecated: reads csv files.", "true") for n in RETIRING]
        + [item(n, "Parses files.", "cat input.csv") for n in CODE_ONLY]
        + [item(n, "Summarises csv columns.", "true") for n in DESCRIBED]
        + [item("csv", "A tool.", "exec sort input.csv")]  # the exact name, in content only
    )
    for name in RETIRING:
        vault.set_lifecycle(name, "deprecated")
    return vault


def test_content_matches_of_active_tools_rank_before_deprecated_word_matches(
    csv_vault: Vault,
) -> None:
    # 18 results: a page of 28 rows, filled by the word fields alone with 15 active and
    # 13 deprecated tools; active tools matching only in their content rank between
    found = [r.name for r in csv_vault.search("csv", limit=18)]
    assert found[0] == "csv"  # the exact name
    assert sorted(found[1:16]) == DESCRIBED
    assert len(found) == 18 and set(found[16:]) <= set(CODE_ONLY)


def test_an_exact_name_matching_only_in_content_ranks_first_when_names_are_not_searched(
    csv_vault: Vault,
) -> None:
    found = csv_vault.search("csv", fields=["description", "content"], limit=3)
    assert found[0].name == "csv"
    assert found[0].field == "content"


def test_a_page_of_word_matches_alone_is_the_page(csv_vault: Vault) -> None:
    found = [r.name for r in csv_vault.search("csv", limit=5)]
    assert found[0] == "csv" and set(found[1:]) <= set(DESCRIBED)
    every = [r.name for r in csv_vault.search("csv", limit=100)]
    assert len(every) == 1 + len(DESCRIBED) + len(CODE_ONLY) + len(RETIRING)
    assert set(every[-len(RETIRING) :]) == set(RETIRING)  # deprecated after active
