"""Migration of legacy, unversioned tool stores (SPEC §8): a Tools-DB and a Port42 home.

Three stages, so that a dry run is the real thing minus the writes:

1. **read** — a reader turns the source into candidate versions (:class:`Item`) and
   per-item problems, touching nothing but the source, which it only reads (SQLite
   through a ``mode=ro`` URI, files with plain reads);
2. **plan** — items are grouped by tool, ordered, checked against what earlier runs
   imported (an item is known by its origin and hash, so a second run adds nothing
   even for tools with many versions), numbered, and their references resolved —
   also to versions the same migration is about to create;
3. **apply** — the plan is written in one transaction, recorded as one ``import``
   entry of the audit log that lists every version it added.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from toolvault import spec as specs
from toolvault import validate
from toolvault.errors import Conflict, InvalidInput, ToolvaultError
from toolvault.spec import Kind, Spec
from toolvault.store.base import utcnow

if TYPE_CHECKING:
    from toolvault.models import Version
    from toolvault.vault import NewVersion, Vault

HEX64 = re.compile(r"[0-9a-f]{64}")
SUFFIX = re.compile(r"[A-Za-z0-9._-]+")
TOOLS_DB_COLUMNS = (
    "name",
    "code",
    "description",
    "created_at",
    "updated_at",
    "owner",
    "version",
    "signature",
)
DEFAULT_OWNER = "core"
UNKNOWN_AGENT = "port42"  # a Port42 item that names no agent was still made by Port42


@dataclass(slots=True)
class Item:
    """One version-to-be read from a legacy store."""

    name: str  # the vault tool it joins (after --fold)
    source_name: str  # its name in the legacy store
    content: bytes
    sha256: str
    order: tuple[Any, ...]  # sorts a tool's items: (time, hash) or (version, row)
    origin: str  # with sha256, how a later run recognises it as imported
    where: str  # the item's place, for messages
    when: datetime | None = None
    executable: bool = False
    owner: str | None = None
    created_by: str | None = None
    session_id: str | None = None
    prompt: str | None = None
    message: str | None = None
    transforms: tuple[str, ...] = ()
    references: tuple[str, ...] = ()  # as written in the source
    created_at: str | None = field(init=False, default=None)  # ``when`` in the vault's format

    def __post_init__(self) -> None:
        self.created_at = validate.format_time(self.when) if self.when else None


@dataclass(slots=True)
class Source:
    """What a reader found: candidate items, and what it could not use and why."""

    kind: str  # "tools-db" or "port42"
    location: str  # "tools-db:/abs/file" or "port42:/abs/home"
    separator: str  # between location and the rest of each origin
    items: list[Item] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0  # source files read

    @property
    def prefix(self) -> str:
        """What every origin of this source starts with."""
        return self.location + self.separator


@dataclass(frozen=True, slots=True)
class Planned:
    """An item with the version number it gets and its references as they will be stored."""

    item: Item
    version: int
    references: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of one added (or, in a dry run, planned) version."""
        it = self.item
        return {
            "name": it.name,
            "version": self.version,
            "sha256": it.sha256,
            "source_name": it.source_name,
            "created_at": it.created_at,
            "origin": it.origin,
            "references": list(self.references),
        }


@dataclass(slots=True)
class Plan:
    """What a migration would do to the vault as it is now."""

    new: list[Planned] = field(default_factory=list)
    already: list[Item] = field(default_factory=list)  # imported by an earlier run
    unchanged: list[tuple[Item, str]] = field(default_factory=list)  # (item, what it equals)


@dataclass(slots=True)
class Summary:
    """The outcome of ``migrate-legacy``; :meth:`to_dict` is its ``--json`` shape."""

    source: Source
    plan: Plan
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        src, plan = self.source, self.plan
        return {
            "source": src.location,
            "kind": src.kind,
            "dry_run": self.dry_run,
            "tools": len({p.item.name for p in plan.new}),
            "added": [p.to_dict() for p in plan.new],
            "already_imported": len(plan.already),
            "unchanged": [
                {"name": it.name, "origin": it.origin, "same_as": same}
                for it, same in plan.unchanged
            ],
            "skipped": src.skipped,
            "notes": src.notes,
            "items_read": len(src.items),
            "files_read": src.files,
        }


