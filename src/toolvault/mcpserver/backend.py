"""Where the MCP server's tools read and write: a local vault, a daemon through
``TOOLVAULT_URL``, or, mounted in the daemon, the daemon's own vault as the bearer
token of each HTTP request allows (the REST API's guard, so its rules exactly).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from toolvault.errors import PermissionDenied, Unauthorized

if TYPE_CHECKING:
    from toolvault.client import RemoteVault
    from toolvault.server.hot import Guard
    from toolvault.vault import Vault


@dataclass(frozen=True, slots=True)
class RunPlace:
    """Where a backend's ``run`` runs tools (:mod:`toolvault.mcpserver.run_tool`):
    ``scratch``, in an empty temporary folder per run, else in the server's current
    folder; ``net_allowed``, whether a run may ask for the network."""

    scratch: bool = False
    net_allowed: bool = True


# A tool's latest as the change watcher compares it: (latest version, lifecycle).
Snapshot = dict[str, tuple[int | None, str]]


class Backend(Protocol):
    """The vault a request acts on, what the change watcher reads, and where ``run``
    runs tools (``run_place`` None: the server offers no ``run``)."""

    run_place: RunPlace | None

    def reader(self, headers: Any) -> Any:
        """The vault (or RemoteVault) a read acts on, for a request with ``headers``."""

    def writer(self, headers: Any) -> Any:
        """The vault a write acts on; Unauthorized without a valid token (daemon)."""

    def runner(self, headers: Any) -> Any:
        """The vault a ``run`` reads its version from; refused where running is not."""

    def marker(self) -> object | None:
        """A cheap value that changes whenever anything was written (None: unknown);
        the change watcher and the kept answers of get_context compare it. Blocking."""

    def snapshot(self) -> Snapshot:
        """Every tool's latest version and lifecycle."""


def snapshot_of(vault: Any) -> Snapshot:
    """Every tool's (latest version, lifecycle) from a vault's listing."""
    return {t.name: (t.latest_version, t.lifecycle) for t in vault.tools()}


class LocalBackend:
    """One local vault, for ``toolvault mcp`` without ``TOOLVAULT_URL``."""

    # The user's own machine, as 'toolvault run --sandbox' in the server's folder.
    run_place: RunPlace | None = RunPlace()

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def reader(self, headers: Any) -> Vault:
        """The vault itself."""
        return self.vault

    def writer(self, headers: Any) -> Vault:
        """The vault itself, acting for its configured owner."""
        return self.vault

    def runner(self, headers: Any) -> Vault:
        """The vault itself."""
        return self.vault

    def marker(self) -> object | None:
        """The audit log's head (sequence number and hash): every write appends to it."""
        return self.vault.store.audit_head()[:2]

    def snapshot(self) -> Snapshot:
        """Every tool's latest and lifecycle."""
        return snapshot_of(self.vault)


class RemoteBackend:
    """The daemon at ``TOOLVAULT_URL``, for ``toolvault mcp`` beside it: one
    :class:`RemoteVault` per worker thread (a RemoteVault keeps one connection)."""

    # The daemon serves the content; it runs here, on the user's machine.
    run_place: RunPlace | None = RunPlace()

    def __init__(self, url: str, token: str | None, home: Path) -> None:
        self.url, self.token, self.home = url, token, home
        self.local = threading.local()
        self.made: list[RemoteVault] = []
        self.lock = threading.Lock()
        self.remote()  # a malformed URL or token is refused before serving

    def remote(self) -> RemoteVault:
        """This thread's client of the daemon."""
        found: RemoteVault | None = getattr(self.local, "remote", None)
        if found is None:
            from toolvault.client import RemoteVault

            found = self.local.remote = RemoteVault(self.url, self.token, home=self.home)
            with self.lock:
                self.made.append(found)
        return found

    def reader(self, headers: Any) -> RemoteVault:
        """The daemon, with the token of TOOLVAULT_TOKEN."""
        return self.remote()

    def writer(self, headers: Any) -> RemoteVault:
        """The daemon, with the token of TOOLVAULT_TOKEN (it checks the rights)."""
        return self.remote()

    def runner(self, headers: Any) -> RemoteVault:
        """The daemon, for the version's content (which runs on this machine)."""
        return self.remote()

    def marker(self) -> object | None:
        """Unknown: the watcher compares listings."""
        return None

    def snapshot(self) -> Snapshot:
        """Every tool's latest and lifecycle, as the daemon lists them."""
        return snapshot_of(self.remote())

    def close(self) -> None:
        """Close every connection to the daemon."""
        for remote in self.made:
            remote.close()


class DaemonBackend:
    """The daemon's own vault behind its bearer tokens: each request's
    ``Authorization`` header goes through the REST API's :class:`Guard` (owner,
    maintainers, admin, read-only tokens, ``--public-read``)."""

    def __init__(self, guard: Guard, run_place: RunPlace | None = None) -> None:
        self.guard = guard
        self.run_place = run_place

    def reader(self, headers: Any) -> Vault:
        """The vault for a read by this request's token (or anyone, --public-read)."""
        return self.guard.reader(self._secret(headers))

    def writer(self, headers: Any) -> Vault:
        """The vault acting for this request's token; Unauthorized without one."""
        return self.guard.writer(self._secret(headers))

    def runner(self, headers: Any) -> Vault:
        """A run executes on the daemon's machine: only for a token that may write
        (never anonymously under --public-read, never a read-only token)."""
        vault = self.guard.writer(self._secret(headers))
        who = vault.principal
        if who is not None and who.read_only:
            raise PermissionDenied(
                f"{who.name}'s token is read-only; running a tool on the daemon's machine "
                "needs a token that may write",
                {"principal": who.name, "read_only": True, "needs": "write"},
            )
        return vault

    def marker(self) -> object | None:
        """The audit log's head (sequence number and hash), whichever process wrote."""
        return self.guard.vault.store.audit_head()[:2]

    def snapshot(self) -> Snapshot:
        """Every tool's latest and lifecycle."""
        return snapshot_of(self.guard.vault)

    @staticmethod
    def _secret(headers: Any) -> str | None:
        from toolvault.server.hot import bearer_secret

        if headers is None:  # not over HTTP: nothing authenticates it
            raise Unauthorized("this request carries no bearer token")
        return bearer_secret(headers.get("authorization"))
