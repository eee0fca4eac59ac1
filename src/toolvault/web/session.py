"""Who a page is for: the token kept in the sign-in cookie, checked by the daemon's guard
as a bearer token is, and the CSRF token of that sign-in.

The cookie holds the token itself (HttpOnly: no script reads it; SameSite=Strict: no
other site's page sends it; Secure over HTTPS), so that a revoked token is refused at the
very next page, as it is by the API. The CSRF token every form carries is an HMAC of a
fixed text under the session's token: only a page served to that session knows it, and
every daemon sharing a database computes the same one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolvault.errors import PermissionDenied

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from toolvault.models import Principal
    from toolvault.server.hot import Guard
    from toolvault.vault import Vault

COOKIE = "toolvault_session"
CSRF_FIELD = "csrf"
MAX_TOKEN = 512  # a token is far shorter; a longer cookie or form field is not one


@dataclass(frozen=True, slots=True)
class Who:
    """The reader of a page: the vault acting for it, its principal (None: anonymous, under
    ``--public-read``), and the CSRF token its forms carry (None: it may not write)."""

    vault: Vault
    principal: Principal | None
    secret: str | None

    @property
    def csrf(self) -> str | None:
        """The CSRF token of this sign-in."""
        return csrf_of(self.secret) if self.secret else None

    @property
    def may_write(self) -> bool:
        """Whether the principal may write at all (signed in, token not read-only)."""
        return self.principal is not None and not self.principal.read_only

    def rights(self, name: str) -> frozenset[str]:
        """What the principal may change of tool ``name`` (none when anonymous)."""
        if not self.may_write:
            return frozenset()
        return self.vault.rights(name)


def csrf_of(secret: str) -> str:
    """The CSRF token of a sign-in with token ``secret``."""
    key = secret.encode("utf-8", "surrogatepass")
    return hmac.new(key, b"toolvault-web-ui-csrf/1", hashlib.sha256).hexdigest()


def cookie_secret(request: Request) -> str | None:
    """The token the sign-in cookie holds, if any."""
    secret = request.cookies.get(COOKIE)
    return secret if secret and len(secret) <= MAX_TOKEN else None


def who(guard: Guard, request: Request) -> Who:
    """The reader of a request (``Unauthorized`` when it may not read)."""
    secret = cookie_secret(request)
    vault = guard.reader(secret)
    return Who(vault, vault.principal, secret)


def writer(guard: Guard, request: Request) -> Vault:
    """The vault acting for a form's sender: a signed-in session whose form carries its
    CSRF token, from a page of this site; otherwise ``PermissionDenied`` (403), or
    ``Unauthorized`` (401) without a session."""
    secret = cookie_secret(request)
    found = Who(guard.writer(secret), None, secret)
    csrf_checked(request, found)
    return found.vault


def same_site(request: Request) -> None:
    """Refuse a form sent from another site's page (defence in depth beside the CSRF
    token and the SameSite cookie; it covers the sign-in form, which has no session)."""
    origin = request.headers.get("origin")
    fetched = request.headers.get("sec-fetch-site")
    host = request.headers.get("host", "")
    if fetched in ("cross-site", "same-site") or (
        origin is not None and origin.split("://", 1)[-1] != host
    ):
        raise PermissionDenied(
            "this form was sent from another site's page; toolvault's forms are sent from "
            "its own pages only",
            {"origin": origin or fetched or ""},
        )


def sign_in(response: Response, secret: str, https: bool) -> None:
    """Keep ``secret`` in the session cookie of ``response``."""
    response.set_cookie(COOKIE, secret, path="/ui", httponly=True, samesite="strict", secure=https)


def sign_out(response: Response, https: bool) -> None:
    """Drop the session cookie."""
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict", secure=https)


def chrome(request: Request, found: Who | None = None) -> dict[str, Any]:
    """What every page's frame shows: who is signed in and the sign-out form's token."""
    if found is not None:
        name = found.principal.name if found.principal else None
        return {"me": name, "csrf": found.csrf, "read_only": not found.may_write}
    secret = cookie_secret(request)
    return {"me": "" if secret else None, "csrf": csrf_of(secret) if secret else None,
            "read_only": True}  # fmt: skip


def csrf_checked(request: Request, found: Who) -> None:
    """A form's CSRF token checked for a signed-in reader; from anyone, its origin."""
    form: dict[str, str] = request.state.form
    same_site(request)
    if found.secret is None:
        return  # anonymous under --public-read: no session a forged form could ride on
    sent = form.get(CSRF_FIELD, "")
    if not hmac.compare_digest(sent.encode(), csrf_of(found.secret).encode()):
        raise PermissionDenied(
            "this form was not sent from a page of this session (its CSRF token is missing "
            "or wrong); reload the page and send it again",
            {"csrf": "missing" if not sent else "wrong"},
        )
