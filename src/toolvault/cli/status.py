"""``toolvault status``: where the vault is and what state it is in. Writes nothing."""

from __future__ import annotations

import os
from typing import Any

import click

from toolvault.cli._common import emit_json, json_option, obj, wants_json


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Show the home, database, schema, counts, last write, PATH and daemon (writes nothing).

    With TOOLVAULT_URL set, commands act on that daemon: status names it and says whether
    it answers, and reads no local vault.
    """
    url = os.environ.get("TOOLVAULT_URL")
    data = _daemon_status(url) if url else _local_status()
    if wants_json(as_json):
        emit_json(data)
    else:
        _render(data)


def _local_status() -> dict[str, Any]:
    from toolvault.status import vault_status

    vault = obj().open(migrate=False)  # a pending migration is reported, not applied
    return {**vault_status(vault).to_dict(), "daemon": None}


def _daemon_status(url: str) -> dict[str, Any]:
    from toolvault.client import RemoteVault
    from toolvault.config import resolve_home
    from toolvault.status import daemon_health

    home = resolve_home(obj().home)
    RemoteVault(url, home=home).close()  # the URL's form is checked as every command does
    problem = daemon_health(url)
    return {
        "home": str(home),
        "database": None,
        "dialect": None,
        "schema": None,
        "counts": None,
        "last_write": None,
        "checkpoint": None,
        "commands": None,
        "daemon": {"url": url, "reachable": problem is None, "problem": problem},
    }


def _render(data: dict[str, Any]) -> None:
    for label, text in _lines(data):
        click.echo(f"{label:<11} {text}")


def _lines(data: dict[str, Any]) -> list[tuple[str, str]]:
    lines = [("home", data["home"])]
    daemon = data["daemon"]
    if daemon is not None:
        state = "answers" if daemon["reachable"] else daemon["problem"]
        return [*lines, ("daemon", f"{daemon['url']} (TOOLVAULT_URL; {state})")]
    schema, counts = data["schema"], data["counts"]
    pending = schema["pending"]
    lines += [
        ("database", f"{data['database']} ({data['dialect']})"),
        ("schema", f"version {schema['version']}, " + _pending_text(pending)),
        ("tools", f"{counts['tools']:,}"),
        ("versions", f"{counts['versions']:,}"),
        ("blobs", f"{counts['blobs']:,}"),
        ("audit", f"{counts['audit']:,} entries"),
        ("last write", _last_write_text(data)),
        ("commands", _commands_text(data["commands"])),
        ("daemon", "none (TOOLVAULT_URL is not set)"),
    ]
    return lines


def _pending_text(pending: list[str]) -> str:
    if not pending:
        return "up to date"
    names = ", ".join(pending)
    return f"{len(pending)} pending ({names}; 'toolvault db migrate' applies them)"


def _last_write_text(data: dict[str, Any]) -> str:
    last, checkpoint = data["last_write"], data["checkpoint"]
    if last is None:
        return "none yet"
    signed = f"; newest signed checkpoint #{checkpoint['seq']}" if checkpoint else ""
    return f"audit #{last['seq']} at {last['at']}{signed}"


def _commands_text(commands: dict[str, Any] | None) -> str:
    if commands is None:
        return "none (this vault keeps no commands/ tree)"
    if commands["on_path"]:
        return f"{commands['path']} (on PATH)"
    return f'{commands["path"]} (not on PATH: export PATH="{commands["path"]}:$PATH")'
