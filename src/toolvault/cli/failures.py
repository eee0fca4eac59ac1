"""How the command line reports a failure: one line, or one JSON object, and an exit code.

Every error leaves the CLI here (``VaultGroup.main``). A person reads one line
``toolvault: error: …``; a program that asked for ``--json`` reads one JSON object
on one line of stderr, ``{"error": {"code", "message", "details"}}``, with the codes
and details the daemon answers (:mod:`toolvault.errors` is the one table; SPEC §11).
Exit codes stay 0 / 1 / 2, except ``run``'s 125 / 126 / 127 (:mod:`.run_exit`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import click

from toolvault.errors import ToolvaultError

# (code, message, details, exit code): what is reported of one failure.
Failure = tuple[str, str, dict[str, Any], int]


class ExitAs(click.ClickException):
    """A failure reported as its cause is, with another exit code (``run``'s 125-127)."""

    def __init__(self, cause: BaseException, exit_code: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.status = exit_code  # not exit_code: click's is a class variable


def report_error(exc: BaseException, as_json: bool = False) -> int:
    """Print ``exc`` as one ``toolvault: error: …`` line, or under ``as_json`` as one
    JSON object on one line, to stderr; return the exit code."""
    if os.environ.get("TOOLVAULT_DEBUG") == "1":
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, click.UsageError) and exc.ctx and _no_args_help(exc):
        click.echo(exc.ctx.get_help())  # 'toolvault' or 'toolvault db' alone: the help
        return 0
    failure = describe(exc.cause if isinstance(exc, ExitAs) else exc)
    if failure[1]:  # a broken pipe has no message: its reader went away
        click.echo(render(failure, as_json), err=True)
    return exc.status if isinstance(exc, ExitAs) else failure[3]


def render(failure: Failure, as_json: bool) -> str:
    """The line printed for a failure: the person's, or (``as_json``) the program's."""
    code, message, details, _ = failure
    message = " ".join(message.split())
    if as_json:  # ASCII only: one line, and nothing in it can draw on a terminal
        return json.dumps({"error": {"code": code, "message": message, "details": details}})
    return f"toolvault: error: {_printable(message)}"


def describe(exc: BaseException) -> Failure:
    """The code, message, details and exit code of any failure the CLI can meet."""
    if isinstance(exc, ToolvaultError):
        return exc.code, str(exc), exc.details, exc.exit_code
    if isinstance(exc, click.UsageError):
        return _usage(exc)
    if isinstance(exc, click.ClickException):
        return "error", exc.format_message(), {}, exc.exit_code
    if isinstance(exc, click.Abort):
        return "aborted", "aborted", {}, 1
    if isinstance(exc, BrokenPipeError):  # the reader went away: nothing to tell it
        return "broken_pipe", "", {}, 1
    if isinstance(exc, OSError) and exc.strerror:  # a file the system refused: no errno
        where = f"{exc.filename}: " if exc.filename else ""
        details = _os_details(exc)
        return "os_error", f"{where}{exc.strerror}", details, 1
    if isinstance(exc, OSError):
        return "os_error", str(exc), {}, 1
    return (
        "internal",
        f"internal error: {type(exc).__name__}: {exc} (set TOOLVAULT_DEBUG=1 for a traceback)",
        {},
        1,
    )


def _usage(exc: click.UsageError) -> Failure:
    """A command line click refused: ``invalid_input``, naming the parameter."""
    where = exc.ctx.command_path if exc.ctx else ""
    hint = f" (see '{where} --help')" if where else ""
    details: dict[str, Any] = {"usage": where} if where else {}
    param = getattr(exc, "param", None)
    if isinstance(param, click.Parameter) and param.name:
        details["parameter"] = param.name
    return "invalid_input", f"{exc.format_message()}{hint}", details, exc.exit_code


def _os_details(exc: OSError) -> dict[str, Any]:
    import errno

    details: dict[str, Any] = {}
    if exc.filename:
        details["path"] = os.fsdecode(exc.filename)
    if exc.errno is not None and exc.errno in errno.errorcode:
        details["errno"] = errno.errorcode[exc.errno]
    return details


def json_wanted(group: click.Group, args: Sequence[str]) -> bool:
    """Whether ``args`` asked for ``--json``, of toolvault or of the command they name.

    Parsed again as click parses them, without callbacks and ignoring errors (as for a
    shell's TAB, unknown options kept as arguments), so that a command line click
    refused is answered in JSON too when it asked for it, and a value that happens to
    read ``--json`` (``--message --json``, an argument of ``run``'s tool) is not taken
    for the flag."""
    try:
        lenient: dict[str, Any] = {"resilient_parsing": True, "ignore_unknown_options": True}
        ctx = group.make_context("toolvault", list(args), **lenient)
        for _ in range(8):  # groups nest one level (db, token, keys…): bounded anyway
            if ctx.params.get("as_json"):
                return True
            command = ctx.command
            rest = [*_protected(ctx), *ctx.args]
            if not isinstance(command, click.Group) or not rest:
                return False
            name, sub, rest = command.resolve_command(ctx, rest)
            if sub is None or name is None:
                return False
            ctx = sub.make_context(name, rest, parent=ctx, **lenient)
    except Exception:
        return False
    return False


def _protected(ctx: click.Context) -> list[str]:
    """The command name a group's parsing set aside (an attribute click 8.2 renamed)."""
    found = getattr(ctx, "_protected_args", None)
    if found is None:
        found = ctx.__dict__.get("protected_args", [])
    return list(found)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]}


def _printable(message: str) -> str:
    """A message never draws on the terminal: a control character that reached it
    (a file name, text stored before toolvault refused such text) is shown escaped."""
    return message.translate(_CONTROL)


def _no_args_help(exc: click.UsageError) -> bool:
    """A group called with nothing after it (click >= 8.2 raises NoArgsIsHelpError)."""
    kind = getattr(click.exceptions, "NoArgsIsHelpError", None)
    return kind is not None and isinstance(exc, kind)
