"""What the audit log says of each tool's creation and lifecycle message, and of the
packs imported, replayed by ``verify`` against the ``tools`` and ``pack_imports`` rows.

What each kind of entry carries, and so what is checked:

- A tool created by a publish (or adopted by migration 2) has, as ``created_at``, the
  ``recorded_at`` of its version 1: both are written in the one transaction with the
  same time, in every toolvault so far, and the entry recording version 1 holds a
  digest of that field. So ``tools.created_at`` is checked against it, for old
  vaults' entries as for new ones.
- A tool restored by a pack import takes its ``created_at`` and lifecycle message from
  the pack. Import entries written since this check record both for every tool they
  touch; older import entries do not, so a tool such an entry created has its
  ``created_at`` unchecked, and its lifecycle message unchecked until a later
  deprecate, retire or reactivate entry states it.
- deprecate, retire and reactivate entries carry the message, in old vaults as in
  new. A publish that reactivated a retired tool stored no message but wrote
  ``{"message": "published again"}``; such an entry admits either (since this
  check, it writes ``{"message": null, "reason": "published again"}``).
- A pack import entry carries the pack's name, version, manifest hash and source,
  in old vaults as in new: the ``pack_imports`` rows (which refuse a downgrade) are
  exactly those, so a deleted row, which would let an older pack in again, is found.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from toolvault.models import Problem

# What old publish-reactivations wrote; the tool's message was left empty.
PUBLISHED_AGAIN = {"message": "published again"}

Pack = tuple[str, int]
PackRecord = tuple[str | None, str | None]  # manifest sha256, source


class Unknown:
    """An expectation an old entry does not state: not checked."""


class FirstVersion:
    """tools.created_at is its version 1's recorded_at (see above)."""


UNKNOWN = Unknown()
FIRST_VERSION = FirstVersion()
EITHER_PUBLISHED_AGAIN = (None, "published again")


class ToolHistory:
    """The replayed state, entry by entry (:meth:`apply`), then compared (:meth:`problems`)."""

    def __init__(self) -> None:
        self.created: dict[str, str | FirstVersion | Unknown] = {}
        self.messages: dict[str, Any] = {}  # a text, None, UNKNOWN or EITHER_PUBLISHED_AGAIN
        self.packs: dict[Pack, PackRecord] = {}

    def apply(self, action: str, tool: str | None, details: Any) -> None:
        """Fold one entry in (entries of other actions change nothing here)."""
        if not isinstance(details, dict):
            return
        if action in ("publish", "adopt") and tool:
            self.created.setdefault(tool, FIRST_VERSION)
            self.messages.setdefault(tool, None)
        elif action in ("deprecate", "retire", "reactivate") and tool:
            said = details.get("message")
            self.messages[tool] = EITHER_PUBLISHED_AGAIN if details == PUBLISHED_AGAIN else said
        elif action == "import":
            self._import(details)

    def _import(self, details: dict[str, Any]) -> None:
        for name, state in (details.get("tools") or {}).items():
            if not isinstance(state, dict):
                continue
            self.created.setdefault(name, str(state.get("created_at") or "") or UNKNOWN)
            self.messages[name] = state.get("lifecycle_message", UNKNOWN)
        if "pack" in details and "pack_version" in details:
            key = (str(details["pack"]), int(details["pack_version"]))
            self.packs[key] = (details.get("manifest_sha256"), details.get("source"))

    def problems(
        self,
        tools: Iterable[tuple[str, str, str | None]],
        packs: Iterable[tuple[str, int, str, str]],
        firsts: dict[str, str],
    ) -> list[Problem]:
        """``tools``: (name, created_at, lifecycle_message) rows; ``packs``: the
        pack_imports rows (name, version, manifest sha256, source); ``firsts``: the
        recorded_at of each tool's version 1."""
        found: list[Problem] = []
        for name, created_at, message in tools:
            found += self._tool(name, created_at, message, firsts)
        return found + self._packs({(n, v): (sha, src) for n, v, sha, src in packs})

    def _tool(
        self, name: str, created_at: str, message: str | None, firsts: dict[str, str]
    ) -> list[Problem]:
        found = []
        how = self.created.get(name, UNKNOWN)
        want = firsts.get(name) if how is FIRST_VERSION else how
        if isinstance(want, str) and created_at != want:
            source = "its version 1 was recorded" if how is FIRST_VERSION else "the audit log says"
            detail = f"created_at is {created_at!r} in the database, but {source} {want!r}"
            found.append(Problem("created_at", name, None, detail))
        said = self.messages.get(name, UNKNOWN)
        if said is EITHER_PUBLISHED_AGAIN:
            said = message if message in EITHER_PUBLISHED_AGAIN else None
        if not isinstance(said, Unknown) and message != said:
            detail = (
                f"lifecycle message is {message!r} in the database "
                f"but {said!r} according to the audit log"
            )
            found.append(Problem("lifecycle", name, None, detail))
        return found

    def _packs(self, have: dict[Pack, PackRecord]) -> list[Problem]:
        if have == self.packs:
            return []
        found = []
        for key in sorted(set(have) | set(self.packs)):
            if key not in have:
                detail = (
                    f"pack {key[0]}@{key[1]} was imported (audit log) but its record is gone "
                    "from pack_imports: an older version of the pack would be taken again"
                )
            elif key not in self.packs:
                detail = (
                    f"pack {key[0]}@{key[1]} is recorded as imported, but no audit entry says so"
                )
            elif have[key] != self.packs[key]:
                detail = (
                    f"pack {key[0]}@{key[1]}: its import record {have[key]!r} differs from "
                    f"the audit log's {self.packs[key]!r}"
                )
            else:
                continue
            found.append(Problem("pack", None, None, detail))
        return found


def unused_blob(sha: str, size: int) -> Problem:
    """A sound blob that no version uses: nothing toolvault does leaves one, so a
    version was removed, or the blob put there, behind its back."""
    return Problem(
        "unused",
        None,
        None,
        f"blob {sha} ({size} bytes) is used by no version (a version was removed, "
        "or the blob added, outside toolvault)",
    )
