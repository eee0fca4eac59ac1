"""Verify benchmark: ``Vault.verify()`` over a big vault against ``sha256sum``, and signing.

Builds, in a temporary folder, a vault of TOOLS tools x 5 versions of small generated
shell scripts (``publish_many`` in large batches, every tenth batch signed, so 10% of
the versions carry an Ed25519 signature), then prints one table:

- ``Vault.verify()`` (best and median of a few runs): versions per second and MB of
  content per second, counting each version's bytes once;
- the floor, measured in the same run over the same bytes: ``sha256sum`` of the version
  files under ``commands/.history`` (``find -print0 | xargs -0 sha256sum``, one file per
  version), and ``sha256sum`` of one file holding every blob of the database end to end;
- one-version publishes, unsigned and signed (``publish_many([item], sign_with=KEY)``),
  interleaved on the same vault, with the cost of loading the key and of signing alone;
- a cProfile of one verify: where verify's time goes (its direct calls), and the top
  functions by cumulative and by own time.

``bench/packs.py`` reuses the generated scripts, the statistics, the table and the
profile helpers of this module.

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/verify.py [--quick] [--json]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from toolvault import NewVersion, Vault

T = TypeVar("T")
FuncKey = tuple[str, int, str]  # a function in pstats: file, line, name

KEY = "bench"
SIGN_EVERY = 10  # one publish_many batch in ten is signed: 10% of the versions
VERIFY_VS_FLOOR_MAX = 3.0
SIGNING_EXTRA_MS = 1.0
WARMUP_CALLS = 10
PROFILE_TOP = 15
PROFILE_OWN_TOP = 10
MIN_SHARE = 0.005  # callees below half a percent are left out of the split

SHEBANGS = ("#!/bin/sh", "#!/usr/bin/env bash", "#!/bin/bash")
HEADER = """{shebang}
# {name} (v{version}): generated for the toolvault verify benchmark.
set -eu
usage() {{ echo "usage: {name} [-n COUNT] [DIR]" >&2; exit 2; }}
count=10
while getopts n:h opt; do
    case "$opt" in n) count="$OPTARG" ;; *) usage ;; esac
done
shift $((OPTIND - 1))
dir="${{1:-.}}"
"""
BODY = (
    'grep -rn --include="*.py" "TODO" "$dir" | head -n "$count"',
    'find "$dir" -type f -name "*.log" -mtime +{n} -print',
    'git -C "$dir" log --oneline -n {n} --since="{n} days ago"',
    'du -sh "$dir"/* 2>/dev/null | sort -h | tail -n {n}',
    'curl -fsS "https://status.example.com/api/v{n}/health" | jq -r .state',
    'sed -n "{n},$((count + {n}))p" "$dir/CHANGELOG.md"',
    "awk -F, 'NR > 1 {{ sum += ${n} }} END {{ print sum }}' \"$dir/data.csv\"",
    'tar -czf "/tmp/{name}-$(date +%Y%m%d)-{n}.tar.gz" -C "$dir" .',
    '[ -f "$dir/.env" ] && . "$dir/.env" || echo "{name}: no .env in $dir" >&2',
    'printf "%s\\t%s\\n" "{name}" "$(wc -l < "$dir/README.md")"',
    'docker ps --format "{{{{.Names}}}}" | grep -c "{name}-{n}" || true',
    'ls -1t "$dir" | head -n "$count" | xargs -I{{}} echo "{name}: {{}}"',
)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the vault is and how many times each thing is measured."""

    tools: int = 20_000
    versions: int = 5
    batch_tools: int = 1_000  # tools per publish_many call, all their versions at once
    verify_runs: int = 3
    publishes: int = 300  # of each kind, unsigned and signed
    key_calls: int = 1_000


FULL = Sizes()
QUICK = Sizes(tools=1_000, batch_tools=100, publishes=60, key_calls=200)


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
        rank = max(0, math.ceil(0.99 * len(ordered)) - 1)
        median = statistics.median(ordered) / 1_000
        return cls(len(ordered), round(median, 1), ordered[0] / 1_000, ordered[rank] / 1_000)


@dataclass(frozen=True, slots=True)
class Budget:
    """One budget: a figure, its limit and what is compared with what."""

    key: str
    name: str
    basis: str
    figure: float
    limit: float
    unit: str

    @property
    def verdict(self) -> str:
        """PASS within the limit, OVER past it."""
        return "PASS" if self.figure < self.limit else "OVER"


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


