"""Compare-and-set publishing (SPEC §11): a publish that says which version it builds on.

``expect_latest`` (any spec of the same tool) publishes only while the tool's latest is
that version; ``expect_new`` only while the tool does not exist. The request is checked
before the transaction (:func:`check`); whether it still holds is decided inside it, on
the chain read under the write lock (:func:`hold`), so that of two publishers that read
the same latest only the first one writes and the second gets :class:`StaleBase`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from toolvault import spec as specs
from toolvault import validate
from toolvault.errors import InvalidInput, InvalidSpec, StaleBase, ToolvaultError
from toolvault.spec import Kind, Spec

if TYPE_CHECKING:
    from toolvault.models import Version


class NewVersion(Protocol):
    """What this module reads of a publish request (service.publishing.NewVersion, which
    imports this module: named by its shape, not imported back)."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str | None: ...
    @property
    def references(self) -> Sequence[str]: ...
    @property
    def rollback_of(self) -> int | None: ...
    @property
    def expect_latest(self) -> str | None: ...
    @property
    def expect_new(self) -> bool: ...


class Chain(Protocol):
    """What an expectation is held against: the tool's chain as the write sees it."""

    owner: str | None  # None: no such tool
    latest: int  # 0: none that is not yanked
    latest_sha256: str | None


class Finder(Protocol):
    """The service's lookup of a spec (inside the transaction)."""

    def _find(self, s: Spec, content: bool) -> Version | None: ...


def check(item: NewVersion) -> None:
    """The expectation of a publish request is well formed: a spec of the tool being
    published, or ``expect_new``, never both (raised before anything is written)."""
    validate.flag(item.expect_new, "expect_new", item.source or item.name)
    if item.expect_latest is None:
        return
    validate.of_type(item.expect_latest, str, "expect_latest", "a spec such as 'fmt:3'")
    if item.expect_new:
        raise InvalidInput(
            f"expect_latest ('{item.expect_latest}') and expect_new contradict each other: "
            f"give --expect-latest to build on a version of '{item.name}', or --expect-new "
            "to create it"
        )
    parsed = specs.parse(item.expect_latest)
    if parsed.kind is Kind.VERSIONS:
        raise InvalidSpec(
            f"expect_latest '{item.expect_latest}' names the version listing, not one version; "
            f"give one version, such as {item.name}:3 or its pinned ref"
        )
    if parsed.name != item.name:
        raise InvalidInput(
            f"expect_latest '{item.expect_latest}' names tool '{parsed.name}', but this "
            f"publishes '{item.name}'; expect a version of '{item.name}'"
        )


def hold(finder: Finder, item: NewVersion, chain: Chain) -> None:
    """Raise :class:`StaleBase` unless the tool is still as ``item`` expects it.

    Cheap on the usual path: a number, a hash or ``latest`` is compared with the chain
    already read; only a label or ``previous``/``-K`` costs one more query."""
    if item.expect_new:
        if chain.owner is not None:
            raise _exists(item, chain)
        return
    if item.expect_latest is None:
        return
    parsed = specs.parse(item.expect_latest)
    if not _is_latest(finder, parsed, chain):
        raise _stale(finder, item, parsed, chain)


def _is_latest(finder: Finder, s: Spec, chain: Chain) -> bool:
    sha = chain.latest_sha256
    if not chain.latest or sha is None:
        return False
    if s.kind is Kind.NUMBER:
        return s.value == chain.latest and (s.sha256 is None or sha.startswith(s.sha256))
    if s.kind is Kind.SHA:
        assert isinstance(s.value, str)
        return sha.startswith(s.value)
    if s.back == 0:
        return True
    try:
        found = finder._find(s, False)
    except ToolvaultError:
        return False
    return found is not None and found.version == chain.latest


def _current(name: str, chain: Chain) -> dict[str, Any] | None:
    if not chain.latest or chain.latest_sha256 is None:
        return None
    ref = specs.format_ref(name, chain.latest, chain.latest_sha256)
    return {"ref": ref, "version": chain.latest, "sha256": chain.latest_sha256}


def _details(item: NewVersion, chain: Chain, expected_ref: str | None) -> dict[str, Any]:
    return {
        "tool": item.name,
        "expected": item.expect_latest,
        "expected_ref": expected_ref,
        "expect_new": bool(item.expect_new),
        "current": _current(item.name, chain),
    }


def _exists(item: NewVersion, chain: Chain) -> StaleBase:
    current = _current(item.name, chain)
    if current is None:
        latest = f"every version of it is yanked ('toolvault versions {item.name}' lists them)"
    else:
        latest = (
            f"its latest is {current['ref']}: see it with 'toolvault show {item.name}:"
            f"{chain.latest}' and build on it with --expect-latest {current['ref']}"
        )
    return StaleBase(
        f"tool '{item.name}' exists already, and the publish expected a new tool, so nothing "
        f"was published; {latest}",
        _details(item, chain, None),
    )


def _stale(finder: Finder, item: NewVersion, s: Spec, chain: Chain) -> StaleBase:
    expected = _resolve(finder, s)
    name, given = item.name, item.expect_latest
    current = _current(name, chain)
    details = _details(item, chain, expected.ref if expected else None)
    if chain.owner is None:
        return StaleBase(
            f"no tool named '{name}' exists, but the publish expects its latest to be "
            f"'{given}'; nothing was published (--expect-new creates a tool)",
            details,
        )
    if current is None:
        return StaleBase(
            f"every version of '{name}' is yanked, so its latest is not '{given}'; nothing was "
            f"published ('toolvault versions {name}' lists them)",
            details,
        )
    ref, latest = current["ref"], f"{name}:{chain.latest}"
    if expected is None:
        what = f"'{given}' names no version of '{name}'"
        see = f"toolvault versions {name}"
    else:
        what = f"it is not {expected.name}:{expected.version} as expected"
        see = f"toolvault diff {expected.name}:{expected.version} {latest}"
    return StaleBase(
        f"the latest of '{name}' is {ref}; {what}, so nothing was published. See what "
        f"changed with '{see}', then publish again with --expect-latest {ref}",
        details,
    )


def _resolve(finder: Finder, s: Spec) -> Version | None:
    """The version the expectation named, if any (for the message: never raises)."""
    try:
        return finder._find(s, False)
    except ToolvaultError:
        return None


def older_base(item: NewVersion, latest: int, latest_sha256: str | None) -> tuple[str, ...]:
    """A warning when ``item`` references its own tool only at versions that are not the
    latest: it builds on an older version and would undo what came after (a rollback
    means to, and is not warned about)."""
    if item.rollback_of is not None or not latest or latest_sha256 is None:
        return ()
    own = [r for r in map(_pinned_number, item.references) if r and r[0] == item.name]
    if not own or any(number == latest for _, number in own):
        return ()
    base = max(number for _, number in own)
    ref = specs.format_ref(item.name, latest, latest_sha256)
    return (
        f"{item.name} builds on {item.name}:{base}, an older version: the latest is {ref} "
        f"(see 'toolvault diff {item.name}:{base} {item.name}:{latest}'; "
        "--expect-latest refuses to publish on a stale base)",
    )


def _pinned_number(ref: str) -> tuple[str, int] | None:
    """(name, number) of a stored reference (pinned when it resolved; a dangling one may
    be any spec, and tells nothing about the chain)."""
    try:
        parsed = specs.parse(ref)
    except ToolvaultError:
        return None
    if parsed.kind is not Kind.NUMBER or not isinstance(parsed.value, int):
        return None
    return parsed.name, parsed.value
