"""Versioned references between tools, and a tool's history.

A reference is stored in its exact form ``name:N@sha256:<hex>`` (SPEC §2), or
as written when it was allowed to dangle (``add --allow-dangling``, legacy
imports). This module answers both directions of the lineage — what a version
references, and what references it. ``context`` (versions for a prompt) is
:mod:`toolvault.context`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from toolvault import spec as specs
from toolvault.errors import ToolvaultError
from toolvault.models import Version
from toolvault.spec import NAME_RE, NUMBER_RE, Kind

if TYPE_CHECKING:
    from toolvault.spec import Spec


class Referencing(Protocol):
    """The store's one query lineage needs."""

    def referencing(self, text: str) -> list[Version]: ...


class Vault(Protocol):
    """What lineage reads of a vault (a :class:`toolvault.vault.Vault`): this module
    takes it as an argument and never imports the service, which calls it."""

    @property
    def store(self) -> Referencing: ...

    def get(self, spec: str | Spec, *, content: bool = False) -> Version: ...


PINNED = re.compile(rf"{NAME_RE.pattern}:{NUMBER_RE.pattern}@sha256:[0-9a-f]{{64}}")


@dataclass(frozen=True, slots=True)
class Reference:
    """One stored reference of a version and what it points at today.

    ``status`` is ``exact`` (pinned and present), ``changed`` (pinned, but that
    version now has another hash or is gone), ``dangling`` (stored as written and
    does not resolve) or ``resolves`` (stored as written, resolves now).
    """

    stored: str
    status: str
    target: Version | None

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of one item of ``refs --json``."""
        t = self.target
        return {
            "ref": self.stored,
            "status": self.status,
            "name": t.name if t else None,
            "version": t.version if t else None,
            "sha256": t.sha256 if t else None,
            "resolved": t.ref if t else None,
        }


@dataclass(frozen=True, slots=True)
class Referrer:
    """A version that references the one asked about, and the reference it holds."""

    version: Version
    stored: str
    exact: bool  # False: a reference stored as written that resolves to it today

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of one item of ``refs --reverse --json``."""
        v = self.version
        return {
            "name": v.name,
            "version": v.version,
            "sha256": v.sha256,
            "ref": v.ref,
            "via": self.stored,
            "exact": self.exact,
            "created_at": v.created_at,
            "created_by": v.created_by,
        }


def references(vault: Vault, spec: str) -> tuple[Version, list[Reference]]:
    """The version ``spec`` names and each of its references, checked against the vault."""
    version = vault.get(spec)
    return version, [_check(vault, ref) for ref in version.references]


def _check(vault: Vault, stored: str) -> Reference:
    pinned = PINNED.fullmatch(stored) is not None
    try:
        target = vault.get(stored)
    except ToolvaultError:
        return Reference(stored, "changed" if pinned else "dangling", None)
    return Reference(stored, "exact" if pinned else "resolves", target)


def referenced_by(vault: Vault, spec: str) -> tuple[Version, list[Referrer]]:
    """The version ``spec`` names and every version whose references point at it."""
    version = vault.get(spec)
    found = []
    for candidate in vault.store.referencing(version.name):
        for stored in candidate.references:
            if stored == version.ref:
                found.append(Referrer(candidate, stored, True))
            elif not PINNED.fullmatch(stored) and _resolves_to(vault, stored, version):
                found.append(Referrer(candidate, stored, False))
    return version, found


def _resolves_to(vault: Vault, stored: str, version: Version) -> bool:
    try:
        parsed = specs.parse(stored)
        if parsed.name != version.name or parsed.kind is Kind.VERSIONS:
            return False
        return vault.get(parsed).version == version.version
    except ToolvaultError:
        return False


def refs_report(vault: Vault, spec: str, reverse: bool = False) -> dict[str, Any]:
    """The JSON shape of ``refs [--reverse] --json`` (and of the daemon's /v1/refs)."""
    if reverse:
        target, found = referenced_by(vault, spec)
        return {"version": target.ref, "referenced_by": [r.to_dict() for r in found]}
    version, items = references(vault, spec)
    return {"version": version.ref, "references": [i.to_dict() for i in items]}
