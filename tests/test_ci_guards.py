"""Tests that skip where a part is missing skip nowhere under CI=true: there they fail,
so that a CI run never passes with a check quietly left out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def pytest_in(project: Path, test: str, ci: bool, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on a copy of one of these test files in a project of its own."""
    (project / "tests").mkdir(parents=True, exist_ok=True)
    shutil.copy2(TESTS / test, project / "tests" / test)
    environ = dict(os.environ)
    environ.pop("CI", None)
    if ci:
        environ["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"tests/{test}", *args],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_pre_commit_test_fails_under_ci_outside_a_git_checkout(tmp_path: Path) -> None:
    project = tmp_path / "tarball"  # a project with no .git, as from a source tarball
    only = ("-k", "sample_config")
    skipped = pytest_in(project, "test_precommit.py", False, *only)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    failed = pytest_in(project, "test_precommit.py", True, *only)
    assert failed.returncode == 1, failed.stdout
    assert "CI needs a git checkout" in failed.stdout


def test_the_openapi_test_fails_under_ci_without_schemathesis(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    # As if it were not installed: importing it fails (its pytest plugin is loaded already).
    (project / "tests" / "conftest.py").write_text(
        "import sys\nsys.modules['schemathesis'] = None\n"
    )
    skipped = pytest_in(project, "test_openapi.py", False)
    # A module skipped whole leaves no test collected: pytest's exit code 5, no failure.
    assert skipped.returncode == 5 and "1 skipped" in skipped.stdout, skipped.stdout
    failed = pytest_in(project, "test_openapi.py", True)
    assert failed.returncode != 0, failed.stdout
    assert "CI needs schemathesis" in failed.stdout


def test_the_browser_tests_fail_under_ci_without_a_browser(tmp_path: Path) -> None:
    project = tmp_path / "project"
    only = ("-k", "keyboard", "-p", "no:randomly")
    os.environ["TOOLVAULT_TEST_CHROMIUM"] = str(tmp_path / "no-chromium")
    try:
        skipped = pytest_in(project, "test_web_browser.py", False, *only)
        failed = pytest_in(project, "test_web_browser.py", True, *only)
    finally:
        del os.environ["TOOLVAULT_TEST_CHROMIUM"]
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    assert failed.returncode == 1, failed.stdout
    assert "CI needs the browser tests: no chromium at" in failed.stdout
