"""Where a webhook may go (SPEC §15): http and https only, to a URL under an entry of
``[hooks] allow``, and never to a loopback, private, link-local, metadata or otherwise
non-public address unless an allow entry names that address itself (an IP literal in
a URL entry, or an address or network entry such as ``10.0.0.0/8``).

The check is made on the addresses the host name resolves to, at every attempt, and
the request is then sent to the address checked (:mod:`.send` connects to it): a name
that resolves to a public address when checked and to 127.0.0.1 a moment later (DNS
rebinding) never reaches 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from toolvault.errors import InvalidInput

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """A delivery the policy does not let go out (recorded as the attempt's error)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL taken apart."""

    url: str
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    path: str  # with the query

    @property
    def literal(self) -> IP | None:
        """The host as an IP address when it is one."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def parse_target(url: object) -> Target:
    """A URL a hook may have: http(s), a host, no credentials, no fragment."""
    if not isinstance(url, str) or not url or len(url) > 2048 or any(c.isspace() for c in url):
        raise InvalidInput(f"invalid hook URL {url!r}: give http://HOST[:PORT]/PATH or https://…")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidInput(
            f"hook URL {url!r} has scheme {parts.scheme or 'none'!r}; only http and https "
            "are delivered to",
            {"url": url},
        )
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise InvalidInput(f"hook URL {url!r} has an invalid port", {"url": url}) from None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise InvalidInput(
            f"hook URL {url!r} must name a host and carry no user or password "
            "(sign with --secret or --sign instead)",
            {"url": url},
        )
    if parts.fragment:
        raise InvalidInput(f"hook URL {url!r} must have no #fragment", {"url": url})
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, scheme, parts.hostname.lower(), port, path)


@dataclass(frozen=True, slots=True)
class Allow:
    """The parsed ``[hooks] allow`` list: URL prefixes, and networks named outright."""

    prefixes: tuple[Target, ...]
    networks: tuple[Network, ...]

    def covers(self, target: Target) -> Target | None:
        """The first URL prefix the target is under, or None."""
        for entry in self.prefixes:
            if (entry.scheme, entry.port) != (target.scheme, target.port):
                continue
            if not _host_under(target.host, entry.host):
                continue
            if _path_under(target.path, entry.path):
                return entry
        return None

    def names(self, address: IP, entry: Target) -> bool:
        """Whether ``address`` is named outright: by the matching entry's IP literal
        host, or by an address or network entry."""
        if entry.literal is not None and entry.literal == address:
            return True
        return any(address in net for net in self.networks if net.version == address.version)


def _path_under(path: str, prefix: str) -> bool:
    """``/hooks`` covers ``/hooks``, ``/hooks/x`` and ``/hooks?q``, never ``/hooksx``."""
    base = prefix.rstrip("/")
    return not base or path == base or path.startswith((base + "/", base + "?"))


def _host_under(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def parse_allow(entries: Iterable[str]) -> Allow:
    """The allow list from config.toml; a malformed entry is :class:`InvalidInput`."""
    prefixes: list[Target] = []
    networks: list[Network] = []
    for entry in entries:
        if "://" in entry:
            try:
                prefixes.append(parse_target(entry))  # a host may be *.example.com
            except InvalidInput as exc:
                raise InvalidInput(f"config.toml: [hooks] allow entry {entry!r}: {exc}") from None
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise InvalidInput(
                f"config.toml: [hooks] allow entry {entry!r} is neither a URL prefix "
                "(https://host/path) nor an address or network (10.0.0.0/8)"
            ) from None
    return Allow(tuple(prefixes), tuple(networks))


def is_public(address: IP) -> bool:
    """Whether an address is public: not loopback, private, link-local (169.254.169.254,
    the cloud metadata service, is one), shared, reserved, multicast or unspecified.
    IPv4 inside IPv6 (mapped or NAT64) is judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (tests replace this function)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    return [str(info[4][0]) for info in infos]


def allowed_entry(target: Target, allow: Allow) -> Target:
    """The allow entry that covers ``target``, else :class:`InvalidInput` (at ``hook
    add``) saying how to allow it."""
    entry = allow.covers(target)
    if entry is None:
        origin = f"{target.scheme}://{_netloc(target)}/"
        raise InvalidInput(
            f"hook URL {target.url} is not under any entry of [hooks] allow in config.toml; "
            f'add one such as allow = ["{origin}"]',
            {"url": target.url, "allow": [e.url for e in allow.prefixes]},
        )
    literal = target.literal
    if literal is not None and not is_public(literal) and not allow.names(literal, entry):
        raise InvalidInput(_private(literal, target), {"url": target.url})
    return entry


def vet(target: Target, allow: Allow) -> str:
    """The address to connect to for this attempt: resolved now, every address the
    name has checked, the first returned; :class:`Refused` when any is not allowed."""
    try:
        entry = allowed_entry(target, allow)
    except InvalidInput as exc:
        raise Refused(str(exc)) from None
    found: Sequence[str] = (
        [target.host] if target.literal is not None else resolve(target.host, target.port)
    )
    if not found:
        raise Refused(f"{target.host} resolves to no address")
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not is_public(address) and not allow.names(address, entry):
            raise Refused(_private(address, target))
    return found[0]


def _private(address: IP, target: Target) -> str:
    return (
        f"{target.host} is {address}, a non-public address (loopback, private, link-local or "
        f"reserved); deliveries go there only when [hooks] allow names it, e.g. "
        f'"{target.scheme}://{_literal(address)}:{target.port}/" '
        f'or "{address}/{address.max_prefixlen}"'
    )


def _literal(address: IP) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


def _netloc(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{target.port}"
