"""What a tool says it is and how to call it, read from its header — never by running it
(SPEC §10): a Python module docstring, or the first comment block after the shebang
(``#``, ``//`` or ``--`` comments). A paragraph there that starts ``Usage:`` begins the
usage; the paragraph before it is the description (without one, the first paragraph).

Pure functions over text: no import beyond the standard library, nothing executed.
"""

from __future__ import annotations

import ast
import inspect
import re

MAX_DESCRIPTION = 1024  # characters (SPEC §10)
MAX_USAGE = 8 * 1024  # bytes of UTF-8
# Only the head of a tool is looked at: a header lies at the top, and a 1 MiB tool
# should not cost a scan of all of it.
HEAD = 64 * 1024

_DOCSTRING = re.compile(r"[rRuU]?(\"\"\"|''')(.*?)\1", re.DOTALL)
_COMMENT = re.compile(r"^\s*(#|//|--)(.*)$")
_DIRECTIVE = re.compile(r"^\s*(?:#!|#.*-\*-.*-\*-|#\s*vim?:|#\s*shellcheck\s|#\s*coding[:=])")
_RULE = re.compile(r"^[\s#/\-=*~_+]*$")  # a line of only decoration: "######", "// ----"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_USAGE = re.compile(r"usage\s*:", re.IGNORECASE)
_USAGE_LINE = re.compile(r"\n(\s*usage\s*:)", re.IGNORECASE)


def extract(content: bytes | str) -> tuple[str | None, str | None]:
    """The (description, usage) a tool's header gives, each None when it gives none,
    cut to the limits (a description at a word, a usage at a line)."""
    text = content if isinstance(content, str) else content[:HEAD].decode("utf-8", "replace")
    header = docstring(text)
    if header is None:
        header = comment_block(text)
    if not header:
        return None, None
    return split(header)


def docstring(text: str) -> str | None:
    """A Python module docstring: the first statement, after the shebang, encoding line,
    comments and blank lines, is a triple-quoted string."""
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and (not lines[start].strip() or lines[start].lstrip()[:1] == "#"):
        start += 1
    found = _DOCSTRING.match("".join(lines[start:]).lstrip())
    if found is None:
        return None
    try:  # the literal as Python reads it (escapes and all); parsing runs nothing
        value = ast.literal_eval(found.group(0))
    except (ValueError, SyntaxError):
        value = found.group(2)
    return inspect.cleandoc(value) if isinstance(value, str) else None


def comment_block(text: str) -> str | None:
    """The first block of comment lines after the shebang (and any encoding or editor
    line), with their markers taken off; blank comment lines separate paragraphs."""
    lines = text.splitlines()
    i = 0
    while i < len(lines) and (not lines[i].strip() or _DIRECTIVE.match(lines[i])):
        i += 1
    first = _COMMENT.match(lines[i]) if i < len(lines) else None
    if first is None:
        return None
    marker, body = first.group(1), []
    for line in lines[i:]:
        found = _COMMENT.match(line)
        if found is None or found.group(1) != marker:
            break
        rest = found.group(2)
        body.append("" if _RULE.match(rest) else rest[1:] if rest[:1] == " " else rest)
    return inspect.cleandoc("\n".join(body)) or None


def split(header: str) -> tuple[str | None, str | None]:
    """A header's description and usage (see the module's docstring)."""
    # A "Usage:" line starts a paragraph of its own even with no blank line before it.
    text = _USAGE_LINE.sub("\n\n\\1", _clean(header))
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]
    at = next((i for i, p in enumerate(paragraphs) if _USAGE.match(p.lstrip())), None)
    if at is None:
        return description(paragraphs[0]) if paragraphs else None, None
    before = description(paragraphs[at - 1]) if at > 0 else None
    return before, usage("\n\n".join(paragraphs[at:]))


def description(paragraph: str) -> str | None:
    """One paragraph as one line (no control character), cut at a word to
    MAX_DESCRIPTION characters."""
    line = " ".join(_clean(paragraph).split())
    if len(line) <= MAX_DESCRIPTION:
        return line or None
    cut = line[: MAX_DESCRIPTION - 1]
    if " " in cut[MAX_DESCRIPTION // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def usage(text: str) -> str | None:
    """Usage text, cut at a line to MAX_USAGE bytes of UTF-8."""
    text = text.rstrip()
    data = text.encode("utf-8")
    if len(data) <= MAX_USAGE:
        return text or None
    marker = "\n…"
    head = data[: MAX_USAGE - len(marker.encode())].decode("utf-8", "ignore")
    if "\n" in head:
        head = head.rsplit("\n", 1)[0]
    return head.rstrip() + marker


def _clean(text: str) -> str:
    """Tabs as spaces and no other control character: what a header says must pass the
    metadata rules, never make a publish fail."""
    return _CONTROL.sub("", text.expandtabs(4).replace("\r\n", "\n").replace("\r", "\n"))
