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
- each pair runs in turns first and second, round after round;
- the same two calls in this process (:func:`toolvault.lockfile.install.install` and
  :func:`toolvault.lockfile.verify.verify_lock`), as information: the commands less
  the interpreter's start and imports.

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/lock.py [--quick] [--json]
"""

from __future__ import annotations

import shutil
import sys
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
FULL = (1_000, 15)  # tools, rounds
QUICK = (200, 5)
BATCH = 500
TOOLVAULT = str(Path(sys.executable).with_name("toolvault"))


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

    def budgets(self) -> list[benchlib.Budget]:
        """The issue's two budgets, on the medians of the commands."""
        install_ratio = self.stats("install").median_us / self.stats("cp").median_us
        verify_ratio = self.stats("verify").median_us / self.stats("sha256sum").median_us
        return [
            benchlib.Budget(
                "install_vs_cp",
                "install",
                basis="median",
                figure=install_ratio,
                limit=INSTALL_VS_CP_MAX,
                unit="x",
            ),
            benchlib.Budget(
                "verify_vs_sha256sum",
                "verify --lock --into",
                basis="median",
                figure=verify_ratio,
                limit=VERIFY_VS_SHA256SUM_MAX,
                unit="x",
            ),
        ]


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
    }
    # each pair in turns first and second: whatever the previous step left to the
    # file system (a journal commit, the last round's folders removed) slows both alike
    order = ["cp", "install", "sha256sum", "verify"]
    if n % 2:
        order = ["install", "cp", "verify", "sha256sum"]
    for key in order:
        elapsed, _ = benchlib.run_timed(commands[key], env=env, label=key)
        r.samples.setdefault(key, []).append(elapsed)
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
            elapsed, _ = benchlib.timed(call)
            r.samples.setdefault(key, []).append(elapsed)
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


def render(r: Results) -> str:
    """The table."""
    install_budget, verify_budget = r.budgets()
    rows = [
        benchlib.stat_row("cp -r of the installed files", r.stats("cp"), "ms"),
        benchlib.stat_row("toolvault install --lock", r.stats("install"), "ms"),
        benchlib.ratio_row("install / cp", r.stats("install"), r.stats("cp"), install_budget),
        benchlib.stat_row("sha256sum of the installed files", r.stats("sha256sum"), "ms"),
        benchlib.stat_row("toolvault verify --lock --into", r.stats("verify"), "ms"),
        benchlib.ratio_row(
            "verify / sha256sum", r.stats("verify"), r.stats("sha256sum"), verify_budget
        ),
        benchlib.stat_row("install() in this process", r.stats("library install"), "ms"),
        benchlib.ratio_row("install() / cp", r.stats("library install"), r.stats("cp"), None),
        benchlib.stat_row("verify_lock() in this process", r.stats("library verify"), "ms"),
        benchlib.ratio_row(
            "verify_lock() / sha256sum", r.stats("library verify"), r.stats("sha256sum"), None
        ),
    ]
    head = (
        f"lockfiles: {r.tools:,} pinned tools ({r.bytes:,} bytes), {r.rounds} interleaved "
        f"rounds; {benchlib.load_text(r)}; {r.total_s:.0f} s in all"
    )
    notes = [
        "the commands are whole processes (interpreter start and imports included); "
        "cp and sha256sum are one process each over the same files",
    ]
    return benchlib.page(head, [benchlib.stats_table(rows)], notes)


def as_json(r: Results) -> dict[str, Any]:
    """The figures as one JSON document."""
    return {
        "tools": r.tools,
        "rounds": r.rounds,
        "bytes": r.bytes,
        "medians_ms": {k: round(r.stats(k).median_us / 1000, 2) for k in r.samples},
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
