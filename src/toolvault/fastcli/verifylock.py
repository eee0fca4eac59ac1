"""``verify --lock FILE [--into DIR] [--json]`` on the fast path: as ``cli/lock.py``'s
``verify_lock`` answers it, from the standard library.

A pre-commit hook runs this on every commit, and the issue's budget is a small multiple
of ``sha256sum`` over the installed files: the full command spends far more importing
click, the service and the store than checking 1,000 pins. So the plain case is served
here: a lockfile written exactly as ``toolvault lock`` writes it (read again with the same
rendering and compared byte for byte, its digest recomputed), no signature anywhere (the
lock's own or a pinned version's: checking one needs cryptography), a local SQLite vault
at the current schema, and every pin present there with its hash, size and mode. Yanked
pins (a warning), tools whose latest moved (information) and installed files that do
not equal their pin (problems, exit 1) are reported here as the full path reports them.
Anything else — another form of lockfile, a pin that does not hold in the vault, a folder
that cannot be opened plainly — raises :class:`Fallback` before anything is printed,
and the full command line checks and explains.
"""

from __future__ import annotations

import os
import re
import sqlite3
import stat

try:  # the C SHA-256 built into Python: hashlib loads OpenSSL, milliseconds a start
    from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]  # Python 3.12+
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:
        from hashlib import sha256  # type: ignore[assignment,unused-ignore]

from toolvault.fastcli.base import Fallback
from toolvault.fastcli.render import Out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

# Copies of toolvault.lockfile.format's (tests/test_fastcli_lock.py holds them equal).
FORMAT = "toolvault-lock/1"
HEADER = (
    "# toolvault.lock: the exact tool versions this project uses (SPEC §16).\n"
    "# Written by 'toolvault lock'; install with 'toolvault install --lock FILE --into DIR'.\n"
)
MAX_BYTES = 16 * 1024 * 1024
MAX_SIZE = 1 << 40
# The lock as format.render writes it, with format.REF_RE's ref; a source holds nothing
# toml_string escapes. What these match is rendered again and must equal the file.
TOP = re.compile(rf'{re.escape(HEADER)}format = "{FORMAT}"\ndigest = "sha256:([0-9a-f]{{64}})"\n')
ENTRY = re.compile(
    r'\n\[\[tool\]\]\nref = "([A-Za-z0-9][A-Za-z0-9._-]{0,127}):([1-9][0-9]{0,17})'
    r'@sha256:([0-9a-f]{64})"\nsize = (0|[1-9][0-9]{0,12})\nexecutable = (true|false)\n'
    r'source = "([^"\\\x00-\x1f\x7f]{1,4096})"\n'
)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 400  # pins a query: two parameters each, under SQLite's oldest limit of 999
ONE_READ = 1 << 24  # files up to this size are read with one read(2)

# A pin: (name, number, sha256, size, executable, source).
Pin = tuple[str, int, str, int, bool, str]


def options(words: list[str]) -> tuple[str, str | None, str | None, bool]:
    """``verify``'s words after the command as (lock, into, home, --json); anything but
    ``--lock FILE`` with ``--into DIR``, ``--home DIR`` and ``--json`` falls back (click
    takes ``--lock=FILE``, repeats and names, and explains mistakes)."""
    given: dict[str, str] = {}
    as_json, rest = False, list(words)
    while rest:
        word = rest.pop(0)
        if word == "--json":
            as_json = True
        elif word in ("--lock", "--into", "--home") and word not in given and rest:
            value = rest.pop(0)
            if not value or value.startswith("-"):
                raise Fallback
            given[word] = value
        else:
            raise Fallback
    if "--lock" not in given:
        raise Fallback
    return given["--lock"], given.get("--into"), given.get("--home"), as_json


def verify(
    conn: sqlite3.Connection, where: str, lock_path: str, into: str | None, as_json: bool, out: Out
) -> None:
    """Check the lockfile at ``lock_path`` against the vault ``conn`` reads (its home
    spelled ``where``), and the files installed in ``into``, printing into ``out``;
    :class:`Fallback` for anything but the plain case. ``out.status`` is 1 when a problem
    was found."""
    pins = read_lock(lock_path)
    warnings, moved = check_pins(conn, pins)
    problems = check_folder(into, pins) if into is not None else []
    checked = {"pins": len(pins), **({"files": len(pins)} if into is not None else {})}
    for line in warnings:
        out.warn(line)
    if as_json:
        out.json(
            {
                "ok": not problems,
                "checked": checked,
                "problems": problems,
                "warnings": warnings,
                "moved": moved,
                "lock": lock_path,
                "source": where,
            }
        )
    else:
        _text(lock_path, checked, problems, moved, out)
    out.status = 1 if problems else 0


