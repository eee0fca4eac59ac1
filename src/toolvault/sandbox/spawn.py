"""Starting bwrap and watching it: the start signal, the time limit, the output limit.

bwrap is started with ``posix_spawn`` (no Python code runs in the child, which matters
in the threaded MCP server) and these descriptors: 0 stdin, 1 the tool's stdout, 2 a pipe
for bwrap's own messages, 3 the tool's stderr, 4 a pipe on which the shell of
:data:`~toolvault.sandbox.layout.SHIM` writes one byte once every mount is in place,
5 the tool's content. End of file on 4 before that byte means the sandbox could not be
made: the tool never ran, and bwrap's message says why.

The whole process tree is killed by killing bwrap: its child is PID 1 of the sandbox's
PID namespace and dies with it (``--die-with-parent``), and when PID 1 of a namespace
dies the kernel kills every process left in it, however it forked or whatever signals
it ignores.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from toolvault.errors import InvalidInput, SandboxUnavailable
from toolvault.sandbox.layout import CONTENT_FD, SETUP_FD, STARTED_FD, TOOL_STDERR_FD

TIMED_OUT = 124  # as timeout(1) exits
INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped with Ctrl-C
CHUNK = 65536
HIGH_FD = 10  # dups of the child's descriptors start here, clear of 0..5


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a sandboxed run ended. ``exit_code`` is the tool's (128 + N when a signal N
    ended it), 124 when the time limit killed it, 130 when interrupted; ``stdout`` and
    ``stderr`` are what was captured (empty when they went to the terminal), each ending
    with :func:`marker` when it was cut at the output limit."""

    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    duration: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready data (outputs decoded as UTF-8, bad bytes replaced)."""
        return {
            "exit_code": self.exit_code,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "timed_out": self.timed_out,
            "duration": round(self.duration, 3),
        }


def marker(limit: int) -> bytes:
    """What ends an output cut at ``limit`` bytes."""
    return f"\n[toolvault: output cut at {limit} bytes (--max-output)]\n".encode()


@dataclass
class _Sink:
    """One output of the tool read through a pipe: kept (``forward`` None) or written to
    ``forward``, up to ``limit`` bytes; past it the pipe is closed, so that a tool still
    writing gets SIGPIPE, as under ``| head -c LIMIT``."""

    fd: int
    limit: int | None
    forward: int | None
    data: bytearray = field(default_factory=bytearray)
    taken: int = 0
    truncated: bool = False

    def feed(self) -> bool:
        """Read what is there; False when this output is finished."""
        chunk = os.read(self.fd, CHUNK)
        if not chunk:
            return False
        room = len(chunk) if self.limit is None else self.limit - self.taken
        kept = chunk[:room]
        self.taken += len(kept)
        if self.forward is None:
            self.data += kept
        elif kept and not _write_all(self.forward, kept):
            return False  # our own output is closed (| head): the tool's is too
        self.truncated = len(chunk) > room
        return not self.truncated


def _write_all(fd: int, data: bytes) -> bool:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        return True
    except BrokenPipeError:
        return False


@dataclass
class _Feeder:
    """The bytes given as the tool's stdin, written as the tool reads them."""

    fd: int
    data: memoryview

    def feed(self) -> bool:
        """Write what the pipe takes; False when all is written or the tool stopped reading."""
        try:
            self.data = self.data[os.write(self.fd, self.data[:CHUNK]) :]
        except BrokenPipeError:
            return False
        return bool(self.data)


class _Fds:
    """The descriptors one run opened; whatever is still open is closed at the end."""

    def __init__(self) -> None:
        self.owned: set[int] = set()

    def keep(self, fd: int) -> int:
        self.owned.add(fd)
        return fd

    def pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        return self.keep(r), self.keep(w)

    def high(self, fd: int) -> int:
        """A copy above 0..5, so that no dup2 in the child clobbers another source."""
        import fcntl

        return self.keep(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD))

    def close(self, fd: int) -> None:
        if fd in self.owned:
            self.owned.discard(fd)
            os.close(fd)

    def close_all(self) -> None:
        for fd in list(self.owned):
            self.close(fd)


