"""Search results as text for a terminal (no click: the fast path prints them too)."""

from __future__ import annotations

from collections.abc import Callable

from toolvault.search.result import SearchResult

OPEN, CLOSE = "**", "**"  # how the ranking marks the match in a snippet
Style = Callable[[str, str], str]  # (text, "ref" | "match" | "text") -> the text as shown


def render(result: SearchResult, width: int, style: Style | None = None) -> list[str]:
    """A result as lines that fit ``width``: the pinned ref (short hash), lifecycle and
    score, the description, and the field that matched with its snippet, the match
    styled by ``style`` (on a terminal) or marked ``**…**``."""
    name, sha = result.ref.split("@sha256:")
    state = "" if result.lifecycle == "active" else f" [{result.lifecycle}]"
    state += " [yanked]" if result.yanked else ""
    head = f"{name}@sha256:{sha[:12]}"
    first = f"{head}{state}  score {result.score:g}"
    first = first if len(first) <= width else cut(first, width)
    if style and first.startswith(head):
        first = style(head, "ref") + first[len(head) :]
    lines = [first]
    if result.description:
        lines.append("  " + cut(result.description, width - 2))
    # the marks take no room on a terminal, and their two stars each elsewhere
    snippet = cut(f"{result.field}: {result.snippet}", width - 2, keep_marks=bool(style))
    lines.append("  " + (highlight(snippet, style) if style else snippet))
    return lines


def cut(text: str, width: int, keep_marks: bool = False) -> str:
    """One line of at most ``width`` characters as shown (with ``keep_marks`` the marks
    are not counted, and one cut open is closed again)."""
    text = " ".join(text.split())
    shown = text.replace(OPEN, "") if keep_marks else text
    if len(shown) <= width:
        return text
    out, count, i = "", 0, 0
    while i < len(text) and count < width - 1:
        if keep_marks and text.startswith(OPEN, i):
            out, i = out + OPEN, i + len(OPEN)
            continue
        out, count, i = out + text[i], count + 1, i + 1
    if keep_marks and out.count(OPEN) % 2:
        out += CLOSE
    return out + "…"


def highlight(text: str, style: Style) -> str:
    """The ``**…**`` marks replaced by ``style``."""
    parts = text.split(OPEN)
    return "".join(style(part, "match" if i % 2 else "text") for i, part in enumerate(parts))
