"""An empty folder for one sandboxed run, removed afterwards however the tool left it.

A tool may leave a tree deeper than Python's recursion limit (``shutil.rmtree`` of this
Python recurses, and fails on it) or than ``PATH_MAX`` (path-based removal fails), and
folders it took every permission from. The removal here goes by descriptors, one level
at a time, from the top down and back up through ``..``: its depth costs neither stack
nor open descriptors. The tool's processes are all dead by then (the sandbox's PID
namespace ended), so nothing changes the tree while it is removed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("toolvault.sandbox")
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A new empty folder (under the system's temporary folder), removed on exit."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        try:
            remove_tree(folder)
        except OSError:  # the run's answer still stands; the folder is named in the log
            log.warning("could not remove the scratch folder %s", folder, exc_info=True)


def remove_tree(top: Path) -> None:
    """Remove the folder ``top`` and everything in it (links are removed, never followed)."""
    os.chmod(top, 0o700)
    fd = os.open(top, DIRECTORY)
    below: list[str] = []  # the names from top down to the folder fd is open on
    # for each level, its subfolders still to remove: each folder is listed once, so a
    # folder of many thousand subfolders costs no more than their number
    pending = [_emptied(fd)]
    try:
        while pending:
            if pending[-1]:  # down into a subfolder
                child = pending[-1].pop()
                os.chmod(child, 0o700, dir_fd=fd)  # a real folder: _emptied checked
                fd = _moved(fd, os.open(child, DIRECTORY, dir_fd=fd))
                below.append(child)
                pending.append(_emptied(fd))
            else:  # this folder is empty: up, and remove it
                pending.pop()
                if below:
                    fd = _moved(fd, os.open("..", DIRECTORY, dir_fd=fd))
                    os.rmdir(below.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(top)


def _emptied(fd: int) -> list[str]:
    """Unlink every entry of the folder ``fd`` that is not a folder; the names of the
    subfolders left."""
    folders = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.name)
            else:
                os.unlink(entry.name, dir_fd=fd)
    return folders


def _moved(old: int, new: int) -> int:
    os.close(old)
    return new
