"""Web UI benchmark (issue 16): its pages against the JSON endpoints that serve the same
data, on one ``toolvault serve`` over a vault of 10,000 tools.

In a temporary folder, builds a vault of TOOLS small tools (descriptions with words to
search for; an audit log of as many entries) and one tool ``big`` with two versions of a
100 KB Python script (a line in 40 changed), starts the daemon on 127.0.0.1 and, over one
keep-alive connection, times each request from sending it to reading the whole answer
(the loopback's own cost, some tens of microseconds, is in both figures of a ratio alike):

- the tools page, 50 a page, with a search (``/ui/?q=WORD``, rotating words and pages)
  against ``GET /v1/search?q=WORD&limit=50``; the tools page without a search (a page
  of the 10,000, by name) against ``GET /v1/tools?limit=50&offset=…`` (the same call);
- the version page of ``big:2``, highlighted (highlighting is kept per sha256: the first
  view pays it, every later one reads it), against ``GET /v1/versions/big:2`` and
  ``GET /v1/content/big:2`` together;
- the diff page of ``big:1`` and ``big:2`` against ``GET /v1/diff?old=big:1&new=big:2``;
- the audit page (a page of 100 entries, the chain's state, the last verify report)
  against ``GET /v1/audit?limit=100&newest_first=true``.

A machine shared with other work is noisy, so the series are interleaved: each round
requests every page and endpoint once, in a shuffled order, so that a slow moment falls
on all of them alike rather than on one series; there are ROUNDS rounds. Beside the wall
time of each request the daemon's CPU time is read (its utime + stime from /proc, before
and after each request): ticks of 10 ms, so only their mean over the rounds is reported,
the part of the wall time that was the daemon's own work. The load average either side
of the run is printed.

Budgets: tools page p99 under 30 ms, version page p99 under 50 ms, diff page p99 under
100 ms. Machines are noisy, so timing never fails the run: it prints PASS or OVER and
exits 0. With ``--json`` the last line of stdout is the figures as one JSON document.

    .venv/bin/python bench/web.py [--quick] [--json]
"""

from __future__ import annotations

import http.client
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from toolvault import Vault
from toolvault.cli.served import ServerProcess
from toolvault.service.publishing import NewVersion

WORDS = ["csv", "json", "yaml", "backup", "docker", "invoice", "metric", "archive", "render",
         "upload", "socket", "calendar", "timezone", "cache", "report", "rotate"]  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """How big a run is."""

    tools: int
    rounds: int


FULL = Sizes(tools=10_000, rounds=600)
QUICK = Sizes(tools=2_000, rounds=80)


@dataclass
class Results:
    """Every measured series, by name, and the run's wall time and load."""

    sizes: Sizes
    stats: dict[str, benchlib.Stats] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # the daemon's mean CPU a request
    first_view_ms: float = 0.0
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def big_script(change: int) -> str:
    """A Python script of about 100 KB; ``change`` alters one line in 40."""
    lines = ['#!/usr/bin/env python3\n"""A big generated tool for the web benchmark."""\n']
    n = 0
    while sum(map(len, lines)) < 100_000:
        edited = " + 1" if change and n % 40 == 7 else ""
        lines.append(
            f"def step_{n}(rows, width={n % 17}):\n    return [r[:width]{edited} for r in rows]\n\n"
        )
        n += 1
    return "".join(lines)


def build(home: Path, tools: int) -> str:
    """The vault; returns a token's secret."""
    rng = random.Random(16)
    with Vault.open(home) as vault:
        items = [
            NewVersion(f"tool-{i:05d}", benchlib.small_tool("web", f"tool-{i:05d}", 1),
                       description=f"{' '.join(rng.sample(WORDS, 3))} for tool {i}")
            for i in range(tools)
        ]  # fmt: skip
        for start in range(0, len(items), 1000):
            vault.publish_many(items[start : start + 1000])
        vault.publish("big", big_script(0), message="one")
        vault.publish("big", big_script(1), message="two")
        return vault.create_token("bench")[1]


