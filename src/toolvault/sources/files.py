"""Reading a file a user names: only a regular file, and never more than a limit.

A path can name what is no file of content: a device that never ends (``/dev/zero``,
``/dev/urandom``), a FIFO whose reader waits for a writer that may never come, a
socket, or a file that grows while it is read. So a named file is opened without
blocking (``O_NONBLOCK``: opening a FIFO would otherwise wait for a writer) and
without becoming a controlling terminal, checked to be a regular file on the open
descriptor (what is read is what was checked), and read up to one byte over the
limit, which is the most it ever holds in memory.

``ingest PATH`` (:func:`.ingest.ingest_path`), ``add FILE`` and the ``--…-file``
options all read through here.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from toolvault.errors import InvalidInput, TooLarge

CHUNK = 1024 * 1024
# Kinds of files that are not regular, as a message names them.
KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)
SIZE_HINT = "raise max_tool_size in config.toml for larger tools"


class NotRegularFile(InvalidInput):
    """A path names a device, a FIFO, a socket or a folder where a file was expected."""


def read_regular(
    path: str | os.PathLike[str], limit: int, *, hint: str = SIZE_HINT
) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file at ``path`` (a link to one is followed) and its
    status; :class:`NotRegularFile` for anything else, :class:`TooLarge` when it holds
    more than ``limit`` bytes. An ``OSError`` from opening it (missing, no permission)
    is left to the caller, which knows what the file was for."""
    where = os.fspath(path)
    refuse_other_kinds(where, os.stat(where).st_mode)  # before opening: no device is opened
    fd = os.open(where, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        refuse_other_kinds(where, info.st_mode)  # what was opened, if it changed meanwhile
        if info.st_size > limit:
            raise TooLarge(
                f"{where} is {info.st_size:,} bytes; the limit is {limit:,} ({hint})",
                {"path": where, "size": info.st_size, "limit": limit},
            )
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return read_stream(stream, limit, where, hint=hint), info
    finally:
        os.close(fd)


def read_stream(stream: BinaryIO, limit: int, where: str, *, hint: str = SIZE_HINT) -> bytes:
    """Everything ``stream`` holds (standard input, a file), refused with
    :class:`TooLarge` as soon as more than ``limit`` bytes have come."""
    chunks, size = [], 0
    while chunk := stream.read(min(CHUNK, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"{where} holds more than {limit:,} bytes, the limit ({hint})",
                {"path": where, "size": size, "limit": limit},  # size: as far as read
            )
    return b"".join(chunks)


def refuse_other_kinds(where: str, mode: int) -> None:
    """:class:`NotRegularFile` unless ``mode`` (an ``st_mode``) is a regular file's."""
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in KINDS if test(mode)), "not a regular file")
    raise NotRegularFile(f"{where} is {kind}, not a regular file; give a file of text")
