"""Packs benchmark: pack export and import against ``tar``, git history against ``git log``.

Builds, in a temporary folder, a vault of TOOLS tools with 1 to 5 versions each (a seeded
random count; small generated shell scripts), then prints one table:

- ``packs.export(vault, [], pack_name=…)`` of every version to a ``.tar.gz`` file, next to
  ``tar czf`` of the same files (the pack's members, extracted to a folder first);
- ``ingest_path`` of that pack into an empty vault, next to ``tar xzf`` of the same files.
  A pack this big is over the default ``[packs]`` limits (10,000 members, 64 MiB unpacked):
  the refusal is printed, and the import runs use an empty vault whose ``config.toml``
  raises those limits, as a restore of a whole-vault backup would;
- ``ingest_git(vault, repo, history=True)`` of a generated repository (``git fast-import``:
  20 tool files, each commit changing 1 to 3 of them), next to ``git log -p`` over it;
- a cProfile of one whole import: where ``ingest._pack`` and ``pack_import.import_pack`` spend
  their time, and the top functions by cumulative and by own time.

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/packs.py [--quick] [--json]
"""

from __future__ import annotations

import gzip
import io
import os
import random
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import benchlib
from toolvault import NewVersion, Vault
from toolvault.errors import ToolvaultError
from toolvault.sources import packs
from toolvault.sources.ingest import ingest_git, ingest_path
from verify import HEADER, script

IMPORT_VS_TAR_MAX = 4.0
GIT_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: commits are an hour apart from here
HEAD_LINES = HEADER.count("\n")  # a script's fixed head; edits touch the lines after it
MAX_LINES = 40
AUTHORS = ("Ada Lovelace <ada@example.com>", "Alan Turing <alan@example.com>")


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the vault and the repository are and how many times each thing is run."""

    tools: int = 10_000
    max_versions: int = 5
    batch_tools: int = 1_000  # tools per publish_many call, all their versions at once
    runs: int = 3
    git_commits: int = 2_000
    git_tools: int = 20


FULL = Sizes()
QUICK = Sizes(tools=300, batch_tools=150, runs=2, git_commits=200)


@dataclass(frozen=True, slots=True)
class PackShape:
    """What the import limits look at in a pack."""

    packed: int
    unpacked: int
    members: int
    manifest: int


@dataclass(slots=True)
class Results:
    """Everything one run measured."""

    sizes: Sizes
    build_s: float = 0.0
    versions: int = 0
    shape: PackShape | None = None
    refused: str | None = None  # why the whole pack was refused under the default limits
    config: str = ""  # the config.toml the import runs used instead
    commits: int = 0
    git_versions: int = 0
    git_log_bytes: int = 0
    timings: dict[str, benchlib.Stats] = field(default_factory=dict)
    profile: benchlib.Profile | None = None
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end


# -- building -----------------------------------------------------------------------------


def build_vault(vault: Vault, sizes: Sizes, rng: random.Random) -> dict[str, int]:
    """Publish every tool with its 1..max versions in large batches; the count by tool."""
    counts = {f"tool{i:05d}": rng.randint(1, sizes.max_versions) for i in range(sizes.tools)}
    names = list(counts)
    for first in range(0, len(names), sizes.batch_tools):
        batch = names[first : first + sizes.batch_tools]
        vault.publish_many(
            NewVersion(n, script(rng, n, v)) for n in batch for v in range(1, counts[n] + 1)
        )
    return counts


def pack_shape(data: bytes) -> PackShape:
    """Sizes of a pack as the import limits see them."""
    raw = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        members = tar.getmembers()
    manifest = next(m.size for m in members if m.name == packs.MANIFEST)
    return PackShape(len(data), len(raw), len(members), manifest)


def export_to(vault: Vault, selection: Sequence[str], name: str, path: Path) -> int:
    """Export a pack and write it to ``path``; returns nanoseconds for both."""
    start = time.perf_counter_ns()
    data, _number = packs.export(vault, selection, pack_name=name)
    path.write_bytes(data)
    return time.perf_counter_ns() - start


def git_stream(sizes: Sizes, rng: random.Random) -> tuple[bytes, int]:
    """A ``git fast-import`` stream: one commit adding every tool file, then commits that
    each change 1 to 3 of them. Returns the stream and how many versions it makes."""
    names = [f"gtool{i:02d}" for i in range(sizes.git_tools)]
    files = {name: script(rng, name, 1).splitlines() for name in names}
    out = io.BytesIO()
    versions = 0
    for number in range(1, sizes.git_commits + 1):
        changed = names if number == 1 else rng.sample(names, rng.randint(1, 3))
        if number > 1:
            for name in changed:
                files[name] = edited(files[name], name, number, rng)
        versions += len(changed)
        out.write(commit_block(number, changed, files, rng))
    return out.getvalue(), versions


def edited(lines: list[bytes], name: str, number: int, rng: random.Random) -> list[bytes]:
    """A tool file after one commit: its revision line rewritten, and one body line
    added, replaced or (past MAX_LINES) removed."""
    new = list(lines)
    new[1] = f"# {name}: revision {number}".encode()  # every change is a real change
    body = script(rng, name, number).splitlines()[-1]
    if len(new) > MAX_LINES:
        del new[rng.randrange(HEAD_LINES, len(new))]
    elif len(new) <= HEAD_LINES or rng.random() < 0.5:
        new.append(body)
    else:
        new[rng.randrange(HEAD_LINES, len(new))] = body
    return new


def commit_block(
    number: int, changed: list[str], files: dict[str, list[bytes]], rng: random.Random
) -> bytes:
    """One commit of the fast-import stream, its files given inline."""
    who = f"{rng.choice(AUTHORS)} {GIT_EPOCH + 3_600 * number} +0000"
    message = f"change {', '.join(changed)} (commit {number})\n".encode()
    parts = [f"commit refs/heads/main\nauthor {who}\ncommitter {who}\n".encode(), data(message)]
    for name in changed:
        content = b"\n".join(files[name]) + b"\n"
        parts += [f"M 100755 inline tools/{name}.sh\n".encode(), data(content)]
    return b"".join(parts) + b"\n"


def data(payload: bytes) -> bytes:
    """A fast-import ``data`` command with its exact byte count."""
    return f"data {len(payload)}\n".encode() + payload + b"\n"


def make_repo(path: Path, stream: bytes) -> None:
    """A bare repository holding the stream's history on ``main``."""
    env = git_env()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], env=env, check=True)
    subprocess.run(
        ["git", "--git-dir", str(path), "fast-import", "--quiet"],
        input=stream,
        env=env,
        check=True,
        capture_output=True,
    )


