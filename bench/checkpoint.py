"""Checkpoint benchmark: a publish with its signed checkpoint against one without.

Every write transaction ends by signing the audit log's new head with the vault key,
recording it (one INSERT) and, after the commit, writing it to ``HOME/checkpoint``.
This measures what that costs a publish, in one run, on two SQLite vaults made alike in
a temporary folder (``commands/`` kept, as by default):

- ``signed``: a vault as toolvault opens it;
- ``plain``: the same, with its store's sealer removed (no signature, no row, no file);

``Vault.publish`` of a new version into each, one call at a time, the two interleaved
(which goes first alternating per round) so that drift and disk flushes hit both alike;
then the ratio of the medians against its budget (1.1x). For information, the parts of
the checkpoint measured alone: one Ed25519 signature, and one write of the file.

Then what the checkpoints cost ``verify``: a vault as a fleet of agents makes it, one
publish per write transaction and so one checkpoint each, holds as many checkpoints as
versions. ``checkpoints.check`` (verify's part) is timed over a vault of 20,000 real,
signed checkpoints (built in one transaction by the vault's own sealer, one audit entry
and one checkpoint at a time, for speed), against the budget of 1 s (verify's whole
budget over 100,000 versions is about 1-2 s: 3x sha256sum).

Machines are noisy, so timing never fails the run: it prints PASS or OVER and exits 0.
With ``--json`` the last line of stdout is the same figures as one JSON document.

    .venv/bin/python bench/checkpoint.py [--quick] [--json]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import benchlib
from benchlib import Budget, Stats
from toolvault import Vault, checkpoints
from toolvault.checkpoints import FILE, Checkpoint, HeadFile, signed_bytes
from toolvault.store.base import Head, utcnow

SIGNED_VS_PLAIN = 1.1
WARMUP = 10  # publishes of each before measuring: caches, the key's first load


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many publishes of each kind, and how many runs of each part alone."""

    publishes: int = 1_000
    parts: int = 2_000
    checkpoints: int = 20_000  # in the vault whose checkpoints verify checks
    check_runs: int = 5


FULL = Sizes()
QUICK = Sizes(publishes=150, parts=300, checkpoints=2_000, check_runs=3)
CHECK_LIMIT_S = 1.0  # verify's checkpoint check over FULL.checkpoints


@dataclass(slots=True)
class Results:
    """Everything measured in one run."""

    sizes: Sizes
    publish: dict[str, Stats] = field(default_factory=dict)
    parts: dict[str, Stats] = field(default_factory=dict)
    check: Stats | None = None
    total_s: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)


def bench_publish(signed: Vault, plain: Vault, count: int) -> dict[str, Stats]:
    """Interleaved ``Vault.publish`` into each vault: a new version of one of 50 tools."""
    samples: dict[str, list[int]] = {"signed": [], "plain": []}
    vaults = {"signed": signed, "plain": plain}
    for i in range(count + WARMUP):
        name = f"t{i % 50}"
        content = benchlib.small_tool("checkpoint", name, i)
        order = ("signed", "plain") if i % 2 else ("plain", "signed")
        for key in order:
            elapsed, _ = benchlib.timed(vaults[key].publish, name, content)
            if i >= WARMUP:
                samples[key].append(elapsed)
    return {key: Stats.of(values) for key, values in samples.items()}


def bench_parts(vault: Vault, runs: int) -> dict[str, Stats]:
    """The checkpoint's own work, alone: sign a head; write HOME/checkpoint, the file
    kept open between writes as the vault's sealer keeps it."""
    signer = vault.sealer.signer(vault.store)
    seq, digest, at = vault.store.audit_head()
    assert at is not None
    payload = signed_bytes(seq, digest, at, signer.key_id, digest)
    sign = [benchlib.timed(signer.sign, payload)[0] for _ in range(runs)]
    target = vault.home / f"{FILE}.bench"
    heads = [Checkpoint(n, digest, at, signer.key_id, "k", "s", digest) for n in range(1, runs + 1)]
    kept = HeadFile(str(target))
    try:
        write = [benchlib.timed(kept.put, h)[0] for h in heads]
    finally:
        kept.close()
    return {"sign": Stats.of(sign), "file": Stats.of(write)}


def build_checkpoints(vault: Vault, count: int) -> None:
    """``count`` audit entries, each with its signed checkpoint, as ``count`` single writes
    would leave them, but in one transaction: the vault's sealer signs and records each
    head as it does at every commit (and, at the commit, the last)."""
    store, sealer = vault.store, vault.sealer
    with store.write():
        for i in range(count):
            entry = store.append_audit(utcnow(), "bench", "note", None, None, {"n": i})
            if i < count - 1:
                sealer.seal(store, Head(entry.seq, entry.hash))


