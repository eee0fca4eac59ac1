"""A row's score as :func:`toolvault.search.rank.score` finds it, without the hit and
its snippet, and fast: a search of three or more terms keys every row of the cells it
lists (:mod:`toolvault.search.cells`), a few hundred, of which a page is shown.

Each term tries its fields best first, as the ranking reads them. An ASCII field is
matched by one regular expression on its lowercased text instead of splitting it
into words: its words are then exactly the runs of ASCII letters and digits, folded
to lower case one character at a time. Any other field, and every field that is not
a word field (content, labels, uses, ...), is left to :func:`rank.matches` itself."""

from __future__ import annotations

import re

from toolvault.search.query import Query, Term
from toolvault.search.rank import EXACT_NAME, WEIGHTS, Row, exact_name, matches
from toolvault.search.sql import WORD_WEIGHTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

ALNUM = "a-z0-9"  # an ASCII word character, lowercased: [^\W_] on ASCII text


class Weigher:
    """The scores of rows for one query, with each term's fields in the ranking's order."""

    __slots__ = ("exact", "terms")

    def __init__(self, query: Query, within: Sequence[str]) -> None:
        self.exact = exact_name(query)
        self.terms = [
            (term, _pattern(term), max(term.words, key=len), [
                (field, Row._fields.index(field), field in WORD_WEIGHTS)
                for field in sorted((term.field,) if term.field else within, key=_weight)
            ])
            for term in query.terms
        ]  # fmt: skip

    def score(self, row: Row) -> int | None:
        """The row's score (the ranking's, in quarters), or None when a term misses."""
        cache: dict[str, list[str]] = {}
        lowered: dict[int, str | None] = {}
        total = 0
        for term, pattern, longest, fields in self.terms:
            for field, at, words in fields:
                text = row[at]
                if not text:
                    continue
                if pattern is not None and words:
                    low = lowered.get(at, "")
                    if low == "":
                        low = lowered[at] = text.lower() if text.isascii() else None
                    if low is not None:
                        # the substring first: most fields lack the word, and this is
                        # several times cheaper than the expression
                        if longest in low and pattern.search(low):
                            break
                        continue
                if matches(term, field, row, cache):
                    break
            else:
                return None
            total += WEIGHTS[field]
        if self.exact == row.name.lower():
            total += EXACT_NAME
        return total


def _weight(field: str) -> int:
    return -WEIGHTS[field]


def _pattern(term: Term) -> re.Pattern[str] | None:
    """The term's words one after another in an ASCII text, lowercased (None: a word
    that is not ASCII, which no ASCII text holds; the ranking's check says so)."""
    if not all(w.isascii() for w in term.words):
        return None
    joined = f"[^{ALNUM}]+".join(map(re.escape, term.words))
    return re.compile(f"(?<![{ALNUM}]){joined}(?![{ALNUM}])")
