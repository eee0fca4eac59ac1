"""Daemon benchmark: ``toolvault serve`` under concurrent clients, against a floor.

In a temporary folder, builds a vault of TOOLS tools x 10 versions and starts, on
127.0.0.1 only:

- the daemon (``python -m toolvault serve --port 0``, SQLite);
- the floor: a minimal ASGI app returning a constant string of the same size as a
  tool, served by the same uvicorn settings (``toolvault.cli.serve.run_server``).

Then N client threads per run (spread over a few processes, so that the clients'
own interpreter lock is not what is measured), each with one keep-alive
``http.client`` connection, send requests for a fixed time:

- ``GET /`` to the floor; ``GET /commands/NAME`` (latest, random names) and
  ``GET /v1/tools/NAME/versions`` to the daemon; at 1 and at 50 clients;
- publish throughput over HTTP: ``POST /v1/publish`` of one version per request,
  from 1 and from 8 clients, on SQLite and, with ``TOOLVAULT_TEST_PG`` or
  ``--pg URL``, on PostgreSQL (a fresh schema, dropped afterwards).

Both servers run under the same uvicorn settings: its "auto" HTTP parser and event
loop, httptools and uvloop when installed (the ``server`` extra), which the heading
names.

Budgets (issue 5): throughput within 3x of the floor; p99 of a latest fetch under
5 ms at 50 concurrent clients. The p99 budget is read from a run where the 50
clients together send PACED_RATE requests a second, not from the flat-out run:
flat out, 50 clients on a machine with a few cores keep the server saturated, so
every request waits behind the others (clients / throughput, by Little's law) and
the p99 measures that queue, whatever one fetch costs; the paced run measures a
fetch while the daemon is busy but not saturated. Both are printed. Machines are
noisy, so timing never fails the run: it prints PASS or OVER and exits 0. With
``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/daemon.py [--quick] [--json] [--pg URL]
"""

from __future__ import annotations

import http.client
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from toolvault import NewVersion, Vault
from toolvault.cli.served import ServerProcess

THROUGHPUT_VS_FLOOR_MAX = 3.0
LATEST_P99_MS = 5.0
BUDGET_CLIENTS = 50
PACED_RATE = 1_000  # requests a second that the paced clients send together
PACED = f"GET /commands/NAME, paced to {PACED_RATE:,} req/s"
STARTUP_TIMEOUT = 60.0
MAX_REQUESTS_PER_CLIENT = 200_000  # a bound besides the clock

FLOOR = """\
import sys

from toolvault.cli.serve import listen, run_server

BODY = {body!r}
HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": HEADERS}})
    await send({{"type": "http.response.body", "body": BODY}})


sock = listen("127.0.0.1", 0)
print(f"toolvault: serving on http://127.0.0.1:{{sock.getsockname()[1]}}", file=sys.stderr)
sys.stderr.flush()
run_server(app, sock)
"""


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the vault is and how long each run lasts."""

    tools: int = 1_000
    versions: int = 10
    seconds: float = 5.0
    warmup: float = 1.0
    levels: tuple[int, ...] = (1, BUDGET_CLIENTS)
    publish_seconds: float = 5.0
    publish_levels: tuple[int, ...] = (1, 8)


FULL = Sizes()
QUICK = Sizes(tools=200, seconds=2.0, warmup=0.5, publish_seconds=2.0)


@dataclass(frozen=True, slots=True)
class Run:
    """One load run: requests, errors, rate and latency percentiles (nearest rank)."""

    target: str
    clients: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, target: str, clients: int, samples: list[int], errors: int, seconds: float) -> Run:
        """Summarize per-request nanoseconds measured over ``seconds`` of wall time."""
        ordered = sorted(samples) or [0]
        rate = len(samples) / seconds if seconds else 0.0
        p50 = statistics.median(ordered) / 1e6
        p99 = benchlib.p99_of(ordered) / 1e6
        return cls(target, clients, len(samples), errors, seconds, rate, p50, p99)


@dataclass(slots=True)
class Results:
    """Everything one run measured."""

    sizes: Sizes
    client_processes: int = 1
    server: str = field(default_factory=lambda: uvicorn_settings())
    reads: list[Run] = field(default_factory=list)
    publish: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


# -- servers ------------------------------------------------------------------------------


def uvicorn_settings() -> str:
    """Which uvicorn, HTTP parser and event loop the servers run ("auto" picks these)."""
    found = importlib.util.find_spec
    http = "httptools" if found("httptools") else "h11"
    loop = "uvloop" if found("uvloop") else "asyncio"
    return f"uvicorn {importlib.metadata.version('uvicorn')} ({http}, {loop})"


def start_daemon(home: Path, env: dict[str, str], db: str | None = None) -> ServerProcess:
    """``toolvault serve`` on a free loopback port."""
    argv = [sys.executable, "-m", "toolvault", "--home", str(home), "serve", "--port", "0"]
    return ServerProcess([*argv, *(["--db", db] if db else [])], env)


def start_floor(tmp: Path, env: dict[str, str], body: bytes) -> ServerProcess:
    """The constant-string ASGI app under the daemon's uvicorn settings."""
    path = tmp / "floor.py"
    path.write_text(FLOOR.format(body=body))
    return ServerProcess([sys.executable, str(path)], env)


