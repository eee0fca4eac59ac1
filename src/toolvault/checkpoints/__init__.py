"""Signed checkpoints: the audit log anchored outside itself.

The audit log is a hash chain, and SHA-256 needs no key: whoever can write the
database could rewrite an entry and recompute every hash after it, or cut off the
tail. So, as Certificate Transparency's signed tree heads and Sigstore's
checkpoints do, every write transaction ends by signing the log's new head — the
sequence number and hash of its newest entry, and the time — with the *vault
key*, an Ed25519 key kept outside the database (``HOME/keys/vault.pem``, 0600).
The checkpoint is recorded in the database (table ``checkpoints``, append-only)
and, after the commit, written to ``HOME/checkpoint`` (atomically; an older head
never replaces a newer one). Each checkpoint also commits to the one before it
(``prev``: the hash of its signed bytes and signature; GENESIS for the first), so the
checkpoints are a chain of their own and the newest signature covers all of them.

:func:`check` (run once by ``verify``) then holds the log to them: the chain of the
checkpoints recomputed (a hash each), the newest checkpoint's signature under the
vault's key and that of the last checkpoint of every other key (several daemons, a
new key), the entry at each checkpoint's sequence number having its hash, the log not
shorter than the newest, and the file agreeing with the database. (Checking every
signature instead would cost verify ~0.1 ms per write transaction ever made: seconds
for a vault built one publish at a time.)

A head kept elsewhere — printed by ``toolvault checkpoint``, kept in a git commit or
on another machine — is a witness: ``verify --since`` proves the log still extends
it, and clients of a daemon remember the last head they saw and refuse a daemon
whose log no longer extends it (:func:`prove_extension`), as TUF clients refuse a
rollback.

``cryptography`` is imported only inside the functions that sign or verify.

The parts: :mod:`.model` (a checkpoint, its signed bytes, reading one), :mod:`.keys`
(the vault key), :mod:`.sealing` (each write's checkpoint), :mod:`.headfile` (``HOME/checkpoint``),
:mod:`.check` (verify's checks), :mod:`.witness` (daemons and their clients).
"""

from __future__ import annotations

from toolvault.checkpoints.check import KIND, WITNESS, Trust, check, check_rows
from toolvault.checkpoints.headfile import HeadFile, write_newest
from toolvault.checkpoints.keys import KEY_FILE, key_path, listed_keys, load_key, make_key, new_key
from toolvault.checkpoints.model import (
    FILE,
    FORMAT,
    SHAPE,
    Checkpoint,
    link,
    load,
    read_file,
    signed_bytes,
)
from toolvault.checkpoints.sealing import Sealer, current, seal_head
from toolvault.checkpoints.witness import (
    WITNESSED,
    prove_extension,
    refuse,
    remember,
    served,
    witnessed_path,
)

__all__ = [
    "FILE",
    "FORMAT",
    "KEY_FILE",
    "KIND",
    "SHAPE",
    "WITNESS",
    "WITNESSED",
    "Checkpoint",
    "HeadFile",
    "Sealer",
    "Trust",
    "check",
    "check_rows",
    "current",
    "key_path",
    "link",
    "listed_keys",
    "load",
    "load_key",
    "make_key",
    "new_key",
    "prove_extension",
    "read_file",
    "refuse",
    "remember",
    "seal_head",
    "served",
    "signed_bytes",
    "witnessed_path",
    "write_newest",
]
