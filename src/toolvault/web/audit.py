"""The audit log (``/ui/audit``): filtered by tool, actor and action in the database,
newest first, a page at a time (``Vault.audit_page``, which ``GET /v1/audit?limit=…``
serves too); the state of its hash chain (``Vault.chain_state``: the verified prefix is
cached, a view checks only the entries appended since); and the last ``verify`` report
the daemon ran, from here or ``GET /v1/verify`` (``Vault.last_verify``, kept in the
vault's home so a restart keeps it). ``verify`` is run on request, by a signed-in
principal or anyone under ``--public-read``, as ``GET /v1/verify`` is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from toolvault.web import params
from toolvault.web.render import page
from toolvault.web.session import chrome, csrf_checked, who

if TYPE_CHECKING:
    from toolvault.server.hot import Guard

PER_PAGE = 100


def audit(guard: Guard, request: Request) -> Response:
    """The audit log, filtered, with the chain's state and the last verify report."""
    reader = who(guard, request)
    vault = reader.vault
    tool = params.text(request, "tool", 128)
    actor = params.text(request, "actor", 200)
    action = params.text(request, "action", 40)
    number = params.number(request, "page", 1, 1, 1_000_000)
    found = vault.audit_page(
        tool=tool or None, actor=actor or None, action=action or None,
        offset=(number - 1) * PER_PAGE, limit=PER_PAGE,
    )  # fmt: skip
    chain = vault.chain_state()
    return page(
        "audit.html", entries=found.entries, total=found.total, page=number, more=found.more,
        tool=tool, actor=actor, action=action, actions=sorted(chain.actions | {action} - {""}),
        chain=chain, last=vault.last_verify(), **chrome(request, reader),
    )  # fmt: skip


def run_verify(guard: Guard, request: Request) -> Response:
    """Run ``verify`` over the whole vault and keep its report for the audit page."""
    reader = who(guard, request)
    csrf_checked(request, reader)
    reader.vault.verify_kept()
    return RedirectResponse("/ui/audit#verify", status_code=303)
