"""The daemon refuses a body over its limit as soon as it knows (issue 11, item 13): a
declared Content-Length over the limit is answered 413 before a byte of the body, and a
chunked body is cut at the chunk that passes the limit. Raw sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from test_server import Daemon, make_token

# The 413 must come at once; the socket gives up (and the test fails) after this.
ANSWER_WITHIN = 5.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str]]:
    home = tmp_path_factory.mktemp("limits") / "home"
    token = make_token(home, "alice")
    daemon = Daemon(home)
    yield daemon, token
    daemon.stop()


def head(path: str, token: str, *lines: str) -> bytes:
    return "\r\n".join(
        [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            f"Authorization: Bearer {token}",
            "Content-Type: application/json",
            *lines,
            "",
            "",
        ]
    ).encode()


def answer(sock: socket.socket) -> tuple[str, float]:
    """The status line of the first answer, and how long it took to begin."""
    start = time.monotonic()
    got = b""
    while b"\r\n" not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return got.split(b"\r\n", 1)[0].decode(), time.monotonic() - start


def connect(daemon: Daemon) -> socket.socket:
    host, port = daemon.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=ANSWER_WITHIN)
    return sock


@pytest.mark.parametrize(
    "length", [3_000_000, 10**12, 2 * 1024 * 1024 + 64 * 1024 + 1], ids=["3MB", "1TB", "limit+1"]
)
def test_an_announced_body_over_the_limit_is_413_before_any_of_it_arrives(
    served: tuple[Daemon, str], length: int
) -> None:
    daemon, token = served
    with connect(daemon) as sock:
        sock.sendall(head("/v1/publish", token, f"Content-Length: {length}"))
        status, took = answer(sock)
    assert status == "HTTP/1.1 413 Request Entity Too Large", status
    assert took < 2.0


def test_a_chunked_body_is_cut_at_the_limit_while_it_arrives(served: tuple[Daemon, str]) -> None:
    """No Content-Length: the chunk that passes the limit brings the 413, although the
    client has not ended its body (and may never)."""
    daemon, token = served
    chunk = b" " * 65536
    with connect(daemon) as sock:
        sock.sendall(head("/v1/publish", token, "Transfer-Encoding: chunked"))
        for _ in range(40):  # 2.5 MiB: past the limit of 2 MiB + 64 KiB
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, took = answer(sock)
    assert status == "HTTP/1.1 413 Request Entity Too Large", status
    assert took < 2.0


def test_the_daemon_still_answers_after_refusing(served: tuple[Daemon, str]) -> None:
    """A refused announcement leaves the daemon serving others at once."""
    daemon, token = served
    with connect(daemon) as silent:
        silent.sendall(head("/v1/publish", token, "Content-Length: 3000000"))
        assert answer(silent)[0].startswith("HTTP/1.1 413")
        published = daemon.publish(token, "after", "echo after\n")
        assert published.status_code == 200, published.text
