"""The one error hierarchy of toolvault.

Every front end (CLI, HTTP daemon, MCP) translates these in a single place: the
CLI prints one line ``toolvault: error: …`` (or, under ``--json``, the object
``{"error": {"code", "message", "details"}}``) and exits with :attr:`exit_code`;
the server answers that JSON body with :attr:`http_status`. :attr:`code` is the
one table of machine-readable codes (SPEC §11), the same on every front end;
:attr:`details` carries what a program needs to act (the current latest, the
expected and found hash, the versions that exist…).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs the fast paths' start-up
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class ToolvaultError(Exception):
    """Base class: a failure the user can act on, with a message that says how."""

    exit_code = 1
    http_status = 500
    code = "error"

    def __init__(self, message: str = "", details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The error's JSON object, ``{"code", "message", "details"}``: what the daemon
        answers under ``"error"`` and the CLI prints under ``--json``."""
        return {"code": self.code, "message": str(self), "details": self.details}


class InvalidInput(ToolvaultError):
    """The request itself is wrong (bad name, bad spec, binary content…)."""

    exit_code = 2
    http_status = 400
    code = "invalid_input"


class InvalidSpec(InvalidInput):
    """A name or version spec does not follow the grammar."""

    code = "invalid_spec"


class TooLarge(InvalidInput):
    """Content over the configured size limit."""

    http_status = 413
    code = "too_large"


class NotFound(ToolvaultError):
    """A well-formed spec that matches nothing; the message says what exists."""

    http_status = 404
    code = "not_found"


class Conflict(ToolvaultError):
    """The write conflicts with the current state."""

    http_status = 409
    code = "conflict"


class StaleBase(Conflict):
    """A compare-and-set publish whose expected latest is no longer the latest (or a
    tool expected to be new that exists); ``details`` names the current latest."""

    http_status = 412
    code = "stale_base"


class PermissionDenied(ToolvaultError):
    """The caller may not do this."""

    http_status = 403
    code = "forbidden"


class Unauthorized(PermissionDenied):
    """A daemon request without a valid bearer token (missing, unknown or revoked)."""

    http_status = 401
    code = "unauthorized"


class SandboxUnavailable(ToolvaultError):
    """``run --sandbox`` cannot confine the tool here (no ``bwrap``, no user namespaces):
    the tool is not run at all, never run unconfined. Exit 125, as ``env`` and ``timeout``
    exit when they fail before starting a command."""

    exit_code = 125
    http_status = 501
    code = "sandbox_unavailable"


class IntegrityError(ToolvaultError):
    """Stored data does not match its hashes, chain or signatures."""

    http_status = 409
    code = "integrity"


class SchemaTooNew(ToolvaultError):
    """The database was written by a newer toolvault."""

    http_status = 500
    code = "schema_too_new"


class StoreError(ToolvaultError):
    """The database could not be used (locked for too long, unreadable file…)."""

    http_status = 503
    code = "store"


class DatabaseDamaged(StoreError):
    """The database file is lost, empty, not SQLite or another program's: opening refuses
    it rather than take it for a new vault (``commands/`` may hold the only copy left)."""

    code = "database_damaged"

    def __init__(
        self, message: str, details: Mapping[str, Any] | None = None, *, empty: bool = False
    ) -> None:
        super().__init__(message, details)
        self.empty = empty  # an empty file: a new vault may be made in it where nothing is lost


class Unreachable(ToolvaultError):
    """The toolvault daemon at ``TOOLVAULT_URL`` could not be reached."""

    http_status = 502
    code = "unreachable"

    @classmethod
    def daemon(cls, url: str, why: object) -> Unreachable:
        """The one wording of a daemon not reached (the client, its event stream and the
        command line's fast paths), with ``why`` (the connection's error)."""
        return cls(
            f"cannot reach the toolvault daemon at {url}: {why}; "
            "check TOOLVAULT_URL and that 'toolvault serve' is running",
            {"url": url},
        )


class CannotExecute(ToolvaultError):
    """``run`` cannot execute the version: it is not executable, or the system refused
    to run it (exec format error, a missing interpreter, permission). The CLI's alone:
    ``run`` exits 126 with it, as ``env`` and ``timeout`` do."""

    http_status = 400
    code = "cannot_execute"


class SourceError(ToolvaultError):
    """A remote source failed: HTTP error, timeout, unreachable host, git failure, byte limit."""

    http_status = 502
    code = "source"


# Codes that are no ToolvaultError, with their HTTP status and CLI exit code (None:
# that front end never answers it): a bug, a method the route does not take, a file
# the system refused, a prompt answered with Ctrl-D.
OTHER_CODES: dict[str, tuple[int | None, int | None]] = {
    "internal": (500, 1),
    "method_not_allowed": (405, None),
    "os_error": (None, 1),
    "aborted": (None, 1),
}


def codes() -> dict[str, tuple[int | None, int | None]]:
    """Every error code with its HTTP status and CLI exit code: the one table that
    ``docs/errors.md`` lists (a test holds the two in step)."""
    kinds = [
        kind
        for kind in globals().values()
        if isinstance(kind, type) and issubclass(kind, ToolvaultError)
    ]
    return {kind.code: (kind.http_status, kind.exit_code) for kind in kinds} | OTHER_CODES
