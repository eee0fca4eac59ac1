"""Legacy-migration benchmark: migrate-legacy against a plain script that writes the same.

Builds, in a temporary folder:

- a Port42 home of TOOLS tools and OBJECTS objects (each object with its metadata file;
  each tool declared by Tool relations, one in ten with its newest content reachable only
  through its commands/ symlink), migrated with ``--fold enhanced``;
- a Tools-DB whose ``tools`` table has ROWS rows (name, code and the upgrade's columns).

For each, the floor is a plain Python script (:func:`plain_floor`) that does what any
migration must, and nothing else: read every source file once (relations, objects and
metadata read, symlinks resolved; the whole ``tools`` table selected), insert the same
rows the migration wrote into a bare SQLite file with the same tables (one transaction,
one ``executemany`` per table), and write the same ``commands/`` tree (folders, version
files, ``metadata.json``, symlinks) with plain ``os`` calls. The rows and files are those
of the first migration, captured from its vault before the floor first runs.

The migration into an empty vault (read, plan, one transaction, the commands/ tree) and
the floor run RUNS times each, interleaved (which goes first alternating per round), and
the medians are compared: budget, each migration within 2x of its floor. Both are split
into their parts, to show where the time goes. Then a second migration (which must add
nothing).

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/legacy.py [--quick] [--json]
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import benchlib
from toolvault import Vault
from toolvault.sources import legacy

T = TypeVar("T")

VS_FLOOR_MAX = 2.0
RUNS = 3  # interleaved runs of the floor and of the migration: the medians count
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
    runs: int = RUNS


FULL = Sizes()
QUICK = Sizes(tools=500, objects=2_000, rows=5_000)


@dataclass(slots=True)
class Part:
    """One source: the medians of its floor and its migration (and their parts), and its
    second run, in seconds."""

    source: str
    items: int
    files: int
    build_s: float = 0.0
    floor_s: float = 0.0
    floor_read_s: float = 0.0  # of floor_s: reading the source
    floor_rows_s: float = 0.0  # of floor_s: the bare SQLite file and its one transaction
    floor_tree_s: float = 0.0  # of floor_s: the commands/ tree with plain os calls
    migrate_s: float = 0.0
    read_s: float = 0.0  # of migrate_s: reading and parsing the source
    tree_s: float = 0.0  # of migrate_s: writing the commands/ tree after the commit
    again_s: float = 0.0
    added: int = 0
    again_added: int = -1
    skipped: int = 0
    rows: int = 0  # rows the migration's vault holds (what the floor inserts)
    entries: int = 0  # folders, files and links of its commands/ tree

    @property
    def ratio(self) -> float:
        """Migration time over the floor (medians)."""
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


@dataclass(frozen=True, slots=True)
class Written:
    """What a migration wrote, for the floor to write again: the database's schema (every
    table, index and trigger), each table's rows, and the commands/ tree."""

    schema: list[str]
    tables: list[tuple[str, list[str], list[tuple[Any, ...]]]]  # name, columns, rows
    folders: list[str]  # relative to commands/, parents first
    files: list[tuple[str, bytes, int]]  # relative path, content, permission bits
    links: list[tuple[str, str]]  # relative path, target

    @property
    def rows(self) -> int:
        """How many rows there are in all tables."""
        return sum(len(rows) for _, _, rows in self.tables)

    @property
    def entries(self) -> int:
        """How many folders, files and links the tree holds."""
        return len(self.folders) + len(self.files) + len(self.links)


def capture(home: Path) -> Written:
    """Read back everything a migration wrote into ``home`` (not timed)."""
    with closing(sqlite3.connect(f"file:{home / 'vault.db'}?mode=ro", uri=True)) as db:
        ours = "FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        schema = [sql for (sql,) in db.execute(f"SELECT sql {ours} AND sql IS NOT NULL")]
        names = [n for (n,) in db.execute(f"SELECT name {ours} AND type = 'table'")]
        tables = []
        for name in names:
            cursor = db.execute(f"SELECT * FROM {name}")
            tables.append((name, [c[0] for c in cursor.description], cursor.fetchall()))
    root = home / "commands"
    folders, files, links = [], [], []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            path, relpath = os.path.join(dirpath, name), os.path.normpath(os.path.join(rel, name))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                links.append((relpath, os.readlink(path)))
            elif stat.S_ISDIR(info.st_mode):
                folders.append(relpath)
            else:
                files.append((relpath, Path(path).read_bytes(), stat.S_IMODE(info.st_mode)))
    return Written(schema, tables, folders, files, links)