@dataclass(slots=True)
class Results:
    """Everything one run measured."""

    sizes: Sizes
    build_s: float = 0.0
    checked: dict[str, int] = field(default_factory=dict)
    content_bytes: int = 0
    file_bytes: int = 0
    timings: dict[str, Stats] = field(default_factory=dict)
    profile: Profile | None = None
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end


# -- measuring ----------------------------------------------------------------------------


def timed(call: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[int, T]:
    """Nanoseconds of one call, and what it returned."""
    start = time.perf_counter_ns()
    result = call(*args, **kwargs)
    return time.perf_counter_ns() - start, result


def shell_ns(command: str) -> int:
    """Wall nanoseconds of one shell pipeline; a failure raises with its stderr."""
    start = time.perf_counter_ns()
    done = subprocess.run(["sh", "-c", command], capture_output=True, check=False)
    elapsed = time.perf_counter_ns() - start
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"]
        raise RuntimeError(f"{command[:60]} … exited {done.returncode}: {err[-1]}")
    return elapsed


def progress(message: str) -> None:
    """Progress goes to stderr so that stdout holds only the table (and JSON)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- building -----------------------------------------------------------------------------


def script(rng: random.Random, name: str, version: int) -> bytes:
    """A small, plausible shell tool (about 0.4 to 1.5 KB), distinct per version."""
    head = HEADER.format(shebang=rng.choice(SHEBANGS), name=name, version=version)
    lines = [
        rng.choice(BODY).format(n=rng.randint(1, 99), name=name) for _ in range(rng.randint(2, 14))
    ]
    return (head + "\n".join(lines) + "\n").encode()


def build_vault(vault: Vault, sizes: Sizes, rng: random.Random) -> float:
    """Publish every tool with all its versions in large batches; returns seconds."""
    start = time.perf_counter()
    vault.generate_key(KEY)
    numbers = range(1, sizes.versions + 1)
    for batch, first in enumerate(range(0, sizes.tools, sizes.batch_tools)):
        names = [f"tool{i}" for i in range(first, min(first + sizes.batch_tools, sizes.tools))]
        items = [NewVersion(n, script(rng, n, v)) for n in names for v in numbers]
        vault.publish_many(items, sign_with=KEY if batch % SIGN_EVERY == 0 else None)
    return time.perf_counter() - start


def write_concatenated(vault: Vault, path: Path) -> int:
    """Every blob of the database end to end in one file; returns its size."""
    with open(path, "wb") as out:
        for _sha, _size, data in vault.store.blobs():
            out.write(data)
    return path.stat().st_size


def version_files_bytes(history: Path) -> int:
    """Total size of the version files under ``commands/.history`` (not metadata.json)."""
    return sum(
        (Path(folder) / name).stat().st_size
        for folder, _dirs, files in os.walk(history)
        for name in files
        if name != "metadata.json"
    )


# -- the parts ----------------------------------------------------------------------------


def floor_commands(history: Path, concatenated: Path) -> dict[str, str]:
    """The two sha256sum floors as shell pipelines."""
    files = (
        f"find {shlex.quote(str(history))} -type f ! -name metadata.json -print0"
        " | xargs -0 sha256sum > /dev/null"
    )
    return {
        "floor_files": files,
        "floor_one_file": f"sha256sum {shlex.quote(str(concatenated))} > /dev/null",
    }


def bench_verify(vault: Vault, floors: dict[str, str], runs: int, r: Results) -> None:
    """Verify and both floors, interleaved run by run so that drift hits them alike."""
    samples: dict[str, list[int]] = {"verify": [], **{k: [] for k in floors}}
    for command in floors.values():
        shell_ns(command)  # fills the page cache, as building did for verify
    for run in range(1, runs + 1):
        progress(f"verify run {run} of {runs}, then the sha256sum floors")
        elapsed, report = timed(vault.verify)
        samples["verify"].append(elapsed)
        for key, command in floors.items():
            samples[key].append(shell_ns(command))
    if report.problems:
        first = report.problems[0]
        r.notes.append(f"verify found {len(report.problems)} problems, first: {first}")
    r.checked = dict(report.checked)
    r.timings.update({k: Stats.of(v) for k, v in samples.items()})


def bench_signing(vault: Vault, count: int, rng: random.Random) -> dict[str, Stats]:
    """One-version publishes, unsigned and signed in turn, on the same tools."""
    samples: dict[str, list[int]] = {"publish_unsigned": [], "publish_signed": []}
    for i in range(count + WARMUP_CALLS):
        name = f"late{i % 50}"
        plain = NewVersion(name, script(rng, name, 2 * i + 1_000))
        signed = NewVersion(name, script(rng, name, 2 * i + 1_001))
        calls = [("publish_unsigned", plain, None), ("publish_signed", signed, KEY)]
        for key, item, sign_with in calls if i % 2 else calls[::-1]:  # neither always first
            elapsed = timed(vault.publish_many, [item], sign_with=sign_with)[0]
            if i >= WARMUP_CALLS:
                samples[key].append(elapsed)
    return {k: Stats.of(v) for k, v in samples.items()}


def bench_key_parts(vault: Vault, count: int) -> dict[str, Stats]:
    """What a signed publish adds, taken apart: loading the key, and signing a payload."""
    from toolvault.signing import payload, version_fields

    signer = vault.keys.load(KEY)
    data = payload(version_fields(vault.get("tool0:1")))
    return {
        "key_load": Stats.of([timed(vault.keys.load, KEY)[0] for _ in range(count)]),
        "sign": Stats.of([timed(signer.sign, data)[0] for _ in range(count)]),
    }


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
    """``toolvault/integrity.py:147 check_signatures``; built-ins keep pstats' own name."""
    if file == "~":
        return function.replace("cryptography.hazmat.bindings._rust.openssl.", "")
    parts = Path(file).parts
    short = "/".join(parts[parts.index("toolvault") :] if "toolvault" in parts else parts[-2:])
    return f"{short}:{line} {function}"


def run(sizes: Sizes, seed: int) -> Results:
    """Build the vault and measure every part."""
    started = time.perf_counter()
    results = Results(sizes)
    load_before = os.getloadavg()[0]
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="toolvault-bench-") as folder:
        tmp = Path(folder)
        with Vault.open(tmp / "home") as vault:
            versions = sizes.tools * sizes.versions
            progress(f"building {sizes.tools:,} tools x {sizes.versions} versions ({versions:,})")
            results.build_s = build_vault(vault, sizes, rng)
            history = vault.tree.history
            results.content_bytes = write_concatenated(vault, tmp / "all-blobs")
            results.file_bytes = version_files_bytes(history)
            floors = floor_commands(history, tmp / "all-blobs")
            bench_verify(vault, floors, sizes.verify_runs, results)
            progress("verify once more under cProfile")
            results.profile = profile(vault.verify)
            progress(f"publish x {sizes.publishes} unsigned and x {sizes.publishes} signed")
            results.timings.update(bench_signing(vault, sizes.publishes, rng))
            results.timings.update(bench_key_parts(vault, sizes.key_calls))
    results.total_s = time.perf_counter() - started
    results.load = (load_before, os.getloadavg()[0])
    return results


