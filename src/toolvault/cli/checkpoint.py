"""The signed head of the audit log: ``toolvault checkpoint``."""

from __future__ import annotations

import click

from toolvault.cli._common import emit_json, json_option, obj


@click.command()
@click.option(
    "--new-key",
    is_flag=True,
    help="Make a vault key where there is none (a key lost for good, or a daemon's own).",
)
@json_option
def checkpoint(new_key: bool, as_json: bool) -> None:
    """Print the audit log's current signed head (JSON): keep it elsewhere as a witness.

    A copy kept in a git commit, on another machine or in a message lets
    'toolvault verify --since FILE|JSON' prove later that the log still extends
    it. Against a daemon (TOOLVAULT_URL), the head it serves, once this client has
    checked that its log extends the last head it saw.
    """
    from toolvault import checkpoints
    from toolvault.client import RemoteVault

    if new_key:
        emit_json(checkpoints.new_key(obj().open(create=True)))
        return
    service = obj().service()
    head = service.witness() if isinstance(service, RemoteVault) else checkpoints.current(service)
    emit_json(head.to_dict() if head else None)
