"""Matching and ranking of indexed rows (a pure module): the store narrows the rows with
its full-text index, and this decides which match and in what order, the same for every
store — so that SQLite and PostgreSQL return the same results for the same query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from toolvault.search.query import MIN_SUBSTRING, TEXT_FIELDS, WORD, Query, Term

# name > description > usage > prompt, message > content (SPEC §10)
WEIGHTS = {
    "name": 10.0,
    "description": 6.0,
    "usage": 4.0,
    "prompt": 2.5,
    "message": 2.5,
    "content": 1.0,
    "author": 2.0,
    "owner": 2.0,
    "session": 2.0,
    "label": 2.0,
    "uses": 2.0,
}
EXACT_NAME = 100.0  # the tool named exactly as the query comes first
ALSO = 0.25  # each further field a term matches adds a little
LIFECYCLE_ORDER = {"active": 0, "deprecated": 1, "retired": 2}
SNIPPET = 80  # characters of context a snippet shows around the match
MARK = ("**", "**")


@dataclass(frozen=True, slots=True)
class Row:
    """One indexed version, as the store keeps it for search."""

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
    label: str  # the labels on this version, space-separated
    uses: str  # the names this version references, space-separated
    lifecycle: str
    yanked: bool
    recorded_at: str

    def text(self, field: str) -> str:
        """The field's text ('' when absent)."""
        value: str = getattr(self, field)
        return value


@dataclass(frozen=True, slots=True)
class Hit:
    """A row that matched: its score and the field that matched best, with a snippet."""

    row: Row
    score: float
    field: str
    snippet: str

    @property
    def order(self) -> tuple[int, float, str, str, int]:
        """Active before deprecated before retired, then score, then the newest."""
        return (
            LIFECYCLE_ORDER.get(self.row.lifecycle, 3),
            -self.score,
            _desc(self.row.recorded_at),
            self.row.name,
            -self.row.version,
        )


def _desc(text: str) -> str:
    """A string that sorts in the reverse order of ``text`` (recorded_at is ASCII)."""
    return "".join(chr(0x7F - ord(c)) for c in text)


def tokens(text: str) -> list[str]:
    """The word tokenizer: lowercased runs of letters and digits."""
    return [w.lower() for w in WORD.findall(text)]


def _has_words(haystack: list[str], words: tuple[str, ...]) -> bool:
    """``words`` appear one after another in ``haystack``."""
    n = len(words)
    first = words[0]
    return any(
        haystack[i] == first and tuple(haystack[i : i + n]) == words
        for i in range(len(haystack) - n + 1)
    )


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
    total, best_field, best_weight = 0.0, "", -1.0
    for term in query.terms:
        fields = (term.field,) if term.field else within
        found = [f for f in fields if matches(term, f, row, cache)]
        if not found:
            return None
        weights = sorted((WEIGHTS[f] for f in found), reverse=True)
        total += weights[0] + ALSO * (len(weights) - 1)
        top = max(found, key=lambda f: WEIGHTS[f])
        if WEIGHTS[top] > best_weight:
            best_field, best_weight = top, WEIGHTS[top]
    plain = query.plain_text()
    if plain is not None and plain == row.name.lower():
        total += EXACT_NAME
    return Hit(row, round(total, 3), best_field, snippet(query, row.text(best_field)))


def rank(
    query: Query, rows: list[Row], limit: int, within: tuple[str, ...] = TEXT_FIELDS
) -> list[Hit]:
    """The rows that match, best first, at most ``limit``."""
    hits = [hit for row in rows if (hit := score(query, row, within)) is not None]
    hits.sort(key=lambda h: h.order)
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
