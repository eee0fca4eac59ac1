"""Safe reading of a ``.tar.gz`` tool pack in memory, never extracting to disk (SPEC §7).

The gzip layer is inflated here in bounded steps, so a decompression bomb is
stopped once its output passes the total or ratio limit; only then does
:mod:`tarfile` parse the bytes. Every member must be a regular file or a
directory with a relative path that stays inside the archive.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Container
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolvault.errors import InvalidInput

if TYPE_CHECKING:
    import tarfile

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 64 * 1024
# Tar pads every archive to 10 KiB of mostly zeros, which gzip shrinks ~100-fold:
# the ratio limit would refuse honest tiny packs, and a bomb needs volume anyway,
# so the ratio applies only once the output passes this size.
RATIO_GRACE = 2**20


@dataclass(frozen=True, slots=True)
class Limits:
    """What an archive may hold; anything beyond is refused as soon as it shows.

    ``max_ratio`` bounds unpacked size / packed size once the unpacked size passes
    :data:`RATIO_GRACE`.
    """

    max_members: int = 10_000
    max_member_size: int = 2**20
    max_total: int = 64 * 2**20
    max_ratio: int = 100
    # Members bounded by max_total instead of max_member_size (a pack's manifest).
    exempt: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    """One regular file of the archive: normalized relative path, content, permission bits."""

    path: str
    data: bytes
    mode: int


DEFAULT_LIMITS = Limits()


def is_gzip(data: bytes) -> bool:
    """Whether ``data`` starts with the gzip magic bytes (1f 8b)."""
    return data[:2] == GZIP_MAGIC


def read_tar_gz(
    data: bytes, limits: Limits = DEFAULT_LIMITS, *, source: str = "archive"
) -> dict[str, Member]:
    """The regular files of a ``.tar.gz`` by path, refusing anything unsafe.

    ``source`` names the archive in error messages (a path or URL).
    """
    import tarfile  # here, not at the top: only imports read archives

    raw = gunzip(data, limits, source=source)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            return _members(tar, limits, source)
    except tarfile.TarError as exc:
        raise InvalidInput(f"{source} is not a .tar.gz tool pack ({exc})") from exc


def gunzip(data: bytes, limits: Limits = DEFAULT_LIMITS, *, source: str = "archive") -> bytes:
    """Inflate gzip ``data`` (one or more members), stopping at the size and ratio limits."""
    if not is_gzip(data):
        raise InvalidInput(f"{source} is not a .tar.gz tool pack (no gzip header)")
    budget = min(limits.max_total, max(limits.max_ratio * len(data), RATIO_GRACE))
    out = _Output(budget, limits, len(data), source)
    rest = data
    while rest:
        rest = _inflate_member(rest, out, source)
        if not rest.strip(b"\0"):  # zero padding after the last member is allowed
            break
    return out.getvalue()


class _Output(io.BytesIO):
    """Inflated bytes, refusing to grow past the budget and naming the limit hit."""

    def __init__(self, budget: int, limits: Limits, packed: int, source: str) -> None:
        super().__init__()
        self.budget = budget
        self.limits = limits
        self.packed = packed
        self.source = source

    def room(self) -> int:
        """How many more bytes to ask zlib for: one past the budget to detect overflow."""
        return self.budget - self.tell() + 1

    def add(self, chunk: bytes) -> None:
        """Append ``chunk``, refusing the archive once the budget is exceeded."""
        self.write(chunk)
        if self.tell() <= self.budget:
            return
        if self.tell() > self.limits.max_total:
            raise InvalidInput(
                f"{self.source} unpacks to more than {self.limits.max_total} bytes "
                "(limit max_total); it looks like a decompression bomb"
            )
        raise InvalidInput(
            f"{self.source} expands more than {self.limits.max_ratio} times its "
            f"{self.packed} bytes (limit max_ratio); it looks like a decompression bomb"
        )


def _inflate_member(data: bytes, out: _Output, source: str) -> bytes:
    """Inflate one gzip member into ``out``; return the bytes that follow it."""
    if not is_gzip(data):
        raise InvalidInput(f"{source} is not a .tar.gz tool pack (garbage after the gzip data)")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        for start in range(0, len(data), CHUNK):
            pending = data[start : start + CHUNK]
            while pending and not inflater.eof:
                out.add(inflater.decompress(pending, out.room()))
                pending = inflater.unconsumed_tail
            if inflater.eof:
                return inflater.unused_data + data[start + CHUNK :]
    except zlib.error as exc:
        raise InvalidInput(f"{source} is not a .tar.gz tool pack ({exc})") from exc
    raise InvalidInput(f"{source} is not a .tar.gz tool pack (the gzip data is truncated)")


def _members(tar: tarfile.TarFile, limits: Limits, source: str) -> dict[str, Member]:
    """Walk the headers one by one so that a flood of members stops early."""
    files: dict[str, Member] = {}
    dirs: set[str] = set()
    count = 0
    while (info := tar.next()) is not None:
        count += 1
        if count > limits.max_members:
            raise InvalidInput(
                f"{source} has more than {limits.max_members} members (limit max_members)"
            )
        path = _safe_path(info, source)
        if info.isdir():
            _refuse_duplicate(path, files, (), source)  # a directory entry may repeat
            dirs.add(path)
            continue
        _refuse_duplicate(path, files, dirs, source)
        files[path] = Member(path, _read(tar, info, path, limits, source), info.mode & 0o7777)
    return files


def _safe_path(info: tarfile.TarInfo, source: str) -> str:
    """The member's normalized path, or an error if it could point outside or is no file."""
    name = info.name
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/"):
        raise InvalidInput(
            f"{source}: member {name!r} has an absolute path; packs hold relative paths"
        )
    if ".." in parts:
        raise InvalidInput(
            f"{source}: member {name!r} has a '..' component; members must stay inside the pack"
        )
    kind = _bad_kind(info)
    if kind:
        raise InvalidInput(
            f"{source}: member {name!r} is {kind}; packs hold only regular files and directories"
        )
    if not parts and not info.isdir():
        raise InvalidInput(f"{source}: a member has an empty name; every file needs a path")
    return "/".join(parts)


def _bad_kind(info: tarfile.TarInfo) -> str | None:
    """What the member is when it is neither a regular file nor a directory."""
    if info.isreg() or info.isdir():
        return None
    if info.issym():
        return f"a symbolic link (to {info.linkname!r})"
    if info.islnk():
        return f"a hard link (to {info.linkname!r})"
    if info.ischr() or info.isblk():
        return "a device"
    if info.isfifo():
        return "a fifo"
    return f"of unsupported type {info.type!r}"


def _refuse_duplicate(path: str, files: Container[str], dirs: Container[str], source: str) -> None:
    if path in files or path in dirs:
        raise InvalidInput(
            f"{source}: member {path!r} appears more than once; paths must be unique"
        )


def _read(
    tar: tarfile.TarFile, info: tarfile.TarInfo, path: str, limits: Limits, source: str
) -> bytes:
    """The member's bytes, refused before reading when its header says it is too big."""
    limit = limits.max_total if path in limits.exempt else limits.max_member_size
    if info.size > limit:
        raise InvalidInput(
            f"{source}: member {path!r} is {info.size} bytes, over the limit of "
            f"{limit} bytes per file (limit max_member_size)"
        )
    handle = tar.extractfile(info)
    assert handle is not None  # a regular file always has content
    return handle.read()
