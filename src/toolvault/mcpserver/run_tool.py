"""MCP's ``run``: a version run inside the bubblewrap sandbox (SPEC §12, §13), its
outputs captured and answered as data.

Always sandboxed: where the sandbox cannot be made the answer is the coded error
``sandbox_unavailable`` and the tool is not run. A yanked version is refused unless the
agent asks with ``allow_yanked`` *and* names it by its number (the rule of
:mod:`toolvault.running`, as ``toolvault run``). Time and output are bounded.

Where it runs is the backend's :class:`RunPlace`. ``toolvault mcp`` (stdio) runs on the
user's own machine, as ``toolvault run --sandbox`` would, in the server's current folder
(the one writable place). The daemon offers ``run`` only when ``[mcp] run = true`` in
its config.toml (a tool would execute on the daemon's machine): then in an empty
temporary folder, removed afterwards, without network, and only for a token that may
write (never anonymously, never a read-only token).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from toolvault.errors import CannotExecute, InvalidInput, PermissionDenied
from toolvault.mcpserver.backend import Backend, RunPlace
from toolvault.mcpserver.errors import coded
from toolvault.mcpserver.tools import Spec, headers, off_loop
from toolvault.sandbox.options import CAPTURE_MAX_OUTPUT, CAPTURE_TIMEOUT

if TYPE_CHECKING:
    from toolvault.models import Version

MAX_TIMEOUT = 600.0  # seconds: an agent waits for the answer
MAX_OUTPUT = 16 * 1024 * 1024  # bytes of stdout and of stderr each: the answer is JSON


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A run as the ``run`` tool receives it."""

    spec: str
    args: tuple[str, ...] = ()
    stdin: str | None = None
    timeout: float = CAPTURE_TIMEOUT
    max_output: int = CAPTURE_MAX_OUTPUT
    net: bool = False
    allow_yanked: bool = False


class RunOut(BaseModel):
    """How the run ended: the tool's exit code and its captured outputs."""

    ref: str = Field(description="The pinned ref of the version that ran.")
    exit_code: int = Field(description="The tool's; 124 when the time limit killed it.")
    stdout: str
    stderr: str
    truncated: bool = Field(description="stdout or stderr was cut at max_output.")
    stdout_truncated: bool
    stderr_truncated: bool
    timed_out: bool = Field(description="Every process was killed at the time limit.")
    duration: float = Field(description="Seconds.")
    warnings: list[str] = []


def run_version(vault: Any, r: RunRequest, place: RunPlace) -> RunOut:
    """Run the version ``r.spec`` names in the sandbox and capture what it says."""
    if r.net and not place.net_allowed:
        raise PermissionDenied(
            "this server runs tools without network; run without net",
            details={"net": True},
        )
    version = vault.cat(r.spec)
    warnings = _admitted(vault, r, version)
    if place.scratch:
        from toolvault.sandbox.scratch import scratch_folder

        with scratch_folder("toolvault-mcp-run-") as folder:
            return _sandboxed(vault, r, version, warnings, folder)
    return _sandboxed(vault, r, version, warnings, None)


def _admitted(vault: Any, r: RunRequest, version: Version) -> list[str]:
    """The warnings of a version that may run; refuses one that may not."""
    from toolvault.running import yank_warning

    warnings: list[str] = []
    yank = vault.yank_of(version)
    if yank is not None and not r.allow_yanked:
        short = f"{version.name}:{version.version}"
        raise InvalidInput(
            f"{short} is yanked: {yank.reason}; it must not be used. To run it anyway, "
            f"call run again with spec {short!r} and allow_yanked true",
            details={"ref": version.ref, "yanked": yank.reason, "run_as": short},
        )
    said = yank_warning(vault, r.spec, version)  # refuses a yanked one not named by number
    if said:
        warnings.append(said)
    tool = vault.tool(version.name)
    if tool.lifecycle != "active":
        why = f": {tool.lifecycle_message}" if tool.lifecycle_message else ""
        warnings.append(f"{tool.name} is {tool.lifecycle}{why}")
    if not version.executable:
        short = f"{version.name}:{version.version}"
        raise CannotExecute(
            f"{short} is not executable (no '#!' line and no execute bit); read it with "
            "get_context",
            {"ref": version.ref, "executable": False},
        )
    return warnings


def _sandboxed(
    vault: Any, r: RunRequest, version: Version, warnings: list[str], folder: Path | None
) -> RunOut:
    from toolvault.sandbox import SandboxOptions, run_sandboxed

    options = SandboxOptions(
        net=r.net,
        rw=(folder,) if folder else (),
        timeout=r.timeout,
        max_output=r.max_output,
        cwd=folder,
    )
    assert version.content is not None
    stdin = _stdin(r.stdin)
    outcome = run_sandboxed(
        version.content,
        list(r.args),
        options,
        name=version.name,
        hide=[vault.home],
        capture=True,
        stdin=stdin,
    )
    data = outcome.to_dict()
    truncated = bool(data["stdout_truncated"] or data["stderr_truncated"])
    return RunOut(ref=version.ref, truncated=truncated, warnings=warnings, **data)


def _stdin(text: str | None) -> bytes | None:
    """The stdin text as UTF-8; a lone surrogate (JSON may carry one) is the caller's error."""
    from toolvault.validate import utf8

    return None if text is None else utf8(text, "stdin", "give UTF-8 text; the tool was not run")


def register(server: MCPServer, backend: Backend, place: RunPlace) -> None:
    """Add the ``run`` tool to ``server``."""
    # Over stdio a tool may change files in the current folder: clients should ask.
    annotations = ToolAnnotations(
        read_only_hint=False,
        destructive_hint=not place.scratch,
        idempotent_hint=False,
        open_world_hint=place.net_allowed,
    )

    @server.tool(annotations=annotations, description=_description(place))
    @coded
    async def run(
        spec: Spec,
        ctx: Context,
        args: Annotated[list[str], Field(description="Its command-line arguments.")] = [],  # noqa: B006
        stdin: Annotated[str | None, Field(description="Text given on its stdin.")] = None,
        timeout: Annotated[
            float, Field(gt=0, le=MAX_TIMEOUT, description="Seconds before it is killed.")
        ] = CAPTURE_TIMEOUT,
        max_output: Annotated[
            int, Field(ge=1, le=MAX_OUTPUT, description="Bytes kept of stdout and of stderr.")
        ] = CAPTURE_MAX_OUTPUT,
        net: Annotated[bool, Field(description="Allow network access.")] = False,
        allow_yanked: Annotated[
            bool,
            Field(description="Run a yanked version anyway (only when named NAME:N)."),
        ] = False,
    ) -> RunOut:
        vault = backend.runner(headers(ctx))
        request = RunRequest(spec, tuple(args), stdin, timeout, max_output, net, allow_yanked)
        return await off_loop(lambda: run_version(vault, request, place))


def _description(place: RunPlace) -> str:
    where = (
        "in an empty temporary folder, without network"
        if place.scratch
        else "with only the current folder writable, no network unless net is true"
    )
    return (
        "Run a version of a tool inside a sandbox and get its exit code, stdout and "
        f"stderr: the file system read-only, {where}, the vault and the home folder's "
        "secrets hidden, every process killed at the timeout, output cut at max_output. "
        "Use it to try a tool before relying on it. A yanked version is refused unless "
        "allow_yanked is true and it is named by its number (NAME:N)."
    )