# -- entry points -------------------------------------------------------------------------


def migrate(vault: Vault, source: Source, *, dry_run: bool = False) -> Summary:
    """Check, plan and (unless ``dry_run``) import what a reader found."""
    _validate(vault, source)
    if dry_run:
        with vault.store.snapshot():
            return Summary(source, plan(vault, source), True)
    signer = vault.signer(None)
    with vault.store.write():
        planned = plan(vault, source)
        added = _append(vault, planned.new, utcnow(), signer)
        if added:
            vault.record_import(
                added,
                {v.name for v in added},
                source=source.location,
                legacy=source.kind,
                skipped=len(source.skipped),
            )
    vault.refresh_tree(
        {v.name for v in added}, {p.item.sha256: p.item.content for p in planned.new}
    )
    return Summary(source, planned, False)


def fold_names(source: Source, folds: Sequence[str]) -> None:
    """``--fold SUFFIX``: items of ``name-SUFFIX`` join ``name``'s chain."""
    check_folds(folds)
    for item in source.items:
        item.name = folded(item.source_name, folds)
        if item.name != item.source_name:  # the version keeps the name it had
            note = f"folded from {item.source_name}"
            item.message = f"{item.message} ({note})" if item.message else note


def check_folds(folds: Sequence[str]) -> None:
    """Refuse a ``--fold`` suffix that no tool name could end with."""
    for suffix in folds:
        if not SUFFIX.fullmatch(suffix):
            raise InvalidInput(
                f"--fold {suffix!r}: a suffix holds only letters, digits, '.', '_' and '-' "
                "(e.g. --fold enhanced folds NAME-enhanced into NAME)"
            )


def folded(name: str, folds: Sequence[str]) -> str:
    """The name after stripping every ``-SUFFIX`` (repeatedly, so ``a-x-x`` -> ``a``)."""
    changed = True
    while changed:
        changed = False
        for suffix in folds:
            tail = "-" + suffix
            if name.endswith(tail) and len(name) > len(tail):
                name, changed = name[: -len(tail)], True
    return name


# -- planning -----------------------------------------------------------------------------


def plan(vault: Vault, source: Source) -> Plan:
    """Number the items against the vault as it is now (call inside a transaction)."""
    known = {(origin, sha) for _, _, sha, origin in vault.store.origins(source.prefix)}
    existing = {t.name for t in vault.store.tools()}
    result = Plan()
    for name, items in _by_tool(source.items).items():
        fresh: list[Item] = []
        for item in _collapse(items, result):
            (result.already if (item.origin, item.sha256) in known else fresh).append(item)
        _number(vault, name if name in existing else None, fresh, result)
    resolver = _Resolver(vault, result.new)
    result.new = [replace(p, references=resolver.all(p)) if p.references else p for p in result.new]
    return result


def _by_tool(items: Iterable[Item]) -> dict[str, list[Item]]:
    groups: dict[str, list[Item]] = {}
    for item in items:
        groups.setdefault(item.name, []).append(item)
    return {name: sorted(group, key=lambda i: i.order) for name, group in sorted(groups.items())}


def _collapse(items: list[Item], result: Plan) -> list[Item]:
    """Drop an item whose content equals the one before it in the source's own order.

    Decided on the source alone, never on the vault, so every run drops the same ones.
    """
    kept: list[Item] = []
    for item in items:
        if kept and kept[-1].sha256 == item.sha256:
            result.unchanged.append((item, kept[-1].where))
        else:
            kept.append(item)
    return kept


