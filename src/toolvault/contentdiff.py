"""A version against content that is not published (SPEC §11: ``diff SPEC FILE|-``).

An agent that has improved a tool checks what it changed before it publishes:
``toolvault diff csvsum:4 csvsum.py``, ``Vault.diff_content("csvsum:4", text)``,
``POST /v1/diff``. The answer has the shape of a version diff (``Diff.to_dict()``) with
its new side marked as unpublished: ``new`` and ``new_version`` are null, ``file`` names
where the content came from, ``sha256`` and ``size`` are the content's.

The content is held to what a publish would take (UTF-8 text, no NUL byte, the size
limit), so a binary or oversized file is refused with the same message ``add`` gives.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from typing import Any

from toolvault import validate
from toolvault.errors import InvalidInput, TooLarge
from toolvault.models import Version, changed_lines

STDIN_LABEL = "<stdin>"  # the ``file`` of content read from standard input


def text_of(content: object, where: str, limit: int | None) -> str:
    """``content`` (str or UTF-8 bytes) as text, checked as a publish checks a tool;
    ``limit`` None leaves the size to the daemon, which knows its own."""
    data = validate.content(content, where)
    if limit is not None and len(data) > limit:
        raise TooLarge(
            f"{where} is {len(data):,} bytes; the limit is {limit:,} "
            "(raise max_tool_size in config.toml for larger tools)",
            details={"size": len(data), "limit": limit},
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise InvalidInput(
            f"{where} is not text: NUL byte at offset {nul} "
            "(tools are UTF-8 text; a binary file cannot be diffed)",
            details={"offset": nul},
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{where} is not UTF-8 text: invalid byte at offset {exc.start} "
            "(tools are UTF-8 text; a binary file cannot be diffed)",
            details={"offset": exc.start},
        ) from None


def file_label(file: object) -> str:
    """The name the new side is shown under: one line of printable text."""
    validate.of_type(file, str, "file", "the name of where the content came from")
    assert isinstance(file, str)
    if not file or len(file) > 1024 or not file.isprintable():
        raise InvalidInput(
            "file must name where the content came from in one printable line "
            f"of at most 1,024 characters, not {file[:60]!r}"
        )
    return file


@dataclass(frozen=True, slots=True)
class ContentDiff:
    """A unified diff from a published version to content that is not published."""

    old: Version
    file: str
    sha256: str
    size: int
    lines: tuple[str, ...]

    @property
    def added(self) -> int:
        """Lines added."""
        return changed_lines(self.lines, "+")

    @property
    def removed(self) -> int:
        """Lines removed."""
        return changed_lines(self.lines, "-")

    def to_dict(self) -> dict[str, Any]:
        """A version diff's JSON shape, the new side unpublished (``new: null``)."""
        return {
            "old": self.old.ref,
            "new": None,
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "added": self.added,
            "removed": self.removed,
            "diff": "".join(self.lines),
            "old_version": self.old.to_dict(),
            "new_version": None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContentDiff:
        """Rebuild from the JSON shape (the remote client)."""
        lines = tuple(str(data["diff"]).splitlines(keepends=True))
        old = Version.from_dict(data["old_version"])
        return cls(old, str(data["file"]), str(data["sha256"]), int(data["size"]), lines)


def compare(old: Version, text: str, file: str, context: int) -> ContentDiff:
    """The diff from ``old`` (with its content) to ``text``, as ``Vault.diff`` makes one."""
    validate.of_type(context, int, "context", "a number of lines such as 3")
    if context < 0:
        raise InvalidInput(f"context must be 0 or more lines, not {context}")
    lines = difflib.unified_diff(
        old.text.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=f"{old.name}:{old.version}",
        tofile=file,
        n=context,
    )
    ended = tuple(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
    data = text.encode("utf-8")
    return ContentDiff(old, file, hashlib.sha256(data).hexdigest(), len(data), ended)
