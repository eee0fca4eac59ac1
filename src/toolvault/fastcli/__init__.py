"""The read commands' fast paths: ``ls``, ``show``, ``versions``, ``diff``, ``refs``,
``context``, ``status``, ``search``, ``verify --lock``, ``--version`` and ``--help`` without
click or the service.

An agent calling the CLI in a loop pays its start-up every time, and click alone costs
more to import than Python and ``sqlite3`` together (the floor that ``bench/read_path.py``
measures these commands against). So ``main.py`` hands each invocation here first: the
plain case — a local SQLite vault at the current schema, options this module knows, a
version that exists — is answered with the standard library, and anything else (an
error to explain, a migration to apply, a daemon, PostgreSQL, a signature to check,
colour for a terminal) returns False before printing anything, for the full command
line to answer. ``tests/test_fastcli.py`` holds every answer here byte-identical to
click's, and the modules loaded to the ones listed there.
"""

from __future__ import annotations

import os

from toolvault.fastcli.base import Fallback

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from sqlite3 import Connection

    from toolvault.fastcli.render import Out

    Handler = Callable[[Connection, list[str], set[str], Out], None]

# Each command's positional arguments (fewest, most; None: any number) and its flags
# besides --json; a command or an option not here goes to click.
COMMANDS: dict[str, tuple[int, int | None, frozenset[str]]] = {
    "ls": (0, 1, frozenset({"--all"})),
    "show": (1, 1, frozenset()),
    "versions": (1, 2, frozenset()),
    "diff": (1, 2, frozenset({"--stat"})),
    "refs": (1, 1, frozenset({"--reverse"})),
    "context": (1, None, frozenset()),
    "status": (0, 0, frozenset()),
    "search": (1, None, frozenset({"--all-versions"})),
}
# Options that take a value, by command: the value travels in the flags as "--depth=V"
VALUED = {"refs": "--depth"}


def serve(argv: list[str]) -> bool:
    """Answer ``argv`` if it is a plain read; False (nothing printed) to fall back. A
    command that found problems (``verify --lock``) exits with its status once printed."""
    if argv in (["--version"], ["--help"], ["-h"]):
        return _about(argv[0])
    try:
        url = os.environ.get("TOOLVAULT_URL")
        if url:
            _remote(url, argv)
            return True
        db = os.environ.get("TOOLVAULT_DB")
        if db:
            _postgres(db, argv)
            return True
        home, flags, rest = _words(argv)
        if rest[:1] == ["verify"]:
            status = _verify_lock(home, flags, rest[1:])
        else:
            _run(*_split(home, flags, rest))
            status = 0
    except Fallback:
        return False
    if status:
        raise SystemExit(status)
    return True


def _about(flag: str) -> bool:
    import sys

    from toolvault.fastcli import help as about

    text = about.VERSION if flag == "--version" else about.help_text()
    if text is None:
        return False
    sys.stdout.write(text)
    sys.stdout.flush()
    return True


def _words(argv: list[str]) -> tuple[str | None, set[str], list[str]]:
    """toolvault's own options (``--home H``, ``--json``) and the words after them;
    :class:`Fallback` for anything unusual."""
    home, flags, rest = None, set(), list(argv)
    while rest and rest[0] in ("--home", "--json"):
        if rest.pop(0) == "--json":
            flags.add("--json")
        elif not rest or not rest[0] or rest[0].startswith("-"):
            raise Fallback
        else:
            home = rest.pop(0)
    return home, flags, rest