def _number(vault: Vault, name: str | None, items: list[Item], result: Plan) -> None:
    """Versions after the tool's head (``name`` None: a new tool); content equal to the
    latest is no new version."""
    head = vault.store.newest(name) if name else None
    latest = vault.store.back(name, 0) if name else None
    number = head.version if head else 0
    previous = latest.sha256 if latest else None
    for item in items:
        if item.sha256 == previous:
            result.unchanged.append((item, f"{item.name}:{number}"))
            continue
        number += 1
        result.new.append(Planned(item, number, item.references))
        previous = item.sha256


class _Resolver:
    """Resolves references as written in the source to ``name:N@sha256:…`` where it can,
    also to versions this migration creates; what it cannot resolve stays as written."""

    def __init__(self, vault: Vault, planned: list[Planned]) -> None:
        self.vault = vault
        self.by_tool: dict[str, list[Planned]] = {}
        self.folds: dict[str, str] = {}
        for p in planned:
            self.by_tool.setdefault(p.item.name, []).append(p)
            self.folds[p.item.source_name] = p.item.name

    def all(self, p: Planned) -> tuple[str, ...]:
        """Every reference of ``p``, resolved where possible."""
        return tuple(self.one(ref, p) for ref in p.item.references)

    def one(self, written: str, p: Planned) -> str:
        """One reference, resolved or as written."""
        try:
            s = specs.parse(_spec_text(written))
        except ToolvaultError:
            return written  # a file, URL or search reference: kept as the source wrote it
        name = self.folds.get(s.name, s.name)
        ahead = [
            q
            for q in self.by_tool.get(name, [])
            if q.item.name != p.item.name or q.version < p.version
        ]
        found: Planned | None = None
        if s.kind is Kind.NUMBER and name == s.name:
            found = next((q for q in ahead if q.version == s.value), None)
            if found and s.sha256 and not found.item.sha256.startswith(s.sha256):
                return written
        elif s.kind in (Kind.DEFAULT, Kind.LATEST):
            found = self._latest_before(s.name, p, ahead)
        elif s.kind is Kind.SHA:
            assert isinstance(s.value, str)
            found = next((q for q in reversed(ahead) if q.item.sha256.startswith(s.value)), None)
        if found is not None:
            return specs.format_ref(found.item.name, found.version, found.item.sha256)
        return self._existing(s, written)

    def _latest_before(self, source_name: str, p: Planned, ahead: list[Planned]) -> Planned | None:
        """The newest version of that source name authored no later than ``p``."""
        mine = p.item.when
        fits = [
            q
            for q in ahead
            if q.item.source_name == source_name
            and (mine is None or q.item.when is None or q.item.when <= mine)
        ]
        return fits[-1] if fits else None

    def _existing(self, s: Spec, written: str) -> str:
        try:
            return self.vault.get(s).ref
        except ToolvaultError:
            return written


def _spec_text(written: str) -> str:
    """``tool:NAME`` (a Port42 tool reference) names a tool; every other form is a spec."""
    return written[5:] if written.startswith("tool:") else written


# -- applying -----------------------------------------------------------------------------


def _validate(vault: Vault, source: Source) -> None:
    """Run the vault's publish checks on every item: content that is no text tool is
    skipped, not fatal; metadata that breaks the rules of :mod:`toolvault.validate` (a
    control character in a prompt, an empty author) refuses the whole import, naming
    every such item, because importing the content without it would lose provenance."""
    kept = []
    for item in source.items:
        try:
            item.executable = vault.check_content(
                item.name, item.content, item.where, item.executable
            )
        except ToolvaultError as exc:
            source.skipped.append(f"{item.where}: {exc}")
            continue
        kept.append(item)
    source.items = kept
    _check_metadata(source)


def _check_metadata(source: Source) -> None:
    problems = []
    for item in source.items:
        try:
            validate.new_version(_new_version(item, item.references))
        except ToolvaultError as exc:
            problems.append(str(exc))
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise InvalidInput(
            f"{len(problems)} item(s) of {source.location} hold metadata that toolvault does not "
            f"store, so nothing was imported: {shown} (fix these fields in the source and run "
            "again)"
        )


