"""The ``toolvault`` command line: thin click commands over :class:`toolvault.Vault`.

Commands live in a few modules and are imported only when invoked, so that
``toolvault cat`` pays for nothing but click and the core; this module itself imports
neither (a shell's TAB is answered from here by ``completion`` without them).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from toolvault.errors import ToolvaultError

COMMANDS = {
    "init": "admin",
    "add": "write",
    "ls": "read",
    "cat": "read",
    "show": "read",
    "versions": "read",
    "diff": "read",
    "rollback": "write",
    "run": "run",
    "verify": "admin",
    "checkpoint": "checkpoint",
    "sync": "admin",
    "db": "admin",
    "backup": "recovery",
    "recover": "recovery",
    "label": "govern",
    "yank": "govern",
    "deprecate": "govern",
    "retire": "govern",
    "owner": "govern",
    "grant": "grants",
    "revoke": "grants",
    "grants": "grants",
    "hook": "hooks",
    "watch": "hooks",
    "audit": "govern",
    "keys": "govern",
    "trust": "govern",
    "ingest": "transfer",
    "pack": "transfer",
    "migrate-legacy": "legacy",
    "refs": "lineage",
    "search": "search",
    "context": "lineage",
    "pull": "transfer",
    "serve": "serve",
    "token": "serve",
    "mcp": "mcp",
    "status": "status",
    "completion": "completion",
    "lock": "lock",
    "install": "lock",
}


class VaultGroup(click.Group):
    """A group that loads commands lazily and turns every error into one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command: click.Command = getattr(
            importlib.import_module(f"toolvault.cli.{module}"), cmd_name.replace("-", "_")
        )
        return command

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        args = sys.argv[1:] if args is None else list(args)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except KeyboardInterrupt:
            code = 130
        except Exception as exc:  # one line (or JSON object); a bug's traceback on demand
            from toolvault.cli.failures import json_wanted, report_error

            known = (ToolvaultError, click.ClickException, click.Abort, OSError)
            if not isinstance(exc, known) and os.environ.get("TOOLVAULT_DEBUG") == "1":
                raise
            code = report_error(exc, json_wanted(self, args))
        if standalone_mode:
            sys.exit(code)
        return code


@click.group(cls=VaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    help="Vault home folder (default $TOOLVAULT_HOME or ~/.toolvault).",
)
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")
@click.version_option(package_name="toolvault", prog_name="toolvault")
@click.pass_context
def cli(ctx: click.Context, home: str | None, as_json: bool) -> None:
    """toolvault: a versioned, tamper-evident registry for command-line tools.

    Every publish of a tool makes a new immutable version (tool:1, tool:2, ...).
    Address versions as NAME, NAME:latest, NAME:previous, NAME:-K, NAME:N,
    NAME:LABEL or NAME@sha256:HEX; put HOME/commands on your PATH to run the
    latest of every tool by its name.
    """
    from toolvault.cli._common import Obj

    ctx.obj = Obj(home=home, as_json=as_json)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Console-script entry point."""
    if os.environ.get("_TOOLVAULT_COMPLETE"):  # a shell's TAB: answered before loading more
        from toolvault.cli.completion import complete

        sys.exit(complete(os.environ["_TOOLVAULT_COMPLETE"]))
    cli.main(prog_name="toolvault")
