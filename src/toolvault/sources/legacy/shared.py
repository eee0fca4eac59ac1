"""What every legacy store's migration shares (SPEC §8): the items a reader finds,
the plan, and the one transaction that applies it.

Three stages, so that a dry run is the real thing minus the writes:

1. **read** — a reader (:mod:`.toolsdb`, :mod:`.port42`) turns the source into
   candidate versions (:class:`Item`) and per-item problems, touching nothing but the
   source, which it only reads (SQLite through a ``mode=ro`` URI, files with plain reads);
2. **plan** — items are grouped by tool, ordered, checked against what earlier runs
   imported (an item is known by its origin and hash, so a second run adds nothing
   even for tools with many versions), folded (``--fold``), numbered, and their
   references resolved — also to versions the same migration is about to create;
3. **apply** — the plan is written in one transaction, recorded as one ``import``
   entry of the audit log that lists every version it added.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from toolvault import spec as specs
from toolvault import validate
from toolvault.errors import Conflict, InvalidInput, ToolvaultError
from toolvault.spec import Kind, Spec
from toolvault.store.base import utcnow

if TYPE_CHECKING:
    from toolvault.models import Version
    from toolvault.vault import NewVersion, Vault

SUFFIX = re.compile(r"[A-Za-z0-9._-]+")


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
    description: str | None = None  # None: read from the content's header
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
        with vault.snapshot():
            return Summary(source, plan(vault, source), True)
    signer = vault.signer(None)
    with vault.transaction():
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
    known = {(origin, sha) for _, _, sha, origin in vault.origins(source.prefix)}
    existing = {t.name for t in vault.tools()}
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
    head, latest = vault.chain_ends(name) if name else (None, None)
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
        description=item.description,
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


def digest(data: bytes) -> str:
    """The SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


def nonblank(value: object) -> str | None:
    """``value`` when it is a text with something in it, else None."""
    return value if isinstance(value, str) and value.strip() else None


def legacy_description(value: object) -> tuple[str | None, str | None]:
    """A legacy store's ``description`` (a Tools-DB column, a Port42 relation's or
    object's property) becomes the description (SPEC §8, §10): one paragraph,
    cut to the limit; text that does not fit whole is kept whole as the message too. A
    control character other than a line end or tab is not cleaned away but refused, as
    in any other field of a legacy row."""
    from toolvault.describe import MAX_DESCRIPTION, description
    from toolvault.validate import MULTI_LINE_BAD

    text = nonblank(value)
    if text is None:
        return None, None
    if MULTI_LINE_BAD.search(text):  # kept as it is: the metadata check refuses the import
        return text, None
    one = description(text)
    whole = one is not None and len(text) <= MAX_DESCRIPTION and "\n\n" not in text.strip()
    return one, None if whole else text
