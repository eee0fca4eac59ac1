"""``run --sandbox`` (SPEC §13): the options, the ``[run] sandbox`` default, and the run.

Kept apart from :mod:`toolvault.cli.run` so that a run without the sandbox imports
nothing of it: :mod:`toolvault.sandbox` is loaded only when a tool is sandboxed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from toolvault.cli._common import warn
from toolvault.errors import InvalidInput

if TYPE_CHECKING:
    from toolvault.client import RemoteVault
    from toolvault.models import Version
    from toolvault.vault import Vault

F = TypeVar("F", bound=Callable[..., Any])

# The options that only mean something inside the sandbox, as the user spells them.
SANDBOX_ONLY = {"net": "--net", "rw": "--rw", "timeout": "--timeout", "max_output": "--max-output"}
SANDBOX_ONLY["env"] = "--env"


def sandbox_options(func: F) -> F:
    """``--sandbox/--no-sandbox``, ``--net``, ``--rw``, ``--timeout``, ``--max-output``,
    ``--env`` (each before SPEC)."""
    options = [
        click.option(
            "--sandbox/--no-sandbox",
            default=None,
            help="Run inside a bubblewrap sandbox (default: [run] sandbox in config.toml).",
        ),
        click.option("--net", is_flag=True, default=None, help="Sandbox: allow the network."),
        click.option(
            "--rw",
            multiple=True,
            metavar="PATH",
            help="Sandbox: a folder the tool may write (repeatable; default: the current one).",
        ),
        click.option(
            "--timeout", type=float, metavar="S", help="Sandbox: kill every process after S s."
        ),
        click.option(
            "--max-output", type=int, metavar="BYTES", help="Sandbox: cut stdout and stderr."
        ),
        click.option(
            "--env", multiple=True, metavar="NAME", help="Sandbox: pass this variable in too."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def wanted(home: str | None, flags: dict[str, Any]) -> bool:
    """Whether this run is sandboxed: ``--sandbox``/``--no-sandbox``, else ``[run] sandbox``
    of config.toml. A sandbox-only option without the sandbox is refused, not ignored."""
    chosen = flags.get("sandbox")
    if chosen is None:
        chosen = _configured(home)
    if not chosen:
        given = [spelled for key, spelled in SANDBOX_ONLY.items() if flags.get(key)]
        if given:
            raise InvalidInput(
                f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to a "
                "sandboxed run: add --sandbox "
                "(or set [run] sandbox = true in config.toml)"
            )
    return bool(chosen)


def _configured(home: str | None) -> bool:
    """``[run] sandbox`` of config.toml (false when unset)."""
    from toolvault.config import resolve_home

    path = resolve_home(home) / "config.toml"
    if not path.is_file():
        return False
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}") from exc
    table = data.get("run", {})
    value = table.get("sandbox", False) if isinstance(table, dict) else None
    if not isinstance(value, bool):
        raise InvalidInput(
            f"{path}: [run] sandbox must be true or false, e.g. [run] sandbox = true"
        )
    return value


def run_in_sandbox(
    vault: Vault | RemoteVault, version: Version, args: tuple[str, ...], flags: dict[str, Any]
) -> NoReturn:
    """Run ``version`` in the sandbox, its output streamed; exit with its exit code (124
    at the time limit, as ``timeout`` does)."""
    from pathlib import Path

    from toolvault import sandbox

    options = sandbox.SandboxOptions(
        net=bool(flags.get("net")),
        rw=tuple(Path(p) for p in flags.get("rw") or ()),
        timeout=flags.get("timeout"),
        max_output=flags.get("max_output"),
        env=tuple(flags.get("env") or ()),
    )
    assert version.content is not None
    hide = [vault.home]
    vault.close()
    sys.stdout.flush()
    sys.stderr.flush()
    outcome = sandbox.run_sandboxed(
        version.content, list(args), options, name=version.name, hide=hide
    )
    short = f"{version.name}:{version.version}"
    for stream, cut in (("stdout", outcome.stdout_truncated), ("stderr", outcome.stderr_truncated)):
        if cut:
            warn(f"{short}: {stream} cut at {options.max_output} bytes (--max-output)")
    if outcome.timed_out:
        warn(f"{short} timed out after {options.timeout:g} s (--timeout): every process killed")
    sys.stdout.flush()
    sys.stderr.flush()
    # Like the plain run, which ends by exec'ing the tool, skip the interpreter's teardown:
    # the vault is closed and everything is written, and teardown costs a run ~10 ms.
    os._exit(outcome.exit_code)
