"""Vault administration: init, verify, sync, db."""

from __future__ import annotations

import click

from toolvault.cli._common import emit_json, json_option, obj, table, wants_json
from toolvault.cli.completion import complete_name
from toolvault.config import resolve_home
from toolvault.vault import Vault


@click.command()
@json_option
def init(as_json: bool) -> None:
    """Create the home folder and database (safe to run again)."""
    home = resolve_home(obj().home)
    existed = (home / "vault.db").exists()
    vault = obj().open(create=True)
    from toolvault.checkpoints import current

    current(vault)  # the vault key, and a signed head for a vault that has none yet
    commands = vault.tree.root if vault.materialize else None
    database = vault.store.where
    if wants_json(as_json):
        emit_json(
            {
                "home": str(vault.home),
                "database": database,
                "commands": commands and str(commands),
                "created": not existed,
            }
        )
        return
    if vault.store.dialect == "sqlite":
        state = "already initialized" if existed else "initialized"
        click.echo(f"{state}: vault at {vault.home}")
    else:
        click.echo(f"initialized: vault in {database}; {vault.home} keeps config.toml and keys/")
    if commands is not None:
        click.echo(f'put the latest tools on your PATH:  export PATH="{commands}:$PATH"')


@click.command()
@click.argument("names", nargs=-1, shell_complete=complete_name)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    help="Vault home folder (as toolvault --home; handy in a pre-commit hook's args).",
)
@click.option(
    "--since",
    metavar="CHECKPOINT",
    help="A head kept elsewhere ('toolvault checkpoint' JSON, or a file holding it) that "
    "the log must still extend.",
)
@click.option("--lock", "lock_path", metavar="FILE", help="Check a lockfile's pins instead.")
@click.option("--into", metavar="DIR", help="With --lock: check the tools installed in DIR too.")
@json_option
def verify(
    names: tuple[str, ...],
    home: str | None,
    since: str | None,
    lock_path: str | None,
    into: str | None,
    as_json: bool,
) -> None:
    """Check hashes, chains, the audit log, signatures, checkpoints and commands/; exit 1 on
    any problem. With --lock FILE: check that every pin of the lockfile holds."""
    if home is not None:
        obj().home = home
    if lock_path is not None or into is not None:
        from toolvault.cli.lock import verify_lock

        return verify_lock(lock_path, into, names, since, wants_json(as_json))
    witness = None
    if since is not None:
        from toolvault.checkpoints import load

        witness = load(since)
    report = obj().service().verify(names, since=witness)
    if wants_json(as_json):
        emit_json(report.to_dict())
    else:
        counts = ", ".join(f"{n} {k}" for k, n in report.checked.items())
        for p in report.problems:
            where = f"{p.name}:{p.version}" if p.version else (p.name or "-")
            click.echo(f"PROBLEM  {p.kind:<9} {where:<20} {p.detail}")
        verdict = "ok" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        click.echo(f"verify {verdict} (checked {counts})")
    if not report.ok:
        click.get_current_context().exit(1)


@click.command()
@json_option
def sync(as_json: bool) -> None:
    """Rebuild commands/ from the database, removing strays."""
    fixed = obj().open().sync()
    if wants_json(as_json):
        emit_json({"fixed": fixed})
        return
    for line in fixed:
        click.echo(f"fixed  {line}")
    click.echo("commands/ is in sync with the database")


@click.group()
def db() -> None:
    """Schema migrations: status and migrate."""


@db.command()
@json_option
def status(as_json: bool) -> None:
    """List applied and pending migrations (writes nothing)."""
    migrations = obj().open(migrate=False).migrations()
    if wants_json(as_json):
        emit_json([m.to_dict() for m in migrations])
        return
    rows = [[str(m.id), m.name, m.applied_at or "pending"] for m in migrations]
    table(rows, ["ID", "NAME", "APPLIED"])


@db.command()
@click.option("--list", "only_list", is_flag=True, help="Show what is pending; write nothing.")
@json_option
def migrate(only_list: bool, as_json: bool) -> None:
    """Apply pending migrations (opening a vault does this too)."""
    pending = [m for m in obj().open(migrate=False).migrations() if m.applied_at is None]
    if not only_list and pending:
        Vault.open(obj().home, create=False).close()  # the one place migrations run
    if wants_json(as_json):
        emit_json({"pending" if only_list else "applied": [m.to_dict() for m in pending]})
        return
    verb = "pending" if only_list else "applied"
    for m in pending:
        click.echo(f"{verb}  {m.id:>3}  {m.name}")
    if not pending:
        click.echo("no pending migrations")
