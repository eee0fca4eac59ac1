"""A client for the toolvault daemon that offers the read and write methods of
:class:`toolvault.vault.Vault` that the command line uses.

With ``TOOLVAULT_URL`` (and ``TOOLVAULT_TOKEN``) set, ``ls``, ``cat``, ``show``,
``versions``, ``diff``, ``add``, ``rollback``, ``label``, ``yank``, ``audit`` and
friends act on the daemon through this class. It uses ``http.client`` and
``json`` only, so that a remote ``cat`` stays light.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from toolvault import errors
from toolvault.client_answers import (
    DESCRIBED,
    LISTED,
    REFERENCED_BY,
    REFERENCES,
    check,
    read_body,
    reads_answers,
)
from toolvault.client_hooks import RemoteHooks
from toolvault.client_lineage import RemoteLineages
from toolvault.client_pages import RemotePages
from toolvault.models import (
    AuditEntry,
    Diff,
    Grant,
    Label,
    Problem,
    Published,
    Report,
    Tool,
    Version,
    Yank,
)
from toolvault.search.result import SearchResult
from toolvault.spec import Spec

if TYPE_CHECKING:
    from toolvault.checkpoints import Checkpoint

TIMEOUT = 60.0
# What a kept-alive connection that the server closed meanwhile looks like.
STALE = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)
ERRORS: dict[str, type[errors.ToolvaultError]] = {
    cls.code: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.ToolvaultError)
}
BY_STATUS = {
    400: errors.InvalidInput,
    401: errors.PermissionDenied,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    412: errors.StaleBase,
    413: errors.TooLarge,
}


@reads_answers
class RemoteVault(RemoteLineages, RemoteHooks, RemotePages):
    """The daemon at ``url`` seen through the Vault interface."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = TIMEOUT,
        *,
        home: Path | None = None,
    ) -> None:
        """``home`` keeps the last signed head seen of each daemon (default: the vault
        home, ``$TOOLVAULT_HOME`` or ``~/.toolvault``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.InvalidInput(f"TOOLVAULT_URL must look like http://HOST:PORT, not {url!r}")
        if token is not None:
            from toolvault import validate

            validate.token_secret(token)
        self.url = url.rstrip("/")
        self._parts = parts
        self._base = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._yanks: dict[tuple[str, int], str | None] = {}  # learnt with each describe
        self._asked = "a request"  # the last request made, named if its answer is unreadable
        if home is None:
            from toolvault.config import resolve_home

            home = resolve_home()
        self.home = home
        self._witnessed = False

    def close(self) -> None:
        """Close the connection to the daemon."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> RemoteVault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ----------------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        """Every tool, by name."""
        return [Tool.from_dict(t) for t in check(self._json("GET", "/v1/tools"), [dict])]

    def tool(self, name: str) -> Tool:
        """A tool's summary."""
        return Tool.from_dict(self._json("GET", f"/v1/tools/{_seg(name)}"))

    def all_versions(self) -> list[Version]:
        """Every version of every tool."""
        return [Version.from_dict(v) for v in self.all_version_listing()]

    def version_listing(self, name: str) -> list[dict[str, Any]]:
        """Every version of a tool in its JSON shape with ``yanked``, oldest first."""
        found: list[dict[str, Any]] = self._json("GET", f"/v1/tools/{_seg(name)}/versions")
        check(found, [LISTED])
        return found

    def all_version_listing(self) -> list[dict[str, Any]]:
        """Every version of every tool in its JSON shape with ``yanked``."""
        found: list[dict[str, Any]] = self._json("GET", "/v1/tools?all=true")
        check(found, [LISTED])
        return found

    def history(self, name: str) -> list[dict[str, Any]]:
        """What ``versions NAME history --json`` shows, from the daemon's listing and labels."""
        from toolvault.history import history

        listing = self.version_listing(name)
        tool = self._json("GET", f"/v1/tools/{_seg(name)}")
        return history(listing, [(lb["label"], lb["version"]) for lb in tool["labels"]])

    def versions(self, name: str) -> list[Version]:
        """Every version of a tool, oldest first."""
        return [Version.from_dict(v) for v in self.version_listing(name)]

    def get(self, spec: str | Spec, *, content: bool = False) -> Version:
        """The version a spec names, with its content when asked."""
        if content:
            return self.cat(spec)
        return Version.from_dict(self.describe(spec))

    def describe(self, spec: str | Spec) -> dict[str, Any]:
        """What ``show`` prints: the version, its signature status, yank, labels, tool."""
        result: dict[str, Any] = self._json("GET", f"/v1/versions/{_seg(str(spec))}")
        check(result, DESCRIBED)
        return result

    def cat(self, spec: str | Spec) -> Version:
        """The version a spec names, with its content (two requests: metadata, bytes)."""
        info = self.describe(spec)
        exact = f"{info['name']}:{info['version']}@sha256:{info['sha256']}"
        status, _, body = self._request("GET", f"/v1/content/{_seg(exact)}")
        self._raise_for(status, body)
        found = hashlib.sha256(body).hexdigest()
        if found != info["sha256"]:  # what runs must be what the daemon says it is
            raise errors.IntegrityError(
                f"the daemon at {self.url} served content for {exact} whose sha256 is "
                f"{found}; nothing was used. Run 'toolvault verify' on the daemon's vault",
                {"ref": exact, "expected": info["sha256"], "found": found},
            )
        version = Version.from_dict(info, content=body)
        self._yanks[(version.name, version.version)] = info.get("yanked")
        return version

    def yank_of(self, version: Version) -> Yank | None:
        """The yank of a version, if it was yanked."""
        key = (version.name, version.version)
        if key not in self._yanks:
            self._yanks[key] = self.describe(f"{version.name}:{version.version}").get("yanked")
        reason = self._yanks[key]
        return Yank(version.name, version.version, reason, "", "") if reason else None

    def diff(self, old: str | Spec, new: str | Spec | None = None, context: int = 3) -> Diff:
        """Unified diff, computed by the daemon."""
        query = {"old": str(old), "context": context, **({"new": str(new)} if new else {})}
        return Diff.from_dict(self._json("GET", f"/v1/diff?{urlencode(query)}"))

    def audit(self, name: str | None = None) -> list[AuditEntry]:
        """The daemon's audit log, or one tool's entries."""
        path = "/v1/audit" + (f"?{urlencode({'tool': name})}" if name else "")
        return [AuditEntry(**e) for e in check(self._json("GET", path), [dict])]

    def search(
        self,
        query: str,
        *,
        fields: Sequence[str] = (),
        all_versions: bool = False,
        lifecycle: str | None = None,
        limit: int = 20,
    ) -> list[SearchResult]:
        """The daemon's :meth:`Vault.search <toolvault.service.search.Searching.search>`."""
        params: list[tuple[str, str]] = [("q", query), ("limit", str(limit))]
        params += [("field", f) for f in fields]
        if all_versions:
            params.append(("all_versions", "true"))
        if lifecycle is not None:
            params.append(("lifecycle", lifecycle))
        found = check(self._json("GET", f"/v1/search?{urlencode(params)}"), [dict])
        return [SearchResult(**r) for r in found]

    def verify(self, names: Sequence[str] = (), *, since: Checkpoint | None = None) -> Report:
        """The daemon's verify report, with what this client checks itself: that the
        daemon's log extends the last head it saw, and ``since`` (a head kept elsewhere)."""
        data = self._json(
            "GET", "/v1/verify" + (f"?{urlencode([('name', n) for n in names])}" if names else "")
        )
        problems = [Problem(**p) for p in data["problems"]]
        try:
            self.witness()
        except errors.IntegrityError as exc:
            problems.append(Problem("checkpoint", None, None, str(exc)))
        if since is not None:
            problems += self._extends(since)
        return Report(dict(data["checked"]), tuple(problems))

    # -- signed heads: refusing a daemon rolled back or forked ---------------------------

    def witness(self) -> Checkpoint | None:
        """Check that the daemon's log extends the last signed head this client saw (kept
        under ``HOME/witnessed/``), then remember its current one: an
        :class:`~toolvault.errors.IntegrityError` when it does not (a rollback or a fork),
        as TUF clients refuse a rollback. Once per client; None when the daemon signs no
        head (an older daemon, or a vault that has had no write since it was upgraded)."""
        from toolvault import checkpoints

        path = checkpoints.witnessed_path(self.home, self.url)
        seen = checkpoints.read_file(path)
        if self._witnessed:
            return seen
        newest, entries = self._served(seen.seq if seen else None)
        if seen is not None:
            why = checkpoints.prove_extension(seen, newest, entries)
        else:
            why = newest.why_invalid() if newest else None
        if why:
            raise checkpoints.refuse(self.url, why, path)
        if newest is not None:
            checkpoints.remember(self.home, self.url, newest)
        self._witnessed = True
        return newest

    def _served(self, since: int | None) -> tuple[Checkpoint | None, list[Any]]:
        """The daemon's newest signed head, and its audit entries from ``since`` on."""
        from toolvault.checkpoints import Checkpoint

        status, _, body = self._request("GET", "/v1/checkpoint" + _since(since))
        if status == 404 and since is None:
            return None, []  # a daemon from before checkpoints: nothing to hold it to yet
        self._raise_for(status, body)
        try:
            data = json.loads(body)
            found = data["checkpoint"]
            newest = None if found is None else Checkpoint.from_dict(found, "its checkpoint")
            return newest, list(data.get("entries") or [])
        except (ValueError, KeyError, TypeError, RecursionError, errors.InvalidInput) as exc:
            raise errors.IntegrityError(
                f"the daemon at {self.url} served a checkpoint that is not one ({exc})"
            ) from None

    def _extends(self, since: Checkpoint) -> list[Problem]:
        """``verify --since`` against the daemon: its log extends the head given."""
        from toolvault.checkpoints import KIND, prove_extension

        newest, entries = self._served(since.seq)
        why = prove_extension(since, newest, entries)
        detail = f"the daemon's log does not extend the witness: {why}"
        return [Problem(KIND, None, None, detail)] if why else []

    def refs_report(self, spec: str, reverse: bool = False) -> dict[str, Any]:
        """What a version references, or what references it (``refs --json``)."""
        query = "?reverse=true" if reverse else ""
        report: dict[str, Any] = self._json("GET", f"/v1/refs/{_seg(spec)}{query}")
        check(report, REFERENCED_BY if reverse else REFERENCES)
        return report

    def export_pack(self, specs: Sequence[str]) -> bytes:
        """A pack of the given versions (every tool when empty), built by the daemon."""
        self.witness()
        query = urlencode([("spec", s) for s in specs] or [("all", "true")])
        status, _, body = self._request("GET", f"/v1/packs?{query}")
        self._raise_for(status, body)
        return body

    def runnable_path(self, version: Version) -> None:
        """Remote versions are always run from a fresh local copy."""
        return None

    # -- writes ---------------------------------------------------------------------------

    def publish_many(
        self, items: Iterable[Any], *, sign_with: str | None = None
    ) -> list[Published]:
        """Publish through the daemon; it records the token's principal as the author."""
        if sign_with:
            raise errors.InvalidInput(
                "--sign is not available through TOOLVAULT_URL: the daemon signs with its own "
                "sign_with key"
            )
        body = {"items": [_item(i) for i in items]}
        return [_published(p) for p in self._write("POST", "/v1/publish", body)]

    def rollback(self, name: str, version: int | str, *, message: str | None = None) -> Published:
        """Roll back on the daemon."""
        body = {"version": str(version), "message": message}
        return _published(self._write("POST", f"/v1/tools/{_seg(name)}/rollback", body))

    def label(self, spec: str | Spec, label: str) -> Label:
        """Set or move a label on the daemon."""
        return Label(**self._write("POST", "/v1/labels", {"spec": str(spec), "label": label}))

    def delete_label(self, name: str, label: str) -> None:
        """Delete a label on the daemon."""
        self._write("DELETE", f"/v1/tools/{_seg(name)}/labels/{_seg(label)}")

    def yank(self, spec: str | Spec, reason: str) -> Yank:
        """Yank a version on the daemon."""
        return Yank(**self._write("POST", "/v1/yank", {"spec": str(spec), "reason": reason}))

    def set_lifecycle(self, name: str, lifecycle: str, message: str | None = None) -> Tool:
        """Deprecate, retire or reactivate a tool on the daemon."""
        body = {"lifecycle": lifecycle, "message": message}
        return Tool.from_dict(self._write("POST", f"/v1/tools/{_seg(name)}/lifecycle", body))

    def transfer(self, name: str, new_owner: str) -> Tool:
        """Transfer a tool on the daemon."""
        body = {"owner": new_owner}
        return Tool.from_dict(self._write("POST", f"/v1/tools/{_seg(name)}/owner", body))

    def grants(self, name: str) -> list[Grant]:
        """The maintainers of a tool on the daemon."""
        found = check(self._json("GET", f"/v1/tools/{_seg(name)}/grants"), [dict])
        return [Grant(**g) for g in found]

    def grant(self, name: str, principal: str) -> Grant:
        """Make ``principal`` a maintainer of a tool on the daemon."""
        made = self._write("POST", f"/v1/tools/{_seg(name)}/grants", {"principal": principal})
        return Grant(**made)

    def revoke(self, name: str, principal: str) -> Grant:
        """Take a maintainer's rights on a tool away on the daemon."""
        gone = self._write("DELETE", f"/v1/tools/{_seg(name)}/grants/{_seg(principal)}")
        return Grant(**{k: v for k, v in gone.items() if k != "revoked"})

    def _write(self, method: str, path: str, body: Any = None) -> Any:
        """A write, to a daemon whose log extends the last head this client saw; the
        head after it is remembered, so that losing the write later is a rollback too."""
        self.witness()
        result = self._json(method, path, body)
        self._witnessed = False
        self.witness()
        return result

    # -- HTTP -------------------------------------------------------------------------------

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        status, _, data = self._request(method, path, body)
        self._raise_for(status, data)
        try:
            return json.loads(data)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to be ours
            raise errors.ToolvaultError(
                f"the daemon at {self.url} answered {method} {path} with something that is not "
                "JSON; is TOOLVAULT_URL a toolvault daemon?"
            ) from None

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, bytes]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        self._asked = f"{method} {path}"  # named if the answer cannot be read
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):  # one retry: a kept-alive connection may have been closed
            try:
                conn = self._connection()
                conn.request(method, self._base + path, body=payload, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.headers, read_body(resp, self.url, self._asked)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 2 or not isinstance(exc, STALE):
                    raise errors.Unreachable.daemon(self.url, exc) from None
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            host, port = self._parts.hostname or "", self._parts.port
            if self._parts.scheme == "https":
                self._conn = http.client.HTTPSConnection(host, port, timeout=self.timeout)
            else:
                self._conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        return self._conn

    def _raise_for(self, status: int, body: bytes) -> None:
        if status < 400:
            return
        try:
            err = json.loads(body)["error"]
            code, message = str(err["code"]), str(err["message"])
            details = err.get("details") if isinstance(err.get("details"), dict) else {}
        except (ValueError, KeyError, TypeError, RecursionError):
            code, message = "", body.decode(errors="replace").strip()[:200] or f"HTTP {status}"
            details = {}
        cls = ERRORS.get(code) or BY_STATUS.get(status, errors.ToolvaultError)
        if status == 401:
            message += " (set TOOLVAULT_TOKEN to a token from 'toolvault token create')"
        error = cls(message, details)
        if code and code != error.code:  # a code of the daemon's this client does not know
            error.code = code
        raise error


def _since(seq: int | None) -> str:
    return "" if seq is None else f"?since={seq}"


def _seg(text: str) -> str:
    """One URL path segment (':' and '@' stay readable)."""
    return quote(text, safe=":@")


def _published(data: dict[str, Any]) -> Published:
    """A publish's outcome as the daemon sent it (warnings only from a daemon that has them)."""
    return Published(
        data["name"],
        data["version"],
        data["sha256"],
        data["created"],
        tuple(str(w) for w in data.get("warnings") or ()),
        data.get("claimed_by"),
    )


def _item(item: Any) -> dict[str, Any]:
    try:
        text = item.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InvalidInput(
            f"{item.source or item.name} is not UTF-8 text: invalid byte at offset {exc.start} "
            "(tools are UTF-8 text; binaries are not supported)"
        ) from None
    # only when given: the body stays as it was for what has none (the daemon reads them)
    optional = {
        "description": item.description,
        "usage": item.usage,
        "created_by": item.created_by,  # the daemon keeps another than its principal's
        "expect_latest": item.expect_latest,  # compare-and-set: the daemon checks it
        "expect_new": item.expect_new,
    }
    described = {k: v for k, v in optional.items() if v}
    return {
        **described,
        "name": item.name,
        "content": text,
        "owner": item.owner,
        "executable": item.executable,
        "origin": item.origin,
        "session_id": item.session_id,
        "prompt": item.prompt,
        "message": item.message,
        "references": list(item.references),
        "transforms": list(item.transforms),
        "created_at": item.created_at,
        "allow_dangling": item.allow_dangling,
    }
