"""The ``commands/`` tree: a view of the database that a user puts on PATH.

Layout (SPEC §4)::

    commands/<name>                          relative symlink -> .history/<name>/<latest>
    commands/.history/<name>/<N>             version N (0755 if executable, else 0644)
    commands/.history/<name>/metadata.json   the tool's version list

Every change is atomic (temp file + ``os.replace``; a tool that has no folder yet
gets a whole temporary folder, files and symlink, that one rename puts in place);
the tree is always rebuilt from what the database says *at the time of writing*,
under a file lock, so two processes that publish at once leave it pointing at the
newest version.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _ascii_string
from pathlib import Path
from typing import Any

from toolvault.hashing import c_encoder
from toolvault.models import Entry, Problem

TMP_PREFIX = ".tmp-"
LINK = f"{TMP_PREFIX}link"  # a tool's new symlink, made in its folder, then moved to commands/
# What rename(2) says when a tool's folder exists after all (or a file is in its place).
TAKEN = (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR)

# Strays sort as verify reports them: commands/ entries, then .history by tool and file.
StrayKey = tuple[int, str, str]
Stray = tuple[StrayKey, Problem]


@dataclass(frozen=True, slots=True)
class ToolView:
    """What the tree should show for one tool."""

    name: str
    owner: str
    lifecycle: str
    latest: int | None  # target of the symlink; None = no symlink (retired)
    versions: tuple[Entry, ...]


# metadata.json: the tool and its version list (SPEC §4) as ``json.dumps(doc, sort_keys=True)``
# writes it, so keys in sorted order.
_META = '{"format": 1, "latest": %s, "lifecycle": %s, "owner": %s, "tool": %s, "versions": [%s]}\n'
_META_VERSION = (
    '{"created_at": %s, "created_by": %s, "executable": %s, "hash": %s, "previous_hash": %s, '
    '"previous_version": %s, "rollback_of": %s, "size": %s, "version": %s}'
)


def metadata_bytes(view: ToolView) -> bytes:
    """The derived ``metadata.json`` of a tool, byte-for-byte deterministic: what
    ``json.dumps(..., sort_keys=True)`` makes of the document, written out with its
    fixed shape because verify compares it for every tool and publishing rewrites it
    (its values encoded in one call and put in place by one format; twice as fast as
    building the dicts; tests hold the two to the same bytes)."""
    values: list[Any] = [view.latest, view.lifecycle, view.owner, view.name]
    for e in view.versions:
        values += (
            e.created_at,
            e.created_by,
            bool(e.executable),
            e.sha256,
            e.previous_sha256,
            e.previous_version,
            e.rollback_of,
            e.size,
            e.version,
        )
    return (_meta_template(len(view.versions)) % tuple(_scalars(values))).encode()


@functools.lru_cache(maxsize=256)
def _meta_template(versions: int) -> str:
    """metadata.json with a placeholder for each value, for a tool of so many versions."""
    return _META % ("%s", "%s", "%s", "%s", ", ".join([_META_VERSION] * versions))


def _js(value: Any) -> str:
    """One scalar as json.dumps writes it (ASCII only)."""
    kind = type(value)
    if kind is str:
        return _ascii_string(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    return json.dumps(value)  # bool, float, or whatever a damaged row holds


def _scalar_encoder() -> Callable[[list[Any]], list[str]]:
    """Each scalar of a list as json.dumps writes it, in one call of json's C encoder:
    it writes the list with NUL between the items (a NUL inside a text is escaped in
    ASCII JSON, so it only separates). Where that encoder is not there or differs, one
    call per scalar."""
    encode = c_encoder(True, ": ", "\x00", False)

    def one_call(values: list[Any]) -> list[str]:
        assert encode is not None
        return encode(values)[1:-1].split("\x00")

    def each(values: list[Any]) -> list[str]:
        return [_js(v) for v in values]

    probe = [None, 'é\x00"x', 7, True, 1.5]
    return one_call if encode is not None and one_call(probe) == each(probe) else each


_scalars = _scalar_encoder()


class CommandsTree:
    """Reads and writes ``<home>/commands``."""

    def __init__(self, home: Path) -> None:
        self.root = home / "commands"
        self.history = self.root / ".history"
        self.lock_path = home / ".commands.lock"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize tree writers across processes."""
        self.history.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def update(self, view: ToolView, content: Callable[[str], bytes]) -> None:
        """Bring one tool's files up to date after a write; call under :meth:`locked`.
        Version files that exist are trusted here (``sync`` rereads them)."""
        folder = f"{self.history}/{view.name}"
        if os.path.lexists(folder) or not self._create(view, content, folder):
            self._rewrite(view, content, reread=False)

    def _create(self, view: ToolView, content: Callable[[str], bytes], folder: str) -> bool:
        """A tool that has no folder yet: its files and its symlink are made in a fresh
        temporary folder that one rename puts in place (then one more puts the link in
        commands/): the folder appears whole or not at all, and no file needs a rename
        of its own. False, leaving nothing behind, when a folder turned up after all."""
        tmp = f"{self.history}/{TMP_PREFIX}{view.name}.{os.getpid()}"  # plain strings:
        try:  # this runs once per tool of an import, and pathlib costs more than the calls
            os.mkdir(tmp)
        except FileExistsError:  # left by a crashed process that had this pid
            shutil.rmtree(tmp)
            os.mkdir(tmp)
        try:
            for v in view.versions:
                _put(f"{tmp}/{v.version}", content(v.sha256), v.executable)
            _put(f"{tmp}/metadata.json", metadata_bytes(view), False)
            if view.latest is not None:
                os.symlink(f".history/{view.name}/{view.latest}", f"{tmp}/{LINK}")
            os.rename(tmp, folder)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno in TAKEN:
                return False
            raise
        self._place_link(view, f"{folder}/{LINK}")
        return True

    def _place_link(self, view: ToolView, staged: str) -> None:
        """Move a link made beside the files into commands/ (replacing what is there),
        or let :meth:`_link` deal with a retired tool or a folder in the link's place."""
        if view.latest is not None:
            try:
                os.rename(staged, f"{self.root}/{view.name}")
                return
            except IsADirectoryError:
                os.unlink(staged)
        self._link(view)

    def rebuild(self, views: list[ToolView], content: Callable[[str], bytes]) -> list[str]:
        """Rewrite every file that differs from the database and remove what it does not
        know; returns one line per thing fixed."""
        self.history.mkdir(parents=True, exist_ok=True)
        fixed: list[str] = []
        for path, _, reason in self._stray_paths({v.name: v for v in views}):
            fixed.append(f"removed {path} ({reason})")
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        for view in views:
            fixed += self._rewrite(view, content, reread=True)
        return fixed

    def _rewrite(
        self, view: ToolView, content: Callable[[str], bytes], *, reread: bool
    ) -> list[str]:
        """One tool's version files, metadata.json and symlink; ``reread`` compares the
        files that exist with the database instead of trusting them."""
        folder = self.history / view.name
        folder.mkdir(parents=True, exist_ok=True)
        present = set(os.listdir(folder))
        fixed = []
        for v in view.versions:
            path = folder / str(v.version)
            if str(v.version) in present and not reread:
                continue
            data = content(v.sha256)
            if not _same_file(path, data, v.executable):
                self._write(path, data, v.executable)
                fixed.append(f"wrote {path}")
        meta = metadata_bytes(view)
        if not _same_bytes(folder / "metadata.json", meta):
            self._write(folder / "metadata.json", meta, False)
            fixed.append(f"wrote {folder / 'metadata.json'}")
        if self._link(view):
            fixed.append(f"linked {self.root / view.name}")
        return fixed

    def check(self, views: list[ToolView]) -> list[Problem]:
        """Compare the tree with the database: missing, altered, wrong link, strays."""
        problems, strays = self.check_tools(views)
        strays += self.top_strays({v.name for v in views})
        return problems + [p for _, p in sorted(strays, key=lambda s: s[0])]

    def check_tools(
        self, views: list[ToolView], contents: Mapping[str, bytes] | None = None
    ) -> tuple[list[Problem], list[Stray]]:
        """These tools' files, metadata.json and symlinks, and the strays in their
        folders; verify splits the tools between processes and calls this for each share.
        A file whose content is in ``contents`` (by sha256, known good) is compared with
        it; any other is hashed."""
        problems: list[Problem] = []
        strays: list[Stray] = []
        for view in views:
            folder = f"{self.history}/{view.name}"
            try:  # its files are opened relative to it: one path step each, not eight
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except OSError:  # absent, not a folder, or a link to one elsewhere
                fd = -1
            try:
                problems += self._check_tool(view, contents or {}, folder, fd)
                if fd >= 0:
                    strays += [
                        ((1, view.name, name), Problem("stray", view.name, None, detail))
                        for name, detail in _strays_in(folder, view, os.listdir(fd))
                    ]
            finally:
                if fd >= 0:
                    os.close(fd)
        return problems, strays

    def top_strays(self, known: Collection[str]) -> list[Stray]:
        """Entries of commands/ and commands/.history that are no known tool."""
        return [
            (key, Problem("stray", None, None, f"{path} {reason}"))
            for key, path, reason in self._top_paths(known)
        ]

    # -- internals ---------------------------------------------------------------

    def _check_tool(
        self, view: ToolView, contents: Mapping[str, bytes], folder: str, fd: int
    ) -> list[Problem]:
        """One tool's files (in ``folder``, open as ``fd``; -1 when it cannot be), its
        metadata.json and its symlink (plain os calls: verify runs this for every tool,
        and pathlib's objects cost more than the checks)."""
        problems: list[Problem] = []
        for v in view.versions:
            problem = _file_problem(folder, fd, v, contents.get(v.sha256))
            if problem:
                problems.append(Problem(problem[0], view.name, v.version, problem[1]))
        meta = f"{folder}/metadata.json"
        if fd < 0 or not _same_bytes("metadata.json", metadata_bytes(view), fd):
            problems.append(Problem("metadata", view.name, None, f"{meta} differs"))
        link = f"{self.root}/{view.name}"
        want = None if view.latest is None else f".history/{view.name}/{view.latest}"
        try:
            have: str | None = os.readlink(link)
        except OSError:  # absent, or not a symlink
            have = None
        if want != have:
            problems.append(
                Problem(
                    "symlink",
                    view.name,
                    view.latest,
                    _link_detail(link, want, have, view.lifecycle),
                )
            )
        return problems

    def _stray_paths(self, known: dict[str, ToolView]) -> list[tuple[Path, str | None, str]]:
        """Everything under commands/ the database does not account for: (path, the
        tool it sits under, why), in the order verify reports them."""
        found: list[tuple[StrayKey, Path, str | None, str]] = [
            (key, path, None, reason) for key, path, reason in self._top_paths(known)
        ]
        for view in known.values():
            found += [
                ((1, view.name, path.name), path, view.name, reason)
                for path, reason in self._folder_strays(view)
            ]
        return [(path, tool, reason) for _, path, tool, reason in sorted(found, key=_first)]

    def _top_paths(self, known: Collection[str]) -> list[tuple[StrayKey, Path, str]]:
        found: list[tuple[StrayKey, Path, str]] = []
        if not self.root.is_dir():
            return found
        for entry in os.listdir(self.root):
            if entry != ".history" and entry not in known:
                found.append(((0, entry, ""), self.root / entry, "is not a known tool"))
        for entry in os.listdir(self.history) if self.history.is_dir() else []:
            if entry not in known:
                found.append(((1, entry, ""), self.history / entry, "is not a known tool"))
        return found

    def _folder_strays(self, view: ToolView) -> list[tuple[Path, str]]:
        """Files in a known tool's folder that are neither a version nor metadata.json."""
        folder = self.history / view.name
        try:
            names = os.listdir(folder)
        except OSError:  # no folder (its files are reported missing) or not a folder
            return []
        return [(folder / name, "is not a version") for name in _stray_names(view, names)]

    def _write(self, path: Path, data: bytes, executable: bool) -> None:
        tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")
        _put(str(tmp), data, executable, os.O_TRUNC)
        os.replace(tmp, path)

    def _link(self, view: ToolView) -> bool:
        """Point commands/<name> at the latest (or remove it); True when it changed."""
        link = self.root / view.name
        if view.latest is None:
            if link.is_symlink() or link.is_file():
                link.unlink()
                return True
            return False
        target = f".history/{view.name}/{view.latest}"
        if link.is_symlink() and os.readlink(link) == target:
            return False
        tmp = self.root / f"{TMP_PREFIX}link-{view.name}.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        os.replace(tmp, link)
        return True


