"""Which network addresses a GitHub user's repository URL may lead Slipway to.

A build fetches from the URL the project names, from inside Slipway's own host: a URL naming
127.0.0.1, a private range or the cloud metadata address would let any user probe or read the
host's own services (and tell open ports from closed ones by git's error text). So a
repository URL of an ordinary user must resolve only to public addresses. The configured GitHub
hosts are trusted (GitHub Enterprise on a private network, the test suite's fake on loopback),
and so is everything the local administrator names, since they own the machine.

The check runs when a project is saved and again at every fetch, and the fetch is pinned to the
addresses checked (`http.curloptResolve`), so a DNS answer that changes in between (rebinding)
cannot redirect git.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}


class AddressRefused(Exception):
    """The URL leads somewhere a user's repository may not be; the message says why."""


class HostUnresolved(AddressRefused):
    """The host has no address now (a typo, or DNS is down): neither a fetch nor a new
    project's check of the remote can proceed."""


@dataclass(frozen=True)
class PinnedHost:
    """A host name, its port and the public addresses it was checked to resolve to."""

    host: str
    port: int
    addresses: tuple[str, ...]

    def curl_resolve(self) -> str:
        """The `host:port:addr[,addr]` form of git's http.curloptResolve."""
        listed = ",".join(f"[{a}]" if ":" in a else a for a in self.addresses)
        return f"{self.host}:{self.port}:{listed}"


def trusted_hosts(*urls: str) -> frozenset[str]:
    """The `host:port` of each configured GitHub URL, which are trusted wherever they are
    (only those ports: another port of the same host is not GitHub)."""
    return frozenset(_host_port(urlsplit(u)) for u in urls if urlsplit(u).hostname)


def _host_port(parts: SplitResult) -> str:
    return f"{(parts.hostname or '').lower()}:{parts.port or DEFAULT_PORTS.get(parts.scheme, 443)}"


def address_problem(address: str) -> str | None:
    """Why a user's repository may not be at `address`, or None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if not ip.is_global or ip.is_multicast:
        return "a private address"
    return None


def check_public(url: str, trusted: Iterable[str], *,
                 what: str = "a repository URL") -> PinnedHost | None:
    """The URL's host resolved and checked, or None when the host is trusted. `what` names
    the kind of URL in the refusal (notifications check theirs here too).

    Blocking (DNS): call from a worker thread or an executor. Raises AddressRefused."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
    except ValueError:
        raise AddressRefused("the URL's port is not a number") from None
    if f"{host}:{port}" in trusted:
        return None
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostUnresolved(f"the host {host} could not be resolved") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in found))
    for address in addresses:
        problem = address_problem(address)
        if problem:
            raise AddressRefused(f"the host {host} resolves to {problem} ({address}), which "
                                 f"{what} may not name")
    return PinnedHost(host, port, addresses)
