"""The tests leave the checkout as they found it: no vault in the working tree, and
``make test`` (scripts/test.sh) fails, naming them, on files a run leaves behind."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Made by the tools themselves, and ignored by .gitignore.
NOT_OURS = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}


def needs_git() -> None:
    if shutil.which("git") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs git: scripts/test.sh checks the tree with it")
        pytest.skip("git is not installed")


def test_no_vault_is_kept_in_the_checkout() -> None:
    found = []
    for top, folders, files in os.walk(ROOT):
        if Path(top) == ROOT:  # the tools' own folders hold no vault of ours
            folders[:] = [f for f in folders if f not in NOT_OURS]
        found += [Path(top, f).relative_to(ROOT) for f in files if f.startswith("vault.db")]
    assert found == []


def test_gitignore_covers_what_the_tools_make() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    for made in (".pytest_cache/", ".mypy_cache/", ".ruff_cache/", ".hypothesis/", ".venv/"):
        assert made in ignored


def git(cwd: Path, *args: str) -> None:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
        cwd=cwd,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A git checkout holding scripts/test.sh (and web-deps.sh, which it runs), committed
    and clean."""
    needs_git()
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for script in ("test.sh", "web-deps.sh"):
        shutil.copy2(ROOT / "scripts" / script, repo / "scripts" / script)
    shutil.copy2(ROOT / ".gitignore", repo / ".gitignore")
    (repo / "kept.txt").write_text("committed\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a checkout")
    return repo


def run_tests(repo: Path, fake_pytest: str) -> subprocess.CompletedProcess[str]:
    """scripts/test.sh with PYTEST a shell script standing in for pytest."""
    fake = repo.parent / "fake-pytest"
    fake.write_text(f"#!/bin/sh\n{fake_pytest}\n")
    fake.chmod(0o755)
    env = {**os.environ, "PYTEST": str(fake), "TOOLVAULT_TEST_PG": "postgresql://unused"}
    return subprocess.run(
        ["bash", "scripts/test.sh"], cwd=repo, env=env, capture_output=True, text=True, timeout=60
    )


def test_make_test_fails_naming_what_the_tests_left(checkout: Path) -> None:
    done = run_tests(checkout, "mkdir home-d3d2ecb5 && touch home-d3d2ecb5/vault.db kept.txt.new")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the tests left the working tree dirty" in done.stderr
    assert "?? home-d3d2ecb5/" in done.stderr and "?? kept.txt.new" in done.stderr


def test_make_test_passes_a_run_that_leaves_nothing_or_only_ignored_files(
    checkout: Path,
) -> None:
    done = run_tests(checkout, "mkdir -p .pytest_cache .hypothesis && touch .pytest_cache/x")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""


def test_a_developers_own_changes_are_not_blamed_on_the_tests(checkout: Path) -> None:
    (checkout / "kept.txt").write_text("edited, not committed\n")
    (checkout / "draft.py").write_text("")
    assert run_tests(checkout, "true").returncode == 0
    failed = run_tests(checkout, "exit 3")  # pytest's own failure still comes through
    assert failed.returncode == 3 and "dirty" not in failed.stderr
