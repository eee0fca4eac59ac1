"""What the tool sees: the bubblewrap command line for one sandboxed run.

The mounts go in this order, each later one on top of the earlier ones:

1. the host's root, read-only; a fresh ``/dev``, ``/proc`` (of the new PID namespace),
   ``/tmp`` and ``/run`` (a private, empty tmpfs each: ``/run`` holds the sockets of
   Docker, D-Bus and ssh-agent, which a read-only mount would still let a tool connect
   to);
2. the user's home folder, replaced by an empty tmpfs (``~/.ssh``, cloud credentials);
3. the current folder (writable, or read-only when ``--rw`` names the writable ones) and
   each ``--rw`` folder, writable;
4. on top of all that, empty again: the vault's home (keys, ``vault.db``, ``config.toml``,
   wherever it is, even inside a writable folder) and the usual places of secrets in the
   user's home that step 3 brought back;
5. the tool's content, read-only, at ``/run/toolvault/NAME``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

TOOL_DIR = "/run/toolvault"

# The environment a tool gets: what a program needs to find programs, speak the user's
# language and draw on the terminal. Everything else stays out: TOOLVAULT_TOKEN and
# TOOLVAULT_URL (the daemon's credentials), TOOLVAULT_HOME and TOOLVAULT_DB (where the
# vault is), SSH_AUTH_SOCK, GPG_AGENT_INFO, DBUS_SESSION_BUS_ADDRESS (agents holding
# keys), cloud and CI tokens; --env NAME passes one in on purpose.
PASSED_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "COLUMNS",
    "LINES",
)
PASSED_PREFIXES = ("LC_",)

# Places in a home folder where credentials usually are: hidden again when the current
# folder or a --rw folder is the home folder or contains it.
SECRETS = (
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".toolvault",
    ".config/gh",
    ".config/gcloud",
    ".local/share/keyrings",
)

# The file descriptors bwrap starts with (see spawn.py): fd 2 carries bwrap's own
# messages, the tool's stderr arrives as fd 3 and a byte on fd 4 says the sandbox is made.
SETUP_FD, TOOL_STDERR_FD, STARTED_FD, CONTENT_FD = 2, 3, 4, 5

# Run inside the sandbox by /bin/sh just before the tool: give the tool its stderr, then
# say that every mount is in place. Before that byte, a failure is the sandbox's.
SHIM = 'exec 2>&3 3>&-; printf x >&4; exec 4>&-; exec "$@"'


@dataclass(frozen=True, slots=True)
class Layout:
    """One run's folders: where it starts, what it writes, what it must not see."""

    cwd: Path
    writable: tuple[Path, ...]
    cwd_writable: bool
    hidden: tuple[Path, ...]  # vault homes: empty wherever they are
    net: bool


def user_homes() -> list[Path]:
    """The user's home folder as $HOME says and as the password database says."""
    found = [Path(os.path.expanduser("~"))]
    with contextlib.suppress(KeyError):
        found.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    return _distinct(p.resolve() for p in found if p.is_absolute())


def bwrap_argv(
    bwrap: str, layout: Layout, name: str, command: list[str], *, disable_userns: bool = True
) -> list[str]:
    """The whole bwrap command line; ``command`` is the tool's argv inside the sandbox
    (``disable_userns``: bwrap 0.8 and later can forbid nested user namespaces)."""
    argv = [bwrap, *_namespaces(layout.net, disable_userns)]
    argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    argv += ["--tmpfs", "/tmp", "--tmpfs", "/run"]
    if layout.net:
        argv += _resolver()
    homes = [h for h in user_homes() if h != Path("/")]
    for home in homes:
        argv += ["--tmpfs", str(home)]
    exposed = [layout.cwd, *layout.writable]
    argv += ["--bind" if layout.cwd_writable else "--ro-bind", str(layout.cwd), str(layout.cwd)]
    for path in layout.writable:
        if path != layout.cwd:
            argv += ["--bind", str(path), str(path)]
    argv += _cover(_secrets(homes, exposed))
    argv += _cover(p for p in layout.hidden if _visible(p, exposed, homes))
    argv += ["--perms", "0555", "--ro-bind-data", str(CONTENT_FD), f"{TOOL_DIR}/{name}"]
    argv += ["--chdir", str(layout.cwd), "--", "/bin/sh", "-c", SHIM, "sh", *command]
    return argv


def _namespaces(net: bool, disable_userns: bool) -> list[str]:
    """Every namespace new (the network only without --net); no capabilities; bwrap
    dies with toolvault and the tool gets a session of its own (no TIOCSTI into the
    user's terminal)."""
    flags = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session"]
    flags += ["--cap-drop", "ALL"]
    if disable_userns:  # no nested user namespace: less of the kernel within reach
        flags.append("--disable-userns")
    return flags + (["--share-net"] if net else [])


def _resolver() -> list[str]:
    """With --net the tool resolves names: /etc/resolv.conf often points into /run."""
    target = os.path.realpath("/etc/resolv.conf")
    if target.startswith("/run/"):
        return ["--ro-bind-try", target, target]
    return []


def _secrets(homes: list[Path], exposed: list[Path]) -> list[Path]:
    """The secrets of a home folder that a writable or current folder brought back."""
    found = []
    for home in homes:
        for name in SECRETS:
            path = home / name
            if os.path.lexists(path) and any(_within(path, e) for e in exposed):
                found.append(path)
    return found


def _visible(path: Path, exposed: list[Path], homes: list[Path]) -> bool:
    """Whether a vault home would show in the sandbox: the root is all visible, but /tmp,
    /run and the homes are fresh and show only the folders bound into them."""
    if not path.exists():
        return False
    covered = [Path("/tmp"), Path("/run"), *homes]
    if not any(_within(path, c) for c in covered):
        return True
    return any(_within(path, e) for e in exposed)


def _cover(paths: Iterable[Path]) -> list[str]:
    """Mounts that make each path empty where it really is (a link is followed): a
    folder becomes an empty tmpfs, a file an empty file."""
    argv: list[str] = []
    for path in _distinct(p.resolve() for p in paths):
        if path.is_dir():
            argv += ["--tmpfs", str(path)]
        elif path.exists():
            argv += ["--ro-bind", "/dev/null", str(path)]
    return argv


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _distinct(paths: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


def environment(passed: Iterable[str], source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The tool's environment: :data:`PASSED_ENV`, ``LC_*`` and the names given."""
    source = os.environ if source is None else source
    wanted = set(PASSED_ENV) | set(passed)
    return {k: v for k, v in source.items() if k in wanted or k.startswith(PASSED_PREFIXES)}
