"""The queries of maintainers (SPEC §11), mixed into :class:`~toolvault.store.base.SQLStore`."""

from __future__ import annotations

from toolvault.models import Grant
from toolvault.store.sql import Queries

_SELECT = "SELECT name, principal, granted_at, granted_by FROM grants"


class GrantQueries(Queries):
    """Reads and writes of the ``grants`` table."""

    # -- maintainers ---------------------------------------------------------------------

    def grants(self, name: str | None = None) -> list[Grant]:
        """The maintainers of one tool (by principal), or of every tool (by tool)."""
        if name is None:
            return [Grant(*r) for r in self._q(f"{_SELECT} ORDER BY name, principal")]
        rows = self._q(f"{_SELECT} WHERE name = ? ORDER BY principal", (name,))
        return [Grant(*r) for r in rows]

    def grant_of(self, name: str, principal: str) -> Grant | None:
        """The grant of ``principal`` on ``name``, or None: whether it is a maintainer."""
        row = self._q(f"{_SELECT} WHERE name = ? AND principal = ?", (name, principal)).fetchone()
        return Grant(*row) if row else None

    def insert_grant(self, grant: Grant) -> None:
        """Make a principal a maintainer of a tool."""
        self._q(
            "INSERT INTO grants (name, principal, granted_at, granted_by) VALUES (?, ?, ?, ?)",
            (grant.name, grant.principal, grant.granted_at, grant.granted_by),
        )

    def delete_grant(self, name: str, principal: str) -> None:
        """Take a principal's maintainer rights on a tool away."""
        self._q("DELETE FROM grants WHERE name = ? AND principal = ?", (name, principal))
