"""Walking a lineage graph through the store (SPEC §11).

The walk reads each version's row once: the columns a node shows and its stored
references (:data:`Row`). Ancestors a few levels deep are read a level at a time, one
query a level; deeper (or ``all``), one recursive query (``WITH RECURSIVE`` over the
stored references) returns every version the root reaches through pinned references, and
the walk runs over them in memory. A reference stored as written (``lib``) is resolved by
the spec resolver when the walk meets it, and what it reaches is read then.
Descendants: no index finds the versions whose references name a version, so one pass
reads every version that references something. A graph over ``max_nodes`` versions is
refused as soon as the walk passes that many.

It imports neither the service nor dataclasses: the fast path
(:mod:`toolvault.fastcli.lineage`) walks a local vault with it too.
"""

from __future__ import annotations

import json
import re
from itertools import chain, repeat

from toolvault.lineage_graph import ANCESTORS, DESCENDANTS, Edge, Lineage, Node, too_many
from toolvault.spec import NAME_RE, NUMBER_RE

TYPE_CHECKING = False  # not typing's: importing typing costs the fast path's start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Protocol

    Key = tuple[str, int]
    # name, version, sha256, created_at, created_by, owner, session_id, prompt, message
    # (the columns of a node, lineage_graph.Node's second to tenth fields), then the
    # stored references: a JSON text as the store answers, a tuple once the walk read it
    Row = tuple[Any, ...]
    # a reference's version, and the hash it pins (None: stored as written)
    Target = tuple[Key, str | None]

    class Source(Protocol):
        """The queries a walk needs (:mod:`toolvault.store.lineage`, or the fast
        path's)."""

        def lineage_rows(self, keys: Iterable[Key]) -> list[Row]: ...

        def lineage_closure(self, keys: Iterable[Key], cap: int) -> list[Row]: ...

        def lineage_referrers(self) -> list[Row]: ...

        def yank_reasons(self) -> dict[Key, str]: ...


LEVEL_QUERIES = 8  # up to this depth, a query a level; deeper, one recursive query

PINNED = re.compile(
    rf"(?P<name>{NAME_RE.pattern}):(?P<version>{NUMBER_RE.pattern})@sha256:(?P<sha>[0-9a-f]{{64}})"
)

# the same, matching whole lines of a text (each line a reference, none holding "\n")
PINNED_LINE = re.compile(
    rf"^{NAME_RE.pattern}:{NUMBER_RE.pattern}@sha256:[0-9a-f]{{64}}$", re.MULTILINE
)

REFS = 9  # the references' column in a Row
HEX_DIGITS = b"0123456789abcdef"


def ref_of(key: Key, sha256: str) -> str:
    """The pinned form ``name:N@sha256:HEX``."""
    return f"{key[0]}:{key[1]}@sha256:{sha256}"


