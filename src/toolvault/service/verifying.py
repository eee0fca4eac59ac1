"""``Vault.verify``: the entry to :mod:`toolvault.verify`, which holds the checks and the
machinery that shares them among processes, and to the checkpoints' check.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from toolvault import spec as specs
from toolvault import validate
from toolvault.models import Problem, Report
from toolvault.service.base import ServiceBase

if TYPE_CHECKING:
    from toolvault.checkpoints import Checkpoint
    from toolvault.verify.sharing import Part, Share

# verify checks a vault of at least this many versions in several processes at once,
# never more than MAX_WORKERS (their parts stay well within sharing.MAX_PARTS)
PARALLEL_FROM = 5_000
MAX_WORKERS = 8


class Verifying(ServiceBase):
    """Checking the whole vault, or some tools (SPEC §6)."""

    def verify(
        self,
        names: Sequence[str] = (),
        *,
        workers: int | None = None,
        since: Checkpoint | None = None,
    ) -> Report:
        """Recompute hashes, chains, the audit log and signatures, compare the tree and
        the governance records with the log; report every problem with its place.

        A big vault is checked by ``workers`` processes at once, this one and forked
        children, which take its parts from a queue (default: one per CPU, for SQLite
        vaults of at least PARALLEL_FROM versions, from a process with no other threads,
        as forking one with threads is unsafe). The signed checkpoints are checked too, and
        ``since`` (a head kept elsewhere) must still be extended by the log."""
        wanted = frozenset(specs.parse_name(n) for n in validate.names(names, "names"))
        if workers is not None:
            validate.of_type(workers, int, "workers", "a whole number of processes")
        for name in wanted:
            self.tool(name)
        problems, checked = self._check_parts(wanted, workers)
        from toolvault import checkpoints

        anchored, checked["checkpoints"] = checkpoints.check(self, since)
        from toolvault.verify.search_index import index_problems

        with self.store.snapshot():
            index, checked["index"] = index_problems(self.store, wanted)
        return Report(checked, (*problems, *anchored, *index))

    def _check_parts(
        self, wanted: frozenset[str], workers: int | None
    ) -> tuple[list[Problem], dict[str, int]]:
        """Every check but the checkpoints', in parts shared among processes."""
        from toolvault.verify import merge, sharing

        counts = self.store.version_counts(wanted)
        processes = self._workers(workers, counts, wanted)
        parts = sharing.plan(counts, self.store.audit_head()[0], processes)
        check = self._check_part(wanted)
        with sharing.gc_paused():
            shares = sharing.run_parts(parts, check, self.store.after_fork, processes)
            if len({share.head for share in shares}) > 1:  # a write landed between their reads
                shares = [check(sharing.EVERYTHING)]
            with self.store.snapshot():
                problems, checked = merge.merge(shares, self.store, whole=not wanted)
        if wanted:  # the tree of the other tools was not compared: its files are no strays
            problems = [
                p for p in problems if p.name in wanted or (p.name is None and p.kind != "stray")
            ]
        return problems, checked

    def _workers(
        self, workers: int | None, counts: list[tuple[str, int, int]], wanted: frozenset[str]
    ) -> int:
        forkable = (
            self.store.dialect == "sqlite" and hasattr(os, "fork") and threading.active_count() == 1
        )
        if not forkable or wanted:  # named tools are few: one part checks them
            return 1
        if workers is not None:
            return min(max(1, workers), MAX_WORKERS)
        if sum(n for _, n, _ in counts) < PARALLEL_FROM:
            return 1
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        return min(len(usable) if usable else os.cpu_count() or 1, MAX_WORKERS)

    def _check_part(self, wanted: frozenset[str]) -> Callable[[Part], Share]:
        from toolvault.verify import part_check  # looked up at each call: tests replace it

        tree = self.tree if self.materialize else None
        require = self.config.require_signatures

        def check(part: Part) -> Share:
            with self.store.snapshot():
                return part_check.check_part(self.store, tree, part, wanted, require)

        return check