@dataclass(slots=True)
class FloorRun:
    """One run of the floor, in seconds per part."""

    read_s: float = 0.0
    rows_s: float = 0.0
    tree_s: float = 0.0

    @property
    def total_s(self) -> float:
        """The whole floor."""
        return self.read_s + self.rows_s + self.tree_s


def plain_floor(read: Callable[[], int], written: Written, target: Path) -> FloorRun:
    """The floor: read the source, write the same rows and the same tree, plainly."""
    run = FloorRun()
    run.read_s = seconds(read)[0]
    target.mkdir()
    run.rows_s = seconds(lambda: plain_rows(target / "vault.db", written))[0]
    run.tree_s = seconds(lambda: plain_tree(target / "commands", written))[0]
    return run


def plain_rows(path: Path, written: Written) -> None:
    """A bare SQLite file (WAL, foreign keys checked, as toolvault's) with the same tables,
    filled in one transaction with one ``executemany`` per table."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("BEGIN")
        for sql in written.schema:
            db.execute(sql)
        for name, columns, rows in written.tables:
            marks = ", ".join("?" * len(columns))
            db.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)
        db.execute("COMMIT")
    finally:
        db.close()


def plain_tree(root: Path, written: Written) -> None:
    """The same commands/ tree with plain ``os`` calls: no temporary names, no renames,
    no descriptors held on folders."""
    umask = os.umask(0)
    os.umask(umask)
    os.mkdir(root)
    for folder in written.folders:
        os.mkdir(root / folder)
    for rel, data, mode in written.files:
        fd = os.open(root / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        if mode & umask:  # bits the umask took away
            os.chmod(root / rel, mode)
    for rel, target in written.links:
        os.symlink(target, root / rel)


# -- the parts ----------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """One migration's outcome and where its time went."""

    summary: Any = None
    seconds: float = 0.0
    read_s: float = 0.0
    tree_s: float = 0.0


def migrate_once(home: Path, read: Callable[[], legacy.Source], folds: Sequence[str]) -> Run:
    """One whole migration as the command runs it: read, fold, plan, write, tree."""
    run = Run()
    start = time.perf_counter()
    with Vault.open(home) as vault:
        refresh = vault.refresh_tree

        def timed_refresh(*args: Any, **kwargs: Any) -> None:
            run.tree_s += seconds(lambda: refresh(*args, **kwargs))[0]

        vault.refresh_tree = timed_refresh  # type: ignore[method-assign]
        run.read_s, source = seconds(read)
        legacy.fold_names(source, folds)
        run.summary = legacy.migrate(vault, source)
    run.seconds = time.perf_counter() - start
    return run


