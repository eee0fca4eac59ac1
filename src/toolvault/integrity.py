"""What ``verify`` checks, as pure functions over one consistent read of the vault.

Each check returns :class:`~toolvault.models.Problem` records naming the kind,
the tool, the version and what is wrong, so that a report says exactly where.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from toolvault.errors import InvalidInput
from toolvault.hashing import GENESIS, entry_hash
from toolvault.models import AuditEntry, Label, Problem, Tool, TrustedKey, Version, Yank
from toolvault.signing import (
    GROUPS,
    decode_public,
    fields_digest,
    payload,
    public_key,
    verify_signature,
    version_digests,
    version_fields,
)

VERSION_ACTIONS = ("publish", "adopt")


@dataclass(frozen=True, slots=True)
class State:
    """Everything verify reads, taken in one snapshot."""

    versions: list[Version]
    blobs: dict[str, int]  # sha256 -> the content's length in bytes
    blob_problems: list[Problem]
    audit: list[AuditEntry]
    labels: list[Label]
    yanks: list[Yank]
    tools: list[Tool]
    trusted: list[TrustedKey]


def check_blobs(rows: Iterable[tuple[str, int, bytes]]) -> tuple[dict[str, int], list[Problem]]:
    """Hash every blob as it streams by: it must hash to its name and have its recorded
    size. Returns each blob's length (content is not kept) and the problems."""
    sizes: dict[str, int] = {}
    problems = []
    for sha, size, data in rows:
        sizes[sha] = len(data)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            problems.append(Problem("blob", None, None, f"blob {sha} hashes to {actual}"))
        elif size != len(data):
            detail = f"blob {sha} records {size} bytes but holds {len(data)}"
            problems.append(Problem("blob", None, None, detail))
    return sizes, problems


def check_chains(versions: list[Version], blobs: dict[str, int]) -> list[Problem]:
    """Each tool's versions are 1..n, each linked to the one before by number and hash."""
    problems: list[Problem] = []
    prev: Version | None = None
    for v in versions:
        if prev is not None and prev.name != v.name:
            prev = None
        problems += [Problem("chain", v.name, v.version, d) for d in _link_problems(v, prev)]
        if v.sha256 not in blobs:
            problems.append(Problem("blob", v.name, v.version, f"content {v.sha256} is missing"))
        elif blobs[v.sha256] != v.size:
            detail = f"records size {v.size} but its content has {blobs[v.sha256]} bytes"
            problems.append(Problem("size", v.name, v.version, detail))
        prev = v
    return problems


def _link_problems(v: Version, prev: Version | None) -> list[str]:
    found = []
    expected = 1 if prev is None else prev.version + 1
    if v.version != expected:
        found.append(f"expected version {expected} here: versions are missing")
    have = (v.previous_version, v.previous_sha256)
    want = (prev.version, prev.sha256) if prev else (None, None)
    if have != want:
        found.append(
            f"previous is recorded as {have[0]}@{(have[1] or '-')[:12]}, "
            f"but the version before it is {want[0]}@{(want[1] or '-')[:12]}"
        )
    return found


def check_audit_chain(entries: list[AuditEntry]) -> list[Problem]:
    """Sequence numbers run 1, 2, 3…; each hash covers its entry and links to the one before."""
    problems = []
    prev_hash, expected = GENESIS, 1
    for e in entries:
        where = f"audit entry {e.seq}"
        if e.seq != expected:
            problems.append(
                _audit(
                    f"{where}: expected sequence number {expected} (entries missing or reordered)"
                )
            )
        if e.prev_hash != prev_hash:
            problems.append(_audit(f"{where}: does not link to the entry before it"))
        if entry_hash(e.body()) != e.hash:
            problems.append(_audit(f"{where}: its content does not match its hash (edited)"))
        prev_hash, expected = e.hash, e.seq + 1
    return problems


def _audit(detail: str) -> Problem:
    return Problem("audit", None, None, detail)


