"""Where pinned versions come from: a local vault, a daemon, or a tool pack.

Each source answers the same few questions of a pin (is that exact version there, with
what content, is it yanked, what is the tool's latest, does its signature hold) so that
``lock``, ``install`` and ``verify --lock`` do not care which one they were given. A pin
is looked up by its name and number, never by its hash alone: the same content
published under another name does not satisfy it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from toolvault.errors import InvalidInput, NotFound
from toolvault.lockfile.format import Pin
from toolvault.lockfile.trust import Trust
from toolvault.models import Version, Yank
from toolvault.spec import Spec

if TYPE_CHECKING:
    from toolvault.client import RemoteVault
    from toolvault.vault import Vault


class Source(Protocol):
    """What the lock commands ask of a vault, a daemon or a pack."""

    where: str  # the vault home, daemon URL or pack path, as messages and the lock name it

    def resolve(self, spec: Spec) -> Version:
        """The version a spec names now (``lock``)."""

    def prefetch(self, pins: Sequence[Pin], *, content: bool = False) -> None:
        """Read these pins (and their tools' latest) in bulk where that is cheaper."""

    def pinned(self, pin: Pin, *, content: bool = False) -> Version | None:
        """Version ``pin.version`` of tool ``pin.name`` (its bytes too with ``content``),
        or None when there is no such tool or version."""

    def missing(self, pin: Pin) -> str:
        """Why ``pin`` is not here, in words: what exists instead."""

    def latest(self, name: str) -> int | None:
        """The number of the tool's latest version (not yanked), None when it has none."""

    def yanked(self, pin: Pin) -> str | None:
        """The reason the pinned version was yanked, or None."""

    def signature_problem(self, v: Version, signer: str) -> str | None:
        """None when ``v`` is validly signed by ``signer``; else why not."""

    def trust(self) -> Trust | None:
        """The trust store a signed lock is checked against (None: there is none)."""


class VaultSource:
    """A local vault (SQLite or PostgreSQL): one query a pin."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.where = str(vault.home)
        self._yanks: dict[tuple[str, int], str] | None = None
        self._trust: Trust | None = None
        self._read: dict[tuple[str, int], Version | None] = {}  # prefetched pins
        self._latest: dict[str, int | None] = {}

    def prefetch(self, pins: Sequence[Pin], *, content: bool = False) -> None:
        """The pins in a few queries, and their tools' latest in a few more."""
        pairs = [(p.name, p.version) for p in pins]
        found = {(v.name, v.version): v for v in self.vault.store.versions_at(pairs, content)}
        self._read.update((pair, found.get(pair)) for pair in pairs)
        names = {p.name for p in pins}
        self._latest.update((name, None) for name in names)
        self._latest.update((t.name, t.latest_version) for t in self.vault.store.tools_named(names))

    def resolve(self, spec: Spec) -> Version:
        """The version a spec names now."""
        return self.vault.get(spec)

    def pinned(self, pin: Pin, *, content: bool = False) -> Version | None:
        """The pinned version, from the store (or what :meth:`prefetch` read of it)."""
        key = (pin.name, pin.version)
        if key in self._read:
            v = self._read.pop(key)  # read once: its content is not kept past its use
            if v is None or not content or v.content is not None:
                return v
        return self.vault.store.version(pin.name, pin.version, content)

    def missing(self, pin: Pin) -> str:
        """What the vault has of the pin's tool."""
        return _what_exists(self.vault.store.tool(pin.name), pin, f"the vault at {self.where}")

    def latest(self, name: str) -> int | None:
        """The tool's latest version number."""
        if name in self._latest:
            return self._latest[name]
        tool = self.vault.store.tool(name)
        return tool.latest_version if tool else None

    def yanked(self, pin: Pin) -> str | None:
        """The yank reason, read once for every tool."""
        if self._yanks is None:
            self._yanks = {(y.name, y.version): y.reason for y in self.vault.store.yanks()}
        return self._yanks.get((pin.name, pin.version))

    def trust(self) -> Trust:
        """This vault's trust store."""
        if self._trust is None:
            keys = self.vault.store.trusted_keys()
            self._trust = Trust(keys, f"the trust store of {self.where}")
        return self._trust

    def signature_problem(self, v: Version, signer: str) -> str | None:
        """Checked against this vault's trust store."""
        return self.trust().version(v, signer)


class RemoteSource:
    """The daemon at ``TOOLVAULT_URL``. Signatures are checked against ``local`` (the
    trust store of the vault in this machine's home) when there is one, else the daemon's
    own verdict is taken."""

    def __init__(self, remote: RemoteVault, local: Trust | None) -> None:
        self.remote = remote
        self.where = remote.url
        self.local = local
        self._info: dict[tuple[str, int], dict[str, object]] = {}

    def prefetch(self, pins: Sequence[Pin], *, content: bool = False) -> None:
        """Nothing: the daemon is asked pin by pin."""

    def resolve(self, spec: Spec) -> Version:
        """The version a spec names now, as the daemon says."""
        return self.remote.get(spec)

    def pinned(self, pin: Pin, *, content: bool = False) -> Version | None:
        """The pinned version; its content is checked against its hash by the client."""
        exact = f"{pin.name}:{pin.version}"
        try:
            info = self.remote.describe(exact)
        except NotFound:
            return None
        self._info[(pin.name, pin.version)] = info
        if not content:
            return Version.from_dict(info)
        return self.remote.cat(exact)

    def missing(self, pin: Pin) -> str:
        """What the daemon has of the pin's tool."""
        try:
            tool = self.remote.tool(pin.name)
        except NotFound:
            tool = None
        return _what_exists(tool, pin, f"the daemon at {self.where}")

    def latest(self, name: str) -> int | None:
        """The tool's latest version number, as the daemon says."""
        try:
            return self.remote.tool(name).latest_version
        except NotFound:
            return None

    def yanked(self, pin: Pin) -> str | None:
        """The yank reason the daemon gave with the version."""
        info = self._info.get((pin.name, pin.version))
        if info is None:
            self.pinned(pin)
            info = self._info.get((pin.name, pin.version), {})
        reason = info.get("yanked")
        return reason if isinstance(reason, str) else None

    def trust(self) -> Trust | None:
        """This machine's trust store, if it has a vault."""
        return self.local

    def signature_problem(self, v: Version, signer: str) -> str | None:
        """Against this machine's trust store, else the daemon's ``signature_status``."""
        if self.local is not None:
            return self.local.version(v, signer)
        if v.key_id != signer:
            return f"the lock records signer {signer}, but {v.ref} is signed by {v.key_id}"
        status = str(self._info.get((v.name, v.version), {}).get("signature_status", ""))
        return None if status.startswith("valid") else f"the daemon says: {status}"


class PackSource:
    """A tool pack (``--from PACK``), its hashes checked when it was read; signatures are
    checked against the trust store of the vault in this machine's home."""

    def __init__(
        self, versions: Iterable[Version], yanks: Iterable[Yank], where: str, local: Trust | None
    ) -> None:
        """``versions`` (with content) and ``yanks``: what a pack parsed and hash-checked
        by :func:`toolvault.sources.packs.parse` holds."""
        self.where = where
        self.local = local
        self._versions = {(v.name, v.version): v for v in versions}
        self._yanks = {(y.name, y.version): y.reason for y in yanks}

    def prefetch(self, pins: Sequence[Pin], *, content: bool = False) -> None:
        """Nothing: the pack is in memory already."""

    def resolve(self, spec: Spec) -> Version:
        """Locking from a pack is not offered: ingest it, then lock from the vault."""
        raise InvalidInput(
            f"'toolvault lock' pins from a vault or a daemon; 'toolvault ingest {self.where}' "
            "first, then lock from the vault"
        )

    def pinned(self, pin: Pin, *, content: bool = False) -> Version | None:
        """The pinned version, if the pack holds it."""
        return self._versions.get((pin.name, pin.version))

    def missing(self, pin: Pin) -> str:
        """What the pack holds of the pin's tool."""
        numbers = sorted(n for name, n in self._versions if name == pin.name)
        if not numbers:
            return f"the pack {self.where} holds no tool named '{pin.name}'"
        held = ", ".join(str(n) for n in numbers[:20]) + ("…" if len(numbers) > 20 else "")
        return f"the pack {self.where} holds versions {held} of '{pin.name}', not {pin.version}"

    def latest(self, name: str) -> int | None:
        """The highest version of the tool in the pack that the pack does not yank."""
        numbers = [n for t, n in self._versions if t == name and (t, n) not in self._yanks]
        return max(numbers, default=None)

    def yanked(self, pin: Pin) -> str | None:
        """The yank the pack records, if any."""
        return self._yanks.get((pin.name, pin.version))

    def trust(self) -> Trust | None:
        """This machine's trust store, if it has a vault."""
        return self.local

    def signature_problem(self, v: Version, signer: str) -> str | None:
        """Against this machine's trust store: a pack vouches for nothing itself."""
        if self.local is None:
            return (
                f"{v.ref} is signed, and there is no vault here whose trust store could "
                "check it ('toolvault init', then 'toolvault trust add NAME ed25519:…')"
            )
        return self.local.version(v, signer)


def _what_exists(tool: object, pin: Pin, where: str) -> str:
    """``no tool named 'x' in …`` or ``tool 'x' in … has versions 1..3``."""
    latest = getattr(tool, "versions", None)
    if tool is None or not latest:
        return f"there is no tool named '{pin.name}' in {where}"
    return (
        f"tool '{pin.name}' in {where} has versions 1..{latest}; there is no version {pin.version}"
    )
