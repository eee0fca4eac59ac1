"""``run --sandbox`` with a real bubblewrap (SPEC §13): what a tool can still do, and the
escapes it is refused, each with the vault left as it was."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandboxing import TOOLVAULT, add, fingerprint, need_sandbox, one_error_line, tv
from toolvault.sandbox import SandboxOptions, run_sandboxed


@dataclass
class Place:
    """A vault with tools, a working folder the tool runs in, and a folder beside it."""

    home: Path
    work: Path
    outside: Path
    src: Path

    def run(self, *args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
        """``toolvault run --sandbox ARGS`` from the working folder."""
        return tv(self.home, self.work, "run", "--sandbox", *args, **kw)  # type: ignore[arg-type]

    def tool(self, name: str, text: str, mode: int = 0o644) -> None:
        add(self.home, self.src / name, name, text, mode)


@pytest.fixture
def place(tmp_path: Path, home: Path) -> Iterator[Place]:
    need_sandbox()
    folders = [tmp_path / n for n in ("work", "outside", "src")]
    for folder in folders:
        folder.mkdir()
    found = Place(home, *folders)
    found.tool("noop", "#!/bin/sh\nexit 0\n")
    yield found


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A real TCP listener on 127.0.0.1, outside the sandbox."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


CONNECT = """#!/usr/bin/env python3
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).sendall(b"hi")
except OSError as exc:
    print("refused:", exc)
    sys.exit(7)
print("connected")
"""


# -- what a sandboxed tool can still do ---------------------------------------------------


def test_args_stdin_exit_code_and_the_current_folder_pass_through(place: Place) -> None:
    place.tool("echo", '#!/bin/sh\nread line\necho "$1|$2|$line" | tee out.txt\nexit 3\n')
    done = place.run("echo", "a b", "--flag", input=b"from stdin\n")
    assert (done.returncode, done.stdout) == (3, b"a b|--flag|from stdin\n"), done.stderr
    assert (place.work / "out.txt").read_text() == "a b|--flag|from stdin\n"


def test_content_without_a_shebang_runs_under_sh(place: Place) -> None:
    place.tool("plain", 'echo "plain $#"\n', 0o755)
    assert place.run("plain", "x", "y").stdout == b"plain 2\n"


def test_rw_folders_are_writable_and_the_current_folder_then_is_not(place: Place) -> None:
    place.tool("w", '#!/bin/sh\necho x > "$1/made" && echo ok1\necho x > here || echo no2\n')
    done = place.run("--rw", str(place.outside), "w", str(place.outside))
    assert done.stdout == b"ok1\nno2\n"
    assert (place.outside / "made").exists() and not (place.work / "here").exists()


def test_rw_naming_the_current_folder_keeps_it_writable(place: Place) -> None:
    place.tool("w", '#!/bin/sh\necho x > here && echo ok1\necho y > "$1/made" && echo ok2\n')
    for rw in (".", str(place.work)):  # as the user types it, and resolved
        done = place.run("--rw", rw, "--rw", str(place.outside), "w", str(place.outside))
        assert done.stdout == b"ok1\nok2\n", done.stderr
        assert (place.work / "here").read_text() == "x\n"
        (place.work / "here").unlink()


def test_mcp_runs_on_the_daemon_may_write_in_their_scratch_folder(place: Place) -> None:
    from toolvault.mcpserver.backend import RunPlace
    from toolvault.mcpserver.run_tool import RunRequest, run_version
    from toolvault.vault import Vault

    place.tool("scratch", "#!/bin/sh\necho x > made && cat made && pwd\n")
    with Vault.open(place.home) as vault:
        got = run_version(vault, RunRequest("scratch"), RunPlace(scratch=True, net_allowed=False))
    assert (got.exit_code, got.stderr) == (0, ""), got
    made, folder = got.stdout.splitlines()
    assert made == "x" and "toolvault-mcp-run-" in folder
    assert not Path(folder).exists()  # removed after the run


DEEP = """#!/usr/bin/env python3
import os
for level in range(1500):  # deeper than Python's recursion limit, and than PATH_MAX
    os.mkdir("d" * 20)
    os.chdir("d" * 20)
    os.chmod("..", 0)  # every folder on the way without a permission
