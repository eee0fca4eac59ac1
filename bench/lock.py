"""Lockfile benchmark (issue 18): ``install`` against ``cp``, ``verify --lock --into``
against ``sha256sum``.

Builds, in a temporary folder, a vault of TOOLS small generated shell tools, locks every
one of them (``toolvault.lock``), and installs them once into a reference folder. Then,
round after round, interleaved so that a noisy machine slows each side alike:

- ``toolvault install --lock L --into NEW`` (the command, a process of its own) into an
  empty folder, next to ``cp -r`` of the reference folder into an empty folder: the same
  files, the same bytes (budget: the median within 3x of cp's);
- ``toolvault verify --lock L --into REF`` next to ``sha256sum`` over the reference
  folder's files (budget: the median within 2x of sha256sum's);
- each pair runs back to back, in turns first and second, round after round;
- the same two calls in this process (:func:`toolvault.lockfile.install.install` and
  :func:`toolvault.lockfile.verify.verify_lock`), as information: the commands less
  the interpreter's start and imports;
- ``toolvault --version``, as information: the start-up every command pays before it
  does anything (the interpreter, the console script's own imports — pip's imports
  ``re`` — and the fast path's dispatch), next to sha256sum's whole run.

Each command is timed twice over: wall time, and CPU time (user + system of the child,
from ``os.wait4``'s resource usage). On a machine shared with other work the wall time
of a few milliseconds swings with whatever else runs (file creation alone varied
tenfold under a load of 6-8 on 2 CPUs); CPU time counts only what the command itself
did, so its ratio is the steadier one. Both ratios are printed, each as the ratio of
the medians and as the median of the rounds' own ratios (each round's pair ran side by
side, so a slow moment slows both).

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/lock.py [--quick] [--json]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from toolvault import NewVersion, Vault
from toolvault.lockfile.format import load
from toolvault.lockfile.install import install
from toolvault.lockfile.making import make_lock
from toolvault.lockfile.sources import VaultSource
from toolvault.lockfile.verify import verify_lock

INSTALL_VS_CP_MAX = 3.0
VERIFY_VS_SHA256SUM_MAX = 2.0
FULL = (1_000, 25)  # tools, rounds
QUICK = (200, 7)
BATCH = 500
TOOLVAULT = str(Path(sys.executable).with_name("toolvault"))
BUDGETS = [  # key, name, measure, floor, limit
    ("install_vs_cp", "install", "install", "cp", INSTALL_VS_CP_MAX),
    ("verify_vs_sha256sum", "verify --lock --into", "verify", "sha256sum", VERIFY_VS_SHA256SUM_MAX),
]


@dataclass
class Results:
    """Every figure of one run."""

    tools: int = 0
    rounds: int = 0
    bytes: int = 0
    samples: dict[str, list[int]] = field(default_factory=dict)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)

    def stats(self, key: str) -> benchlib.Stats:
        """Median, best and p99 of one measure."""
        return benchlib.Stats.of(self.samples[key])

    def paired(self, mine: str, base: str) -> float:
        """The median of the rounds' own ratios ``mine / base`` (each round ran the two
        side by side)."""
        pairs = zip(self.samples[mine], self.samples[base], strict=True)
        return statistics.median(m / max(b, 1) for m, b in pairs)

    def budgets(self) -> list[benchlib.Budget]:
        """The issue's two budgets, on the medians of the commands: wall time, and CPU
        time (the steadier on a busy machine)."""
        found = []
        for key, name, mine, base, limit in BUDGETS:
            for clock in ("", " cpu"):
                ratio = self.stats(mine + clock).median_us / self.stats(base + clock).median_us
                found.append(
                    benchlib.Budget(
                        key + clock.replace(" ", "_"),
                        name + (" (CPU time)" if clock else " (wall time)"),
                        basis="median",
                        figure=ratio,
                        limit=limit,
                        unit="x",
                    )
                )
        return found


def build(folder: Path, tools: int) -> tuple[Path, Path, Path]:
    """The vault's home, its lock of every tool, and a folder with every tool installed."""
    home, lock, reference = folder / "home", folder / "toolvault.lock", folder / "reference"
    names = [f"tool{i:05d}" for i in range(tools)]
    with Vault.open(home) as vault:
        for start in range(0, tools, BATCH):
            batch = names[start : start + BATCH]
            vault.publish_many([NewVersion(n, benchlib.small_tool("lock", n, 1)) for n in batch])
        source = VaultSource(vault)
        make_lock(source, str(lock), names)
        install(load(str(lock)), str(lock), str(reference), VaultSource(vault))
    return home, lock, reference