@dataclass
class _Plumbing:
    """The child's descriptors (by their number in the child) and the parent's ends."""

    fds: _Fds
    child: dict[int, int] = field(default_factory=dict)
    sinks: list[_Sink] = field(default_factory=list)
    feeder: _Feeder | None = None
    setup: int = -1
    started: int = -1

    def close_child_ends(self) -> None:
        """Drop our copies of what only the child must hold (its end of each pipe)."""
        for fd in self.child.values():
            self.fds.close(fd)
        self.child = {}


def _plumb(content: bytes, capture: bool, stdin: bytes | None, limit: int | None) -> _Plumbing:
    """Pipes and descriptors for one run."""
    fds = _Fds()
    p = _Plumbing(fds)
    try:
        p.setup, setup_w = fds.pipe()
        p.started, started_w = fds.pipe()
        memfd = fds.keep(os.memfd_create("toolvault-tool", os.MFD_CLOEXEC))
        _write_all(memfd, content)
        os.lseek(memfd, 0, os.SEEK_SET)
        p.child = {SETUP_FD: setup_w, STARTED_FD: started_w, CONTENT_FD: memfd}
        p.child[0] = _stdin(p, capture, stdin)
        for number, ours in ((1, 1), (TOOL_STDERR_FD, 2)):
            if capture or limit is not None:
                r, p.child[number] = fds.pipe()
                p.sinks.append(_Sink(r, limit, None if capture else ours))
            else:
                p.child[number] = ours
        originals = list(p.child.values())
        p.child = {number: fds.high(fd) for number, fd in p.child.items()}
        for fd in originals:
            fds.close(fd)  # our own 0, 1 and 2 are not in fds.owned: close() skips them
    except BaseException:
        fds.close_all()
        raise
    return p


def _stdin(p: _Plumbing, capture: bool, data: bytes | None) -> int:
    """The child's stdin: ours when streaming, else the bytes given, else nothing."""
    if not capture:
        return 0
    if not data:
        return p.fds.keep(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    r, w = p.fds.pipe()
    os.set_blocking(w, False)
    p.feeder = _Feeder(w, memoryview(data))
    return r


def execute(
    argv: list[str],
    env: dict[str, str],
    content: bytes,
    *,
    capture: bool,
    stdin: bytes | None = None,
    timeout: float | None = None,
    max_output: int | None = None,
) -> Outcome:
    """Run bwrap's ``argv``; the tool's content goes in on descriptor 5.

    Raises :class:`SandboxUnavailable` when the sandbox could not be made (the tool did
    not run)."""
    started = time.monotonic()
    p = _plumb(content, capture, stdin, max_output)
    try:
        pid = _spawn(argv, env, p.child)
        p.close_child_ends()
        watch = _Watch(pid, started, timeout, p.fds)
        try:
            watch.until_started(p)
            code = watch.until_finished(p)
        except KeyboardInterrupt:
            watch.kill()
            code = INTERRUPTED
        except BaseException:
            watch.kill()
            raise
    finally:
        p.fds.close_all()
    return _outcome(p, code, watch.timed_out, time.monotonic() - started, max_output)


def _spawn(argv: list[str], env: dict[str, str], child: dict[int, int]) -> int:
    """Start bwrap with exactly ``child``'s descriptors: any other one this process could
    pass on (opened without close-on-exec by whoever started it) is closed in the child,
    as ``subprocess`` does with ``close_fds``; bwrap itself passes everything on."""
    closes = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable() if fd not in child]
    dups = [(os.POSIX_SPAWN_DUP2, ours, number) for number, ours in sorted(child.items())]
    # Python ignores SIGPIPE; a tool must not inherit that (a flood cut at the limit ends
    # as under a shell's pipe).
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=closes + dups,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    except OSError as exc:
        if exc.errno != errno.E2BIG:
            raise
        raise InvalidInput(
            "the arguments are too long for the system to give a program (at most 128 KiB "
            "each, and about 2 MiB with the environment in all); the tool was not run",
            {"arguments": len(argv), "bytes": sum(len(os.fsencode(a)) + 1 for a in argv)},
        ) from None


