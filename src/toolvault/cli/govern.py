"""Governance commands: label, yank, deprecate, retire, owner, audit, keys, trust."""

from __future__ import annotations

from pathlib import Path

import click

from toolvault import spec as specs
from toolvault.cli import textfiles
from toolvault.cli._common import emit_json, json_option, obj, table, wants_json
from toolvault.cli.completion import complete_name, complete_spec
from toolvault.errors import InvalidInput


@click.command()
@click.argument("target", metavar="SPEC", shell_complete=complete_spec)
@click.argument("label")
@click.option("--delete", is_flag=True, help="Remove the label (give NAME, not a version).")
@json_option
def label(target: str, label: str, delete: bool, as_json: bool) -> None:
    """Point LABEL at a version (NAME:LABEL then resolves to it), or --delete it."""
    vault = obj().service()
    if delete:
        vault.delete_label(specs.parse_name(target), label)
        if wants_json(as_json):
            emit_json({"name": specs.parse_name(target), "label": label, "deleted": True})
        else:
            click.echo(f"deleted label {specs.parse_name(target)}:{label}")
        return
    lab = vault.label(target, label)
    if wants_json(as_json):
        emit_json(lab.to_dict())
    else:
        click.echo(f"{lab.name}:{lab.label} -> {lab.name}:{lab.version}")


@click.command()
@click.argument("target", metavar="SPEC", shell_complete=complete_spec)
@click.option("--reason", required=True, help="Why the version must not be used.")
@json_option
def yank(target: str, reason: str, as_json: bool) -> None:
    """Mark a version as not to be used; latest, previous and -K skip it."""
    vault = obj().service()
    y = vault.yank(target, reason)
    if wants_json(as_json):
        emit_json(y.to_dict())
        return
    tool = vault.tool(y.name)
    live = (
        f"latest is now {y.name}:{tool.latest_version}"
        if tool.latest_version
        else ("no version is left to run")
    )
    click.echo(f"yanked {y.name}:{y.version} ({reason}); {live}")


@click.command()
@click.argument("name", shell_complete=complete_name)
@click.option("-m", "--message", help="What to use instead, shown when the tool is run.")
@textfiles.message_file_option
@json_option
def deprecate(name: str, message: str | None, message_file: str | None, as_json: bool) -> None:
    """Mark a tool as deprecated: it still runs, with a warning."""
    _lifecycle(name, "deprecated", textfiles.message(message, message_file), as_json)


@click.command()
@click.argument("name", shell_complete=complete_name)
@click.option("-m", "--message", help="Why it was retired.")
@textfiles.message_file_option
@json_option
def retire(name: str, message: str | None, message_file: str | None, as_json: bool) -> None:
    """Take a tool off PATH, keeping its history; publishing again reactivates it."""
    _lifecycle(name, "retired", textfiles.message(message, message_file), as_json)


def _lifecycle(name: str, lifecycle: str, message: str | None, as_json: bool) -> None:
    tool = obj().service().set_lifecycle(specs.parse_name(name), lifecycle, message)
    if wants_json(as_json):
        emit_json(tool.to_dict())
    else:
        click.echo(f"{tool.name} is {tool.lifecycle}")


@click.command()
@click.argument("name", shell_complete=complete_name)
@click.argument("new_owner", metavar="NEW")
@json_option
def owner(name: str, new_owner: str, as_json: bool) -> None:
    """Transfer a tool to a new owner."""
    tool = obj().service().transfer(specs.parse_name(name), new_owner)
    if wants_json(as_json):
        emit_json(tool.to_dict())
    else:
        click.echo(f"{tool.name} is now owned by {tool.owner}")


