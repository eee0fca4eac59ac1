"""Tool packs: a ``.tar.gz`` of ``toolpack.json``, the files, and an optional signature.

Manifest (``toolpack.json``, format ``toolvault-pack/1``)::

    {"format": "toolvault-pack/1", "name": "team-tools", "version": 3,
     "created": "2026-11-21T10:00:00.000000Z", "expires": null,
     "tools": [{"name": "fmt", "version": 1, "path": "tools/fmt/1", "sha256": "…",
                "size": 120, "executable": true, "metadata": {…every other field…}}],
     "tool_state": {"fmt": {"owner": "alice", "lifecycle": "active", …}},
     "labels": [{"name": "fmt", "label": "stable", "version": 1, …}],
     "yanks": [{"name": "fmt", "version": 2, "reason": "…", …}]}

``toolpack.json.sig`` (optional) is ``{"key_id": …, "signature": <base64>}``: Ed25519
over the exact manifest bytes, checked against the importing vault's trust store.

Here: the format, export (:func:`export`, :func:`snapshot_export`) and reading a pack
back (:func:`parse`: safe members, a well-formed manifest, every hash). Importing one
is :mod:`.pack_import`; the signatures of its versions, :mod:`.pack_signatures`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from toolvault import spec as specs
from toolvault import validate
from toolvault.errors import Conflict, InvalidInput
from toolvault.models import VERSION_FIELDS, Label, Published, Tool, Version, Yank
from toolvault.spec import Kind, Spec
from toolvault.store.base import utcnow

if TYPE_CHECKING:
    from toolvault.config import Config
    from toolvault.signing import Signer
    from toolvault.vault import Vault

FORMAT = "toolvault-pack/1"
MANIFEST = "toolpack.json"
SIGNATURE = "toolpack.json.sig"
# A manifest entry carries these at its top level, and every other field of the
# version under "metadata".
ENTRY_FIELDS = ("name", "version", "sha256", "size", "executable")
META_FIELDS = tuple(f for f in VERSION_FIELDS if f not in ENTRY_FIELDS)


@dataclass(frozen=True, slots=True)
class Pack:
    """A parsed, hash-checked pack (its signature is checked on import)."""

    name: str
    version: int
    created: str
    expires: str | None
    manifest: bytes
    signature: dict[str, str] | None
    versions: tuple[Version, ...]
    tool_state: dict[str, dict[str, Any]]
    labels: tuple[Label, ...]
    yanks: tuple[Yank, ...]

    @property
    def manifest_sha256(self) -> str:
        """SHA-256 of the exact manifest bytes."""
        return hashlib.sha256(self.manifest).hexdigest()


@dataclass
class ImportSummary:
    """What an import did; ``to_dict`` is the JSON shape of ``ingest --json``."""

    source: str
    pack: str | None = None
    pack_version: int | None = None
    added: list[Published] = field(default_factory=list)
    unchanged: list[Published] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON shape."""
        return {
            "source": self.source,
            "pack": self.pack,
            "pack_version": self.pack_version,
            "tools": len({p.name for p in self.added + self.unchanged}),
            "added": [p.to_dict() for p in self.added],
            "unchanged": [p.to_dict() for p in self.unchanged],
            "skipped": self.skipped,
            "warnings": self.warnings,
            "notes": self.notes,
        }


# -- export -------------------------------------------------------------------------------


def export(
    vault: Vault,
    selection: Sequence[str],
    *,
    pack_name: str,
    pack_version: int | None = None,
    expires: str | None = None,
    sign_with: str | None = None,
) -> tuple[bytes, int]:
    """Build a pack of the selected versions (every tool when ``selection`` is empty).

    ``NAME`` selects every version of a tool, ``NAME:SEL`` one version. Pack versions
    only go up per pack name. Returns the archive bytes and the pack version.
    """
    _check_pack_name(pack_name)
    # A bad date is refused before it takes up a pack version.
    expiry = _expiry(expires, "--expires") if expires else None
    signer = vault.keys.load(sign_with) if sign_with else None
    versions = _selected(vault, selection)
    names = sorted({v.name for v in versions})
    tools = {t.name: t for t in vault.tools() if t.name in names}
    with vault.transaction():
        last = vault.last_pack_export(pack_name)
        number = pack_version if pack_version is not None else last + 1
        if number <= last:
            raise Conflict(
                f"pack {pack_name!r} was exported as version {last} already; "
                f"give --pack-version above {last}"
            )
        now = utcnow()
        vault.record_pack_export(pack_name, number, now)
    manifest = _manifest(vault, pack_name, number, now, expiry, versions, tools)
    return _archive(manifest, versions, signer, now), number


