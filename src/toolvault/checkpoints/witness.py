"""Daemons and their clients: the head a daemon serves with the entries since one
seen, the proof that its log extends the head a client remembers, and the remembered
heads (``HOME/witnessed/``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolvault.checkpoints.headfile import write_newest
from toolvault.checkpoints.model import Checkpoint
from toolvault.errors import IntegrityError
from toolvault.hashing import audit_text

if TYPE_CHECKING:
    from toolvault.checkpoints.model import Vault

WITNESSED = "witnessed"  # a client's remembered heads, one file per daemon URL


def served(vault: Vault, since: int | None) -> dict[str, Any]:
    """What ``GET /v1/checkpoint`` answers: the newest signed head and, with ``since``,
    the audit entries from seq ``since`` to it as stored (``[seq, at, actor, action, tool,
    version, details text, prev_hash, hash]``), from which a client recomputes the chain
    from the head it saw to this one (:func:`prove_extension`)."""
    store = vault.store
    with store.snapshot():
        newest = store.newest_checkpoint()
        rows = []
        if newest is not None and since is not None and since <= newest[0]:
            rows = [list(r) for r in store.audit_rows((max(since, 1), newest[0] + 1))]
    checkpoint = Checkpoint(*newest).to_dict() if newest else None
    return {"checkpoint": checkpoint, "entries": rows}


def prove_extension(
    seen: Checkpoint, newest: Checkpoint | None, entries: Sequence[Sequence[Any]]
) -> str | None:
    """Why the log a daemon serves (its newest head and the entries since the head this
    client saw) does not extend ``seen``, or None when it does."""
    if newest is None:
        return f"it has no signed checkpoint, though it signed seq {seen.seq} before"
    if newest.seq < seen.seq:
        return (
            f"its newest signed head is seq {newest.seq}, older than seq {seen.seq}, "
            "which it signed before: its log was rolled back"
        )
    expected, seq = seen.hash, seen.seq
    for index, entry in enumerate(entries):
        why = _link(entry, seq, expected, first=index == 0 and seen.seq > 0)
        if why:
            return why
        seq, expected = entry[0], entry[8]
    if (seq, expected) != (newest.seq, newest.hash):
        return f"its entries do not lead from seq {seen.seq} to its signed head seq {newest.seq}"
    return newest.why_invalid()


def _link(entry: Sequence[Any], seq: int, expected: str, *, first: bool) -> str | None:
    """Why one served entry does not follow (or, ``first``, is not) the entry it must."""
    try:
        number, at, actor, action, tool, version, details, prev, digest = entry
        text = audit_text(number, at, actor, action, tool, version, details, prev)
    except (TypeError, ValueError):
        return "it served an audit entry that is not one"
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        return f"its audit entry {number} does not hash to the hash it carries"
    if first:
        if number != seq or digest != expected:
            return f"its entry {seq} is not the one it signed before (a fork or a rollback)"
        return None
    if number != seq + 1 or prev != expected:
        return f"its entry {number} does not follow entry {seq} (a fork or a rollback)"
    return None


def witnessed_path(home: Path, url: str) -> Path:
    """Where a client keeps the last head it saw of the daemon at ``url``."""
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    return home / WITNESSED / f"{name}.json"


def remember(home: Path, url: str, checkpoint: Checkpoint) -> None:
    """Keep ``checkpoint`` as the last head seen of ``url`` (an older one never wins)."""
    write_newest(witnessed_path(home, url), checkpoint, {"url": url})


def refuse(url: str, why: str, path: Path) -> IntegrityError:
    """The error of a client whose daemon's log no longer extends what it saw."""
    return IntegrityError(
        f"the daemon at {url} no longer extends the signed head this client saw: {why}; "
        f"nothing was done. If the daemon was restored from a backup on purpose, remove "
        f"{path} to accept its log as it is now",
        {"url": url, "reason": why, "witnessed": str(path)},
    )
