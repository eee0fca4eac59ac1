"""The vault key: where it is, loading and making it, and the keys config.toml lists."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from toolvault.checkpoints.model import Checkpoint
from toolvault.errors import InvalidInput, NotFound, ToolvaultError
from toolvault.signing import Signer, decode_public, encode_public, key_id

if TYPE_CHECKING:
    from toolvault.config import Config
    from toolvault.vault import Vault

KEY_FILE = "keys/vault.pem"  # not NAME.key: 'keys list' and 'keys generate' never touch it


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


def missing_key(path: Path, newest: Checkpoint) -> NotFound:
    return NotFound(
        f"the vault key {path} is missing, and this vault's checkpoints are signed with key "
        f"{newest.key_id} ({newest.public_key}); nothing was written. Restore the file from "
        "a backup of HOME/keys (chmod 600), or point checkpoint_key in config.toml at it; "
        "if it is lost for good, 'toolvault checkpoint --new-key' makes a new one (then list "
        "the old public key under checkpoint_keys in config.toml so that verify still "
        "checks the older checkpoints)"
    )


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
