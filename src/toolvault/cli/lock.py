"""Lockfiles (SPEC §16): ``lock``, ``install``, and ``verify --lock``'s rendering."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from toolvault.cli._common import Obj, emit_json, json_option, note, obj, wants_json, warn
from toolvault.cli.completion import complete_spec
from toolvault.config import resolve_home

if TYPE_CHECKING:
    from toolvault.lockfile.sources import Source
    from toolvault.lockfile.trust import Trust
    from toolvault.sources.packs import Pack
    from toolvault.vault import Vault

DEFAULT_LOCK = "toolvault.lock"


@click.command()
@click.argument("names", nargs=-1, metavar="NAME[:SEL]...", shell_complete=complete_spec)
@click.option(
    "-o", "--output", "path", default=DEFAULT_LOCK, show_default=True, help="The lockfile."
)
@click.option(
    "--update",
    is_flag=True,
    help="Move the pins of the NAMEs given (every pin when none is) to their latest.",
)
@click.option("--sign", "sign_with", metavar="KEY", help="Sign the lock with the key KEY.")
@json_option
def lock(
    names: tuple[str, ...], path: str, update: bool, sign_with: str | None, as_json: bool
) -> None:
    """Pin tools to exact versions in a lockfile.

    The lockfile (-o, default toolvault.lock) is written only when it changes. A tool
    already pinned keeps its pin unless --update moves it or NAME:SEL names a version."""
    from toolvault.lockfile.making import make_lock

    signer = None
    if sign_with:
        from toolvault.signing import KeyRing

        signer = KeyRing(resolve_home(obj().home)).load(sign_with)
    result = make_lock(source_for(obj()), path, names, update=update, signer=signer)
    for line in result.warnings:
        warn(line)
    if wants_json(as_json):
        emit_json(result.to_dict())
        return
    for change in result.changes:
        was = f" (was {change['from']})" if change["from"] else ""
        click.echo(f"pinned  {change['to']}{was}")
    state = "written" if result.written else "unchanged"
    click.echo(f"{path} {state}: {len(result.lock.pins)} tool(s), digest {result.lock.digest}")


@click.command()
@click.option("--lock", "lock_path", required=True, metavar="FILE", help="The lockfile.")
@click.option("--into", required=True, metavar="DIR", help="The folder to install into.")
@click.option("--frozen", is_flag=True, help="Fail if any pin is not its tool's latest.")
@click.option("--from", "pack", metavar="PACK", help="Take the versions from this tool pack.")
@json_option
def install(lock_path: str, into: str, frozen: bool, pack: str | None, as_json: bool) -> None:
    """Install the versions a lockfile pins into a folder.

    Each tool becomes DIR/NAME (mode 0755 when executable), from the local vault, the
    daemon at TOOLVAULT_URL or a pack (--from); every hash is checked first, and a
    failure installs nothing."""
    from toolvault.lockfile.format import load
    from toolvault.lockfile.install import install as run_install

    lock = load(lock_path)  # a bad lockfile is refused before any vault is opened
    result = run_install(lock, lock_path, into, source_for(obj(), pack), frozen=frozen)
    for line in result.warnings:
        warn(line)
    if wants_json(as_json):
        emit_json(result.to_dict())
        return
    for item in result.replaced:
        note(f"replaced {item['was']} at {os.path.join(into, item['name'])} (never followed)")
    for ref in result.installed:
        click.echo(f"installed  {ref}")
    if result.strays:
        click.echo(f"not in the lock, left alone: {', '.join(result.strays)}")
    click.echo(
        f"{into}: {len(result.installed)} installed, {len(result.unchanged)} unchanged "
        f"(from {result.source})"
    )


def verify_lock(
    lock_path: str | None,
    into: str | None,
    names: tuple[str, ...],
    since: str | None,
    as_json: bool,
) -> None:
    """``verify --lock FILE [--into DIR]``: print the report, exit 1 on any problem."""
    from toolvault.errors import InvalidInput
    from toolvault.lockfile.verify import verify_lock as run_verify

    if lock_path is None:
        raise InvalidInput("--into DIR checks installed tools against a lockfile: add --lock FILE")
    if names or since is not None:
        raise InvalidInput(
            "verify --lock checks a lockfile's pins; check the vault itself (NAME…, --since) "
            "with a separate 'toolvault verify'"
        )

    from toolvault.lockfile.format import load

    report = run_verify(load(lock_path), lock_path, source_for(obj()), into)
    for line in report.warnings:
        warn(line)
    if wants_json(as_json):
        emit_json(report.to_dict())
    else:
        for p in report.problems:
            click.echo(f"PROBLEM  {p.kind:<9} {p.name}:{p.version:<14} {p.detail}")
        for m in report.moved:
            click.echo(
                f"info     {m['name']} is pinned at {m['pinned']}; its latest is {m['latest']}"
            )
        counts = ", ".join(f"{n} {k}" for k, n in report.checked.items())
        verdict = "ok" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        click.echo(f"verify --lock {lock_path} {verdict} (checked {counts})")
    if not report.ok:
        click.get_current_context().exit(1)


def source_for(o: Obj, pack: str | None = None) -> Source:
    """Where pins are read: the pack given, else the daemon at TOOLVAULT_URL, else the
    local vault."""
    from toolvault.lockfile.sources import PackSource, RemoteSource, VaultSource

    if pack is not None:
        parsed = _read_pack(o, pack)
        return PackSource(parsed.versions, parsed.yanks, pack, _local_trust(o))
    if os.environ.get("TOOLVAULT_URL"):
        from toolvault.client import RemoteVault

        remote = o.service()
        assert isinstance(remote, RemoteVault)
        return RemoteSource(remote, _local_trust(o))
    return VaultSource(o.open())


def _local_vault(o: Obj) -> Vault | None:
    """The vault in this machine's home, if there is one (its trust store, its limits)."""
    if not os.environ.get("TOOLVAULT_DB") and not (resolve_home(o.home) / "vault.db").exists():
        return None
    return o.open(beside_daemon=True)


def _local_trust(o: Obj) -> Trust | None:
    from toolvault.lockfile.trust import Trust

    vault = _local_vault(o)
    if vault is None:
        return None
    return Trust(vault.trusted_keys(), f"the trust store of {vault.home}")


def _read_pack(o: Obj, path: str) -> Pack:
    from toolvault.config import Config
    from toolvault.sources import packs
    from toolvault.sources.files import read_regular
    from toolvault.sources.ingest import MAX_DOWNLOAD

    vault = _local_vault(o)
    config = vault.config if vault else Config.load(resolve_home(o.home))
    try:
        data, _ = read_regular(path, MAX_DOWNLOAD, hint="the most a pack may be")
    except FileNotFoundError:
        from toolvault.errors import InvalidInput

        raise InvalidInput(f"--from {path}: no such pack") from None
    return packs.parse(data, path, config)
