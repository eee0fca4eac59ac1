"""Rebuild a lost or damaged ``vault.db`` from the ``commands/`` tree
(``toolvault recover --from-tree``).

The tree keeps every version's content (``.history/<name>/<N>``) and, in each tool's
``metadata.json``, part of its record: number, sha256, size, executable, the chain
links, created_at, created_by and rollback_of of each version, and the tool's owner,
lifecycle and latest. That much comes back, numbers and hashes as they were; the
versions above a tool's ``latest`` were yanked (the reason is lost). What only the
database held does not come back: prompt, message, session, origin, references,
transforms, signatures, labels, yank reasons, lifecycle messages, trusted keys,
tokens and the old audit log (README, "Backups").

The tree is read relative to directory descriptors, never following a link, and is
checked against itself: a version whose file is missing, differs from its hash or
breaks the chain is reported and skipped with every later version of its tool. The
new database is built beside the old state in one transaction, through the vault's
own writes, and starts its audit log with one ``recover`` entry that says from what.
Only then is the old state (:data:`DERIVED`) moved -- never deleted -- into the
recovery's folder, the new database put in place and ``commands/`` written afresh.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolvault import spec as specs
from toolvault.checkpoints import FILE, Checkpoint, Sealer, write_newest
from toolvault.config import resolve_home
from toolvault.errors import (
    Conflict,
    DatabaseDamaged,
    IntegrityError,
    InvalidInput,
    NotFound,
    StoreError,
    ToolvaultError,
)
from toolvault.models import Problem, Tool, Version, Yank
from toolvault.signing import audit_record
from toolvault.store.base import Head, utcnow
from toolvault.store.sqlite import SQLiteStore
from toolvault.vault import Vault

# What a rebuild replaces, each moved (never deleted) into the recovery's folder: the
# database with its SQLite side files (a -wal left beside the new database would be
# applied to it), and the state derived from the database. New derived state kept in
# the home (a checkpoint file, say) is one more name here.
# checkpoint: the old log's signed head, which the new log (one 'recover' entry) cannot extend
DERIVED = ("vault.db", "vault.db-wal", "vault.db-shm", "vault.db-journal", "commands", FILE)
STAGED = "vault.db.rebuilt"  # the new database, built in the recovery's folder
YANK_REASON = "yanked before the database was lost (the reason was not recoverable)"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted in the tree must not wait for a writer
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
METADATA_LIMIT = 64 * 1024 * 1024
LIFECYCLES = ("active", "deprecated", "retired")
HEX64 = re.compile(r"[0-9a-f]{64}")
NONE = type(None)
ENTRY_TYPES: dict[str, tuple[type, ...]] = {
    "version": (int,),
    "hash": (str,),
    "size": (int,),
    "executable": (bool,),
    "created_at": (str,),
    "created_by": (str, NONE),
    "previous_version": (int, NONE),
    "previous_hash": (str, NONE),
    "rollback_of": (int, NONE),
}


@dataclass(slots=True)
class Recovery:
    """What ``recover --from-tree`` did."""

    home: str
    database: str  # what was wrong with the old vault.db
    kept: str  # the folder the old state was moved to
    tools: int = 0
    versions: int = 0
    yanked: int = 0
    skipped: list[Problem] = field(default_factory=list)
    checkpoint: Checkpoint | None = None  # the new log's signed head

    @property
    def ok(self) -> bool:
        """True when the whole tree came back."""
        return not self.skipped

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``recover --json``."""
        return {
            "ok": self.ok,
            "home": self.home,
            "database": self.database,
            "kept": self.kept,
            "recovered": {"tools": self.tools, "versions": self.versions, "yanked": self.yanked},
            "skipped": [p.to_dict() for p in self.skipped],
        }


@dataclass(frozen=True, slots=True)
class _Tool:
    """One tool as the tree gives it back: its chain with content, and its yanks."""

    name: str
    owner: str
    lifecycle: str
    versions: tuple[Version, ...]
    yanked: tuple[int, ...]


