"""The read commands' fast paths: the same output as ``cli/read.py``, ``cli/lineage.py``
and ``cli/status.py`` for their plain case, from ``rows`` and the standard library.

Each function takes the open connection, the command's positional arguments and
flags, and what to print into; it raises :class:`Fallback` for anything it does not
serve, before anything is printed.
"""

from __future__ import annotations

import os
import sqlite3

from toolvault import spec as specs
from toolvault.errors import InvalidSpec
from toolvault.fastcli import rows
from toolvault.fastcli.render import Out
from toolvault.fastcli.rows import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from toolvault.spec import Spec

LISTING_HEADER = ["VERSION", "SHA256", "SIZE", "CREATED", "BY", "NOTE"]


def parse(text: str) -> Spec:
    """A spec, or fall back: the full path explains what is wrong with it."""
    try:
        return specs.parse(text)
    except InvalidSpec:
        raise Fallback from None


def ref(v: dict[str, Any]) -> str:
    """``Version.ref``: the exact reference form."""
    return f"{v['name']}:{v['version']}@sha256:{v['sha256']}"


# -- ls and versions ----------------------------------------------------------------------


def ls(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``ls [/commands] [--all]``."""
    if args and args[0] not in ("/commands", "/commands/", "/tools", "/tools/"):
        raise Fallback
    if "--all" in flags:
        listing(rows.versions(conn, None), "--json" in flags, True, out)
        return
    tools = rows.tools(conn)
    keys = ("name", "latest_version", "versions", "owner", "lifecycle", "updated_at")
    if "--json" in flags:
        out.json([{**{k: t[k] for k in keys}, "description": t["description"]} for t in tools])
        return
    from toolvault.termfit import fit_last, terminal_width

    found = [[*(str(t[k]) for k in keys), t["description"] or ""] for t in tools]
    header = ["NAME", "LATEST", "VERSIONS", "OWNER", "LIFECYCLE", "UPDATED", "DESCRIPTION"]
    out.table(fit_last(found, header, terminal_width()), header)


def versions(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``versions NAME [list]``."""
    if len(args) == 2 and args[1] != "list":
        raise Fallback
    try:
        name = specs.parse_name(args[0])
    except InvalidSpec:
        raise Fallback from None
    listing(rows.versions(conn, name), "--json" in flags, False, out)


def listing(found: list[dict[str, Any]], as_json: bool, with_name: bool, out: Out) -> None:
    """As ``cli.read._render_listing``."""
    if as_json:
        out.json(found)
        return
    table = []
    for v in found:
        note = f"rollback of {v['rollback_of']}" if v["rollback_of"] else (v["message"] or "")
        if v.get("yanked"):
            note = f"YANKED: {v['yanked']}" + (f"; {note}" if note else "")
        label = f"{v['name']}:{v['version']}" if with_name else str(v["version"])
        by = v["created_by"] or "-"
        table.append([label, v["sha256"][:12], str(v["size"]), v["created_at"], by, note])
    out.table(table, LISTING_HEADER)


# -- show -------------------------------------------------------------------------------


def show(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``show SPEC`` of an unsigned version (checking a signature needs cryptography)."""
    version, _ = rows.find(conn, parse(args[0]))
    info = describe(conn, version)
    if "--json" in flags:
        out.json(info)
        return
    show_text(info, out)


def describe(conn: sqlite3.Connection, version: dict[str, Any]) -> dict[str, Any]:
    """As ``Vault.describe`` (``show --json``) for an unsigned version: a signature to
    check needs cryptography, so a signed one falls back."""
    if version["signature"]:
        raise Fallback
    tool = rows.tool(conn, version["name"])
    keys = ("name", "latest_version", "versions", "owner", "lifecycle", "updated_at")
    return {
        "ref": ref(version),
        **version,
        "signature_status": "unsigned",
        "yanked": rows.yank_reason(conn, version["name"], version["version"]),
        "labels": rows.labels_on(conn, version["name"], version["version"]),
        "tool": {**{k: tool[k] for k in keys}, "lifecycle_message": tool["lifecycle_message"]},
    }


def show_text(info: dict[str, Any], out: Out) -> None:
    """As ``cli.read.show``'s text."""
    tool = info["tool"]
    out.echo(f"{info['name']}:{info['version']}")
    for key, value in info.items():
        if key in ("name", "version", "tool", "signature_status", "yanked", "labels"):
            continue
        if isinstance(value, list):
            value = ", ".join(value) if value else "-"
        elif isinstance(value, str) and "\n" in value:  # a usage, a prompt: kept in the column
            value = value.replace("\n", "\n" + " " * 20)
        out.echo(f"  {key + ':':<18}{'-' if value is None else value}")
    out.echo(f"  {'signed:':<18}{info['signature_status']}")
    out.echo(f"  {'labels:':<18}{', '.join(info['labels']) or '-'}")
    out.echo(f"  {'yanked:':<18}{info['yanked'] or 'no'}")
    out.echo(f"  {'tool owner:':<18}{tool['owner']}")
    message = f" ({tool['lifecycle_message']})" if tool["lifecycle_message"] else ""
    out.echo(f"  {'lifecycle:':<18}{tool['lifecycle']}{message}")
    out.echo(f"  {'latest:':<18}{tool['latest_version'] or '-'} of {tool['versions']}")


# -- diff -------------------------------------------------------------------------------


def diff(conn: sqlite3.Connection, args: list[str], flags: set[str], out: Out) -> None:
    """``diff OLD [NEW] [--stat]``; coloured text (a terminal) is left to click."""
    if not flags & {"--json", "--stat"} and os.isatty(1):
        raise Fallback
    if len(args) == 2 and os.path.lexists(args[1]):
        raise Fallback  # maybe a file not yet published (cli/filediff.py decides)
    if len(args) == 1:
        new, new_text = _version_text(conn, parse(args[0]))
        prev = new["previous_version"]
        old = (
            _version_text(conn, specs.Spec(new["name"], specs.Kind.NUMBER, prev)) if prev else None
        )
    else:
        old = _version_text(conn, parse(args[0]))
        new, new_text = _version_text(conn, parse(args[1]))
    lines = _unified(old, (new, new_text))
    added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
    removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
    if "--json" in flags:
        data = {"old": ref(old[0]) if old else None, "new": ref(new), "added": added}
        data |= {"removed": removed, "diff": "".join(lines)}
        out.json(data | {"old_version": old[0] if old else None, "new_version": new})
    elif "--stat" in flags:
        was = f"{old[0]['name']}:{old[0]['version']}" if old else "nothing"
        out.echo(
            f"{was} -> {new['name']}:{new['version']}: "
            f"{added} insertion(s)(+), {removed} deletion(s)(-)"
        )
    else:
        for line in lines:
            out.echo(line, nl=False)


def _version_text(conn: sqlite3.Connection, spec: Spec) -> tuple[dict[str, Any], str]:
    version, content = rows.find(conn, spec)
    try:
        return version, content.decode("utf-8")
    except UnicodeDecodeError:
        raise Fallback from None


def _unified(old: tuple[dict[str, Any], str] | None, new: tuple[dict[str, Any], str]) -> list[str]:
    """As ``Vault.diff``: difflib's unified diff, every line ended."""
    import difflib

    lines = difflib.unified_diff(
        old[1].splitlines(keepends=True) if old else [],
        new[1].splitlines(keepends=True),
        fromfile=f"{old[0]['name']}:{old[0]['version']}" if old else "/dev/null",
        tofile=f"{new[0]['name']}:{new[0]['version']}",
        n=3,
    )
    end = "\n\\ No newline at end of file\n"
    return [line if line.endswith("\n") else line + end for line in lines]
