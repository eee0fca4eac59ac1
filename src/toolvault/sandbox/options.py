"""What a sandboxed run may do: network, writable folders, time and output limits."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from toolvault.errors import InvalidInput

# What MCP's ``run`` uses when the agent names no limit: an agent waits for the answer,
# and reads every byte of it.
CAPTURE_TIMEOUT = 60.0
CAPTURE_MAX_OUTPUT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """One sandboxed run's settings.

    ``rw``: folders the tool may write (else the current folder); ``timeout``: seconds
    before the whole process tree is killed (None: no limit); ``max_output``: bytes kept
    of stdout and of stderr each (None: no limit); ``env``: names of further environment
    variables passed in (see :data:`toolvault.sandbox.layout.PASSED_ENV`); ``cwd``: the
    folder the tool starts in (default: the current folder).
    """

    net: bool = False
    rw: tuple[Path, ...] = ()
    timeout: float | None = None
    max_output: int | None = None
    env: tuple[str, ...] = ()
    cwd: Path | None = None

    def __post_init__(self) -> None:
        check_timeout(self.timeout)
        check_max_output(self.max_output)
        names(self.env)

    def folder(self) -> Path:
        """The folder the tool starts in, resolved (links followed), as it must exist."""
        return _existing_folder(self.cwd or Path(os.getcwd()), "the current folder")

    def writable(self) -> list[Path]:
        """The --rw folders resolved, or the current folder when none is given."""
        if not self.rw:
            return [self.folder()]
        return [_existing_folder(Path(p), "--rw") for p in self.rw]


def check_timeout(value: float | None) -> None:
    """A timeout is a positive, finite number of seconds."""
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise InvalidInput(
            f"--timeout must be a positive number of seconds, e.g. 30, not {value!r}"
        )
    if not math.isfinite(value):
        raise InvalidInput(f"--timeout must be a finite number of seconds, not {value!r}")


def check_max_output(value: int | None) -> None:
    """An output limit is a positive whole number of bytes."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(
            f"--max-output must be a positive whole number of bytes, e.g. 65536, not {value!r}"
        )


def _existing_folder(path: Path, what: str) -> Path:
    resolved = path.expanduser().resolve()
    if not resolved.is_dir():
        raise InvalidInput(
            f"{what} {path} is not an existing folder; the sandbox can only make a folder "
            "that exists writable",
            details={"path": str(path)},
        )
    if resolved == Path("/"):
        raise InvalidInput(
            f"{what} is the root folder: the sandbox would let the tool write everywhere; "
            "run it from a project folder, or name one with --rw",
            details={"path": str(path)},
        )
    return resolved


def names(values: Iterable[str]) -> tuple[str, ...]:
    """Environment variable names given with --env, checked."""
    found = tuple(values)
    for name in found:
        if not name or "=" in name or "\0" in name:
            raise InvalidInput(
                f"--env takes the name of a variable to pass in, e.g. --env GITHUB_TOKEN, "
                f"not {name!r}"
            )
    return found
