"""Reading a Port42 home (SPEC §8, ``migrate-legacy --port42-home``): its Tool
relations and the ``commands/`` entries no relation declares, as legacy items.

Every file is read as a regular file under a size limit, and each problem (a missing
or corrupt object, a dangling link, unreadable JSON) is one skipped line naming the
file. Planning and writing are :mod:`.shared`'s.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from toolvault.errors import InvalidInput
from toolvault.sources.legacy.shared import (
    Item,
    Source,
    digest,
    legacy_description,
    nonblank,
    parse_time,
)

HEX64 = re.compile(r"[0-9a-f]{64}")
UNKNOWN_AGENT = "port42"  # a Port42 item that names no agent was still made by Port42


def read_port42(home: str | os.PathLike[str]) -> Source:
    """The Tool relations and ``commands/`` symlinks of a Port42 home as items."""
    raw = str(home)
    root = Path(raw)
    if not root.is_dir():
        raise InvalidInput(f"{raw}: no such folder; --port42-home takes a Port42 home (~/.port42)")
    root = root.resolve()
    if not any((root / d).is_dir() for d in ("relations", "objects", "commands")):
        raise InvalidInput(
            f"{raw} is not a Port42 home: it has none of relations/, objects/, commands/"
        )
    reader = _Port42(root)
    reader.read_relations()
    reader.read_commands()
    return reader.source


class _Port42:
    """Reads one Port42 home; every problem is one line naming the file.

    Paths are plain strings (POSIX, as the commands/ tree is) and files are read with
    ``os`` calls: a home holds tens of thousands of small files, and pathlib's objects
    cost more than reading them.
    """

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.objects = f"{self.root}/objects"
        self.source = Source("port42", f"port42:{root}", "/")
        self.covered: set[tuple[str, str]] = set()  # (name, sha) that a relation declares
        self.meta: dict[str, dict[str, Any]] = {}
        self.others = 0

    # -- relations ---------------------------------------------------------------------

    def read_relations(self) -> None:
        """Every ``relations/relation-*.json`` of type Tool, as one item each."""
        folder = f"{self.root}/relations"
        names = sorted(
            n for n in _listing(folder) if n.startswith("relation-") and n.endswith(".json")
        )
        for name in names:
            item = self._relation(f"{folder}/{name}", f"relations/{name}")
            if item is not None:
                self.source.items.append(item)
                self.covered.add((item.source_name, item.sha256))
        if self.others:
            self.source.notes.append(f"{self.others} relation(s) of other types than Tool ignored")

    def _relation(self, path: str, where: str) -> Item | None:
        data = self._json(path, where, skip=True)
        if data is None:
            return None
        if data.get("type") != "Tool":
            self.others += 1
            return None
        props = data.get("properties")
        name = props.get("name") if isinstance(props, dict) else None
        if not isinstance(props, dict) or not isinstance(name, str) or not name:
            self._skip(f"{where}: a Tool relation without properties.name")
            return None
        found = self._content(props, where)
        if found is None:
            return None
        meta = self._metadata(found.sha256)
        when = self._when(data.get("created_at"), meta, where)
        if when is None:
            self._skip(f"{where}: no usable created_at, and no metadata time for its object")
            return None
        return self._item(name, found, when, where, props, meta)

    def _content(self, props: dict[str, Any], where: str) -> _Content | None:
        ident = props.get("executable_id")
        if isinstance(ident, str):
            return self._object(ident.strip().lower(), where)
        inline = props.get("executable")
        if isinstance(inline, str):  # early relations carried the code itself
            data = inline.encode("utf-8", "surrogatepass")
            return _Content(data, digest(data), False, 0.0)
        self._skip(f"{where}: a Tool relation without executable_id")
        return None

    def _item(
        self,
        name: str,
        found: _Content,
        when: datetime,
        where: str,
        props: dict[str, Any],
        meta: dict[str, Any],
    ) -> Item:
        """The one place a Port42 item is built: what a relation declares (``props``)
        wins over the object's metadata; a ``commands/`` entry has no relation (``{}``)."""
        described = legacy_description(
            nonblank(props.get("description")) or nonblank(meta.get("description"))
        )
        return Item(
            name=name,
            source_name=name,
            content=found.data,
            sha256=found.sha256,
            order=(when, found.sha256),
            origin=f"{self.source.location}/{where}",
            where=where,
            when=when,
            executable=found.executable,
            created_by=nonblank(props.get("agent")) or nonblank(meta.get("agent")) or UNKNOWN_AGENT,
            session_id=nonblank(props.get("memory_session")) or nonblank(meta.get("session")),
            prompt=nonblank(props.get("user_prompt")),
            description=described[0],
            message=described[1],
            transforms=_strings(props.get("transforms")),
            references=_references(props.get("references")),
        )

    # -- commands/ ---------------------------------------------------------------------

    def read_commands(self) -> None:
        """Content that only a ``commands/<name>`` entry reaches: updates with no relation."""
        folder = f"{self.root}/commands"
        objects = os.path.realpath(self.objects)  # once, not per entry
        for entry in sorted(_listing(folder)):
            if entry.startswith("."):
                continue
            item = self._command(f"{folder}/{entry}", entry, objects)
            if item is not None:
                self.source.items.append(item)

    def _command(self, path: str, name: str, objects: str) -> Item | None:
        where = f"commands/{name}"
        found = self._command_content(path, name, where, objects)
        if found is None:
            return None
        meta = self._metadata(found.sha256)
        when = self._when(meta.get("created") or meta.get("modified"), {}, where)
        if when is None:
            when = datetime.fromtimestamp(found.mtime, UTC)
            self.source.notes.append(
                f"{where}: no metadata time for its content; using the file's modification time"
            )
        return self._item(name, found, when, where, {}, meta)

    def _command_content(self, path: str, name: str, where: str, objects: str) -> _Content | None:
        """The content a ``commands/`` entry reaches, or None when a relation declares
        that content already (then it is not read again) or when it cannot be used."""
        if os.path.islink(path):
            target = os.readlink(path)
            real = os.path.realpath(path)
            if not os.path.exists(real):
                self._skip(f"{where}: dangling symlink to {target}")
                return None
            if real != objects and not real.startswith(objects + "/"):
                self._skip(f"{where}: symlink to {target}, outside objects/")
                return None
            sha = real[len(objects) + 1 :].replace("/", "")
            if (name, sha) in self.covered:
                return None  # a relation declares this content already
            return self._object(sha, where)
        if os.path.isfile(path):  # before symlinks, commands were plain files
            try:
                data, info = _read(path)
            except OSError as exc:
                self._skip(f"{where}: cannot be read ({exc.strerror})")
                return None
            self.source.files += 1
            found = _Content(data, digest(data), bool(info.st_mode & 0o111), info.st_mtime)
            return None if (name, found.sha256) in self.covered else found
        return None

    # -- objects, metadata, JSON -------------------------------------------------------

    def _object(self, sha: str, where: str) -> _Content | None:
        if not HEX64.fullmatch(sha):
            self._skip(f"{where}: {sha[:80]!r} is not an object id (64 hex digits)")
            return None
        try:
            data, info = _read(f"{self.objects}/{sha[:2]}/{sha[2:4]}/{sha[4:]}")
        except FileNotFoundError:
            self._skip(f"{where}: object {sha[:12]}… is missing (objects/{sha[:2]}/{sha[2:4]}/…)")
            return None
        except OSError as exc:
            self._skip(f"{where}: object {sha[:12]}… cannot be read: {exc.strerror}")
            return None
        self.source.files += 1
        actual = digest(data)
        if actual != sha:
            self._skip(
                f"{where}: object {sha[:12]}… is corrupt (its content hashes to {actual[:12]}…)"
            )
            return None
        return _Content(data, sha, bool(info.st_mode & 0o111), info.st_mtime)

    def _metadata(self, sha: str) -> dict[str, Any]:
        found = self.meta.get(sha)
        if found is None:
            path = f"{self.root}/metadata/{sha}.json"
            found = self.meta[sha] = self._json(path, f"metadata/{sha}.json", skip=False) or {}
        return found

    def _json(self, path: str, where: str, *, skip: bool) -> dict[str, Any] | None:
        """A JSON object from a file; a metadata file (``skip=False``) that does not
        exist is no problem, anything else unusable is reported."""
        try:
            data = json.loads(_read(path)[0])
            self.source.files += 1
        except FileNotFoundError as exc:
            if not skip:
                return None
            problem = f"{where}: unreadable JSON ({exc.strerror})"
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            problem = f"{where}: unreadable JSON ({reason})"
        except RecursionError:
            problem = f"{where}: unreadable JSON (nested too deeply)"
        else:
            if isinstance(data, dict):
                return data
            problem = f"{where}: not a JSON object"
        if skip:
            self._skip(problem)
        else:
            self.source.notes.append(f"{problem}; not used")
        return None

    def _when(self, value: object, meta: dict[str, Any], where: str) -> datetime | None:
        for candidate in (value, meta.get("created")):
            try:
                found = parse_time(candidate)
            except ValueError:
                self.source.notes.append(f"{where}: {candidate!r} is not a time")
                continue
            if found is not None:
                return found
        return None

    def _skip(self, problem: str) -> None:
        self.source.skipped.append(problem)


