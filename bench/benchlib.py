"""What the benchmarks in bench/ share: generated tools, timing, statistics, budgets,
tables, profiles, the subprocess environment, the whole run's folder, clock and load
average, and the ``--quick``/``--json`` arguments with the printing of the results.

The benchmarks are scripts run as ``.venv/bin/python bench/NAME.py``, so this folder is
on ``sys.path`` and they ``import benchlib``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
FuncKey = tuple[str, int, str]  # a function in pstats: file, line, name

PROFILE_TOP = 15
PROFILE_OWN_TOP = 10
MIN_SHARE = 0.005  # callees below half a percent are left out of a split


# -- generated content --------------------------------------------------------------------

SMALL_TOOL = """#!/bin/sh
# {name}, version {version}: a small generated tool for the toolvault {bench} benchmark.
set -eu
usage() {{ echo "usage: {name} FILE..." >&2; exit 2; }}
[ "$#" -gt 0 ] || usage
for f in "$@"; do
    wc -l "$f" | sed 's/^/{name} v{version}: /'
done
"""


def small_tool(bench: str, name: str, version: int) -> bytes:
    """A small shell tool (about 300 bytes), distinct per name and version."""
    return SMALL_TOOL.format(bench=bench, name=name, version=version).encode()


# -- measuring ----------------------------------------------------------------------------


def progress(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the table (and JSON)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def timed(call: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[int, T]:
    """Nanoseconds of one call, and what it returned."""
    start = time.perf_counter_ns()
    result = call(*args, **kwargs)
    return time.perf_counter_ns() - start, result


def last_error(stderr: bytes) -> str:
    """The last line a failed command wrote to stderr."""
    return (stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"])[-1]


def run_timed(
    argv: Sequence[str], env: dict[str, str] | None = None, label: str = ""
) -> tuple[int, bytes]:
    """Wall nanoseconds and stdout of one command; a failure raises with its stderr.

    ``label`` names the command in that error (by default its first two words).
    """
    start = time.perf_counter_ns()
    done = subprocess.run(list(argv), env=env, capture_output=True, check=False)
    elapsed = time.perf_counter_ns() - start
    if done.returncode != 0:
        what = label or " ".join(argv[:2])
        raise RuntimeError(f"{what} … exited {done.returncode}: {last_error(done.stderr)}")
    return elapsed, done.stdout


def shell_ns(command: str) -> int:
    """Wall nanoseconds of one shell pipeline; a failure raises with its stderr."""
    return run_timed(["sh", "-c", command], label=command[:60])[0]


def child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess: no TOOLVAULT_* from outside, ``extra`` added, and
    bytecode that can be cached.

    An editable install runs toolvault from src/; with PYTHONDONTWRITEBYTECODE set (as in
    some sandboxes) every start would recompile it, a cost no installed toolvault pays.
    So bytecode goes to a private cache in the temporary folder: nothing is written to src/.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return {**env, **extra, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}


class WholeRun(Protocol):
    """Results that record the whole run's wall time and load average."""

    total_s: float
    load: tuple[float, float]  # 1-minute load average at start and end


@contextmanager
def whole_run(results: WholeRun, prefix: str = "toolvault-bench-") -> Iterator[Path]:
    """A temporary folder for the run; records into ``results`` the block's wall time (the
    folder's removal included) and the load average either side."""
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)
    results.total_s = time.perf_counter() - started
    results.load = (load_before, os.getloadavg()[0])


def settle() -> None:
    """Write out what building left in the page cache (``sync``) before timing anything:
    otherwise the kernel flushes it during the measurements, and whichever of a floor
    and its toolvault run happens to overlap that flush is slowed."""
    progress("sync: writing out what building left dirty")
    os.sync()


# -- statistics and budgets ---------------------------------------------------------------


def p99_of(ordered: Sequence[int]) -> int:
    """The 99th percentile (nearest rank) of sorted samples."""
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Stats:
    """Median, best and p99 (nearest rank) of per-call times, in microseconds."""

    n: int
    median_us: float
    min_us: float
    p99_us: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Stats:
        """Summarize samples taken with ``time.perf_counter_ns``."""
        ordered = sorted(samples_ns)
        median = statistics.median(ordered) / 1_000
        return cls(len(ordered), round(median, 1), ordered[0] / 1_000, p99_of(ordered) / 1_000)


