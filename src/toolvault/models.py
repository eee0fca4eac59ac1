"""Frozen records returned by the service; the CLI and the server render them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from toolvault.columns import VERSION_FIELDS as VERSION_FIELDS  # re-exported


class Record:
    """Base of the plain records: their JSON shape is their fields."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The record's fields as a dict (its JSON shape)."""
        data: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return data


@dataclass(frozen=True, slots=True)
class Version:
    """One immutable version of a tool (SPEC §1). ``content`` is set only when read."""

    name: str
    version: int
    sha256: str
    size: int
    executable: bool
    previous_version: int | None
    previous_sha256: str | None
    created_at: str
    recorded_at: str
    created_by: str | None = None
    owner: str | None = None
    origin: str | None = None
    session_id: str | None = None
    prompt: str | None = None
    message: str | None = None
    references: tuple[str, ...] = ()
    transforms: tuple[str, ...] = ()
    rollback_of: int | None = None
    signature: str | None = None
    key_id: str | None = None
    description: str | None = None
    usage: str | None = None
    claimed_by: str | None = None  # SPEC §11: the client's created_by, kept beside it
    content: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        """The content as text (tools are UTF-8 by contract)."""
        if self.content is None:
            raise ValueError("this Version was read without its content")
        return self.content.decode("utf-8")

    @property
    def ref(self) -> str:
        """The exact reference form ``name:N@sha256:<hex>``."""
        return f"{self.name}:{self.version}@sha256:{self.sha256}"

    @classmethod
    def from_dict(cls, data: dict[str, Any], content: bytes | None = None) -> Version:
        """Rebuild a version from its JSON shape (the remote client)."""
        # A daemon from before descriptions (SPEC §10) sends neither field.
        fields: dict[str, Any] = {k: data.get(k) for k in VERSION_FIELDS}
        fields["references"] = tuple(fields["references"] or ())
        fields["transforms"] = tuple(fields["transforms"] or ())
        return cls(**fields, content=content)

    def to_dict(self, *, content: bool = False) -> dict[str, Any]:
        """The stable JSON shape of a version; content only when asked for."""
        # Not asdict(): its deep copy cost 50 us a version, the most of a daemon listing.
        data = {name: getattr(self, name) for name in VERSION_FIELDS}
        data["references"] = list(self.references)
        data["transforms"] = list(self.transforms)
        if content:
            data["content"] = self.text
        return data


class Entry(NamedTuple):
    """What the tree needs of one version (a tuple: cheap to build by the thousand)."""

    version: int
    sha256: str
    size: int
    executable: bool
    previous_version: int | None
    previous_sha256: str | None
    created_at: str
    created_by: str | None
    rollback_of: int | None


