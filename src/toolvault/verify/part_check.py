"""One part of a verify, checked from one snapshot: its versions streamed through the
checks a few thousand rows at a time, its audit entries scanned (:func:`check_part`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from toolvault.materialize import CommandsTree
from toolvault.models import Grant, Label, Problem, TrustedKey, Yank
from toolvault.verify.audit import AuditScan
from toolvault.verify.checks import (
    NAME,
    NUMBER,
    RECORDED_AT,
    Blobs,
    Keys,
    Triples,
    check_chains,
    check_versions,
    row_name,
    row_signature,
    tool_views,
    trusted_public_keys,
)
from toolvault.verify.governance import Governance, hook_state
from toolvault.verify.sharing import Part, Share, pack


class Reader(Protocol):
    """What a part reads from the store (``SQLStore``)."""

    def audit_head(self) -> tuple[int, str, str | None]: ...
    def audit_before(self, seq: int) -> tuple[int, str]: ...
    def audit_rows(self, seqs: tuple[int, int | None]) -> Iterable[tuple[Any, ...]]: ...
    def version_rows(
        self, names: tuple[str | None, str | None], wanted: frozenset[str], content: bool
    ) -> Iterable[tuple[Any, ...]]: ...
    def blob_count(self) -> int: ...
    def tool_rows(
        self, names: tuple[str | None, str | None], wanted: frozenset[str]
    ) -> list[tuple[str, str, str]]: ...
    def labels(self) -> list[Label]: ...
    def yanks(self) -> list[Yank]: ...
    def trusted_keys(self) -> list[TrustedKey]: ...
    def tool_history_rows(self) -> list[tuple[str, str, str | None]]: ...
    def pack_import_rows(self) -> list[tuple[str, int, str, str]]: ...
    def grants(self) -> list[Grant]: ...

    def hook_rows(self) -> list[tuple[Any, ...]]: ...


# -- one part -----------------------------------------------------------------------------


def check_part(
    reader: Reader,
    tree: CommandsTree | None,
    part: Part,
    wanted: frozenset[str],
    require_signatures: bool,
) -> Share:
    """Everything that can be checked within one part, from one snapshot. Versions
    stream by a few thousand at a time (whole tools), so that neither memory nor the
    caches hold a big vault's content at once."""
    head = reader.audit_head()
    audit = AuditScan(reader.audit_before(part.seqs[0]))
    audit.feed(reader.audit_rows(part.seqs))
    trusted = reader.trusted_keys()
    yanks = reader.yanks()
    governance = _governance(reader, yanks, trusted) if part.index == 0 else None
    if governance is not None:
        mine = [t for t in governance.tools if within(t[0], part.names, wanted)]
    else:
        mine = reader.tool_rows(part.names, wanted) if tree else []
    keys, trust_problems = trusted_public_keys(trusted)
    share = Share(part.index, head, governance=governance)
    scan = VersionScan(share, tree, keys, require_signatures, mine, yanks)
    for rows in _whole_tools(reader.version_rows(part.names, wanted, True), CHUNK_ROWS):
        scan.feed(rows)
    scan.finish()
    if tree is not None and governance is not None:
        share.strays += tree.top_strays({t[0] for t in governance.tools})
    share.problems = {
        **scan.found,
        "trust": trust_problems if part.index == 0 else [],
        "audit": audit.problems,
    }
    share.records, share.record_seqs = pack(audit.records), audit.seqs
    share.events = audit.events
    present = len(scan.blobs.present)
    share.counts = {
        **scan.counts,
        # one part checks named tools; else the first counts every blob, checked by some part
        "blobs": present if wanted else reader.blob_count() if part.index == 0 else 0,
        "audit_entries": audit.count,
    }
    return share


class VersionScan:
    """A part's versions checked as they stream by, whole tools at a time: blobs, chains,
    signatures and the tree's files; what it finds goes into ``share`` and :attr:`found`."""

    def __init__(
        self,
        share: Share,
        tree: CommandsTree | None,
        keys: Keys,
        require_signatures: bool,
        tools: list[tuple[str, str, str]],
        yanks: list[Yank],
    ) -> None:
        self.share, self.tree, self.keys, self.require = share, tree, keys, require_signatures
        self.found: dict[str, list[Problem]] = {
            "blob": [],
            "chain": [],
            "signature": [],
            "tree": [],
        }
        self.blobs = Blobs()
        self.yanked = {(y.name, y.version) for y in yanks}
        self.tool_of = {t[0]: t for t in tools}
        self.counts = dict.fromkeys(("tools", "versions", "signatures", "files"), 0)
        self.versions: Triples = []

    def feed(self, rows: list[tuple[Any, ...]]) -> None:
        """Check one chunk of rows (whole tools, by name and number)."""
        found, share, counts = self.found, self.share, self.counts
        found["blob"] += self.blobs.check(rows)
        found["chain"] += check_chains(rows)
        found["signature"] += check_versions(
            rows, self.keys, self.require, self.versions, share.failed
        )
        names = dict.fromkeys(map(row_name, rows))
        if self.tree is not None:
            tools = [self.tool_of[n] for n in names if n in self.tool_of]
            views = tool_views(rows, tools, self.yanked)
            problems, strays = self.tree.check_tools(views, self.blobs.good_contents(rows))
            found["tree"] += problems
            share.strays += strays
            counts["files"] += sum(len(v.versions) + 1 for v in views)
        share.firsts += [(r[NAME], r[RECORDED_AT]) for r in rows if r[NUMBER] == 1]
        counts["tools"] += len(names)
        counts["versions"] += len(rows)
        counts["signatures"] += sum(map(bool, map(row_signature, rows)))

    def finish(self) -> None:
        """Pack what crosses back to the parent: the versions' digests and the blobs seen."""
        share, present = self.share, self.blobs.present
        share.versions = pack(self.versions)
        share.blobs = "\n".join(present)
        if share.blobs.count("\n") != max(len(present) - 1, 0):
            share.blobs = list(present)


def _governance(reader: Reader, yanks: list[Yank], trusted: list[TrustedKey]) -> Governance:
    """The governance tables, whole (the replay covers every tool), read by the first part."""
    return Governance(
        reader.labels(),
        yanks,
        reader.tool_rows((None, None), frozenset()),
        trusted,
        reader.tool_history_rows(),
        reader.pack_import_rows(),
        [(g.name, g.principal, g.granted_at, g.granted_by) for g in reader.grants()],
        [hook_state(r[0], r[1], r[2], r[3], r[6], r[5]) for r in reader.hook_rows()],
    )


# Version rows a part holds at once (whole tools, so a few more).
CHUNK_ROWS = 4_000


def _whole_tools(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows ordered by name in lists of about ``size``, never splitting a tool."""
    chunk: list[tuple[Any, ...]] = []
    for _, group in itertools.groupby(rows, key=row_name):
        chunk.extend(group)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def within(name: str, names: tuple[str | None, str | None], wanted: frozenset[str]) -> bool:
    low, high = names
    return (
        (low is None or name >= low)
        and (high is None or name < high)
        and (not wanted or name in wanted)
    )