class _Content(NamedTuple):
    """What a Port42 item's content is: the bytes, their hash, the execute bit and the
    file's modification time (0 for inline code)."""

    data: bytes
    sha256: str
    executable: bool
    mtime: float


def _listing(folder: str) -> list[str]:
    """The names in a folder; none when it is not one."""
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []


# The most bytes read of one file of a legacy store: far above any tool (the import
# refuses those over max_tool_size), low enough that no file can fill memory.
MAX_FILE = 64 * 1024 * 1024


def _read(path: str) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes and its status (see toolvault.sources.files); anything else
    (a device, a FIFO, a file over MAX_FILE) is an OSError, which the callers report
    as a file they skip."""
    import errno

    from toolvault.errors import TooLarge
    from toolvault.sources.files import NotRegularFile, read_regular

    try:
        return read_regular(path, MAX_FILE, hint="the most read of a legacy store's file")
    except NotRegularFile:
        raise OSError(errno.EINVAL, "not a regular file") from None
    except TooLarge:
        raise OSError(errno.EFBIG, f"over {MAX_FILE:,} bytes") from None


def _strings(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int | float) and str(v))
    return ()


def _references(value: object) -> tuple[str, ...]:
    """Port42 references: strings, or objects ``{type, target}`` written ``type:target``."""
    if not isinstance(value, list):
        return ()
    found = []
    for ref in value:
        if isinstance(ref, str) and ref.strip():
            found.append(ref.strip())
        elif isinstance(ref, dict) and isinstance(ref.get("target"), str):
            kind = ref.get("type")
            target = ref["target"].strip()
            found.append(f"{kind}:{target}" if isinstance(kind, str) and kind else target)
    return tuple(found)
