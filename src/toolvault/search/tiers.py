"""A search evaluated tier by tier (store-agnostic): the same results as ranking every
row (:func:`toolvault.search.rank.rank`), reading only the rows that can rank.

A row's score is the sum, over the terms, of the weight of the best field each matches
(:mod:`toolvault.search.rank`). So the rows are fetched by *tiers*: a tier gives each
term one group of its fields of equal weight (a level), and holds the rows where every
term matches its group; its score is the sum of those weights, and every row is in the
tier of its own score. Tiers are read best score first, each its newest rows first, a
page at a time. Every row not read yet ranks below a *bound*: the next tier's score, or
a page's last row. Read rows that rank above the bound are checked by the ranking, in
order, and once ``limit`` of them outrank everything not yet known, they are the
answer. Lifecycles are read one after another (active before deprecated). A query of
three or more terms first covers many tiers at once (:mod:`toolvault.search.cells`):
their rows are candidates keyed as the ranking ranks them, and those tiers are not read.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from toolvault.search import cells, tiersql
from toolvault.search.query import Query
from toolvault.search.rank import LIFECYCLE_ORDER, SCALE, WEIGHTS, Hit, Row, score
from toolvault.search.sql import WORD_WEIGHTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_TIERS = 24  # tiers read before ranking every candidate at once is the cheaper way
MANY_TERMS = 3  # terms from which cells cover tiers first (toolvault.search.cells)
SLACK = 10  # rows read past those needed, for the ones the ranking drops
LAST = "\U0010ffff"  # sorts after every timestamp: a bound above every row of its score
Levels = tuple[tuple[int, tuple[str, ...]], ...]


class Key:
    """Where a row ranks within one lifecycle: higher score, then newer, then name,
    then higher version (:attr:`toolvault.search.rank.Hit.order`); smaller is better."""

    __slots__ = ("at", "name", "score", "version")

    def __init__(self, score: float, at: str, name: str = "", version: int = 0) -> None:
        self.score, self.at, self.name, self.version = score, at, name, version

    def __lt__(self, other: Key) -> bool:
        if self.score != other.score:
            return self.score > other.score
        if self.at != other.at:
            return self.at > other.at
        if self.name != other.name:
            return self.name < other.name
        return self.version > other.version

    def __le__(self, other: Key) -> bool:
        return not other < self


WORST = Key(float("-inf"), "")  # below every row: nothing is left unread


def levels(query: Query, within: tuple[str, ...]) -> tuple[Levels, ...]:
    """Each term's fields grouped by weight, best first."""
    out = []
    for term in query.terms:
        groups: dict[int, list[str]] = {}
        for field in (term.field,) if term.field else within:
            groups.setdefault(WEIGHTS[field], []).append(field)
        out.append(tuple((w, tuple(groups[w])) for w in sorted(groups, reverse=True)))
    return tuple(out)


def tiers(levels: tuple[Levels, ...]) -> Iterator[tuple[int, tuple[int, ...]]]:
    """Every tier (a level index per term) once, by descending score."""

    def total(tier: tuple[int, ...]) -> int:
        return sum(levels[i][j][0] for i, j in enumerate(tier))

    start = (0,) * len(levels)
    heap, seen = [(-total(start), start)], {start}
    while heap:  # bounded: each tier is pushed once
        negative, tier = heapq.heappop(heap)
        yield -negative, tier
        for i, level in enumerate(tier):
            if level + 1 < len(levels[i]):
                step = (*tier[:i], level + 1, *tier[i + 1 :])
                if step not in seen:
                    seen.add(step)
                    heapq.heappush(heap, (-total(step), step))


def search(
    store: Any, query: Query, within: tuple[str, ...], all_versions: bool,
    lifecycles: tuple[str, ...], limit: int,
) -> list[Hit] | None:  # fmt: skip
    """The best ``limit`` hits, as :func:`toolvault.search.rank.rank` over every row
    would give them; None when the query has too many tiers to read this way."""
    hits: list[Hit] = []
    found_in = present(store, query, levels(query, within))
    for lifecycle in sorted(lifecycles, key=lambda name: LIFECYCLE_ORDER.get(name, 3)):
        where = tiersql.scope(all_versions, lifecycle)
        found = Lifecycle(store, query, within, found_in, where)
        more = found.best(limit - len(hits))
        if more is None:
            return None
        hits += more
        if len(hits) >= limit:
            break
    return hits


