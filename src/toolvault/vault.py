"""The service: every operation of toolvault, over a store and the commands/ tree.

Front ends (CLI, HTTP daemon, library users) call these methods and render the
dataclasses they return. Nothing here knows about click or HTTP.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from toolvault import spec as specs
from toolvault.config import Config, resolve_home
from toolvault.errors import InvalidInput, InvalidSpec, NotFound, TooLarge, ToolvaultError
from toolvault.materialize import CommandsTree, ToolView
from toolvault.models import Diff, Migration, Problem, Published, Report, Tool, Version
from toolvault.spec import Kind, Spec
from toolvault.store.sqlite import SQLiteStore, utcnow


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A request to publish ``content`` as the next version of ``name``.

    ``source`` names where the content came from, for error messages only.
    """

    name: str
    content: bytes
    executable: bool | None = None
    source: str | None = None
    owner: str | None = None
    origin: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    session_id: str | None = None
    prompt: str | None = None
    message: str | None = None
    references: Sequence[str] = ()
    transforms: Sequence[str] = ()
    rollback_of: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Vault:
    """A versioned tool vault in a home folder: ``vault.db`` plus ``commands/``."""

    def __init__(self, home: Path, store: SQLiteStore) -> None:
        self.home = home
        self.store = store
        self.tree = CommandsTree(home)
        self._config: Config | None = None

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        home: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        migrate: bool = True,
    ) -> Vault:
        """Open the vault in ``home`` (default ``$TOOLVAULT_HOME`` or ``~/.toolvault``).

        Pending schema migrations are applied here, once, and nowhere else.
        With ``create=False`` a missing vault is :class:`NotFound` instead of created;
        ``migrate=False`` (for ``db status``) leaves pending migrations pending.
        """
        path = resolve_home(home)
        db = path / "vault.db"
        if not db.exists():
            if not create:
                raise NotFound(
                    f"no vault at {path}; run 'toolvault init' to create one, "
                    "or point --home / TOOLVAULT_HOME at an existing one"
                )
            if path.exists() and not path.is_dir():
                raise InvalidInput(f"{path} is not a folder; choose another --home")
            (path / "commands" / ".history").mkdir(parents=True, exist_ok=True)
        return cls(path, SQLiteStore.open(db, migrate=migrate))

    def close(self) -> None:
        """Close the database connection."""
        self.store.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def config(self) -> Config:
        """Settings from ``config.toml``, read on first use."""
        if self._config is None:
            self._config = Config.load(self.home)
        return self._config

    # -- reads ------------------------------------------------------------------------

    def get(self, spec: str | Spec, *, content: bool = False) -> Version:
        """The version a spec names (SPEC §2); ``content=True`` reads its bytes too."""
        parsed = specs.parse(spec) if isinstance(spec, str) else spec
        if parsed.kind is Kind.VERSIONS:
            raise InvalidSpec(
                f"'{parsed}' names the version listing, not one version; "
                f"use 'toolvault versions {parsed.name}' or 'toolvault cat {parsed}'"
            )
        found = self._find(parsed, content)
        if found is None:
            raise NotFound(self._missing(parsed))
        return found

    def cat(self, spec: str | Spec) -> Version:
        """The version a spec names, with its content."""
        return self.get(spec, content=True)

    def tool(self, name: str) -> Tool:
        """A tool's summary, or :class:`NotFound` naming similar tools."""
        found = self.store.tool(specs.parse_name(name))
        if found is None:
            raise NotFound(self._no_tool(name))
        return found

    def tools(self) -> list[Tool]:
        """Every tool, by name."""
        return self.store.tools()

    def versions(self, name: str) -> list[Version]:
        """Every version of a tool, oldest first."""
        name = specs.parse_name(name)
        found = self.store.versions(name)
        if not found:
            raise NotFound(self._no_tool(name))
        return found

    def all_versions(self) -> list[Version]:
        """Every version of every tool."""
        return list(self.store.all_versions())

    def diff(self, old: str | Spec, new: str | Spec | None = None, context: int = 3) -> Diff:
        """Unified diff from ``old`` to ``new``; with one spec, from its previous version."""
        import difflib

        if new is None:
            newer = self.cat(old)
            prev = newer.previous_version
            older = self.cat(Spec(newer.name, Kind.NUMBER, prev)) if prev else _empty(newer)
        else:
            older, newer = self.cat(old), self.cat(new)
        lines = difflib.unified_diff(
            older.text.splitlines(keepends=True),
            newer.text.splitlines(keepends=True),
            fromfile=f"{older.name}:{older.version}" if older.version else "/dev/null",
            tofile=f"{newer.name}:{newer.version}",
            n=context,
        )
        return Diff(older, newer, tuple(_terminated(lines)))

    def runnable_path(self, version: Version) -> Path | None:
        """The version's file in ``commands/.history`` if it is intact, else None."""
        path = self.tree.history / version.name / str(version.version)
        try:
            if path.is_symlink() or not os.access(path, os.X_OK):
                return None
            data = path.read_bytes()
        except OSError:
            return None
        return path if hashlib.sha256(data).hexdigest() == version.sha256 else None

    def migrations(self) -> list[Migration]:
        """Every schema migration with its state. Writes nothing."""
        return self.store.migrations()

    # -- writes ---------------------------------------------------------------------------

    def publish(self, name: str, content: bytes, **fields: object) -> Published:
        """Publish ``content`` as the next version of ``name`` (SPEC §3)."""
        return self.publish_many([NewVersion(name, content, **fields)])[0]  # type: ignore[arg-type]

    def publish_many(self, items: Iterable[NewVersion]) -> list[Published]:
        """Publish several contents in one transaction: all of them or, on error, none."""
        checked = [self._check(item) for item in items]
        if not checked:
            return []
        now = utcnow()
        with self.store.write():
            results = [self._insert(item, now) for item in checked]
        self._materialize({r.name for r in results if r.created})
        return results

    def rollback(
        self, name: str, version: int, *, message: str | None = None, created_by: str | None = None
    ) -> Published:
        """Publish version ``version``'s content again as a new version (SPEC §3)."""
        old = self.cat(Spec(specs.parse_name(name), Kind.NUMBER, version))
        assert old.content is not None
        return self.publish_many(
            [
                NewVersion(
                    old.name,
                    old.content,
                    executable=old.executable,
                    origin=f"rollback:{old.ref}",
                    created_by=created_by,
                    message=message or f"rollback to version {version}",
                    rollback_of=version,
                    references=(old.ref,),
                )
            ]
        )[0]

    def sync(self) -> list[str]:
        """Rebuild ``commands/`` from the database; returns what it had to fix."""
        with self.tree.locked():
            return self.tree.rebuild(self._views(), self._blob)

    # -- verify -------------------------------------------------------------------------------

    def verify(self, names: Sequence[str] = ()) -> Report:
        """Recompute hashes and chains and compare the tree; report every problem."""
        wanted = {specs.parse_name(n) for n in names}
        for name in wanted:
            self.tool(name)
        with self.store.snapshot():
            versions = [v for v in self.store.all_versions() if not wanted or v.name in wanted]
            shas = {v.sha256 for v in versions}
            blobs = {
                s: (size, data) for s, size, data in self.store.blobs() if not wanted or s in shas
            }
            views = [v for v in self._views() if not wanted or v.name in wanted]
        problems = _blob_problems(blobs) + _chain_problems(versions, blobs)
        tree = self.tree.check(views)
        if wanted:
            tree = [p for p in tree if p.name in wanted]
        checked = {
            "tools": len(views),
            "versions": len(versions),
            "blobs": len(blobs),
            "files": len(versions) + len(views),
        }
        return Report(checked, tuple(problems + tree))

    # -- internals ----------------------------------------------------------------------------

    def _find(self, s: Spec, content: bool) -> Version | None:
        back = s.back
        if back is not None:
            return self.store.back(s.name, back, content)
        if s.kind is Kind.NUMBER:
            assert isinstance(s.value, int)
            found = self.store.version(s.name, s.value, content)
            if found and s.sha256 and not found.sha256.startswith(s.sha256):
                raise NotFound(
                    f"{s.name}:{s.value} has sha256 {found.sha256}, not {s.sha256}; "
                    f"the reference '{s}' does not match this vault"
                )
            return found
        if s.kind is Kind.SHA:
            assert isinstance(s.value, str)
            matches = self.store.by_sha_prefix(s.name, s.value, content)
            if len({m.sha256 for m in matches}) > 1:
                raise InvalidSpec(
                    f"'{s}' is ambiguous: {len(matches)} versions of {s.name} have hashes "
                    "starting with it; give more hex digits"
                )
            return matches[0] if matches else None
        return None  # labels arrive with governance

    def _missing(self, s: Spec) -> str:
        tool = self.store.tool(s.name)
        if tool is None:
            return self._no_tool(s.name)
        have = f"tool '{s.name}' has versions 1..{tool.latest_version}"
        if tool.latest_version == 1:
            have = f"tool '{s.name}' has only version 1"
        if s.kind is Kind.NUMBER:
            return f"{have}; there is no version {s.value}"
        if s.kind is Kind.SHA:
            return f"{have}; none has a sha256 starting with {s.value}"
        if s.kind is Kind.LABEL:
            return f"tool '{s.name}' has no label '{s.value}'"
        return f"{have}; there is no version {s.back} before the latest"

    def _no_tool(self, name: str) -> str:
        import difflib

        names = [t.name for t in self.store.tools()]
        close = difflib.get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; 'toolvault ls' lists tools"
        return f"no tool named '{name}'{hint}"

    def _check(self, item: NewVersion) -> NewVersion:
        specs.validate_name(item.name)
        where = item.source or item.name
        data = item.content
        limit = self.config.max_tool_size
        if len(data) > limit:
            raise TooLarge(
                f"{where} is {len(data):,} bytes; the limit is {limit:,} "
                "(raise max_tool_size in config.toml for larger tools)"
            )
        nul = data.find(b"\0")
        if nul >= 0:
            raise InvalidInput(
                f"{where} is not a text tool: NUL byte at offset {nul} "
                "(tools are UTF-8 text; binaries are not supported)"
            )
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{where} is not UTF-8 text: invalid byte at offset {exc.start} "
                "(tools are UTF-8 text; binaries are not supported)"
            ) from None
        executable = item.executable or data.startswith(b"#!")
        refs = tuple(self._resolve_ref(r) for r in item.references)
        return replace(item, executable=executable, references=refs)

    def _resolve_ref(self, ref: str) -> str:
        try:
            return self.get(ref).ref
        except NotFound as exc:
            raise NotFound(f"reference '{ref}' does not resolve: {exc}") from None

    def _insert(self, item: NewVersion, now: str) -> Published:
        sha = hashlib.sha256(item.content).hexdigest()
        latest = self.store.back(item.name, 0)
        if latest is not None and latest.sha256 == sha:
            return Published(item.name, latest.version, sha, False)
        owner = self.store.tool_owner(item.name) or item.owner or self.config.owner
        self.store.ensure_tool(item.name, owner, now)
        self.store.put_blob(sha, item.content)
        number = latest.version + 1 if latest else 1
        self.store.insert_version(
            Version(
                name=item.name,
                version=number,
                sha256=sha,
                size=len(item.content),
                executable=bool(item.executable),
                previous_version=latest.version if latest else None,
                previous_sha256=latest.sha256 if latest else None,
                created_at=item.created_at or now,
                recorded_at=now,
                created_by=item.created_by or self.config.owner,
                owner=owner,
                origin=item.origin,
                session_id=item.session_id,
                prompt=item.prompt,
                message=item.message,
                references=tuple(item.references),
                transforms=tuple(item.transforms),
                rollback_of=item.rollback_of,
            )
        )
        return Published(item.name, number, sha, True)

    def _blob(self, sha256: str) -> bytes:
        data = self.store.blob(sha256)
        if data is None:
            raise NotFound(f"blob {sha256} is missing from the database; run 'toolvault verify'")
        return data

    def _views(self, names: Iterable[str] | None = None) -> list[ToolView]:
        if names is None:
            return [self._view(t) for t in self.store.tools()]
        found = (self.store.tool(n) for n in sorted(names))
        return [self._view(t) for t in found if t is not None]

    def _view(self, tool: Tool) -> ToolView:
        versions = tuple(self.store.entries(tool.name))
        latest = None if tool.lifecycle == "retired" else tool.latest_version
        return ToolView(tool.name, tool.owner, tool.lifecycle, latest, versions)

    def _materialize(self, names: set[str]) -> None:
        if not names:
            return
        try:
            with self.tree.locked():
                for view in self._views(names):
                    self.tree.update(view, self._blob)
        except OSError as exc:
            raise ToolvaultError(
                f"published, but could not update {self.tree.root}: {exc}; "
                "fix the cause and run 'toolvault sync'"
            ) from exc


