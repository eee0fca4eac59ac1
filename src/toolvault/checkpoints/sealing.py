"""Sealing each write: the Sealer signs and records the new head in the write
transaction, then writes it to ``HOME/checkpoint`` (atomically; an older head never
replaces a newer one); and the current head (``toolvault checkpoint``)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolvault.checkpoints.keys import key_path, load_key, make_key, missing_key
from toolvault.checkpoints.model import FILE, Checkpoint, signed_bytes
from toolvault.errors import ToolvaultError
from toolvault.hashing import GENESIS
from toolvault.signing import Signer, encode_public

if TYPE_CHECKING:
    from collections.abc import Iterator

    from toolvault.config import Config
    from toolvault.store.base import SQLStore
    from toolvault.vault import Vault


class Sealer:
    """Installed on a Vault's store (:class:`toolvault.store.base.Sealer`): signs and
    records the new head in each write transaction that appended audit entries, then
    writes it to ``HOME/checkpoint``. The key is loaded once, at the first write."""

    def __init__(self, home: Path, config: Callable[[], Config]) -> None:
        self.home = home
        self._config = config
        self._signer: Signer | None = None
        self._public = ""

    def signer(self, store: SQLStore) -> Signer:
        """The vault key; made at the first write of a vault that has none yet, refused
        (:class:`NotFound` saying how to restore it) when the vault had one."""
        if self._signer is None:
            path = key_path(self.home, self._config())
            if path.exists():
                signer = load_key(path)
            else:
                newest = store.newest_checkpoint()
                if newest is not None:
                    raise missing_key(path, Checkpoint(*newest))
                signer = make_key(path)
            self._signer, self._public = signer, encode_public(signer.public_raw)
        return self._signer

    def seal(self, store: SQLStore, head: tuple[int, str]) -> Checkpoint:
        """Sign ``head`` (seq, hash) and record it, chained to the newest checkpoint,
        inside the write transaction. Writers are serialized (SQLite's BEGIN IMMEDIATE,
        PostgreSQL's advisory lock, taken before anything is read), so the newest
        checkpoint read here is the one this one follows; the table's UNIQUE ``prev``
        refuses a second checkpoint after the same one anyway."""
        from toolvault.store.base import utcnow

        signer = self.signer(store)
        newest = store.newest_checkpoint()
        prev = GENESIS if newest is None else Checkpoint(*newest).link()
        seq, digest = head
        at = utcnow()
        signature = signer.sign(signed_bytes(seq, digest, at, signer.key_id, prev))
        checkpoint = Checkpoint(seq, digest, at, signer.key_id, self._public, signature, prev)
        store.insert_checkpoint(checkpoint.row())
        return checkpoint

    def sealed(self, checkpoint: Checkpoint) -> None:
        """After the commit: the head to ``HOME/checkpoint``, unless a newer one is there."""
        write_newest(self.home / FILE, checkpoint)


def write_newest(path: Path, checkpoint: Checkpoint, extra: dict[str, Any] | None = None) -> bool:
    """Put ``checkpoint`` in ``path`` atomically unless the file holds one as new or newer:
    concurrent writers serialize on a lock of the folder, so an older head never replaces
    a newer one. True when written. (Plain strings and os calls: this runs after every
    write transaction, and pathlib costs a good part of it.)"""
    where = os.fspath(path)
    body = {**extra, "checkpoint": checkpoint.to_dict()} if extra else checkpoint.to_dict()
    try:
        with _folder_locked(os.path.dirname(where)):
            if _seq_in(where) >= checkpoint.seq:
                return False
            _put(where, (json.dumps(body) + "\n").encode())  # one line: json's C encoder
            return True
    except OSError as exc:
        raise ToolvaultError(
            f"written, but could not update {path}: {exc}; fix the cause and run "
            "'toolvault checkpoint', which writes it again"
        ) from None


def _seq_in(path: str) -> int:
    """The seq of the head a checkpoint file holds; -1 when there is none or it cannot be
    read (the newest head known then replaces it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = json.loads(os.read(fd, 65536))
        finally:
            os.close(fd)
        found = data.get("checkpoint", data)
        seq = found["seq"]
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return -1
    return seq if type(seq) is int else -1


def _put(path: str, data: bytes) -> None:
    """Replace ``path``'s content atomically: written to a spare file beside it, which
    then trades places with it in one rename (Linux's RENAME_EXCHANGE), so that a reader
    sees the old file or the new one, whole. The spare is kept for the next time:
    creating a file costs more than the rest of a checkpoint on some file systems
    (bench/checkpoint.py), so none is created once both exist. Elsewhere, or the first
    time, the spare is renamed over ``path``. Call under the folder's lock."""
    folder, name = os.path.split(path)
    spare = os.path.join(folder, f".{name}.spare")
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    if not (os.path.exists(path) and _exchange(spare, path)):
        os.replace(spare, path)


_RENAMEAT2: list[Any] = []


def _exchange(a: str, b: str) -> bool:
    """Swap two files atomically (``renameat2`` with RENAME_EXCHANGE); False where the
    system cannot."""
    if not _RENAMEAT2:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _RENAMEAT2.append(getattr(libc, "renameat2", None))
    call = _RENAMEAT2[0]
    if call is None:
        return False
    at_cwd, exchange = -100, 2  # AT_FDCWD, RENAME_EXCHANGE
    return bool(call(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0)


@contextmanager
def _folder_locked(folder: str) -> Iterator[None]:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:  # a client's first remembered head
        os.makedirs(folder, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing lets go of the lock


# -- the current head (toolvault checkpoint) ------------------------------------------------------


def current(vault: Vault) -> Checkpoint:
    """The vault's newest signed head; signed now when the log has moved past its newest
    checkpoint (a vault migrated to checkpoints that has had no write since), and
    written to ``HOME/checkpoint`` when the file is behind."""
    store = vault.store
    with store.snapshot():
        newest, head = store.newest_checkpoint(), store.audit_head()
    if newest is None or newest[0] < head[0]:
        return seal_head(vault)
    checkpoint = Checkpoint(*newest)
    write_newest(vault.home / FILE, checkpoint)
    return checkpoint


def seal_head(vault: Vault) -> Checkpoint:
    """Sign the log's head as it stands (in a write transaction of its own)."""
    sealer = vault.sealer
    with vault.store.write():
        newest, (seq, digest, _) = vault.store.newest_checkpoint(), vault.store.audit_head()
        made = None
        if newest is None or newest[0] < seq:
            made = sealer.seal(vault.store, (seq, digest))
    checkpoint = made or Checkpoint(*newest)  # type: ignore[misc]
    sealer.sealed(checkpoint)
    return checkpoint
