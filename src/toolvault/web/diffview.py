"""A unified diff (the lines :meth:`Vault.diff` returns, as the API serves them) laid out
for the diff page: hunks of rows, unified or side by side, with what changed inside a
changed line marked (``<del>`` / ``<ins>``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html import escape

HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)")
MAX_INTRALINE = 2_000  # longer lines are marked whole: a character diff of them costs too much
MAX_PAIRS = 500  # a changed block with more lines than this is marked line by line


@dataclass(slots=True)
class Line:
    """One side of a row: its line number and its HTML (escaped, changes marked)."""

    number: int
    html: str


@dataclass(slots=True)
class Row:
    """A row: ``kind`` is ``ctx`` (unchanged), ``del``, ``add`` or ``chg`` (a removed
    line beside the line that replaced it, side by side only)."""

    kind: str
    old: Line | None
    new: Line | None


@dataclass(slots=True)
class Hunk:
    """A hunk: its header's section text, its unified rows and its side-by-side rows."""

    section: str
    unified: list[Row] = field(default_factory=list)
    split: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class Layout:
    """The diff laid out, and its counts of lines added and removed."""

    hunks: list[Hunk]
    added: int = 0
    removed: int = 0


def layout(lines: Sequence[str]) -> Layout:
    """Hunks of rows from unified diff lines (``---``/``+++`` headers skipped)."""
    result = Layout([])
    for section, body, old_no, new_no in _hunks(lines):
        hunk = Hunk(section)
        for kind, texts in _blocks(body):
            if kind == "ctx":
                for line in texts:
                    text = line[1:].rstrip("\n")
                    row = Row("ctx", Line(old_no, escape(text)), Line(new_no, escape(text)))
                    hunk.unified.append(row)
                    hunk.split.append(row)
                    old_no, new_no = old_no + 1, new_no + 1
                continue
            removed, added = texts_of(texts)
            old_html, new_html = marked(removed, added)
            old_lines = [Line(old_no + i, h) for i, h in enumerate(old_html)]
            new_lines = [Line(new_no + i, h) for i, h in enumerate(new_html)]
            hunk.unified += [Row("del", o, None) for o in old_lines]
            hunk.unified += [Row("add", None, n) for n in new_lines]
            hunk.split += _side_by_side(old_lines, new_lines)
            old_no, new_no = old_no + len(removed), new_no + len(added)
            result.removed, result.added = result.removed + len(removed), result.added + len(added)
        result.hunks.append(hunk)
    return result


def _hunks(lines: Sequence[str]) -> Iterator[tuple[str, list[str], int, int]]:
    """Each hunk's section text, body lines and first line numbers."""
    current: list[str] | None = None
    head = ("", 0, 0)
    for line in lines:
        found = HUNK.match(line)
        if found:
            if current is not None:
                yield head[0], current, head[1], head[2]
            current = []
            # a hunk of an empty side starts at 0: its first line would be line 1
            head = (found[3].strip(), max(int(found[1]), 1), max(int(found[2]), 1))
        elif current is not None:
            current.append(line)
    if current is not None:
        yield head[0], current, head[1], head[2]


def _blocks(body: list[str]) -> Iterator[tuple[str, list[str]]]:
    """Runs of unchanged lines (``ctx``) and of changes (``chg``: removals, additions)."""
    kind, run = "", list[str]()
    for line in body:
        if line.startswith("\\"):  # "\ No newline at end of file": about the line before
            continue
        now = "ctx" if line.startswith(" ") else "chg"
        if now != kind and run:
            yield kind, run
            run = []
        kind = now
        run.append(line)
    if run:
        yield kind, run


def texts_of(block: list[str]) -> tuple[list[str], list[str]]:
    """A change block's removed and added lines, without their sign and line end."""
    removed = [line[1:].rstrip("\n") for line in block if line.startswith("-")]
    added = [line[1:].rstrip("\n") for line in block if line.startswith("+")]
    return removed, added


def marked(removed: list[str], added: list[str]) -> tuple[list[str], list[str]]:
    """The HTML of removed and added lines; a removed line and the added line in its place
    have what differs between them marked."""
    old_html = [escape(t) for t in removed]
    new_html = [escape(t) for t in added]
    if len(removed) + len(added) > MAX_PAIRS:
        return old_html, new_html
    for i, (a, b) in enumerate(zip(removed, added, strict=False)):
        if len(a) <= MAX_INTRALINE and len(b) <= MAX_INTRALINE:
            old_html[i], new_html[i] = intraline(a, b)
    return old_html, new_html


def intraline(a: str, b: str) -> tuple[str, str]:
    """Two versions of a line with what was removed from ``a`` in ``<del>`` and what was
    added in ``b`` in ``<ins>``; when they share almost nothing, nothing is marked."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.3:
        return escape(a), escape(b)
    old, new = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            old.append(escape(a[i1:i2]))
            new.append(escape(b[j1:j2]))
            continue
        if i2 > i1:
            old.append(f"<del>{escape(a[i1:i2])}</del>")
        if j2 > j1:
            new.append(f"<ins>{escape(b[j1:j2])}</ins>")
    return "".join(old), "".join(new)


def _side_by_side(old: list[Line], new: list[Line]) -> list[Row]:
    rows = []
    for i in range(max(len(old), len(new))):
        left = old[i] if i < len(old) else None
        right = new[i] if i < len(new) else None
        rows.append(Row("chg" if left and right else "del" if left else "add", left, right))
    return rows
