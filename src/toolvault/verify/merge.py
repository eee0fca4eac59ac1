"""What the parts found, put together (:func:`merge`): their problems in report order,
and the checks that need the whole vault run once over what they return.
"""

from __future__ import annotations

from typing import Any

from toolvault.materialize import Stray
from toolvault.models import Problem
from toolvault.verify.checks import check_blobs
from toolvault.verify.governance import check_governance
from toolvault.verify.recorded import Lookup, Recorded, signature_problems
from toolvault.verify.sharing import Share

# The order problems are reported in, whatever part found them.
CATEGORIES = ("blob", "chain", "audit", "recorded", "trust", "signature", "governance", "tree")


# -- the whole ----------------------------------------------------------------------------


def merge(
    shares: list[Share], lookup: Lookup, whole: bool = True
) -> tuple[list[Problem], dict[str, int]]:
    """The problems of every part in report order, with the checks that need the
    whole vault (``whole``: no tools were named); and the counts of what was checked.
    ``shares`` come in their parts' order, so tools and audit entries are in order."""
    found: dict[str, list[Problem]] = {c: [] for c in CATEGORIES}
    failed: list[tuple[str, int, str]] = []
    events: list[tuple[str, str | None, int | None, dict[str, Any]]] = []
    strays: list[Stray] = []
    counts: dict[str, int] = {}
    firsts: dict[str, str] = {}
    governance = None
    for share in shares:
        for category, problems in share.problems.items():
            found[category] += problems
        # a blob two parts' versions share is checked (and reported) by both
        failed += share.failed
        events += share.events
        strays += share.strays
        firsts.update(share.firsts)
        governance = governance or share.governance
        for key, n in share.counts.items():
            counts[key] = counts.get(key, 0) + n
    if whole and counts.get("blobs", 0) > len(_checked_blobs(shares)):
        found["blob"] += check_blobs(lookup.unused_blobs(), unused=True)  # no version uses some
    found["blob"] = sorted(set(found["blob"]), key=lambda p: p.detail)
    recorded = Recorded(shares, lookup)
    found["recorded"] = recorded.check()
    found["signature"] = signature_problems(failed, found["signature"], recorded)
    if governance is not None:
        found["governance"] += check_governance(governance, events, firsts)
    found["tree"] += [p for _, p in sorted(strays, key=lambda s: s[0])]
    return [p for c in CATEGORIES for p in found[c]], counts


def _checked_blobs(shares: list[Share]) -> set[str]:
    """The blobs the parts checked, each once."""
    checked: set[str] = set()
    for share in shares:
        if share.blobs:
            checked.update(share.blobs.split("\n") if isinstance(share.blobs, str) else share.blobs)
    return checked
