"""``toolvault search``: find tools by what they do (SPEC §10)."""

from __future__ import annotations

import shutil
import sys

import click

from toolvault.cli._common import emit_json, json_option, obj, wants_json
from toolvault.search.text import render

FIELDS = ("name", "description", "usage", "prompt", "message", "content")


@click.command()
@click.argument("query", nargs=-1)
@click.option(
    "--field",
    "fields",
    multiple=True,
    type=click.Choice(FIELDS),
    help="Where unqualified words may match (repeatable; default every text field).",
)
@click.option("--all-versions", is_flag=True, help="Search every version, yanked ones too.")
@click.option(
    "--lifecycle",
    type=click.Choice(("active", "deprecated", "retired", "all")),
    help="Which tools (default active and deprecated).",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@json_option
def search(
    query: tuple[str, ...],
    fields: tuple[str, ...],
    all_versions: bool,
    lifecycle: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Find tools by what they do, best first.

    QUERY is words (all must match), "quoted phrases" and qualifiers name:,
    description:, usage:, prompt:, message:, content:, author:, owner:, session:,
    label:, uses:NAME. Each result is the pinned ref of the version that matched,
    with the field that matched and a snippet."""
    found = (
        obj()
        .service()
        .search(
            " ".join(query),
            fields=fields,
            all_versions=all_versions,
            lifecycle=lifecycle,
            limit=limit,
        )
    )
    if wants_json(as_json):
        emit_json([r.to_dict() for r in found])
        return
    if not found:
        click.echo("no tool matches", err=True)
        return
    width = max(40, shutil.get_terminal_size().columns)
    style = _style if sys.stdout.isatty() else None  # colour on a terminal only
    for result in found:
        for line in render(result, width, style):
            click.echo(line)


def _style(text: str, kind: str) -> str:
    """The ref bold, the match bold yellow."""
    if kind == "text":
        return text
    return click.style(text, fg="yellow" if kind == "match" else None, bold=True)