def verdict_of(figure: float, limit: float) -> str:
    """PASS within the limit, OVER past it."""
    return "PASS" if figure < limit else "OVER"


@dataclass(frozen=True, slots=True)
class Budget:
    """One budget: a figure, its limit and what is compared with what (``basis``: blank
    when the name says it all)."""

    key: str
    name: str
    basis: str = field(default="", kw_only=True)
    figure: float
    limit: float
    unit: str

    @property
    def verdict(self) -> str:
        """PASS within the limit, OVER past it."""
        return verdict_of(self.figure, self.limit)

    def describe(self) -> str:
        """How the budget reads in a table: ``median < 3x``, ``p99 < 500 us``."""
        limit = f"{self.limit:g}x" if self.unit == "x" else f"{self.limit:,g} {self.unit}"
        return f"{self.basis} < {limit}".lstrip()

    def as_json(self) -> dict[str, Any]:
        """The budget with its figure rounded and its verdict (no basis when blank)."""
        kept = {k: v for k, v in asdict(self).items() if k != "basis" or v}
        return {**kept, "figure": round(self.figure, 3), "verdict": self.verdict}


# -- tables -------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]], left: Collection[int]) -> str:
    """Columns padded to fit; the ``left`` columns (text) left, the others (figures) right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if i in left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def fmt_time(us: float, unit: str) -> str:
    """A duration in the row's unit: s and ms to two places, us to one."""
    if unit == "s":
        return f"{us / 1e6:,.2f} s"
    return f"{us / 1_000:,.2f} ms" if unit == "ms" else f"{us:,.1f} us"


def stats_table(rows: Iterable[Sequence[str]]) -> str:
    """A table of ``stat_row`` and ``ratio_row`` rows under their header."""
    header = ["measure", "n", "median", "best", "p99", "rate", "budget", "verdict"]
    return table([header, *rows], left=(0, 5, 6, 7))


def stat_row(label: str, s: Stats, unit: str, rate: str = "") -> list[str]:
    """A measured row: median, best, p99 (blank for a handful of runs) and a rate."""
    p99_cell = fmt_time(s.p99_us, unit) if s.n >= 20 else ""
    cells = [label, f"{s.n:,}", fmt_time(s.median_us, unit), fmt_time(s.min_us, unit), p99_cell]
    return [*cells, rate, "", ""]


def ratio_row(label: str, mine: Stats, base: Stats, budget: Budget | None) -> list[str]:
    """Medians and bests divided; the verdict is on the medians."""
    median = f"{mine.median_us / base.median_us:.2f}x"
    best = f"{mine.min_us / base.min_us:.2f}x"
    verdict_cells = [budget.describe(), budget.verdict] if budget else ["(information)", ""]
    return [f"  {label}", "", median, best, "", "", *verdict_cells]


def load_text(r: WholeRun) -> str:
    """The load average either side of the run, for a heading."""
    return f"load average {r.load[0]:.1f} -> {r.load[1]:.1f} on {os.cpu_count()} CPUs"


def page(head: str, body: Sequence[str], notes: Sequence[str]) -> str:
    """The printed report: the heading, the body, then the notes if there are any."""
    noted = [f"note: {n}" for n in notes]
    return "\n".join([head, "", *body, *(["", *noted] if noted else [])])


def run_json(r: WholeRun) -> dict[str, Any]:
    """The whole run's wall time, load average and CPUs, for a JSON document."""
    return {
        "total_seconds": round(r.total_s, 3),
        "load_average": [round(x, 2) for x in r.load],
        "cpus": os.cpu_count(),
    }


# -- profiles -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """One function of the profile: calls, own and cumulative seconds, share of the total."""

    function: str
    calls: int
    own_s: float
    cumulative_s: float
    share: float


@dataclass(frozen=True, slots=True)
class Profile:
    """One call under cProfile; every share is of the profiled call's cumulative time."""

    seconds: float
    splits: dict[str, list[ProfileRow]]  # a function -> its direct callees, largest first
    by_cumulative: list[ProfileRow]
    by_own: list[ProfileRow]


