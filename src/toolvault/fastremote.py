"""The requests behind ``toolvault cat`` and ``toolvault refs --depth`` against a daemon
(``TOOLVAULT_URL``).

Only ``http.client`` and ``urllib.parse``: they answer the plain case and return None
for anything else (an error, a yanked version, a refused connection), so that the full
command line repeats the request and explains. A daemon that does not answer in time is
reported here, rather than waited for twice.
"""

from __future__ import annotations

import http.client
import sys
from urllib.parse import quote, urlsplit

TIMEOUT = 60.0  # seconds: toolvault.client.TIMEOUT, which the full command line waits


def fetch_content(url: str, token: str | None, spec: str, timeout: float = 30.0) -> bytes | None:
    """The content the daemon at ``url`` serves for ``spec``, or None."""
    try:
        found = get(url, token, f"/v1/content/{quote(spec, safe=':@')}", timeout)
    except TimeoutError:
        # Falling back would wait as long again: say so here, in the CLI's words.
        print(
            f"toolvault: error: the toolvault daemon at {url} did not answer within "
            f"{timeout:g} s; check TOOLVAULT_URL and that 'toolvault serve' is running",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    if found is None:
        return None
    response, body = found
    if response.status != 200 or response.getheader("X-Toolvault-Yanked") is not None:
        return None
    return body


def get(
    url: str, token: str | None, path: str, timeout: float, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes] | None:
    """``GET path`` (under the URL's own path) from the daemon at ``url``: its response
    and body, or None for a URL or token this path does not send (the full command line
    says what is wrong with it) or a daemon that cannot be reached. :class:`TimeoutError`
    when it does not answer within ``timeout`` seconds."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if token and not (token.isascii() and token.isprintable()):
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, port, timeout=timeout)
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    try:
        conn.request("GET", f"{parts.path.rstrip('/')}{path}", headers=sent)
        response = conn.getresponse()
        return response, response.read()
    except TimeoutError:
        raise
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
