"""Read-path benchmark: the hot reads of toolvault against raw SQLite, next to their budgets.

Builds, in a temporary folder, a vault of TOOLS tools x 10 versions plus one tool with
100 versions, then prints one table of medians and p99s:

- ``Vault.get("toolN")`` (latest) and ``Vault.get("toolN:3")`` over random tool names;
- ``Vault.versions()`` of the 100-version tool;
- a raw ``sqlite3`` point select on the same file (the baseline for ``get``);
- the wall time of ``toolvault cat NAME`` against a floor script (the same interpreter,
  ``sqlite3``, one select, one write to stdout);
- publish throughput: ``toolvault add DIR`` and ``Vault.publish`` one at a time;
- the start-up of every read command (``ls``, ``show``, ``versions``, ``diff``, ``refs``,
  ``context``, ``status``, ``--version``, ``--help``) on an installed wheel against the
  same floor, each within ``STARTUP_VS_FLOOR_MAX`` (``bench/startup.py``).

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/read_path.py [--quick] [--json]
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import benchlib
import startup
from toolvault import NewVersion, Vault

T = TypeVar("T")

LONG_TOOL = "hundred"
GET_LATEST_P99_US = 500.0
GET_VS_RAW_MAX = 5.0
VERSIONS_P99_US = 2_000.0
CAT_VS_FLOOR_MAX = 2.5
STARTUP_VS_FLOOR_MAX = 2.0
WARMUP_CALLS = 500
WARMUP_RUNS = 2

FLOOR = """\
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
row = db.execute(
    "SELECT b.content FROM versions v JOIN blobs b ON b.sha256 = v.sha256"
    " WHERE v.name = ? ORDER BY v.version DESC LIMIT 1",
    (sys.argv[2],),
).fetchone()
sys.stdout.buffer.write(row[0])
"""


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the vault is and how many times each thing is measured."""

    tools: int = 10_000
    versions: int = 10
    long_versions: int = 100
    batch_tools: int = 1_000  # tools per publish_many call, all their versions at once
    calls: int = 20_000
    versions_calls: int = 2_000
    cli_runs: int = 30
    add_files: int = 1_000
    publishes: int = 500
    big_publishes: int = 100  # a publish must not cost more because the vault is big


FULL = Sizes()
QUICK = Sizes(
    tools=1_000,
    calls=5_000,
    versions_calls=500,
    cli_runs=10,
    add_files=200,
    publishes=100,
    big_publishes=20,
)


@dataclass(frozen=True, slots=True)
class Stats:
    """Median and p99 (nearest rank) of per-call times, in microseconds, and their total
    (for a throughput); unlike ``benchlib.Stats``, no best and rounded to 0.1 us."""

    n: int
    median_us: float
    p99_us: float
    total_s: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        """Summarize per-call samples taken with ``time.perf_counter_ns``."""
        ordered = sorted(samples_ns)
        median = round(statistics.median(ordered) / 1_000, 1)
        total = round(sum(ordered) / 1e9, 6)
        return cls(len(ordered), median, round(benchlib.p99_of(ordered) / 1_000, 1), total)


@dataclass(slots=True)
class Results:
    """Everything one run measured; ``None`` where a part could not run."""

    sizes: Sizes
    build_s: float = 0.0
    reads: dict[str, Stats] = field(default_factory=dict)
    cli: dict[str, Stats] = field(default_factory=dict)
    publish: dict[str, Stats] = field(default_factory=dict)
    startup: dict[str, Stats] = field(default_factory=dict)  # per command, and "floor"
    add_s: float | None = None
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end


# -- measuring ----------------------------------------------------------------------------


def time_calls(call: Callable[[T], object], args: Sequence[T]) -> list[int]:
    """Nanoseconds of ``call(arg)`` for each argument, one clock read either side."""
    clock = time.perf_counter_ns
    samples = []
    for arg in args:
        start = clock()
        call(arg)
        samples.append(clock() - start)
    return samples


def measure(call: Callable[[T], object], args: Sequence[T]) -> Stats:
    """Warm up on the first arguments, then time every call."""
    time_calls(call, args[:WARMUP_CALLS])
    return Stats.of(time_calls(call, args))


# -- building -----------------------------------------------------------------------------


def script(name: str, version: int) -> bytes:
    """The content of one generated tool version (about 300 bytes, distinct per version)."""
    return benchlib.small_tool("read-path", name, version)


