"""``Vault.search`` (SPEC §10): ranked full-text search over names, descriptions, usage,
prompts, messages and content, through the store's search index."""

from __future__ import annotations

from collections.abc import Sequence

from toolvault import validate
from toolvault.errors import InvalidInput
from toolvault.search.result import SearchResult
from toolvault.search.run import DEFAULT_LIMIT, LIFECYCLES
from toolvault.service.base import ServiceBase

MAX_LIMIT = 1_000


def search_options(
    fields: Sequence[str], lifecycle: str | None, limit: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The checked (fields, lifecycles) of a search; InvalidInput says what would work."""
    from toolvault.search.query import TEXT_FIELDS

    if isinstance(fields, str) or not all(isinstance(f, str) for f in fields):
        raise InvalidInput("fields must be a list of field names: " + ", ".join(TEXT_FIELDS))
    unknown = [f for f in fields if f not in TEXT_FIELDS]
    if unknown:
        raise InvalidInput(
            f"unknown search field '{unknown[0]}'; the fields are {', '.join(TEXT_FIELDS)}"
        )
    if lifecycle not in LIFECYCLES:
        raise InvalidInput(
            f"unknown lifecycle '{lifecycle}'; use active, deprecated, retired or all"
        )
    validate.of_type(limit, int, "limit", "a whole number of results")
    if isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT:,}, not {limit}")
    return tuple(dict.fromkeys(fields)) or TEXT_FIELDS, LIFECYCLES[lifecycle]


class Searching(ServiceBase):
    """Finding tools by what they do."""

    def search(
        self,
        query: str,
        *,
        fields: Sequence[str] = (),
        all_versions: bool = False,
        lifecycle: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[SearchResult]:
        """Tools matching ``query`` (SPEC §10), best first: field weights name >
        description > usage > prompt, message > content, then the newest; deprecated
        tools after active ones. By default each tool's latest version that is not
        yanked, of active and deprecated tools; ``all_versions`` searches every version
        (yanked ones too), ``lifecycle`` (active, deprecated, retired, all) which tools.
        ``fields`` limits where unqualified words may match."""
        from toolvault.search import query as queries
        from toolvault.search.run import search

        parsed = queries.parse(query)
        within, lifecycles = search_options(fields, lifecycle, limit)
        validate.of_type(all_versions, bool, "all_versions", "true or false")
        with self.store.snapshot():
            return search(self.store, parsed, within, all_versions, lifecycles, limit)

    def sync(self) -> list[str]:
        """:meth:`ServiceBase.sync`, and the search index rebuilt when verify would find
        it out of step."""
        fixed = super().sync()
        from toolvault.verify.search_index import index_problems

        with self.store.snapshot():
            problems, _ = index_problems(self.store, frozenset())
        if problems:
            with self.store.write():
                self.store.rebuild_search()
            fixed.append(f"search index: rebuilt ({len(problems)} problems)")
        return fixed
