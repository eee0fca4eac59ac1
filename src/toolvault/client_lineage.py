""":class:`~toolvault.client.RemoteVault`'s lineage graphs and diffs against unpublished
content: the daemon's ``GET /v1/refs/{spec}?depth=`` and ``POST /v1/diff``, with the
signatures of :class:`~toolvault.service.lineage.Lineages` on a local vault."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from toolvault.errors import IntegrityError

if TYPE_CHECKING:
    from toolvault.contentdiff import ContentDiff
    from toolvault.lineage_graph import Lineage
    from toolvault.spec import Spec


class RemoteLineages:
    """Mixed into RemoteVault, which provides ``url`` and ``_json``."""

    url: str

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        raise NotImplementedError

    def lineage(self, spec: str | Spec, depth: int | str = 1, reverse: bool = False) -> Lineage:
        """The daemon's :meth:`Vault.lineage <toolvault.service.lineage.Lineages.lineage>`
        (the daemon holds the node cap)."""
        from toolvault.lineage_graph import Lineage, parse_depth

        limit = parse_depth(depth)  # refused here as locally, before a request
        query = {"depth": "all" if limit is None else str(limit)}
        if reverse:
            query["reverse"] = "true"
        path = f"/v1/refs/{quote(str(spec), safe=':@')}?{urlencode(query)}"
        try:
            return Lineage.from_dict(self._json("GET", path))
        except ValueError as exc:  # as a checkpoint that is not one: nothing printed from it
            raise IntegrityError(
                f"the daemon at {self.url} answered GET {path} with no lineage graph ({exc})",
                details={"url": self.url},
            ) from None

    def diff_content(
        self, spec: str | Spec, content: str | bytes, *, file: str = "unpublished", context: int = 3
    ) -> ContentDiff:
        """The daemon's :meth:`Vault.diff_content
        <toolvault.service.lineage.Lineages.diff_content>`; content that is not text is
        refused here, with the local message (JSON carries text only)."""
        from toolvault.contentdiff import ContentDiff, file_label, text_of

        label = file_label(file)
        text = text_of(content, label, None)  # the size limit is the daemon's
        body = {"old": str(spec), "content": text, "file": label, "context": context}
        return ContentDiff.from_dict(self._json("POST", "/v1/diff", body))
