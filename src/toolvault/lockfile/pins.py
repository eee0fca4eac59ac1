"""Whether a pin holds in a source, and whether an installed file equals its pin: the
checks that ``install`` and ``verify --lock`` share."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from toolvault.lockfile.folder import Found, sha256_of
from toolvault.lockfile.format import Pin
from toolvault.lockfile.sources import Source
from toolvault.models import Version


@dataclass(frozen=True, slots=True)
class Failure:
    """A pin that does not hold: ``kind`` is ``missing`` (no such version), ``pin``
    (another hash, size or mode) or ``signature``."""

    pin: Pin
    kind: str
    detail: str


def check(pin: Pin, v: Version | None, source: Source) -> Failure | None:
    """None when ``v`` (what ``source`` holds at the pin's name and number) is exactly the
    pinned version: its hash, size, mode, and its signature when the lock records a
    signer. Content, when read, is hashed again here: what is installed is what was
    pinned, whatever the source says of it."""
    if v is None:
        return Failure(pin, "missing", source.missing(pin))
    where = f"{pin.name}:{pin.version} in {source.where}"
    if v.sha256 != pin.sha256:
        return Failure(pin, "pin", f"{where} has sha256 {v.sha256}; the lock pins {pin.sha256}")
    if v.content is not None and hashlib.sha256(v.content).hexdigest() != pin.sha256:
        return Failure(pin, "pin", f"{where} served content whose sha256 is not the pinned one")
    if v.size != pin.size or (v.content is not None and len(v.content) != pin.size):
        return Failure(pin, "pin", f"{where} has {v.size} bytes; the lock says {pin.size}")
    if v.executable != pin.executable:
        state = "executable" if v.executable else "not executable"
        return Failure(pin, "pin", f"{where} is {state}; the lock says otherwise")
    if pin.signer is not None:
        why = source.signature_problem(v, pin.signer)
        if why is not None:
            return Failure(pin, "signature", f"{pin.ref}: {why}")
    return None


def installed_problem(pin: Pin, found: Found, folder: int, shown: str) -> str | None:
    """None when the file at the pin's name in the folder is exactly the pinned version
    (content and mode); else what is wrong, naming the file as ``shown``."""
    if found.kind == "absent":
        return f"{shown} is missing (the lock pins {pin.ref})"
    if found.kind != "file":
        what = {"link": "a symbolic link", "folder": "a folder"}.get(found.kind, "a special file")
        return f"{shown} is {what}, not the file of {pin.ref}"
    if found.size != pin.size:
        return f"{shown} has {found.size} bytes; {pin.ref} has {pin.size}"
    if sha256_of(pin.name, folder, pin.size) != pin.sha256:
        return f"{shown} differs from {pin.ref} (its sha256 is not the pinned one)"
    if found.mode != pin.mode:
        return f"{shown} has mode {found.mode:o}; {pin.ref} installs with {pin.mode:o}"
    return None


def summary(failures: list[Failure], where: str) -> str:
    """One line for the pins that do not hold: the first few, and how many more."""
    shown = "; ".join(f.detail for f in failures[:3])
    more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
    count = "1 pin does" if len(failures) == 1 else f"{len(failures)} pins do"
    return f"{count} not hold in {where}: {shown}{more}"
