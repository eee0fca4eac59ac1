"""The service: every operation of toolvault, over a store and the commands/ tree.

Front ends (CLI, HTTP daemon, library users) call these methods and render the
dataclasses they return. Nothing here knows about click or HTTP.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from toolvault import damage, integrity, validate
from toolvault import spec as specs
from toolvault.checkpoints import Sealer
from toolvault.config import Config, make_home, resolve_home
from toolvault.errors import (
    Conflict,
    InvalidInput,
    InvalidSpec,
    NotFound,
    PermissionDenied,
    TooLarge,
    ToolvaultError,
)
from toolvault.materialize import CommandsTree, ToolView
from toolvault.models import (
    AuditEntry,
    Diff,
    Entry,
    Label,
    Migration,
    Principal,
    Published,
    Report,
    Token,
    Tool,
    TrustedKey,
    Version,
    Yank,
)
from toolvault.signing import (
    KeyInfo,
    KeyRing,
    Signer,
    audit_record,
    decode_public,
    payload,
    verify_signature,
    version_fields,
)
from toolvault.spec import Kind, Spec
from toolvault.store.base import SQLStore, utcnow

if TYPE_CHECKING:
    from toolvault.checkpoints import Checkpoint

# verify checks a vault of at least this many versions in several processes at once,
# never more than MAX_WORKERS (their parts stay well within integrity.MAX_PARTS)
PARALLEL_FROM = 5_000
MAX_WORKERS = 8


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A request to publish ``content`` as the next version of ``name``.

    ``content`` is the tool's text: bytes, or a ``str`` (stored encoded as UTF-8).
    ``source`` names where the content came from, for error messages only.
    """

    name: str
    content: bytes
    executable: bool | None = None
    source: str | None = None
    owner: str | None = None
    origin: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    session_id: str | None = None
    prompt: str | None = None
    message: str | None = None
    references: Sequence[str] = ()
    transforms: Sequence[str] = ()
    rollback_of: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # A reference that does not resolve is stored as written instead of refused.
    allow_dangling: bool = False

    def __post_init__(self) -> None:
        # Tools are text: a str is welcome too, stored as UTF-8.
        where = str(self.source or self.name)
        object.__setattr__(self, "content", validate.content(self.content, where))


@dataclass(slots=True)
class _Chain:
    """Where a tool's chain stands during a write (``owner`` None: a new tool)."""

    owner: str | None = None
    lifecycle: str = "active"
    head: int = 0  # the highest number, yanked or not (0: none yet)
    head_sha256: str | None = None
    latest: int = 0  # the newest that is not yanked
    latest_sha256: str | None = None

    def advance(self, owner: str, number: int, sha256: str) -> None:
        """A new version was appended: it is head and latest."""
        self.owner = owner
        self.head = self.latest = number
        self.head_sha256 = self.latest_sha256 = sha256


