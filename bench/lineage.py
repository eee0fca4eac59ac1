"""Lineage benchmark: ``refs --depth all`` over a 10,000-version lineage (issue 14).

Builds, in a temporary folder, two lineages of VERSIONS versions each:

- a chain: version i references version i-1, round robin over 50 tools, so the graph is
  VERSIONS levels deep (the walk's worst case: one level after another);
- layers: 100 layers of VERSIONS/100 versions (one tool per column), each version
  referencing 3 of the layer below, and one head referencing the top layer.

Then times, interleaved round by round so that drift hits all alike:

- ``Vault.lineage(HEAD, "all")`` (ancestors) of the chain and of the layers, and
  ``Vault.lineage(FIRST, "all", reverse=True)`` (descendants) of the chain;
- the command ``toolvault refs HEAD --depth all --json`` on the chain (a new process
  each time: Python's start-up, the walk, 10,000 nodes of JSON written to a pipe);
- the same command against ``toolvault serve`` on 127.0.0.1 over the same vault
  (``TOOLVAULT_URL``, with a token: the remote CLI), and the daemon's own answer to its
  request, ``GET /v1/refs/HEAD?depth=all`` read whole by ``http.client`` (its floor).

On SQLite, and on PostgreSQL too when ``TOOLVAULT_BENCH_PG`` (or ``TOOLVAULT_TEST_PG``)
holds a URL (a fresh schema is made there and dropped after).

Budget: each answer on the chain under 200 ms (median). Machines are noisy, so timing
never fails the run: it prints PASS or OVER and exits 0. With ``--json`` the last line
of stdout is the same figures as one JSON document.

    .venv/bin/python bench/lineage.py [--quick] [--json]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from benchlib import Budget, Stats
from toolvault import NewVersion, Vault

BUDGET_MS = 200.0
CHAIN_TOOLS = 50
LAYERS = 100
FAN_IN = 3
WARMUP_RUNS = 2


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many versions each lineage has and how many times each answer is timed."""

    versions: int = 10_000
    runs: int = 15


FULL = Sizes()
QUICK = Sizes(versions=1_000, runs=5)


