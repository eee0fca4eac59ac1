"""Safe downloads against a real HTTP server on 127.0.0.1 (and file:// URLs)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from toolvault.errors import InvalidInput, NotFound, PermissionDenied, SourceError
from toolvault.sources.urls import Downloaded, download, name_from_url

SCRIPT = b"#!/usr/bin/env python3\nprint('fmt')\n"
BIG = 2000  # bytes the /big routes send; the tests allow 1000
SLOW = 3.0  # seconds a slow handler waits at most (it stops early when the server shuts down)


class Handler(BaseHTTPRequestHandler):
    """Routes for every case of the tests; ``server.stop`` cuts the slow ones short."""

    def do_GET(self) -> None:
        route = self.path.split("?")[0]
        if route == "/fmt.py":
            self._send(200, SCRIPT, "text/x-python")
        elif route.startswith("/hop/"):
            self._hop(int(route.removeprefix("/hop/")))
        elif route == "/away":
            self._redirect("/elsewhere/fmt.py")
        elif route == "/to-ftp":
            self._redirect("ftp://127.0.0.1/fmt.py")
        elif route == "/broken":
            self._send(500, b"oops", "text/plain")
        elif route == "/slow-headers":
            self.server.stop.wait(SLOW)  # type: ignore[attr-defined]
            self._send(200, SCRIPT, "text/plain")
        elif route == "/slow-body":
            self._slow_body()
        elif route == "/trickle":
            self._trickle(int(self.path.partition("?bytes=")[2] or 40))
        elif route == "/big":
            self._send(200, b"x" * BIG, "text/plain")
        elif route == "/big-unsized":
            self._unsized(b"x" * BIG)
        else:
            self._send(404, b"no such thing", "text/plain")

    def _hop(self, left: int) -> None:
        if left == 0:
            self._send(200, SCRIPT, "text/x-python")
        else:
            self._redirect(f"/hop/{left - 1}")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _unsized(self, body: bytes) -> None:
        """A body with no Content-Length: it ends when the connection closes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        for start in range(0, len(body), 100):
            self.wfile.write(body[start : start + 100])

    def _slow_body(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(SCRIPT)))
        self.end_headers()
        self.wfile.write(SCRIPT[:5])
        self.wfile.flush()
        self.server.stop.wait(SLOW)  # type: ignore[attr-defined]

    def _trickle(self, count: int) -> None:
        """``count`` bytes, one every 50 ms at least: each read is quick, the whole
        download is not (it cannot end before (count - 1) x 50 ms, however loaded the
        machine, since a wait is never shorter than asked)."""
        self.send_response(200)
        self.send_header("Content-Length", str(count))
        self.end_headers()
        for _ in range(count):
            self.wfile.write(b"x")
            self.wfile.flush()
            if self.server.stop.wait(0.05):  # type: ignore[attr-defined]
                return

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.stop = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (timeout, byte limit) is expected here."""


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The URL of a real HTTP server on 127.0.0.1 answering with ``handler``; shut down
    (its handlers told to stop through ``server.stop``) on leaving."""
    server = Server(handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    """The URL of a real HTTP server on 127.0.0.1, shut down after the tests."""
    with serving(Handler) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Talk to 127.0.0.1 directly even where a proxy is configured."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")


def test_downloads_a_raw_script(base: str) -> None:
    got = download(f"{base}/fmt.py?raw=1")
    assert got == Downloaded(
        f"{base}/fmt.py?raw=1", f"{base}/fmt.py?raw=1", SCRIPT, "text/x-python"
    )


def test_404_is_not_found(base: str) -> None:
    with pytest.raises(NotFound, match=r"/missing\.sh returned 404 Not Found"):
        download(f"{base}/missing.sh")


def test_other_http_errors_are_source_errors(base: str) -> None:
    with pytest.raises(SourceError, match=r"/broken returned HTTP 500") as info:
        download(f"{base}/broken")
    assert info.value.exit_code == 1 and info.value.http_status == 502


def test_follows_a_few_redirects(base: str) -> None:
    got = download(f"{base}/hop/2")
    assert got.data == SCRIPT
    assert got.url == f"{base}/hop/2"
    assert got.final_url == f"{base}/hop/0"
    assert download(f"{base}/hop/5").data == SCRIPT


def test_refuses_more_than_max_redirects(base: str) -> None:
    with pytest.raises(SourceError, match="redirects more than 5 times; use the final URL"):
        download(f"{base}/hop/6")
    with pytest.raises(SourceError, match="redirects more than 1 times"):
        download(f"{base}/hop/2", max_redirects=1)


def test_a_redirect_outside_the_allow_list_is_refused(base: str) -> None:
    allow = [f"{base}/away", f"{base}/fmt.py"]
    assert download(f"{base}/fmt.py", allow=allow).data == SCRIPT
    with pytest.raises(PermissionDenied) as info:
        download(f"{base}/away", allow=allow)
    message = str(info.value)
    assert f"{base}/elsewhere/fmt.py is not under an allowed source prefix" in message
    assert f"{base}/away, {base}/fmt.py" in message
    assert "[sources] allow in config.toml" in message


