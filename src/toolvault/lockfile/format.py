"""The lockfile: pinned tool versions in TOML, with a digest and an optional signature.

A lockfile (``toolvault.lock``, SPEC §16) reads like this::

    # toolvault.lock: the exact tool versions this project uses (SPEC §16).
    # Written by 'toolvault lock'; install with 'toolvault install --lock FILE --into DIR'.
    format = "toolvault-lock/1"
    digest = "sha256:<64 hex>"

    [[tool]]
    ref = "csvsum:3@sha256:<64 hex>"
    size = 812
    executable = true
    signer = "9f3c2a1b0d4e5f60"        # only when the version is signed
    source = "/home/ana/.toolvault"    # the vault home or daemon URL it was locked from

    [signature]                         # only with 'lock --sign KEY'
    key_id = "9f3c2a1b0d4e5f60"
    value = "<base64 Ed25519>"

The digest is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the
format and the pins; the signature covers those same bytes. Comments and the order of
the entries are not part of it, so the file is written one canonical way (tools by
name) and a lock that did not change is written byte for byte as it was.

Reading is strict and bounded: a file over :data:`MAX_BYTES`, a TOML document nested
or numbered past reason, an unknown field, a malformed ref, a duplicate tool, a digest
that does not match: each is refused with one line naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

from toolvault.errors import IntegrityError, InvalidInput, ToolvaultError
from toolvault.hashing import canonical, json_string

FORMAT = "toolvault-lock/1"
MAX_BYTES = 16 * 1024 * 1024  # ~60,000 pins; a lockfile is written by hand never
MAX_TOOLS = 50_000
MAX_SIZE = 1 << 40  # a pin's size: bounded so that a number never stands for a bomb
NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
REF_RE = re.compile(rf"({NAME}):([1-9][0-9]{{0,17}})@sha256:([0-9a-f]{{64}})")
KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
REF_FORM = "NAME:N@sha256:<64 lowercase hex>"
TOP_FIELDS = ("format", "digest", "tool", "signature")
PIN_FIELDS = ("ref", "size", "executable", "signer", "source")
HEADER = (
    "# toolvault.lock: the exact tool versions this project uses (SPEC §16).\n"
    "# Written by 'toolvault lock'; install with 'toolvault install --lock FILE --into DIR'.\n"
)


@dataclass(frozen=True, slots=True)
class Pin:
    """One tool pinned to one version: its exact ref and what install checks."""

    name: str
    version: int
    sha256: str
    size: int
    executable: bool
    signer: str | None  # the key id of the version's signature, when it is signed
    source: str  # the vault home or daemon URL the pin was taken from

    @property
    def ref(self) -> str:
        """The pinned ref ``name:N@sha256:<64 hex>``."""
        return f"{self.name}:{self.version}@sha256:{self.sha256}"

    @property
    def mode(self) -> int:
        """The file mode install gives the tool."""
        return 0o755 if self.executable else 0o644

    def to_dict(self) -> dict[str, Any]:
        """The pin's JSON shape (and what the digest covers): ``signer`` None when unsigned."""
        return {
            "name": self.name,
            "ref": self.ref,
            "size": self.size,
            "executable": self.executable,
            "signer": self.signer,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Signature:
    """An Ed25519 signature over a lock's canonical content."""

    key_id: str
    value: str


@dataclass(frozen=True, slots=True)
class Lock:
    """A lockfile's pins (by name) and its signature, if any."""

    pins: tuple[Pin, ...]
    signature: Signature | None = None

    def by_name(self) -> dict[str, Pin]:
        """The pins keyed by tool name."""
        return {p.name: p for p in self.pins}

    def content(self) -> bytes:
        """The canonical bytes the digest and the signature cover."""
        pins = [p.to_dict() for p in sorted(self.pins, key=lambda p: p.name)]
        return canonical({"format": FORMAT, "tools": pins})

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of :meth:`content`."""
        return "sha256:" + hashlib.sha256(self.content()).hexdigest()


# -- writing ------------------------------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but DEL must be escaped too and a
    lone surrogate (a file name's undecodable byte) cannot be written at all."""
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return json_string(text).replace("\x7f", "\\u007f")


def render(lock: Lock) -> bytes:
    """The lockfile's text: one canonical way, so that equal locks are equal bytes."""
    lines = [HEADER, f"format = {toml_string(FORMAT)}\n", f"digest = {toml_string(lock.digest)}\n"]
    for pin in sorted(lock.pins, key=lambda p: p.name):
        lines.append("\n[[tool]]\n")
        lines.append(f"ref = {toml_string(pin.ref)}\n")
        lines.append(f"size = {pin.size}\n")
        lines.append(f"executable = {'true' if pin.executable else 'false'}\n")
        if pin.signer is not None:
            lines.append(f"signer = {toml_string(pin.signer)}\n")
        lines.append(f"source = {toml_string(pin.source)}\n")
    if lock.signature is not None:
        lines.append("\n[signature]\n")
        lines.append(f"key_id = {toml_string(lock.signature.key_id)}\n")
        lines.append(f"value = {toml_string(lock.signature.value)}\n")
    return "".join(lines).encode()


# -- reading ------------------------------------------------------------------------------


def read_bytes(path: str) -> bytes:
    """A lockfile's bytes, at most :data:`MAX_BYTES`: a FIFO or a device in its place
    does not block or stream forever, a folder is refused by name."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidInput(
            f"no lockfile at {path}; make one with 'toolvault lock NAME… -o {path}'",
            {"lock": path},
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read the lockfile {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInput(f"{path} is not a regular file; give the lockfile's path")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_BYTES:
                raise InvalidInput(
                    f"{path} is over {MAX_BYTES // (1 << 20)} MiB: not a toolvault lockfile",
                    {"lock": path},
                )
    finally:
        os.close(fd)
    return b"".join(chunks)


def parse(data: bytes, where: str) -> Lock:
    """A lockfile's pins, every field checked and the digest recomputed; a lockfile that
    is not exactly right raises one line naming ``where`` and what would work."""
    doc = _canonical(data)
    if doc is not None:
        try:
            lock = _lock_of(doc, where)
        except ToolvaultError:
            lock = None  # tomllib's reading below says what is wrong
        if lock is not None and render(lock) == data:
            return lock
    return _lock_of(_toml(data, where), where)


def _lock_of(doc: dict[str, Any], where: str) -> Lock:
    unknown = sorted(set(doc) - set(TOP_FIELDS))
    _expect(
        not unknown, where, f"unknown field {unknown[:1]}; a lock holds {', '.join(TOP_FIELDS)}"
    )
    found = doc.get("format")
    if found != FORMAT:
        raise InvalidInput(
            f"{where}: lock format {found!r} is not {FORMAT!r}; "
            "this toolvault reads only that format (a newer toolvault may have written it)",
            {"lock": where, "format": found},
        )
    tools = doc.get("tool", [])
    _expect(isinstance(tools, list), where, "'tool' must be an array of tables ([[tool]])")
    _expect(len(tools) <= MAX_TOOLS, where, f"more than {MAX_TOOLS:,} tools")
    pins: dict[str, Pin] = {}
    for i, entry in enumerate(tools, 1):
        pin = _pin(entry, f"{where}: tool entry {i}")
        if pin.name in pins:
            raise InvalidInput(
                f"{where}: tool {pin.name!r} is pinned twice ({pins[pin.name].ref} and {pin.ref}); "
                "a lock pins each tool once",
                {"lock": where, "tool": pin.name},
            )
        pins[pin.name] = pin
    lock = Lock(tuple(pins.values()), _signature(doc.get("signature"), where))
    _check_digest(doc.get("digest"), lock, where)
    return lock


def load(path: str) -> Lock:
    """Read and check the lockfile at ``path``."""
    return parse(read_bytes(path), path)


# The lock as 'toolvault lock' writes it, line for line, with texts that need no escape:
# read without tomllib (pure Python, a tenth of a second for 1,000 pins). Whatever this
# reads is then rendered again and must give the very bytes read, or tomllib reads it.
PLAIN = r'"([^"\\\x00-\x1f\x7f]*)"'
CANONICAL_TOP = re.compile(rf"format = {PLAIN}\ndigest = {PLAIN}\n")
CANONICAL_TOOL = re.compile(
    rf"\n\[\[tool\]\]\nref = {PLAIN}\nsize = (0|[1-9][0-9]{{0,15}})\n"
    rf"executable = (true|false)\n(?:signer = {PLAIN}\n)?source = {PLAIN}\n"
)


def _canonical(data: bytes) -> dict[str, Any] | None:
    """The document of a lock written exactly as :func:`render` writes it (unsigned), or
    None to leave it to tomllib."""
    if not data.startswith(HEADER.encode()) or b"[signature]" in data:
        return None
    text = data[len(HEADER.encode()) :].decode("utf-8", "replace")
    top = CANONICAL_TOP.match(text)
    if top is None:
        return None
    tools = []
    for m in CANONICAL_TOOL.finditer(text, top.end()):
        entry = {"ref": m[1], "size": int(m[2]), "executable": m[3] == "true", "source": m[5]}
        if m[4] is not None:
            entry["signer"] = m[4]
        tools.append(entry)
    return {"format": top[1], "digest": top[2], "tool": tools}


def _toml(data: bytes, where: str) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput(f"{where} is not UTF-8 text: not a toolvault lockfile") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{where} is not valid TOML: {exc}", {"lock": where}) from None
    except (RecursionError, MemoryError):  # [[[[…]]]] a hundred thousand deep
        raise InvalidInput(f"{where} is nested too deeply to be a lockfile") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise InvalidInput(f"{where} holds a value out of range: {exc}") from None


def _pin(entry: Any, where: str) -> Pin:
    _expect(isinstance(entry, dict), where, "must be a table")
    unknown = sorted(set(entry) - set(PIN_FIELDS))
    _expect(
        not unknown, where, f"unknown field {unknown[:1]}; a tool holds {', '.join(PIN_FIELDS)}"
    )
    ref = entry.get("ref")
    match = REF_RE.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise InvalidInput(
            f"{where}: ref {ref!r} is not a pinned ref; give {REF_FORM} "
            "(as 'toolvault lock' writes it)",
            {"ref": ref if isinstance(ref, str) else None},
        )
    name, number, sha = match.groups()
    size, executable = entry.get("size"), entry.get("executable")
    ok = isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_SIZE
    _expect(ok, f"{where} ({ref})", "size must be a whole number of bytes")
    _expect(isinstance(executable, bool), f"{where} ({ref})", "executable must be true or false")
    signer = entry.get("signer")
    ok = signer is None or (isinstance(signer, str) and bool(KEY_ID_RE.fullmatch(signer)))
    _expect(ok, f"{where} ({ref})", "signer must be a key id of 16 lowercase hex digits")
    source = entry.get("source")
    _expect(
        isinstance(source, str) and 0 < len(source) <= 4096,
        f"{where} ({ref})",
        "source must be a text",
    )
    return Pin(name, int(number), sha, size, executable, signer, source)


def _signature(table: Any, where: str) -> Signature | None:
    if table is None:
        return None
    ok = isinstance(table, dict) and sorted(table) == ["key_id", "value"]
    ok = ok and isinstance(table["key_id"], str) and isinstance(table["value"], str)
    _expect(ok, where, "[signature] must hold key_id and value, both texts")
    ok = bool(KEY_ID_RE.fullmatch(table["key_id"])) and 0 < len(table["value"]) <= 200
    _expect(ok, where, "[signature] key_id is 16 lowercase hex digits, value base64")
    return Signature(table["key_id"], table["value"])


def _check_digest(found: Any, lock: Lock, where: str) -> None:
    _expect(isinstance(found, str), where, "digest must be a text 'sha256:<64 hex>'")
    if found != lock.digest:
        raise IntegrityError(
            f"{where}: digest {found} does not match its pins ({lock.digest}): the lock was "
            "edited by hand or damaged; make it again with 'toolvault lock'",
            {"lock": where, "expected": found, "found": lock.digest},
        )


def _expect(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise InvalidInput(f"{where}: malformed lockfile: {what}", {"lock": where})