def _split(
    home: str | None, flags: set[str], rest: list[str]
) -> tuple[str, str, list[str], set[str]]:
    """Home, command, positional arguments and flags of a command line this module
    serves; :class:`Fallback` for any other."""
    if not rest or rest[0] not in COMMANDS:
        raise Fallback
    command, args, words = rest[0], [], iter(rest[1:])
    least, most, known = COMMANDS[command]
    valued = VALUED.get(command, "\0")
    for word in words:
        if word in known or word == "--json":
            flags.add(word)
        elif word == valued:
            flags.add(_valued(word, next(words, "-")))
        elif word.startswith(f"{valued}="):
            flags.add(_valued(*word.split("=", 1)))
        elif word.startswith("-"):  # -h, --help, another option, "--": click's
            raise Fallback
        else:
            args.append(word)
    if len(args) < least or (most is not None and len(args) > most):
        raise Fallback
    if sum(f.startswith("--depth=") for f in flags) > 1:
        raise Fallback
    return _home(home), command, args, flags


def _valued(option: str, value: str) -> str:
    """An option's value as a flag ``OPTION=VALUE``; a missing value, one that looks like
    an option, or the option given twice is click's to explain."""
    if not value or value.startswith("-"):
        raise Fallback
    return f"{option}={value}"


def _home(home: str | None) -> str:
    """As :func:`toolvault.config.resolve_home`, without importing pathlib."""
    chosen = home or os.environ.get("TOOLVAULT_HOME") or os.path.join("~", ".toolvault")
    where = os.path.expanduser(chosen)
    if home is not None and os.path.exists(where) and not os.path.isdir(where):
        raise Fallback  # click refuses a --home that is a file
    return where


def _remote(url: str, argv: list[str]) -> None:
    """``refs SPEC --depth N|all`` against the daemon at ``url`` (:mod:`.remote`); any
    other command is the full command line's, through its client."""
    from toolvault.fastcli.render import Out

    _, command, args, flags = _split(*_words(argv))
    if command != "refs" or not any(f.startswith("--depth=") for f in flags):
        raise Fallback
    from toolvault.fastcli import remote

    out = Out()
    remote.refs(url, args[0], flags, out)
    out.flush()


def _postgres(db: str, argv: list[str]) -> None:
    """``refs SPEC --depth N|all`` on the PostgreSQL vault at ``db`` (:mod:`.postgres`);
    any other command is the full command line's."""
    home, command, args, flags = _split(*_words(argv))
    if command != "refs" or not any(f.startswith("--depth=") for f in flags):
        raise Fallback
    if not os.path.isdir(home):
        raise Fallback  # the full command line makes it (config.toml and keys/ live there)
    from toolvault.fastcli import graph, postgres
    from toolvault.fastcli.render import Out

    (depth,) = [f.split("=", 1)[1] for f in flags if f.startswith("--depth=")]
    out = Out()
    conn = postgres.connect(db)
    try:
        graph.refs(conn, args[0], depth, flags, out, dialect="postgres")
    finally:
        conn.close()
    out.flush()


def _verify_lock(home: str | None, flags: set[str], words: list[str]) -> int:
    """``verify --lock FILE [--into DIR] [--home DIR] [--json]``: its exit status."""
    from toolvault.fastcli import verifylock
    from toolvault.fastcli.base import connect, spelled
    from toolvault.fastcli.render import Out

    lock_path, into, verify_home, as_json = verifylock.options(words)
    where = _home(verify_home or home)
    out = Out()
    conn = connect(where)
    try:
        verifylock.verify(conn, spelled(where), lock_path, into, as_json or "--json" in flags, out)
    finally:
        conn.close()
    out.flush()
    return out.status


def _run(home: str, command: str, args: list[str], flags: set[str]) -> None:
    from toolvault.fastcli import rows
    from toolvault.fastcli.render import Out

    out = Out()
    conn = rows.connect(home)
    try:
        if command == "status":
            from toolvault.fastcli.status import status

            status(conn, home, flags, out)
        else:
            _handler(command)(conn, args, flags, out)
    finally:
        conn.close()
    out.flush()


def _handler(command: str) -> Handler:
    from toolvault.fastcli import commands

    if command == "search":
        from toolvault.fastcli.search import search

        return search
    if command in ("refs", "context"):
        from toolvault.fastcli import lineage

        found: Handler = getattr(lineage, command)
        return found
    found = getattr(commands, command)
    return found