def snapshot_export(vault: Vault, selection: Sequence[str], pack_name: str) -> tuple[bytes, int]:
    """A pack of the vault as it stands, recorded nowhere: what a daemon serves on
    ``GET /v1/packs``, where reading must not need a right to write.

    Its version is the vault's newest audit sequence number and its time that entry's:
    every write appends an entry, so a later state makes a newer pack, and the same
    selection of the same state makes the same manifest (a harmless re-import).
    """
    _check_pack_name(pack_name)
    with vault.snapshot():
        seq, _, at = vault.audit_head()
        when = at or utcnow()  # an empty vault has no entry to take the time of
        versions = _selected(vault, selection)
        names = {v.name for v in versions}
        tools = {t.name: t for t in vault.tools() if t.name in names}
        number = max(seq, 1)
        manifest = _manifest(vault, pack_name, number, when, None, versions, tools)
    return _archive(manifest, versions, None, when), number


def default_pack_name(selection: Sequence[str]) -> str:
    """The name of a daemon's pack when none is asked for: one per selection, so that
    packs of other selections never look like older versions of it."""
    if not selection:
        return "toolvault-export"
    digest = hashlib.sha256("\n".join(sorted(selection)).encode()).hexdigest()
    return f"toolvault-export-{digest[:12]}"


def _check_pack_name(pack_name: str) -> None:
    try:
        specs.validate_name(pack_name)
    except InvalidInput:
        raise InvalidInput(f"invalid pack name {pack_name!r}: {specs.NAME_RULE}") from None


def _selected(vault: Vault, selection: Sequence[str]) -> list[Version]:
    if not selection:
        chosen = vault.all_versions()
    else:
        chosen = []
        for text in selection:
            spec = specs.parse(text)
            if spec.kind in (Kind.DEFAULT, Kind.VERSIONS):
                chosen += vault.versions(spec.name)
            else:
                chosen.append(vault.get(spec))
    wanted = sorted({(v.name, v.version) for v in chosen})
    return [vault.cat(Spec(n, Kind.NUMBER, k)) for n, k in wanted]


def _manifest(
    vault: Vault,
    name: str,
    number: int,
    now: str,
    expires: str | None,
    versions: list[Version],
    tools: dict[str, Tool],
) -> bytes:
    chosen = {(v.name, v.version) for v in versions}
    doc = {
        "format": FORMAT,
        "name": name,
        "version": number,
        "created": now,
        "expires": expires,
        "tools": [_entry(v) for v in versions],
        "tool_state": {
            t.name: {
                "owner": t.owner,
                "lifecycle": t.lifecycle,
                "lifecycle_message": t.lifecycle_message,
                "created_at": t.created_at,
                "updated_at": t.updated_at,
            }
            for t in tools.values()
        },
        "labels": [lb.to_dict() for lb in vault.labels() if (lb.name, lb.version) in chosen],
        "yanks": [y.to_dict() for y in vault.yanks() if (y.name, y.version) in chosen],
    }
    # Compact: the manifest of a whole vault runs to megabytes, and json encodes
    # compact output in C.
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _entry(v: Version) -> dict[str, Any]:
    data = v.to_dict()
    return {
        "name": v.name,
        "version": v.version,
        "path": f"tools/{v.name}/{v.version}",
        "sha256": v.sha256,
        "size": v.size,
        "executable": v.executable,
        "metadata": {k: data[k] for k in META_FIELDS},
    }