class Client:
    """One keep-alive connection that times each GET to the end of its body, and reads
    the daemon's CPU time either side."""

    def __init__(self, port: int, token: str, pid: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Cookie": f"toolvault_session={token}"}
        self.stat = Path(f"/proc/{pid}/stat")

    def cpu_ticks(self) -> int:
        """The daemon's utime + stime, in clock ticks (0 where /proc is missing)."""
        try:
            fields = self.stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(fields[11]) + int(fields[12])

    def get(self, path: str) -> tuple[int, int]:
        """Nanoseconds of one GET and the daemon's CPU ticks meanwhile; a status other
        than 200 raises."""
        before = self.cpu_ticks()
        start = time.perf_counter_ns()
        self.conn.request("GET", path, headers=self.headers)
        answer = self.conn.getresponse()
        answer.read()
        elapsed = time.perf_counter_ns() - start
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status}")
        return elapsed, self.cpu_ticks() - before


def series(tools: int) -> dict[str, list[list[str]]]:
    """Each measured series: the paths of its samples, taken in turn (a sample may be
    several GETs, timed together)."""
    searches = [(w, p) for w in WORDS for p in (1, 2)]
    pages = range(1, min(40, tools // 50))
    return {
        "tools page, a search": [[f"/ui/?q={w}&page={p}"] for w, p in searches],
        "GET /v1/search, limit 50": [[f"/v1/search?q={w}&limit=50"] for w, _ in searches],
        "tools page, no search": [[f"/ui/?page={p}"] for p in pages],
        "GET /v1/tools, limit 50": [[f"/v1/tools?limit=50&offset={(p - 1) * 50}"] for p in pages],
        "version page, 100 KB": [["/ui/tools/big/2"]],
        "GET /v1/versions + /v1/content": [["/v1/versions/big:2", "/v1/content/big:2"]],
        "diff page, 2 x 100 KB": [["/ui/diff?old=big:1&new=big:2"]],
        "GET /v1/diff": [["/v1/diff?old=big:1&new=big:2"]],
        "audit page": [[f"/ui/audit?page={p}"] for p in (1, 2, 3)],
        "GET /v1/audit, limit 100": [
            [f"/v1/audit?limit=100&offset={o}&newest_first=true"] for o in (0, 100, 200)
        ],
    }


def run(sizes: Sizes) -> Results:
    """Build, serve, measure."""
    results = Results(sizes)
    with benchlib.whole_run(results) as tmp:
        benchlib.progress(f"building a vault of {sizes.tools:,} tools and big:1..2 (100 KB)")
        token = build(tmp / "home", sizes.tools)
        benchlib.settle()
        env = benchlib.child_env(tmp)
        argv = [sys.executable, "-m", "toolvault", "--home", str(tmp / "home"), "serve",
                "--port", "0"]  # fmt: skip
        daemon = ServerProcess(argv, env)
        try:
            measure(Client(daemon.port, token, daemon.proc.pid), results)
        finally:
            daemon.stop()
    return results


def measure(client: Client, r: Results) -> None:
    """Warm every series up, then ROUNDS interleaved rounds, each in a shuffled order."""
    paths = series(r.sizes.tools)
    r.first_view_ms = client.get("/ui/tools/big/1")[0] / 1e6  # highlighting big:1 the first time
    for groups in paths.values():  # warm up: connections, caches, the first highlighting
        for group in groups[:3]:
            for path in group:
                client.get(path)
    benchlib.progress(f"{r.sizes.rounds} rounds of {len(paths)} series, interleaved")
    wall: dict[str, list[int]] = {name: [] for name in paths}
    ticks = dict.fromkeys(paths, 0)
    order, rng = list(paths), random.Random(16)
    for i in range(r.sizes.rounds):
        rng.shuffle(order)
        for name in order:
            groups = paths[name]
            timed = [client.get(p) for p in groups[i % len(groups)]]
            wall[name].append(sum(t for t, _ in timed))
            ticks[name] += sum(c for _, c in timed)
    per_tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    for name in paths:
        r.stats[name] = benchlib.Stats.of(wall[name])
        r.cpu_ms[name] = ticks[name] * per_tick_ms / r.sizes.rounds


PAIRS = [  # page, JSON endpoint, the page's p99 budget in ms
    ("tools page, a search", "GET /v1/search, limit 50", 30.0),
    ("version page, 100 KB", "GET /v1/versions + /v1/content", 50.0),
    ("diff page, 2 x 100 KB", "GET /v1/diff", 100.0),
]
MORE = [  # measured for information: page, JSON endpoint
    ("tools page, no search", "GET /v1/tools, limit 50"),
    ("audit page", "GET /v1/audit, limit 100"),
]


def budgets(r: Results) -> list[benchlib.Budget]:
    """The issue's budgets: each page's p99."""
    return [
        benchlib.Budget(page.split(",")[0].replace(" ", "_"), page, basis="p99",
                        figure=r.stats[page].p99_us / 1000, limit=limit, unit="ms")
        for page, _, limit in PAIRS
    ]  # fmt: skip


def render(r: Results) -> str:
    """The table: each page, its JSON endpoint and their ratio; the budgets; the daemon's
    mean CPU time of each."""
    rows = []
    for (page, endpoint, _), budget in zip(PAIRS, budgets(r), strict=True):
        rows.append(benchlib.stat_row(page, r.stats[page], "ms"))
        rows[-1][-2:] = [budget.describe(), budget.verdict]
        rows.append(benchlib.stat_row(endpoint, r.stats[endpoint], "ms"))
        rows.append(benchlib.ratio_row("page / JSON", r.stats[page], r.stats[endpoint], None))
    for page, endpoint in MORE:
        rows.append(benchlib.stat_row(page, r.stats[page], "ms"))
        rows.append(benchlib.stat_row(endpoint, r.stats[endpoint], "ms"))
        rows.append(benchlib.ratio_row("page / JSON", r.stats[page], r.stats[endpoint], None))
    cpu = [["daemon CPU a request (mean)", "page", "JSON", "page / JSON"]]
    for page, endpoint in [(p, e) for p, e, _ in PAIRS] + MORE:
        mine, base = r.cpu_ms[page], r.cpu_ms[endpoint]
        ratio = f"{mine / base:.2f}x" if base else "-"
        cpu.append([page, f"{mine:.2f} ms", f"{base:.2f} ms", ratio])
    head = (
        f"web UI: {r.sizes.tools:,} tools, one keep-alive connection, {r.sizes.rounds} "
        f"interleaved rounds, {benchlib.load_text(r)}, {r.total_s:.0f} s in all"
    )
    notes = [f"the first view of a 100 KB version (highlighting it) took {r.first_view_ms:.1f} ms"]
    return benchlib.page(head, [benchlib.stats_table(rows), "", benchlib.table(cpu, {0})], notes)


def as_json(r: Results) -> dict[str, Any]:
    """The figures as one JSON document."""
    pairs = [(p, e) for p, e, _ in PAIRS] + MORE
    return {
        "tools": r.sizes.tools,
        "rounds": r.sizes.rounds,
        "stats": {k: asdict(v) for k, v in r.stats.items()},
        "cpu_ms": {k: round(v, 3) for k, v in r.cpu_ms.items()},
        "ratios": {page: round(r.stats[page].median_us / r.stats[ep].median_us, 2)
                   for page, ep in pairs},
        "first_view_ms": round(r.first_view_ms, 1),
        "budgets": [b.as_json() for b in budgets(r)],
        **benchlib.run_json(r),
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    args = benchlib.arguments(__doc__, "2,000 tools, 80 rounds").parse_args(argv)
    return benchlib.finish(run(QUICK if args.quick else FULL), render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
