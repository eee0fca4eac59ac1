"""Read commands: ls, cat, show, versions, diff. The hot path: keep imports light."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from toolvault import spec as specs
from toolvault.cli._common import emit_json, json_option, obj, table, wants_json, warn
from toolvault.cli.completion import complete_name, complete_spec
from toolvault.errors import InvalidSpec
from toolvault.models import Diff, Version
from toolvault.spec import Kind
from toolvault.vault import Vault

if TYPE_CHECKING:
    from toolvault.client import RemoteVault


@click.command()
@click.argument("where", required=False, metavar="[/commands]")
@click.option("--all", "every", is_flag=True, help="List every version, not only tools.")
@json_option
def ls(where: str | None, every: bool, as_json: bool) -> None:
    """List tools with latest version, version count, owner and lifecycle."""
    if where not in (None, "/commands", "/commands/", "/tools", "/tools/"):
        raise click.BadParameter(f"{where!r}; give /commands or nothing", param_hint="WHERE")
    vault = obj().service()
    if every:
        _render_listing(vault.all_version_listing(), as_json, with_name=True)
        return
    tools = vault.tools()
    if wants_json(as_json):
        emit_json([t.to_dict() for t in tools])
        return
    from toolvault.termfit import fit_last, terminal_width

    rows = [
        [t.name, str(t.latest_version), str(t.versions), t.owner, t.lifecycle, t.updated_at, ""]
        for t in tools
    ]
    for row, t in zip(rows, tools, strict=True):
        row[-1] = t.description or ""
    header = ["NAME", "LATEST", "VERSIONS", "OWNER", "LIFECYCLE", "UPDATED", "DESCRIPTION"]
    table(fit_last(rows, header, terminal_width()), header)


@click.command()
@click.argument("spec", shell_complete=complete_spec)
@json_option
def cat(spec: str, as_json: bool) -> None:
    """Print the content of a version; NAME:versions prints the version listing."""
    parsed = specs.parse(spec)
    vault = obj().service()
    if parsed.kind is Kind.VERSIONS:
        _listing(vault, parsed.name, as_json)
        return
    version = vault.cat(parsed)
    if parsed.pinned:
        warn_if_yanked(vault, version)
    if wants_json(as_json):
        emit_json(version.to_dict(content=True))
        return
    assert version.content is not None
    sys.stdout.buffer.write(version.content)
    sys.stdout.flush()


@click.command()
@click.argument("spec", shell_complete=complete_spec)
@json_option
def show(spec: str, as_json: bool) -> None:
    """Show all metadata of one version plus its tool's owner and lifecycle."""
    info = obj().service().describe(spec)
    if wants_json(as_json):
        emit_json(info)
        return
    tool = info["tool"]
    click.echo(f"{info['name']}:{info['version']}")
    for key, value in info.items():
        if key in ("name", "version", "tool", "signature_status", "yanked", "labels"):
            continue
        if isinstance(value, list):
            value = ", ".join(value) if value else "-"
        elif isinstance(value, str) and "\n" in value:  # a usage, a prompt: kept in the column
            value = value.replace("\n", "\n" + " " * 20)
        click.echo(f"  {key + ':':<18}{'-' if value is None else value}")
    click.echo(f"  {'signed:':<18}{info['signature_status']}")
    click.echo(f"  {'labels:':<18}{', '.join(info['labels']) or '-'}")
    click.echo(f"  {'yanked:':<18}{info['yanked'] or 'no'}")
    click.echo(f"  {'tool owner:':<18}{tool['owner']}")
    message = f" ({tool['lifecycle_message']})" if tool["lifecycle_message"] else ""
    click.echo(f"  {'lifecycle:':<18}{tool['lifecycle']}{message}")
    click.echo(f"  {'latest:':<18}{tool['latest_version'] or '-'} of {tool['versions']}")


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("name", shell_complete=complete_name)
@click.argument(
    "action",
    required=False,
    default="list",
    type=click.Choice(["list", "history", "diff", "rollback"]),
)
@click.argument("args", nargs=-1)
@click.option("-m", "--message", help="Message for rollback.")
@click.option(
    "--message-file", metavar="FILE", help="Read rollback's message from FILE ('-': stdin)."
)
@json_option
def versions(
    name: str,
    action: str,
    args: tuple[str, ...],
    message: str | None,
    message_file: str | None,
    as_json: bool,
) -> None:
    """Version command: list (default) | history | diff A B | rollback V."""
    name = specs.parse_name(name)
    wanted = {"list": 0, "history": 0, "diff": 2, "rollback": 1}[action]
    if len(args) != wanted:
        forms = {"list": "", "history": "", "diff": " A B", "rollback": " V"}
        raise click.UsageError(
            f"'versions {name} {action}' takes {wanted} argument(s): "
            f"toolvault versions NAME {action}{forms[action]}"
        )
    vault = obj().service()
    if action == "list":
        _listing(vault, name, as_json)
    elif action == "history":
        _history(vault.history(name), as_json)
    elif action == "diff":
        render_diff(vault.diff(_local(name, args[0]), _local(name, args[1])), False, as_json)
    else:
        from toolvault.cli import textfiles
        from toolvault.cli.write import do_rollback

        do_rollback(vault, name, args[0], textfiles.message(message, message_file), as_json)


