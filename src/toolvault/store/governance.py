"""The queries of governance (lifecycles, owners, labels, yanks, trusted keys), mixed into
:class:`~toolvault.store.base.SQLStore`.
"""

from __future__ import annotations

from toolvault.models import Label, TrustedKey, Yank
from toolvault.store.sql import Queries


class GovernanceQueries(Queries):
    """Reads and writes of lifecycles, owners, labels, yanks and trusted keys."""

    # -- governance ----------------------------------------------------------------

    def set_lifecycle(self, name: str, lifecycle: str, message: str | None, now: str) -> None:
        """Change a tool's lifecycle (active, deprecated, retired)."""
        self._q(
            "UPDATE tools SET lifecycle = ?, lifecycle_message = ?, updated_at = ? WHERE name = ?",
            (lifecycle, message, now, name),
        )
        self.refresh_search([name])

    def set_owner(self, name: str, owner: str, now: str) -> None:
        """Transfer a tool to a new owner."""
        self._q("UPDATE tools SET owner = ?, updated_at = ? WHERE name = ?", (owner, now, name))
        self.refresh_search([name])

    def labels(self, name: str | None = None) -> list[Label]:
        """Current labels, of one tool or of all."""
        sql = "SELECT name, label, version, set_at, set_by FROM labels"
        if name is None:
            return [Label(*r) for r in self._q(f"{sql} ORDER BY name, label")]
        return [Label(*r) for r in self._q(f"{sql} WHERE name = ? ORDER BY label", (name,))]

    def label(self, name: str, label: str) -> Label | None:
        """One label, or None."""
        row = self._q(
            "SELECT name, label, version, set_at, set_by FROM labels WHERE name = ? AND label = ?",
            (name, label),
        ).fetchone()
        return Label(*row) if row else None

    def set_label(self, lab: Label) -> None:
        """Create or move a label."""
        self._q(
            "INSERT INTO labels (name, label, version, set_at, set_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name, label) DO UPDATE SET version = excluded.version, "
            "set_at = excluded.set_at, set_by = excluded.set_by",
            (lab.name, lab.label, lab.version, lab.set_at, lab.set_by),
        )
        self.refresh_search([lab.name])

    def delete_label(self, name: str, label: str) -> None:
        """Remove a label."""
        self._q("DELETE FROM labels WHERE name = ? AND label = ?", (name, label))
        self.refresh_search([name])

    def yanks(self, name: str | None = None) -> list[Yank]:
        """Yanked versions, of one tool or of all."""
        sql = "SELECT name, version, reason, at, actor FROM yanks"
        if name is None:
            return [Yank(*r) for r in self._q(f"{sql} ORDER BY name, version")]
        return [Yank(*r) for r in self._q(f"{sql} WHERE name = ? ORDER BY version", (name,))]

    def yank(self, y: Yank) -> None:
        """Mark a version as yanked."""
        self._q(
            "INSERT INTO yanks (name, version, reason, at, actor) VALUES (?, ?, ?, ?, ?)",
            (y.name, y.version, y.reason, y.at, y.actor),
        )
        self.refresh_search([y.name])

    def trusted_keys(self) -> list[TrustedKey]:
        """Every trusted public key, by name."""
        rows = self._q("SELECT name, key_id, public_key, added_at FROM trusted_keys ORDER BY name")
        return [TrustedKey(*r) for r in rows]

    def add_trusted_key(self, key: TrustedKey) -> None:
        """Trust a public key under a name."""
        self._q(
            "INSERT INTO trusted_keys (name, key_id, public_key, added_at) VALUES (?, ?, ?, ?)",
            (key.name, key.key_id, key.public_key, key.added_at),
        )

    def remove_trusted_key(self, name: str) -> None:
        """Stop trusting a key."""
        self._q("DELETE FROM trusted_keys WHERE name = ?", (name,))
