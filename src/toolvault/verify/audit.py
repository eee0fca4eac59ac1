"""The audit log's checks: the hash chain entry by entry (:class:`AuditScan`), and the
versions and governance events each entry records, gathered for the checks of the whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from toolvault.hashing import GENESIS, audit_text, details_of, entry_hash
from toolvault.models import Problem
from toolvault.verify.checks import Triples

VERSION_ACTIONS = ("publish", "adopt")


class AuditScan:
    """The audit log read entry by entry (in chunks of any size, in order): the hash
    chain checked, and the records and governance events gathered on the way."""

    def __init__(self, before: tuple[int, str] = (0, GENESIS)) -> None:
        """``before``: (seq, hash) of the entry preceding the first one fed, or none."""
        self.expected, self.prev_hash = before[0] + 1, before[1]
        self.problems: list[Problem] = []
        # (tool, version, "fields" digest or None) each entry records, and its seq
        self.records: Triples = []
        self.seqs: list[int] = []
        self.events: list[tuple[str, str | None, int | None, dict[str, Any]]] = []
        self.published: set[str | None] = set()
        self.count = 0

    def feed(self, entries: Iterable[tuple[Any, ...]]) -> None:
        """Sequence numbers run on; each hash covers its entry and links to the one
        before; each entry's records and events are kept."""
        expected, prev_hash, gather = self.expected, self.prev_hash, self._gather
        for row in entries:
            seq = row[0]
            if seq != expected:
                detail = f"expected sequence number {expected} (entries missing or reordered)"
                self.problems.append(_audit(f"audit entry {seq}: {detail}"))
            if row[7] != prev_hash:
                self.problems.append(
                    _audit(f"audit entry {seq}: does not link to the entry before it")
                )
            if not _hash_holds(row):
                detail = "its content does not match its hash (edited)"
                self.problems.append(_audit(f"audit entry {seq}: {detail}"))
            prev_hash, expected = row[8], seq + 1
            gather(row)
            self.count += 1
        self.expected, self.prev_hash = expected, prev_hash

    def _gather(self, row: tuple[Any, ...]) -> None:
        """The versions an entry recorded, and what the governance replay needs of it:
        every entry but the publishes after a tool's first (the replay keeps the first
        publisher as owner, so later ones change nothing)."""
        seq, action, tool, version = row[0], row[3], row[4], row[5]
        if action in VERSION_ACTIONS and tool in self.published and tool and version:
            # A later publish of a tool: only its fields digest is needed, and its details
            # are a flat object of texts, stored canonically. The digest is read straight
            # from the text when it is where canonical JSON puts it, else decoded.
            fields = fields_in(row[6])
            if fields is not None:
                self.records.append((tool, version, fields))
                self.seqs.append(seq)
                return
        details = details_of(row[6])
        for name, number, digests in recorded_versions(action, tool, version, details):
            found = digests.get("fields")
            self.records.append((name, number, found if isinstance(found, str) else None))
            self.seqs.append(seq)
        if action in VERSION_ACTIONS:
            if tool in self.published:
                return
            self.published.add(tool)
            # the replay takes only the first publisher as owner (Replay.on_publish)
            details = {"owner": details["owner"]} if "owner" in details else {}
        self.events.append((action, tool, version, details))


def check_audit_chain(
    entries: Iterable[tuple[Any, ...]], before: tuple[int, str] = (0, GENESIS)
) -> list[Problem]:
    """The hash-chain problems of consecutive audit rows (see :class:`AuditScan`)."""
    scan = AuditScan(before)
    scan.feed(entries)
    return scan.problems


def _hash_holds(row: tuple[Any, ...]) -> bool:
    """Whether an audit row's hash covers its fields. Details are stored as their
    canonical JSON, so the canonical body is put together around that text; only
    when that does not match is the entry decoded and encoded again."""
    try:
        text = audit_text(*row[:8])
    except TypeError:  # a field of another type than the log stores: decode it all
        text = None
    if text is not None and hashlib.sha256(text.encode()).hexdigest() == row[8]:
        return True
    return bool(entry_hash(audit_body(row)) == row[8])


def audit_body(row: tuple[Any, ...]) -> dict[str, Any]:
    """The fields an audit row's hash covers (all but the hash itself)."""
    seq, at, actor, action, tool, version, text, prev = row[:8]
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "tool": tool,
        "version": version,
        "details": details_of(text) if isinstance(text, str) else text,
        "prev_hash": prev,
    }


def _audit(detail: str) -> Problem:
    return Problem("audit", None, None, detail)


def recorded_versions(
    action: str, tool: str | None, version: int | None, details: dict[str, Any]
) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(tool, version, digests) for each version an entry says it stored."""
    if action in VERSION_ACTIONS and tool and version:
        yield tool, version, details
    for item in details.get("added", ()) if isinstance(details, dict) else ():
        if isinstance(item, dict) and "name" in item and "version" in item:
            yield item["name"], item["version"], item


FIELDS_KEY = '"fields":"'


def fields_in(text: Any) -> str | None:
    """The "fields" digest in a publish entry's stored details, read without decoding
    them: found once, as a key (in canonical JSON a quote inside a text is escaped,
    so '"fields":"' cannot come from a value), then 64 characters and a quote; None
    when the text is not like that. (What it reads is compared with a digest: a
    wrong read can only report a change, which the group check then decodes.)"""
    if not isinstance(text, str) or text.count(FIELDS_KEY) != 1:
        return None
    start = text.index(FIELDS_KEY) + len(FIELDS_KEY)
    if text[start + 64 : start + 65] != '"' or text[start - len(FIELDS_KEY) - 1] not in "{,":
        return None
    return text[start : start + 64]