def recorded_versions(entry: AuditEntry) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(tool, version, digests) for each version an entry says it stored."""
    if entry.action in VERSION_ACTIONS and entry.tool and entry.version:
        yield entry.tool, entry.version, entry.details
    for item in entry.details.get("added", ()) if isinstance(entry.details, dict) else ():
        if isinstance(item, dict) and "name" in item and "version" in item:
            yield item["name"], item["version"], item


def changed_groups(v: Version, recorded: dict[str, Any] | None) -> list[str]:
    """Which field groups of ``v`` differ from what the audit log recorded."""
    if recorded is None:
        return []
    now = version_digests(v)
    return [g for g in GROUPS if recorded.get(g) != now[g]]


def check_recorded(versions: list[Version], records: dict[tuple[str, int], Any]) -> list[Problem]:
    """Every version matches the digests the audit log took when it was stored, and
    every version the log records is still there."""
    problems = []
    present = {(v.name, v.version) for v in versions}
    for (name, number), (seq, _) in sorted(records.items()):
        if (name, number) not in present:
            detail = f"audit entry {seq} records this version, but it is not in the database"
            problems.append(Problem("missing", name, number, detail))
    for v in versions:
        rec = records.get((v.name, v.version))
        if rec is None:
            problems.append(Problem("audit", v.name, v.version, "no audit entry records it"))
            continue
        if rec[1].get("fields") == fields_digest(v):
            continue  # every field as recorded: no need to look group by group
        groups = changed_groups(v, rec[1])
        if not groups and "fields" in rec[1]:
            detail = (
                f"a field outside the signed groups (message, session_id, transforms, "
                f"size, executable, rollback_of, …) differs from audit entry {rec[0]}"
            )
            problems.append(Problem("tampered", v.name, v.version, detail))
        for group in groups:
            fields = ", ".join(GROUPS[group])
            problems.append(
                Problem(
                    "tampered",
                    v.name,
                    v.version,
                    f"{group} ({fields}) differs from audit entry {rec[0]} made when it was stored",
                )
            )
    return problems


def check_signatures(
    versions: list[Version],
    trusted: list[TrustedKey],
    require: bool,
    records: dict[tuple[str, int], Any],
) -> list[Problem]:
    """Signed versions verify against a trusted key; unsigned ones are a problem if required."""
    keys, problems = {}, []
    for k in trusted:
        try:
            keys[k.key_id] = (k.name, public_key(decode_public(k.public_key)))
        except (InvalidInput, ValueError) as exc:  # a trust store row altered by hand
            problems.append(Problem("trust", None, None, f"trusted key {k.name}: {exc}"))
    for v in versions:
        if not v.signature:
            if require:
                problems.append(Problem("unsigned", v.name, v.version, "signatures are required"))
            continue
        key = keys.get(v.key_id or "")
        if key is None:
            detail = f"signed by key {v.key_id}, which is not in the trust store"
            problems.append(Problem("untrusted", v.name, v.version, detail))
        elif not verify_signature(key[1], v.signature, payload(version_fields(v))):
            rec = records.get((v.name, v.version))
            groups = changed_groups(v, rec[1] if rec else None) or ["signed fields"]
            detail = f"signature by key {key[0]} does not verify: {', '.join(groups)} changed"
            problems.append(Problem("signature", v.name, v.version, detail))
    return problems


class Replay:
    """The governance state the audit log implies, rebuilt entry by entry."""

    def __init__(self) -> None:
        self.labels: dict[tuple[str, str], int] = {}
        self.yanks: dict[tuple[str, int], str] = {}
        self.owners: dict[str, str] = {}
        self.lifecycles: dict[str, str] = {}
        self.trust: dict[str, str] = {}

    def apply(self, e: AuditEntry) -> None:
        """Fold one entry into the state."""
        handler = getattr(self, "on_" + e.action.replace("-", "_"), None)
        if handler is not None:
            handler(e.tool or "", e.version, e.details)

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


def check_governance(state: State) -> list[Problem]:
    """Labels, yanks, owners, lifecycles and trusted keys are what the audit log says."""
    replay = Replay()
    for entry in state.audit:
        replay.apply(entry)
    return (
        _compare("label", {(lb.name, lb.label): lb.version for lb in state.labels}, replay.labels)
        + _compare("yank", {(y.name, y.version): y.reason for y in state.yanks}, replay.yanks)
        + _compare("owner", {t.name: t.owner for t in state.tools}, replay.owners)
        + _compare(
            "lifecycle",
            {t.name: t.lifecycle for t in state.tools},
            {t.name: replay.lifecycles.get(t.name, "active") for t in state.tools},
        )
        + _compare("trust", {k.name: k.key_id for k in state.trusted}, replay.trust)
    )


def _compare(kind: str, have: dict[Any, Any], want: dict[Any, Any]) -> list[Problem]:
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
