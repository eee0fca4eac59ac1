"""Sealing each write: the Sealer signs and records the new head in the write
transaction, then writes it to ``HOME/checkpoint`` (atomically; an older head never
replaces a newer one); and the current head (``toolvault checkpoint``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from toolvault.checkpoints.headfile import HeadFile, write_newest
from toolvault.checkpoints.keys import key_path, load_key, make_key, missing_key
from toolvault.checkpoints.model import FILE, Checkpoint, link_of, signed_bytes
from toolvault.hashing import GENESIS
from toolvault.signing import Signer, encode_public
from toolvault.store.base import Head, utcnow

if TYPE_CHECKING:
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
        self._file: HeadFile | None = None
        # (seq, hash, signature, link) of the checkpoint sealed last, and of the last committed
        self._sealing: tuple[int, str, str, str] | None = None
        self._last: tuple[int, str, str, str] | None = None

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

    def seal(self, store: SQLStore, head: Head) -> Checkpoint:
        """Sign ``head`` and record it, chained to the newest checkpoint, inside the write
        transaction. Writers are serialized (SQLite's BEGIN IMMEDIATE, PostgreSQL's
        advisory lock, taken before anything is read), so the newest checkpoint found
        here is the one this one follows, as for the audit log's own chain."""
        signer = self.signer(store)
        seq, digest = head.seq, head.hash
        at, prev = utcnow(), self._prev(store, head)
        payload = signed_bytes(seq, digest, at, signer.key_id, prev)
        signature = signer.sign(payload)
        store.insert_checkpoint((seq, digest, at, signer.key_id, self._public, signature, prev))
        # newest until the commit says otherwise: nothing kept for a second seal meanwhile
        self._last, self._sealing = None, (seq, digest, signature, link_of(payload, signature))
        return Checkpoint(seq, digest, at, signer.key_id, self._public, signature, prev)

    def _prev(self, store: SQLStore, head: Head) -> str:
        """The link of the newest checkpoint, which the next one commits to. When the
        transaction found the log's head where this sealer's last checkpoint signed it,
        that checkpoint is the newest (checkpoints sign the head of their transaction,
        one per seq), and its link is kept; else the newest is read and hashed."""
        last = self._last
        if last is not None and head.before == last[:2]:
            return last[3]
        newest = store.newest_checkpoint()
        if newest is None:
            return GENESIS
        if last is not None and last[0] == newest[0] and last[2] == newest[5]:
            return last[3]
        return Checkpoint(*newest).link()

    def sealed(self, checkpoint: Checkpoint) -> None:
        """After the commit: the head to ``HOME/checkpoint``, unless a newer one is there;
        and its link kept for the next checkpoint (another thread's seal may have come
        between: then nothing is kept)."""
        sealing = self._sealing
        if sealing is not None and sealing[2] == checkpoint.signature:  # the same one
            self._last = sealing
        if self._file is None:
            self._file = HeadFile(os.fspath(self.home / FILE))
        self._file.put(checkpoint)

    def close(self) -> None:
        """Close ``HOME/checkpoint`` and its folder, kept open between writes."""
        if self._file is not None:
            self._file.close()


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
            made = sealer.seal(vault.store, Head(seq, digest))
    checkpoint = made or Checkpoint(*newest)  # type: ignore[misc]
    sealer.sealed(checkpoint)
    return checkpoint
