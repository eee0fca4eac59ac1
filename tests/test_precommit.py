"""The pre-commit hook runs toolvault verify on the vault its args name."""

from __future__ import annotations

import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def hook() -> dict[str, str]:
    """The one hook of .pre-commit-hooks.yaml, read as the flat YAML it is."""
    fields: dict[str, str] = {}
    for line in (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        if line.startswith(("- ", "  ")) and ":" in line:
            key, _, value = line.strip(" -").partition(":")
            fields[key.strip()] = value.strip()
    return fields


def run_hook(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    entry = shlex.split(hook()["entry"])
    assert entry[0] == "toolvault"
    argv = [sys.executable, "-m", "toolvault", *entry[1:], *args]
    return subprocess.run(argv, capture_output=True, timeout=120)


def test_the_hook_is_declared_as_documented() -> None:
    fields = hook()
    assert fields["id"] == "toolvault-verify"
    assert fields["entry"] == "toolvault verify"
    assert fields["language"] == "python"
    assert fields["pass_filenames"] == "false"
    assert "toolvault-verify" in (ROOT / "README.md").read_text()


def test_the_hook_passes_a_sound_vault_and_fails_a_tampered_one(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    src = tmp_path / "fmt.sh"
    src.write_text("#!/bin/sh\necho fmt\n")
    added = subprocess.run(
        [sys.executable, "-m", "toolvault", "--home", str(vault), "add", str(src)],
        capture_output=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    sound = run_hook(["--home", str(vault)])
    assert sound.returncode == 0 and b"verify ok" in sound.stdout
    db = sqlite3.connect(vault / "vault.db")
    db.execute("DROP TRIGGER versions_immutable_update")
    db.execute("UPDATE versions SET prompt = 'forged'")
    db.commit()
    db.close()
    tampered = run_hook(["--home", str(vault)])
    assert tampered.returncode == 1 and b"tampered" in tampered.stdout
