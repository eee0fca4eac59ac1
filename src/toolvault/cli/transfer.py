"""Moving tools in and out: ingest and pack export."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from toolvault.cli._common import emit_json, json_option, local_only, obj, wants_json, warn
from toolvault.cli.completion import complete_spec
from toolvault.errors import InvalidInput
from toolvault.sources.packs import ImportSummary

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


@click.command()
@click.argument("source", required=False)
@click.option("--url", help="Import a raw script or a pack from an http(s) or file:// URL.")
@click.option("--git", "git_url", metavar="URL", help="Import tool files from a git repository.")
@click.option("--rev", help="With --git: the commit, branch or tag (default HEAD).")
@click.option("--path", "subdir", metavar="SUBDIR", help="With --git: only this folder.")
@click.option(
    "--history",
    is_flag=True,
    help="With --git: a version for every commit on REV's first-parent chain that changed a tool.",
)
@click.option("--name", help="Tool name for a single script (default: from the file or URL).")
@json_option
def ingest(
    source: str | None,
    url: str | None,
    git_url: str | None,
    rev: str | None,
    subdir: str | None,
    history: bool,
    name: str | None,
    as_json: bool,
) -> None:
    """Import tools from a local file, folder or pack, a URL, or a git repository.

    Packs are checked (safe archive, hashes, signature, expiry, no downgrade) and
    imported whole or not at all; the import is one entry in the audit log.

    --git --history follows the first-parent chain (git log --first-parent): the
    states the branch itself had, a merge counting once, not each side branch's
    commits. Symbolic links, submodules and binary files in the tree are skipped,
    each named in a 'skipped' line.
    """
    from toolvault.sources import ingest as sources

    local_only(obj().home)  # before anything is fetched
    given = [s for s in (source, url, git_url) if s]
    if len(given) != 1:
        raise InvalidInput("give exactly one of: a PATH, --url URL or --git URL")
    if not git_url and (rev or subdir or history):
        raise InvalidInput("--rev, --path and --history go with --git")
    vault = obj().open(create=True)
    with _progress(as_json) as tick:
        if url:
            summary = sources.ingest_url(vault, url, name=name, progress=tick)
        elif git_url:
            summary = sources.ingest_git(
                vault, git_url, rev=rev, path=subdir, history=history, progress=tick
            )
        else:
            summary = sources.ingest_path(vault, str(source), name=name, progress=tick)
    _render(summary, as_json)


@contextmanager
def _progress(as_json: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal; nothing when piped or with --json."""
    if wants_json(as_json) or not sys.stderr.isatty():
        yield None
        return
    bars: list[ProgressBar[Any]] = []

    def tick(done: int, total: int) -> None:
        if not bars:  # the total is known once the source has been read
            bars.append(click.progressbar(length=total, label="importing", file=sys.stderr))
            bars[0].__enter__()
        bars[0].update(done)

    try:
        yield tick
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)


def _render(summary: ImportSummary, as_json: bool) -> None:
    for note in summary.notes:
        click.echo(f"toolvault: note: {note}", err=True)
    for warning in summary.warnings:
        warn(warning)
    if wants_json(as_json):
        emit_json(summary.to_dict())
        return
    for p in summary.added:
        click.echo(f"{p.name}:{p.version}  added  sha256:{p.sha256[:12]}")
    for p in summary.unchanged:
        click.echo(f"{p.name}:{p.version}  unchanged")
    for reason in summary.skipped:
        click.echo(f"skipped  {reason}")
    data = summary.to_dict()
    pack = f" from pack {summary.pack}@{summary.pack_version}" if summary.pack else ""
    click.echo(
        f"imported{pack}: {data['tools']} tool(s), {len(summary.added)} version(s) added, "
        f"{len(summary.unchanged)} unchanged, {len(summary.skipped)} skipped"
    )


@click.group()
def pack() -> None:
    """Tool packs: signed, versioned .tar.gz bundles of tool versions."""


@pack.command("export")
@click.argument("specs", nargs=-1, metavar="NAME[:SEL]...", shell_complete=complete_spec)
@click.option("--all", "every", is_flag=True, help="Export every version of every tool.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The .tar.gz file to write.",
)
@click.option("--sign", "sign_with", metavar="KEY", help="Sign the manifest with KEY.")
@click.option("--pack-name", default="toolvault-export", show_default=True)
@click.option("--pack-version", type=click.IntRange(1), help="Default: one above the last.")
@click.option("--expires", metavar="DATE", help="ISO date after which imports refuse the pack.")
@json_option
def pack_export(
    specs: tuple[str, ...],
    every: bool,
    output: str,
    sign_with: str | None,
    pack_name: str,
    pack_version: int | None,
    expires: str | None,
    as_json: bool,
) -> None:
    """Write a pack: NAME exports every version of a tool, NAME:SEL one version."""
    from toolvault.sources import packs

    local_only(obj().home)
    if every == bool(specs):
        raise InvalidInput("give tools to export (NAME or NAME:SEL) or --all, not both")
    path = Path(output)
    if not path.parent.is_dir():  # checked before the export takes up a pack version
        raise InvalidInput(f"cannot write {output}: there is no folder {path.parent}")
    vault = obj().open()
    data, number = packs.export(
        vault,
        specs,
        pack_name=pack_name,
        pack_version=pack_version,
        expires=expires,
        sign_with=sign_with,
    )
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)  # nothing half-written is left behind
    info = {
        "file": str(path),
        "pack": pack_name,
        "pack_version": number,
        "bytes": len(data),
        "signed": bool(sign_with),
    }
    if wants_json(as_json):
        emit_json(info)
    else:
        signed = ", signed" if sign_with else ""
        click.echo(f"wrote {path}: pack {pack_name}@{number}, {len(data):,} bytes{signed}")


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="NAME[:SEL]...")
@json_option
def pull(specs: tuple[str, ...], as_json: bool) -> None:
    """Copy tools from the daemon at TOOLVAULT_URL into the local vault and commands/.

    NAME copies every version, NAME:SEL one. A tool new to the local vault arrives
    with its history exactly as the daemon has it; one that exists gets the
    versions it lacks appended.
    """
    import os

    from toolvault.client import RemoteVault
    from toolvault.sources import ingest

    url = os.environ.get("TOOLVAULT_URL")
    if not url:
        raise InvalidInput("pull copies from a daemon: set TOOLVAULT_URL (and TOOLVAULT_TOKEN)")
    local = obj().open(create=True, beside_daemon=True)  # copying from it is the point
    source = f"{url.rstrip('/')}/v1/packs"
    notes = ingest.check_source(local, source)  # [sources] allow applies to daemons too
    with RemoteVault(url, os.environ.get("TOOLVAULT_TOKEN"), home=local.home) as remote:
        data = remote.export_pack(specs)
    summary = ingest.import_pack_bytes(local, data, source)
    summary.notes += notes
    _render(summary, as_json)
