"""Safe downloads for remote sources (SPEC §7): schemes, allow-list, redirects, limits.

Only ``http``, ``https`` and ``file`` URLs are fetched. TLS certificates are
verified, every redirect hop is checked against the scheme list and the
allow-list again, and a download stops as soon as it passes its byte limit.
``urllib`` is imported inside :func:`download` so that importing this module
costs nothing on the read path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from toolvault import spec as specs
from toolvault.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    SourceError,
    ToolvaultError,
)

if TYPE_CHECKING:
    import urllib.request

SCHEMES = ("http", "https", "file")
DEFAULT_MAX_BYTES = 64 * 2**20
# The longest a whole download may take: a server sending a byte now and then passes
# every per-read timeout, not this ([sources] download_deadline in config.toml).
DEFAULT_DEADLINE = 60.0
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Downloaded:
    """The bytes behind ``url``; ``final_url`` is where the redirects ended."""

    url: str
    final_url: str
    data: bytes
    content_type: str | None


def download(
    url: str,
    *,
    allow: Sequence[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = 30.0,
    max_redirects: int = 5,
    token: str | None = None,
    deadline: float = DEFAULT_DEADLINE,
) -> Downloaded:
    """Fetch ``url`` (http, https or file) within the allow-list, timeouts and byte limit.

    ``allow`` is a list of URL prefixes (``[sources] allow`` in config.toml); when
    it is not None the URL and every redirect target must start with one of them.
    ``token`` is sent as a bearer token to ``url`` (not to redirect targets);
    ``deadline`` bounds the whole download, ``timeout`` each connect and read; a body
    that ends before the length its server announced is an error, not a smaller file.
    Raises :class:`InvalidInput` (scheme), :class:`PermissionDenied` (allow-list),
    :class:`NotFound` (404, missing file) or :class:`SourceError` (anything else).
    """
    import time

    check_url(url, allow)
    _check_local_file(url)
    opener = _opener(allow, max_redirects)
    until = time.monotonic() + deadline  # from the first connect to the last byte
    try:
        with opener.open(_request(url, token), timeout=min(timeout, deadline)) as response:
            announced = _check_length(url, response.headers.get("Content-Length"), max_bytes)
            data = _read_limited(url, response, max_bytes, timeout, (until, deadline))
            _check_complete(url, len(data), announced)
            final_url = response.geturl()
            content_type = response.headers.get("Content-Type")
    except OSError as exc:
        raise _source_error(url, exc, timeout) from exc
    except _http_exceptions() as exc:
        raise SourceError(f"{url}: the server sent a broken response ({exc!r}); try again") from exc
    return Downloaded(url, final_url, data, content_type)


def check_url(url: str, allow: Sequence[str] | None) -> None:
    """Refuse a scheme other than http, https and file, and a URL outside ``allow``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        shown = f"scheme {scheme!r}" if scheme else "no scheme"
        raise InvalidInput(
            f"cannot download {url}: {shown} is not supported; use an http://, https:// "
            "or file:// URL"
        )
    check_allowed(url, allow)


def under(url: str, prefixes: Sequence[str]) -> bool:
    """Whether ``url`` starts with one of ``prefixes``; a prefix written percent-encoded
    (``file:///my%20tools/``) matches as decoded. The one test of the allow-list."""
    return any(unquote(url).startswith(unquote(prefix)) for prefix in prefixes)


def check_allowed(url: str, allow: Sequence[str] | None) -> None:
    """Refuse ``url`` unless it starts with one of the ``allow`` prefixes (None: any URL).

    Usable for git URLs too. A URL whose path holds a ``..`` segment is refused
    when a list is set, since it could climb out of an allowed prefix.
    """
    if allow is None:
        return
    where = "change [sources] allow in config.toml to admit it"
    if not under(url, allow):
        shown = ", ".join(allow) if allow else "none"
        raise PermissionDenied(f"{url} is not under an allowed source prefix ({shown}); {where}")
    path = unquote(urlsplit(url).path)
    if ".." in path.split("/"):
        raise PermissionDenied(f"{url} has a '..' path segment; use the direct URL instead")


def name_from_url(url: str) -> str:
    """The tool name a URL suggests: its last path segment without extension.

    ``https://example.org/raw/fmt.py?x=1`` gives ``fmt``.
    """
    segment = unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    stem = PurePosixPath(segment).stem if segment else ""
    if not stem:
        raise InvalidInput(f"{url} has no file name to name the tool after; pass --name NAME")
    try:
        return specs.validate_name(stem)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{url} does not give a usable tool name ({exc}); pass --name NAME"
        ) from exc


def _request(url: str, token: str | None = None) -> urllib.request.Request:
    import urllib.request

    from toolvault import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"toolvault/{__version__}"})
    if token:  # never forwarded on a redirect: it is for this host only
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    return request


def _opener(allow: Sequence[str] | None, max_redirects: int) -> urllib.request.OpenerDirector:
    """An opener with only the handlers we need: no ftp, no data: URLs."""
    import ssl
    import urllib.request

    opener = urllib.request.OpenerDirector()
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
        urllib.request.FileHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        _redirect_handler(allow, max_redirects),
    ]
    for handler in handlers:
        opener.add_handler(handler)
    return opener


