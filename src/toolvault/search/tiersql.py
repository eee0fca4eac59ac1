"""The SQL of a search tier (:mod:`toolvault.search.tiers`) for either store: the
newest rows whose terms each match one group of fields of equal weight, through the
full-text indexes; the exact-name rows; and rows in full by id.

Every condition here keeps at least the rows :func:`toolvault.search.rank.matches`
accepts (a superset): the ranking checks each row it returns. A module of its own,
light enough for the command line's fast path (no dataclass, no store)."""

from __future__ import annotations

import json
import re

from toolvault.search.query import MIN_SUBSTRING, Term
from toolvault.search.sql import ROW_COLUMNS, WORD_WEIGHTS, _escaped, _trigrams

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Statement = tuple[str, list[Any]]

KEY_COLUMNS = "s.id, s.recorded_at, s.name, s.version"
NEWEST = "ORDER BY s.recorded_at{c} DESC, s.name{c}, s.version DESC LIMIT ?"
# past this many full-text matches, walk the rows newest first instead (the content's
# trigrams take longer to list, and the walk checks the text itself there)
LOOKUP_MAX = {"search_words": 1_000, "search_trigram": 200}
PREFIX = 8  # characters of an exact name whose upper and lower case forms are looked up
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")  # a tool name, lowercased (spec.NAME_RE)
# SQLite's LIKE folds ASCII letters only, Python all: of the other characters only two
# fold to ASCII ones (str.lower: U+0130 to 'i' and a combining dot, U+212A to 'k'), so
# 'i' and 'k' in a pattern are any one character; a pattern with other characters keeps
# every text with them too, for the ranking to decide
FOLDED = str.maketrans("ik", "__")
NOT_ASCII = "length({col}) <> length(CAST({col} AS BLOB))"


class Tier:
    """One tier's SQL: ``drivers`` (full-text tables and their MATCH: the word fields',
    then the content's trigrams) narrow the rows, ``filters`` (SQL and parameters) check
    each of them."""

    __slots__ = ("drivers", "filters")

    def __init__(self, drivers: list[tuple[str, str]], filters: list[Statement]) -> None:
        self.drivers, self.filters = drivers, filters


def tier(dialect: str, terms: tuple[Term, ...], groups: tuple[tuple[str, ...], ...]) -> Tier | None:
    """The rows where each term matches one field of its group (None: a group this
    cannot express, mixing word fields with others)."""
    words: list[str] = []
    grams: list[str] = []
    filters: list[Statement] = []
    for term, group in zip(terms, groups, strict=True):
        if all(f in WORD_WEIGHTS for f in group):
            words.append(_words(dialect, term, group))
        elif len(group) != 1:
            return None
        elif group[0] == "content":
            # Python folds U+0130 to two characters, the trigrams to one: no index then
            if len(term.text) >= MIN_SUBSTRING and "\u0307" not in term.text.lower():
                grams.append(_trigrams(term.text))
            filters.append(_contains(dialect, "content", term))
        else:
            filters.append(_meta(dialect, term, group[0]))
    if dialect == "postgres":
        if words:
            filters.insert(0, ("s.words @@ to_tsquery('simple', ?)", [" & ".join(words)]))
        return Tier([], filters)
    drivers = [("search_words", " AND ".join(words))] if words else []
    return Tier(drivers + ([("search_trigram", " AND ".join(grams))] if grams else []), filters)


def any_row(dialect: str, term: Term, group: tuple[str, ...]) -> Statement | None:
    """One row, if any, where ``term`` matches a word field of ``group`` (None: not a
    group of word fields)."""
    if not all(f in WORD_WEIGHTS for f in group):
        return None
    if dialect == "sqlite":
        return "SELECT 1 FROM search_words WHERE search_words MATCH ? LIMIT 1", [
            _words(dialect, term, group)
        ]
    return "SELECT 1 FROM search_index s WHERE s.words @@ to_tsquery('simple', ?) LIMIT 1", [
        _words(dialect, term, group)
    ]


def _words(dialect: str, term: Term, group: tuple[str, ...]) -> str:
    """The full-text query for ``term``'s words one after another in a field of ``group``."""
    if dialect == "sqlite":
        phrase = '"' + " ".join(term.words) + '"'
        # every column of the table: no column filter, which costs a quarter more
        return (
            phrase if set(group) == set(WORD_WEIGHTS) else "{" + " ".join(group) + "} : " + phrase
        )
    weights = "".join(sorted({WORD_WEIGHTS[f] for f in group}))
    return "(" + " <-> ".join(f"{w}:{weights}" for w in term.words) + ")"


