"""The one request behind ``toolvault cat`` against a daemon (``TOOLVAULT_URL``).

Only ``http.client`` and ``urllib.parse``: it answers the plain case and returns
None for anything else (an error, a yanked version, a daemon that cannot be
reached), so that the full command line repeats the request and explains.
"""

from __future__ import annotations

import http.client
from urllib.parse import quote, urlsplit


def fetch_content(url: str, token: str | None, spec: str, timeout: float = 30.0) -> bytes | None:
    """The content the daemon at ``url`` serves for ``spec``, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=timeout)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = f"{parts.path.rstrip('/')}/v1/content/{quote(spec, safe=':@')}"
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    if response.status != 200 or response.getheader("X-Toolvault-Yanked") is not None:
        return None
    return body
