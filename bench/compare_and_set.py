"""Compare-and-set benchmark: a publish that expects its base against one that does not.

``expect_latest`` is checked inside the write transaction, against the chain the
publish reads there anyway; for a number, a hash or a pinned ref (what an agent sends)
it costs no query of its own. This measures that, in one run, in one vault (SQLite in a
temporary folder, ``commands/`` kept as by default; or the PostgreSQL at ``--db URL``):

- ``expect``: ``Vault.publish(name, content, expect_latest=REF)``, REF the pinned ref
  that tool's previous publish returned (as ``add --expect-latest`` sends it);
- ``plain``: ``Vault.publish(name, content)`` into a twin set of tools;

one call at a time, the two interleaved (which goes first alternating per round) so that
the database's growth, drift and disk flushes hit both alike; then the ratio of the
medians against its budget (1.1x, issue 14). For information: a publish whose
expectation is stale (refused with stale_base, nothing written).

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/compare_and_set.py [--quick] [--json] [--db URL]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import benchlib
from benchlib import Budget, Stats
from toolvault import Vault
from toolvault.errors import StaleBase

EXPECT_VS_PLAIN = 1.1
WARMUP = 10
TOOLS = 50


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many publishes of each kind, and how many refused ones."""

    publishes: int = 1_000
    refused: int = 300


FULL = Sizes()
QUICK = Sizes(publishes=150, refused=50)


@dataclass(slots=True)
class Results:
    """Everything measured in one run."""

    sizes: Sizes
    store: str = "sqlite"
    publish: dict[str, Stats] = field(default_factory=dict)
    refused: Stats | None = None
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)


def bench_publish(vault: Vault, count: int) -> dict[str, Stats]:
    """Interleaved publishes of a new version of one of 50 tools of each kind."""
    samples: dict[str, list[int]] = {"expect": [], "plain": []}
    bases: dict[str, str] = {}
    for i in range(count + WARMUP):
        order = ("expect", "plain") if i % 2 else ("plain", "expect")
        for kind in order:
            name = f"{kind}{i % TOOLS}"
            content = benchlib.small_tool("compare-and-set", name, i)
            if kind == "expect" and name in bases:
                elapsed, done = benchlib.timed(
                    vault.publish, name, content, expect_latest=bases[name]
                )
            else:
                elapsed, done = benchlib.timed(vault.publish, name, content)
            bases[name] = f"{name}:{done.version}@sha256:{done.sha256}"
            if i >= WARMUP:
                samples[kind].append(elapsed)
    return {kind: Stats.of(values) for kind, values in samples.items()}


def bench_refused(vault: Vault, count: int) -> Stats:
    """Publishes on a stale base (version 1 of a tool at a later version): refused."""
    stale = vault.get("expect0:1").ref
    contents = [benchlib.small_tool("compare-and-set", "expect0", -i) for i in range(count)]
    return Stats.of([benchlib.timed(refuse, vault, c, stale)[0] for c in contents])


def refuse(vault: Vault, content: bytes, stale: str) -> None:
    """One publish that must be refused with stale_base."""
    try:
        vault.publish("expect0", content, expect_latest=stale)
    except StaleBase:
        return
    raise AssertionError("a stale base was published on")


def run(sizes: Sizes, db: str | None) -> Results:
    """Open the vault and measure."""
    results = Results(sizes, "postgresql" if db else "sqlite")
    with benchlib.whole_run(results) as tmp, Vault.open(tmp / "home", db=db) as vault:
        benchlib.settle()
        benchlib.progress(f"Vault.publish x {sizes.publishes} each, interleaved")
        results.publish = bench_publish(vault, sizes.publishes)
        benchlib.progress(f"stale publishes x {sizes.refused}")
        results.refused = bench_refused(vault, sizes.refused)
        if not vault.verify().ok:
            results.notes.append("the vault did not verify: the figures are suspect")
    return results


def budgets(r: Results) -> list[Budget]:
    """A publish with expect_latest within 1.1x of one without (medians, same run)."""
    ratio = r.publish["expect"].median_us / r.publish["plain"].median_us
    return [
        Budget(
            "publish_expect_latest_vs_plain",
            "publish with expect_latest / without",
            basis="median",
            figure=ratio,
            limit=EXPECT_VS_PLAIN,
            unit="x",
        )
    ]


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    (budget,) = budgets(r)
    head = (
        f"toolvault compare-and-set: {r.sizes.publishes:,} publishes of each kind into one "
        f"{r.store} vault, interleaved\nwhole run {r.total_s:.1f} s; {benchlib.load_text(r)}"
    )
    rows = [
        benchlib.stat_row("Vault.publish, expect_latest=pinned ref", r.publish["expect"], "ms"),
        benchlib.stat_row("Vault.publish, no expectation", r.publish["plain"], "ms"),
        benchlib.ratio_row("expect / plain", r.publish["expect"], r.publish["plain"], budget),
    ]
    if r.refused is not None:
        rows.append(benchlib.stat_row("  refused: stale_base (information)", r.refused, "ms"))
    return benchlib.page(head, [benchlib.stats_table(rows)], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    return {
        "sizes": asdict(r.sizes),
        "store": r.store,
        **benchlib.run_json(r),
        "publish": {k: asdict(v) for k, v in r.publish.items()},
        "refused": None if r.refused is None else asdict(r.refused),
        "budgets": [b.as_json() for b in budgets(r)],
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    parser = benchlib.arguments(__doc__, "150 publishes of each: a smoke run")
    parser.add_argument("--db", help="a PostgreSQL URL to measure on (default: SQLite)")
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.db)
    return benchlib.finish(results, render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