os.symlink("/", "root")
os.mkfifo("fifo")
print("deep", level + 1)
"""


def test_an_mcp_scratch_folder_is_removed_however_deep_the_tool_left_it(place: Place) -> None:
    from toolvault.mcpserver.backend import RunPlace
    from toolvault.mcpserver.run_tool import RunRequest, run_version
    from toolvault.vault import Vault

    place.tool("deep", DEEP)
    before = set(Path(tempfile.gettempdir()).glob("toolvault-mcp-run-*"))
    with Vault.open(place.home) as vault:
        got = run_version(vault, RunRequest("deep"), RunPlace(scratch=True, net_allowed=False))
    assert (got.exit_code, got.stdout, got.stderr) == (0, "deep 1500\n", ""), got
    assert set(Path(tempfile.gettempdir()).glob("toolvault-mcp-run-*")) == before


def test_net_allows_a_loopback_connection(place: Place, listener: socket.socket) -> None:
    place.tool("connect", CONNECT)
    done = place.run("--net", "connect", str(listener.getsockname()[1]))
    assert (done.returncode, done.stdout) == (0, b"connected\n"), done.stderr
    conn, _ = listener.accept()
    with conn:
        assert conn.recv(2) == b"hi"


def test_config_makes_the_sandbox_the_default_and_no_sandbox_opts_out(place: Place) -> None:
    place.tool("escape", f'#!/bin/sh\necho x > "{place.outside}/f" && echo wrote\n')
    (place.home / "config.toml").write_text("[run]\nsandbox = true\n")
    assert b"wrote" not in tv(place.home, place.work, "run", "escape").stdout
    assert not (place.outside / "f").exists()
    done = tv(place.home, place.work, "run", "--no-sandbox", "escape")
    assert done.stdout == b"wrote\n" and (place.outside / "f").exists()


def test_the_library_captures_outputs_stdin_and_the_time(place: Place) -> None:
    script = b'#!/bin/sh\ncat\necho "to err $1" >&2\nexit 5\n'
    options = SandboxOptions(cwd=place.work, timeout=30)
    got = run_sandboxed(script, ["x"], options, name="cap", capture=True, stdin=b"in\n")
    assert (got.exit_code, got.stdout, got.stderr) == (5, b"in\n", b"to err x\n")
    assert not (got.timed_out or got.stdout_truncated or got.stderr_truncated)
    assert 0 < got.duration < 30
    assert got.to_dict()["stderr"] == "to err x\n"


# -- escapes: each refused, the vault unchanged -------------------------------------------


def test_writing_outside_the_current_folder_is_refused(place: Place) -> None:
    targets = [place.outside / "f", place.home / "vault.db", place.home / "new", Path("/x")]
    script = "#!/bin/sh\n" + "".join(
        f'echo x >> "{t}" 2>/dev/null && echo "{t}"\n' for t in targets
    )
    place.tool("escape", script + "exit 0\n")
    before = fingerprint(place.home)
    done = place.run("escape")
    assert done.returncode == 0 and done.stdout == b"", done.stdout
    assert not (place.outside / "f").exists() and not Path("/x").exists()
    assert fingerprint(place.home) == before
    assert tv(place.home, place.work, "verify").returncode == 0


@pytest.mark.parametrize("where", ["beside", "inside the current folder", "inside --rw"])
def test_the_vault_home_its_keys_and_database_are_not_visible(tmp_path: Path, where: str) -> None:
    need_sandbox()
    work, src = tmp_path / "work", tmp_path / "src"
    work.mkdir(), src.mkdir()
    home = {"beside": tmp_path / "vh", "inside the current folder": work / "vh"}.get(
        where, tmp_path / "rw" / "vh"
    )
    (tmp_path / "rw").mkdir()
    add(home, src / "peek", "peek", PEEK.format(home=home))
    before = fingerprint(home)
    rw = ["--rw", str(tmp_path / "rw")] if where == "inside --rw" else []
    done = tv(home, work, "run", "--sandbox", *rw, "peek", env={"TOOLVAULT_TOKEN": "tvt_x"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split() == ["hidden"] * 6, done.stdout
    assert fingerprint(home) == before


PEEK = """#!/bin/sh
for f in "{home}/vault.db" "{home}/keys/vault.pem" "{home}/keys" "{home}/commands/peek"; do
    [ -e "$f" ] && echo "seen $f" || echo hidden
