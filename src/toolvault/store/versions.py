"""The queries of tools, versions and blobs, mixed into :class:`~toolvault.store.base.SQLStore`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from toolvault.columns import MAX_INTEGER, TOOL_SELECT, described
from toolvault.models import ENTRY_COLUMNS, VERSION_FIELDS, Entry, Tool, Version
from toolvault.store.fastread import NOT_YANKED
from toolvault.store.sql import (
    IN_CHUNK,
    V_COLS,
    VERSION_COLUMNS,
    VERSION_WIDTH,
    Queries,
    chunks,
    json_list,
    json_text,
    row_to_version,
)


class VersionQueries(Queries):
    """Reads of tools, versions and blobs, and the writes of a publish."""

    # -- reads -----------------------------------------------------------------

    def tool(self, name: str) -> Tool | None:
        """A tool's row with its version summary, or None."""
        sql = described(f"{TOOL_SELECT} WHERE t.name = ? GROUP BY t.name")
        row = self._q(sql, (name,)).fetchone()
        return Tool(*row) if row else None

    def tools(self) -> list[Tool]:
        """Every tool with at least one version, by name."""
        rows = self._q(described(f"{TOOL_SELECT} GROUP BY t.name"))
        return [Tool(*r) for r in rows]

    def version(self, name: str, number: int, content: bool = False) -> Version | None:
        """Version ``number`` of ``name``."""
        if number > MAX_INTEGER:  # SQLite cannot even compare it; no such version exists
            return None
        return self._one("v.name = ? AND v.version = ?", (name, number), content)

    def back(self, name: str, steps: int, content: bool = False) -> Version | None:
        """The version ``steps`` before the latest (0 = latest)."""
        if steps > MAX_INTEGER:
            return None
        tail = f"ORDER BY v.version DESC LIMIT 1 OFFSET {steps:d}"
        return self._one(f"v.name = ? AND {NOT_YANKED}", (name,), content, tail)

    def newest(self, name: str) -> Version | None:
        """The highest-numbered version, yanked or not: the head of the chain."""
        return self._one("v.name = ?", (name,), False, "ORDER BY v.version DESC LIMIT 1")

    def by_sha_prefix(self, name: str, prefix: str, content: bool = False) -> list[Version]:
        """Versions of ``name`` whose sha256 starts with ``prefix``, newest first."""
        return self._many(
            "v.name = ? AND substr(v.sha256, 1, ?) = ?",
            (name, len(prefix), prefix),
            content,
            "ORDER BY v.version DESC",
        )

    def versions(self, name: str) -> list[Version]:
        """All versions of ``name``, oldest first."""
        return self._many("v.name = ?", (name,), False, "ORDER BY v.version")

    def version_dicts(self, name: str) -> list[dict[str, Any]]:
        """All versions of ``name`` in their JSON shape, oldest first, built straight from
        the rows: the daemon serves this listing often, and a Version object per row
        cost more than the query."""
        rows = self._q(
            f"SELECT {V_COLS} FROM versions v WHERE v.name = ? ORDER BY v.version", (name,)
        )
        listing = []
        for row in rows:
            item = dict(zip(VERSION_FIELDS, row, strict=True))
            item["executable"] = bool(item["executable"])
            item["references"] = list(json_list(item["references"]))
            item["transforms"] = list(json_list(item["transforms"]))
            listing.append(item)
        return listing

    def referencing(self, text: str) -> list[Version]:
        """Versions whose stored references contain ``text``: candidates for a reverse
        lookup, which the caller narrows to exact matches (LIKE ignores case in SQLite)."""
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return self._many(
            "v.refs LIKE ? ESCAPE '\\'", (f"%{escaped}%",), False, "ORDER BY v.name, v.version"
        )

    def origins(self, prefix: str) -> list[tuple[str, int, str, str]]:
        """(name, version, sha256, origin) of every version whose origin starts with
        ``prefix``: what an earlier import from that source stored."""
        rows = self._q(
            "SELECT name, version, sha256, origin FROM versions "
            "WHERE substr(origin, 1, ?) = ? ORDER BY name, version",
            (len(prefix), prefix),
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def tools_named(self, names: Iterable[str]) -> list[Tool]:
        """:meth:`tool` of each name that is a tool, by name, a few hundred a query."""
        found: list[Tool] = []
        for chunk in chunks(names):
            marks = ", ".join("?" * len(chunk))
            sql = described(f"{TOOL_SELECT} WHERE t.name IN ({marks}) GROUP BY t.name")
            rows = self._q(sql, chunk)
            found += [Tool(*r) for r in rows]
        return sorted(found, key=lambda t: t.name)

    def entries_of(self, names: Iterable[str]) -> dict[str, list[Entry]]:
        """:meth:`entries` of each name, a few hundred names a query."""
        found: dict[str, list[Entry]] = {}
        for chunk in chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = self._q(
                f"SELECT name, {ENTRY_COLUMNS} FROM versions WHERE name IN ({marks}) "
                "ORDER BY name, version",
                chunk,
            )
            for row in rows:
                found.setdefault(row[0], []).append(Entry._make(row[1:]))
        return found

    def versions_at(self, pairs: Sequence[tuple[str, int]], content: bool = False) -> list[Version]:
        """The versions at these (name, number) pairs that exist, a few hundred a query
        (a lockfile's pins: one query a pin would cost more than installing them)."""
        found: list[Version] = []
        wanted = sorted({(n, k) for n, k in pairs if k <= MAX_INTEGER})
        for i in range(0, len(wanted), IN_CHUNK // 2):
            chunk = wanted[i : i + IN_CHUNK // 2]
            where = " OR ".join(["(v.name = ? AND v.version = ?)"] * len(chunk))
            found += self._many(where, [x for pair in chunk for x in pair], content)
        return found

    def all_versions(self, *, classic: bool = False) -> Iterator[Version]:
        """Every version of every tool, by name then number. ``classic``: only the columns
        a schema before migration 7 has (for the migrations that run before it)."""
        if classic:
            columns = VERSION_COLUMNS.removesuffix(", description, usage, claimed_by")
            rows = self._q(
                f"SELECT {columns}, NULL, NULL, NULL FROM versions ORDER BY name, version"
            )
        else:
            rows = self._q(f"SELECT {VERSION_COLUMNS} FROM versions ORDER BY name, version")
        return (row_to_version(r) for r in rows)

    def blob(self, sha256: str) -> bytes | None:
        """The content with this hash, or None."""
        row = self._q("SELECT content FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def blobs(self) -> Iterator[tuple[str, int, bytes]]:
        """Every blob as (sha256, size, content)."""
        rows = self._q("SELECT sha256, size, content FROM blobs ORDER BY sha256")
        return ((r[0], r[1], bytes(r[2])) for r in rows)

    def _one(
        self, where: str, params: Sequence[Any], content: bool, tail: str = ""
    ) -> Version | None:
        found = self._many(where, params, content, tail)
        return found[0] if found else None

    def _many(
        self, where: str, params: Sequence[Any], content: bool, tail: str = ""
    ) -> list[Version]:
        if content:
            sql = (
                f"SELECT {V_COLS}, b.content FROM versions v JOIN blobs b ON b.sha256 = v.sha256 "
                f"WHERE {where} {tail}"
            )
            return [row_to_version(r, bytes(r[VERSION_WIDTH])) for r in self._q(sql, params)]
        sql = f"SELECT {V_COLS} FROM versions v WHERE {where} {tail}"
        return [row_to_version(r) for r in self._q(sql, params)]

    # -- writes (inside write()) -------------------------------------------------

    def ensure_tool(self, name: str, owner: str, now: str) -> None:
        """Create the tool's row if it is new; touch ``updated_at`` otherwise."""
        self.ensure_tools([(name, owner)], now)

    def ensure_tools(self, tools: Iterable[tuple[str, str]], now: str) -> None:
        """:meth:`ensure_tool` for each (name, owner), in one batched statement."""
        self._qmany(
            "INSERT INTO tools (name, owner, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
            [(name, owner, now, now) for name, owner in tools],
        )

    def tool_state(self, name: str) -> tuple[str, str] | None:
        """A tool's (owner, lifecycle) from its own row: what a publish needs, without
        the per-version summary :meth:`tool` computes."""
        return self.tool_states([name]).get(name)

    def tool_records(self, names: Iterable[str]) -> dict[str, tuple[str, str, str | None, str]]:
        """(owner, lifecycle, lifecycle_message, created_at) of each name that has a row:
        what an import's audit entry states of the tools it touched."""
        found: dict[str, tuple[str, str, str | None, str]] = {}
        for chunk in chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = self._q(
                "SELECT name, owner, lifecycle, lifecycle_message, created_at FROM tools "
                f"WHERE name IN ({marks})",
                chunk,
            )
            found.update((r[0], (r[1], r[2], r[3], r[4])) for r in rows)
        return found

    def tool_states(self, names: Iterable[str]) -> dict[str, tuple[str, str]]:
        """:meth:`tool_state` of each name that has a row, a few hundred names a query."""
        found: dict[str, tuple[str, str]] = {}
        for chunk in chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = self._q(
                f"SELECT name, owner, lifecycle FROM tools WHERE name IN ({marks})", chunk
            )
            found.update((r[0], (r[1], r[2])) for r in rows)
        return found

    def put_blob(self, sha256: str, content: bytes) -> None:
        """Store content once; a blob that exists already is left as it is."""
        self.put_blobs([(sha256, content)])

    def put_blobs(self, blobs: Iterable[tuple[str, bytes]]) -> None:
        """:meth:`put_blob` for each (sha256, content), in one batched statement."""
        self._qmany(
            "INSERT INTO blobs (sha256, size, content) VALUES (?, ?, ?) "
            "ON CONFLICT (sha256) DO NOTHING",
            [(sha, len(content), content) for sha, content in blobs],
        )

    def insert_version(self, v: Version) -> None:
        """Insert one version row (the UNIQUE key refuses a duplicate number)."""
        self.insert_versions([v])

    def insert_versions(
        self, versions: Iterable[Version], contents: Mapping[str, bytes] | None = None
    ) -> None:
        """:meth:`insert_version` for each, in one batched statement, and index them for
        search in the same transaction (``contents`` by sha256, for versions given
        without theirs: else the search index reads them back from the blobs)."""
        versions = list(versions)
        self._qmany(
            f"INSERT INTO versions ({VERSION_COLUMNS}) VALUES ({', '.join('?' * VERSION_WIDTH)})",
            [
                (
                    v.name,
                    v.version,
                    v.sha256,
                    v.size,
                    int(v.executable),
                    v.previous_version,
                    v.previous_sha256,
                    v.created_at,
                    v.recorded_at,
                    v.created_by,
                    v.owner,
                    v.origin,
                    v.session_id,
                    v.prompt,
                    v.message,
                    json_text(v.references),
                    json_text(v.transforms),
                    v.rollback_of,
                    v.signature,
                    v.key_id,
                    v.description,
                    v.usage,
                    v.claimed_by,
                )
                for v in versions
            ],
        )
        self.index_versions(versions, contents)
