"""Tools from a real git repository made by the test, with and without history."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from toolvault.errors import InvalidInput, NotFound, SourceError
from toolvault.sources import git as gitsource
from toolvault.sources.git import GitImport, git_versions, public_url

ADA = ("Ada Lovelace", "ada@example.org")
BOB = ("Bob Stone", "bob@example.org")
CY = ("Cy Young", "cy@example.org")
LINT_V1 = b"print('lint: a first version, quite long')\n"  # over 20 bytes, see max_size
LINT_V2 = b"print(2)\n"
COMMANDS = {"clone", "rev-parse", "ls-tree", "log", "cat-file"}


def git(repo: Path, *args: str, who: tuple[str, str] = ADA, day: int = 1) -> str:
    """Run git in ``repo`` as ``who`` on day ``day`` of 2024 (at noon, UTC+2)."""
    date = f"2024-01-{day:02d}T12:00:00+02:00"
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    name, email = who
    proc = subprocess.run(
        ["git", "-c", f"user.name={name}", "-c", f"user.email={email}", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return proc.stdout.decode().strip()


def commit(repo: Path, message: str, who: tuple[str, str], day: int) -> str:
    git(repo, "add", "-A", who=who, day=day)
    git(repo, "commit", "-q", "-m", message, who=who, day=day)
    return git(repo, "rev-parse", "HEAD")


def write(repo: Path, path: str, data: bytes, mode: int = 0o644) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(mode)


@dataclass(frozen=True)
class Repo:
    path: Path
    c: dict[int, str]  # commit number -> sha

    @property
    def url(self) -> str:
        return str(self.path)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A repository whose history exercises every rule of --history."""
    path = tmp_path_factory.mktemp("git") / "tools repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    c: dict[int, str] = {}
    write(path, "fmt.sh", b"echo v1\n")
    write(path, "lint.py", LINT_V1)
    write(path, "logo.png", b"\x89PNG\r\n\x1a\n\0\0")
    c[1] = commit(path, "add fmt and lint", ADA, 1)
    write(path, "fmt.sh", b"echo v2\n")
    c[2] = commit(path, "fmt: v2", BOB, 2)
    write(path, ".editorconfig", b"root = true\n")
    c[3] = commit(path, "editor settings", ADA, 3)  # touches no tool
    git(path, "mv", "lint.py", "check.py")
    c[4] = commit(path, "rename lint to check", CY, 4)  # same content: no version
    write(path, "check.py", LINT_V2)
    c[5] = commit(path, "check: stricter", BOB, 5)
    (path / "fmt.sh").chmod(0o755)
    c[6] = commit(path, "fmt: executable", ADA, 6)  # mode only: no version
    write(path, "fmt.sh", b"echo v1\n", 0o755)
    c[7] = commit(path, "Revert fmt to v1", CY, 7)  # older content: a version
    write(path, "my tools/ship.sh", b"ship v1\n", 0o755)
    (path / "my tools" / "link.sh").symlink_to("ship.sh")
    c[8] = commit(path, "add ship", ADA, 8)
    write(path, "my tools/ship.sh", b"ship v2\n", 0o755)
    write(path, "fmt.sh", b"echo v3\n", 0o755)
    c[9] = commit(path, "ship v2, fmt v3", BOB, 9)
    return Repo(path, c)


def summary(found: GitImport) -> list[tuple[Any, ...]]:
    """Each version as (name, content, executable, commit number, path, author, day, message)."""
    out = []
    for v in found.versions:
        assert v.origin is not None and v.origin.startswith("git+")
        sha, path = v.origin.rsplit("@", 1)[1].split(":", 1)
        assert v.created_at is not None and v.created_at.endswith("T10:00:00.000000Z")
        day = int(v.created_at[8:10])
        author = (v.created_by or "").split(" <")[0]
        out.append((v.name, v.content, v.executable, sha, path, author, day, v.message))
    return out


def test_history_gives_one_version_per_content_change(repo: Repo) -> None:
    found = git_versions(repo.url, history=True)
    c = repo.c
    assert found.commit == c[9]
    assert summary(found) == [
        ("check", LINT_V1, False, c[1], "lint.py", "Ada Lovelace", 1, "add fmt and lint"),
        ("check", LINT_V2, False, c[5], "check.py", "Bob Stone", 5, "check: stricter"),
        ("fmt", b"echo v1\n", False, c[1], "fmt.sh", "Ada Lovelace", 1, "add fmt and lint"),
        # made executable by the mode-only commit 6, which adds no version of its own
        ("fmt", b"echo v2\n", True, c[2], "fmt.sh", "Bob Stone", 2, "fmt: v2"),
        ("fmt", b"echo v1\n", True, c[7], "fmt.sh", "Cy Young", 7, "Revert fmt to v1"),
        ("fmt", b"echo v3\n", True, c[9], "fmt.sh", "Bob Stone", 9, "ship v2, fmt v3"),
        ("ship", b"ship v1\n", True, c[8], "my tools/ship.sh", "Ada Lovelace", 8, "add ship"),
        ("ship", b"ship v2\n", True, c[9], "my tools/ship.sh", "Bob Stone", 9, "ship v2, fmt v3"),
    ]