def git_env() -> dict[str, str]:
    """git without the user's or the system's configuration, as toolvault runs it."""
    return {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


# -- the parts ----------------------------------------------------------------------------


def fresh_home(home: Path, config: str) -> Path:
    """An empty folder for a vault, with ``config.toml`` when the import needs one."""
    home.mkdir()
    if config:
        (home / "config.toml").write_text(config)
    return home


def import_into(home: Path, pack: Path, config: str) -> int:
    """Ingest the pack into a new vault at ``home``; returns the versions it added."""
    with Vault.open(fresh_home(home, config)) as vault:
        return len(ingest_path(vault, str(pack)).added)


def refusal(pack: Path, home: Path, config: str) -> str | None:
    """Why ``ingest_path`` refuses the pack, or None when it imports it."""
    try:
        import_into(home, pack, config)
    except ToolvaultError as exc:
        return str(exc)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return None


def raised_limits(shape: PackShape) -> str:
    """A ``config.toml`` whose ``[packs]`` limits let this pack in (a whole-vault backup)."""
    return (
        f"[packs]\nmax_members = {2 * shape.members}\nmax_unpacked_bytes = {2 * shape.unpacked}\n"
    )


def plan_import(pack: Path, shape: PackShape, tmp: Path, r: Results) -> str | None:
    """The ``config.toml`` an import run needs: "" for none, None when nothing imports it."""
    benchlib.progress("trying to import the whole pack with the default limits")
    r.refused = refusal(pack, tmp / "trial", "")
    if r.refused is None:
        return ""
    benchlib.progress("refused; trying again with the [packs] limits raised in config.toml")
    config = raised_limits(shape)
    again = refusal(pack, tmp / "trial", config)
    if again is not None:
        r.notes.append(f"import not measured: refused even with raised limits: {again}")
        return None
    r.config = config
    return config


def bench_packs(vault: Vault, tmp: Path, r: Results) -> None:
    """Export, import and both tar floors, interleaved run by run."""
    pack, files = tmp / "bench.tar.gz", tmp / "files"
    export_to(vault, [], "bench", pack)
    r.shape = pack_shape(pack.read_bytes())
    files.mkdir()
    benchlib.shell_ns(f"tar xzf {shlex.quote(str(pack))} -C {shlex.quote(str(files))}")
    config = plan_import(pack, r.shape, tmp, r)
    benchlib.settle()
    samples: dict[str, list[int]] = {k: [] for k in ("export", "tar_c", "import", "tar_x")}
    for run in range(1, r.sizes.runs + 1):
        benchlib.progress(f"run {run} of {r.sizes.runs}: export, tar czf, import, tar xzf")
        samples["export"].append(export_to(vault, [], "bench", pack))
        samples["tar_c"].append(tar_create(files, tmp / "floor.tar.gz"))
        samples["tar_x"].append(tar_extract(tmp / "floor.tar.gz", tmp / "extracted"))
        if config is not None:
            elapsed, added = benchlib.timed(import_into, tmp / "imported", pack, config)
            samples["import"].append(elapsed)
            shutil.rmtree(tmp / "imported")
            if added != r.versions:
                r.notes.append(f"import run {run} added {added:,} versions, not {r.versions:,}")
    r.timings.update({k: benchlib.Stats.of(v) for k, v in samples.items() if v})
    if config is not None:
        benchlib.progress("one more import under cProfile")
        whole = partial(import_into, tmp / "profiled", pack, config)
        r.profile = benchlib.profile(whole, ["_pack", "import_pack"])


def tar_create(folder: Path, archive: Path) -> int:
    """Nanoseconds of ``tar czf`` of a folder's contents."""
    return benchlib.shell_ns(f"tar czf {shlex.quote(str(archive))} -C {shlex.quote(str(folder))} .")


def tar_extract(archive: Path, folder: Path) -> int:
    """Nanoseconds of ``tar xzf`` into a new folder (removed afterwards, untimed)."""
    folder.mkdir()
    try:
        return benchlib.shell_ns(
            f"tar xzf {shlex.quote(str(archive))} -C {shlex.quote(str(folder))}"
        )
    finally:
        shutil.rmtree(folder)


def bench_git(tmp: Path, r: Results, rng: random.Random) -> None:
    """``ingest_git --history`` of a generated repository against ``git log -p``."""
    if shutil.which("git") is None:
        r.notes.append("git is not installed: the history import was not measured")
        return
    repo = tmp / "repo.git"
    stream, expected = git_stream(r.sizes, rng)
    benchlib.progress(f"git fast-import of {r.sizes.git_commits:,} commits")
    make_repo(repo, stream)
    r.commits = r.sizes.git_commits
    samples: dict[str, list[int]] = {"git_import": [], "git_log": []}
    for run in range(1, r.sizes.runs + 1):
        benchlib.progress(f"run {run} of {r.sizes.runs}: ingest_git --history, git log -p")
        with Vault.open(tmp / f"git{run}") as vault:
            elapsed, summary = benchlib.timed(ingest_git, vault, str(repo), history=True)
        samples["git_import"].append(elapsed)
        r.git_versions = len(summary.added)
        elapsed, r.git_log_bytes = benchlib.timed(git_log, repo)
        samples["git_log"].append(elapsed)
    if r.git_versions != expected:
        r.notes.append(f"ingest_git added {r.git_versions:,} versions, not {expected:,}")
    r.timings.update({k: benchlib.Stats.of(v) for k, v in samples.items()})


def git_log(repo: Path) -> int:
    """``git log -p`` over the repository, read through a pipe; returns its size."""
    done = subprocess.run(
        ["git", "--git-dir", str(repo), "log", "-p"],
        env=git_env(),
        capture_output=True,
        check=True,
    )
    return len(done.stdout)


def run(sizes: Sizes, seed: int) -> Results:
    """Build the vault and the repository and measure every part."""
    results = Results(sizes)
    rng = random.Random(seed)
    with benchlib.whole_run(results) as tmp:
        with Vault.open(tmp / "home") as vault:
            benchlib.progress(
                f"building {sizes.tools:,} tools with 1 to {sizes.max_versions} versions"
            )
            elapsed, counts = benchlib.timed(build_vault, vault, sizes, rng)
            results.build_s, results.versions = elapsed / 1e9, sum(counts.values())
            bench_packs(vault, tmp, results)
        bench_git(tmp, results, rng)
    return results


# -- reporting ----------------------------------------------------------------------------


def budgets(r: Results) -> list[benchlib.Budget]:
    """The import budget, a median compared with a median (none when it was not measured)."""
    t = r.timings
    if "import" not in t:
        return []
    ratio = t["import"].median_us / t["tar_x"].median_us
    return [
        benchlib.Budget(
            "import_vs_tar", "import / tar xzf", ratio, IMPORT_VS_TAR_MAX, "x", basis="median"
        )
    ]


def rate(count: int, s: benchlib.Stats, what: str) -> str:
    """Things per second at the median."""
    return f"{count / (s.median_us / 1e6):,.0f} {what}/s"


def pack_rows(r: Results) -> Iterator[list[str]]:
    """Export and import with their tar floors."""
    t, n = r.timings, r.versions
    export = f"packs.export, all {r.sizes.tools:,} tools -> file"
    yield benchlib.stat_row(export, t["export"], "s", rate(n, t["export"], "versions"))
    tar_c = f"tar czf of the same files ({n:,} versions)"
    yield benchlib.stat_row(tar_c, t["tar_c"], "s", rate(n, t["tar_c"], "files"))
    yield benchlib.ratio_row("export / tar czf", t["export"], t["tar_c"], None)
    if "import" in t:
        into = "an empty vault" + (", [packs] limits raised" if r.config else "")
        yield benchlib.stat_row(
            f"ingest_path of the pack into {into}",
            t["import"],
            "s",
            rate(n, t["import"], "versions"),
        )
    yield benchlib.stat_row(
        "tar xzf of the same files", t["tar_x"], "s", rate(n, t["tar_x"], "files")
    )
    for budget in budgets(r):
        yield benchlib.ratio_row("import / tar xzf", t["import"], t["tar_x"], budget)


def git_rows(r: Results) -> Iterator[list[str]]:
    """The git history import and its floor (none when git is missing)."""
    t = r.timings
    if "git_import" not in t:
        return
    git = t["git_import"]
    both = f"{rate(r.git_versions, git, 'versions')}, {rate(r.commits, git, 'commits')}"
    label = f"ingest_git --history, {r.commits:,} commits -> {r.git_versions:,} versions"
    yield benchlib.stat_row(label, git, "s", both)
    log = f"git log -p, same repository ({r.git_log_bytes / 1e6:,.1f} MB out)"
    yield benchlib.stat_row(log, t["git_log"], "s", rate(r.commits, t["git_log"], "commits"))
    yield benchlib.ratio_row("git import / git log -p", git, t["git_log"], None)


def heading(r: Results) -> str:
    """What was built, how the pack looks to the import limits, and what the import needed."""
    s, shape = r.sizes, r.shape
    lines = [
        f"toolvault packs: {s.tools:,} tools with 1 to {s.max_versions} versions "
        f"({r.versions:,} versions); git repository of {r.commits:,} commits, {s.git_tools} tools",
        f"build {r.build_s:.1f} s; whole run {r.total_s:.1f} s; {benchlib.load_text(r)}",
    ]
    if shape:
        lines.append(
            f"pack: {shape.packed / 1e6:,.1f} MB, {shape.unpacked / 1e6:,.1f} MB unpacked, "
            f"{shape.members:,} members, toolpack.json {shape.manifest / 1e6:,.1f} MB"
        )
    if r.refused:
        lines.append(f"with the default limits ingest_path REFUSES it: {r.refused}")
    if r.config:
        limits = ", ".join(r.config.splitlines()[1:])
        lines.append(f"so each import run's empty vault has a config.toml with [packs] {limits}")
    return "\n".join(lines)


def render(r: Results) -> str:
    """The printed report: a heading, the table, the profile, the notes."""
    rows = [*pack_rows(r), *git_rows(r)]
    imported = r.timings.get("import")
    without = imported.median_us / 1e6 if imported else 0.0
    profiled = benchlib.profile_lines("one pack import", r.profile, without)
    return benchlib.page(heading(r), [benchlib.stats_table(rows), "", *profiled], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    return {
        "sizes": asdict(r.sizes),
        "versions": r.versions,
        "pack": asdict(r.shape) if r.shape else None,
        "whole_pack_refused": r.refused,
        "import_config": r.config,
        "git_commits": r.commits,
        "git_versions": r.git_versions,
        "git_log_bytes": r.git_log_bytes,
        "build_seconds": round(r.build_s, 3),
        **benchlib.run_json(r),
        "timings": {k: asdict(v) for k, v in r.timings.items()},
        "budgets": [b.as_json() for b in budgets(r)],
        "profile": asdict(r.profile) if r.profile else None,
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    quick = "300 tools, 200 commits: a smoke run"
    parser = benchlib.arguments(__doc__, quick, seed="seed of the generated content")
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.seed)
    return benchlib.finish(results, render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
