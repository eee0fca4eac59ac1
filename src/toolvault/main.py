"""The ``toolvault`` console script.

``toolvault cat SPEC`` is the command run most, often from scripts, so its plain
case is served here without loading click or the service layer (the other read
commands have theirs in :mod:`toolvault.fastcli`): parse the spec
with the one spec parser, read the content with one query, write it. Anything
else — another command, an option, a missing or yanked version, a schema that
needs migrating, a PostgreSQL vault — goes to the full command line, which gives
the same answer the same way, or the error and its explanation. With
``TOOLVAULT_URL`` the plain case is one request to the daemon.

A shell's TAB (``_TOOLVAULT_COMPLETE`` set) is served the same way: a tool name or
selector by ``fastcomplete``, anything else by click's own completion.
"""

from __future__ import annotations

import os
import stat
import sys

# toolvault.spec and toolvault.errors are imported by fast_cat only when the command is a
# cat: with typing and enum they are a third of the start-up of the other fast paths.


def main() -> None:
    """Entry point: the fast paths for ``cat``, the other reads and completion, else the
    click command line."""
    instruction = os.environ.get("_TOOLVAULT_COMPLETE")
    if instruction:
        from toolvault.fastcomplete import answer

        if answer(instruction):
            return
    elif fast_cat(sys.argv[1:]) or fast_read(sys.argv[1:]):
        return
    from toolvault.cli import main as full

    full()


def fast_cat(argv: list[str]) -> bool:
    """Serve ``[--home H] cat SPEC`` if it is the plain case; False to fall back."""
    home, spec_text = _home_and_spec(argv)
    if spec_text is None:
        return False
    from toolvault.errors import InvalidSpec
    from toolvault.spec import Kind, parse

    fast_kinds = (Kind.DEFAULT, Kind.LATEST, Kind.PREVIOUS, Kind.BACK, Kind.NUMBER)
    try:
        spec = parse(spec_text)
    except InvalidSpec:
        return False
    if spec.kind not in fast_kinds or spec.sha256:
        return False
    url = os.environ.get("TOOLVAULT_URL")
    if url:
        return _remote_cat(url, spec_text)
    if os.environ.get("TOOLVAULT_DB"):  # PostgreSQL: not the vault.db this path reads
        return False
    db = os.path.join(_home(home), "vault.db")
    try:  # an empty file is left to the full path (which refuses it) untouched: SQLite
        info = os.stat(db)  # would delete the write-ahead log beside it
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or not info.st_size:
        return False
    from toolvault.store.fastread import read_content

    number = spec.value if spec.kind is Kind.NUMBER else None
    content = read_content(db, spec.name, number, spec.back or 0)  # type: ignore[arg-type]
    if content is None:
        return False
    sys.stdout.buffer.write(content)
    sys.stdout.buffer.flush()
    return True


def fast_read(argv: list[str]) -> bool:
    """Serve a plain ``ls``, ``show``, ``versions``, ``diff``, ``refs``, ``context``,
    ``status``, ``search``, ``verify --lock``, ``--version`` or ``--help`` (see
    :mod:`toolvault.fastcli`); False to fall back."""
    from toolvault.fastcli import serve

    return serve(argv)


def _remote_cat(url: str, spec_text: str) -> bool:
    from toolvault.fastremote import fetch_content

    content = fetch_content(url, os.environ.get("TOOLVAULT_TOKEN"), spec_text)
    if content is None:
        return False
    sys.stdout.buffer.write(content)
    sys.stdout.buffer.flush()
    return True


def _home_and_spec(argv: list[str]) -> tuple[str | None, str | None]:
    if len(argv) == 2 and argv[0] == "cat" and not argv[1].startswith("-"):
        return None, argv[1]
    if len(argv) == 4 and argv[0] == "--home" and argv[2] == "cat":
        return argv[1], None if argv[3].startswith("-") else argv[3]
    return None, None


def _home(home: str | None) -> str:
    """As :func:`toolvault.config.resolve_home`, without importing pathlib."""
    chosen = home or os.environ.get("TOOLVAULT_HOME") or os.path.join("~", ".toolvault")
    return os.path.expanduser(chosen)
