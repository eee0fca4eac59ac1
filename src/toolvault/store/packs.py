"""The queries of tool packs (imports, exports, restored tools), mixed into
:class:`~toolvault.store.base.SQLStore`.
"""

from __future__ import annotations

from toolvault.models import Tool
from toolvault.store.sql import Queries


class PackQueries(Queries):
    """The records that keep pack imports from going back, and pack exports numbered."""

    # -- packs -------------------------------------------------------------------------

    def pack_imports(self, pack_name: str) -> list[tuple[int, str]]:
        """(pack version, manifest sha256) of every import of a pack name."""
        rows = self._q(
            "SELECT pack_version, manifest_sha256 FROM pack_imports WHERE pack_name = ? "
            "ORDER BY pack_version",
            (pack_name,),
        )
        return [(r[0], r[1]) for r in rows]

    def record_pack_import(
        self, pack_name: str, pack_version: int, manifest_sha256: str, source: str, now: str
    ) -> None:
        """Remember an imported pack (anti-downgrade)."""
        self._q(
            "INSERT INTO pack_imports (pack_name, pack_version, manifest_sha256, source, "
            "imported_at) VALUES (?, ?, ?, ?, ?)",
            (pack_name, pack_version, manifest_sha256, source, now),
        )

    def last_pack_export(self, pack_name: str) -> int:
        """The highest version exported under a pack name (0 when none)."""
        row = self._q(
            "SELECT max(pack_version) FROM pack_exports WHERE pack_name = ?", (pack_name,)
        ).fetchone()
        return int(row[0] or 0)

    def record_pack_export(self, pack_name: str, pack_version: int, now: str) -> None:
        """Remember an exported pack version."""
        self._q(
            "INSERT INTO pack_exports (pack_name, pack_version, created_at) VALUES (?, ?, ?)",
            (pack_name, pack_version, now),
        )

    def restore_tool(self, tool: Tool) -> None:
        """Insert a tool row exactly as a pack describes it (restore of a new tool)."""
        self._q(
            "INSERT INTO tools (name, owner, lifecycle, lifecycle_message, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                tool.name,
                tool.owner,
                tool.lifecycle,
                tool.lifecycle_message,
                tool.created_at,
                tool.updated_at,
            ),
        )
