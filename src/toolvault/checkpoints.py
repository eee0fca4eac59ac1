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
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolvault.errors import IntegrityError, InvalidInput, NotFound, ToolvaultError
from toolvault.hashing import GENESIS, audit_text, canonical
from toolvault.models import Problem
from toolvault.signing import Signer, decode_public, encode_public, key_id, verify_signature

if TYPE_CHECKING:
    from collections.abc import Iterator

    from toolvault.config import Config
    from toolvault.store.base import SQLStore
    from toolvault.vault import Vault

FORMAT = "toolvault-checkpoint/1"
KEY_FILE = "keys/vault.pem"  # not NAME.key: 'keys list' and 'keys generate' never touch it
FILE = "checkpoint"
WITNESSED = "witnessed"  # a client's remembered heads, one file per daemon URL
WITNESS = "the witness"  # how problems name a head given to verify --since
KIND = "checkpoint"  # the kind of every problem this module reports
MAX_SEQ = 2**31 - 1  # PostgreSQL's INTEGER, the audit log's sequence numbers
HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed head of the audit log: entry ``seq`` has hash ``hash`` (seq 0, GENESIS:
    the empty log), signed at ``at`` by the vault key ``key_id`` (``public_key``), after
    the checkpoint whose :meth:`link` is ``prev`` (GENESIS: the first)."""

    seq: int
    hash: str
    at: str
    key_id: str
    public_key: str
    signature: str
    prev: str

    def payload(self) -> bytes:
        """The exact bytes the signature covers: canonical JSON of the head, the signer
        and the checkpoint before."""
        return signed_bytes(self.seq, self.hash, self.at, self.key_id, self.prev)

    def link(self) -> str:
        """What the next checkpoint's ``prev`` is: the hash of this one, signature too."""
        return link(self.seq, self.hash, self.at, self.key_id, self.prev, self.signature)

    def row(self) -> tuple[Any, ...]:
        """The database row (``CHECKPOINT_COLUMNS`` order)."""
        return (
            self.seq,
            self.hash,
            self.at,
            self.key_id,
            self.public_key,
            self.signature,
            self.prev,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``toolvault checkpoint`` and of ``HOME/checkpoint``."""
        return {
            "format": FORMAT,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "signature": self.signature,
            "prev": self.prev,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "a checkpoint") -> Checkpoint:
        """A checkpoint from its JSON shape; :class:`InvalidInput` saying what is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InvalidInput(f"{where} is not a toolvault checkpoint: {SHAPE}")
        seq = data.get("seq")
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise InvalidInput(f"{where}: seq must be a whole number from 0 to {MAX_SEQ}")
        digest, prev = _hex(data, "hash", where), _hex(data, "prev", where)
        fields = [data.get(k) for k in ("at", "key_id", "public_key", "signature")]
        texts = [f for f in fields if isinstance(f, str) and f]
        if len(texts) != len(fields):
            raise InvalidInput(f"{where}: at, key_id, public_key and signature must be text")
        at, kid, public, signature = texts
        return cls(seq, digest, at, kid, public, signature, prev)

    def why_invalid(self) -> str | None:
        """Why the signature does not hold under the checkpoint's own public key, or None."""
        try:
            raw = decode_public(self.public_key)
        except InvalidInput as exc:
            return f"its public key is unusable ({exc})"
        if key_id(raw) != self.key_id:
            return f"it names key {self.key_id}, but its public key is key {key_id(raw)}"
        try:
            payload = self.payload()
        except TypeError:  # a field made a number or bytes in the database
            return "its fields are not text"
        if not verify_signature(_public_object(raw), self.signature, payload):
            return f"its signature does not verify under key {self.key_id}"
        return None


def _hex(data: dict[str, Any], name: str, where: str) -> str:
    found = data.get(name)
    if not isinstance(found, str) or len(found) != 64 or not HEX.issuperset(found):
        raise InvalidInput(f"{where}: {name} must be 64 lowercase hex digits")
    return found


SHAPE = (
    'give the JSON \'toolvault checkpoint\' prints: {"format": "toolvault-checkpoint/1", '
    '"seq", "hash", "at", "key_id", "public_key", "signature", "prev"}'
)


def signed_bytes(seq: int, digest: str, at: str, kid: str, prev: str) -> bytes:
    """The canonical JSON a checkpoint's signature covers."""
    return canonical(
        {"format": FORMAT, "seq": seq, "hash": digest, "at": at, "key_id": kid, "prev": prev}
    )


def link(seq: int, digest: str, at: str, kid: str, prev: str, signature: str) -> str:
    """The hash by which the next checkpoint commits to this one: SHA-256 of its signed
    bytes followed by its signature (the bytes end in ``}``, so the two cannot run
    into each other)."""
    data = signed_bytes(seq, digest, at, kid, prev) + signature.encode()
    return hashlib.sha256(data).hexdigest()


_PUBLIC: dict[bytes, Any] = {}


def _public_object(raw: bytes) -> Any:
    """The key object of a public key, built once per key (verify checks many)."""
    found = _PUBLIC.get(raw)
    if found is None:
        from toolvault.signing import public_key

        found = _PUBLIC[raw] = public_key(raw)
    return found


# -- reading a checkpoint given by the user ----------------------------------------------------


def load(text: str) -> Checkpoint:
    """A checkpoint given as its JSON (text starting with ``{``) or as a file holding it
    (``verify --since``)."""
    where = "the checkpoint given"
    if not text.lstrip().startswith("{"):
        where = text
        try:
            text = Path(text).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the checkpoint file {where}: {exc}; {SHAPE}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{where} is not JSON; {SHAPE}") from None
    return Checkpoint.from_dict(data, where)


def read_file(path: Path) -> Checkpoint | None:
    """The checkpoint a file holds, None when there is no file; InvalidInput when it
    cannot be read or is no checkpoint."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput(f"{path} is not JSON") from None
    found = data.get("checkpoint") if isinstance(data, dict) and "checkpoint" in data else data
    return Checkpoint.from_dict(found, str(path))


# -- the vault key ------------------------------------------------------------------------------


def key_path(home: Path, config: Config) -> Path:
    """Where the vault key is: ``checkpoint_key`` in config.toml (several daemons on one
    PostgreSQL may share one key file), else ``HOME/keys/vault.pem``."""
    chosen = config.raw_get("checkpoint_key")
    if chosen is None:
        return home / KEY_FILE
    if not isinstance(chosen, str) or not chosen.strip():
        raise InvalidInput(
            f"{home / 'config.toml'}: checkpoint_key must be the path of the vault key, "
            'e.g. checkpoint_key = "/etc/toolvault/vault.pem"'
        )
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else home / path


def listed_keys(home: Path, config: Config) -> dict[str, str]:
    """key id -> public key of the keys ``checkpoint_keys`` in config.toml lists: the
    vault keys of the other daemons that write to the same PostgreSQL."""
    listed = config.raw_get("checkpoint_keys", [])
    if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
        raise InvalidInput(
            f"{home / 'config.toml'}: checkpoint_keys must be a list of public keys, "
            'e.g. checkpoint_keys = ["ed25519:…"]'
        )
    found = {}
    for text in listed:
        try:
            found[key_id(decode_public(text))] = text.strip()
        except InvalidInput as exc:
            raise InvalidInput(f"{home / 'config.toml'}: checkpoint_keys: {exc}") from None
    return found


def load_key(path: Path) -> Signer:
    """The vault key at ``path``: an Ed25519 private key in PEM, readable by its owner only."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise InvalidInput(
                f"the vault key {path} can be read by others (mode {mode:o}); "
                f"make it private: chmod 600 {path}"
            )
        private = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm, OSError) as exc:
        raise InvalidInput(f"{path} is not a usable vault key: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise InvalidInput(f"{path} is not an Ed25519 key; the vault key must be one")
    return Signer("vault", private)


def make_key(path: Path) -> Signer:
    """A new vault key at ``path`` (folder 0700, file 0600); the key already there when
    another process made it first."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(path)
    except OSError as exc:
        raise ToolvaultError(f"cannot create the vault key {path}: {exc}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return Signer("vault", private)


def _missing_key(path: Path, newest: Checkpoint) -> NotFound:
    return NotFound(
        f"the vault key {path} is missing, and this vault's checkpoints are signed with key "
        f"{newest.key_id} ({newest.public_key}); nothing was written. Restore the file from "
        "a backup of HOME/keys (chmod 600), or point checkpoint_key in config.toml at it; "
        "if it is lost for good, 'toolvault checkpoint --new-key' makes a new one (then list "
        "the old public key under checkpoint_keys in config.toml so that verify still "
        "checks the older checkpoints)"
    )


# -- sealing each write -------------------------------------------------------------------------


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
                    raise _missing_key(path, Checkpoint(*newest))
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


def new_key(vault: Vault) -> dict[str, str]:
    """Make a vault key where the vault looks for it, when there is none: for a vault
    whose key is lost for good, or a daemon that signs with a key of its own."""
    path = key_path(vault.home, vault.config)
    if path.exists():
        raise InvalidInput(f"the vault key {path} exists already; a vault has one key per home")
    signer = make_key(path)
    return {
        "path": str(path),
        "key_id": signer.key_id,
        "public_key": encode_public(signer.public_raw),
    }


# -- verify -------------------------------------------------------------------------------------


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


# -- daemons and their clients ------------------------------------------------------------------


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
        f"{path} to accept its log as it is now"
    )
