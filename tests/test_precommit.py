"""The pre-commit hook runs toolvault verify on the vault its args name."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def hook(hook_id: str = "toolvault-verify") -> dict[str, str]:
    """One hook of .pre-commit-hooks.yaml, read as the flat YAML it is."""
    hooks: list[dict[str, str]] = []
    for line in (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        if line.startswith("- "):
            hooks.append({})
        if line.startswith(("- ", "  ")) and ":" in line:
            key, _, value = line.strip(" -").partition(":")
            hooks[-1][key.strip()] = value.strip()
    return next(h for h in hooks if h["id"] == hook_id)


def run_hook(
    args: list[str], hook_id: str = "toolvault-verify", cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    entry = shlex.split(hook(hook_id)["entry"])
    assert entry[0] == "toolvault"
    argv = [sys.executable, "-m", "toolvault", *entry[1:], *args]
    return subprocess.run(argv, capture_output=True, timeout=120, cwd=cwd)


def test_the_hook_is_declared_as_documented() -> None:
    fields = hook()
    assert fields["id"] == "toolvault-verify"
    assert fields["entry"] == "toolvault verify"
    assert fields["language"] == "python"
    assert fields["pass_filenames"] == "false"
    assert "toolvault-verify" in (ROOT / "README.md").read_text()


def make_vault(vault: Path, tmp_path: Path) -> None:
    """A vault with one tool, made by the CLI."""
    src = tmp_path / "fmt.sh"
    src.write_text("#!/bin/sh\necho fmt\n")
    added = subprocess.run(
        [sys.executable, "-m", "toolvault", "--home", str(vault), "add", str(src)],
        capture_output=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr


def forge(vault: Path) -> None:
    """Change a version's prompt behind the triggers' back."""
    db = sqlite3.connect(vault / "vault.db")
    db.execute("DROP TRIGGER versions_immutable_update")
    db.execute("UPDATE versions SET prompt = 'forged'")
    db.commit()
    db.close()


def test_the_hook_passes_a_sound_vault_and_fails_a_tampered_one(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    make_vault(vault, tmp_path)
    sound = run_hook(["--home", str(vault)])
    assert sound.returncode == 0 and b"verify ok" in sound.stdout
    forge(vault)
    tampered = run_hook(["--home", str(vault)])
    assert tampered.returncode == 1 and b"tampered" in tampered.stdout


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def sample_config(marker: str = "# .pre-commit-config.yaml") -> str:
    """The README's sample .pre-commit-config.yaml, exactly as documented."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index(marker)
    return readme[start : readme.index("```", start)]


def hooks_repository(tmp_path: Path) -> tuple[Path, str]:
    """This checkout's files as they are, committed in a repository of their own (what
    pre-commit clones), and that commit."""
    if not (ROOT / ".git").exists():
        # Skipped on a source tarball, never in CI (which runs on a clone): there a skip
        # would hide that the hook was never tried.
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs a git checkout: pre-commit installs the hook by cloning it")
        pytest.skip("the project is not a git checkout, so pre-commit cannot clone it")
    hooks_repo = tmp_path / "toolvault"
    # A repository of its own: in a git worktree .git is a file naming the real one, and
    # a copy of it would commit into the checkout under test.
    ignore = shutil.ignore_patterns(".git", ".venv", ".pg-state*")
    shutil.copytree(ROOT, hooks_repo, ignore=ignore)
    git(hooks_repo, "init", "-q")
    git(hooks_repo, "add", "-A")
    git(hooks_repo, "commit", "-q", "--allow-empty", "-m", "hooks under test")
    return hooks_repo, git(hooks_repo, "rev-parse", "HEAD")


