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

import hashlib
import json
import os
import sqlite3
import stat

from toolvault.fastcli.render import Out
from toolvault.fastcli.rows import Fallback

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
MAX_NUMBER = 10**18  # a ref's number has at most 18 digits
NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
NAME_CHARS = NAME_FIRST | frozenset("._-")
HEX = frozenset("0123456789abcdef")
UNSAFE = frozenset('"\\\x7f') | frozenset(map(chr, range(32)))  # what toml_string escapes
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
    head = f'{HEADER}format = "{FORMAT}"\ndigest = "sha256:'
    if not text.startswith(head) or len(text) < len(head) + 66:
        raise Fallback
    digest, body = text[len(head) : len(head) + 64], text[len(head) + 64 :]
    if not body.startswith('"\n') or "[signature]" in body:
        raise Fallback
    pins = [_pin(entry) for entry in body[2:].split("\n[[tool]]\n")[1:]]
    names = [p[0] for p in pins]
    if names != sorted(set(names)) or render(pins, digest) != text:
        raise Fallback  # not the canonical form: tomllib's reading decides
    if hashlib.sha256(content(pins)).hexdigest() != digest:
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
        data = os.read(fd, MAX_BYTES + 1)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise Fallback from None
    finally:
        os.close(fd)


def _pin(entry: str) -> Pin:
    """One ``[[tool]]`` entry's lines (ref, size, executable, source: no signer)."""
    lines = entry.split("\n")
    if len(lines) != 5 or lines[4] or not lines[0].startswith('ref = "'):
        raise Fallback
    ref, size, executable, source = lines[0][7:-1], lines[1][7:], lines[2][13:], lines[3][10:-1]
    name, _, rest = ref.partition(":")
    number, _, sha = rest.partition("@sha256:")
    plain = (
        name[:1] in NAME_FIRST
        and len(name) <= 128
        and set(name) <= NAME_CHARS
        and number[:1] in "123456789"
        and number.isdigit()
        and number.isascii()
        and int(number) < MAX_NUMBER
        and len(sha) == 64
        and set(sha) <= HEX
        and size.isdigit()
        and size.isascii()
        and (size == "0" or size[0] != "0")
        and int(size) <= MAX_SIZE
        and executable in ("true", "false")
        and 0 < len(source) <= 4096
        and not UNSAFE & set(source)
    )
    if not plain:
        raise Fallback
    return name, int(number), sha, int(size), executable == "true", source


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
    """``Lock.content()``: the canonical JSON the digest covers."""
    tools = [
        {
            "name": name,
            "ref": f"{name}:{number}@sha256:{sha}",
            "size": size,
            "executable": executable,
            "signer": None,
            "source": source,
        }
        for name, number, sha, size, executable, source in pins
    ]
    doc = {"format": FORMAT, "tools": tools}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


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
            why = _installed(pin, kinds.get(pin[0]), folder, os.path.join(into, pin[0]))
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


def _installed(pin: Pin, kind: str | None, folder: int, shown: str) -> str | None:
    """As ``lockfile.pins.installed_problem``."""
    name, number, sha, size, executable, _source = pin
    ref, mode = f"{name}:{number}@sha256:{sha}", 0o755 if executable else 0o644
    if kind is None:
        return f"{shown} is missing (the lock pins {ref})"
    if kind != "file":
        what = {"link": "a symbolic link", "folder": "a folder"}.get(kind, "a special file")
        return f"{shown} is {what}, not the file of {ref}"
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=folder)
    except OSError:
        raise Fallback from None  # changed since the listing
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Fallback
        if info.st_size != size:
            return f"{shown} has {info.st_size} bytes; {ref} has {size}"
        if _sha256(fd, size) != sha:
            return f"{shown} differs from {ref} (its sha256 is not the pinned one)"
    finally:
        os.close(fd)
    found = stat.S_IMODE(info.st_mode)
    if found != mode:
        return f"{shown} has mode {found:o}; {ref} installs with {mode:o}"
    return None


def _sha256(fd: int, size: int) -> str | None:
    """SHA-256 of the ``size`` bytes of an open regular file, None when it holds more:
    one read(2) for a tool's usual size (asking one byte more shows the end)."""
    data = os.read(fd, size + 1) if size < ONE_READ else b""
    h, total = hashlib.sha256(data), len(data)
    if total < size or size >= ONE_READ:  # a large file, or a short read: read on
        while total <= size and (chunk := os.read(fd, 1 << 20)):
            total += len(chunk)
            h.update(chunk)
    return h.hexdigest() if total <= size else None
