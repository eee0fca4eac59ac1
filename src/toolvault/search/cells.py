"""Many tiers covered at once (for queries of three or more terms): a *cell* gives each
term a run of its levels (:func:`toolvault.search.tiers.levels`), and holds the rows of
all the tiers it spans. A cell whose rows are few is listed through the full-text
indexes and every row keyed by its score as the ranking finds it
(:mod:`toolvault.search.weigh`); its tiers are then *covered* and never read one by one.

A query of three common words has over a hundred tiers, most of them empty (a name
holds one word), and the best rows lie a few dozen tiers down: reading them one at a
time cost more than ranking every row. Cells are split best score first (branch and
bound): a term's content apart from its word fields (the content's rows are many), else
its best level apart from the rest, until a cell is few rows, one tier (left to be read
as a tier), or outranked by ``limit`` rows ranked already. Before a cell is listed, each
term's lower levels whose rows would all rank below the ``limit`` best rows known are
trimmed off (:func:`trim`): on the bench's 3-word searches the cells a term matches in
the content alone then ask for the other terms in the name, and list no row.
"""

from __future__ import annotations

import bisect
import heapq
import itertools

from toolvault.search import tiersql
from toolvault.search.rank import Row
from toolvault.search.sql import WORD_WEIGHTS
from toolvault.search.weigh import Weigher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Cell = tuple[tuple[int, int], ...]  # per term, its first and last level
    Memo = dict[tuple[str, str], list[int] | None]  # by (table, match)

RESOLVE_MAX = 200  # rows of a cell ranked one by one; past this, the cell is split
MAX_LISTINGS = 40  # cells listed before leaving the rest to the tiers


def cover(found: Any, limit: int) -> set[tuple[int, ...]]:
    """Rank the rows of the few-row cells of ``found`` (a
    :class:`toolvault.search.tiers.Lifecycle`) and return the tiers they cover."""
    from toolvault.search.tiers import LAST, Key

    levels = found.levels
    covered: set[tuple[int, ...]] = set()
    if not all(levels):
        return covered
    start: Cell = tuple((0, len(options) - 1) for options in levels)
    heap = [(-bound(levels, start), start)]
    listings = 0
    memo: Memo = {}  # a driver's rows (None: too many)
    weigher = Weigher(found.query, found.within)  # each row's score, as the ranking's
    known = Known(found, limit)
    while heap and listings < MAX_LISTINGS:  # bounded: each cell is split into smaller ones
        negative, cell = heapq.heappop(heap)
        worst = known.worst()
        if worst is not None and worst < Key(-negative, LAST):
            break  # ``limit`` ranked rows outrank every row of this cell and the rest
        cell = trim(levels, cell, worst)
        listings += 1
        rows = listing(found, cell, memo)
        if rows is not None:
            for r in rows:
                known.add(candidate(found, r, weigher))
            covered.update(itertools.product(*(range(lo, hi + 1) for lo, hi in cell)))
            continue
        for part in split(levels, cell):
            heapq.heappush(heap, (-bound(levels, part), part))
    return covered


def candidate(found: Any, r: Any, weigher: Weigher) -> Any:
    """Make row ``r`` (in full) a candidate of ``found`` where the ranking will rank it:
    its score found as :func:`toolvault.search.rank.score` finds it, but without the
    snippet and stopping at each term's best field. Only the candidates that can make
    the page are then ranked by the ranking itself (most of a cell's rows are not)."""
    from toolvault.search.tiers import Key

    i = r[0]
    if i in found.keys or i in found.checked:
        return None  # known already (the cells' listings may overlap)
    row = Row(*r[1:15], bool(r[15]), r[16])  # type: ignore[call-arg]
    total = weigher.score(row)
    if total is None:
        found.checked[i] = None
        return None
    key = found.keys[i] = Key(total, row.recorded_at, row.name, row.version)
    found.pending[i] = r
    return key


class Known:
    """The ``limit`` best rows known, best first: the ranked hits and the candidates,
    whose keys here are the ranking's own."""

    __slots__ = ("keys", "limit")

    def __init__(self, found: Any, limit: int) -> None:
        known = [k for i, k in found.keys.items() if i not in found.checked]
        self.keys = heapq.nsmallest(limit, [*known, *found.ranked.values()])
        self.limit = limit

    def add(self, key: Any) -> None:
        """Know one more row (None: none)."""
        if key is None or (len(self.keys) >= self.limit and not key < self.keys[-1]):
            return
        bisect.insort(self.keys, key)
        del self.keys[self.limit :]

    def worst(self) -> Any:
        """Where the ``limit``-th best row known ranks (None: fewer rows known)."""
        return self.keys[-1] if len(self.keys) >= self.limit else None


