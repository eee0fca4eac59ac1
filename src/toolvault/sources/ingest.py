"""``toolvault ingest``: one entry point per kind of source — a local file, folder or
pack (:func:`ingest_path`), a URL (:func:`ingest_url`), a git repository
(:func:`ingest_git`) — over the readers of this package (:mod:`.files`, :mod:`.urls`,
:mod:`.git`, :mod:`.packs`).

Every import is checked against the ``[sources]`` policy of ``config.toml``, runs
in one transaction (``vault.transaction()``), and is one audit entry listing what it
added.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from toolvault.errors import InvalidInput, PermissionDenied
from toolvault.models import Published
from toolvault.sources import pack_import, packs
from toolvault.sources.files import read_regular
from toolvault.sources.packs import ImportSummary
from toolvault.store.base import utcnow

if TYPE_CHECKING:
    from toolvault.vault import NewVersion, Vault

Progress = Callable[[int, int], None] | None
MAX_DOWNLOAD = 64 * 1024 * 1024
TIMEOUT = 30.0


def source_url(path: Path) -> str:
    """The ``file://`` URL the allow-list sees for a local source."""
    return f"file://{path.resolve()}"


def check_source(vault: Vault, url: str) -> list[str]:
    """Refuse a source outside ``[sources] allow``; note when there is no list at all."""
    from toolvault.sources.urls import under

    allow = vault.config.sources_allow
    if allow is None:
        return ["no [sources] allow list in config.toml: every source is allowed"]
    if not under(url, allow):
        listed = ", ".join(allow) or "nothing"
        raise PermissionDenied(
            f"{url} is not an allowed source (config.toml [sources] allow = {listed}); "
            "add its prefix there to import from it"
        )
    return []


def ingest_path(
    vault: Vault, raw: str, *, name: str | None = None, progress: Progress = None
) -> ImportSummary:
    """A local script, folder of scripts, or pack."""
    from toolvault.sources.archive import is_gzip

    path = Path(raw)
    if not path.exists():
        raise InvalidInput(f"{raw}: no such file or folder")
    url = source_url(path)
    notes = check_source(vault, url)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if name is not None:
            raise InvalidInput(f"--name cannot name every file of the folder {raw}")
        limit = vault.config.max_tool_size
        items = [_script(vault, *read_regular(p, limit), p.stem, source_url(p)) for p in files]
        return _noted(import_versions(vault, items, url, progress), notes)
    # a script or a pack, read as far as a download of either may go
    data, info = read_regular(path, MAX_DOWNLOAD, hint="the most a script or pack may be")
    if is_gzip(data):
        return _noted(import_pack_bytes(vault, data, url, progress), notes)
    item = _script(vault, data, info, name or path.stem, url)
    return _noted(import_versions(vault, [item], url, progress), notes)


def ingest_url(
    vault: Vault, url: str, *, name: str | None = None, progress: Progress = None
) -> ImportSummary:
    """A raw script or a pack over http(s) or file://, told apart by content."""
    from toolvault.sources.archive import is_gzip
    from toolvault.sources.urls import download, name_from_url

    notes = check_source(vault, url)
    got = download(
        url,
        allow=vault.config.sources_allow,
        max_bytes=MAX_DOWNLOAD,
        timeout=TIMEOUT,
        deadline=vault.config.download_deadline,
    )
    if is_gzip(got.data):
        return _noted(import_pack_bytes(vault, got.data, url, progress), notes)
    item = _script(vault, got.data, None, name or name_from_url(url), url)
    return _noted(import_versions(vault, [item], url, progress), notes)


def ingest_git(
    vault: Vault,
    url: str,
    *,
    rev: str | None = None,
    path: str | None = None,
    history: bool = False,
    progress: Progress = None,
) -> ImportSummary:
    """Tool files of a git repository, at REV or with every commit that changed them."""
    from toolvault.sources.git import git_versions, public_url
    from toolvault.sources.urls import check_allowed

    local = Path(url)
    if local.exists():
        url = str(local.resolve())  # origins name the repository absolutely
        notes = check_source(vault, source_url(local))
    else:
        notes = check_source(vault, url)
        check_allowed(url, vault.config.sources_allow)
    found = git_versions(
        url, rev=rev, path=path, history=history, max_size=vault.config.max_tool_size
    )
    fresh, known, older = _after_imported(vault, found.versions)
    source = f"git+{public_url(url)}@{found.commit}"  # no password in the audit log
    summary = import_versions(vault, fresh, source, progress)
    summary.unchanged[:0] = known
    summary.skipped += found.skipped + older
    return _noted(summary, notes)


def _after_imported(
    vault: Vault, items: Sequence[NewVersion]
) -> tuple[list[NewVersion], list[Published], list[str]]:
    """Drop each tool's commits up to the newest one imported already (by origin).

    Without this a second ``--history`` run would append the old contents again on
    top of the latest. Returns the new items, the ones the vault has, and the older
    commits passed over because a later one was imported (say, without --history).
    """
    chains: dict[str, list[NewVersion]] = {}
    for item in items:
        chains.setdefault(item.name, []).append(item)
    fresh: list[NewVersion] = []
    known: list[Published] = []
    older: list[str] = []
    for name, chain in chains.items():
        seen = vault.versions_by_origin(name)
        last = max((i for i, item in enumerate(chain) if item.origin in seen), default=-1)
        for item in chain[: last + 1]:
            had = seen.get(item.origin or "")
            if had is None:
                older.append(f"{item.source}: a later commit is imported already")
            else:
                known.append(Published(name, had.version, had.sha256, False))
        fresh += chain[last + 1 :]
    return fresh, known, older


def import_versions(
    vault: Vault, items: Sequence[NewVersion], source: str, progress: Progress = None
) -> ImportSummary:
    """Publish ``items`` in order in one transaction, recorded as one ``import`` entry."""
    checked = [vault.check(item) for item in items]
    signer = vault.signer(None)
    summary = ImportSummary(source)
    added = []
    with vault.transaction():
        now = utcnow()
        for item in checked:
            result, stored = vault.append_version(item, now, signer, audit=False)
            (summary.added if stored else summary.unchanged).append(result)
            added += [stored] if stored else []
            if progress:
                progress(1, len(checked))
        if added:
            vault.record_import(added, {v.name for v in added}, source=source)
    vault.refresh_tree({p.name for p in summary.added})
    return summary


def import_pack_bytes(
    vault: Vault, data: bytes, source: str, progress: Progress = None
) -> ImportSummary:
    """Parse, check (policy, trust, expiry) and import a pack's bytes from ``source``."""
    pack = packs.parse(data, source, vault.config)
    warnings = pack_import.check_trust(
        vault, pack, source, vault.config.source_needs_signature(source)
    )
    summary = pack_import.import_pack(vault, pack, source, progress=progress)
    summary.warnings += warnings
    return summary


def _script(
    vault: Vault, data: bytes, info: os.stat_result | None, name: str, origin: str
) -> NewVersion:
    """A script to publish; ``info``, the status of the file it was read from, says
    whether it is executable (a download has none: its ``#!`` line says)."""
    from toolvault.vault import NewVersion

    executable = bool(info.st_mode & 0o111) if info is not None else None
    return NewVersion(name, data, executable=executable, source=origin, origin=origin)


def _noted(summary: ImportSummary, notes: list[str]) -> ImportSummary:
    summary.notes += notes
    return summary
