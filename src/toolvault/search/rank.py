"""Matching and ranking of indexed rows (a pure module): the store narrows the rows with
its full-text index, and this decides which match and in what order, the same for every
store — so that SQLite and PostgreSQL return the same results for the same query.
"""

from __future__ import annotations

import re
from collections import namedtuple

from toolvault.search.query import MIN_SUBSTRING, TEXT_FIELDS, WORD, Query, Term

# name > description > usage > prompt, message > content (SPEC §10), in quarters: a
# term scores the weight of the best field it matches. Whole numbers, so that the stores
# compute the same scores in SQL (to order and cut) as here (to check and show).
WEIGHTS = {
    "name": 40,
    "description": 24,
    "usage": 16,
    "prompt": 10,
    "message": 10,
    "content": 4,
    "author": 8,
    "owner": 8,
    "session": 8,
    "label": 8,
    "uses": 8,
}
EXACT_NAME = 400  # the tool named exactly as the query comes first
SCALE = 4  # the score shown is the sum over the terms divided by this
LIFECYCLE_ORDER = {"active": 0, "deprecated": 1, "retired": 2}
SNIPPET = 80  # characters of context a snippet shows around the match
MARK = ("**", "**")


_RowFields = namedtuple(
    "_RowFields",
    [
        "name", "version", "sha256", "description", "usage", "prompt", "message", "content",
        "author", "owner", "session", "label", "uses", "lifecycle", "yanked", "recorded_at",
    ],
)  # fmt: skip


class Row(_RowFields):
    """One indexed version, as the store keeps it for search: ``label`` holds the labels
    on this version and ``uses`` the names it references, space-separated. (Named
    tuples: the command line's fast path loads no dataclass.)"""

    __slots__ = ()
    name: str
    version: int
    sha256: str
    description: str
    usage: str
    prompt: str
    message: str
    content: str
    author: str
    owner: str
    session: str
    label: str
    uses: str
    lifecycle: str
    yanked: bool
    recorded_at: str

    def text(self, field: str) -> str:
        """The field's text ('' when absent)."""
        value: str = getattr(self, field)
        return value


class Hit:
    """A row that matched: its score and the field that matched best, with a snippet."""

    __slots__ = ("field", "row", "score", "snippet")

    def __init__(self, row: Row, score: float, field: str, snippet: str) -> None:
        self.row, self.score, self.field, self.snippet = row, score, field, snippet

    @property
    def order(self) -> tuple[int, float, str, str, int]:
        """Active before deprecated before retired, then score, then the newest."""
        row = self.row
        rank = LIFECYCLE_ORDER.get(row.lifecycle, 3)
        return (rank, -self.score, _desc(row.recorded_at), row.name, -row.version)


def _desc(text: str) -> str:
    """A string that sorts in the reverse order of ``text`` (recorded_at is ASCII)."""
    return "".join(chr(0x7F - ord(c)) for c in text)


def sort_hits(hits: list[Hit]) -> None:
    """Sort ``hits`` in place into :attr:`Hit.order`, in three stable passes (last key
    first): reversing every timestamp for one key cost a tenth of a search."""
    hits.sort(key=lambda h: (h.row.name, -h.row.version))
    hits.sort(key=lambda h: h.row.recorded_at, reverse=True)  # stable when reversed too
    hits.sort(key=lambda h: (LIFECYCLE_ORDER.get(h.row.lifecycle, 3), -h.score))


def tokens(text: str) -> list[str]:
    """The word tokenizer: lowercased runs of letters and digits."""
    return [w.lower() for w in WORD.findall(text)]


def _has_words(haystack: list[str], words: tuple[str, ...]) -> bool:
    """``words`` appear one after another in ``haystack``."""
    first, n = words[0], len(words)
    if n == 1:
        return first in haystack
    at = -1
    try:
        while True:  # bounded: each index() moves past the last
            at = haystack.index(first, at + 1)
            if tuple(haystack[at : at + n]) == words:
                return True
    except ValueError:
        return False


def matches(term: Term, field: str, row: Row, cache: dict[str, list[str]]) -> bool:
    """Whether ``term`` matches ``field`` of ``row`` (words in order; in content, a term
    of 3 or more characters anywhere, inside identifiers too)."""
    text = row.text(field)
    if not text:
        return False
    if field == "content" and len(term.text) >= MIN_SUBSTRING:
        return term.text.lower() in text.lower()
    if field in ("label", "uses"):
        return term.text.lower() in text.lower().split()
    if field not in cache:
        cache[field] = tokens(text)
    return _has_words(cache[field], term.words)


def score(query: Query, row: Row, within: tuple[str, ...] = TEXT_FIELDS) -> Hit | None:
    """The row's hit when every term matches (an unqualified one in a field of
    ``within``), else None."""
    cache: dict[str, list[str]] = {}
    total, best_field = 0, ""
    for term in query.terms:
        fields = (term.field,) if term.field else within
        found = [f for f in fields if matches(term, f, row, cache)]
        if not found:
            return None
        top = max(found, key=lambda f: WEIGHTS[f])
        total += WEIGHTS[top]
        if not best_field or WEIGHTS[top] > WEIGHTS[best_field]:
            best_field = top
    if exact_name(query) == row.name.lower():
        total += EXACT_NAME
    return Hit(row, total / SCALE, best_field, snippet(query, row.text(best_field)))


def exact_name(query: Query) -> str | None:
    """The tool name the query may be exactly (one unqualified or name: term), lowercased."""
    return query.plain_text()


def rank(
    query: Query, rows: list[Row], limit: int, within: tuple[str, ...] = TEXT_FIELDS
) -> list[Hit]:
    """The rows that match, best first, at most ``limit``."""
    hits = [hit for row in rows if (hit := score(query, row, within)) is not None]
    sort_hits(hits)
    return hits[:limit]


def _pattern(term: Term) -> re.Pattern[str]:
    if len(term.text) >= MIN_SUBSTRING:
        return re.compile(re.escape(term.text), re.IGNORECASE)
    return re.compile(
        r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, term.words)) + r"(?![^\W_])", re.IGNORECASE
    )


def snippet(query: Query, text: str) -> str:
    """A one-line excerpt of ``text`` around the first match, the match marked ``**…**``."""
    found = None
    for term in query.terms:
        m = _pattern(term).search(text) or re.compile(
            r"[\W_]+".join(map(re.escape, term.words)), re.IGNORECASE
        ).search(text)
        if m and (found is None or m.start() < found[0]):
            found = (m.start(), m.end())
    if found is None:
        return " ".join(text[: SNIPPET * 2].split())
    start, end = found
    left = max(0, start - SNIPPET // 2)
    right = min(len(text), end + SNIPPET)
    before = ("…" if left else "") + text[left:start]
    after = text[end:right] + ("…" if right < len(text) else "")
    marked = f"{before}{MARK[0]}{text[start:end]}{MARK[1]}{after}"
    return " ".join(marked.split())
