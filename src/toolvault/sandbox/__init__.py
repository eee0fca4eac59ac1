"""Running a version's content inside a bubblewrap sandbox (SPEC §13).

The library API that ``toolvault run --sandbox`` and MCP's ``run`` share::

    from toolvault.sandbox import SandboxOptions, run_sandboxed

    outcome = run_sandboxed(content, ["--help"], SandboxOptions(timeout=10), name="fmt",
                            hide=[vault.home], capture=True)
    outcome.exit_code, outcome.stdout, outcome.timed_out

With ``capture`` the outputs are returned (stdin is the bytes given, else empty); without
it they go to this process's own stdout and stderr (cut at ``max_output`` when set). What
the tool can see and do is described in :mod:`toolvault.sandbox.layout`; when the
sandbox cannot be made, :class:`~toolvault.errors.SandboxUnavailable` is raised and the
tool is not run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from toolvault.errors import InvalidInput, SandboxUnavailable
from toolvault.sandbox.layout import TOOL_DIR, Layout, bwrap_argv, environment
from toolvault.sandbox.options import (
    CAPTURE_MAX_OUTPUT,
    CAPTURE_TIMEOUT,
    SandboxOptions,
)
from toolvault.sandbox.spawn import TIMED_OUT, Outcome, execute, marker

__all__ = [
    "CAPTURE_MAX_OUTPUT",
    "CAPTURE_TIMEOUT",
    "TIMED_OUT",
    "Outcome",
    "SandboxOptions",
    "SandboxUnavailable",
    "find_bwrap",
    "marker",
    "run_sandboxed",
]


def run_sandboxed(
    content: bytes,
    args: Sequence[str],
    options: SandboxOptions,
    *,
    name: str = "tool",
    hide: Iterable[Path] = (),
    capture: bool = False,
    stdin: bytes | None = None,
) -> Outcome:
    """Run ``content`` (a script; without ``#!`` it is run by ``/bin/sh``) with ``args``
    in a sandbox. ``hide``: folders the tool must not see, beside the vault home that
    TOOLVAULT_HOME names (or ``~/.toolvault``); pass the open vault's home."""
    passable(args)
    bwrap = find_bwrap()
    layout = plan(options, hide)
    path = f"{TOOL_DIR}/{name}"
    command = [path, *args] if content[:2] == b"#!" else ["/bin/sh", path, *args]
    for disable_userns in (True, False):
        argv = bwrap_argv(bwrap, layout, name, command, disable_userns=disable_userns)
        try:
            return execute(
                argv,
                environment(options.env),
                content,
                capture=capture,
                stdin=stdin,
                timeout=options.timeout,
                max_output=options.max_output,
            )
        except SandboxUnavailable as exc:
            # bwrap before 0.8 has no --disable-userns; asking it costs a process on
            # every run, trying costs one only where it is missing (the tool never ran).
            if not disable_userns or "--disable-userns" not in str(exc):
                raise
    raise AssertionError("unreachable: the second try returns or raises")


def passable(args: Sequence[str]) -> None:
    """Refuse arguments no program can be given: a NUL byte ends a C string, and a lone
    surrogate (which JSON, hence MCP, can carry) has no bytes on a command line."""
    for number, arg in enumerate(args, 1):
        try:
            data = os.fsencode(arg)
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"argument {number} holds a character that is not text (an unpaired "
                f"surrogate) at position {exc.start}; the tool was not run"
            ) from None
        if b"\0" in data:
            raise InvalidInput(
                f"argument {number} holds a NUL byte, which no program can be given; the "
                "tool was not run"
            )


def find_bwrap() -> str:
    """The ``bwrap`` program on PATH, or :class:`SandboxUnavailable` saying how to get it."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(
            "cannot make the sandbox: bwrap (bubblewrap) is not on PATH; install it "
            "('apt-get install bubblewrap', 'dnf install bubblewrap') or run without "
            "--sandbox; the tool was not run",
            details={"reason": "no bwrap"},
        )
    return found


def plan(options: SandboxOptions, hide: Iterable[Path]) -> Layout:
    """The run's folders, refusing a writable or current folder inside a vault home (it
    could not be both shown and hidden)."""
    from toolvault.config import resolve_home

    cwd = options.folder()
    writable = options.writable()
    hidden = tuple(dict.fromkeys(Path(h).expanduser().resolve() for h in [*hide, resolve_home()]))
    for path in [cwd, *writable]:
        for home in hidden:
            if path == home or home in path.parents:
                raise InvalidInput(
                    f"{path} is inside the vault's home {home}, which the sandbox hides; "
                    "run the tool from another folder",
                    details={"path": str(path), "home": str(home)},
                )
    # The current folder is writable without --rw, and when --rw names it (as MCP's run
    # does with its scratch folder): bound read-only, it would stay so.
    cwd_writable = not options.rw or cwd in writable
    return Layout(cwd, tuple(writable), cwd_writable, hidden, options.net)
