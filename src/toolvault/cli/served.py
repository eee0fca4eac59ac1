"""A server in a subprocess that says where it listens the way ``toolvault serve`` does
(``toolvault: serving on URL`` on stderr): the tests' daemons and the benchmark's daemon
and floor start this way. Only they import it."""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Sequence

from toolvault.cli.serve import SERVING


class ServerProcess:
    """Start ``argv`` with ``env`` and wait (up to ``timeout`` seconds) for its URL line;
    RuntimeError, with its last lines, when it ends or stays silent instead."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            list(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.lines: list[str] = []
        ready: queue.Queue[str | None] = queue.Queue()
        self.pump = threading.Thread(target=self._pump, args=(ready,), daemon=True)
        self.pump.start()
        try:
            url = ready.get(timeout=timeout)
        except queue.Empty:
            url = None
        if url is None:
            self.stop()
            raise RuntimeError(f"{argv[-1]} did not start: {' | '.join(self.lines[-3:])}")
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])

    def _pump(self, ready: queue.Queue[str | None]) -> None:
        """Read stderr to its end (so the pipe never fills); hand over the URL line."""
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if line.startswith(SERVING):
                ready.put(line[len(SERVING) :].strip())
        ready.put(None)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.pump.join(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
