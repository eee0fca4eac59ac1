"""``toolvault verify --lock FILE [--into DIR]``: do the pins still hold?

Every pin must exist in the source with its hash, size and mode (and a valid signature
when the lock records a signer), a signed lock's signature must hold, and with
``--into`` every installed file must equal its pin. A yanked pin is a warning; a tool
whose latest moved past its pin is information (``moved``), never a failure: the lock
still says exactly what is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from toolvault.lockfile import folder as fs
from toolvault.lockfile.format import Lock
from toolvault.lockfile.install import check_signature
from toolvault.lockfile.pins import check, installed_problem
from toolvault.lockfile.sources import Source
from toolvault.models import Problem, Report


@dataclass
class LockReport:
    """What ``verify --lock`` checked and found (``verify``'s JSON shape, and more)."""

    lock: str
    source: str
    checked: dict[str, int]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)

    @property
    def report(self) -> Report:
        """The part every ``verify`` reports: what was checked and the problems."""
        return Report(self.checked, tuple(self.problems))

    @property
    def ok(self) -> bool:
        """True when every pin holds and every installed file equals its pin."""
        return self.report.ok

    def to_dict(self) -> dict[str, Any]:
        """``verify``'s shape ``{ok, checked, problems}``, then ``warnings, moved, lock,
        source``."""
        return {
            **self.report.to_dict(),
            "warnings": self.warnings,
            "moved": self.moved,
            "lock": self.lock,
            "source": self.source,
        }


def verify_lock(lock: Lock, lock_path: str, source: Source, into: str | None = None) -> LockReport:
    """Check ``lock`` (read from ``lock_path`` with :func:`~.format.load`) against
    ``source``, and the tools installed in the folder ``into``."""
    check_signature(lock, lock_path, source)
    report = LockReport(lock_path, source.where, {"pins": len(lock.pins)})
    source.prefetch(lock.pins)
    for pin in sorted(lock.pins, key=lambda p: p.name):
        failure = check(pin, source.pinned(pin), source)
        if failure is not None:
            kind = "signature" if failure.kind == "signature" else "pin"
            report.problems.append(Problem(kind, pin.name, pin.version, failure.detail))
            continue
        reason = source.yanked(pin)
        if reason is not None:
            report.warnings.append(f"{pin.ref} is yanked: {reason}")
        latest = source.latest(pin.name)
        if latest is not None and latest > pin.version:
            report.moved.append({"name": pin.name, "pinned": pin.version, "latest": latest})
    if into is not None:
        _check_folder(lock, into, report)
    return report


def _check_folder(lock: Lock, into: str, report: LockReport) -> None:
    folder, _ = fs.open_folder(into, create=False)
    try:
        for pin in sorted(lock.pins, key=lambda p: p.name):
            shown = os.path.join(into, pin.name)
            why = installed_problem(pin, fs.look(pin.name, folder), folder, shown)
            if why is not None:
                report.problems.append(Problem("installed", pin.name, pin.version, why))
    finally:
        os.close(folder)
    report.checked["files"] = len(lock.pins)
