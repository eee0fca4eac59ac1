"""The one request behind ``toolvault cat`` against a daemon (``TOOLVAULT_URL``).

Only ``http.client`` and ``urllib.parse``: it answers the plain case and returns
None for anything else (an error, a yanked version, a refused connection), so
that the full command line repeats the request and explains. A daemon that does
not answer in time is reported here, rather than waited for twice.
"""

from __future__ import annotations

import http.client
import sys
from urllib.parse import quote, urlsplit


def fetch_content(url: str, token: str | None, spec: str, timeout: float = 30.0) -> bytes | None:
    """The content the daemon at ``url`` serves for ``spec``, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if token and not (token.isascii() and token.isprintable()):
        return None  # the full command line says what is wrong with TOOLVAULT_TOKEN
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = f"{parts.path.rstrip('/')}/v1/content/{quote(spec, safe=':@')}"
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    except TimeoutError:
        # Falling back would wait as long again: say so here, in the CLI's words.
        print(
            f"toolvault: error: the toolvault daemon at {url} did not answer within "
            f"{timeout:g} s; check TOOLVAULT_URL and that 'toolvault serve' is running",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    if response.status != 200 or response.getheader("X-Toolvault-Yanked") is not None:
        return None
    return body