def fetch_tool(
    conn: Vault | str | os.PathLike[str], name: str, version: int | None = None
) -> Version:
    """The PRD's call: the latest (``version=None``) or a given version, with content.

    ``conn`` is an open :class:`Vault` or the path of a vault's home folder.
    Raises :class:`NotFound` when the tool or version does not exist.
    """
    spec = Spec(specs.parse_name(name), Kind.NUMBER, version) if version else specs.parse(name)
    if version is not None and (not isinstance(version, int) or version < 1):
        raise InvalidSpec(f"version must be a whole number >= 1, not {version!r}")
    if isinstance(conn, Vault):
        return conn.cat(spec)
    with Vault.open(conn, create=False) as vault:
        return vault.cat(spec)


def _empty(like: Version) -> Version:
    return replace(like, version=0, sha256="", size=0, content=b"")


def _terminated(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _blob_problems(blobs: dict[str, tuple[int, bytes]]) -> list[Problem]:
    problems = []
    for sha, (size, data) in blobs.items():
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            problems.append(Problem("blob", None, None, f"blob {sha} hashes to {actual}"))
        elif size != len(data):
            detail = f"blob {sha} records {size} bytes but holds {len(data)}"
            problems.append(Problem("blob", None, None, detail))
    return problems


def _chain_problems(versions: list[Version], blobs: dict[str, tuple[int, bytes]]) -> list[Problem]:
    """Each tool's versions are 1..n, each linked to the one before by number and hash."""
    problems: list[Problem] = []
    prev: Version | None = None
    for v in versions:
        if prev is not None and prev.name != v.name:
            prev = None
        problems += [Problem("chain", v.name, v.version, d) for d in _link_problems(v, prev)]
        if v.sha256 not in blobs:
            problems.append(Problem("blob", v.name, v.version, f"content {v.sha256} is missing"))
        elif blobs[v.sha256][0] != v.size:
            detail = f"records size {v.size} but its content has {blobs[v.sha256][0]} bytes"
            problems.append(Problem("size", v.name, v.version, detail))
        prev = v
    return problems


def _link_problems(v: Version, prev: Version | None) -> list[str]:
    found = []
    expected = 1 if prev is None else prev.version + 1
    if v.version != expected:
        found.append(f"expected version {expected} here: versions are missing")
    have = (v.previous_version, v.previous_sha256)
    want = (prev.version, prev.sha256) if prev else (None, None)
    if have != want:
        found.append(
            f"previous is recorded as {have[0]}@{(have[1] or '-')[:12]}, "
            f"but the version before it is {want[0]}@{(want[1] or '-')[:12]}"
        )
    return found