def pre_commit(work: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``pre-commit run --all-files`` in ``work``, its hook environments under tmp_path."""
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    env.pop("TOOLVAULT_HOME", None)
    argv = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    return subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)


def test_pre_commit_runs_the_hook_from_the_sample_config(tmp_path: Path) -> None:
    """The real pre-commit, installing the hook from this repository the way a user's
    repository would, passes on a sound vault and fails on a tampered one."""
    hooks_repo, rev = hooks_repository(tmp_path)

    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    vault = work / "vault"
    make_vault(vault, tmp_path)
    config = sample_config()
    assert "repo: https://example.org/toolvault" in config and "rev: v0.1.0" in config
    config = config.replace("https://example.org/toolvault", str(hooks_repo))
    (work / ".pre-commit-config.yaml").write_text(config.replace("v0.1.0", rev))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "a repository that keeps a vault")

    sound = pre_commit(work, tmp_path)
    assert sound.returncode == 0, sound.stdout + sound.stderr
    assert "toolvault verify" in sound.stdout and "Passed" in sound.stdout

    forge(vault)
    tampered = pre_commit(work, tmp_path)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert "Failed" in tampered.stdout and "tampered" in tampered.stdout


LOCK_MARKER = "# .pre-commit-config.yaml of a project with a toolvault.lock"


def test_the_lock_hook_is_declared_as_documented() -> None:
    fields = hook("toolvault-lock")
    assert fields["entry"] == "toolvault verify --lock toolvault.lock"
    assert fields["language"] == "python" and fields["pass_filenames"] == "false"
    assert LOCK_MARKER in (ROOT / "README.md").read_text()


def make_locked_project(work: Path, tmp_path: Path) -> None:
    """A vault in work/vault, work/toolvault.lock pinning its fmt, fmt installed in
    work/tools: all made by the CLI."""
    make_vault(work / "vault", tmp_path)
    tv = [sys.executable, "-m", "toolvault", "--home", str(work / "vault")]
    for args in (["lock", "fmt"], ["install", "--lock", "toolvault.lock", "--into", "tools"]):
        done = subprocess.run([*tv, *args], cwd=work, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_the_lock_hook_passes_a_sound_project_and_fails_a_drifted_one(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    make_locked_project(work, tmp_path)
    args = ["--home", str(work / "vault"), "--into", "tools"]
    sound = run_hook(args, "toolvault-lock", cwd=work)
    assert sound.returncode == 0 and b"ok" in sound.stdout, sound.stderr
    (work / "tools" / "fmt").write_text("#!/bin/sh\necho drifted\n")
    drifted = run_hook(args, "toolvault-lock", cwd=work)
    assert drifted.returncode == 1 and b"tools/fmt" in drifted.stdout


def test_pre_commit_runs_the_lock_hook_as_the_readme_shows(tmp_path: Path) -> None:
    """The real pre-commit runs toolvault-lock as the README shows: a sound project
    passes; an installed tool edited by hand, or a pin edited in the lock, fails."""
    hooks_repo, rev = hooks_repository(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    make_locked_project(work, tmp_path)
    config = sample_config(LOCK_MARKER)
    assert "id: toolvault-lock" in config and "rev: v0.1.0" in config
    config = config.replace("https://example.org/toolvault", str(hooks_repo))
    (work / ".pre-commit-config.yaml").write_text(config.replace("v0.1.0", rev))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "a project that locks its tools")

    sound = pre_commit(work, tmp_path)
    assert sound.returncode == 0, sound.stdout + sound.stderr
    assert "toolvault verify --lock" in sound.stdout and "Passed" in sound.stdout

    installed = work / "tools" / "fmt"
    installed.write_text(installed.read_text().replace("echo fmt", "echo FMT"))
    drifted = pre_commit(work, tmp_path)
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "Failed" in drifted.stdout and "tools/fmt differs from fmt:1@" in drifted.stdout

    installed.write_text("#!/bin/sh\necho fmt\n")  # put right again: passes
    assert pre_commit(work, tmp_path).returncode == 0
    lock = work / "toolvault.lock"
    lock.write_text(lock.read_text().replace("size = ", "size = 1"))  # a pin edited by hand
    edited = pre_commit(work, tmp_path)
    assert edited.returncode == 1 and "does not match its pins" in edited.stdout