def test_versions_carry_exact_provenance(repo: Repo) -> None:
    first = git_versions(repo.url, history=True).versions[0]
    assert first.origin == f"git+{repo.url}@{repo.c[1]}:lint.py"
    assert first.created_by == "Ada Lovelace <ada@example.org>"
    assert first.created_at == "2024-01-01T10:00:00.000000Z"  # the author date, in UTC


def test_skipped_files_say_why(repo: Repo) -> None:
    skipped = git_versions(repo.url).skipped
    assert len(skipped) == 3
    assert skipped[0].startswith(".editorconfig: invalid tool name '.editorconfig'")
    assert skipped[1] == "logo.png: not UTF-8 text (tools are text files)"
    assert skipped[2] == "my tools/link.sh: a symbolic link"


def test_without_history_the_latest_content_of_each_tool(repo: Repo) -> None:
    c = repo.c
    assert summary(git_versions(repo.url)) == [
        ("check", LINT_V2, False, c[5], "check.py", "Bob Stone", 5, "check: stricter"),
        ("fmt", b"echo v3\n", True, c[9], "fmt.sh", "Bob Stone", 9, "ship v2, fmt v3"),
        ("ship", b"ship v2\n", True, c[9], "my tools/ship.sh", "Bob Stone", 9, "ship v2, fmt v3"),
    ]


def test_rev_takes_the_tools_as_they_were(repo: Repo) -> None:
    c = repo.c
    found = git_versions(repo.url, rev=c[5])
    assert found.commit == c[5]
    assert summary(found) == [
        ("check", LINT_V2, False, c[5], "check.py", "Bob Stone", 5, "check: stricter"),
        ("fmt", b"echo v2\n", False, c[2], "fmt.sh", "Bob Stone", 2, "fmt: v2"),
    ]
    older = git_versions(repo.url, rev=c[5][:10], history=True)
    assert [(v.name, v.content) for v in older.versions] == [
        ("check", LINT_V1),
        ("check", LINT_V2),
        ("fmt", b"echo v1\n"),
        ("fmt", b"echo v2\n"),
    ]
    assert git_versions(repo.url, rev="main~8").commit == c[1]


def test_path_limits_the_tools_to_a_folder(repo: Repo) -> None:
    c = repo.c
    for path in ("my tools", "./my tools/"):
        found = git_versions(repo.url, path=path, history=True)
        assert [(v.name, v.content, v.origin) for v in found.versions] == [
            ("ship", b"ship v1\n", f"git+{repo.url}@{c[8]}:my tools/ship.sh"),
            ("ship", b"ship v2\n", f"git+{repo.url}@{c[9]}:my tools/ship.sh"),
        ]
        assert found.skipped == ["my tools/link.sh: a symbolic link"]


def test_a_missing_folder_or_commit_is_not_found(repo: Repo) -> None:
    with pytest.raises(NotFound, match="has no folder 'tools' at commit"):
        git_versions(repo.url, path="tools")
    with pytest.raises(NotFound, match=re.escape("has no folder 'fmt.sh'")):
        git_versions(repo.url, path="fmt.sh")
    with pytest.raises(
        NotFound, match=re.escape("has no commit 'v9.9'; give a branch, tag or commit")
    ):
        git_versions(repo.url, rev="v9.9")
    with pytest.raises(NotFound, match="has no commit '--output=x'"):
        git_versions(repo.url, rev="--output=x")


def test_path_may_not_climb_out(repo: Repo) -> None:
    with pytest.raises(InvalidInput, match=re.escape("--path '../x' has a '..' component")):
        git_versions(repo.url, path="../x")


def test_files_over_max_size_are_refused_with_file_and_commit(repo: Repo) -> None:
    assert len(git_versions(repo.url, max_size=20).versions) == 3  # the latest are small
    with pytest.raises(InvalidInput) as info:
        git_versions(repo.url, max_size=20, history=True)
    assert f"lint.py at commit {repo.c[1][:12]} is {len(LINT_V1)} bytes" in str(info.value)
    with pytest.raises(InvalidInput, match=f"check.py at commit {repo.c[9][:12]} is 9 bytes"):
        git_versions(repo.url, max_size=8)


