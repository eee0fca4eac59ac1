"""What a search returns (SPEC §10), shared by the service, the daemon and the client."""

from __future__ import annotations

from dataclasses import dataclass

from toolvault.models import Record


@dataclass(frozen=True, slots=True)
class SearchResult(Record):
    """One result: the tool, the pinned ref of the version that matched, its description
    and lifecycle, the field that matched with a snippet (match marked ``**…**``), and
    the score it was ranked by."""

    name: str
    version: int
    ref: str
    description: str
    lifecycle: str
    yanked: bool
    field: str
    snippet: str
    score: float