def build_vault(vault: Vault, sizes: Sizes) -> float:
    """Publish every tool with all its versions in large batches; returns seconds."""
    start = time.perf_counter()
    numbers = range(1, sizes.versions + 1)
    for first in range(0, sizes.tools, sizes.batch_tools):
        names = [f"tool{i}" for i in range(first, min(first + sizes.batch_tools, sizes.tools))]
        vault.publish_many(NewVersion(n, script(n, v)) for n in names for v in numbers)
    long = range(1, sizes.long_versions + 1)
    vault.publish_many(NewVersion(LONG_TOOL, script(LONG_TOOL, v)) for v in long)
    return time.perf_counter() - start


# -- the parts ----------------------------------------------------------------------------


def bench_reads(vault: Vault, names: Sequence[str], sizes: Sizes) -> dict[str, Stats]:
    """The library read path: get latest, get a given version, versions()."""
    benchlib.progress(
        f"Vault.get x {len(names):,} (latest, then :3), versions() x {sizes.versions_calls:,}"
    )
    return {
        "get_latest": measure(vault.get, names),
        "get_version": measure(vault.get, [f"{n}:3" for n in names]),
        "versions_100": measure(vault.versions, [LONG_TOOL] * sizes.versions_calls),
    }


def bench_raw(db: Path, names: Sequence[str], versions: int, rng: random.Random) -> Stats:
    """The floor under ``get``: a point select of the same row on a plain connection."""
    keys = [(n, rng.randint(1, versions)) for n in names]
    conn = sqlite3.connect(db)
    try:
        sql = "SELECT * FROM versions WHERE name = ? AND version = ?"
        return measure(lambda key: conn.execute(sql, key).fetchone(), keys)
    finally:
        conn.close()


def cli_problem(exe: Path) -> str | None:
    """Why ``toolvault cat`` cannot be measured, or None when it can."""
    if not exe.exists():
        return f"{exe} does not exist"
    done = subprocess.run([str(exe), "cat", "--help"], capture_output=True, check=False)
    if done.returncode != 0:
        err = benchlib.last_error(done.stderr)
        return f"'toolvault cat --help' exited {done.returncode}: {err}"
    return None


def bench_cat(
    exe: Path, env: dict[str, str], floor: list[str], names: Sequence[str]
) -> dict[str, Stats]:
    """``toolvault cat NAME`` and the floor script, interleaved so drift hits both alike."""
    samples: dict[str, list[int]] = {"cat": [], "floor": []}
    for i, name in enumerate(names):
        cat_ns, cat_out = benchlib.run_timed([str(exe), "cat", name], env)
        floor_ns, floor_out = benchlib.run_timed([*floor, name], env)
        if cat_out != floor_out:
            raise RuntimeError(f"'toolvault cat {name}' printed other bytes than the floor")
        if i >= WARMUP_RUNS:  # the first runs fill the OS and bytecode caches
            samples["cat"].append(cat_ns)
            samples["floor"].append(floor_ns)
    return {key: Stats.of(values) for key, values in samples.items()}


def bench_add(exe: Path, tmp: Path, files: int) -> float:
    """Seconds of one ``toolvault add DIR`` of ``files`` small files into a fresh home."""
    src = tmp / "add-src"
    src.mkdir()
    for i in range(files):
        (src / f"t{i:04d}.sh").write_bytes(script(f"t{i:04d}", 1))
    env = benchlib.child_env(tmp, TOOLVAULT_HOME=str(tmp / "add-home"))
    subprocess.run([str(exe), "init"], env=env, capture_output=True, check=False)
    elapsed, _ = benchlib.run_timed([str(exe), "add", str(src)], env)
    return elapsed / 1e9


def bench_publish(vault: Vault, count: int, prefix: str) -> Stats:
    """``Vault.publish`` one call per version (a commit and a tree update each)."""
    items = [(f"{prefix}{i % 100}", script(f"{prefix}{i % 100}", i)) for i in range(count)]
    return Stats.of(time_calls(lambda item: vault.publish(*item), items))