class Vault:
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
        self.keys = KeyRing(home)
        self._config: Config | None = None
        # every write transaction ends by signing the audit log's new head (checkpoints.py)
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
                    "or point --home / TOOLVAULT_HOME at an existing one"
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

    @property
    def config(self) -> Config:
        """Settings from ``config.toml``, read on first use."""
        if self._config is None:
            self._config = Config.load(self.home)
        return self._config

    @property
    def actor(self) -> str:
        """Who this vault's writes are attributed to in the audit log."""
        return self._actor or self.config.owner

    # -- reads ------------------------------------------------------------------------

    def get(self, spec: str | Spec, *, content: bool = False) -> Version:
        """The version a spec names (SPEC §2); ``content=True`` reads its bytes too."""
        parsed = spec if isinstance(spec, Spec) else specs.parse(spec)
        if parsed.kind is Kind.VERSIONS:
            raise InvalidSpec(
                f"'{parsed}' names the version listing, not one version; "
                f"use 'toolvault versions {parsed.name}' or 'toolvault cat {parsed}'"
            )
        found = self._find(parsed, content)
        if found is None:
            raise NotFound(self._missing(parsed))
        return found

    def cat(self, spec: str | Spec) -> Version:
        """The version a spec names, with its content."""
        return self.get(spec, content=True)

    def tool(self, name: str) -> Tool:
        """A tool's summary, or :class:`NotFound` naming similar tools."""
        found = self.store.tool(specs.parse_name(name))
        if found is None:
            raise NotFound(self._no_tool(name))
        return found

    def tools(self) -> list[Tool]:
        """Every tool, by name."""
        return self.store.tools()

    def versions(self, name: str) -> list[Version]:
        """Every version of a tool, oldest first."""
        name = specs.parse_name(name)
        found = self.store.versions(name)
        if not found:
            raise NotFound(self._no_tool(name))
        return found

    def version_listing(self, name: str) -> list[dict[str, Any]]:
        """Every version of a tool in its JSON shape (``Version.to_dict()``) with
        ``yanked`` (the reason or None), oldest first: what ``versions --json`` prints
        and the daemon serves."""
        name = specs.parse_name(name)
        found = self.store.version_dicts(name)
        if not found:
            raise NotFound(self._no_tool(name))
        return _with_yanks(found, self.store.yanks(name))

    def all_version_listing(self) -> list[dict[str, Any]]:
        """Every version of every tool as :meth:`version_listing` shows them
        (``ls --all --json``)."""
        found = [v.to_dict() for v in self.store.all_versions()]
        return _with_yanks(found, self.store.yanks())

    def all_versions(self) -> list[Version]:
        """Every version of every tool."""
        return list(self.store.all_versions())

    def labels(self, name: str | None = None) -> list[Label]:
        """Current labels of one tool, or of every tool."""
        return self.store.labels(None if name is None else self.tool(name).name)

    def yanks(self, name: str | None = None) -> list[Yank]:
        """Yanked versions of one tool, or of every tool."""
        return self.store.yanks(None if name is None else self.tool(name).name)

    def yank_of(self, version: Version) -> Yank | None:
        """The yank record of a version, if it was yanked."""
        return next(
            (y for y in self.store.yanks(version.name) if y.version == version.version), None
        )

    def refs_report(self, spec: str, reverse: bool = False) -> dict[str, Any]:
        """What a version references, or what references it (``refs [--reverse] --json``)."""
        from toolvault import lineage

        return lineage.refs_report(self, spec, reverse)

    def describe(self, spec: str | Spec) -> dict[str, Any]:
        """Everything ``show`` prints about a version: its fields, its signature status,
        its yank, the labels on it, and its tool (the JSON shape of ``show --json``)."""
        version = self.get(spec)
        tool = self.tool(version.name)
        yanked = self.yank_of(version)
        labels = [
            lb.label for lb in self.store.labels(version.name) if lb.version == version.version
        ]
        return {
            **version.to_dict(),
            "signature_status": self.signature_status(version),
            "yanked": yanked.reason if yanked else None,
            "labels": labels,
            "tool": {**tool.to_dict(), "lifecycle_message": tool.lifecycle_message},
        }

    def audit(self, name: str | None = None) -> list[AuditEntry]:
        """The audit log, or the entries about one tool."""
        return self.store.audit(None if name is None else specs.parse_name(name))

    def trusted_keys(self) -> list[TrustedKey]:
        """The trust store."""
        return self.store.trusted_keys()

    def signature_status(self, v: Version) -> str:
        """``unsigned``, ``valid (key NAME)``, ``untrusted key ID`` or ``INVALID …``."""
        validate.of_type(v, Version, "signature_status's argument", "a Version from get()")
        if not v.signature:
            return "unsigned"
        key = next((k for k in self.store.trusted_keys() if k.key_id == v.key_id), None)
        if key is None:
            return f"untrusted key {v.key_id}"
        try:
            public = decode_public(key.public_key)
        except InvalidInput:
            return f"INVALID: trusted key {key.name} is damaged ('toolvault verify' says how)"
        if verify_signature(public, v.signature, payload(version_fields(v))):
            return f"valid (key {key.name})"
        return f"INVALID: does not verify with key {key.name}"

    def diff(self, old: str | Spec, new: str | Spec | None = None, context: int = 3) -> Diff:
        """Unified diff from ``old`` to ``new``; with one spec, from its previous version."""
        import difflib

        validate.of_type(context, int, "context", "a number of lines such as 3")

        older: Version | None
        if new is None:
            newer = self.cat(old)
            prev = newer.previous_version
            # A first version is diffed against nothing (SPEC §11): no invented version 0.
            older = self.cat(Spec(newer.name, Kind.NUMBER, prev)) if prev else None
        else:
            older, newer = self.cat(old), self.cat(new)
        lines = difflib.unified_diff(
            older.text.splitlines(keepends=True) if older else [],
            newer.text.splitlines(keepends=True),
            fromfile=f"{older.name}:{older.version}" if older else "/dev/null",
            tofile=f"{newer.name}:{newer.version}",
            n=context,
        )
        return Diff(older, newer, tuple(_terminated(lines)))

    def runnable_path(self, version: Version) -> Path | None:
        """The version's file in ``commands/.history`` if it is intact, else None."""
        return self.tree.runnable(version.name, version.version, version.sha256)

    def migrations(self) -> list[Migration]:
        """Every schema migration with its state. Writes nothing."""
        return self.store.migrations()

    # -- writes ---------------------------------------------------------------------------

    def publish(self, name: str, content: bytes | str, **fields: object) -> Published:
        """Publish ``content`` (bytes, or a str stored as UTF-8) as the next version of
        ``name`` (SPEC §3); ``fields`` are those of :class:`NewVersion`."""
        validate.publish_fields(fields)
        return self.publish_many([NewVersion(name, content, **fields)])[0]  # type: ignore[arg-type]

    def publish_many(
        self, items: Iterable[NewVersion], *, sign_with: str | None = None
    ) -> list[Published]:
        """Publish several contents in one transaction: all of them or, on error, none.

        ``sign_with`` names a key in ``keys/`` (default: ``sign_with`` in config.toml).
        """
        if sign_with is not None:  # a daemon's keys sign what its admins choose
            validate.of_type(sign_with, str, "sign_with", "the name of a key in keys/")
            self._require_admin("choose the key that signs a publish")
        checked = [self.check(item) for item in validate.requests(items)]
        if not checked:
            return []
        signer = self.signer(sign_with)
        now = utcnow()
        with self.store.write():
            results = [p for p, _ in self.append_versions(checked, now, signer)]
        self.refresh_tree({r.name for r in results})  # unchanged ones may have been reactivated
        return results

    def rollback(
        self,
        name: str,
        version: int | str,
        *,
        message: str | None = None,
        created_by: str | None = None,
    ) -> Published:
        """Publish an earlier version's content again as a new version (SPEC §3);
        ``version`` is its number or any selector of the tool (``previous``, ``-2``, a label)."""
        name = specs.parse_name(name)
        validate.of_type(
            version, (int, str), "version", "a number or a selector such as 'previous'"
        )
        wanted = (
            Spec(name, Kind.NUMBER, version) if isinstance(version, int) else f"{name}:{version}"
        )
        old = self.cat(wanted)
        version = old.version
        assert old.content is not None
        return self.publish_many(
            [
                NewVersion(
                    old.name,
                    old.content,
                    executable=old.executable,
                    origin=f"rollback:{old.ref}",
                    created_by=created_by,
                    message=message or f"rollback to version {version}",
                    rollback_of=version,
                    references=(old.ref,),
                )
            ]
        )[0]

    # -- governance ---------------------------------------------------------------------------

    def label(self, spec: str | Spec, label: str) -> Label:
        """Point ``label`` of the spec's tool at the spec's version (create or move)."""
        specs.validate_label(label)
        target = self.get(spec)
        with self.store.write():
            self._may_change(target.name)
            old = self.store.label(target.name, label)
            lab = Label(target.name, label, target.version, utcnow(), self.actor)
            self.store.set_label(lab)
            details = {"label": label, "version": target.version, "from": old and old.version}
            self.record("label", target.name, target.version, details)
        return lab

    def delete_label(self, name: str, label: str) -> None:
        """Remove a label."""
        validate.of_type(label, str, "label", "a text such as 'stable'")
        tool = self.tool(name)
        with self.store.write():
            self._may_change(tool.name)
            old = self.store.label(tool.name, label)
            if old is None:
                raise NotFound(self._missing(Spec(tool.name, Kind.LABEL, label)))
            self.store.delete_label(tool.name, label)
            self.record("unlabel", tool.name, old.version, {"label": label})

    def yank(self, spec: str | Spec, reason: str) -> Yank:
        """Mark a version as not to be used: latest, previous and -K skip it from now on."""
        if isinstance(reason, str) and not reason.strip():
            raise InvalidInput("a yank needs a reason: --reason 'why it must not be used'")
        validate.given(validate.REASON, reason)
        target = self.get(spec)
        with self.store.write():
            self._may_change(target.name)
            if self.yank_of(target):
                raise Conflict(f"{target.name}:{target.version} is yanked already")
            y = Yank(target.name, target.version, reason, utcnow(), self.actor)
            self.store.yank(y)
            self.record("yank", target.name, target.version, {"reason": reason})
        self.refresh_tree({target.name})
        return y

    def set_lifecycle(self, name: str, lifecycle: str, message: str | None = None) -> Tool:
        """Deprecate, retire or reactivate a tool (retired tools leave PATH, keep history)."""
        actions = {"deprecated": "deprecate", "retired": "retire", "active": "reactivate"}
        if not isinstance(lifecycle, str) or lifecycle not in actions:
            raise InvalidInput(f"lifecycle must be one of {', '.join(actions)}, not {lifecycle!r}")
        validate.text(validate.MESSAGE, message)
        tool = self.tool(name)
        with self.store.write():
            self._may_change(tool.name)
            if tool.lifecycle == lifecycle:
                return tool
            self.store.set_lifecycle(tool.name, lifecycle, message, utcnow())
            self.record(actions[lifecycle], tool.name, None, {"message": message})
        self.refresh_tree({tool.name})
        return self.tool(tool.name)

    def transfer(self, name: str, new_owner: str) -> Tool:
        """Make ``new_owner`` the owner of a tool (audited)."""
        validate.given(validate.OWNER, new_owner)
        tool = self.tool(name)
        with self.store.write():
            self._may_change(tool.name)
            self.store.set_owner(tool.name, new_owner, utcnow())
            self.record("owner", tool.name, None, {"from": tool.owner, "to": new_owner})
        self.refresh_tree({tool.name})
        return self.tool(tool.name)

    def generate_key(self, name: str, *, trust: bool = True) -> KeyInfo:
        """Create a signing key in ``keys/``; by default also trust its public half."""
        info = self.keys.generate(name)
        if trust:
            try:
                self.trust(name, info.public)
            except BaseException:
                # All or nothing: a key left untrusted would take the name for good.
                self.keys.discard(name)
                raise
        return info

    def trust(self, name: str, public: str) -> TrustedKey:
        """Trust a public key (``ed25519:<base64>``) under a name."""
        from toolvault.signing import check_key_name, decode_public, key_id

        self._require_admin("change the trust store")
        check_key_name(name)
        validate.of_type(public, str, "the public key", "'ed25519:<base64>'")
        kid = key_id(decode_public(public))
        with self.store.write():
            for k in self.store.trusted_keys():
                if (k.name, k.key_id) == (name, kid):
                    # Trusting what is trusted already is a no-op, not a conflict.
                    return replace(k, created=False)
                if k.name == name or k.key_id == kid:
                    raise Conflict(_trust_conflict(k, name))
            key = TrustedKey(name, kid, public.strip(), utcnow())
            self.store.add_trusted_key(key)
            self.record("trust-add", None, None, {"name": name, "key_id": kid})
        return key

    def untrust(self, name: str) -> None:
        """Remove a key from the trust store: versions it signed no longer verify."""
        self._require_admin("change the trust store")
        validate.of_type(name, str, "the key name", "a name from 'toolvault trust list'")
        with self.store.write():
            key = next((k for k in self.store.trusted_keys() if k.name == name), None)
            if key is None:
                have = ", ".join(k.name for k in self.store.trusted_keys()) or "none"
                raise NotFound(f"no trusted key named {name!r} (trusted: {have})")
            self.store.remove_trusted_key(name)
            self.record("trust-remove", None, None, {"name": name, "key_id": key.key_id})

    # -- daemon tokens and rights --------------------------------------------------------------

    def create_token(
        self, principal: str, *, admin: bool = False, read_only: bool = False
    ) -> tuple[Token, str]:
        """A new bearer token for ``principal``; the secret is returned once, never stored."""
        import secrets

        self._require_admin("create tokens")
        if any(c.isspace() for c in validate.given(validate.PRINCIPAL, principal)):
            raise InvalidInput(f"invalid principal {principal!r}: give a name without spaces")
        secret = "tv_" + secrets.token_urlsafe(32)
        token = Token(secrets.token_hex(6), principal, admin, read_only, utcnow(), None)
        with self.store.write():
            self.store.insert_token(token, _token_hash(secret))
            details = {
                "id": token.id,
                "principal": principal,
                "admin": admin,
                "read_only": read_only,
            }
            self.record("token-create", None, None, details)
        return token, secret

    def tokens(self) -> list[Token]:
        """Every daemon token (without secrets)."""
        self._require_admin("list tokens")
        return self.store.tokens()

    def revoke_token(self, token_id: str) -> Token:
        """Revoke a token: requests that present it get 401 from then on."""
        self._require_admin("revoke tokens")
        validate.of_type(token_id, str, "token_id", "an id from 'toolvault token list'")
        with self.store.write():
            token = next((t for t in self.store.tokens() if t.id == token_id), None)
            if token is None:
                raise NotFound(f"no token with id {token_id!r}; 'toolvault token list' shows them")
            if token.revoked_at is None:
                self.store.revoke_token(token_id, utcnow())
                self.record("token-revoke", None, None, {"id": token_id})
        return next(t for t in self.store.tokens() if t.id == token_id)

    def authenticate(self, secret: str) -> Principal | None:
        """The principal a bearer token stands for, or None (unknown or revoked)."""
        token = self.store.token_by_hash(_token_hash(secret))
        if token is None or token.revoked_at is not None:
            return None
        return Principal(token.principal, token.admin, token.read_only)

    def _may_write(self, owner: str | None, name: str) -> None:
        """A principal publishes new tools and new versions of the tools it owns
        (``owner`` is None for a new tool)."""
        p = self.principal
        if p is None:
            return
        if p.read_only:
            raise PermissionDenied(f"{p.name}'s token is read-only; it cannot change '{name}'")
        if owner is not None and owner != p.name and not p.admin:
            raise PermissionDenied(
                f"tool '{name}' is owned by {owner}, not {p.name}; ask the owner to "
                "transfer it ('toolvault owner') or an admin to make the change"
            )

    def _may_change(self, name: str) -> None:
        """:meth:`_may_write` for a tool that exists; call inside the write transaction,
        so that the owner checked is the owner when the change is written."""
        state = self.store.tool_state(name)
        self._may_write(state and state[0], name)

    def _require_admin(self, what: str) -> None:
        p = self.principal
        if p is not None and not p.admin:
            raise PermissionDenied(f"only an admin may {what}; {p.name} is not one")

    def _new_owner(self, item: NewVersion) -> str:
        if self.principal is not None and not self.principal.admin:
            return self.principal.name  # a principal cannot create tools for someone else
        return item.owner or (self.principal.name if self.principal else self.config.owner)

    def sync(self) -> list[str]:
        """Rebuild ``commands/`` from the database; returns what it had to fix."""
        with self.tree.locked():
            return self.tree.rebuild(self._views(), self._blob)

    # -- verify -------------------------------------------------------------------------------

    def verify(
        self,
        names: Sequence[str] = (),
        *,
        workers: int | None = None,
        since: Checkpoint | None = None,
    ) -> Report:
        """Recompute hashes, chains, the audit log and signatures, compare the tree and
        the governance records with the log; report every problem with its place.

        A big vault is checked by ``workers`` processes at once, this one and forked
        children, which take its parts from a queue (default: one per CPU, for SQLite
        vaults of at least PARALLEL_FROM versions, from a process with no other threads,
        as forking one with threads is unsafe). The signed checkpoints are checked too, and
        ``since`` (a head kept elsewhere) must still be extended by the log."""
        wanted = frozenset(specs.parse_name(n) for n in validate.names(names, "names"))
        if workers is not None:
            validate.of_type(workers, int, "workers", "a whole number of processes")
        for name in wanted:
            self.tool(name)
        counts = self.store.version_counts(wanted)
        processes = self._workers(workers, counts, wanted)
        parts = integrity.plan(counts, self.store.audit_head()[0], processes)
        check = self._check_part(wanted)
        with integrity.gc_paused():
            shares = integrity.run_parts(parts, check, self.store.after_fork, processes)
            if len({share.head for share in shares}) > 1:  # a write landed between their reads
                shares = [check(integrity.EVERYTHING)]
            with self.store.snapshot():
                problems, checked = integrity.merge(shares, self.store, whole=not wanted)
        if wanted:  # the tree of the other tools was not compared: its files are no strays
            problems = [
                p for p in problems if p.name in wanted or (p.name is None and p.kind != "stray")
            ]
        from toolvault import checkpoints

        anchored, checked["checkpoints"] = checkpoints.check(self, since)
        return Report(checked, (*problems, *anchored))

    def _workers(
        self, workers: int | None, counts: list[tuple[str, int, int]], wanted: frozenset[str]
    ) -> int:
        forkable = (
            self.store.dialect == "sqlite" and hasattr(os, "fork") and threading.active_count() == 1
        )
        if not forkable or wanted:  # named tools are few: one part checks them
            return 1
        if workers is not None:
            return min(max(1, workers), MAX_WORKERS)
        if sum(n for _, n, _ in counts) < PARALLEL_FROM:
            return 1
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return min(len(usable) if usable else os.cpu_count() or 1, MAX_WORKERS)

    def _check_part(self, wanted: frozenset[str]) -> Callable[[integrity.Part], integrity.Share]:
        tree = self.tree if self.materialize else None
        require = self.config.require_signatures

        def check(part: integrity.Part) -> integrity.Share:
            with self.store.snapshot():
                return integrity.check_part(self.store, tree, part, wanted, require)

        return check

    # -- internals ----------------------------------------------------------------------------

    def _find(self, s: Spec, content: bool) -> Version | None:
        back = s.back
        if back is not None:
            return self.store.back(s.name, back, content)
        if s.kind is Kind.NUMBER:
            assert isinstance(s.value, int)
            found = self.store.version(s.name, s.value, content)
            if found and s.sha256 and not found.sha256.startswith(s.sha256):
                raise NotFound(
                    f"{s.name}:{s.value} has sha256 {found.sha256}, not {s.sha256}; "
                    f"the reference '{s}' does not match this vault"
                )
            return found
        if s.kind is Kind.SHA:
            assert isinstance(s.value, str)
            matches = self.store.by_sha_prefix(s.name, s.value, content)
            if len({m.sha256 for m in matches}) > 1:
                raise InvalidSpec(
                    f"'{s}' is ambiguous: {len(matches)} versions of {s.name} have hashes "
                    "starting with it; give more hex digits"
                )
            return matches[0] if matches else None
        assert isinstance(s.value, str)
        label = self.store.label(s.name, s.value)
        return self.store.version(s.name, label.version, content) if label else None

    def _missing(self, s: Spec) -> str:
        tool = self.store.tool(s.name)
        if tool is None:
            return self._no_tool(s.name)
        have = f"tool '{s.name}' has versions 1..{tool.versions}"
        if tool.versions == 1:
            have = f"tool '{s.name}' has only version 1"
        if tool.latest_version is None and s.back is not None:
            return f"every version of '{s.name}' is yanked; name one by number ({have[5:]})"
        if s.kind is Kind.NUMBER:
            return f"{have}; there is no version {s.value}"
        if s.kind is Kind.SHA:
            return f"{have}; none has a sha256 starting with {s.value}"
        if s.kind is Kind.LABEL:
            names = ", ".join(lb.label for lb in self.store.labels(s.name)) or "none"
            return f"tool '{s.name}' has no label '{s.value}' (labels: {names})"
        return f"{have}; there is no version {s.back} before the latest"

    def _no_tool(self, name: str) -> str:
        import difflib

        names = [t.name for t in self.store.tools()]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; 'toolvault ls' lists tools"
        return f"no tool named '{name}'{hint}"

    def check(self, item: NewVersion) -> NewVersion:
        """Validate a publish request (name, text, size, metadata, references) before any
        write; ``created_at`` comes back normalised to UTC (see :mod:`toolvault.validate`)."""
        validate.of_type(item, NewVersion, "each item", "a NewVersion(name, content, …)")
        fields = validate.new_version(item)
        executable = self.check_content(item.name, item.content, item.source, item.executable)
        refs = [self._resolve_ref(r, item.allow_dangling) for r in fields.pop("references")]
        return replace(item, executable=executable, references=tuple(refs), **fields)

    def check_content(
        self, name: str, data: bytes, source: str | None = None, executable: bool | None = None
    ) -> bool:
        """The checks of :meth:`check` that need no database (name, size, UTF-8 text, no
        NUL byte); returns whether the version is executable (asked for, or ``#!``)."""
        specs.validate_name(name)
        where = source or name
        limit = self.config.max_tool_size
        if len(data) > limit:
            raise TooLarge(
                f"{where} is {len(data):,} bytes; the limit is {limit:,} "
                "(raise max_tool_size in config.toml for larger tools)"
            )
        nul = data.find(b"\0")
        if nul >= 0:
            raise InvalidInput(
                f"{where} is not a text tool: NUL byte at offset {nul} "
                "(tools are UTF-8 text; binaries are not supported)"
            )
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{where} is not UTF-8 text: invalid byte at offset {exc.start} "
                "(tools are UTF-8 text; binaries are not supported)"
            ) from None
        return bool(executable) or data.startswith(b"#!")

    def _resolve_ref(self, ref: str, allow_dangling: bool = False) -> str:
        try:
            return self.get(ref).ref
        except NotFound as exc:
            if allow_dangling:
                return ref  # well-formed (get parsed it), kept as written
            raise NotFound(
                f"reference '{ref}' does not resolve: {exc} (--allow-dangling stores it as written)"
            ) from None

    def signer(self, name: str | None) -> Signer | None:
        """The key to sign new versions with: ``name``, else ``sign_with`` from config.toml;
        None when unsigned publishes are allowed, else :class:`PermissionDenied`."""
        name = name or self.config.sign_with
        if name is None:
            if self.config.require_signatures:
                raise PermissionDenied(
                    "this vault requires signatures (require_signatures = true): publish with "
                    "--sign KEY, or set sign_with = KEY in config.toml"
                )
            return None
        return self.keys.load(name)

    # -- building blocks for importers (call inside ``store.write()``) -----------------------

    def record(
        self, action: str, tool: str | None, version: int | None, details: dict[str, Any]
    ) -> None:
        """Append an audit entry, attributed to :attr:`actor`, to the open transaction."""
        self.store.append_audit(utcnow(), self.actor, action, tool, version, details)

    def record_import(self, added: Sequence[Version], tools: Iterable[str], **details: Any) -> None:
        """The one audit entry of an import: the versions it added (with the digests
        verify holds them to), the resulting owner and lifecycle of every tool it
        touched, with its lifecycle message and creation time (which verify replays), and
        whatever else describes the source."""
        states = self.store.tool_records(tools)
        self.record(
            "import",
            None,
            None,
            {
                **details,
                "added": [{"name": v.name, "version": v.version, **audit_record(v)} for v in added],
                "tools": {
                    n: {"owner": o, "lifecycle": lc, "lifecycle_message": m, "created_at": c}
                    for n, (o, lc, m, c) in sorted(states.items())
                },
            },
        )

    def append_version(
        self, item: NewVersion, now: str, signer: Signer | None = None, *, audit: bool = True
    ) -> tuple[Published, Version | None]:
        """Store ``item`` as the next version of its tool (or nothing when it equals the
        latest); returns the outcome and the stored version. ``audit=False`` leaves the
        audit entry to the caller (an import records everything it adds in one entry)."""
        return self.append_versions([item], now, signer, audit=audit)[0]

    def append_versions(
        self,
        items: Sequence[NewVersion],
        now: str,
        signer: Signer | None = None,
        *,
        audit: bool = True,
    ) -> list[tuple[Published, Version | None]]:
        """:meth:`append_version` of each item in order, as if one after the other, with
        the tools' state read once and the rows written in three batched statements."""
        chains = self._chains({item.name for item in items})
        outcomes = [self._next_version(item, chains, now, signer, audit) for item in items]
        stored = [v for _, v in outcomes if v is not None]
        blobs = {v.sha256: item.content for item, (_, v) in zip(items, outcomes, strict=True) if v}
        self.store.ensure_tools({v.name: v.owner or "" for v in stored}.items(), now)
        self.store.put_blobs(blobs.items())
        self.store.insert_versions(stored)
        return outcomes

    def _chains(self, names: set[str]) -> dict[str, _Chain]:
        """Where each tool's chain stands: owner, lifecycle, head and latest."""
        chains = {name: _Chain() for name in names}
        for name, (owner, lifecycle) in self.store.tool_states(names).items():
            head, latest = self.store.newest(name), self.store.back(name, 0)
            chains[name] = _Chain(
                owner,
                lifecycle,
                head.version if head else 0,
                head.sha256 if head else None,
                latest.version if latest else 0,
                latest.sha256 if latest else None,
            )
        return chains

    def _next_version(
        self,
        item: NewVersion,
        chains: dict[str, _Chain],
        now: str,
        signer: Signer | None,
        audit: bool,
    ) -> tuple[Published, Version | None]:
        """One item against its tool's chain (which it moves on); rows are written later."""
        sha = hashlib.sha256(item.content).hexdigest()
        chain = chains[item.name]
        self._may_write(chain.owner, item.name)
        if chain.lifecycle == "retired":
            self.store.set_lifecycle(item.name, "active", None, now)  # publishing reactivates
            chain.lifecycle = "active"
            if audit:
                # the tool keeps no message: the entry says so (verify replays it)
                self.record(
                    "reactivate", item.name, None, {"message": None, "reason": "published again"}
                )
        if chain.latest_sha256 == sha:
            return Published(item.name, chain.latest, sha, False), None
        owner = chain.owner or self._new_owner(item)
        version = Version(
            name=item.name,
            version=chain.head + 1,  # the chain goes on from yanked versions too
            sha256=sha,
            size=len(item.content),
            executable=bool(item.executable),
            previous_version=chain.head or None,
            previous_sha256=chain.head_sha256,
            created_at=item.created_at or now,
            recorded_at=now,
            created_by=self.principal.name if self.principal else item.created_by or self.actor,
            owner=owner,
            origin=item.origin,
            session_id=item.session_id,
            prompt=item.prompt,
            message=item.message,
            references=tuple(item.references),
            transforms=tuple(item.transforms),
            rollback_of=item.rollback_of,
        )
        if signer is not None:
            version = _signed(version, signer)
        chain.advance(owner, version.version, sha)
        if audit:
            self.record("publish", item.name, version.version, audit_record(version))
        return Published(item.name, version.version, sha, True), version

    def _blob(self, sha256: str) -> bytes:
        data = self.store.blob(sha256)
        if data is None:
            raise NotFound(f"blob {sha256} is missing from the database; run 'toolvault verify'")
        return data

    def _views(self, names: Iterable[str] | None = None) -> list[ToolView]:
        """What the tree should show of these tools (default: all), read in a few
        queries that see one state."""
        with self.store.snapshot():
            tools = self.store.tools() if names is None else self.store.tools_named(names)
            entries = self.store.entries_of(t.name for t in tools)
        return [_tool_view(t, tuple(entries.get(t.name, ()))) for t in tools]

    def refresh_tree(self, names: set[str], contents: Mapping[str, bytes] | None = None) -> None:
        """Bring the commands/ files of these tools in line with the database (after
        commit). ``contents`` (sha256 -> bytes) is content the caller still holds, which
        is then not read back from the database."""
        if not names or not self.materialize:
            return
        held = contents or {}

        def content(sha256: str) -> bytes:
            found = held.get(sha256)
            return self._blob(sha256) if found is None else found

        try:
            with self.tree.locked():
                for view in self._views(names):
                    self.tree.update(view, content)
        except OSError as exc:
            raise ToolvaultError(
                f"published, but could not update {self.tree.root}: {exc}; "
                "fix the cause and run 'toolvault sync'"
            ) from exc


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


