"""What importers write and read through: the service's side of ``sources/``.

Everything that brings tools in from outside (:mod:`toolvault.sources`: files, URLs,
git, packs, legacy stores) and the rebuild from the tree (:mod:`toolvault.recovery`)
goes through these methods of :class:`~toolvault.vault.Vault`, never into the store
itself, so that the service stays the one place that knows how rows are written.

An import is one transaction: the importer opens :meth:`Imports.transaction`, plans
against what the vault holds (the reads below), writes with these methods and the
vault's own ``append_versions`` and ``record_import``, and the transaction commits
all of it with its audit entry, or nothing. The methods marked so must be called
inside that transaction; they write nothing else and do not commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolvault.models import Label, Tool, Version, Yank
    from toolvault.store.base import Sealer, SQLStore


class Imports:
    """The importers' methods of :class:`~toolvault.vault.Vault` (a mixin)."""

    if TYPE_CHECKING:
        store: SQLStore

        @property
        def actor(self) -> str:
            """Who the audit log names for this vault's writes (``Vault.actor``)."""
            ...

    # -- transactions -------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[Any]:
        """One write transaction, serialized with every other writer: what is written
        inside commits together with the audit log's newly sealed head, or not at all."""
        return self.store.write()

    def snapshot(self) -> AbstractContextManager[Any]:
        """A read transaction: several reads that see one state (a dry run's plan, a
        pack of the vault as it stands). Writes nothing."""
        return self.store.snapshot()

    def use_sealer(self, sealer: Sealer) -> None:
        """What every later write transaction ends with (signing the audit log's new
        head) instead of the home's sealer: a rebuild signs its head in its own
        transaction but files the checkpoint only once the old state has moved aside."""
        self.store.sealer = sealer

    # -- reads an importer plans with (inside its transaction or a snapshot) -------------

    def has_tool(self, name: str) -> bool:
        """Whether the vault holds a tool of this exact name."""
        return self.store.tool(name) is not None

    def chain_ends(self, name: str) -> tuple[Version | None, Version | None]:
        """A tool's head (its highest number, yanked or not) and its latest (the newest
        not yanked); (None, None) for a tool the vault does not have."""
        return self.store.newest(name), self.store.back(name, 0)

    def origins(self, prefix: str) -> list[tuple[str, int, str, str]]:
        """(name, version, sha256, origin) of every version whose origin starts with
        ``prefix``: what earlier imports from that source stored."""
        return self.store.origins(prefix)

    def versions_by_origin(self, name: str) -> dict[str, Version]:
        """The versions of ``name`` that record an origin, by origin (none for a tool
        the vault does not have); a later version wins where two share one."""
        return {v.origin: v for v in self.store.versions(name) if v.origin}

    def audit_head(self) -> tuple[int, str, str | None]:
        """(seq, hash, time) of the newest audit entry; (0, GENESIS, None) when none."""
        return self.store.audit_head()

    def pack_imports(self, pack_name: str) -> list[tuple[int, str]]:
        """(pack version, manifest sha256) of every import of a pack name, oldest first."""
        return self.store.pack_imports(pack_name)

    def last_pack_export(self, pack_name: str) -> int:
        """The highest version exported under a pack name (0 when none)."""
        return self.store.last_pack_export(pack_name)

    # -- writes (call inside :meth:`transaction`) ----------------------------------------

    def restore_tool(
        self,
        tool: Tool,
        versions: Sequence[Version],
        labels: Iterable[Label] = (),
        yanks: Iterable[Yank] = (),
    ) -> None:
        """Write a tool new to this vault exactly as given: its row, every version as it
        is (numbers, hashes, times, provenance, signatures), their contents, labels and
        yanks. Call inside :meth:`transaction`, after checking that the vault has no
        such tool and that ``versions`` is a whole chain; the caller records the audit
        entry (``record_import``)."""
        blobs = []
        for v in versions:
            assert v.content is not None, "a restored version carries its content"
            blobs.append((v.sha256, v.content))
        self.store.restore_tool(tool)
        self.store.put_blobs(blobs)
        self.store.insert_versions(versions)
        for label in labels:
            self.store.set_label(label)
        for yank in yanks:
            self.store.yank(yank)

    def record_pack_import(
        self, pack_name: str, pack_version: int, manifest_sha256: str, source: str, now: str
    ) -> None:
        """Remember an imported pack, against downgrades. Call inside :meth:`transaction`."""
        self.store.record_pack_import(pack_name, pack_version, manifest_sha256, source, now)

    def record_pack_export(self, pack_name: str, pack_version: int, now: str) -> None:
        """Take up a pack version under a pack name. Call inside :meth:`transaction`."""
        self.store.record_pack_export(pack_name, pack_version, now)

    def record_at(self, at: str, action: str, details: dict[str, Any]) -> None:
        """Append an audit entry dated ``at`` (a rebuild dates its one entry at the time
        its rows carry), attributed to :attr:`actor`. Call inside :meth:`transaction`."""
        self.store.append_audit(at, self.actor, action, None, None, details)