def _put(path: str, data: bytes, executable: bool, flags: int = os.O_EXCL) -> None:
    """Write a file with the mode of a version file (0755 or 0644, whatever the umask);
    ``O_EXCL`` by default: in a fresh folder nothing can be there yet."""
    mode = 0o755 if executable else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _stray_names(view: ToolView, names: list[str]) -> list[str]:
    """The names in a tool's folder that are neither a version of it nor metadata.json."""
    wanted = {str(v.version) for v in view.versions}
    wanted.add("metadata.json")
    if len(names) == len(wanted) and wanted.issuperset(names):  # the usual case
        return []
    return sorted(name for name in names if name not in wanted)


def _strays_in(folder: str, view: ToolView, names: list[str]) -> list[tuple[str, str]]:
    """(name, problem detail) of each stray in a tool's folder."""
    return [(name, f"{folder}/{name} is not a version") for name in _stray_names(view, names)]


def _first(item: tuple[StrayKey, Path, str | None, str]) -> StrayKey:
    return item[0]


def _same_bytes(path: str | Path, data: bytes, dir_fd: int | None = None) -> bool:
    """Whether a file holds exactly ``data`` (plain os calls: verify reads every
    metadata.json this way, and a file object costs more than the read); ``path`` is
    relative to ``dir_fd`` when given."""
    try:
        fd = os.open(path, os.O_RDONLY, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        return os.read(fd, len(data) + 1) == data  # one byte more: a longer file differs
    except OSError:  # a folder where the file should be
        return False
    finally:
        os.close(fd)


def _link_detail(link: str, want: str | None, have: str | None, lifecycle: str) -> str:
    if want is None:
        return f"{link} should not exist (tool is {lifecycle})"
    if have is None:
        return f"{link} is missing" + (" (not a symlink)" if os.path.exists(link) else "")
    return f"{link} points to {have}, expected {want}"


def _same_file(path: Path, data: bytes, executable: bool) -> bool:
    if path.is_symlink() or not _same_bytes(path, data):
        return False
    return (path.stat().st_mode & 0o777) == (0o755 if executable else 0o644)


def _file_problem(
    folder: str, folder_fd: int, v: Entry, expected: bytes | None
) -> tuple[str, str] | None:
    """Whether a version's file is there, intact and with its mode: one open (relative
    to its folder), one fstat, one read (verify runs this for every version).
    ``expected`` is the version's content when the caller holds it (checked against
    its hash), else the file is hashed."""
    try:
        if folder_fd < 0:  # no folder to open it in
            raise FileNotFoundError
        fd = os.open(str(v.version), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder_fd)
    except OSError:  # absent, or a symlink where a file should be
        return ("missing", f"{folder}/{v.version} is missing")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return ("missing", f"{folder}/{v.version} is missing")
        data = os.read(fd, info.st_size + 1)  # all of it: a regular file reads whole
        if len(data) > info.st_size:  # it grew since fstat: read on to its end
            chunks = [data]
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            data = b"".join(chunks)
    finally:
        os.close(fd)
    if expected is not None:
        intact = data == expected
    else:
        intact = hashlib.sha256(data).hexdigest() == v.sha256
    if not intact:
        return ("altered", f"{folder}/{v.version} does not match sha256 {v.sha256[:12]}…")
    mode, want = info.st_mode & 0o777, 0o755 if v.executable else 0o644
    if mode != want:
        return ("mode", f"{folder}/{v.version} has mode {mode:o}, expected {want:o}")
    return None
