"""A search over a store's index, page by page (shared by ``Vault.search`` and the
command line's fast path): the store finds and orders the rows, the ranking checks
them, and asks for the next page when it dropped some."""

from __future__ import annotations

from toolvault.search.query import Query
from toolvault.search.rank import Hit, rank, sort_hits
from toolvault.search.result import SearchResult
from toolvault.search.sql import Page

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# which tools a search looks at, by the lifecycle asked for
LIFECYCLES: dict[str | None, tuple[str, ...]] = {
    None: ("active", "deprecated"),  # retired tools only when asked
    "active": ("active",),
    "deprecated": ("deprecated",),
    "retired": ("retired",),
    "all": ("active", "deprecated", "retired"),
}
DEFAULT_LIMIT = 20
SLACK = 10  # rows asked for past the limit, for those the store takes but do not match


def search(
    store: Any, query: Query, within: tuple[str, ...], all_versions: bool,
    lifecycles: tuple[str, ...], limit: int,
) -> list[SearchResult]:  # fmt: skip
    """The best ``limit`` results of ``query`` from ``store`` (a
    :class:`~toolvault.store.search.SearchQueries`), read in the caller's snapshot."""
    page = Page(within, all_versions, lifecycles, limit + SLACK)
    hits: list[Hit] = []
    while True:  # bounded: each page moves on, and the rows run out
        rows = store.search_page(query, page)
        hits += rank(query, rows, len(rows), within)
        if len(hits) >= limit or len(rows) < page.size:
            break
        page = page._replace(offset=page.offset + page.size, size=page.size * 2)
    sort_hits(hits)
    return [result(hit) for hit in hits[:limit]]


def result(hit: Hit) -> SearchResult:
    """A hit as the result a caller sees."""
    row = hit.row
    return SearchResult(
        row.name,
        row.version,
        f"{row.name}:{row.version}@sha256:{row.sha256}",
        row.description,
        row.lifecycle,
        row.yanked,
        hit.field,
        hit.snippet,
        hit.score,
    )
