"""The service's lineage graphs and diffs against unpublished content (SPEC §11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolvault.service.base import ServiceBase

if TYPE_CHECKING:  # imported by the methods: the read path that loads Vault stays light
    from toolvault.contentdiff import ContentDiff
    from toolvault.lineage_graph import Lineage
    from toolvault.spec import Spec


class Lineages(ServiceBase):
    """``refs --depth`` and ``diff SPEC FILE``: reads only."""

    def lineage(
        self,
        spec: str | Spec,
        depth: int | str = 1,
        reverse: bool = False,
        *,
        max_nodes: int | None = None,
    ) -> Lineage:
        """The lineage graph of the version ``spec`` names: the versions it references,
        transitively (``reverse``: the versions that reference it), ``depth`` levels deep
        (a number, or ``"all"``), each version once. More than ``max_nodes`` versions is
        :class:`~toolvault.errors.InvalidInput`: ask for a smaller depth (default
        :data:`~toolvault.lineage_graph.MAX_NODES`)."""
        from toolvault.gcpause import paused
        from toolvault.lineage_graph import MAX_NODES, parse_depth
        from toolvault.lineage_walk import walk

        limit = parse_depth(depth)
        v = self.get(spec)
        root = (
            *(v.name, v.version, v.sha256, v.created_at, v.created_by, v.owner),
            *(v.session_id, v.prompt, v.message, v.references),
        )
        with paused():  # a walk makes no cycle: the collector's passes only cost
            return walk(
                self.store, self._lineage_find, root, limit, reverse, max_nodes or MAX_NODES
            )

    def _lineage_find(self, stored: str) -> tuple[str, int] | None:
        """The version a reference stored as written resolves to today, if any."""
        from toolvault import spec as specs
        from toolvault.errors import ToolvaultError

        try:
            if specs.parse(stored).kind is specs.Kind.VERSIONS:
                return None
            found = self.get(stored)
        except ToolvaultError:
            return None
        return found.name, found.version

    def diff_content(
        self, spec: str | Spec, content: str | bytes, *, file: str = "unpublished", context: int = 3
    ) -> ContentDiff:
        """Unified diff from the version ``spec`` names to ``content``, which is not
        published (``file`` names where it came from); content a publish would refuse
        (binary, not UTF-8, over the size limit) is refused the same way."""
        from toolvault.contentdiff import compare, file_label, text_of

        label = file_label(file)
        text = text_of(content, label, self.config.max_tool_size)
        return compare(self.cat(spec), text, label, context)
