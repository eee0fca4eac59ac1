"""``toolvault install --lock FILE --into DIR``: exactly the pinned versions, as files.

All or nothing: the lock is checked (format, digest, signature), every pin is looked up
in the source and checked (hash, size, mode, signature), every file to write is staged
under a temporary name, and only then is each renamed into place. Anything wrong on the
way leaves the folder as it was. A file that already equals its pin is not written
again (a second install writes nothing); files the lock does not name are left alone
and listed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from toolvault.errors import Conflict, IntegrityError, InvalidInput, NotFound
from toolvault.lockfile import folder as fs
from toolvault.lockfile.format import Lock, Pin
from toolvault.lockfile.pins import Failure, check, summary
from toolvault.lockfile.sources import Source


@dataclass
class Installed:
    """What ``install`` did; ``to_dict`` is the JSON shape of ``install --json``."""

    lock: str
    into: str
    source: str
    installed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    replaced: list[dict[str, str]] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{lock, into, source, installed, unchanged, replaced, strays, warnings}``:
        refs installed and left as they were, what was in a tool's place (a link, a
        special file), the names in DIR the lock does not name."""
        return {
            "lock": self.lock,
            "into": self.into,
            "source": self.source,
            "installed": self.installed,
            "unchanged": self.unchanged,
            "replaced": self.replaced,
            "strays": self.strays,
            "warnings": self.warnings,
        }


def check_signature(lock: Lock, path: str, source: Source) -> None:
    """Refuse a signed lock (read from ``path``) whose signature does not hold in the
    source's trust store."""
    if lock.signature is not None:
        trust = source.trust()
        if trust is None:
            raise IntegrityError(
                f"{path} is signed (key {lock.signature.key_id}) and there is no trust store "
                "here to check it: 'toolvault init' and 'toolvault trust add NAME ed25519:…'",
                {"lock": path, "key_id": lock.signature.key_id},
            )
        trust.check_lock(lock, path)


def drift(lock: Lock, source: Source) -> list[str]:
    """Pins that are not their tool's latest in the source, in words."""
    moved = []
    source.prefetch(lock.pins)
    for pin in sorted(lock.pins, key=lambda p: p.name):
        latest = source.latest(pin.name)
        if latest != pin.version:
            now = f"latest is {pin.name}:{latest}" if latest else "it has no latest"
            moved.append(f"{pin.name} is pinned at {pin.version}, {now}")
    return moved


def install(
    lock: Lock, lock_path: str, into: str, source: Source, *, frozen: bool = False
) -> Installed:
    """Install the pins of ``lock`` (read from ``lock_path`` with :func:`~.format.load`) from
    ``source`` into the folder ``into``."""
    check_signature(lock, lock_path, source)
    if frozen and (moved := drift(lock, source)):
        raise Conflict(
            f"--frozen: {lock_path} does not match {source.where}: {'; '.join(moved[:3])}"
            f"{' …' if len(moved) > 3 else ''}; run 'toolvault lock --update' and commit it",
            {"lock": lock_path, "drift": moved},
        )
    result = Installed(lock_path, into, source.where)
    folder, made = fs.open_folder(into, create=True)
    try:
        todo = _plan(lock, folder, into, result)
        source.prefetch(result_pins(lock, todo))
        source.prefetch(todo, content=True)
        _refuse_failures(
            [check(p, source.pinned(p), source) for p in result_pins(lock, todo)], source
        )
        staged = _stage(todo, folder, source)
        for pin, tmp in staged:
            fs.commit(tmp, pin.name, folder)
            result.installed.append(pin.ref)
        pinned = lock.by_name()
        result.strays = [n for n in fs.entries(folder) if n not in pinned]
    except BaseException:
        if made:  # a folder made for an install that did not happen is not left behind
            with suppress(OSError):
                os.rmdir(into)
        raise
    finally:
        os.close(folder)
    result.warnings = [
        f"{p.ref} is yanked: {reason}"
        for p in sorted(lock.pins, key=lambda p: p.name)
        if (reason := source.yanked(p)) is not None
    ]
    return result


def result_pins(lock: Lock, todo: list[Pin]) -> list[Pin]:
    """The pins whose presence is checked without their content (the others are read
    whole when staged)."""
    writing = {p.name for p in todo}
    return [p for p in sorted(lock.pins, key=lambda p: p.name) if p.name not in writing]


def _plan(lock: Lock, folder: int, into: str, result: Installed) -> list[Pin]:
    """The pins whose file must be written; the others are unchanged. A folder in a
    tool's place is refused before anything is written."""
    todo = []
    present = set(fs.entries(folder))  # one listing: no lstat of a name that is not there
    for pin in sorted(lock.pins, key=lambda p: p.name):
        found = fs.look(pin.name, folder) if pin.name in present else fs.Found("absent")
        if found.kind == "folder":
            raise InvalidInput(
                f"{os.path.join(into, pin.name)} is a folder where the lock installs "
                f"{pin.ref}; move it away; nothing was installed",
                {"path": os.path.join(into, pin.name)},
            )
        same = found.kind == "file" and (found.size, found.mode) == (pin.size, pin.mode)
        if same and fs.sha256_of(pin.name, folder, pin.size) == pin.sha256:
            result.unchanged.append(pin.ref)
            continue
        if found.kind in ("link", "special"):
            what = "a symbolic link" if found.kind == "link" else "a special file"
            result.replaced.append({"name": pin.name, "was": what})
        todo.append(pin)
    return todo


def _stage(todo: list[Pin], folder: int, source: Source) -> list[tuple[Pin, str]]:
    """Read, check and write each pin to a temporary file; on any failure every staged
    file is removed and nothing is installed."""
    staged: list[tuple[Pin, str]] = []
    umask = fs.current_umask()
    try:
        failures = []
        for pin in todo:
            v = source.pinned(pin, content=True)
            failure = check(pin, v, source)
            if failure is not None:
                failures.append(failure)
            elif not failures:
                assert v is not None and v.content is not None
                staged.append((pin, fs.stage(pin.name, folder, v.content, pin.mode, umask)))
        _refuse_failures(failures, source)
    except BaseException:
        fs.discard([tmp for _, tmp in staged], folder)
        raise
    return staged


def _refuse_failures(failures: Sequence[Failure | None], source: Source) -> None:
    found = [f for f in failures if f is not None]
    if not found:
        return
    message = f"{summary(found, source.where)}; nothing was installed"
    details = {"problems": [{"ref": f.pin.ref, "kind": f.kind, "detail": f.detail} for f in found]}
    if all(f.kind == "missing" for f in found):
        raise NotFound(message, details)
    raise IntegrityError(message, details)
