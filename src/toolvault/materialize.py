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
import functools
import hashlib
import json
import os
import stat
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _ascii_string
from pathlib import Path
from typing import Any

from toolvault import safefs
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


@dataclass(slots=True)
class _Dirs:
    """The tree's folders, open while the tree's lock is held."""

    root: int
    history: int
    notes: list[str]  # what was removed to open them (a link where a folder should be)


class CommandsTree:
    """Reads and writes ``<home>/commands``.

    Every folder is opened relative to the one above it without following a link, and
    every file is written to a temporary name then renamed into place (see
    :mod:`toolvault.safefs`): a link planted anywhere in the tree is drift that the next
    write replaces, never a way to write or delete outside the home.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.root = home / "commands"
        self.history = self.root / ".history"
        self.lock_path = home / ".commands.lock"
        # Set by locked(); the flock keeps threads that share this object apart too.
        self._open: _Dirs | None = None

    def make(self) -> None:
        """Make the home and an empty ``commands/.history`` (a new vault)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.locked():
            pass

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialize tree writers across processes, with the tree's folders open (made
        if absent; a link or a file in their place replaced by a folder)."""
        fds = [os.open(self.home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        try:
            notes: list[str] = []
            with _named(self.lock_path):
                fds.append(safefs.lock(self.lock_path.name, fds[0]))
            with _named(self.root):
                fds.append(safefs.ensure_dir("commands", fds[0], _noting(notes, self.root)))
            with _named(self.history):
                fds.append(safefs.ensure_dir(".history", fds[-1], _noting(notes, self.history)))
            self._open = _Dirs(fds[2], fds[3], notes)
            yield
        finally:
            self._open = None
            for fd in reversed(fds):  # the lock's descriptor too, which lets it go
                os.close(fd)

    def _dirs(self) -> _Dirs:
        if self._open is None:
            raise RuntimeError("CommandsTree writes need 'with tree.locked():'")
        return self._open

    def update(self, view: ToolView, content: Callable[[str], bytes]) -> None:
        """Bring one tool's files up to date after a write; call under :meth:`locked`.
        Version files that exist are trusted here (``sync`` rereads them), except the
        newest one and any that is not a plain file."""
        try:
            os.stat(view.name, dir_fd=self._dirs().history, follow_symlinks=False)
        except FileNotFoundError:
            if self._create(view, content):
                return
        self._rewrite(view, content, reread=False)

    def _create(self, view: ToolView, content: Callable[[str], bytes]) -> bool:
        """A tool that has no folder yet: its files and its symlink are made in a fresh
        temporary folder that one rename puts in place (then one more puts the link in
        commands/): the folder appears whole or not at all, and no file needs a rename
        of its own. False, leaving nothing behind, when a folder turned up after all."""
        history = self._dirs().history
        tmp = f"{TMP_PREFIX}{view.name}.{os.getpid()}"
        try:
            os.mkdir(tmp, 0o755, dir_fd=history)
        except FileExistsError:  # left by a crashed process that had this pid
            safefs.remove(tmp, history)
            os.mkdir(tmp, 0o755, dir_fd=history)
        fd = safefs.open_dir(tmp, history)
        try:
            for v in view.versions:
                safefs.write_new(str(v.version), fd, content(v.sha256), _mode(v.executable))
            safefs.write_new("metadata.json", fd, metadata_bytes(view), 0o644)
            if view.latest is not None:
                os.symlink(f".history/{view.name}/{view.latest}", LINK, dir_fd=fd)
            os.rename(tmp, view.name, src_dir_fd=history, dst_dir_fd=history)
        except BaseException as exc:
            os.close(fd)
            with suppress(OSError):
                safefs.remove(tmp, history)
            if isinstance(exc, OSError) and exc.errno in TAKEN:
                return False
            raise
        try:
            self._place_link(view, fd)
        finally:
            os.close(fd)
        return True

    def _place_link(self, view: ToolView, folder: int) -> None:
        """Move the link made in the tool's new folder (open as ``folder``) into
        commands/ (replacing what is there), or let :meth:`_link` deal with a retired
        tool or a folder in the link's place."""
        if view.latest is not None:
            try:
                os.rename(LINK, view.name, src_dir_fd=folder, dst_dir_fd=self._dirs().root)
                return
            except IsADirectoryError:
                os.unlink(LINK, dir_fd=folder)
        self._link(view)

    def rebuild(self, views: list[ToolView], content: Callable[[str], bytes]) -> list[str]:
        """Rewrite every file that differs from the database and remove what it does not
        know; returns one line per thing fixed. Call under :meth:`locked`."""
        dirs = self._dirs()
        fixed = list(dirs.notes)
        known = {v.name for v in views}
        for parent, folder in ((dirs.root, self.root), (dirs.history, self.history)):
            for name in sorted(os.listdir(parent)):
                if name != ".history" and name not in known:
                    safefs.remove(name, parent)
                    fixed.append(f"removed {folder}/{name} (is not a known tool)")
        for view in views:
            fixed += self._rewrite(view, content, reread=True)
        return fixed

    def _rewrite(
        self, view: ToolView, content: Callable[[str], bytes], *, reread: bool
    ) -> list[str]:
        """One tool's version files, metadata.json and symlink; ``reread`` compares every
        file with the database (and removes strays) instead of trusting plain files."""
        folder = f"{self.history}/{view.name}"
        fixed: list[str] = []
        fd = safefs.ensure_dir(view.name, self._dirs().history, _noting(fixed, folder))
        try:
            if reread:
                for name in _stray_names(view, os.listdir(fd)):
                    safefs.remove(name, fd)
                    fixed.append(f"removed {folder}/{name} (is not a version)")
            trusted = set() if reread else _plain_files(fd)
            trusted.discard(str(view.versions[-1].version) if view.versions else "")
            for v in view.versions:
                name = str(v.version)
                if name in trusted:
                    continue
                data = content(v.sha256)
                if not _same_file(name, fd, data, v.executable):
                    safefs.put_file(name, fd, data, _mode(v.executable))
                    fixed.append(f"wrote {folder}/{name}")
            meta = metadata_bytes(view)
            if not _same_bytes("metadata.json", meta, fd):
                safefs.put_file("metadata.json", fd, meta, 0o644)
                fixed.append(f"wrote {folder}/metadata.json")
        finally:
            os.close(fd)
        if self._link(view):
            fixed.append(f"linked {self.root}/{view.name}")
        return fixed

    def _link(self, view: ToolView) -> bool:
        """Point commands/<name> at the latest (or remove it); True when it changed."""
        root = self._dirs().root
        if view.latest is None:
            try:
                os.stat(view.name, dir_fd=root, follow_symlinks=False)
            except FileNotFoundError:
                return False
            safefs.remove(view.name, root)
            return True
        target = f".history/{view.name}/{view.latest}"
        with suppress(OSError):  # absent, or not a link
            if os.readlink(view.name, dir_fd=root) == target:
                return False
        safefs.put_link(view.name, root, target)
        return True

    def runnable(self, name: str, version: int, sha256: str) -> Path | None:
        """The path of a version's file if it can be run as it is: reached without a link,
        a plain file with its owner's execute bit and no set-id bit, holding the content
        with ``sha256``; else None (``run`` then runs a private copy)."""
        fds: list[int] = []
        try:
            fds.append(os.open(self.home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
            for folder in ("commands", ".history", name):
                fds.append(safefs.open_dir(folder, fds[-1]))
            fds.append(os.open(str(version), safefs.READ_FLAGS, dir_fd=fds[-1]))
            info = os.fstat(fds[-1])
            if not stat.S_ISREG(info.st_mode) or info.st_mode & RUNNABLE != stat.S_IXUSR:
                return None
            data = os.read(fds[-1], info.st_size + 1)
        except OSError:
            return None
        finally:
            for fd in fds:
                os.close(fd)
        if hashlib.sha256(data).hexdigest() != sha256:
            return None
        return self.history / name / str(version)

    # -- checks (verify) ----------------------------------------------------------------

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
        it; any other is hashed. Nothing is looked at through a link."""
        problems: list[Problem] = []
        strays: list[Stray] = []
        root, history = self._open_for_reading()
        try:
            for view in views:
                folder = f"{self.history}/{view.name}"
                # its files are opened relative to it: one path step each, not eight
                fd = safefs.try_open_dir(view.name, history)
                try:
                    problems += self._check_tool(view, contents or {}, folder, fd, root)
                    strays += _folder_strays(view, folder, fd, history)
                finally:
                    if fd >= 0:
                        os.close(fd)
        finally:
            for fd in (root, history):
                if fd >= 0:
                    os.close(fd)
        return problems, strays

    def top_strays(self, known: Collection[str]) -> list[Stray]:
        """Entries of commands/ and commands/.history that are no known tool, and a link
        or a file where either folder should be."""
        return [
            (key, Problem("stray", None, None, f"{path} {reason}"))
            for key, path, reason in self._top_paths(known)
        ]

    # -- internals ---------------------------------------------------------------

    def _open_for_reading(self) -> tuple[int, int]:
        """commands/ and commands/.history, opened without following a link; -1 for
        each that is not a folder."""
        try:
            home = os.open(self.home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return -1, -1
        try:
            root = safefs.try_open_dir("commands", home)
        finally:
            os.close(home)
        return root, safefs.try_open_dir(".history", root)

    def _check_tool(
        self, view: ToolView, contents: Mapping[str, bytes], folder: str, fd: int, root: int
    ) -> list[Problem]:
        """One tool's files (in ``folder``, open as ``fd``; -1 when it cannot be), its
        metadata.json and its symlink (in commands/, open as ``root``) (plain os calls:
        verify runs this for every tool, and pathlib's objects cost more than the checks)."""
        problems: list[Problem] = []
        for v in view.versions:
            problem = _file_problem(folder, fd, v, contents.get(v.sha256))
            if problem:
                problems.append(Problem(problem[0], view.name, v.version, problem[1]))
        meta = f"{folder}/metadata.json"
        if fd < 0 or not _same_bytes("metadata.json", metadata_bytes(view), fd):
            problems.append(Problem("metadata", view.name, None, f"{meta} differs"))
        want = None if view.latest is None else f".history/{view.name}/{view.latest}"
        have: str | None = None
        if root >= 0:
            with suppress(OSError):  # absent, or not a symlink
                have = os.readlink(view.name, dir_fd=root)
        if want != have:
            link = f"{self.root}/{view.name}"
            there = have is not None or _exists(view.name, root)
            detail = _link_detail(link, want, have, view.lifecycle, there)
            problems.append(Problem("symlink", view.name, view.latest, detail))
        return problems

    def _top_paths(self, known: Collection[str]) -> list[tuple[StrayKey, str, str]]:
        """commands/ entries, then .history entries, that are no known tool; or a link
        or a file where either folder should be (and nothing looked at behind it)."""
        root, history = self._open_for_reading()
        try:
            if root < 0:
                return _not_a_folder((0, "", ""), self.root, self.home)
            found = [
                ((0, name, ""), f"{self.root}/{name}", NOT_KNOWN)
                for name in os.listdir(root)
                if name != ".history" and name not in known
            ]
            if history < 0:
                return found + _not_a_folder((1, "", ""), self.history, root)
            return found + [
                ((1, name, ""), f"{self.history}/{name}", NOT_KNOWN)
                for name in os.listdir(history)
                if name not in known
            ]
        finally:
            for fd in (root, history):
                if fd >= 0:
                    os.close(fd)


NOT_KNOWN = "is not a known tool"
# run execs a version file only with its owner's x bit and without a set-id bit.
RUNNABLE = stat.S_IXUSR | stat.S_ISUID | stat.S_ISGID


@contextmanager
def _named(path: Path) -> Iterator[None]:
    """An OSError about a name relative to a folder descriptor, told with its whole
    path (the user reads it in 'toolvault: error: …')."""
    try:
        yield
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _noting(lines: list[str], path: str | Path) -> Callable[[str], None]:
    """Where :func:`safefs.ensure_dir` says what it removed at ``path``."""
    return lambda what: lines.append(f"removed {path} ({what})")


def _not_a_folder(key: StrayKey, path: Path, parent: Path | int) -> list[tuple[StrayKey, str, str]]:
    """A link or a file where one of the tree's folders should be (nothing there is no
    stray: the files it should hold are reported missing). ``parent`` is the folder
    above it, open or by path (the home, which may be a link: the user's choice)."""
    try:
        fd = parent if isinstance(parent, int) else os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return []
    try:
        found = safefs.what_is(path.name, fd)
    finally:
        if fd is not parent:
            os.close(fd)
    return [] if found is None else [(key, str(path), f"is {found} where a folder should be")]


def _folder_strays(view: ToolView, folder: str, fd: int, history: int) -> list[Stray]:
    """The strays in a tool's folder (open as ``fd``), or what is in its place."""
    if fd >= 0:
        return [
            ((1, view.name, name), Problem("stray", view.name, None, detail))
            for name, detail in _strays_in(folder, view, os.listdir(fd))
        ]
    found = safefs.what_is(view.name, history) if history >= 0 else None
    if found is None:  # absent: its files are reported missing
        return []
    detail = f"{folder} is {found} where a folder should be"
    return [((1, view.name, ""), Problem("stray", view.name, None, detail))]


def _mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


def _plain_files(fd: int) -> set[str]:
    """The names of the regular files in a folder (no stat each: the entry's type)."""
    with os.scandir(fd) as entries:
        return {e.name for e in entries if e.is_file(follow_symlinks=False)}


def _exists(name: str, parent: int) -> bool:
    if parent < 0:
        return False
    try:
        os.stat(name, dir_fd=parent, follow_symlinks=False)
    except OSError:
        return False
    return True


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


def _same_bytes(name: str, data: bytes, dir_fd: int) -> bool:
    """Whether the file ``name`` in ``dir_fd`` holds exactly ``data`` (plain os calls:
    verify reads every metadata.json this way, and a file object costs more than the
    read). A link is not followed, and a FIFO does not block."""
    try:
        fd = os.open(name, safefs.READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        return os.read(fd, len(data) + 1) == data  # one byte more: a longer file differs
    except OSError:  # a folder where the file should be
        return False
    finally:
        os.close(fd)


def _same_file(name: str, dir_fd: int, data: bytes, executable: bool) -> bool:
    """Whether the version file ``name`` is a plain file holding ``data`` with exactly
    its mode (no set-id or sticky bit)."""
    try:
        fd = os.open(name, safefs.READ_FLAGS, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
            return False
        if stat.S_IMODE(info.st_mode) != _mode(executable):
            return False
        return os.read(fd, len(data) + 1) == data
    finally:
        os.close(fd)


def _link_detail(link: str, want: str | None, have: str | None, lifecycle: str, there: bool) -> str:
    if want is None:
        return f"{link} should not exist (tool is {lifecycle})"
    if have is None:
        return f"{link} is missing" + (" (not a symlink)" if there else "")
    return f"{link} points to {have}, expected {want}"


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
        fd = os.open(str(v.version), safefs.READ_FLAGS, dir_fd=folder_fd)
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
    # S_IMODE keeps the set-uid, set-gid and sticky bits: a version file has none
    mode, want = stat.S_IMODE(info.st_mode), _mode(v.executable)
    if mode != want:
        return ("mode", f"{folder}/{v.version} has mode {mode:o}, expected {want:o}")
    return None
