"""The requests behind ``toolvault cat`` and ``toolvault refs --depth`` against a daemon
(``TOOLVAULT_URL``).

They answer the plain case and return None for anything else (an error, a yanked
version, a refused connection, an answer this module does not read), so that the full
command line repeats the request and explains. A daemon that does not answer in time is
reported here, rather than waited for twice.

An ``http://`` daemon is asked over a plain socket: one ``GET``, ``Connection: close``,
and an answer read whole and taken only with a ``Content-Length`` it matches (the
daemon's every answer to these requests). ``http.client`` costs more to import than the
request takes (with ``ssl`` and the ``email`` parser, a fifth of a second's start-up);
it serves ``https://`` only.
"""

from __future__ import annotations

import socket  # every use of this module makes a request: http.client imports it too
import sys
import time
from urllib.parse import quote, urlsplit

TIMEOUT = 60.0  # seconds: toolvault.client.TIMEOUT, which the full command line waits

# status, header fields (names in lower case), body
Answer = tuple[int, dict[str, str], bytes | bytearray]


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
    status, fields, body = found
    if status != 200 or "x-toolvault-yanked" in fields:
        return None
    return bytes(body)


def get(
    url: str, token: str | None, path: str, timeout: float, headers: dict[str, str] | None = None
) -> Answer | None:
    """``GET path`` (under the URL's own path) from the daemon at ``url``, or None for a
    URL or token this path does not send (the full command line says what is wrong with
    it), a daemon that cannot be reached or an answer not read here.
    :class:`TimeoutError` when it does not answer within ``timeout`` seconds."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if token and not (token.isascii() and token.isprintable()):
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    target = f"{parts.path.rstrip('/')}{path}"
    try:
        if parts.scheme == "https":
            return _https(parts.hostname, port, target, sent, timeout)
        return _http(parts.hostname, port, parts.netloc.rpartition("@")[2], target, sent, timeout)
    except TimeoutError:
        raise
    except OSError:
        return None


def _http(
    host: str, port: int | None, netloc: str, target: str, sent: dict[str, str], timeout: float
) -> Answer | None:
    """One request over a plain socket: the head read up to its blank line, then the
    body, as long as ``Content-Length`` says (a daemon that keeps the connection open is
    never waited for). The whole exchange takes at most ``timeout`` seconds: a daemon
    that trickles a byte now and then is a :class:`TimeoutError` too."""
    head = [f"GET {target} HTTP/1.1", f"Host: {netloc}", "Accept-Encoding: identity"]
    head += [*(f"{k}: {v}" for k, v in sent.items()), "Connection: close", "", ""]
    request = "\r\n".join(head)
    if not request.isascii() or any(c <= " " or c == "\x7f" for c in target + netloc):
        return None  # what http.client refuses: the full command line says why
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port or 80), timeout=timeout) as conn:
        conn.sendall(request.encode("ascii"))
        received = b""
        while b"\r\n\r\n" not in received:
            conn.settimeout(_left(deadline))
            chunk = conn.recv(1 << 16)
            if not chunk or len(received) > MAX_HEAD:
                return None
            received += chunk
        top, _, start = received.partition(b"\r\n\r\n")
        found = _head(top)
        if found is None or found[2] < len(start):
            return None
        status, fields, length = found
        body = _read_body(conn, start, length, deadline)
    return None if body is None else (status, fields, body)


def _read_body(conn: socket.socket, start: bytes, length: int, deadline: float) -> bytearray | None:
    """The ``length`` bytes of a body that begins with ``start``, read into place (6.6 MB
    is not copied chunk by chunk), or None when the connection ends before. The buffer
    grows as the body arrives, never ahead of it by more than FIRST_CHUNK or what has
    arrived: a daemon that claims a gibibyte and sends two bytes costs 16 MiB, not 1 GiB."""
    body = bytearray(min(length, max(FIRST_CHUNK, len(start))))
    body[: len(start)] = start
    filled = len(start)
    while filled < length:
        if filled == len(body):  # doubled (realloc: a large block is remapped, not copied)
            body.extend(bytes(min(len(body), length - len(body))))
        conn.settimeout(_left(deadline))
        got = conn.recv_into(memoryview(body)[filled:])
        if not got:
            return None  # cut short
        filled += got
    return body


def _left(deadline: float) -> float:
    """Seconds until ``deadline``; :class:`TimeoutError` once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the daemon's answer did not arrive in time")
    return left


MAX_HEAD = 1 << 16  # bytes of status line and header fields, at most
MAX_BODY = 1 << 30  # bytes of body read into place, at most (a lineage of 10,000: 6.6 MB)
FIRST_CHUNK = 16 << 20  # bytes allocated before the body arrives, at most


def _head(top: bytes) -> tuple[int, dict[str, str], int] | None:
    """Status, fields (names in lower case) and body length of an answer's head; None
    for anything but a final answer with a ``Content-Length`` (chunked, informational)."""
    status_line, *lines = top.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not (code.isascii() and code.isdigit()):
        return None
    fields: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or name.strip().lower() in fields:
            return None
        fields[name.strip().lower()] = value.strip()
    length = fields.get("content-length", "")
    if "transfer-encoding" in fields or not (length.isascii() and length.isdigit()):
        return None
    if len(length) > 12 or int(length) > MAX_BODY:
        return None  # not allocated up front: the full command line's client reads on
    if int(code) < 200:
        return None
    return int(code), fields, int(length)


def _https(
    host: str, port: int | None, target: str, sent: dict[str, str], timeout: float
) -> Answer | None:
    """One request through ``http.client`` (TLS)."""
    import http.client

    conn = http.client.HTTPSConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", target, headers=sent)
        response = conn.getresponse()
        body = response.read()
        fields = {k.lower(): v for k, v in response.getheaders()}
        return response.status, fields, body
    except http.client.HTTPException:
        return None
    finally:
        conn.close()
