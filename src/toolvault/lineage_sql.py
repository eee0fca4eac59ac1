"""The SQL of lineage graphs, shared by the store (:mod:`toolvault.store.lineage`) and
the fast path (:mod:`toolvault.fastcli.graph`): standard library only.

Every query answers rows of :data:`~toolvault.lineage_walk.Row`: a node's columns, then
the stored references. Deep graphs come from one recursive query that follows the pinned
references (``name:N@sha256:HEX``) inside the database, from the stored JSON texts:
SQLite reads them with ``json_each``, PostgreSQL with a regular expression (a cast to
jsonb would fail the whole query on a text altered by hand; a pattern only misses it, and
the walk reads what was missed).
"""

from __future__ import annotations

from collections.abc import Iterable

IN_CHUNK = 500  # pairs per query: far below either database's parameter limit

# A node's columns (lineage_graph.Node's second to tenth fields), then the references
ROW_COLUMNS = (
    "v.sha256, v.created_at, v.created_by, v.owner, v.session_id, v.prompt, v.message, v.refs"
)

# The rows of some (name, version) pairs; a join on the key, as "(name, version) IN
# (VALUES …)" scans the whole table in SQLite
ROWS = (
    f"SELECT v.name, v.version, {ROW_COLUMNS} FROM (VALUES {{start}}) AS k "
    "JOIN versions v ON v.name = k.column1 AND v.version = k.column2"
)

# The versions reached from some pairs through pinned references, each once (UNION: a
# diamond is not walked twice, a cycle altered in by hand ends), those that are not there
# with a NULL hash; the last parameter caps how many.
CLOSURE = {
    "sqlite": f"""
WITH RECURSIVE reach(name, version) AS (
    VALUES {{start}}
    UNION
    SELECT substr(j.value, 1, instr(j.value, ':') - 1),
           CAST(substr(j.value, instr(j.value, ':') + 1,
                       instr(j.value, '@') - instr(j.value, ':') - 1) AS INTEGER)
    FROM reach r
    JOIN versions v ON v.name = r.name AND v.version = r.version,
         json_each(CASE WHEN json_valid(v.refs) THEN v.refs ELSE '[]' END) j
    WHERE v.refs <> '[]' AND j.type = 'text' AND j.value LIKE '%:%@sha256:%'
    LIMIT ?
)
SELECT r.name, r.version, {ROW_COLUMNS}
FROM reach r LEFT JOIN versions v ON v.name = r.name AND v.version = r.version""",
    "postgres": f"""
WITH RECURSIVE reach(name, version) AS (
    VALUES {{start}}
    UNION
    SELECT m[1], m[2]::integer
    FROM reach r
    JOIN versions v ON v.name = r.name AND v.version = r.version
    CROSS JOIN LATERAL regexp_matches(
        v.refs, '"([A-Za-z0-9][A-Za-z0-9._-]*):([1-9][0-9]{{0,8}})@sha256:[0-9a-f]{{64}}"', 'g'
    ) AS m
    WHERE v.refs <> '[]'
)
SELECT r.name, r.version, {ROW_COLUMNS}
FROM reach r LEFT JOIN versions v ON v.name = r.name AND v.version = r.version
LIMIT ?""",
}

# Every version that references something (most reference nothing, and store "[]")
REFERRERS = f"SELECT v.name, v.version, {ROW_COLUMNS} FROM versions v WHERE v.refs <> '[]'"

YANKS = "SELECT name, version, reason FROM yanks"


def chunks(keys: Iterable[tuple[str, int]]) -> list[tuple[str, list[object]]]:
    """Distinct (name, version) pairs, sorted, :data:`IN_CHUNK` at a time: the ``VALUES``
    rows of each chunk (typed for PostgreSQL) and their parameters."""
    wanted = sorted(set(keys))
    found = []
    for i in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[i : i + IN_CHUNK]
        marks = ", ".join("(CAST(? AS TEXT), CAST(? AS INTEGER))" for _ in chunk)
        params: list[object] = [x for key in chunk for x in key]
        found.append((marks, params))
    return found