@click.command()
@click.argument("name", required=False, shell_complete=complete_name)
@json_option
def audit(name: str | None, as_json: bool) -> None:
    """Show the append-only audit log, or the entries about one tool."""
    entries = obj().service().audit(name)
    if wants_json(as_json):
        emit_json([e.to_dict() for e in entries])
        return
    rows = []
    for e in entries:
        where = f"{e.tool}:{e.version}" if e.version else (e.tool or "-")
        shown = {k: v for k, v in e.details.items() if k in _SHOWN and v is not None}
        rows.append([str(e.seq), e.at, e.actor, e.action, where, _brief(shown)])
    table(rows, ["SEQ", "AT", "ACTOR", "ACTION", "TOOL", "DETAILS"])


_SHOWN = (
    "label",
    "version",
    "from",
    "to",
    "reason",
    "message",
    "name",
    "key_id",
    "signed_by",
    "rollback_of",
    "pack",
    "pack_version",
    "source",
)


def _brief(details: dict[str, object]) -> str:
    return " ".join(f"{k}={v}" for k, v in details.items())


@click.group()
def keys() -> None:
    """Signing keys (Ed25519) kept under HOME/keys."""


@keys.command("generate")
@click.argument("name")
@click.option("--no-trust", is_flag=True, help="Do not add the public key to the trust store.")
@json_option
def keys_generate(name: str, no_trust: bool, as_json: bool) -> None:
    """Create a key pair; print its public key (ed25519:<base64>)."""
    info = obj().open(create=True).generate_key(name, trust=not no_trust)
    if wants_json(as_json):
        emit_json(info.to_dict())
        return
    click.echo(info.public)
    trusted = "" if no_trust else ", trusted"
    hint = f'toolvault add --sign {info.name} …, or sign_with = "{info.name}" in config.toml'
    click.echo(f"key {info.name} ({info.key_id}{trusted}); sign with: {hint}", err=True)


@keys.command("list")
@json_option
def keys_list(as_json: bool) -> None:
    """List the signing keys in HOME/keys."""
    found = obj().open().keys.list()
    if wants_json(as_json):
        emit_json([k.to_dict() for k in found])
        return
    table([[k.name, k.key_id, k.public] for k in found], ["NAME", "KEY ID", "PUBLIC KEY"])


@click.group()
def trust() -> None:
    """The trust store: public keys whose signatures verify."""


@trust.command("add")
@click.argument("name")
@click.argument("key", metavar="ed25519:BASE64|FILE")
@json_option
def trust_add(name: str, key: str, as_json: bool) -> None:
    """Trust a public key, given inline or as a file holding it.

    Trusting the same NAME and key again changes nothing; another key under NAME,
    or this key under another name, is a conflict.
    """
    if not key.startswith("ed25519:"):
        path = Path(key)
        if not path.is_file():
            raise InvalidInput(f"{key!r} is neither 'ed25519:<base64>' nor a readable file")
        from toolvault.sources.files import read_regular

        # a public key is a line; a few KiB bound what a wrong path could make us read
        data = read_regular(path, 64 * 1024, hint="a key file holds one line")[0]
        key = data.decode("utf-8", "replace").strip()
    added = obj().open(create=True).trust(name, key)
    if wants_json(as_json):
        emit_json({**added.to_dict(), "created": added.created})
    elif added.created:
        click.echo(f"trusted {added.name} ({added.key_id})")
    else:
        click.echo(f"already trusted: {added.name} ({added.key_id}); nothing changed")


@trust.command("list")
@json_option
def trust_list(as_json: bool) -> None:
    """List trusted keys."""
    found = obj().open().trusted_keys()
    if wants_json(as_json):
        emit_json([k.to_dict() for k in found])
        return
    table(
        [[k.name, k.key_id, k.public_key, k.added_at] for k in found],
        ["NAME", "KEY ID", "PUBLIC KEY", "ADDED"],
    )


@trust.command("remove")
@click.argument("name")
def trust_remove(name: str) -> None:
    """Stop trusting a key; versions it signed become verify problems."""
    obj().open().untrust(name)
    click.echo(f"removed {name} from the trust store")