def _terminated(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _signed(v: Version, signer: Signer) -> Version:
    signature = signer.sign(payload(version_fields(v)))
    return replace(v, signature=signature, key_id=signer.key_id)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _tool_view(tool: Tool, entries: tuple[Entry, ...]) -> ToolView:
    """What commands/ shows of a tool: a retired one has no symlink."""
    latest = None if tool.lifecycle == "retired" else tool.latest_version
    return ToolView(tool.name, tool.owner, tool.lifecycle, latest, entries)


def _trust_conflict(there: TrustedKey, name: str) -> str:
    """Why a (name, key) pair cannot be trusted: what the trust store holds instead."""
    if there.name == name:
        return (
            f"the trust store has another key named {name!r} already ({there.key_id}); "
            f"'toolvault trust remove {name}' first, or choose another name"
        )
    return (
        f"the trust store has this key already, as {there.name!r} ({there.key_id}); "
        f"'toolvault trust remove {there.name}' first to trust it as {name!r}"
    )


def _with_yanks(listing: list[dict[str, Any]], yanks: list[Yank]) -> list[dict[str, Any]]:
    """A listing's versions with ``yanked``: a listing must show what not to use."""
    reasons = {(y.name, y.version): y.reason for y in yanks}
    for item in listing:
        item["yanked"] = reasons.get((item["name"], item["version"]))
    return listing