def _new_version(item: Item, references: tuple[str, ...]) -> NewVersion:
    from toolvault.vault import NewVersion

    return NewVersion(
        item.name,
        item.content,
        executable=item.executable,
        source=item.where,
        owner=item.owner,
        origin=item.origin,
        created_by=item.created_by,
        created_at=item.created_at,
        session_id=item.session_id,
        prompt=item.prompt,
        message=item.message,
        references=references,
        transforms=item.transforms,
    )


def _append(vault: Vault, planned: list[Planned], now: str, signer: Any) -> list[Version]:
    """Every planned version, in one batch; each must get the number the plan gave it."""
    outcomes = vault.append_versions(
        [_new_version(p.item, p.references) for p in planned], now, signer, audit=False
    )
    added = []
    for p, (result, stored) in zip(planned, outcomes, strict=True):
        if stored is None or stored.version != p.version:
            raise Conflict(
                f"{p.item.name} changed while migrating (expected version {p.version}, "
                f"got {result.version}); nothing was written, run the migration again"
            )
        added.append(stored)
    return added


# -- time ---------------------------------------------------------------------------------


def parse_time(value: object) -> datetime | None:
    """A timestamp as legacy stores write them, in UTC; None when there is none.

    Accepts ISO 8601 (Go's nanoseconds too), SQLite's ``YYYY-MM-DD HH:MM:SS`` (UTC) and
    Unix seconds. Raises :class:`ValueError` for anything else (out-of-range numbers
    included).
    """
    try:
        return _parse_time(value)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"not a time: {value!r} ({exc})") from None


def _parse_time(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), UTC)
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _time_or_note(value: object, where: str, source: Source) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        source.notes.append(f"{where}: {value!r} is not a time; its authoring time is unknown")
        return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


# -- Tools-DB -----------------------------------------------------------------------------


def read_tools_db(path: str | os.PathLike[str], *, accept_mismatch: bool = False) -> Source:
    """Rows of a Tools-DB ``tools`` table (``name``, ``code``, maybe more) as items."""
    raw = str(path)
    file = Path(raw)
    if not file.is_file():
        raise InvalidInput(
            f"{raw}: no such file; --tools-db takes a SQLite database with a 'tools' table"
        )
    file = file.resolve()
    source = Source("tools-db", f"tools-db:{file}", "#", files=1)
    columns, rows = _tools_rows(file, raw)
    for row in rows:
        record = dict(zip(["_rowid", *columns], row, strict=True))
        item = _tools_item(record, source, accept_mismatch)
        if item is not None:
            source.items.append(item)
    return source