# -- reporting ----------------------------------------------------------------------------


def budgets(r: Results) -> list[Budget]:
    """Every budget of the run, each a median compared with a median."""
    t = r.timings
    ratio = t["verify"].median_us / t["floor_files"].median_us
    extra_ms = (t["publish_signed"].median_us - t["publish_unsigned"].median_us) / 1_000
    return [
        Budget(
            "verify_vs_floor", "verify / sha256sum files", "median", ratio, VERIFY_VS_FLOOR_MAX, "x"
        ),
        Budget("signing_extra", "signed - unsigned", "median", extra_ms, SIGNING_EXTRA_MS, "ms"),
    ]


def fmt_time(us: float, unit: str) -> str:
    """A duration in the row's unit."""
    if unit == "s":
        return f"{us / 1e6:,.2f} s"
    return f"{us / 1_000:,.2f} ms" if unit == "ms" else f"{us:,.1f} us"


def fmt_budget(b: Budget) -> str:
    """How a budget reads in the table."""
    limit = f"{b.limit:g}x" if b.unit == "x" else f"{b.limit:,g} {b.unit}"
    return f"{b.basis} < {limit}"


def stat_row(label: str, s: Stats, unit: str, rate: str = "") -> list[str]:
    """A measured row: median, best, p99 (blank for a handful of runs) and a rate."""
    p99 = fmt_time(s.p99_us, unit) if s.n >= 20 else ""
    cells = [label, f"{s.n:,}", fmt_time(s.median_us, unit), fmt_time(s.min_us, unit), p99]
    return [*cells, rate, "", ""]


def ratio_row(label: str, mine: Stats, base: Stats, budget: Budget | None) -> list[str]:
    """Medians and bests divided; the verdict is on the medians."""
    median = f"{mine.median_us / base.median_us:.2f}x"
    best = f"{mine.min_us / base.min_us:.2f}x"
    verdict = [fmt_budget(budget), budget.verdict] if budget else ["(information)", ""]
    return [f"  {label}", "", median, best, "", "", *verdict]


