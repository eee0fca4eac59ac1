"""The machinery that shares a verify among processes: the vault cut into parts
(:func:`plan`), a queue of parts taken by this process and forked children
(:func:`run_parts`), and what a part found packed to cross back (:class:`Share`,
:func:`pack`, :func:`unpack`). No check is made here.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolvault.materialize import Stray
from toolvault.models import Problem
from toolvault.verify.checks import Triples
from toolvault.verify.governance import Governance

# The smallest part is 1/(SMALLEST_PART x processes) of the work (see part_sizes): the
# processes end within about that of each other, and each part reads a few small tables.
SMALLEST_PART = 24
# What checking a signature costs against everything else verify does for a version
# (Ed25519 with cryptography: about 120 us against about 40 us; bench/verify.py).
SIGNATURE_WEIGHT = 3


@dataclass(frozen=True, slots=True)
class Part:
    """One share of a verify: [low, high) ranges of tool names and audit sequence
    numbers, None meaning open-ended. A part checks the blobs of its tools' versions;
    the first part also those no version uses."""

    index: int
    names: tuple[str | None, str | None] = (None, None)
    seqs: tuple[int, int | None] = (1, None)


EVERYTHING = Part(0)


Packed = str | Triples


@dataclass(slots=True)
class Share:
    """What checking one part found, in a form that crosses a process boundary cheaply
    (a big vault's versions and records as a few long texts, not as many small objects)."""

    index: int  # of its part
    head: tuple[int, str, str | None]  # the newest audit entry this part's snapshot saw
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    strays: list[Stray] = field(default_factory=list)
    # (name, version, digest of its fields) of each version, in order
    versions: Packed = ""
    # (name, version, trusted key's name) of each signature that does not verify
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    # (tool, version, the "fields" digest recorded) of each version the audit entries of
    # this part record, in order, and those entries' sequence numbers
    records: Packed = ""
    record_seqs: list[int] = field(default_factory=list)
    # the entries the governance replay needs (a first publish: only its owner)
    events: list[tuple[str, str | None, int | None, dict[str, Any]]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # the blobs of this part's versions that are there (checked here): one per line, or a
    # list when a (damaged) hash holds a line break
    blobs: str | list[str] = ""
    # only from the part that reads the governance tables (index 0)
    governance: Governance | None = None
    # (name, recorded_at) of each of this part's tools' version 1 (tools.created_at)
    firsts: list[tuple[str, str]] = field(default_factory=list)


def pack(triples: Triples) -> Packed:
    """(name, number, text) triples as one text of lines "number TAB text TAB name",
    when every name and text is a str, every number an int, no text holds a tab and
    nothing a line break (else the list itself): one object to pickle, not four a triple."""
    if not triples:
        return ""
    if not all(
        type(n) is str and type(k) is int and type(t) is str and "\t" not in t
        for n, k, t in triples
    ):
        return triples
    text = "\n".join([f"{k}\t{t}\t{n}" for n, k, t in triples])
    return text if text.count("\n") == len(triples) - 1 else triples


def unpack(packed: Packed) -> Triples:
    """The triples :func:`pack` packed."""
    if not isinstance(packed, str):
        return packed
    lines = packed.split("\n") if packed else []
    return [(n, int(k), t) for k, t, n in (line.split("\t", 2) for line in lines)]


def all_lines(packs: Iterable[Packed]) -> set[str] | None:
    """The distinct lines of packed texts (None when one is a list)."""
    lines: set[str] = set()
    for packed in packs:
        if not isinstance(packed, str):
            return None
        if packed:
            lines.update(packed.split("\n"))
    return lines


# -- splitting and running the parts ---------------------------------------------------------


def part_sizes(workers: int) -> list[float]:
    """The parts' shares of the work for ``workers`` processes, largest first: each is
    1/(2 x workers) of what is left, down to 1/(SMALLEST_PART x workers), so that the
    processes, taking them in turn, end close together (the last parts are small) while
    the parts stay few."""
    sizes: list[float] = []
    left, smallest = 1.0, 1 / (SMALLEST_PART * workers)
    while left > smallest / 2:
        size = min(left, max(left / (2 * workers), smallest))
        sizes.append(size)
        left -= size
    if left > 0:
        sizes[-1] += left
    return sizes


def plan(counts: Sequence[tuple[str, int, int]], head: int, workers: int) -> list[Part]:
    """Cut tools and audit entries into ranges for ``workers`` processes (see
    :func:`part_sizes`): a tool weighs its versions, and each signed one SIGNATURE_WEIGHT
    more (``counts`` is (name, versions, signed) by name). A tool is never cut, so the
    range of a part that falls within one big tool holds no tools, only audit entries."""
    sizes = part_sizes(workers) if workers > 1 else [1.0]
    if len(sizes) <= 1 or len(counts) < workers:
        return [EVERYTHING]
    cuts = list(itertools.accumulate(sizes[:-1]))  # fractions of the whole
    total = sum(n + SIGNATURE_WEIGHT * signed for _, n, signed in counts)
    name_cuts: list[str] = []
    seen = 0
    for name, n, signed in counts:
        while len(name_cuts) < len(cuts) and seen >= total * cuts[len(name_cuts)]:
            name_cuts.append(name)
        seen += n + SIGNATURE_WEIGHT * signed
    name_cuts += [counts[-1][0]] * (len(cuts) - len(name_cuts))  # rounding: empty ones
    seq_cuts = [1 + int(head * c) for c in cuts]
    return [
        Part(
            i,
            ([None, *name_cuts][i], [*name_cuts, None][i]),
            ([1, *seq_cuts][i], [*seq_cuts, None][i]),
        )
        for i in range(len(sizes))
    ]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while verify runs (as it was before, after):
    verify makes millions of short-lived rows and texts that reference counting frees,
    and the collector's passes over them cost about 5% of a big vault's verify, and in a
    forked child copy the pages of every object it walks."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_parts(
    parts: list[Part],
    check: Callable[[Part], Share],
    in_child: Callable[[], None],
    workers: int = 1,
) -> list[Share]:
    """Check the parts in ``workers`` processes, this one and forked children (which call
    ``in_child`` first, to drop what they must not share with their parent), each taking
    the next part from a shared queue (a pipe holding their indices) until it is empty.
    A part whose report does not come back (its child failed) is redone here, so a
    crash there costs time, not a check. The shares come back in the parts' order."""
    if workers <= 1 or len(parts) <= 1:
        return [check(part) for part in parts]
    queue, fill = os.pipe()
    os.write(fill, bytes(range(len(parts))))  # at most MAX_PARTS: one byte each
    os.close(fill)  # the queue reads as ended once empty
    children = []
    done: dict[int, Share] = {}
    try:
        for _ in range(workers - 1):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's coverage is not collected
                _child(parts, check, in_child, queue, read, write)
            os.close(write)
            children.append((pid, read))
        while taken := os.read(queue, 1):  # a read of one byte from a pipe is atomic
            share = check(parts[taken[0]])
            done[share.index] = share
    finally:  # even when a part failed here: no child is left unreaped
        os.close(queue)
        for pid, read in children:
            for share in _collect(pid, read):
                done.setdefault(share.index, share)
    return [done[p.index] if p.index in done else check(p) for p in parts]


# The most parts the queue of :func:`run_parts` holds (one byte each).
MAX_PARTS = 256


def _collect(pid: int, read: int) -> list[Share]:
    """What a child reported (nothing when it failed), once it has ended."""
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    try:
        shares = pickle.loads(data)
    except Exception:  # the child died before it could report
        return []
    return [s for s in shares if isinstance(s, Share)] if isinstance(shares, list) else []


def _child(
    parts: list[Part],
    check: Callable[[Part], Share],
    in_child: Callable[[], None],
    queue: int,
    read: int,
    write: int,
) -> None:  # pragma: no cover - runs in the forked child
    """Take and check parts until the queue is empty, then report them; a part that
    fails ends the taking (the parent redoes it, and any other part not reported)."""
    code = 1
    try:
        os.close(read)
        shares: list[Share] = []
        try:
            in_child()
            while taken := os.read(queue, 1):
                shares.append(check(parts[taken[0]]))
        except Exception:  # the part goes unreported, so the parent redoes it
            pass
        with os.fdopen(write, "wb") as pipe:
            pipe.write(pickle.dumps(shares, pickle.HIGHEST_PROTOCOL))
        code = 0
    finally:
        os._exit(code)  # no exit handlers, no flushing of the parent's buffers
