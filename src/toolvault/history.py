"""``versions NAME history``: a tool's versions with what its history shows of each.

Pure: the listing and the labels come from a local vault or a daemon, so that the remote
command line shows the same history as the local one.
"""

from __future__ import annotations

from typing import Any


def history(listing: list[dict[str, Any]], labels: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """A tool's version listing (fields, ``ref``, ``yanked``; oldest first) as its history:
    each version also with ``previous``, the pinned ref of the version it came after (None
    for the first), and the ``labels`` on it, given as (label, version) pairs."""
    on: dict[int, list[str]] = {}
    for label, number in labels:
        on.setdefault(number, []).append(label)
    for item in listing:
        prev, prev_sha = item["previous_version"], item["previous_sha256"]
        item["previous"] = f"{item['name']}:{prev}@sha256:{prev_sha}" if prev else None
        item["labels"] = sorted(on.get(item["version"], []))
    return listing
