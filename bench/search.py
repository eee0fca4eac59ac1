"""Search benchmark (issue 13): ``Vault.search`` against raw FTS5, the index's cost on
publish and on the migration, ``toolvault search`` against a Python + sqlite floor, and
the same searches on PostgreSQL (with ``TOOLVAULT_TEST_PG``).

Builds a vault of TOOLS tools with VERSIONS versions each (real-looking generated
scripts of 0.5-4 KB, seeded), then prints the figures and their ratios against the
floors measured in the same run. The issue's full size is 50,000 tools and 200,000
versions (``--tools 50000 --versions 4``); the default is a tenth of that.

    .venv/bin/python bench/search.py [--tools N] [--versions K] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolvault import Vault
from toolvault.service.publishing import NewVersion
from toolvault.store.base import SQLStore

WORDS = [
    "csv",
    "json",
    "yaml",
    "git",
    "docker",
    "kube",
    "bucket",
    "postgres",
    "redis",
    "nginx",
    "certificate",
    "dns",
    "syslog",
    "backup",
    "image",
    "pdf",
    "markdown",
    "http",
    "ssh",
    "cron",
    "disk",
    "memory",
    "socket",
    "tarball",
    "secret",
    "user",
    "branch",
    "commit",
    "release",
    "metric",
    "alert",
    "invoice",
    "email",
    "calendar",
    "video",
    "audio",
    "font",
    "icon",
    "sitemap",
    "cache",
    "queue",
    "locale",
    "timezone",
    "summarise",
    "convert",
    "validate",
    "clean",
    "watch",
    "dump",
    "rotate",
    "inspect",
    "list",
    "sync",
    "rows",
    "columns",
    "files",
    "report",
    "upload",
    "download",
    "parse",
    "render",
    "archive",
    "compress",
]
QUERIES = ["csv", "summarise columns", "backup rotate", "load_json", "name:git", "docker",
           "invoice email", '"rotate logs"', "content:parse_rows", "kube secret", "cron",
           "tarball compress", "prompt:upload", "metric alert", "timezone",
           # an agent's natural queries: three or four common words
           "summarise csv columns", "backup rotate disk", "convert markdown pdf",
           "clean docker image", "parse syslog alert email"]  # fmt: skip


def script(rng: random.Random, name: str, version: int) -> bytes:
    """A shell or Python script of 0.5-4 KB with a header that says what it does."""
    words = rng.sample(WORDS, 6)
    head = f"#!/bin/sh\n# {name}: {' '.join(words[:4])}.\n# Usage: {name} FILE...\nset -eu\n"
    body = []
    while sum(map(len, body)) < rng.randint(400, 3800):
        a, b = rng.sample(WORDS, 2)
        body.append(f"{a}_{b}_{version}() {{ printf '%s\\n' \"{a} {b} $1\"; }}\n")
    return (head + "".join(body)).encode()


def build(vault: Vault, tools: int, versions: int, seed: int) -> list[NewVersion]:
    rng = random.Random(seed)
    names = [f"{rng.choice(WORDS)}-{i}" for i in range(tools)]
    items = [
        NewVersion(names[i], script(rng, names[i], v),
                   prompt=" ".join(rng.sample(WORDS, 5)), message=f"change {v}")
        for v in range(1, versions + 1) for i in range(tools)
    ]  # fmt: skip
    for start in range(0, len(items), 1000):
        vault.publish_many(items[start : start + 1000])
    return items


def percentiles(call: Callable[[], object], runs: int) -> tuple[float, float]:
    """p50 and p99 of ``call`` in milliseconds."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def raw_floor(vault: Vault, folder: Path) -> tuple[Path, float]:
    """A plain SQLite database holding the same rows with the same two FTS5 tables, and
    how long inserting them took (the migration's floor)."""
    rows = list(vault.store._q(
        "SELECT name, description, usage, prompt, message, content FROM search_index"))  # fmt: skip
    path = folder / "floor.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, name, description, usage, prompt, message, "
        "content); CREATE VIRTUAL TABLE w USING fts5(name, description, usage, prompt, message);"
        "CREATE VIRTUAL TABLE t USING fts5(content, tokenize='trigram');"
    )
    t = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO docs VALUES (NULL, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO w (rowid, name, description, usage, prompt, message) "
               "SELECT id, name, description, usage, prompt, message FROM docs")  # fmt: skip
    db.execute("INSERT INTO t (rowid, content) SELECT id, content FROM docs")
    db.execute("COMMIT")
    elapsed = time.perf_counter() - t
    db.close()
    return path, elapsed


