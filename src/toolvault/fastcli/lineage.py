"""``refs`` and ``context`` on the fast path: as ``toolvault.lineage`` and
``cli/lineage.py`` answer them, from ``rows`` and the standard library."""

from __future__ import annotations

import re
import sqlite3

from toolvault import spec as specs
from toolvault.errors import InvalidSpec
from toolvault.fastcli import rows
from toolvault.fastcli.commands import describe, parse, ref
from toolvault.fastcli.render import Out
from toolvault.spec import NAME_RE, NUMBER_RE, Kind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PINNED = re.compile(rf"{NAME_RE.pattern}:{NUMBER_RE.pattern}@sha256:[0-9a-f]{{64}}")
STATUS = {  # as cli/lineage.py prints each status
    "exact": "",
    "changed": "  CHANGED: that version is gone or has another hash now",
    "dangling": "  dangling: stored as written, does not resolve",
    "resolves": "  stored as written; resolves now to {resolved}",
}


def resolve(conn: sqlite3.Connection, text: str) -> dict[str, Any] | None:
    """The version a stored reference names today, or None where ``Vault.get`` fails."""
    try:
        spec = specs.parse(text)
    except InvalidSpec:
        return None
    row = rows.lookup(conn, spec)
    return None if row is None else rows.version_dict(row[: rows.WIDTH])


def refs(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``refs SPEC [--reverse] [--depth N|all]``."""
    depth = [f.split("=", 1)[1] for f in flags if f.startswith("--depth=")]
    if depth:
        from toolvault.fastcli import graph

        graph.refs(conn, args[0], depth[0], flags, out)
        return
    version, _ = rows.find(conn, parse(args[0]))
    reverse = "--reverse" in flags
    report = _referenced_by(conn, version) if reverse else _references(conn, version)
    if "--json" in flags:
        out.json(report)
        return
    shown = str(report["version"]).split("@")[0]
    if reverse:
        if not report["referenced_by"]:
            out.echo(f"nothing references {shown}")
        for r in report["referenced_by"]:
            how = "" if r["exact"] else "  (stored as written; resolves to it now)"
            out.echo(f"{r['name']}:{r['version']}  via {r['via']}{how}")
        return
    if not report["references"]:
        out.echo(f"{shown} references nothing")
    for i in report["references"]:
        out.echo(f"{i['ref']}{STATUS[i['status']].format(resolved=i['resolved'] or '-')}")


def _references(conn: sqlite3.Connection, version: dict[str, Any]) -> dict[str, Any]:
    items = []
    for stored in version["references"]:
        pinned = PINNED.fullmatch(stored) is not None
        t = resolve(conn, stored)
        status = ("exact" if pinned else "resolves") if t else ("changed" if pinned else "dangling")
        items.append(
            {
                "ref": stored,
                "status": status,
                "name": t["name"] if t else None,
                "version": t["version"] if t else None,
                "sha256": t["sha256"] if t else None,
                "resolved": ref(t) if t else None,
            }
        )
    return {"version": ref(version), "references": items}


def _referenced_by(conn: sqlite3.Connection, version: dict[str, Any]) -> dict[str, Any]:
    name = version["name"]
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    sql = (
        f"SELECT {rows.V_COLS} FROM versions v WHERE v.refs LIKE ? ESCAPE '\\' "
        "ORDER BY v.name, v.version"
    )
    found = []
    for row in conn.execute(sql, (f"%{escaped}%",)).fetchall():
        candidate = rows.version_dict(row)
        for stored in candidate["references"]:
            exact = stored == ref(version)
            if exact or (not PINNED.fullmatch(stored) and _resolves_to(conn, stored, version)):
                found.append(_referrer(candidate, stored, exact))
    return {"version": ref(version), "referenced_by": found}


def _resolves_to(conn: sqlite3.Connection, stored: str, version: dict[str, Any]) -> bool:
    try:
        parsed = specs.parse(stored)
    except InvalidSpec:
        return False
    if parsed.name != version["name"] or parsed.kind is Kind.VERSIONS:
        return False
    row = rows.lookup(conn, parsed)
    return row is not None and row[1] == version["version"]


def _referrer(v: dict[str, Any], stored: str, exact: bool) -> dict[str, Any]:
    return {
        "name": v["name"],
        "version": v["version"],
        "sha256": v["sha256"],
        "ref": ref(v),
        "via": stored,
        "exact": exact,
        "created_at": v["created_at"],
        "created_by": v["created_by"],
    }


# -- context ----------------------------------------------------------------------------


def context(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``context SPEC...`` without options: each version once, in the order given. A yanked
    version falls back (the full command warns on stderr), as does a range or a signed one."""
    from toolvault import contextdoc

    found: list[dict[str, Any]] = []
    for text in args:
        version, content = rows.find(conn, parse(text))
        if any(v["ref"] == ref(version) for v in found):
            continue
        info = describe(conn, version)
        if info["yanked"]:
            raise rows.Fallback
        try:
            found.append(contextdoc.item(info, content.decode("utf-8")))
        except UnicodeDecodeError:
            raise rows.Fallback from None
    if "--json" in flags:
        out.json(found)
        return
    out.echo(contextdoc.render(found), nl=False)
