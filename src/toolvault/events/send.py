"""One Standard Webhooks 1.0 request: signed headers, sent to the address the policy
checked, no redirect followed, connect and read timeouts, the answer read up to a cap.

Signatures cover ``webhook-id.webhook-timestamp.body``: ``v1,`` + base64 HMAC-SHA256
with the bytes of a ``whsec_`` secret, or ``v1a,`` + base64 Ed25519 with a vault key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from toolvault import __version__
from toolvault.errors import InvalidInput
from toolvault.events import policy
from toolvault.events.settings import HookSettings

USER_AGENT = f"toolvault-webhooks/{__version__}"


def secret_bytes(secret: str) -> bytes:
    """The key of a ``whsec_`` secret (base64 after the prefix, 24 to 64 bytes)."""
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        raise InvalidInput(
            "a hook secret looks like whsec_ followed by base64 (24 to 64 bytes); "
            "leave --secret out to have one made",
            {"secret": "whsec_…"},
        )
    try:
        key = base64.b64decode(secret[6:], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the hook secret after whsec_ is not valid base64") from None
    if not 24 <= len(key) <= 64:
        raise InvalidInput(f"the hook secret holds {len(key)} bytes; give 24 to 64")
    return key


def hmac_signer(secret: str) -> Callable[[bytes], str]:
    """``v1`` signatures with a ``whsec_`` secret."""
    key = secret_bytes(secret)
    return lambda data: (
        "v1," + base64.b64encode(hmac.new(key, data, hashlib.sha256).digest()).decode()
    )


def key_signer(sign: Callable[[bytes], str]) -> Callable[[bytes], str]:
    """``v1a`` signatures with a vault key (``sign`` returns base64 Ed25519)."""
    return lambda data: "v1a," + sign(data)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    status: int | None
    error: str | None
    latency_ms: float
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """Delivered: a 2xx."""
        return self.error is None and self.status is not None and 200 <= self.status < 300


class Pinned(http.client.HTTPConnection):
    """An HTTP connection to an address checked beforehand (the Host header still names
    the URL's host)."""

    def __init__(self, host: str, port: int, address: str, settings: HookSettings) -> None:
        super().__init__(host, port, timeout=settings.connect_timeout)
        self.address = address
        self.read_timeout = settings.read_timeout

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.read_timeout)


class PinnedTLS(Pinned):
    """:class:`Pinned` over TLS; the certificate is checked against the URL's host."""

    context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


class Sender:
    """Sends one endpoint's deliveries, one at a time over a kept-alive connection
    (reused only while the host still resolves to the same checked address)."""

    def __init__(self, settings: HookSettings, allow: policy.Allow) -> None:
        self.settings = settings
        self.allow = allow
        self._conn: Pinned | None = None
        self._key: tuple[str, str, int, str] | None = None

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._conn is not None:
            self._conn.close()
        self._conn, self._key = None, None

    def post(self, url: str, msg_id: str, body: bytes, sign: Callable[[bytes], str]) -> Outcome:
        """Deliver ``body`` once; never raises for the receiver's or the network's faults."""
        started = time.monotonic()
        try:
            target = policy.parse_target(url)
            address = policy.vet(target, self.allow)
        except (policy.Refused, InvalidInput) as exc:
            return Outcome(None, f"refused: {exc}", 0.0)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": stamp,
            "webhook-signature": sign(f"{msg_id}.{stamp}.".encode() + body),
        }
        try:
            return self._exchange(target, address, headers, body, started)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Outcome(None, _network_error(exc), _ms(started))

    def _exchange(
        self, target: policy.Target, address: str, headers: dict[str, str], body: bytes, t0: float
    ) -> Outcome:
        conn = self._connection(target, address)
        conn.request("POST", target.path, body=body, headers=headers)
        resp = conn.getresponse()
        complete = self._drain(resp)
        if not complete or resp.will_close:
            self.close()
        status = resp.status
        latency = _ms(t0)
        if 300 <= status < 400:
            where = resp.getheader("Location", "?")
            return Outcome(status, f"redirect to {where[:200]} not followed", latency)
        if 200 <= status < 300:
            return Outcome(status, None, latency)
        wait = _retry_after(resp.getheader("Retry-After"), self.settings.retry_after_max)
        return Outcome(status, f"HTTP {status} {resp.reason}"[:200], latency, wait)

    def _connection(self, target: policy.Target, address: str) -> Pinned:
        key = (target.scheme, target.host, target.port, address)
        if self._conn is None or self._key != key:
            self.close()
            cls = PinnedTLS if target.scheme == "https" else Pinned
            self._conn, self._key = cls(target.host, target.port, address, self.settings), key
        return self._conn

    def _drain(self, resp: http.client.HTTPResponse) -> bool:
        """Read the answer's body up to the cap, within the read timeout; whether it
        was read whole (else the connection is not reused)."""
        left, deadline = (
            self.settings.max_response_bytes,
            time.monotonic() + self.settings.read_timeout,
        )
        while left > 0:
            chunk = resp.read(min(left, 16384))
            if not chunk:
                return True
            left -= len(chunk)
            if time.monotonic() > deadline:
                return False
        return resp.read(1) == b""


def _retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = (
            float(value)
            if value.isdigit()
            else (parsedate_to_datetime(value).timestamp() - time.time())
        )
    except (TypeError, ValueError):
        return None
    return min(max(seconds, 0.0), cap)


def _network_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"[:200]


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
