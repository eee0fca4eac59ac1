"""``toolvault lock``: pin tools to exact versions, or move pins, in a lockfile.

Pins already in the lock stay where they are unless ``--update`` moves them (all of
them, or the tools named) or a tool is named with a selector (``fmt:4``); a tool named
bare that is not pinned yet is pinned at its latest. The file is written (atomically)
only when its bytes change, so running ``lock`` again on an unchanged vault is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolvault import spec as specs
from toolvault.errors import InvalidInput, InvalidSpec
from toolvault.lockfile.format import Lock, Pin, load, read_bytes, render
from toolvault.lockfile.sources import Source
from toolvault.lockfile.trust import sign
from toolvault.models import Version
from toolvault.spec import Kind, Spec

if TYPE_CHECKING:
    from toolvault.signing import Signer


@dataclass
class Locked:
    """What ``lock`` did; ``to_dict`` is the JSON shape of ``lock --json``."""

    path: str
    lock: Lock
    written: bool
    changes: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{lock, written, digest, signed_by, tools, changes, warnings}``."""
        sig = self.lock.signature
        return {
            "lock": self.path,
            "written": self.written,
            "digest": self.lock.digest,
            "signed_by": sig.key_id if sig else None,
            "tools": [p.to_dict() for p in sorted(self.lock.pins, key=lambda p: p.name)],
            "changes": self.changes,
            "warnings": self.warnings,
        }


def make_lock(
    source: Source,
    path: str,
    names: Sequence[str],
    *,
    update: bool = False,
    signer: Signer | None = None,
) -> Locked:
    """Pin ``names`` (``NAME`` or ``NAME:SEL``) in the lockfile at ``path`` from ``source``;
    with ``update``, move the named pins (every pin when none is named) to their latest."""
    old = load(path) if os.path.lexists(path) else None
    wanted = _specs(names)
    if not wanted and old is None:
        raise InvalidInput(
            f"no lockfile at {path} yet: name the tools to pin, e.g. 'toolvault lock fmt csvsum'"
        )
    pins = old.by_name() if old else {}
    if update and not wanted:
        wanted = [Spec(name) for name in sorted(pins)]
    result = Locked(path, Lock(()), written=False)
    for spec in wanted:
        kept = pins.get(spec.name)
        if kept is not None and spec.kind is Kind.DEFAULT and not update:
            continue
        pins[spec.name] = _pin(source, spec, kept, result)
    lock = _signed(Lock(tuple(sorted(pins.values(), key=lambda p: p.name))), old, signer, path)
    result.lock = lock
    data = render(lock)
    if old is None or read_bytes(path) != data:
        write_atomically(path, data)
        result.written = True
    return result


def _specs(names: Sequence[str]) -> list[Spec]:
    """The specs named, each tool once; listings and ranges name no one version."""
    seen: dict[str, str] = {}
    found = []
    for text in names:
        spec = specs.parse(text)
        if spec.kind in (Kind.VERSIONS, Kind.RANGE):
            raise InvalidSpec(
                f"'{text}' names several versions; a lock pins one version of each tool: "
                f"give {spec.name} (its latest) or {spec.name}:N",
                {"spec": text},
            )
        if spec.name in seen:
            raise InvalidInput(
                f"tool {spec.name!r} is named twice ({seen[spec.name]!r} and {text!r}); "
                "a lock pins each tool once",
                {"tool": spec.name},
            )
        seen[spec.name] = text
        found.append(Spec(spec.name, spec.kind, spec.value, spec.sha256))  # no /commands/
    return found


def _pin(source: Source, spec: Spec, kept: Pin | None, result: Locked) -> Pin:
    """The pin of the version ``spec`` names now; ``kept`` (the old pin) stays as it was,
    its source too, when that version is still the one."""
    v = source.resolve(spec)
    signer = v.key_id if v.signature else None
    # a home's undecodable byte (a lone surrogate) cannot be written as TOML, nor hashed
    where = source.where.encode("utf-8", "replace").decode("utf-8")
    pin = Pin(v.name, v.version, v.sha256, v.size, v.executable, signer, where)
    if kept is not None and (kept.ref, kept.size, kept.executable, kept.signer) == (
        pin.ref,
        pin.size,
        pin.executable,
        pin.signer,
    ):
        return kept
    result.changes.append({"name": pin.name, "from": kept.ref if kept else None, "to": pin.ref})
    _warn_about(source, pin, v, result)
    return pin


def _warn_about(source: Source, pin: Pin, v: Version, result: Locked) -> None:
    reason = source.yanked(pin)
    if reason is not None:
        result.warnings.append(f"{pin.ref} is yanked: {reason}")
    if pin.signer is not None:
        why = source.signature_problem(v, pin.signer)
        if why is not None:
            result.warnings.append(f"{pin.ref}: {why}; 'install' will refuse it")


def _signed(lock: Lock, old: Lock | None, signer: Signer | None, path: str) -> Lock:
    """Signed anew with ``signer``; an unchanged lock keeps its signature; a signed lock
    whose pins change is not silently left unsigned."""
    if signer is not None:
        return sign(lock, signer)
    if old is None or old.signature is None:
        return lock
    if old.content() == lock.content():
        return Lock(lock.pins, old.signature)
    raise InvalidInput(
        f"{path} is signed (key {old.signature.key_id}) and its pins would change; give "
        "--sign KEY to sign the new pins (the lock would otherwise lose its signature)",
        {"lock": path, "key_id": old.signature.key_id},
    )


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place (a
    link at ``path`` is replaced, never written through)."""
    from toolvault.safefs import put_file

    folder, name = os.path.split(os.path.abspath(path))
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        put_file(name, fd, data, 0o644)
    finally:
        os.close(fd)
