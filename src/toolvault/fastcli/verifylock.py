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
import stat
import sys

# The C SHA-256 built into Python (hashlib loads OpenSSL, milliseconds a start), asked
# for by the name of this Python's (a failed import searches every path: a tenth of a ms)
try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:
    from hashlib import sha256  # type: ignore[assignment,unused-ignore]

from toolvault.fastcli.base import Fallback
from toolvault.fastcli.render import Out

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3

# Copies of toolvault.lockfile.format's (tests/test_fastcli_lock.py holds them equal).
FORMAT = "toolvault-lock/1"
HEADER = (
    "# toolvault.lock: the exact tool versions this project uses (SPEC §16).\n"
    "# Written by 'toolvault lock'; install with 'toolvault install --lock FILE --into DIR'.\n"
)
MAX_BYTES = 16 * 1024 * 1024
MAX_SIZE = 1 << 40
MAX_TOOLS = 50_000
# The lock as format.render writes it, unsigned: the top, then six lines a pin ("",
# "[[tool]]", ref, size, executable, source) and the last newline. Its fields are taken
# by position, checked against format.REF_RE's ref and a source that toml_string leaves
# as it is, and the pins are rendered again: the text must be exactly that rendering.
TOP = f'{HEADER}format = "{FORMAT}"\ndigest = "sha256:'
NAME_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
HEX_BYTES = b"0123456789abcdef"
ESCAPED = dict.fromkeys([*range(0x20), 0x7F, ord('"'), ord("\\")])  # toml_string's escapes
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 100  # pins a query: five parameters each, under SQLite's oldest limit of 999
ONE_READ = 1 << 24  # files up to this size are read with one read(2)
# A pinned tool's st_mode as install leaves it: a regular file, 755 or 644 (no set-id bit)
EXECUTABLE, PLAIN = stat.S_IFREG | 0o755, stat.S_IFREG | 0o644

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
    if not text.startswith(TOP) or "[signature]" in text:
        raise Fallback
    end = len(TOP) + 64
    digest, lines = text[len(TOP) : end], text[end:].split("\n")
    if len(lines) % 6 != 2 or len(lines) // 6 > MAX_TOOLS:
        raise Fallback  # not six lines a pin, or more pins than format.load takes
    try:
        columns = _columns(lines[3::6], lines[4::6], lines[5::6], lines[6::6])
    except ValueError:  # a number int() does not read, a line that is not the form
        raise Fallback from None
    if not _plain(*columns):
        raise Fallback  # a field out of bounds or out of the form: format.load decides
    pins = list(zip(*columns, strict=True))
    if render(pins, digest) != text:
        raise Fallback  # not exactly the form: format.load decides
    if sha256(content(pins)).hexdigest() != digest:
        raise Fallback  # the full path refuses it, naming both digests
    return pins


Columns = tuple[list[str], list[int], list[str], list[int], list[bool], list[str]]


def _columns(
    refs: list[str], sizes: list[str], executables: list[str], sources: list[str]
) -> Columns:
    """The pins' fields, a column each, from their lines ``ref = "NAME:N@sha256:HEX"``,
    ``size = N``, ``executable = true``, ``source = "S"``: each column cut out of its
    lines joined, in a few passes of C rather than a Python loop a pin (a fifth less in a
    fresh process). The words around the fields are the rendering's to check; ValueError
    when a column does not come out one value a pin."""
    count = len(refs)
    if not count:
        return [], [], [], [], [], []
    refs_text = "\n".join(refs)[7:-1].replace('"\nref = "', ":").replace("@sha256:", ":")
    fields = refs_text.split(":")  # NAME, N, HEX, NAME, …: a name or a hash holds no ":"
    texts = "\n".join(sources)[10:-1].split('"\nsource = "')  # a source holds no newline
    if len(fields) != 3 * count or len(texts) != count:
        raise ValueError
    numbers = list(map(int, fields[1::3]))
    sized = list(map(int, "\n".join(sizes).replace("size = ", "").split("\n")))
    return (
        fields[0::3],
        numbers,
        fields[2::3],
        sized,
        list(map("executable = true".__eq__, executables)),
        texts,
    )


def _plain(
    names: list[str],
    numbers: list[int],
    shas: list[str],
    sizes: list[int],
    _executables: list[bool],
    sources: list[str],
) -> bool:
    """Whether every field is as ``toolvault lock`` writes it: what ``int()`` read was
    a number's own digits (the rendering compared after says so), and here the rest of
    REF_RE, the bounds, tools by name each once, and sources no escape would change."""
    if not names:
        return True
    if names != sorted(set(names)) or _others(names, NAME_BYTES):
        return False
    if any(not 0 < len(n) <= 128 or n[0] in "._-" for n in names):
        return False
    if _others(shas, HEX_BYTES) or any(len(h) != 64 for h in shas):
        return False
    if min(numbers) < 1 or max(numbers) >= 10**18 or min(sizes) < 0 or max(sizes) > MAX_SIZE:
        return False
    return all(0 < len(s) <= 4096 and len(s.translate(ESCAPED)) == len(s) for s in set(sources))


