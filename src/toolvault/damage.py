"""A lost or damaged ``vault.db`` is refused, never taken for a new vault.

A zero-byte file (a failed copy, a full disk), a file that is not SQLite, or another
program's database would otherwise open as an empty vault: ``ls`` would show nothing
and ``sync`` would then remove every tool folder of ``commands/`` -- which, with the
database gone, is the only copy left. So opening reads the file first and refuses
anything that is not a toolvault database, saying how to restore or recover; an
empty file becomes a new vault only for a command that creates one, and only while
``commands/`` holds no tool.
"""

from __future__ import annotations

import os
from pathlib import Path

from toolvault.errors import DatabaseDamaged
from toolvault.store.sqlite import SQLiteStore

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_sqlite(home: Path, *, create: bool, migrate: bool) -> SQLiteStore:
    """Open ``home/vault.db`` (which exists, or is about to be made when ``create``)."""
    file = home / "vault.db"
    try:
        return SQLiteStore.open(file, migrate=migrate, init=False)
    except DatabaseDamaged as exc:
        tools = tree_tools(home)
        if not (exc.empty and create and not tools):
            raise DatabaseDamaged(explain(home, str(exc), tools), empty=exc.empty) from None
    return SQLiteStore.open(file, migrate=migrate, init=True)


def refuse_lost(home: Path) -> None:
    """Refuse a missing ``vault.db`` next to a ``commands/`` that holds tools: the
    database was lost, and a new one would not know those tools."""
    tools = tree_tools(home)
    if tools:
        raise DatabaseDamaged(explain(home, f"there is no database at {home / 'vault.db'}", tools))


def explain(home: Path, problem: str, tools: list[str]) -> str:
    """The refusal: what is wrong with the file, and what would work."""
    if tools:
        shown = ", ".join(tools[:3]) + (", …" if len(tools) > 3 else "")
        return (
            f"{problem}, but {home / 'commands'} holds {len(tools)} tool(s) ({shown}): "
            "the vault's database was lost or damaged, and it is not taken for a new one; "
            "nothing was changed. Restore a backup (stop writers, copy it to "
            f"{home / 'vault.db'}, move {home / 'checkpoint'} aside, run 'toolvault "
            "checkpoint' and 'toolvault verify'), rebuild the database from "
            "the tree with 'toolvault recover --from-tree', or move commands/ away to "
            "start an empty vault"
        )
    if "is empty" in problem:
        return (
            f"{problem}: it is not a vault yet; nothing was changed. Run 'toolvault init' "
            "to make a new vault in it, or copy a backup of your vault there"
        )
    return (
        f"{problem}; nothing was changed. Move it away or choose another --home / "
        "TOOLVAULT_HOME, or copy a backup of your vault there"
    )


def tree_tools(home: Path) -> list[str]:
    """The tools ``commands/`` shows -- its links and its ``.history`` folders, by name
    -- read without following a link (a link in a folder's place holds nothing of ours)."""
    try:
        root = os.open(home / "commands", DIR_FLAGS)
    except OSError:  # absent, not a folder, or a link
        return []
    try:
        names = {n for n in os.listdir(root) if n != ".history" and not n.startswith(".")}
        try:
            history = os.open(".history", DIR_FLAGS, dir_fd=root)
        except OSError:
            return sorted(names)
        try:
            names.update(n for n in os.listdir(history) if not n.startswith("."))
        finally:
            os.close(history)
    finally:
        os.close(root)
    return sorted(names)
