"""Publishing (SPEC §3): a request to publish (:class:`NewVersion`), its checks, the next
version of a tool's chain, rollback, and the building blocks importers write with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from toolvault import spec as specs
from toolvault import validate
from toolvault.errors import InvalidInput, NotFound, PermissionDenied, TooLarge
from toolvault.models import Published, Version
from toolvault.service import expectations
from toolvault.service.base import ServiceBase
from toolvault.spec import Kind, Spec
from toolvault.store.sql import utcnow

if TYPE_CHECKING:
    from toolvault.signing import Signer


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
    # None: read from the content's header (toolvault.describe), never by running it
    description: str | None = None
    usage: str | None = None
    references: Sequence[str] = ()
    transforms: Sequence[str] = ()
    rollback_of: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # A reference that does not resolve is stored as written instead of refused.
    allow_dangling: bool = False
    # Compare-and-set (SPEC §11): publish only while the latest is this spec's version,
    # or only while the tool does not exist (service/expectations.py).
    expect_latest: str | None = None
    expect_new: bool = False

    def __post_init__(self) -> None:
        # Tools are text: a str is welcome too, stored as UTF-8.
        where = str(self.source or self.name)
        object.__setattr__(self, "content", validate.content(self.content, where))


# what Vault.publish takes as keywords: NewVersion's fields but the two it names
PUBLISH_FIELDS = tuple(f.name for f in fields(NewVersion) if f.name not in ("name", "content"))


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


def _described(item: NewVersion) -> tuple[str | None, str | None]:
    """The description and usage given, else those of the content's header (read, never
    run: SPEC §10). Here rather than in ``check`` so that every writer (publish, ingest,
    legacy stores, packs appended to a chain) fills them, and only for a new version."""
    if item.description is not None and item.usage is not None:
        return item.description, item.usage
    from toolvault.describe import extract

    found = extract(item.content)
    return item.description or found[0], item.usage or found[1]


def _signed(v: Version, signer: Signer) -> Version:
    from toolvault.signing import payload, version_fields

    signature = signer.sign(payload(version_fields(v)))
    return replace(v, signature=signature, key_id=signer.key_id)


class Publishing(ServiceBase):
    """Publishing new versions, one or many in one transaction, and rolling back."""

    # -- writes ---------------------------------------------------------------------------

    def publish(self, name: str, content: bytes | str, **fields: object) -> Published:
        """Publish ``content`` (bytes, or a str stored as UTF-8) as the next version of
        ``name`` (SPEC §3); ``fields`` are those of :class:`NewVersion`."""
        validate.publish_fields(fields, PUBLISH_FIELDS)
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
        checked = [self.check(item) for item in validate.requests(items, NewVersion)]
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
                    description=old.description,  # as it was, given or read
                    usage=old.usage,
                    rollback_of=version,
                    references=(old.ref,),
                )
            ]
        )[0]

    def _new_owner(self, item: NewVersion) -> str:
        if self.principal is not None and not self.principal.admin:
            return self.principal.name  # a principal cannot create tools for someone else
        return item.owner or (self.principal.name if self.principal else self.config.owner)

    def _may_publish(self, name: str, chain: _Chain) -> None:
        """:meth:`_may_write` for a publish: a maintainer may publish, but not to a retired
        tool, which publishing would bring back (SPEC §11: retiring is the owner's)."""
        if self._may_write(chain.owner, name) == "maintainer" and chain.lifecycle == "retired":
            raise PermissionDenied(
                f"tool '{name}' is retired; only its owner ({chain.owner}) or an admin may "
                "bring it back by publishing, not a maintainer",
                {"tool": name, "owner": chain.owner, "lifecycle": "retired"},
            )

    def _authors(self, item: NewVersion) -> tuple[str, str | None]:
        """(created_by, claimed_by) of a new version. Through the daemon the author is the
        token's principal, and another author the client named is kept as claimed_by
        (SPEC §11); locally the author is who the request names, else the actor."""
        if self.principal is None:
            return item.created_by or self.actor, None
        claimed = item.created_by if item.created_by != self.principal.name else None
        return self.principal.name, claimed

    def check(self, item: NewVersion) -> NewVersion:
        """Validate a publish request (name, text, size, metadata, references) before any
        write; ``created_at`` comes back normalised to UTC (see :mod:`toolvault.validate`)."""
        validate.of_type(item, NewVersion, "each item", "a NewVersion(name, content, …)")
        fields = validate.new_version(item)
        expectations.check(item)
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
                "(raise max_tool_size in config.toml for larger tools)",
                {"name": name, "size": len(data), "limit": limit},
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
                f"reference '{ref}' does not resolve: {exc} "
                "(--allow-dangling stores it as written)",
                {**exc.details, "reference": ref},
            ) from None

    def signer(self, name: str | None) -> Signer | None:
        """The key to sign new versions with: ``name``, else ``sign_with`` from config.toml;
        None when unsigned publishes are allowed, else :class:`PermissionDenied`."""
        name = name or self.config.sign_with
        if name is None:
            if self.config.require_signatures:
                raise PermissionDenied(
                    "this vault requires signatures (require_signatures = true): publish with "
                    "--sign KEY, or set sign_with = KEY in config.toml",
                    {"needs": "signature"},
                )
            return None
        return self.keys.load(name)

    def record_import(self, added: Sequence[Version], tools: Iterable[str], **details: Any) -> None:
        """The one audit entry of an import: the versions it added (with the digests
        verify holds them to), the resulting owner and lifecycle of every tool it
        touched, with its lifecycle message and creation time (which verify replays), and
        whatever else describes the source."""
        from toolvault.signing import audit_record

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
        self.store.insert_versions(stored, blobs)
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
        self._may_publish(item.name, chain)
        expectations.hold(self, item, chain)  # under the write lock: what it read still holds
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
        created_by, claimed_by = self._authors(item)
        described = _described(item)
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
            created_by=created_by,
            owner=owner,
            origin=item.origin,
            session_id=item.session_id,
            prompt=item.prompt,
            message=item.message,
            references=tuple(item.references),
            transforms=tuple(item.transforms),
            rollback_of=item.rollback_of,
            description=described[0],
            usage=described[1],
            claimed_by=claimed_by,
        )
        if signer is not None:
            version = _signed(version, signer)
        warnings = expectations.older_base(item, chain.latest, chain.latest_sha256)
        chain.advance(owner, version.version, sha)
        if audit:
            from toolvault.signing import audit_record  # the digests verify holds it to

            self.record("publish", item.name, version.version, audit_record(version))
        return Published(item.name, version.version, sha, True, warnings, claimed_by), version