# -- load ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Load:
    """What every client thread of one run does (picklable for client processes)."""

    port: int
    method: str
    paths: tuple[str, ...]
    token: str | None
    bodies: tuple[bytes, ...] = ()
    warmup: float = 0.0
    seconds: float = 1.0
    interval: float = 0.0  # paced clients: seconds from one request's start to the next


def client_loop(load: Load, seed: int, start_at: float) -> tuple[list[int], int]:
    """One client: a keep-alive connection, requests until the clock runs out.

    Requests in the warm-up are sent but not counted. Returns per-request
    nanoseconds of the measured part, and the number of failed requests.
    """
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {load.token}"} if load.token else {}
    if load.bodies:
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", load.port, timeout=30)
    samples, errors = [], 0
    measure_from = start_at + load.warmup
    stop_at = measure_from + load.seconds
    clock = time.perf_counter_ns
    if load.interval:  # paced clients start spread over one interval, not all at once
        time.sleep(max(0.0, start_at - time.monotonic()) + rng.random() * load.interval)
    for n in range(MAX_REQUESTS_PER_CLIENT):
        now = time.monotonic()
        if now >= stop_at:
            break
        path = rng.choice(load.paths)
        body = load.bodies[(seed * 7919 + n) % len(load.bodies)] if load.bodies else None
        began = clock()
        try:
            conn.request(load.method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", load.port, timeout=30)
            ok = False
        elapsed = clock() - began
        if now >= measure_from:
            samples.append(elapsed)
            errors += not ok
        if load.interval:  # a paced client: the next request at its time, not at once
            time.sleep(max(0.0, now + load.interval - time.monotonic()))
    conn.close()
    return samples, errors


def client_process(load: Load, clients: int, first_seed: int, start_at: float) -> Any:
    """``clients`` threads in this process; their samples joined.

    The interpreter's switch interval is cut from 5 ms to 0.5 ms here: a client thread
    whose response has arrived may otherwise wait up to 5 ms for another client thread
    to let go of the GIL, and that wait, the load generator's, would count as the
    server's latency."""
    sys.setswitchinterval(0.0005)
    results: list[tuple[list[int], int]] = [([], 0)] * clients

    def one(i: int) -> None:
        results[i] = client_loop(load, first_seed + i, start_at)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for r in results for s in r[0]], sum(r[1] for r in results)


def drive(pool: Any, processes: int, target: str, load: Load, clients: int) -> Run:
    """Run ``clients`` clients spread over the pool's processes; summarize."""
    spread = [clients // processes + (i < clients % processes) for i in range(processes)]
    start_at = time.monotonic() + 0.2  # every process starts its clock together
    jobs = [
        pool.apply_async(client_process, (load, n, 1000 * i, start_at))
        for i, n in enumerate(spread)
        if n
    ]
    samples: list[int] = []
    errors = 0
    for job in jobs:
        got, failed = job.get(timeout=load.warmup + load.seconds + 120)
        samples += got
        errors += failed
    return Run.of(target, clients, samples, errors, load.seconds)


# -- building -----------------------------------------------------------------------------


def script(name: str, version: int) -> bytes:
    """The content of one generated tool version (about 300 bytes)."""
    return benchlib.small_tool("daemon", name, version)


def build(home: Path, sizes: Sizes) -> tuple[str, list[str]]:
    """The vault to read from, and a token for it; returns the token and the names."""
    names = [f"tool{i}" for i in range(sizes.tools)]
    with Vault.open(home) as vault:
        vault.publish_many(
            NewVersion(n, script(n, v)) for n in names for v in range(1, sizes.versions + 1)
        )
        _, secret = vault.create_token("bench")
    return secret, names


def publish_bodies(prefix: str, count: int) -> tuple[bytes, ...]:
    """Distinct one-item publish requests (a new version each) over 100 tools."""
    return tuple(
        json.dumps(
            {"items": [{"name": f"{prefix}{i % 100}", "content": script(prefix, i).decode()}]}
        ).encode()
        for i in range(count)
    )


@dataclass
class Postgres:
    """A fresh schema in the given database, dropped afterwards (as tests/conftest.py)."""

    url: str
    schema: str = field(default_factory=lambda: f"bench_{uuid.uuid4().hex[:12]}")

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options=-csearch_path%3D{self.schema}"

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.schema} CASCADE")


