"""What ``verify`` checks of the checkpoints: the chain, the signatures that cover it,
each checkpoint's audit entry, the log against the newest, and the heads kept outside
the database (``HOME/checkpoint``, a witness given to ``verify --since``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolvault.checkpoints.keys import key_path, listed_keys, load_key
from toolvault.checkpoints.model import FILE, SHAPE, Checkpoint, link, read_file
from toolvault.errors import InvalidInput, ToolvaultError
from toolvault.hashing import GENESIS
from toolvault.models import Problem
from toolvault.signing import encode_public

if TYPE_CHECKING:
    from toolvault.store.base import SQLStore
    from toolvault.vault import Vault

WITNESS = "the witness"  # how problems name a head given to verify --since
KIND = "checkpoint"  # the kind of every problem this module reports


class Trust:
    """The keys a checkpoint may be signed with: the vault key of this home and those
    config.toml lists; when neither is there (a copy of the database without keys/),
    the keys the checkpoints themselves record, which still catch a changed head."""

    def __init__(self, vault: Vault, rows: Sequence[tuple[Any, ...]]) -> None:
        self.problems: list[Problem] = []
        self.keys = self._anchored(vault)
        self.anchored = bool(self.keys)
        if not self.anchored:
            self.keys = {row[3]: row[4] for row in rows}

    def _anchored(self, vault: Vault) -> dict[str, str]:
        keys: dict[str, str] = {}
        try:
            keys.update(listed_keys(vault.home, vault.config))
            path = key_path(vault.home, vault.config)
            if path.exists():
                signer = load_key(path)
                keys[signer.key_id] = encode_public(signer.public_raw)
        except ToolvaultError as exc:
            self.problems.append(_problem(str(exc)))
        return keys

    def why_not(self, checkpoint: Checkpoint) -> str | None:
        """Why ``checkpoint`` is not a valid head signed by this vault, or None."""
        if checkpoint.key_id not in self.keys:
            have = ", ".join(sorted(self.keys)) or "none"
            return (
                f"it is signed by key {checkpoint.key_id}, which is not this vault's key "
                f"({have}; several daemons' keys are listed under checkpoint_keys in config.toml)"
            )
        return checkpoint.why_invalid()


def check(vault: Vault, since: Checkpoint | None = None) -> tuple[list[Problem], int]:
    """Every check of the checkpoints, once per verify: the problems and how many
    checkpoints were checked. ``since`` is a witness the log must still extend."""
    store = vault.store
    file = vault.home / FILE
    with store.snapshot():
        rows = store.checkpoint_rows()
        head = store.audit_head()[0]
        anchors = _anchors(store, file, since)
    trust = Trust(vault, rows)
    problems = [*trust.problems, *check_rows(rows, trust)]
    problems += _uncovered(rows, head, trust, file)
    for label, found, actual in anchors:
        problems += _anchor(label, found, actual, head, trust, rows)
    if not anchors[0][1] and rows and vault.store.dialect == "sqlite":
        problems.append(_problem(f"{file} is missing: {FILE_GONE}"))
    return problems, len(rows)


FILE_GONE = (
    "it holds the newest signed head outside the database. If nobody removed it on purpose, "
    "the database may have been replaced by an older copy too: compare with a head kept "
    "elsewhere ('toolvault verify --since CHECKPOINT'); 'toolvault checkpoint' writes it again"
)


Anchor = tuple[str, Checkpoint | InvalidInput | None, str | None]


def _anchors(store: SQLStore, file: Path, since: Checkpoint | None) -> list[Anchor]:
    """(label, checkpoint or why it is unreadable, hash of the log's entry at its seq) of
    the file and of the witness, read in the caller's snapshot."""
    try:
        kept: Checkpoint | InvalidInput | None = read_file(file)
    except InvalidInput as exc:
        kept = exc
    found: list[Anchor] = []
    for label, checkpoint in ((str(file), kept), (WITNESS, since)):
        actual = store.audit_hash(checkpoint.seq) if isinstance(checkpoint, Checkpoint) else None
        found.append((label, checkpoint, actual))
    return found


def check_rows(rows: Sequence[tuple[Any, ...]], trust: Trust) -> list[Problem]:
    """The recorded checkpoints (``checkpoint_rows``): their chain recomputed, the
    signatures that cover it, and each one's audit entry still with its hash."""
    return [*_chain(rows), *_signatures(rows, trust), *_rewritten(rows)]


def _chain(rows: Sequence[tuple[Any, ...]]) -> list[Problem]:
    """Each checkpoint commits to the one before it (the first to GENESIS): an old one
    altered, removed or inserted breaks the chain at the checkpoint after it."""
    broken: list[str] = []
    expected, before = GENESIS, None
    for seq, digest, at, kid, _, signature, prev, _ in rows:
        if prev != expected:
            broken.append(_break(before, seq))
        try:
            expected, before = link(seq, digest, at, kid, prev, signature), seq
        except (TypeError, AttributeError, ValueError):  # a field made a number or bytes
            expected, before = "", seq
    return [_problem(_and_more(broken[0], len(broken) - 1))] if broken else []


def _break(before: int | None, seq: int) -> str:
    if before is None:
        return (
            f"the first checkpoint (seq {seq}) does not begin the chain of checkpoints: "
            "checkpoints before it were removed, or it was altered"
        )
    return (
        f"the chain of checkpoints breaks between seq {before} and seq {seq}: the checkpoint "
        f"at seq {seq} does not commit to the one at seq {before} (one of them, or one "
        "between them, was altered, removed or inserted)"
    )


def _signatures(rows: Sequence[tuple[Any, ...]], trust: Trust) -> list[Problem]:
    """The signatures that cover the chain: the newest checkpoint's and that of the last
    checkpoint of each run of one key (another daemon's, a new key). Every other
    checkpoint is held to the public key of its run's last."""
    if not rows:
        return []
    bad: list[str] = []
    keys: dict[str, str] = {}
    for row, after in zip(rows, [*rows[1:], None], strict=True):
        if after is None or after[3] != row[3]:
            why = trust.why_not(Checkpoint(*row[:7]))
            if why:
                bad.append(f"the checkpoint at seq {row[0]} is not valid: {why}")
            keys[row[3]] = row[4]
    problems = [_problem(_and_more(bad[0], len(bad) - 1))] if bad else []
    altered = [row[0] for row in rows if keys[row[3]] != row[4]]
    if altered:
        first = f"the checkpoint at seq {altered[0]} records a public key that is not its key's"
        problems.append(_problem(_and_more(first, len(altered) - 1)))
    return problems


def _rewritten(rows: Sequence[tuple[Any, ...]]) -> list[Problem]:
    """Each checkpoint's seq: the audit entry there still has the hash signed for it."""
    rewritten = [(r[0], r[7], r[1]) for r in rows if r[7] is not None and r[7] != r[1]]
    if not rewritten:
        return []
    seq, actual, signed = rewritten[0]
    first = (
        f"the audit entry at seq {seq} has hash {actual[:16]}…, but the vault key signed "
        f"{signed[:16]}… for it: the log was rewritten at or before seq {seq}"
    )
    return [_problem(_and_more(first, len(rewritten) - 1))]


def _uncovered(
    rows: Sequence[tuple[Any, ...]], head: int, trust: Trust, file: Path
) -> list[Problem]:
    """The log against its newest checkpoint: not shorter, and nothing after it."""
    if not rows:
        if head and (trust.anchored or file.exists()):
            return [
                _problem(
                    f"no signed checkpoint covers the log's {head} entries, though "
                    "this vault has a vault key: the checkpoints were removed"
                )
            ]
        return []
    newest = rows[-1]
    if newest[7] is None:
        return [
            _problem(
                f"the log ends at seq {head}, but the vault key signed its head at seq "
                f"{newest[0]}: entries {head + 1}..{newest[0]} were removed"
            )
        ]
    if head > newest[0]:
        return [
            _problem(
                f"audit entries {newest[0] + 1}..{head} come after the newest signed checkpoint "
                f"(seq {newest[0]}): they were written without the vault key"
            )
        ]
    return []


def _anchor(
    label: str,
    found: Checkpoint | InvalidInput | None,
    actual: str | None,
    head: int,
    trust: Trust,
    rows: Sequence[tuple[Any, ...]],
) -> list[Problem]:
    """A head kept outside the database (the file, a witness): the log extends it."""
    if found is None:
        return []
    if isinstance(found, InvalidInput):
        return [_problem(f"{found}; {SHAPE}")]
    why = trust.why_not(found) if label != WITNESS else _witness_key(found, trust, rows)
    if why:
        return [_problem(f"{label} does not hold a head of this vault: {why}")]
    if actual is None:
        return [
            _problem(
                f"{label} holds the signed head seq {found.seq}, but the log ends at seq {head}: "
                "the database was rolled back to an older copy or its tail was removed"
            )
        ]
    if actual != found.hash:
        return [
            _problem(
                f"{label} signs hash {found.hash[:16]}… for seq {found.seq}, but the log's entry "
                f"{found.seq} has hash {actual[:16]}…: the log was rewritten or replaced (a fork)"
            )
        ]
    if label != WITNESS and not any(r[0] == found.seq and r[1] == found.hash for r in rows):
        return [
            _problem(
                f"the database has no checkpoint at seq {found.seq}, which {label} "
                "holds: checkpoints were removed"
            )
        ]
    return []


def _witness_key(found: Checkpoint, trust: Trust, rows: Sequence[tuple[Any, ...]]) -> str | None:
    """A witness may be signed by any key this vault trusts or has signed with."""
    if found.key_id not in trust.keys and all(r[3] != found.key_id for r in rows):
        return f"it is signed by key {found.key_id}, which never signed a checkpoint of this vault"
    return found.why_invalid()


def _and_more(first: str, more: int) -> str:
    return f"{first} (and {more} more like it)" if more else first


def _problem(detail: str) -> Problem:
    return Problem(KIND, None, None, detail)