class Walk:
    """One walk's state: the rows read, the versions reached (in order, with their depth
    and pinned ref), the edges met."""

    __slots__ = (
        *("source", "find", "limit", "max_nodes", "root", "rows", "held"),
        *("depth", "refs", "edges", "truncated", "resolved", "exact"),
    )

    def __init__(
        self, source: Source, find: Callable[[str], Key | None], root: Row, limit: int | None
    ) -> None:
        self.source, self.find, self.limit, self.max_nodes = source, find, limit, 0
        self.root: Key = (root[0], root[1])
        self.rows: dict[Key, Row | None] = {self.root: root}  # None: no such version
        self.held: dict[Key, tuple[str, ...]] = {self.root: root[REFS]}  # references
        self.depth: dict[Key, int] = {}  # insertion order: breadth first
        self.refs: dict[Key, str] = {}
        self.edges: list[Edge] = []
        self.truncated: set[Key] = set()
        self.resolved: dict[str, Key | None] = {}
        # the ancestors' walk: the pinned ref of each version read, when it is one
        self.exact: dict[str, Key] = {}

    def reach(self, key: Key, ref: str, level: int) -> bool:
        """Add a version at ``level``; False if it was reached already."""
        if key in self.depth:
            return False
        if len(self.depth) >= self.max_nodes:
            raise too_many(self.refs[self.root], self.max_nodes, self.limit)
        self.depth[key] = level
        self.refs[key] = ref
        return True

    def stops_at(self, level: int) -> bool:
        """Whether the depth asked for ends the walk before ``level``."""
        return self.limit is not None and level > self.limit

    def add(self, rows: list[Row], asked: Iterable[Key] = ()) -> tuple[list[Row], list[Key]]:
        """Keep rows read (their references parsed); an ``asked`` key without one, or a
        row without a hash (the recursive query's versions that are not there), is no
        version. The rows of versions, and their keys."""
        there = [r for r in rows if r[2] is not None]
        for r in rows:
            if r[2] is None:
                self.rows.setdefault((r[0], r[1]), None)
        keys = [(r[0], r[1]) for r in there]
        self.rows.update(zip(keys, there, strict=True))
        self.held.update(zip(keys, parse_references([r[REFS] for r in there]), strict=True))
        for key in asked:
            self.rows.setdefault(key, None)
        return there, keys

    def target(self, stored: str) -> Target | None:
        """The version a stored reference names (None: it resolves to nothing)."""
        m = PINNED.fullmatch(stored)
        if m is not None:
            return (m["name"], int(m["version"])), m["sha"]
        return self.loose(stored)

    def loose(self, stored: str) -> Target | None:
        """The version a reference stored as written resolves to today (once per text)."""
        if stored not in self.resolved:
            self.resolved[stored] = self.find(stored)
        key = self.resolved[stored]
        return None if key is None else (key, None)


def walk(
    source: Source,
    find: Callable[[str], Key | None],
    root: Row,
    limit: int | None,
    reverse: bool,
    max_nodes: int,
) -> Lineage:
    """The lineage graph of the version whose :data:`Row` is ``root`` (references
    parsed), ``limit`` levels deep (None: all); ``find`` resolves a reference stored as
    written to a version, or None (see :mod:`toolvault.lineage_graph`)."""
    w = Walk(source, find, root, limit)
    w.max_nodes = max_nodes
    w.reach(w.root, ref_of(w.root, root[2]), 0)
    if reverse:
        _descendants(w)
    else:
        _ancestors(w)
    return _finish(w, DESCENDANTS if reverse else ANCESTORS)


# -- ancestors -----------------------------------------------------------------------------


def _ancestors(w: Walk) -> None:
    deep = w.limit is None or w.limit > LEVEL_QUERIES
    w.exact.update(pinned_refs([w.rows[w.root]], [w.root]))  # type: ignore[list-item]
    if deep and w.held[w.root]:
        _read(w, w.source.lineage_closure([w.root], w.max_nodes + 1))
    _levels(w, deep)


def _read(w: Walk, rows: list[Row], asked: Iterable[Key] = ()) -> None:
    """Keep rows read (:meth:`Walk.add`), and their pinned refs."""
    w.exact.update(pinned_refs(*w.add(rows, asked)))


def _levels(w: Walk, deep: bool) -> None:
    """Walk level after level from the root: record the edge of each reference the
    frontier holds, and reach the versions met first.

    One loop for all the levels, no call per version or level (a chain of 10,000
    versions is 10,000 levels: the constant cost of a level is most of the walk), and
    edges made with ``tuple.__new__`` (a third of the cost of ``Edge(...)``). A reference
    that is the pinned ref of a version read (``w.exact``: nearly all of them) is an
    exact edge by one look-up; any other is read by :func:`_follow`."""
    held, depth, refs, edge, exact = w.held, w.depth, w.refs, w.edges.append, w.exact
    new, limit = tuple.__new__, w.limit
    frontier: list[Key] = [w.root]
    level = 1
    while frontier:
        if limit is not None and level > limit:
            w.truncated.update(k for k in frontier if held[k])
            return
        reached: list[Key] = []
        for source in frontier:
            here = refs[source]
            for stored in held[source]:
                key = exact.get(stored)
                if key is not None:  # pinned, and that version as it is: the text is its ref
                    edge(new(Edge, (here, stored, "exact", stored)))
                    to = stored
                else:
                    key, to, status = _follow(w, frontier, deep, stored)
                    edge(new(Edge, (here, to, status, stored)))
                    if key is None:
                        continue
                if key not in depth:
                    if len(depth) >= w.max_nodes:
                        raise too_many(refs[w.root], w.max_nodes, w.limit)
                    depth[key], refs[key] = level, to
                    reached.append(key)
        frontier = reached
        level += 1


