"""``run``'s exit codes: the tool's own, or 125 / 126 / 127 when it never started.

A script that runs a tool through ``toolvault run`` must tell the tool's exit 1 from
toolvault's; as ``env``, ``timeout`` and ``nice`` do, toolvault's own failures before
the tool starts take codes a tool rarely uses (SPEC §11):

- 127: there is no such tool or version (``not_found``, or a spec that names none);
- 126: the version cannot be executed (``cannot_execute``);
- 125: anything else, from a command line click refused to an unreachable daemon.

What is printed is what any command prints for the same failure (one line, or the
JSON object under ``toolvault --json run``); only the exit code differs.
"""

from __future__ import annotations

from typing import Any

import click

from toolvault.errors import CannotExecute, InvalidSpec, NotFound

FAILED = 125
CANNOT_EXECUTE = 126
NOT_FOUND = 127


def exit_code(exc: BaseException) -> int:
    """The exit code of ``run`` for a failure before the tool started."""
    if isinstance(exc, (NotFound, InvalidSpec)):
        return NOT_FOUND
    if isinstance(exc, CannotExecute):
        return CANNOT_EXECUTE
    return FAILED


class RunCommand(click.Command):
    """A command whose every failure is reported with :func:`exit_code`."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.Exit:
            raise  # --help: not a failure
        except Exception as exc:  # a command line click refused
            from toolvault.cli.failures import ExitAs  # only on failure: run stays light

            raise ExitAs(exc, FAILED) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except Exception as exc:  # SystemExit (the tool's own code) is not an Exception
            from toolvault.cli.failures import ExitAs

            raise ExitAs(exc, exit_code(exc)) from exc