def _inheritable() -> list[int]:
    """This process's descriptors above 2 that an exec would keep."""
    import fcntl

    found = []
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        try:
            if fd > 2 and not fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
                found.append(fd)
        except OSError:  # the listing's own descriptor, closed since
            pass
    return found


def _outcome(p: _Plumbing, code: int, timed_out: bool, took: float, limit: int | None) -> Outcome:
    out, err = (p.sinks + [_Sink(-1, None, None)] * 2)[:2]
    texts = [bytes(s.data) + (marker(limit) if s.truncated and limit else b"") for s in (out, err)]
    return Outcome(
        exit_code=TIMED_OUT if timed_out else code,
        stdout=texts[0] if out.forward is None else b"",
        stderr=texts[1] if err.forward is None else b"",
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        timed_out=timed_out,
        duration=took,
    )


class _Watch:
    """Waits on bwrap through a pidfd, with the deadline of the time limit."""

    def __init__(self, pid: int, started: float, timeout: float | None, fds: _Fds) -> None:
        self.pid = pid
        self.deadline = None if timeout is None else started + timeout
        self.timed_out = False
        self.status: int | None = None
        self.pidfd = fds.keep(os.pidfd_open(pid))

    def remaining(self) -> float | None:
        """Seconds to the deadline; past it, the sandbox is killed (once)."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.timed_out = True
            self.deadline = None
            self.kill()
            return None
        return left

    def kill(self) -> None:
        """SIGKILL bwrap, hence every process of the sandbox; reap it."""
        if self.status is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.reap()

    def reap(self) -> int:
        """Wait for bwrap; its exit code, 128 + N for a signal N."""
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        code = os.waitstatus_to_exitcode(self.status)
        return code if code >= 0 else 128 - code

    def until_started(self, p: _Plumbing) -> None:
        """Wait for the start byte; without it, raise with bwrap's own message."""
        with selectors.DefaultSelector() as sel:
            sel.register(p.started, selectors.EVENT_READ)
            while not sel.select(self.remaining()):
                pass
        if os.read(p.started, 1) == b"x" or self.timed_out:
            return
        self.reap()
        raise _unavailable(_read_all(p.setup))

    def until_finished(self, p: _Plumbing) -> int:
        """Pump stdin and the outputs until bwrap exits and the outputs end."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.pidfd, selectors.EVENT_READ, None)
            for sink in p.sinks:
                sel.register(sink.fd, selectors.EVENT_READ, sink)
            if p.feeder is not None:
                sel.register(p.feeder.fd, selectors.EVENT_WRITE, p.feeder)
            while sel.get_map():
                for key, _ in sel.select(self.remaining()):
                    if key.data is None:
                        self.reap()
                    elif not key.data.feed():
                        sel.unregister(key.fileobj)
                        p.fds.close(key.data.fd)  # past the limit, or all written
                if self.status is not None and self.pidfd in sel.get_map():
                    sel.unregister(self.pidfd)  # reaped here or by the time limit's kill
        return self.reap()


def _read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, CHUNK):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks).decode("utf-8", "replace")


def _unavailable(message: str) -> SandboxUnavailable:
    """The error for a sandbox bwrap could not make, with its reason and what to check."""
    said = " ".join(message.replace("bwrap: ", "").split()) or "bwrap exited without a message"
    hint = ""
    if "namespace" in said or "uid map" in said or "Operation not permitted" in said:
        hint = (
            "; user namespaces may be off (sysctl user.max_user_namespaces, "
            "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)"
        )
    return SandboxUnavailable(
        f"cannot make the sandbox: {said}{hint}; the tool was not run",
        details={"reason": said},
    )
