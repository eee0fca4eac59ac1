"""``diff SPEC FILE|-``: a version against content that is not published (SPEC §11).

``diff``'s second argument is a version or a file, and each can look like the other
(``fmt.py`` is a valid tool name). It is read as:

1. ``-``: standard input;
2. a path that does not exist: a spec, as ``diff`` has always read it;
3. an existing path with a ``/`` in it (``./fmt.py``, ``src/fmt.py``), or that is not a
   valid spec: that file;
4. an existing path that is also a valid spec: that file if the spec names no version,
   and refused as ambiguous if it names one (``./NAME`` says the file, ``/tools/NAME``
   the version).

The file must be a regular file (a link to one is followed) of UTF-8 text within the
vault's size limit, as ``add`` reads one.
"""

from __future__ import annotations

import os
import sys

import click

from toolvault import spec as specs
from toolvault.cli._common import emit_json, wants_json
from toolvault.contentdiff import STDIN_LABEL, ContentDiff
from toolvault.errors import InvalidInput, InvalidSpec, NotFound
from toolvault.sources.files import read_regular, read_stream

TYPE_CHECKING = False
if TYPE_CHECKING:
    from toolvault.client import RemoteVault
    from toolvault.vault import Vault

STDIN = "-"


def unpublished(vault: Vault | RemoteVault, new: str) -> tuple[str, bytes] | None:
    """(the name to show, the content) when ``new`` names content that is not published,
    None when it names a version (the rules above)."""
    from toolvault.cli.write import read_limit

    if new == STDIN:
        return STDIN_LABEL, read_stream(sys.stdin.buffer, read_limit(), "standard input")
    if not os.path.lexists(new):
        if _valid_spec(new):
            return None
        raise InvalidInput(
            f"no such file: {new} (nor is it a version spec such as NAME:N)",
            details={"file": new},
        )
    if "/" not in new and _names_a_version(vault, new):
        raise InvalidInput(
            f"'{new}' is both a file here and a version in the vault; write ./{new} "
            f"for the file, or /tools/{new} for the version",
            details={"argument": new},
        )
    if os.path.isdir(new):
        raise InvalidInput(
            f"{new} is a folder; diff takes one file of text (or - for standard input)",
            details={"file": new},
        )
    try:
        return new, read_regular(new, read_limit())[0]
    except FileNotFoundError:
        raise InvalidInput(f"{new} is a link to nothing; give a file of text") from None
    except PermissionError:
        raise InvalidInput(f"{new} cannot be read: permission denied") from None


def _valid_spec(text: str) -> bool:
    try:
        specs.parse(text)
    except InvalidSpec:
        return False
    return True


def _names_a_version(vault: Vault | RemoteVault, text: str) -> bool:
    if not _valid_spec(text):
        return False
    try:
        vault.get(text)
    except NotFound:
        return False
    return True


def render(d: ContentDiff, stat: bool, as_json: bool) -> None:
    """Print a diff against unpublished content as ``diff`` prints a version diff."""
    if wants_json(as_json):
        emit_json(d.to_dict())
        return
    if stat:
        click.echo(
            f"{d.old.name}:{d.old.version} -> {d.file} (unpublished): "
            f"{d.added} insertion(s)(+), {d.removed} deletion(s)(-)"
        )
        return
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in d.lines:
        colour = None if line.startswith(("+++", "---")) else colours.get(line[:1])
        click.echo(click.style(line, fg=colour) if colour else line, nl=False)
