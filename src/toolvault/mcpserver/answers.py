"""``get_context`` answers kept while the vault is unchanged, so that an agent (or many)
asking for the same versions again is answered without reading and rendering them anew.

Versions are immutable, and every other change a context document shows (a publish, a
label, a yank, a lifecycle, an owner or maintainer, a trusted key) is written in the same
transaction as an audit entry, and writes are serialized. So an answer stays right while
the audit log's head (its sequence number and hash: one indexed query) has not moved. An
answer is kept under its arguments and the principal that asked (the read rights it was
computed with), beside the head it was read under, and only if the head was the same
before and after reading it (no write landed in between). It is used only while the
head is still that one: a write from this server or any other process changes the
answer at the next call.

The cache is bounded in entries and in bytes, least recently used first out; an answer
larger than an eighth of the budget is not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from mcp.types import CallToolResult

from toolvault.mcpserver import reading

MAX_ENTRIES = 256
MAX_BYTES = 16 * 1024 * 1024
ENTRY_OVERHEAD = 1024  # an item's fields and the objects around it, roughly


def size_of(data: dict[str, Any]) -> int:
    """About how many bytes an answer holds: its Markdown and each version's content
    (the rest is small beside them)."""
    contents = sum(len(v.get("content", "")) + ENTRY_OVERHEAD for v in data["versions"])
    return len(data["markdown"]) + contents + ENTRY_OVERHEAD


class Answers:
    """Answers of ``get_context`` by (principal, arguments), each with the audit head it
    was read under. ``head`` reads the current head (None: unknown, nothing is kept)."""

    def __init__(
        self,
        head: Callable[[], Hashable | None],
        max_entries: int = MAX_ENTRIES,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.head = head
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.kept: OrderedDict[Hashable, tuple[Hashable, CallToolResult, int]] = OrderedDict()
        self.size = 0
        self.hits = self.misses = 0  # how often a call was answered from what was kept
        self.lock = threading.Lock()  # worker threads put while others get

    def answer(self, key: Hashable, compute: Callable[[], dict[str, Any]]) -> CallToolResult:
        """The kept answer for ``key`` if the head has not moved since it was read, else
        ``compute()``'s (kept if no write landed while it ran). Blocking: call it on a
        worker thread."""
        head = self.head()
        if head is None:
            return reading.context_result(compute())
        found = self.get(key, head)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        data = compute()
        result = reading.context_result(data)
        if self.head() == head:  # nothing was written while it was read: one state
            self.put(key, head, result, size_of(data))
        return result

    def get(self, key: Hashable, head: Hashable) -> CallToolResult | None:
        """The answer kept for ``key`` under ``head``; one kept under another is dropped."""
        with self.lock:
            found = self.kept.get(key)
            if found is None:
                return None
            if found[0] != head:
                self._drop(key)
                return None
            self.kept.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, head: Hashable, result: CallToolResult, size: int) -> None:
        """Keep ``result`` for ``key`` under ``head``, the least recently used out first."""
        if size > self.max_bytes // 8:
            return
        with self.lock:
            if key in self.kept:
                self._drop(key)
            self.kept[key] = (head, result, size)
            self.size += size
            while len(self.kept) > self.max_entries or self.size > self.max_bytes:
                self._drop(next(iter(self.kept)))

    def _drop(self, key: Hashable) -> None:
        self.size -= self.kept.pop(key)[2]


def key_of(vault: Any, specs: list[str], max_bytes: int | None, with_refs: int) -> Hashable:
    """What an answer depends on besides the vault's state: the arguments, and who asks
    (today every principal reads every tool, but an answer is never shared between
    principals, so that rights that differ can never leak through it)."""
    return (getattr(vault, "principal", None), tuple(specs), max_bytes, with_refs)