def _text(
    lock_path: str,
    checked: dict[str, int],
    problems: list[dict[str, object]],
    moved: list[dict[str, object]],
    out: Out,
) -> None:
    """As ``cli.lock.verify_lock``'s text."""
    for p in problems:
        out.echo(f"PROBLEM  {p['kind']:<9} {p['name']}:{p['version']:<14} {p['detail']}")
    for m in moved:
        out.echo(f"info     {m['name']} is pinned at {m['pinned']}; its latest is {m['latest']}")
    counts = ", ".join(f"{n} {k}" for k, n in checked.items())
    verdict = "ok" if not problems else f"FAILED: {len(problems)} problem(s)"
    out.echo(f"verify --lock {lock_path} {verdict} (checked {counts})")


# -- the lockfile -------------------------------------------------------------------------


def read_lock(path: str) -> list[Pin]:
    """The pins of a lockfile in ``toolvault lock``'s own form, by name, its digest
    checked; :class:`Fallback` for anything else (``format.load`` reads and explains)."""
    text = _read(path)
    top = TOP.match(text)
    if top is None or "[signature]" in text:
        raise Fallback
    pins = [
        (m[1], int(m[2]), m[3], int(m[4]), m[5] == "true", m[6])
        for m in ENTRY.finditer(text, top.end())
    ]
    names = [p[0] for p in pins]
    if names != sorted(set(names)) or any(p[3] > MAX_SIZE for p in pins):
        raise Fallback  # not the canonical form or out of bounds: format.load decides
    if render(pins, top[1]) != text:
        raise Fallback  # something the entries did not match: format.load decides
    if sha256(content(pins)).hexdigest() != top[1]:
        raise Fallback  # the full path refuses it, naming both digests
    return pins


