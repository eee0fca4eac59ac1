"""The checks over version rows as a part reads them: each blob against its hash and size,
each tool's chain of versions, each signature against the trusted keys, and what the
``commands/`` tree should show of the tools (which :mod:`toolvault.materialize` compares).

Rows are in the column order of ``SQLStore.version_rows`` (the indexes below).
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Iterable
from typing import Any

from toolvault.errors import InvalidInput
from toolvault.materialize import ToolView
from toolvault.models import VERSION_FIELDS, Entry, Problem, TrustedKey
from toolvault.signing import (
    OPTIONAL_SIGNED,
    SIGNED_FIELDS,
    decode_public,
    payload,
    public_key,
    values_digest,
    verify_signature,
)
from toolvault.store.sql import version_values

# SQLStore.version_rows: the VERSION_COLUMNS, then the size its blob records and the blob's
# content (None, None: no blob).
NAME, NUMBER, SHA, SIZE, EXECUTABLE, PREV_VERSION, PREV_SHA = range(7)
CREATED_AT, RECORDED_AT, CREATED_BY, ROLLBACK_OF, SIGNATURE, KEY_ID = 7, 8, 9, 17, 18, 19
BLOB_SIZE, CONTENT = len(VERSION_FIELDS), len(VERSION_FIELDS) + 1
_SIGNED_AT = [(f, VERSION_FIELDS.index(f)) for f in (*SIGNED_FIELDS, *OPTIONAL_SIGNED)]

# (name, number, text) triples, packed (see :func:`pack`) to cross a process boundary.
Triples = list[tuple[Any, Any, Any]]
# key id -> (the trusted key's name, its public key)
Keys = dict[str, tuple[str, Any]]


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


def trusted_public_keys(trusted: list[TrustedKey]) -> tuple[Keys, list[Problem]]:
    """The trust store's keys by key id, and a problem for each row that holds no key."""
    keys: Keys = {}
    problems: list[Problem] = []
    for k in trusted:
        try:
            keys[k.key_id] = (k.name, public_key(decode_public(k.public_key)))
        except (InvalidInput, ValueError) as exc:  # a trust store row altered by hand
            problems.append(Problem("trust", None, None, f"trusted key {k.name}: {exc}"))
    return keys, problems


def check_versions(
    rows: list[tuple[Any, ...]],
    keys: Keys,
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


def tool_views(
    rows: list[tuple[Any, ...]], tools: list[tuple[str, str, str]], yanked: set[tuple[str, int]]
) -> list[ToolView]:
    """What the tree should show of these tools, from the rows already read (by name):
    the symlink points at the newest version not yanked, and a retired tool has none."""
    by_tool = {
        name: tuple(map(Entry._make, map(_entry_of, group)))
        for name, group in itertools.groupby(rows, key=row_name)
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


row_name = operator.itemgetter(NAME)
row_signature = operator.itemgetter(SIGNATURE)
# An Entry's fields from a row (executable stays SQLite's 0 or 1: the tree tests its truth)
_entry_of = operator.itemgetter(
    NUMBER, SHA, SIZE, EXECUTABLE, PREV_VERSION, PREV_SHA, CREATED_AT, CREATED_BY, ROLLBACK_OF
)
