"""The queries of the search index (SPEC §10), mixed into :class:`~toolvault.store.base.SQLStore`.

The index is one row per version (``search_index``) with full-text indexes over it:
FTS5 tables in SQLite, a weighted ``tsvector`` (GIN) and ``pg_trgm`` in PostgreSQL. The
store only narrows the rows with them (a superset of what matches); which rows match and
their order is decided by :mod:`toolvault.search.rank`, the same for both stores.
Every write that changes what is found calls :meth:`SearchQueries.index_versions` or
:meth:`SearchQueries.refresh_search` inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from toolvault.progress import Progress
from toolvault.store.sql import Queries, chunks, json_list

if TYPE_CHECKING:
    from toolvault.models import Version
    from toolvault.search.query import Query
    from toolvault.search.rank import Row
    from toolvault.search.sql import Page

SEARCH_MIGRATION = 8  # the migration that made the index
REINDEX_CHUNK = 5_000  # rows whose text goes into the FTS tables at a time
MAX_CONTENT = 256 * 1024  # content past this is not searched (scripts are far smaller)
SOURCE = (
    "SELECT v.name, v.version, v.sha256, v.description, v.usage, v.prompt, v.message, "
    "b.content, v.created_by, v.session_id, v.refs, v.recorded_at "
    "FROM versions v JOIN blobs b ON b.sha256 = v.sha256"
)
# the columns of an index row that hold what its version says (SOURCE's, in its order)
TEXT_COLUMNS = (
    "name, version, sha256, description, usage, prompt, message, content, author, session, "
    "uses, recorded_at"
)
# a new version's row: its text, whether it is latest, and its tool's lifecycle and owner
INSERT_NEW = (
    f"INSERT INTO search_index ({TEXT_COLUMNS}, latest, lifecycle, owner) "
    f"SELECT {', '.join('?' * 13)}, t.lifecycle, t.owner FROM tools t"
)
PASS_LATEST = "UPDATE search_index SET latest = 0 WHERE name = ? AND latest = 1 AND version < ?"
# SQLite's FTS5 tables over search_index, and the columns each holds
FTS_TABLES = {
    "search_words": "name, description, usage, prompt, message",
    "search_trigram": "content",
}
# (lifecycle, owner, label, yanked, latest) of one version, as the index should hold it
State = tuple[str, str, str, int, int]


def content_text(content: bytes) -> str:
    """What of the content is searched: its text, or nothing for a binary file."""
    head = bytes(content[:MAX_CONTENT])
    if b"\x00" in head:
        return ""
    return head.decode("utf-8", errors="replace")


def _text_columns(v: Version, content: bytes) -> tuple[Any, ...]:
    """TEXT_COLUMNS of a version's row."""
    uses = " ".join(sorted({ref_name(x) for x in v.references}))
    return (
        *(v.name, v.version, v.sha256),
        *(v.description or "", v.usage or "", v.prompt or "", v.message or ""),
        content_text(content).replace("\x00", ""),
        *(v.created_by or "", v.session_id or "", uses, v.recorded_at),
    )


def _source_columns(r: Sequence[Any]) -> tuple[Any, ...]:
    """TEXT_COLUMNS of a row read with SOURCE."""
    return (
        *(r[0], r[1], r[2], r[3] or "", r[4] or "", r[5] or "", r[6] or ""),
        content_text(r[7]).replace("\x00", ""),
        *(r[8] or "", r[9] or "", " ".join(sorted({ref_name(x) for x in json_list(r[10])}))),
        r[11],
    )


def ref_name(reference: str) -> str:
    """The tool a reference names (``fmt:2@sha256:…`` -> ``fmt``)."""
    return reference.split("@", 1)[0].split(":", 1)[0]