# -- the parts ----------------------------------------------------------------------------


def bench_reads(
    pool: Any, processes: int, tmp: Path, env: dict[str, str], sizes: Sizes, results: Results
) -> None:
    """The floor and the two daemon reads, at each concurrency level."""
    home = tmp / "home"
    benchlib.progress(f"building {sizes.tools:,} tools x {sizes.versions} versions")
    token, names = build(home, sizes)
    daemon = start_daemon(home, env)
    floor = start_floor(tmp, env, script("tool0", sizes.versions))
    try:
        loads = {
            "floor: constant ASGI app": Load(floor.port, "GET", ("/",), None),
            "GET /commands/NAME": Load(
                daemon.port, "GET", tuple(f"/commands/{n}" for n in names), token
            ),
            "GET /v1/tools/NAME/versions": Load(
                daemon.port, "GET", tuple(f"/v1/tools/{n}/versions" for n in names), token
            ),
        }
        for clients in sizes.levels:
            for target, load in loads.items():
                benchlib.progress(f"{target}, {clients} client(s), {sizes.seconds:g} s")
                timed = Load(**{**asdict(load), "warmup": sizes.warmup, "seconds": sizes.seconds})
                results.reads.append(drive(pool, processes, target, timed, clients))
        # The same fetches from 50 clients that together send PACED_RATE requests a second:
        # the latency of a retrieval when the daemon is busy but not saturated. (At
        # saturation, waiting time is clients / throughput by Little's law.)
        latest = loads["GET /commands/NAME"]
        interval = BUDGET_CLIENTS / PACED_RATE
        paced = Load(
            **{
                **asdict(latest),
                "warmup": sizes.warmup,
                "seconds": sizes.seconds,
                "interval": interval,
            }
        )
        benchlib.progress(f"{PACED}, {sizes.seconds:g} s")
        results.reads.append(drive(pool, processes, PACED, paced, BUDGET_CLIENTS))
    finally:
        daemon.stop()
        floor.stop()


def bench_publish(
    pool: Any,
    processes: int,
    home: Path,
    env: dict[str, str],
    sizes: Sizes,
    results: Results,
    store: str,
    db: str | None = None,
) -> None:
    """POST /v1/publish, one version per request, at each publish concurrency level."""
    with Vault.open(home, db=db) as vault:
        _, token = vault.create_token("bench")
    daemon = start_daemon(home, env, db)
    try:
        for clients in sizes.publish_levels:
            benchlib.progress(
                f"POST /v1/publish on {store}, {clients} client(s), {sizes.publish_seconds:g} s"
            )
            bodies = publish_bodies(f"pub{clients}x", 20_000)
            load = Load(
                daemon.port,
                "POST",
                ("/v1/publish",),
                token,
                bodies,
                sizes.warmup,
                sizes.publish_seconds,
            )
            run = drive(pool, processes, f"POST /v1/publish ({store})", load, clients)
            results.publish.append(run)
    finally:
        daemon.stop()


