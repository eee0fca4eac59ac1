"""What ``verify`` checks, as functions over consistent reads of the vault.

Each check returns :class:`~toolvault.models.Problem` records naming the kind,
the tool, the version and what is wrong, so that a report says exactly where.

A vault is checked in *parts*: each part is a range of tool names (with their
versions' blobs) and of audit sequence numbers, read in one snapshot and checked on its own
(:func:`check_part`). When the machine has the cores for it, a few processes (this one
and forked children) take the parts one after another from a shared queue until none
is left (:func:`run_parts`), so that a process slowed down by the machine takes fewer.
The checks that need the whole vault — each version against the audit entry that
recorded it, the governance replay, the entries of ``commands/`` that are no tool — run
once over what the parts return (:func:`merge`). One part covering everything is the
plain serial check.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import itertools
import operator
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from toolvault.errors import InvalidInput
from toolvault.hashing import GENESIS, audit_text, details_of, entry_hash
from toolvault.materialize import CommandsTree, Stray, ToolView
from toolvault.models import VERSION_FIELDS, Entry, Label, Problem, TrustedKey, Version, Yank
from toolvault.signing import (
    GROUPS,
    SIGNED_FIELDS,
    decode_public,
    payload,
    public_key,
    values_digest,
    verify_signature,
    version_digests,
)
from toolvault.store.base import version_values

VERSION_ACTIONS = ("publish", "adopt")

# SQLStore.version_rows: the VERSION_COLUMNS, then the size its blob records and the blob's
# content (None, None: no blob).
NAME, NUMBER, SHA, SIZE, EXECUTABLE, PREV_VERSION, PREV_SHA = range(7)
CREATED_AT, RECORDED_AT, CREATED_BY, ROLLBACK_OF, SIGNATURE, KEY_ID = 7, 8, 9, 17, 18, 19
BLOB_SIZE, CONTENT = 20, 21
_SIGNED_AT = [(f, VERSION_FIELDS.index(f)) for f in SIGNED_FIELDS]

# The smallest part is 1/(SMALLEST_PART x processes) of the work (see part_sizes): the
# processes end within about that of each other, and each part reads a few small tables.
SMALLEST_PART = 24
# What checking a signature costs against everything else verify does for a version
# (Ed25519 with cryptography: about 120 us against about 40 us; bench/verify.py).
SIGNATURE_WEIGHT = 3

# The order problems are reported in, whatever part found them.
CATEGORIES = ("blob", "chain", "audit", "recorded", "trust", "signature", "governance", "tree")


@dataclass(frozen=True, slots=True)
class Part:
    """One share of a verify: [low, high) ranges of tool names and audit sequence
    numbers, None meaning open-ended. A part checks the blobs of its tools' versions;
    the first part also those no version uses."""

    index: int
    names: tuple[str | None, str | None] = (None, None)
    seqs: tuple[int, int | None] = (1, None)


EVERYTHING = Part(0)


# (name, number, text) triples, packed (see :func:`pack`) to cross a process boundary.
Triples = list[tuple[Any, Any, Any]]
Packed = str | Triples


@dataclass(slots=True)
class Share:
    """What checking one part found, in a form that crosses a process boundary cheaply
    (a big vault's versions and records as a few long texts, not as many small objects)."""

    index: int  # of its part
    head: tuple[int, str, str | None]  # the newest audit entry this part's snapshot saw
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    strays: list[Stray] = field(default_factory=list)
    # (name, version, digest of its fields) of each version, in order
    versions: Packed = ""
    # (name, version, trusted key's name) of each signature that does not verify
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    # (tool, version, the "fields" digest recorded) of each version the audit entries of
    # this part record, in order, and those entries' sequence numbers
    records: Packed = ""
    record_seqs: list[int] = field(default_factory=list)
    # the entries the governance replay needs (a first publish: only its owner)
    events: list[tuple[str, str | None, int | None, dict[str, Any]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # the blobs of this part's versions that are there (checked here): one per line, or a
    # list when a (damaged) hash holds a line break
    blobs: str | list[str] = ""
    # only from the part that reads the governance tables (index 0)
    governance: Governance | None = None
    # (name, recorded_at) of each of this part's tools' version 1 (tools.created_at)
    firsts: list[tuple[str, str]] = field(default_factory=list)


def pack(triples: Triples) -> Packed:
    """(name, number, text) triples as one text of lines "number TAB text TAB name",
    when every name and text is a str, every number an int, no text holds a tab and
    nothing a line break (else the list itself): one object to pickle, not four a triple."""
    if not triples:
        return ""
    if not all(
        type(n) is str and type(k) is int and type(t) is str and "\t" not in t
        for n, k, t in triples
    ):
        return triples
    text = "\n".join([f"{k}\t{t}\t{n}" for n, k, t in triples])
    return text if text.count("\n") == len(triples) - 1 else triples


def unpack(packed: Packed) -> Triples:
    """The triples :func:`pack` packed."""
    if not isinstance(packed, str):
        return packed
    lines = packed.split("\n") if packed else []
    return [(n, int(k), t) for k, t, n in (line.split("\t", 2) for line in lines)]


def _all_lines(packs: Iterable[Packed]) -> set[str] | None:
    """The distinct lines of packed texts (None when one is a list)."""
    lines: set[str] = set()
    for packed in packs:
        if not isinstance(packed, str):
            return None
        if packed:
            lines.update(packed.split("\n"))
    return lines


@dataclass(frozen=True, slots=True)
class Governance:
    """The governance tables, read once in the first part's snapshot."""

    labels: list[Label]
    yanks: list[Yank]
    tools: list[tuple[str, str, str]]  # (name, owner, lifecycle)
    trusted: list[TrustedKey]
    history: list[tuple[str, str, str | None]]  # (name, created_at, lifecycle_message)
    pack_imports: list[tuple[str, int, str, str]]  # (name, version, manifest sha, source)


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


# -- splitting and running the parts ---------------------------------------------------------


def part_sizes(workers: int) -> list[float]:
    """The parts' shares of the work for ``workers`` processes, largest first: each is
    1/(2 x workers) of what is left, down to 1/(SMALLEST_PART x workers), so that the
    processes, taking them in turn, end close together (the last parts are small) while
    the parts stay few."""
    sizes: list[float] = []
    left, smallest = 1.0, 1 / (SMALLEST_PART * workers)
    while left > smallest / 2:
        size = min(left, max(left / (2 * workers), smallest))
        sizes.append(size)
        left -= size
    if left > 0:
        sizes[-1] += left
    return sizes


def plan(counts: Sequence[tuple[str, int, int]], head: int, workers: int) -> list[Part]:
    """Cut tools and audit entries into ranges for ``workers`` processes (see
    :func:`part_sizes`): a tool weighs its versions, and each signed one SIGNATURE_WEIGHT
    more (``counts`` is (name, versions, signed) by name). A tool is never cut, so the
    range of a part that falls within one big tool holds no tools, only audit entries."""
    sizes = part_sizes(workers) if workers > 1 else [1.0]
    if len(sizes) <= 1 or len(counts) < workers:
        return [EVERYTHING]
    cuts = list(itertools.accumulate(sizes[:-1]))  # fractions of the whole
    total = sum(n + SIGNATURE_WEIGHT * signed for _, n, signed in counts)
    name_cuts: list[str] = []
    seen = 0
    for name, n, signed in counts:
        while len(name_cuts) < len(cuts) and seen >= total * cuts[len(name_cuts)]:
            name_cuts.append(name)
        seen += n + SIGNATURE_WEIGHT * signed
    name_cuts += [counts[-1][0]] * (len(cuts) - len(name_cuts))  # rounding: empty ones
    seq_cuts = [1 + int(head * c) for c in cuts]
    return [
        Part(
            i,
            ([None, *name_cuts][i], [*name_cuts, None][i]),
            ([1, *seq_cuts][i], [*seq_cuts, None][i]),
        )
        for i in range(len(sizes))
    ]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while verify runs (as it was before, after):
    verify makes millions of short-lived rows and texts that reference counting frees,
    and the collector's passes over them cost about 5% of a big vault's verify, and in a
    forked child copy the pages of every object it walks."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_parts(
    parts: list[Part],
    check: Callable[[Part], Share],
    in_child: Callable[[], None],
    workers: int = 1,
) -> list[Share]:
    """Check the parts in ``workers`` processes, this one and forked children (which call
    ``in_child`` first, to drop what they must not share with their parent), each taking
    the next part from a shared queue (a pipe holding their indices) until it is empty.
    A part whose report does not come back (its child failed) is redone here, so a
    crash there costs time, not a check. The shares come back in the parts' order."""
    if workers <= 1 or len(parts) <= 1:
        return [check(part) for part in parts]
    queue, fill = os.pipe()
    os.write(fill, bytes(range(len(parts))))  # at most MAX_PARTS: one byte each
    os.close(fill)  # the queue reads as ended once empty
    children = []
    done: dict[int, Share] = {}
    try:
        for _ in range(workers - 1):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's coverage is not collected
                _child(parts, check, in_child, queue, read, write)
            os.close(write)
            children.append((pid, read))
        while taken := os.read(queue, 1):  # a read of one byte from a pipe is atomic
            share = check(parts[taken[0]])
            done[share.index] = share
    finally:  # even when a part failed here: no child is left unreaped
        os.close(queue)
        for pid, read in children:
            for share in _collect(pid, read):
                done.setdefault(share.index, share)
    return [done[p.index] if p.index in done else check(p) for p in parts]


# The most parts the queue of :func:`run_parts` holds (one byte each).
MAX_PARTS = 256


def _collect(pid: int, read: int) -> list[Share]:
    """What a child reported (nothing when it failed), once it has ended."""
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    try:
        shares = pickle.loads(data)
    except Exception:  # the child died before it could report
        return []
    return [s for s in shares if isinstance(s, Share)] if isinstance(shares, list) else []


def _child(
    parts: list[Part],
    check: Callable[[Part], Share],
    in_child: Callable[[], None],
    queue: int,
    read: int,
    write: int,
) -> None:  # pragma: no cover - runs in the forked child
    """Take and check parts until the queue is empty, then report them; a part that
    fails ends the taking (the parent redoes it, and any other part not reported)."""
    code = 1
    try:
        os.close(read)
        shares: list[Share] = []
        try:
            in_child()
            while taken := os.read(queue, 1):
                shares.append(check(parts[taken[0]]))
        except Exception:  # the part goes unreported, so the parent redoes it
            pass
        with os.fdopen(write, "wb") as pipe:
            pipe.write(pickle.dumps(shares, pickle.HIGHEST_PROTOCOL))
        code = 0
    finally:
        os._exit(code)  # no exit handlers, no flushing of the parent's buffers


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
        mine = [t for t in governance.tools if _within(t[0], part.names, wanted)]
    else:
        mine = reader.tool_rows(part.names, wanted) if tree else []
    keys, trust_problems = _trusted(trusted)
    share = Share(part.index, head, governance=governance)
    found: dict[str, list[Problem]] = {"blob": [], "chain": [], "signature": [], "tree": []}
    blobs = Blobs()
    yanked = {(y.name, y.version) for y in yanks}
    tool_of = {t[0]: t for t in mine}
    counts = dict.fromkeys(("tools", "versions", "signatures", "files"), 0)
    versions: Triples = []
    for rows in _whole_tools(reader.version_rows(part.names, wanted, True), CHUNK_ROWS):
        found["blob"] += blobs.check(rows)
        found["chain"] += check_chains(rows)
        problems = _check_versions(rows, keys, require_signatures, versions, share.failed)
        found["signature"] += problems
        names = dict.fromkeys(map(_name, rows))
        if tree is not None:
            views = _views(rows, [tool_of[n] for n in names if n in tool_of], yanked)
            problems, strays = tree.check_tools(views, blobs.good_contents(rows))
            found["tree"] += problems
            share.strays += strays
            counts["files"] += sum(len(v.versions) + 1 for v in views)
        share.firsts += [(r[NAME], r[RECORDED_AT]) for r in rows if r[NUMBER] == 1]
        counts["tools"] += len(names)
        counts["versions"] += len(rows)
        counts["signatures"] += sum(map(bool, map(_signature, rows)))
    share.versions = pack(versions)
    share.blobs = "\n".join(blobs.present)
    if share.blobs.count("\n") != max(len(blobs.present) - 1, 0):
        share.blobs = list(blobs.present)
    if tree is not None and governance is not None:
        share.strays += tree.top_strays({t[0] for t in governance.tools})
    share.problems = {
        **found,
        "trust": trust_problems if part.index == 0 else [],
        "audit": audit.problems,
    }
    share.records, share.record_seqs = pack(audit.records), audit.seqs
    share.events = audit.events
    share.counts = {
        **counts,
        # one part checks named tools; else the first counts every blob, checked by some part
        "blobs": len(blobs.present) if wanted else reader.blob_count() if part.index == 0 else 0,
        "audit_entries": audit.count,
    }
    return share


def _governance(reader: Reader, yanks: list[Yank], trusted: list[TrustedKey]) -> Governance:
    """The governance tables, whole (the replay covers every tool), read by the first part."""
    return Governance(
        reader.labels(),
        yanks,
        reader.tool_rows((None, None), frozenset()),
        trusted,
        reader.tool_history_rows(),
        reader.pack_import_rows(),
    )


# Version rows a part holds at once (whole tools, so a few more).
CHUNK_ROWS = 4_000


def _whole_tools(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows ordered by name in lists of about ``size``, never splitting a tool."""
    chunk: list[tuple[Any, ...]] = []
    for _, group in itertools.groupby(rows, key=_name):
        chunk.extend(group)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Blobs:
    """The blobs of a part's versions, each checked once as the rows stream by."""

    def __init__(self) -> None:
        self.seen: set[str] = set()  # checked, or missing
        self.present: set[str] = set()  # checked: there, whether sound or not
        self.bad: set[str] = set()

    def check(self, rows: list[tuple[Any, ...]]) -> list[Problem]:
        """The blob of each row not checked yet must hash to its name and hold the size
        it records."""
        problems = []
        for r in rows:
            sha, data = r[SHA], r[CONTENT]
            if sha in self.seen:
                continue
            self.seen.add(sha)
            if data is None:  # a version without its content: check_chains reports it
                continue
            self.present.add(sha)
            problem = _blob_problem(sha, r[BLOB_SIZE], bytes(data))
            if problem:
                problems.append(problem)
                self.bad.add(sha)
        return problems

    def good_contents(self, rows: list[tuple[Any, ...]]) -> dict[str, bytes]:
        """sha256 -> content of these rows' blobs that checked out (the tree's files
        are compared with them instead of being hashed)."""
        return {
            r[SHA]: bytes(r[CONTENT])
            for r in rows
            if r[CONTENT] is not None and r[SHA] not in self.bad
        }


def _within(name: str, names: tuple[str | None, str | None], wanted: frozenset[str]) -> bool:
    low, high = names
    return (
        (low is None or name >= low)
        and (high is None or name < high)
        and (not wanted or name in wanted)
    )


def check_blobs(rows: Iterable[tuple[str, int, bytes]], unused: bool = False) -> list[Problem]:
    """Blobs as (sha256, recorded size, content), as they stream by; with ``unused``
    (they are the blobs no version uses) a sound one is a problem too."""
    from toolvault.verify.history import unused_blob

    return [
        p
        for sha, size, data in rows
        if (
            p := _blob_problem(sha, size, bytes(data))
            or (unused_blob(sha, size) if unused else None)
        )
    ]


def _blob_problem(sha: str, size: int, data: bytes) -> Problem | None:
    """A blob must hash to its name and hold the size it records."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha:
        return Problem("blob", None, None, f"blob {sha} hashes to {actual}")
    if size != len(data):
        return Problem("blob", None, None, f"blob {sha} records {size} bytes but holds {len(data)}")
    return None


def check_chains(rows: list[tuple[Any, ...]]) -> list[Problem]:
    """Each tool's versions are 1..n, each linked to the one before by number and hash,
    each with its content (whose size the blob check holds to the bytes)."""
    problems: list[Problem] = []
    prev: tuple[Any, ...] | None = None
    for r in rows:
        if prev is not None and prev[NAME] != r[NAME]:
            prev = None
        name, number = r[NAME], r[NUMBER]
        expected = 1 if prev is None else prev[NUMBER] + 1
        if number != expected:
            detail = f"expected version {expected} here: versions are missing"
            problems.append(Problem("chain", name, number, detail))
        have = (r[PREV_VERSION], r[PREV_SHA])
        want = (prev[NUMBER], prev[SHA]) if prev else (None, None)
        if have != want:
            detail = (
                f"previous is recorded as {have[0]}@{(have[1] or '-')[:12]}, "
                f"but the version before it is {want[0]}@{(want[1] or '-')[:12]}"
            )
            problems.append(Problem("chain", name, number, detail))
        if r[BLOB_SIZE] is None:
            problems.append(Problem("blob", name, number, f"content {r[SHA]} is missing"))
        elif r[BLOB_SIZE] != r[SIZE]:
            detail = f"records size {r[SIZE]} but its content has {r[BLOB_SIZE]} bytes"
            problems.append(Problem("size", name, number, detail))
        prev = r
    return problems


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
            fields = _fields_in(row[6])
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


def _fields_in(text: Any) -> str | None:
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


def _trusted(trusted: list[TrustedKey]) -> tuple[dict[str, tuple[str, Any]], list[Problem]]:
    keys, problems = {}, []
    for k in trusted:
        try:
            keys[k.key_id] = (k.name, public_key(decode_public(k.public_key)))
        except (InvalidInput, ValueError) as exc:  # a trust store row altered by hand
            problems.append(Problem("trust", None, None, f"trusted key {k.name}: {exc}"))
    return keys, problems


def _check_versions(
    rows: list[tuple[Any, ...]],
    keys: dict[str, tuple[str, Any]],
    require: bool,
    digests: Triples,
    failed: list[tuple[str, int, str]],
) -> list[Problem]:
    """Each version's fields digest (added to ``digests``), and its signature against
    the trusted keys: a signature that does not verify goes to ``failed`` with its key's
    name, for :func:`merge` to say which group changed."""
    problems: list[Problem] = []
    for row in rows:
        values = version_values(row)
        name, number = row[NAME], row[NUMBER]
        if not row[SIGNATURE]:
            if require:
                problems.append(Problem("unsigned", name, number, "signatures are required"))
        elif (key := keys.get(row[KEY_ID] or "")) is None:
            detail = f"signed by key {row[KEY_ID]}, which is not in the trust store"
            problems.append(Problem("untrusted", name, number, detail))
        else:
            signed = payload({f: values[i] for f, i in _SIGNED_AT})
            if not verify_signature(key[1], row[SIGNATURE], signed):
                failed.append((name, number, key[0]))
        digests.append((name, number, values_digest(values)))
    return problems


def _views(
    rows: list[tuple[Any, ...]], tools: list[tuple[str, str, str]], yanked: set[tuple[str, int]]
) -> list[ToolView]:
    """What the tree should show of these tools, from the rows already read (by name):
    the symlink points at the newest version not yanked, and a retired tool has none."""
    by_tool = {
        name: tuple(map(Entry._make, map(_entry_of, group)))
        for name, group in itertools.groupby(rows, key=_name)
    }
    views = []
    some_yanked = {name for name, _ in yanked}
    for name, owner, lifecycle in tools:
        entries = by_tool.get(name)
        if not entries:
            continue
        if name in some_yanked:
            usable = [e.version for e in entries if (name, e.version) not in yanked]
        else:  # the rows come by number: the newest is the last
            usable = [entries[-1].version]
        latest = None if lifecycle == "retired" or not usable else max(usable)
        views.append(ToolView(name, owner, lifecycle, latest, entries))
    return views


_name = operator.itemgetter(NAME)
_signature = operator.itemgetter(SIGNATURE)
# An Entry's fields from a row (executable stays SQLite's 0 or 1: the tree tests its truth)
_entry_of = operator.itemgetter(
    NUMBER, SHA, SIZE, EXECUTABLE, PREV_VERSION, PREV_SHA, CREATED_AT, CREATED_BY, ROLLBACK_OF
)


# -- the whole ----------------------------------------------------------------------------


class Lookup(Protocol):
    """Reads :func:`merge` needs only where a version no longer matches its record."""

    def version(self, name: str, number: int) -> Version | None: ...
    def audit_details(self, seq: int) -> tuple[str, str | None, int | None, dict[str, Any]]: ...
    def unused_blobs(self) -> Iterable[tuple[str, int, bytes]]: ...


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
    recorded = _Recorded(shares, lookup)
    found["recorded"] = recorded.check()
    found["signature"] = _signature_problems(failed, found["signature"], recorded)
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


class _Recorded:
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
        have = _all_lines(share.versions for share in self.shares)
        if have is not None and have == _all_lines(share.records for share in self.shares):
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
        return [g for g in GROUPS if digests.get(g) != now[g]]


def _signature_problems(
    failed: list[tuple[str, int, str]], others: list[Problem], recorded: _Recorded
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


class Replay:
    """The governance state the audit log implies, rebuilt entry by entry."""

    def __init__(self) -> None:
        self.labels: dict[tuple[str, str], int] = {}
        self.yanks: dict[tuple[str, int], str] = {}
        self.owners: dict[str, str] = {}
        self.lifecycles: dict[str, str] = {}
        self.trust: dict[str, str] = {}

    def apply(self, action: str, tool: str | None, version: int | None, d: Any) -> None:
        """Fold one entry into the state."""
        handler = getattr(self, "on_" + action.replace("-", "_"), None)
        if handler is not None and isinstance(d, dict):
            handler(tool or "", version, d)

    def on_publish(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.owners.setdefault(tool, str(d.get("owner", "")))

    on_adopt = on_publish

    def on_label(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.labels[(tool, str(d.get("label")))] = int(d.get("version", 0))

    def on_unlabel(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.labels.pop((tool, str(d.get("label"))), None)

    def on_yank(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.yanks[(tool, version or 0)] = str(d.get("reason"))

    def on_owner(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.owners[tool] = str(d.get("to"))

    def on_deprecate(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.lifecycles[tool] = "deprecated"

    def on_retire(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.lifecycles[tool] = "retired"

    def on_reactivate(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.lifecycles[tool] = "active"

    def on_trust_add(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.trust[str(d.get("name"))] = str(d.get("key_id"))

    def on_trust_remove(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        self.trust.pop(str(d.get("name")), None)

    def on_import(self, tool: str, version: int | None, d: dict[str, Any]) -> None:
        """A pack import states the resulting owner and lifecycle of every tool it touched,
        and the labels and yanks it restored."""
        for name, state in (d.get("tools") or {}).items():
            self.owners[name] = str(state.get("owner"))
            self.lifecycles[name] = str(state.get("lifecycle"))
        for lab in d.get("labels") or ():
            self.labels[(lab["name"], lab["label"])] = int(lab["version"])
        for y in d.get("yanks") or ():
            self.yanks[(y["name"], int(y["version"]))] = str(y["reason"])

    on_recover = on_import  # a rebuild from the tree states the same (toolvault.recovery)


def check_governance(
    state: Governance,
    events: Iterable[tuple[str, str | None, int | None, dict[str, Any]]],
    firsts: dict[str, str] | None = None,
) -> list[Problem]:
    """Labels, yanks, owners, lifecycles and trusted keys are what the audit log says;
    so are the tools' creation times and lifecycle messages and the pack imports
    (:mod:`toolvault.verify.history`; ``firsts``: each tool's version 1's recorded_at)."""
    from toolvault.verify.history import ToolHistory

    replay, history = Replay(), ToolHistory()
    owners = replay.owners
    for action, tool, version, details in events:
        history.apply(action, tool, details)
        if action in VERSION_ACTIONS and isinstance(details, dict):  # most of them, by far
            owners.setdefault(tool or "", str(details.get("owner", "")))  # as on_publish
        else:
            replay.apply(action, tool, version, details)
    return (
        _compare("label", {(lb.name, lb.label): lb.version for lb in state.labels}, replay.labels)
        + _compare("yank", {(y.name, y.version): y.reason for y in state.yanks}, replay.yanks)
        + _compare("owner", {name: owner for name, owner, _ in state.tools}, replay.owners)
        + _compare(
            "lifecycle",
            {name: lifecycle for name, _, lifecycle in state.tools},
            {name: replay.lifecycles.get(name, "active") for name, _, _ in state.tools},
        )
        + _compare("trust", {k.name: k.key_id for k in state.trusted}, replay.trust)
        + history.problems(state.history, state.pack_imports, firsts or {})
    )


def _compare(kind: str, have: dict[Any, Any], want: dict[Any, Any]) -> list[Problem]:
    if have == want:  # the usual case, settled in one step
        return []
    problems = []
    for key in sorted(set(have) | set(want), key=str):
        if have.get(key) == want.get(key):
            continue
        name = key[0] if isinstance(key, tuple) else key
        version = key[1] if isinstance(key, tuple) and isinstance(key[1], int) else None
        if kind == "trust":
            name = None
        detail = (
            f"{kind} {_show(key)} is {have.get(key, 'absent')!r} in the database "
            f"but {want.get(key, 'absent')!r} according to the audit log"
        )
        problems.append(Problem(kind, name, version, detail))
    return problems


def _show(key: Any) -> str:
    return ":".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
