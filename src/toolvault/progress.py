"""A progress line on stderr for long work that has no click around it (a
migration indexing an existing vault, ``sync`` rebuilding the search index).

Shown only when stderr is a terminal, so pipes, logs and ``--json`` output stay
clean; redrawn at most ten times a second; the stdlib only (a migration can run
inside any command, fast paths included).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``toolvault: LABEL: done/total (pct%)`` redrawn in place; :meth:`close` ends the line."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.shown = _is_terminal(self.stream) and total > 0
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int) -> None:
        """Record that ``done`` of ``total`` are done (drawn when a tenth of a second passed)."""
        now = time.monotonic()
        if not self.shown or (now - self._last < 0.1 and done < self.total):
            return
        self._last = now
        pct = 100 * done // self.total
        self.stream.write(f"\rtoolvault: {self.label}: {done:,}/{self.total:,} ({pct}%)")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the progress line (nothing when nothing was drawn)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or a fake stream
        return False
