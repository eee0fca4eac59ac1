"""The remote command line against a daemon that answers JSON of the wrong shape (one
that is not toolvault, a broken one, a hostile one): one error naming the daemon and the
request, exit 1, never ``internal error`` or a traceback, and never an empty listing
taken for the answer."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from test_fastcli_remote_shape import Canned
from toolvault.cli import cli

ANSWERS = {
    "null": b"null",
    "a string": b'"x"',
    "a number": b"1e999999",  # inf: a float where a list or an object belongs
    "an empty object": b"{}",
    "a list of nothing useful": b"[1]",
    "a list of empty objects": b"[{}]",
    "an object of wrong types": json.dumps(
        {"name": 1, "version": "a", "sha256": None, "tool": [], "labels": "x", "nodes": 5}
    ).encode(),
    "nested too deep": b"[" * 100_000 + b"]" * 100_000,
}

COMMANDS = [
    ["ls"],
    ["ls", "--all"],
    ["cat", "fmt:versions"],
    ["cat", "fmt:2"],
    ["show", "fmt"],
    ["versions", "fmt"],
    ["versions", "fmt", "history"],
    ["diff", "fmt:1", "fmt:2"],
    ["audit"],
    ["search", "csv"],
    ["verify"],
    ["refs", "fmt"],
    ["refs", "fmt", "--reverse"],
    ["context", "fmt"],
    ["grants", "fmt"],
    ["hook", "list"],
    ["hook", "deliveries"],
    ["run", "fmt"],
]


class Garbage(Canned):
    """Answers every request 200 with the server's ``body`` as JSON (a request's own
    body read first)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    do_DELETE = do_POST


@pytest.fixture(scope="module")
def garbage() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def url_of(server: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize("answer", sorted(ANSWERS))
@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_an_answer_of_the_wrong_shape_is_one_error_naming_the_daemon(
    garbage: http.server.ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    argv: list[str],
) -> None:
    garbage.body = ANSWERS[answer]  # type: ignore[attr-defined]
    monkeypatch.setenv("TOOLVAULT_URL", url_of(garbage))
    monkeypatch.setenv("TOOLVAULT_TOKEN", "tv_" + "a" * 40)
    result = CliRunner().invoke(cli, ["--json", *argv])
    assert result.exit_code in (1, 125), result.output  # run: toolvault failed, 125
    error = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] != "internal", error
    assert url_of(garbage) in error["message"], error
    assert result.stdout == ""


def test_the_remote_fast_paths_fall_back_and_report_too(
    garbage: http.server.ThreadingHTTPServer, tmp_path: Path
) -> None:
    """``refs --depth`` and ``status`` have answers of their own (not through the
    client): JSON nested too deep was a traceback there."""
    garbage.body = ANSWERS["nested too deep"]  # type: ignore[attr-defined]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    env |= {"TOOLVAULT_URL": url_of(garbage), "TOOLVAULT_HOME": str(tmp_path / "home")}
    for argv in (["refs", "fmt", "--depth", "all", "--json"], ["status"]):
        done = subprocess.run(
            [sys.executable, "-m", "toolvault", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
        assert done.returncode in (0, 1), (argv, done.returncode, done.stderr)


class Endless(http.server.BaseHTTPRequestHandler):
    """Answers a JSON list that never ends (chunked, cut off after 64 MiB), or, at
    ``/v1/tools/x/versions``, one of 2 MiB with its Content-Length."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if self.path.endswith("/versions"):
            body = b"[" + b"0," * (1 << 20) + b"0]"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b"0," * (1 << 15)
        try:
            self.wfile.write(b"%x\r\n[\r\n" % 1)
            for _ in range(1024):  # 64 MiB: bounded, far past the limit under test
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        except OSError:  # the client stopped reading: as it should
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("path", ["/v1/tools", "/v1/tools/x/versions"])
def test_an_answer_past_the_limit_is_cut_off_not_read_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, path: str
) -> None:
    """A daemon streaming without end (or declaring more than the limit) is refused at
    the limit (1 GiB; 1 MiB here), not held in memory to its last byte."""
    from toolvault import client_answers, errors
    from toolvault.client import RemoteVault

    monkeypatch.setattr(client_answers, "MAX_ANSWER", 1 << 20)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        too_much = pytest.raises(errors.ToolvaultError, match="more than 1,048,576 bytes")
        with RemoteVault(url_of(server), home=tmp_path) as remote, too_much:
            if path == "/v1/tools":
                remote.tools()
            else:
                remote.version_listing("x")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "fmt\udcff"],
        ["refs", "fmt\udcff"],
        ["diff", "fmt\udcff:1", "fmt:2"],
        ["audit", "fmt\udcff"],
        ["search", "\udcffcsv"],
    ],
    ids=" ".join,
)
def test_an_argument_that_is_no_utf8_is_the_callers_error_not_the_daemons(
    garbage: http.server.ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """A command-line byte that is not UTF-8 (Python holds it as a lone surrogate) cannot
    go into a request: invalid input, exit 2, naming the text, and the daemon not blamed
    (it was an internal error, then 'the daemon answered something this client does not
    read')."""
    garbage.body = b"[]"  # type: ignore[attr-defined]
    monkeypatch.setenv("TOOLVAULT_URL", url_of(garbage))
    result = CliRunner().invoke(cli, ["--json", *argv])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "invalid_input", error
    assert "not UTF-8 text" in error["message"] and "daemon" not in error["message"], error