def test_two_files_with_one_tool_name_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    write(path, "fmt.sh", b"echo sh\n")
    write(path, "lib/fmt.py", b"print('py')\n")
    commit(path, "two fmts", ADA, 1)
    with pytest.raises(
        InvalidInput, match=re.escape("fmt.sh and lib/fmt.py would both be tool 'fmt'")
    ):
        git_versions(str(path))
    assert [v.content for v in git_versions(str(path), path="lib").versions] == [b"print('py')\n"]


def test_merges_count_once_on_the_first_parent_chain(tmp_path: Path) -> None:
    path = tmp_path / "merged"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    write(path, "fmt.sh", b"echo 1\n")
    commit(path, "one", ADA, 1)
    git(path, "checkout", "-q", "-b", "side")
    write(path, "fmt.sh", b"echo 2 (side)\n")
    commit(path, "side two", BOB, 2)
    write(path, "fmt.sh", b"echo 3 (side)\n")
    commit(path, "side three", BOB, 3)
    git(path, "checkout", "-q", "main")
    write(path, "other.sh", b"echo other\n")
    commit(path, "other", CY, 4)
    git(path, "merge", "-q", "--no-ff", "-m", "merge side", "side", who=CY, day=5)
    merge = git(path, "rev-parse", "HEAD")
    found = git_versions(str(path), history=True)
    fmt = [v for v in found.versions if v.name == "fmt"]
    assert [(v.content, v.message) for v in fmt] == [
        (b"echo 1\n", "one"),
        (b"echo 3 (side)\n", "merge side"),
    ]
    assert fmt[-1].origin == f"git+{path}@{merge}:fmt.sh"


def test_a_file_url_and_a_deleted_then_restored_file(tmp_path: Path) -> None:
    path = tmp_path / "restored"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    write(path, "fmt.sh", b"echo 1\n")
    commit(path, "one", ADA, 1)
    (path / "fmt.sh").unlink()
    commit(path, "drop fmt", ADA, 2)
    write(path, "fmt.sh", b"echo 2\n")
    commit(path, "bring fmt back", ADA, 3)
    found = git_versions(path.as_uri(), history=True)
    assert [v.content for v in found.versions] == [b"echo 1\n", b"echo 2\n"]
    assert found.versions[0].origin is not None
    assert found.versions[0].origin.startswith(f"git+{path.as_uri()}@")


def test_a_long_history_uses_a_fixed_number_of_git_processes(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    popen = subprocess.Popen

    def counting_popen(args: list[str], **kwargs: Any) -> Any:
        calls.append(next(a for a in args if a in COMMANDS))
        return popen(args, **kwargs)

    monkeypatch.setattr(gitsource.subprocess, "Popen", counting_popen)
    assert len(git_versions(repo.url, history=True).versions) == 8
    assert calls == ["clone", "rev-parse", "cat-file", "ls-tree", "log"]


def test_a_repository_that_does_not_exist_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"git clone of .*nowhere failed: fatal: "):
        git_versions(str(tmp_path / "nowhere"))


def test_missing_git_is_a_clear_source_error(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(SourceError) as info:
        git_versions(repo.url)
    assert str(info.value) == "git is not installed; install it (apt-get install git) to use --git"
    assert info.value.exit_code == 1


def test_public_url_hides_credentials() -> None:
    assert public_url("https://user:tok@github.com/a/b.git") == "https://github.com/a/b.git"
    assert public_url("https://github.com/a/b.git") == "https://github.com/a/b.git"
    assert public_url("git@github.com:a/b.git") == "git@github.com:a/b.git"
    assert public_url("/srv/repos/tools") == "/srv/repos/tools"


def test_an_empty_repository_has_nothing_to_import(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    with pytest.raises(NotFound, match="has no commits yet"):
        git_versions(str(path))


def test_ext_urls_cannot_run_commands(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(SourceError, match="transport 'ext' not allowed"):
        git_versions(f"ext::sh -c touch% {marker}")
    assert not marker.exists()


def test_help_and_readme_say_history_is_first_parent_and_links_are_skipped() -> None:
    from click.testing import CliRunner

    from toolvault.cli import cli

    shown = " ".join(CliRunner().invoke(cli, ["ingest", "--help"]).stdout.split())
    assert "first-parent chain" in shown and "Symbolic links" in shown
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert "`--history` follows the first-parent chain" in readme
    assert "Symbolic links, submodules, binary files" in readme
