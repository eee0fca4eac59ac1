"""``toolvault.fastremote``: the remote fast paths' one ``GET`` over a plain socket takes
only a whole, final answer with a ``Content-Length`` it matches, never waits for a
server that keeps the connection open, and sends nothing http.client would refuse."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from toolvault import fastremote

OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":1}'


class Canned:
    """A server on 127.0.0.1 answering each connection with ``answer``, then keeping the
    connection open until stopped (as a server that ignores ``Connection: close``)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            self.requests.append(request)
            conn.sendall(self.answer)
            self.done.wait(10)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def canned() -> Iterator[list[Canned]]:
    made: list[Canned] = []
    yield made
    for server in made:
        server.stop()


def serve(made: list[Canned], answer: bytes) -> Canned:
    made.append(Canned(answer))
    return made[-1]


def test_a_whole_answer_is_read_without_waiting_for_the_close(canned: list[Canned]) -> None:
    server = serve(canned, OK)
    found = fastremote.get(server.url + "/base/", "tv_secret", "/v1/x?a=b", 5.0, {"Accept": "x"})
    assert found is not None
    status, fields, body = found
    assert (status, fields["content-type"], bytes(body)) == (200, "application/json", b'{"a":1}')
    head = server.requests[0].decode()
    assert head.startswith("GET /base/v1/x?a=b HTTP/1.1\r\n")
    assert f"Host: {server.url[len('http://') :]}\r\n" in head
    assert "Authorization: Bearer tv_secret\r\n" in head and "Accept: x\r\n" in head
    assert "Connection: close\r\n" in head


def test_an_error_status_is_an_answer_too(canned: list[Canned]) -> None:
    server = serve(canned, b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}")
    assert fastremote.get(server.url, None, "/v1/x", 5.0) == (404, {"content-length": "2"}, b"{}")


@pytest.mark.parametrize(
    "answer",
    [
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"a":1}\r\n0\r\n\r\n',
        b"HTTP/1.1 200 OK\r\n\r\n{}",  # no length
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}",  # cut short
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{}",  # more than it says
        b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n{}",  # never allocated
        b"HTTP/1.1 200 OK\r\nContent-Length: 1073741825\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"SPDY/3 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nbroken header\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",  # the head never ends
        b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 70_000 + b"\r\n\r\n",  # an endless head
        b"",  # closed at once
    ],
    ids=range(15),
)
def test_anything_but_a_whole_final_answer_is_none(canned: list[Canned], answer: bytes) -> None:
    server = serve(canned, answer)
    server.done.set()  # the connection closed after the answer (held open: a timeout)
    assert fastremote.get(server.url, None, "/v1/x", 5.0) is None


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("ftp://127.0.0.1:1", None),
        ("http://", None),
        ("http://127.0.0.1:port", None),
        ("http://127.0.0.1:1/a b", None),  # a space in the path
        ("http://127.0.0.1:1/é", None),  # not ASCII
        ("http://127.0.0.1:1", "tv_bad\ttoken"),
        ("http://127.0.0.1:1", "tv_bad\r\nX-Injected: 1"),
    ],
)
def test_nothing_is_sent_for_a_url_or_token_http_client_would_refuse(
    url: str, token: str | None
) -> None:
    with socket.socket() as nobody:  # were anything sent, it would be refused here
        nobody.bind(("127.0.0.1", 0))
        port = nobody.getsockname()[1]
    assert fastremote.get(url.replace(":1", f":{port}"), token, "/v1/x", 5.0) is None


def test_a_refused_connection_is_none_and_a_silent_server_a_timeout() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    assert fastremote.get(f"http://127.0.0.1:{closed}", None, "/v1/x", 5.0) is None
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(TimeoutError):
            fastremote.get(f"http://127.0.0.1:{silent.getsockname()[1]}", None, "/v1/x", 0.2)


def test_a_claimed_length_is_not_allocated_before_the_body_arrives(canned: list[Canned]) -> None:
    """A daemon claiming a body at the cap (1 GiB) and sending two bytes makes the read
    allocate no more than the first bounded chunk, then refuses the answer cut short."""
    import tracemalloc

    claimed = fastremote.MAX_BODY
    server = serve(canned, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n{}" % claimed)
    server.done.set()  # closed after those two bytes
    tracemalloc.start()
    try:
        found = fastremote.get(server.url, None, "/v1/x", 5.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found is None
    assert peak < 64 << 20, f"{peak:,} bytes allocated for a body of two bytes"


@pytest.mark.parametrize("size", [1, 65_535, 65_536, 3 << 20, (16 << 20) + 1, (40 << 20) + 7])
def test_a_body_of_any_size_is_read_whole(canned: list[Canned], size: int) -> None:
    """Bodies below, at and past the first chunk and past its doublings come back whole."""
    body = (bytes(range(251)) * (size // 251 + 1))[:size]  # no run repeats at a chunk's size
    server = serve(canned, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + body)
    found = fastremote.get(server.url, None, "/v1/x", 30.0)
    assert found is not None and found[0] == 200
    assert bytes(found[2]) == body


def test_a_daemon_that_trickles_is_a_timeout_at_the_deadline() -> None:
    """One byte every 50 ms never lets a single read wait 0.5 s; the whole answer (ten
    seconds of it) is still cut off at 0.5 s, not waited for."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 150\r\n\r\n" + b"x" * 150
    stop = threading.Event()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()

        def trickle() -> None:
            conn, _ = sock.accept()
            with conn:
                conn.recv(4096)
                for byte in answer:  # bounded: 190 bytes, and stopped with the test
                    if stop.wait(0.05):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:  # the client gave up: as it should
                        return

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        try:
            with pytest.raises(TimeoutError):
                fastremote.get(f"http://127.0.0.1:{sock.getsockname()[1]}", None, "/v1/x", 0.5)
        finally:
            stop.set()
            thread.join(10)
