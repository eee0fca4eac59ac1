"""The SQL of lineage graphs, shared by the store (:mod:`toolvault.store.lineage`) and
the fast path (:mod:`toolvault.fastcli.graph`): standard library only.

Every query answers rows of :data:`~toolvault.lineage_walk.Row`: a node's columns, then
the stored references. Deep graphs come from one recursive query that follows the pinned
references (``name:N@sha256:HEX``) inside the database, from the stored JSON texts:
SQLite reads them with ``json_each``, PostgreSQL by cutting the text at its commas (a
cast to jsonb would fail the whole query on a text altered by hand, and a regular
expression cost a tenth of a millisecond a row; a cut only misses what it cannot read,
and the walk reads what was missed).
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
    # each element of the JSON list, cut at its commas and trimmed of brackets and quotes
    # (a pinned reference holds none of them); the version only where it is digits
    "postgres": f"""
WITH RECURSIVE reach(name, version) AS (
    VALUES {{start}}
    UNION
    SELECT split_part(t.ref, ':', 1), CAST(t.number AS INTEGER)
    FROM reach r
    JOIN versions v ON v.name = r.name AND v.version = r.version
    CROSS JOIN LATERAL unnest(string_to_array(v.refs, ',')) AS p(piece)
    CROSS JOIN LATERAL (
        SELECT btrim(p.piece, ' []"') AS ref,
               split_part(split_part(p.piece, ':', 2), '@', 1) AS number
    ) AS t
    WHERE v.refs <> '[]' AND t.ref LIKE '%_:_%@sha256:%'
      AND length(t.number) BETWEEN 1 AND 9 AND translate(t.number, '0123456789', '') = ''
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