def bench_check(vault: Vault, sizes: Sizes) -> Stats:
    """verify's checkpoint check (``checkpoints.check``) over ``sizes.checkpoints``."""
    build_checkpoints(vault, sizes.checkpoints)
    problems, checked = checkpoints.check(vault)
    assert not problems and checked >= sizes.checkpoints, (problems, checked)
    return Stats.of([benchlib.timed(checkpoints.check, vault)[0] for _ in range(sizes.check_runs)])


def run(sizes: Sizes) -> Results:
    """Build the two vaults and measure."""
    results = Results(sizes)
    with benchlib.whole_run(results) as tmp:
        signed, plain = Vault.open(tmp / "signed"), Vault.open(tmp / "plain")
        plain.store.sealer = None  # the same vault, without the checkpoint
        try:
            benchlib.settle()
            benchlib.progress(f"Vault.publish x {sizes.publishes} each, interleaved")
            results.publish = bench_publish(signed, plain, sizes.publishes)
            benchlib.progress(f"the checkpoint's parts alone x {sizes.parts}")
            results.parts = bench_parts(signed, sizes.parts)
            benchlib.progress(f"verify's checkpoint check over {sizes.checkpoints:,} checkpoints")
            with Vault.open(tmp / "many") as many:
                results.check = bench_check(many, sizes)
            if not signed.verify().ok:
                results.notes.append("the signed vault did not verify: the figures are suspect")
        finally:
            signed.close()
            plain.close()
    return results


def budgets(r: Results) -> list[Budget]:
    """A signed publish's median within 1.1x of a plain one's; verify's checkpoint check
    over 20,000 checkpoints within 1 s (its median, scaled to 20,000 on a quick run)."""
    ratio = r.publish["signed"].median_us / r.publish["plain"].median_us
    found = [] if r.check is None else [check_budget(r.check, r.sizes.checkpoints)]
    return [
        Budget(
            "publish_signed_vs_plain",
            "publish with its signed checkpoint / without",
            basis="median",
            figure=ratio,
            limit=SIGNED_VS_PLAIN,
            unit="x",
        ),
        *found,
    ]


def check_budget(check: Stats, count: int) -> Budget:
    """verify's checkpoint check, its median scaled to FULL.checkpoints, within 1 s."""
    seconds = check.median_us / 1e6 * FULL.checkpoints / count
    return Budget(
        "verify_checkpoints",
        f"verify's checkpoint check, {FULL.checkpoints:,} checkpoints",
        basis="median",
        figure=seconds,
        limit=CHECK_LIMIT_S,
        unit="s",
    )


def render(r: Results) -> str:
    """The printed report: a heading, the table, the notes."""
    budget, *check = budgets(r)
    head = (
        f"toolvault checkpoint: {r.sizes.publishes:,} publishes into each of two SQLite vaults "
        f"(with and without the signed checkpoint), interleaved\n"
        f"whole run {r.total_s:.1f} s; {benchlib.load_text(r)}"
    )
    rows = [
        benchlib.stat_row("Vault.publish, signed checkpoint", r.publish["signed"], "ms"),
        benchlib.stat_row("Vault.publish, no checkpoint", r.publish["plain"], "ms"),
        benchlib.ratio_row("signed / plain", r.publish["signed"], r.publish["plain"], budget),
        benchlib.stat_row("  one Ed25519 signature (alone)", r.parts["sign"], "us"),
        benchlib.stat_row("  one write of HOME/checkpoint (alone)", r.parts["file"], "us"),
    ]
    if r.check is not None:
        per = f"{r.check.median_us / r.sizes.checkpoints:.2f} us each"
        label = f"verify's checkpoint check, {r.sizes.checkpoints:,} checkpoints"
        cells = benchlib.stat_row(label, r.check, "ms", per)
        rows.append([*cells[:6], check[0].describe(), check[0].verdict])
    return benchlib.page(head, [benchlib.stats_table(rows)], r.notes)


def as_json(r: Results) -> dict[str, Any]:
    """The same figures as one JSON document (times in microseconds)."""
    return {
        "sizes": asdict(r.sizes),
        **benchlib.run_json(r),
        "publish": {k: asdict(v) for k, v in r.publish.items()},
        "parts": {k: asdict(v) for k, v in r.parts.items()},
        "check": None if r.check is None else asdict(r.check),
        "budgets": [b.as_json() for b in budgets(r)],
        "notes": r.notes,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table (and JSON), exit 0 whatever the timings."""
    args = benchlib.arguments(__doc__, "150 publishes of each: a smoke run").parse_args(argv)
    return benchlib.finish(run(QUICK if args.quick else FULL), render, as_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
