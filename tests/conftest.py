"""Shared fixtures: every test gets its own toolvault home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from toolvault import Vault


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The folder that ``TOOLVAULT_HOME`` points at during a test (not created)."""
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def _toolvault_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real ``~/.toolvault``."""
    monkeypatch.setenv("TOOLVAULT_HOME", str(home))
    monkeypatch.delenv("TOOLVAULT_URL", raising=False)
    monkeypatch.delenv("TOOLVAULT_OWNER", raising=False)
    monkeypatch.delenv("TOOLVAULT_DB", raising=False)


@pytest.fixture
def vault(home: Path) -> Iterator[Vault]:
    """A fresh vault in ``home``, closed after the test."""
    opened = Vault.open(home)
    try:
        yield opened
    finally:
        opened.close()
