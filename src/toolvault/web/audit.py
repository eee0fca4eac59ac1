"""The audit log (``/ui/audit``): filtered by tool, actor and action, newest first, a page
at a time; the state of its hash chain; and the last ``verify`` report run from here.

The chain's state is checked on every view (the log's hashes recomputed, which is what
``verify`` does for it); the whole ``verify`` (every blob, chain, signature, the tree) is
run on request, by a signed-in principal or anyone under ``--public-read``, as
``GET /v1/verify`` is, and its report is kept in the daemon for the page to show.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from toolvault.web import params
from toolvault.web.render import page
from toolvault.web.session import chrome, csrf_checked, who

if TYPE_CHECKING:
    from toolvault.models import AuditEntry, Problem, Report
    from toolvault.server.hot import Guard

PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class LastReport:
    """The last verify report run from the UI, when and by whom."""

    report: Report
    at: str
    by: str


_last: dict[int, LastReport] = {}  # per guard (one daemon may serve several vaults in tests)
_lock = threading.Lock()


def audit(guard: Guard, request: Request) -> Response:
    """The audit log, filtered, with the chain's state and the last verify report."""
    reader = who(guard, request)
    vault = reader.vault
    tool = params.text(request, "tool", 128)
    actor = params.text(request, "actor", 200)
    action = params.text(request, "action", 40)
    number = params.number(request, "page", 1, 1, 1_000_000)
    entries = vault.audit(tool or None)
    problems = chain_problems(entries) if not tool else None
    actions = sorted({e.action for e in entries})
    kept = [
        e for e in entries if (not actor or e.actor == actor) and (not action or e.action == action)
    ]
    kept.reverse()
    shown = kept[(number - 1) * PER_PAGE : number * PER_PAGE]
    with _lock:
        last = _last.get(id(guard))
    return page(
        "audit.html", entries=shown, total=len(kept), page=number,
        more=number * PER_PAGE < len(kept), tool=tool, actor=actor, action=action,
        actions=actions, problems=problems, count=len(entries), last=last,
        **chrome(request, reader),
    )  # fmt: skip


def chain_problems(entries: list[AuditEntry]) -> list[Problem]:
    """The hash chain's problems (verify's audit check) over the whole log."""
    from toolvault.hashing import canonical
    from toolvault.verify.audit import check_audit_chain

    rows = [
        (e.seq, e.at, e.actor, e.action, e.tool, e.version, canonical(e.details).decode(),
         e.prev_hash, e.hash)
        for e in entries
    ]  # fmt: skip
    return check_audit_chain(rows)


def run_verify(guard: Guard, request: Request) -> Response:
    """Run ``verify`` over the whole vault and keep its report for the audit page."""
    from toolvault.store.sql import utcnow

    reader = who(guard, request)
    csrf_checked(request, reader)
    report = reader.vault.verify()
    by = reader.principal.name if reader.principal else "anonymous"
    with _lock:
        _last[id(guard)] = LastReport(report, utcnow(), by)
    return RedirectResponse("/ui/audit#verify", status_code=303)