def profile(call: Callable[[], object], split: Sequence[str] = ()) -> Profile:
    """Run ``call`` once under cProfile. ``split`` names functions (bare names) whose
    direct callees show where their time goes; by default ``call`` itself is split."""
    profiler = cProfile.Profile()
    profiler.runcall(call)
    entries: dict[FuncKey, tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    root = max(entries, key=lambda k: entries[k][3])  # the call itself: the largest cumulative
    total = entries[root][3]
    parents = [max(named, key=lambda k: entries[k][3]) for named in _named(entries, split)]
    rows = [profile_row(k, v[1], v[2], v[3], total) for k, v in entries.items()]
    return Profile(
        seconds=total,
        splits={function_label(*p): callees(entries, p, total) for p in parents or [root]},
        by_cumulative=sorted(rows, key=lambda x: -x.cumulative_s)[:PROFILE_TOP],
        by_own=sorted(rows, key=lambda x: -x.own_s)[:PROFILE_OWN_TOP],
    )


def _named(entries: dict[FuncKey, Any], names: Sequence[str]) -> Iterator[list[FuncKey]]:
    """For each name, the profiled functions called so (a name not found is skipped)."""
    for name in names:
        found = [k for k in entries if k[2] == name]
        if found:
            yield found


def callees(
    entries: dict[FuncKey, tuple[Any, ...]], parent: FuncKey, total: float
) -> list[ProfileRow]:
    """What ``parent`` called directly, with the time spent there on its behalf."""
    rows = []
    for key, value in entries.items():
        if parent in value[4]:  # value[4]: callers -> (calls, ncalls, own, cumulative)
            _calls, ncalls, own, cumulative = value[4][parent]
            rows.append(profile_row(key, ncalls, own, cumulative, total))
    return sorted((r for r in rows if r.share >= MIN_SHARE), key=lambda x: -x.cumulative_s)


def profile_row(
    key: FuncKey, calls: int, own: float, cumulative: float, total: float
) -> ProfileRow:
    """One function of a pstats table, its share taken of ``total`` seconds."""
    return ProfileRow(function_label(*key), calls, own, cumulative, cumulative / total)


def function_label(file: str, line: int, function: str) -> str:
    """``toolvault/verify/checks.py:147 check_signatures``; built-ins keep pstats' own name."""
    if file == "~":
        return function.replace("cryptography.hazmat.bindings._rust.openssl.", "")
    parts = Path(file).parts
    short = "/".join(parts[parts.index("toolvault") :] if "toolvault" in parts else parts[-2:])
    return f"{short}:{line} {function}"


def profile_table(title: str, rows: Sequence[ProfileRow]) -> list[str]:
    """One ranking of a profile."""
    head = [["cumulative", "share", "own", "calls", "function"]]
    body = [
        [
            f"{p.cumulative_s:.2f} s",
            f"{p.share:.0%}",
            f"{p.own_s:.2f} s",
            f"{p.calls:,}",
            p.function,
        ]
        for p in rows
    ]
    widths = [max(len(row[i]) for row in head + body) for i in range(4)]
    return [title] + [
        "  ".join(c.rjust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in head + body
    ]


def profile_lines(what: str, p: Profile | None, without_s: float) -> list[str]:
    """The profile section: the split of one function, then the two rankings
    (nothing when there is no profile)."""
    if p is None:
        return []
    head = (
        f"cProfile of {what}: {p.seconds:.1f} s under the profiler ({without_s:.1f} s median "
        "without); share = cumulative time / the whole call's"
    )
    splits = [
        line
        for parent, rows in p.splits.items()
        for line in profile_table(f"where {parent} spends its time (its direct calls)", rows)
    ]
    return [
        head,
        *splits,
        *profile_table(f"top {PROFILE_TOP} by cumulative time", p.by_cumulative),
        *profile_table(f"top {PROFILE_OWN_TOP} by own time", p.by_own),
    ]


# -- main ---------------------------------------------------------------------------------


def arguments(doc: str, quick: str, seed: str = "") -> argparse.ArgumentParser:
    """``--quick`` (``quick`` says what a quick run is), ``--json``, and ``--seed`` (default
    42) when ``seed`` gives its help; the description is the docstring's first line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    if seed:
        parser.add_argument("--seed", type=int, default=42, help=seed)
    return parser


def finish(
    results: R, render: Callable[[R], str], as_json: Callable[[R], dict[str, Any]], json_too: bool
) -> int:
    """Print the table, and with ``--json`` the figures as the last line; 0 whatever the
    timings (machines are noisy, so timing never fails a run)."""
    print(render(results))
    if json_too:
        print(json.dumps(as_json(results)))
    return 0