@dataclass(slots=True)
class Results:
    """Everything one run measured, per store."""

    sizes: Sizes
    build_s: dict[str, float] = field(default_factory=dict)
    timings: dict[str, dict[str, Stats]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def build_chain(vault: Vault, versions: int) -> tuple[str, str]:
    """The chain, one publish per version (each references the one before); its first
    and last version."""
    held: list[str] = []
    first = ""
    for i in range(versions):
        p = vault.publish(f"chain{i % CHAIN_TOOLS}", f"echo chain {i}\n", references=held)
        held = [f"{p.name}:{p.version}"]
        first = first or held[0]
        if i % 1_000 == 999:
            benchlib.progress(f"  chain: {i + 1:,} versions")
    return first, held[0]


def build_layers(vault: Vault, versions: int) -> str:
    """The layers, one publish of a whole layer at a time; the head's spec."""
    width = max(1, versions // LAYERS)
    below: list[str] = []
    for layer in range(1, LAYERS + 1):
        items = [
            NewVersion(
                f"col{c}",
                f"echo layer {layer} column {c}\n".encode(),
                references=tuple(below[(c + k) % width] for k in range(FAN_IN)) if below else (),
            )
            for c in range(width)
        ]
        vault.publish_many(items)
        below = [f"col{c}:{layer}" for c in range(width)]
    vault.publish("head", "echo head\n", references=below)
    return "head:1"


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def measure_store(
    r: Results, store: str, home: Path, tmp: Path, db: str | None
) -> dict[str, Stats]:
    """Build both lineages in one vault and time every answer."""
    home.mkdir(parents=True)
    (home / "config.toml").write_text("commands_tree = false\n")  # the database is measured
    with Vault.open(home, db=db) as vault:
        benchlib.progress(f"{store}: building a chain and layers of {r.sizes.versions:,} each")
        ns, (first, last) = benchlib.timed(build_chain, vault, r.sizes.versions)
        head = build_layers(vault, r.sizes.versions)
        r.build_s[store] = ns / 1e9
        benchlib.settle()
        calls: dict[str, Callable[[], int]] = {
            "chain ancestors (library)": lambda: len(vault.lineage(last, "all").nodes),
            "chain descendants (library)": lambda: len(vault.lineage(first, "all", True).nodes),
            "layers ancestors (library)": lambda: len(vault.lineage(head, "all").nodes),
        }
        exe = shutil.which("toolvault", path=str(Path(sys.executable).parent)) or "toolvault"
        env = benchlib.child_env(
            tmp, TOOLVAULT_HOME=str(home), **({"TOOLVAULT_DB": db} if db else {})
        )
        argv = [exe, "refs", last, "--depth", "all", "--json"]
        calls["chain: toolvault refs --depth all --json"] = lambda: _nodes(argv, env)
        _, token = vault.create_token("bench")
        with _daemon(exe, home, env, db) as url:
            remote = {**env, "TOOLVAULT_URL": url, "TOOLVAULT_TOKEN": token}
            remote.pop("TOOLVAULT_DB", None)  # the client knows only the daemon
            calls["chain: remote CLI, the same through the daemon"] = lambda: _nodes(argv, remote)
            path = f"/v1/refs/{last}?depth=all"
            calls["daemon: its answer on the chain, GET /v1/refs?depth=all"] = lambda: _get(
                url, path, token
            )
            return _interleaved(calls, r.sizes)


def _nodes(argv: list[str], env: dict[str, str]) -> int:
    """Run the command; the nodes of the graph it printed."""
    return len(json.loads(benchlib.run_timed(argv, env, "toolvault refs")[1])["nodes"])


@contextmanager
def _daemon(exe: str, home: Path, env: dict[str, str], db: str | None) -> Iterator[str]:
    """``toolvault serve`` on a free loopback port, over the vault just built; its URL."""
    from toolvault.cli.served import ServerProcess

    argv = [exe, "--home", str(home), "serve", "--port", "0", *(["--db", db] if db else [])]
    server = ServerProcess(argv, env)
    try:
        yield server.url
    finally:
        server.stop()


def _get(url: str, path: str, token: str) -> int:
    """The daemon's answer to one request (a new connection, as the command makes): the
    nodes of the graph it holds."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:200]!r}")
    return len(json.loads(body)["nodes"])


def _interleaved(calls: dict[str, Callable[[], int]], sizes: Sizes) -> dict[str, Stats]:
    samples: dict[str, list[int]] = {k: [] for k in calls}
    for run in range(sizes.runs + WARMUP_RUNS):
        for key, call in calls.items():
            ns, count = benchlib.timed(call)
            if count < sizes.versions:
                raise RuntimeError(f"{key}: {count:,} versions, not {sizes.versions:,}")
            if run >= WARMUP_RUNS:  # the first runs fill the caches
                samples[key].append(ns)
    return {k: Stats.of(v) for k, v in samples.items()}


def run(sizes: Sizes) -> Results:
    """Build and time on SQLite, and on PostgreSQL when a URL is given."""
    results = Results(sizes)
    pg = os.environ.get("TOOLVAULT_BENCH_PG") or os.environ.get("TOOLVAULT_TEST_PG")
    with benchlib.whole_run(results, prefix="toolvault-bench-lineage-") as tmp:
        try:
            results.timings["sqlite"] = measure_store(results, "sqlite", tmp / "sqlite", tmp, None)
            if pg:
                with postgres_schema(pg) as url:
                    results.timings["postgres"] = measure_store(
                        results, "postgres", tmp / "pg", tmp, url
                    )
            else:
                results.notes.append("PostgreSQL not measured: set TOOLVAULT_BENCH_PG=URL")
        except RuntimeError as exc:
            results.notes.append(f"not measured: {exc}")
    return results


def budgets(r: Results) -> list[Budget]:
    """Each answer on the chain: its median under BUDGET_MS."""
    return [
        Budget(
            f"{store}:{key}",
            f"{store}: {key}",
            stats.median_us / 1_000,
            BUDGET_MS,
            "ms",
            basis="median",
        )
        for store, timings in r.timings.items()
        for key, stats in timings.items()
        if key.startswith("chain")
    ]


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    built = ", ".join(f"{s} {t:.0f} s" for s, t in r.build_s.items())
    head = (
        f"toolvault lineage: refs --depth all over {r.sizes.versions:,}-version lineages "
        f"(build {built}); whole run {r.total_s:.1f} s; {benchlib.load_text(r)}"
    )
    by_key = {b.key: b for b in budgets(r)}
    rows = []
    for store, timings in r.timings.items():
        for key, stats in timings.items():
            row = benchlib.stat_row(f"{store}: {key}", stats, "ms")
            budget = by_key.get(f"{store}:{key}")
            if budget:
                row[-2:] = [budget.describe(), budget.verdict]
            rows.append(row)
    return benchlib.page(head, [benchlib.stats_table(rows)] if rows else [], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    return {
        "sizes": asdict(r.sizes),
        "build_seconds": {k: round(v, 3) for k, v in r.build_s.items()},
        **benchlib.run_json(r),
        "timings": {s: {k: asdict(v) for k, v in t.items()} for s, t in r.timings.items()},
        "budgets": [b.as_json() for b in budgets(r)],
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    args = benchlib.arguments(__doc__, "1,000 versions: a smoke run").parse_args(argv)
    return benchlib.finish(run(QUICK if args.quick else FULL), render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
