"""The queries of the search index (SPEC §10), mixed into :class:`~toolvault.store.base.SQLStore`.

The index is one row per version (``search_index``) with full-text indexes over it:
FTS5 tables in SQLite, a weighted ``tsvector`` (GIN) and ``pg_trgm`` in PostgreSQL. The
store only narrows the rows with them (a superset of what matches); which rows match and
their order is decided by :mod:`toolvault.search.rank`, the same for both stores.
Every write that changes what is found calls :meth:`SearchQueries.index_versions` or
:meth:`SearchQueries.refresh_search` inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolvault.store.sql import Queries, chunks, json_list

if TYPE_CHECKING:
    from toolvault.search.query import Query, Term
    from toolvault.search.rank import Row

SEARCH_MIGRATION = 8  # the migration that made the index
MAX_CONTENT = 256 * 1024  # content past this is not searched (scripts are far smaller)
TEXT_COLUMNS = (
    "name, version, sha256, description, usage, prompt, message, content, author, owner, "
    "session, label, uses, lifecycle, yanked, recorded_at"
)
ROW_COLUMNS = ", ".join(f"s.{c.strip()}" for c in TEXT_COLUMNS.split(","))
SOURCE = (
    "SELECT v.name, v.version, v.sha256, v.description, v.usage, v.prompt, v.message, "
    "b.content, v.created_by, v.session_id, v.refs, v.recorded_at "
    "FROM versions v JOIN blobs b ON b.sha256 = v.sha256"
)
# SQLite's FTS5 tables over search_index, and the columns each holds
FTS_TABLES = {
    "search_words": "name, description, usage, prompt, message",
    "search_trigram": "content",
}
# The word fields and their weight in PostgreSQL's tsvector (prompt and message share D).
WORD_WEIGHTS = {"name": "A", "description": "B", "usage": "C", "prompt": "D", "message": "D"}


@dataclass(frozen=True, slots=True)
class Page:
    """Which rows a search looks at, and which of its ranked rows to return."""

    within: tuple[str, ...]  # the fields an unqualified term may match
    all_versions: bool
    lifecycles: tuple[str, ...]
    size: int
    offset: int = 0


# (lifecycle, owner, label, yanked, latest) of one version, as the index should hold it
State = tuple[str, str, str, int, int]


def content_text(content: bytes) -> str:
    """What of the content is searched: its text, or nothing for a binary file."""
    head = bytes(content[:MAX_CONTENT])
    if b"\x00" in head:
        return ""
    return head.decode("utf-8", errors="replace")


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

    def index_versions(self, keys: Iterable[tuple[str, int]]) -> None:
        """Index these newly inserted versions, then bring their tools' rows in step."""
        keys = list(keys)
        if not keys or not self._indexed():
            return
        rows = []
        for name, number in keys:
            rows += list(self._q(f"{SOURCE} WHERE v.name = ? AND v.version = ?", (name, number)))
        self._insert_search(rows)
        self.refresh_search({name for name, _ in keys})

    def rebuild_search(self) -> None:
        """Index every version afresh (a migration, ``sync``)."""
        self._searchable = True  # the migration making the table calls this before its row
        self._q("DELETE FROM search_index")
        if self.dialect == "sqlite":
            for table in FTS_TABLES:
                self._q(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
        names = [r[0] for r in self._q("SELECT name FROM tools ORDER BY name")]
        for chunk in chunks(names):
            marks = ", ".join("?" * len(chunk))
            self._insert_search(list(self._q(f"{SOURCE} WHERE v.name IN ({marks})", chunk)))
            self.refresh_search(chunk)

    def _insert_search(self, rows: Sequence[Sequence[Any]]) -> None:
        """Insert index rows, and their text into SQLite's FTS tables in one statement
        each (PostgreSQL's tsvector is a generated column)."""
        if not rows:
            return
        sqlite = self.dialect == "sqlite"
        if sqlite:
            (last,) = self._q("SELECT coalesce(max(id), 0) FROM search_index").fetchone()
        self._insert_rows(rows)
        if sqlite:  # writers are serialized: the rows past ``last`` are these
            for table, columns in FTS_TABLES.items():
                self._q(
                    f"INSERT INTO {table} (rowid, {columns}) SELECT id, {columns} "
                    "FROM search_index WHERE id > ?",
                    (last,),
                )

    def _insert_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        self._qmany(
            "INSERT INTO search_index (name, version, sha256, description, usage, prompt, "
            "message, content, author, session, uses, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r[0],
                    r[1],
                    r[2],
                    r[3] or "",
                    r[4] or "",
                    r[5] or "",
                    r[6] or "",
                    content_text(r[7]).replace("\x00", ""),
                    r[8] or "",
                    r[9] or "",
                    " ".join(sorted({ref_name(x) for x in json_list(r[10])})),
                    r[11],
                )
                for r in rows
            ],
        )

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

    def search_page(self, query: Query, page: Page) -> list[Row]:
        """One page of the rows that match ``query``, ranked in SQL as
        :mod:`toolvault.search.rank` ranks them (field weights, deprecated after active,
        the newest first): the ranking checks and orders them again, and asks for the
        next page when it dropped some (the SQL may take a little more than matches).

        Each term's score (the weight of the best field it matches, 0 for none) is
        computed once per candidate row in a materialized CTE; the candidates are the
        rows the first term may match, found through the full-text index."""
        from toolvault.search.rank import EXACT_NAME, Row

        where = [f"s.lifecycle IN ({', '.join('?' * len(page.lifecycles))})"]
        where_params: list[Any] = list(page.lifecycles)
        if not page.all_versions:
            where.append("s.latest = 1")
        driver, driver_params = self._driver(query.terms[0], page.within)
        where.append(driver)
        where_params += driver_params
        scores, params = [], []  # placeholders in the text's order: the CTE's SELECT first
        for i, term in enumerate(query.terms):
            case, case_params = self._term_score(term, page.within)
            scores.append(f"{case} AS t{i}")
            params += case_params
        params += where_params
        total = " + ".join(f"m.t{i}" for i in range(len(query.terms)))
        exact = query.plain_text()
        order_params: list[Any] = []
        if exact is not None:
            total += f" + CASE WHEN lower(m.name) = ? THEN {EXACT_NAME} ELSE 0 END"
            order_params.append(exact)
        c = ' COLLATE "C"' if self.dialect == "postgres" else ""
        # the page is ranked over the narrow columns; only its rows are read in full
        # (their order is the ranking's to restore)
        sql = (
            f"WITH m AS MATERIALIZED (SELECT s.id, s.lifecycle, s.recorded_at, s.name, "
            f"s.version, {', '.join(scores)} FROM search_index s WHERE {' AND '.join(where)}) "
            f"SELECT {ROW_COLUMNS} FROM search_index s WHERE s.id IN (SELECT m.id FROM m WHERE "
            + " AND ".join(f"m.t{i} > 0" for i in range(len(query.terms)))
            + " ORDER BY CASE m.lifecycle WHEN 'active' THEN 0 WHEN 'deprecated' THEN 1 "
            f"ELSE 2 END, {total} DESC, m.recorded_at{c} DESC, m.name{c}, m.version DESC "
            "LIMIT ? OFFSET ?)"
        )
        rows = self._q(sql, [*params, *order_params, page.size, page.offset])
        return [Row(*r[:14], bool(r[14]), r[15]) for r in rows]  # type: ignore[call-arg]

    def _term_score(self, term: Term, within: tuple[str, ...]) -> tuple[str, list[Any]]:
        """SQL for the weight of the best field ``term`` matches in row ``s`` (0: none)."""
        from toolvault.search.rank import WEIGHTS

        fields = sorted((term.field,) if term.field else within, key=lambda f: -WEIGHTS[f])
        flags = [(f, *self._flag(term, f)) for f in fields]
        cases = " ".join(f"WHEN {sql} THEN {WEIGHTS[f]}" for f, sql, _ in flags)
        return f"CASE {cases} ELSE 0 END", [p for _, _, ps in flags for p in ps]

    def _driver(self, term: Term, within: tuple[str, ...]) -> tuple[str, list[Any]]:
        """SQL keeping at least every row ``term`` matches, through the full-text index."""
        fields = (term.field,) if term.field else within
        words = [f for f in fields if f in WORD_WEIGHTS]
        parts: list[tuple[str, list[Any]]] = []
        if words and self.dialect == "sqlite":
            parts.append((
                "s.id IN (SELECT rowid FROM search_words WHERE search_words MATCH ?)",
                ["{" + " ".join(words) + "} : \"" + " ".join(term.words) + "\""],
            ))  # fmt: skip
        elif words:
            parts.append(("s.words @@ phraseto_tsquery('simple', ?)", [" ".join(term.words)]))
        parts += [self._flag(term, f) for f in fields if f not in WORD_WEIGHTS]
        return "(" + " OR ".join(sql for sql, _ in parts) + ")", [p for _, ps in parts for p in ps]

    def _flag(self, term: Term, field: str) -> tuple[str, list[Any]]:
        """SQL true when ``term`` matches ``field`` of row ``s``, and its parameters."""
        from toolvault.search.query import MIN_SUBSTRING

        words = " ".join(term.words)
        if field in WORD_WEIGHTS:
            if self.dialect == "sqlite":
                return (
                    "s.id IN (SELECT rowid FROM search_words WHERE search_words MATCH ?)",
                    [f'{field} : "{words}"'],
                )
            weight = WORD_WEIGHTS[field]
            phrase = " <-> ".join(f"{w}:{weight}" for w in term.words)
            return "s.words @@ to_tsquery('simple', ?)", [phrase]
        like = "LIKE" if self.dialect == "sqlite" else "ILIKE"
        text = _escaped(term.text.lower())
        if field == "content":
            if self.dialect == "sqlite" and len(term.text) >= MIN_SUBSTRING:
                return (
                    "s.id IN (SELECT rowid FROM search_trigram WHERE search_trigram MATCH ?)",
                    ['"' + term.text.replace('"', '""') + '"'],
                )
            return f"s.content {like} ? ESCAPE '\\'", [f"%{text}%"]
        if field in ("label", "uses"):  # a name among the space-separated ones
            return f"(' ' || lower(s.{field}) || ' ') LIKE ? ESCAPE '\\'", [f"% {text} %"]
        return f"lower(s.{field}) LIKE ? ESCAPE '\\'", [f"%{text}%"]


def _escaped(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _names_where(column: str, names: Sequence[str] | None) -> tuple[str, list[Any]]:
    if names is None:
        return "1 = 1", []
    return f"{column} IN ({', '.join('?' * len(names))})", list(names)
