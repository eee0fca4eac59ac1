"""Long texts from files: ``--prompt-file F`` and ``--message-file F`` (``-``: stdin).

An argument on the command line is bounded by the system (a 200 KB ``--prompt``
fails with "Argument list too long" before toolvault starts), while an agent's
prompt can be longer. So every command that takes ``--prompt`` or ``-m`` also
takes the text from a file, read as ``add`` reads a tool: a regular file only,
never more than the field's limit. The text is what ``"$(cat F)"`` would give:
UTF-8, trailing line ends removed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from toolvault.errors import InvalidInput
from toolvault.sources.files import read_regular, read_stream
from toolvault.validate import MESSAGE, PROMPT, USAGE, Rule

F = TypeVar("F", bound=Callable[..., Any])

STDIN = "-"


def message_file_option(func: F) -> F:
    """Add ``--message-file FILE`` beside a command's ``-m/--message``."""
    return click.option(
        "--message-file",
        metavar="FILE",
        help="Read the message from FILE ('-': standard input), for texts too long to type.",
    )(func)


def prompt_file_option(func: F) -> F:
    """Add ``--prompt-file FILE`` beside ``add``'s ``--prompt``."""
    return click.option(
        "--prompt-file",
        metavar="FILE",
        help="Read the prompt from FILE ('-': standard input), for prompts too long to type.",
    )(func)


def message(inline: str | None, path: str | None) -> str | None:
    """The message of ``-m TEXT`` or ``--message-file FILE`` (one of them at most)."""
    return choose(inline, path, "-m/--message", "--message-file", MESSAGE)


def prompt(inline: str | None, path: str | None) -> str | None:
    """The prompt of ``--prompt TEXT`` or ``--prompt-file FILE`` (one of them at most)."""
    return choose(inline, path, "--prompt", "--prompt-file", PROMPT)


def usage(inline: str | None, path: str | None) -> str | None:
    """The usage of ``--usage TEXT`` or ``--usage-file FILE`` (one of them at most)."""
    return choose(inline, path, "--usage", "--usage-file", USAGE)


def choose(
    inline: str | None, path: str | None, flag: str, file_flag: str, rule: Rule
) -> str | None:
    """The text given inline or in a file; both at once is a usage error."""
    if path is None:
        return inline
    if inline is not None:
        raise InvalidInput(f"give {flag} or {file_flag}, not both")
    return read_text(path, file_flag, rule)


def read_text(path: str, file_flag: str, rule: Rule) -> str:
    """The UTF-8 text of a regular file or of standard input, at most the field's limit."""
    limit = rule.max_bytes or MESSAGE.max_bytes or 0
    hint = f"the most a {rule.field} may hold"
    where = "standard input" if path == STDIN else path
    try:
        if path == STDIN:
            data = read_stream(sys.stdin.buffer, limit, f"{file_flag} -", hint=hint)
        else:
            data = read_regular(path, limit, hint=hint)[0]
    except FileNotFoundError:
        raise InvalidInput(f"{file_flag} {path}: no such file") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{file_flag}: {where} is not UTF-8 text (byte {exc.start}); give a file of text"
        ) from None
    return text.rstrip("\r\n")


def stdin_once(uses: dict[str, str | None]) -> None:
    """Standard input can be read once: refuse two options that both say ``-``."""
    readers = [flag for flag, value in uses.items() if value == STDIN]
    if len(readers) > 1:
        raise InvalidInput(
            f"{' and '.join(readers)} both read standard input ('-'); give a file to all but one"
        )
