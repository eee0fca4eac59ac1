"""What every command shares: the vault handle, --json, and one-line errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

from toolvault.errors import InvalidInput
from toolvault.vault import Vault

if TYPE_CHECKING:
    from toolvault.client import RemoteVault

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Obj:
    """Per-invocation state kept on the click context."""

    home: str | None
    as_json: bool
    vaults: list[Vault | RemoteVault] = field(default_factory=list)

    def open(
        self,
        *,
        create: bool = False,
        migrate: bool = True,
        db: str | None = None,
        beside_daemon: bool = False,
    ) -> Vault:
        """Open the local vault (created only for commands that write); ``db`` is a
        PostgreSQL URL given on the command line (else TOOLVAULT_DB applies).

        With ``TOOLVAULT_URL`` set the user works with a daemon, so a command that only
        knows the local vault is refused rather than silently creating or writing one;
        ``beside_daemon`` is for the few that use both on purpose (``pull``)."""
        if not beside_daemon:
            local_only(self.home)
        vault = Vault.open(self.home, create=create, migrate=migrate, db=db)
        self.vaults.append(vault)
        return vault

    def service(self, *, create: bool = False) -> Vault | RemoteVault:
        """The vault the read and write commands act on: the daemon at
        ``TOOLVAULT_URL`` when it is set, else the local vault."""
        url = os.environ.get("TOOLVAULT_URL")
        if not url:
            return self.open(create=create)
        from toolvault.client import RemoteVault
        from toolvault.config import resolve_home

        remote = RemoteVault(url, os.environ.get("TOOLVAULT_TOKEN"), home=resolve_home(self.home))
        self.vaults.append(remote)
        return remote

    def close(self) -> None:
        """Close every vault this invocation opened."""
        for vault in self.vaults:
            vault.close()


def local_only(home: str | None = None) -> None:
    """Refuse, naming TOOLVAULT_URL, a command that acts only on a local vault while
    TOOLVAULT_URL says the user works with a daemon (SPEC §9): nothing may be written
    to a vault the user did not choose."""
    url = os.environ.get("TOOLVAULT_URL")
    if not url:
        return
    from toolvault.config import resolve_home

    ctx = click.get_current_context(silent=True)
    words: list[str] = []
    while ctx is not None and ctx.parent is not None:  # the command's words, not the program's
        words.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    command = f"'toolvault {' '.join(words)}'" if words else "this command"
    hint = LOCAL_ONLY_HINTS.get(words[0] if words else "", "")
    raise InvalidInput(
        f"TOOLVAULT_URL is set ({url}) and {command} acts only on a local vault, not through "
        f"the daemon; unset TOOLVAULT_URL to use the vault at {resolve_home(home)}{hint}"
    )


# What a user who meant the daemon may want instead of a local-only command.
LOCAL_ONLY_HINTS = {
    "ingest": "; 'toolvault pull NAME' copies tools from the daemon into the local vault",
    "pack": "; the daemon serves packs at GET /v1/packs?spec=NAME",
}


def obj() -> Obj:
    """The current invocation's state."""
    ctx = click.get_current_context()
    found: Obj = ctx.find_object(Obj)  # type: ignore[assignment]
    return found


def json_option(func: F) -> F:
    """Add ``--json`` to a command (also accepted before the command name)."""
    return click.option("--json", "as_json", is_flag=True, help="Print data as JSON.")(func)


def wants_json(flag: bool) -> bool:
    """True when --json was given to the command or to toolvault itself."""
    return flag or obj().as_json


def emit_json(data: Any) -> None:
    """Print data as indented JSON."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def table(rows: list[list[str]], header: list[str]) -> None:
    """Print left-aligned columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


def warn(message: str) -> None:
    """A warning line on stderr."""
    click.echo(f"toolvault: warning: {message}", err=True)


def note(message: str) -> None:
    """A note on stderr: something the user should know, nothing wrong."""
    click.echo(f"toolvault: note: {message}", err=True)
