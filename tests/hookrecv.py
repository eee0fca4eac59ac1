"""A real webhook receiver on 127.0.0.1 for the tests and bench/events.py: it records
every request (headers, body, arrival time) and answers as scripted."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    """One request as it arrived."""

    headers: dict[str, str]
    body: bytes
    at: float
    path: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def seq(self) -> int:
        return int(self.id.rsplit("_", 1)[1])


# An answer: (status, headers) or a callable that hangs / does something first.
Answer = tuple[int, dict[str, str]]


@dataclass
class Receiver:
    """Answers ``script`` in order (then ``default``), recording each request."""

    script: list[Answer] = field(default_factory=list)
    default: Answer = (200, {})
    delay: float = 0.0  # seconds before answering each request
    hang: float = 0.0  # seconds the first request waits before answering
    got: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes

            def do_POST(self) -> None:
                receiver.handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        with self.cond:
            first = not self.got
            self.got.append(Received(dict(h.headers), body, time.monotonic(), h.path))
            status, headers = self.script.pop(0) if self.script else self.default
            self.cond.notify_all()
        if first and self.hang:
            time.sleep(self.hang)  # a receiver that does not answer in time
        if self.delay:
            time.sleep(self.delay)
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", "2")
            h.end_headers()
            h.wfile.write(b"ok")
        except OSError:  # the sender gave up waiting (a timeout test): nothing to answer
            h.close_connection = True

    def wait_for(self, test: Callable[[list[Received]], bool], timeout: float = 30.0) -> bool:
        """Wait (bounded) until ``test(got)`` holds; whether it did."""
        with self.cond:
            return self.cond.wait_for(lambda: test(self.got), timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
