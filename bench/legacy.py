"""Legacy-migration benchmark: migrate-legacy against the time to merely read its source.

Builds, in a temporary folder:

- a Port42 home of TOOLS tools and OBJECTS objects (each object with its metadata file;
  each tool declared by Tool relations, one in ten with its newest content reachable only
  through its commands/ symlink), migrated with ``--fold enhanced``;
- a Tools-DB whose ``tools`` table has ROWS rows (name, code and the upgrade's columns).

For each it times the floor — reading every source file once (relations, objects and
metadata read, symlinks resolved; the whole ``tools`` table selected) — then the full
migration into an empty vault (read, plan, one transaction, the commands/ tree), then a
second run (which must add nothing), and reports items per second and the ratio to the floor.

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/legacy.py [--quick] [--json]
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import benchlib
from toolvault import Vault, legacy

T = TypeVar("T")

VS_FLOOR_MAX = 5.0
SYMLINK_ONLY_EVERY = 10  # one tool in ten: its newest content has no relation
ENHANCED_EVERY = 25  # one tool in 25 has a NAME-enhanced variant, folded into NAME

SCRIPT = """#!/usr/bin/env python3
# {name}, revision {rev}: a generated tool for the toolvault legacy-migration benchmark.
import sys


def main() -> int:
    for path in sys.argv[1:]:
        with open(path) as fh:
            print("{name} r{rev}:", path, sum(1 for _ in fh))
    return 0


if __name__ == "__main__":
    sys.exit(main())
"""


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big the generated sources are."""

    tools: int = 5_000
    objects: int = 20_000
    rows: int = 50_000


FULL = Sizes()
QUICK = Sizes(tools=500, objects=2_000, rows=5_000)


@dataclass(slots=True)
class Part:
    """One source: its floor, its migration and its second run, in seconds."""

    source: str
    items: int
    files: int
    build_s: float = 0.0
    floor_s: float = 0.0
    migrate_s: float = 0.0
    read_s: float = 0.0  # of migrate_s: reading and parsing the source
    tree_s: float = 0.0  # of migrate_s: writing the commands/ tree after the commit
    again_s: float = 0.0
    added: int = 0
    again_added: int = -1
    skipped: int = 0

    @property
    def ratio(self) -> float:
        """Migration time over the floor."""
        return self.migrate_s / self.floor_s if self.floor_s else float("inf")

    @property
    def verdict(self) -> str:
        """PASS within the budget, OVER past it."""
        return benchlib.verdict_of(self.ratio, VS_FLOOR_MAX)