class _Skip(Exception):
    """One item of the tree that disagrees with the rest (kind, detail)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def recover_from_tree(home: str | os.PathLike[str] | None = None) -> Recovery:
    """Rebuild ``HOME/vault.db`` from ``HOME/commands/.history`` (see the module).

    Refuses a database that is sound and holds versions (:class:`Conflict`) and a home
    without a tree (:class:`NotFound`); writes nothing when it refuses or fails.
    """
    path = resolve_home(home)
    if os.environ.get("TOOLVAULT_DB"):
        raise InvalidInput(
            "recover --from-tree rebuilds HOME/vault.db, and this vault is in PostgreSQL "
            "(TOOLVAULT_DB): restore it from a pg_dump with pg_restore instead"
        )
    with _tree(path) as history, _locked(path):
        database = _replaceable(path)  # before anything is made or moved
        kept = _new_folder(path)
        report = Recovery(str(path), database, str(kept))
        try:
            _rebuild(path, kept / STAGED, history, report)
        except BaseException:
            _discard(kept)
            raise
        _move_aside(path, kept)
        os.rename(kept / STAGED, path / "vault.db")
        if report.checkpoint is not None:  # the new head, now that the old one is aside
            write_newest(path / FILE, report.checkpoint)
    with Vault.open(path, create=False) as vault:
        vault.sync()  # commands/ written afresh from the new database
    return report


# -- the old state --------------------------------------------------------------------


def _replaceable(home: Path) -> str:
    """What is wrong with ``vault.db`` (why it may be replaced); :class:`Conflict` when
    it is a sound toolvault database that holds versions."""
    file = home / "vault.db"
    if not os.path.lexists(file):
        return f"{file} was missing"
    try:
        store = SQLiteStore.open(file, migrate=False, init=False)
    except (DatabaseDamaged, StoreError) as exc:
        return str(exc)
    except sqlite3.DatabaseError as exc:
        return f"{file} is damaged ({exc})"
    try:
        check = store.integrity_check()
        versions = sum(t.versions for t in store.tools()) if check == ["ok"] else 0
    except (StoreError, sqlite3.DatabaseError) as exc:
        return f"{file} is damaged ({exc})"
    finally:
        store.close()
    if check != ["ok"]:
        return f"{file} is damaged (integrity check: {'; '.join(check[:3])})"
    if versions:
        raise Conflict(
            f"{file} is a sound toolvault database with {versions} version(s); recover "
            "rebuilds only a lost or damaged one and never replaces one that works "
            "(to rebuild anyway, move it somewhere safe first)"
        )
    return f"{file} held no versions"


def _new_folder(home: Path) -> Path:
    """A new folder of the home for this recovery's old state and new database."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(100):
        folder = home / (f"recover-{stamp}" + (f"-{n}" if n else ""))
        try:
            os.mkdir(folder, 0o700)
            return folder
        except FileExistsError:
            continue
    raise Conflict(f"{home} already has 100 recover-{stamp}* folders; try again in a second")


