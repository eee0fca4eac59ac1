"""What every part of the service shares: the home, the store, the tree and the settings a
:class:`~toolvault.vault.Vault` holds, finding versions and tools, the audit entry of a write,
who may write, and keeping ``commands/`` in step with the database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolvault import spec as specs
from toolvault.config import Config
from toolvault.errors import InvalidSpec, NotFound, PermissionDenied, ToolvaultError
from toolvault.materialize import CommandsTree, ToolView
from toolvault.models import Entry, Principal, Tool, Version, Yank
from toolvault.spec import Kind, Spec
from toolvault.store.base import SQLStore
from toolvault.store.sql import utcnow

if TYPE_CHECKING:
    from toolvault.signing import KeyRing


def _tool_view(tool: Tool, entries: tuple[Entry, ...]) -> ToolView:
    """What commands/ shows of a tool: a retired one has no symlink."""
    latest = None if tool.lifecycle == "retired" else tool.latest_version
    return ToolView(tool.name, tool.owner, tool.lifecycle, latest, entries)


class ServiceBase:
    """The state and the building blocks the service's mixins share (:mod:`toolvault.service`).

    :class:`~toolvault.vault.Vault` sets the state in its ``__init__``."""

    home: Path
    store: SQLStore
    tree: CommandsTree
    principal: Principal | None
    # A shared PostgreSQL vault keeps no commands/ tree by default (see Vault.open).
    materialize: bool
    _config: Config | None
    _actor: str | None

    @functools.cached_property
    def keys(self) -> KeyRing:
        """The private signing keys in ``keys/`` (made on first use: a read needs none)."""
        from toolvault.signing import KeyRing

        return KeyRing(self.home)

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
                f"use 'toolvault versions {parsed.name}' or 'toolvault cat {parsed}'",
                {"spec": str(parsed)},
            )
        if parsed.kind is Kind.RANGE:
            raise InvalidSpec(
                f"'{parsed}' names a range of versions, not one version; give one version "
                f"such as {parsed.name}:{parsed.bounds[0].value} ('toolvault context' takes ranges)"
            )
        found = self._find(parsed, content)
        if found is None:
            raise self._not_found(parsed)
        return found

    def cat(self, spec: str | Spec) -> Version:
        """The version a spec names, with its content."""
        return self.get(spec, content=True)

    def tool(self, name: str) -> Tool:
        """A tool's summary, or :class:`NotFound` naming similar tools."""
        found = self.store.tool(specs.parse_name(name))
        if found is None:
            raise self._no_such_tool(name)
        return found

    def yank_of(self, version: Version) -> Yank | None:
        """The yank record of a version, if it was yanked."""
        return next(
            (y for y in self.store.yanks(version.name) if y.version == version.version), None
        )

    def _may_write(self, owner: str | None, name: str, owner_only: str | None = None) -> str:
        """Whether the principal may change tool ``name`` (``owner`` None: a new tool,
        which any principal may create); returns the right it acts by: ``local`` (no
        daemon), ``new``, ``owner``, ``admin`` or ``maintainer`` (SPEC §11: a maintainer
        publishes, rolls back, labels and deprecates). ``owner_only`` names a change that
        stays with the owner and admins ("yank its versions"): no maintainer may."""
        p = self.principal
        if p is None:
            return "local"
        if p.read_only:
            raise PermissionDenied(
                f"{p.name}'s token is read-only; it cannot change '{name}'",
                {"principal": p.name, "tool": name, "read_only": True, "needs": "write"},
            )
        if owner is None:
            return "new"
        if owner == p.name:
            return "owner"
        if p.admin:
            return "admin"
        # one more query, only for a principal that neither owns the tool nor is an admin
        if owner_only is None and self.store.grant_of(name, p.name) is not None:
            return "maintainer"
        details = {"principal": p.name, "tool": name, "owner": owner, "needs": "owner"}
        if owner_only is not None:
            raise PermissionDenied(
                f"tool '{name}' is owned by {owner}, not {p.name}; only its owner or an admin "
                f"may {owner_only} (a maintainer may not)",
                details,
            )
        raise PermissionDenied(
            f"tool '{name}' is owned by {owner}, not {p.name}; ask the owner to make you a "
            f"maintainer ('toolvault grant {name} {p.name}'), or to transfer it "
            "('toolvault owner'), or an admin to make the change",
            details | {"needs": "maintainer"},
        )

    def _may_change(self, name: str, owner_only: str | None = None) -> str:
        """:meth:`_may_write` for a tool that exists; call inside the write transaction,
        so that the owner and maintainers checked are those when the change is written."""
        state = self.store.tool_state(name)
        return self._may_write(state and state[0], name, owner_only)

    def _require_admin(self, what: str) -> None:
        p = self.principal
        if p is not None and not p.admin:
            raise PermissionDenied(
                f"only an admin may {what}; {p.name} is not one",
                {"principal": p.name, "needs": "admin"},
            )

    def sync(self) -> list[str]:
        """Rebuild ``commands/`` from the database; returns what it had to fix."""
        with self.tree.locked():
            return self.tree.rebuild(self._views(), self._blob)

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
                    f"the reference '{s}' does not match this vault",
                    {"spec": str(s), "tool": s.name, "version": s.value}
                    | {"expected": s.sha256, "found": found.sha256, "ref": found.ref},
                )
            return found
        if s.kind is Kind.SHA:
            assert isinstance(s.value, str)
            matches = self.store.by_sha_prefix(s.name, s.value, content)
            if len({m.sha256 for m in matches}) > 1:
                raise InvalidSpec(
                    f"'{s}' is ambiguous: {len(matches)} versions of {s.name} have hashes "
                    "starting with it; give more hex digits",
                    {"spec": str(s), "matches": sorted({m.ref for m in matches})},
                )
            return matches[0] if matches else None
        assert isinstance(s.value, str)
        label = self.store.label(s.name, s.value)
        return self.store.version(s.name, label.version, content) if label else None

    def _missing(self, s: Spec) -> str:
        return str(self._not_found(s))

    def _not_found(self, s: Spec) -> NotFound:
        """The error of a well-formed spec that matches nothing: its message and details
        say what exists (the versions, the latest, the labels)."""
        tool = self.store.tool(s.name)
        if tool is None:
            return self._no_such_tool(s.name, str(s))
        details: dict[str, Any] = {"spec": str(s), "tool": s.name, "versions": tool.versions}
        details["latest"] = tool.latest_version
        have = f"tool '{s.name}' has versions 1..{tool.versions}"
        if tool.versions == 1:
            have = f"tool '{s.name}' has only version 1"
        if tool.latest_version is None and s.back is not None:
            message = f"every version of '{s.name}' is yanked; name one by number ({have[5:]})"
        elif s.kind is Kind.NUMBER:
            message = f"{have}; there is no version {s.value}"
        elif s.kind is Kind.SHA:
            message = f"{have}; none has a sha256 starting with {s.value}"
        elif s.kind is Kind.LABEL:
            details["labels"] = [lb.label for lb in self.store.labels(s.name)]
            names = ", ".join(details["labels"]) or "none"
            message = f"tool '{s.name}' has no label '{s.value}' (labels: {names})"
        else:
            message = f"{have}; there is no version {s.back} before the latest"
        return NotFound(message, details)

    def _no_tool(self, name: str) -> str:
        return str(self._no_such_tool(name))

    def _no_such_tool(self, name: str, spec: str | None = None) -> NotFound:
        """The error of a tool name that names no tool, with the names close to it."""
        import difflib

        names = [t.name for t in self.store.tools()]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; 'toolvault ls' lists tools"
        details = {"spec": spec or name, "tool": name, "similar": close}
        return NotFound(f"no tool named '{name}'{hint}", details)

    # -- building blocks for importers (call inside ``store.write()``) -----------------------

    def record(
        self, action: str, tool: str | None, version: int | None, details: dict[str, Any]
    ) -> None:
        """Append an audit entry, attributed to :attr:`actor`, to the open transaction."""
        self.store.append_audit(utcnow(), self.actor, action, tool, version, details)

    def _blob(self, sha256: str) -> bytes:
        data = self.store.blob(sha256)
        if data is None:
            raise NotFound(
                f"blob {sha256} is missing from the database; run 'toolvault verify'",
                {"sha256": sha256},
            )
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