def _follow(w: Walk, frontier: list[Key], deep: bool, stored: str) -> tuple[Key | None, str, str]:
    """What a reference that is no pinned ref of a version read names: the version (None:
    none), the edge's target and its status. A version not read yet has the whole level's
    missing versions read first, in one query."""
    target = w.target(stored)
    if target is None:  # stored as written, resolves to nothing
        return None, stored, "dangling"
    key, sha = target
    if key not in w.rows:
        _read_missing(w, frontier, deep)
    row = w.rows.get(key)
    if row is None or (sha is not None and sha != row[2]):
        return None, stored, "dangling" if sha is None else "changed"
    if sha is not None:  # pinned, and as it was (a version read whose ref is no pinned ref)
        return key, stored, "exact"
    return key, ref_of(key, row[2]), "resolves"


def _read_missing(w: Walk, frontier: list[Key], deep: bool) -> None:
    """Read the rows of the versions a level's references name that were not read yet
    (stored as written, or not found by the recursive query's reading of the text)."""
    missing: set[Key] = set()
    for k in frontier:
        for stored in w.held[k]:
            t = w.target(stored)
            if t is not None and t[0] not in w.rows:
                missing.add(t[0])
    if not deep:
        _read(w, w.source.lineage_rows(missing), missing)
        return
    cap = w.max_nodes + 1
    found = w.source.lineage_closure(missing, cap)
    if len(found) >= cap:  # cut at the cap: PostgreSQL's may have left out those asked for
        got = {(r[0], r[1]) for r in found}
        found += w.source.lineage_rows(k for k in missing if k not in got)
    _read(w, found, missing)


# -- descendants ---------------------------------------------------------------------------


def _descendants(w: Walk) -> None:
    w.add(w.source.lineage_referrers())
    pinned, loose = _referrers(w.held)
    rows, refs = w.rows, w.refs
    frontier, level = [w.root], 1
    while frontier:
        found: list[tuple[Key, Key, str, str]] = []
        for k in frontier:
            ref = refs[k]
            found += [(k, child, ref, "exact") for child in pinned.get(ref, ())]
            for child, stored in loose.get(k[0], ()):
                target = w.loose(stored)
                if target is not None and target[0] == k:
                    found.append((k, child, stored, "resolves"))
        if w.stops_at(level):
            w.truncated.update(k for k, *_ in found)
            return
        frontier = []
        for k, child, stored, status in sorted(found, key=lambda f: (f[1], f[0])):
            ref = ref_of(child, rows[child][2])  # type: ignore[index]
            w.edges.append(Edge(ref, refs[k], status, stored))
            if child not in w.depth:
                w.reach(child, ref, level)
                frontier.append(child)
        level += 1