def _discard(kept: Path) -> None:
    """Remove a recovery's folder that holds nothing but its own unfinished database."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        (kept / f"{STAGED}{suffix}").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        kept.rmdir()


def _move_aside(home: Path, kept: Path) -> None:
    """Move each piece of :data:`DERIVED` that is there into ``kept`` (a rename moves a
    link itself, never what it points to)."""
    for name in DERIVED:
        try:
            os.rename(home / name, kept / name)
        except FileNotFoundError:
            continue


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Hold the tree writers' lock (``CommandsTree.locked``) while the old state moves."""
    with open(home / ".commands.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _tree(home: Path) -> Iterator[int]:
    """``commands/.history`` open as a directory descriptor, never through a link."""
    fds: list[int] = []
    where = home / "commands" / ".history"
    try:
        fds.append(os.open(home / "commands", DIR_FLAGS))
        fds.append(os.open(".history", DIR_FLAGS, dir_fd=fds[0]))
    except OSError as exc:
        for fd in fds:
            os.close(fd)
        raise NotFound(
            f"no tree to recover from: {where} cannot be read as a folder ({exc.strerror}; "
            "a link there is not followed); restore a backup of vault.db instead"
        ) from None
    try:
        yield fds[-1]
    finally:
        for fd in fds:
            os.close(fd)


# -- the rebuild ------------------------------------------------------------------------


def _rebuild(home: Path, staged: Path, history: int, report: Recovery) -> None:
    """Build the new database at ``staged``, in one transaction, through the vault."""
    vault = Vault(home, SQLiteStore.open(staged, init=True), materialize=False)
    vault.store.sealer = _Unfiled(vault.sealer, report)
    try:
        now = utcnow()
        reader = _Reader(history, str(home / "commands" / ".history"), vault, now)
        added: list[dict[str, Any]] = []
        states: dict[str, dict[str, str]] = {}
        yanks: list[Yank] = []
        with vault.store.write():
            for tool in reader.tools():
                yanks += _store(vault, tool, now)
                added += [
                    {"name": v.name, "version": v.version, **audit_record(v)} for v in tool.versions
                ]
                states[tool.name] = {"owner": tool.owner, "lifecycle": tool.lifecycle}
            report.skipped = reader.skipped
            if not added:
                raise IntegrityError(_nothing(reader.skipped))
            details = _details(home, report, added, states, yanks)
            # at the time the rows carry (tools' created_at, versions' recorded_at)
            vault.store.append_audit(now, vault.actor, "recover", None, None, details)
    finally:
        vault.close()
    if os.path.lexists(f"{staged}-wal"):  # closing checkpoints it: the file must stand alone
        raise StoreError(f"{staged} kept a write-ahead log after closing; nothing was replaced")
    report.tools, report.versions, report.yanked = len(states), len(added), len(yanks)


class _Unfiled:
    """The rebuild's sealer: signs the new head in the rebuild's transaction (with the
    home's vault key), and leaves ``HOME/checkpoint`` to be written once the old one has
    moved aside."""

    def __init__(self, sealer: Sealer, report: Recovery) -> None:
        self.sealer, self.report = sealer, report

    def seal(self, store: Any, head: Head) -> Checkpoint:
        return self.sealer.seal(store, head)

    def sealed(self, checkpoint: Checkpoint) -> None:
        self.report.checkpoint = checkpoint


def _store(vault: Vault, tool: _Tool, now: str) -> list[Yank]:
    """One tool's rows, exactly as the tree gives them; returns its yanks."""
    versions = tool.versions
    vault.store.restore_tool(
        Tool(tool.name, tool.owner, tool.lifecycle, None, len(versions), now, now)
    )
    vault.store.put_blobs((v.sha256, v.content or b"") for v in versions)
    vault.store.insert_versions(versions)
    yanks = [Yank(tool.name, n, YANK_REASON, now, vault.actor) for n in tool.yanked]
    for y in yanks:
        vault.store.yank(y)
    return yanks


def _details(
    home: Path,
    report: Recovery,
    added: list[dict[str, Any]],
    states: dict[str, dict[str, str]],
    yanks: list[Yank],
) -> dict[str, Any]:
    """The one audit entry of a recovery: from what, what was wrong, what came back
    (with the digests verify holds the versions to) and what was skipped."""
    return {
        "from": "tree",
        "source": str(home / "commands" / ".history"),
        "database": report.database,
        "kept": report.kept,
        "added": added,
        "tools": states,
        "yanks": [y.to_dict() for y in yanks],
        "skipped": [p.to_dict() for p in report.skipped],
    }


def _nothing(skipped: list[Problem]) -> str:
    first = "; ".join(f"{p.name}: {p.detail}" for p in skipped[:3])
    return (
        "nothing in the tree could be recovered"
        + (f" ({len(skipped)} item(s) skipped: {first})" if skipped else " (it holds no tool)")
        + "; nothing was changed"
    )


# -- reading the tree -----------------------------------------------------------------------


class _Reader:
    """Reads ``commands/.history`` relative to directory descriptors, never following
    a link, and gathers what it has to skip."""

    def __init__(self, history: int, where: str, vault: Vault, now: str) -> None:
        self.history, self.where, self.vault, self.now = history, where, vault, now
        self.skipped: list[Problem] = []

    def skip(self, kind: str, name: str | None, version: int | None, detail: str) -> None:
        """Report one item that does not come back."""
        self.skipped.append(Problem(kind, name, version, detail))

    def tools(self) -> Iterator[_Tool]:
        """Each tool that comes back (with at least its first version), by name."""
        for name in sorted(os.listdir(self.history)):
            if name.startswith("."):
                self.skip("stray", None, None, f"{self.where}/{name}: left by an interrupted write")
                continue
            tool = self._tool(name)
            if tool is not None:
                yield tool

    def _tool(self, name: str) -> _Tool | None:
        folder = f"{self.where}/{name}"
        try:
            specs.validate_name(name)
            fd = os.open(name, DIR_FLAGS, dir_fd=self.history)
        except (ToolvaultError, OSError) as exc:
            self.skip("tool", name, None, f"{folder} is not a tool's folder ({_why(exc)})")
            return None
        try:
            doc = _metadata(fd, name)
            versions = self._chain(name, folder, fd, doc)
            self._strays(name, folder, fd, doc)
        except _Skip as exc:
            self.skip(exc.kind, name, None, f"{folder}/metadata.json: {exc.detail}")
            return None
        finally:
            os.close(fd)
        if not versions:
            return None
        return _Tool(name, doc["owner"], doc["lifecycle"], tuple(versions), _yanked(doc, versions))

    def _chain(self, name: str, folder: str, fd: int, doc: dict[str, Any]) -> list[Version]:
        """The versions from 1 on, up to the first that disagrees with the rest; it and
        every later one are reported."""
        entries = sorted(doc["versions"], key=lambda e: e["version"])
        kept: list[Version] = []
        for i, entry in enumerate(entries):
            try:
                kept.append(self._version(name, folder, fd, doc["owner"], entry, kept))
            except _Skip as exc:
                self.skip(exc.kind, name, entry["version"], exc.detail)
                for later in entries[i + 1 :]:
                    detail = f"skipped with the rest of the chain after version {entry['version']}"
                    self.skip("chain", name, later["version"], detail)
                break
        return kept

    def _version(
        self, name: str, folder: str, fd: int, owner: str, e: dict[str, Any], kept: list[Version]
    ) -> Version:
        """The next version of the chain, from its entry and its file."""
        number = len(kept) + 1
        _check_link(e, number, kept[-1] if kept else None)
        data = self._content(name, fd, e, f"{folder}/{number}")
        return Version(
            name=name,
            version=number,
            sha256=e["hash"],
            size=len(data),
            executable=e["executable"],
            previous_version=e["previous_version"],
            previous_sha256=e["previous_hash"],
            created_at=e["created_at"],
            recorded_at=self.now,  # this database stores it now
            created_by=e["created_by"],
            owner=owner,  # the tool's: metadata.json keeps no owner per version
            rollback_of=e["rollback_of"],
            content=data,
        )

    def _content(self, name: str, fd: int, e: dict[str, Any], path: str) -> bytes:
        """A version's file, if it holds what metadata.json says and is a tool's text."""
        limit = self.vault.config.max_tool_size
        if e["size"] > limit:
            raise _Skip(
                "content",
                f"{path} is {e['size']:,} bytes; the limit is {limit:,} (raise max_tool_size "
                "in config.toml to recover it)",
            )
        data = _read(fd, str(e["version"]), limit + 1, path)
        if len(data) != e["size"] or hashlib.sha256(data).hexdigest() != e["hash"]:
            detail = f"{path} does not match its sha256 {e['hash'][:12]}… in metadata.json"
            raise _Skip("altered", detail)
        try:
            self.vault.check_content(name, data, path)
        except ToolvaultError as exc:
            raise _Skip("content", str(exc)) from None
        return data

    def _strays(self, name: str, folder: str, fd: int, doc: dict[str, Any]) -> None:
        """Files of the folder that are neither metadata.json nor a listed version."""
        listed = {str(e["version"]) for e in doc["versions"]} | {"metadata.json"}
        for entry in sorted(set(os.listdir(fd)) - listed):
            self.skip("stray", name, None, f"{folder}/{entry} is not a version metadata.json lists")


def _check_link(e: dict[str, Any], number: int, prev: Version | None) -> None:
    """An entry is the next number, links to the version before it, and rolls back to
    an earlier one, if any."""
    if e["version"] != number:
        missing = "listed twice" if e["version"] < number else f"version {number} is missing"
        raise _Skip("chain", f"metadata.json breaks the chain: {missing}")
    link = (prev.version, prev.sha256) if prev else (None, None)
    if (e["previous_version"], e["previous_hash"]) != link:
        raise _Skip("chain", "its link to the version before it does not match that version")
    if e["rollback_of"] is not None and not 0 < e["rollback_of"] < number:
        raise _Skip("metadata", f"rollback_of {e['rollback_of']} is not an earlier version")


def _metadata(fd: int, name: str) -> dict[str, Any]:
    """A tool's metadata.json, checked for the shape toolvault writes."""
    data = _read(fd, "metadata.json", METADATA_LIMIT, "metadata.json")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise _Skip("metadata", f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != 1 or doc.get("tool") != name:
        raise _Skip("metadata", f"not the metadata (format 1) of tool '{name}'")
    if not isinstance(doc.get("owner"), str) or not doc["owner"]:
        raise _Skip("metadata", "it names no owner")
    if doc.get("lifecycle") not in LIFECYCLES:
        raise _Skip(
            "metadata", f"lifecycle {doc.get('lifecycle')!r} is not one of {', '.join(LIFECYCLES)}"
        )
    if type(doc.get("latest")) not in (int, NONE) or not isinstance(doc.get("versions"), list):
        raise _Skip("metadata", "latest or versions is not what toolvault writes")
    for entry in doc["versions"]:
        _check_entry(entry)
    return doc


def _check_entry(entry: Any) -> None:
    """One version of metadata.json: every field there, each of its type (a bool is no
    number here), the hashes as 64 lowercase hex digits."""
    if not isinstance(entry, dict):
        raise _Skip("metadata", "a version entry is not an object")
    for key, kinds in ENTRY_TYPES.items():
        if type(entry.get(key, ...)) not in kinds:
            raise _Skip("metadata", f"a version's {key} is missing or not of the right type")
    hashes = [entry["hash"]] + ([entry["previous_hash"]] if entry["previous_hash"] else [])
    if not all(HEX64.fullmatch(h) for h in hashes) or entry["version"] < 1 or entry["size"] < 0:
        raise _Skip("metadata", f"version {entry['version']} has a malformed hash, number or size")


def _yanked(doc: dict[str, Any], versions: list[Version]) -> tuple[int, ...]:
    """The versions that must have been yanked: a tool that is not retired has as its
    latest the newest version not yanked, so every one above it was."""
    if doc["lifecycle"] == "retired":
        return ()
    latest = doc["latest"] or 0
    return tuple(v.version for v in versions if v.version > latest)


def _read(dir_fd: int, name: str, limit: int, where: str) -> bytes:
    """A regular file of a folder, at most ``limit`` bytes, opened without following a
    link (a link, FIFO, device or folder there is skipped, never read)."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _Skip("missing", f"{where} cannot be read ({_why(exc)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Skip("missing", f"{where} is not a regular file")
        chunks, size = [], 0
        while size < limit and (chunk := os.read(fd, min(1 << 20, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return "a link, which is not followed" if exc.errno == errno.ELOOP else str(exc.strerror)
    return str(exc)