@dataclass(slots=True)
class Results:
    """Everything one run measured."""

    sizes: Sizes
    parts: list[Part] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def seconds(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds of one call, and what it returned."""
    elapsed, value = benchlib.timed(call)
    return elapsed / 1e9, value


# -- building -----------------------------------------------------------------------------


def stamp(n: int) -> str:
    """A distinct Go-style timestamp per object: minutes after a fixed start."""
    day, minute = divmod(n, 24 * 60)
    return f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"


def put_object(root: Path, text: str, created: str, agent: str) -> str:
    """Store content as Port42 does: objects/ab/cd/<rest>, plus metadata/<hash>.json."""
    data = text.encode()
    ident = hashlib.sha256(data).hexdigest()
    folder = root / "objects" / ident[:2] / ident[2:4]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ident[4:]).write_bytes(data)
    meta = {"id": ident, "type": "command", "created": created, "modified": created,
            "agent": agent, "paths": [], "usage_count": 0}  # fmt: skip
    (root / "metadata" / f"{ident}.json").write_text(json.dumps(meta, indent=2))
    return ident


def put_relation(root: Path, rid: str, name: str, ident: str, created: str) -> None:
    """A Tool relation as Port42's FileRelationStore writes it."""
    doc = {
        "id": rid,
        "type": "Tool",
        "properties": {
            "name": name,
            "executable_id": ident,
            "agent": "@ai-engineer",
            "memory_session": f"cli-{rid}",
            "user_prompt": f"make {name} better",
            "transforms": ["python", "file"],
            "references": [f"p42:/commands/{name}"] if rid.endswith("-2") else [],
        },
        "created_at": created,
        "updated_at": created,
    }
    (root / "relations" / f"relation-{rid}.json").write_text(json.dumps(doc, indent=2))


def build_port42(root: Path, sizes: Sizes) -> int:
    """TOOLS tools sharing OBJECTS objects; returns how many items a migration should add."""
    for folder in ("objects", "metadata", "relations", "commands"):
        (root / folder).mkdir(parents=True)
    per_tool = sizes.objects // sizes.tools
    n = 0
    for t in range(sizes.tools):
        base = f"tool{t:05d}"
        ident = ""
        for rev in range(per_tool):
            name = f"{base}-enhanced" if rev == 1 and t % ENHANCED_EVERY == 0 else base
            created = stamp(n)
            ident = put_object(root, SCRIPT.format(name=base, rev=rev), created, "@ai-engineer")
            symlink_only = rev == per_tool - 1 and t % SYMLINK_ONLY_EVERY == 0
            if not symlink_only:
                put_relation(root, f"tool-{name}-{rev}", name, ident, created)
            n += 1
        target = root / "objects" / ident[:2] / ident[2:4] / ident[4:]
        (root / "commands" / base).symlink_to(os.path.relpath(target, root / "commands"))
    return n


def build_tools_db(path: Path, rows: int) -> int:
    """A ``tools`` table of ROWS rows, one tool each, half with the upgrade's columns."""
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE tools (id INTEGER PRIMARY KEY, name TEXT, code TEXT, description TEXT,"
            " created_at TEXT, owner TEXT, version INTEGER, signature TEXT)"
        )

        def row(i: int) -> tuple[Any, ...]:
            text = SCRIPT.format(name=f"t{i:06d}", rev=1)
            if i % 2:
                return (f"t{i:06d}", text, None, None, None, None, None)
            sig = hashlib.sha256(text.encode()).hexdigest()
            return (f"t{i:06d}", text, f"tool {i}", stamp(i), "core", 1, sig)

        db.executemany(
            "INSERT INTO tools (name, code, description, created_at, owner, version, signature)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row(i) for i in range(rows)),
        )
        db.commit()
    return rows


# -- floors -------------------------------------------------------------------------------


def read_port42_floor(root: Path) -> int:
    """Read every source file once: relations, objects, metadata; resolve every symlink."""
    files = 0
    for folder in ("relations", "metadata", "objects"):
        for dirpath, _, names in os.walk(root / folder):
            for name in names:
                with open(os.path.join(dirpath, name), "rb") as fh:
                    fh.read()
                files += 1
    for name in os.listdir(root / "commands"):
        os.path.realpath(root / "commands" / name)
        files += 1
    return files


def read_tools_db_floor(path: Path) -> int:
    """Select the whole table through a read-only connection."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return len(db.execute("SELECT rowid, * FROM tools").fetchall())


# -- the parts ----------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """One migration's outcome and where its time went."""

    summary: Any = None
    read_s: float = 0.0
    tree_s: float = 0.0


def migrate_once(home: Path, read: Callable[[], legacy.Source], folds: Sequence[str]) -> Run:
    """One whole migration as the command runs it: read, fold, plan, write, tree."""
    run = Run()
    with Vault.open(home) as vault:
        refresh = vault.refresh_tree

        def timed_refresh(*args: Any, **kwargs: Any) -> None:
            run.tree_s += seconds(lambda: refresh(*args, **kwargs))[0]

        vault.refresh_tree = timed_refresh  # type: ignore[method-assign]
        run.read_s, source = seconds(read)
        legacy.fold_names(source, folds)
        run.summary = legacy.migrate(vault, source)
    return run


def measure(part: Part, home: Path, floor: Callable[[], int], read: Callable[[], legacy.Source],
            folds: Sequence[str] = ()) -> None:  # fmt: skip
    """Floor, migration, floor again (the smaller floor counts), second run."""
    first, _ = seconds(floor)
    part.migrate_s, done = seconds(lambda: migrate_once(home, read, folds))
    second, _ = seconds(floor)
    part.floor_s = min(first, second)
    part.read_s, part.tree_s = done.read_s, done.tree_s
    part.added, part.skipped = len(done.summary.plan.new), len(done.summary.source.skipped)
    part.again_s, again = seconds(lambda: migrate_once(home, read, folds))
    part.again_added = len(again.summary.plan.new)


def run(sizes: Sizes) -> Results:
    """Build both sources and measure both migrations."""
    results = Results(sizes)
    with benchlib.whole_run(results, prefix="toolvault-bench-legacy-") as tmp:
        root = tmp / ".port42"
        benchlib.progress(
            f"building a Port42 home: {sizes.tools:,} tools, {sizes.objects:,} objects"
        )
        build_s, items = seconds(lambda: build_port42(root, sizes))
        p42 = Part("port42", items, 0, build_s)
        p42.files = read_port42_floor(root)
        benchlib.settle()
        benchlib.progress("migrating it (floor, migration, floor, second run)")
        measure(p42, tmp / "home-p42", lambda: read_port42_floor(root),
                lambda: legacy.read_port42(root), ["enhanced"])  # fmt: skip
        results.parts.append(p42)
        db = tmp / "tools.db"
        benchlib.progress(f"building a Tools-DB of {sizes.rows:,} rows")
        build_s, rows = seconds(lambda: build_tools_db(db, sizes.rows))
        tdb = Part("tools-db", rows, 1, build_s)
        benchlib.settle()
        benchlib.progress("migrating it (floor, migration, floor, second run)")
        measure(tdb, tmp / "home-tdb", lambda: read_tools_db_floor(db),
                lambda: legacy.read_tools_db(db))  # fmt: skip
        results.parts.append(tdb)
    for part in results.parts:
        if part.added != part.items or part.again_added != 0:
            results.notes.append(
                f"{part.source}: added {part.added} of {part.items} items, "
                f"then {part.again_added} on the second run (expected {part.items}, then 0)"
            )
    return results


# -- reporting ----------------------------------------------------------------------------


def rows_of(p: Part) -> list[list[str]]:
    """Table rows of one source."""
    label = {"port42": "Port42 home", "tools-db": "Tools-DB"}[p.source]
    rate = p.items / p.migrate_s if p.migrate_s else 0.0
    return [
        [f"{label}: read every source file (floor)", f"{p.files:,} files", f"{p.floor_s:,.2f} s",
         f"{p.items / p.floor_s:,.0f} items/s" if p.floor_s else "-", "", "", ""],
        [f"{label}: migrate-legacy (read, plan, write, tree)", f"{p.items:,} items",
         f"{p.migrate_s:,.2f} s", f"{rate:,.0f} items/s", f"{p.ratio:.2f}x",
         f"< {VS_FLOOR_MAX:g}x floor", p.verdict],
        ["  of which: read and parse the source", "", f"{p.read_s:,.2f} s", "",
         f"{p.read_s / p.floor_s:.2f}x" if p.floor_s else "-", "", ""],
        ["  of which: plan + one transaction", "",
         f"{p.migrate_s - p.read_s - p.tree_s:,.2f} s", "",
         f"{(p.migrate_s - p.read_s - p.tree_s) / p.floor_s:.2f}x" if p.floor_s else "-", "", ""],
        [f"  of which: commands/ tree ({p.added:,} version files)", "", f"{p.tree_s:,.2f} s",
         "", f"{p.tree_s / p.floor_s:.2f}x" if p.floor_s else "-", "", ""],
        [f"{label}: second run (adds {p.again_added})", f"{p.items:,} items",
         f"{p.again_s:,.2f} s", f"{p.items / p.again_s:,.0f} items/s" if p.again_s else "-",
         f"{p.again_s / p.floor_s:.2f}x" if p.floor_s else "-", "", ""],
    ]  # fmt: skip


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    s = r.sizes
    head = (
        f"toolvault migrate-legacy: a Port42 home of {s.tools:,} tools / {s.objects:,} objects "
        f"and a Tools-DB of {s.rows:,} rows\n"
        f"whole run {r.total_s:.1f} s (building the sources included); {benchlib.load_text(r)}"
    )
    rows = [["measure", "n", "time", "rate", "vs floor", "budget", "verdict"]]
    for part in r.parts:
        rows += rows_of(part)
    return benchlib.page(head, [benchlib.table(rows, left=(0, 5, 6))], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (seconds)."""
    return {
        "sizes": asdict(r.sizes),
        **benchlib.run_json(r),
        "parts": [
            {
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(p).items()},
                "items_per_second": round(p.items / p.migrate_s, 1) if p.migrate_s else None,
                "ratio_to_floor": round(p.ratio, 3),
                "limit": VS_FLOOR_MAX,
                "verdict": p.verdict,
            }
            for p in r.parts
        ],
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    args = benchlib.arguments(__doc__, "a tenth of the sizes: a smoke run").parse_args(argv)
    return benchlib.finish(run(QUICK if args.quick else FULL), render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