def test_a_url_outside_the_allow_list_is_refused_before_any_request(base: str) -> None:
    with pytest.raises(PermissionDenied, match=r"not under an allowed source prefix \(none\)"):
        download(f"{base}/fmt.py", allow=[])
    with pytest.raises(PermissionDenied, match=r"'\.\.' path segment"):
        download(f"{base}/fmt.py/../hop/0", allow=[f"{base}/fmt.py"])


def test_a_redirect_to_another_scheme_is_refused(base: str) -> None:
    with pytest.raises(InvalidInput, match="scheme 'ftp' is not supported"):
        download(f"{base}/to-ftp")


def test_a_server_that_does_not_answer_times_out(base: str) -> None:
    with pytest.raises(SourceError, match=r"did not answer within 0\.5 s"):
        download(f"{base}/slow-headers", timeout=0.5)


def test_a_body_that_stalls_times_out(base: str) -> None:
    with pytest.raises(SourceError, match=r"did not answer within 0\.5 s"):
        download(f"{base}/slow-body", timeout=0.5)


def test_a_download_that_trickles_past_its_deadline_is_cut_off(base: str) -> None:
    # 60 bytes take 2.95 s at least, so a 1.5 s deadline must cut them off; each read
    # waits 50 ms, so a 30 s read timeout never fires first, even on a loaded machine.
    with pytest.raises(SourceError, match=r"took longer than 1\.5 s to download"):
        download(f"{base}/trickle?bytes=60", timeout=30, deadline=1.5)
    assert download(f"{base}/trickle?bytes=10", timeout=30).data == b"x" * 10


def test_content_length_over_the_limit_is_refused_before_reading(base: str) -> None:
    with pytest.raises(SourceError, match=f"is {BIG} bytes, over the download limit of 1000"):
        download(f"{base}/big", max_bytes=1000)
    assert len(download(f"{base}/big", max_bytes=BIG).data) == BIG


def test_a_body_over_the_limit_without_length_is_cut_off(base: str) -> None:
    with pytest.raises(SourceError, match="sent more than the download limit of 1000 bytes"):
        download(f"{base}/big-unsized", max_bytes=1000)
    assert len(download(f"{base}/big-unsized", max_bytes=BIG).data) == BIG


def test_connection_refused_is_a_source_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceError, match="connection refused; check the host and port"):
        download(f"http://127.0.0.1:{port}/fmt.py")


def test_an_unknown_host_is_a_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(SourceError, match="host name could not be resolved"):
        download("http://tools.example.invalid/fmt.py")


def test_file_urls_work(tmp_path: Path) -> None:
    script = tmp_path / "packs" / "fmt.sh"
    script.parent.mkdir()
    script.write_bytes(SCRIPT)
    url = script.as_uri()
    assert download(url).data == SCRIPT
    assert download(url, allow=[(tmp_path / "packs").as_uri() + "/"]).data == SCRIPT
    with pytest.raises(PermissionDenied):
        download(url, allow=[(tmp_path / "other").as_uri() + "/"])
    with pytest.raises(SourceError, match="over the download limit of 10 bytes"):
        download(url, max_bytes=10)
    with pytest.raises(NotFound, match="no such file"):
        download((tmp_path / "nope.sh").as_uri())


def test_a_file_url_cannot_climb_out_of_its_prefix(tmp_path: Path) -> None:
    secret = tmp_path / "secret.sh"
    secret.write_bytes(b"secret")
    (tmp_path / "packs").mkdir()
    allow = [(tmp_path / "packs").as_uri() + "/"]
    for trick in ("../secret.sh", "%2e%2e/secret.sh"):
        with pytest.raises(PermissionDenied, match=r"'\.\.' path segment"):
            download(allow[0] + trick, allow=allow)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ftp://127.0.0.1/fmt.py", "scheme 'ftp'"),
        ("data:text/plain,echo%20hi", "scheme 'data'"),
        ("/usr/bin/fmt", "no scheme"),
    ],
)
def test_other_schemes_are_invalid_input(url: str, shown: str) -> None:
    with pytest.raises(InvalidInput, match="use an http://, https:// or file:// URL") as info:
        download(url)
    assert shown in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://raw.githubusercontent.com/acme/tools/main/fmt.py?x=1", "fmt"),
        ("https://gist.githubusercontent.com/a/b/raw/lint-all.sh", "lint-all"),
        ("https://example.org/bin/deploy", "deploy"),
        ("file:///srv/packs/my%2Dtool.rb#frag", "my-tool"),
    ],
)
def test_name_from_url(url: str, name: str) -> None:
    assert name_from_url(url) == name


@pytest.mark.parametrize("url", ["https://example.org/", "https://example.org", "file:///srv/.x"])
def test_name_from_url_without_a_usable_name(url: str) -> None:
    with pytest.raises(InvalidInput, match="pass --name NAME"):
        name_from_url(url)
