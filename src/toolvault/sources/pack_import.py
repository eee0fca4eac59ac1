"""Importing a checked pack (SPEC §7): its trust (the manifest's signature and the
versions' signatures, its expiry), the refusal of a downgrade, and the one transaction
that restores each new tool exactly or appends its versions, recorded as one audit
entry. Reading and checking the archive itself is :mod:`.packs`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from toolvault.errors import Conflict, PermissionDenied
from toolvault.models import Published, Tool, Version
from toolvault.sources.packs import MANIFEST, ImportSummary, Pack
from toolvault.store.base import utcnow

if TYPE_CHECKING:
    from toolvault.vault import Vault


def check_trust(vault: Vault, pack: Pack, source: str, required: bool) -> list[str]:
    """Refuse a bad, untrusted or expired pack; returns warnings (an unsigned pack)."""
    if pack.expires and datetime.fromisoformat(pack.expires) < datetime.now(UTC):
        raise PermissionDenied(
            f"{source}: pack {pack.name}@{pack.version} expired on "
            f"{pack.expires}; ask for a fresh pack"
        )
    if pack.signature is None:
        if required:
            raise PermissionDenied(
                f"{source}: pack {pack.name}@{pack.version} is unsigned and "
                "signatures are required for this source"
            )
        return [f"pack {pack.name}@{pack.version} from {source} is not signed"]
    from toolvault.signing import decode_public, verify_signature

    key_id = pack.signature["key_id"]
    key = next((k for k in vault.trusted_keys() if k.key_id == key_id), None)
    if key is None:
        raise PermissionDenied(
            f"{source}: signed by key {key_id}, which is not trusted; "
            "add it with 'toolvault trust add NAME KEY' if you trust it"
        )
    if not verify_signature(
        decode_public(key.public_key), pack.signature["signature"], pack.manifest
    ):
        raise PermissionDenied(
            f"{source}: the signature of {MANIFEST} does not verify with "
            f"trusted key {key.name}; the pack was altered"
        )
    return []


def import_pack(
    vault: Vault,
    pack: Pack,
    source: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import a checked pack in one transaction (SPEC §7).

    A tool the vault does not have is restored exactly (numbers, hashes, timestamps,
    provenance, signatures, labels, yanks) when the pack holds its whole chain;
    otherwise each version is appended as a new version with origin
    ``pack:<name>@<version>#<source version>``. One audit entry lists what was added.
    """
    from toolvault.sources.pack_signatures import check_version_signatures

    summary = ImportSummary(source, pack.name, pack.version)
    for v in pack.versions:
        vault.check(_as_new(v, pack))  # text, size and name rules before any write
    required = vault.config.source_needs_signature(source)
    summary.warnings += check_version_signatures(vault, pack.versions, source, required)
    by_tool: dict[str, list[Version]] = {}
    for v in sorted(pack.versions, key=lambda x: (x.name, x.version)):
        by_tool.setdefault(v.name, []).append(v)
    with vault.transaction():
        if _already_imported(vault, pack, source):
            summary.unchanged = [
                Published(v.name, v.version, v.sha256, False) for v in pack.versions
            ]
            return summary
        added = _import_tools(vault, pack, by_tool, summary, progress)
        vault.record_pack_import(pack.name, pack.version, pack.manifest_sha256, source, utcnow())
        names = {v.name for v in added}
        vault.record_import(
            added,
            by_tool,
            pack=pack.name,
            pack_version=pack.version,
            source=source,
            manifest_sha256=pack.manifest_sha256,
            signed_by=pack.signature["key_id"] if pack.signature else None,
            labels=[lb.to_dict() for lb in vault.labels() if lb.name in names],
            yanks=[y.to_dict() for y in vault.yanks() if y.name in names],
        )
    vault.refresh_tree(set(by_tool))
    return summary


def _already_imported(vault: Vault, pack: Pack, source: str) -> bool:
    """True when this very pack is the newest imported (a harmless re-import); a lower
    version, or the same version with other content, is a downgrade and refused."""
    seen = vault.pack_imports(pack.name)
    latest = max(seen, default=None)
    if latest == (pack.version, pack.manifest_sha256):
        return True
    newer = [v for v, _ in seen if v >= pack.version]
    if newer:
        raise Conflict(
            f"{source}: pack {pack.name} version {pack.version} is not newer than "
            f"version {max(newer)}, imported already (downgrade refused)"
        )
    return False


def _import_tools(
    vault: Vault,
    pack: Pack,
    by_tool: dict[str, list[Version]],
    summary: ImportSummary,
    progress: Callable[[int, int], None] | None,
) -> list[Version]:
    added: list[Version] = []
    for name, versions in by_tool.items():
        if not vault.has_tool(name) and _whole_chain(versions):
            added += _restore(vault, pack, name, versions)
            summary.added += [Published(v.name, v.version, v.sha256, True) for v in versions]
        else:
            signer = vault.signer(None)  # signed as any publish is (refused where required)
            for v in versions:
                item = vault.check(_as_new(v, pack))  # created_at normalised, as for any publish
                result, stored = vault.append_version(item, utcnow(), signer, audit=False)
                (summary.added if stored else summary.unchanged).append(result)
                added += [stored] if stored else []
        if progress:
            progress(len(versions), len(pack.versions))
    return added


def _whole_chain(versions: list[Version]) -> bool:
    prev: Version | None = None
    for i, v in enumerate(versions, start=1):
        link = (prev.version, prev.sha256) if prev else (None, None)
        if v.version != i or (v.previous_version, v.previous_sha256) != link:
            return False
        prev = v
    return True


def _restore(vault: Vault, pack: Pack, name: str, versions: list[Version]) -> list[Version]:
    unsigned = [f"{v.name}:{v.version}" for v in versions if not v.signature]
    if unsigned and vault.config.require_signatures:
        raise PermissionDenied(
            f"pack {pack.name} would restore {', '.join(unsigned[:3])}"
            f"{' …' if len(unsigned) > 3 else ''} unsigned, and this vault requires signatures "
            "(require_signatures = true); nothing was imported: import a pack of signed "
            "versions, or export these with their signatures"
        )
    state = pack.tool_state.get(name) or {}
    first, last = versions[0], versions[-1]
    tool = Tool(
        name,
        str(state.get("owner") or first.owner or vault.actor),
        str(state.get("lifecycle") or "active"),
        None,
        len(versions),
        str(state.get("created_at") or first.recorded_at),
        str(state.get("updated_at") or last.recorded_at),
        state.get("lifecycle_message"),
    )
    numbers = {v.version for v in versions}
    labels = [lab for lab in pack.labels if lab.name == name and lab.version in numbers]
    yanks = [y for y in pack.yanks if y.name == name and y.version in numbers]
    vault.restore_tool(tool, versions, labels, yanks)
    return versions


def _as_new(v: Version, pack: Pack) -> Any:
    from toolvault.vault import NewVersion

    assert v.content is not None
    return NewVersion(
        v.name,
        v.content,
        executable=v.executable,
        source=f"{pack.name}:{v.name}:{v.version}",
        origin=f"pack:{pack.name}@{pack.version}#{v.version}",
        created_by=v.created_by,
        created_at=v.created_at,
        session_id=v.session_id,
        prompt=v.prompt,
        message=v.message,
        description=v.description,
        usage=v.usage,
        references=(),
        transforms=v.transforms,
        owner=v.owner,
    )
