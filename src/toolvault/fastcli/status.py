"""``status`` on the fast path: as ``toolvault.status`` and ``cli/status.py`` answer it
for a local SQLite vault at the current schema (nothing pending: else the full path)."""

from __future__ import annotations

import os

from toolvault.fastcli.base import Fallback, spelled
from toolvault.fastcli.render import Out
from toolvault.store.fastread import SCHEMA_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

COUNTED = ("tools", "versions", "blobs", "audit")


def status(conn: sqlite3.Connection, home: str, flags: set[str], out: Out) -> None:
    """``status [--json]``."""
    data = vault_status(conn, home)
    if "--json" in flags:
        out.json(data)
        return
    for label, text in _lines(data):
        out.echo(f"{label:<11} {text}")


def vault_status(conn: sqlite3.Connection, home: str) -> dict[str, Any]:
    """The JSON shape of ``status --json`` for the vault in ``home``."""
    names = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    if len(names) != SCHEMA_VERSION:  # a migration missing below the newest: full path
        raise Fallback
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in COUNTED)
    counts = dict(zip(COUNTED, map(int, conn.execute(sql).fetchone()), strict=True))
    last = conn.execute("SELECT seq, at FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    checkpoint = None
    if "checkpoints" in names:
        checkpoint = conn.execute(
            "SELECT seq FROM checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    where = spelled(home)
    commands = _child(where, "commands")
    return {
        "home": where,
        "database": _child(where, "vault.db"),
        "dialect": "sqlite",
        "schema": {"version": SCHEMA_VERSION, "pending": []},
        "counts": counts,
        "last_write": None if last is None or last[1] is None else {"seq": last[0], "at": last[1]},
        "checkpoint": None if checkpoint is None else {"seq": int(checkpoint[0])},
        "commands": {"path": commands, "on_path": on_path(commands)},
        "daemon": None,
    }


def _child(folder: str, name: str) -> str:
    """``str(Path(folder) / name)`` of a folder that :func:`spelled` returned."""
    return name if folder == "." else os.path.join(folder, name)


def on_path(folder: str) -> bool:
    """As ``toolvault.status.on_path``."""
    target = os.path.realpath(folder)
    entries = os.environ.get("PATH", "").split(os.pathsep)
    return any(e and os.path.realpath(os.path.expanduser(e)) == target for e in entries)


def _lines(data: dict[str, Any]) -> list[tuple[str, str]]:
    schema, counts, last = data["schema"], data["counts"], data["last_write"]
    written = "none yet"
    if last is not None:
        checkpoint = data["checkpoint"]
        signed = f"; newest signed checkpoint #{checkpoint['seq']}" if checkpoint else ""
        written = f"audit #{last['seq']} at {last['at']}{signed}"
    commands = data["commands"]
    where = commands["path"]
    shown = (
        f"{where} (on PATH)"
        if commands["on_path"]
        else f'{where} (not on PATH: export PATH="{where}:$PATH")'
    )
    return [
        ("home", data["home"]),
        ("database", f"{data['database']} ({data['dialect']})"),
        ("schema", f"version {schema['version']}, up to date"),
        ("tools", f"{counts['tools']:,}"),
        ("versions", f"{counts['versions']:,}"),
        ("blobs", f"{counts['blobs']:,}"),
        ("audit", f"{counts['audit']:,} entries"),
        ("last write", written),
        ("commands", shown),
        ("daemon", "none (TOOLVAULT_URL is not set)"),
    ]
