"""Lineage commands: refs (what a version references, what references it) and context."""

from __future__ import annotations

import click

from toolvault.cli._common import emit_json, json_option, obj, wants_json, warn
from toolvault.cli.completion import complete_spec

STATUS = {
    "exact": "",
    "changed": "  CHANGED: that version is gone or has another hash now",
    "dangling": "  dangling: stored as written, does not resolve",
    "resolves": "  stored as written; resolves now to {resolved}",
}


@click.command()
@click.argument("spec", shell_complete=complete_spec)
@click.option("--reverse", is_flag=True, help="List the versions that reference SPEC instead.")
@click.option(
    "--depth",
    metavar="N|all",
    help="Follow references N levels deep (or all): the lineage graph, as a tree.",
)
@json_option
def refs(spec: str, reverse: bool, depth: str | None, as_json: bool) -> None:
    """List what a version references; --reverse lists what references it.

    References are stored pinned (NAME:N@sha256:HEX), so a version keeps pointing at
    the exact content it was built from, however the referenced tool moves on. With
    --depth, the whole lineage graph to that depth: each version once, as an indented
    tree, or {"nodes": [...], "edges": [{"from", "to", "status"}]} with --json.
    """
    if depth is not None:
        from toolvault import lineage_json
        from toolvault.lineage_graph import render_tree

        graph = obj().service().lineage(spec, depth, reverse)
        if wants_json(as_json):  # as emit_json writes it, faster, and as it is made
            for piece in lineage_json.pieces(graph):
                click.echo(piece, nl=False)
            click.echo()
        else:
            click.echo(render_tree(graph), nl=False)
        return
    report = obj().service().refs_report(spec, reverse)
    if wants_json(as_json):
        emit_json(report)
        return
    shown = str(report["version"]).split("@")[0]
    if reverse:
        if not report["referenced_by"]:
            click.echo(f"nothing references {shown}")
        for r in report["referenced_by"]:
            how = "" if r["exact"] else "  (stored as written; resolves to it now)"
            click.echo(f"{r['name']}:{r['version']}  via {r['via']}{how}")
        return
    if not report["references"]:
        click.echo(f"{shown} references nothing")
    for i in report["references"]:
        click.echo(f"{i['ref']}{STATUS[i['status']].format(resolved=i['resolved'] or '-')}")


def _depth(ctx: click.Context, param: click.Parameter, value: str | None) -> int:
    """``--with-refs``'s optional DEPTH, with a hint when a spec was taken for it."""
    from toolvault.context import MAX_DEPTH

    if value is None:
        return 0
    if value.isdigit() and value.isascii() and 1 <= int(value) <= MAX_DEPTH:
        return int(value)
    raise click.BadParameter(
        f"{value!r} is not a depth from 1 to {MAX_DEPTH}; give --with-refs after the specs "
        "(context fmt --with-refs) or its depth with '=' (--with-refs=2)",
        ctx,
        param,
    )


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...", shell_complete=complete_spec)
@click.option(
    "--with-refs",
    is_flag=False,
    flag_value="1",
    callback=_depth,
    metavar="[DEPTH]",
    help="Add the versions these reference, DEPTH levels deep (default 1), each once.",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(0),
    metavar="N",
    help="At most N bytes of content in all, spent in order; each cut is marked.",
)
@json_option
def context(specs: tuple[str, ...], with_refs: int, max_bytes: int | None, as_json: bool) -> None:
    """Print versions with a header each, to paste into an agent's prompt.

    Each version gets its identity (exact ref, hash), provenance (author, session, prompt,
    message, references), its tool's owner, lifecycle and labels, its yank and signature
    status, description and usage, then its content in a fenced block. A SPEC may be a
    range NAME:A..B (every version from A to B). --json gives the same for programs.
    """
    from toolvault import contextdoc
    from toolvault.context import gather

    found = gather(obj().service(), list(specs), with_refs=with_refs, max_bytes=max_bytes)
    for message in found.warnings:
        warn(message)
    if wants_json(as_json):
        emit_json(found.items)
        return
    click.echo(contextdoc.render(found.items), nl=False)
