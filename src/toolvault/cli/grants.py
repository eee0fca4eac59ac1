"""Maintainers (SPEC §11): ``grant``, ``revoke`` and ``grants``, locally or on the daemon
at ``TOOLVAULT_URL``."""

from __future__ import annotations

import click

from toolvault import spec as specs
from toolvault.cli._common import emit_json, json_option, obj, table, wants_json
from toolvault.cli.completion import complete_name
from toolvault.service.grants import check_principal


@click.command()
@click.argument("name", shell_complete=complete_name)
@click.argument("principal")
@json_option
def grant(name: str, principal: str, as_json: bool) -> None:
    """Make PRINCIPAL a maintainer of tool NAME (its owner or an admin may).

    A maintainer may publish, roll back, label and deprecate the tool; transfer,
    retire, yank and grants stay with the owner and admins. Granting again changes
    nothing.
    """
    made = obj().service().grant(specs.parse_name(name), check_principal(principal))
    if wants_json(as_json):
        emit_json({**made.to_dict(), "created": made.created})
    elif made.created:
        click.echo(f"{made.principal} is now a maintainer of {made.name}")
    else:
        click.echo(
            f"{made.principal} is a maintainer of {made.name} already "
            f"(granted by {made.granted_by} at {made.granted_at}); nothing changed"
        )


@click.command()
@click.argument("name", shell_complete=complete_name)
@click.argument("principal")
@json_option
def revoke(name: str, principal: str, as_json: bool) -> None:
    """Take PRINCIPAL's maintainer rights on tool NAME away (its owner or an admin may)."""
    gone = obj().service().revoke(specs.parse_name(name), check_principal(principal))
    if wants_json(as_json):
        emit_json({**gone.to_dict(), "revoked": True})
    else:
        click.echo(f"{gone.principal} is no longer a maintainer of {gone.name}")


@click.command()
@click.argument("name", shell_complete=complete_name)
@json_option
def grants(name: str, as_json: bool) -> None:
    """List the maintainers of tool NAME."""
    found = obj().service().grants(specs.parse_name(name))
    if wants_json(as_json):
        emit_json([g.to_dict() for g in found])
        return
    if not found:
        click.echo(f"{specs.parse_name(name)} has no maintainers besides its owner", err=True)
        return
    table(
        [[g.principal, g.granted_by, g.granted_at] for g in found],
        ["PRINCIPAL", "GRANTED BY", "GRANTED AT"],
    )
