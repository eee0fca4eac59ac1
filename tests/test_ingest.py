"""ingest end to end through the CLI: local files and folders, URLs served by a real
HTTP server on 127.0.0.1, git repositories made by the test, policy and progress."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from test_cli import TOOLVAULT, assert_one_line_error, dump, js, ok, tv, write
from test_fetch import BIG, SCRIPT, Handler, Server
from test_gitsource import ADA, BOB, CY, commit, git
from test_gitsource import write as put
from test_packs import at, publish, snapshot

LINT_V1 = b"print('lint, first')\n"
LINT_V2 = b"print('lint, stricter')\n"


def summary_line(out: str) -> str:
    return out.strip().splitlines()[-1]


def refused(args: list[str], code: int, words: str, home: Path) -> None:
    """``toolvault ARGS`` fails with one error line and leaves ``home`` untouched."""
    before = snapshot(home)
    result = tv(*args)
    assert result.exit_code == code, (result.output, result.exception)
    assert_one_line_error(result, words)
    assert snapshot(home) == before


# -- local files, folders and the allow-list -------------------------------------------------


def test_a_file_a_folder_and_name(tmp_path: Path, home: Path) -> None:
    script = write(tmp_path / "fmt.py", "print('fmt')\n", 0o644)
    result = ok("ingest", str(script))
    assert "fmt:1  added  sha256:" in result.stdout
    assert summary_line(result.stdout) == (
        "imported: 1 tool(s), 1 version(s) added, 0 unchanged, 0 skipped"
    )
    assert "note: no [sources] allow list in config.toml: every source is allowed" in result.stderr
    shown = js("show", "fmt")
    assert shown["origin"] == f"file://{script.resolve()}" and shown["executable"] is False
    assert "1 unchanged" in summary_line(ok("ingest", str(script)).stdout)
    assert js("ingest", str(script), "--name", "formatter")["added"][0]["name"] == "formatter"
    write(script, "print('fmt 2')\n", 0o644)
    by_url = js("ingest", "--url", script.as_uri())
    assert [(p["name"], p["version"]) for p in by_url["added"]] == [("fmt", 2)]
    assert js("show", "fmt")["origin"] == script.as_uri()

    folder = tmp_path / "bin"
    folder.mkdir()
    write(folder / "a.sh", "#!/bin/sh\necho a\n")
    write(folder / "b.py", "print('b')\n", 0o644)
    write(folder / ".secret", "token\n")
    got = js("ingest", str(folder))
    assert [(p["name"], p["version"]) for p in got["added"]] == [("a", 1), ("b", 1)]
    assert js("show", "a")["executable"] is True
    entry = js("audit")[-1]
    assert entry["action"] == "import"
    assert entry["details"]["source"] == f"file://{folder.resolve()}"
    assert [(a["name"], a["version"]) for a in entry["details"]["added"]] == [("a", 1), ("b", 1)]
    refused(["ingest", str(folder), "--name", "x"], 2, "--name cannot name every file", home)
    refused(["ingest", str(tmp_path / "nope.sh")], 2, "no such file or folder", home)


def test_local_sources_outside_the_allow_list_are_refused(tmp_path: Path, home: Path) -> None:
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    other.mkdir()
    ok("init")
    (home / "config.toml").write_text(f'[sources]\nallow = ["file://{allowed.resolve()}/"]\n')
    inside = write(allowed / "ok.sh", "echo ok\n")
    outside = write(other / "no.sh", "echo no\n")
    refused(["ingest", str(outside)], 1, f"file://{outside.resolve()} is not an allowed", home)
    result = ok("ingest", str(inside))
    assert "note:" not in result.stderr
    assert [t["name"] for t in js("ls")] == ["ok"]


def test_an_allow_list_prefix_may_be_percent_encoded(tmp_path: Path, home: Path) -> None:
    spaced = tmp_path / "my tools"
    spaced.mkdir()
    ok("init")
    (home / "config.toml").write_text(f'[sources]\nallow = ["{spaced.resolve().as_uri()}/"]\n')
    assert "%20" in (home / "config.toml").read_text()
    ok("ingest", str(write(spaced / "fine.sh", "echo fine\n")))
    assert [t["name"] for t in js("ls")] == ["fine"]


def test_ingest_needs_exactly_one_source(home: Path) -> None:
    ok("init")
    refused(["ingest"], 2, "give exactly one of: a PATH, --url URL or --git URL", home)
    refused(["ingest", "x", "--url", "http://127.0.0.1/x"], 2, "give exactly one of", home)
    for flag in (["--rev", "main"], ["--path", "bin"], ["--history"]):
        refused(["ingest", "x.sh", *flag], 2, "--rev, --path and --history go with --git", home)


# -- URLs ------------------------------------------------------------------------------------


class Routes(Handler):
    """test_fetch's routes, plus whatever the test put in ``server.files``."""

    def do_GET(self) -> None:
        body = self.server.files.get(self.path)  # type: ignore[attr-defined]
        if body is None:
            super().do_GET()
        else:
            self._send(200, body, "application/octet-stream")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A real HTTP server on 127.0.0.1 (port 0), shut down after the test."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    srv = Server(Routes)
    srv.files = {}  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def base(server: Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_pack_served_over_http_imports(tmp_path: Path, server: Server) -> None:
    publish(tmp_path, "fmt", "#!/bin/sh\necho one\n", "--prompt", "a formatter")
    publish(tmp_path, "fmt", "#!/bin/sh\necho two\n")
    publish(tmp_path, "lint", "print('lint')\n")
    pack = tmp_path / "team.tar.gz"
    ok("pack", "export", "--all", "-o", str(pack), "--pack-name", "team")
    # no .tar.gz in the URL: a pack is told from a script by its content
    server.files["/packs/team-latest"] = pack.read_bytes()  # type: ignore[attr-defined]
    target = tmp_path / "target"
    ok(*at(target, "init"))
    (target / "config.toml").write_text(f'[sources]\nallow = ["{base(server)}/packs/"]\n')
    url = f"{base(server)}/packs/team-latest"
    result = ok(*at(target, "ingest", "--url", url))
    assert summary_line(result.stdout) == (
        "imported from pack team@1: 2 tool(s), 3 version(s) added, 0 unchanged, 0 skipped"
    )
    assert result.stderr == f"toolvault: warning: pack team@1 from {url} is not signed\n"
    assert js(*at(target, "ls", "--all")) == js("ls", "--all")
    assert js(*at(target, "show", "fmt:1"))["prompt"] == "a formatter"
    assert js(*at(target, "audit"))[-1]["details"]["source"] == url
    assert js(*at(target, "verify"))["ok"] is True


def test_a_raw_script_url_becomes_a_tool(server: Server, home: Path) -> None:
    url = f"{base(server)}/fmt.py"
    result = ok("ingest", "--url", url)
    assert "fmt:1  added" in result.stdout
    assert ok("cat", "fmt").stdout.encode() == SCRIPT
    shown = js("show", "fmt")
    assert shown["origin"] == url and shown["executable"] is True  # it has a #! line
    assert js("audit")[-1]["details"]["source"] == url
    named = js("ingest", "--url", f"{url}?raw=1", "--name", "formatter")
    assert [(p["name"], p["version"]) for p in named["added"]] == [("formatter", 1)]
    again = js("ingest", "--url", url)
    assert again["added"] == [] and [p["version"] for p in again["unchanged"]] == [1]
    assert sorted(t["name"] for t in js("ls")) == ["fmt", "formatter"]


@pytest.mark.parametrize(
    ("route", "code", "words"),
    [
        ("/fmt.py", 1, "is not an allowed source (config.toml [sources] allow = "),
        ("/away", 1, "/elsewhere/fmt.py is not under an allowed source prefix"),
        ("ftp", 2, "scheme 'ftp' is not supported; use an http://, https:// or file:// URL"),
        ("/missing.py", 1, "/missing.py returned 404 Not Found; check the URL"),
        ("/slow-headers", 1, "/slow-headers did not answer within 0.5 s"),
        ("/big", 1, f"is {BIG} bytes, over the download limit of 1000 bytes"),
        ("/big-unsized", 1, "sent more than the download limit of 1000 bytes"),
    ],
    ids=["not-allowed", "redirect-not-allowed", "scheme", "404", "timeout", "length", "body"],
)
def test_bad_urls_are_refused_and_nothing_is_written(
    route: str,
    code: int,
    words: str,
    server: Server,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("toolvault.sources.ingest.TIMEOUT", 0.5)
    monkeypatch.setattr("toolvault.sources.ingest.MAX_DOWNLOAD", 1000)
    ok("init")
    if route in ("/fmt.py", "/away"):
        allow = "/packs/" if route == "/fmt.py" else "/away"
        (home / "config.toml").write_text(f'[sources]\nallow = ["{base(server)}{allow}"]\n')
    url = "ftp://127.0.0.1/fmt.py" if route == "ftp" else base(server) + route
    refused(["ingest", "--url", url], code, words, home)
    assert js("ls") == []


# -- git -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repo:
    path: Path
    c: dict[int, str]

    def origin(self, n: int, file: str) -> str:
        return f"git+{self.path.resolve()}@{self.c[n]}:{file}"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """Renames, a commit that touches no tool, and a revert to older content."""
    path = tmp_path / "tools repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    c = {}
    put(path, "fmt.sh", b"echo v1\n", 0o755)
    put(path, "lint.py", LINT_V1)
    c[1] = commit(path, "add fmt and lint", ADA, 1)
    put(path, "fmt.sh", b"echo v2\n", 0o755)
    c[2] = commit(path, "fmt: v2", BOB, 2)
    put(path, ".editorconfig", b"root = true\n")
    c[3] = commit(path, "editor settings", ADA, 3)
    git(path, "mv", "lint.py", "check.py")
    c[4] = commit(path, "rename lint to check", CY, 4)
    put(path, "check.py", LINT_V2)
    c[5] = commit(path, "check: stricter", BOB, 5)
    put(path, "fmt.sh", b"echo v1\n", 0o755)
    c[6] = commit(path, "Revert fmt to v1", CY, 6)
    put(path, "bin/ship.sh", b"ship v1\n", 0o755)
    c[7] = commit(path, "add ship", ADA, 7)
    return Repo(path, c)


def versions(home: Path | None = None) -> list[tuple[object, ...]]:
    """Every version as (name, version, content, created_by, day, origin, message)."""
    out = []
    for v in js(*(at(home) if home else []), "ls", "--all"):
        spec = f"{v['name']}:{v['version']}"
        content = ok(*(at(home) if home else []), "cat", spec).stdout.encode()
        assert v["created_at"].endswith("T10:00:00.000000Z"), v["created_at"]  # noon UTC+2
        day = int(v["created_at"][8:10])
        out.append(
            (v["name"], v["version"], content, v["created_by"], day, v["origin"], v["message"])
        )
    return out


ADA_, BOB_, CY_ = (f"{n} <{e}>" for n, e in (ADA, BOB, CY))


def test_history_imports_each_content_change_as_a_version(repo: Repo, home: Path) -> None:
    result = ok("ingest", "--git", str(repo.path), "--history")
    assert summary_line(result.stdout) == (
        "imported: 3 tool(s), 6 version(s) added, 0 unchanged, 1 skipped"
    )
    assert "skipped  .editorconfig: invalid tool name" in result.stdout
    o = repo.origin
    assert versions() == [
        ("check", 1, LINT_V1, ADA_, 1, o(1, "lint.py"), "add fmt and lint"),
        ("check", 2, LINT_V2, BOB_, 5, o(5, "check.py"), "check: stricter"),
        ("fmt", 1, b"echo v1\n", ADA_, 1, o(1, "fmt.sh"), "add fmt and lint"),
        ("fmt", 2, b"echo v2\n", BOB_, 2, o(2, "fmt.sh"), "fmt: v2"),
        ("fmt", 3, b"echo v1\n", CY_, 6, o(6, "fmt.sh"), "Revert fmt to v1"),
        ("ship", 1, b"ship v1\n", ADA_, 7, o(7, "bin/ship.sh"), "add ship"),
    ]
    assert js("show", "fmt:1")["executable"] is True
    (entry,) = [e for e in js("audit") if e["action"] == "import"]
    assert entry["details"]["source"] == f"git+{repo.path.resolve()}@{repo.c[7]}"
    assert len(entry["details"]["added"]) == 6
    assert js("verify")["ok"] is True

    before = dump(home)
    again = ok("ingest", "--git", str(repo.path), "--history")
    assert summary_line(again.stdout) == (
        "imported: 3 tool(s), 0 version(s) added, 6 unchanged, 1 skipped"
    )
    assert dump(home) == before


def test_a_rerun_adds_only_new_commits(repo: Repo) -> None:
    ok("ingest", "--git", str(repo.path))  # the tools as they are now: one version each
    assert [v[:3] for v in versions()] == [
        ("check", 1, LINT_V2),
        ("fmt", 1, b"echo v1\n"),
        ("ship", 1, b"ship v1\n"),
    ]
    history = js("ingest", "--git", str(repo.path), "--history")
    assert history["added"] == []  # older commits do not pile up on top of newer content
    assert [(p["name"], p["version"]) for p in history["unchanged"]] == [
        ("check", 1),
        ("fmt", 1),
        ("ship", 1),
    ]
    older = [s for s in history["skipped"] if s.endswith("a later commit is imported already")]
    assert [s.split(" of ")[0] for s in older] == [
        f"lint.py at commit {repo.c[1][:12]}",
        f"fmt.sh at commit {repo.c[1][:12]}",
        f"fmt.sh at commit {repo.c[2][:12]}",
    ]
    put(repo.path, "fmt.sh", b"echo v3\n", 0o755)
    c8 = commit(repo.path, "fmt: v3", BOB, 8)
    newer = js("ingest", "--git", str(repo.path), "--history")
    assert [(p["name"], p["version"]) for p in newer["added"]] == [("fmt", 2)]
    assert js("show", "fmt:2")["origin"] == f"git+{repo.path.resolve()}@{c8}:fmt.sh"
    assert ok("cat", "fmt").stdout == "echo v3\n"


def test_rev_and_path_choose_what_is_imported(repo: Repo, tmp_path: Path) -> None:
    o = repo.origin
    ok("ingest", "--git", str(repo.path), "--rev", repo.c[5], "--history")
    assert versions() == [
        ("check", 1, LINT_V1, ADA_, 1, o(1, "lint.py"), "add fmt and lint"),
        ("check", 2, LINT_V2, BOB_, 5, o(5, "check.py"), "check: stricter"),
        ("fmt", 1, b"echo v1\n", ADA_, 1, o(1, "fmt.sh"), "add fmt and lint"),
        ("fmt", 2, b"echo v2\n", BOB_, 2, o(2, "fmt.sh"), "fmt: v2"),
    ]
    other = tmp_path / "other"
    ok(*at(other, "ingest", "--git", str(repo.path), "--rev", "main~3"))
    assert versions(other) == [
        ("check", 1, LINT_V1, ADA_, 1, o(1, "lint.py"), "add fmt and lint"),
        ("fmt", 1, b"echo v2\n", BOB_, 2, o(2, "fmt.sh"), "fmt: v2"),
    ]
    third = tmp_path / "third"
    ok(*at(third, "ingest", "--git", str(repo.path), "--path", "bin", "--history"))
    assert versions(third) == [("ship", 1, b"ship v1\n", ADA_, 7, o(7, "bin/ship.sh"), "add ship")]
    refused(
        ["ingest", "--git", str(repo.path), "--rev", "v9"], 1, "has no commit 'v9'", tmp_path / "x"
    )
    refused(["ingest", "--git", str(repo.path), "--path", "lib"], 1, "has no folder 'lib'", third)


def test_missing_git_is_a_clear_error(
    repo: Repo, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok("init")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    refused(["ingest", "--git", str(repo.path)], 1, "git is not installed; install it", home)


def test_a_git_url_outside_the_allow_list_is_refused(repo: Repo, home: Path) -> None:
    ok("init")
    (home / "config.toml").write_text('[sources]\nallow = ["https://github.com/acme/"]\n')
    refused(["ingest", "--git", str(repo.path)], 1, "is not an allowed source", home)
    refused(
        ["ingest", "--git", "https://gitlab.com/evil/tools.git"],
        1,
        "https://gitlab.com/evil/tools.git is not an allowed source",
        home,
    )


# -- progress --------------------------------------------------------------------------------


def on_terminal(args: list[str], home: Path) -> tuple[int, str, str]:
    """Run toolvault with stderr on a pseudo-terminal; (exit code, stdout, terminal text)."""
    main, sub = pty.openpty()
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    proc = subprocess.Popen(
        [*TOOLVAULT, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=sub, env=env
    )
    os.close(sub)
    seen = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        seen.append(chunk)
    os.close(main)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=60), out, b"".join(seen).decode()


@pytest.fixture
def big_pack(tmp_path: Path) -> Path:
    """A pack of 4 tools and 8 versions."""
    for name in ("a", "b", "c", "d"):
        publish(tmp_path, name, f"echo {name} 1\n")
        publish(tmp_path, name, f"echo {name} 2\n")
    pack = tmp_path / "big.tar.gz"
    ok("pack", "export", "--all", "-o", str(pack), "--pack-name", "big")
    return pack


def test_a_progress_bar_only_on_a_terminal(big_pack: Path, tmp_path: Path) -> None:
    code, out, terminal = on_terminal(["ingest", str(big_pack)], tmp_path / "tty")
    assert code == 0, terminal
    assert "importing" in terminal and "100%" in terminal
    assert summary_line(out) == (
        "imported from pack big@1: 4 tool(s), 8 version(s) added, 0 unchanged, 0 skipped"
    )
    code, out, terminal = on_terminal(["ingest", str(big_pack), "--json"], tmp_path / "json")
    assert code == 0, terminal
    assert json.loads(out)["tools"] == 4
    assert "importing" not in terminal and "%" not in terminal
    assert terminal.splitlines() == [
        "toolvault: note: no [sources] allow list in config.toml: every source is allowed",
        f"toolvault: warning: pack big@1 from file://{big_pack.resolve()} is not signed",
    ]
    env = {**os.environ, "TOOLVAULT_HOME": str(tmp_path / "piped")}
    piped = subprocess.run(
        [*TOOLVAULT, "ingest", str(big_pack)], capture_output=True, env=env, timeout=60
    )
    assert piped.returncode == 0
    assert b"importing" not in piped.stderr and b"%" not in piped.stderr
    assert piped.stderr.decode().splitlines() == [
        "toolvault: note: no [sources] allow list in config.toml: every source is allowed",
        f"toolvault: warning: pack big@1 from file://{big_pack.resolve()} is not signed",
    ]


def test_a_history_import_shows_progress_on_a_terminal(repo: Repo, tmp_path: Path) -> None:
    code, out, terminal = on_terminal(
        ["ingest", "--git", str(repo.path), "--history"], tmp_path / "tty"
    )
    assert code == 0, terminal
    assert "importing" in terminal and "100%" in terminal
    assert "6 version(s) added" in summary_line(out)
    result = tv("ingest", "--git", str(repo.path), "--history", "--json")  # not a terminal
    assert "importing" not in result.stderr
