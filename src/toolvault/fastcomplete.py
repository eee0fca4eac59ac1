"""Shell completion's fast path: a TAB in a SPEC or NAME argument, answered with the
standard library alone.

A shell runs ``toolvault`` on every TAB, and the common case is a tool name or, after
``NAME:``, a selector. ``main.py`` hands such a request here before click or any command
module is imported (click alone costs more than the rest of the answer): :data:`POSITIONS`
says which argument of which command names tools, the shell's words are read as click
reads them, and the answer is written in click's format for that shell. Anything else
(a command name, an option, a choice, an argument not in :data:`POSITIONS`) goes to
click's own completion in ``cli/completion.py``, whose ``shell_complete`` callbacks call
:func:`candidates` here too; ``tests/test_completion.py`` holds :data:`POSITIONS` equal to
the commands and these answers equal to click's.

Names are read from the local ``vault.db`` by ``store.fastread``, which never creates or
changes a file; a missing or damaged vault completes nothing, silently. With
``TOOLVAULT_URL`` set, commands act on the daemon, so the local vault's names would be the
wrong ones, and asking the daemon on every TAB would send the token over the network and
hang the shell while a slow or unreachable daemon times out: tool names are then not
completed (commands and options still are). Nor with ``TOOLVAULT_DB`` (PostgreSQL):
connecting costs more than a TAB may take.
"""

from __future__ import annotations

import os
import sys

from toolvault.spec import KEYWORDS, PREFIXES

COMPLETE_VAR = "_TOOLVAULT_COMPLETE"
SPEC, NAME = "spec", "name"

# Each command's positional arguments that name tools, in order; a command in REPEATING
# takes any number of its last kind. Tests hold this equal to the click commands.
POSITIONS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("cat",): (SPEC,),
    ("show",): (SPEC,),
    ("diff",): (SPEC, SPEC),
    ("run",): (SPEC,),
    ("versions",): (NAME,),
    ("rollback",): (NAME,),
    ("label",): (SPEC,),
    ("yank",): (SPEC,),
    ("deprecate",): (NAME,),
    ("retire",): (NAME,),
    ("owner",): (NAME,),
    ("grant",): (NAME,),
    ("revoke",): (NAME,),
    ("grants",): (NAME,),
    ("audit",): (NAME,),
    ("refs",): (SPEC,),
    ("context",): (SPEC,),
    ("verify",): (NAME,),
    ("pack", "export"): (SPEC,),
    ("lock",): (SPEC,),
}
REPEATING = frozenset({("context",), ("verify",), ("pack", "export"), ("lock",)})
GLOBAL_FLAGS = ("--json",)


def answer(instruction: str) -> bool:
    """Answer a shell's ``_TOOLVAULT_COMPLETE`` request if it is the plain case; False
    to leave it to click."""
    shell, _, action = instruction.partition("_")
    if action != "complete":
        return False
    try:
        args, incomplete = completion_args(shell)
    except (KeyError, ValueError, IndexError):  # not what click's scripts send: click says
        return False
    found = fast_candidates(args, incomplete)
    if found is None:
        return False
    # as click answers: the lines joined, then one newline (alone when nothing matched)
    sys.stdout.write("\n".join(line_for(shell, value) for value in found) + "\n")
    sys.stdout.flush()
    return True


def completion_args(shell: str) -> tuple[list[str], str]:
    """The words before the one being completed, and that word, read from what the
    shell's script sets (as click's ShellComplete classes read them)."""
    env = os.environ
    if shell == "bash" and "COMP_LINE" in env:  # toolvault's bash script: the line itself
        line = env["COMP_LINE"]
        words = split_words(line)
        incomplete = words.pop() if words and line and not line[-1].isspace() else ""
        return words[1:], incomplete
    words = split_words(env["COMP_WORDS"])
    if shell in ("bash", "zsh"):
        cword = int(env["COMP_CWORD"])
        return words[1:cword], words[cword] if cword < len(words) else ""
    if shell == "fish":  # COMP_CWORD is the word itself, also last in COMP_WORDS
        incomplete = split_words(env["COMP_CWORD"])[0] if env["COMP_CWORD"] else ""
        args = words[1:]
        if incomplete and args and args[-1] == incomplete:
            args.pop()
        return args, incomplete
    raise KeyError(shell)


def line_for(shell: str, value: str) -> str:
    """One plain completion (no help text) in click's format for ``shell``."""
    return f"plain\n{value}\n_" if shell == "zsh" else f"plain,{value}"


def split_words(text: str) -> list[str]:
    """Split as a shell would, keeping an unfinished last word (click's
    ``split_arg_string``)."""
    import shlex

    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out: list[str] = []
    try:
        out.extend(lex)
    except ValueError:  # an unclosed quote or a trailing backslash: the partial word
        out.append(lex.token)
    return out


def fast_candidates(args: list[str], incomplete: str) -> list[str] | None:
    """What click's ``shell_complete`` callbacks would answer, when the word being
    completed is plainly one of :data:`POSITIONS`; None to let click decide."""
    home, rest = _global_options(args)
    if rest is None or incomplete.startswith("-"):
        return None
    command = next((c for c in POSITIONS if tuple(rest[: len(c)]) == c), None)
    if command is None:
        return None
    given = rest[len(command) :]
    if any(a.startswith("-") for a in given):
        return None  # an option among the arguments: click knows what it takes
    kinds = POSITIONS[command]
    if len(given) >= len(kinds) and command not in REPEATING:
        return None
    return candidates(home, kinds[min(len(given), len(kinds) - 1)], incomplete)


def _global_options(args: list[str]) -> tuple[str | None, list[str] | None]:
    """``--home`` and the words after toolvault's own options; None for anything unplain."""
    home = None
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] == "--home" and i + 1 < len(args):
            home, i = args[i + 1], i + 2
        elif args[i].startswith("--home="):
            home, i = args[i].partition("=")[2], i + 1
        elif args[i] in GLOBAL_FLAGS:
            i += 1
        else:
            return None, None
    return home, args[i:]


def candidates(home: str | None, kind: str, incomplete: str) -> list[str]:
    """Tool names starting with ``incomplete``; for a SPEC after ``NAME:``, that tool's
    keywords, labels and version numbers (newest first) that start with what follows."""
    db = local_db(home)
    if db is None:
        return []
    prefix = next((p for p in PREFIXES if incomplete.startswith(p)), "")
    name, colon, selector = incomplete[len(prefix) :].partition(":")
    from toolvault.store import fastread

    if not colon:
        return [prefix + n for n in fastread.tool_names(db, name)]
    if kind != SPEC:
        return []
    numbers, labels = fastread.tool_selectors(db, name)
    if not numbers:
        return []
    found = [*KEYWORDS, *labels, *map(str, numbers)]
    return [f"{prefix}{name}:{s}" for s in found if s.startswith(selector)]


def local_db(home: str | None) -> str | None:
    """The SQLite file tool names are read from, or None when completion reads none."""
    if os.environ.get("TOOLVAULT_URL") or os.environ.get("TOOLVAULT_DB"):
        return None
    chosen = home or os.environ.get("TOOLVAULT_HOME") or os.path.join("~", ".toolvault")
    return os.path.join(os.path.expanduser(chosen), "vault.db")