def raw_query(query: str) -> list[tuple[str, list[str]]]:
    """The FTS5 statements of ``query`` on the plain tables, tried in turn until one
    finds rows: its words (each in its column when qualified) as one MATCH over the word
    table, ranked; ``content:`` terms, and unqualified ones when the words find nothing,
    as phrases on the trigram table."""
    from toolvault.search.query import WORD, parse

    words, grams, loose = [], [], []
    for term in parse(query).terms:
        phrase = '"' + " ".join(WORD.findall(term.text)) + '"'
        text = '"' + term.text.replace('"', '""') + '"'
        if term.field == "content":
            grams.append(text)
        elif term.field:
            words.append("{" + term.field + "} : " + phrase)
        else:
            words.append(phrase)
            loose.append(text)
    pick = "SELECT rowid FROM {0} WHERE {0} MATCH ? ORDER BY rank LIMIT 20"
    if words and grams:
        both = ("SELECT rowid FROM w WHERE w MATCH ? AND rowid IN (SELECT rowid FROM t WHERE "
                "t MATCH ?) ORDER BY rank LIMIT 20")  # fmt: skip
        return [(both, [" AND ".join(words), " AND ".join(grams)])]
    if grams:
        return [(pick.format("t"), [" AND ".join(grams)])]
    return [(pick.format("w"), [" AND ".join(words)]), (pick.format("t"), [" AND ".join(loose)])]


def raw_search(db: sqlite3.Connection, statements: list[tuple[str, list[str]]]) -> list[Any]:
    """The rows of the first of ``statements`` (:func:`raw_query`) that finds some."""
    found: list[Any] = []
    for sql, params in statements:
        found = db.execute(sql, params).fetchall()
        if found:
            break
    return found


def interleaved(
    ours: Callable[[str], object], raw: Callable[[str], object], runs: int
) -> dict[str, tuple[float, float, float, float]]:
    """Per query: p50 and p99 (ms) of ``ours`` and of ``raw``, each run of every query
    one after the other, so that the machine's noise falls on both."""
    times: dict[str, tuple[list[float], list[float]]] = {q: ([], []) for q in QUERIES}
    for _ in range(runs):
        for q in QUERIES:
            for call, into in ((ours, times[q][0]), (raw, times[q][1])):
                t = time.perf_counter()
                call(q)
                into.append((time.perf_counter() - t) * 1000)
    return {q: (*spread(a), *spread(b)) for q, (a, b) in times.items()}


