"""The folder tools are installed into, used only through its descriptor.

The folder is a user's (often a checkout someone else shipped): any name in it may be a
link to somewhere else. It is opened once with ``O_NOFOLLOW | O_DIRECTORY`` (a link in
its own place is refused), every entry is looked at with ``lstat`` and read with
``O_NOFOLLOW | O_NONBLOCK`` (a link is never followed, a FIFO never blocks), and every
file is written to a temporary name and renamed over what was there, so that a link in
a tool's place is replaced itself and what it points to is never touched.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from contextlib import suppress
from dataclasses import dataclass

from toolvault.errors import InvalidInput
from toolvault.safefs import DIR_FLAGS, READ_FLAGS, fill, remove

TMP_PREFIX = ".tmp-toolvault-"
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Found:
    """What is at a tool's name in the folder: ``kind`` is ``absent``, ``file``,
    ``link``, ``folder`` or ``special``; for a file its size and permission bits."""

    kind: str
    size: int = 0
    mode: int = 0


def open_folder(path: str, *, create: bool) -> tuple[int, bool]:
    """The folder at ``path``, opened without following a link in its place, and whether
    it was made now (with its parents) because it was absent and ``create`` is set."""
    made = False
    for _ in range(2):
        try:
            return os.open(path, DIR_FLAGS), made
        except FileNotFoundError:
            if not create:
                raise InvalidInput(f"no folder {path}; nothing is installed there") from None
            os.makedirs(path, 0o755, exist_ok=True)
            made = True
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            if os.path.islink(path):  # O_NOFOLLOW | O_DIRECTORY says ENOTDIR of a link too
                raise InvalidInput(
                    f"{path} is a symbolic link; tools are installed only into a real folder "
                    "(give the folder it points to, if that is what you mean)",
                    {"into": path},
                ) from None
            raise InvalidInput(f"{path} is not a folder", {"into": path}) from None
    raise InvalidInput(f"{path} keeps changing; try again")


def look(name: str, folder: int) -> Found:
    """What is at ``name`` in the folder, never following a link."""
    try:
        st = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return Found("absent")
    if stat.S_ISREG(st.st_mode):
        return Found("file", st.st_size, stat.S_IMODE(st.st_mode))
    if stat.S_ISLNK(st.st_mode):
        return Found("link")
    return Found("folder" if stat.S_ISDIR(st.st_mode) else "special")


def sha256_of(name: str, folder: int, limit: int) -> str | None:
    """SHA-256 of the regular file ``name`` in the folder, None when it is not one (or
    holds more than ``limit`` bytes: not what a pin of that size installed)."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=folder)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        # a tool's usual size in one read(2): asking one byte more than the limit shows
        # the end of the file without a second call (a short read just reads on)
        data = os.read(fd, limit + 1) if limit < CHUNK else b""
        h, total = hashlib.sha256(data), len(data)
        if total < limit or limit >= CHUNK:
            while total <= limit and (chunk := os.read(fd, CHUNK)):
                total += len(chunk)
                h.update(chunk)
        return h.hexdigest() if total <= limit else None
    finally:
        os.close(fd)


def stage(name: str, folder: int, data: bytes, mode: int, umask: int) -> str:
    """Write ``data`` to a new temporary file beside ``name`` with exactly ``mode``
    (``umask``: the process's, from :func:`current_umask`); returns the temporary name
    (renamed into place by :func:`commit`)."""
    tmp = f"{TMP_PREFIX}{name}.{os.getpid()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, mode, dir_fd=folder)
    except FileExistsError:  # left by a crashed install that had this pid
        remove(tmp, folder)
        fd = os.open(tmp, flags, mode, dir_fd=folder)
    # put exactly ``mode`` only when the umask took bits off (one system call less)
    fill(fd, tmp, folder, data, mode if mode & ~umask != mode else None)
    return tmp


def current_umask() -> int:
    """This process's umask (setting it and back is the portable way to read it): read
    once an install, so that a file is chmod-ed only when the umask would take bits off
    (a chmod is a journal write per file)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def commit(tmp: str, name: str, folder: int) -> None:
    """Rename a staged file over ``name``: one step that replaces a file, a link or a
    special file (itself, never a link's target)."""
    os.rename(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)


def discard(tmps: list[str], folder: int) -> None:
    """Remove staged files that will not be installed."""
    for tmp in tmps:
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=folder)


def entries(folder: int) -> list[str]:
    """The names in the folder, but for files being staged by an install."""
    return sorted(n for n in os.listdir(folder) if not n.startswith(TMP_PREFIX))
