"""How the fast paths print: as ``cli/_common`` does through click, byte for byte.

Output is gathered first and written at the end, so a fast path that gives up midway
has printed nothing and the full command line starts clean.
"""

from __future__ import annotations

import sys
from itertools import chain

from toolvault.fastcli.base import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


class Out:
    """The lines one command prints."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.errors: list[str] = []  # warnings, for stderr
        self.status = 0  # the exit status once printed
        self.streamed: Iterable[str] = ()  # written after the lines, as it is made
        self.encoded: bytes | bytearray | None = None  # the streamed text as UTF-8

    def warn(self, message: str) -> None:
        """As ``cli._common.warn``: a warning line on stderr."""
        self.errors.append(f"toolvault: warning: {message}\n")

    def echo(self, text: str, nl: bool = True) -> None:
        """As ``click.echo(text, nl=nl)``."""
        self.parts.append(f"{text}\n" if nl else text)

    def stream(self, pieces: Iterable[str]) -> None:
        """Print ``pieces`` (then a newline) after the lines, each as it comes: a large
        answer is never held whole. They may hold no escape sequence (as JSON, whose
        encoder escapes every control character): they are not checked for one."""
        self.streamed = chain(pieces, ["\n"])

    def verbatim(self, text: str, encoded: bytes | bytearray) -> None:
        """:meth:`stream` ``text``, which ``encoded`` holds as UTF-8: written as those
        bytes where standard output writes UTF-8 (encoding 8 MB again cost more than
        writing it)."""
        self.stream([text])
        self.encoded = encoded

    def json(self, data: Any) -> None:
        """As ``cli._common.emit_json``."""
        import json  # here: verify --lock's text needs none of it

        self.echo(json.dumps(data, indent=2, ensure_ascii=False))

    def table(self, rows: list[list[str]], header: list[str]) -> None:
        """As ``cli._common.table``: left-aligned columns."""
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=True)]
            self.echo("  ".join(cells).rstrip())

    def flush(self) -> None:
        """Write everything. click strips ANSI escapes from what goes to a pipe, and
        keeps them for a terminal: text holding one is left to click."""
        text, errors = "".join(self.parts), "".join(self.errors)
        if "\x1b" in text or "\x1b" in errors:
            raise Fallback
        if errors:
            sys.stderr.write(errors)
            sys.stderr.flush()
        sys.stdout.write(text)
        if self.encoded is not None and _writes_utf8(sys.stdout):
            sys.stdout.flush()
            sys.stdout.buffer.write(self.encoded)
            sys.stdout.buffer.write(b"\n")
            sys.stdout.buffer.flush()
            return
        for piece in self.streamed:
            sys.stdout.write(piece)
        sys.stdout.flush()


def _writes_utf8(stream: Any) -> bool:
    """Whether ``stream`` is text over a byte buffer, written as strict UTF-8 with no
    newline translation (POSIX's line separator): then a text's UTF-8 bytes may go to the
    buffer as they are."""
    import codecs
    import os

    try:
        name = codecs.lookup(stream.encoding).name
    except (AttributeError, LookupError, TypeError):
        return False
    plain = getattr(stream, "errors", None) == "strict" and hasattr(stream, "buffer")
    return name == "utf-8" and plain and os.linesep == "\n"
