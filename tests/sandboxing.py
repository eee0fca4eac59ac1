"""What the sandbox tests share: whether bwrap can make a sandbox here, a vault with tools
in it, ``toolvault run`` as a real process, and a fingerprint of the vault's home."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

TOOLVAULT = [sys.executable, "-m", "toolvault.cli"]


@cache
def sandbox_problem() -> str | None:
    """Why bwrap cannot make a sandbox on this machine, or None when it can."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bwrap (bubblewrap) is not installed"
    argv = [bwrap, "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"]
    probe = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        return f"bwrap cannot make namespaces here: {probe.stderr.strip()}"
    return None


def need_sandbox() -> None:
    """Skip, saying how to enable the test, where no sandbox can be made - but fail in CI
    (CI=true), as the PostgreSQL tests do."""
    problem = sandbox_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs the sandbox: {problem}; 'make test' installs bubblewrap")
    pytest.skip(f"no sandbox ({problem}): 'make test' installs it (apt-get install bubblewrap)")


def add(home: Path, src: Path, name: str, text: str, mode: int = 0o644) -> None:
    """Publish ``text`` (a file of ``mode``) as tool ``name`` into the vault at ``home``."""
    src.write_text(text)
    src.chmod(mode)
    tv(home, src.parent, "add", str(src), "--name", name, check=True)


def tv(
    home: Path,
    cwd: Path,
    *args: str,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """``toolvault ARGS`` as a real process in ``cwd``, with the vault at ``home``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    full = {**base, "TOOLVAULT_HOME": str(home), **(env or {})}
    done = subprocess.run(
        [*TOOLVAULT, *args], cwd=cwd, input=input, capture_output=True, env=full, timeout=120
    )
    if check:
        assert done.returncode == 0, done.stderr.decode()
    return done


def fingerprint(home: Path) -> dict[str, str]:
    """Every file under the vault's home with its hash (the database and its WAL, keys,
    config, the commands tree)."""
    found = {}
    for path in sorted(home.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def one_error_line(done: subprocess.CompletedProcess[bytes], *words: str) -> str:
    """The one ``toolvault: error:`` line on stderr, holding each of ``words``."""
    lines = done.stderr.decode().strip().splitlines()
    errors = [line for line in lines if line.startswith("toolvault: error: ")]
    assert len(errors) == 1 and errors == lines[-1:], lines
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]
