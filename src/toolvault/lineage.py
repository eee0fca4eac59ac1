"""Versioned references between tools, and versions loaded as an agent's context.

A reference is stored in its exact form ``name:N@sha256:<hex>`` (SPEC §2), or
as written when it was allowed to dangle (``add --allow-dangling``, legacy
imports). This module answers both directions of the lineage — what a version
references, and what references it — and renders versions for a prompt.
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


class Catalog(Protocol):
    """Where versions with their content come from: a local vault or a daemon's."""

    def cat(self, spec: str) -> Version: ...


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


# -- context for agents -----------------------------------------------------------------

LANGUAGES = {
    "bash": "bash",
    "sh": "sh",
    "zsh": "zsh",
    "python": "python",
    "python3": "python",
    "node": "javascript",
    "deno": "typescript",
    "ruby": "ruby",
    "perl": "perl",
}


def refs_report(vault: Vault, spec: str, reverse: bool = False) -> dict[str, Any]:
    """The JSON shape of ``refs [--reverse] --json`` (and of the daemon's /v1/refs)."""
    if reverse:
        target, found = referenced_by(vault, spec)
        return {"version": target.ref, "referenced_by": [r.to_dict() for r in found]}
    version, items = references(vault, spec)
    return {"version": version.ref, "references": [i.to_dict() for i in items]}


def context(vault: Catalog, wanted: list[str]) -> list[Version]:
    """The versions named, with content, in the order given (duplicates once); from the
    local vault or, through ``TOOLVAULT_URL``, from the daemon."""
    found: list[Version] = []
    for spec in wanted:
        version = vault.cat(spec)
        if all(v.ref != version.ref for v in found):
            found.append(version)
    return found


def render_context(versions: list[Version]) -> str:
    """Markdown for a prompt: per version a header of its identity and provenance, then
    its content in a fence longer than any run of backticks inside it."""
    parts = [
        f"# Tool versions from toolvault ({len(versions)})\n\n"
        "Each section is one exact, immutable version. To build on one, publish the new "
        "content with `toolvault add FILE --ref <ref>` so that the lineage is kept.\n"
    ]
    parts += [_section(v) for v in versions]
    return "\n".join(parts)


def _section(v: Version) -> str:
    text = v.text
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    fields = [
        ("name", v.name),
        ("version", str(v.version)),
        ("ref", v.ref),
        ("sha256", v.sha256),
        ("created_at", v.created_at),
        ("created_by", v.created_by or "-"),
        ("prompt", _one_line(v.prompt) if v.prompt else "-"),
    ]
    if v.description:
        fields.insert(2, ("description", _one_line(v.description)))
    if v.message:
        fields.append(("message", _one_line(v.message)))
    if v.references:
        fields.append(("references", ", ".join(v.references)))
    header = "\n".join(f"- {key}: {value}" for key, value in fields) + usage_block(v.usage)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"## {v.name}:{v.version}\n\n{header}\n\n{fence}{_language(text)}\n{body}{fence}\n"


def usage_block(usage: str | None) -> str:
    """The usage after a context header, as an indented (Markdown code) block: how to call
    the tool, read from it, never learnt by running it (SPEC §10)."""
    if not usage:
        return ""
    lines = "\n".join(f"    {line}".rstrip() for line in usage.splitlines())
    return f"\n- usage:\n\n{lines}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _language(text: str) -> str:
    """A fence language from the shebang (``#!/usr/bin/env python3`` -> python)."""
    if not text.startswith("#!"):
        return ""
    words = text[2:].split("\n", 1)[0].split()
    if not words:
        return ""
    program = words[0].rsplit("/", 1)[-1]
    if program == "env":
        program = next((w for w in words[1:] if not w.startswith("-")), "")
    return LANGUAGES.get(program, "")


def context_json(versions: list[Version]) -> list[dict[str, Any]]:
    """JSON shape of ``context --json``: each version with its ref and content."""
    return [{**v.to_dict(content=True), "ref": v.ref} for v in versions]
