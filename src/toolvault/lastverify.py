"""The last ``verify`` report the daemon ran, kept in ``HOME/last-verify.json``.

The audit page shows it, and a restarted daemon still has it: whichever front end ran it
(the UI's "Run verify now", ``GET /v1/verify``), the daemon writes the report with its
time, the principal that asked and the tools it covered, to a temporary file renamed
into place (a reader sees the old report or the new one, never half of one).

It is derived state, like the search index: nothing is checked against it, deleting it
loses only the page's "last verify" card, and it lives beside ``vault.db`` and
``config.toml``, outside ``commands/``, so verify's tree check and ``sync`` (which look
only at ``commands/``) never take it for a stray. A file in a newer format, or one that
is damaged, reads as no report (and the next verify writes a good one).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolvault.models import Problem, Report

FILENAME = "last-verify.json"
FORMAT = "toolvault-last-verify/1"
_writing = threading.Lock()  # the temporary file's name is per process: one writer at a time
log = logging.getLogger("toolvault.lastverify")


@dataclass(frozen=True, slots=True)
class LastVerify:
    """A verify report, when it was run, by whom, over which tools (() for all)."""

    report: Report
    at: str
    by: str
    names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON shape."""
        return {"format": FORMAT, "at": self.at, "by": self.by, "names": list(self.names),
                "report": self.report.to_dict()}  # fmt: skip


def record(home: Path, report: Report, by: str, names: Sequence[str] = ()) -> LastVerify:
    """Keep ``report`` as the last one; a home that cannot be written is logged, not
    raised (the report itself was answered: losing the copy loses only the page's card)."""
    from toolvault.safefs import put_file
    from toolvault.store.sql import utcnow

    kept = LastVerify(report, utcnow(), by, tuple(names))
    data = json.dumps(kept.to_dict(), sort_keys=True, indent=1).encode() + b"\n"
    try:
        with _writing:
            fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                put_file(FILENAME, fd, data, 0o644)
            finally:
                os.close(fd)
    except OSError as exc:
        log.warning("could not keep the verify report in %s: %s", home / FILENAME, exc)
    return kept


def load(home: Path) -> LastVerify | None:
    """The last report kept in ``home``, or None (none yet, unreadable or damaged)."""
    try:
        data = json.loads((home / FILENAME).read_bytes())
        if data.get("format") != FORMAT:
            return None
        found = data["report"]
        problems = tuple(Problem(**p) for p in found["problems"])
        report = Report({str(k): int(n) for k, n in found["checked"].items()}, problems)
        names = tuple(str(n) for n in data["names"])
        return LastVerify(report, str(data["at"]), str(data["by"]), names)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("ignored a damaged %s: %s", home / FILENAME, exc)
        return None