done
umount "{home}" 2>/dev/null; [ -e "{home}/vault.db" ] && echo "seen after umount" || echo hidden
[ -z "$TOOLVAULT_TOKEN$TOOLVAULT_HOME" ] && echo hidden || echo "seen the environment"
"""


def test_ssh_keys_agents_and_tokens_in_the_home_folder_are_not_reachable(
    place: Place, tmp_path: Path
) -> None:
    user = tmp_path / "user"
    (user / ".ssh").mkdir(parents=True)
    (user / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n")
    (user / "notes").write_text("private\n")
    agent = socket.socket(socket.AF_UNIX)
    agent.bind(str(user / ".ssh" / "agent.sock"))
    agent.listen()
    place.tool("steal", STEAL.format(user=user))
    env = {"HOME": str(user), "SSH_AUTH_SOCK": str(user / ".ssh" / "agent.sock")}
    with agent:
        beside = tv(place.home, place.work, "run", "--sandbox", "steal", env=env)
        # run from the home folder itself: it is the writable folder, its secrets are not
        at_home = tv(place.home, user, "run", "--sandbox", "steal", env=env)
    assert beside.stdout.decode().split() == ["no-key", "no-notes", "no-agent", "no-env"]
    assert at_home.stdout.decode().split() == ["no-key", "notes", "no-agent", "no-env"]


STEAL = """#!/bin/sh
cat "{user}/.ssh/id_ed25519" 2>/dev/null || echo no-key
[ -e "{user}/notes" ] && echo notes || echo no-notes
python3 -c 'import socket; socket.socket(socket.AF_UNIX).connect("{user}/.ssh/agent.sock")' \\
    2>/dev/null && echo agent || echo no-agent
[ -z "$SSH_AUTH_SOCK" ] && echo no-env || echo env
"""


def test_env_passes_a_variable_in_only_when_named(place: Place) -> None:
    place.tool("show", '#!/bin/sh\necho "[$GITHUB_TOKEN]"\n')
    env = {"GITHUB_TOKEN": "ghp_secret"}
    assert tv(place.home, place.work, "run", "--sandbox", "show", env=env).stdout == b"[]\n"
    named = tv(place.home, place.work, "run", "--sandbox", "--env", "GITHUB_TOKEN", "show", env=env)
    assert named.stdout == b"[ghp_secret]\n"


def test_connecting_to_a_loopback_listener_is_refused(
    place: Place, listener: socket.socket
) -> None:
    place.tool("connect", CONNECT)
    before = fingerprint(place.home)
    done = place.run("connect", str(listener.getsockname()[1]))
    assert done.returncode == 7 and done.stdout.startswith(b"refused:"), done.stdout
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever arrived
    assert fingerprint(place.home) == before


def test_a_fork_bomb_is_stopped_at_the_timeout(place: Place) -> None:
    # Bounded by construction, so that the test cannot harm the machine: a tree 8 deep,
    # at most 511 processes and 255 sleepers that left their session; all ignore SIGTERM.
    marker = f"toolvault-bomb-{os.getpid()}-{place.work.name}"
    place.tool("bomb", BOMB.format(marker=marker))
    done = place.run("--timeout", "3", "bomb", "8")
    assert done.returncode == 124, done.stderr
    assert b"timed out after 3 s" in done.stderr
    assert (place.work / "leaves").read_text().count("leaf") > 0  # it did fork
    assert _processes(marker) == []


BOMB = """#!/bin/sh
trap '' TERM HUP INT
b() {{
    [ "$1" -gt 0 ] || {{ echo leaf >> leaves; exec sh -c "trap '' TERM; sleep 300; : {marker}"; }}
    (setsid sh -c "trap '' TERM; sleep 300; : {marker}" &)
    b $(($1 - 1)) & b $(($1 - 1)) & wait
}}
b "$1"
"""


def _processes(marker: str) -> list[str]:
    """Processes on this machine whose command line holds ``marker``."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(cmdline.decode(errors="replace"))
    return found


def test_a_tool_ignoring_sigterm_is_killed_at_the_timeout(place: Place) -> None:
    marker = f"toolvault-stubborn-{os.getpid()}"
    place.tool("stubborn", "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 300; done\n")
    done = place.run("--timeout", "0.5", "stubborn", marker)  # in the tool's command line
    assert done.returncode == 124
    assert _processes(marker) == []


def test_an_output_flood_is_cut_at_the_limit(place: Place) -> None:
    place.tool("flood", "#!/bin/sh\nyes flood\n")
    done = place.run("--max-output", "1000", "flood")
    assert done.returncode == 141  # SIGPIPE, as under '| head -c 1000'
    assert done.stdout == (b"flood\n" * 200)[:1000]
    assert b"stdout cut at 1000 bytes (--max-output)" in done.stderr
    captured = run_sandboxed(
        b"#!/bin/sh\nyes flood >&2\n",
        [],
        SandboxOptions(cwd=place.work, max_output=100, timeout=30),
        capture=True,
    )
    assert captured.stderr_truncated and not captured.stdout_truncated
    assert captured.stderr.startswith((b"flood\n" * 17)[:100] + b"\n[toolvault: output cut at 100")


