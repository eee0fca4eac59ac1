"""The forms: sign in with a token, sign out, and the few writes (label, rollback,
deprecate, yank). Each write goes through the same service call as the API's endpoint,
acting for the session's principal, after its CSRF token is checked; the service checks
the principal's rights as it does for the API. Then the browser is sent back to the page
(303), which says what was done."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from toolvault.errors import InvalidInput
from toolvault.web.render import page, url
from toolvault.web.session import chrome, cookie_secret, same_site, sign_in, sign_out, writer

if TYPE_CHECKING:
    from toolvault.server.hot import Guard


def signin_page(request: Request, message: str = "", status: int = 200) -> Response:
    """The sign-in form (``next``: the page to go back to)."""
    back = request.query_params.get("next") or (request.url.path if request.method == "GET" else "")
    return page("signin.html", status, message=message, next=_local(back), **chrome(request))


def signed_in(request: Request) -> bool:
    """Whether the request carries a session cookie (valid or not)."""
    return cookie_secret(request) is not None


def to_signin(request: Request) -> Response:
    """Off to the sign-in form, which comes back to this page."""
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(url("/signin", next=_local(back)), status_code=303)


def signin_form(guard: Guard, request: Request) -> Response:
    """GET /ui/signin."""
    return signin_page(request)


def signin(guard: Guard, request: Request) -> Response:
    """Check the token as the API would, and keep it in the session cookie."""
    form = request.state.form
    same_site(request)
    secret = form.get("token", "").strip()
    if not secret:
        raise InvalidInput("paste a token from 'toolvault token create' to sign in")
    guard.writer(secret)  # Unauthorized (the form again, 401) when unknown or revoked
    done = RedirectResponse(_local(form.get("next", "")) or "/ui/", status_code=303)
    sign_in(done, secret, request.url.scheme == "https")
    return done


def signout(guard: Guard, request: Request) -> Response:
    """Drop the session cookie."""
    same_site(request)
    done = RedirectResponse("/ui/", status_code=303)
    sign_out(done, request.url.scheme == "https")
    return done


def label(guard: Guard, request: Request) -> Response:
    """Set or move a label (POST /v1/labels)."""
    vault = writer(guard, request)
    form = request.state.form
    name = request.path_params["name"]
    number = _version(form)
    vault.label(f"{name}:{number}", form.get("label", "").strip())
    return _back(name, number, "labelled")


def rollback(guard: Guard, request: Request) -> Response:
    """Publish an earlier version's content again (POST /v1/tools/NAME/rollback)."""
    vault = writer(guard, request)
    form = request.state.form
    name = request.path_params["name"]
    message = form.get("message", "").strip() or None
    done = vault.rollback(name, _version(form), message=message)
    return _back(done.name, done.version, "rolled-back")


def deprecate(guard: Guard, request: Request) -> Response:
    """Deprecate a tool, or make a deprecated one active again
    (POST /v1/tools/NAME/lifecycle)."""
    vault = writer(guard, request)
    form = request.state.form
    name = request.path_params["name"]
    lifecycle = form.get("lifecycle", "deprecated")
    if lifecycle not in ("deprecated", "active"):
        raise InvalidInput("this form deprecates a tool or makes it active again")
    vault.set_lifecycle(name, lifecycle, form.get("message", "").strip() or None)
    return _back(name, None, lifecycle)


def yank(guard: Guard, request: Request) -> Response:
    """Yank a version (POST /v1/yank)."""
    vault = writer(guard, request)
    form = request.state.form
    name, number = request.path_params["name"], request.path_params["number"]
    vault.yank(f"{name}:{number}", form.get("reason", "").strip())
    return _back(name, number, "yanked")


def _version(form: dict[str, str]) -> int:
    text = form.get("version", "")
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise InvalidInput("choose a version (a number) in the form")
    return int(text)


def _back(name: str, number: int | None, done: str) -> Response:
    path = f"/ui/tools/{quote(name)}" + (f"/{number}" if number is not None else "")
    return RedirectResponse(f"{path}?done={done}", status_code=303)


def _local(path: str) -> str:
    """A path of this UI to go back to; anything else (another host) is dropped."""
    ok = path.startswith("/ui/") and not path.startswith("//") and "\\" not in path
    return path if ok and path.isprintable() else ""
