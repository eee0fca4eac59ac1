""":class:`~toolvault.client.RemoteVault`'s pages of the tools and of the audit log: the
daemon's ``GET /v1/tools`` and ``GET /v1/audit`` with page parameters, with the
signatures of ``Vault.tool_page`` and ``Vault.audit_page`` on a local vault."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from toolvault.models import Tool
    from toolvault.service.auditviews import AuditPage


class RemotePages:
    """Mixed into RemoteVault, which provides ``_request`` and ``_raise_for``."""

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, bytes]:
        raise NotImplementedError

    def _raise_for(self, status: int, body: bytes) -> None:
        raise NotImplementedError

    def tool_page(
        self,
        *,
        lifecycle: str | None = None,
        owner: str | None = None,
        label: str | None = None,
        sort: str = "name",
        offset: int = 0,
        limit: int | None = 50,
    ) -> tuple[list[Tool], int]:
        """The daemon's :meth:`Vault.tool_page <toolvault.service.reads.Reads.tool_page>`"""
        from toolvault.models import Tool

        query = {"lifecycle": lifecycle, "owner": owner, "label": label, "sort": sort,
                 "offset": offset, "limit": limit}  # fmt: skip
        items, total = self._page("/v1/tools", query)
        return [Tool.from_dict(t) for t in items], total

    def audit_page(
        self,
        *,
        tool: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        offset: int = 0,
        limit: int | None = 100,
        newest_first: bool = True,
    ) -> AuditPage:
        """The daemon's :meth:`Vault.audit_page
        <toolvault.service.auditviews.AuditViews.audit_page>`."""
        from toolvault.models import AuditEntry
        from toolvault.service.auditviews import AuditPage

        query = {"tool": tool, "actor": actor, "action": action, "offset": offset,
                 "limit": limit, "newest_first": "true" if newest_first else "false"}  # fmt: skip
        items, total = self._page("/v1/audit", query)
        return AuditPage(tuple(AuditEntry(**e) for e in items), total, offset)

    def _page(self, path: str, query: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        """A page's items and its X-Total-Count."""
        from toolvault import errors
        from toolvault.client_answers import check

        given = {k: str(v) for k, v in query.items() if v is not None}
        status, headers, data = self._request("GET", f"{path}?{urlencode(given)}")
        self._raise_for(status, data)
        try:
            items: list[dict[str, Any]] = check(json.loads(data), [dict])
            return items, int(headers["X-Total-Count"])
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise errors.ToolvaultError(
                f"the daemon answered GET {path} with no page (JSON and X-Total-Count): "
                "is it an older toolvault?"
            ) from exc
