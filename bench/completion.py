"""Completion benchmark: a shell's TAB against the Python + sqlite floor of ``toolvault cat``.

Builds, in a temporary folder, a vault of TOOLS tools x 3 versions (every tenth with a
label), then times the real console script as bash's completion runs it
(``_TOOLVAULT_COMPLETE=bash_complete``, ``COMP_LINE``), interleaved with the floor of
``bench/read_path.py`` (the same interpreter, ``sqlite3``, one select, one write):

- ``cat <TAB>``: every tool name (the largest answer);
- ``cat toolNN<TAB>``: the names under a prefix;
- ``cat toolN:<TAB>``: one tool's keywords, labels and version numbers;
- for information, ``cat --<TAB>``: an option, which click answers with the command
  modules loaded (no budget: that path is the start-up of every command).

Budget: each tool-name TAB under 50 ms (median); its ratio to the floor is printed.
Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/completion.py [--quick] [--json]
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from benchlib import Budget, Stats
from read_path import FLOOR
from toolvault import NewVersion, Vault

TAB_MAX_MS = 50.0
VERSIONS = 3
LABEL_EVERY = 10
BATCH = 1_000
WARMUP_RUNS = 2


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the vault is and how many times each TAB is timed."""

    tools: int = 10_000
    runs: int = 40


FULL = Sizes()
QUICK = Sizes(tools=1_000, runs=12)


@dataclass(frozen=True, slots=True)
class Case:
    """One TAB: its key, its label, the line before the cursor, the answer's size."""

    key: str
    label: str
    line: str
    lines: int
    budget: bool = True


def cases(sizes: Sizes) -> list[Case]:
    """The TABs measured (the expected answer sizes check that each really ran)."""
    prefix = f"tool{sizes.tools // 10 - 1}"  # tool999 over 10,000: itself and tool9990..9999
    under = sum(1 for i in range(sizes.tools) if str(i).startswith(prefix[4:]))
    labels_and_numbers = len(("latest", "previous", "versions")) + 1 + VERSIONS
    return [
        Case("all_names", "cat <TAB>: every name", "toolvault cat ", sizes.tools),
        Case("prefix", f"cat {prefix}<TAB>", f"toolvault cat {prefix}", under),
        Case("selectors", "cat tool10:<TAB>", "toolvault cat tool10:", labels_and_numbers),
        Case("option", "cat --<TAB> (click, information)", "toolvault cat --", 2, False),
    ]


@dataclass(slots=True)
class Results:
    """Everything one run measured."""

    sizes: Sizes
    build_s: float = 0.0
    tabs: dict[str, Stats] = field(default_factory=dict)
    floor: Stats | None = None
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def build(home: Path, sizes: Sizes) -> None:
    """TOOLS tools x VERSIONS versions, every LABEL_EVERY-th labelled ``stable``."""
    with Vault.open(home) as vault:
        for first in range(0, sizes.tools, BATCH):
            names = [f"tool{i}" for i in range(first, min(first + BATCH, sizes.tools))]
            vault.publish_many(
                NewVersion(n, benchlib.small_tool("completion", n, v))
                for n in names
                for v in range(1, VERSIONS + 1)
            )
        for i in range(0, sizes.tools, LABEL_EVERY):
            vault.label(f"tool{i}:2", "stable")


def measure(exe: str, home: Path, tmp: Path, sizes: Sizes) -> tuple[dict[str, Stats], Stats]:
    """Each TAB and the floor, interleaved round by round so drift hits all alike."""
    (tmp / "floor.py").write_text(FLOOR)
    floor_argv = [sys.executable, str(tmp / "floor.py"), str(home / "vault.db"), "tool10"]
    base = benchlib.child_env(tmp, TOOLVAULT_HOME=str(home), _TOOLVAULT_COMPLETE="bash_complete")
    samples: dict[str, list[int]] = {c.key: [] for c in cases(sizes)}
    floor: list[int] = []
    for run in range(sizes.runs + WARMUP_RUNS):
        floor_ns, _ = benchlib.run_timed(floor_argv, base, "floor.py")
        for case in cases(sizes):
            ns, out = benchlib.run_timed([exe], {**base, "COMP_LINE": case.line}, case.label)
            if len(out.splitlines()) != case.lines:
                raise RuntimeError(f"{case.label}: {len(out.splitlines())} lines, not {case.lines}")
            if run >= WARMUP_RUNS:  # the first runs fill the OS and bytecode caches
                samples[case.key].append(ns)
        if run >= WARMUP_RUNS:
            floor.append(floor_ns)
    return {k: Stats.of(v) for k, v in samples.items()}, Stats.of(floor)


def run(sizes: Sizes) -> Results:
    """Build the vault and time every TAB."""
    results = Results(sizes)
    exe = shutil.which("toolvault", path=str(Path(sys.executable).parent)) or "toolvault"
    with benchlib.whole_run(results, prefix="toolvault-bench-completion-") as tmp:
        benchlib.progress(f"building {sizes.tools:,} tools x {VERSIONS} versions")
        results.build_s = benchlib.timed(build, tmp / "home", sizes)[0] / 1e9
        benchlib.settle()
        benchlib.progress(f"{len(cases(sizes))} TABs and the floor, x {sizes.runs} each")
        try:
            results.tabs, results.floor = measure(exe, tmp / "home", tmp, sizes)
        except RuntimeError as exc:
            results.notes.append(f"not measured: {exc}")
    return results


def budgets(r: Results) -> list[Budget]:
    """One budget per tool-name TAB: its median under TAB_MAX_MS."""
    return [
        Budget(c.key, c.label, r.tabs[c.key].median_us / 1_000, TAB_MAX_MS, "ms", basis="median")
        for c in cases(r.sizes)
        if c.budget and c.key in r.tabs
    ]


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    head = (
        f"toolvault shell completion: {r.sizes.tools:,} tools x {VERSIONS} versions "
        f"(build {r.build_s:.1f} s); whole run {r.total_s:.1f} s; {benchlib.load_text(r)}"
    )
    if r.floor is None:
        return benchlib.page(head, [], r.notes)
    by_key = {b.key: b for b in budgets(r)}
    rows = [benchlib.stat_row("floor.py: sqlite3 select + write", r.floor, "ms")]
    for case in cases(r.sizes):
        row = benchlib.stat_row(f"TAB {case.label}", r.tabs[case.key], "ms")
        budget = by_key.get(case.key)
        if budget:
            row[-2:] = [budget.describe(), budget.verdict]
        rows += [row, benchlib.ratio_row("/ floor", r.tabs[case.key], r.floor, None)]
    return benchlib.page(head, [benchlib.stats_table(rows)], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    floor = r.floor.median_us if r.floor else None
    return {
        "sizes": asdict(r.sizes),
        "build_seconds": round(r.build_s, 3),
        **benchlib.run_json(r),
        "floor": asdict(r.floor) if r.floor else None,
        "tabs": {
            k: {**asdict(v), "vs_floor_median": round(v.median_us / floor, 3) if floor else None}
            for k, v in r.tabs.items()
        },
        "budgets": [b.as_json() for b in budgets(r)],
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    args = benchlib.arguments(__doc__, "1,000 tools: a smoke run").parse_args(argv)
    return benchlib.finish(run(QUICK if args.quick else FULL), render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
