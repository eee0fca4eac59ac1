"""``toolvault search``: find tools by what they do (SPEC §10)."""

from __future__ import annotations

import shutil
import sys

import click

from toolvault.cli._common import emit_json, json_option, obj, wants_json
from toolvault.search.result import SearchResult

FIELDS = ("name", "description", "usage", "prompt", "message", "content")
OPEN, CLOSE = "**", "**"  # how the service marks the match in a snippet


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
    colour = sys.stdout.isatty()
    for result in found:
        for line in render(result, width, colour):
            click.echo(line)


def render(result: SearchResult, width: int, colour: bool) -> list[str]:
    """A result as lines that fit ``width``: the pinned ref (short hash), lifecycle and
    score, the description, and the field that matched with its snippet, the match
    bold on a terminal (marked ``**…**`` elsewhere)."""
    short = result.ref.split("@sha256:")[0] + "@sha256:" + result.ref.split("@sha256:")[1][:12]
    state = "" if result.lifecycle == "active" else f" [{result.lifecycle}]"
    state += " [yanked]" if result.yanked else ""
    head = click.style(short, bold=True) if colour else short
    lines = [f"{head}{state}  score {result.score:g}"]
    if result.description:
        lines.append("  " + cut(result.description, width - 2))
    # the marks take no room on a terminal (bold), and their two stars each elsewhere
    snippet = cut(f"{result.field}: {result.snippet}", width - 2, keep_marks=colour)
    lines.append("  " + (highlight(snippet) if colour else snippet))
    return lines


def cut(text: str, width: int, keep_marks: bool = False) -> str:
    """One line of at most ``width`` characters as shown (the marks take no room on a
    terminal, so they are not counted; one cut open is closed again)."""
    text = " ".join(text.split())
    shown = text.replace(OPEN, "") if keep_marks else text
    if len(shown) <= width:
        return text
    out, count, i = "", 0, 0
    while i < len(text) and count < width - 1:
        if keep_marks and text.startswith(OPEN, i):
            out, i = out + OPEN, i + len(OPEN)
            continue
        out, count, i = out + text[i], count + 1, i + 1
    if keep_marks and out.count(OPEN) % 2:
        out += CLOSE
    return out + "…"


def highlight(text: str) -> str:
    """The ``**…**`` marks as bold yellow."""
    parts = text.split(OPEN)
    return "".join(
        click.style(part, fg="yellow", bold=True) if i % 2 else part for i, part in enumerate(parts)
    )
