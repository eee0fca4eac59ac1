"""``refs SPEC --depth N|all`` against a daemon whose answer is not a lineage graph (issue
14): a broken or hostile daemon that answers 200 with something else. The fast path
prints nothing and falls back; the full command line then fails with one line (exit 1,
``integrity`` under ``--json``), never a traceback, an ``internal error`` or half a graph.
A daemon that answers a graph compact (from before ``indent=2``) or with keys this
version leaves out still prints the local bytes."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner

from test_cli import assert_one_line_error
from toolvault import Vault, lineage_json
from toolvault.cli import cli
from toolvault.fastcli import serve

ARGV = ["refs", "top", "--depth", "all"]


class Canned(BaseHTTPRequestHandler):
    """Answers every GET with the server's ``body`` (200, its Content-Length)."""

    def do_GET(self) -> None:
        body: bytes = self.server.body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real graph's JSON shape: a chain, a reference that resolves and one that does
    not, and what ``refs --depth all --json`` prints of it locally."""
    home = tmp_path_factory.mktemp("shape") / "home"
    with Vault.open(home) as vault:
        vault.publish("lib", "echo 1\n", prompt="a\nb")
        vault.publish("lib", "echo 2\n", references=["lib:1"])
        vault.publish("top", "t\n", references=["lib:2", "lib", "ghost"], allow_dangling=True)
        found = vault.lineage("top", "all")
    return {"data": found.to_dict(), "printed": lineage_json.dumps(found) + "\n"}


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bytes], None]]:
    """A daemon on 127.0.0.1 that answers what it is given; TOOLVAULT_URL points at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    server.body = b""  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("TOOLVAULT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("TOOLVAULT_TOKEN", "tv_test")
    monkeypatch.setenv("TOOLVAULT_HOME", "/nonexistent")

    def answer(body: bytes) -> None:
        server.body = body  # type: ignore[attr-defined]

    try:
        yield answer
    finally:
        server.shutdown()
        server.server_close()


def _broken(data: dict[str, Any], how: str) -> Any:
    """The graph's shape broken one way."""
    d = copy.deepcopy(data)
    node, edge = d["nodes"][1], d["edges"][0]
    changes: dict[str, Callable[[], Any]] = {
        "a list for a prompt": lambda: node.update(prompt=["a", "b"]),
        "an object for a ref": lambda: edge.update(ref={"x": 1}),
        "a number for a sha256": lambda: node.update(sha256=7),
        "a text for a version": lambda: node.update(version="2"),
        "a node without its name": lambda: node.pop("name"),
        "an edge without its status": lambda: edge.pop("status"),
        "a root that is no node": lambda: d.update(root="other:1@sha256:" + "0" * 64),
        "no nodes at all": lambda: d.update(nodes=[], edges=[]),
        "an exact edge to no node": lambda: edge.update(to="gone:1@sha256:" + "1" * 64),
        "an edge from no node": lambda: edge.update({"from": "gone:2@sha256:" + "2" * 64}),
        "an unknown status": lambda: edge.update(status="maybe"),
        "a depth that is a list": lambda: d.update(depth=[1]),
        "a direction unknown": lambda: d.update(direction="sideways"),
        "nodes that are texts": lambda: d.update(nodes=["a", "b"]),
        "no edges key": lambda: d.pop("edges"),
    }
    changes[how]()
    return d


BROKEN = [
    "a list for a prompt",
    "an object for a ref",
    "a number for a sha256",
    "a text for a version",
    "a node without its name",
    "an edge without its status",
    "a root that is no node",
    "no nodes at all",
    "an exact edge to no node",
    "an edge from no node",
    "an unknown status",
    "a depth that is a list",
    "a direction unknown",
    "nodes that are texts",
    "no edges key",
]


def _fails_cleanly(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    code: str = "integrity",
    words: str = "no lineage graph",
) -> None:
    """The fast path falls back having printed nothing; the full command line fails with
    one line, exit 1, naming the daemon's answer."""
    capsys.readouterr()
    assert serve(argv) is False
    assert capsys.readouterr() == ("", "")
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    if "--json" in argv:
        error = json.loads(result.stderr)["error"]
        assert error["code"] == code, error
        assert words in error["message"]
    else:
        assert_one_line_error(result, words)


@pytest.mark.parametrize("how", BROKEN)
@pytest.mark.parametrize("encode", ["indented", "compact"])
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_an_answer_that_is_not_a_graph_prints_nothing_of_it(
    graph: dict[str, Any],
    daemon: Callable[[bytes], None],
    how: str,
    encode: str,
    as_json: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = _broken(graph["data"], how)
    text = json.dumps(data, indent=2 if encode == "indented" else None, ensure_ascii=False)
    daemon(text.encode())
    _fails_cleanly([*ARGV, *(["--json"] if as_json else [])], capsys)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>not found</html>",
        b'{"root": "top:1"',  # cut short
        b"[]",
        b"null",
        b'"a graph"',
        b"\xff\xfe{}",
    ],
)
def test_an_answer_that_is_not_json_prints_nothing_of_it(
    daemon: Callable[[bytes], None], body: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon(body)
    words = "no lineage graph" if body.startswith((b"[", b"n", b'"')) else "not JSON"
    _fails_cleanly([*ARGV, "--json"], capsys, "integrity" if "graph" in words else "error", words)


def test_a_graph_not_in_utf8_is_not_printed_as_it_came(
    graph: dict[str, Any], daemon: Callable[[bytes], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """json.loads would read UTF-16 bytes: printed as they came, they would be no UTF-8."""
    daemon(graph["printed"].rstrip("\n").encode("utf-16"))
    capsys.readouterr()
    assert serve([*ARGV, "--json"]) is False
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("encode", ["compact", "indented with an added key"])
def test_a_daemon_of_another_version_still_prints_the_local_bytes(
    graph: dict[str, Any],
    daemon: Callable[[bytes], None],
    encode: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A daemon that ignores ``indent=2`` answers compact JSON; a newer one may add keys
    to a node, which the local command does not print: either is encoded again."""
    data = copy.deepcopy(graph["data"])
    if encode == "compact":
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    else:
        data["nodes"][0]["later"] = "a field of a newer daemon"
        body = json.dumps(data, indent=2, ensure_ascii=False)
    daemon(body.encode())
    capsys.readouterr()
    assert serve([*ARGV, "--json"]) is True
    assert capsys.readouterr() == (graph["printed"], "")


def test_which_accept_asks_for_the_printed_text() -> None:
    """``Accept: application/json; indent=2`` (the fast path's), spelled as HTTP allows."""
    from toolvault.server.lineage import indented

    assert indented("application/json; indent=2")
    assert indented("text/html, Application/JSON ; indent = 2")
    assert not indented("application/json")
    assert not indented("application/json; indent=4")
    assert not indented("text/plain; indent=2")
    assert not indented("")