# -- when no sandbox can be made the tool never runs --------------------------------------


def test_without_bwrap_the_tool_is_not_run_and_run_exits_125(place: Place) -> None:
    place.tool("mark", "#!/bin/sh\ntouch ran\n")
    bare = place.outside / "bin"
    bare.mkdir()
    (bare / "sh").symlink_to("/bin/sh")  # a PATH with a shell, without bwrap
    done = place.run("mark", env={"PATH": str(bare)})
    assert done.returncode == 125
    one_error_line(done, "bwrap (bubblewrap) is not on PATH", "the tool was not run")
    assert not (place.work / "ran").exists()


def test_without_user_namespaces_the_tool_is_not_run_and_run_exits_125(place: Place) -> None:
    # A user namespace of our own in which no further one may be made: bwrap is there,
    # the kernel refuses it.
    probe = subprocess.run(["unshare", "-Ur", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -Ur is not allowed here: {probe.stderr.decode().strip()}")
    place.tool("mark", "#!/bin/sh\ntouch ran\n")
    inner = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"'
    argv = ["unshare", "-Ur", "sh", "-c", inner, "sh", *TOOLVAULT, "run", "--sandbox", "mark"]
    env = {**os.environ, "TOOLVAULT_HOME": str(place.home)}
    done = subprocess.run(argv, cwd=place.work, capture_output=True, env=env, timeout=120)
    assert done.returncode == 125, done.stderr
    one_error_line(done, "cannot make the sandbox", "namespace", "the tool was not run")
    assert not (place.work / "ran").exists()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--timeout", "0"], "--timeout must be a positive number"),
        (["--timeout", "nan"], "--timeout must be a positive number"),
        (["--timeout", "inf"], "--timeout must be a finite number"),
        (["--max-output", "0"], "--max-output must be a positive whole number"),
        (["--rw", "/no/such/folder"], "not an existing folder"),
        (["--rw", "/"], "the root folder"),
        (["--env", "A=B"], "--env takes the name of a variable"),
        (["--no-sandbox", "--net"], "--net applies only to a sandboxed run"),
    ],
)
def test_bad_options_are_refused_before_the_tool_runs(
    place: Place, options: list[str], words: str
) -> None:
    place.tool("mark", "#!/bin/sh\ntouch ran\n")
    sandbox = [] if "--no-sandbox" in options else ["--sandbox"]
    done = tv(place.home, place.work, "run", *sandbox, *options, "mark")
    assert done.returncode == 125  # toolvault failed before the tool started
    one_error_line(done, words)
    assert not (place.work / "ran").exists()


def test_a_current_folder_inside_the_vault_home_is_refused(place: Place) -> None:
    place.tool("mark", "#!/bin/sh\ntouch ran\n")
    done = tv(place.home, place.home / "commands", "run", "--sandbox", "mark")
    assert done.returncode == 125  # toolvault failed before the tool started
    one_error_line(done, "inside the vault's home")
    assert not (place.home / "commands" / "ran").exists()


# -- a yanked version runs only when named by its number -----------------------------------


@pytest.mark.parametrize("sandbox", [[], ["--sandbox"]])
def test_a_yanked_version_runs_only_by_its_number(place: Place, sandbox: list[str]) -> None:
    place.tool("old", '#!/bin/sh\necho "ran $0"\n')
    tv(place.home, place.work, "label", "old:1", "stable", check=True)
    tv(place.home, place.work, "yank", "old:1", "--reason", "deletes branches", check=True)
    shown = tv(place.home, place.work, "show", "old:1", "--json", check=True).stdout.decode()
    sha = shown.split('"sha256": "')[1][:12]
    for spec in ("old:stable", f"old@sha256:{sha}"):
        done = tv(place.home, place.work, "run", *sandbox, spec)
        assert done.returncode == 125 and done.stdout == b""
        one_error_line(done, "old:1", "is yanked: deletes branches", "'toolvault run old:1'")
    by_number = tv(place.home, place.work, "run", *sandbox, "old:1")
    assert by_number.returncode == 0 and by_number.stdout.startswith(b"ran ")
    assert b"toolvault: warning: old:1 is yanked: deletes branches" in by_number.stderr
