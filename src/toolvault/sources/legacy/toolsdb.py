"""Reading a Tools-DB (SPEC §8, ``migrate-legacy --tools-db``): the rows of its
``tools`` table as legacy items, read through a read-only SQLite connection.

A row becomes one version of its tool (rows with a ``version`` column, those versions
in order); a ``signature`` that is not the SHA-256 of the code is reported and the row
skipped unless ``--accept-mismatch``. Planning and writing are :mod:`.shared`'s.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any

from toolvault.errors import InvalidInput
from toolvault.sources.legacy.shared import (
    Item,
    Source,
    digest,
    legacy_description,
    nonblank,
    parse_time,
)

TOOLS_DB_COLUMNS = (
    "name",
    "code",
    "description",
    "created_at",
    "updated_at",
    "owner",
    "version",
    "signature",
)
DEFAULT_OWNER = "core"


def read_tools_db(path: str | os.PathLike[str], *, accept_mismatch: bool = False) -> Source:
    """Rows of a Tools-DB ``tools`` table (``name``, ``code``, maybe more) as items."""
    raw = str(path)
    file = Path(raw)
    if not file.is_file():
        raise InvalidInput(
            f"{raw}: no such file; --tools-db takes a SQLite database with a 'tools' table"
        )
    file = file.resolve()
    source = Source("tools-db", f"tools-db:{file}", "#", files=1)
    columns, rows = _tools_rows(file, raw)
    for row in rows:
        record = dict(zip(["_rowid", *columns], row, strict=True))
        item = _tools_item(record, source, accept_mismatch)
        if item is not None:
            source.items.append(item)
    return source


def _tools_rows(file: Path, raw: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns toolvault uses and every row, read through a read-only connection."""
    try:
        conn = sqlite3.connect(_read_only_uri(file, raw), uri=True)
    except sqlite3.Error as exc:
        raise InvalidInput(f"cannot open {raw} read-only: {exc}") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        columns = _tools_columns(conn, raw)
        select = ", ".join(f'"{c}"' for c in columns.values())
        try:
            rows = conn.execute(f"SELECT rowid, {select} FROM tools ORDER BY rowid").fetchall()
        except sqlite3.OperationalError:  # a WITHOUT ROWID table: number the rows by name
            found = conn.execute(f"SELECT {select} FROM tools ORDER BY 1").fetchall()
            rows = [(i, *r) for i, r in enumerate(found, 1)]
        return list(columns), rows
    except sqlite3.Error as exc:
        raise InvalidInput(f"cannot read {raw}: {exc}") from None
    finally:
        conn.close()


def _read_only_uri(file: Path, raw: str) -> str:
    """A ``mode=ro`` URI. A WAL database with no -wal file has all its content in the
    main file; it is opened ``immutable`` so that SQLite creates no -shm or -wal beside it."""
    with open(file, "rb") as fh:
        header = fh.read(100)
    if header[:16] != b"SQLite format 3\x00":
        raise InvalidInput(f"{raw} is not a SQLite database")
    uri = f"file:{urllib.parse.quote(str(file))}?mode=ro"
    wal = header[18:19] == b"\x02"
    if wal and not file.with_name(file.name + "-wal").exists():
        uri += "&immutable=1"
    return uri


def _tools_columns(conn: sqlite3.Connection, raw: str) -> dict[str, str]:
    """Known column (lower case) -> its name as declared; name and code are required."""
    info = conn.execute("PRAGMA table_info(tools)").fetchall()
    if not info:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        raise InvalidInput(
            f"{raw} has no 'tools' table (tables: {', '.join(tables) or 'none'}); "
            "--tools-db takes a database whose 'tools' table has 'name' and 'code' columns"
        )
    declared = {str(r[1]).lower(): str(r[1]) for r in info}
    missing = [c for c in ("name", "code") if c not in declared]
    if missing:
        raise InvalidInput(
            f"the 'tools' table of {raw} has no {' or '.join(repr(c) for c in missing)} column "
            f"(columns: {', '.join(declared.values())})"
        )
    return {c: declared[c] for c in TOOLS_DB_COLUMNS if c in declared}


def _tools_item(row: dict[str, Any], source: Source, accept_mismatch: bool) -> Item | None:
    rowid, name = row["_rowid"], row["name"]
    where = f"tools row {rowid}" + (f" ({name})" if isinstance(name, str) else "")
    content = _code_bytes(row["code"])
    if not isinstance(name, str) or not name:
        source.skipped.append(f"{where}: no tool name")
        return None
    if content is None:
        source.skipped.append(
            f"{where}: its code is {'NULL' if row['code'] is None else 'not text'}"
        )
        return None
    sha = digest(content)
    if not _signature_ok(row.get("signature"), sha, where, source, accept_mismatch):
        return None
    owner = nonblank(row.get("owner")) or DEFAULT_OWNER
    when = _time_or_note(row.get("created_at"), f"{where} created_at", source)
    if when is None:
        when = _time_or_note(row.get("updated_at"), f"{where} updated_at", source)
    described = legacy_description(row.get("description"))
    return Item(
        name=name,
        source_name=name,
        content=content,
        sha256=sha,
        order=(_row_version(row.get("version")), rowid),
        origin=f"{source.location}#{rowid}",
        where=where,
        when=when,
        owner=owner,
        created_by=owner,
        description=described[0],
        message=described[1],
    )


def _code_bytes(code: object) -> bytes | None:
    if isinstance(code, str):
        return code.encode("utf-8", "surrogatepass")  # a lone surrogate fails the UTF-8 check
    if isinstance(code, bytes):
        return code
    return None


def _row_version(value: object) -> int:
    """The row's ``version`` (NULL is the PRD's default, 1)."""
    try:
        return int(value) if value is not None else 1  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1


def _signature_ok(signature: object, sha: str, where: str, source: Source, accept: bool) -> bool:
    """A ``signature`` that is not the SHA-256 of the code is reported; imported only
    with ``--accept-mismatch``."""
    if signature is None or (isinstance(signature, str) and not signature.strip()):
        return True
    given = str(signature).strip().lower()
    if given == sha:
        return True
    shown = given if len(given) <= 16 else given[:16] + "…"
    problem = f"{where}: signature {shown} does not match its code (sha256 {sha[:16]}…)"
    if accept:
        source.notes.append(f"{problem}; imported anyway (--accept-mismatch)")
        return True
    source.skipped.append(f"{problem}; --accept-mismatch imports it anyway")
    return False


def _time_or_note(value: object, where: str, source: Source) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        source.notes.append(f"{where}: {value!r} is not a time; its authoring time is unknown")
        return None
