"""Downloads end on time and whole (issue 11, item 12): a server that drips its body
is cut off at the download's overall deadline ([sources] download_deadline, 60 s by
default), and a body shorter than its Content-Length is an error, not a smaller tool.
A real HTTP server on 127.0.0.1, served from a thread; every wait in it is bounded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from test_cli import assert_one_line_error, dump, tv
from test_fetch import serving
from toolvault.config import Config
from toolvault.errors import SourceError
from toolvault.sources.urls import download

DRIP = 0.1  # seconds between two bytes of /drip
HOLD = 5.0  # the longest a handler waits (it stops at once when the server shuts down)


class Dripping(BaseHTTPRequestHandler):
    """/drip: announces 100000 bytes, sends 120, one every DRIP seconds, then hangs up.
    /short: announces 100000 bytes, sends 120 at once, then hangs up.
    /stall: announces 10 bytes, sends 1, waits up to HOLD seconds, sends the other 9."""

    def do_GET(self) -> None:
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "10" if self.path == "/stall" else "100000")
        self.end_headers()
        if self.path == "/short":
            self.wfile.write(b"#" * 120)
        elif self.path == "/stall":
            self._send(b"#")
            if not stop.wait(HOLD):
                self._send(b"#" * 9)
        else:
            for _ in range(120):
                self._send(b"#")
                if stop.wait(DRIP):
                    return

    def _send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    with serving(Dripping) as url:
        yield url


def test_ingest_of_a_dripping_server_stops_at_the_configured_deadline(
    base: str, home: Path
) -> None:
    home.mkdir()
    (home / "config.toml").write_text("[sources]\ndownload_deadline = 1\n")
    tv("init")
    before = dump(home)
    start = time.monotonic()
    result = tv("ingest", "--url", f"{base}/drip", "--name", "dripped")
    took = time.monotonic() - start
    assert result.exit_code == 1, result.output
    assert_one_line_error(result, "took longer than 1 s to download")
    assert took < 4, took
    assert dump(home) == before


def test_a_body_shorter_than_announced_is_an_error_and_nothing_is_written(
    base: str, home: Path
) -> None:
    tv("init")
    before = dump(home)
    result = tv("ingest", "--url", f"{base}/short", "--name", "cut")
    assert result.exit_code == 1, result.output
    assert_one_line_error(result, "ended after 120 of the 100000 bytes its server announced")
    assert dump(home) == before


def test_a_read_waits_no_longer_than_the_deadline_has_left(base: str) -> None:
    """Each read is bounded by what is left of the deadline, not only by the per-read
    timeout: a server that stalls mid-body is given up on at the deadline."""
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"took longer than 0\.5 s to download"):
        download(f"{base}/stall", timeout=30, deadline=0.5)
    assert time.monotonic() - start < 2


def test_a_short_body_is_refused_by_download_itself(base: str) -> None:
    with pytest.raises(SourceError, match="ended after 120 of the 100000 bytes"):
        download(f"{base}/short", timeout=5)


@pytest.mark.parametrize("value", ['"soon"', "0", "-3", "true"])
def test_a_bad_download_deadline_is_refused_in_one_line(base: str, home: Path, value: str) -> None:
    home.mkdir()
    (home / "config.toml").write_text(f"[sources]\ndownload_deadline = {value}\n")
    result = tv("ingest", "--url", f"{base}/short", "--name", "cut")
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, "[sources] download_deadline must be a positive number")


def test_the_default_deadline_is_a_minute(home: Path) -> None:
    assert Config.load(home).download_deadline == 60.0
    home.mkdir()
    (home / "config.toml").write_text("[sources]\ndownload_deadline = 2.5\n")
    assert Config.load(home).download_deadline == 2.5
