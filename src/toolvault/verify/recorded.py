"""Each version against the digests its audit entry took when it was stored, and the
signatures that no longer verify named by the field groups that changed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Protocol

from toolvault.models import Problem, Version
from toolvault.signing import (
    GROUPS,
    version_digests,
)
from toolvault.verify.audit import recorded_versions
from toolvault.verify.checks import Triples
from toolvault.verify.sharing import Share, all_lines, unpack


class Lookup(Protocol):
    """Reads :func:`merge` needs only where a version no longer matches its record."""

    def version(self, name: str, number: int) -> Version | None: ...
    def audit_details(self, seq: int) -> tuple[str, str | None, int | None, dict[str, Any]]: ...
    def unused_blobs(self) -> Iterable[tuple[str, int, bytes]]: ...


class Recorded:
    """Versions against the digests their audit entries recorded."""

    def __init__(self, shares: list[Share], lookup: Lookup) -> None:
        self.shares = shares
        self.lookup = lookup
        self._details: dict[int, tuple[str, str | None, int | None, dict[str, Any]]] = {}

    @functools.cached_property
    def versions(self) -> Triples:
        """(name, number, fields digest) of every version, in order."""
        return [v for share in self.shares for v in unpack(share.versions)]

    @functools.cached_property
    def records(self) -> dict[tuple[str, int], tuple[int, str | None]]:
        """(tool, version) -> (seq, "fields" digest) of the last audit entry recording it."""
        return {
            (name, number): (seq, digest)
            for share in self.shares
            for (name, number, digest), seq in zip(
                unpack(share.records), share.record_seqs, strict=True
            )
        }

    def check(self) -> list[Problem]:
        """Every version matches the digests the audit log took when it was stored, and
        every version the log records is still there. Usually the two are the very same
        set of (name, number, digest) lines, which settles it without looking further."""
        have = all_lines(share.versions for share in self.shares)
        if have is not None and have == all_lines(share.records for share in self.shares):
            return []
        problems, matched = [], 0
        for name, number, digest in self.versions:
            rec = self.records.get((name, number))
            if rec is None:
                problems.append(Problem("audit", name, number, "no audit entry records it"))
                continue
            matched += 1
            if rec[1] != digest:  # not every field as recorded: look group by group
                problems += self._tampered(name, number, rec)
        if matched == len(self.records):  # (versions are distinct) every record has its version
            return problems
        present = {(name, number) for name, number, _ in self.versions}
        missing = []
        for name, number in sorted(key for key in self.records if key not in present):
            seq = self.records[(name, number)][0]
            detail = f"audit entry {seq} records this version, but it is not in the database"
            missing.append(Problem("missing", name, number, detail))
        return missing + problems

    def _tampered(self, name: str, number: int, rec: tuple[int, str | None]) -> list[Problem]:
        groups = self.groups(name, number)
        if not groups and rec[1] is not None:
            detail = (
                f"a field outside the signed groups (message, session_id, transforms, "
                f"size, executable, rollback_of, …) differs from audit entry {rec[0]}"
            )
            return [Problem("tampered", name, number, detail)]
        return [
            Problem(
                "tampered",
                name,
                number,
                f"{group} ({', '.join(GROUPS[group])}) differs from audit entry {rec[0]} "
                "made when it was stored",
            )
            for group in groups
        ]

    def groups(self, name: str, number: int) -> list[str]:
        """Which field groups of a version differ from what the audit log recorded."""
        rec = self.records.get((name, number))
        version = self.lookup.version(name, number)
        if rec is None or version is None:
            return []
        if rec[0] not in self._details:
            self._details[rec[0]] = self.lookup.audit_details(rec[0])
        entry = self._details[rec[0]]
        digests = next((d for n, v, d in recorded_versions(*entry) if (n, v) == (name, number)), {})
        now = version_digests(version)
        return [g for g in GROUPS if digests.get(g) != now.get(g)]


def signature_problems(
    failed: list[tuple[str, int, str]], others: list[Problem], recorded: Recorded
) -> list[Problem]:
    """The signature problems in version order: the parts' (unsigned, untrusted) and
    the failed signatures, each naming what changed since it was signed."""
    if not failed:
        return others
    merged = others + [
        Problem(
            "signature",
            name,
            number,
            f"signature by key {key} does not verify: "
            f"{', '.join(recorded.groups(name, number) or ['signed fields'])} changed",
        )
        for name, number, key in failed
    ]
    order = {(name, number): i for i, (name, number, _) in enumerate(recorded.versions)}
    return sorted(merged, key=lambda p: order.get((p.name or "", p.version or 0), -1))
