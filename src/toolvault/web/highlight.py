"""A version's content highlighted by Pygments, one table row per line with its anchor
(``#L12``), kept per sha256 and tool name: content never changes under a hash, so a page
seen once is served again without highlighting it again (the name is part of the key: it
picks the lexer when the content has no shebang)."""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from html import escape

from toolvault import shebang

KEEP_BYTES = 64 * 1024 * 1024  # highlighted HTML kept at most
MAX_HIGHLIGHT = 2 * 1024 * 1024  # larger content is shown plain (escaped) rather than coloured
# The interpreter a shebang names -> a Pygments lexer (a guess over every lexer is slow).
SHEBANG_LEXERS = {
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "dash": "bash",
    "ksh": "bash",
    "python": "python",
    "python3": "python",
    "node": "javascript",
    "deno": "typescript",
    "ruby": "ruby",
    "perl": "perl",
    "php": "php",
    "lua": "lua",
    "Rscript": "r",
    "awk": "awk",
    "tclsh": "tcl",
    "fish": "fish",
    "pwsh": "powershell",
}

_kept: OrderedDict[tuple[str, str], str] = OrderedDict()
_kept_bytes = 0
_lock = threading.Lock()


def highlighted(sha256: str, name: str, text: str) -> str:
    """The rows (``<tr id="L1">…``) of the content's table, highlighted; kept per hash
    and name."""
    global _kept_bytes
    key = (sha256, name)
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return found
    rows = _rows(_lines(name, text))
    with _lock:
        if key not in _kept and len(rows) <= KEEP_BYTES:
            _kept[key] = rows
            _kept_bytes += len(rows)
            while _kept_bytes > KEEP_BYTES:
                _kept_bytes -= len(_kept.popitem(last=False)[1])
    return rows


def language(name: str, text: str) -> str:
    """The Pygments lexer's alias for a tool: by its shebang, else its name's extension,
    else plain text."""
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    found = shebang.lookup(SHEBANG_LEXERS, text)
    if found:
        return found
    if "." in name:
        try:
            return str(get_lexer_for_filename(name).aliases[0])
        except ClassNotFound:
            pass
    return "text"


def _lines(name: str, text: str) -> list[str]:
    """The content as HTML lines, each with its spans closed (Pygments' HTML formatter
    ends every span at a line's end and opens it again on the next)."""
    if len(text) > MAX_HIGHLIGHT:
        return [escape(line) for line in text.split("\n")]
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    lexer = get_lexer_by_name(language(name, text), stripnl=False, ensurenl=False)
    html: str = highlight(text, lexer, HtmlFormatter(nowrap=True, classprefix="hl-"))
    return _unstyled_unwrapped(html).split("\n")


SPAN = re.compile(r'<span class="hl-(\w+)">([^<]*)</span>')


@functools.cache
def _styled() -> frozenset[str]:
    """The classes the stylesheet colours (whitespace's colour shows on nothing)."""
    return frozenset(re.findall(r"\.hl-(\w+)", stylesheet())) - {"w"}


def _unstyled_unwrapped(html: str) -> str:
    """The spans of tokens the stylesheet leaves as they are (names, punctuation,
    whitespace: most of a script's tokens) taken away, their text kept: a 100 KB
    script's page is half the size, and the browser lays out half the elements."""
    styled = _styled()
    return SPAN.sub(lambda m: m[0] if m[1] in styled else m[2], html)


def _rows(lines: list[str]) -> str:
    if lines and lines[-1] == "":
        lines = lines[:-1]  # the newline that ends the last line starts no line of its own
    return "".join(
        f'<tr id="L{n}"><td class="ln"><a href="#L{n}">{n}</a></td>'
        f'<td class="src">{line or " "}</td></tr>'
        for n, line in enumerate(lines, 1)
    )


def stylesheet() -> str:
    """The CSS of the highlighting's classes (in the one stylesheet, made at build time
    by ``python -m toolvault.web.highlight``)."""
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(style="friendly", classprefix="hl-").get_style_defs(".code"))


if __name__ == "__main__":
    print(stylesheet())
