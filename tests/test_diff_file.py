"""``diff SPEC FILE|-`` (SPEC §11, issue 14): a version against content not published,
from a file or standard input, text and ``--json``, locally and through the daemon;
``Vault.diff_content`` and ``POST /v1/diff``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_cli import assert_one_line_error, dump, js, ok, tv, write
from test_server import Daemon, make_token
from toolvault import Vault
from toolvault.errors import InvalidInput, NotFound, TooLarge

OLD = "#!/bin/sh\necho one\n"
NEW = "#!/bin/sh\necho one\necho two\n"
DIFF = "--- fmt:1\n+++ {file}\n@@ -1,2 +1,3 @@\n #!/bin/sh\n echo one\n+echo two\n"


@pytest.fixture
def local(home: Path) -> Iterator[Vault]:
    with Vault.open(home) as opened:
        opened.publish("fmt", OLD)
        yield opened


def test_the_library_diffs_text_and_bytes_on_both_stores(vault: Vault) -> None:
    vault.publish("fmt", OLD)
    d = vault.diff_content("fmt", NEW, file="fmt.sh")
    assert "".join(d.lines) == DIFF.format(file="fmt.sh")
    data = d.to_dict()
    assert (data["old"], data["new"], data["new_version"]) == (vault.get("fmt").ref, None, None)
    assert (data["file"], data["added"], data["removed"], data["size"]) == (
        "fmt.sh",
        1,
        0,
        len(NEW),
    )
    assert data["old_version"]["name"] == "fmt"
    assert (
        vault.diff_content("fmt:1", NEW.encode())
        .to_dict()["diff"]
        .startswith("--- fmt:1\n+++ unpublished\n")
    )
    assert vault.diff_content("fmt", OLD).lines == ()
    with pytest.raises(InvalidInput, match="NUL byte at offset 3"):
        vault.diff_content("fmt", b"abc\0def")
    with pytest.raises(InvalidInput, match="not UTF-8 text: invalid byte at offset 1"):
        vault.diff_content("fmt", b"a\xff")
    with pytest.raises(InvalidInput, match="content must be the tool's text"):
        vault.diff_content("fmt", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="file must name where"):
        vault.diff_content("fmt", NEW, file="two\nlines")
    with pytest.raises(NotFound):
        vault.diff_content("fmt:9", NEW)


def test_diff_against_a_file_text_and_json(local: Vault, tmp_path: Path) -> None:
    src = write(tmp_path / "fmt.sh", NEW)
    os.chdir(tmp_path)
    assert ok("diff", "fmt", "fmt.sh").stdout == DIFF.format(file="fmt.sh")
    assert ok("diff", "fmt:1", str(src)).stdout == DIFF.format(file=str(src))
    data = js("diff", "fmt", "./fmt.sh")
    assert (data["old"], data["new"], data["file"]) == (local.get("fmt").ref, None, "./fmt.sh")
    assert data["new_version"] is None and data["old_version"]["version"] == 1
    assert data == local.diff_content("fmt", NEW, file="./fmt.sh").to_dict()
    stat = ok("diff", "fmt", "fmt.sh", "--stat").stdout
    assert stat == "fmt:1 -> fmt.sh (unpublished): 1 insertion(s)(+), 0 deletion(s)(-)\n"
    assert ok("diff", "fmt", "fmt.sh", "-U", "0").stdout.count("echo one") == 0


def test_diff_against_standard_input(local: Vault) -> None:
    result = ok("diff", "fmt", "-", input=NEW)
    assert result.stdout == DIFF.format(file="<stdin>")
    data = json.loads(ok("diff", "fmt", "-", "--json", input=NEW).stdout)
    assert (data["file"], data["added"]) == ("<stdin>", 1)


def test_a_name_that_is_a_file_and_a_version_is_refused(local: Vault, tmp_path: Path) -> None:
    local.publish("other", "echo other\n")
    os.chdir(tmp_path)
    write(tmp_path / "other", NEW)
    result = tv("diff", "fmt", "other")
    assert result.exit_code == 2
    assert_one_line_error(result, "'other' is both a file here and a version in the vault")
    assert "./other" in result.stderr and "/tools/other" in result.stderr
    assert ok("diff", "fmt", "./other").stdout == DIFF.format(file="./other")
    assert ok("diff", "fmt", "/tools/other").stdout.startswith("--- fmt:1\n+++ other:1\n")
    # a file named like no version is that file; a spec that is no file is a version
    write(tmp_path / "fmt.py", NEW)
    assert ok("diff", "fmt", "fmt.py").stdout == DIFF.format(file="fmt.py")
    assert ok("diff", "fmt:1", "other:1").stdout.startswith("--- fmt:1\n+++ other:1\n")


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: "./missing.sh", "no such file: ./missing.sh"),
        (lambda d: str(d / "missing.sh"), "missing.sh (nor is it a version spec"),
        (lambda d: (d / "folder").mkdir() or str(d / "folder"), "is a folder; diff takes one file"),
        (lambda d: write(d / "b.bin", "ab\0c").name, "b.bin is not text: NUL byte at offset 2"),
        (lambda d: (d / "l.sh").write_bytes(b"\xfe\xff") and "./l.sh", "not UTF-8 text"),
        (
            lambda d: os.symlink(d / "nowhere", d / "dead") or "./dead",
            "./dead is a link to nothing",
        ),
        (lambda d: os.mkfifo(d / "pipe") or "./pipe", "is a FIFO"),
    ],
)
def test_a_file_that_cannot_be_diffed_is_one_line_and_exit_2(
    local: Vault, tmp_path: Path, home: Path, make: object, words: str
) -> None:
    os.chdir(tmp_path)
    arg = make(tmp_path)  # type: ignore[operator]
    before = dump(home)
    result = tv("diff", "fmt", arg)
    assert result.exit_code == 2, result.output
    assert_one_line_error(result, words)
    assert dump(home) == before


def test_binary_or_oversized_standard_input_is_refused(local: Vault, home: Path) -> None:
    result = tv("diff", "fmt", "-", input=b"\x00\x01")
    assert result.exit_code == 2
    assert_one_line_error(result, "<stdin> is not text: NUL byte at offset 0")
    (home / "config.toml").write_text("max_tool_size = 10\n")
    result = tv("diff", "fmt", "-", input=NEW)
    assert result.exit_code == 2
    assert_one_line_error(result, "standard input holds more than 10 bytes")
    with Vault.open(home) as again, pytest.raises(TooLarge, match="the limit is 10"):
        again.diff_content("fmt", NEW)


def test_the_fast_path_hands_a_file_to_the_full_command(local: Vault, tmp_path: Path) -> None:
    """``diff fmt fmt`` with a file named fmt here is refused, not taken for fmt:latest."""
    write(tmp_path / "fmt", NEW)
    write(tmp_path / "new.sh", NEW)
    env = {**os.environ, "TOOLVAULT_HOME": str(local.home)}
    run = [sys.executable, "-m", "toolvault", "diff", "fmt"]
    done = subprocess.run(
        [*run, "new.sh", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["file"] == "new.sh"
    done = subprocess.run(
        [*run, "fmt", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 2 and "both a file here and a version" in done.stderr


def test_diff_against_a_file_through_the_daemon(
    local: Vault, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_token(home, "alice")
    daemon = Daemon(home)
    try:
        src = write(tmp_path / "new.sh", NEW)
        want = local.diff_content("fmt", NEW, file=str(src)).to_dict()
        monkeypatch.setenv("TOOLVAULT_URL", daemon.url)
        monkeypatch.setenv("TOOLVAULT_TOKEN", token)
        assert js("diff", "fmt", str(src)) == want
        assert ok("diff", "fmt", "-", input=NEW).stdout == DIFF.format(file="<stdin>")
        result = tv("diff", "fmt", "-", input=b"a\0b")
        assert result.exit_code == 2
        assert_one_line_error(result, "NUL byte at offset 1")
        body = {"old": "fmt", "content": NEW, "file": "x.sh"}
        response = daemon.call("POST", "/v1/diff", token, json=body)
        assert response.status_code == 200
        assert response.json()["diff"] == DIFF.format(file="x.sh")
        for bad, status, code in (
            ({**body, "content": "a\0b"}, 400, "invalid_input"),
            ({**body, "old": "fmt:7"}, 404, "not_found"),
            ({**body, "old": "bad name"}, 400, "invalid_spec"),
            ({**body, "context": -1}, 400, "invalid_input"),
            ({"old": "fmt"}, 400, "invalid_input"),
        ):
            response = daemon.call("POST", "/v1/diff", token, json=bad)
            assert response.status_code == status, (bad, response.text)
            assert response.json()["error"]["code"] == code
        assert daemon.call("POST", "/v1/diff", None, json=body).status_code == 401
    finally:
        daemon.stop()
