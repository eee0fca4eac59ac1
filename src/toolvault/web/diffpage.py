"""The diff of any two versions (``/ui/diff?old=SPEC&new=SPEC``): unified or side by side,
only the changes or the whole file, changes within lines marked. It reads the diff
``GET /v1/diff`` serves (:meth:`Vault.diff`) and lays it out (:mod:`.diffview`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from toolvault.web import params
from toolvault.web.diffview import layout
from toolvault.web.render import page
from toolvault.web.session import chrome, who

if TYPE_CHECKING:
    from toolvault.server.hot import Guard

CONTEXT = 3
WHOLE = 10_000_000  # context lines enough for any file: the whole file in one hunk
MAX_CHOICES = 1_000  # the newest versions offered in the version choosers


def diff(guard: Guard, request: Request) -> Response:
    """The diff page; with only ``new`` (or only ``old``), that version against its previous."""
    reader = who(guard, request)
    vault = reader.vault
    old = params.text(request, "old", 300)
    new = params.text(request, "new", 300)
    view = params.choice(request, "view", ("unified", "split"), "unified")
    whole = params.choice(request, "only", ("1", "0"), "1") == "0"
    if not old and not new:
        return page(
            "diff.html", d=None, laid=None, view=view, whole=whole, choices=[], old_spec="",
            new_spec="", **chrome(request, reader),
        )  # fmt: skip
    single = old if not new else new if not old else None
    found = (
        vault.diff(single, None, WHOLE if whole else CONTEXT)
        if single
        else vault.diff(old, new, WHOLE if whole else CONTEXT)
    )
    name = found.new.name
    listing = vault.version_listing(name)[::-1][:MAX_CHOICES]
    if found.old is not None and found.old.name != name:
        listing += vault.version_listing(found.old.name)[::-1][:MAX_CHOICES]
    return page(
        "diff.html", d=found, laid=layout(found.lines), view=view, whole=whole,
        choices=[f"{v['name']}:{v['version']}" for v in listing],
        old_spec=f"{found.old.name}:{found.old.version}" if found.old else "",
        new_spec=f"{found.new.name}:{found.new.version}",
        **chrome(request, reader),
    )  # fmt: skip
