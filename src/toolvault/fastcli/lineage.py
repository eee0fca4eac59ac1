"""``refs`` and ``context`` on the fast path: as ``toolvault.lineage`` and
``cli/lineage.py`` answer them, from ``rows`` and the standard library."""

from __future__ import annotations

import re
import sqlite3

from toolvault import spec as specs
from toolvault.errors import InvalidSpec
from toolvault.fastcli import rows
from toolvault.fastcli.commands import parse, ref
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


def resolve(conn: sqlite3.Connection, text: str) -> dict[str, Any] | None:
    """The version a stored reference names today, or None where ``Vault.get`` fails."""
    try:
        spec = specs.parse(text)
    except InvalidSpec:
        return None
    row = rows.lookup(conn, spec)
    return None if row is None else rows.version_dict(row[: rows.WIDTH])


def refs(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``refs SPEC [--reverse]``."""
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
    """``context SPEC...``: each version once, in the order given."""
    found: list[dict[str, Any]] = []
    for text in args:
        version, content = rows.find(conn, parse(text))
        try:
            version["content"] = content.decode("utf-8")
        except UnicodeDecodeError:
            raise rows.Fallback from None
        if all(ref(v) != ref(version) for v in found):
            found.append(version)
    if "--json" in flags:
        out.json([{**v, "ref": ref(v)} for v in found])
        return
    parts = [
        f"# Tool versions from toolvault ({len(found)})\n\n"
        "Each section is one exact, immutable version. To build on one, publish the new "
        "content with `toolvault add FILE --ref <ref>` so that the lineage is kept.\n"
    ]
    out.echo("\n".join(parts + [_section(v) for v in found]), nl=False)


def _section(v: dict[str, Any]) -> str:
    text = v["content"]
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    fields = [
        ("name", v["name"]),
        ("version", str(v["version"])),
        ("ref", ref(v)),
        ("sha256", v["sha256"]),
        ("created_at", v["created_at"]),
        ("created_by", v["created_by"] or "-"),
        ("prompt", _one_line(v["prompt"]) if v["prompt"] else "-"),
    ]
    if v["description"]:
        fields.insert(2, ("description", _one_line(v["description"])))
    if v["message"]:
        fields.append(("message", _one_line(v["message"])))
    if v["references"]:
        fields.append(("references", ", ".join(v["references"])))
    header = "\n".join(f"- {key}: {value}" for key, value in fields) + _usage(v["usage"])
    body = text if text.endswith("\n") or not text else text + "\n"
    head = f"## {v['name']}:{v['version']}\n\n{header}\n\n"
    return f"{head}{fence}{_language(text)}\n{body}{fence}\n"


def _usage(usage: str | None) -> str:
    """As ``toolvault.lineage.usage_block``."""
    if not usage:
        return ""
    lines = "\n".join(f"    {line}".rstrip() for line in usage.splitlines())
    return f"\n- usage:\n\n{lines}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _language(text: str) -> str:
    if not text.startswith("#!"):
        return ""
    words = text[2:].split("\n", 1)[0].split()
    if not words:
        return ""
    program = words[0].rsplit("/", 1)[-1]
    if program == "env":
        program = next((w for w in words[1:] if not w.startswith("-")), "")
    return LANGUAGES.get(program, "")
