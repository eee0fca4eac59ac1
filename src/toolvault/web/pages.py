"""The reading pages: the tools (search, filters, sorting, pages), a tool, a version (its
content highlighted, provenance, references both ways, signature, banners) and a
version's raw content. Each reads what the API's endpoint for it reads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response

from toolvault.errors import InvalidInput
from toolvault.web import params
from toolvault.web.highlight import highlighted, language
from toolvault.web.render import markup, page
from toolvault.web.session import chrome, who

if TYPE_CHECKING:
    from toolvault.models import Tool
    from toolvault.server.hot import Guard
    from toolvault.vault import Vault

PER_PAGE = 50
MAX_RESULTS = 1_000  # a search shows at most this many: refine it to see others
LIFECYCLES = ("", "active", "deprecated", "retired", "all")
SORTS = ("name", "updated", "created", "owner")
MARKED = re.compile(r"\*\*(.+?)\*\*")


@dataclass(frozen=True, slots=True)
class Row:
    """A row of the tools page."""

    tool: Tool
    version: int | None  # the version the row links to: the match, or the latest
    snippet: Markup | None
    field: str | None


@dataclass(frozen=True, slots=True)
class Filters:
    """What the tools page was asked for."""

    q: str
    owner: str
    lifecycle: str
    label: str
    sort: str
    page: int

    @classmethod
    def of(cls, request: Request) -> Filters:
        """The filters of a request to the tools page."""
        q = params.text(request, "q")
        sorts = ("relevance", *SORTS) if q else SORTS
        return cls(
            q,
            params.text(request, "owner", 200),
            params.choice(request, "lifecycle", LIFECYCLES),
            params.text(request, "label", 64),
            params.choice(request, "sort", sorts, "relevance" if q else "name"),
            params.number(request, "page", 1, 1, 1_000_000),
        )

    def link(self, **changed: Any) -> dict[str, Any]:
        """The query of this page with some parameters changed (for the page links)."""
        now = {k: getattr(self, k) for k in ("q", "owner", "lifecycle", "label", "sort")}
        now["page"] = self.page if self.page > 1 else None
        return now | changed


def tools(guard: Guard, request: Request) -> Response:
    """The tools: a search, filters, a sort, a page of 50."""
    reader = who(guard, request)
    f = Filters.of(request)
    offset = (f.page - 1) * PER_PAGE
    total: int | None = None
    if f.q:
        rows, more = searched(reader.vault, f, offset)
    else:
        found, total = reader.vault.tool_page(
            lifecycle=f.lifecycle or None, owner=f.owner or None, label=f.label or None,
            sort=f.sort, offset=offset, limit=PER_PAGE,
        )  # fmt: skip
        rows = [Row(t, t.latest_version, None, None) for t in found]
        more = offset + len(rows) < total
    return page(
        "tools.html", rows=rows, f=f, total=total, more=more, offset=offset,
        lifecycles=LIFECYCLES, sorts=("relevance", *SORTS) if f.q else SORTS,
        **chrome(request, reader),
    )  # fmt: skip


def searched(vault: Vault, f: Filters, offset: int) -> tuple[list[Row], bool]:
    """A page of search results (SPEC §10) as rows, and whether there are more."""
    query = f.q + _qualifier("owner", f.owner) + _qualifier("label", f.label)
    ranked = f.sort == "relevance"
    limit = min(MAX_RESULTS, offset + PER_PAGE + 1) if ranked else MAX_RESULTS
    if offset >= MAX_RESULTS:
        return [], False
    results = vault.search(query, lifecycle=f.lifecycle or None, limit=limit)
    if not ranked:
        tools = {t.name: t for t in vault.tools_named([r.name for r in results])}
        results.sort(key=lambda r: _sort_key(tools[r.name], f.sort))
    shown = results[offset : offset + PER_PAGE]
    summaries = {t.name: t for t in vault.tools_named([r.name for r in shown])}
    rows = [
        Row(summaries[r.name], r.version, _snippet(r.snippet), r.field)
        for r in shown
        if r.name in summaries
    ]
    return rows, len(results) > offset + PER_PAGE


def _qualifier(field: str, value: str) -> str:
    if not value:
        return ""
    if '"' in value:
        raise InvalidInput(f"the {field} filter cannot hold a double quote")
    return f' {field}:"{value}"'


def _sort_key(tool: Tool, sort: str) -> Any:
    if sort == "name":
        return tool.name
    if sort == "owner":
        return (tool.owner, tool.name)
    stamp = tool.updated_at if sort == "updated" else tool.created_at
    return ("".join(chr(0x10FFFF - ord(c)) for c in stamp), tool.name)  # newest first


def _snippet(text: str | None) -> Markup | None:
    """A search snippet with its match (``**…**``) marked, everything else escaped."""
    if not text:
        return None
    return markup(MARKED.sub(r"<mark>\1</mark>", str(escape(text))))


def tool(guard: Guard, request: Request) -> Response:
    """A tool: its description, usage, owner, maintainers, lifecycle, labels, versions."""
    reader = who(guard, request)
    vault = reader.vault
    found = vault.tool(request.path_params["name"])
    listing = vault.version_listing(found.name)
    number = params.number(request, "page", 1, 1, 1_000_000)
    newest_first = listing[::-1]
    shown = newest_first[(number - 1) * PER_PAGE : number * PER_PAGE]
    head = vault.get(f"{found.name}:{found.latest_version or listing[-1]['version']}")
    labels = vault.labels(found.name)
    on: dict[int, list[str]] = {}
    for lb in labels:
        on.setdefault(lb.version, []).append(lb.label)
    return page(
        "tool.html", tool=found, head=head, versions=shown, count=len(listing), page=number,
        more=number * PER_PAGE < len(listing), labels=labels, labels_on=on,
        grants=vault.grants(found.name), rights=reader.rights(found.name),
        numbers=[v["version"] for v in newest_first], done=params.text(request, "done", 40),
        **chrome(request, reader),
    )  # fmt: skip


def version(guard: Guard, request: Request) -> Response:
    """A version: its content highlighted, raw download, pinned ref, provenance,
    references both ways, signature status, yank and deprecation banners."""
    reader = who(guard, request)
    vault = reader.vault
    spec = _spec(request)
    shown = vault.cat(spec)
    described = vault.describe(spec)
    text = shown.text
    code = markup(highlighted(shown.sha256, shown.name, text))
    return page(
        "version.html", v=shown, d=described, code=code,
        lines=text.count("\n") + (0 if text.endswith("\n") or not text else 1),
        language=language(shown.name, text),
        refs=vault.refs_report(spec)["references"],
        referrers=vault.refs_report(spec, reverse=True)["referenced_by"],
        rights=reader.rights(shown.name), done=params.text(request, "done", 40),
        **chrome(request, reader),
    )  # fmt: skip


def raw(guard: Guard, request: Request) -> Response:
    """A version's content as a download of plain text: it never runs in the page."""
    shown = who(guard, request).vault.cat(_spec(request))
    assert shown.content is not None
    filename = quote(f"{shown.name}-{shown.version}")
    return Response(
        shown.content,
        media_type="text/plain; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "x-toolvault-version": shown.ref,
        },
    )


def _spec(request: Request) -> str:
    return f"{request.path_params['name']}:{request.path_params['number']}"
