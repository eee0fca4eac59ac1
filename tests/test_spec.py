"""The spec grammar (SPEC §2): round trips, an independent reference regex, bad input."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from toolvault.errors import InvalidSpec
from toolvault.spec import Kind, Spec, format_spec, parse, parse_name, validate_name

# Written from SPEC §2 (and §11's ranges NAME:A..B), independently of toolvault.spec.
BOUND = (
    r"(?:latest|previous|[1-9][0-9]*|-[1-9][0-9]*"
    r"|(?!(?i:latest|previous|versions)(?:\.\.|\Z))[A-Za-z][A-Za-z0-9_-]{0,63})"
)
REFERENCE = re.compile(
    r"(?:/commands/|/tools/|p42:/commands/|p42:/tools/)?"
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
    r"(?:"
    r":(?:latest|previous|versions"
    r"|[1-9][0-9]*(?:@sha256:[0-9a-f]{8,64})?"
    r"|-[1-9][0-9]*"
    r"|(?!(?i:latest|previous|versions)\Z)[A-Za-z][A-Za-z0-9_-]{0,63}"
    rf"|{BOUND}\.\.{BOUND})"
    r"|@sha256:[0-9a-f]{8,64}"
    r")?"
)

PREFIXES = ["", "/commands/", "/tools/", "p42:/commands/", "p42:/tools/"]
KEYWORDS = {"latest", "previous", "versions"}

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", fullmatch=True)
labels = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,63}", fullmatch=True).filter(
    lambda s: s.lower() not in KEYWORDS
)
hexes = st.from_regex(r"[0-9a-f]{8,64}", fullmatch=True)
numbers = st.integers(min_value=1, max_value=10**30)
prefixes = st.sampled_from(PREFIXES)


@st.composite
def valid_specs(draw: st.DrawFn) -> Spec:
    """Every kind of Spec the grammar allows, with every prefix."""
    name, prefix = draw(names), draw(prefixes)
    kind = draw(st.sampled_from(list(Kind)))
    if kind in (Kind.DEFAULT, Kind.LATEST, Kind.PREVIOUS, Kind.VERSIONS):
        return Spec(name, kind, prefix=prefix)
    if kind is Kind.NUMBER:
        pinned = draw(st.none() | hexes)
        return Spec(name, kind, draw(numbers), pinned, prefix)
    if kind is Kind.BACK:
        return Spec(name, kind, draw(numbers), prefix=prefix)
    if kind is Kind.LABEL:
        return Spec(name, kind, draw(labels), prefix=prefix)
    if kind is Kind.RANGE:
        return Spec(name, kind, draw(ranges), prefix=prefix)
    return Spec(name, kind, draw(hexes), prefix=prefix)


@st.composite
def _ranges(draw: st.DrawFn) -> str:
    """``A..B`` with two ends that do not run backwards (numbers up, -K down)."""
    words = st.sampled_from(["latest", "previous"]) | labels
    a, b = sorted(draw(st.lists(numbers, min_size=2, max_size=2)))
    pairs = [f"{a}..{b}", f"-{b}..-{a}", f"{a}..{draw(words)}", f"{draw(words)}..-{a}"]
    return draw(st.sampled_from(pairs))


ranges = _ranges()


def _backwards(text: str) -> bool:
    """A range whose two ends are both numbers, or both -K, and run backwards."""
    found = re.search(r":(-?)([1-9][0-9]*)\.\.(-?)([1-9][0-9]*)\Z", text)
    if found is None or found.group(1) != found.group(3):
        return False
    low, high = int(found.group(2)), int(found.group(4))
    return high > low if found.group(1) else low > high


# Fragments that sit near the grammar's edges, so that generated strings often
# parse and often just miss.
FRAGMENTS = [
    "a",
    "Z",
    "7",
    "0",
    "01",
    "-",
    "--",
    ".",
    "..",
    "_",
    ":",
    "@",
    "/",
    "sha256",
    "@sha256:",
    "deadbeef",
    "DEADBEEF",
    "0123456789abcdef",
    "latest",
    "Latest",
    "PREVIOUS",
    "versions",
    "previous",
    "-1",
    "-0",
    ":-",
    "p42:",
    "/commands/",
    "/tools/",
    "p42:/tools/",
    " ",
    "\n",
    "é",
    "tool",
    "x" * 60,
    "1" * 70,
]
near_miss = st.lists(st.sampled_from(FRAGMENTS), min_size=0, max_size=8).map("".join)
spec_chars = st.text(alphabet="aZ09._-:@/p4sh2\n ", max_size=30)
formatted = valid_specs().map(format_spec)


def _parses(text: str) -> bool:
    try:
        parse(text)
    except InvalidSpec:
        return False
    return True


@given(valid_specs())
def test_format_then_parse_round_trips(spec: Spec) -> None:
    assert parse(format_spec(spec)) == spec


@given(valid_specs())
def test_every_formatted_spec_matches_the_reference_grammar(spec: Spec) -> None:
    assert REFERENCE.fullmatch(format_spec(spec))


@given(st.one_of(near_miss, spec_chars, formatted, formatted.map(lambda s: s + "x")))
@example("p42:/commands/tool:1@sha256:deadbeef")
@example("tool:Latest")
@example("tool:latest\n")
@example("/commands/")
@example("a" * 128 + ":-3")
def test_parse_accepts_exactly_the_reference_grammar(text: str) -> None:
    assert _parses(text) == (bool(REFERENCE.fullmatch(text)) and not _backwards(text)), text


@given(st.one_of(near_miss, spec_chars, st.text(max_size=20)))
def test_parse_raises_only_invalid_spec(text: str) -> None:
    # Anything else (ValueError, IndexError…) would cross the library boundary.
    try:
        parsed = parse(text)
    except InvalidSpec as exc:
        assert str(exc)
    else:
        assert parse(format_spec(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tool", Spec("tool")),
        ("tool:latest", Spec("tool", Kind.LATEST)),
        ("tool:previous", Spec("tool", Kind.PREVIOUS)),
        ("tool:versions", Spec("tool", Kind.VERSIONS)),
        ("tool:12", Spec("tool", Kind.NUMBER, 12)),
        ("tool:-2", Spec("tool", Kind.BACK, 2)),
        ("tool:stable", Spec("tool", Kind.LABEL, "stable")),
        ("tool@sha256:3fa9c2d1", Spec("tool", Kind.SHA, "3fa9c2d1")),
        ("/commands/tool:2", Spec("tool", Kind.NUMBER, 2, prefix="/commands/")),
        ("p42:/tools/tool", Spec("tool", prefix="p42:/tools/")),
        ("fmt.py:3@sha256:" + "ab" * 32, Spec("fmt.py", Kind.NUMBER, 3, "ab" * 32)),
    ],
)
def test_parse_examples(text: str, expected: Spec) -> None:
    assert parse(text) == expected
    assert str(expected) == text


def test_back_counts_from_latest() -> None:
    assert parse("t").back == 0
    assert parse("t:latest").back == 0
    assert parse("t:previous").back == 1
    assert parse("t:-4").back == 4
    assert parse("t:4").back is None


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("../x", "invalid tool name '../x'"),
        ("a/b", "invalid tool name 'a/b'"),
        ("-rf", "invalid tool name '-rf'"),
        ("", "empty tool name"),
        ("a" * 129, "tool name is 129 characters long"),
        ("x:y", "invalid tool name 'x:y'"),
        (".", "invalid tool name '.'"),
        ("..", "invalid tool name '..'"),
    ],
)
def test_invalid_names_are_refused_with_the_rule(name: str, hint: str) -> None:
    with pytest.raises(InvalidSpec, match=re.escape(hint)) as info:
        validate_name(name)
    assert "starts with a letter or digit" in str(info.value)


def test_longest_name_is_accepted() -> None:
    assert validate_name("a" * 128) == "a" * 128
    assert parse("a" * 128 + ":1").name == "a" * 128


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("tool:0", "numbered from 1"),
        ("tool:01", "leading zero"),
        ("tool:-0", "numbered from 1"),
        ("tool:@", "'@' is neither a number"),
        ("tool@sha256:zz", "8 to 64 lowercase hex digits"),
        ("tool@sha256:DEADBEEF", "8 to 64 lowercase hex digits"),
        ("tool@sha256:abc", "8 to 64 lowercase hex digits"),
        ("tool:1@sha256:", "8 to 64 lowercase hex digits"),
        ("tool:", "nothing after ':'"),
        ("tool:Latest", "keywords are lowercase"),
        ("../x", "starts with a letter or digit"),
        ("a" * 129, "129 characters"),
        ("", "empty spec"),
    ],
)
def test_invalid_specs_say_what_is_wrong_and_what_works(text: str, hint: str) -> None:
    with pytest.raises(InvalidSpec, match=re.escape(hint)) as info:
        parse(text)
    message = str(info.value)
    assert "NAME:N" in message or "at most 128 characters" in message


def test_parse_name_refuses_a_selector() -> None:
    assert parse_name("/commands/fmt") == "fmt"
    with pytest.raises(InvalidSpec, match="expected a tool name"):
        parse_name("fmt:2")


def test_a_huge_version_number_is_invalid_input_not_a_crash() -> None:
    with pytest.raises(InvalidSpec, match="too long"):
        parse("tool:" + "9" * 5000)


def test_a_selector_of_thousands_of_zeros_is_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidSpec, match="numbered from 1"):
        parse("fmt:" + "0" * 5000)
    with pytest.raises(InvalidSpec, match="leading zero"):
        parse("fmt:0" + "1" * 5000)