def bound(levels: Any, cell: Cell) -> int:
    """The best score of a row of ``cell``."""
    return sum(levels[i][lo][0] for i, (lo, _) in enumerate(cell))


def trim(levels: Any, cell: Cell, worst: Any) -> Cell:
    """``cell`` without each term's lower levels whose rows all rank below ``worst``
    (the ``limit``-th best row known; None: fewer known): those rows cannot make the
    page, and a narrower cell lists fewer rows through a more selective match. The tiers
    left out stay uncovered, for the tiers' walk to read should they rank after all: a
    bound too tight would cost time, never a result."""
    from toolvault.search.tiers import LAST, Key

    if worst is None:
        return cell
    top = bound(levels, cell)
    out = []
    for i, (lo, hi) in enumerate(cell):
        rest = top - levels[i][lo][0]  # the best of the other terms
        while hi > lo and worst < Key(rest + levels[i][hi][0], LAST):  # bounded: hi falls
            hi -= 1
        out.append((lo, hi))
    return tuple(out)


def fields(levels: Any, i: int, lo: int, hi: int) -> tuple[str, ...]:
    """The fields of term ``i``'s levels ``lo`` to ``hi``."""
    return tuple(f for _, group in levels[i][lo : hi + 1] for f in group)


def split(levels: Any, cell: Cell) -> list[Cell]:
    """``cell`` in two (none: one tier): a term's non-word field (the content) apart from
    its word fields, else the term losing most weight past its best level split there."""
    best, at = None, 0
    for i, (lo, hi) in enumerate(cell):
        if lo == hi:
            continue
        last = fields(levels, i, hi, hi)
        if any(f not in WORD_WEIGHTS for f in last) and any(
            f in WORD_WEIGHTS for f in fields(levels, i, lo, hi - 1)
        ):
            best, at = i, hi
            break
        drop = levels[i][lo][0] - levels[i][lo + 1][0]
        if best is None or drop > levels[best][cell[best][0]][0] - levels[best][at][0]:
            best, at = i, lo + 1
    if best is None:
        return []
    lo, hi = cell[best]
    return [
        (*cell[:best], (lo, at - 1), *cell[best + 1 :]),
        (*cell[:best], (at, hi), *cell[best + 1 :]),
    ]


def listing(found: Any, cell: Cell, memo: Memo) -> list[Any] | None:
    """Every row of ``cell`` in scope, in full (a superset: the ranking decides), or None
    when the indexes cannot list them or they are more than :data:`RESOLVE_MAX`. ``memo``
    keeps the drivers' rows (a cell and the parts it splits into often share one)."""
    store, levels = found.store, found.levels
    terms, groups = [], []
    for i, (lo, hi) in enumerate(cell):
        group = fields(levels, i, lo, hi)
        # a term that may match in word fields or in another gives no condition
        if all(f in WORD_WEIGHTS for f in group) or len(group) == 1:
            terms.append(found.query.terms[i])
            groups.append(group)
    sql = tiersql.tier(store.dialect, tuple(terms), tuple(groups))
    if sql is None or not (sql.drivers or sql.filters):
        return None
    ids, listed = None, None
    for table, match in sql.drivers:  # the first that lists few rows gives them
        if (table, match) not in memo:  # by table: a word and a trigram read alike
            rows = store.search_select(*tiersql.driver_rows(table, match))
            few = len(rows) <= tiersql.LOOKUP_MAX[table]
            memo[table, match] = [r[0] for r in rows] if few else None
        if memo[table, match] is not None:
            ids, listed = memo[table, match], table
            break
    if store.dialect == "sqlite" and ids is None:
        return None  # many rows, or no index to list them: walking them costs more
    if store.dialect == "postgres" and not any(all(f in WORD_WEIGHTS for f in g) for g in groups):
        return None  # no word to look up in the index: the content alone is a long walk
    if ids == []:
        return []  # the index lists no row
    statement = tiersql.newest(store.dialect, sql, found.where, RESOLVE_MAX + 1, ids, listed)
    if store.dialect == "postgres":  # the rows come in full, never from a prepared plan
        rows = store.search_select_planned(*statement)
        return [(r[0], *r[4:]) for r in rows] if len(rows) <= RESOLVE_MAX else None
    rows = store.search_select(*statement)
    if len(rows) > RESOLVE_MAX:
        return None
    return store.search_select(*tiersql.by_id([r[0] for r in rows])) if rows else []
