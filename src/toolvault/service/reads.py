"""The service's reads: tools, versions and their listings, labels, yanks, the audit log,
``show``'s description of a version with its signature status, diffs, lineage.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from toolvault import spec as specs
from toolvault import validate
from toolvault.errors import InvalidInput
from toolvault.models import AuditEntry, Diff, Label, Migration, Tool, Version, Yank
from toolvault.service.base import ServiceBase
from toolvault.spec import Kind, Spec


def _terminated(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _with_yanks(listing: list[dict[str, Any]], yanks: list[Yank]) -> list[dict[str, Any]]:
    """A listing's versions with their pinned ``ref`` and ``yanked``: a listing must show
    what not to use, and an agent builds on a ref, never on a ref rebuilt by hand."""
    reasons = {(y.name, y.version): y.reason for y in yanks}
    for item in listing:
        name, number = item["name"], item["version"]
        item["ref"] = f"{name}:{number}@sha256:{item['sha256']}"
        item["yanked"] = reasons.get((name, number))
    return listing


class Reads(ServiceBase):
    """Reading tools and versions (SPEC §2, §5): nothing here writes."""

    def tools(self) -> list[Tool]:
        """Every tool, by name."""
        return self.store.tools()

    def versions(self, name: str) -> list[Version]:
        """Every version of a tool, oldest first."""
        name = specs.parse_name(name)
        found = self.store.versions(name)
        if not found:
            raise self._no_such_tool(name)
        return found

    def version_listing(self, name: str) -> list[dict[str, Any]]:
        """Every version of a tool in its JSON shape (``Version.to_dict()``) with
        ``yanked`` (the reason or None), oldest first: what ``versions --json`` prints
        and the daemon serves."""
        name = specs.parse_name(name)
        found = self.store.version_dicts(name)
        if not found:
            raise self._no_such_tool(name)
        return _with_yanks(found, self.store.yanks(name))

    def all_version_listing(self) -> list[dict[str, Any]]:
        """Every version of every tool as :meth:`version_listing` shows them
        (``ls --all --json``)."""
        found = [v.to_dict() for v in self.store.all_versions()]
        return _with_yanks(found, self.store.yanks())

    def history(self, name: str) -> list[dict[str, Any]]:
        """What ``versions NAME history`` shows of each version, oldest first: the listing
        (fields, ``ref``, ``yanked``) with ``previous`` (the pinned ref it came after, or
        None) and the labels on it (``versions NAME history --json``)."""
        from toolvault.history import history

        found = self.version_listing(name)
        return history(
            found, [(lb.label, lb.version) for lb in self.store.labels(found[0]["name"])]
        )

    def tool_page(
        self,
        *,
        lifecycle: str | None = None,
        owner: str | None = None,
        label: str | None = None,
        sort: str = "name",
        offset: int = 0,
        limit: int | None = 50,
    ) -> tuple[list[Tool], int]:
        """One page of the tools (``offset``, ``limit``; None: all from ``offset``) and how
        many match in all: of a ``lifecycle`` (active, deprecated, retired, all; default
        active and deprecated), an ``owner``, with a ``label``; ``sort`` by name, updated,
        created or owner. The web UI's tools page and ``GET /v1/tools?…`` serve it."""
        from toolvault.search.run import LIFECYCLES
        from toolvault.store.toolpages import TOOL_ORDERS

        if lifecycle not in LIFECYCLES:
            raise InvalidInput(
                f"unknown lifecycle '{lifecycle}'; use active, deprecated, retired or all"
            )
        if sort not in TOOL_ORDERS:
            raise InvalidInput(f"unknown sort '{sort}'; use {', '.join(TOOL_ORDERS)}")
        validate.of_type(offset, int, "offset", "a whole number of tools")
        if limit is not None:
            validate.of_type(limit, int, "limit", "a whole number of tools")
        if offset < 0 or (limit is not None and not 1 <= limit <= 1_000):
            raise InvalidInput(f"offset must be 0 or more and limit 1 to 1,000: {offset}, {limit}")
        with self.store.snapshot():
            return self.store.tool_page(LIFECYCLES[lifecycle], owner, label, sort, offset, limit)

    def tools_named(self, names: Iterable[str]) -> list[Tool]:
        """The summaries of the tools named that exist, by name."""
        return self.store.tools_named([specs.parse_name(n) for n in names])

    def all_versions(self) -> list[Version]:
        """Every version of every tool."""
        return list(self.store.all_versions())

    def labels(self, name: str | None = None) -> list[Label]:
        """Current labels of one tool, or of every tool."""
        return self.store.labels(None if name is None else self.tool(name).name)

    def yanks(self, name: str | None = None) -> list[Yank]:
        """Yanked versions of one tool, or of every tool."""
        return self.store.yanks(None if name is None else self.tool(name).name)

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
            "ref": version.ref,
            **version.to_dict(),
            "signature_status": self.signature_status(version),
            "yanked": yanked.reason if yanked else None,
            "labels": labels,
            # the version's own description is above: the tool's block keeps its state
            "tool": {
                **{k: v for k, v in tool.to_dict().items() if k != "description"},
                "lifecycle_message": tool.lifecycle_message,
            },
        }

    def audit(self, name: str | None = None) -> list[AuditEntry]:
        """The audit log, or the entries about one tool."""
        return self.store.audit(None if name is None else specs.parse_name(name))

    def signature_status(self, v: Version) -> str:
        """``unsigned``, ``valid (key NAME)``, ``untrusted key ID`` or ``INVALID …``."""
        from toolvault.signing import decode_public, payload, verify_signature, version_fields

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