ENTRY_COLUMNS = ", ".join(Entry._fields)


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool's mutable governance state plus a summary of its versions."""

    name: str
    owner: str
    lifecycle: str
    latest_version: int | None  # newest version that is not yanked
    versions: int
    created_at: str
    updated_at: str
    lifecycle_message: str | None = None
    description: str | None = None  # its latest version's (SPEC §10)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tool:
        """Rebuild a tool summary from its JSON shape (the remote client)."""
        return cls(
            data["name"],
            data["owner"],
            data["lifecycle"],
            data["latest_version"],
            data["versions"],
            data.get("created_at") or "",
            data["updated_at"],
            data.get("lifecycle_message"),
            data.get("description"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``ls --json`` (SPEC §5)."""
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "versions": self.versions,
            "owner": self.owner,
            "lifecycle": self.lifecycle,
            "updated_at": self.updated_at,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a daemon request acts for, from its bearer token."""

    name: str
    admin: bool = False
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Token(Record):
    """A daemon token as listed (the secret itself is never stored)."""

    id: str
    principal: str
    admin: bool
    read_only: bool
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class Published(Record):
    """The outcome of one publish: a new version, or ``created=False`` when unchanged."""

    name: str
    version: int
    sha256: str
    created: bool
    warnings: tuple[str, ...] = ()  # e.g. it builds on a version older than the latest
    # through the daemon: the author the client named, kept beside the principal (SPEC §11)
    claimed_by: str | None = None

    @property
    def ref(self) -> str:
        """The pinned form ``name:N@sha256:<hex>`` of the version published (or kept)."""
        return f"{self.name}:{self.version}@sha256:{self.sha256}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``add --json`` and ``rollback --json`` (SPEC §5, §11): the
        fields and ``ref``; ``claimed_by`` only when the daemon kept an author the client
        named."""
        data: dict[str, Any] = {"name": self.name, "version": self.version, "sha256": self.sha256}
        data |= {"created": self.created, "warnings": list(self.warnings), "ref": self.ref}
        if self.claimed_by is not None:
            data["claimed_by"] = self.claimed_by
        return data


@dataclass(frozen=True, slots=True)
class AuditEntry(Record):
    """One entry of the hash-chained audit log."""

    seq: int
    at: str
    actor: str
    action: str
    tool: str | None
    version: int | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The fields the entry's hash covers (all but the hash itself)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "tool": self.tool,
            "version": self.version,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }


@dataclass(frozen=True, slots=True)
class Label(Record):
    """A movable named pointer to a version."""

    name: str
    label: str
    version: int
    set_at: str
    set_by: str


@dataclass(frozen=True, slots=True)
class Grant(Record):
    """A maintainer of a tool (SPEC §11): ``principal`` may publish, roll back, label and
    deprecate it; ``created`` is false when the grant was there already."""

    name: str
    principal: str
    granted_at: str
    granted_by: str
    # False when 'grant' found this principal a maintainer already; not part of the listing.
    created: bool = field(default=True, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The grant as ``grants --json`` lists it (``created`` is the caller's to add)."""
        return {
            "name": self.name,
            "principal": self.principal,
            "granted_at": self.granted_at,
            "granted_by": self.granted_by,
        }


@dataclass(frozen=True, slots=True)
class Yank(Record):
    """A version marked as not to be used."""

    name: str
    version: int
    reason: str
    at: str
    actor: str


@dataclass(frozen=True, slots=True)
class TrustedKey(Record):
    """A public key whose signatures verify."""

    name: str
    key_id: str
    public_key: str
    added_at: str
    # False when 'trust add' found this very pair trusted already; not part of the listing.
    created: bool = field(default=True, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The key as ``trust list --json`` shows it (``created`` is the caller's to add)."""
        return {
            "name": self.name,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "added_at": self.added_at,
        }


@dataclass(frozen=True, slots=True)
class Problem(Record):
    """One thing ``verify`` found wrong, with its place."""

    kind: str
    name: str | None
    version: int | None
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """What ``verify`` checked and found."""

    checked: dict[str, int]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``verify --json``."""
        return {
            "ok": self.ok,
            "checked": dict(self.checked),
            "problems": [p.to_dict() for p in self.problems],
        }


def changed_lines(lines: tuple[str, ...], sign: str) -> int:
    """The lines of a unified diff that ``sign`` (``+`` or ``-``) marks, headers aside."""
    return sum(1 for ln in lines if ln.startswith(sign) and not ln.startswith(sign * 3))


@dataclass(frozen=True, slots=True)
class Diff:
    """A unified diff between two versions of tools; ``old`` is None for a first
    version, which is diffed against nothing."""

    old: Version | None
    new: Version
    lines: tuple[str, ...]

    @property
    def added(self) -> int:
        """Lines added."""
        return changed_lines(self.lines, "+")

    @property
    def removed(self) -> int:
        """Lines removed."""
        return changed_lines(self.lines, "-")

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of a diff."""
        return {
            "old": self.old.ref if self.old else None,
            "new": self.new.ref,
            "added": self.added,
            "removed": self.removed,
            "diff": "".join(self.lines),
            "old_version": self.old.to_dict() if self.old else None,
            "new_version": self.new.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Diff:
        """Rebuild a diff from its JSON shape (the remote client)."""
        lines = tuple(str(data["diff"]).splitlines(keepends=True))
        old = Version.from_dict(data["old_version"]) if data.get("old_version") else None
        return cls(old, Version.from_dict(data["new_version"]), lines)


@dataclass(frozen=True, slots=True)
class Migration(Record):
    """A schema migration's status."""

    id: int
    name: str
    applied_at: str | None
