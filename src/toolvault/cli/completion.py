"""Shell completion for bash, zsh and fish, through click's own completion.

``toolvault completion SHELL`` prints click's script for that shell; on each TAB the shell
runs ``toolvault`` with ``_TOOLVAULT_COMPLETE`` set and click answers from the commands
themselves: command names, options, choices. Tool names — and after ``NAME:`` that
tool's version numbers, labels and the keywords ``latest``, ``previous``, ``versions`` —
come from :func:`complete_spec` and :func:`complete_name`, the ``shell_complete``
callbacks of the SPEC and NAME arguments, which read the local vault through
:mod:`toolvault.fastcomplete` (see there: what is read, and why nothing is completed
with ``TOOLVAULT_URL`` set). The common case, a TAB in such an argument, is answered by
that module before click is even imported; everything else comes here.

The bash script is click's with one change: bash splits the word being completed at
``:`` (``COMP_WORDBREAKS``), so ``fmt:1`` would reach toolvault as three words and a
reply would repeat ``fmt:``. The script sends the line up to the cursor instead of the
split words, and strips from each reply what bash already has before the last ``:``.
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.shell_completion import (
    BashComplete,
    CompletionItem,
    FishComplete,
    ShellComplete,
    ZshComplete,
    add_completion_class,
)

from toolvault.fastcomplete import COMPLETE_VAR, NAME, SPEC, candidates, completion_args

PROG = "toolvault"

_BASH_SOURCE = """\
%(complete_func)s() {
    local IFS=$'\\n'
    local response
    local line="${COMP_LINE:0:COMP_POINT}"
    local word="${line##*[[:space:]]}"
    local before=""
    # bash completes only what follows the last ':' of the word (COMP_WORDBREAKS)
    if [[ $word == *:* && $COMP_WORDBREAKS == *:* ]]; then
        before="${word%%"${word##*:}"}"
    fi

    response=$(env COMP_LINE="$line" %(complete_var)s=bash_complete $1)

    for completion in $response; do
        IFS=',' read type value <<< "$completion"

        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=("${value#"$before"}")
        fi
    done

    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""


class LineBashComplete(BashComplete):
    """Click's bash completion, given the line up to the cursor instead of split words."""

    source_template = _BASH_SOURCE

    def get_completion_args(self) -> tuple[list[str], str]:
        """The words before the one being completed, and that word (maybe empty)."""
        if "COMP_LINE" not in os.environ:  # a script from click itself still works
            return super().get_completion_args()
        return completion_args("bash")


SHELLS: dict[str, type[ShellComplete]] = {
    "bash": LineBashComplete,
    "zsh": ZshComplete,
    "fish": FishComplete,
}


# -- the callbacks of the SPEC and NAME arguments --------------------------------------


def _root_home(ctx: click.Context) -> str | None:
    home: str | None = ctx.find_root().params.get("home")
    return home


def complete_spec(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``shell_complete`` of a SPEC argument: names, then ``NAME:`` selectors."""
    return [CompletionItem(v) for v in candidates(_root_home(ctx), SPEC, incomplete)]


def complete_name(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """``shell_complete`` of a NAME argument: tool names."""
    return [CompletionItem(v) for v in candidates(_root_home(ctx), NAME, incomplete)]


# -- answering a TAB ----------------------------------------------------------------------


def complete(instruction: str) -> int:
    """Answer the shell's ``_TOOLVAULT_COMPLETE`` request with click (which exits)."""
    add_completion_class(LineBashComplete, "bash")
    from toolvault.cli import cli

    cli.main(prog_name=PROG)
    return 1  # not reached: click exits with the status of its answer


@click.command()
@click.argument("shell", metavar="SHELL", type=click.Choice(sorted(SHELLS)))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    It completes commands, options, tool names and, after NAME:, that tool's version
    numbers, labels and latest/previous/versions, read from the local vault. Install:

    \b
      bash:  toolvault completion bash > ~/.local/share/bash-completion/completions/toolvault
      zsh:   toolvault completion zsh > "${fpath[1]}/_toolvault"
      fish:  toolvault completion fish > ~/.config/fish/completions/toolvault.fish
    """
    from toolvault.cli import cli

    script = SHELLS[shell](cli, {}, PROG, COMPLETE_VAR).source()
    click.echo(script, nl=False)