def spread(times: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``times``."""
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def publish_cost(vault: Vault, rng: random.Random, n: int, indexed: bool) -> float:
    """Milliseconds per publish of ``n`` new tools, one transaction each."""
    saved = SQLStore.index_versions, SQLStore.refresh_search
    if not indexed:  # the same publish without the index's writes
        SQLStore.index_versions = SQLStore.refresh_search = lambda self, *a: None  # type: ignore[method-assign,assignment]
    names = [f"pub-{indexed}-{i}-{rng.randrange(10**9)}" for i in range(n)]
    scripts = [script(rng, name, 1) for name in names]  # made before: only publishes are timed
    try:
        t = time.perf_counter()
        for name, content in zip(names, scripts, strict=True):
            vault.publish(name, content, prompt="publish cost")
        return (time.perf_counter() - t) * 1000 / n
    finally:
        SQLStore.index_versions, SQLStore.refresh_search = saved  # type: ignore[method-assign]


def cli_wall(home: Path, floor: Path, runs: int) -> tuple[float, float]:
    """Median wall time (ms) of ``toolvault search csv --json`` and of a floor script."""
    env = {**os.environ, "TOOLVAULT_HOME": str(home)}
    env.pop("TOOLVAULT_URL", None)
    floor_script = (
        "import sqlite3, json, sys; db = sqlite3.connect(sys.argv[1]); print(json.dumps("
        "db.execute(\"SELECT rowid, highlight(w, 0, '**', '**') FROM w WHERE w MATCH 'csv' "
        'ORDER BY rank LIMIT 20").fetchall()))'
    )
    tool = [sys.executable, "-m", "toolvault", "search", "csv", "--json"]
    base = [sys.executable, "-c", floor_script, str(floor)]
    medians = []
    for argv in (tool, base):

        def one(argv: list[str] = argv) -> None:
            subprocess.run(argv, env=env, check=True, capture_output=True)

        medians.append(percentiles(one, runs)[0])
    return medians[0], medians[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=5_000)
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--runs", type=int, default=20, help="runs of each search")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {"tools": args.tools, "versions": args.tools * args.versions}
    with tempfile.TemporaryDirectory(prefix="toolvault-bench-search-") as tmp:
        folder = Path(tmp)
        home = folder / "home"
        vault = Vault.open(home)
        t = time.perf_counter()
        build(vault, args.tools, args.versions, args.seed)
        out["build_s"] = round(time.perf_counter() - t, 1)
        floor, out["raw_fts_insert_s"] = raw_floor(vault, folder)
        t = time.perf_counter()
        with vault.store.write():
            vault.store.rebuild_search()
        out["reindex_s"] = time.perf_counter() - t
        db = sqlite3.connect(floor)
        prepared = {q: raw_query(q) for q in QUERIES}
        for q in QUERIES:
            vault.search(q)
            raw_search(db, prepared[q])
        per = interleaved(vault.search, lambda q: raw_search(db, prepared[q]), args.runs)
        out["per_query"] = per
        out["search_p50_ms"] = statistics.median(m[0] for m in per.values())
        out["search_p99_ms"] = max(m[1] for m in per.values())
        out["raw_p50_ms"] = statistics.median(m[2] for m in per.values())
        out["raw_p99_ms"] = max(m[3] for m in per.values())
        rng = random.Random(args.seed)
        rounds = [
            (publish_cost(vault, rng, 50, False), publish_cost(vault, rng, 50, True))
            for _ in range(5)
        ]  # alternated: the machine's noise falls on both
        out["publish_ms_with_index"] = statistics.median(r[1] for r in rounds)
        out["publish_ms_without_index"] = statistics.median(r[0] for r in rounds)
        out["cli_ms"], out["cli_floor_ms"] = cli_wall(home, floor, 7)
        vault.close()
        out.update(postgres(args))
    report(out, args.json)
    return 0


def postgres(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get("TOOLVAULT_TEST_PG")
    if not url:
        return {}
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sep = "&" if "?" in url else "?"
            vault = Vault.open(Path(tmp), db=f"{url}{sep}options=-csearch_path%3D{schema}")
            build(vault, args.tools // 5, args.versions, args.seed)
            for q in QUERIES:
                vault.search(q)
            per = {q: percentiles(lambda q=q: vault.search(q), 10) for q in QUERIES}
            vault.close()
        return {"pg_versions": args.tools // 5 * args.versions, "pg_per_query": per,
                "pg_search_p50_ms": statistics.median(m[0] for m in per.values()),
                "pg_search_p99_ms": max(m[1] for m in per.values())}  # fmt: skip
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def report(out: dict[str, Any], as_json: bool) -> None:
    ratios = {
        "search p50 / raw FTS5 p50 (budget 2x)": out["search_p50_ms"] / out["raw_p50_ms"],
        "publish with / without index (budget 1.3x)": out["publish_ms_with_index"]
        / out["publish_ms_without_index"],
        "reindex / raw FTS5 inserts (budget 3x)": out["reindex_s"] / out["raw_fts_insert_s"],
        "toolvault search / floor script (budget 2.5x)": out["cli_ms"] / out["cli_floor_ms"],
    }
    for key, value in out.items():
        if key.endswith("per_query"):
            continue
        print(f"{key:32} {value:.2f}" if isinstance(value, float) else f"{key:32} {value}")
    print(f"{'query':22} {'ours p50':>9} {'p99':>7} {'raw p50':>9} {'p99':>7} {'ratio':>7}")
    for q, (p50, p99, r50, r99) in out["per_query"].items():
        print(f"{q:22} {p50:9.2f} {p99:7.2f} {r50:9.2f} {r99:7.2f} {p50 / r50:6.2f}x")
    for q, (p50, p99) in out.get("pg_per_query", {}).items():
        print(f"postgres {q:22} p50 {p50:7.2f}  p99 {p99:7.2f}")
    for key, value in ratios.items():
        print(f"{key:48} {value:.2f}x")
    if as_json:
        print(json.dumps({**out, "ratios": ratios}))


if __name__ == "__main__":
    sys.exit(main())
