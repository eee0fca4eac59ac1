"""What the query modules of the store share: the columns and joins written once, SQL
for ranges and ``IN`` lists, and turning rows into :class:`~toolvault.models.Version`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from toolvault.models import VERSION_FIELDS, Version

IN_CHUNK = 500  # names per "IN (…)" query: far below either database's parameter limit

VERSION_COLUMNS = (
    "name, version, sha256, size, executable, previous_version, previous_sha256, created_at, "
    "recorded_at, created_by, owner, origin, session_id, prompt, message, refs, transforms, "
    "rollback_of, signature, key_id, description, usage, claimed_by"
)
VERSION_WIDTH = len(VERSION_FIELDS)  # the columns of a version row, before any joined ones
V_COLS = ", ".join(f"v.{c.strip()}" for c in VERSION_COLUMNS.split(","))


def between(column: str, bounds: tuple[Any, Any], wanted: frozenset[str], params: list[Any]) -> str:
    """SQL for ``bounds[0] <= column < bounds[1]`` (None: unbounded) and, when some are
    wanted, ``column IN wanted``; appends the parameters."""
    clauses = []
    if bounds[0] is not None:
        clauses.append(f"{column} >= ?")
        params.append(bounds[0])
    if bounds[1] is not None:
        clauses.append(f"{column} < ?")
        params.append(bounds[1])
    if wanted:
        clauses.append(f"{column} IN ({', '.join('?' * len(wanted))})")
        params.extend(sorted(wanted))
    return " AND ".join(clauses) or "1 = 1"


def streamed(cursor: Any) -> Iterator[tuple[Any, ...]]:
    """A query's rows a thousand at a time: a big vault's rows need not fit in memory."""
    while rows := cursor.fetchmany(1_000):
        yield from rows


def utcnow() -> str:
    """Current time as ISO 8601 UTC with microseconds, the one format stored."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_text(values: Sequence[str]) -> str:
    """A list of strings as stored (``json.dumps``); most are empty, and "[]" is free."""
    return json.dumps(list(values)) if values else "[]"


def json_list(text: str) -> tuple[str, ...]:
    if text == "[]":
        return ()
    try:
        return tuple(json.loads(text))
    except (ValueError, TypeError):  # altered by hand: keep it visible (verify reports it)
        return (f"<unreadable: {text}>",)


def version_values(row: Sequence[Any]) -> list[Any]:
    """A row in ``VERSION_COLUMNS`` order as the values of ``VERSION_FIELDS``."""
    values = list(row[:VERSION_WIDTH])
    values[4] = bool(values[4])
    values[15] = json_list(values[15])
    values[16] = json_list(values[16])
    return values


def chunks(names: Iterable[str]) -> Iterator[list[str]]:
    """Distinct names, sorted, IN_CHUNK at a time (one ``IN (…)`` query each)."""
    wanted = sorted(set(names))
    for i in range(0, len(wanted), IN_CHUNK):
        yield wanted[i : i + IN_CHUNK]


def row_to_version(row: Sequence[Any], content: bytes | None = None) -> Version:
    """Build a :class:`Version` from a row in ``VERSION_COLUMNS`` order (positionally:
    this runs for every row of every listing, and keywords cost more than the query)."""
    return Version(*version_values(row), content)  # type: ignore[call-arg]


class Queries:
    """What every query mixin runs its statements with; :class:`SQLStore` provides it."""

    _local: Any  # the per-thread state (connection, the head a write appended)

    def _q(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (``?`` placeholders) and return its cursor."""
        raise NotImplementedError

    def _qmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters, batched by the driver."""
        raise NotImplementedError

    def index_versions(
        self, versions: Sequence[Version], contents: Mapping[str, bytes] | None = None
    ) -> None:
        """Index newly inserted versions for search (:mod:`toolvault.store.search`)."""
        raise NotImplementedError

    def refresh_search(self, names: Iterable[str]) -> None:
        """Bring these tools' search rows in step (:mod:`toolvault.store.search`)."""
        raise NotImplementedError