@click.command()
@click.argument("old", shell_complete=complete_spec)
@click.argument("new", required=False, metavar="[NEW|FILE|-]", shell_complete=complete_spec)
@click.option("--stat", is_flag=True, help="Only count added and removed lines.")
@click.option(
    "-U", "--unified", "context", type=click.IntRange(0), default=3, help="Lines of context."
)
@json_option
def diff(old: str, new: str | None, stat: bool, context: int, as_json: bool) -> None:
    """Unified diff between two versions; with one spec, between it and its previous.

    NEW may also be a file not yet published, or - for standard input: a ./ or a / in
    it always means a file; a name that is both a file here and a version is refused.
    """
    vault = obj().service()
    if new is not None:
        from toolvault.cli import filediff

        found = filediff.unpublished(vault, new)
        if found is not None:
            d = vault.diff_content(old, found[1], file=found[0], context=context)
            return filediff.render(d, stat, as_json)
    render_diff(vault.diff(old, new, context=context), stat, as_json)


def warn_if_yanked(vault: Vault | RemoteVault, version: Version) -> None:
    """A yanked version is still readable by its number, with a warning."""
    yanked = vault.yank_of(version)
    if yanked:
        warn(f"{version.name}:{version.version} is yanked: {yanked.reason}")


def render_diff(d: Diff, stat: bool, as_json: bool) -> None:
    """Print a diff, coloured only when stdout is a terminal."""
    if wants_json(as_json):
        emit_json(d.to_dict())
        return
    if stat:
        old = f"{d.old.name}:{d.old.version}" if d.old else "nothing"
        click.echo(
            f"{old} -> {d.new.name}:{d.new.version}: "
            f"{d.added} insertion(s)(+), {d.removed} deletion(s)(-)"
        )
        return
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in d.lines:
        colour = colours.get(line[:1])
        if line.startswith(("+++", "---")):
            colour = None
        click.echo(click.style(line, fg=colour) if colour else line, nl=False)


def _local(name: str, selector: str) -> str:
    """A selector given to ``versions NAME …``: ``3``, ``previous``, or a full spec."""
    text = selector if ":" in selector or "@" in selector else f"{name}:{selector}"
    parsed = specs.parse(text)
    if parsed.name != name:
        raise InvalidSpec(f"'{selector}' names tool {parsed.name}, not {name}")
    return text


def _listing(vault: Vault | RemoteVault, name: str, as_json: bool) -> None:
    _render_listing(vault.version_listing(name), as_json, with_name=False)


def _render_listing(found: list[dict[str, Any]], as_json: bool, with_name: bool) -> None:
    """A listing (``versions``, ``ls --all``): JSON with ``yanked``, or a table whose
    NOTE starts with YANKED and the reason for a yanked version."""
    if wants_json(as_json):
        emit_json(found)
        return
    rows = []
    for v in found:
        note = f"rollback of {v['rollback_of']}" if v["rollback_of"] else (v["message"] or "")
        if v.get("yanked"):  # a daemon before yanks were listed sends none
            note = f"YANKED: {v['yanked']}" + (f"; {note}" if note else "")
        label = f"{v['name']}:{v['version']}" if with_name else str(v["version"])
        by = v["created_by"] or "-"
        rows.append([label, v["sha256"][:12], str(v["size"]), v["created_at"], by, note])
    table(rows, ["VERSION", "SHA256", "SIZE", "CREATED", "BY", "NOTE"])


def _history(found: list[dict[str, Any]], as_json: bool) -> None:
    """Newest first in text; the JSON (oldest first, as every listing) holds what the
    text shows: the chain, rollbacks, provenance, references, yank and labels."""
    if wants_json(as_json):
        emit_json(found)
        return
    for v in reversed(found):
        click.echo(
            click.style(f"{v['name']}:{v['version']}", bold=True)
            + f"  {v['sha256'][:12]}  {v['created_at']}  by {v['created_by'] or '-'}"
        )
        chain = f"after {v['previous_version']}" if v["previous_version"] else "first version"
        rollback = f"; rollback of {v['rollback_of']}" if v["rollback_of"] else ""
        click.echo(f"    {chain}{rollback}")
        for label, key in HISTORY_FIELDS:
            if v.get(key):
                text = str(v[key]).replace("\n", "\n" + " " * (6 + len(label)))
                click.echo(f"    {label}: {text}")
        if v.get("labels"):
            click.echo(f"    labels: {', '.join(v['labels'])}")
        for ref in v["references"]:
            click.echo(f"    ref: {ref}")


HISTORY_FIELDS = (
    ("YANKED", "yanked"),
    ("origin", "origin"),
    ("message", "message"),
    ("prompt", "prompt"),
    ("session", "session_id"),
)