def present(store: Any, query: Query, levels: tuple[Levels, ...]) -> tuple[Levels, ...]:
    """``levels`` without the word fields a term matches in no row at all: every tier
    holding one is empty (a query's rare word leaves few tiers to read). SQLite's index
    says so at once; PostgreSQL's planner scans the table for a word in no row, and
    finds an empty tier through its index anyway."""
    if store.dialect != "sqlite":
        return levels
    kept = []
    for term, options in zip(query.terms, levels, strict=True):
        if len(query.terms) >= MANY_TERMS:
            kept.append(_in_words(store, term, options))
            continue
        found = []
        for weight, group in options:
            statement = tiersql.any_row(store.dialect, term, group)
            if statement is None or store.search_select(*statement):
                found.append((weight, group))
        kept.append(tuple(found))
    return tuple(kept)


def _in_words(store: Any, term: Any, options: Levels) -> Levels:
    """``options`` without its word fields when ``term`` is in no word field of any row
    (one look-up). Cells (three or more terms) find an empty level when they list it:
    a level's own look-up reads the word's rows up to its first there (half a
    millisecond for a common word in a field few rows hold it in, the name)."""
    words = tuple(f for _, group in options for f in group if f in WORD_WEIGHTS)
    statement = tiersql.any_row(store.dialect, term, words) if words else None
    if statement is None or store.search_select(*statement):
        return options
    return tuple((w, g) for w, g in options if not all(f in WORD_WEIGHTS for f in g))


