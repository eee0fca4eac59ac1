"""The scratch folder's removal (``sandbox/scratch.py``): however wide, deep, linked
and unreadable a tool left it, every folder is listed once and nothing outside it is
touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolvault.sandbox import scratch


def _tree(top: Path, outside: Path, wide: int) -> int:
    """A folder of ``wide`` subfolders, each holding a file, a link to ``outside`` and an
    unreadable subfolder; the number of folders made (``top`` included)."""
    for i in range(wide):
        sub = top / f"d{i}"
        (sub / "inner").mkdir(parents=True)
        (sub / "f").write_text("x")
        (sub / "link").symlink_to(outside)
        (sub / "inner" / "g").write_text("y")
        (sub / "inner").chmod(0)
        sub.chmod(0o500)
    return 1 + 2 * wide


def test_a_wide_tree_is_listed_once_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("kept")
    top = tmp_path / "scratch"
    top.mkdir()
    folders = _tree(top, outside, 400)
    listed: list[int] = []
    real = scratch._emptied

    def counted(fd: int) -> list[str]:
        listed.append(fd)
        return real(fd)

    monkeypatch.setattr(scratch, "_emptied", counted)
    scratch.remove_tree(top)
    assert not top.exists()
    assert (outside / "keep").read_text() == "kept"
    # before, the folder above was listed again after each subfolder went: the square of
    # its width in entries read, which a tool leaving 100,000 folders made hours
    assert len(listed) == folders


def test_the_scratch_folder_is_gone_after_its_block(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with scratch.scratch_folder("toolvault-test-") as folder:
        _tree(folder, outside, 3)
        os.chmod(folder, 0o500)
    assert not folder.exists()
    assert outside.exists()
