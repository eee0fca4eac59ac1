"""Files and folders written relative to directory descriptors, never through a link.

The ``commands/`` tree lives in the user's home, which may be a git checkout someone
else shipped: any name in it can be a symbolic link to a folder or a file elsewhere.
Everything here opens folders with ``O_NOFOLLOW | O_DIRECTORY`` relative to the folder
above it, and writes files to a temporary name that one ``rename`` puts over whatever
is there, so that a link where a folder or a file of ours should be is replaced, the
link itself and never what it points to.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
from collections.abc import Callable
from contextlib import suppress

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Read a file of ours: a link is refused, a FIFO planted in its place does not block.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# What open(O_NOFOLLOW | O_DIRECTORY) says of a link, a file or a device in a folder's place.
NOT_A_FOLDER = (errno.ELOOP, errno.ENOTDIR)
ATTEMPTS = 8  # another process may remove or replace an entry between two calls
TMP_PREFIX = ".tmp-"


def open_dir(name: str, parent: int | None = None) -> int:
    """The folder ``name`` (relative to ``parent``), opened without following a link."""
    return os.open(name, DIR_FLAGS, dir_fd=parent)


def try_open_dir(name: str, parent: int) -> int:
    """:func:`open_dir`, or -1 when there is no folder there (absent, a link, a file);
    -1 again when ``parent`` is -1."""
    if parent < 0:
        return -1
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError:
        return -1


def what_is(name: str, parent: int) -> str | None:
    """What is at ``name`` in ``parent`` instead of a folder, in words, or None when
    nothing is there (or it is a folder after all)."""
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a file" if stat.S_ISREG(mode) else "a special file"


def ensure_dir(name: str, parent: int, note: Callable[[str], None] | None = None) -> int:
    """Open the folder ``name`` in ``parent``, making it when absent; a link or a file
    in its place is removed first (the entry itself, never what a link points to), and
    ``note`` is told what it was."""
    for _ in range(ATTEMPTS):
        try:
            return open_dir(name, parent)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno not in NOT_A_FOLDER:
                raise
            found = what_is(name, parent)
            if found is not None:  # else it became a folder meanwhile: open it
                os.unlink(name, dir_fd=parent)
                if note is not None:
                    note(f"{found} where a folder should be")
            continue
        with suppress(FileExistsError):  # made by another process meanwhile
            os.mkdir(name, 0o755, dir_fd=parent)
    raise OSError(errno.EAGAIN, f"{name} keeps changing; try again")


def remove(name: str, parent: int) -> None:
    """Remove whatever is at ``name`` in ``parent``: a link or a file itself, a folder
    with everything in it (walked by descriptors: links inside are removed, not
    followed). Nothing there is fine."""
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(name, dir_fd=parent)  # its fd-based walk never follows a link
    else:
        os.unlink(name, dir_fd=parent)


def put_file(name: str, parent: int, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary name in ``parent`` (with exactly ``mode``, whatever
    the umask and whatever set-id bits), then rename it over whatever is at ``name``."""
    tmp = f"{TMP_PREFIX}{name}.{os.getpid()}"
    fd = _create(tmp, parent, mode)
    fill(fd, tmp, parent, data, mode)
    _rename_over(tmp, name, parent)


def fill(fd: int, name: str, parent: int, data: bytes, mode: int | None) -> None:
    """Write all of ``data`` to the new file ``fd`` (``name`` in ``parent``), after
    setting exactly ``mode`` unless None, and close it; on any failure the file is closed
    and removed."""
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        os.unlink(name, dir_fd=parent)
        raise
    os.close(fd)


def put_link(name: str, parent: int, target: str) -> None:
    """Make ``name`` in ``parent`` a symbolic link to ``target``: made under a temporary
    name, then renamed over whatever is there."""
    tmp = f"{TMP_PREFIX}link-{name}.{os.getpid()}"
    for _ in range(ATTEMPTS):
        try:
            os.symlink(target, tmp, dir_fd=parent)
            break
        except FileExistsError:  # left by a crashed process that had this pid
            remove(tmp, parent)
    _rename_over(tmp, name, parent)


def write_new(name: str, parent: int, data: bytes, mode: int) -> None:
    """Write a file that cannot exist yet (in a folder made a moment ago)."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode, dir_fd=parent)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _create(tmp: str, parent: int, mode: int) -> int:
    """A new, empty file at ``tmp``; what a crashed process left there is removed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(ATTEMPTS):
        try:
            return os.open(tmp, flags, mode, dir_fd=parent)
        except FileExistsError:
            remove(tmp, parent)
    raise OSError(errno.EAGAIN, f"{tmp} keeps coming back; try again")


def _rename_over(tmp: str, name: str, parent: int) -> None:
    """rename(2) replaces a file or a link in one step; a folder in the way is ours to
    remove first."""
    for _ in range(ATTEMPTS):
        try:
            os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            return
        except OSError as exc:
            if exc.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                os.unlink(tmp, dir_fd=parent)
                raise
            remove(name, parent)
    os.unlink(tmp, dir_fd=parent)
    raise OSError(errno.EAGAIN, f"{name} keeps changing; try again")


def lock(name: str, parent: int) -> int:
    """Open the lock file ``name`` in ``parent`` and hold an exclusive ``flock`` on it;
    returns its descriptor (closing it lets go). A link or a special file in its place
    is replaced by a file, never followed; a lock file replaced while we waited is
    opened again, so that every process locks the same one."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    for _ in range(ATTEMPTS):
        try:
            fd = os.open(name, flags, 0o644, dir_fd=parent)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.unlink(name, dir_fd=parent)
            continue
        try:
            held = os.fstat(fd)
            if stat.S_ISREG(held.st_mode):
                fcntl.flock(fd, fcntl.LOCK_EX)
                now = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                    return fd
            else:
                os.unlink(name, dir_fd=parent)
        except FileNotFoundError:  # removed while we waited for it
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise OSError(errno.EAGAIN, f"{name} keeps changing; try again")