def _referrers(
    held: dict[Key, tuple[str, ...]],
) -> tuple[dict[str, list[Key]], dict[str, list[tuple[Key, str]]]]:
    """Who holds each pinned reference (by its text), and who holds a reference stored as
    written (by the tool it names: resolved only when the walk reaches that tool)."""
    from toolvault import spec as specs
    from toolvault.errors import ToolvaultError

    # the pinned texts, found in one pass of the pattern over all of them, a line each
    # (not a call per reference: a vault holds tens of thousands)
    every = [stored for references in held.values() for stored in references]
    valid = set(PINNED_LINE.findall("\n".join(every)))
    pinned: dict[str, list[Key]] = {}
    loose: dict[str, list[tuple[Key, str]]] = {}
    for key, references in held.items():
        for stored in references:
            if stored in valid:
                pinned.setdefault(stored, []).append(key)
                continue
            try:
                loose.setdefault(specs.parse(stored).name, []).append((key, stored))
            except ToolvaultError:
                continue  # unreadable: it resolves to nothing, so it names no version
    return pinned, loose


# -- the versions reached ------------------------------------------------------------------


def _finish(w: Walk, direction: str) -> Lineage:
    """The graph: a node for each version reached, in the order reached. Made a column at
    a time, and the nodes from the columns, in C (a Python step a node cost a third of
    the walk of a chain)."""
    yanks = w.source.yank_reasons()
    keys = list(w.depth)  # w.refs holds the same keys, in the same order
    columns = list(zip(*map(w.rows.__getitem__, keys), strict=True))[:REFS] or [()] * REFS
    values = zip(
        w.refs.values(),
        *columns,
        map(yanks.get, keys),
        w.depth.values(),
        map(w.truncated.__contains__, keys),
        strict=True,
    )
    nodes = tuple(map(tuple.__new__, repeat(Node), values))
    return Lineage(w.refs[w.root], direction, w.limit, nodes, tuple(w.edges))


# -- references as stored ----------------------------------------------------------------


def pinned_refs(rows: list[Row], keys: list[Key]) -> dict[str, Key]:
    """Each version's pinned ref ``name:N@sha256:HEX`` (``keys``: the rows' own), where it
    is one (:data:`PINNED` matches it): a stored reference equal to it names that version
    as it is. The names are checked once each and the hashes in one pass; rows altered by
    hand (a name, a number or a hash that no pinned ref holds) are then checked one by
    one."""
    texts = [f"{r[0]}:{r[1]}@sha256:{r[2]}" for r in rows]
    if _all_pinnable(rows):
        return dict(zip(texts, keys, strict=True))
    return {
        t: k
        for t, k in zip(texts, keys, strict=True)
        if type(k[1]) is int and PINNED.fullmatch(t) is not None
    }


def _all_pinnable(rows: list[Row]) -> bool:
    """Whether every row's name is a name, its version a number and its hash 64 lowercase
    hex digits."""
    names = {r[0] for r in rows}
    versions = {r[1] for r in rows}
    shas = [r[2] for r in rows]
    if {type(n) for n in names} != {str} or {type(v) for v in versions} != {int}:
        return False
    if min(versions) < 1 or not all(map(NAME_RE.fullmatch, names)):
        return False
    if {type(h) for h in shas} != {str} or {len(h) for h in shas} != {64}:
        return False
    joined = "".join(shas)
    return joined.isascii() and not joined.encode().translate(None, HEX_DIGITS)


def parse_references(texts: list[str]) -> list[tuple[str, ...]]:
    """Stored reference lists (JSON texts) as tuples. Joined, the texts are one JSON list
    of lists, parsed in one call (a call per row cost more than the query); a text altered
    by hand sends them back to one call each, and an unreadable one is kept visible as
    ``json_list`` keeps it (it resolves to nothing: an edge ``dangling``)."""
    try:
        parsed = json.loads("[" + ",".join(texts) + "]")
        if len(parsed) != len(texts):  # a text altered into two lists, or none
            raise ValueError
    except (ValueError, TypeError):
        parsed = [_one(t) for t in texts]
    if set(map(type, parsed)) <= {list} and set(map(type, chain.from_iterable(parsed))) <= {str}:
        return list(map(tuple, parsed))  # lists of strings, as written: no check one by one
    return [_strings(p, t) for p, t in zip(parsed, texts, strict=True)]


def _one(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _strings(value: Any, text: str) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return tuple(value)
    return (f"<unreadable: {text}>",)
