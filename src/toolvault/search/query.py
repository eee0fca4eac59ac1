"""The search query language of SPEC §10, parsed into terms (a pure module).

A query is words (all must match), ``"quoted phrases"`` and qualified terms
``field:word`` or ``field:"a phrase"``. Unqualified terms match any text field; a
word of 3 or more characters also matches inside identifiers of the content.
"""

from __future__ import annotations

import re

from toolvault.errors import InvalidInput

# The fields a term may name, and the text fields an unqualified term searches.
TEXT_FIELDS = ("name", "description", "usage", "prompt", "message", "content")
META_FIELDS = ("author", "owner", "session", "label", "uses")
FIELDS = TEXT_FIELDS + META_FIELDS
MIN_SUBSTRING = 3  # a content substring shorter than this matches too much to mean anything
MAX_QUERY = 1_000
MAX_TERMS = 32

WORD = re.compile(r"[^\W_]+")  # the word tokenizer: letters and digits (FTS5's unicode61)
QUALIFIER = re.compile(r"([A-Za-z_]+):(?=\S)")
HELP = (
    'a query is words, "quoted phrases" and field:word qualifiers with the fields '
    + ", ".join(FIELDS)
    + ' (for example: csv summary, "read rows", name:csv, uses:fmt)'
)


class Term:
    """One term of a query: its text, the field it is limited to (None: any text field),
    whether it was quoted (a phrase), and its words, lowercased, as the word tokenizer
    splits them. (A plain class: the command line's fast path loads no dataclass.)"""

    __slots__ = ("field", "phrase", "text", "words")

    def __init__(self, text: str, field: str | None = None, phrase: bool = False) -> None:
        self.text, self.field, self.phrase = text, field, phrase
        self.words = tuple(w.lower() for w in WORD.findall(text))

    def _key(self) -> tuple[str, str | None, bool]:
        return (self.text, self.field, self.phrase)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Term) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Term({self.text!r}, {self.field!r}, phrase={self.phrase})"


class Query:
    """A parsed query: every term must match."""

    __slots__ = ("terms", "text")

    def __init__(self, terms: tuple[Term, ...], text: str) -> None:
        self.terms, self.text = terms, text

    def plain_text(self) -> str | None:
        """The query when it is one unqualified word or name (what an exact name looks
        like): the text to compare with tool names for the exact-name rank."""
        if len(self.terms) == 1 and self.terms[0].field in (None, "name"):
            return self.terms[0].text.lower()
        return None


def parse(text: str) -> Query:
    """Parse a query; a malformed one is :class:`InvalidInput` saying what would work."""
    if not isinstance(text, str):
        raise InvalidInput(f"the query must be text; {HELP}")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"the query is {len(text):,} characters; at most {MAX_QUERY:,} are")
    if "\x00" in text:
        raise InvalidInput(f"the query contains a NUL character; {HELP}")
    _check_text(text)
    terms = tuple(_terms(text))
    if not terms:
        raise InvalidInput(f"the query is empty; {HELP}")
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"the query has {len(terms)} terms; at most {MAX_TERMS} are")
    if len(terms) == 1 and _too_short(terms[0]):
        raise InvalidInput(
            f"'{terms[0].text}' alone is shorter than {MIN_SUBSTRING} characters and would "
            f"match nearly everything; give a longer word, or add another word or a "
            f"qualifier such as name:{terms[0].text}"
        )
    return Query(terms, text)


def _check_text(text: str) -> None:
    """Refuse a lone surrogate (JSON carries ``"\\ud800"``; a command line, a byte that is
    not UTF-8): no index holds one, and the database drivers cannot even send it.
    (``validate.utf8`` says the same; importing validate here would bring typing and
    dataclasses, ~10 ms, into the ``search`` fast path.)"""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"the query holds a character that is not UTF-8 text (an unpaired surrogate, or "
            f"a byte that is not UTF-8) at position {exc.start}; {HELP}"
        ) from None


def _too_short(term: Term) -> bool:
    """A lone term whose text is under MIN_SUBSTRING characters, outside the exact fields."""
    return len(term.text) < MIN_SUBSTRING and term.field not in (*META_FIELDS, "name")


def _terms(text: str) -> list[Term]:
    if text.count('"') % 2:
        raise InvalidInput(f'the query has an unbalanced quote ("); close it. {HELP}')
    terms: list[Term] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        field = None
        qualified = QUALIFIER.match(text, pos)
        if qualified:
            field = _field(qualified[1])
            pos = qualified.end()
        term, pos = _one(text, pos, field)
        terms.append(term)
    return terms


def _field(name: str) -> str:
    lowered = name.lower()
    if lowered not in FIELDS:
        raise InvalidInput(
            f"unknown qualifier '{name}:'; quote the word (\"{name}:…\") to search for it as "
            f"text. {HELP}"
        )
    return lowered


def _one(text: str, pos: int, field: str | None) -> tuple[Term, int]:
    """The term starting at ``pos`` (a quoted phrase or a word up to the next space)."""
    if text[pos] == '"':
        end = text.index('"', pos + 1)  # balanced: checked before
        body = " ".join(text[pos + 1 : end].split())
        if not body:
            raise InvalidInput(f'the query has an empty phrase (""); {HELP}')
        term, pos = Term(body, field, phrase=True), end + 1
    else:
        end = pos
        while end < len(text) and not text[end].isspace() and text[end] != '"':
            end += 1
        term, pos = Term(text[pos:end], field), end
    if not term.words:
        raise InvalidInput(f"'{term.text}' has no letters or digits to search for; {HELP}")
    return term, pos
