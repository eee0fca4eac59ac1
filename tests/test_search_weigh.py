"""A row's score as toolvault.search.weigh finds it (the cells' candidates' keys) is
the ranking's (toolvault.search.rank.score): the same score, or no match, for every
query and row — ASCII fields matched by an expression, others word by word; words
glued by underscores or inside longer words, phrases across punctuation, case, a
final sigma, a dotted capital I and the Kelvin sign."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from toolvault.errors import InvalidInput
from toolvault.search import query as queries
from toolvault.search.rank import SCALE, Row, score
from toolvault.search.weigh import Weigher

WORDS = [
    "csv",
    "CSV",
    "rows",
    "read",
    "r",
    "i",
    "2",
    "csv2",
    "ΟΔΟΣ",
    "οδος",
    "İd",
    "id",
    "\u212asv",
]
GLUE = [" ", "_", "-", ".", "", ":", "\n", "'", "é"]
FIELDS = ["name", "description", "usage", "prompt", "message", "content", "author", "label"]


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Words glued by spaces, punctuation, underscores or nothing at all."""
    parts = draw(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(GLUE)), max_size=6))
    return "".join(word + glue for word, glue in parts)


ROWS = st.builds(
    lambda name, texts_: Row(name, 1, "0" * 64, *texts_, "", "", "active", False, "t"),  # type: ignore[call-arg]
    st.sampled_from(["csv", "read-csv", "csv.rows", "CSV_rows", "οδος", "x"]),
    st.tuples(*(texts() for _ in range(8))),
)
TERMS = st.one_of(
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(lambda w: '"' + " ".join(w) + '"'),
    st.tuples(st.sampled_from(FIELDS), st.sampled_from(WORDS)).map(lambda t: f"{t[0]}:{t[1]}"),
    st.sampled_from(["csv_rows", "read-csv", "sv_r"]),
)


@settings(max_examples=600, deadline=None)
@given(
    terms=st.lists(TERMS, min_size=1, max_size=4),
    rows=st.lists(ROWS, min_size=1, max_size=5),
    within=st.lists(st.sampled_from(queries.TEXT_FIELDS), min_size=1, unique=True),
)
def test_the_weight_is_the_rankings(terms: list[str], rows: list[Row], within: list[str]) -> None:
    try:
        query = queries.parse(" ".join(terms))
    except InvalidInput:
        return
    weigher = Weigher(query, tuple(within))
    for row in rows:
        hit = score(query, row, tuple(within))
        assert weigher.score(row) == (None if hit is None else hit.score * SCALE), (terms, row)


def test_words_glued_or_inside_others_are_not_matched() -> None:
    row = Row("x", 1, "0", "csv_rows", "Read-CSV, rows", "ΟΔΟΣ.x", "csvrows",  # type: ignore[call-arg]
              "", "", "", "", "", "", "active", False, "t")  # fmt: skip
    for text, expected in [("csv", 24 + 0), ('"read csv rows"', 16), ("rows", 24), ("οδος", 10)]:
        query = queries.parse(text)
        hit = score(query, row)
        assert Weigher(query, queries.TEXT_FIELDS).score(row) == (hit and hit.score * SCALE)
        assert hit is not None and hit.score * SCALE == expected, text