def _redirect_handler(
    allow: Sequence[str] | None, max_redirects: int
) -> urllib.request.HTTPRedirectHandler:
    """A redirect handler that counts hops and checks each target like the first URL."""
    import urllib.request

    class Redirects(urllib.request.HTTPRedirectHandler):
        hops = 0
        max_redirections = max_redirects + 1  # ours below says it first, more clearly

        def redirect_request(
            self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
        ) -> urllib.request.Request | None:
            self.hops += 1
            try:
                if self.hops > max_redirects:
                    raise SourceError(
                        f"{req.full_url} redirects more than {max_redirects} times; "
                        "use the final URL directly"
                    )
                check_url(newurl, allow)
            except ToolvaultError:
                fp.close()  # urllib closes the redirect response only when it follows it
                raise
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return Redirects()


def _check_local_file(url: str) -> None:
    """A ``file://`` URL must name a regular file: urllib would open a FIFO and wait
    for a writer forever, or read a device (a redirect never leads to file://)."""
    import os
    import urllib.request

    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        return
    from toolvault.sources.files import refuse_other_kinds

    path = urllib.request.url2pathname(unquote(parts.path))
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # urllib reports it (no such file, no permission)
    refuse_other_kinds(url, mode)


def _check_length(url: str, header: str | None, max_bytes: int) -> int | None:
    """Refuse before reading when the server announces more than ``max_bytes``;
    returns the length announced (None when there is none)."""
    if header is None or not header.strip().isdigit():
        return None
    if int(header) > max_bytes:
        raise SourceError(
            f"{url} is {int(header)} bytes, over the download limit of {max_bytes} bytes; "
            "use a smaller file or raise the limit"
        )
    return int(header)


def _check_complete(url: str, size: int, announced: int | None) -> None:
    """A body that ended short of its Content-Length was cut off: not the file."""
    if announced is not None and size < announced:
        raise SourceError(
            f"{url} ended after {size} of the {announced} bytes its server announced "
            "(the connection was cut); try again"
        )


def _read_limited(
    url: str, response: Any, max_bytes: int, timeout: float, deadline: tuple[float, float]
) -> bytes:
    """Read in chunks; stop as soon as more than ``max_bytes`` have arrived, or when the
    whole download outlasts ``deadline`` (a server trickling bytes beats a per-read
    timeout, not this): each read waits at most what is left of it. ``deadline`` is
    (its time.monotonic() value, its length in seconds)."""
    import time

    chunks: list[bytes] = []
    size, (until, seconds) = 0, deadline
    read = getattr(response, "read1", response.read)  # read1: whatever has arrived
    sock = _socket_of(response)
    while True:
        left = until - time.monotonic()
        if left <= 0:
            raise _too_slow(url, seconds)
        if sock is not None:
            sock.settimeout(min(timeout, left))
        try:
            chunk = read(CHUNK)
        except TimeoutError:
            if time.monotonic() < until:
                raise  # the per-read timeout: reported as such by download()
            raise _too_slow(url, seconds) from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(
                f"{url} sent more than the download limit of {max_bytes} bytes; "
                "use a smaller file or raise the limit"
            )
        chunks.append(chunk)


def _too_slow(url: str, seconds: float) -> SourceError:
    return SourceError(
        f"{url} took longer than {seconds:g} s to download; try again, or raise "
        "[sources] download_deadline in config.toml"
    )


def _socket_of(response: Any) -> Any:
    """The socket under an http(s) response (None for a file:// one), so that each read
    can wait only what is left of the deadline. http.client keeps it as the raw stream
    of its buffered reader; where that is not so, the per-read timeout still holds."""
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if hasattr(sock, "settimeout") else None


def _http_exceptions() -> type[Exception]:
    """Malformed HTTP responses (imported here: http.client pulls in ssl and email)."""
    import http.client

    return http.client.HTTPException


def _source_error(url: str, exc: OSError, timeout: float) -> Exception:
    """Translate what urllib raises into one toolvault error with a one-line message."""
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        exc.close()
        where = exc.filename or url
        if exc.code == 404:
            return NotFound(f"{where} returned 404 Not Found; check the URL")
        return SourceError(f"{where} returned HTTP {exc.code} {exc.reason}; check the URL or retry")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, FileNotFoundError):
        return NotFound(f"{url}: no such file; check the path")
    if isinstance(reason, TimeoutError):
        return SourceError(f"{url} did not answer within {timeout:g} s; retry or raise the timeout")
    if isinstance(reason, ConnectionRefusedError):
        return SourceError(f"{url}: connection refused; check the host and port")
    if _is_dns_failure(reason):
        return SourceError(f"{url}: the host name could not be resolved; check the URL")
    return SourceError(f"cannot download {url}: {reason}")


def _is_dns_failure(reason: object) -> bool:
    import socket

    return isinstance(reason, socket.gaierror)