def _read(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise Fallback from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            raise Fallback
        data = os.read(fd, info.st_size + 1)  # a short read is not the form: falls back
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise Fallback from None
    finally:
        os.close(fd)


def render(pins: list[Pin], digest: str) -> str:
    """The lockfile ``format.render`` writes for these pins (unsigned, none signed)."""
    parts = [HEADER, f'format = "{FORMAT}"\ndigest = "sha256:{digest}"\n']
    for name, number, sha, size, executable, source in pins:
        parts.append(
            f'\n[[tool]]\nref = "{name}:{number}@sha256:{sha}"\nsize = {size}\n'
            f'executable = {"true" if executable else "false"}\nsource = "{source}"\n'
        )
    return "".join(parts)


def content(pins: list[Pin]) -> bytes:
    """``Lock.content()``: the canonical JSON the digest covers, written out directly
    (``json.dumps`` of 1,000 pins costs more than reading them): every text here is one
    JSON writes as it is, between quotes (names and hashes are plain ASCII; a source
    holds no quote, backslash or control character, and JSON keeps DEL and non-ASCII)."""
    tools = ",".join(
        f'{{"executable":{"true" if executable else "false"},"name":"{name}",'
        f'"ref":"{name}:{number}@sha256:{sha}","signer":null,"size":{size},'
        f'"source":"{source}"}}'
        for name, number, sha, size, executable, source in pins
    )
    return f'{{"format":"{FORMAT}","tools":[{tools}]}}'.encode()


# -- the vault ----------------------------------------------------------------------------

PINNED = (
    "SELECT p.column1, p.column2, v.sha256, v.size, v.executable, "
    "(SELECT y.reason FROM yanks y WHERE y.name = p.column1 AND y.version = p.column2), "
    "(SELECT max(w.version) FROM versions w WHERE w.name = p.column1 AND NOT EXISTS "
    "(SELECT 1 FROM yanks z WHERE z.name = w.name AND z.version = w.version)) "
    "FROM (VALUES {marks}) p "
    "JOIN versions v ON v.name = p.column1 AND v.version = p.column2 "
    "JOIN tools t ON t.name = p.column1"
)


def check_pins(
    conn: sqlite3.Connection, pins: list[Pin]
) -> tuple[list[str], list[dict[str, object]]]:
    """The yank warnings and the moved tools of pins that all hold in the vault (a few
    hundred a query); a pin that does not hold falls back, for the full path to say what
    the vault has instead."""
    found = {}
    for i in range(0, len(pins), CHUNK):
        chunk = pins[i : i + CHUNK]
        sql = PINNED.format(marks=", ".join(["(?, ?)"] * len(chunk)))
        params = [x for p in chunk for x in (p[0], p[1])]
        found.update({(r[0], r[1]): r[2:] for r in conn.execute(sql, params)})
    warnings, moved = [], []
    for name, number, sha, size, executable, _source in pins:
        row = found.get((name, number))
        if row is None or row[:3] != (sha, size, int(executable)):
            raise Fallback
        reason, latest = row[3], row[4]
        if reason is not None:
            warnings.append(f"{name}:{number}@sha256:{sha} is yanked: {reason}")
        if latest is not None and latest > number:
            moved.append({"name": name, "pinned": number, "latest": latest})
    return warnings, moved


# -- the folder ---------------------------------------------------------------------------


def check_folder(into: str, pins: list[Pin]) -> list[dict[str, object]]:
    """The problems of the files installed in ``into`` (as ``lockfile.verify``'s
    ``_check_folder`` finds them): one listing of the folder, then each file opened once
    (never through a link), read in one call and hashed."""
    try:
        folder = os.open(into, DIR_FLAGS)
    except OSError:
        raise Fallback from None  # missing, a link, not a folder: the full path says so
    try:
        kinds = dict(_kinds(folder))
        problems = []
        for pin in pins:
            why = _installed(pin, kinds.get(pin[0]), folder, into)
            if why is not None:
                problems.append(
                    {"kind": "installed", "name": pin[0], "version": pin[1], "detail": why}
                )
        return problems
    finally:
        os.close(folder)


def _kinds(folder: int) -> Iterator[tuple[str, str]]:
    """Each name in the folder and what it is (``file``, ``link``, ``folder``,
    ``special``), from the listing's own types where the file system gives them."""
    with os.scandir(folder) as listing:
        for entry in listing:
            if entry.is_symlink():
                yield entry.name, "link"
            elif entry.is_file(follow_symlinks=False):
                yield entry.name, "file"
            elif entry.is_dir(follow_symlinks=False):
                yield entry.name, "folder"
            else:
                yield entry.name, "special"


def _installed(pin: Pin, kind: str | None, folder: int, into: str) -> str | None:
    """As ``lockfile.pins.installed_problem`` (the file named as in ``into``)."""
    name, number, sha, size, executable, _source = pin
    mode = 0o755 if executable else 0o644
    wrong = _file_problem(name, sha, size, mode, folder) if kind == "file" else None
    if kind == "file" and wrong is None:
        return None  # the usual case: no message to build
    ref, shown = f"{name}:{number}@sha256:{sha}", os.path.join(into, name)
    if kind is None:
        return f"{shown} is missing (the lock pins {ref})"
    if wrong is None:
        what = {"link": "a symbolic link", "folder": "a folder"}.get(kind, "a special file")
        return f"{shown} is {what}, not the file of {ref}"
    if wrong[0] == "size":
        return f"{shown} has {wrong[1]} bytes; {ref} has {size}"
    if wrong[0] == "sha256":
        return f"{shown} differs from {ref} (its sha256 is not the pinned one)"
    return f"{shown} has mode {wrong[1]:o}; {ref} installs with {mode:o}"


def _file_problem(name: str, sha: str, size: int, mode: int, folder: int) -> tuple[str, int] | None:
    """None when the regular file ``name`` holds exactly ``size`` bytes hashing to
    ``sha`` with ``mode``; else what differs first (size, sha256, mode) and its value."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=folder)
    except OSError:
        raise Fallback from None  # changed since the listing
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Fallback
        if info.st_size != size:
            return "size", info.st_size
        if _sha256(fd, size) != sha:
            return "sha256", 0
    finally:
        os.close(fd)
    found = stat.S_IMODE(info.st_mode)
    return None if found == mode else ("mode", found)


def _sha256(fd: int, size: int) -> str | None:
    """SHA-256 of the ``size`` bytes of an open regular file, None when it holds more:
    one read(2) for a tool's usual size (asking one byte more shows the end)."""
    data = os.read(fd, size + 1) if size < ONE_READ else b""
    h, total = sha256(data), len(data)
    if total < size or size >= ONE_READ:  # a large file, or a short read: read on
        while total <= size and (chunk := os.read(fd, 1 << 20)):
            total += len(chunk)
            h.update(chunk)
    return h.hexdigest() if total <= size else None
