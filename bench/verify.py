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
- the CPU time verify used in all its processes (less moved by a noisy machine than wall time);
- ``Vault.verify(workers=1)``, the same checks in this one process (information: verify
  shares a big SQLite vault's parts out among one process per CPU, and this shows what
  that gains);
- a cProfile of one single-process verify (a profile does not follow forked children):
  where verify's time goes, and the top functions by cumulative and by own time.

``bench/packs.py`` reuses the generated scripts of this module; the statistics, the table
and the profile helpers of both are in ``bench/benchlib.py``.

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/verify.py [--quick] [--json]
"""

from __future__ import annotations

import functools
import os
import random
import resource
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from toolvault import NewVersion, Vault
from toolvault.service import verifying as vault_module

KEY = "bench"
SIGN_EVERY = 10  # one publish_many batch in ten is signed: 10% of the versions
VERIFY_VS_FLOOR_MAX = 3.0
SIGNING_EXTRA_MS = 1.0
WARMUP_CALLS = 10

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
    verify_runs: int = 5
    publishes: int = 300  # of each kind, unsigned and signed
    key_calls: int = 1_000


FULL = Sizes()
QUICK = Sizes(tools=1_000, batch_tools=100, publishes=60, key_calls=200)


@dataclass(slots=True)
class Results:
    """Everything one run measured."""

    sizes: Sizes
    build_s: float = 0.0
    checked: dict[str, int] = field(default_factory=dict)
    content_bytes: int = 0
    file_bytes: int = 0
    timings: dict[str, benchlib.Stats] = field(default_factory=dict)
    profile: benchlib.Profile | None = None
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end


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
    samples: dict[str, list[int]] = {
        "verify": [],
        "verify_cpu": [],
        "verify_serial": [],
        **{k: [] for k in floors},
    }
    for command in floors.values():
        benchlib.shell_ns(command)  # fills the page cache, as building did for verify
    for run in range(1, runs + 1):
        benchlib.progress(f"verify run {run} of {runs}, in one process, then the sha256sum floors")
        cpu_before = cpu_ns()
        elapsed, report = benchlib.timed(vault.verify)
        samples["verify"].append(elapsed)
        samples["verify_cpu"].append(cpu_ns() - cpu_before)
        samples["verify_serial"].append(benchlib.timed(vault.verify, workers=1)[0])
        for key, command in floors.items():
            samples[key].append(benchlib.shell_ns(command))
    if report.problems:
        first = report.problems[0]
        r.notes.append(f"verify found {len(report.problems)} problems, first: {first}")
    r.checked = dict(report.checked)
    cpus = len(os.sched_getaffinity(0))
    r.notes.append(
        f"verify ran in {min(cpus, vault_module.MAX_WORKERS)} processes ({cpus} CPUs available)"
    )
    r.timings.update({k: benchlib.Stats.of(v) for k, v in samples.items()})


def cpu_ns() -> int:
    """CPU time so far of this process and of its ended children (verify's parts)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    seconds = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return int(seconds * 1e9)


def bench_signing(vault: Vault, count: int, rng: random.Random) -> dict[str, benchlib.Stats]:
    """One-version publishes, unsigned and signed in turn, on the same tools."""
    samples: dict[str, list[int]] = {"publish_unsigned": [], "publish_signed": []}
    for i in range(count + WARMUP_CALLS):
        name = f"late{i % 50}"
        plain = NewVersion(name, script(rng, name, 2 * i + 1_000))
        signed = NewVersion(name, script(rng, name, 2 * i + 1_001))
        calls = [("publish_unsigned", plain, None), ("publish_signed", signed, KEY)]
        for key, item, sign_with in calls if i % 2 else calls[::-1]:  # neither always first
            elapsed = benchlib.timed(vault.publish_many, [item], sign_with=sign_with)[0]
            if i >= WARMUP_CALLS:
                samples[key].append(elapsed)
    return {k: benchlib.Stats.of(v) for k, v in samples.items()}


def bench_key_parts(vault: Vault, count: int) -> dict[str, benchlib.Stats]:
    """What a signed publish adds, taken apart: loading the key, and signing a payload."""
    from toolvault.signing import payload, version_fields

    signer = vault.keys.load(KEY)
    data = payload(version_fields(vault.get("tool0:1")))
    return {
        "key_load": benchlib.Stats.of(
            [benchlib.timed(vault.keys.load, KEY)[0] for _ in range(count)]
        ),
        "sign": benchlib.Stats.of([benchlib.timed(signer.sign, data)[0] for _ in range(count)]),
    }


def run(sizes: Sizes, seed: int) -> Results:
    """Build the vault and measure every part."""
    results = Results(sizes)
    rng = random.Random(seed)
    with benchlib.whole_run(results) as tmp, Vault.open(tmp / "home") as vault:
        versions = sizes.tools * sizes.versions
        benchlib.progress(
            f"building {sizes.tools:,} tools x {sizes.versions} versions ({versions:,})"
        )
        results.build_s = build_vault(vault, sizes, rng)
        benchlib.settle()
        history = vault.tree.history
        results.content_bytes = write_concatenated(vault, tmp / "all-blobs")
        results.file_bytes = version_files_bytes(history)
        floors = floor_commands(history, tmp / "all-blobs")
        bench_verify(vault, floors, sizes.verify_runs, results)
        benchlib.progress("verify once more under cProfile")
        results.profile = benchlib.profile(functools.partial(vault.verify, workers=1))
        benchlib.progress(f"publish x {sizes.publishes} unsigned and x {sizes.publishes} signed")
        results.timings.update(bench_signing(vault, sizes.publishes, rng))
        results.timings.update(bench_key_parts(vault, sizes.key_calls))
    return results


# -- reporting ----------------------------------------------------------------------------


def budgets(r: Results) -> list[benchlib.Budget]:
    """Every budget of the run, each a median compared with a median."""
    t = r.timings
    ratio = t["verify"].median_us / t["floor_files"].median_us
    extra_ms = (t["publish_signed"].median_us - t["publish_unsigned"].median_us) / 1_000
    return [
        benchlib.Budget(
            "verify_vs_floor",
            "verify / sha256sum files",
            ratio,
            VERIFY_VS_FLOOR_MAX,
            "x",
            basis="median",
        ),
        benchlib.Budget(
            "signing_extra", "signed - unsigned", extra_ms, SIGNING_EXTRA_MS, "ms", basis="median"
        ),
    ]


def rate(r: Results, s: benchlib.Stats, versions: bool) -> str:
    """Versions and MB of content per second at the median."""
    seconds = s.median_us / 1e6
    mb = f"{r.content_bytes / 1e6 / seconds:,.1f} MB/s"
    return f"{r.checked.get('versions', 0) / seconds:,.0f} versions/s, {mb}" if versions else mb


def verify_rows(r: Results, by_key: dict[str, benchlib.Budget]) -> Iterator[list[str]]:
    """Verify, its two floors and the ratios."""
    t = r.timings
    count = r.checked.get("versions", 0)
    yield benchlib.stat_row(
        f"Vault.verify(), {count:,} versions", t["verify"], "s", rate(r, t["verify"], True)
    )
    files = f"sha256sum, {count:,} files (find | xargs -0)"
    cpu = "  CPU time of Vault.verify(), all its processes"
    yield benchlib.stat_row(
        cpu, t["verify_cpu"], "s", "(information: what noise does not move much)"
    )
    serial = f"Vault.verify(workers=1), {count:,} versions"
    yield benchlib.stat_row(serial, t["verify_serial"], "s", rate(r, t["verify_serial"], True))
    yield benchlib.stat_row(files, t["floor_files"], "s", rate(r, t["floor_files"], False))
    one = f"sha256sum, one file of every blob ({r.content_bytes / 1e6:,.1f} MB)"
    yield benchlib.stat_row(one, t["floor_one_file"], "s", rate(r, t["floor_one_file"], False))
    yield benchlib.ratio_row(
        "verify / sha256sum files", t["verify"], t["floor_files"], by_key["verify_vs_floor"]
    )
    yield benchlib.ratio_row("verify / sha256sum one file", t["verify"], t["floor_one_file"], None)


def signing_rows(r: Results, by_key: dict[str, benchlib.Budget]) -> Iterator[list[str]]:
    """Unsigned and signed one-version publishes, their difference and its parts."""
    t = r.timings
    yield benchlib.stat_row("publish_many([1 version])", t["publish_unsigned"], "ms")
    yield benchlib.stat_row(
        f"publish_many([1 version], sign_with={KEY!r})", t["publish_signed"], "ms"
    )
    extra = by_key["signing_extra"]
    diff = ["  signed - unsigned", "", f"{extra.figure:,.2f} ms", "", "", ""]
    yield [*diff, extra.describe(), extra.verdict]
    yield benchlib.stat_row("  of which: keys.load(KEY), PEM from keys/", t["key_load"], "us")
    yield benchlib.stat_row("  of which: Ed25519 sign of the payload", t["sign"], "us")


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
        f"whole run {r.total_s:.1f} s; {benchlib.load_text(r)}"
    )
    rows = [*verify_rows(r, by_key), *signing_rows(r, by_key)]
    verify_s = r.timings["verify_serial"].median_us / 1e6
    profiled = benchlib.profile_lines("one verify in one process", r.profile, verify_s)
    return benchlib.page(head, [benchlib.stats_table(rows), "", *profiled], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    verify = r.timings["verify"]
    return {
        "sizes": asdict(r.sizes),
        "checked": r.checked,
        "content_bytes": r.content_bytes,
        "version_file_bytes": r.file_bytes,
        "build_seconds": round(r.build_s, 3),
        **benchlib.run_json(r),
        "timings": {k: asdict(v) for k, v in r.timings.items()},
        "verify_versions_per_second": round(r.checked.get("versions", 0) / verify.median_us * 1e6),
        "verify_mb_per_second": round(r.content_bytes / verify.median_us, 3),
        "budgets": [b.as_json() for b in budgets(r)],
        "profile": asdict(r.profile) if r.profile else None,
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    parser = benchlib.arguments(
        __doc__, "1,000 tools: a smoke run", seed="seed of the generated scripts"
    )
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.seed)
    return benchlib.finish(results, render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