def _others(texts: list[str], allowed: bytes) -> bytes:
    """The characters of ``texts`` not in ``allowed`` (ASCII), any other character as
    ``?``: empty when each is allowed (a byte table: str.strip tests each character
    against each allowed one)."""
    return "".join(texts).encode("ascii", "replace").translate(None, allowed)


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

# Each pin (name, number, sha256, size, mode) against the vault's version: only the pins
# that do not hold, are yanked, or whose tool has a later version come back (on a sound
# lock none or a few: the comparing is SQLite's, not a Python loop's). Whether there is a
# later version is the tool's highest, yanked or not, in one index seek; the latest not
# yanked, which ``moved`` reports, is sought only for the rows that come back.
PINNED = (
    "SELECT p.column1, "
    "v.sha256 IS p.column3 AND v.size IS p.column4 AND v.executable IS p.column5 "
    "AND t.name IS NOT NULL, y.reason, "
    "(SELECT max(w.version) FROM versions w WHERE w.name = p.column1 AND NOT EXISTS "
    "(SELECT 1 FROM yanks z WHERE z.name = w.name AND z.version = w.version)) "
    "FROM (VALUES {marks}) p "
    "LEFT JOIN versions v ON v.name = p.column1 AND v.version = p.column2 "
    "LEFT JOIN tools t ON t.name = p.column1 "
    "LEFT JOIN yanks y ON y.name = p.column1 AND y.version = p.column2 "
    "WHERE v.sha256 IS NOT p.column3 OR v.size IS NOT p.column4 "
    "OR v.executable IS NOT p.column5 OR t.name IS NULL OR y.reason IS NOT NULL "
    "OR (SELECT max(u.version) FROM versions u WHERE u.name = p.column1) > p.column2"
)


def check_pins(
    conn: sqlite3.Connection, pins: list[Pin]
) -> tuple[list[str], list[dict[str, object]]]:
    """The yank warnings and the moved tools of pins that all hold in the vault (a
    hundred a query: SQLite prepares a longer VALUES list more slowly than two shorter
    ones); a pin that does not hold falls back, for the full path to say what the vault
    has instead."""
    found = {}
    for i in range(0, len(pins), CHUNK):
        chunk = pins[i : i + CHUNK]
        sql = PINNED.format(marks=", ".join(["(?, ?, ?, ?, ?)"] * len(chunk)))
        params = [x for p in chunk for x in (p[0], p[1], p[2], p[3], int(p[4]))]
        found.update({r[0]: r[1:] for r in conn.execute(sql, params)})
    warnings, moved = [], []
    for name, number, sha, _size, _executable, _source in pins:  # by name, as the full path
        row = found.get(name)
        if row is None:
            continue  # it holds, is not yanked, and is its tool's latest
        holds, reason, latest = row
        if not holds:
            raise Fallback
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
        with os.scandir(folder) as listing:
            entries = {entry.name: entry for entry in listing}
        problems = []
        for pin in pins:
            entry = entries.get(pin[0])
            if entry is not None and entry.is_file(follow_symlinks=False) and _holds(pin, folder):
                continue  # the usual case: nothing to say
            why = _installed(pin, _kind(entry), folder, into)
            if why is not None:
                problems.append(
                    {"kind": "installed", "name": pin[0], "version": pin[1], "detail": why}
                )
        return problems
    finally:
        os.close(folder)


def _holds(pin: Pin, folder: int) -> bool:
    """Whether the file at the pin's name, which the listing says is a regular file, is
    the pinned one: its type and mode, its size, its sha256 (:func:`_installed` says what
    differs when it is not)."""
    try:
        fd = os.open(pin[0], READ_FLAGS, dir_fd=folder)
    except OSError:
        raise Fallback from None  # changed since the listing
    try:
        info = os.fstat(fd)
        if info.st_mode != (EXECUTABLE if pin[4] else PLAIN) or info.st_size != pin[3]:
            return False
        return _sha256(fd, pin[3]) == pin[2]
    finally:
        os.close(fd)


def _kind(entry: os.DirEntry[str] | None) -> str | None:
    """What the listing says is at a pin's name: None (nothing), ``link``, ``file``,
    ``folder`` or ``special``, from the listing's own types where the file system gives
    them."""
    if entry is None:
        return None
    if entry.is_symlink():
        return "link"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "folder" if entry.is_dir(follow_symlinks=False) else "special"


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