def measure(part: Part, tmp: Path, runs: int, floor_read: Callable[[], int],
            read: Callable[[], legacy.Source], folds: Sequence[str] = ()) -> None:  # fmt: skip
    """``runs`` migrations and ``runs`` floors, interleaved; then the second run."""
    migrations: list[Run] = []
    floors: list[FloorRun] = []
    written: Written | None = None
    for n in range(runs):
        for which in ("migrate", "floor") if n % 2 == 0 else ("floor", "migrate"):
            if which == "migrate":
                migrations.append(migrate_once(tmp / f"home-{part.source}-{n}", read, folds))
                written = written or capture(tmp / f"home-{part.source}-{n}")
            else:
                assert written is not None  # the first round migrates first
                # kept, as the migrations' homes are: no removal runs behind the next one
                floors.append(plain_floor(floor_read, written, tmp / f"floor-{part.source}-{n}"))
        benchlib.progress(f"  {part.source}: round {n + 1} of {runs} done")
    assert written is not None
    part.rows, part.entries = written.rows, written.entries
    part.floor_s = statistics.median(f.total_s for f in floors)
    part.floor_read_s, part.floor_rows_s, part.floor_tree_s = (
        statistics.median(getattr(f, k) for f in floors) for k in ("read_s", "rows_s", "tree_s")
    )
    part.migrate_s = statistics.median(m.seconds for m in migrations)
    part.read_s = statistics.median(m.read_s for m in migrations)
    part.tree_s = statistics.median(m.tree_s for m in migrations)
    done = migrations[0].summary
    part.added, part.skipped = len(done.plan.new), len(done.source.skipped)
    part.again_s, again = seconds(lambda: migrate_once(tmp / f"home-{part.source}-0", read, folds))
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
        benchlib.progress(f"migrating it and its floor, {sizes.runs} rounds, then a second run")
        measure(p42, tmp, sizes.runs, lambda: read_port42_floor(root),
                lambda: legacy.read_port42(root), ["enhanced"])  # fmt: skip
        results.parts.append(p42)
        db = tmp / "tools.db"
        benchlib.progress(f"building a Tools-DB of {sizes.rows:,} rows")
        build_s, rows = seconds(lambda: build_tools_db(db, sizes.rows))
        tdb = Part("tools-db", rows, 1, build_s)
        benchlib.settle()
        benchlib.progress(f"migrating it and its floor, {sizes.runs} rounds, then a second run")
        measure(tdb, tmp, sizes.runs, lambda: read_tools_db_floor(db),
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


def share(seconds: float, p: Part) -> str:
    """A duration as a multiple of the whole floor."""
    return f"{seconds / p.floor_s:.2f}x" if p.floor_s else "-"


def rows_of(p: Part) -> list[list[str]]:
    """Table rows of one source."""
    label = {"port42": "Port42 home", "tools-db": "Tools-DB"}[p.source]
    rate = p.items / p.migrate_s if p.migrate_s else 0.0
    plan = p.migrate_s - p.read_s - p.tree_s
    floor_rate = f"{p.items / p.floor_s:,.0f} items/s" if p.floor_s else "-"
    return [
        [f"{label}: plain floor (read, same rows, same tree)", f"{p.items:,} items",
         f"{p.floor_s:,.2f} s", floor_rate, "1.00x", "", ""],
        [f"  of which: read every source file ({p.files:,})", "", f"{p.floor_read_s:,.2f} s",
         "", share(p.floor_read_s, p), "", ""],
        [f"  of which: {p.rows:,} rows, one transaction", "", f"{p.floor_rows_s:,.2f} s", "",
         share(p.floor_rows_s, p), "", ""],
        [f"  of which: commands/ tree ({p.entries:,} entries)", "", f"{p.floor_tree_s:,.2f} s",
         "", share(p.floor_tree_s, p), "", ""],
        [f"{label}: migrate-legacy (read, plan, write, tree)", f"{p.items:,} items",
         f"{p.migrate_s:,.2f} s", f"{rate:,.0f} items/s", f"{p.ratio:.2f}x",
         f"median < {VS_FLOOR_MAX:g}x floor", p.verdict],
        ["  of which: read and parse the source", "", f"{p.read_s:,.2f} s", "",
         share(p.read_s, p), "", ""],
        ["  of which: open, plan + one transaction", "", f"{plan:,.2f} s", "", share(plan, p),
         "", ""],
        ["  of which: commands/ tree", "", f"{p.tree_s:,.2f} s", "", share(p.tree_s, p), "", ""],
        [f"{label}: second run (adds {p.again_added})", f"{p.items:,} items",
         f"{p.again_s:,.2f} s", f"{p.items / p.again_s:,.0f} items/s" if p.again_s else "-",
         share(p.again_s, p), "", ""],
    ]  # fmt: skip


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    s = r.sizes
    head = (
        f"toolvault migrate-legacy: a Port42 home of {s.tools:,} tools / {s.objects:,} objects "
        f"and a Tools-DB of {s.rows:,} rows\n"
        f"whole run {r.total_s:.1f} s (building the sources included); {benchlib.load_text(r)}\n"
        f"medians of {s.runs} interleaved runs each; parts are medians of their own"
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