def run(sizes: Sizes, pg: str | None) -> Results:
    """Every part, in one temporary folder."""
    processes = max(1, min(4, os.cpu_count() or 1))
    results = Results(sizes, processes)
    ctx = multiprocessing.get_context("fork")
    with benchlib.whole_run(results) as tmp, ctx.Pool(processes) as pool:
        env = benchlib.child_env(tmp)
        bench_reads(pool, processes, tmp, env, sizes, results)
        bench_publish(pool, processes, tmp / "pub-sqlite", env, sizes, results, "SQLite")
        if pg:
            try:
                with Postgres(pg) as url:
                    bench_publish(
                        pool, processes, tmp / "pub-pg", env, sizes, results, "PostgreSQL", url
                    )
            except Exception as exc:  # a missing server is a note, not a crash
                results.notes.append(f"PostgreSQL not measured: {type(exc).__name__}: {exc}")
        else:
            results.notes.append("PostgreSQL not measured: set TOOLVAULT_TEST_PG or give --pg URL")
    return results


# -- reporting ----------------------------------------------------------------------------


def find(runs: list[Run], target: str, clients: int) -> Run | None:
    """The run of a target at a concurrency level."""
    return next((r for r in runs if r.target == target and r.clients == clients), None)


def budgets(r: Results) -> list[benchlib.Budget]:
    """Every budget that could be checked in this run."""
    found = []
    floor = find(r.reads, "floor: constant ASGI app", BUDGET_CLIENTS)
    for target, key in (
        ("GET /commands/NAME", "commands"),
        ("GET /v1/tools/NAME/versions", "versions"),
    ):
        mine = find(r.reads, target, BUDGET_CLIENTS)
        if floor and mine and mine.rps:
            name = f"floor req/s / {target} req/s"
            found.append(
                benchlib.Budget(
                    f"{key}_vs_floor", name, floor.rps / mine.rps, THROUGHPUT_VS_FLOOR_MAX, "x"
                )
            )
    paced = find(r.reads, PACED, BUDGET_CLIENTS)
    if paced:
        name = f"p99 of {PACED}"
        found.append(benchlib.Budget("latest_p99", name, paced.p99_ms, LATEST_P99_MS, "ms"))
    return found


def run_row(run: Run) -> list[str]:
    """One measured row."""
    return [
        run.target,
        str(run.clients),
        f"{run.requests:,}",
        str(run.errors),
        f"{run.rps:,.0f}",
        f"{run.p50_ms:,.2f} ms",
        f"{run.p99_ms:,.2f} ms",
        "",
        "",
    ]


def budget_row(b: benchlib.Budget) -> list[str]:
    """A budget row: its figure under the column it compares."""
    figure = f"{b.figure:.2f}x" if b.unit == "x" else f"{b.figure:,.2f} ms"
    cells = [f"  {b.name}", "", "", "", "", "", "", b.describe(), b.verdict]
    cells[4 if b.unit == "x" else 6] = figure
    return cells


def rows(r: Results) -> Iterator[list[str]]:
    """Reads by concurrency level, then budgets, then publishes."""
    for run in r.reads:
        yield run_row(run)
    for b in budgets(r):
        yield budget_row(b)
    for run in r.publish:
        yield run_row(run)


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    s = r.sizes
    head = (
        f"toolvault daemon on 127.0.0.1: {s.tools:,} tools x {s.versions} versions (SQLite); "
        f"{s.seconds:g} s per read run after {s.warmup:g} s warm-up\n"
        f"clients: threads with keep-alive http.client connections over {r.client_processes} "
        f"process(es); whole run {r.total_s:.1f} s; {benchlib.load_text(r)} "
        f"(clients and servers share them); both servers on {r.server}"
    )
    header = [
        "measure",
        "clients",
        "requests",
        "errors",
        "req/s",
        "p50",
        "p99",
        "budget",
        "verdict",
    ]
    return benchlib.page(head, [benchlib.table([header, *rows(r)], left=(0, 7, 8))], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document."""
    return {
        "sizes": asdict(r.sizes),
        "client_processes": r.client_processes,
        "server": r.server,
        **benchlib.run_json(r),
        "reads": [asdict(x) for x in r.reads],
        "publish": [asdict(x) for x in r.publish],
        "budgets": [b.as_json() for b in budgets(r)],
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    parser = benchlib.arguments(__doc__, "200 tools, 2 s runs: a smoke run")
    parser.add_argument(
        "--pg", metavar="URL", help="PostgreSQL for the publish run (default $TOOLVAULT_TEST_PG)"
    )
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.pg or os.environ.get("TOOLVAULT_TEST_PG"))
    return benchlib.finish(results, render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
