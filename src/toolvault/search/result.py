"""What a search returns (SPEC §10), shared by the service, the daemon, the client and
the command line's fast path (which loads no dataclass: a named tuple is cheap)."""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_Fields = namedtuple(
    "_Fields",
    ["name", "version", "ref", "description", "lifecycle", "yanked", "field", "snippet", "score"],
)


class SearchResult(_Fields):
    """One result: the tool (``name``), the ``version`` that matched and its pinned
    ``ref`` (``name:N@sha256:<64 hex>``), its ``description`` and ``lifecycle``, whether
    it is ``yanked``, the ``field`` that matched with a ``snippet`` (the match marked
    ``**…**``), and the ``score`` it was ranked by."""

    __slots__ = ()
    name: str
    version: int
    ref: str
    description: str
    lifecycle: str
    yanked: bool
    field: str
    snippet: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        """The result's fields as a dict (its JSON shape)."""
        return dict(zip(self._fields, self, strict=True))