def _contains(dialect: str, column: str, term: Term, words: bool = False) -> Statement:
    """SQL true at least when ``term`` matches the text of ``column``: its words in
    order (``words``, or a content term under 3 characters), else a substring."""
    if len(term.text) >= MIN_SUBSTRING and not words:
        parts = [term.text.lower()]
    else:
        parts = list(term.words)
    pattern = "%" + "%".join(map(_escaped, parts)) + "%"
    if dialect == "postgres":
        return f"s.{column} ILIKE ?", [pattern]
    col = f"s.{column}"
    if pattern.isascii():
        return f"{col} LIKE ? ESCAPE '\\'", [pattern.translate(FOLDED)]
    return f"({col} LIKE ? ESCAPE '\\' OR {NOT_ASCII.format(col=col)})", [pattern]


def _meta(dialect: str, term: Term, field: str) -> Statement:
    """SQL true at least when ``term`` matches ``field`` (author, owner, session, label,
    uses)."""
    if field in ("label", "uses"):  # a name among the space-separated ones
        text = _escaped(term.text.lower())
        return f"(' ' || lower(s.{field}) || ' ') LIKE ? ESCAPE '\\'", [f"% {text} %"]
    return _contains(dialect, field, term, words=True)


def newest(
    dialect: str, tier: Tier, where: Statement, size: int, ids: list[int] | None,
    listed: str | None = None,
) -> Statement:  # fmt: skip
    """The ``size`` newest rows' keys of ``tier`` within ``where`` (latest, lifecycle):
    from ``ids`` (the rows of the driver ``listed``, when few), else walking the rows
    newest first. The word fields' driver is a condition too (the filters check the
    content)."""
    c = ' COLLATE "C"' if dialect == "postgres" else ""
    conds, params = [where[0]], list(where[1])
    if ids is not None:
        source = "json_each(?) j CROSS JOIN search_index s ON s.id = j.value"
        params.insert(0, json.dumps(ids))
    else:
        walk = dialect == "sqlite" and where[0].startswith("s.latest = 1")
        source = "search_index s" + (" INDEXED BY search_index_rank" if walk else "")
    for table, match in tier.drivers[:1]:
        if table == "search_words" and listed != table:
            conds.append(f"s.id IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)")
            params.append(match)
    for sql, ps in tier.filters:
        conds.append(sql)
        params += ps
    order = NEWEST.format(c=c)
    # PostgreSQL: the rows in full at once, a round trip less (SQLite reads them apart,
    # only those the search checks: the others' long rows are never read)
    columns = KEY_COLUMNS + (f", {ROW_COLUMNS}" if dialect == "postgres" else "")
    return f"SELECT {columns} FROM {source} WHERE {' AND '.join(conds)} {order}", [
        *params,
        size,
    ]


def driver_rows(table: str, match: str) -> Statement:
    """A driver's rows, one more than its :data:`LOOKUP_MAX` at most."""
    return f"SELECT rowid FROM {table} WHERE {table} MATCH ? LIMIT ?", [
        match,
        LOOKUP_MAX[table] + 1,
    ]


def exact(dialect: str, name: str, words: tuple[str, ...], where: Statement) -> Statement | None:
    """The rows of the tool named ``name`` in any case (None: no tool can be named so),
    found through the name index: its upper and lower case forms of the first
    :data:`PREFIX` characters, each a range of names."""
    if not NAME.fullmatch(name):
        return None
    forms = [""]
    for ch in name[:PREFIX]:
        forms = [f + c for f in forms for c in dict.fromkeys((ch, ch.upper()))]
    if dialect == "postgres":  # a name index probe for each form of a short name
        if len(name) <= PREFIX:
            return (
                f"SELECT s.id, {ROW_COLUMNS} FROM search_index s WHERE s.name = ANY(?) "
                f"AND lower(s.name) = ? AND {where[0]}",
                [forms, name, *where[1]],
            )
        phrase = " <-> ".join(f"{w}:A" for w in words)
        return (
            f"SELECT s.id, {ROW_COLUMNS} FROM search_index s WHERE {where[0]} AND "
            "s.words @@ to_tsquery('simple', ?) AND lower(s.name) = ?",
            [*where[1], phrase, name],
        )
    # each form one probe of the name index, a range when the name is longer ('~' sorts
    # after every name character); '+' keeps the planner off the rank index here
    on = (
        "s.name = j.value"
        if len(name) <= PREFIX
        else "s.name >= j.value AND s.name < j.value || '~'"
    )
    return (
        f"SELECT s.id, {ROW_COLUMNS} FROM json_each(?) j CROSS JOIN search_index s ON {on} "
        f"WHERE lower(s.name) = ? AND {where[0].replace('s.', '+s.')}",
        [json.dumps(forms), name, *where[1]],
    )


def by_id(ids: list[int]) -> Statement:
    """These rows in full."""
    marks = ", ".join("?" * len(ids))
    return f"SELECT s.id, {ROW_COLUMNS} FROM search_index s WHERE s.id IN ({marks})", [*ids]


def scope(all_versions: bool, lifecycle: str) -> Statement:
    """The rows a search looks at in one lifecycle: each tool's latest version unless
    ``all_versions``."""
    if all_versions:
        return "s.lifecycle = ?", [lifecycle]
    return "s.latest = 1 AND s.lifecycle = ?", [lifecycle]