class SearchQueries(Queries):
    """Writes that keep the search index in step, and the search's reads."""

    dialect: str
    _searchable = False  # whether migration 8 is applied (found out once, then kept)

    def _indexed(self) -> bool:
        """Whether this database has the search index: a store opened on an older schema
        (a migration's own tests, a vault before migrating) writes without one."""
        if not self._searchable:
            self._searchable = SEARCH_MIGRATION in self.applied()
        return self._searchable

    # -- writes (inside write()) -------------------------------------------------

    def index_versions(
        self, versions: Sequence[Version], contents: Mapping[str, bytes] | None = None
    ) -> None:
        """Index these newly inserted versions (``contents`` by sha256 where the versions
        were not read with theirs), each row already in step with its tool.

        A new version is its tool's newest (numbers go on from the head; a restored tool
        is new to the vault) and can have no label nor yank yet (both refer to a version
        that exists): so its row takes the tool's lifecycle and owner, no label, not
        yanked, latest when it is the tool's highest new number, and the only other row
        that changes is the previous latest. The row is made of the values the write
        has, not read back, and the state is the tool's own row's: bringing every row
        of the tool in step (:meth:`refresh_search`) would read the tool's versions,
        labels and yanks again, and the rest of its rows are in step already (every
        other write refreshes them; verify would say if they were not)."""
        if not versions or not self._indexed():
            return
        top: dict[str, int] = {}
        for v in versions:
            top[v.name] = max(v.version, top.get(v.name, 0))
        rows = [
            (*_text_columns(v, self._content(v, contents)), int(top[v.name] == v.version))
            for v in versions
        ]
        last = self._last_search_id()
        if self.dialect == "sqlite":
            self._qmany(f"{INSERT_NEW} WHERE t.name = ?", [(*r, r[0]) for r in rows])
            self.pass_latest(top)
        else:  # one round trip: the previous latest unmarked by the same statement
            self._qmany(
                f"WITH passed AS ({PASS_LATEST}) {INSERT_NEW} WHERE t.name = ?",
                [(r[0], r[1], *r, r[0]) for r in rows],
            )
        self._insert_text(last)

    def pass_latest(self, newest: dict[str, int]) -> None:
        """Unmark the previous latest row of each tool whose newest version is now the
        given number (the new row is marked already, as it was inserted)."""
        self._qmany(PASS_LATEST, list(newest.items()))

    def _content(self, v: Version, contents: Mapping[str, bytes] | None) -> bytes:
        if v.content is not None:
            return v.content
        if contents and v.sha256 in contents:
            return contents[v.sha256]
        (content,) = self._q("SELECT content FROM blobs WHERE sha256 = ?", (v.sha256,)).fetchone()
        return bytes(content)

    def rebuild_search(self, stream: TextIO | None = None) -> None:
        """Index every version afresh (a migration, ``sync``), with a progress line on
        ``stream`` (stderr by default) when it is a terminal."""
        self._searchable = True  # the migration making the table calls this before its row
        self._q("DELETE FROM search_index")
        if self.dialect == "sqlite":
            for table in FTS_TABLES:
                self._q(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
        names = [r[0] for r in self._q("SELECT name FROM tools ORDER BY name")]
        (total,) = self._q("SELECT count(*) FROM versions").fetchone()
        progress, done = Progress("indexing versions for search", int(total), stream), 0
        for chunk in chunks(names):
            marks = ", ".join("?" * len(chunk))
            rows = list(self._q(f"{SOURCE} WHERE v.name IN ({marks})", chunk))
            self._insert_search(rows)
            self.refresh_search(chunk)
            done += len(rows)
            progress(done)
        self.optimize_search()
        progress.close()

    def optimize_search(self) -> None:
        """Merge SQLite's full-text indexes into one segment each. A bulk insert leaves
        them as many large segments at the lowest levels, which every later publish's
        small segment is then merged with (FTS5's automerge), several times the cost of
        writing it; merged once, a publish merges only with the small segments that
        publishes made since. (PostgreSQL's GIN indexes need nothing of the kind.)"""
        if self.dialect == "sqlite":
            for table in FTS_TABLES:
                self._q(f"INSERT INTO {table} ({table}) VALUES ('optimize')")

    def _insert_search(self, rows: Sequence[Sequence[Any]]) -> None:
        """Insert index rows read with SOURCE (their state left to the caller), and their
        text into SQLite's FTS tables."""
        if not rows:
            return
        last = self._last_search_id()
        self._qmany(
            f"INSERT INTO search_index ({TEXT_COLUMNS}) VALUES ({', '.join('?' * 12)})",
            [_source_columns(r) for r in rows],
        )
        self._insert_text(last)

    def _last_search_id(self) -> int:
        """The highest row id of the index (SQLite; 0 on PostgreSQL, which needs none)."""
        if self.dialect != "sqlite":
            return 0
        (last,) = self._q("SELECT coalesce(max(id), 0) FROM search_index").fetchone()
        return int(last)

    def _insert_text(self, last: int) -> None:
        """Put the text of the rows past ``last`` into SQLite's FTS tables, one statement
        each: FTS5 writes its pending terms out at every statement that opens a
        savepoint, so a statement per row would write a segment per row. (PostgreSQL's
        tsvector is a generated column, its GIN indexes kept by the table.)"""
        if self.dialect == "sqlite":  # writers are serialized: these rows are the new ones
            self._text_into_fts("id > ?", (last,))

    def _text_into_fts(self, where: str, params: Sequence[Any]) -> None:
        """Put the text of the index's rows ``where`` into SQLite's FTS tables."""
        for table, columns in FTS_TABLES.items():
            self._q(
                f"INSERT INTO {table} (rowid, {columns}) SELECT id, {columns} "
                f"FROM search_index WHERE {where}",
                params,
            )

    def reindex_search_text(self, stream: TextIO | None = None) -> None:
        """Index the text of every row afresh into SQLite's FTS tables, just made empty
        (a migration that remade them), with a progress line on a terminal, then merge
        each into one segment."""
        if self.dialect != "sqlite":
            return
        ids = [r[0] for r in self._q("SELECT id FROM search_index ORDER BY id")]
        progress, done = Progress("indexing versions for search", len(ids), stream), 0
        for start in range(0, len(ids), REINDEX_CHUNK):
            chunk = ids[start : start + REINDEX_CHUNK]
            self._text_into_fts("id BETWEEN ? AND ?", (chunk[0], chunk[-1]))
            done += len(chunk)
            progress(done)
        self.optimize_search()
        progress.close()

    def refresh_search(self, names: Iterable[str]) -> None:
        """Bring the mutable columns (lifecycle, owner, labels, yanked, latest) of these
        tools' rows in step with the tools, labels and yanks; only changed rows are written."""
        if not self._indexed():
            return
        for chunk in chunks(names):
            want, have = self.search_state_wanted(chunk), self.search_state(chunk)
            self._qmany(
                "UPDATE search_index SET lifecycle = ?, owner = ?, label = ?, yanked = ?, "
                "latest = ? WHERE name = ? AND version = ?",
                [(*state, *key) for key, state in want.items() if have.get(key) != state],
            )

    # -- reads -------------------------------------------------------------------

    def search_state(self, names: Sequence[str] | None = None) -> dict[tuple[str, int], State]:
        """The mutable columns of the index's rows (of these tools, or all)."""
        where, params = _names_where("name", names)
        rows = self._q(
            f"SELECT name, version, lifecycle, owner, label, yanked, latest FROM search_index "
            f"WHERE {where}",
            params,
        )
        return {(r[0], r[1]): (r[2], r[3], r[4], int(r[5]), int(r[6])) for r in rows}

    def search_state_wanted(
        self, names: Sequence[str] | None = None
    ) -> dict[tuple[str, int], State]:
        """What :meth:`search_state` should be, from the tools, labels and yanks."""
        where, params = _names_where("v.name", names)
        versions = list(
            self._q(
                "SELECT v.name, v.version, t.lifecycle, t.owner, y.version IS NOT NULL "
                "FROM versions v JOIN tools t ON t.name = v.name LEFT JOIN yanks y "
                f"ON y.name = v.name AND y.version = v.version WHERE {where}",
                params,
            )
        )
        labels: dict[tuple[str, int], list[str]] = {}
        for name, label, number in self._q(
            f"SELECT v.name, v.label, v.version FROM labels v WHERE {where}", params
        ):
            labels.setdefault((name, number), []).append(label)
        latest: dict[str, int] = {}
        for name, number, _, _, yanked in versions:
            if not yanked and number > latest.get(name, 0):
                latest[name] = number
        return {
            (name, number): (
                lifecycle,
                owner,
                " ".join(sorted(labels.get((name, number), []))),
                int(bool(yanked)),
                int(latest.get(name) == number),
            )
            for name, number, lifecycle, owner, yanked in versions
        }

    def has_search_index(self) -> bool:
        """Whether this database has the search index (migration 8)."""
        return self._indexed()

    def version_keys(self) -> dict[tuple[str, int], str]:
        """(name, version) -> sha256 of every version."""
        return {(r[0], r[1]): r[2] for r in self._q("SELECT name, version, sha256 FROM versions")}

    def search_keys(self) -> dict[tuple[str, int], str]:
        """(name, version) -> sha256 of every indexed row: verify holds them to versions."""
        return {
            (r[0], r[1]): r[2] for r in self._q("SELECT name, version, sha256 FROM search_index")
        }

    def applied(self) -> dict[int, tuple[str, str]]:
        """Applied migrations (the store provides it)."""
        raise NotImplementedError

    def search_text_damaged(self) -> str | None:
        """What the full-text index's own check finds wrong, or None (SQLite's FTS5
        integrity check; PostgreSQL's generated column cannot drift)."""
        if self.dialect != "sqlite":
            return None
        for table in ("search_words", "search_trigram"):
            try:
                self._q(f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)")
            except Exception as exc:  # the store's error says what is wrong
                return f"{table}: {exc}"
        return None

    def search_select(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of one of the search's reads (:mod:`toolvault.search.tiersql`)."""
        return list(self._q(sql, params))

    def search_page(self, query: Query, page: Page) -> list[Row]:
        """One page of the rows that match ``query``, ranked as the ranking ranks them
        (:func:`toolvault.search.sql.page_query`)."""
        from toolvault.search.rank import Row
        from toolvault.search.sql import page_query

        sql, params = page_query(self.dialect, query, page)
        return [Row(*r[:14], bool(r[14]), r[15]) for r in self._q(sql, params)]  # type: ignore[call-arg]


def _names_where(column: str, names: Sequence[str] | None) -> tuple[str, list[Any]]:
    if names is None:
        return "1 = 1", []
    return f"{column} IN ({', '.join('?' * len(names))})", list(names)