def rate(r: Results, s: Stats, versions: bool) -> str:
    """Versions and MB of content per second at the median."""
    seconds = s.median_us / 1e6
    mb = f"{r.content_bytes / 1e6 / seconds:,.1f} MB/s"
    return f"{r.checked.get('versions', 0) / seconds:,.0f} versions/s, {mb}" if versions else mb


def verify_rows(r: Results, by_key: dict[str, Budget]) -> Iterator[list[str]]:
    """Verify, its two floors and the ratios."""
    t = r.timings
    count = r.checked.get("versions", 0)
    yield stat_row(
        f"Vault.verify(), {count:,} versions", t["verify"], "s", rate(r, t["verify"], True)
    )
    files = f"sha256sum, {count:,} files (find | xargs -0)"
    yield stat_row(files, t["floor_files"], "s", rate(r, t["floor_files"], False))
    one = f"sha256sum, one file of every blob ({r.content_bytes / 1e6:,.1f} MB)"
    yield stat_row(one, t["floor_one_file"], "s", rate(r, t["floor_one_file"], False))
    yield ratio_row(
        "verify / sha256sum files", t["verify"], t["floor_files"], by_key["verify_vs_floor"]
    )
    yield ratio_row("verify / sha256sum one file", t["verify"], t["floor_one_file"], None)


def signing_rows(r: Results, by_key: dict[str, Budget]) -> Iterator[list[str]]:
    """Unsigned and signed one-version publishes, their difference and its parts."""
    t = r.timings
    yield stat_row("publish_many([1 version])", t["publish_unsigned"], "ms")
    yield stat_row(f"publish_many([1 version], sign_with={KEY!r})", t["publish_signed"], "ms")
    extra = by_key["signing_extra"]
    diff = ["  signed - unsigned", "", f"{extra.figure:,.2f} ms", "", "", ""]
    yield [*diff, fmt_budget(extra), extra.verdict]
    yield stat_row("  of which: keys.load(KEY), PEM from keys/", t["key_load"], "us")
    yield stat_row("  of which: Ed25519 sign of the payload", t["sign"], "us")


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to fit; text left, figures right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if i in (0, 5, 6, 7) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


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


def profile_lines(what: str, p: Profile, without_s: float) -> list[str]:
    """The profile section: the split of one function, then the two rankings."""
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


def render(r: Results) -> str:
    """The printed report: a heading, the table, the profile, the notes."""
    by_key = {b.key: b for b in budgets(r)}
    s, c = r.sizes, r.checked
    head = (
        f"toolvault verify: {s.tools:,} tools x {s.versions} versions; "
        f"{c.get('signatures', 0):,} signed, {c.get('audit_entries', 0):,} audit entries, "
        f"{r.content_bytes / 1e6:,.1f} MB of content "
        f"({r.file_bytes / 1e6:,.1f} MB in version files)\n"
        f"build {r.build_s:.1f} s (publish_many, {s.batch_tools:,} tools per call); "
        f"whole run {r.total_s:.1f} s; load average {r.load[0]:.1f} -> {r.load[1]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    rows = [["measure", "n", "median", "best", "p99", "rate", "budget", "verdict"]]
    rows += [*verify_rows(r, by_key), *signing_rows(r, by_key)]
    verify_s = r.timings["verify"].median_us / 1e6
    profiled = profile_lines("one verify", r.profile, verify_s) if r.profile else []
    notes = [f"note: {n}" for n in r.notes]
    return "\n".join([head, "", table(rows), "", *profiled, *(["", *notes] if notes else [])])


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    verify = r.timings["verify"]
    return {
        "sizes": asdict(r.sizes),
        "checked": r.checked,
        "content_bytes": r.content_bytes,
        "version_file_bytes": r.file_bytes,
        "build_seconds": round(r.build_s, 3),
        "total_seconds": round(r.total_s, 3),
        "load_average": [round(x, 2) for x in r.load],
        "cpus": os.cpu_count(),
        "timings": {k: asdict(v) for k, v in r.timings.items()},
        "verify_versions_per_second": round(r.checked.get("versions", 0) / verify.median_us * 1e6),
        "verify_mb_per_second": round(r.content_bytes / verify.median_us, 3),
        "budgets": [
            {**asdict(b), "figure": round(b.figure, 3), "verdict": b.verdict} for b in budgets(r)
        ],
        "profile": asdict(r.profile) if r.profile else None,
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 tools: a smoke run")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated scripts")
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.seed)
    print(render(results))
    if args.json:
        print(json.dumps(as_json(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
