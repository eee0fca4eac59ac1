"""The newest head in a file outside the database (``HOME/checkpoint``, a client's
remembered heads): replaced atomically, and never by an older head.

Writers serialize on a lock of the folder (``flock``), read the seq of the head the
file holds and, when theirs is newer, write theirs to a spare file beside it, which
then trades places with it in one rename (Linux's ``RENAME_EXCHANGE``): a reader
opening the file sees the old head or the new one, whole. The spare is kept for the
next time, so that no file is created once both exist (creating one costs more than
the rest of a checkpoint on some file systems). Elsewhere, or the first time, the
spare is renamed over the file.

Files are reused, so a reader that opened the file may find, by the time it reads,
that its file has become the spare and been written again. toolvault's readers
(:func:`read_locked`) therefore read under a shared lock of the folder, which no
write holds; a reader that does not lock (``cat``) would have to keep the file open
across two writes to see anything but a whole head.

This runs after every write transaction, so the :class:`HeadFile` a Sealer keeps
holds on to what it can between writes (bench/checkpoint.py): the folder and the two
files stay open (they trade places, so each write goes to whichever is at the spare's
name, as a ``stat`` under the lock says), and the bytes it wrote last, which spare it
parsing the file while the file still holds them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import threading
from typing import TYPE_CHECKING, Any

from toolvault.errors import ToolvaultError

if TYPE_CHECKING:
    from toolvault.checkpoints.model import Checkpoint

READ_MAX = 65536  # a head file is well under 1 KiB: more is not one
OPEN = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
RENAME_EXCHANGE = 2
_RENAMEAT2: list[Any] = []  # libc's renameat2, set up once (None where there is none)

Key = tuple[int, int]  # (st_dev, st_ino): one file, whatever its name now


class HeadFile:
    """One head file, written by :meth:`put`; :meth:`close` lets go of what it keeps."""

    def __init__(self, path: str) -> None:
        self.path = path
        folder, name = os.path.split(path)
        self.folder = folder or "."
        self.name, self.spare = name.encode(), f".{name}.spare".encode()
        self._lock = threading.Lock()  # threads share the folder's descriptor, and so its flock
        self._pid = 0  # the process that opened what is kept (a forked child reopens)
        self._dir = -1
        self._files: dict[Key, int] = {}
        self._wrote: tuple[bytes, int] = (b"", -1)  # the bytes written last, and their seq

    def put(self, checkpoint: Checkpoint, extra: dict[str, Any] | None = None) -> bool:
        """Write ``checkpoint`` (with ``extra`` fields around it) unless the file holds a
        head as new or newer; True when written."""
        body = {**extra, "checkpoint": checkpoint.to_dict()} if extra else checkpoint.to_dict()
        data = (json.dumps(body) + "\n").encode()  # one line: json's C encoder
        with self._lock:
            try:
                return self._write(checkpoint.seq, data)
            except OSError as exc:
                self.close()  # what was kept may be stale: start afresh next time
                raise ToolvaultError(
                    f"written, but could not update {self.path}: {exc}; fix the cause and "
                    "run 'toolvault checkpoint', which writes it again"
                ) from None

    def close(self) -> None:
        """Close the folder and the files kept open."""
        for fd in (*self._files.values(), self._dir):
            if fd >= 0 and self._pid == os.getpid():
                os.close(fd)
        self._files, self._dir = {}, -1

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at exit, os may be gone already
            self.close()

    # -- under the lock ----------------------------------------------------------------

    def _write(self, seq: int, data: bytes) -> bool:
        folder = self._folder()
        fcntl.flock(folder, fcntl.LOCK_EX)
        try:
            there = _stat(self.name, folder)
            if there is not None and self._seq_in(folder, there) >= seq:
                return False
            self._replace(folder, data, there)
            self._wrote = (data, seq)
            return True
        finally:
            fcntl.flock(folder, fcntl.LOCK_UN)

    def _folder(self) -> int:
        """The folder's descriptor: kept, unless this is a forked child, which shares its
        parent's descriptors and with them its flock. (A home moved away meanwhile is
        still written to, as its database is through the open connection.)"""
        if self._pid != os.getpid():
            self._files, self._dir, self._pid = {}, -1, os.getpid()  # the parent's: left alone
        if self._dir >= 0:
            return self._dir
        try:
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:  # a client's first remembered head
            os.makedirs(self.folder, exist_ok=True)
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._dir = fd
        return fd

    def _seq_in(self, folder: int, there: os.stat_result) -> int:
        """The seq of the head the file holds; -1 when it holds none (or is a link, or
        cannot be read): the newest head known then replaces it."""
        if not stat.S_ISREG(there.st_mode):
            return -1
        wrote, seq = self._wrote
        try:
            fd = self._open(folder, self.name, there)
            if there.st_size == len(wrote) and os.pread(fd, len(wrote), 0) == wrote:
                return seq  # still what this process wrote last: no parsing
            return seq_of(os.pread(fd, READ_MAX, 0))
        except OSError:
            return -1

    def _replace(self, folder: int, data: bytes, there: os.stat_result | None) -> None:
        """``data`` into the spare, which then trades places with the file."""
        spare = _stat(self.spare, folder)
        if spare is None or not stat.S_ISREG(spare.st_mode) or _same(spare, there):
            if spare is not None:  # a link or a folder in its place: removed, never followed
                os.unlink(self.spare, dir_fd=folder)
            fd = os.open(self.spare, OPEN | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=folder)
            spare = os.fstat(fd)
            self._files[_key(spare)] = fd
        else:
            fd = self._open(folder, self.spare, spare)
        if os.pwrite(fd, data, 0) != len(data):
            raise OSError(f"a short write to {self.spare.decode()}")
        if spare.st_size > len(data):
            os.ftruncate(fd, len(data))
        if there is not None and _exchange(folder, self.spare, self.name):
            self._keep({_key(spare), _key(there)})  # now the file, and the next spare
        else:
            os.rename(self.spare, self.name, src_dir_fd=folder, dst_dir_fd=folder)
            self._keep({_key(spare)})

    def _open(self, folder: int, name: bytes, found: os.stat_result) -> int:
        """A descriptor of the file ``found`` (a stat of ``name``): kept, or opened."""
        fd = self._files.get(_key(found))
        if fd is None:
            try:
                fd = os.open(name, OPEN, dir_fd=folder)
            except PermissionError:  # read-only to this process: read, and never written
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            if not _same(os.fstat(fd), found):  # changed under us: by no toolvault writer
                os.close(fd)
                raise OSError(f"{name.decode()} changed while it was opened")
            self._files[_key(found)] = fd
        return fd

    def _keep(self, keys: set[Key]) -> None:
        """Close the descriptors of files that are neither the file nor the spare now."""
        for key in [k for k in self._files if k not in keys]:
            os.close(self._files.pop(key))


def seq_of(data: bytes) -> int:
    """The seq of the head a head file's bytes hold (a checkpoint, or ``{"checkpoint":
    …}`` around one); -1 when they hold none."""
    try:
        found = json.loads(data)
        found = found.get("checkpoint", found)
        seq = found["seq"]
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return -1
    return seq if type(seq) is int else -1


def read_locked(path: os.PathLike[str] | str) -> bytes:
    """The bytes of a head file, read under a shared lock of its folder, so that no
    writer reuses the file meanwhile (FileNotFoundError when there is none)."""
    try:
        folder = os.open(os.path.dirname(os.fspath(path)) or ".", os.O_RDONLY | os.O_DIRECTORY)
    except PermissionError:  # a folder this reader may search but not list: no lock then
        folder = -1
    try:
        if folder >= 0:
            fcntl.flock(folder, fcntl.LOCK_SH)
        with open(path, "rb") as fh:
            return fh.read(READ_MAX + 1)
    finally:
        if folder >= 0:
            os.close(folder)  # and with it the lock


def write_newest(
    path: os.PathLike[str] | str, checkpoint: Checkpoint, extra: dict[str, Any] | None = None
) -> bool:
    """Put ``checkpoint`` in ``path`` atomically unless the file holds one as new or
    newer (an older head never replaces a newer one, whichever process writes last);
    True when written. For one write: the Sealer keeps a :class:`HeadFile` instead."""
    head = HeadFile(os.fspath(path))
    try:
        return head.put(checkpoint, extra)
    finally:
        head.close()


def _stat(name: bytes, folder: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _key(found: os.stat_result) -> Key:
    return (found.st_dev, found.st_ino)


def _same(a: os.stat_result, b: os.stat_result | None) -> bool:
    return b is not None and _key(a) == _key(b)


def _exchange(folder: int, a: bytes, b: bytes) -> bool:
    """Swap two files of ``folder`` atomically (``renameat2`` with RENAME_EXCHANGE);
    False where the system cannot."""
    if not _RENAMEAT2:
        import ctypes

        call = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
        if call is not None:
            text, number = ctypes.c_char_p, ctypes.c_int
            call.argtypes = (number, text, number, text, ctypes.c_uint)
            call.restype = number
        _RENAMEAT2.append(call)
    call = _RENAMEAT2[0]
    return call is not None and bool(call(folder, a, folder, b, RENAME_EXCHANGE) == 0)
