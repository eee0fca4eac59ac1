"""``toolvault run SPEC [ARGS…]``: run any version, passing stdin, stdout and exit code."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from toolvault.cli._common import obj, warn
from toolvault.cli.completion import complete_spec
from toolvault.cli.run_exit import RunCommand
from toolvault.cli.sandboxed import run_in_sandbox, sandbox_options, wanted
from toolvault.errors import CannotExecute
from toolvault.running import yank_warning

if TYPE_CHECKING:
    from toolvault.models import Version


@click.command(
    cls=RunCommand,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@sandbox_options
@click.argument("spec", shell_complete=complete_spec)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(spec: str, args: tuple[str, ...], **sandbox: Any) -> None:
    """Run a version with ARGS; its stdin, stdout and exit code pass through.

    The version's file in commands/.history is executed directly when it still
    matches the recorded hash; otherwise a fresh copy is written and run. With
    --sandbox it runs inside bubblewrap: the file system read-only but for a private
    /tmp and the current folder (or the --rw folders), the vault's home and the
    user's home hidden, no network unless --net (see the README). A yanked version
    runs only when named by its number. When toolvault fails before the tool starts
    it exits 127 (no such tool or version), 126 (the version cannot be executed) or
    125 (any other error); 124 when --timeout killed the sandbox.
    """
    sandboxed = wanted(obj().home, sandbox)
    vault = obj().service()
    version = vault.cat(spec)
    yanked = yank_warning(vault, spec, version)
    if yanked:
        warn(yanked)
    tool = vault.tool(version.name)
    if tool.lifecycle != "active":
        why = f": {tool.lifecycle_message}" if tool.lifecycle_message else ""
        warn(f"{tool.name} is {tool.lifecycle}{why}")
    if not version.executable:
        raise CannotExecute(
            f"{version.name}:{version.version} is not executable (no '#!' line and no "
            f"execute bit); read it with 'toolvault cat {version.name}:{version.version}'",
            {"ref": version.ref, "executable": False},
        )
    if sandboxed:
        run_in_sandbox(vault, version, args, sandbox)
    path = vault.runnable_path(version)
    vault.close()
    if path is not None:
        _exec([str(path), *args], version)
    assert version.content is not None
    import subprocess  # only for a version whose history file cannot be trusted
    import tempfile

    with tempfile.TemporaryDirectory(prefix="toolvault-run-") as tmp:
        copy = os.path.join(tmp, version.name)
        with open(copy, "wb") as fh:
            fh.write(version.content)
        os.chmod(copy, 0o700)
        try:
            code = subprocess.call(_argv([copy, *args]))
        except OSError as exc:
            raise _cannot_execute(exc, version) from None
    sys.exit(128 - code if code < 0 else code)  # killed by signal N: 128+N, as shells say


def _argv(argv: list[str]) -> list[str]:
    """A file without '#!' is run by the shell, as shells themselves do."""
    with open(argv[0], "rb") as fh:
        return argv if fh.read(2) == b"#!" else ["/bin/sh", *argv]


def _exec(argv: list[str], version: Version) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        argv = _argv(argv)
        os.execv(argv[0], argv)
    except OSError as exc:  # exec format error, a missing interpreter, permission
        raise _cannot_execute(exc, version) from None


def _cannot_execute(exc: OSError, version: Version) -> CannotExecute:
    import errno

    short, why = f"{version.name}:{version.version}", exc.strerror or str(exc)
    return CannotExecute(
        f"cannot execute {short}: {why}; check its '#!' line ('toolvault cat {short}')",
        {"ref": version.ref, "errno": errno.errorcode.get(exc.errno or 0, "")},
    )
