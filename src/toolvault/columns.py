"""Names and SQL that the service, the store and the read commands' fast paths share.

Plain constants and string functions, no imports: the fast paths (``fastcli/``) read
them without loading dataclasses or the store.
"""

from __future__ import annotations

MAX_INTEGER = 2**63 - 1  # SQLite's largest INTEGER: a bigger number names no version

# The JSON field names of a version, in order.
VERSION_FIELDS = (
    "name",
    "version",
    "sha256",
    "size",
    "executable",
    "previous_version",
    "previous_sha256",
    "created_at",
    "recorded_at",
    "created_by",
    "owner",
    "origin",
    "session_id",
    "prompt",
    "message",
    "references",
    "transforms",
    "rollback_of",
    "signature",
    "key_id",
    "description",
    "usage",
    # through the daemon: the author the client named when it was not the token's principal
    "claimed_by",
)

# latest_version counts only versions that are not yanked; versions counts all.
TOOL_SELECT = (
    "SELECT t.name, t.owner, t.lifecycle, "
    "max(CASE WHEN y.version IS NULL THEN v.version END) AS latest, count(v.version), "
    "t.created_at, t.updated_at, t.lifecycle_message FROM tools t "
    "JOIN versions v ON v.name = t.name "
    "LEFT JOIN yanks y ON y.name = v.name AND y.version = v.version"
)


def described(grouped: str) -> str:
    """``TOOL_SELECT … GROUP BY t.name`` with the description of each tool's latest version
    after its columns (SQLite allows no aggregate in a correlated subquery: hence the
    wrapping), ordered by name."""
    return (
        f"SELECT g.*, (SELECT d.description FROM versions d WHERE d.name = g.name "
        f"AND d.version = g.latest) FROM ({grouped}) g ORDER BY g.name"
    )