def _archive(manifest: bytes, versions: list[Version], signer: Signer | None, now: str) -> bytes:
    mtime = int(datetime.fromisoformat(now).timestamp())  # a float costs a PAX header each
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        _add(tar, MANIFEST, manifest, 0o644, mtime)
        if signer is not None:
            sig = {"key_id": signer.key_id, "signature": signer.sign(manifest)}
            _add(tar, SIGNATURE, json.dumps(sig, sort_keys=True).encode(), 0o644, mtime)
        for v in versions:
            assert v.content is not None
            _add(
                tar,
                f"tools/{v.name}/{v.version}",
                v.content,
                0o755 if v.executable else 0o644,
                mtime,
            )
    return buf.getvalue()


def _add(tar: tarfile.TarFile, path: str, data: bytes, mode: int, mtime: int) -> None:
    info = tarfile.TarInfo(path)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    tar.addfile(info, io.BytesIO(data))


def _expiry(text: Any, what: str) -> str:
    """An expiry date normalized to UTC; InvalidInput naming ``what`` when it is not one."""
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} takes an ISO date such as 2027-01-31, not {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- parse --------------------------------------------------------------------------------


def parse(data: bytes, source: str, config: Config) -> Pack:
    """Read and check a pack archive: safe members, a well-formed manifest, and every
    file's size and SHA-256 equal to what the manifest says."""
    from toolvault.sources.archive import Limits, read_tar_gz

    limits = Limits(
        max_members=config.pack_max_members,
        max_member_size=config.max_tool_size,
        max_total=config.pack_max_unpacked,
        exempt=(MANIFEST, SIGNATURE),
    )
    members = read_tar_gz(data, limits, source=source)
    if MANIFEST not in members:
        raise InvalidInput(f"{source} is not a tool pack: it has no {MANIFEST}")
    manifest = members[MANIFEST].data
    try:
        doc = json.loads(manifest, object_pairs_hook=_once_each)
    except DuplicateKey as exc:
        raise InvalidInput(f"{source}: {MANIFEST} {exc}; a manifest names each once") from None
    except ValueError as exc:
        raise InvalidInput(f"{source}: {MANIFEST} is not valid JSON: {exc}") from None
    except RecursionError:  # a manifest is flat: a few levels, never thousands
        raise InvalidInput(f"{source}: {MANIFEST} is nested too deeply to be a manifest") from None
    _expect(
        isinstance(doc, dict) and doc.get("format") == FORMAT, source, f"format must be {FORMAT!r}"
    )
    versions = tuple(_version(e, members, source) for e in _list(doc, "tools", source))
    name = _str(doc, "name", source)
    _check_pack_name(name)
    return Pack(
        name=name,
        version=_int(doc, "version", source),
        created=validate.check_timestamp(doc.get("created"), "created", f"{source}: {MANIFEST}"),
        expires=_expiry(doc["expires"], f"{source}: {MANIFEST} field expires")
        if doc.get("expires")
        else None,
        manifest=manifest,
        signature=_signature(members, source),
        versions=versions,
        tool_state=_tool_state(doc.get("tool_state") or {}, source),
        labels=tuple(_record(Label, lb, source, "labels") for lb in _list(doc, "labels", source)),
        yanks=tuple(_record(Yank, y, source, "yanks") for y in _list(doc, "yanks", source)),
    )


def _record(cls: Any, item: Any, source: str, what: str) -> Any:
    """A label or yank from the manifest: exactly its fields, ``version`` a number,
    the others text."""
    names = [f.name for f in dataclasses.fields(cls)]
    ok = isinstance(item, dict) and sorted(item) == sorted(names)
    ok = ok and all(
        isinstance(item[n], int) and not isinstance(item[n], bool)
        if n == "version"
        else isinstance(item[n], str)
        for n in names
    )
    _expect(ok, source, f"each {what} entry must hold {', '.join(names)}")
    record = cls(**item)
    where = f"{source}: {what} entry of {record.name}:{record.version}"
    (validate.label_record if cls is Label else validate.yank_record)(record, where)
    return record


def _tool_state(state: Any, source: str) -> dict[str, dict[str, Any]]:
    ok = isinstance(state, dict) and all(
        isinstance(v, dict) and all(x is None or isinstance(x, str) for x in v.values())
        for v in state.values()
    )
    _expect(ok, source, "tool_state must map each tool to an object of texts")
    for name, fields in state.items():
        validate.tool_state(fields, f"{source}: tool_state of {name}")
    return dict(state)


def _version(entry: Any, members: dict[str, Any], source: str) -> Version:
    _expect(isinstance(entry, dict), source, "each tools entry must be an object")
    name = specs.validate_name(_str(entry, "name", source))
    number, path = _int(entry, "version", source), _str(entry, "path", source)
    where = f"{source}: {name}:{number} ({path})"
    member = members.get(path)
    if member is None:
        raise InvalidInput(f"{where} is listed in the manifest but missing from the archive")
    if len(member.data) != entry.get("size"):
        raise InvalidInput(
            f"{where} has {len(member.data)} bytes, the manifest says {entry.get('size')}"
        )
    if hashlib.sha256(member.data).hexdigest() != entry.get("sha256"):
        raise InvalidInput(f"{where} does not match its sha256 in the manifest")
    meta = entry.get("metadata") or {}
    _expect(isinstance(meta, dict), source, f"metadata of {name}:{number} must be an object")
    fields: dict[str, Any] = {k: meta.get(k) for k in META_FIELDS}
    _expect(_typed(fields), source, f"metadata of {name}:{number} has a field of the wrong type")
    fields["references"] = tuple(fields["references"] or ())
    fields["transforms"] = tuple(fields["transforms"] or ())
    validate.stored_version(fields, where)
    fields["created_at"] = fields["created_at"] or utcnow()
    fields["recorded_at"] = fields["recorded_at"] or fields["created_at"]
    return Version(
        name=name,
        version=number,
        sha256=entry["sha256"],
        size=len(member.data),
        executable=bool(validate.flag(entry.get("executable"), "executable", where)),
        content=member.data,
        **fields,
    )


INT_FIELDS = ("previous_version", "rollback_of")
LIST_FIELDS = ("references", "transforms")


def _typed(fields: dict[str, Any]) -> bool:
    """Numbers where numbers go, lists of texts where lists go, texts (or null) elsewhere."""
    for key, value in fields.items():
        if value is None:
            continue
        if key in INT_FIELDS:
            good = isinstance(value, int) and not isinstance(value, bool)
        elif key in LIST_FIELDS:
            good = isinstance(value, list) and all(isinstance(x, str) for x in value)
        else:
            good = isinstance(value, str)
        if not good:
            return False
    return True


def _signature(members: dict[str, Any], source: str) -> dict[str, str] | None:
    if SIGNATURE not in members:
        return None
    try:
        sig = json.loads(members[SIGNATURE].data, object_pairs_hook=_once_each)
    except ValueError:  # DuplicateKey too: a signature that reads two ways is none
        sig = None
    _expect(
        isinstance(sig, dict)
        and isinstance(sig.get("key_id"), str)
        and isinstance(sig.get("signature"), str),
        source,
        f'{SIGNATURE} must hold {{"key_id", "signature"}}',
    )
    assert isinstance(sig, dict)
    return {"key_id": sig["key_id"], "signature": sig["signature"]}


class DuplicateKey(ValueError):
    """A JSON object holding a key twice."""


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the manifest, refused when it holds a key twice: JSON readers differ
    on which one counts (Python's the last, others the first), so a signed manifest with
    one would say one thing to toolvault and another to a different reader."""
    found = dict(pairs)
    if len(found) != len(pairs):  # rare: the name is looked for only then
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"holds the key {key!r} twice in one object")
            seen.add(key)
    return found


def _expect(ok: bool, source: str, what: str) -> None:
    if not ok:
        raise InvalidInput(f"{source}: malformed {MANIFEST}: {what}")


def _str(doc: dict[str, Any], key: str, source: str) -> str:
    value = doc.get(key)
    _expect(isinstance(value, str) and bool(value), source, f"{key!r} must be a text")
    return str(value)


def _int(doc: dict[str, Any], key: str, source: str) -> int:
    value = doc.get(key)
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    _expect(ok, source, f"{key!r} must be a whole number >= 1")
    return int(value)  # type: ignore[arg-type]


def _list(doc: dict[str, Any], key: str, source: str) -> list[Any]:
    value = doc.get(key, [])
    _expect(isinstance(value, list), source, f"{key!r} must be a list")
    return list(value)
