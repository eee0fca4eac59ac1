"""Web UI benchmark (issue 16): its pages against the JSON endpoints that serve the same
data, on one ``toolvault serve`` over a vault of 10,000 tools.

In a temporary folder, builds a vault of TOOLS small tools (descriptions with words to
search for) and one tool ``big`` with two versions of a 100 KB Python script (a line in
40 changed), starts the daemon on 127.0.0.1 and, over one keep-alive connection, times
each request from sending it to reading the whole answer (the loopback's own cost, some
tens of microseconds, is in both figures of a ratio alike):

- the tools page, 50 a page, with a search (``/ui/?q=WORD``, rotating words and pages)
  against ``GET /v1/search?q=WORD&limit=50``; the tools page without a search (a page
  of the 10,000, by name) for information;
- the version page of ``big:2``, highlighted (highlighting is kept per sha256: the first
  view pays it, every later one reads it), against ``GET /v1/versions/big:2`` and
  ``GET /v1/content/big:2`` together;
- the diff page of ``big:1`` and ``big:2`` against ``GET /v1/diff?old=big:1&new=big:2``.

Budgets: tools page p99 under 30 ms, version page p99 under 50 ms, diff page p99 under
100 ms. Machines are noisy, so timing never fails the run: it prints PASS or OVER and
exits 0. With ``--json`` the last line of stdout is the figures as one JSON document.

    .venv/bin/python bench/web.py [--quick] [--json]
"""

from __future__ import annotations

import http.client
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
    requests: int


FULL = Sizes(tools=10_000, requests=300)
QUICK = Sizes(tools=2_000, requests=60)


@dataclass
class Results:
    """Every measured series, by name, and the run's wall time and load."""

    sizes: Sizes
    stats: dict[str, benchlib.Stats] = field(default_factory=dict)
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
    """One keep-alive connection that times each GET to the end of its body."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Cookie": f"toolvault_session={token}"}

    def get(self, path: str) -> int:
        """Nanoseconds of one GET; a status other than 200 raises."""
        start = time.perf_counter_ns()
        self.conn.request("GET", path, headers=self.headers)
        answer = answer_body = self.conn.getresponse()
        answer_body.read()
        elapsed = time.perf_counter_ns() - start
        if answer.status != 200:
            raise RuntimeError(f"GET {path}: {answer.status}")
        return elapsed

    def series(self, paths: Sequence[Sequence[str]], n: int) -> benchlib.Stats:
        """Stats of ``n`` samples, each the GETs of one item of ``paths`` (in turn)."""
        for group in paths[:3]:  # warm up: connections, caches, the first highlighting
            for path in group:
                self.get(path)
        return benchlib.Stats.of(
            [sum(self.get(p) for p in paths[i % len(paths)]) for i in range(n)]
        )


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
            measure(Client(daemon.port, token), results)
        finally:
            daemon.stop()
    return results


def measure(client: Client, r: Results) -> None:
    n = r.sizes.requests
    searches = [(w, p) for w in WORDS for p in (1, 2)]
    benchlib.progress(f"{n} requests of each page and endpoint")
    r.stats["tools page, a search"] = client.series(
        [[f"/ui/?q={w}&page={p}"] for w, p in searches], n
    )
    r.stats["GET /v1/search, limit 50"] = client.series(
        [[f"/v1/search?q={w}&limit=50"] for w, _ in searches], n
    )
    r.stats["tools page, no search"] = client.series([[f"/ui/?page={p}"] for p in range(1, 40)], n)
    r.first_view_ms = client.get("/ui/tools/big/1") / 1e6  # highlighting big:1 for the first time
    r.stats["version page, 100 KB"] = client.series([["/ui/tools/big/2"]], n)
    r.stats["GET /v1/versions + /v1/content"] = client.series(
        [["/v1/versions/big:2", "/v1/content/big:2"]], n
    )
    r.stats["diff page, 2 x 100 KB"] = client.series([["/ui/diff?old=big:1&new=big:2"]], n)
    r.stats["GET /v1/diff"] = client.series([["/v1/diff?old=big:1&new=big:2"]], n)


PAIRS = [  # page, JSON endpoint, the page's p99 budget in ms
    ("tools page, a search", "GET /v1/search, limit 50", 30.0),
    ("version page, 100 KB", "GET /v1/versions + /v1/content", 50.0),
    ("diff page, 2 x 100 KB", "GET /v1/diff", 100.0),
]


def budgets(r: Results) -> list[benchlib.Budget]:
    """The issue's budgets: each page's p99."""
    return [
        benchlib.Budget(page.split(",")[0].replace(" ", "_"), page, basis="p99",
                        figure=r.stats[page].p99_us / 1000, limit=limit, unit="ms")
        for page, _, limit in PAIRS
    ]  # fmt: skip


def render(r: Results) -> str:
    """The table: each page, its JSON endpoint and their ratio; the budgets."""
    rows = []
    for (page, endpoint, _), budget in zip(PAIRS, budgets(r), strict=True):
        rows.append(benchlib.stat_row(page, r.stats[page], "ms"))
        rows[-1][-2:] = [budget.describe(), budget.verdict]
        rows.append(benchlib.stat_row(endpoint, r.stats[endpoint], "ms"))
        rows.append(benchlib.ratio_row("page / JSON", r.stats[page], r.stats[endpoint], None))
    rows.append(benchlib.stat_row("tools page, no search", r.stats["tools page, no search"], "ms"))
    head = (
        f"web UI: {r.sizes.tools:,} tools, one keep-alive connection, {benchlib.load_text(r)}, "
        f"{r.total_s:.0f} s in all"
    )
    notes = [f"the first view of a 100 KB version (highlighting it) took {r.first_view_ms:.1f} ms"]
    return benchlib.page(head, [benchlib.stats_table(rows)], notes)


def as_json(r: Results) -> dict[str, Any]:
    """The figures as one JSON document."""
    return {
        "tools": r.sizes.tools,
        "stats": {k: asdict(v) for k, v in r.stats.items()},
        "ratios": {page: round(r.stats[page].median_us / r.stats[ep].median_us, 2)
                   for page, ep, _ in PAIRS},
        "first_view_ms": round(r.first_view_ms, 1),
        "budgets": [b.as_json() for b in budgets(r)],
        **benchlib.run_json(r),
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    args = benchlib.arguments(__doc__, "2,000 tools, 60 requests of each").parse_args(argv)
    return benchlib.finish(run(QUICK if args.quick else FULL), render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