def run_cli_parts(results: Results, home: Path, tmp: Path, names: Sequence[str]) -> None:
    """The subprocess parts; what cannot run is noted, never raised."""
    exe = Path(sys.executable).with_name("toolvault")
    if not exe.exists():
        exe = Path(shutil.which("toolvault") or exe)
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        results.notes.append("PYTHONDONTWRITEBYTECODE is set; subprocesses cache bytecode in tmp")
    problem = cli_problem(exe)
    if problem:
        results.notes.append(f"toolvault CLI not run: {problem}")
        return
    (tmp / "floor.py").write_text(FLOOR)
    floor = [sys.executable, str(tmp / "floor.py"), str(home / "vault.db")]
    runs = results.sizes.cli_runs
    benchlib.progress(f"toolvault cat vs floor.py x {runs} each")
    try:
        env = benchlib.child_env(tmp, TOOLVAULT_HOME=str(home))
        results.cli.update(bench_cat(exe, env, floor, names[: runs + WARMUP_RUNS]))
    except RuntimeError as exc:
        results.notes.append(f"toolvault cat not measured: {exc}")
    try:
        found = startup.run(tmp, FLOOR, runs)
        results.startup = {key: Stats.of(values) for key, values in found.items()}
    except (RuntimeError, StopIteration) as exc:
        results.notes.append(f"start-up not measured: {exc}")
    benchlib.progress(f"toolvault add DIR of {results.sizes.add_files:,} files")
    try:
        results.add_s = bench_add(exe, tmp, results.sizes.add_files)
    except RuntimeError as exc:
        results.notes.append(f"toolvault add not measured: {exc}")


def run(sizes: Sizes, seed: int) -> Results:
    """Build the vault and measure every part."""
    results = Results(sizes)
    rng = random.Random(seed)
    with benchlib.whole_run(results) as tmp:
        home = tmp / "home"
        with Vault.open(home) as vault:
            benchlib.progress(f"building {sizes.tools:,} tools x {sizes.versions} versions")
            results.build_s = build_vault(vault, sizes)
            names = [f"tool{rng.randrange(sizes.tools)}" for _ in range(sizes.calls)]
            results.reads = bench_reads(vault, names, sizes)
            results.reads["raw_select"] = bench_raw(home / "vault.db", names, sizes.versions, rng)
            run_cli_parts(results, home, tmp, names)
            benchlib.progress(f"Vault.publish x {sizes.big_publishes} into the big vault")
            results.publish["big"] = bench_publish(vault, sizes.big_publishes, "late")
        with Vault.open(tmp / "fresh") as fresh:
            benchlib.progress(f"Vault.publish x {sizes.publishes} into a fresh vault")
            results.publish["fresh"] = bench_publish(fresh, sizes.publishes, "pub")
    return results


# -- reporting ----------------------------------------------------------------------------


def budgets(r: Results) -> list[benchlib.Budget]:
    """Every budget that could be checked in this run."""
    latest, raw, versions = (r.reads[k] for k in ("get_latest", "raw_select", "versions_100"))
    found = [
        benchlib.Budget(
            "get_latest_p99", "get latest", latest.p99_us, GET_LATEST_P99_US, "us", basis="p99"
        ),
        versus("get_vs_raw_median", "get latest / raw select", "median", latest, raw),
        versus("get_vs_raw_p99", "get latest / raw select", "p99", latest, raw),
        benchlib.Budget(
            "versions_p99", "versions() of 100", versions.p99_us, VERSIONS_P99_US, "us", basis="p99"
        ),
    ]
    if r.cli:
        cat, floor = r.cli["cat"], r.cli["floor"]
        found.append(versus("cat_vs_floor_median", "toolvault cat / floor", "median", cat, floor))
    base = r.startup.get("floor")
    for key, s in r.startup.items():
        if base is None or key in ("floor", "cat"):  # cat has its own budget above
            continue
        figure = s.median_us / base.median_us
        name = f"toolvault {key} / floor"
        found.append(
            benchlib.Budget(
                f"startup_{key.lstrip('-')}",
                name,
                figure,
                STARTUP_VS_FLOOR_MAX,
                "x",
                basis="median",
            )
        )
    return found


def versus(key: str, name: str, stat: str, mine: Stats, base: Stats) -> benchlib.Budget:
    """A ratio budget comparing like with like: median to median or p99 to p99."""
    figure = getattr(mine, f"{stat}_us") / getattr(base, f"{stat}_us")
    limit = CAT_VS_FLOOR_MAX if key.startswith("cat") else GET_VS_RAW_MAX
    return benchlib.Budget(key, name, figure, limit, "x", basis=f"{stat} to {stat}")


def fmt_time(us: float, unit: str) -> str:
    """A duration in the row's unit."""
    return f"{us / 1_000:,.1f} ms" if unit == "ms" else f"{us:,.1f} us"


