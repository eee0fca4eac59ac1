"""The SQL of a search (SPEC §10) for either store: one page of the index's rows that
match a query, ranked in SQL as :mod:`toolvault.search.rank` ranks them. A module of
its own, light enough for the command line's fast path (no dataclass, no store)."""

from __future__ import annotations

from collections import namedtuple

from toolvault.search.query import MIN_SUBSTRING, Query, Term
from toolvault.search.rank import EXACT_NAME, WEIGHTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TEXT_COLUMNS = (
    "name, version, sha256, description, usage, prompt, message, content, author, owner, "
    "session, label, uses, lifecycle, yanked, recorded_at"
)
ROW_COLUMNS = ", ".join(f"s.{c.strip()}" for c in TEXT_COLUMNS.split(","))
# The word fields and their weight in PostgreSQL's tsvector (prompt and message share D).
WORD_WEIGHTS = {"name": "A", "description": "B", "usage": "C", "prompt": "D", "message": "D"}

_PageFields = namedtuple(
    "_PageFields", ["within", "all_versions", "lifecycles", "size", "offset"], defaults=[0]
)


class Page(_PageFields):
    """Which rows a search looks at — ``within``: the fields an unqualified term may
    match; ``all_versions``; ``lifecycles`` — and which of its ranked rows to return
    (``size`` from ``offset``)."""

    __slots__ = ()


def page_query(dialect: str, query: Query, page: Page) -> tuple[str, list[Any]]:
    """One page of the rows that match ``query``, ranked in SQL as
    :mod:`toolvault.search.rank` ranks them (field weights, deprecated after active,
    the newest first): the ranking checks and orders them again, and asks for the
    next page when it dropped some (the SQL may take a little more than matches).

    Each term's score (the weight of the best field it matches, 0 for none) is
    computed once per candidate row in a materialized CTE; the candidates are the
    rows the first term may match, found through the full-text index."""

    where = [f"s.lifecycle IN ({', '.join('?' * len(page.lifecycles))})"]
    where_params: list[Any] = list(page.lifecycles)
    if not page.all_versions:
        where.append("s.latest = 1")
    driver, driver_params = _driver(dialect, query.terms[0], page.within)
    where.append(driver)
    where_params += driver_params
    scores, params = [], []  # placeholders in the text's order: the CTE's SELECT first
    for i, term in enumerate(query.terms):
        case, case_params = _term_score(dialect, term, page.within)
        scores.append(f"{case} AS t{i}")
        params += case_params
    params += where_params
    total = " + ".join(f"m.t{i}" for i in range(len(query.terms)))
    exact = query.plain_text()
    order_params: list[Any] = []
    if exact is not None:
        total += f" + CASE WHEN lower(m.name) = ? THEN {EXACT_NAME} ELSE 0 END"
        order_params.append(exact)
    c = ' COLLATE "C"' if dialect == "postgres" else ""
    # the page is ranked over the narrow columns; only its rows are read in full
    # (their order is the ranking's to restore)
    sql = (
        f"WITH m AS MATERIALIZED (SELECT s.id, s.lifecycle, s.recorded_at, s.name, "
        f"s.version, {', '.join(scores)} FROM search_index s WHERE {' AND '.join(where)}) "
        f"SELECT {ROW_COLUMNS} FROM search_index s WHERE s.id IN (SELECT m.id FROM m WHERE "
        + " AND ".join(f"m.t{i} > 0" for i in range(len(query.terms)))
        + " ORDER BY CASE m.lifecycle WHEN 'active' THEN 0 WHEN 'deprecated' THEN 1 "
        f"ELSE 2 END, {total} DESC, m.recorded_at{c} DESC, m.name{c}, m.version DESC "
        "LIMIT ? OFFSET ?)"
    )
    return sql, [*params, *order_params, page.size, page.offset]


def _term_score(dialect: str, term: Term, within: tuple[str, ...]) -> tuple[str, list[Any]]:
    """SQL for the weight of the best field ``term`` matches in row ``s`` (0: none)."""
    fields = sorted((term.field,) if term.field else within, key=lambda f: -WEIGHTS[f])
    flags = [(f, *_flag(dialect, term, f)) for f in fields]
    cases = " ".join(f"WHEN {sql} THEN {WEIGHTS[f]}" for f, sql, _ in flags)
    return f"CASE {cases} ELSE 0 END", [p for _, _, ps in flags for p in ps]


def _driver(dialect: str, term: Term, within: tuple[str, ...]) -> tuple[str, list[Any]]:
    """SQL keeping at least every row ``term`` matches, through the full-text index."""
    fields = (term.field,) if term.field else within
    words = [f for f in fields if f in WORD_WEIGHTS]
    parts: list[tuple[str, list[Any]]] = []
    if words and dialect == "sqlite":
        parts.append((
            "s.id IN (SELECT rowid FROM search_words WHERE search_words MATCH ?)",
            ["{" + " ".join(words) + "} : \"" + " ".join(term.words) + "\""],
        ))  # fmt: skip
    elif words:
        parts.append(("s.words @@ phraseto_tsquery('simple', ?)", [" ".join(term.words)]))
    parts += [_flag(dialect, term, f) for f in fields if f not in WORD_WEIGHTS]
    return "(" + " OR ".join(sql for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]


def _flag(dialect: str, term: Term, field: str) -> tuple[str, list[Any]]:
    """SQL true when ``term`` matches ``field`` of row ``s``, and its parameters."""
    words = " ".join(term.words)
    if field in WORD_WEIGHTS:
        if dialect == "sqlite":
            return (
                "s.id IN (SELECT rowid FROM search_words WHERE search_words MATCH ?)",
                [f'{field} : "{words}"'],
            )
        weight = WORD_WEIGHTS[field]
        phrase = " <-> ".join(f"{w}:{weight}" for w in term.words)
        return "s.words @@ to_tsquery('simple', ?)", [phrase]
    like = "LIKE" if dialect == "sqlite" else "ILIKE"
    text = _escaped(term.text.lower())
    # words match whatever is between them (a short term in content, and the fields
    # other than content, labels and uses)
    pattern = _words_pattern(term)
    if field == "content":
        if dialect == "sqlite" and len(term.text) >= MIN_SUBSTRING:
            return (
                "s.id IN (SELECT rowid FROM search_trigram WHERE search_trigram MATCH ?)",
                [_trigrams(term.text)],
            )
        substring = len(term.text) >= MIN_SUBSTRING
        return f"s.content {like} ? ESCAPE '\\'", [f"%{text}%" if substring else pattern]
    if field in ("label", "uses"):  # a name among the space-separated ones
        return f"(' ' || lower(s.{field}) || ' ') LIKE ? ESCAPE '\\'", [f"% {text} %"]
    return f"lower(s.{field}) LIKE ? ESCAPE '\\'", [pattern]


def _words_pattern(term: Term) -> str:
    """A LIKE pattern holding ``term``'s words in order, anything between them."""
    return "%" + "%".join(_escaped(w) for w in term.words) + "%"


def _trigrams(text: str) -> str:
    """An FTS5 query for the rows whose content holds every trigram of ``text``: the
    trigram table keeps no positions (detail=none, migration 11), so this is a superset of the
    rows holding ``text``, which the ranking checks (each quoted trigram is one token,
    folded to lower case as the content's are)."""
    grams = dict.fromkeys(text[i : i + 3] for i in range(len(text) - 2))
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)


def _escaped(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