def _tools_rows(file: Path, raw: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns toolvault uses and every row, read through a read-only connection."""
    try:
        conn = sqlite3.connect(_read_only_uri(file, raw), uri=True)
    except sqlite3.Error as exc:
        raise InvalidInput(f"cannot open {raw} read-only: {exc}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        columns = _tools_columns(conn, raw)
        select = ", ".join(f'"{c}"' for c in columns.values())
        try:
            rows = conn.execute(f"SELECT rowid, {select} FROM tools ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:  # a WITHOUT ROWID table: number the rows by name
            found = conn.execute(f"SELECT {select} FROM tools ORDER BY 1").fetchall()
            rows = [(i, *r) for i, r in enumerate(found, 1)]
        return list(columns), rows
    except sqlite3.Error as exc:
        raise InvalidInput(f"cannot read {raw}: {exc}") from None
    finally:
        conn.close()


def _read_only_uri(file: Path, raw: str) -> str:
    """A ``mode=ro`` URI. A WAL database with no -wal file has all its content in the
    main file; it is opened ``immutable`` so that SQLite creates no -shm or -wal beside it."""
    with open(file, "rb") as fh:
        header = fh.read(100)
    if header[:16] != b"SQLite format 3\x00":
        raise InvalidInput(f"{raw} is not a SQLite database")
    uri = f"file:{urllib.parse.quote(str(file))}?mode=ro"
    wal = header[18:19] == b"\x02"
    if wal and not file.with_name(file.name + "-wal").exists():
        uri += "&immutable=1"
    return uri


def _tools_columns(conn: sqlite3.Connection, raw: str) -> dict[str, str]:
    """Known column (lower case) -> its name as declared; name and code are required."""
    info = conn.execute("PRAGMA table_info(tools)").fetchall()
    if not info:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        raise InvalidInput(
            f"{raw} has no 'tools' table (tables: {', '.join(tables) or 'none'}); "
            "--tools-db takes a database whose 'tools' table has 'name' and 'code' columns"
        )
    declared = {str(r[1]).lower(): str(r[1]) for r in info}
    missing = [c for c in ("name", "code") if c not in declared]
    if missing:
        raise InvalidInput(
            f"the 'tools' table of {raw} has no {' or '.join(repr(c) for c in missing)} column "
            f"(columns: {', '.join(declared.values())})"
        )
    return {c: declared[c] for c in TOOLS_DB_COLUMNS if c in declared}


def _tools_item(row: dict[str, Any], source: Source, accept_mismatch: bool) -> Item | None:
    rowid, name = row["_rowid"], row["name"]
    where = f"tools row {rowid}" + (f" ({name})" if isinstance(name, str) else "")
    content = _code_bytes(row["code"])
    if not isinstance(name, str) or not name:
        source.skipped.append(f"{where}: no tool name")
        return None
    if content is None:
        source.skipped.append(
            f"{where}: its code is {'NULL' if row['code'] is None else 'not text'}"
        )
        return None
    sha = _sha(content)
    if not _signature_ok(row.get("signature"), sha, where, source, accept_mismatch):
        return None
    owner = _text(row.get("owner")) or DEFAULT_OWNER
    when = _time_or_note(row.get("created_at"), f"{where} created_at", source)
    if when is None:
        when = _time_or_note(row.get("updated_at"), f"{where} updated_at", source)
    return Item(
        name=name,
        source_name=name,
        content=content,
        sha256=sha,
        order=(_row_version(row.get("version")), rowid),
        origin=f"{source.location}#{rowid}",
        where=where,
        when=when,
        owner=owner,
        created_by=owner,
        message=_text(row.get("description")),
    )


def _code_bytes(code: object) -> bytes | None:
    if isinstance(code, str):
        return code.encode("utf-8", "surrogatepass")  # a lone surrogate fails the UTF-8 check
    if isinstance(code, bytes):
        return code
    return None


def _row_version(value: object) -> int:
    """The row's ``version`` (NULL is the PRD's default, 1)."""
    try:
        return int(value) if value is not None else 1  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1


def _signature_ok(signature: object, sha: str, where: str, source: Source, accept: bool) -> bool:
    """A ``signature`` that is not the SHA-256 of the code is reported; imported only
    with ``--accept-mismatch``."""
    if signature is None or (isinstance(signature, str) and not signature.strip()):
        return True
    given = str(signature).strip().lower()
    if given == sha:
        return True
    shown = given if len(given) <= 16 else given[:16] + "…"
    problem = f"{where}: signature {shown} does not match its code (sha256 {sha[:16]}…)"
    if accept:
        source.notes.append(f"{problem}; imported anyway (--accept-mismatch)")
        return True
    source.skipped.append(f"{problem}; --accept-mismatch imports it anyway")
    return False


# -- Port42 -------------------------------------------------------------------------------


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
            return _Content(data, _sha(data), False, 0.0)
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
            created_by=_text(props.get("agent")) or _text(meta.get("agent")) or UNKNOWN_AGENT,
            session_id=_text(props.get("memory_session")) or _text(meta.get("session")),
            prompt=_text(props.get("user_prompt")),
            message=_text(props.get("description")) or _text(meta.get("description")),
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
            found = _Content(data, _sha(data), bool(info.st_mode & 0o111), info.st_mtime)
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
        actual = _sha(data)
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
