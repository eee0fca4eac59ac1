"""What the read commands' fast paths read from ``vault.db``: stdlib ``sqlite3`` only.

Every query here mirrors one of ``store.base``; the tests in ``tests/test_fastcli.py``
hold each command's output equal to the full command line's, which holds the two
equal. Anything outside the plain case raises :class:`Fallback`.
"""

from __future__ import annotations

import json
import sqlite3

from toolvault.columns import MAX_INTEGER, TOOL_SELECT, VERSION_FIELDS, described
from toolvault.fastcli.base import Fallback as Fallback  # where the other fast paths find it
from toolvault.fastcli.base import connect as connect
from toolvault.spec import Kind
from toolvault.store.fastread import NOT_YANKED

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

    from toolvault.spec import Spec

V_COLS = (
    "v.name, v.version, v.sha256, v.size, v.executable, v.previous_version, "
    "v.previous_sha256, v.created_at, v.recorded_at, v.created_by, v.owner, v.origin, "
    "v.session_id, v.prompt, v.message, v.refs, v.transforms, v.rollback_of, v.signature, "
    "v.key_id, v.description, v.usage, v.claimed_by"
)

WIDTH = len(VERSION_FIELDS)  # the columns of a version row, before any joined ones


def _json_list(text: str) -> list[str]:
    if text == "[]":
        return []
    try:
        found = json.loads(text)
    except ValueError:
        raise Fallback from None  # altered by hand: the full path shows it as it is
    if not isinstance(found, list):
        raise Fallback
    return found


def version_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row in ``V_COLS`` order as the JSON shape of a version (``Version.to_dict``)."""
    item = dict(zip(VERSION_FIELDS, row, strict=True))
    item["executable"] = bool(item["executable"])
    item["references"] = _json_list(item["references"])
    item["transforms"] = _json_list(item["transforms"])
    return item


def tool_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    """A ``TOOL_SELECT`` row as the tool's fields (``Tool``), lifecycle message included."""
    keys = ("name", "owner", "lifecycle", "latest_version", "versions", "created_at")
    return dict(zip((*keys, "updated_at", "lifecycle_message", "description"), row, strict=True))


def tools(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every tool with at least one version, by name."""
    rows = conn.execute(described(f"{TOOL_SELECT} GROUP BY t.name"))
    return [tool_dict(r) for r in rows]


def tool(conn: sqlite3.Connection, name: str) -> dict[str, Any]:
    """One tool's fields; a missing tool falls back (the full path names similar ones)."""
    sql = described(f"{TOOL_SELECT} WHERE t.name = ? GROUP BY t.name")
    row = conn.execute(sql, (name,)).fetchone()
    if row is None:
        raise Fallback
    return tool_dict(row)


def versions(conn: sqlite3.Connection, name: str | None) -> list[dict[str, Any]]:
    """Every version of one tool (oldest first) or of every tool (by name), each with
    its pinned ``ref`` and ``yanked``: the reason or None."""
    where, params = ("WHERE v.name = ? ", (name,)) if name is not None else ("", ())
    rows = conn.execute(
        f"SELECT {V_COLS}, y.reason FROM versions v LEFT JOIN yanks y "
        f"ON y.name = v.name AND y.version = v.version {where}ORDER BY v.name, v.version",
        params,
    ).fetchall()
    if name is not None and not rows:
        raise Fallback
    found = [version_dict(r[:WIDTH]) for r in rows]
    for item, row in zip(found, rows, strict=True):  # as the service's _with_yanks
        item["ref"] = f"{item['name']}:{item['version']}@sha256:{item['sha256']}"
        item["yanked"] = row[WIDTH]
    return found


def find(conn: sqlite3.Connection, spec: Spec) -> tuple[dict[str, Any], bytes]:
    """The version a spec names and its content; anything but one plain match falls back
    (the full path says what exists)."""
    row = lookup(conn, spec)
    if row is None:
        raise Fallback
    return version_dict(row[:WIDTH]), bytes(row[WIDTH])


def lookup(conn: sqlite3.Connection, spec: Spec) -> tuple[Any, ...] | None:
    """The row (``V_COLS`` and the content) of the version a spec names, as
    ``Vault.get`` finds it; None where it raises (nothing, an ambiguous hash prefix, a
    pinned hash that does not match, the listing)."""
    sql = f"SELECT {V_COLS}, b.content FROM versions v JOIN blobs b ON b.sha256 = v.sha256"
    back, value = spec.back, spec.value
    params: tuple[Any, ...]
    if back is not None:
        tail = "ORDER BY v.version DESC LIMIT 1 OFFSET ?"
        query, params = f"{sql} WHERE v.name = ? AND {NOT_YANKED} {tail}", (spec.name, back)
    elif spec.kind is Kind.NUMBER:
        query, params = f"{sql} WHERE v.name = ? AND v.version = ?", (spec.name, value)
    elif spec.kind is Kind.LABEL:
        label = "JOIN labels l ON l.name = v.name AND l.version = v.version"
        query, params = f"{sql} {label} WHERE v.name = ? AND l.label = ?", (spec.name, value)
    elif spec.kind is Kind.SHA and isinstance(value, str):
        where = "WHERE v.name = ? AND substr(v.sha256, 1, ?) = ? ORDER BY v.version DESC"
        query, params = f"{sql} {where}", (spec.name, len(value), value)
    else:
        return None
    if max(back or 0, value if isinstance(value, int) else 0) > MAX_INTEGER:
        return None
    rows = conn.execute(query, params).fetchall()
    if not rows or len({r[2] for r in rows}) > 1:
        return None
    if spec.sha256 and not rows[0][2].startswith(spec.sha256):
        return None
    return tuple(rows[0])


def yank_reason(conn: sqlite3.Connection, name: str, number: int) -> str | None:
    """Why a version was yanked, or None."""
    sql = "SELECT reason FROM yanks WHERE name = ? AND version = ?"
    row = conn.execute(sql, (name, number)).fetchone()
    return None if row is None else str(row[0])


def labels_on(conn: sqlite3.Connection, name: str, number: int) -> list[str]:
    """The labels that point at one version, by label."""
    sql = "SELECT label FROM labels WHERE name = ? AND version = ? ORDER BY label"
    return [r[0] for r in conn.execute(sql, (name, number))]