def run_measured(argv: Sequence[str], env: dict[str, str], label: str) -> tuple[int, int]:
    """Wall and CPU nanoseconds (user + system, from the child's resource usage) of one
    command, its output discarded; a failure raises with the last line of its stderr."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter_ns()
        child = subprocess.Popen(list(argv), env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter_ns() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if child.returncode != 0:
            err.seek(0)
            why = benchlib.last_error(err.read())
            raise RuntimeError(f"{label} … exited {child.returncode}: {why}")
    return elapsed, round((usage.ru_utime + usage.ru_stime) * 1e9)


def one_round(folder: Path, home: Path, lock: Path, reference: Path, n: int, r: Results) -> None:
    """One of each measure, interleaved; the folders installed into are removed after."""
    env = benchlib.child_env(folder)
    files = sorted(str(p) for p in reference.iterdir())
    base = [TOOLVAULT, "--home", str(home)]
    commands: dict[str, Sequence[str]] = {
        "cp": ["cp", "-r", str(reference), str(folder / f"cp-{n}")],
        "install": [*base, "install", "--lock", str(lock), "--into", str(folder / f"in-{n}")],
        "sha256sum": ["sha256sum", *files],
        "verify": [*base, "verify", "--lock", str(lock), "--into", str(reference)],
        "start-up": [TOOLVAULT, "--version"],
    }
    # each pair in turns first and second: whatever the previous step left to the
    # file system (a journal commit, the last round's folders removed) slows both alike
    order = ["cp", "install", "sha256sum", "verify", "start-up"]
    if n % 2:
        order = ["install", "cp", "verify", "sha256sum", "start-up"]
    for key in order:
        elapsed, cpu = run_measured(commands[key], env, key)
        r.samples.setdefault(key, []).append(elapsed)
        r.samples.setdefault(f"{key} cpu", []).append(cpu)
    with Vault.open(home) as vault:
        calls: dict[str, Callable[[], object]] = {
            "library install": lambda: install(
                load(str(lock)), str(lock), str(folder / f"lib-{n}"), VaultSource(vault)
            ),
            "library verify": lambda: verify_lock(
                load(str(lock)), str(lock), VaultSource(vault), str(reference)
            ),
        }
        for key, call in calls.items():
            cpu_before = time.process_time_ns()
            elapsed, _ = benchlib.timed(call)
            r.samples.setdefault(key, []).append(elapsed)
            r.samples.setdefault(f"{key} cpu", []).append(time.process_time_ns() - cpu_before)
    for prefix in ("cp", "in", "lib"):
        shutil.rmtree(folder / f"{prefix}-{n}")


def run(tools: int, rounds: int) -> Results:
    """Build, then measure ``rounds`` rounds."""
    r = Results(tools=tools, rounds=rounds)
    with benchlib.whole_run(r, prefix="toolvault-bench-lock-") as folder:
        benchlib.progress(f"building a vault of {tools:,} tools and locking them")
        home, lock, reference = build(folder, tools)
        r.bytes = sum(p.stat().st_size for p in reference.iterdir())
        benchlib.settle()
        one_round(folder, home, lock, reference, 0, Results())  # warm the caches
        for n in range(rounds):
            benchlib.progress(f"round {n + 1} of {rounds}")
            one_round(folder, home, lock, reference, n + 1, r)
    return r


LABELS = {
    "cp": "cp -r of the installed files",
    "install": "toolvault install --lock",
    "sha256sum": "sha256sum of the installed files",
    "verify": "toolvault verify --lock --into",
    "library install": "install() in this process",
    "library verify": "verify_lock() in this process",
    "start-up": "toolvault --version (start-up alone)",
}
INFORMATION = [
    ("install() / cp", "library install", "cp"),
    ("verify_lock() / sha256sum", "library verify", "sha256sum"),
    ("start-up / sha256sum", "start-up", "sha256sum"),
]


def rows_of(r: Results, clock: str) -> list[list[str]]:
    """The table's rows for one clock (``""``: wall time, ``" cpu"``: CPU time)."""
    budgets = {b.key: b for b in r.budgets()}
    rows = []
    for key, _name, mine, base, _limit in BUDGETS:
        budget = budgets[key + clock.replace(" ", "_")]
        rows.append(benchlib.stat_row(LABELS[base], r.stats(base + clock), "ms"))
        rows.append(benchlib.stat_row(LABELS[mine], r.stats(mine + clock), "ms"))
        rows.append(
            benchlib.ratio_row(
                f"{mine} / {base}", r.stats(mine + clock), r.stats(base + clock), budget
            )
        )
        paired = r.paired(mine + clock, base + clock)
        rows.append(
            [
                f"  {mine} / {base}, median of the rounds' ratios",
                "",
                f"{paired:.2f}x",
                "",
                "",
                "",
                "(information)",
                "",
            ]
        )
    for label, mine, base in INFORMATION:
        rows.append(benchlib.stat_row(LABELS[mine], r.stats(mine + clock), "ms"))
        rows.append(benchlib.ratio_row(label, r.stats(mine + clock), r.stats(base + clock), None))
    return rows


def render(r: Results) -> str:
    """The two tables: wall time, then CPU time."""
    head = (
        f"lockfiles: {r.tools:,} pinned tools ({r.bytes:,} bytes), {r.rounds} interleaved "
        f"rounds; {benchlib.load_text(r)}; {r.total_s:.0f} s in all"
    )
    notes = [
        "the commands are whole processes (interpreter start and imports included); "
        "cp and sha256sum are one process each over the same files",
        "CPU time is user + system of the child process (os.wait4), and process_time() for "
        "the calls in this process: far less swayed by the machine's other work than wall time",
    ]
    tables = [
        "wall time\n" + benchlib.stats_table(rows_of(r, "")),
        "\nCPU time\n" + benchlib.stats_table(rows_of(r, " cpu")),
    ]
    return benchlib.page(head, tables, notes)


def as_json(r: Results) -> dict[str, Any]:
    """The figures as one JSON document."""
    paired = {
        f"{mine}{clock}/{base}{clock}": round(r.paired(mine + clock, base + clock), 3)
        for _key, _name, mine, base, _limit in BUDGETS
        for clock in ("", " cpu")
    }
    return {
        "tools": r.tools,
        "rounds": r.rounds,
        "bytes": r.bytes,
        "medians_ms": {k: round(r.stats(k).median_us / 1000, 2) for k in r.samples},
        "paired_ratios": paired,
        "budgets": [b.as_json() for b in r.budgets()],
        **benchlib.run_json(r),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    parser = benchlib.arguments(__doc__ or "", f"{QUICK[0]} tools, {QUICK[1]} rounds")
    args = parser.parse_args(argv)
    results = run(*(QUICK if args.quick else FULL))
    return benchlib.finish(results, render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
