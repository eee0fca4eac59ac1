"""Compare-and-set over HTTP (SPEC §11): the publish request's expectations, from each
item's ``expect_latest`` / ``expect_new`` or, for a publish of one item, from the
conditional headers ``If-Match: "<sha256>"`` (the expected latest's content hash, its
strong ETag) and ``If-None-Match: *`` (the tool must not exist yet).

A mismatch is the service's :class:`~toolvault.errors.StaleBase`, answered 412; a
header that is malformed or does not fit the request is 400 and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from toolvault.errors import InvalidInput
from toolvault.server import schemas as s
from toolvault.service.publishing import NewVersion

ETAG = re.compile(r'"([0-9a-fA-F]{64})"')
FORMS = 'If-Match: "<the 64 hex digits of the expected latest\'s sha256>" or If-None-Match: *'

# The 412 of a publish whose expectation no longer holds, for /openapi.json.
STALE: dict[int | str, dict[str, Any]] = {
    412: {"model": s.ErrorBody, "description": "stale base: the latest is not as expected"}
}


def expectations(
    headers: Mapping[str, str], items: Sequence[s.PublishItem], built: list[NewVersion]
) -> list[NewVersion]:
    """``built`` (the items as NewVersions) with the expectations the body and the
    headers give them."""
    built = [
        replace(nv, expect_latest=item.expect_latest, expect_new=item.expect_new)
        for item, nv in zip(items, built, strict=True)
    ]
    if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
    if if_match is None and if_none is None:
        return built
    if if_match is not None and if_none is not None:
        raise InvalidInput(f"send If-Match or If-None-Match, not both; {FORMS}")
    if len(built) != 1:
        raise InvalidInput(
            f"If-Match and If-None-Match apply to a publish of one item, and this one has "
            f"{len(built)}; give each item its own expect_latest or expect_new instead"
        )
    item = built[0]
    if item.expect_latest is not None or item.expect_new:
        raise InvalidInput(
            "the item has expect_latest or expect_new and the request a conditional header "
            "too; give one of them"
        )
    if if_match is not None:
        return [replace(item, expect_latest=f"{item.name}@sha256:{_etag(if_match)}")]
    if if_none is not None and if_none.strip() != "*":
        raise InvalidInput(
            f"If-None-Match takes only * (the tool must not exist yet), not {if_none[:80]!r}"
        )
    return [replace(item, expect_new=True)]


def _etag(value: str) -> str:
    """The sha256 of an ``If-Match`` header: one strong, quoted ETag."""
    found = ETAG.fullmatch(value.strip())
    if found is None:
        raise InvalidInput(f"malformed If-Match {value[:80]!r}; {FORMS}")
    return found.group(1).lower()
