"""Lineage commands: refs (what a version references, what references it) and context."""

from __future__ import annotations

import click

from toolvault.cli._common import emit_json, json_option, obj, wants_json
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
        from toolvault.lineage_graph import render_tree

        graph = obj().service().lineage(spec, depth, reverse)
        if wants_json(as_json):
            emit_json(graph.to_dict())
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


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...", shell_complete=complete_spec)
@json_option
def context(specs: tuple[str, ...], as_json: bool) -> None:
    """Print versions with a header each, to paste into an agent's prompt.

    Each version gets its name, number, exact reference, hash, author and prompt,
    then its content in a fenced block. --json gives the same for programs.
    """
    from toolvault import lineage

    found = lineage.context(obj().service(), list(specs))
    if wants_json(as_json):
        emit_json(lineage.context_json(found))
        return
    click.echo(lineage.render_context(found), nl=False)
