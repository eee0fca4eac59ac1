"""The search query language (SPEC §10): what parses, into which terms, and every
malformed query refused as invalid input saying what would work."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolvault.errors import InvalidInput
from toolvault.search.query import FIELDS, HELP, Term, parse
from toolvault.search.rank import Row, rank, score, snippet


def test_words_phrases_and_qualifiers() -> None:
    q = parse('csv  "read rows" name:fmt content:"x = 1" uses:lint Author:alice')
    assert q.terms == (
        Term("csv"),
        Term("read rows", phrase=True),
        Term("fmt", "name"),
        Term("x = 1", "content", phrase=True),
        Term("lint", "uses"),
        Term("alice", "author"),
    )
    assert Term("read_csv-rows").words == ("read", "csv", "rows")
    assert parse("csv-summary").plain_text() == "csv-summary"
    assert parse('"http://x.org/a"').terms == (Term("http://x.org/a", phrase=True),)


BAD = {
    "": "empty",
    "   ": "empty",
    '"csv': "unbalanced quote",
    'csv "read rows': "unbalanced quote",
    'a"b"c"': "unbalanced quote",
    "foo:bar": "unknown qualifier 'foo:'",
    "csv nme:fmt": "unknown qualifier 'nme:'",
    "http://example.org": "unknown qualifier 'http:'",
    "ab": "shorter than 3",
    "x": "shorter than 3",
    "content:ab": "shorter than 3",
    '""': "empty phrase",
    'csv "  "': "empty phrase",
    "---": "no letters or digits",
    "csv ***": "no letters or digits",
    "a\x00b": "NUL",
    "ab\udcff": "not UTF-8 text",  # a byte that is not UTF-8 on a command line
    "\ud800csv": "not UTF-8 text",  # a lone surrogate, as JSON may carry
    "w " * 40: "at most 32",
    "x" * 1001: "at most 1,000",
}


@pytest.mark.parametrize("text", list(BAD), ids=[repr(t)[:30] for t in BAD])
def test_malformed_queries_are_invalid_input_saying_what_works(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    message = str(caught.value)
    assert BAD[text] in message
    assert "\n" not in message


def test_the_help_names_every_qualifier() -> None:
    assert all(f"{f}" in HELP for f in FIELDS)
    with pytest.raises(InvalidInput, match=r'"quoted phrases"'):
        parse('"a')


def test_short_words_are_fine_with_company_or_an_exact_field() -> None:
    assert [t.text for t in parse("ls go").terms] == ["ls", "go"]
    assert parse("name:ls").terms == (Term("ls", "name"),)
    assert parse("label:v1").terms == (Term("v1", "label"),)


WORDS = st.text(alphabet=st.characters(categories=("Ll", "Lu", "Nd")), min_size=3, max_size=12)


@given(st.lists(st.tuples(st.sampled_from((None, *FIELDS)), WORDS, st.booleans()), min_size=1,
                max_size=8))  # fmt: skip
def test_a_query_built_from_terms_parses_back_to_them(
    parts: list[tuple[str | None, str, bool]],
) -> None:
    text = " ".join(
        (f"{field}:" if field else "") + (f'"{word} {word}"' if phrase else word)
        for field, word, phrase in parts
    )
    terms = parse(text).terms
    assert [(t.field, t.phrase) for t in terms] == [(f, p) for f, _, p in parts]
    assert [t.text for t in terms] == [f"{w} {w}" if p else w for _, w, p in parts]


@given(st.text(max_size=60))
def test_any_text_parses_or_is_invalid_input(text: str) -> None:
    try:
        query = parse(text)
    except InvalidInput as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert query.terms and all(t.words for t in query.terms)


ROW = Row(
    "csv-summary", 1, "0" * 64, "Summarise the columns of a CSV file.", "Usage: csv-summary F",
    "", "", "def read_csv_rows(path):\n    pass\n", "alice", "alice", "", "stable", "fmt",
    "active", False, "2025-01-01T00:00:00.000000Z",
)  # fmt: skip


def test_content_matches_inside_identifiers_and_text_fields_by_words() -> None:
    hit = score(parse("content:csv_row"), ROW)
    assert hit is not None and hit.field == "content"
    assert "read_**csv_row**s" in hit.snippet
    assert score(parse("description:summar"), ROW) is None  # words, not substrings
    assert score(parse("description:summarise"), ROW) is not None
    assert score(parse("uses:fmt label:stable author:alice csv"), ROW) is not None
    assert score(parse("uses:fm csv"), ROW) is None  # uses: names a tool exactly


def test_field_weights_and_the_exact_name_come_first() -> None:
    named = score(parse("csv"), ROW)
    assert named is not None and named.field == "name"
    exact = score(parse("csv-summary"), ROW)
    assert exact is not None and exact.score > 100
    other = ROW._replace(name="tsv-csv-summary")
    assert [h.row.name for h in rank(parse("csv-summary"), [other, ROW], 5)] == [
        "csv-summary",
        "tsv-csv-summary",
    ]


def test_a_snippet_fits_and_marks_the_first_match() -> None:
    text = "lorem ipsum " * 40 + "the CSV reader " + "dolor " * 40
    cut = snippet(parse("csv"), text)
    assert "**CSV**" in cut and len(cut) < 200 and cut.startswith("…") and cut.endswith("…")


def test_text_fits_the_width_and_styles_the_match_on_a_terminal() -> None:
    from toolvault.search.result import SearchResult
    from toolvault.search.text import render

    result = SearchResult(
        "csv-summary", 2, "csv-summary:2@sha256:" + "ab" * 32, "Summarise CSV columns. " * 9,
        "deprecated", True, "content", "…def read_**csv_row**s(path): " + "x" * 200, 1.0,
    )  # fmt: skip
    plain = render(result, 60)
    assert plain[0].startswith("csv-summary:2@sha256:abababababab [deprecated] [yanked] sc")
    assert render(result, 80)[0].endswith("[yanked]  score 1")
    assert all(len(line) <= 60 for line in plain)
    assert "**csv_row**" in plain[2]
    styled = render(result, 60, lambda text, kind: f"<{kind}:{text}>" if kind != "text" else text)
    assert styled[0].startswith("<ref:csv-summary:2@sha256:abababababab>")
    assert "<match:csv_row>" in styled[2] and "**" not in styled[2]
    assert len(styled[2].replace("<match:", "").replace(">", "")) <= 60
