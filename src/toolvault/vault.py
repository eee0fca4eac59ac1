"""The service: every operation of toolvault, over a store and the commands/ tree.

Front ends (CLI, HTTP daemon, library users) call these methods and render the
dataclasses they return. Nothing here knows about click or HTTP.

:class:`Vault` is composed of the mixins of :mod:`toolvault.service`, one module per
area (reads, publishing, governance, keys and trust, tokens, verify); this module
opens a vault and holds :func:`fetch_tool`. :class:`NewVersion` lives in
:mod:`toolvault.service.publishing` and is importable from here as before.

Importing this module stays light: verify's checks, signing, packs, git and the server
are imported by the methods that use them (the read commands start fast).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from toolvault import damage, validate
from toolvault import spec as specs
from toolvault.config import Config, make_home, resolve_home
from toolvault.errors import InvalidInput, InvalidSpec, NotFound
from toolvault.materialize import CommandsTree
from toolvault.models import Principal, Version
from toolvault.service.auditviews import AuditViews
from toolvault.service.governance import Governing
from toolvault.service.grants import Grants
from toolvault.service.hooks import Hooks
from toolvault.service.imports import Imports
from toolvault.service.keys import KeysAndTrust
from toolvault.service.lineage import Lineages
from toolvault.service.publishing import NewVersion, Publishing
from toolvault.service.reads import Reads
from toolvault.service.search import Searching
from toolvault.service.tokens import Tokens
from toolvault.service.verifying import Verifying
from toolvault.spec import Kind, Spec
from toolvault.store.base import SQLStore

__all__ = ["NewVersion", "Vault", "fetch_tool"]


class Vault(
    Reads,
    Publishing,
    Governing,
    Grants,
    Hooks,
    KeysAndTrust,
    Tokens,
    Verifying,
    Imports,
    Searching,
    Lineages,
    AuditViews,
):
    """A versioned tool vault in a home folder: ``vault.db`` plus ``commands/``."""

    def __init__(
        self,
        home: Path,
        store: SQLStore,
        actor: str | None = None,
        *,
        principal: Principal | None = None,
        materialize: bool = True,
    ) -> None:
        self.home = home
        self.store = store
        self.tree = CommandsTree(home)
        self._config: Config | None = None
        # every write transaction ends by signing the audit log's new head (checkpoints.py)
        from toolvault.checkpoints import Sealer

        self.sealer = store.sealer = Sealer(home, lambda: self.config)
        self._actor = principal.name if principal else actor
        self.principal = principal
        # A shared PostgreSQL vault keeps no commands/ tree by default: several
        # daemons write to it, and each machine's tree would only see its own writes.
        self.materialize = materialize

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        home: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        migrate: bool = True,
        actor: str | None = None,
        db: str | None = None,
    ) -> Vault:
        """Open the vault in ``home`` (default ``$TOOLVAULT_HOME`` or ``~/.toolvault``).

        Pending schema migrations are applied here, once, and nowhere else.
        With ``create=False`` a missing vault is :class:`NotFound` instead of created;
        ``migrate=False`` (for ``db status``) leaves pending migrations pending.
        ``actor`` is who the audit log names for writes (default: the local owner).
        ``db`` (default ``$TOOLVAULT_DB``) is a ``postgresql://`` URL to keep the
        vault in PostgreSQL instead of ``HOME/vault.db``.
        """
        path = resolve_home(home)
        url = db or os.environ.get("TOOLVAULT_DB")
        validate.open_args(create, migrate, db, actor)
        if url:
            return cls._open_postgres(path, url, migrate, actor)
        file = path / "vault.db"
        if not file.exists():
            damage.refuse_lost(path)  # commands/ holds tools: a lost vault, not a new one
            if not create:
                raise NotFound(
                    f"no vault at {path}; run 'toolvault init' to create one, "
                    "or point --home / TOOLVAULT_HOME at an existing one",
                    {"home": str(path)},
                )
            if path.exists() and not path.is_dir():
                raise InvalidInput(f"{path} is not a folder; choose another --home")
            make_home(path, CommandsTree(path).make)  # never its missing parents
        return cls(path, damage.open_sqlite(path, create=create, migrate=migrate), actor)

    @classmethod
    def _open_postgres(cls, home: Path, url: str, migrate: bool, actor: str | None) -> Vault:
        if not url.startswith(("postgresql://", "postgres://")):
            raise InvalidInput(
                f"unsupported database URL {url.split('://')[0]}://…; "
                "give postgresql://USER@HOST:PORT/DB, or leave TOOLVAULT_DB unset for SQLite"
            )
        from toolvault.store.postgres import PostgresStore

        store = PostgresStore.open(url, migrate=migrate)
        make_home(home)  # config.toml and keys/ live here
        vault = cls(home, store, actor, materialize=False)
        vault.materialize = bool(vault.config.raw_get("commands_tree", False))
        return vault

    def as_principal(self, principal: Principal) -> Vault:
        """A view of this vault acting for an authenticated principal (the daemon):
        writes are attributed to it and checked against ownership and its rights."""
        import copy

        self.keys  # noqa: B018 - made once here, so that every request's view shares it
        view = copy.copy(self)  # shares the store, tree, keys and config: built per request
        view.principal, view._actor = principal, principal.name
        return view

    def close(self) -> None:
        """Close the database connection (and HOME/checkpoint, kept open between writes)."""
        self.sealer.close()
        self.store.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def fetch_tool(
    conn: Vault | str | os.PathLike[str], name: str, version: int | None = None
) -> Version:
    """The PRD's call: the latest (``version=None``) or a given version, with content.

    ``conn`` is an open :class:`Vault` or the path of a vault's home folder.
    Raises :class:`NotFound` when the tool or version does not exist.
    """
    validate.of_type(conn, (Vault, str, os.PathLike), "conn", "an open Vault or a home folder")
    if version is not None and (
        not isinstance(version, int) or isinstance(version, bool) or version < 1
    ):
        raise InvalidSpec(f"version must be a whole number >= 1, not {version!r}")
    spec = (
        specs.parse(name) if version is None else Spec(specs.parse_name(name), Kind.NUMBER, version)
    )
    if isinstance(conn, Vault):
        return conn.cat(spec)
    with Vault.open(conn, create=False) as vault:
        return vault.cat(spec)