def stat_row(
    label: str, s: Stats, unit: str = "us", budget: benchlib.Budget | None = None
) -> list[str]:
    """A measured row, with its budget and verdict when it has one."""
    cells = [label, f"{s.n:,}", fmt_time(s.median_us, unit), fmt_time(s.p99_us, unit), ""]
    return cells + ([budget.describe(), budget.verdict] if budget else ["", ""])


def ratio_row(b: benchlib.Budget) -> list[str]:
    """A ratio row: the figure goes under the statistic it compares."""
    figure = f"{b.figure:.2f}x"
    median, p99 = (figure, "") if b.basis.startswith("median") else ("", figure)
    return [f"  {b.name}", "", median, p99, "", b.describe(), b.verdict]


def rate_row(label: str, n: int, seconds: float, what: str) -> list[str]:
    """A throughput row measured as one whole: its wall time and rate (no budget)."""
    rate = f"{n / seconds:,.0f} {what}/s" if seconds else "-"
    return [label, f"{n:,}", f"{seconds:,.2f} s total", "", rate, "", ""]


def read_rows(r: Results, by_key: dict[str, benchlib.Budget]) -> Iterator[list[str]]:
    """Rows of the library reads and their baseline."""
    reads = r.reads
    latest = reads["get_latest"]
    yield stat_row('Vault.get("toolN")  latest', latest, budget=by_key["get_latest_p99"])
    yield stat_row('Vault.get("toolN:3")', reads["get_version"])
    yield stat_row("raw sqlite3 point select", reads["raw_select"])
    yield ratio_row(by_key["get_vs_raw_median"])
    yield ratio_row(by_key["get_vs_raw_p99"])
    versions = reads["versions_100"]
    yield stat_row("Vault.versions(), 100 versions", versions, budget=by_key["versions_p99"])


def write_rows(r: Results, by_key: dict[str, benchlib.Budget]) -> Iterator[list[str]]:
    """Rows of the subprocess parts and the publish throughput."""
    if r.cli:
        yield stat_row("toolvault cat NAME  (wall)", r.cli["cat"], "ms")
        yield stat_row("floor.py: sqlite3 select + write", r.cli["floor"], "ms")
        yield ratio_row(by_key["cat_vs_floor_median"])
    if r.startup:
        yield stat_row("start-up, installed wheel: floor.py", r.startup["floor"], "ms")
        for key, s in r.startup.items():
            if key != "floor":
                yield stat_row(f"  toolvault {' '.join(startup.COMMANDS[key])}", s, "ms")
                if f"startup_{key.lstrip('-')}" in by_key:
                    yield ratio_row(by_key[f"startup_{key.lstrip('-')}"])
    if r.add_s is not None:
        yield rate_row("toolvault add DIR  (fresh home)", r.sizes.add_files, r.add_s, "files")
    for key, where in (("fresh", "fresh vault"), ("big", "big vault")):
        s = r.publish[key]
        row = stat_row(f"Vault.publish one at a time, {where}", s, "ms")
        row[4] = f"{s.n / s.total_s:,.0f} publishes/s"
        yield row


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    by_key = {b.key: b for b in budgets(r)}
    s = r.sizes
    head = (
        f"toolvault read path: {s.tools:,} tools x {s.versions} versions "
        f"+ 1 tool x {s.long_versions} versions\n"
        f"build {r.build_s:.1f} s (publish_many, {s.batch_tools:,} tools per call); "
        f"whole run {r.total_s:.1f} s; {benchlib.load_text(r)}"
    )
    rows = [["measure", "n", "median", "p99", "rate", "budget", "verdict"]]
    rows += [*read_rows(r, by_key), *write_rows(r, by_key)]
    return benchlib.page(head, [benchlib.table(rows, left=(0, 5, 6))], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    return {
        "sizes": asdict(r.sizes),
        "build_seconds": round(r.build_s, 3),
        **benchlib.run_json(r),
        "reads": {k: asdict(v) for k, v in r.reads.items()},
        "cli": {k: asdict(v) for k, v in r.cli.items()},
        "startup": {k: asdict(v) for k, v in r.startup.items()},
        "publish": {k: asdict(v) for k, v in r.publish.items()},
        "add_seconds": None if r.add_s is None else round(r.add_s, 3),
        "add_files_per_second": round(r.sizes.add_files / r.add_s, 1) if r.add_s else None,
        "budgets": [b.as_json() for b in budgets(r)],
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    parser = benchlib.arguments(
        __doc__, "1,000 tools: a smoke run", seed="seed of the random tool names"
    )
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.seed)
    return benchlib.finish(results, render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
