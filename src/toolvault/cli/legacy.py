"""migrate-legacy: import a Tools-DB or a Port42 home (SPEC §8)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from toolvault.cli._common import emit_json, json_option, local_only, obj, wants_json, warn
from toolvault.errors import InvalidInput
from toolvault.sources.legacy import Summary

if TYPE_CHECKING:
    from toolvault.vault import Vault


@click.command("migrate-legacy")
@click.option("--tools-db", metavar="PATH", help="A SQLite database with a 'tools' table.")
@click.option("--port42-home", metavar="PATH", help="A Port42 home folder (~/.port42).")
@click.option(
    "--fold",
    "folds",
    multiple=True,
    metavar="SUFFIX",
    help="Fold NAME-SUFFIX into NAME's chain (repeatable).",
)
@click.option(
    "--accept-mismatch",
    is_flag=True,
    help="With --tools-db: import rows whose signature does not match their code.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@json_option
def migrate_legacy(
    tools_db: str | None,
    port42_home: str | None,
    folds: tuple[str, ...],
    accept_mismatch: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import a legacy, unversioned tool store; the source is only read.

    A Tools-DB row becomes version 1 of its tool (rows with a version column, those
    versions in order). Port42 Tool relations become versions in creation order,
    with content reachable only through a commands/ symlink too. Items with
    problems are reported and skipped; the rest is imported in one transaction and
    recorded as one audit entry. Running it again adds nothing.
    """
    from toolvault.sources import legacy

    local_only(obj().home)  # before the source is read
    if (tools_db is None) == (port42_home is None):
        raise InvalidInput("give exactly one of --tools-db PATH or --port42-home PATH")
    if accept_mismatch and tools_db is None:
        raise InvalidInput("--accept-mismatch goes with --tools-db (Port42 has no signatures)")
    legacy.check_folds(folds)
    if tools_db is not None:
        source = legacy.read_tools_db(tools_db, accept_mismatch=accept_mismatch)
    else:
        source = legacy.read_port42(str(port42_home))
    legacy.fold_names(source, folds)
    if dry_run:
        with _dry_run_vault() as vault:
            summary = legacy.migrate(vault, source, dry_run=True)
    else:
        summary = legacy.migrate(obj().open(create=True), source)
    _render(summary, as_json)


@contextmanager
def _dry_run_vault() -> Iterator[Vault]:
    """The vault to plan against: the real one if it exists, else an empty scratch one
    (with the real home's settings), so that a dry run never creates anything."""
    from toolvault.config import resolve_home
    from toolvault.errors import NotFound
    from toolvault.store.sqlite import SQLiteStore
    from toolvault.vault import Vault as VaultClass

    try:
        existing = obj().open(create=False)
    except NotFound:
        existing = None
    if existing is not None:
        yield existing
        return
    with tempfile.TemporaryDirectory(prefix="toolvault-dry-run-") as scratch:
        store = SQLiteStore.open(Path(scratch) / "vault.db")
        vault = VaultClass(resolve_home(obj().home), store, materialize=False)
        try:
            yield vault
        finally:
            vault.close()


def _render(summary: Summary, as_json: bool) -> None:
    for problem in summary.source.skipped:
        warn(f"skipped {problem}")
    for note in summary.source.notes:
        click.echo(f"toolvault: note: {note}", err=True)
    if wants_json(as_json):
        emit_json(summary.to_dict())
        return
    state = "new" if summary.dry_run else "added"
    for p in summary.plan.new:
        it = p.item
        when = it.created_at or "-"
        folded = f"  (from {it.source_name})" if it.source_name != it.name else ""
        click.echo(
            f"{it.name}:{p.version}  {state}  sha256:{it.sha256[:12]}  {when}  {it.where}{folded}"
        )
    click.echo(_summary_line(summary))


def _summary_line(summary: Summary) -> str:
    data = summary.to_dict()
    src, plan = summary.source, summary.plan
    counts = (
        f"{data['tools']} tool(s), {len(plan.new)} version(s) "
        f"{'to add' if summary.dry_run else 'added'}, {len(plan.already)} already imported, "
        f"{len(plan.unchanged)} unchanged, {len(src.skipped)} skipped"
    )
    if summary.dry_run:
        return f"dry run of {src.location}: {counts}; nothing was written"
    if not plan.new and plan.already:
        return f"nothing new in {src.location}: {counts}; the vault has all of it already"
    if not plan.new:
        return f"nothing to migrate from {src.location}: {counts}"
    return f"migrated {src.location}: {counts}"
