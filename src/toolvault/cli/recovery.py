"""Backups and recovery of the database: backup, recover."""

from __future__ import annotations

import os
from pathlib import Path

import click

from toolvault.cli._common import emit_json, json_option, local_only, obj, wants_json
from toolvault.errors import InvalidInput


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@json_option
def backup(file: str, force: bool, as_json: bool) -> None:
    """Copy the database to FILE, consistent even while others write."""
    from toolvault import backup as backups

    if os.environ.get("TOOLVAULT_DB"):
        raise InvalidInput(backups.POSTGRES)
    done = backups.backup(obj().open(migrate=False), Path(file), force=force)
    if wants_json(as_json):
        emit_json(done.to_dict())
        return
    click.echo(
        f"backed up {done.source} to {done.file} ({done.bytes:,} bytes: {done.tools} tools, "
        f"{done.versions} versions, audit log up to entry {done.audit_seq})"
    )


@click.command()
@click.option(
    "--from-tree",
    "from_tree",
    is_flag=True,
    help="Rebuild vault.db from commands/.history (contents and metadata.json).",
)
@json_option
def recover(from_tree: bool, as_json: bool) -> None:
    """Rebuild a lost or damaged vault.db from the commands/ tree; exit 1 if anything was skipped.

    The damaged database and the old tree are moved (never deleted) into a new
    HOME/recover-<time>/ folder; what metadata.json does not keep (prompts, messages,
    references, signatures, labels...) is not recovered (README: Backups).
    """
    from toolvault.recovery import recover_from_tree

    if not from_tree:
        raise click.UsageError("say what to recover from: --from-tree")
    local_only(obj().home)
    report = recover_from_tree(obj().home)
    if wants_json(as_json):
        emit_json(report.to_dict())
    else:
        for p in report.skipped:
            where = f"{p.name}:{p.version}" if p.version else (p.name or "-")
            click.echo(f"SKIPPED  {p.kind:<8} {where:<20} {p.detail}")
        click.echo(f"old database: {report.database}; it and the old tree are in {report.kept}")
        click.echo(
            f"recovered {report.tools} tools, {report.versions} versions "
            f"({report.yanked} yanked) into {Path(report.home) / 'vault.db'}; "
            f"{len(report.skipped)} item(s) skipped; run 'toolvault verify'"
        )
    if not report.ok:
        click.get_current_context().exit(1)
