"""A search over a store's index, page by page (shared by ``Vault.search`` and the
command line's fast path): the store finds and orders the rows, the ranking checks
them, and asks for the next page when it dropped some."""

from __future__ import annotations

from toolvault.search.query import Query
from toolvault.search.rank import LIFECYCLE_ORDER, WEIGHTS, Hit, rank, sort_hits
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
    :class:`~toolvault.store.search.SearchQueries`), read in the caller's snapshot:
    tier by tier (:mod:`toolvault.search.tiers`), else a page of every candidate
    ranked in SQL at a time."""
    from toolvault.search import tiers

    found = tiers.search(store, query, within, all_versions, lifecycles, limit)
    if found is not None:
        return [result(hit) for hit in found]
    page = Page(within, all_versions, lifecycles, limit + SLACK)
    hits: list[Hit] = []
    while True:  # bounded: each page moves on, and the rows run out
        rows = page_rows(store, query, page)
        hits += rank(query, rows, len(rows), within)
        if len(hits) >= limit or len(rows) < page.size:
            break
        page = page._replace(offset=page.offset + page.size, size=page.size * 2)
    sort_hits(hits)
    return [result(hit) for hit in hits[:limit]]


def page_rows(store: Any, query: Query, page: Page) -> list[Any]:
    """The store's rows of ``page``, found without the content when that cannot change
    them: the content's substring index is the costly part of a search, and a word
    that names or describes enough tools fills the page before any content match.

    With one term, a row that matches only in the content scores the content's
    weight, below every other field's (an exact name is a name match too: names are
    runs of letters and digits between ``._-``, as the word tokenizer splits them);
    so when the page found without the content is full and all of the first lifecycle
    asked for, no content-only row ranks within it, and it is the page."""
    narrow = page._replace(within=tuple(f for f in page.within if f != "content"))
    if (
        len(query.terms) == 1
        and not query.terms[0].field
        and narrow.within != page.within
        and "name" in narrow.within  # else an exact name matching only in content ranks first
        and min(WEIGHTS[f] for f in narrow.within) > WEIGHTS["content"]
    ):
        rows = store.search_page(query, narrow)
        first = min(page.lifecycles, key=lambda name: LIFECYCLE_ORDER.get(name, 3))
        if len(rows) == page.size and all(row.lifecycle == first for row in rows):
            return list(rows)
    return list(store.search_page(query, page))


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
