"""``refs SPEC --depth N|all`` against a daemon (``TOOLVAULT_URL``) on the fast path
(issue 14): byte for byte what the same command prints on the daemon's vault locally,
and what the full command line prints through its client, without loading click; any
answer but a plain graph falls back, having printed nothing."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from test_fastcli import FORBIDDEN
from test_layering import HEAVY, loaded_modules, top
from test_server import Daemon, make_token
from toolvault import NewVersion, Vault, client, fastremote
from toolvault.cli import cli
from toolvault.fastcli import serve

FMT1 = hashlib.sha256(b"echo 1\n").hexdigest()
PROMPT = 'écris\n  un outil "vite" \\ {0} %s \u2028 ✓'

# Every shape of graph: deep (past the levels read one query each), a diamond, a yanked
# version, references stored as written (one resolving, one dangling), a depth cut.
SERVED = [
    ["refs", "top", "--depth", "all", "--json"],
    ["refs", "top", "--depth", "all"],
    ["refs", "top", "--depth", "3", "--json"],
    ["refs", "top", "--depth=2"],
    ["refs", "top", "--depth", "0", "--json"],
    ["refs", "--json", "chain0:1", "--depth", "all", "--reverse"],
    ["refs", "chain0:1", "--reverse", "--depth", "all"],
    ["refs", "chain1:2", "--reverse", "--depth", "4", "--json"],
    ["refs", "loose", "--depth", "all", "--json"],
    ["refs", "loose", "--depth", "all"],
    ["refs", "fmt:1", "--depth", "all", "--reverse"],  # yanked fmt:2 among its descendants
    ["refs", "fmt@sha256:{fmt1}", "--depth", "1"],  # a hash prefix
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Daemon, str]]:
    """A vault with every shape of graph, a daemon over it, and a token for it."""
    home = tmp_path_factory.mktemp("remote-refs") / "home"
    with Vault.open(home) as vault:
        publish_graphs(vault)
    token = make_token(home, "alice")
    daemon = Daemon(home)
    try:
        yield home, daemon, token
    finally:
        daemon.stop()


def publish_graphs(vault: Vault) -> None:
    """Every shape of graph (see SERVED)."""
    vault.publish("fmt", "echo 1\n", prompt=PROMPT, created_by="zoé")
    vault.publish("fmt", "echo 2\n", references=["fmt:1"], message="two\nlines")
    vault.yank("fmt:2", "leaks\ttabs")
    held = ["fmt:2"]
    for i in range(30):  # a chain over three tools, deeper than the level queries
        p = vault.publish(f"chain{i % 3}", f"echo {i}\n", references=held)
        held = [f"{p.name}:{p.version}"]
    vault.publish_many(
        [NewVersion("left", b"l\n", references=tuple(held)), NewVersion("right", b"r\n")]
    )
    vault.publish("right", "r2\n", references=[held[0], "left:1"])
    vault.publish("loose", "x\n", references=["later", "ghost"], allow_dangling=True)
    vault.publish("later", "y\n", references=["right"])
    vault.publish("top", "t\n", references=["left:1", "right:2", "loose:1"])


def _local(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLVAULT_HOME", str(home))
    monkeypatch.delenv("TOOLVAULT_URL", raising=False)
    monkeypatch.delenv("TOOLVAULT_TOKEN", raising=False)


def _remote(url: str, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLVAULT_HOME", "/nonexistent")  # nothing local is read
    monkeypatch.setenv("TOOLVAULT_URL", url)
    monkeypatch.setenv("TOOLVAULT_TOKEN", token)


def _fast(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert serve(argv) is True, "not served by the fast path"
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", SERVED, ids=" ".join)
def test_the_remote_graph_is_the_local_one_byte_for_byte(
    served: tuple[Path, Daemon, str],
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home, daemon, token = served
    argv = [a.replace("{fmt1}", FMT1[:12]) for a in argv]
    _local(home, monkeypatch)
    local = tv_stdout(argv)
    assert _fast(argv, capsys) == local
    _remote(daemon.url, token, monkeypatch)
    assert _fast(argv, capsys) == local
    assert tv_stdout(argv) == local  # the full command line, through its client
    if "--json" in argv:
        assert json.loads(local)["nodes"][0]["depth"] == 0  # a graph, its root first


def tv_stdout(argv: list[str]) -> str:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, (argv, result.output, result.exception)
    return result.stdout


def test_the_command_loads_no_click_and_prints_the_local_bytes(
    served: tuple[Path, Daemon, str], tmp_path: Path
) -> None:
    home, daemon, token = served
    argv = ["refs", "top", "--depth", "all", "--json"]
    code = (
        f"import sys; sys.argv = ['toolvault', *{argv!r}]\nfrom toolvault.main import main\nmain()"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    found, remote = loaded_modules(
        code, tmp_path, {**base, "TOOLVAULT_URL": daemon.url, "TOOLVAULT_TOKEN": token}
    )
    loaded = found & FORBIDDEN | top(found) & {*FORBIDDEN, *HEAVY, "sqlite3", "typing"}
    assert not loaded, f"the remote refs --depth loaded {sorted(loaded)}"
    _, local = loaded_modules(code, tmp_path, {**base, "TOOLVAULT_HOME": str(home)})
    assert remote == local
    assert len(json.loads(remote)["nodes"]) == 37  # all but right:1


@pytest.mark.parametrize(
    ("argv", "url", "token"),
    [
        (["refs", "nope", "--depth", "all"], None, None),  # 404: the client explains
        (["refs", "top:9", "--depth", "all", "--json"], None, None),
        (["refs", f"fmt:1@sha256:{'0' * 8}", "--depth", "1"], None, None),
        (["refs", "top:0", "--depth", "all"], None, None),  # an invalid spec: 400
        (["refs", "top", "--depth", "x"], None, None),  # refused before a request
        (["refs", "top", "--depth", "1000001"], None, None),
        (["refs", "top", "--depth"], None, None),
        (["refs", "top", "--depth", "1", "--bogus"], None, None),
        (["refs", "top"], None, None),  # one level: the client's
        (["refs", "top", "--reverse", "--json"], None, None),
        (["show", "top"], None, None),  # another command
        (["refs", "top", "--depth", "all"], None, "tv_wrong"),  # 401
        (["refs", "top", "--depth", "all"], None, "bad\ttoken"),  # not sent at all
        (["refs", "top", "--depth", "all"], "{url}/elsewhere", None),  # 404 under a path
        (["refs", "top", "--depth", "all"], "http://127.0.0.1:{closed}", None),  # refused
        (["refs", "top", "--depth", "all"], "http://127.0.0.1:port", None),
        (["refs", "top", "--depth", "all"], "ftp://127.0.0.1:{port}", None),
        (["refs", "top", "--depth", "all"], "{url}/healthz?", None),  # 200, not a graph
    ],
    ids=lambda x: " ".join(x) if isinstance(x, list) else str(x),
)
def test_anything_but_a_plain_graph_falls_back_having_printed_nothing(
    served: tuple[Path, Daemon, str],
    argv: list[str],
    url: str | None,
    token: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, daemon, good = served
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    where = (url or "{url}").format(url=daemon.url, port=daemon.port, closed=closed)
    _remote(where, token or good, monkeypatch)
    capsys.readouterr()
    assert serve(argv) is False
    assert capsys.readouterr() == ("", "")
    _remote(daemon.url, good, monkeypatch)  # the same daemon serves the plain case
    assert _fast(["refs", "top", "--depth", "all"], capsys)


def test_a_daemon_that_does_not_answer_is_reported_as_the_client_reports_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fastremote.TIMEOUT == client.TIMEOUT
    monkeypatch.setattr(fastremote, "TIMEOUT", 0.3)
    with socket.socket() as silent:  # takes the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        _remote(url, "tv_x", monkeypatch)
        for as_json in (True, False):
            argv = ["refs", "top", "--depth", "all", *(["--json"] if as_json else [])]
            with pytest.raises(SystemExit) as exited:
                serve(argv)
            assert exited.value.code == 1
            out, err = capsys.readouterr()
            message = (
                f"cannot reach the toolvault daemon at {url}: timed out; "
                "check TOOLVAULT_URL and that 'toolvault serve' is running"
            )
            assert out == ""
            if as_json:
                error = {"code": "unreachable", "message": message, "details": {"url": url}}
                assert json.loads(err) == {"error": error}
            else:
                assert err == f"toolvault: error: {message}\n"


@pytest.mark.parametrize("reverse", [False, True])
def test_asked_for_indent_2_the_daemon_answers_the_text_the_command_prints(
    served: tuple[Path, Daemon, str], monkeypatch: pytest.MonkeyPatch, reverse: bool
) -> None:
    """What the fast path asks for ``--json``; any other client gets compact JSON."""
    home, daemon, token = served
    spec, flags = ("chain0:1", ["--reverse"]) if reverse else ("top", [])
    _local(home, monkeypatch)
    printed = tv_stdout(["refs", spec, "--depth", "all", "--json", *flags])
    path = f"/v1/refs/{spec}?depth=all{'&reverse=true' if reverse else ''}"
    auth = {"Authorization": f"Bearer {token}"}
    asked = {**auth, "Accept": "application/json; indent=2"}
    found = fastremote.get(daemon.url, None, path, 10.0, asked)
    assert found is not None and found[0] == 200
    assert found[2].decode() + "\n" == printed
    compact = fastremote.get(daemon.url, None, path, 10.0, auth)
    assert compact is not None and json.loads(compact[2]) == json.loads(printed)
    assert b"\n" not in compact[2]
