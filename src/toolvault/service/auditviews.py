"""The audit log for people and programs that page through it: a page of it filtered in
the database, the state of its hash chain without rehashing the whole log on every view,
and verify's report kept for the audit page (:mod:`toolvault.lastverify`).

The chain's state is cached per store (so shared by every request's view of a daemon's
vault) as the verified prefix: the seq and hash of the last entry checked, the problems
found so far and the actions seen. A view checks only the entries appended since, after
making sure the last one checked still holds its hash. The whole log is checked again
when the cache is FULL_EVERY seconds old, after every verify the daemon runs, and when
the log is shorter than the prefix. So an edit of an old entry (which takes dropping the
log's append-only triggers: writes through toolvault never can) shows on the page at the
latest FULL_EVERY seconds after, and at once after a verify; the page says when the whole
chain was last checked.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolvault import validate
from toolvault.errors import InvalidInput
from toolvault.models import AuditEntry, Problem, Report
from toolvault.service.base import ServiceBase

if TYPE_CHECKING:
    from toolvault.lastverify import LastVerify
    from toolvault.store.base import SQLStore

FULL_EVERY = 300.0  # seconds a whole-chain check is trusted for new entries to build on
MAX_PAGE = 1_000


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of the audit log and how many entries match in all."""

    entries: tuple[AuditEntry, ...]
    total: int
    offset: int

    @property
    def more(self) -> bool:
        """Whether entries follow this page."""
        return self.offset + len(self.entries) < self.total


@dataclass(frozen=True, slots=True)
class ChainState:
    """The audit log's hash chain as last checked: through entry ``seq`` (``hash``),
    ``problems`` found, the ``actions`` seen, and when the whole chain was checked (a
    ``time.monotonic`` reading, and the UTC time to show)."""

    seq: int
    hash: str
    problems: tuple[Problem, ...]
    actions: frozenset[str]
    full_at: float
    full_at_utc: str

    @property
    def ok(self) -> bool:
        """True when the chain holds."""
        return not self.problems


_chains: weakref.WeakKeyDictionary[SQLStore, ChainState] = weakref.WeakKeyDictionary()
_chain_lock = threading.Lock()  # one check at a time: a second view waits, then reuses it


class AuditViews(ServiceBase):
    """A page of the audit log, its chain's state, and verify's last report."""

    if TYPE_CHECKING:  # Verifying's, in the Vault these are mixed into

        def verify(self, names: Sequence[str] = ()) -> Report: ...

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
        """The entries about ``tool``, by ``actor``, of ``action`` (those given), ``limit``
        of them (None: all) from ``offset``, newest first unless asked otherwise."""
        from toolvault import spec as specs

        validate.of_type(offset, int, "offset", "a whole number of entries")
        if limit is not None:
            validate.of_type(limit, int, "limit", "a whole number of entries")
        if offset < 0 or (limit is not None and not 1 <= limit <= MAX_PAGE):
            raise InvalidInput(
                f"offset must be 0 or more and limit 1 to {MAX_PAGE:,}: {offset}, {limit}",
                {"offset": offset, "limit": limit},
            )
        for label, value in (("actor", actor), ("action", action)):
            if value is not None:
                validate.of_type(value, str, label, "a text")
        name = None if tool is None else specs.parse_name(tool)
        with self.store.snapshot():
            found, total = self.store.audit_page(name, actor, action, offset, limit, newest_first)
        return AuditPage(tuple(found), total, offset)

    def chain_state(self) -> ChainState:
        """The hash chain's state, checking only what was appended since the last view
        (see the module's docstring for when the whole chain is checked again)."""
        with _chain_lock:
            state = _chains.get(self.store)
            with self.store.snapshot():
                state = _advanced(self.store, state)
            _chains[self.store] = state
            return state

    def verify_kept(self, names: Sequence[str] = ()) -> Report:
        """:meth:`verify`, its report kept as the last one (``HOME/last-verify.json``) for
        the audit page, and the chain's cached state dropped (the next view checks it
        whole): what the daemon runs for ``GET /v1/verify`` and the UI's button."""
        from toolvault import lastverify

        report = self.verify(names)
        by = self.principal.name if self.principal else "anonymous"
        lastverify.record(self.home, report, by, names)
        with _chain_lock:
            _chains.pop(self.store, None)
        return report

    def last_verify(self) -> LastVerify | None:
        """The last verify report the daemon kept, or None."""
        from toolvault import lastverify

        return lastverify.load(self.home)


def _advanced(store: SQLStore, state: ChainState | None) -> ChainState:
    """``state`` brought up to the log's head: the new entries checked, or the whole log
    when there is no usable prefix."""
    head, head_hash, _ = store.audit_head()
    if state is not None and time.monotonic() - state.full_at <= FULL_EVERY:
        if (head, head_hash) == (state.seq, state.hash):
            return state  # nothing appended: the usual view
        if state.seq < head and store.audit_hash(state.seq) == state.hash:
            return _checked(store, (state.seq, state.hash), head, state)
    return _checked(store, (0, None), head, None)


def _checked(
    store: SQLStore, after: tuple[int, str | None], head: int, prefix: ChainState | None
) -> ChainState:
    """The entries after ``after`` (seq, hash) through ``head`` checked on top of ``prefix``."""
    from toolvault.hashing import GENESIS
    from toolvault.store.sql import utcnow
    from toolvault.verify.audit import check_audit_chain

    actions: set[str] = set(prefix.actions) if prefix else set()
    last: list[Any] = [after[0], after[1] or GENESIS]

    def rows() -> Iterator[tuple[Any, ...]]:
        for row in store.audit_rows((after[0] + 1, head + 1)):
            actions.add(row[3])
            last[:] = [row[0], row[8]]
            yield row

    problems = check_audit_chain(rows(), (after[0], after[1] or GENESIS))
    if prefix is None:
        return ChainState(
            int(last[0]), str(last[1]), tuple(problems), frozenset(actions),
            time.monotonic(), utcnow(),
        )  # fmt: skip
    return ChainState(
        int(last[0]), str(last[1]), (*prefix.problems, *problems), frozenset(actions),
        prefix.full_at, prefix.full_at_utc,
    )  # fmt: skip