class Lifecycle:
    """The search within one lifecycle: its candidates, read tier by tier."""

    def __init__(
        self, store: Any, query: Query, within: tuple[str, ...], levels: tuple[Levels, ...],
        where: Any,
    ) -> None:  # fmt: skip
        self.store, self.query, self.within, self.where = store, query, within, where
        self.levels = levels
        self.order = tiers(levels) if all(levels) else iter(())  # a term matching nowhere
        self.covered: set[tuple[int, ...]] = set()  # tiers whose rows are all ranked
        self.next = next(self.order, None)
        self.read, self.size = 0, SLACK
        self.keys: dict[int, Key] = {}  # the candidates: where their tiers rank them
        self.open: dict[tuple[int, ...], tuple[Key, int]] = {}  # tiers read in part
        self.checked: dict[int, Hit | None] = {}
        self.pending: dict[int, Any] = {}  # full rows read ahead of checking them
        self.ranked: dict[int, Key] = {}  # the hits: where the ranking ranks them

    def best(self, limit: int) -> list[Hit] | None:
        """The best ``limit`` hits of this lifecycle (None: too many tiers)."""
        self.size = limit + SLACK
        self.exact()
        # many tiers: cover the few-row ones at once (both stores: once the cells are
        # trimmed by the page's bound, PostgreSQL's 3-4 word bench searches went from
        # 24 tiers and a ranked query, 160-200 ms, to 23-70 ms)
        if len(self.query.terms) >= MANY_TERMS:
            self.covered = cells.cover(self, limit)
            self.advance()
        while True:  # bounded: each turn reads a new tier or more of one
            bound = self.bound()
            done = self.settle(bound, limit)
            if done is not None:
                return done
            if bound is WORST:
                return [hit for _, hit in self.hits(bound)[:limit]]
            if not self.extend(bound):
                return None

    def bound(self) -> Key:
        """Every row not read yet ranks below this."""
        best = Key(self.next[0], LAST) if self.next else WORST
        for key, _ in self.open.values():
            best = key if key < best else best
        return best

    def hits(self, bound: Key) -> list[tuple[Key, Hit]]:
        """The checked hits that rank at or above ``bound``, best first."""
        found = [(key, i) for i, key in self.ranked.items() if key <= bound]
        found.sort()
        return [(key, hit) for key, i in found if (hit := self.checked[i]) is not None]

    def settle(self, bound: Key, limit: int) -> list[Hit] | None:
        """The answer if ``limit`` checked hits outrank every row not known yet,
        checking the candidates above ``bound`` in their order as needed."""
        waiting = [(key, i) for i, key in self.keys.items() if i not in self.checked]
        waiting = sorted(w for w in waiting if w[0] <= bound)
        at = 0
        while True:  # bounded: each turn checks more of ``waiting``
            hits = self.hits(bound)
            if at < len(waiting):  # an unchecked candidate may rank up to its tier's place
                hits = [(key, hit) for key, hit in hits if key < waiting[at][0]]
            if len(hits) >= limit:
                return [hit for _, hit in hits[:limit]]
            if at >= len(waiting):
                return None
            batch = [i for _, i in waiting[at : at + limit - len(hits) + SLACK]]
            self.check(batch)
            at += len(batch)

    @staticmethod
    def ranked_key(hit: Hit) -> Key:
        """Where the ranking ranks ``hit``."""
        row = hit.row
        return Key(hit.score * SCALE, row.recorded_at, row.name, row.version)

    def check(self, ids: list[int]) -> None:
        """Rank these candidates by the ranking itself, from their full rows."""
        rows = [self.pending.pop(i) for i in ids if i in self.pending]
        rest = [i for i in ids if i not in self.checked and i not in {r[0] for r in rows}]
        for r in rows + (self.store.search_select(*tiersql.by_id(rest)) if rest else []):
            self.take(r)
        for i in ids:
            self.checked.setdefault(i, None)

    def take(self, r: Any) -> None:
        row = Row(*r[1:15], bool(r[15]), r[16])  # type: ignore[call-arg]
        hit = score(self.query, row, self.within)
        self.checked[r[0]] = hit
        if hit is not None:
            self.ranked[r[0]] = self.ranked_key(hit)

    def exact(self) -> None:
        """Check the rows of the tool named as the query first: the exact name's bonus
        is no tier's, and these rows rank above every tier's."""
        name = self.query.plain_text()
        if name is None:
            return
        statement = tiersql.exact(self.store.dialect, name, self.query.terms[0].words, self.where)
        if statement is None:
            return
        for r in self.store.search_select(*statement):
            self.take(r)

    def extend(self, bound: Key) -> bool:
        """Read past ``bound``: more of the tier read in part that sets it, or the
        next tier (False: too many tiers read)."""
        for tier, (key, size) in self.open.items():
            if key is bound:
                self.fetch(tier, key.score, size * 4)
                return True
        assert self.next is not None
        self.read += 1
        if self.read > MAX_TIERS:
            return False
        total, tier = self.next
        self.next = next(self.order, None)
        self.advance()
        return self.fetch(tier, total, self.size)

    def advance(self) -> None:
        """Move the next tier past those covered (their rows are ranked already)."""
        while self.next is not None and self.next[1] in self.covered:  # bounded: tiers run out
            self.next = next(self.order, None)

    def fetch(self, tier: tuple[int, ...], total: float, size: int) -> bool:
        """Read the ``size`` newest rows of ``tier`` as candidates."""
        groups = tuple(self.levels[i][j][1] for i, j in enumerate(tier))
        dialect = self.store.dialect
        sql = tiersql.tier(dialect, self.query.terms, groups)
        if sql is None:
            return False
        ids, listed = None, None
        for table, match in sql.drivers:  # the first that lists few rows gives them
            found = [r[0] for r in self.store.search_select(*tiersql.driver_rows(table, match))]
            if len(found) <= tiersql.LOOKUP_MAX[table]:
                ids, listed = found, table
                break
        statement = tiersql.newest(dialect, sql, self.where, size, ids, listed)
        rows = self.store.search_select(*statement)
        key = None
        for r in rows:
            i, at, name, version = r[:4]
            key = Key(total, at, name, version)
            if i not in self.keys or key < self.keys[i]:
                self.keys[i] = key
            if len(r) > 4 and i not in self.checked:  # the full row came with it
                self.take((i, *r[4:]))
        self.open.pop(tier, None)
        if key is not None and len(rows) == size:
            self.open[tier] = (key, size)
        return True
